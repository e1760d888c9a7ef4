//! Team operations: members, roles, groups, sharing and revocation. Each one appends
//! signed records to the in-memory vault (the caller writes the file once, atomically,
//! through `store`). Roster changes need an admin; sharing needs write access.
//!
//! Multi-step operations append in stages because later records name earlier ones: an
//! entry re-keyed during a revocation is wrapped under the group key id created by the
//! rotation record just before it, and a key id is the id of the record carrying it.

use std::collections::BTreeSet;

use super::{Vault, VaultError};
use crate::crypto::{self, SymmetricKey};
use crate::format::{
    self, ADMINS_GROUP, EntryContent, EntryId, GroupId, KeyWrap, MemberId, MemberWrap, Principal,
    PublicKeys, RecordBody, Role,
};
use crate::identity::Keyholder;

/// An entry a removed member could read, listed so its password gets changed where it
/// is used. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotateAtSource {
    /// The entry.
    pub id: EntryId,
    /// Its path.
    pub path: String,
    /// Its URL.
    pub url: String,
    /// Its username.
    pub username: String,
    /// What to change at the source: `"password"` or `"password and TOTP seed"`
    /// (an entry that could not be opened: `"password"`, the seed unknown).
    pub what: &'static str,
}

impl RotateAtSource {
    /// The listing of entry `id`, flagged, whose payload is `payload`.
    fn of(id: EntryId, payload: &format::EntryPayload) -> Self {
        Self {
            id,
            path: payload.path.clone(),
            url: payload.url.clone(),
            username: payload.username.clone(),
            what: payload.to_rotate_at_source().unwrap_or("password"),
        }
    }

    /// The listing of entry `id`, which could not be opened.
    fn unreadable(id: EntryId) -> Self {
        Self {
            id,
            path: format!("(unreadable entry {})", id.short()),
            url: String::new(),
            username: String::new(),
            what: "password",
        }
    }
}

/// What a key replacement (or key hygiene) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyReplacement {
    /// Group keys rotated.
    pub rotated: usize,
    /// Entries given a new revision under a fresh key.
    pub rekeyed: usize,
    /// With a compromised key: what it could read, to change at its source.
    pub rotate_at_source: Vec<RotateAtSource>,
}

/// An admin's own key rotation in progress: signs and is recognised as the new key,
/// and opens a wrap with the new key or, failing that, the retired one (what the
/// admin re-keys was wrapped to the old key).
#[derive(Debug)]
struct Rotating<'a> {
    new: &'a crate::identity::Identity,
    old: &'a dyn Keyholder,
}

impl Keyholder for Rotating<'_> {
    fn name(&self) -> &str {
        self.new.name()
    }
    fn keys(&self) -> &PublicKeys {
        self.new.keys()
    }
    fn sign_record(
        &self,
        record: &[u8],
    ) -> Result<[u8; crypto::SIGNATURE_LEN], crate::identity::KeyholderError> {
        self.new.sign_record(record)
    }
    fn unwrap_key(
        &self,
        info: &[u8],
        wrapped: &crypto::HpkeWrapped,
    ) -> Result<SymmetricKey, crate::identity::KeyholderError> {
        self.new
            .unwrap_key(info, wrapped)
            .or_else(|_| self.old.unwrap_key(info, wrapped))
    }
}

/// Check a new member or group name ([`format::check_name`], the one rule) and return
/// it in NFC.
pub fn check_name(name: &str) -> Result<String, VaultError> {
    format::check_name(format::NameKind::Member, name)
        .map_err(|_| VaultError::InvalidName(name.to_string()))
}

impl Vault {
    fn require_admin(&self, identity: &dyn Keyholder) -> Result<MemberId, VaultError> {
        let me = self.member_for(identity)?;
        if !me.role.is_admin() {
            return Err(VaultError::Denied("only an admin can change the roster"));
        }
        Ok(me.id)
    }

    /// Whether member `me` has a strictly higher rank than `role` (DESIGN "Ranks").
    fn outranks(&self, me: &MemberId, role: Role) -> bool {
        self.members
            .get(me)
            .is_some_and(|m| super::resolve::rank(m.role) > super::resolve::rank(role))
    }

