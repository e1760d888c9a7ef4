//! Review logic behind `log`, `audit` and `report access`: turning the signed record
//! DAG into a history of events, computing findings over the entries a member can read,
//! parsing durations and quoting CSV.
//!
//! Nothing here prints, prompts or reads files; the CLI (`src/cli/audit.rs`) formats.
//! Nothing here returns a secret either: findings name entries and say why, never
//! a password. The roster and the key wraps are in clear, so the history needs no
//! key; findings need the decrypted entries, which the caller opens.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::crypto;
use crate::format::{
    ADMINS_GROUP, EntryContent, EntryId, EventKind, GroupId, KeyWrap, MemberId, Principal,
    RecordBody, RecordId, StoredRecord,
};
use crate::vault::{OpenEntry, Vault, VaultError};

/// Domain label of the keyed hash that groups equal passwords (`reused`).
const REUSE_LABEL: &str = "amanat/v1/audit-reuse";

/// Seconds in a day.
use crate::duration::DAY;

/// Errors of the review logic.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// A duration that is not a number followed by `s`, `m`, `h`, `d` or `w`.
    #[error("invalid duration '{0}'")]
    Duration(String),
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
}

// ---------------------------------------------------------------------------------------
// Durations

/// Parse `30m`, `12h`, `7d`, `4w`, `1d12h` (also `45s`) into seconds: the one grammar
/// of [`crate::duration`], with the unit required (a bare number is ambiguous).
pub fn parse_duration(text: &str) -> Result<u64, AuditError> {
    crate::duration::parse(text, false).map_err(|_| AuditError::Duration(text.to_string()))
}

// ---------------------------------------------------------------------------------------
// History

/// Names of members and groups, current, removed and named only by ignored records.
#[derive(Debug, Default, Clone)]
pub struct Names {
    members: HashMap<MemberId, String>,
    groups: HashMap<GroupId, String>,
    /// The group of every group key version (the record that created or rotated it):
    /// a group wrap names only the key.
    key_groups: HashMap<RecordId, GroupId>,
}

impl Names {
    /// Every name the vault and its records know.
    pub fn new(vault: &Vault) -> Self {
        let mut names = Self::default();
        for m in vault.members() {
            names.members.insert(m.id, m.name.clone());
        }
        for g in vault.groups() {
            names.groups.insert(g.id, g.name.clone());
        }
        // Records the authority rule ignored still name someone: show that name.
        for r in vault.records() {
            match &r.record.body {
                RecordBody::Genesis(g) => {
                    names
                        .members
                        .entry(g.owner)
                        .or_insert_with(|| g.owner_name.clone());
                }
                RecordBody::AddMember(a) => {
                    names
                        .members
                        .entry(a.member)
                        .or_insert_with(|| a.name.clone());
                }
                RecordBody::CreateGroup { name, key, .. } => {
                    names
                        .groups
                        .entry(key.group)
                        .or_insert_with(|| name.clone());
                    names.key_groups.insert(r.id, key.group);
                }
                RecordBody::RemoveGroupMember { key, .. } | RecordBody::RotateGroupKey(key) => {
                    names.key_groups.insert(r.id, key.group);
                }
                _ => {}
            }
        }
        names.groups.insert(ADMINS_GROUP, "admins".into());
        names
    }

    /// A member's name, or the short form of their id if no record names them.
    pub fn member(&self, id: &MemberId) -> String {
        self.members
            .get(id)
            .cloned()
            .unwrap_or_else(|| format!("member:{}", id.short()))
    }

    /// A group's name with its `@`.
    pub fn group(&self, id: &GroupId) -> String {
        match self.groups.get(id) {
            Some(n) => format!("@{n}"),
            None => format!("@group:{}", id.short()),
        }
    }

    /// A principal's name (`bob` or `@devops`).
    pub fn principal(&self, p: &Principal) -> String {
        match p {
            Principal::Member(m) => self.member(m),
            Principal::Group(g) => self.group(g),
        }
    }

    /// Whether anyone by this name has ever been named in the vault.
    pub fn knows_member(&self, name: &str) -> bool {
        self.members.values().any(|n| n == name)
    }
}

/// What a record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Genesis.
    CreateVault,
    /// A member was added.
    AddMember,
    /// A member was removed (revoked).
    RemoveMember,
    /// A member's role changed.
    ChangeRole,
    /// A member's keys changed.
    ChangeKeys,
    /// A group was created.
    CreateGroup,
    /// A member joined a group.
    GroupAdd,
    /// A member left a group (its key rotated).
    GroupRemove,
    /// A group key (or the `@admins` key) was created or rotated.
    RotateKey,
    /// Revocation bookkeeping: the entries a removed member could read.
    RotateAtSource,
    /// A new entry.
    EntryCreate,
    /// A new revision with the same readers.
    EntryUpdate,
    /// A tombstone.
    EntryDelete,
    /// A new revision with more readers (and none fewer).
    EntryShare,
    /// A new revision with fewer readers (and none more).
    EntryUnshare,
    /// A new revision written by a revocation (fresh key, the leaver's wraps gone).
    EntryRekey,
    /// An access review was recorded.
    Reviewed,
    /// A credential was recorded as changed at its source.
    RotatedAtSource,
    /// A merge of more DAG heads than one record may name.
    Merged,
    /// An admin's heartbeat (proof that this copy is recent).
    Heartbeat,
    /// A member exported what they could read, in plain text.
    Exported,
    /// The owner offered ownership to an admin.
    OfferOwnership,
    /// The nominee accepted ownership.
    AcceptOwnership,
    /// The owner withdrew an offer.
    WithdrawOwnership,
}

impl Action {
    /// The stable name printed by `log` (also in `--json`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::CreateVault => "create vault",
            Action::AddMember => "add member",
            Action::RemoveMember => "remove member",
            Action::ChangeRole => "role",
            Action::ChangeKeys => "change keys",
            Action::CreateGroup => "create group",
            Action::GroupAdd => "group add",
            Action::GroupRemove => "group remove",
            Action::RotateKey => "rotate key",
            Action::RotateAtSource => "rotate-at-source",
            Action::EntryCreate => "entry create",
            Action::EntryUpdate => "entry update",
            Action::EntryDelete => "entry delete",
            Action::EntryShare => "entry share",
            Action::EntryUnshare => "entry unshare",
            Action::EntryRekey => "entry rekey",
            Action::Reviewed => "event reviewed",
            Action::RotatedAtSource => "event rotated-at-source",
            Action::Merged => "merge",
            Action::Heartbeat => "heartbeat",
            Action::Exported => "export",
            Action::OfferOwnership => "offer ownership",
            Action::AcceptOwnership => "accept ownership",
            Action::WithdrawOwnership => "withdraw ownership offer",
        }
    }
}

