//! The vault: resolving the signed record DAG into a roster and entries, opening
//! entries for a member, and making new signed records.
//!
//! State is a function of the record set, resolved by `resolve` (docs/format.md,
//! "Resolution (replay)"): every record's signature is checked once (records this
//! machine pinned before are trusted, and a pinned revision is checked again before
//! its value is handed out), and only records that count shape the state. Listing and
//! finding decrypt paths, authenticated by the AEAD under keys only readers hold. This
//! module does no I/O: `store` reads and writes.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::crypto::{self, CryptoError, SymmetricKey};
use crate::format::{
    self, ADMINS_GROUP, EntryContent, EntryId, EntryPayload, EntryRevision, FormatError, Genesis,
    GroupId, GroupKeyUpdate, KeyWrap, MemberId, MemberWrap, PublicKeys, Record, RecordBody,
    RecordId, Role, SealedEntry, StoredRecord, VaultFile, segment::Segment,
};
use crate::identity::{Keyholder, KeyholderError};

mod adopt;
mod at_heads;
#[cfg(test)]
mod attacks;
mod batch;
mod history;
mod path_choice;
#[cfg(test)]
mod proptest_resolve;
mod resolve;
mod session;
mod team;
pub use batch::{ImportReport, OnConflict};
pub use history::{Change, RestoreError, Review, Revision, field_changes};
pub use path_choice::{Candidate, PathChoice, choose_at_path};
pub use resolve::{BAD_SIGNATURE, KEY_CHANGE_LABEL, entry_bound_to, key_change_message};
pub use session::{EntryDraft, Listing, Session};
use session::{open_payload, worker_threads};
pub use team::{Access, KeyReplacement, RotateAtSource, WrapFinding, check_name};

/// Errors of vault operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The file's bytes are malformed.
    #[error("vault file is damaged: {0}")]
    Format(#[from] FormatError),
    /// A record's signature, a wrap, a key commitment or a ciphertext failed to verify.
    #[error("vault integrity check failed: {0}")]
    Integrity(&'static str),
    /// The identity is not a current member of this vault.
    #[error("identity '{0}' is not a member of this vault")]
    NotMember(String),
    /// No entry at this path.
    #[error("no entry '{0}'")]
    NotFound(String),
    /// Two entries at one path (concurrent creation, or a path taken by someone who
    /// cannot see it) and none to prefer (`vault::choose_at_path`).
    #[error("ambiguous path '{path}': entries {ids} share it")]
    Ambiguous {
        /// The path.
        path: String,
        /// The short entry ids with their creators' names, `id (name)`, comma-separated.
        ids: String,
    },
    /// Two current members (or groups) share a name: added concurrently.
    #[error("ambiguous name '{name}': {ids} share it (added concurrently)")]
    AmbiguousName {
        /// The name.
        name: String,
        /// Their short ids, comma-separated.
        ids: String,
    },
    /// An entry already exists at this path.
    #[error("an entry '{0}' already exists")]
    Exists(String),
    /// A member with that name, or those keys, already exists.
    #[error("a member '{0}' already exists")]
    MemberExists(String),
    /// The keys belong to a current member already.
    #[error("these keys already belong to member '{0}'")]
    KeysInUse(String),
    /// A group with that name already exists.
    #[error("a group '@{0}' already exists")]
    GroupExists(String),
    /// The member may not do this.
    #[error("access denied: {0}")]
    Denied(&'static str),
    /// A path that is not a valid entry path.
    #[error("invalid entry path '{0}'")]
    InvalidPath(String),
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// No current member by this name.
    #[error("no member '{0}'")]
    NoMember(String),
    /// No group by this name.
    #[error("no group '@{0}'")]
    NoGroup(String),
    /// A member or group name that is not allowed.
    #[error("invalid name '{0}'")]
    InvalidName(String),
    /// The entry is not shared with that principal.
    #[error("'{0}' is not shared with them")]
    NotShared(String),
    /// The identity's holder (the agent) could not sign or open a key wrap.
    #[error("{0}")]
    Keyholder(KeyholderError),
}

impl From<KeyholderError> for VaultError {
    fn from(e: KeyholderError) -> Self {
        match e {
            KeyholderError::Integrity => VaultError::Integrity("decryption failed"),
            e => VaultError::Keyholder(e),
        }
    }
}

impl From<CryptoError> for VaultError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::Random => VaultError::Random,
            _ => VaultError::Integrity("decryption failed"),
        }
    }
}

/// A member as the resolved roster knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Id.
    pub id: MemberId,
    /// Display name.
    pub name: String,
    /// Current public keys (when `key_current` is false: the last agreed ones, which
    /// sign and open nothing new).
    pub keys: PublicKeys,
    /// Role.
    pub role: Role,
    /// False once removed.
    pub active: bool,
    /// False while concurrent key changes of equal rank disagree: no current key until
    /// an admin replaces it.
    pub key_current: bool,
}

/// A group as the resolved roster knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Id ([`ADMINS_GROUP`] for `@admins`).
    pub id: GroupId,
    /// Name without `@`.
    pub name: String,
    /// Current members (for `@admins`: the current admins).
    pub members: BTreeSet<MemberId>,
    /// Current key id.
    pub key_id: RecordId,
}

/// One version of a group key: where to find each member's wrap.
#[derive(Debug, Clone)]
struct GroupKeyVersion {
    group: GroupId,
    commitment: [u8; 32],
    public: [u8; 32],
    /// The counted wraps of this version (what members open it with).
    wraps: Vec<MemberWrap>,
    /// Everyone who holds this version, with the agreement key their wrap was made to
    /// (`None`: no agreed key at that record): the counted wraps, and the wraps in
    /// void records written by a holder (the bytes are out there all the same).
    holders: Vec<(MemberId, Option<[u8; 32]>)>,
}

/// A record that is well-formed but does not count: it breaks the authority rule, a
/// write right, or its signature fails (docs/format.md, "Authority").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// Which record.
    pub record: RecordId,
    /// Why.
    pub reason: &'static str,
    /// For a record void because of a concurrent record: that record.
    pub cause: Option<RecordId>,
}

/// The resolved vault.
#[derive(Debug, Clone)]
pub struct Vault {
    file: VaultFile,
    team: String,
    owner: MemberId,
    members: BTreeMap<MemberId, Member>,
    groups: BTreeMap<GroupId, Group>,
    group_keys: HashMap<RecordId, GroupKeyVersion>,
    /// Record index by id.
    index: HashMap<RecordId, usize>,
    /// Entry id → indices of its valid head revisions.
    heads: HashMap<EntryId, Vec<usize>>,
    /// The author's effective role at each counted record; `None` if it does not count.
    role: Vec<Option<Role>>,
    /// Groups with concurrent latest key versions.
    conflicted: BTreeSet<GroupId>,
    ignored: Vec<Ignored>,
    /// Ancestry of every record.
    dag: crate::dag::Ancestry,
    /// Whether some signatures were taken as verified before (pinned).
    trusted_any: bool,
    /// Records this machine counted when it last pinned the vault that no longer
    /// count (set by `store` on load).
    voided_here: Vec<RecordId>,
    /// What the signature check found for each record.
    sig: Vec<resolve::Sig>,
    /// The index and verdicts of the last resolution, to judge an appended record alone.
    memo: resolve::Memo,
    /// The records no record names as a parent, sorted (what a write builds on).
    sinks: Vec<RecordId>,
    /// The key each counted record was (or, if trusted, is to be) verified under.
    signer: Vec<Option<[u8; 32]>>,
    /// What reading the vault's segments set aside (set by `store` on load).
    segments: SegmentReport,
    /// Why this machine's pins could not be moved forward after this load or write
    /// (a full or read-only state directory), if so: a warning, not a failure.
    pin_failure: Option<String>,
}