    /// A current member by name. Two current members with one name (added
    /// concurrently) make the name ambiguous: refer to them by member id then.
    pub fn member_named(&self, name: &str) -> Result<&super::Member, VaultError> {
        let wanted = format::nfc(name);
        let mut found = self
            .members
            .values()
            .filter(|m| m.active && format::same_text(&m.name, &wanted));
        let Some(first) = found.next() else {
            // No member by that name: a member id (or a prefix of at least 8 hex
            // digits) names one exactly, for when a name is ambiguous.
            let hex = name.to_ascii_lowercase();
            let by_id: Vec<&super::Member> =
                if hex.len() >= 8 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    self.members
                        .values()
                        .filter(|m| m.active && m.id.to_hex().starts_with(&hex))
                        .collect()
                } else {
                    Vec::new()
                };
            return match by_id.as_slice() {
                [one] => Ok(one),
                _ => Err(VaultError::NoMember(name.to_string())),
            };
        };
        let others: Vec<String> = found.map(|m| m.id.short()).collect();
        if others.is_empty() {
            return Ok(first);
        }
        Err(VaultError::AmbiguousName {
            name: name.to_string(),
            ids: std::iter::once(first.id.short())
                .chain(others)
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// `NAME` (a member) or `@GROUP` as a principal: how the command line and the
    /// agent name whom to share with.
    pub fn principal_named(&self, name: &str) -> Result<Principal, VaultError> {
        match name.strip_prefix('@') {
            Some(group) => Ok(Principal::Group(self.group_named(group)?.id)),
            None => Ok(Principal::Member(self.member_named(name)?.id)),
        }
    }

    /// A group by name (without `@`; `admins` is the built-in group). Two groups with
    /// one name (created concurrently) make the name ambiguous.
    pub fn group_named(&self, name: &str) -> Result<&super::Group, VaultError> {
        let wanted = format::nfc(name);
        let mut found = self
            .groups
            .values()
            .filter(|g| format::same_text(&g.name, &wanted));
        let first = found
            .next()
            .ok_or_else(|| VaultError::NoGroup(name.to_string()))?;
        let others: Vec<String> = found.map(|g| g.id.short()).collect();
        if others.is_empty() {
            return Ok(first);
        }
        Err(VaultError::AmbiguousName {
            name: format!("@{name}"),
            ids: std::iter::once(first.id.short())
                .chain(others)
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// Wrap the current key of `group` to `keys` (as its holder `member`).
    pub(super) fn wrap_current_group_key(
        &self,
        identity: &dyn Keyholder,
        group: GroupId,
        member: MemberId,
        keys: &PublicKeys,
    ) -> Result<MemberWrap, VaultError> {
        let g = self
            .groups
            .get(&group)
            .ok_or(VaultError::NoGroup(String::new()))?;
        let version = self
            .group_keys
            .get(&g.key_id)
            .ok_or(VaultError::Integrity("group key"))?;
        let session = self.session(identity)?;
        let key = session.group_key(&g.key_id)?;
        let info = format::group_key_wrap_info(&self.id(), &member, &group, &version.commitment);
        let w = crypto::hpke_wrap(&keys.agreement, &info, &key)?;
        Ok(MemberWrap {
            member,
            enc: w.enc,
            sealed: w.sealed.to_vec(),
        })
    }

    /// A new key for `group`, wrapped to `members` and every current admin.
    pub(super) fn new_group_key(
        &self,
        group: GroupId,
        members: &BTreeSet<MemberId>,
    ) -> Result<format::GroupKeyUpdate, VaultError> {
        let key = SymmetricKey::generate()?;
        self.group_key_update_for(group, &key, members)
    }

    /// Add a member. `keys` are the exact keys whose fingerprint the admin approved.
    pub fn add_member(
        &mut self,
        identity: &dyn Keyholder,
        name: &str,
        keys: PublicKeys,
        role: Role,
    ) -> Result<MemberId, VaultError> {
        let me = self.require_admin(identity)?;
        let name = check_name(name)?;
        let name = name.as_str();
        if role == Role::Owner {
            return Err(VaultError::Denied("there is one owner"));
        }
        if !self.outranks(&me, role) {
            return Err(VaultError::Denied("only the owner adds admins"));
        }
        if self
            .members
            .values()
            .any(|m| m.active && format::same_text(&m.name, name))
        {
            return Err(VaultError::MemberExists(name.to_string()));
        }
        if let Some(m) = self.members.values().find(|m| m.active && m.keys == keys) {
            return Err(VaultError::KeysInUse(m.name.clone()));
        }
        crypto::check_agreement_public(&keys.agreement)
            .and_then(|_| crypto::check_signing_public(&keys.signing))
            .map_err(|_| VaultError::Integrity("invalid member public key"))?;
        let member = MemberId(crypto::random_array().map_err(|_| VaultError::Random)?);
        let admin_wrap = if role.is_admin() {
            Some(self.wrap_current_group_key(identity, ADMINS_GROUP, member, &keys)?)
        } else {
            None
        };
        self.append(
            identity,
            vec![RecordBody::AddMember(format::AddMember {
                member,
                name: name.to_string(),
                keys,
                role,
                admin_wrap,
            })],
        )?;
        Ok(member)
    }

    /// Change a member's role. A promotion hands over the `@admins` key; a demotion
    /// rotates it, so entries written afterwards are closed to the demoted member.
    pub fn change_role(
        &mut self,
        identity: &dyn Keyholder,
        name: &str,
        role: Role,
    ) -> Result<(), VaultError> {
        let me = self.require_admin(identity)?;
        let m = self.member_named(name)?.clone();
        if m.role == Role::Owner {
            return Err(VaultError::Denied("the owner's role cannot change"));
        }
        if role == Role::Owner {
            return self.offer_ownership(identity, name).map(|_| ());
        }
        if !self.outranks(&me, m.role) || !self.outranks(&me, role) {
            return Err(VaultError::Denied(
                "only the owner promotes or demotes admins",
            ));
        }
        if role == Role::Owner {
            return Err(VaultError::Denied("there is one owner"));
        }
        if m.role == role {
            return Ok(());
        }
        let admin_wrap = if role.is_admin() {
            Some(self.wrap_current_group_key(identity, ADMINS_GROUP, m.id, &m.keys)?)
        } else {
            None
        };
        self.append(
            identity,
            vec![RecordBody::ChangeRole {
                member: m.id,
                role,
                admin_wrap,
            }],
        )?;
        if !role.is_admin() {
            let rotation = self.new_group_key(ADMINS_GROUP, &BTreeSet::new())?;
            self.append(identity, vec![RecordBody::RotateGroupKey(rotation)])?;
        }
        Ok(())
    }

    /// Offer ownership to an admin (`member role NAME owner`): they become the owner
    /// when they accept, and this owner an admin.
    pub fn offer_ownership(
        &mut self,
        identity: &dyn Keyholder,
        name: &str,
    ) -> Result<format::RecordId, VaultError> {
        let me = self.member_for(identity)?.clone();
        if me.role != Role::Owner {
            return Err(VaultError::Denied("only the owner offers ownership"));
        }
        let m = self.member_named(name)?.clone();
        if m.role != Role::Admin {
            return Err(VaultError::Denied(
                "ownership goes to an admin: make them an admin first",
            ));
        }
        let ids = self.append(identity, vec![RecordBody::OfferOwnership { member: m.id }])?;
        Ok(ids[0])
    }

    /// The standing ownership offer to `member`, if any: counted, not withdrawn or
    /// accepted, made by the current owner.
    pub fn ownership_offer_to(&self, member: &MemberId) -> Option<format::RecordId> {
        let records = self.records();
        let settled: BTreeSet<format::RecordId> = records
            .iter()
            .filter_map(|r| match &r.record.body {
                RecordBody::AcceptOwnership { offer } | RecordBody::WithdrawOwnership { offer } => {
                    Some(*offer)
                }
                _ => None,
            })
            .collect();
        records
            .iter()
            .rev()
            .find(|r| {
                matches!(&r.record.body, RecordBody::OfferOwnership { member: m } if m == member)
                    && r.record.author == self.owner
                    && self.counts(&r.id)
                    && !settled.contains(&r.id)
            })
            .map(|r| r.id)
    }

    /// Accept the ownership offered to this identity.
    pub fn accept_ownership(&mut self, identity: &dyn Keyholder) -> Result<(), VaultError> {
        let me = self.member_for(identity)?.id;
        let offer = self
            .ownership_offer_to(&me)
            .ok_or(VaultError::Denied("no ownership offer to you stands"))?;
        let ids = self.append(identity, vec![RecordBody::AcceptOwnership { offer }])?;
        if !self.counts(&ids[0]) || self.owner != me {
            return Err(VaultError::Denied(
                "the acceptance does not count (the offer was withdrawn or you were demoted)",
            ));
        }
        Ok(())
    }

    /// Create a group with these members (names).
    pub fn create_group(
        &mut self,
        identity: &dyn Keyholder,
        name: &str,
        members: &[String],
    ) -> Result<GroupId, VaultError> {
        self.require_admin(identity)?;
        let name = check_name(name)?;
        let name = name.as_str();
        if name == "admins"
            || self
                .groups
                .values()
                .any(|g| format::same_text(&g.name, name))
        {
            return Err(VaultError::GroupExists(name.to_string()));
        }
        let ids: BTreeSet<MemberId> = members
            .iter()
            .map(|n| self.member_named(n).map(|m| m.id))
            .collect::<Result<_, _>>()?;
        let group = GroupId(crypto::random_array().map_err(|_| VaultError::Random)?);
        let key = self.new_group_key(group, &ids)?;
        self.append(
            identity,
            vec![RecordBody::CreateGroup {
                name: name.to_string(),
                members: ids.into_iter().collect(),
                key,
            }],
        )?;
        Ok(group)
    }

    /// Add members (names) to a group; each receives the group's current key.
    pub fn group_add(
        &mut self,
        identity: &dyn Keyholder,
        group: &str,
        members: &[String],
    ) -> Result<(), VaultError> {
        self.require_admin(identity)?;
        let g = self.group_named(group)?.clone();
        if g.id == ADMINS_GROUP {
            return Err(VaultError::Denied(
                "@admins follows roles: use 'member role'",
            ));
        }
        let mut bodies = Vec::new();
        for name in members {
            let m = self.member_named(name)?.clone();
            if g.members.contains(&m.id) {
                continue;
            }
            let wrap = self.wrap_current_group_key(identity, g.id, m.id, &m.keys)?;
            bodies.push(RecordBody::AddGroupMember {
                group: g.id,
                member: m.id,
                wrap,
            });
        }
        if !bodies.is_empty() {
            self.append(identity, bodies)?;
        }
        Ok(())
    }

    /// Remove members (names) from a group; the group key rotates with each removal.
    pub fn group_remove(
        &mut self,
        identity: &dyn Keyholder,
        group: &str,
        members: &[String],
    ) -> Result<(), VaultError> {
        self.require_admin(identity)?;
        let gid = self.group_named(group)?.id;
        if gid == ADMINS_GROUP {
            return Err(VaultError::Denied(
                "@admins follows roles: use 'member role'",
            ));
        }
        for name in members {
            let m = self.member_named(name)?.clone();
            let g = self.group_named(group)?.clone();
            if !g.members.contains(&m.id) {
                return Err(VaultError::NoMember(format!("{name} in @{group}")));
            }
            let mut remaining = g.members.clone();
            remaining.remove(&m.id);
            let key = self.new_group_key(gid, &remaining)?;
            self.append(
                identity,
                vec![RecordBody::RemoveGroupMember {
                    group: gid,
                    member: m.id,
                    key,
                }],
            )?;
        }
        Ok(())
    }

    /// Whether `member` was given a wrap of this group key version (at its creation or
    /// when they joined the group or became an admin): they can unwrap it forever.
    fn holds_group_key(&self, member: &MemberId, key_id: &format::RecordId) -> bool {
        self.group_keys
            .get(key_id)
            .is_some_and(|v| v.wraps.iter().any(|w| w.member == *member))
    }

    /// The entries whose current revision `member` can read: wrapped to them, or to a
    /// group key version they hold a wrap of (old versions too: a member removed from
    /// a group, or a demoted admin, still holds those).
    pub fn readable_by(&self, member: &MemberId) -> Vec<EntryId> {
        if !self.members.contains_key(member) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (id, _) in self.heads.iter() {
            let Some((i, _)) = self.current(id) else {
                continue;
            };
            if self.reads_revision(member, i) {
                out.push(*id);
            }
        }
        out.sort();
        out
    }

    /// Whether `member` can open revision `i`: it is sealed and wrapped to them, or to
    /// a group key version they hold a wrap of (to whatever key: a retired one too).
    fn reads_revision(&self, member: &MemberId, i: usize) -> bool {
        let Some((_, rev)) = self.revision(i) else {
            return false;
        };
        let EntryContent::Sealed(sealed) = &rev.content else {
            return false;
        };
        sealed.wraps.iter().any(|w| match w {
            KeyWrap::Member(mw) => mw.member == *member,
            w => w
                .key_id()
                .is_some_and(|key_id| self.holds_group_key(member, &key_id)),
        })
    }

    /// Entries whose current revision a current member can read although it is not a
    /// descendant of one of that member's counted key changes: written before the
    /// change (or concurrently with it), so wrapped to the retired key or under group
    /// key versions held with it. Key hygiene re-keys them, so that the new key reads
    /// them and the old one opens nothing written afterwards. Empty (and cheap) when
    /// no member ever changed keys.
    pub fn stale_after_key_change(&self) -> Vec<EntryId> {
        let mut changes: std::collections::BTreeMap<MemberId, Vec<usize>> = Default::default();
        for (i, r) in self.file.records.iter().enumerate() {
            if let RecordBody::ChangeMemberKeys { member, .. } = &r.record.body
                && self.counted_role(i).is_some()
                && self
                    .members
                    .get(member)
                    .is_some_and(|m| m.active && m.key_current)
            {
                changes.entry(*member).or_default().push(i);
            }
        }
        if changes.is_empty() {
            return Vec::new();
        }
        let mut out: Vec<EntryId> = self
            .heads
            .keys()
            .filter(|id| {
                self.current(id).is_some_and(|(i, _)| {
                    changes.iter().any(|(m, ks)| {
                        ks.iter().any(|&k| !self.dag.is_ancestor(k, i)) && self.reads_revision(m, i)
                    })
                })
            })
            .copied()
            .collect();
        out.sort();
        out
    }

    /// Key hygiene, by an admin: rotate every group whose current key version may not
    /// be used ([`Vault::tainted`]: concurrent versions, held outside the group or by
    /// a retired key), then re-key every entry [stale after a key
    /// change](Vault::stale_after_key_change). With `flag`, the listed entries (what a
    /// member whose key is compromised could read) are also re-keyed, flagged
    /// "rotate at source" and recorded in a `RotateAtSource` record for that member.
    pub(super) fn key_hygiene(
        &mut self,
        identity: &dyn Keyholder,
        flag: Option<(MemberId, &BTreeSet<EntryId>)>,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<KeyReplacement, VaultError> {
        let tainted: Vec<GroupId> = self
            .groups
            .values()
            .filter(|g| self.tainted(g))
            .map(|g| g.id)
            .collect();
        let mut rotations = Vec::with_capacity(tainted.len());
        for g in tainted {
            let members = if g == ADMINS_GROUP {
                BTreeSet::new()
            } else {
                self.groups
                    .get(&g)
                    .map(|x| x.members.clone())
                    .unwrap_or_default()
            };
            rotations.push(RecordBody::RotateGroupKey(self.new_group_key(g, &members)?));
        }
        let rotated = rotations.len();
        if !rotations.is_empty() {
            self.append(identity, rotations)?;
        }
        let mut ids: BTreeSet<EntryId> = self.stale_after_key_change().into_iter().collect();
        if let Some((_, flagged)) = flag {
            ids.extend(flagged.iter().copied());
        }
        let mut plain = Vec::new();
        let mut flagged_bodies = Vec::new();
        let mut listed = Vec::new();
        {
            let session = self.session(identity)?;
            let total = ids.len();
            for (done, id) in ids.iter().enumerate() {
                let flag_it = flag.is_some_and(|(_, f)| f.contains(id));
                // As in a revocation: a current revision that does not open must not
                // stop the change; a flagged one is re-keyed from the newest revision
                // that opens, or listed by id.
                let opened = if flag_it {
                    session
                        .open_id_counted(id)
                        .or_else(|_| session.open_newest_readable(id))
                } else {
                    session.open_id_counted(id)
                };
                let Ok(entry) = opened else {
                    if flag_it {
                        listed.push(RotateAtSource::unreadable(*id));
                    }
                    progress(done + 1, total);
                    continue;
                };
                let mut payload = entry.payload.clone();
                if flag_it {
                    payload.flag_rotate_at_source();
                    listed.push(RotateAtSource::of(*id, &payload));
                }
                let share_with = session.shared_with(&entry);
                let body = session.seal(
                    entry.id,
                    Some(entry.revision),
                    &super::EntryDraft {
                        payload,
                        share_with,
                    },
                )?;
                if flag_it {
                    flagged_bodies.push(body);
                } else {
                    plain.push(body);
                }
                progress(done + 1, total);
            }
        }
        let rekeyed = plain.len() + flagged_bodies.len();
        if !plain.is_empty() {
            self.append(identity, plain)?;
        }
        // The flagged revisions and their bookkeeping record in one chain, as a
        // revocation writes them (`audit` shows them as re-keys for that member).
        if let Some((member, flagged)) = flag {
            flagged_bodies.push(RecordBody::RotateAtSource {
                member,
                entries: flagged.iter().copied().collect(),
            });
            self.append(identity, flagged_bodies)?;
        }
        listed.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(KeyReplacement {
            rotated,
            rekeyed,
            rotate_at_source: listed,
        })
    }

    /// Replace a member's keys (`member rekey`: a lost passphrase, a new laptop) without
    /// revoking them: name, role, groups, grants and shares stay. Needs a strictly
    /// higher rank than theirs and the new key's proof of possession (made by whoever
    /// holds the new key: `identity proof`). In one write: the `ChangeMemberKeys`
    /// record, then key hygiene ([`Vault::key_hygiene`]): every group key version they
    /// held is rotated and every entry they can read re-keyed, so the new key reads
    /// them and the old key opens nothing written afterwards. `compromised`: those
    /// entries are also flagged "rotate at source", as in a revocation.
    #[allow(clippy::too_many_arguments)]
    pub fn replace_member_keys(
        &mut self,
        identity: &dyn Keyholder,
        name: &str,
        keys: PublicKeys,
        proof: &[u8],
        compromised: bool,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<KeyReplacement, VaultError> {
        let me = self.require_admin(identity)?;
        let m = self.member_named(name)?.clone();
        if m.id == me {
            return Err(VaultError::Denied(
                "replace your own keys with 'amanat identity rotate'",
            ));
        }
        if m.role == Role::Owner {
            return Err(VaultError::Denied(
                "no one outranks the owner: the owner replaces their own keys with 'amanat identity rotate'",
            ));
        }
        if !self.outranks(&me, m.role) {
            return Err(VaultError::Denied(
                "only the owner replaces an admin's keys",
            ));
        }
        if m.keys == keys {
            return Err(VaultError::Denied("these are already the member's keys"));
        }
        if self.members.values().any(|x| x.active && x.keys == keys) {
            return Err(VaultError::Denied("these keys belong to another member"));
        }
        crypto::check_agreement_public(&keys.agreement)
            .and_then(|_| crypto::check_signing_public(&keys.signing))
            .map_err(|_| VaultError::Integrity("invalid member public key"))?;
        let proof_ok = <[u8; crypto::SIGNATURE_LEN]>::try_from(proof).is_ok_and(|sig| {
            crypto::verify(
                &keys.signing,
                super::KEY_CHANGE_LABEL,
                &super::key_change_message(&self.id(), &m.id, &keys),
                &sig,
            )
            .is_ok()
        });
        if !proof_ok {
            return Err(VaultError::Integrity(
                "the new key's proof of possession does not verify",
            ));
        }
        let exposed: BTreeSet<EntryId> = if compromised {
            self.readable_by(&m.id).into_iter().collect()
        } else {
            BTreeSet::new()
        };
        let ids = self.append(
            identity,
            vec![RecordBody::ChangeMemberKeys {
                member: m.id,
                keys,
                new_key_signature: proof.to_vec(),
            }],
        )?;
        if !ids.first().is_some_and(|id| self.counts(id)) {
            return Err(VaultError::Denied("the key change would not count"));
        }
        let flag = compromised.then_some((m.id, &exposed));
        self.key_hygiene(identity, flag, progress)
    }

    /// Change this member's own keys (`identity rotate`): a `ChangeMemberKeys` signed
    /// by the old key (the author) carrying the new key's proof of possession. The
    /// group key versions they hold are then held by a retired key: an admin rotates
    /// them at once (and re-keys what they read, opening the old wraps with the old
    /// key); a member's are rotated by the next admin write, and until then writers
    /// wrap to the group's members directly.
    pub fn change_own_keys(
        &mut self,
        old: &dyn Keyholder,
        new: &crate::identity::Identity,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<KeyReplacement, VaultError> {
        let m = self.member_for(old)?.clone();
        if self
            .members
            .values()
            .any(|x| x.active && x.keys == new.keys)
        {
            return Err(VaultError::Denied("these keys belong to a member already"));
        }
        let proof = crate::identity::KeyProof::sign(new, self.id(), m.id);
        let ids = self.append(
            old,
            vec![RecordBody::ChangeMemberKeys {
                member: m.id,
                keys: new.keys,
                new_key_signature: proof.signature.to_vec(),
            }],
        )?;
        if !ids.first().is_some_and(|id| self.counts(id)) || self.member_for(new).is_err() {
            return Err(VaultError::Denied("the key change would not count"));
        }
        if !m.role.is_admin() {
            return Ok(KeyReplacement::default());
        }
        let both = Rotating { new, old };
        self.key_hygiene(&both, None, progress)
    }

    /// Revoke a member in one batch of records (DESIGN.md "Revocation"): remove them,
    /// rotate the key of every group they were in (and `@admins` if they were an
    /// admin), give every entry they could read a new revision under a fresh key
    /// wrapped to its remaining principals with "rotate at source" set, and record the
    /// list. `progress(done, total)` is called as entries are re-keyed.
    pub fn revoke_member(
        &mut self,
        identity: &dyn Keyholder,
        name: &str,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<RotateAtSource>, VaultError> {
        let me = self.require_admin(identity)?;
        let m = self.member_named(name)?.clone();
        if m.role == Role::Owner {
            return Err(VaultError::Denied("the owner cannot be removed"));
        }
        if !self.outranks(&me, m.role) {
            return Err(VaultError::Denied("only the owner removes admins"));
        }
        if self.member_for(identity)?.id == m.id {
            return Err(VaultError::Denied("you cannot remove yourself"));
        }
        let exposed = self.readable_by(&m.id);
        let mut groups: Vec<GroupId> = self
            .groups
            .values()
            .filter(|g| g.members.contains(&m.id) && g.id != ADMINS_GROUP)
            .map(|g| g.id)
            .collect();
        if m.role.is_admin() {
            groups.push(ADMINS_GROUP);
        }
        // 1. The removal.
        self.append(identity, vec![RecordBody::RemoveMember { member: m.id }])?;
        // 2. New keys for every group they were in, wrapped to who remains.
        let mut rotations = Vec::with_capacity(groups.len());
        for g in groups {
            let remaining = self
                .groups
                .get(&g)
                .map(|g| g.members.clone())
                .unwrap_or_default();
            rotations.push(RecordBody::RotateGroupKey(
                self.new_group_key(g, &remaining)?,
            ));
        }
        if !rotations.is_empty() {
            self.append(identity, rotations)?;
        }
        // 3. Every entry they could read: a fresh key, their direct wrap gone, group
        //    wraps under the new keys, flagged for rotation at source.
        let mut listed = Vec::with_capacity(exposed.len());
        let mut bodies = Vec::with_capacity(exposed.len());
        {
            let session = self.session(identity)?;
            let total = exposed.len();
            for (done, id) in exposed.iter().enumerate() {
                // A current revision the admin cannot open (a wrong wrap or commitment
                // written by someone else) must not stop the revocation: re-key from the
                // newest counted revision that opens. If none does, list it by id.
                let entry = match session
                    .open_id_counted(id)
                    .or_else(|_| session.open_newest_readable(id))
                {
                    Ok(e) => e,
                    Err(_) => {
                        listed.push(RotateAtSource::unreadable(*id));
                        progress(done + 1, total);
                        continue;
                    }
                };
                let mut payload = entry.payload.clone();
                payload.flag_rotate_at_source();
                payload
                    .write_grants
                    .retain(|p| *p != Principal::Member(m.id));
                let share_with: Vec<Principal> = session
                    .shared_with(&entry)
                    .into_iter()
                    .filter(|p| *p != Principal::Member(m.id))
                    .collect();
                listed.push(RotateAtSource::of(*id, &payload));
                bodies.push(session.seal(
                    entry.id,
                    Some(entry.revision),
                    &super::EntryDraft {
                        payload,
                        share_with,
                    },
                )?);
                progress(done + 1, total);
            }
        }
        // 4. The bookkeeping record, in the same batch.
        bodies.push(RecordBody::RotateAtSource {
            member: m.id,
            entries: exposed,
        });
        self.append(identity, bodies)?;
        listed.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(listed)
    }

    /// Share an entry with a member or group (optionally with write access): a new
    /// revision under a fresh key.
    pub fn share(
        &mut self,
        identity: &dyn Keyholder,
        path: &str,
        with: Principal,
        write: bool,
    ) -> Result<(), VaultError> {
        let body = {
            let session = self.session(identity)?;
            let entry = session.open(path)?;
            if !session.may_write(&entry) {
                return Err(VaultError::Denied("you may not share this entry"));
            }
            let mut share_with = session.shared_with(&entry);
            if !share_with.contains(&with) {
                share_with.push(with);
            }
            let mut payload = entry.payload.clone();
            if write && !payload.write_grants.contains(&with) {
                payload.write_grants.push(with);
            }
            session.revise_entry(
                &entry,
                &super::EntryDraft {
                    payload,
                    share_with,
                },
            )?
        };
        self.append(identity, vec![body])?;
        Ok(())
    }

    /// Stop sharing an entry with a member or group: a new revision under a fresh key
    /// without their wrap (what they already saw stays seen).
    pub fn unshare(
        &mut self,
        identity: &dyn Keyholder,
        path: &str,
        from: Principal,
    ) -> Result<(), VaultError> {
        let body = {
            let session = self.session(identity)?;
            let entry = session.open(path)?;
            if !session.may_write(&entry) {
                return Err(VaultError::Denied("you may not unshare this entry"));
            }
            let before = session.shared_with(&entry);
            if !before.contains(&from) {
                return Err(VaultError::NotShared(path.to_string()));
            }
            let share_with = before.into_iter().filter(|p| *p != from).collect();
            let mut payload = entry.payload.clone();
            payload.write_grants.retain(|p| *p != from);
            // Whoever lost access may have read the secrets: `audit` lists the entry
            // until they change where they are used (`Vault::lost_readers` names them).
            payload.flag_rotate_at_source();
            session.revise_entry(
                &entry,
                &super::EntryDraft {
                    payload,
                    share_with,
                },
            )?
        };
        self.append(identity, vec![body])?;
        Ok(())
    }
}

/// A current revision wrapped to a principal it should not be (extra) or lacking one
/// it should have (missing). Not an integrity failure — a writer who had not seen a
/// roster change makes these — but the next admin or writer should re-key the entry
/// (`amanat edit PATH`), and a wrap to a removed member must not be ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapFinding {
    /// The entry.
    pub entry: EntryId,
    /// What is wrong (names a member or group, never a secret).
    pub problem: String,
}

impl Vault {
    /// Check the wraps of every live entry's current revision against the roster:
    /// wraps to removed members or unknown groups (extra), group wraps under a rotated
    /// key (stale), and a missing `@admins` wrap (missing).
    pub fn wrap_findings(&self) -> Vec<WrapFinding> {
        let mut ids: Vec<&EntryId> = self.heads.keys().collect();
        ids.sort();
        ids.into_iter()
            .flat_map(|id| self.wrap_findings_of(id))
            .collect()
    }

    /// [`wrap_findings`](Self::wrap_findings) of one entry (what `get` and `show` warn
    /// about, without checking every other entry).
    pub fn wrap_findings_of(&self, id: &EntryId) -> Vec<WrapFinding> {
        let Some((_, rev)) = self.current(id).and_then(|(i, _)| self.revision(i)) else {
            return Vec::new();
        };
        let EntryContent::Sealed(sealed) = &rev.content else {
            return Vec::new();
        };
        let mut problems = Vec::new();
        let mut admins = false;
        for w in &sealed.wraps {
            match w {
                KeyWrap::Member(m) => match self.members.get(&m.member) {
                    Some(m) if m.active => {}
                    Some(m) => problems.push(format!("extra wrap to removed member {}", m.name)),
                    None => problems.push("extra wrap to an unknown member".into()),
                },
                w => {
                    let Some(key_id) = w.key_id() else {
                        continue;
                    };
                    let Some(group) = self.key_group(&key_id) else {
                        problems.push("wrap under an unknown group key".into());
                        continue;
                    };
                    match self.groups.get(&group) {
                        Some(g) => {
                            admins |= group == ADMINS_GROUP;
                            if g.key_id != key_id {
                                problems
                                    .push(format!("wrapped under a rotated key of @{}", g.name));
                            }
                        }
                        None => problems.push("extra wrap to an unknown group".into()),
                    }
                }
            }
        }
        if !admins {
            problems.push("missing @admins wrap".into());
        }
        problems
            .into_iter()
            .map(|problem| WrapFinding {
                entry: *id,
                problem,
            })
            .collect()
    }
}

/// One member's access to an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// Member name.
    pub member: String,
    /// Their role.
    pub role: Role,
    /// Whether they may write new revisions.
    pub write: bool,
    /// Through what: `@admins`, `@group`, `direct`.
    pub via: Vec<String>,
}

impl super::Session<'_> {
    /// Who can read an opened entry's current revision, and who can write it.
    pub fn access(&self, entry: &super::OpenEntry) -> Vec<Access> {
        let vault = self.vault;
        let mut rows: std::collections::BTreeMap<MemberId, Access> = Default::default();
        let mut via = |m: &super::Member, how: String| {
            let row = rows.entry(m.id).or_insert_with(|| Access {
                member: m.name.clone(),
                role: m.role,
                write: m.role.is_admin() || self.granted(&entry.payload.write_grants, &m.id),
                via: Vec::new(),
            });
            if !row.via.contains(&how) {
                row.via.push(how);
            }
        };
        let Some(&i) = vault.index.get(&entry.revision) else {
            return Vec::new();
        };
        let Some((_, rev)) = vault.revision(i) else {
            return Vec::new();
        };
        let EntryContent::Sealed(sealed) = &rev.content else {
            return Vec::new();
        };
        for w in &sealed.wraps {
            match w {
                KeyWrap::Member(mw) => {
                    if let Some(m) = vault.members.get(&mw.member).filter(|m| m.active) {
                        via(m, "direct".into());
                    }
                }
                w => {
                    let Some(key_id) = w.key_id() else {
                        continue;
                    };
                    let Some(group) = vault.key_group(&key_id) else {
                        continue;
                    };
                    let Some(g) = vault.groups.get(&group) else {
                        continue;
                    };
                    // Whoever holds this key version can read, whether or not they
                    // are still in the group (until the entry's next revision).
                    let holders = vault
                        .group_keys
                        .get(&key_id)
                        .map(|v| v.wraps.iter().map(|w| w.member).collect::<BTreeSet<_>>())
                        .unwrap_or_default();
                    for id in holders.iter().chain(&g.members) {
                        // Admins hold every group key; they read through @admins, so
                        // list them under a group only if they are in it.
                        let listed = vault.members.get(id).filter(|m| {
                            m.active
                                && (group == ADMINS_GROUP
                                    || !m.role.is_admin()
                                    || g.members.contains(id))
                        });
                        if let Some(m) = listed {
                            via(m, format!("@{}", g.name));
                        }
                    }
                }
            }
        }
        let mut out: Vec<Access> = rows.into_values().collect();
        out.sort_by(|a, b| a.member.cmp(&b.member));
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::crypto::SecretString;
    use crate::format::EntryPayload;
    use crate::identity::Identity;
    use crate::vault::EntryDraft;

    fn person(name: &str) -> Identity {
        Identity::generate(name).unwrap()
    }

    fn add(v: &mut Vault, who: &Identity, path: &str, password: &str, share: Vec<Principal>) {
        let mut payload = EntryPayload::default();
        payload.path = path.into();
        payload.password = SecretString::new(password.into());
        let body = v
            .session(who)
            .unwrap()
            .create_entry(&EntryDraft {
                payload,
                share_with: share,
            })
            .unwrap();
        v.append(who, vec![body]).unwrap();
    }

    fn paths(v: &Vault, who: &Identity) -> Vec<String> {
        v.session(who)
            .unwrap()
            .list()
            .unwrap()
            .into_iter()
            .map(|e| e.payload.path.clone())
            .collect()
    }

    /// alice (owner), bob and carol (members), @devops = {bob, carol}.
    fn team() -> (Vault, Identity, Identity, Identity) {
        let (alice, bob, carol) = (person("alice"), person("bob"), person("carol"));
        let mut v = Vault::create(&alice, "acme").unwrap();
        v.add_member(&alice, "bob", bob.keys, Role::Member).unwrap();
        v.add_member(&alice, "carol", carol.keys, Role::Member)
            .unwrap();
        v.create_group(&alice, "devops", &["bob".into(), "carol".into()])
            .unwrap();
        (v, alice, bob, carol)
    }

    #[test]
    fn sharing_to_members_and_groups() {
        let (mut v, alice, bob, carol) = team();
        let devops = Principal::Group(v.group_named("devops").unwrap().id);
        add(&mut v, &alice, "ops/redis", "r", vec![devops]);
        add(&mut v, &alice, "ops/db", "d", vec![]);
        add(&mut v, &alice, "hr/payroll", "p", vec![]);
        let bob_id = v.member_named("bob").unwrap().id;
        v.share(&alice, "ops/db", Principal::Member(bob_id), false)
            .unwrap();
        let v = Vault::decode(&v.encode()).unwrap();
        v.verify().unwrap();
        assert_eq!(paths(&v, &bob), ["ops/db", "ops/redis"]);
        assert_eq!(paths(&v, &carol), ["ops/redis"]);
        assert_eq!(paths(&v, &alice), ["hr/payroll", "ops/db", "ops/redis"]);
        let e = v.session(&bob).unwrap().open("ops/db").unwrap();
        assert_eq!(e.payload.password.expose(), "d");
        // Bob may read but not write what was shared read-only.
        let s = v.session(&bob).unwrap();
        assert!(matches!(
            s.revise_entry(&e, &EntryDraft::default().with_path("ops/db")),
            Err(VaultError::Denied(_))
        ));
    }

    #[test]
    fn members_write_and_share_through_group_public_keys() {
        let (mut v, alice, bob, carol) = team();
        let devops = Principal::Group(v.group_named("devops").unwrap().id);
        // bob, a plain member, creates an entry: it is wrapped to @admins through the
        // group's public key, since he holds no @admins key.
        add(&mut v, &bob, "bob/own", "b1", vec![]);
        let v2 = Vault::decode(&v.encode()).unwrap();
        assert_eq!(paths(&v2, &alice), ["bob/own"]);
        assert_eq!(paths(&v2, &bob), ["bob/own"]);
        assert!(paths(&v2, &carol).is_empty());
        // He may go on writing it, and share it with a group.
        v.share(&bob, "bob/own", devops, false).unwrap();
        assert_eq!(paths(&v, &carol), ["bob/own"]);
        let e = v.session(&alice).unwrap().open("bob/own").unwrap();
        assert_eq!(e.payload.password.expose(), "b1");
        assert!(v.wrap_findings().is_empty());
    }

    #[test]
    fn revocation_covers_old_group_key_versions_the_leaver_holds() {
        let (mut v, alice, _bob, _carol) = team();
        let devops = Principal::Group(v.group_named("devops").unwrap().id);
        add(&mut v, &alice, "ops/redis", "r1", vec![devops]);
        v.group_remove(&alice, "devops", &["carol".into()]).unwrap();
        let carol_id = v.member_named("carol").unwrap().id;
        assert_eq!(
            v.readable_by(&carol_id).len(),
            1,
            "she still holds the old key"
        );
        let listed = v.revoke_member(&alice, "carol", &mut |_, _| {}).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].path, "ops/redis");
        assert!(v.readable_by(&carol_id).is_empty());
    }

    #[test]
    fn non_admins_cannot_change_the_roster() {
        let (mut v, _alice, bob, _carol) = team();
        let dave = person("dave");
        assert!(matches!(
            v.add_member(&bob, "dave", dave.keys, Role::Member),
            Err(VaultError::Denied(_))
        ));
        assert!(matches!(
            v.create_group(&bob, "x", &[]),
            Err(VaultError::Denied(_))
        ));
    }

    #[test]
    fn revocation_rekeys_exactly_what_bob_could_read() {
        let (mut v, alice, bob, carol) = team();
        let devops = Principal::Group(v.group_named("devops").unwrap().id);
        let bob_id = v.member_named("bob").unwrap().id;
        add(&mut v, &alice, "ops/redis", "r1", vec![devops]);
        add(
            &mut v,
            &alice,
            "ops/db",
            "d1",
            vec![Principal::Member(bob_id)],
        );
        add(&mut v, &alice, "hr/payroll", "p1", vec![]);
        let before = v.clone();
        let listed = v.revoke_member(&alice, "bob", &mut |_, _| {}).unwrap();
        let listed: Vec<&str> = listed.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(listed, ["ops/db", "ops/redis"]);
        let v = Vault::decode(&v.encode()).unwrap();
        v.verify().unwrap();
        // Bob is no member any more, and holds no wrap of any current revision.
        assert!(matches!(v.session(&bob), Err(VaultError::NotMember(_))));
        assert!(v.readable_by(&bob_id).is_empty());
        // Carol still reads the group entry, alice everything, flagged.
        let e = v.session(&carol).unwrap().open("ops/redis").unwrap();
        assert!(e.payload.rotate_at_source);
        assert_eq!(paths(&v, &alice), ["hr/payroll", "ops/db", "ops/redis"]);
        // Every current revision bob could read is new, under a group key (or direct
        // wraps) he holds no wrap of: even with every old copy he has nothing to
        // unwrap them with.
        let new_devops = v.group_named("devops").unwrap().key_id;
        assert_ne!(new_devops, before.group_named("devops").unwrap().key_id);
        assert!(
            v.group_keys[&new_devops]
                .wraps
                .iter()
                .all(|w| w.member != bob_id)
        );
        let admins_key = v.groups[&ADMINS_GROUP].key_id;
        for path in ["ops/db", "ops/redis"] {
            let e = v.session(&alice).unwrap().open(path).unwrap();
            let old = before.session(&alice).unwrap().open(path).unwrap();
            assert_ne!(e.revision, old.revision);
            let i = v.index[&e.revision];
            let Some((_, rev)) = v.revision(i) else {
                panic!()
            };
            let EntryContent::Sealed(sealed) = &rev.content else {
                panic!()
            };
            for w in &sealed.wraps {
                match w {
                    KeyWrap::Member(m) => assert_ne!(m.member, bob_id),
                    w => {
                        let key_id = w.key_id().unwrap();
                        assert!(key_id == new_devops || key_id == admins_key)
                    }
                }
            }
        }
    }

    /// A record by `who` (as member `author`) on `parents`, signed with `who`'s key:
    /// the resolved vault, and whether the record counts.
    fn forge(
        v: &Vault,
        who: &Identity,
        author: MemberId,
        parents: Vec<format::RecordId>,
    ) -> (Vault, bool) {
        let record = format::Record {
            parents,
            author,
            time: 0,
            body: RecordBody::Event(format::AuditEvent::new(format::EventKind::Exported, None)),
        };
        let (bytes, id) = format::StoredRecord::encode(record.clone()).unwrap();
        let signature = who.signing.sign(crypto::SIGNATURE_LABEL, &bytes);
        let mut file = v.file.clone();
        file.append(vec![format::StoredRecord {
            bytes,
            record,
            signature,
            id,
        }]);
        let forged = Vault::decode(&file.encode()).unwrap();
        let counts = forged.counts(&id);
        (forged, counts)
    }

    #[test]
    fn a_retired_key_signs_nothing_after_the_key_change() {
        let (mut v, alice, _bob, carol) = team();
        let carol_id = v.member_named("carol").unwrap().id;
        let before_change = v.heads();
        let carol_new = person("carol");
        let proof = carol_new
            .signing
            .sign(
                super::super::KEY_CHANGE_LABEL,
                &super::super::key_change_message(&v.id(), &carol_id, &carol_new.keys),
            )
            .to_vec();
        v.append(
            &alice,
            vec![RecordBody::ChangeMemberKeys {
                member: carol_id,
                keys: carol_new.keys,
                new_key_signature: proof,
            }],
        )
        .unwrap();
        let after_change = v.heads();
        // The old key on parents after the change: a forgery, does not count.
        assert!(!forge(&v, &carol, carol_id, after_change.clone()).1);
        // The new key after the change counts.
        assert!(forge(&v, &carol_new, carol_id, after_change).1);
        // The old key on parents from before the change: concurrent with the
        // replacement of that key (a stolen key cannot back-date), void.
        let (forged, counts) = forge(&v, &carol, carol_id, before_change.clone());
        assert!(!counts);
        assert!(forged.ignored()[0].reason.contains("replacement"));
        // The new key on parents from before the change was not carol's key then.
        assert!(!forge(&v, &carol_new, carol_id, before_change).1);
        // The new key writes through the API, and everything verifies.
        let reopened = Vault::decode(&v.encode()).unwrap();
        assert!(reopened.verify().unwrap().ignored.is_empty());
        assert_eq!(reopened.member_for(&carol_new).unwrap().id, carol_id);
        assert!(reopened.member_for(&carol).is_err());
    }

    /// Someone holding only `old`'s secret keys, presented as the member whose keys
    /// are now `keys` (so that the vault lets them try): what the retired key opens.
    #[derive(Debug)]
    struct RetiredKey<'a> {
        keys: PublicKeys,
        old: &'a Identity,
    }

    impl Keyholder for RetiredKey<'_> {
        fn name(&self) -> &str {
            "retired"
        }
        fn keys(&self) -> &PublicKeys {
            &self.keys
        }
        fn sign_record(
            &self,
            record: &[u8],
        ) -> Result<[u8; crypto::SIGNATURE_LEN], crate::identity::KeyholderError> {
            self.old.sign_record(record)
        }
        fn unwrap_key(
            &self,
            info: &[u8],
            wrapped: &crypto::HpkeWrapped,
        ) -> Result<SymmetricKey, crate::identity::KeyholderError> {
            self.old.unwrap_key(info, wrapped)
        }
    }

    /// The paths of live entries `who` opens, tried one by one by id (a failure is
    /// "does not open").
    fn opens(v: &Vault, who: &dyn Keyholder) -> Vec<String> {
        let Ok(s) = v.session(who) else {
            return Vec::new();
        };
        let mut ids: Vec<EntryId> = v.heads.keys().copied().collect();
        ids.sort();
        let mut out: Vec<String> = ids
            .iter()
            .filter_map(|id| s.open_id(id).ok().map(|e| e.payload.path.clone()))
            .collect();
        out.sort();
        out
    }

    /// team() plus ops/redis (@devops), ops/db (direct to carol), hr/payroll (admins).
    fn shared_team() -> (Vault, Identity, Identity, Identity) {
        let (mut v, alice, bob, carol) = team();
        let devops = Principal::Group(v.group_named("devops").unwrap().id);
        let carol_id = v.member_named("carol").unwrap().id;
        add(&mut v, &alice, "ops/redis", "r1", vec![devops]);
        add(
            &mut v,
            &alice,
            "ops/db",
            "d1",
            vec![Principal::Member(carol_id)],
        );
        add(&mut v, &alice, "hr/payroll", "p1", vec![]);
        (v, alice, bob, carol)
    }

    fn proof(v: &Vault, member: &str, new: &Identity) -> Vec<u8> {
        let id = v.member_named(member).unwrap().id;
        crate::identity::KeyProof::sign(new, v.id(), id)
            .signature
            .to_vec()
    }

    #[test]
    fn an_admins_rekey_keeps_groups_and_shares_and_closes_the_old_key() {
        let (mut v, alice, bob, carol) = shared_team();
        let carol_new = person("carol");
        let p = proof(&v, "carol", &carol_new);
        let done = v
            .replace_member_keys(&alice, "carol", carol_new.keys, &p, false, &mut |_, _| {})
            .unwrap();
        assert_eq!(done.rotated, 1, "@devops");
        assert_eq!(done.rekeyed, 2, "ops/db and ops/redis");
        assert!(done.rotate_at_source.is_empty());
        let retired = RetiredKey {
            keys: carol_new.keys,
            old: &carol,
        };
        assert_eq!(opens(&v, &carol_new), ["ops/db", "ops/redis"]);
        assert!(opens(&v, &retired).is_empty());
        assert!(matches!(v.session(&carol), Err(VaultError::NotMember(_))));
        // Written afterwards: to the group, and directly.
        let devops = Principal::Group(v.group_named("devops").unwrap().id);
        let carol_id = v.member_named("carol").unwrap().id;
        add(&mut v, &alice, "ops/new", "n1", vec![devops]);
        add(
            &mut v,
            &alice,
            "ops/direct",
            "x1",
            vec![Principal::Member(carol_id)],
        );
        assert_eq!(
            opens(&v, &carol_new),
            ["ops/db", "ops/direct", "ops/new", "ops/redis"]
        );
        assert!(opens(&v, &retired).is_empty());
        assert_eq!(opens(&v, &bob), ["ops/new", "ops/redis"]);
        let v = Vault::decode(&v.encode()).unwrap();
        assert!(v.verify().unwrap().ignored.is_empty());
        assert!(v.stale_after_key_change().is_empty());
        assert_eq!(v.member_named("carol").unwrap().keys, carol_new.keys);
    }

    #[test]
    fn a_compromised_rekey_flags_what_the_old_key_could_read() {
        let (mut v, alice, _bob, _carol) = shared_team();
        let carol_new = person("carol");
        let p = proof(&v, "carol", &carol_new);
        let done = v
            .replace_member_keys(&alice, "carol", carol_new.keys, &p, true, &mut |_, _| {})
            .unwrap();
        let listed: Vec<&str> = done
            .rotate_at_source
            .iter()
            .map(|r| r.path.as_str())
            .collect();
        assert_eq!(listed, ["ops/db", "ops/redis"]);
        let s = v.session(&alice).unwrap();
        assert!(s.open("ops/db").unwrap().payload.rotate_at_source);
        assert!(!s.open("hr/payroll").unwrap().payload.rotate_at_source);
        let carol_id = v.member_named("carol").unwrap().id;
        assert!(v.records().iter().any(|r| matches!(&r.record.body,
            RecordBody::RotateAtSource { member, entries } if *member == carol_id && entries.len() == 2)));
    }

    #[test]
    fn a_rekey_needs_the_new_keys_proof_and_a_higher_rank() {
        let (mut v, alice, bob, _carol) = shared_team();
        let carol_new = person("carol");
        let p = proof(&v, "carol", &carol_new);
        // A proof for another member, or none, does not do.
        let for_bob = proof(&v, "bob", &carol_new);
        for bad in [for_bob, vec![0; 64], Vec::new()] {
            assert!(matches!(
                v.replace_member_keys(&alice, "carol", carol_new.keys, &bad, false, &mut |_, _| {}),
                Err(VaultError::Integrity(_))
            ));
        }
        // A member cannot; nobody re-keys themselves or the owner this way.
        assert!(matches!(
            v.replace_member_keys(&bob, "carol", carol_new.keys, &p, false, &mut |_, _| {}),
            Err(VaultError::Denied(_))
        ));
        let alice_new = person("alice");
        let pa = proof(&v, "alice", &alice_new);
        assert!(matches!(
            v.replace_member_keys(&alice, "alice", alice_new.keys, &pa, false, &mut |_, _| {}),
            Err(VaultError::Denied(_))
        ));
        // Another member's keys are refused.
        let pb = proof(&v, "carol", &bob);
        assert!(matches!(
            v.replace_member_keys(&alice, "carol", bob.keys, &pb, false, &mut |_, _| {}),
            Err(VaultError::Denied(_))
        ));
    }

    #[test]
    fn a_members_own_rotation_waits_for_an_admin_write() {
        let (mut v, alice, bob, carol) = shared_team();
        let carol_new = person("carol");
        let done = v
            .change_own_keys(&carol, &carol_new, &mut |_, _| {})
            .unwrap();
        assert_eq!(done, KeyReplacement::default());
        let retired = RetiredKey {
            keys: carol_new.keys,
            old: &carol,
        };
        // The group's key is now held by a retired key: tainted, not used.
        let devops = v.group_named("devops").unwrap().clone();
        assert!(v.tainted(&devops));
        // What was wrapped to the old key does not open with the new one yet, and
        // reads as not shared (not as damage).
        assert!(opens(&v, &carol_new).is_empty());
        assert!(v.session(&carol_new).unwrap().list().unwrap().is_empty());
        // A plain member's write wraps to the group's members directly.
        add(
            &mut v,
            &bob,
            "ops/bob",
            "b1",
            vec![Principal::Group(devops.id)],
        );
        assert_eq!(opens(&v, &carol_new), ["ops/bob"]);
        // The retired key still opens what was written before, nothing after.
        assert_eq!(opens(&v, &retired), ["ops/db", "ops/redis"]);
        assert!(v.tainted(v.group_named("devops").unwrap()));
        // The next admin write rotates the group and re-keys what she reads.
        add(
            &mut v,
            &alice,
            "ops/new",
            "n1",
            vec![Principal::Group(devops.id)],
        );
        assert!(!v.tainted(v.group_named("devops").unwrap()));
        assert_eq!(
            opens(&v, &carol_new),
            ["ops/bob", "ops/db", "ops/new", "ops/redis"]
        );
        assert!(opens(&v, &retired).is_empty());
        let v = Vault::decode(&v.encode()).unwrap();
        assert!(v.verify().unwrap().ignored.is_empty());
        assert!(v.stale_after_key_change().is_empty());
    }

    #[test]
    fn an_admins_own_rotation_rekeys_at_once() {
        let (mut v, alice, bob, _carol) = shared_team();
        let alice_new = person("alice");
        let done = v
            .change_own_keys(&alice, &alice_new, &mut |_, _| {})
            .unwrap();
        assert!(done.rotated >= 1, "@admins");
        assert_eq!(done.rekeyed, 3);
        assert_eq!(opens(&v, &alice_new), ["hr/payroll", "ops/db", "ops/redis"]);
        let retired = RetiredKey {
            keys: alice_new.keys,
            old: &alice,
        };
        assert!(opens(&v, &retired).is_empty());
        assert_eq!(v.owner(), v.member_for(&alice_new).unwrap().id);
        assert_eq!(opens(&v, &bob), ["ops/redis"]);
        let v = Vault::decode(&v.encode()).unwrap();
        assert!(v.verify().unwrap().ignored.is_empty());
    }

    #[test]
    fn removed_member_cannot_backdate_records() {
        let (mut v, alice, bob, _carol) = team();
        v.change_role(&alice, "bob", Role::Admin).unwrap();
        let before_removal = v.heads();
        v.revoke_member(&alice, "bob", &mut |_, _| {}).unwrap();
        // Bob signs a roster record on the parents from before his removal.
        let dave = person("dave");
        let record = format::Record {
            parents: before_removal,
            author: v.members.values().find(|m| m.name == "bob").unwrap().id,
            time: 0,
            body: RecordBody::AddMember(format::AddMember {
                member: MemberId([7; 16]),
                name: "dave".into(),
                keys: dave.keys,
                role: Role::Member,
                admin_wrap: None,
            }),
        };
        let (bytes, id) = format::StoredRecord::encode(record.clone()).unwrap();
        let signature = bob.signing.sign(crypto::SIGNATURE_LABEL, &bytes);
        let mut file = v.file.clone();
        file.append(vec![format::StoredRecord {
            bytes,
            record,
            signature,
            id,
        }]);
        let forged = Vault::decode(&file.encode()).unwrap();
        assert!(
            forged.member_named("dave").is_err(),
            "back-dated add applied"
        );
        assert_eq!(forged.ignored().len(), 1);
        assert_eq!(forged.ignored()[0].record, id);
    }

    #[test]
    fn wrap_findings_flag_rotated_group_keys_until_rekeyed() {
        let (mut v, alice, _bob, _carol) = team();
        let devops = Principal::Group(v.group_named("devops").unwrap().id);
        add(&mut v, &alice, "ops/redis", "r1", vec![devops]);
        assert!(v.wrap_findings().is_empty());
        v.group_remove(&alice, "devops", &["carol".into()]).unwrap();
        let findings = v.wrap_findings();
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].problem,
            "wrapped under a rotated key of @devops"
        );
        // Any new revision re-keys it under the current group key.
        v.share(&alice, "ops/redis", devops, false).unwrap();
        assert!(v.wrap_findings().is_empty());
    }

    #[test]
    fn concurrent_rotations_have_distinct_key_ids() {
        let (v, alice, _bob, _carol) = team();
        let g = v.group_named("devops").unwrap().clone();
        let mut a = v.clone();
        let mut b = v.clone();
        let ka = a.new_group_key(g.id, &g.members).unwrap();
        a.append(&alice, vec![RecordBody::RotateGroupKey(ka)])
            .unwrap();
        let kb = b.new_group_key(g.id, &g.members).unwrap();
        b.append(&alice, vec![RecordBody::RotateGroupKey(kb)])
            .unwrap();
        assert_ne!(
            a.group_named("devops").unwrap().key_id,
            b.group_named("devops").unwrap().key_id
        );
    }
}
