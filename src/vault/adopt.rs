//! `adopt`: the owner re-issues the changes of a record that is void only because it
//! was concurrent with something (its author's removal, demotion or key replacement, a
//! hand-over, the loss of a write right) — the cost of the authority rule, said out
//! loud in docs/format.md. The changes are made again as new records by the owner, at
//! the adopt's own place in the DAG, re-keying included; the void record stays void.

use std::collections::BTreeSet;

use super::{EntryDraft, Vault, VaultError, open_payload, resolve};
use crate::format::{
    ADMINS_GROUP, EntryContent, EntryRevision, Principal, RecordBody, RecordId, Role,
};
use crate::identity::Keyholder;

impl Vault {
    /// The void records `adopt` may re-issue: id and reason.
    pub fn adoptable(&self) -> Vec<(RecordId, &'static str)> {
        self.ignored
            .iter()
            .filter(|i| resolve::voided_by_concurrency(i.reason))
            .map(|i| (i.record, i.reason))
            .collect()
    }

    /// Re-issue the changes of void record `record` as the owner. Returns what was done
    /// (names and kinds, never a secret).
    pub fn adopt(
        &mut self,
        identity: &dyn Keyholder,
        record: &RecordId,
    ) -> Result<String, VaultError> {
        let me = self.member_for(identity)?.clone();
        if me.role != Role::Owner {
            return Err(VaultError::Denied("only the owner adopts records"));
        }
        let Some(&i) = self.index.get(record) else {
            return Err(VaultError::NotFound(record.to_hex()));
        };
        if self.counted_role(i).is_some() {
            return Err(VaultError::Denied("that record counts: nothing to adopt"));
        }
        let reason = self
            .ignored
            .iter()
            .find(|x| x.record == *record)
            .map(|x| x.reason)
            .unwrap_or("");
        if !resolve::voided_by_concurrency(reason) {
            return Err(VaultError::Denied(
                "only a record void because of a concurrent change can be adopted",
            ));
        }
        let body = self.file.records[i].record.body.clone();
        let name = |v: &Vault, id| {
            v.members
                .get(id)
                .map(|m: &super::Member| m.name.clone())
                .ok_or_else(|| VaultError::NoMember("(unknown)".into()))
        };
        let group_name = |v: &Vault, id| {
            v.groups
                .get(id)
                .map(|g: &super::Group| g.name.clone())
                .ok_or_else(|| VaultError::NoGroup("(unknown)".into()))
        };
        match body {
            RecordBody::RemoveMember { member } => {
                let n = name(self, &member)?;
                self.revoke_member(identity, &n, &mut |_, _| {})?;
                Ok(format!(
                    "removed {n} (revocation re-done: keys rotated, entries re-keyed)"
                ))
            }
            RecordBody::AddMember(a) => {
                self.add_member(identity, &a.name, a.keys, a.role)?;
                Ok(format!("added {} ({})", a.name, a.role.as_str()))
            }
            RecordBody::ChangeRole { member, role, .. } => {
                let n = name(self, &member)?;
                self.change_role(identity, &n, role)?;
                Ok(format!("{n} is now {}", role.as_str()))
            }
            RecordBody::ChangeMemberKeys {
                member,
                keys,
                new_key_signature,
            } => {
                let n = name(self, &member)?;
                // The proof of possession binds vault, member and keys: it stands.
                self.append(
                    identity,
                    vec![RecordBody::ChangeMemberKeys {
                        member,
                        keys,
                        new_key_signature,
                    }],
                )?;
                // As `member rekey` does: rotate what the retired key held and re-key
                // what the member reads.
                self.key_hygiene(identity, None, &mut |_, _| {})?;
                Ok(format!("replaced {n}'s keys"))
            }
            RecordBody::CreateGroup {
                name: g, members, ..
            } => {
                let names: Vec<String> = members
                    .iter()
                    .filter_map(|m| self.members.get(m).filter(|m| m.active))
                    .map(|m| m.name.clone())
                    .collect();
                self.create_group(identity, &g, &names)?;
                Ok(format!("created @{g}"))
            }
            RecordBody::AddGroupMember { group, member, .. } => {
                let (g, n) = (group_name(self, &group)?, name(self, &member)?);
                self.group_add(identity, &g, std::slice::from_ref(&n))?;
                Ok(format!("added {n} to @{g}"))
            }
            RecordBody::RemoveGroupMember { group, member, .. } => {
                let (g, n) = (group_name(self, &group)?, name(self, &member)?);
                self.group_remove(identity, &g, std::slice::from_ref(&n))?;
                Ok(format!("removed {n} from @{g} (key rotated)"))
            }
            RecordBody::RotateGroupKey(key) => {
                let members = self
                    .groups
                    .get(&key.group)
                    .map(|g| g.members.clone())
                    .unwrap_or_default();
                let members = if key.group == ADMINS_GROUP {
                    BTreeSet::new()
                } else {
                    members
                };
                let update = self.new_group_key(key.group, &members)?;
                self.append(identity, vec![RecordBody::RotateGroupKey(update)])?;
                Ok(format!("rotated @{}", group_name(self, &key.group)?))
            }
            RecordBody::RotateAtSource { .. } | RecordBody::Event(_) => {
                self.append(identity, vec![body])?;
                Ok("recorded again".into())
            }
            RecordBody::EntryRevision(rev) => self.adopt_revision(identity, &rev),
            _ => Err(VaultError::Denied("nothing in that record to adopt")),
        }
    }

    /// An entry revision: its content (read through the owner's `@admins` key), its
    /// readers and writers, as a new revision on the entry's current head; a tombstone
    /// deletes the entry.
    fn adopt_revision(
        &mut self,
        identity: &dyn Keyholder,
        rev: &EntryRevision,
    ) -> Result<String, VaultError> {
        let body = {
            let session = self.session(identity)?;
            let current = session.open_id(&rev.entry)?;
            match &rev.content {
                EntryContent::Tombstone => session.delete_entry(&current)?,
                EntryContent::Sealed(sealed) => {
                    let (key, _) = session.entry_key(rev, sealed)?;
                    let payload = open_payload(&self.id(), &key, rev, sealed)?;
                    let share_with: Vec<Principal> = sealed
                        .readers
                        .iter()
                        .copied()
                        .filter(|p| *p != Principal::Group(ADMINS_GROUP))
                        .collect();
                    session.seal(
                        current.id,
                        Some(current.revision),
                        &EntryDraft {
                            payload,
                            share_with,
                        },
                    )?
                }
            }
        };
        self.append(identity, vec![body])?;
        Ok(match &rev.content {
            EntryContent::Tombstone => "deleted the entry".into(),
            EntryContent::Sealed(_) => "wrote its revision again".into(),
        })
    }
}