/// What reading a vault directory set aside: segments that are damage, and records
/// held back because their parents have not arrived (docs/format.md, "Segments").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentReport {
    /// How many segments were read.
    pub segments: usize,
    /// Segments skipped: file name and why.
    pub damaged: Vec<(String, String)>,
    /// Records whose parents (or their parents…) are missing, in id order.
    pub held_back: Vec<RecordId>,
}

/// An opened (decrypted, verified) entry revision.
#[derive(Debug)]
pub struct OpenEntry {
    /// The entry.
    pub id: EntryId,
    /// The revision opened.
    pub revision: RecordId,
    /// Who wrote this revision.
    pub author: MemberId,
    /// Everything inside.
    pub payload: EntryPayload,
    /// How many heads the entry has (more than one: concurrent edits to resolve).
    pub heads: usize,
    /// Other entries at the same path that [`Session::open`] passed over for this one
    /// (`vault::choose_at_path`), with their creators: callers warn. Empty otherwise.
    pub shadowed: Vec<(EntryId, MemberId)>,
}

impl OpenEntry {
    /// The warning for an entry with concurrent revisions (`None` with one head):
    /// which one `verb` (`showing`, `using`) and what to do. Paths are the caller's to
    /// escape for a terminal.
    pub fn conflict_warning(&self, verb: &str) -> Option<String> {
        (self.heads > 1).then(|| {
            format!(
                "'{}' has {} concurrent revisions; {verb} the one by the highest-ranked author, not the newest (edit it to resolve)",
                self.payload.path, self.heads
            )
        })
    }
}

/// Summary of [`Vault::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records checked.
    pub records: usize,
    /// Live entries.
    pub entries: usize,
    /// Records ignored under the authority rule.
    pub ignored: Vec<Ignored>,
}

/// The current time in seconds: the system clock, or `AMANAT_NOW` (seconds since the
/// epoch) where a test or a demonstration injects a clock.
pub fn now() -> u64 {
    if let Some(t) = std::env::var("AMANAT_NOW")
        .ok()
        .and_then(|s| s.trim().parse().ok())
    {
        return t;
    }
    system_now().unwrap_or(0)
}

/// The system clock in seconds since the epoch, never an injected one (`None` for a
/// clock set before 1970): for what must match the world's time, like TOTP codes.
pub fn system_now() -> Option<u64> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// An admin write adds a heartbeat when the newest one is at least this old.
pub const HEARTBEAT_INTERVAL: u64 = 24 * 60 * 60;

/// A copy whose newest heartbeat is older than this (unless `AMANAT_FRESHNESS_DAYS`
/// says otherwise) may be stale: writes warn, `audit` reports it.
pub const DEFAULT_FRESHNESS_DAYS: u64 = 7;

/// Heartbeats dated more than this far ahead of the local clock are ignored.
const HEARTBEAT_SKEW: u64 = 60 * 60;

/// Check a new entry path ([`format::check_path`], the one rule) and return it in NFC.
pub fn check_path(path: &str) -> Result<String, VaultError> {
    format::check_path(path).map_err(|_| VaultError::InvalidPath(path.to_string()))
}

impl Vault {
    /// A new vault owned by `owner`: the genesis record and the first `@admins` key.
    pub fn create(owner: &dyn Keyholder, team: &str) -> Result<Self, VaultError> {
        let team = format::check_name(format::NameKind::Team, team)
            .map_err(|_| VaultError::InvalidName(team.to_string()))?;
        let owner_name = team::check_name(owner.name())?;
        let owner_id = MemberId(crypto::random_array().map_err(|_| VaultError::Random)?);
        let genesis = Record {
            parents: vec![],
            author: owner_id,
            time: now(),
            body: RecordBody::Genesis(Genesis {
                team,
                owner: owner_id,
                owner_name,
                owner_keys: *owner.keys(),
                nonce: crypto::random_array().map_err(|_| VaultError::Random)?,
            }),
        };
        let (bytes, id) = StoredRecord::encode(genesis.clone())?;
        let signature = owner.sign_record(&bytes)?;
        let file = VaultFile {
            vault_id: id,
            records: vec![StoredRecord {
                bytes,
                record: genesis,
                signature,
                id,
            }],
        };
        let mut vault = Self::replay(file)?;
        let admins_key = SymmetricKey::generate()?;
        let update = vault.group_key_update(ADMINS_GROUP, &admins_key)?;
        vault.append(owner, vec![RecordBody::RotateGroupKey(update)])?;
        Ok(vault)
    }