/// One record of the history, classified. Names are as teammates wrote them: sanitise
/// before printing to a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The record.
    pub record: RecordId,
    /// Seconds since the epoch, as claimed by the author.
    pub time: u64,
    /// The author's name.
    pub author: String,
    /// What it did.
    pub action: Action,
    /// What it did it to, without the entry (e.g. `bob (member)`, `@devops bob`,
    /// `with bob, @devops`); may be empty.
    pub detail: String,
    /// Members the record is about (besides its author).
    pub members: Vec<String>,
    /// The entry it is about, if any.
    pub entry: Option<EntryId>,
    /// Why the authority rule ignored it, if it did.
    pub ignored: Option<&'static str>,
}

impl Event {
    /// The subject as `log` shows it: the entry's short id (and its path, when the
    /// reader knows it) followed by the detail.
    pub fn subject(&self, path: Option<&str>) -> String {
        let mut parts = Vec::new();
        if let Some(e) = &self.entry {
            parts.push(e.short());
            if let Some(p) = path {
                parts.push(format!("({p})"));
            }
        }
        if !self.detail.is_empty() {
            parts.push(self.detail.clone());
        }
        parts.join(" ")
    }

    /// Whether `member` wrote the record or is its subject.
    pub fn involves(&self, member: &str) -> bool {
        self.author == member || self.members.iter().any(|m| m == member)
    }
}

/// The principals an entry revision is wrapped to, `@admins` aside (every revision
/// carries it, so it says nothing).
fn principals(body: &RecordBody, names: &Names) -> BTreeSet<Principal> {
    let RecordBody::EntryRevision(rev) = body else {
        return BTreeSet::new();
    };
    let EntryContent::Sealed(sealed) = &rev.content else {
        return BTreeSet::new();
    };
    sealed
        .wraps
        .iter()
        .filter_map(|w| match w {
            KeyWrap::Member(m) => Some(Principal::Member(m.member)),
            w => w
                .key_id()
                .and_then(|k| names.key_groups.get(&k).copied())
                .filter(|g| *g != ADMINS_GROUP)
                .map(Principal::Group),
        })
        .collect()
}

/// Entry revisions written by a revocation: the chain of revisions, by the same
/// author, of the listed entries, that leads to each `RotateAtSource` record (the
/// revocation appends them one on top of the other, in one write). Maps each such
/// revision to the removed member.
fn rekeys(records: &[StoredRecord], index: &HashMap<RecordId, usize>) -> HashMap<usize, MemberId> {
    let mut out = HashMap::new();
    for r in records {
        let RecordBody::RotateAtSource { member, entries } = &r.record.body else {
            continue;
        };
        let listed: HashSet<&EntryId> = entries.iter().collect();
        let mut parents = &r.record.parents;
        while let [p] = parents.as_slice() {
            let Some(&i) = index.get(p) else { break };
            let prev = &records[i];
            match &prev.record.body {
                RecordBody::EntryRevision(rev)
                    if prev.record.author == r.record.author && listed.contains(&rev.entry) =>
                {
                    out.insert(i, *member);
                    parents = &prev.record.parents;
                }
                _ => break,
            }
        }
    }
    out
}

/// The whole history, one event per record, in canonical (file) order.
pub fn history(vault: &Vault) -> Vec<Event> {
    let records = vault.records();
    let names = Names::new(vault);
    let ignored: HashMap<RecordId, &'static str> = vault
        .ignored()
        .iter()
        .map(|i| (i.record, i.reason))
        .collect();
    let index: HashMap<RecordId, usize> =
        records.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let rekeyed = rekeys(records, &index);
    let mut out = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        let m = |id: &MemberId| names.member(id);
        let (action, detail, members, entry) = match &r.record.body {
            RecordBody::Genesis(g) => (Action::CreateVault, g.team.clone(), vec![], None),
            RecordBody::AddMember(a) => (
                Action::AddMember,
                format!("{} ({})", a.name, a.role.as_str()),
                vec![a.name.clone()],
                None,
            ),
            RecordBody::RemoveMember { member } => {
                (Action::RemoveMember, m(member), vec![m(member)], None)
            }
            RecordBody::ChangeRole { member, role, .. } => (
                Action::ChangeRole,
                format!("{} → {}", m(member), role.as_str()),
                vec![m(member)],
                None,
            ),
            RecordBody::ChangeMemberKeys { member, .. } => {
                (Action::ChangeKeys, m(member), vec![m(member)], None)
            }
            RecordBody::OfferOwnership { member } => {
                (Action::OfferOwnership, m(member), vec![m(member)], None)
            }
            RecordBody::AcceptOwnership { offer } | RecordBody::WithdrawOwnership { offer } => {
                let nominee = index
                    .get(offer)
                    .and_then(|&o| match &records[o].record.body {
                        RecordBody::OfferOwnership { member } => Some(m(member)),
                        _ => None,
                    })
                    .unwrap_or_else(|| offer.short());
                let action = if matches!(r.record.body, RecordBody::AcceptOwnership { .. }) {
                    Action::AcceptOwnership
                } else {
                    Action::WithdrawOwnership
                };
                (action, nominee.clone(), vec![nominee], None)
            }
            RecordBody::CreateGroup { name, members, .. } => {
                let who: Vec<String> = members.iter().map(m).collect();
                let detail = if who.is_empty() {
                    format!("@{name}")
                } else {
                    format!("@{name} ({})", who.join(", "))
                };
                (Action::CreateGroup, detail, who, None)
            }
            RecordBody::AddGroupMember { group, member, .. } => (
                Action::GroupAdd,
                format!("{} {}", names.group(group), m(member)),
                vec![m(member)],
                None,
            ),
            RecordBody::RemoveGroupMember { group, member, .. } => (
                Action::GroupRemove,
                format!("{} {} (key rotated)", names.group(group), m(member)),
                vec![m(member)],
                None,
            ),
            RecordBody::RotateGroupKey(k) => {
                (Action::RotateKey, names.group(&k.group), vec![], None)
            }
            RecordBody::RotateAtSource { member, entries } => (
                Action::RotateAtSource,
                format!(
                    "{}: {} entr{}",
                    m(member),
                    entries.len(),
                    if entries.len() == 1 { "y" } else { "ies" }
                ),
                vec![m(member)],
                None,
            ),
            RecordBody::Event(ev) => (
                match ev.kind {
                    EventKind::Reviewed => Action::Reviewed,
                    EventKind::RotatedAtSource => Action::RotatedAtSource,
                    EventKind::Merged => Action::Merged,
                    EventKind::Heartbeat => Action::Heartbeat,
                    EventKind::Exported => Action::Exported,
                },
                ev.note().map(|n| format!("note: {n}")).unwrap_or_default(),
                vec![],
                ev.entry,
            ),
            RecordBody::EntryRevision(rev) => {
                let (action, detail, members) = classify_revision(
                    r,
                    rev.prev.and_then(|p| index.get(&p)).map(|&p| &records[p]),
                    rekeyed.get(&i),
                    &names,
                );
                (action, detail, members, Some(rev.entry))
            }
        };
        out.push(Event {
            record: r.id,
            time: r.record.time,
            author: names.member(&r.record.author),
            action,
            detail,
            members,
            entry,
            ignored: ignored.get(&r.id).copied(),
        });
    }
    out
}