    /// Decode and resolve a vault file, checking every signature.
    pub fn decode(bytes: &[u8]) -> Result<Self, VaultError> {
        // The id → position map built to check the file is the one replay needs.
        let (file, index) = VaultFile::decode_indexed(bytes)?;
        Self::replay_indexed(file, index, &[])
    }

    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        self.file.encode()
    }

    /// The vault id (the genesis record's id).
    pub fn id(&self) -> RecordId {
        self.file.vault_id
    }
    /// The team's name.
    pub fn team(&self) -> &str {
        &self.team
    }
    /// Current DAG heads.
    pub fn heads(&self) -> Vec<RecordId> {
        self.sinks.clone()
    }
    /// Whether the file holds a record.
    pub fn contains(&self, id: &RecordId) -> bool {
        self.index.contains_key(id)
    }
    /// Number of records.
    pub fn record_count(&self) -> usize {
        self.file.records.len()
    }
    /// Members, current and removed.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }
    /// Groups (including `@admins`).
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }
    /// Records ignored under the authority rule.
    pub fn ignored(&self) -> &[Ignored] {
        &self.ignored
    }
    /// Number of live (not deleted) entries, readable or not.
    pub fn entry_count(&self) -> usize {
        self.heads
            .values()
            .filter(|h| {
                h.iter().any(|&i| {
                    matches!(&self.file.records[i].record.body,
                        RecordBody::EntryRevision(r) if matches!(r.content, EntryContent::Sealed(_)))
                })
            })
            .count()
    }

    /// The current member whose keys are the identity's.
    pub fn member_for(&self, identity: &dyn Keyholder) -> Result<&Member, VaultError> {
        self.members
            .values()
            .find(|m| m.active && m.key_current && m.keys == *identity.keys())
            .ok_or_else(|| VaultError::NotMember(identity.name().to_string()))
    }

    /// Resolve a record set (docs/format.md, "Authority"): every signature checked.
    fn replay(file: VaultFile) -> Result<Self, VaultError> {
        let index = file
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id, i))
            .collect();
        Self::replay_indexed(file, index, &[])
    }

    /// [`Self::replay`] for this vault's records plus `new` ones: only the new
    /// records' signatures are checked.
    fn replay_appended(
        &self,
        new: Vec<StoredRecord>,
        signer: &[u8; 32],
    ) -> Result<Self, VaultError> {
        let mut file = self.file.clone();
        let mut old: HashMap<RecordId, resolve::Sig> = self
            .file
            .records
            .iter()
            .zip(&self.sig)
            .map(|(r, s)| (r.id, *s))
            .collect();
        // Records this writer just signed: made with `signer` (checked by the agent
        // client when the agent signed), not checked again.
        for r in &new {
            old.insert(r.id, resolve::Sig::Key(*signer));
        }
        file.append(new);
        let index: HashMap<RecordId, usize> = file
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id, i))
            .collect();
        let known: Vec<Option<resolve::Sig>> = file
            .records
            .iter()
            .map(|r| old.get(&r.id).copied())
            .collect();
        let mut v = Self::replay_indexed(file, index, &known)?;
        v.trusted_any = self.trusted_any;
        Ok(v)
    }

    /// [`Self::replay`] with the file's id → position map already built; records
    /// marked in `trusted` were verified by this machine before (ancestors of its pins)
    /// and their signatures are not checked again.
    fn replay_indexed(
        file: VaultFile,
        index: HashMap<RecordId, usize>,
        known: &[Option<resolve::Sig>],
    ) -> Result<Self, VaultError> {
        let r = resolve::resolve(&file.records, &index, known)?;
        let RecordBody::Genesis(g) = &file.records[0].record.body else {
            return Err(FormatError::Malformed("first record is not genesis").into());
        };
        Ok(Self {
            team: g.team.clone(),
            owner: r.owner,
            members: r.members,
            groups: r.groups,
            group_keys: r.group_keys,
            index,
            heads: r.heads,
            role: r.role,
            conflicted: r.conflicted,
            ignored: r.ignored,
            dag: r.dag,
            trusted_any: r.sig.contains(&resolve::Sig::Trusted),
            voided_here: Vec::new(),
            segments: SegmentReport::default(),
            pin_failure: None,
            sig: r.sig,
            signer: r.signer,
            memo: r.memo,
            sinks: file.heads(),
            file,
        })
    }

    /// Append records this writer just signed with `signer` (in order, each on top of
    /// the previous). A record on top of every other one — whose parents are all the
    /// current sinks — that is an entry revision or an event is judged alone
    /// ([`resolve::extend`]), which leaves every other verdict as it was; anything else
    /// resolves the whole set again. Both give the same vault.
    fn append_signed(
        &mut self,
        new: Vec<StoredRecord>,
        signer: &[u8; 32],
    ) -> Result<(), VaultError> {
        let mut new = std::collections::VecDeque::from(new);
        while let Some(record) = new.pop_front() {
            if !self.on_top(&record) {
                new.push_front(record);
                break;
            }
            let i = self.file.records.len();
            let parents: Vec<usize> = record
                .record
                .parents
                .iter()
                .filter_map(|p| self.index.get(p).copied())
                .collect();
            self.index.insert(record.id, i);
            self.dag.push(&parents);
            self.sig.push(resolve::Sig::Key(*signer));
            let entry = match &record.record.body {
                RecordBody::EntryRevision(rev) => Some(rev.entry),
                _ => None,
            };
            let id = record.id;
            // On top of every sink: it is the only sink now.
            self.sinks = vec![id];
            self.file.records.push(record);
            let verdict = resolve::extend(
                &self.file.records,
                &self.index,
                &self.dag,
                &self.sig,
                &mut self.memo,
                &mut self.signer,
            );
            match verdict {
                Some(resolve::Verdict::Counted(role)) => {
                    self.role.push(Some(role));
                    if let Some(e) = entry {
                        self.heads.insert(e, vec![i]);
                    }
                }
                Some(resolve::Verdict::Void(reason, cause)) => {
                    self.role.push(None);
                    self.ignored.push(Ignored {
                        record: id,
                        reason,
                        cause: cause
                            .filter(|_| resolve::voided_by_concurrency(reason))
                            .map(|c| self.file.records[c].id),
                    });
                }
                // Not judged alone after all: resolve everything (this record included).
                None => break,
            }
        }
        if !new.is_empty() || self.role.len() != self.file.records.len() {
            *self = self.replay_appended(new.into(), signer)?;
        } else {
            // What a full resolution would give: nothing set by `store` on load.
            self.voided_here = Vec::new();
            self.segments = SegmentReport::default();
            self.pin_failure = None;
        }
        Ok(())
    }

    /// Whether `record` has every current sink as a parent (so every record is its
    /// ancestor) and is of a kind [`resolve::extend`] judges alone.
    fn on_top(&self, record: &StoredRecord) -> bool {
        if !self.memo.extendable(&record.record.body)
            || self.index.contains_key(&record.id)
            || !record
                .record
                .parents
                .iter()
                .all(|p| self.index.contains_key(p))
        {
            return false;
        }
        self.sinks
            .iter()
            .all(|sink| record.record.parents.contains(sink))
    }

    /// A canonical digest of the state resolved from `records` taken in the given
    /// order (which must put parents first): for the fuzz target and tests that check
    /// that resolution does not depend on the order (issue 9, invariant 1). Not part
    /// of the stable API.
    #[doc(hidden)]
    pub fn resolution_digest(records: &[StoredRecord]) -> Result<String, VaultError> {
        let index: HashMap<RecordId, usize> =
            records.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
        let r = resolve::resolve(records, &index, &[])?;
        let counted: BTreeSet<RecordId> = records
            .iter()
            .zip(&r.role)
            .filter(|(_, role)| role.is_some())
            .map(|(s, _)| s.id)
            .collect();
        let groups: BTreeMap<&GroupId, (&BTreeSet<MemberId>, &RecordId)> = r
            .groups
            .iter()
            .map(|(id, g)| (id, (&g.members, &g.key_id)))
            .collect();
        let heads: BTreeMap<&EntryId, BTreeSet<RecordId>> = r
            .heads
            .iter()
            .map(|(e, h)| (e, h.iter().map(|&i| records[i].id).collect()))
            .collect();
        Ok(format!(
            "{:?}",
            (r.owner, counted, &r.members, groups, heads, r.cycles)
        ))
    }

    /// Decode and resolve a vault file, trusting the signatures of `verified` records
    /// and their ancestors (what this machine pinned after checking them).
    /// Records in `damaged` are never trusted (their signatures failed before).
    pub fn decode_trusting(
        bytes: &[u8],
        verified: &[RecordId],
        damaged: &[RecordId],
    ) -> Result<Self, VaultError> {
        let (file, index) = VaultFile::decode_indexed(bytes)?;
        Self::resolve_trusting(file, index, verified, damaged)
    }

    /// Resolve the union of a vault's segments (those naming another vault id are
    /// left out), trusting `verified` records and their ancestors as
    /// [`Self::decode_trusting`] does. Records whose parents have not arrived are
    /// held back and listed in [`Self::segment_report`].
    pub fn from_segments(
        vault_id: RecordId,
        segments: Vec<Segment>,
        verified: &[RecordId],
        damaged: &[RecordId],
    ) -> Result<Self, VaultError> {
        let count = segments.len();
        let u = format::segment::union(vault_id, segments)?;
        let mut v = Self::resolve_trusting(u.file, u.index, verified, damaged)?;
        v.segments.segments = count;
        v.segments.held_back = u.held_back;
        Ok(v)
    }

    /// Why the pins could not be updated after the last load or write, if they could
    /// not (set by `store`).
    pub fn pin_failure(&self) -> Option<&str> {
        self.pin_failure.as_deref()
    }

    /// Note that the pins could not be updated (by `store`).
    pub fn note_pin_failure(&mut self, why: String) {
        self.pin_failure = Some(why);
    }

    /// What reading the segments set aside.
    pub fn segment_report(&self) -> &SegmentReport {
        &self.segments
    }

    /// Record segments the store skipped as damage (so commands can warn and `verify`
    /// can list them).
    pub fn note_damaged_segments(&mut self, damaged: Vec<(String, String)>) {
        self.segments.damaged = damaged;
    }

    /// One segment holding every record (what a new vault directory starts with, and
    /// what `encode` of a single-file vault was).
    pub fn encode_segment(&self) -> Vec<u8> {
        Segment::encode(&self.file.vault_id, &self.file.records)
    }

    /// A segment holding the records not in `before`, in canonical order (parents
    /// first); `None` when there are none.
    pub fn segment_since(&self, before: &HashSet<RecordId>) -> Option<Vec<u8>> {
        let new: Vec<StoredRecord> = self
            .file
            .records
            .iter()
            .filter(|r| !before.contains(&r.id))
            .cloned()
            .collect();
        (!new.is_empty()).then(|| Segment::encode(&self.file.vault_id, &new))
    }

    /// A segment holding the records added since the vault's sinks were `before` (what
    /// [`Self::heads`] returned then): those that are neither one of them nor an
    /// ancestor of one, in canonical order; `None` when there are none. The same as
    /// [`Self::segment_since`] with every record id of then, without hashing them all.
    pub fn segment_after(&self, before: &[RecordId]) -> Option<Vec<u8>> {
        let old: Vec<usize> = before
            .iter()
            .filter_map(|id| self.index.get(id).copied())
            .collect();
        if old.len() != before.len() {
            // A sink of then is gone (cannot happen: records are only added): be exact.
            return None;
        }
        let new: Vec<StoredRecord> = (0..self.file.records.len())
            .filter(|&i| !old.iter().any(|&o| o == i || self.dag.is_ancestor(i, o)))
            .map(|i| self.file.records[i].clone())
            .collect();
        (!new.is_empty()).then(|| Segment::encode(&self.file.vault_id, &new))
    }

    /// Every record id.
    pub fn record_ids(&self) -> HashSet<RecordId> {
        self.index.keys().copied().collect()
    }

    fn resolve_trusting(
        file: VaultFile,
        index: HashMap<RecordId, usize>,
        verified: &[RecordId],
        damaged: &[RecordId],
    ) -> Result<Self, VaultError> {
        let mut trusted: Vec<Option<resolve::Sig>> = vec![None; file.records.len()];
        let mut seen = vec![false; file.records.len()];
        let mut stack: Vec<usize> = verified
            .iter()
            .filter_map(|id| index.get(id).copied())
            .collect();
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            if !damaged.contains(&file.records[i].id) {
                trusted[i] = Some(resolve::Sig::Trusted);
            }
            for p in &file.records[i].record.parents {
                if let Some(&pi) = index.get(p) {
                    stack.push(pi);
                }
            }
        }
        Self::replay_indexed(file, index, &trusted)
    }

    /// Whether record `i` counts, and with which author role.
    fn counted_role(&self, i: usize) -> Option<Role> {
        self.role.get(i).copied().flatten()
    }

    /// The owner's member id.
    pub fn owner(&self) -> MemberId {
        self.owner
    }

    /// Whether record `a` is a strict ancestor of record `b` (both in the vault).
    pub fn is_ancestor(&self, a: &RecordId, b: &RecordId) -> bool {
        match (self.index.get(a), self.index.get(b)) {
            (Some(&a), Some(&b)) => self.dag.is_ancestor(a, b),
            _ => false,
        }
    }

    /// Add to `out` the members removed by a counted removal that `relevant` accepts
    /// (by record index) who could open `sealed`: a wrap to them, or under a group key
    /// version they hold.
    pub(super) fn removed_readers(
        &self,
        sealed: &SealedEntry,
        relevant: impl Fn(usize) -> bool,
        out: &mut Vec<MemberId>,
    ) {
        for (d, r) in self.file.records.iter().enumerate() {
            let RecordBody::RemoveMember { member } = &r.record.body else {
                continue;
            };
            if self.counted_role(d).is_none() || !relevant(d) || out.contains(member) {
                continue;
            }
            let could_read = sealed.wraps.iter().any(|w| match w {
                KeyWrap::Member(m) => m.member == *member,
                w => w.key_id().is_some_and(|k| {
                    self.group_keys
                        .get(&k)
                        .is_some_and(|v| v.wraps.iter().any(|x| x.member == *member))
                }),
            });
            if could_read {
                out.push(*member);
            }
        }
    }

    /// Removed members who could read an entry's current value: one of its valid heads
    /// is concurrent with their counted removal (written by someone who had not seen
    /// it, merged afterwards) and was wrapped to them or under a group key version they
    /// hold. Their entries belong on their rotate-at-source list.
    pub fn exposed_to_removed(&self, entry: &EntryId) -> Vec<MemberId> {
        let mut out = Vec::new();
        let heads = self.heads.get(entry).cloned().unwrap_or_default();
        for h in heads {
            let Some((_, rev)) = self.revision(h) else {
                continue;
            };
            let EntryContent::Sealed(sealed) = &rev.content else {
                continue;
            };
            self.removed_readers(sealed, |d| self.dag.concurrent(d, h), &mut out);
        }
        out
    }

    /// Whether a group's current key version may not be used for new wraps: its
    /// latest versions are concurrent, someone who is not a current member of the
    /// group (a removed member; for a group, a member who left) holds it, or a current
    /// member of the group does not.
    pub fn tainted(&self, g: &Group) -> bool {
        if self.conflicted.contains(&g.id) {
            return true;
        }
        let Some(v) = self.group_keys.get(&g.key_id) else {
            return true;
        };
        // Someone outside the group, or a retired key (the wrap was made to a key
        // its member no longer has), holds the version.
        let held_outside = v.holders.iter().any(|(id, key)| {
            let Some(m) = self.members.get(id) else {
                return true;
            };
            let entitled = g.members.contains(id) || m.role.is_admin();
            let current_key = m.key_current && *key == Some(m.keys.agreement);
            !(m.active && entitled && current_key)
        });
        // A member of the group (for `@admins`: an admin) who holds no wrap of the
        // version to their current key, e.g. one promoted concurrently with the
        // rotation that made it.
        let missing = g.members.iter().any(|id| {
            self.members.get(id).is_some_and(|m| {
                m.active
                    && m.key_current
                    && !v
                        .holders
                        .iter()
                        .any(|(h, key)| h == id && *key == Some(m.keys.agreement))
            })
        });
        held_outside || missing
    }

    /// The heads to pin: the DAG heads once damaged records that nothing undamaged
    /// descends from are set aside (a forged extra record must not be pinned, or
    /// checking a tampered copy would lock this machine out of the genuine one), and
    /// the damaged records that remain below them (to check again, never trust).
    pub fn pinnable(&self) -> (Vec<RecordId>, Vec<RecordId>) {
        let n = self.file.records.len();
        let damaged: std::collections::HashSet<&RecordId> = self.damaged().collect();
        if damaged.is_empty() {
            return (self.sinks.clone(), Vec::new());
        }
        let mut children = vec![0usize; n];
        for r in &self.file.records {
            for p in &r.record.parents {
                if let Some(&pi) = self.index.get(p) {
                    children[pi] += 1;
                }
            }
        }
        let mut gone = vec![false; n];
        let mut queue: Vec<usize> = (0..n)
            .filter(|&i| children[i] == 0 && damaged.contains(&self.file.records[i].id))
            .collect();
        while let Some(i) = queue.pop() {
            if std::mem::replace(&mut gone[i], true) {
                continue;
            }
            for p in &self.file.records[i].record.parents {
                if let Some(&pi) = self.index.get(p) {
                    children[pi] -= 1;
                    if children[pi] == 0 && damaged.contains(&self.file.records[pi].id) {
                        queue.push(pi);
                    }
                }
            }
        }
        let mut heads: Vec<RecordId> = (0..n)
            .filter(|&i| !gone[i] && children[i] == 0)
            .map(|i| self.file.records[i].id)
            .collect();
        heads.sort();
        let mut kept: Vec<RecordId> = (0..n)
            .filter(|&i| !gone[i] && damaged.contains(&self.file.records[i].id))
            .map(|i| self.file.records[i].id)
            .collect();
        kept.sort();
        (heads, kept)
    }

    /// Roster records that count (what this machine pins, to name a record that a
    /// later merge voids).
    pub fn counted_roster(&self) -> Vec<RecordId> {
        self.file
            .records
            .iter()
            .enumerate()
            .filter(|(i, r)| {
                r.record.body.is_roster()
                    && !matches!(r.record.body, RecordBody::Genesis(_))
                    && self.counted_role(*i).is_some()
            })
            .map(|(_, r)| r.id)
            .collect()
    }

    /// Records this machine had counted (at its last pin) that now do not: each with
    /// why, and the record that caused it.
    pub fn voided_here(&self) -> Vec<&Ignored> {
        self.ignored
            .iter()
            .filter(|i| self.voided_here.contains(&i.record))
            .collect()
    }

    /// Whether this machine had verified a record before (an ancestor of its pins):
    /// warnings about it were shown then.
    pub fn seen_here(&self, id: &RecordId) -> bool {
        self.index
            .get(id)
            .and_then(|&i| self.sig.get(i))
            .is_some_and(|s| *s == resolve::Sig::Trusted)
    }

    /// Set by the store: pinned-as-counted records of this vault.
    pub fn note_pinned_counted(&mut self, pinned: &[RecordId]) {
        self.voided_here = pinned
            .iter()
            .filter(|id| self.contains(id) && !self.counts(id))
            .copied()
            .collect();
    }

    /// The counted ownership acceptances (this machine keeps them: a hand-over it
    /// counted is final here).
    pub fn counted_acceptances(&self) -> Vec<RecordId> {
        self.file
            .records
            .iter()
            .enumerate()
            .filter(|(i, r)| {
                matches!(r.record.body, RecordBody::AcceptOwnership { .. })
                    && self.counted_role(*i).is_some()
            })
            .map(|(_, r)| r.id)
            .collect()
    }

    /// The records whose signatures failed.
    pub fn damaged(&self) -> impl Iterator<Item = &RecordId> {
        self.ignored
            .iter()
            .filter(|i| i.reason == resolve::BAD_SIGNATURE)
            .map(|i| &i.record)
    }

    /// Whether some record's signature failed (damage: skipped).
    pub fn has_damage(&self) -> bool {
        self.ignored
            .iter()
            .any(|i| i.reason == resolve::BAD_SIGNATURE)
    }

    /// Whether a record counts (is not ignored).
    pub fn counts(&self, id: &RecordId) -> bool {
        self.index
            .get(id)
            .is_some_and(|&i| self.counted_role(i).is_some())
    }

    /// Groups whose latest key versions are concurrent (no current key until one
    /// writer rotates again).
    pub fn conflicted_groups(&self) -> impl Iterator<Item = &GroupId> {
        self.conflicted.iter()
    }

    // -----------------------------------------------------------------------------------
    // Group keys

    /// The group of an applied group key version (the record `key_id` created or
    /// rotated it): what a group wrap, which names only the key, is wrapped to.
    pub fn key_group(&self, key_id: &RecordId) -> Option<GroupId> {
        self.group_keys.get(key_id).map(|v| v.group)
    }

    /// [`Self::key_group`] for a wrap being opened: a key the vault does not know is
    /// an integrity failure.
    fn wrap_key_group(&self, key_id: &RecordId) -> Result<GroupId, VaultError> {
        self.key_group(key_id)
            .ok_or(VaultError::Integrity("wrap under an unknown group key"))
    }

    /// A new group key wrapped to the group's members and every admin.
    fn group_key_update(
        &self,
        group: GroupId,
        key: &SymmetricKey,
    ) -> Result<GroupKeyUpdate, VaultError> {
        let members = self
            .groups
            .get(&group)
            .map(|g| g.members.clone())
            .unwrap_or_default();
        self.group_key_update_for(group, key, &members)
    }

    /// A group key wrapped to `members` and every current admin.
    fn group_key_update_for(
        &self,
        group: GroupId,
        key: &SymmetricKey,
        members: &BTreeSet<MemberId>,
    ) -> Result<GroupKeyUpdate, VaultError> {
        let commitment = key.commitment();
        let mut recipients: BTreeSet<MemberId> = self
            .members
            .values()
            .filter(|m| m.active && m.role.is_admin())
            .map(|m| m.id)
            .collect();
        recipients.extend(members.iter().copied());
        let mut wraps = Vec::with_capacity(recipients.len());
        for id in recipients {
            let Some(m) = self.members.get(&id).filter(|m| m.active && m.key_current) else {
                continue;
            };
            let info = format::group_key_wrap_info(&self.id(), &id, &group, &commitment);
            let w = crypto::hpke_wrap(&m.keys.agreement, &info, key)?;
            wraps.push(MemberWrap {
                member: id,
                enc: w.enc,
                sealed: w.sealed.to_vec(),
            });
        }
        let public = crypto::AgreementSecret::derive_from_group_key(key).public()?;
        Ok(GroupKeyUpdate {
            group,
            commitment,
            public,
            wraps,
        })
    }

    // -----------------------------------------------------------------------------------
    // Writing

    /// Sign `bodies` as `identity`'s records, each on top of the previous (the first on
    /// the current heads), append them and resolve again. Returns the new record ids.
    ///
    /// A record names at most [`format::MAX_PARENTS`] parents: with more heads, the
    /// first records of the batch merge them over several records. Each record is
    /// stamped with this machine's clock, never with its parents' times.
    pub fn append(
        &mut self,
        identity: &dyn Keyholder,
        bodies: Vec<RecordBody>,
    ) -> Result<Vec<RecordId>, VaultError> {
        let me = self.member_for(identity)?;
        let author = me.id;
        let mut bodies = bodies;
        // Freshness: an admin's write carries a heartbeat, at most one a day.
        let beating = bodies
            .iter()
            .any(|b| !matches!(b, RecordBody::Event(e) if e.kind == format::EventKind::Merged));
        if me.role.is_admin()
            && beating
            && self
                .newest_heartbeat(now())
                .is_none_or(|t| now().saturating_sub(t) >= HEARTBEAT_INTERVAL)
        {
            bodies.push(RecordBody::Event(format::AuditEvent::new(
                format::EventKind::Heartbeat,
                None,
            )));
        }
        let mut waiting = self.heads();
        let mut new = Vec::with_capacity(bodies.len());
        let mut ids = Vec::with_capacity(bodies.len());
        let time = now();
        let mut last: Option<RecordId> = None;
        let mut bodies = std::collections::VecDeque::from(bodies);
        while let Some(body) = bodies.pop_front() {
            let mut parents: Vec<RecordId> = last.into_iter().collect();
            let room = format::MAX_PARENTS - parents.len();
            let take = waiting.len().min(room);
            parents.extend(waiting.drain(..take));
            parents.sort();
            parents.dedup();
            // More heads than fit: merge them with events before the real record.
            let body = if !waiting.is_empty() {
                bodies.push_front(body);
                RecordBody::Event(format::AuditEvent::new(format::EventKind::Merged, None))
            } else {
                body
            };
            let is_merge =
                matches!(&body, RecordBody::Event(e) if e.kind == format::EventKind::Merged);
            let record = Record {
                parents,
                author,
                time,
                body,
            };
            let (bytes, id) = StoredRecord::encode(record.clone())?;
            let signature = identity.sign_record(&bytes)?;
            new.push(StoredRecord {
                bytes,
                record,
                signature,
                id,
            });
            last = Some(id);
            if !is_merge {
                ids.push(id);
            }
        }
        let roster_work = new.iter().any(|r| r.record.body.is_roster());
        self.append_signed(new, &identity.keys().signing)?;
        // Key hygiene: after an admin's entry write, rotate every group whose current
        // key may not be used (concurrent versions, or held outside the group), so
        // that later writes wrap to the group again instead of to each member. Roster
        // work (a revocation, a group change) rotates on its own.
        // After a member's key change, the same write re-keys what they could read
        // only through the retired key (`Vault::stale_after_key_change`).
        if !roster_work && self.member_for(identity).is_ok_and(|m| m.role.is_admin()) {
            self.key_hygiene(identity, None, &mut |_, _| {})?;
        }
        Ok(ids)
    }

    /// The time of the newest counted heartbeat (or of the genesis, which counts as
    /// the first), ignoring heartbeats dated more than an hour after `now`.
    pub fn newest_heartbeat(&self, now: u64) -> Option<u64> {
        self.file
            .records
            .iter()
            .enumerate()
            .filter(|(i, r)| {
                self.counted_role(*i).is_some()
                    && match &r.record.body {
                        RecordBody::Genesis(_) => true,
                        RecordBody::Event(e) => e.kind == format::EventKind::Heartbeat,
                        _ => false,
                    }
            })
            .map(|(_, r)| r.record.time)
            .filter(|&t| t <= now.saturating_add(HEARTBEAT_SKEW))
            .max()
    }

    /// The warning a write shows when this copy may be stale ([`Self::staleness`]).
    pub fn stale_warning(&self, now: u64) -> Option<String> {
        self.staleness(now).map(|days| format!(
            "the newest heartbeat in this copy of the vault is {days} days old: it may be stale (records withheld by a git host or share); sync first, or ask an admin to write something"
        ))
    }

    /// The warning a write shows when its pins could not be written.
    pub fn pin_warning(&self) -> Option<String> {
        self.pin_failure().map(|why| format!(
            "could not record what this machine has verified ({why}); rollback protection does not advance until the state directory is writable"
        ))
    }

    /// How old this copy may be: `Some(days)` when its newest heartbeat is older than
    /// the freshness limit (`AMANAT_FRESHNESS_DAYS`, default 7), `None` when fresh.
    pub fn staleness(&self, now: u64) -> Option<u64> {
        let limit_days = std::env::var("AMANAT_FRESHNESS_DAYS")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(DEFAULT_FRESHNESS_DAYS);
        let age = now.saturating_sub(self.newest_heartbeat(now).unwrap_or(0));
        (age > limit_days.saturating_mul(24 * 60 * 60)).then_some(age / (24 * 60 * 60))
    }

    // -----------------------------------------------------------------------------------
    // Verification

    /// Check every record: structure (done by decode), every signature (under the key
    /// its author had at its parents), the authority rule and write rights (done by
    /// resolution; records that do not count are reported).
    pub fn verify(&self) -> Result<VerifyReport, VaultError> {
        let ignored = if self.trusted_any {
            // Some signatures were taken from this machine's pins: check them all.
            Self::replay_indexed(self.file.clone(), self.index.clone(), &[])?.ignored
        } else {
            self.ignored.clone()
        };
        Ok(VerifyReport {
            records: self.file.records.len(),
            entries: self.entry_count(),
            ignored,
        })
    }

    // -----------------------------------------------------------------------------------
    // Reading

    /// A reading session for one member: caches the group keys it unwraps.
    pub fn session<'a>(&'a self, identity: &'a dyn Keyholder) -> Result<Session<'a>, VaultError> {
        let me = self.member_for(identity)?.clone();
        Ok(Session {
            vault: self,
            identity,
            me,
            group_keys: RefCell::new(HashMap::new()),
        })
    }

    fn revision(&self, i: usize) -> Option<(&StoredRecord, &EntryRevision)> {
        let stored = self.file.records.get(i)?;
        match &stored.record.body {
            RecordBody::EntryRevision(rev) => Some((stored, rev)),
            _ => None,
        }
    }

    /// The current revision of an entry among its valid heads: the author's rank
    /// first, then the author's member id, then the record id (never `time`), and the
    /// number of heads. `None` if the entry does not exist.
    fn current(&self, entry: &EntryId) -> Option<(usize, usize)> {
        let heads = self.heads.get(entry)?;
        let best = heads.iter().copied().min_by_key(|&i| {
            let r = &self.file.records[i];
            let rank = self.counted_role(i).map_or(0, resolve::rank);
            (std::cmp::Reverse(rank), r.record.author, r.id)
        })?;
        Some((best, heads.len()))
    }

    /// The authors of an entry's valid heads other than the current one (a conflict
    /// warning names them).
    pub fn other_head_authors(&self, entry: &EntryId) -> Vec<MemberId> {
        let Some((best, _)) = self.current(entry) else {
            return Vec::new();
        };
        self.heads
            .get(entry)
            .into_iter()
            .flatten()
            .filter(|&&i| i != best)
            .map(|&i| self.file.records[i].record.author)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::session::{GroupReader, KeepFn};
    use super::*;
    use crate::crypto::SecretString;
    use crate::identity::Identity;

    fn alice() -> Identity {
        Identity::generate("alice").unwrap()
    }

    fn draft(path: &str, password: &str) -> EntryDraft {
        let mut payload = EntryPayload::default();
        payload.path = path.into();
        payload.password = SecretString::new(password.into());
        EntryDraft {
            payload,
            share_with: vec![],
        }
    }

    #[test]
    fn create_add_reopen() {
        let a = alice();
        let mut v = Vault::create(&a, "acme").unwrap();
        let body = v
            .session(&a)
            .unwrap()
            .create_entry(&draft("web/github", "S3cret"))
            .unwrap();
        v.append(&a, vec![body]).unwrap();
        let bytes = v.encode();
        let v2 = Vault::decode(&bytes).unwrap();
        assert_eq!(v2.id(), v.id());
        let s = v2.session(&a).unwrap();
        let e = s.open("web/github").unwrap();
        assert_eq!(e.payload.password.expose(), "S3cret");
        v2.verify().unwrap();
    }

    #[test]
    fn duplicate_path_refused_and_rename_edit_delete() {
        let a = alice();
        let mut v = Vault::create(&a, "acme").unwrap();
        let body = v
            .session(&a)
            .unwrap()
            .create_entry(&draft("x", "1"))
            .unwrap();
        v.append(&a, vec![body]).unwrap();
        assert!(matches!(
            v.session(&a).unwrap().create_entry(&draft("x", "2")),
            Err(VaultError::Exists(_))
        ));
        let s = v.session(&a).unwrap();
        let e = s.open("x").unwrap();
        let body = s.revise_entry(&e, &draft("y", "2")).unwrap();
        v.append(&a, vec![body]).unwrap();
        let s = v.session(&a).unwrap();
        assert!(matches!(s.open("x"), Err(VaultError::NotFound(_))));
        let e = s.open("y").unwrap();
        assert_eq!(e.payload.password.expose(), "2");
        let body = s.delete_entry(&e).unwrap();
        v.append(&a, vec![body]).unwrap();
        assert!(v.session(&a).unwrap().list().unwrap().is_empty());
        assert_eq!(v.entry_count(), 0);
    }

    #[test]
    fn every_signature_is_checked_on_every_thread() {
        let a = alice();
        let mut v = Vault::create(&a, "acme").unwrap();
        let event =
            || RecordBody::Event(format::AuditEvent::new(format::EventKind::Reviewed, None));
        // Enough records for several verification threads (`worker_threads`).
        v.append(&a, (0..1500).map(|_| event()).collect()).unwrap();
        v.verify().unwrap();
        let good = v.encode();
        for victim in [3, 700, 1200, v.record_count() - 1] {
            let mut file = VaultFile::decode(&good).unwrap();
            file.records[victim].signature[5] ^= 1;
            // Damage is skipped, never a hard error: the record does not count, and
            // `verify` lists it.
            let damaged = Vault::decode(&file.encode()).unwrap();
            let report = damaged.verify().unwrap();
            assert_eq!(report.ignored.len(), 1, "record {victim}");
            assert_eq!(report.ignored[0].record, file.records[victim].id);
            assert!(damaged.has_damage());
        }
    }

    #[test]
    fn stranger_is_not_a_member() {
        let a = alice();
        let v = Vault::create(&a, "acme").unwrap();
        let b = Identity::generate("bob").unwrap();
        assert!(matches!(v.session(&b), Err(VaultError::NotMember(_))));
    }

    #[test]
    fn check_path_rules() {
        assert!(check_path("a/b").is_ok());
        for bad in ["", "/a", "a/", "a//b", "a/../b", "a/\u{1b}]52", " a"] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
    }

    /// Two entries created at one path without seeing each other (concurrent adds).
    fn vault_with_twins(a: &Identity) -> Vault {
        let mut v = Vault::create(a, "acme").unwrap();
        let s = v.session(a).unwrap();
        let bodies = vec![
            s.create_entry(&draft("web/github", "1")).unwrap(),
            s.create_entry(&draft("web/gitlab", "2")).unwrap(),
            s.create_entry(&draft("web/github", "3")).unwrap(),
        ];
        drop(s);
        v.append(a, bodies).unwrap();
        v
    }

    /// Entry ids of the live entries at `path`, shortened, with their creator (all
    /// alice's here), in id order.
    fn short_ids_at(v: &Vault, a: &Identity, path: &str) -> String {
        let mut ids: Vec<EntryId> = v
            .session(a)
            .unwrap()
            .list()
            .unwrap()
            .iter()
            .filter(|e| e.payload.path == path)
            .map(|e| e.id)
            .collect();
        ids.sort();
        ids.iter()
            .map(|id| format!("{} (alice)", id.short()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    #[test]
    fn two_entries_at_one_path_are_ambiguous_and_block_a_third() {
        let a = alice();
        let v = vault_with_twins(&a);
        let s = v.session(&a).unwrap();
        match s.open("web/github") {
            Err(VaultError::Ambiguous { path, ids }) => {
                assert_eq!(path, "web/github");
                assert_eq!(ids, short_ids_at(&v, &a, "web/github"));
                assert_eq!(ids.split(", ").count(), 2);
            }
            other => panic!("expected Ambiguous, got {other:?}"),
        }
        assert_eq!(s.open("web/gitlab").unwrap().payload.password.expose(), "2");
        assert!(matches!(
            s.create_entry(&draft("web/github", "4")),
            Err(VaultError::Exists(_))
        ));
        assert!(matches!(s.open("web"), Err(VaultError::NotFound(_))));
    }

    /// Flip one ciphertext byte of the current revision of the entry at `path`, in the
    /// replayed vault (as a forged or damaged revision would arrive).
    fn damage_entry(v: &mut Vault, a: &Identity, path: &str) {
        let e = v.session(a).unwrap().open(path).unwrap();
        let i = v.index[&e.revision];
        let RecordBody::EntryRevision(rev) = &mut v.file.records[i].record.body else {
            panic!("not a revision");
        };
        let EntryContent::Sealed(sealed) = &mut rev.content else {
            panic!("not sealed");
        };
        sealed.ciphertext[0] ^= 1;
    }

    #[test]
    fn a_path_not_found_while_an_entry_fails_is_an_integrity_error() {
        let a = alice();
        let mut v = Vault::create(&a, "acme").unwrap();
        let s = v.session(&a).unwrap();
        let bodies = vec![
            s.create_entry(&draft("web/github", "1")).unwrap(),
            s.create_entry(&draft("web/gitlab", "2")).unwrap(),
        ];
        drop(s);
        v.append(&a, bodies).unwrap();
        damage_entry(&mut v, &a, "web/gitlab");
        let s = v.session(&a).unwrap();
        // The readable entry still opens.
        assert_eq!(s.open("web/github").unwrap().payload.password.expose(), "1");
        // The damaged one, or a path that is nowhere, might be the damaged one.
        for path in ["web/gitlab", "nowhere"] {
            assert!(
                matches!(
                    s.open(path),
                    Err(VaultError::Integrity(
                        "no readable entry at this path, and some entries fail their integrity checks"
                    ))
                ),
                "{path}"
            );
        }
        assert!(matches!(s.list(), Err(VaultError::Integrity(_))));
        let listing = s.list_all().unwrap();
        assert_eq!(listing.entries.len(), 1);
        assert_eq!(listing.failed.len(), 1);
        // Adding is not blocked by an entry that fails to open (as before).
        assert!(s.create_entry(&draft("web/new", "3")).is_ok());
    }

    /// A vault where entries reach alice (owner) and bob (member) every way there is:
    /// group wraps to `@admins` and to `@ops` (bob is in it), direct shares to bob,
    /// entries bob wrote (wrapped to `@admins` by its public key), a tombstone, two
    /// entries at one path and one damaged entry.
    fn mixed_vault() -> (Identity, Identity, Vault) {
        let a = alice();
        let b = Identity::generate("bob").unwrap();
        let mut v = Vault::create(&a, "acme").unwrap();
        let bob = v.add_member(&a, "bob", b.keys, Role::Member).unwrap();
        let ops = v.create_group(&a, "ops", &["bob".into()]).unwrap();
        let s = v.session(&a).unwrap();
        let mut bodies = Vec::new();
        for n in 0..12 {
            let mut d = draft(&format!("a/{n}"), &format!("pw{n}"));
            d.share_with = match n % 4 {
                0 => vec![],
                1 => vec![format::Principal::Member(bob)],
                2 => vec![format::Principal::Group(ops)],
                _ => vec![
                    format::Principal::Group(ops),
                    format::Principal::Member(bob),
                ],
            };
            bodies.push(s.create_entry(&d).unwrap());
        }
        for pw in ["t1", "t2"] {
            let mut d = draft("twin", pw);
            d.share_with = vec![format::Principal::Group(ops)];
            bodies.push(s.create_entry(&d).unwrap());
        }
        drop(s);
        v.append(&a, bodies).unwrap();
        let s = v.session(&b).unwrap();
        let bodies = (0..3)
            .map(|n| s.create_entry(&draft(&format!("b/{n}"), "by bob")).unwrap())
            .collect();
        drop(s);
        v.append(&b, bodies).unwrap();
        let s = v.session(&a).unwrap();
        let gone = s.delete_entry(&s.open("a/4").unwrap()).unwrap();
        drop(s);
        v.append(&a, vec![gone]).unwrap();
        damage_entry(&mut v, &a, "a/5");
        (a, b, v)
    }

    type Seen = (EntryId, RecordId, usize, String, String);

    /// What a walk on `threads` threads finds, in a fresh session: every opened entry
    /// (sorted by id) and the ids that failed.
    fn walked(v: &Vault, who: &Identity, threads: usize) -> (Vec<Seen>, Vec<EntryId>) {
        let s = v.session(who).unwrap();
        let current = s.current_revisions();
        let keep: &KeepFn<'_, Seen> = &|id, stored, heads, payload| {
            Some((
                id,
                stored.id,
                heads,
                payload.path.clone(),
                payload.password.expose().to_string(),
            ))
        };
        let walk = s.walk_on(threads, &current, keep).unwrap();
        let mut kept = walk.kept;
        kept.sort_by_key(|e| e.0);
        let failed = walk.failed.iter().map(|(id, _)| *id).collect();
        (kept, failed)
    }

    #[test]
    fn walking_on_several_threads_finds_what_one_thread_finds() {
        let (a, b, v) = mixed_vault();
        for (who, readable) in [(&a, 15), (&b, 13)] {
            let (kept, failed) = walked(&v, who, 1);
            // 12 + 2 + 3 entries, one deleted, one damaged; bob: not the three a/4n.
            assert_eq!(kept.len(), readable, "{}", who.name);
            assert_eq!(failed.len(), 1, "{}", who.name);
            assert!(kept.iter().any(|e| e.3 == "b/1" && e.4 == "by bob"));
            assert_eq!(kept.iter().filter(|e| e.3 == "twin").count(), 2);
            for threads in [2, 3, 8, 64] {
                assert_eq!(walked(&v, who, threads), (kept.clone(), failed.clone()));
            }
        }
        // A group key that does not unwrap: every entry bob would open with it fails,
        // on one thread as on several.
        let mut v = v;
        let bob = v.member_named("bob").unwrap().id;
        let ops = v.group_named("ops").unwrap().key_id;
        let version = v.group_keys.get_mut(&ops).unwrap();
        let wrap = version.wraps.iter_mut().find(|w| w.member == bob).unwrap();
        wrap.sealed[0] ^= 1;
        let (kept, failed) = walked(&v, &b, 1);
        assert_eq!(kept.len(), 5); // a/1, a/9, b/0, b/1, b/2
        assert_eq!(failed.len(), 9); // a/5 and the eight wrapped to @ops
        for threads in [2, 3] {
            assert_eq!(walked(&v, &b, threads), (kept.clone(), failed.clone()));
        }
    }

    #[test]
    fn a_walk_reads_group_wraps_on_other_threads_and_leaves_the_rest_here() {
        let (a, b, v) = mixed_vault();
        // alice reads bob's entries through a public-key wrap, which needs their
        // signature, and bob reads direct shares with his identity: this thread's work.
        // a/5 is damaged: alice finds out on the other thread, bob on this one.
        let expected = [
            (
                &a,
                "a/0 a/1 a/10 a/11 a/2 a/3 a/6 a/7 a/8 a/9 twin twin",
                "b/0 b/1 b/2",
                1,
            ),
            (
                &b,
                "a/10 a/11 a/2 a/3 a/6 a/7 twin twin",
                "a/1 a/9 b/0 b/1 b/2",
                0,
            ),
        ];
        for (who, there, here, failed_there) in expected {
            let s = v.session(who).unwrap();
            let current = s.current_revisions();
            s.unwrap_group_keys(&current);
            let keys = s.group_keys.borrow();
            let reader = GroupReader {
                vault_id: v.id(),
                me: s.me.id,
                versions: &v.group_keys,
                keys: &keys,
            };
            let keep: &KeepFn<'_, String> = &|_, _, _, payload| Some(payload.path.clone());
            let share = reader.share(0, &current, keep);
            let mut kept = share.kept;
            kept.sort();
            assert_eq!(kept.join(" "), there, "{}", who.name);
            assert_eq!(share.failed.len(), failed_there, "{}", who.name);
            let mut deferred: Vec<String> = share
                .deferred
                .iter()
                .filter_map(|&pos| s.decrypt(current[pos].1, current[pos].2).ok().flatten())
                .map(|p| p.path.clone())
                .collect();
            deferred.sort();
            assert_eq!(deferred.join(" "), here, "{}", who.name);
        }
    }
}