/// Create, delete, rekey, share, unshare or update, from the wraps in clear.
fn classify_revision(
    r: &StoredRecord,
    prev: Option<&StoredRecord>,
    rekey_of: Option<&MemberId>,
    names: &Names,
) -> (Action, String, Vec<String>) {
    let RecordBody::EntryRevision(rev) = &r.record.body else {
        return (Action::EntryUpdate, String::new(), vec![]);
    };
    if matches!(rev.content, EntryContent::Tombstone) {
        return (Action::EntryDelete, String::new(), vec![]);
    }
    if let Some(removed) = rekey_of {
        let name = names.member(removed);
        return (
            Action::EntryRekey,
            format!("after removing {name}"),
            vec![name],
        );
    }
    let now = principals(&r.record.body, names);
    let before = prev
        .map(|p| principals(&p.record.body, names))
        .unwrap_or_default();
    // A writer who is not an admin always wraps the key to themself: not a share.
    let me = Principal::Member(r.record.author);
    let added: Vec<&Principal> = now.difference(&before).filter(|p| **p != me).collect();
    let removed: Vec<&Principal> = if prev.is_some() {
        before.difference(&now).collect()
    } else {
        Vec::new()
    };
    let list = |ps: &[&Principal]| {
        ps.iter()
            .map(|p| names.principal(p))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("with {}", list(&added)));
    }
    if !removed.is_empty() {
        parts.push(format!("from {}", list(&removed)));
    }
    let members: Vec<String> = added
        .iter()
        .chain(removed.iter())
        .filter_map(|p| match p {
            Principal::Member(m) => Some(names.member(m)),
            Principal::Group(_) => None,
        })
        .collect();
    let action = if prev.is_none() {
        Action::EntryCreate
    } else {
        match (added.is_empty(), removed.is_empty()) {
            (false, true) => Action::EntryShare,
            (true, false) => Action::EntryUnshare,
            _ => Action::EntryUpdate,
        }
    };
    (action, parts.join("; "), members)
}

/// Entries whose current value a removed member could read (written concurrently with
/// the removal, merged afterwards), with those members' names.
pub fn exposed_to_removed(vault: &Vault, names: &Names) -> HashMap<EntryId, Vec<String>> {
    let mut out = HashMap::new();
    for r in vault.records() {
        if let RecordBody::EntryRevision(rev) = &r.record.body
            && !out.contains_key(&rev.entry)
        {
            let who = vault.exposed_to_removed(&rev.entry);
            if !who.is_empty() {
                out.insert(rev.entry, who.iter().map(|m| names.member(m)).collect());
            }
        }
    }
    out
}

/// For each entry, who could read it when a revocation or a compromised key flagged
/// it "rotate at source" (applied `RotateAtSource` records only), oldest first, each a
/// clause: "bob was removed and could read it", or for `member rekey --compromised`
/// (the member stays) "carol's replaced key, which may be compromised, could read it".
pub fn rotate_at_source_members(vault: &Vault, names: &Names) -> HashMap<EntryId, Vec<String>> {
    let ignored: HashSet<RecordId> = vault.ignored().iter().map(|i| i.record).collect();
    let active: HashSet<MemberId> = vault.members().filter(|m| m.active).map(|m| m.id).collect();
    let mut out: HashMap<EntryId, Vec<String>> = HashMap::new();
    for r in vault.records().iter().filter(|r| !ignored.contains(&r.id)) {
        if let RecordBody::RotateAtSource { member, entries } = &r.record.body {
            let name = names.member(member);
            let clause = if active.contains(member) {
                format!("{name}'s replaced key, which may be compromised, could read it")
            } else {
                format!("{name} was removed and could read it")
            };
            for e in entries {
                let list = out.entry(*e).or_default();
                if !list.contains(&clause) {
                    list.push(clause.clone());
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Findings

/// Kinds of findings, in the order `audit` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    /// A removed member could read it: change the password where it is used.
    RotateAtSource,
    /// Concurrent revisions to resolve.
    Conflict,
    /// The same password as another entry.
    Reused,
    /// A weak password (heuristic).
    Weak,
    /// The password is older than `--max-age`.
    MaxAge,
    /// Not modified for longer than `--stale`.
    Stale,
    /// Not reviewed (nor created) within `--review-age` (issue 13).
    NotReviewed,
    /// Not changed, and not used by the reader on this machine, for a year (issue 13).
    Unused,
    /// An entry whose current revision is wrapped to someone it should not be, under
    /// a rotated group key, or not to `@admins` ([`Vault::wrap_findings`]).
    Wrap,
    /// An entry addressed to the reader that fails to open.
    Damaged,
    /// A record ignored under the authority rule.
    Ignored,
    /// The newest heartbeat is older than the freshness limit: this copy may be stale.
    Freshness,
}

impl FindingKind {
    /// The stable name printed by `audit`.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::RotateAtSource => "rotate-at-source",
            FindingKind::Conflict => "conflict",
            FindingKind::Reused => "reused",
            FindingKind::Weak => "weak",
            FindingKind::MaxAge => "max-age",
            FindingKind::Stale => "stale",
            FindingKind::NotReviewed => "not-reviewed",
            FindingKind::Unused => "unused",
            FindingKind::Wrap => "wrap",
            FindingKind::Damaged => "damaged",
            FindingKind::Ignored => "ignored",
            FindingKind::Freshness => "freshness",
        }
    }
}

/// What to do about a secret someone who should not know it could read: `what` is
/// `"password"`, `"TOTP seed"` or both ([`EntryPayload::to_rotate_at_source`]).
pub fn rotate_advice(what: &str) -> String {
    let then = match what {
        "password" => "'amanat edit PATH --generate'",
        "TOTP seed" => "'amanat edit PATH --totp' with the new otpauth:// line",
        _ => "'amanat edit PATH --generate --totp' with the new otpauth:// line",
    };
    format!("change the {what} where it is used, then update it here ({then})")
}

/// For each entry flagged "rotate at source" that no revocation names, who lost
/// access when it was flagged ([`Vault::lost_readers`]: an `unshare`).
pub fn lost_access(
    vault: &Vault,
    names: &Names,
    entries: &[OpenEntry],
) -> HashMap<EntryId, Vec<String>> {
    entries
        .iter()
        .filter(|e| e.payload.to_rotate_at_source().is_some())
        .map(|e| {
            let who = vault
                .lost_readers(&e.id)
                .iter()
                .map(|p| names.principal(p))
                .collect();
            (e.id, who)
        })
        .collect()
}

/// One finding. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What kind.
    pub kind: FindingKind,
    /// The entry's path (`None` for vault-level findings and unreadable entries).
    pub path: Option<String>,
    /// The entry id (hex), or for `ignored` the record id.
    pub id: String,
    /// Why, in words (names paths and members, never a secret).
    pub detail: String,
}

/// What `audit` checks besides the always-on findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditOptions {
    /// The current time (seconds since the epoch).
    pub now: u64,
    /// Flag passwords last changed this many days ago or earlier.
    pub max_age_days: Option<u64>,
    /// Flag entries last modified this many days ago or earlier.
    pub stale_days: Option<u64>,
}

/// Findings over opened entries: rotate-at-source, conflict, reused, weak, and, when
/// asked, max-age and stale. `removed_by` says who each rotate-at-source flag is for
/// ([`rotate_at_source_members`]: clauses), `lost` who lost access ([`lost_access`]:
/// names). Sorted by kind, then path.
///
/// `exposed` ([`exposed_to_removed`]) adds a rotate-at-source finding for an entry whose
/// current value a removed member could read although no revocation flagged it (it was
/// written concurrently with the removal and merged afterwards).
pub fn entry_findings(
    entries: &[OpenEntry],
    removed_by: &HashMap<EntryId, Vec<String>>,
    exposed: &HashMap<EntryId, Vec<String>>,
    lost: &HashMap<EntryId, Vec<String>>,
    opts: &AuditOptions,
) -> Result<Vec<Finding>, AuditError> {
    let mut out = Vec::new();
    let finding = |kind, e: &OpenEntry, detail: String| Finding {
        kind,
        path: Some(e.payload.path.clone()),
        id: e.id.to_hex(),
        detail,
    };
    for e in entries {
        let p = &e.payload;
        let flagged = p.to_rotate_at_source();
        if let (None, Some(names)) = (flagged, exposed.get(&e.id)) {
            let verb = if names.len() == 1 { "was" } else { "were" };
            let what = if p.totp.is_some() {
                "password and TOTP seed"
            } else {
                "password"
            };
            out.push(finding(
                FindingKind::RotateAtSource,
                e,
                format!(
                    "{} {verb} removed and could read it (written concurrently with the removal): {}",
                    names.join(", "),
                    rotate_advice(what)
                ),
            ));
        }
        if let Some(what) = flagged {
            let who = match (removed_by.get(&e.id), lost.get(&e.id)) {
                (Some(clauses), _) if !clauses.is_empty() => clauses.join("; "),
                (_, Some(names)) if !names.is_empty() => {
                    format!("{} lost access and could read it", names.join(", "))
                }
                _ => "someone who no longer has access could read it".to_string(),
            };
            out.push(finding(
                FindingKind::RotateAtSource,
                e,
                format!("{who}: {}", rotate_advice(what)),
            ));
        }
        if e.heads > 1 {
            out.push(finding(
                FindingKind::Conflict,
                e,
                format!("{} concurrent revisions: edit it to resolve", e.heads),
            ));
        }
        let password = p.password.expose();
        if !password.is_empty()
            && let Some(why) = weakness(password)
        {
            out.push(finding(FindingKind::Weak, e, why.to_string()));
        }
        if let Some(days) = opts.max_age_days
            && !password.is_empty()
        {
            let changed = [p.password_changed, p.created, p.modified]
                .into_iter()
                .find(|&t| t != 0)
                .unwrap_or(0);
            let age = opts.now.saturating_sub(changed);
            if age >= days.saturating_mul(DAY) {
                out.push(finding(
                    FindingKind::MaxAge,
                    e,
                    format!(
                        "password last changed {} days ago (limit {days})",
                        age / DAY
                    ),
                ));
            }
        }
        if let Some(days) = opts.stale_days {
            let modified = if p.modified != 0 {
                p.modified
            } else {
                p.created
            };
            let age = opts.now.saturating_sub(modified);
            if age >= days.saturating_mul(DAY) {
                out.push(finding(
                    FindingKind::Stale,
                    e,
                    format!("not modified for {} days (limit {days})", age / DAY),
                ));
            }
        }
    }
    for (i, others) in reused(entries)? {
        let e = &entries[i];
        let paths: Vec<&str> = others
            .iter()
            .map(|&j| entries[j].payload.path.as_str())
            .collect();
        out.push(finding(
            FindingKind::Reused,
            e,
            format!(
                "same password as {} other entr{}: {}",
                paths.len(),
                if paths.len() == 1 { "y" } else { "ies" },
                paths.join(", ")
            ),
        ));
    }
    sort(&mut out);
    Ok(out)
}

/// Entries sharing a password: for each such entry (index), the others (indices).
///
/// Passwords are grouped by a keyed hash under a key drawn for this call and dropped
/// with it, so the digests are useless outside it (no offline guessing from a memory
/// dump of this table); candidates are then compared in constant time, so a hash
/// collision cannot produce a false finding and no comparison leaks through timing.
fn reused(entries: &[OpenEntry]) -> Result<Vec<(usize, Vec<usize>)>, AuditError> {
    let key: Zeroizing<[u8; 32]> =
        Zeroizing::new(crypto::random_array().map_err(|_| AuditError::Random)?);
    let mut by_digest: HashMap<[u8; 32], Vec<usize>> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        let pw = e.payload.password.expose();
        if pw.is_empty() {
            continue;
        }
        let digest = crypto::labeled_hash(REUSE_LABEL, &[key.as_slice(), pw.as_bytes()]);
        by_digest.entry(digest).or_default().push(i);
    }
    let mut out = Vec::new();
    for group in by_digest.values().filter(|g| g.len() > 1) {
        for &i in group {
            let mine = entries[i].payload.password.expose().as_bytes();
            let others: Vec<usize> = group
                .iter()
                .copied()
                .filter(|&j| {
                    j != i
                        && bool::from(mine.ct_eq(entries[j].payload.password.expose().as_bytes()))
                })
                .collect();
            if !others.is_empty() {
                out.push((i, others));
            }
        }
    }
    Ok(out)
}

/// The freshness finding (SECURITY.md item 15): the newest heartbeat in this copy is
/// older than the limit ([`Vault::staleness`]).
pub fn freshness_finding(vault: &Vault, now: u64) -> Option<Finding> {
    let days = vault.staleness(now)?;
    Some(Finding {
        kind: FindingKind::Freshness,
        path: None,
        id: vault.id().to_hex(),
        detail: format!(
            "the newest heartbeat is {days} days old: this copy may be stale (records withheld by a git host or share); sync, and have an admin write"
        ),
    })
}

/// Vault-level findings: key wraps that do not match the roster (with the path when
/// the entry is among `readable`), entries addressed to the reader that fail to open,
/// and records the authority rule ignored.
pub fn vault_findings(
    vault: &Vault,
    readable: &[OpenEntry],
    failed: &[(EntryId, VaultError)],
) -> Vec<Finding> {
    let names = Names::new(vault);
    let authors: HashMap<RecordId, &MemberId> = vault
        .records()
        .iter()
        .map(|r| (r.id, &r.record.author))
        .collect();
    let mut out: Vec<Finding> = vault
        .ignored()
        .iter()
        .map(|i| Finding {
            kind: FindingKind::Ignored,
            path: None,
            id: i.record.to_hex(),
            detail: format!(
                "record {} by {} is ignored: {}",
                i.record.short(),
                authors
                    .get(&i.record)
                    .map(|a| names.member(a))
                    .unwrap_or_default(),
                i.reason
            ),
        })
        .collect();
    let paths: HashMap<EntryId, &str> = readable
        .iter()
        .map(|e| (e.id, e.payload.path.as_str()))
        .collect();
    out.extend(vault.wrap_findings().into_iter().map(|w| Finding {
        kind: FindingKind::Wrap,
        path: paths.get(&w.entry).map(|p| p.to_string()),
        id: w.entry.to_hex(),
        detail: format!(
            "entry {}: {}; an admin or writer should re-key it (any edit)",
            w.entry.short(),
            w.problem
        ),
    }));
    out.extend(failed.iter().map(|(id, e)| Finding {
        kind: FindingKind::Damaged,
        path: None,
        id: id.to_hex(),
        detail: format!("entry {} does not open: {e}", id.short()),
    }));
    sort(&mut out);
    out
}

pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (a.kind, &a.path, &a.id, &a.detail).cmp(&(b.kind, &b.path, &b.id, &b.detail))
    });
}

// ---------------------------------------------------------------------------------------
// Weak passwords

/// Minimum length below which a password is weak.
pub const MIN_LENGTH: usize = 12;

/// A tiny list of the most common passwords and password stems (lowercase), from the
/// published top-100 lists. A heuristic, not a strength estimator: zxcvbn may replace
/// it.
const COMMON: &[&str] = &[
    "123456",
    "123456789",
    "12345678",
    "12345",
    "1234567",
    "1234567890",
    "123123",
    "111111",
    "000000",
    "654321",
    "123321",
    "1234",
    "abc123",
    "password",
    "passwort",
    "password1",
    "qwerty",
    "qwerty123",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "1q2w3e4r5t6y",
    "1qaz2wsx",
    "zaq12wsx",
    "qazwsx",
    "iloveyou",
    "dragon",
    "sunshine",
    "princess",
    "letmein",
    "monkey",
    "superman",
    "batman",
    "trustno1",
    "welcome",
    "admin",
    "administrator",
    "root",
    "toor",
    "guest",
    "login",
    "master",
    "shadow",
    "football",
    "baseball",
    "soccer",
    "michael",
    "charlie",
    "starwars",
    "freedom",
    "whatever",
    "mustang",
    "access",
    "secret",
    "changeme",
    "default",
    "hello",
    "hunter",
    "killer",
    "pokemon",
    "computer",
    "internet",
    "summer",
    "winter",
    "spring",
    "autumn",
    "company",
    "test",
    "testing",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "abcdef",
    "abcdefg",
    "abcdefgh",
    "aaaaaa",
    "qwe123",
    "asdf",
    "asdfgh",
    "q1w2e3r4",
    "q1w2e3r4t5y6",
    "1qazxsw2",
    "google",
    "secure",
];

/// Whether `password` is weak, and why (never echoing it). Rules: in a built-in list of
/// the most common passwords; one of those with at most six digits or symbols added
/// around it, after undoing the usual letter-for-digit swaps (`P@ssw0rd2024!`); shorter
/// than [`MIN_LENGTH`] characters; or a single character class (lowercase, uppercase,
/// digits, other).
pub fn weakness(password: &str) -> Option<&'static str> {
    let lower = password.to_lowercase();
    if COMMON.contains(&lower.as_str()) {
        return Some("a commonly used password");
    }
    if let Some(stem) = common_stem(&lower)
        && lower.chars().count() <= stem.chars().count() + 6
    {
        return Some("a common password with a few characters added");
    }
    if password.chars().count() < MIN_LENGTH {
        return Some("shorter than 12 characters");
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    let alpha_other = password
        .chars()
        .any(|c| c.is_alphabetic() && !c.is_lowercase() && !c.is_uppercase());
    if classes.iter().filter(|&&b| b).count() + usize::from(alpha_other) <= 1 {
        return Some("only one kind of character");
    }
    None
}

/// The common stem `lower` is made of, if any: strip digits and symbols from both
/// ends, undo leetspeak, look it up.
fn common_stem(lower: &str) -> Option<&'static str> {
    let trimmed = lower.trim_matches(|c: char| !c.is_alphabetic() && !matches!(c, '@' | '$'));
    let candidates = [
        trimmed,
        lower.trim_end_matches(|c: char| !c.is_alphabetic()),
    ];
    for c in candidates {
        if c.is_empty() {
            continue;
        }
        let unleet: String = c
            .chars()
            .map(|ch| match ch {
                '@' | '4' => 'a',
                '3' => 'e',
                '1' | '!' => 'i',
                '0' => 'o',
                '$' | '5' => 's',
                '7' => 't',
                other => other,
            })
            .collect();
        for stem in [c, unleet.as_str()] {
            if let Some(found) = COMMON.iter().find(|w| **w == stem) {
                return Some(found);
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------------------
// CSV

/// One RFC 4180 field: quoted (inner quotes doubled) when it holds a comma, a quote,
/// CR or LF.
pub fn csv_quote(field: &str) -> Cow<'_, str> {
    if field.contains([',', '"', '\r', '\n']) {
        Cow::Owned(format!("\"{}\"", field.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(field)
    }
}

/// Defuse spreadsheet formulas in text a teammate wrote (entry paths, member names):
/// a cell starting with `=`, `+`, `-`, `@`, TAB or CR is run as a formula by common
/// spreadsheets (CSV injection), so it gets a leading `'`.
pub fn csv_defuse(field: &str) -> Cow<'_, str> {
    if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{field}"))
    } else {
        Cow::Borrowed(field)
    }
}

/// One CSV record: the fields quoted as needed, joined by commas, ended by CRLF.
pub fn csv_record(fields: &[&str]) -> String {
    let mut line = fields
        .iter()
        .map(|f| csv_quote(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::crypto::SecretString;
    use crate::format::{EntryPayload, Record, Role, VaultFile};
    use crate::identity::Identity;
    use crate::vault::EntryDraft;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m").unwrap(), 1_800);
        assert_eq!(parse_duration("12h").unwrap(), 43_200);
        assert_eq!(parse_duration("7d").unwrap(), 604_800);
        assert_eq!(parse_duration("4w").unwrap(), 2_419_200);
        assert_eq!(parse_duration("45s").unwrap(), 45);
        assert_eq!(parse_duration("0d").unwrap(), 0);
        for bad in [
            "",
            "7",
            "d",
            "7x",
            "-7d",
            "7 d",
            "1.5h",
            "7dd",
            "99999999999999999999w",
            "７d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn weak_passwords() {
        for (pw, why) in [
            ("password", "a commonly used password"),
            ("Password", "a commonly used password"),
            ("Tr0ub4dor&3", "shorter than 12 characters"),
            (
                "password123",
                "a common password with a few characters added",
            ),
            ("aaaaaaaaaaaaaaaaaaaa", "only one kind of character"),
            ("12345678901234567890", "only one kind of character"),
            (
                "P@ssw0rd2024!",
                "a common password with a few characters added",
            ),
            (
                "Welcome12345",
                "a common password with a few characters added",
            ),
            (
                "!!summer2024",
                "a common password with a few characters added",
            ),
        ] {
            assert_eq!(weakness(pw), Some(why), "{pw}");
        }
        for strong in [
            "correct-horse-battery-staple",
            "xK9#mQ2$vL7!pR4@",
            "Password-manager-for-teams-2024", // the stem is only part of it
            "welcome-to-the-jungle-42",
        ] {
            assert_eq!(weakness(strong), None, "{strong}");
        }
    }

    #[test]
    fn csv_quoting_follows_rfc_4180() {
        assert_eq!(csv_record(&["a", "b c", ""]), "a,b c,\r\n");
        assert_eq!(
            csv_record(&["x,y", "say \"hi\"", "l1\nl2"]),
            "\"x,y\",\"say \"\"hi\"\"\",\"l1\nl2\"\r\n"
        );
    }

    #[test]
    fn csv_formula_injection_is_defused() {
        assert_eq!(
            csv_defuse("=HYPERLINK(\"http://evil\")"),
            "'=HYPERLINK(\"http://evil\")"
        );
        assert_eq!(csv_defuse("+1"), "'+1");
        assert_eq!(csv_defuse("ops/db"), "ops/db");
    }

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

    fn actions(v: &Vault) -> Vec<(String, &'static str, String)> {
        history(v)
            .into_iter()
            .map(|e| (e.author.clone(), e.action.as_str(), e.subject(None)))
            .collect()
    }

    #[test]
    fn history_classifies_every_team_operation() {
        let (alice, bob) = (person("alice"), person("bob"));
        let mut v = Vault::create(&alice, "acme").unwrap();
        v.add_member(&alice, "bob", bob.keys, Role::Member).unwrap();
        v.create_group(&alice, "devops", &["bob".into()]).unwrap();
        let devops = Principal::Group(v.group_named("devops").unwrap().id);
        add(&mut v, &alice, "ops/redis", "r", vec![devops]);
        add(&mut v, &alice, "ops/db", "d", vec![]);
        let bob_id = v.member_named("bob").unwrap().id;
        v.share(&alice, "ops/db", Principal::Member(bob_id), false)
            .unwrap();
        v.unshare(&alice, "ops/db", Principal::Member(bob_id))
            .unwrap();
        v.share(&alice, "ops/db", Principal::Member(bob_id), false)
            .unwrap();
        v.change_role(&alice, "bob", Role::Admin).unwrap();
        v.revoke_member(&alice, "bob", &mut |_, _| {}).unwrap();
        let got = actions(&v);
        let s = v.session(&alice).unwrap();
        let (redis, db) = (
            s.open("ops/redis").unwrap().id,
            s.open("ops/db").unwrap().id,
        );
        let a = |action: &'static str, subject: String| ("alice".to_string(), action, subject);
        let mut want = vec![
            a("create vault", "acme".into()),
            a("rotate key", "@admins".into()),
            a("add member", "bob (member)".into()),
            a("create group", "@devops (bob)".into()),
            a("entry create", format!("{} with @devops", redis.short())),
            a("entry create", db.short()),
            a("entry share", format!("{} with bob", db.short())),
            a("entry unshare", format!("{} from bob", db.short())),
            a("entry share", format!("{} with bob", db.short())),
            a("role", "bob → admin".into()),
            // The revocation: one chain of records, so file order is write order.
            a("remove member", "bob".into()),
            a("rotate key", "@devops".into()),
            a("rotate key", "@admins".into()),
        ];
        // Re-keyed entries are written in entry id order.
        for e in [redis.min(db), redis.max(db)] {
            want.push(a(
                "entry rekey",
                format!("{} after removing bob", e.short()),
            ));
        }
        want.push(a("rotate-at-source", "bob: 2 entries".into()));
        assert_eq!(got, want);
    }

    #[test]
    fn delete_is_a_tombstone() {
        let alice = person("alice");
        let mut v = Vault::create(&alice, "acme").unwrap();
        add(&mut v, &alice, "x", "x", vec![]);
        let s = v.session(&alice).unwrap();
        let e = s.open("x").unwrap();
        let body = s.delete_entry(&e).unwrap();
        v.append(&alice, vec![body]).unwrap();
        let got = actions(&v);
        let short = e.id.short();
        assert_eq!(
            got[2..],
            [
                ("alice".to_string(), "entry create", short.clone()),
                ("alice".to_string(), "entry delete", short)
            ]
        );
    }

    /// A revision as stored, for classifying from its clear parts only.
    fn revision(author: u8, prev: Option<RecordId>, wraps: Vec<KeyWrap>) -> StoredRecord {
        let record = Record {
            parents: vec![RecordId([9; 32])],
            author: MemberId([author; 16]),
            time: 1,
            body: RecordBody::EntryRevision(crate::format::EntryRevision {
                entry: EntryId([5; 16]),
                prev,
                content: EntryContent::Sealed(crate::format::SealedEntry {
                    readers: vec![],
                    writers: vec![],
                    commitment: [0; 32],
                    wraps,
                    nonce: [0; 24],
                    ciphertext: vec![],
                }),
            }),
        };
        let (bytes, id) = StoredRecord::encode(record.clone()).unwrap();
        StoredRecord {
            bytes,
            record,
            signature: [0; 64],
            id,
        }
    }

    fn to_member(m: u8) -> KeyWrap {
        KeyWrap::Member(crate::format::MemberWrap {
            member: MemberId([m; 16]),
            enc: [0; 32],
            sealed: vec![0; 48],
        })
    }

    /// A wrap under the key `RecordId([g; 32])` of the group `GroupId([g; 16])`
    /// (`names_with_keys` records which group the key belongs to).
    fn to_group(g: u8) -> KeyWrap {
        KeyWrap::Group {
            key_id: RecordId([g; 32]),
            nonce: [0; 24],
            sealed: [0; 48],
        }
    }

    fn names_with_keys(groups: &[u8]) -> Names {
        let mut names = Names::default();
        for &g in groups {
            names.key_groups.insert(RecordId([g; 32]), GroupId([g; 16]));
        }
        names
    }

    /// A writer who is not an admin wraps the key to themself on every revision: that
    /// is not a share. Wraps to `@admins` say nothing either.
    #[test]
    fn self_wraps_and_admin_wraps_are_not_shares() {
        let mut names = names_with_keys(&[0, 3]);
        names.members.insert(MemberId([1; 16]), "alice".into());
        names.members.insert(MemberId([2; 16]), "bob".into());
        names.groups.insert(GroupId([3; 16]), "devops".into());
        let created = revision(2, None, vec![to_group(0), to_member(2)]);
        let (action, detail, members) = classify_revision(&created, None, None, &names);
        assert_eq!((action, detail.as_str()), (Action::EntryCreate, ""));
        assert!(members.is_empty());
        // Bob edits it and shares it with @devops.
        let edited = revision(
            2,
            Some(created.id),
            vec![to_group(0), to_member(2), to_group(3)],
        );
        let (action, detail, _) = classify_revision(&edited, Some(&created), None, &names);
        assert_eq!(
            (action, detail.as_str()),
            (Action::EntryShare, "with @devops")
        );
        // Alice (an admin) edits it: bob's wrap stays, nothing changes.
        let by_alice = revision(
            1,
            Some(edited.id),
            vec![to_group(0), to_member(2), to_group(3)],
        );
        let (action, detail, _) = classify_revision(&by_alice, Some(&edited), None, &names);
        assert_eq!((action, detail.as_str()), (Action::EntryUpdate, ""));
        // Alice swaps @devops for a direct share and drops bob.
        let swapped = revision(1, Some(by_alice.id), vec![to_group(0), to_member(1)]);
        let (action, detail, members) = classify_revision(&swapped, Some(&by_alice), None, &names);
        assert_eq!(action, Action::EntryUnshare);
        assert_eq!(detail, "from bob, @devops");
        assert_eq!(members, ["bob"]);
        let both = revision(1, Some(swapped.id), vec![to_group(0), to_group(3)]);
        let (action, detail, _) = classify_revision(&both, Some(&swapped), None, &names);
        assert_eq!(action, Action::EntryUpdate);
        assert_eq!(detail, "with @devops; from alice");
    }

    /// Bob, an admin, is removed; he then signs a roster record on the parents from
    /// before his removal. The history shows it, marked, and the audit reports it.
    #[test]
    fn ignored_records_are_marked_and_reported() {
        let (alice, bob, dave) = (person("alice"), person("bob"), person("dave"));
        let mut v = Vault::create(&alice, "acme").unwrap();
        v.add_member(&alice, "bob", bob.keys, Role::Admin).unwrap();
        let before = v.heads();
        let bob_id = v.member_named("bob").unwrap().id;
        v.revoke_member(&alice, "bob", &mut |_, _| {}).unwrap();
        let record = Record {
            parents: before,
            author: bob_id,
            time: 0,
            body: RecordBody::AddMember(crate::format::AddMember {
                member: MemberId([7; 16]),
                name: "dave".into(),
                keys: dave.keys,
                role: Role::Member,
                admin_wrap: None,
            }),
        };
        let (bytes, id) = StoredRecord::encode(record.clone()).unwrap();
        let signature = bob.signing.sign(crypto::SIGNATURE_LABEL, &bytes);
        let mut file = VaultFile::decode(&v.encode()).unwrap();
        file.append(vec![StoredRecord {
            bytes,
            record,
            signature,
            id,
        }]);
        let forged = Vault::decode(&file.encode()).unwrap();
        let events = history(&forged);
        let e = events.iter().find(|e| e.record == id).unwrap();
        assert_eq!(e.action, Action::AddMember);
        assert_eq!(e.author, "bob");
        assert_eq!(e.detail, "dave (member)");
        assert!(e.ignored.is_some());
        assert!(e.involves("dave") && e.involves("bob") && !e.involves("alice"));
        assert_eq!(events.iter().filter(|e| e.ignored.is_some()).count(), 1);
        let findings = vault_findings(&forged, &[], &[]);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].kind, FindingKind::Ignored);
        assert_eq!(findings[0].id, id.to_hex());
        assert!(findings[0].detail.contains("by bob"), "{:?}", findings[0]);
        assert!(vault_findings(&v, &[], &[]).is_empty());
    }

    /// A writer who had not seen a group's key rotation re-wraps an entry under the old
    /// key; once the two copies merge, audit reports it (with the path, for a reader).
    #[test]
    fn stale_wraps_are_reported() {
        let (alice, bob, carol) = (person("alice"), person("bob"), person("carol"));
        let mut v = Vault::create(&alice, "acme").unwrap();
        v.add_member(&alice, "bob", bob.keys, Role::Member).unwrap();
        v.add_member(&alice, "carol", carol.keys, Role::Member)
            .unwrap();
        v.create_group(&alice, "devops", &["bob".into(), "carol".into()])
            .unwrap();
        let devops = Principal::Group(v.group_named("devops").unwrap().id);
        add(&mut v, &alice, "ops/x", "x", vec![devops]);
        let mut rotated = v.clone();
        rotated
            .group_remove(&alice, "devops", &["carol".into()])
            .unwrap();
        let mut edited = v.clone();
        let bob_id = edited.member_named("bob").unwrap().id;
        edited
            .share(&alice, "ops/x", Principal::Member(bob_id), false)
            .unwrap();
        let mut file = VaultFile::decode(&rotated.encode()).unwrap();
        file.append(
            edited
                .records()
                .iter()
                .filter(|r| !rotated.contains(&r.id))
                .cloned()
                .collect(),
        );
        let merged = Vault::decode(&file.encode()).unwrap();
        let s = merged.session(&alice).unwrap();
        let readable = s.list().unwrap();
        let f = vault_findings(&merged, &readable, &[]);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].kind, FindingKind::Wrap);
        assert_eq!(f[0].path.as_deref(), Some("ops/x"));
        assert!(f[0].detail.contains("rotated key of @devops"), "{f:?}");
        // Without the entry readable, the finding stays, without a path.
        assert_eq!(vault_findings(&merged, &[], &[])[0].path, None);
    }

    fn open(path: &str, password: &str, changed: u64, modified: u64) -> OpenEntry {
        let mut payload = EntryPayload::default();
        payload.path = path.into();
        payload.password = SecretString::new(password.into());
        payload.created = changed;
        payload.password_changed = changed;
        payload.modified = modified;
        OpenEntry {
            id: EntryId(
                crypto::labeled_hash("test", &[path.as_bytes()])[..16]
                    .try_into()
                    .unwrap(),
            ),
            revision: RecordId([0; 32]),
            author: MemberId([0; 16]),
            payload,
            heads: 1,
            shadowed: Vec::new(),
        }
    }

    fn kinds(f: &[Finding]) -> Vec<(&'static str, &str)> {
        f.iter()
            .map(|f| (f.kind.as_str(), f.path.as_deref().unwrap_or("")))
            .collect()
    }

    #[test]
    fn findings_reuse_age_stale_conflict_rotate() {
        let now = 1_000 * DAY;
        let strong = "xK9#mQ2$vL7!pR4@";
        let mut entries = vec![
            open("a", strong, now - 10 * DAY, now - 10 * DAY),
            open("b", strong, now - 400 * DAY, now - 1),
            open(
                "c",
                "another-Strong-one-77",
                now - 100 * DAY,
                now - 100 * DAY,
            ),
            open("d", "", 0, now),
        ];
        entries[2].heads = 2;
        entries[3].payload.rotate_at_source = true;
        let removed = HashMap::from([(
            entries[3].id,
            vec!["bob was removed and could read it".to_string()],
        )]);
        let opts = AuditOptions {
            now,
            max_age_days: Some(365),
            stale_days: Some(90),
        };
        let f =
            entry_findings(&entries, &removed, &HashMap::new(), &HashMap::new(), &opts).unwrap();
        assert_eq!(
            kinds(&f),
            [
                ("rotate-at-source", "d"),
                ("conflict", "c"),
                ("reused", "a"),
                ("reused", "b"),
                ("max-age", "b"),
                ("stale", "c"),
            ]
        );
        assert_eq!(f[2].detail, "same password as 1 other entry: b");
        assert!(
            f[0].detail.starts_with("bob was removed"),
            "{}",
            f[0].detail
        );
        assert_eq!(
            f[4].detail,
            "password last changed 400 days ago (limit 365)"
        );
        for finding in &f {
            assert!(!finding.detail.contains(strong));
        }
        // Without the options, only the always-on findings.
        let plain = AuditOptions {
            now,
            max_age_days: None,
            stale_days: None,
        };
        let f =
            entry_findings(&entries, &removed, &HashMap::new(), &HashMap::new(), &plain).unwrap();
        assert_eq!(f.len(), 4);
    }

    #[test]
    fn no_reuse_between_different_passwords() {
        let entries = vec![
            open("a", "xK9#mQ2$vL7!pR4@", 1, 1),
            open("b", "xK9#mQ2$vL7!pR4!", 1, 1),
        ];
        let opts = AuditOptions {
            now: 2,
            max_age_days: None,
            stale_days: None,
        };
        assert!(
            entry_findings(
                &entries,
                &HashMap::new(),
                &HashMap::new(),
                &HashMap::new(),
                &opts
            )
            .unwrap()
            .is_empty()
        );
    }
}
