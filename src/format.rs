//! The on-disk vault format, version 1: types, canonical encoding and bounded decoding.
//!
//! `docs/format.md` is the normative description; section names there are cited in the
//! checks below. This module does no I/O and no cryptography beyond hashing record
//! bytes into ids: signatures, authority and decryption are judged in `vault`.
//!
//! Decoding treats its input as hostile: every count and length is checked against a
//! fixed ceiling and against the bytes actually present before anything is allocated,
//! every object must be in its one canonical encoding, and trailing bytes are rejected.

use std::collections::{BinaryHeap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::crypto::{self, RECORD_LABEL, SecretString};

pub mod segment;

/// First bytes of every vault file.
pub const VAULT_MAGIC: &[u8; 8] = b"AMANATVT";
/// The one format version this build reads and writes.
pub const FORMAT_VERSION: u8 = 1;

/// Ceiling on the number of records in one file.
pub const MAX_RECORDS: usize = 4_000_000;
/// Ceiling on the encoded size of one record.
pub const MAX_RECORD_LEN: usize = 2 * 1024 * 1024;
/// Ceiling on a record's parents.
pub const MAX_PARENTS: usize = 64;
/// Ceiling on wraps of one entry revision or one group key.
pub const MAX_WRAPS: usize = 10_000;
/// Ceiling on short names (member, group, team names).
pub const MAX_NAME_LEN: usize = 128;
/// Ceiling on an entry payload's plaintext (before padding).
pub const MAX_PAYLOAD_LEN: usize = 1024 * 1024;
/// Ceiling on entries' custom fields.
pub const MAX_FIELDS: usize = 256;
/// Ceiling on the ids listed in one record (group members, rotated entries).
pub const MAX_IDS: usize = 1_000_000;
/// Smallest padding bucket of an entry payload.
pub const MIN_BUCKET: usize = 256;
/// Smallest possible stored record: 1-byte length, 1-byte record, 64-byte signature.
const MIN_STORED_RECORD: usize = 1 + 1 + crypto::SIGNATURE_LEN;

/// Everything that can be wrong with the bytes of a vault file (or a payload inside it).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormatError {
    /// The input ended in the middle of an object.
    #[error("truncated file")]
    Truncated,
    /// The input does not start with the expected magic bytes.
    #[error("not an amanat vault file (bad magic)")]
    BadMagic,
    /// A format version this build does not read.
    #[error("unsupported format version {0} (this build reads version 1)")]
    UnsupportedVersion(u8),
    /// Bytes after the last object.
    #[error("trailing bytes after the last record")]
    TrailingBytes,
    /// A count or length above its ceiling, or larger than the bytes present.
    #[error("{0} exceeds its limit")]
    TooLarge(&'static str),
    /// An object that does not decode, or decodes to an invalid value.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// An object that is not in its one canonical encoding.
    #[error("non-canonical encoding of {0}")]
    NonCanonical(&'static str),
    /// A record names a parent that is not in the file before it.
    #[error("record names a missing parent")]
    MissingParent,
    /// The same record twice.
    #[error("duplicate record")]
    Duplicate,
    /// Records not in canonical replay order (see docs/format.md, "Record order").
    #[error("records are not in canonical order")]
    Order,
    /// The header's vault id is not the genesis record's id.
    #[error("vault id does not match the genesis record")]
    VaultIdMismatch,
}

// ---------------------------------------------------------------------------------------
// Identifiers

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident, $len:expr) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Lowercase hex of the id.
            pub fn to_hex(&self) -> String {
                hex_string(&self.0)
            }
            /// Parse lowercase or uppercase hex.
            pub fn from_hex(s: &str) -> Option<Self> {
                parse_hex(s).and_then(|v| v.try_into().ok()).map(Self)
            }
            /// A short form for humans (first 8 hex digits).
            pub fn short(&self) -> String {
                self.to_hex()[..8].to_string()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.short())
            }
        }
    };
}

id_type!(
    /// SHA-256 of a record's exact bytes under the label `amanat/v1/record`.
    RecordId,
    32
);

/// A record id is a SHA-256 output: its first 8 bytes are as good a key for the
/// (randomly keyed) hasher as all 32, at a quarter of the hashing, which dominated
/// loading a large vault. Equal ids hash equally; two ids sharing the first 8 bytes
/// only share a bucket, and finding such ids costs 2^64 hashes, so this adds no
/// collision attack.
impl std::hash::Hash for RecordId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(prefix));
    }
}

/// Member, group and entry ids are chosen by their creator (an entry's first 8 bytes
/// freely), so they are hashed whole.
macro_rules! whole_hash {
    ($($name:ident),*) => {$(
        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.0.hash(state);
            }
        }
    )*};
}
whole_hash!(MemberId, GroupId, EntryId);
id_type!(
    /// A member, chosen at random when they are added.
    MemberId,
    16
);
id_type!(
    /// A group, chosen at random when it is created.
    GroupId,
    16
);
id_type!(
    /// An entry, chosen at random when it is created; stable across revisions and renames.
    EntryId,
    16
);

/// The built-in `@admins` group: every admin belongs to it and it can read every entry.
pub const ADMINS_GROUP: GroupId = GroupId([0; 16]);

/// Lowercase hex of bytes.
pub fn hex_string(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Parse hex (either case).
pub fn parse_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Records

/// A record: one signed change to the vault (docs/format.md, "Record").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The DAG heads the author saw, strictly increasing; empty only for genesis.
    pub(crate) parents: Vec<RecordId>,
    /// Who wrote and signed it.
    pub(crate) author: MemberId,
    /// Seconds since the Unix epoch, as claimed by the author.
    pub(crate) time: u64,
    /// What it does.
    pub(crate) body: RecordBody,
}

impl Record {
    /// The DAG heads the author saw, strictly increasing; empty only for genesis.
    pub fn parents(&self) -> &[RecordId] {
        &self.parents
    }
    /// Who wrote and signed it.
    pub fn author(&self) -> MemberId {
        self.author
    }
    /// Seconds since the Unix epoch, as claimed by the author.
    pub fn time(&self) -> u64 {
        self.time
    }
    /// What it does.
    pub fn body(&self) -> &RecordBody {
        &self.body
    }
}

/// A member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// The vault's creator: an admin who cannot be removed or demoted.
    Owner,
    /// Administers the roster and can read every entry through `@admins`.
    Admin,
    /// Reads what is shared with them; writes where granted.
    Member,
}

impl Role {
    /// Owner or admin.
    pub fn is_admin(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
}

/// A member's two public keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeys {
    /// X25519, for HPKE wraps to this member.
    pub agreement: [u8; 32],
    /// Ed25519, for this member's signatures.
    pub signing: [u8; 32],
}

/// A key HPKE-wrapped to one member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberWrap {
    /// The recipient.
    pub(crate) member: MemberId,
    /// HPKE encapsulated key.
    pub(crate) enc: [u8; 32],
    /// The sealed key (32 bytes + 16-byte tag).
    #[serde(with = "serde_bytes")]
    pub(crate) sealed: Vec<u8>,
}

impl MemberWrap {
    /// The recipient.
    pub fn member(&self) -> MemberId {
        self.member
    }
    /// HPKE encapsulated key.
    pub fn enc(&self) -> &[u8; 32] {
        &self.enc
    }
    /// The sealed key (32 bytes + 16-byte tag).
    pub fn sealed(&self) -> &[u8] {
        &self.sealed
    }
}

/// A new group key and its distribution (docs/format.md, "Group keys"). The key's id
/// is the id of the record that carries this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupKeyUpdate {
    /// The group (or [`ADMINS_GROUP`]).
    pub(crate) group: GroupId,
    /// Commitment to the new key.
    pub(crate) commitment: [u8; 32],
    /// The group's X25519 public key for this key version, derived from the group key
    /// (docs/format.md, "Group keys"): anyone can HPKE-wrap an entry key to the group;
    /// only holders of the group key can unwrap.
    pub(crate) public: [u8; 32],
    /// The key wrapped to every member of the group and every admin.
    pub(crate) wraps: Vec<MemberWrap>,
}

impl GroupKeyUpdate {
    /// The group (or [`ADMINS_GROUP`]).
    pub fn group(&self) -> GroupId {
        self.group
    }
    /// Commitment to the new key.
    pub fn commitment(&self) -> &[u8; 32] {
        &self.commitment
    }
    /// The group's X25519 public key for this key version.
    pub fn public(&self) -> &[u8; 32] {
        &self.public
    }
    /// The key wrapped to every member of the group and every admin.
    pub fn wraps(&self) -> &[MemberWrap] {
        &self.wraps
    }
}

/// Genesis: creates the vault and names its owner. Its id is the vault id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// The team's name.
    pub(crate) team: String,
    /// The owner's member id (also the record's author).
    pub(crate) owner: MemberId,
    /// The owner's display name.
    pub(crate) owner_name: String,
    /// The owner's keys; genesis is signed by `owner_keys.signing`.
    pub(crate) owner_keys: PublicKeys,
    /// Random bytes, so two vaults with the same owner and team differ.
    pub(crate) nonce: [u8; 16],
}

impl Genesis {
    /// The team's name.
    pub fn team(&self) -> &str {
        &self.team
    }
    /// The owner's member id (also the record's author).
    pub fn owner(&self) -> MemberId {
        self.owner
    }
    /// The owner's display name.
    pub fn owner_name(&self) -> &str {
        &self.owner_name
    }
    /// The owner's keys.
    pub fn owner_keys(&self) -> &PublicKeys {
        &self.owner_keys
    }
    /// The random nonce.
    pub fn nonce(&self) -> &[u8; 16] {
        &self.nonce
    }
}

/// Adds a member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddMember {
    /// The new member's id.
    pub(crate) member: MemberId,
    /// Display name, unique among current members.
    pub(crate) name: String,
    /// The keys the admin verified by fingerprint.
    pub(crate) keys: PublicKeys,
    /// `Admin` or `Member` (never `Owner`).
    pub(crate) role: Role,
    /// For an admin: the current `@admins` key wrapped to them.
    pub(crate) admin_wrap: Option<MemberWrap>,
}

impl AddMember {
    /// The new member's id.
    pub fn member(&self) -> MemberId {
        self.member
    }
    /// Display name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The keys the admin verified by fingerprint.
    pub fn keys(&self) -> &PublicKeys {
        &self.keys
    }
    /// `Admin` or `Member`.
    pub fn role(&self) -> Role {
        self.role
    }
    /// For an admin: the current `@admins` key wrapped to them.
    pub fn admin_wrap(&self) -> Option<&MemberWrap> {
        self.admin_wrap.as_ref()
    }
}

/// A signed record body (docs/format.md, "Record bodies"). The variant order is part of
/// the format: postcard stores the variant index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordBody {
    /// 0: the first record.
    Genesis(Genesis),
    /// 1: a member joins.
    AddMember(AddMember),
    /// 2: a member is removed (revocation; followed by rotations in the same write).
    RemoveMember {
        /// Who.
        member: MemberId,
    },
    /// 3: a member's role changes; a promotion carries the `@admins` key.
    ChangeRole {
        /// Who.
        member: MemberId,
        /// The new role (`Admin` or `Member`).
        role: Role,
        /// For a promotion, the `@admins` key wrapped to them.
        admin_wrap: Option<MemberWrap>,
    },
    /// 4: a member's keys change: by the member (signed with their current key) or by
    /// a strictly higher rank (a lost key replaced).
    ChangeMemberKeys {
        /// Who.
        member: MemberId,
        /// The new keys.
        keys: PublicKeys,
        /// The new signing key's signature over the new keys (proof of possession,
        /// label `amanat/v1/key-change`).
        new_key_signature: Vec<u8>,
    },
    /// 5: a group is created with its members and first key.
    CreateGroup {
        /// Unique name (without the `@`).
        name: String,
        /// Initial members.
        members: Vec<MemberId>,
        /// The first key, wrapped to members and admins.
        key: GroupKeyUpdate,
    },
    /// 6: a member joins a group and receives its current key.
    AddGroupMember {
        /// The group.
        group: GroupId,
        /// Who.
        member: MemberId,
        /// The current key wrapped to them.
        wrap: MemberWrap,
    },
    /// 7: a member leaves a group; the key rotates in the same record.
    RemoveGroupMember {
        /// The group.
        group: GroupId,
        /// Who.
        member: MemberId,
        /// The new key for the remaining members.
        key: GroupKeyUpdate,
    },
    /// 8: a group key (or the `@admins` key) is created or rotated.
    RotateGroupKey(GroupKeyUpdate),
    /// 9: an entry revision (create, update, rename, share, tombstone).
    EntryRevision(EntryRevision),
    /// 10: an audit event that is not itself a change (e.g. a secret was read).
    Event(AuditEvent),
    /// 11: revocation bookkeeping: the entries a removed member could read.
    RotateAtSource {
        /// The removed member.
        member: MemberId,
        /// Entries they could read.
        entries: Vec<EntryId>,
    },
    /// 12: the owner offers ownership to an admin (`member role NAME owner`).
    OfferOwnership {
        /// The nominee.
        member: MemberId,
    },
    /// 13: the nominee accepts an offer (`member accept-ownership`): they become the
    /// owner, the old owner an admin.
    AcceptOwnership {
        /// The offer record.
        offer: RecordId,
    },
    /// 14: the owner withdraws an offer.
    WithdrawOwnership {
        /// The offer record.
        offer: RecordId,
    },
}

impl RecordBody {
    /// Stable kind number (the postcard variant index), bound into associated data.
    pub fn kind(&self) -> u8 {
        match self {
            RecordBody::Genesis(_) => 0,
            RecordBody::AddMember(_) => 1,
            RecordBody::RemoveMember { .. } => 2,
            RecordBody::ChangeRole { .. } => 3,
            RecordBody::ChangeMemberKeys { .. } => 4,
            RecordBody::CreateGroup { .. } => 5,
            RecordBody::AddGroupMember { .. } => 6,
            RecordBody::RemoveGroupMember { .. } => 7,
            RecordBody::RotateGroupKey(_) => 8,
            RecordBody::EntryRevision(_) => 9,
            RecordBody::Event(_) => 10,
            RecordBody::RotateAtSource { .. } => 11,
            RecordBody::OfferOwnership { .. } => 12,
            RecordBody::AcceptOwnership { .. } => 13,
            RecordBody::WithdrawOwnership { .. } => 14,
        }
    }
    /// Whether this is a roster record (needs an admin author).
    pub fn is_roster(&self) -> bool {
        !matches!(self, RecordBody::EntryRevision(_) | RecordBody::Event(_))
    }
}

/// An audit event (docs/format.md, "Events").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "WireEvent", into = "WireEvent")]
pub struct AuditEvent {
    /// What happened.
    pub(crate) kind: EventKind,
    /// The entry concerned, if any.
    pub(crate) entry: Option<EntryId>,
    /// The reviewer's note: only on a `Reviewed` event (wire kind 5), 1 to
    /// [`MAX_NOTE_LEN`] bytes without control characters.
    pub(crate) note: Option<String>,
}

/// The most bytes in a review note.
pub const MAX_NOTE_LEN: usize = 1000;

/// An event as encoded: the kind's variant index, the entry, and for kind 5 (a review
/// with a note, issue 13) the note. Kinds 0–4 encode exactly as they did before notes.
#[derive(Clone, Serialize, Deserialize)]
enum WireEvent {
    Reviewed(Option<EntryId>),
    RotatedAtSource(Option<EntryId>),
    Merged(Option<EntryId>),
    Heartbeat(Option<EntryId>),
    Exported(Option<EntryId>),
    ReviewedWithNote(Option<EntryId>, String),
}

impl From<WireEvent> for AuditEvent {
    fn from(w: WireEvent) -> Self {
        let (kind, entry, note) = match w {
            WireEvent::Reviewed(e) => (EventKind::Reviewed, e, None),
            WireEvent::RotatedAtSource(e) => (EventKind::RotatedAtSource, e, None),
            WireEvent::Merged(e) => (EventKind::Merged, e, None),
            WireEvent::Heartbeat(e) => (EventKind::Heartbeat, e, None),
            WireEvent::Exported(e) => (EventKind::Exported, e, None),
            WireEvent::ReviewedWithNote(e, n) => (EventKind::Reviewed, e, Some(n)),
        };
        Self { kind, entry, note }
    }
}

impl From<AuditEvent> for WireEvent {
    fn from(a: AuditEvent) -> Self {
        let e = a.entry;
        match (a.kind, a.note) {
            (EventKind::Reviewed, Some(n)) => WireEvent::ReviewedWithNote(e, n),
            (EventKind::Reviewed, None) => WireEvent::Reviewed(e),
            // A note on another kind is not representable; the constructors never make one.
            (EventKind::RotatedAtSource, _) => WireEvent::RotatedAtSource(e),
            (EventKind::Merged, _) => WireEvent::Merged(e),
            (EventKind::Heartbeat, _) => WireEvent::Heartbeat(e),
            (EventKind::Exported, _) => WireEvent::Exported(e),
        }
    }
}

impl AuditEvent {
    /// What happened.
    pub fn kind(&self) -> EventKind {
        self.kind
    }
    /// The entry concerned, if any.
    pub fn entry(&self) -> Option<EntryId> {
        self.entry
    }
    /// The reviewer's note of a `Reviewed` event, if any.
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }
}

/// Kinds of audit events that are not already records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// An access review was completed.
    Reviewed,
    /// A credential was confirmed changed at its source.
    RotatedAtSource,
    /// Nothing but a merge: more DAG heads than one record may name as parents
    /// ([`MAX_PARENTS`]) are merged over several records.
    Merged,
    /// An admin's proof of life (at most daily), so that a copy whose newest heartbeat
    /// is old can tell it may be stale (withheld records; SECURITY.md item 15).
    Heartbeat,
    /// Its author exported every entry they could read in plain text (`amanat export`).
    Exported,
}

impl AuditEvent {
    /// An event of `kind` about `entry` (or none), to append as a record.
    pub fn new(kind: EventKind, entry: Option<EntryId>) -> Self {
        Self {
            kind,
            entry,
            note: None,
        }
    }
    /// A review of `entry` (or of the whole vault), with an optional note; an empty
    /// note is none.
    pub fn reviewed(entry: Option<EntryId>, note: Option<String>) -> Self {
        Self {
            kind: EventKind::Reviewed,
            entry,
            note: note.filter(|n| !n.is_empty()),
        }
    }
}

/// One revision of an entry (docs/format.md, "Entry revisions").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRevision {
    /// The entry.
    pub(crate) entry: EntryId,
    /// The revision this one supersedes; `None` for a new entry.
    pub(crate) prev: Option<RecordId>,
    /// The sealed payload, or a tombstone.
    pub(crate) content: EntryContent,
}

impl EntryRevision {
    /// The entry.
    pub fn entry(&self) -> EntryId {
        self.entry
    }
    /// The revision this one supersedes; `None` for a new entry.
    pub fn prev(&self) -> Option<RecordId> {
        self.prev
    }
    /// The sealed payload, or a tombstone.
    pub fn content(&self) -> &EntryContent {
        &self.content
    }
}

/// An entry revision's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryContent {
    /// 0: the entry exists.
    Sealed(SealedEntry),
    /// 1: the entry was deleted.
    Tombstone,
}

/// The encrypted payload of a revision and the wraps of its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedEntry {
    /// Who may read: the principals the entry key is wrapped to, in clear and signed
    /// (access is never inferred from the wraps). Sorted, no duplicates; `@admins` is
    /// always one of them.
    pub(crate) readers: Vec<Principal>,
    /// Who may write besides admins: members and groups, in clear and signed, so that
    /// anyone can check a revision's write right without decrypting (docs/format.md,
    /// "Write rights"). Sorted, no duplicates. Only an admin changes this list.
    pub(crate) writers: Vec<Principal>,
    /// Commitment to the entry key.
    pub(crate) commitment: [u8; 32],
    /// The entry key wrapped to each principal that may read it.
    pub(crate) wraps: Vec<KeyWrap>,
    /// XChaCha20-Poly1305 nonce.
    pub(crate) nonce: [u8; 24],
    /// The padded payload, encrypted.
    #[serde(with = "serde_bytes")]
    pub(crate) ciphertext: Vec<u8>,
}

impl SealedEntry {
    /// Who may read (sorted, no duplicates).
    pub fn readers(&self) -> &[Principal] {
        &self.readers
    }
    /// Who may write besides admins (sorted, no duplicates).
    pub fn writers(&self) -> &[Principal] {
        &self.writers
    }
    /// Commitment to the entry key.
    pub fn commitment(&self) -> &[u8; 32] {
        &self.commitment
    }
    /// The entry key wrapped to each principal that may read it.
    pub fn wraps(&self) -> &[KeyWrap] {
        &self.wraps
    }
    /// XChaCha20-Poly1305 nonce.
    pub fn nonce(&self) -> &[u8; 24] {
        &self.nonce
    }
    /// The padded payload, encrypted.
    pub fn ciphertext(&self) -> &[u8] {
        &self.ciphertext
    }
}

/// An entry key wrapped to one principal.
///
/// Group wraps name only the key version (`key_id`): the record that created or
/// rotated that key records its group (docs/format.md, "Entry revisions"), so the
/// group is not stored twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyWrap {
    /// 0: HPKE to a member (a direct share).
    Member(MemberWrap),
    /// 1: sealed under a group key (or the `@admins` key) by a writer who holds it.
    Group {
        /// The group key's id (the record that created or rotated it).
        key_id: RecordId,
        /// XChaCha20-Poly1305 nonce.
        nonce: [u8; 24],
        /// The sealed entry key (32 bytes + 16-byte tag).
        #[serde(with = "byte_array")]
        sealed: [u8; crypto::SEALED_KEY_LEN],
    },
    /// 2: HPKE-wrapped to a group key version's public key, by a writer who does not
    /// hold the group key (a member writing an entry wraps to `@admins` this way).
    GroupPublic {
        /// The group key version's id.
        key_id: RecordId,
        /// HPKE encapsulated key.
        enc: [u8; 32],
        /// The sealed entry key (32 bytes + 16-byte tag).
        #[serde(with = "byte_array")]
        sealed: [u8; crypto::SEALED_KEY_LEN],
    },
}

impl KeyWrap {
    /// The key version of a group wrap (either kind); its group is recorded by the
    /// record with that id (`Vault::key_group`).
    pub fn key_id(&self) -> Option<RecordId> {
        match self {
            KeyWrap::Member(_) => None,
            KeyWrap::Group { key_id, .. } | KeyWrap::GroupPublic { key_id, .. } => Some(*key_id),
        }
    }
}

/// Serde for byte arrays longer than 32 (serde's own impls stop there), in the wire
/// form of the shorter ones: a tuple, which postcard writes as the bytes without a
/// length.
mod byte_array {
    use std::fmt;

    use serde::de::{self, SeqAccess, Visitor};
    use serde::ser::SerializeTuple;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer, const N: usize>(
        bytes: &[u8; N],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(N)?;
        for b in bytes {
            tuple.serialize_element(b)?;
        }
        tuple.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        deserializer: D,
    ) -> Result<[u8; N], D::Error> {
        struct ArrayVisitor<const N: usize>;
        impl<'de, const N: usize> Visitor<'de> for ArrayVisitor<N> {
            type Value = [u8; N];
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{N} bytes")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<[u8; N], A::Error> {
                let mut out = [0u8; N];
                for (i, b) in out.iter_mut().enumerate() {
                    *b = seq
                        .next_element()?
                        .ok_or_else(|| de::Error::invalid_length(i, &self))?;
                }
                Ok(out)
            }
        }
        deserializer.deserialize_tuple(N, ArrayVisitor::<N>)
    }
}

// ---------------------------------------------------------------------------------------
// Entry payloads (plaintext, inside the encryption)

/// Who may read or write: a member or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Zeroize)]
pub enum Principal {
    /// A member.
    Member(#[zeroize(skip)] MemberId),
    /// A group.
    Group(#[zeroize(skip)] GroupId),
}

/// A custom field.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct CustomField {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: SecretString,
    /// Whether the value is secret (masked by `show`, refused on a terminal by `get`).
    pub secret: bool,
}

impl fmt::Debug for CustomField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomField").finish_non_exhaustive()
    }
}

/// Everything about an entry, encrypted as one ciphertext (docs/format.md, "Payload").
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct EntryPayload {
    /// Slash-separated path, e.g. `web/github`.
    pub path: String,
    /// Login name.
    pub username: String,
    /// The password.
    pub password: SecretString,
    /// Where it is used.
    pub url: String,
    /// Free text.
    pub notes: String,
    /// Custom fields.
    pub fields: Vec<CustomField>,
    /// An `otpauth://` URI.
    pub totp: Option<SecretString>,
    /// Principals besides admins who may write new revisions. Not part of the
    /// encrypted payload: stored in clear as the revision's `writers` (and filled from
    /// there when a revision is opened).
    #[serde(skip)]
    pub write_grants: Vec<Principal>,
    /// Set by revocation: the password must be changed where it is used.
    pub rotate_at_source: bool,
    /// Creation time (seconds since the epoch).
    pub created: u64,
    /// Last modification time.
    pub modified: u64,
    /// Last time the password changed.
    pub password_changed: u64,
    /// Set by revocation when the entry has a TOTP seed: the seed must be enrolled
    /// anew where it is used (whoever read it can make codes forever). Encoded as one
    /// byte after the postcard body, only when set (docs/format.md, "Payload"), so a
    /// payload without it is what earlier versions wrote.
    #[serde(skip)]
    pub rotate_totp_at_source: bool,
}

impl EntryPayload {
    /// A new password (it changed now): it no longer needs changing at its source.
    pub fn set_password(&mut self, password: SecretString, time: u64) {
        self.password = password;
        self.password_changed = time;
        self.rotate_at_source = false;
    }

    /// A new TOTP seed (enrolled anew): it no longer needs enrolling at its source.
    pub fn set_totp(&mut self, totp: SecretString) {
        self.totp = Some(totp);
        self.rotate_totp_at_source = false;
    }

    /// Someone who should not know them may have read this entry's secrets: the
    /// password, and the TOTP seed if there is one, must change where they are used.
    pub fn flag_rotate_at_source(&mut self) {
        self.rotate_at_source = true;
        self.rotate_totp_at_source = self.totp.is_some();
    }

    /// What still has to change at its source: `"password"`, `"TOTP seed"`,
    /// `"password and TOTP seed"`, or `None`.
    pub fn to_rotate_at_source(&self) -> Option<&'static str> {
        match (self.rotate_at_source, self.rotate_totp_at_source) {
            (true, true) => Some("password and TOTP seed"),
            (true, false) => Some("password"),
            (false, true) => Some("TOTP seed"),
            (false, false) => None,
        }
    }
}

impl fmt::Debug for EntryPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntryPayload").finish_non_exhaustive()
    }
}

/// The padding bucket for a plaintext of `len` bytes: the next power of two from 256
/// bytes up to 64 KiB, then the next multiple of 64 KiB.
pub fn bucket(len: usize) -> usize {
    const STEP: usize = 64 * 1024;
    if len <= STEP {
        len.next_power_of_two().max(MIN_BUCKET)
    } else {
        len.div_ceil(STEP) * STEP
    }
}

impl EntryPayload {
    /// Encode and pad: `u32 LE length || postcard(payload) || zeros` to the bucket size.
    pub fn to_padded(&self) -> Result<zeroize::Zeroizing<Vec<u8>>, FormatError> {
        // Refuse to write what readers would refuse to read.
        if self.fields.len() > MAX_FIELDS {
            return Err(FormatError::TooLarge("custom fields"));
        }
        let mut body = zeroize::Zeroizing::new(
            postcard::to_allocvec(self).map_err(|_| FormatError::Malformed("entry payload"))?,
        );
        if self.rotate_totp_at_source {
            body.push(1);
        }
        if body.len() > MAX_PAYLOAD_LEN {
            return Err(FormatError::TooLarge("entry payload"));
        }
        let total = bucket(body.len() + 4);
        let mut out = zeroize::Zeroizing::new(Vec::with_capacity(total));
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out.resize(total, 0);
        Ok(out)
    }

    /// Decode a padded payload; the padding must be zeros to exactly the bucket size.
    pub fn from_padded(padded: &[u8]) -> Result<Self, FormatError> {
        let (len, rest) = padded
            .split_first_chunk::<4>()
            .ok_or(FormatError::Truncated)?;
        let len = u32::from_le_bytes(*len) as usize;
        if len > MAX_PAYLOAD_LEN || len > rest.len() {
            return Err(FormatError::TooLarge("entry payload"));
        }
        if padded.len() != bucket(len + 4) || rest[len..].iter().any(|b| *b != 0) {
            return Err(FormatError::NonCanonical("payload padding"));
        }
        let body = &rest[..len];
        let (mut payload, flags): (EntryPayload, &[u8]) =
            postcard::take_from_bytes(body).map_err(|_| FormatError::Malformed("entry payload"))?;
        // After the body: nothing, or the one byte 0x01 (the TOTP seed must be enrolled
        // anew); a zero byte would be a second encoding of "not set".
        payload.rotate_totp_at_source = match flags {
            [] => false,
            [1] => true,
            _ => return Err(FormatError::Malformed("entry payload")),
        };
        let body = &body[..body.len() - flags.len()];
        // Canonical: the re-encoding must be the bytes we were given.
        let again = zeroize::Zeroizing::new(
            postcard::to_allocvec(&payload).map_err(|_| FormatError::Malformed("entry payload"))?,
        );
        if again.as_slice() != body {
            return Err(FormatError::NonCanonical("entry payload"));
        }
        if payload.fields.len() > MAX_FIELDS {
            return Err(FormatError::TooLarge("custom fields"));
        }
        Ok(payload)
    }
}

// ---------------------------------------------------------------------------------------
// Associated data and HPKE info (docs/format.md, "Binding ciphertexts to their place")

fn place(label: &str, vault: &RecordId, parts: &[&[u8]]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(label.len() + 40 + parts.iter().map(|p| p.len()).sum::<usize>());
    out.extend_from_slice(label.as_bytes());
    out.push(0);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&vault.0);
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

fn prev_bytes(prev: Option<&RecordId>) -> [u8; 33] {
    let mut out = [0u8; 33];
    if let Some(p) = prev {
        out[0] = 1;
        out[1..].copy_from_slice(&p.0);
    }
    out
}

/// Associated data of an entry payload.
pub fn entry_payload_aad(
    vault: &RecordId,
    entry: &EntryId,
    prev: Option<&RecordId>,
    commitment: &[u8; 32],
) -> Vec<u8> {
    place(
        "amanat/v1/entry-payload",
        vault,
        &[&[9], &entry.0, &prev_bytes(prev), commitment],
    )
}

/// HPKE `info` of an entry key wrapped directly to a member.
pub fn entry_member_wrap_info(
    vault: &RecordId,
    member: &MemberId,
    entry: &EntryId,
    prev: Option<&RecordId>,
    commitment: &[u8; 32],
) -> Vec<u8> {
    place(
        "amanat/v1/entry-wrap-member",
        vault,
        &[&member.0, &entry.0, &prev_bytes(prev), commitment],
    )
}

/// Associated data of an entry key sealed under a group key.
pub fn entry_group_wrap_aad(
    vault: &RecordId,
    group: &GroupId,
    key_id: &RecordId,
    entry: &EntryId,
    prev: Option<&RecordId>,
    commitment: &[u8; 32],
) -> Vec<u8> {
    place(
        "amanat/v1/entry-wrap-group",
        vault,
        &[&group.0, &key_id.0, &entry.0, &prev_bytes(prev), commitment],
    )
}

/// HPKE `info` of an entry key wrapped to a group key version's public key.
pub fn entry_group_public_wrap_info(
    vault: &RecordId,
    group: &GroupId,
    key_id: &RecordId,
    entry: &EntryId,
    prev: Option<&RecordId>,
    commitment: &[u8; 32],
) -> Vec<u8> {
    place(
        "amanat/v1/entry-wrap-group-public",
        vault,
        &[&group.0, &key_id.0, &entry.0, &prev_bytes(prev), commitment],
    )
}

/// HPKE `info` of a group key wrapped to a member. The group key's id is the record
/// that carries the wrap, so the wrap binds the record's parents instead, plus the
/// key's commitment.
pub fn group_key_wrap_info(
    vault: &RecordId,
    member: &MemberId,
    group: &GroupId,
    commitment: &[u8; 32],
) -> Vec<u8> {
    place(
        "amanat/v1/group-key-wrap",
        vault,
        &[&member.0, &group.0, commitment],
    )
}

// ---------------------------------------------------------------------------------------
// The file

/// A record as stored: its exact bytes, the decoded record, its signature and id.
///
/// Only this crate builds one (by decoding a file, or by signing a record it encoded),
/// so `id` is always the hash of `bytes` and `record` their decoding. Tests that need
/// crafted records use the test-only `forge` feature (`src/forge.rs`).
#[derive(Debug, Clone)]
pub struct StoredRecord {
    /// The exact encoded bytes (what is hashed and signed).
    pub(crate) bytes: Vec<u8>,
    /// The decoded record.
    pub(crate) record: Record,
    /// Ed25519 signature over `amanat/v1/record-signature || 0 || bytes`.
    pub(crate) signature: [u8; 64],
    /// `labeled_hash("amanat/v1/record", bytes)`.
    pub(crate) id: RecordId,
}

impl StoredRecord {
    /// `labeled_hash("amanat/v1/record", bytes)`.
    pub fn id(&self) -> &RecordId {
        &self.id
    }
    /// The decoded record.
    pub fn record(&self) -> &Record {
        &self.record
    }
    /// The exact encoded bytes (what is hashed and signed).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// The Ed25519 signature over `amanat/v1/record-signature || 0 || bytes`.
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }

    /// Encode a record (canonical by construction) and compute its id; the caller signs.
    pub fn encode(record: Record) -> Result<(Vec<u8>, RecordId), FormatError> {
        let bytes = postcard::to_allocvec(&record).map_err(|_| FormatError::Malformed("record"))?;
        if bytes.len() > MAX_RECORD_LEN {
            return Err(FormatError::TooLarge("record"));
        }
        let id = record_id(&bytes);
        Ok((bytes, id))
    }
}

/// The container header (magic, version, vault id, record count): the count is at
/// least 1 (`empty` names the error otherwise) and never more than the bytes left can
/// hold, so it cannot drive an allocation larger than the input.
fn read_header(rd: &mut Reader<'_>, empty: &'static str) -> Result<(RecordId, usize), FormatError> {
    if rd.take(8).map_err(|_| FormatError::BadMagic)? != VAULT_MAGIC {
        return Err(FormatError::BadMagic);
    }
    let version = rd.take(1)?[0];
    if version != FORMAT_VERSION {
        return Err(FormatError::UnsupportedVersion(version));
    }
    let vault_id = RecordId(rd.array()?);
    let count = rd.varint()?;
    if count == 0 {
        return Err(FormatError::Malformed(empty));
    }
    if count > MAX_RECORDS || count > rd.rest.len() / MIN_STORED_RECORD {
        return Err(FormatError::TooLarge("record count"));
    }
    Ok((vault_id, count))
}

/// One stored record of the container: length, canonical record bytes, signature; its
/// id computed from the bytes.
fn read_stored(rd: &mut Reader<'_>) -> Result<StoredRecord, FormatError> {
    let len = rd.varint()?;
    if len > MAX_RECORD_LEN {
        return Err(FormatError::TooLarge("record"));
    }
    let raw = rd.take(len)?;
    let signature = rd.array::<64>()?;
    let record = decode_record(raw)?;
    Ok(StoredRecord {
        bytes: raw.to_vec(),
        id: record_id(raw),
        record,
        signature,
    })
}

/// The id of a record's bytes.
pub fn record_id(bytes: &[u8]) -> RecordId {
    RecordId(crypto::labeled_hash(RECORD_LABEL, &[bytes]))
}

/// A decoded vault file: the vault id and the records in canonical order.
#[derive(Debug, Clone)]
pub struct VaultFile {
    /// The genesis record's id.
    pub(crate) vault_id: RecordId,
    /// All records, genesis first, in canonical replay order.
    pub(crate) records: Vec<StoredRecord>,
}

impl VaultFile {
    /// The genesis record's id.
    pub fn vault_id(&self) -> RecordId {
        self.vault_id
    }
    /// All records, genesis first, in canonical replay order.
    pub fn records(&self) -> &[StoredRecord] {
        &self.records
    }
}

/// A cursor over untrusted bytes.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        if n > self.rest.len() {
            return Err(FormatError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }
    /// A canonical LEB128 varint of at most 32 bits (as postcard writes them).
    fn varint(&mut self) -> Result<usize, FormatError> {
        let mut value: u64 = 0;
        for i in 0..5 {
            let b = self.take(1)?[0];
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if i > 0 && b == 0 {
                    return Err(FormatError::NonCanonical("length"));
                }
                return usize::try_from(value).map_err(|_| FormatError::TooLarge("length"));
            }
        }
        Err(FormatError::TooLarge("length"))
    }
}

fn write_varint(out: &mut Vec<u8>, mut v: usize) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The vault id in a vault file's header, without decoding the rest.
pub fn peek_vault_id(bytes: &[u8]) -> Option<RecordId> {
    let header = bytes.get(..VAULT_MAGIC.len() + 1 + 32)?;
    if &header[..VAULT_MAGIC.len()] != VAULT_MAGIC {
        return None;
    }
    header[VAULT_MAGIC.len() + 1..]
        .try_into()
        .ok()
        .map(RecordId)
}

impl VaultFile {
    /// Encode: `magic || version || vault id || varint count || (varint len || record
    /// || signature)*`.
    pub fn encode(&self) -> Vec<u8> {
        let size: usize = 8
            + 1
            + 32
            + 5
            + self
                .records
                .iter()
                .map(|r| r.bytes.len() + 70)
                .sum::<usize>();
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(VAULT_MAGIC);
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&self.vault_id.0);
        write_varint(&mut out, self.records.len());
        for r in &self.records {
            write_varint(&mut out, r.bytes.len());
            out.extend_from_slice(&r.bytes);
            out.extend_from_slice(&r.signature);
        }
        out
    }

    /// Decode and check structure (not signatures or authority: see `vault`).
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        Self::decode_indexed(bytes).map(|(file, _)| file)
    }

    /// [`Self::decode`], also returning the map from record id to position in the file
    /// that the checks built (replay needs the same map).
    pub fn decode_indexed(bytes: &[u8]) -> Result<(Self, HashMap<RecordId, usize>), FormatError> {
        let mut rd = Reader { rest: bytes };
        let (vault_id, count) = read_header(&mut rd, "vault without a genesis record")?;
        let mut records: Vec<StoredRecord> = Vec::with_capacity(count);
        let mut index: HashMap<RecordId, usize> = HashMap::with_capacity(count);
        for i in 0..count {
            let StoredRecord {
                bytes: raw,
                record,
                signature,
                id,
            } = read_stored(&mut rd)?;
            if index.insert(id, i).is_some() {
                return Err(FormatError::Duplicate);
            }
            check_record_shape(&record, i)?;
            for p in &record.parents {
                // Usually the record just before (a linear history): no lookup. The
                // index holds this record too, which cannot be its own parent.
                let earlier = match records.last() {
                    Some(prev) if prev.id == *p => true,
                    _ => index.get(p).is_some_and(|&j| j != i),
                };
                if !earlier {
                    return Err(FormatError::MissingParent);
                }
            }
            records.push(StoredRecord {
                bytes: raw,
                record,
                signature,
                id,
            });
        }
        if !rd.rest.is_empty() {
            return Err(FormatError::TrailingBytes);
        }
        if records[0].id != vault_id {
            return Err(FormatError::VaultIdMismatch);
        }
        check_canonical_order(&records, &index)?;
        Ok((Self { vault_id, records }, index))
    }

    /// The DAG heads: records that are no record's parent, in id order.
    pub fn heads(&self) -> Vec<RecordId> {
        let mut is_parent: HashMap<RecordId, ()> = HashMap::with_capacity(self.records.len());
        for r in &self.records {
            for p in &r.record.parents {
                is_parent.insert(*p, ());
            }
        }
        let mut heads: Vec<RecordId> = self
            .records
            .iter()
            .filter(|r| !is_parent.contains_key(&r.id))
            .map(|r| r.id)
            .collect();
        heads.sort();
        heads
    }

    /// Append records (already signed, parents in this file) and restore canonical order.
    pub fn append(&mut self, new: Vec<StoredRecord>) {
        self.records.extend(new);
        self.records = canonical_order(std::mem::take(&mut self.records));
    }
}

/// Decode one record canonically with no trailing bytes (docs/format.md,
/// "Conventions"; "Vault file", rule 4).
///
/// A parser of postcard's wire format for [`Record`], written out so that the canonical
/// check costs nothing: postcard's own decoder reads overlong varints, so refusing them
/// meant re-encoding the record and comparing. This parser accepts exactly what
/// postcard decodes and reports the same error for the rest, in the same order (a
/// property test in `tests/proptest_format.rs` and the unit tests below compare it with
/// postcard): what does not decode is `Malformed`, then bytes after the record are
/// `TrailingBytes`, then a varint that is not in its shortest form — the only
/// non-canonical encoding postcard reads, every other field having one encoding — is
/// `NonCanonical`. Every count is checked against the bytes left before anything is
/// allocated.
pub fn decode_record(raw: &[u8]) -> Result<Record, FormatError> {
    let mut p = RecordParser {
        rd: Reader { rest: raw },
        overlong: false,
    };
    let record = p.record()?;
    if !p.rd.rest.is_empty() {
        return Err(FormatError::TrailingBytes);
    }
    if p.overlong {
        return Err(FormatError::NonCanonical("record"));
    }
    Ok(record)
}

/// The error of bytes that do not decode as a record.
const MALFORMED_RECORD: FormatError = FormatError::Malformed("record");

/// Smallest encodings, which bound a list's count by the bytes left.
const MIN_MEMBER_WRAP: usize = 16 + 32 + 1;
const MIN_KEY_WRAP: usize = 1 + MIN_MEMBER_WRAP;

/// postcard's varint limits (its `varint_max` and `max_of_last_byte`): a `u32` takes
/// at most 5 bytes, the last at most `0x0f`; a `u64` (and a length, a `usize` on the
/// 64-bit targets amanat supports) at most 10 bytes, the last at most `0x01`.
const U32_VARINT: (usize, u8) = (5, 0x0f);
const U64_VARINT: (usize, u8) = (10, 0x01);

/// Reads postcard's encoding of [`Record`] and the types inside it, field by field in
/// declaration order (docs/format.md, "Record bodies" and "Entry revisions").
struct RecordParser<'a> {
    rd: Reader<'a>,
    /// A varint was longer than its shortest form: postcard reads it, the record is
    /// then refused as non-canonical once it has been read to the end.
    overlong: bool,
}

impl<'a> RecordParser<'a> {
    fn bytes(&mut self) -> Result<&'a [u8], FormatError> {
        let len = self.len()?;
        self.rd.take(len).map_err(|_| MALFORMED_RECORD)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        self.rd.array().map_err(|_| MALFORMED_RECORD)
    }
    fn byte(&mut self) -> Result<u8, FormatError> {
        let (&b, rest) = self.rd.rest.split_first().ok_or(MALFORMED_RECORD)?;
        self.rd.rest = rest;
        Ok(b)
    }
    /// LEB128 as postcard reads it: at most `max_len` bytes, the last at most
    /// `max_last`. A zero last byte after the first is an overlong form.
    fn varint(&mut self, (max_len, max_last): (usize, u8)) -> Result<u64, FormatError> {
        let mut value = 0u64;
        for i in 0..max_len {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if i == max_len - 1 && b > max_last {
                    return Err(MALFORMED_RECORD);
                }
                if i > 0 && b == 0 {
                    self.overlong = true;
                }
                return Ok(value);
            }
        }
        Err(MALFORMED_RECORD)
    }
    fn len(&mut self) -> Result<usize, FormatError> {
        usize::try_from(self.varint(U64_VARINT)?).map_err(|_| MALFORMED_RECORD)
    }
    fn variant(&mut self) -> Result<u64, FormatError> {
        self.varint(U32_VARINT)
    }
    fn bool(&mut self) -> Result<bool, FormatError> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(MALFORMED_RECORD),
        }
    }
    fn string(&mut self) -> Result<String, FormatError> {
        let bytes = self.bytes()?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| MALFORMED_RECORD)
    }
    fn option<T>(
        &mut self,
        item: impl FnOnce(&mut Self) -> Result<T, FormatError>,
    ) -> Result<Option<T>, FormatError> {
        if self.bool()? {
            item(self).map(Some)
        } else {
            Ok(None)
        }
    }
    /// A count, then the items. Each item takes at least `min_len` bytes, so a count
    /// the bytes left cannot hold fails before anything is allocated (postcard would
    /// fail at the end of the input).
    fn list<T>(
        &mut self,
        min_len: usize,
        item: impl Fn(&mut Self) -> Result<T, FormatError>,
    ) -> Result<Vec<T>, FormatError> {
        let count = self.len()?;
        if count > self.rd.rest.len() / min_len {
            return Err(MALFORMED_RECORD);
        }
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(item(self)?);
        }
        Ok(out)
    }

    fn record(&mut self) -> Result<Record, FormatError> {
        Ok(Record {
            parents: self.list(32, |p| p.array().map(RecordId))?,
            author: MemberId(self.array()?),
            time: self.varint(U64_VARINT)?,
            body: self.body()?,
        })
    }
    fn role(&mut self) -> Result<Role, FormatError> {
        match self.variant()? {
            0 => Ok(Role::Owner),
            1 => Ok(Role::Admin),
            2 => Ok(Role::Member),
            _ => Err(MALFORMED_RECORD),
        }
    }
    fn public_keys(&mut self) -> Result<PublicKeys, FormatError> {
        Ok(PublicKeys {
            agreement: self.array()?,
            signing: self.array()?,
        })
    }
    fn member_wrap(&mut self) -> Result<MemberWrap, FormatError> {
        Ok(MemberWrap {
            member: MemberId(self.array()?),
            enc: self.array()?,
            sealed: self.bytes()?.to_vec(),
        })
    }
    fn key_update(&mut self) -> Result<GroupKeyUpdate, FormatError> {
        Ok(GroupKeyUpdate {
            group: GroupId(self.array()?),
            commitment: self.array()?,
            public: self.array()?,
            wraps: self.list(MIN_MEMBER_WRAP, Self::member_wrap)?,
        })
    }
    fn key_wrap(&mut self) -> Result<KeyWrap, FormatError> {
        Ok(match self.variant()? {
            0 => KeyWrap::Member(self.member_wrap()?),
            1 => KeyWrap::Group {
                key_id: RecordId(self.array()?),
                nonce: self.array()?,
                sealed: self.array()?,
            },
            2 => KeyWrap::GroupPublic {
                key_id: RecordId(self.array()?),
                enc: self.array()?,
                sealed: self.array()?,
            },
            _ => return Err(MALFORMED_RECORD),
        })
    }
    fn principal(&mut self) -> Result<Principal, FormatError> {
        Ok(match self.variant()? {
            0 => Principal::Member(MemberId(self.array()?)),
            1 => Principal::Group(GroupId(self.array()?)),
            _ => return Err(MALFORMED_RECORD),
        })
    }
    fn revision(&mut self) -> Result<EntryRevision, FormatError> {
        Ok(EntryRevision {
            entry: EntryId(self.array()?),
            prev: self.option(|p| p.array().map(RecordId))?,
            content: match self.variant()? {
                0 => EntryContent::Sealed(SealedEntry {
                    readers: self.list(17, Self::principal)?,
                    writers: self.list(17, Self::principal)?,
                    commitment: self.array()?,
                    wraps: self.list(MIN_KEY_WRAP, Self::key_wrap)?,
                    nonce: self.array()?,
                    ciphertext: self.bytes()?.to_vec(),
                }),
                1 => EntryContent::Tombstone,
                _ => return Err(MALFORMED_RECORD),
            },
        })
    }
    fn body(&mut self) -> Result<RecordBody, FormatError> {
        Ok(match self.variant()? {
            0 => RecordBody::Genesis(Genesis {
                team: self.string()?,
                owner: MemberId(self.array()?),
                owner_name: self.string()?,
                owner_keys: self.public_keys()?,
                nonce: self.array()?,
            }),
            1 => RecordBody::AddMember(AddMember {
                member: MemberId(self.array()?),
                name: self.string()?,
                keys: self.public_keys()?,
                role: self.role()?,
                admin_wrap: self.option(Self::member_wrap)?,
            }),
            2 => RecordBody::RemoveMember {
                member: MemberId(self.array()?),
            },
            3 => RecordBody::ChangeRole {
                member: MemberId(self.array()?),
                role: self.role()?,
                admin_wrap: self.option(Self::member_wrap)?,
            },
            4 => RecordBody::ChangeMemberKeys {
                member: MemberId(self.array()?),
                keys: self.public_keys()?,
                new_key_signature: self.bytes()?.to_vec(),
            },
            5 => RecordBody::CreateGroup {
                name: self.string()?,
                members: self.list(16, |p| p.array().map(MemberId))?,
                key: self.key_update()?,
            },
            6 => RecordBody::AddGroupMember {
                group: GroupId(self.array()?),
                member: MemberId(self.array()?),
                wrap: self.member_wrap()?,
            },
            7 => RecordBody::RemoveGroupMember {
                group: GroupId(self.array()?),
                member: MemberId(self.array()?),
                key: self.key_update()?,
            },
            8 => RecordBody::RotateGroupKey(self.key_update()?),
            9 => RecordBody::EntryRevision(self.revision()?),
            10 => {
                let variant = self.variant()?;
                let kind = match variant {
                    0 | 5 => EventKind::Reviewed,
                    1 => EventKind::RotatedAtSource,
                    2 => EventKind::Merged,
                    3 => EventKind::Heartbeat,
                    4 => EventKind::Exported,
                    _ => return Err(MALFORMED_RECORD),
                };
                let entry = self.option(|p| p.array().map(EntryId))?;
                let note = if variant == 5 {
                    Some(self.string()?)
                } else {
                    None
                };
                RecordBody::Event(AuditEvent { kind, entry, note })
            }
            11 => RecordBody::RotateAtSource {
                member: MemberId(self.array()?),
                entries: self.list(16, |p| p.array().map(EntryId))?,
            },
            12 => RecordBody::OfferOwnership {
                member: MemberId(self.array()?),
            },
            13 => RecordBody::AcceptOwnership {
                offer: RecordId(self.array()?),
            },
            14 => RecordBody::WithdrawOwnership {
                offer: RecordId(self.array()?),
            },
            _ => return Err(MALFORMED_RECORD),
        })
    }
}

/// The decoding rule for names in records (docs/format.md, "Record shape"): looser than
/// [`check_name`], which every new name passes. A name another client wrote that is
/// not in NFC or holds a bidi control or an invisible character still decodes; it is
/// shown escaped and looked up by its NFC form.
/// A review note: 1 to [`MAX_NOTE_LEN`] bytes, no control characters (it is shown on
/// terminals and in one-line listings).
pub fn check_note(note: &str) -> Result<(), FormatError> {
    if note.is_empty() || note.len() > MAX_NOTE_LEN || note.chars().any(char::is_control) {
        return Err(FormatError::Malformed("review note"));
    }
    Ok(())
}

fn check_record_name(name: &str, what: &'static str) -> Result<(), FormatError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(FormatError::Malformed(what));
    }
    Ok(())
}

/// The most characters in a member or group name.
pub const MAX_MEMBER_NAME_CHARS: usize = 64;
/// The most bytes in an entry path.
pub const MAX_PATH_LEN: usize = 512;

/// What a name names: member and group names share one rule, a team name may hold
/// spaces (docs/format.md, "Names and paths").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// A member (also an identity's name, which becomes the owner's in `init`) or a
    /// group.
    Member,
    /// The team: a vault's display name.
    Team,
}

/// Why a new name or path is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty, or an empty part of a path.
    #[error("it is empty or has an empty part")]
    Empty,
    /// Over the length limit.
    #[error("it is too long")]
    TooLong,
    /// A control, bidi or invisible character (shown escaped).
    #[error("it holds the invisible or direction-changing character {}", .0.escape_unicode())]
    Hidden(char),
    /// A character not allowed in this kind of name.
    #[error("it holds {}", describe(*.0))]
    Forbidden(char),
    /// A `.` or `..` part, or a part with leading or trailing spaces.
    #[error("it has a '.', '..' or space-padded part")]
    BadPart,
}

fn describe(c: char) -> String {
    if c.is_whitespace() {
        "a space".to_string()
    } else {
        format!("'{c}'")
    }
}

/// A character that never appears in a new name or path and is escaped whenever text
/// is shown: controls (Cc), bidi controls (U+202A–U+202E, U+2066–U+2069, U+200E,
/// U+200F, U+061C), zero-width and other format characters (general category Cf:
/// U+200B–U+200D, U+2060, U+FEFF, …), line and paragraph separators, and the Hangul
/// fillers, which render as blanks.
pub fn is_hidden_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // General category Cf (Unicode 16).
            '\u{ad}'
                | '\u{600}'..='\u{605}'
                | '\u{61c}'
                | '\u{6dd}'
                | '\u{70f}'
                | '\u{890}'..='\u{891}'
                | '\u{8e2}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{110bd}'
                | '\u{110cd}'
                | '\u{13430}'..='\u{1343f}'
                | '\u{1bca0}'..='\u{1bca3}'
                | '\u{1d173}'..='\u{1d17a}'
                | '\u{e0001}'
                | '\u{e0020}'..='\u{e007f}'
                // Line and paragraph separators (Zl, Zp).
                | '\u{2028}'
                | '\u{2029}'
                // Hangul fillers: letters that render as nothing.
                | '\u{115f}'
                | '\u{1160}'
                | '\u{3164}'
                | '\u{ffa0}'
        )
}

/// `text` in Unicode Normalization Form C (borrowed when it already is).
pub fn nfc(text: &str) -> std::borrow::Cow<'_, str> {
    use unicode_normalization::UnicodeNormalization;
    if unicode_normalization::is_nfc(text) {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(text.nfc().collect())
    }
}

/// Whether two names or paths are the same once both are in NFC: how every lookup
/// compares what was typed with what a record holds.
pub fn same_text(stored: &str, wanted: &str) -> bool {
    stored == wanted || nfc(stored) == nfc(wanted)
}

/// The one check of a new member, group or team name (docs/format.md, "Names and
/// paths"): returns it in NFC, or why it is refused. Member and group names are 1–64
/// characters without whitespace, `@`, `/`, controls, bidi controls or invisible
/// characters; a team name is 1–128 bytes without those (spaces inside are allowed).
pub fn check_name(kind: NameKind, name: &str) -> Result<String, NameError> {
    let name = nfc(name).into_owned();
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if let Some(c) = name.chars().find(|&c| is_hidden_char(c)) {
        return Err(NameError::Hidden(c));
    }
    match kind {
        NameKind::Member => {
            if name.len() > MAX_NAME_LEN || name.chars().count() > MAX_MEMBER_NAME_CHARS {
                return Err(NameError::TooLong);
            }
            if let Some(c) = name
                .chars()
                .find(|&c| c.is_whitespace() || c == '@' || c == '/')
            {
                return Err(NameError::Forbidden(c));
            }
        }
        NameKind::Team => {
            if name.len() > MAX_NAME_LEN {
                return Err(NameError::TooLong);
            }
            if let Some(c) = name.chars().find(|&c| c.is_whitespace() && c != ' ') {
                return Err(NameError::Forbidden(c));
            }
            if name.trim() != name {
                return Err(NameError::BadPart);
            }
        }
    }
    Ok(name)
}

/// The one check of a new entry path (docs/format.md, "Names and paths"): returns it
/// in NFC, or why it is refused. 1–512 bytes of `/`-separated non-empty parts, none
/// `.` or `..` or with leading or trailing whitespace, and no controls, bidi controls
/// or invisible characters.
pub fn check_path(path: &str) -> Result<String, NameError> {
    let path = nfc(path).into_owned();
    if path.is_empty() || path.split('/').any(str::is_empty) {
        return Err(NameError::Empty);
    }
    if path.len() > MAX_PATH_LEN {
        return Err(NameError::TooLong);
    }
    if let Some(c) = path.chars().find(|&c| is_hidden_char(c)) {
        return Err(NameError::Hidden(c));
    }
    if path
        .split('/')
        .any(|s| s == "." || s == ".." || s.trim() != s)
    {
        return Err(NameError::BadPart);
    }
    Ok(path)
}

fn check_member_wrap(w: &MemberWrap) -> Result<(), FormatError> {
    if w.sealed.len() != crypto::SEALED_KEY_LEN {
        return Err(FormatError::Malformed("member key wrap"));
    }
    Ok(())
}

fn check_key_update(k: &GroupKeyUpdate) -> Result<(), FormatError> {
    if k.wraps.len() > MAX_WRAPS {
        return Err(FormatError::TooLarge("group key wraps"));
    }
    k.wraps.iter().try_for_each(check_member_wrap)
}

/// Structural checks of one record that need no other record (docs/format.md, "Record").
fn check_record_shape(record: &Record, position: usize) -> Result<(), FormatError> {
    let is_genesis = matches!(record.body, RecordBody::Genesis(_));
    if (position == 0) != is_genesis {
        return Err(FormatError::Malformed(
            "genesis must be the first record and only there",
        ));
    }
    if is_genesis != record.parents.is_empty() {
        return Err(FormatError::Malformed("record parents"));
    }
    if record.parents.len() > MAX_PARENTS {
        return Err(FormatError::TooLarge("record parents"));
    }
    if record.parents.windows(2).any(|w| w[0] >= w[1]) {
        return Err(FormatError::NonCanonical("record parents"));
    }
    match &record.body {
        RecordBody::Genesis(g) => {
            check_record_name(&g.team, "team name")?;
            check_record_name(&g.owner_name, "member name")?;
            if g.owner != record.author {
                return Err(FormatError::Malformed("genesis author"));
            }
        }
        RecordBody::AddMember(a) => {
            check_record_name(&a.name, "member name")?;
            if a.role == Role::Owner {
                return Err(FormatError::Malformed("a second owner"));
            }
            if let Some(w) = &a.admin_wrap {
                check_member_wrap(w)?;
            }
        }
        RecordBody::ChangeRole {
            role, admin_wrap, ..
        } => {
            if *role == Role::Owner {
                return Err(FormatError::Malformed("a second owner"));
            }
            if let Some(w) = admin_wrap {
                check_member_wrap(w)?;
            }
        }
        RecordBody::ChangeMemberKeys {
            new_key_signature, ..
        } => {
            if new_key_signature.len() != crypto::SIGNATURE_LEN {
                return Err(FormatError::Malformed("key change signature"));
            }
        }
        RecordBody::CreateGroup { name, members, key } => {
            check_record_name(name, "group name")?;
            if members.len() > MAX_IDS {
                return Err(FormatError::TooLarge("group members"));
            }
            check_key_update(key)?;
        }
        RecordBody::AddGroupMember { wrap, .. } => check_member_wrap(wrap)?,
        RecordBody::RemoveGroupMember { key, .. } | RecordBody::RotateGroupKey(key) => {
            check_key_update(key)?
        }
        RecordBody::EntryRevision(rev) => {
            if let EntryContent::Sealed(s) = &rev.content {
                for list in [&s.readers, &s.writers] {
                    if list.len() > MAX_WRAPS {
                        return Err(FormatError::TooLarge("entry principals"));
                    }
                    if list.windows(2).any(|w| w[0] >= w[1]) {
                        return Err(FormatError::NonCanonical("entry principals"));
                    }
                }
                if s.wraps.is_empty() || s.wraps.len() > MAX_WRAPS {
                    return Err(FormatError::TooLarge("entry key wraps"));
                }
                // Group wraps hold exactly 48 sealed bytes by construction.
                for w in &s.wraps {
                    if let KeyWrap::Member(m) = w {
                        check_member_wrap(m)?;
                    }
                }
                let body = s.ciphertext.len().checked_sub(crypto::TAG_LEN);
                if body.is_none_or(|b| b < MIN_BUCKET || b != bucket(b)) {
                    return Err(FormatError::Malformed("entry ciphertext length"));
                }
            }
        }
        RecordBody::Event(e) => {
            if let Some(note) = &e.note {
                check_note(note)?;
            }
        }
        RecordBody::RotateAtSource { entries, .. } => {
            if entries.len() > MAX_IDS {
                return Err(FormatError::TooLarge("rotate-at-source entries"));
            }
        }
        RecordBody::RemoveMember { .. }
        | RecordBody::OfferOwnership { .. }
        | RecordBody::AcceptOwnership { .. }
        | RecordBody::WithdrawOwnership { .. } => {}
    }
    Ok(())
}

/// Kahn's algorithm, taking the smallest ready record id first (docs/format.md,
/// "Record order"). Genesis is the only root.
fn canonical_order(records: Vec<StoredRecord>) -> Vec<StoredRecord> {
    let n = records.len();
    let index: HashMap<RecordId, usize> =
        records.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let order = kahn(&records, &index);
    let mut slots: Vec<Option<StoredRecord>> = records.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(n);
    for i in order {
        if let Some(r) = slots[i].take() {
            out.push(r);
        }
    }
    out
}

fn kahn(records: &[StoredRecord], index: &HashMap<RecordId, usize>) -> Vec<usize> {
    let n = records.len();
    let mut pending = vec![0usize; n];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, r) in records.iter().enumerate() {
        for p in &r.record.parents {
            if let Some(&pi) = index.get(p) {
                pending[i] += 1;
                children[pi].push(i);
            }
        }
    }
    let mut ready: BinaryHeap<std::cmp::Reverse<(RecordId, usize)>> = BinaryHeap::new();
    for (i, r) in records.iter().enumerate() {
        if pending[i] == 0 {
            ready.push(std::cmp::Reverse((r.id, i)));
        }
    }
    let mut order = Vec::with_capacity(n);
    while let Some(std::cmp::Reverse((_, i))) = ready.pop() {
        order.push(i);
        for &k in &children[i] {
            pending[k] -= 1;
            if pending[k] == 0 {
                ready.push(std::cmp::Reverse((records[k].id, k)));
            }
        }
    }
    order
}

fn check_canonical_order(
    records: &[StoredRecord],
    index: &HashMap<RecordId, usize>,
) -> Result<(), FormatError> {
    // Fast path: a linear history (each record's only parent is the previous one) has
    // exactly one topological order.
    let linear = records
        .iter()
        .enumerate()
        .skip(1)
        .all(|(i, r)| r.record.parents.len() == 1 && r.record.parents[0] == records[i - 1].id);
    if linear {
        return Ok(());
    }
    let order = kahn(records, index);
    if order.len() != records.len() || order.iter().enumerate().any(|(i, &j)| i != j) {
        return Err(FormatError::Order);
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    #![allow(clippy::unwrap_used)]
    use super::*;
    #[test]
    fn the_totp_flag_is_one_optional_byte_after_the_body() {
        let mut p = EntryPayload::default();
        p.path = "ops/db".into();
        p.totp = Some(SecretString::new(
            "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP".into(),
        ));
        let plain = p.to_padded().unwrap();
        p.flag_rotate_at_source();
        assert!(p.rotate_at_source && p.rotate_totp_at_source);
        let flagged = p.to_padded().unwrap();
        let back = EntryPayload::from_padded(&flagged).unwrap();
        assert!(back.rotate_at_source && back.rotate_totp_at_source);
        assert_eq!(back.to_rotate_at_source(), Some("password and TOTP seed"));
        // What earlier versions wrote (no byte) reads as "not set".
        let old = EntryPayload::from_padded(&plain).unwrap();
        assert!(!old.rotate_totp_at_source);
        // A zero byte, or anything else after the body, is not a payload.
        let len = u32::from_le_bytes(plain[..4].try_into().unwrap()) as usize;
        for extra in [&[0u8][..], &[2], &[1, 1]] {
            let mut body = plain[4..4 + len].to_vec();
            body.extend_from_slice(extra);
            let mut bytes = (body.len() as u32).to_le_bytes().to_vec();
            bytes.extend_from_slice(&body);
            bytes.resize(bucket(body.len() + 4), 0);
            assert!(EntryPayload::from_padded(&bytes).is_err(), "{extra:?}");
        }
        // A new password clears its flag only; a new seed clears the other.
        let mut q = back;
        q.set_password(SecretString::new("n3w".into()), 5);
        assert_eq!(q.to_rotate_at_source(), Some("TOTP seed"));
        q.set_totp(SecretString::new(
            "otpauth://totp/y?secret=JBSWY3DPEHPK3PXQ".into(),
        ));
        assert_eq!(q.to_rotate_at_source(), None);
    }

    #[test]
    fn buckets() {
        assert_eq!(bucket(1), 256);
        assert_eq!(bucket(256), 256);
        assert_eq!(bucket(257), 512);
        assert_eq!(bucket(65536), 65536);
        assert_eq!(bucket(65537), 131072);
    }

    #[test]
    fn payload_pads_and_round_trips() {
        let mut p = EntryPayload::default();
        p.path = "web/github".into();
        p.password = SecretString::new("abc".into());
        let padded = p.to_padded().unwrap();
        assert_eq!(padded.len(), 256);
        assert_eq!(EntryPayload::from_padded(&padded).unwrap(), p);
        let mut bad = padded.to_vec();
        *bad.last_mut().unwrap() = 1;
        assert_eq!(
            EntryPayload::from_padded(&bad),
            Err(FormatError::NonCanonical("payload padding"))
        );
    }

    #[test]
    fn short_password_change_keeps_bucket() {
        let mut p = EntryPayload::default();
        p.path = "web/github".into();
        p.password = SecretString::new("abc".into());
        let a = p.to_padded().unwrap().len();
        p.password = SecretString::new("x".repeat(30));
        assert_eq!(p.to_padded().unwrap().len(), a);
    }

    #[test]
    fn varint_rejects_overlong_and_huge() {
        let mut r = Reader {
            rest: &[0x80, 0x00],
        };
        assert_eq!(r.varint(), Err(FormatError::NonCanonical("length")));
        let mut r = Reader {
            rest: &[0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        };
        assert_eq!(r.varint(), Err(FormatError::TooLarge("length")));
        let mut out = Vec::new();
        write_varint(&mut out, 300);
        let mut r = Reader { rest: &out };
        assert_eq!(r.varint(), Ok(300));
    }

    /// What `decode_record` did before it had its own parser, kept as the reference it
    /// must agree with: postcard, then a re-encoding compared with the input.
    fn decode_record_postcard(raw: &[u8]) -> Result<Record, FormatError> {
        let (record, rest): (Record, &[u8]) =
            postcard::take_from_bytes(raw).map_err(|_| FormatError::Malformed("record"))?;
        if !rest.is_empty() {
            return Err(FormatError::TrailingBytes);
        }
        let again = postcard::to_allocvec(&record).map_err(|_| FormatError::Malformed("record"))?;
        if again != raw {
            return Err(FormatError::NonCanonical("record"));
        }
        Ok(record)
    }

    fn member_wrap(m: u8) -> MemberWrap {
        MemberWrap {
            member: MemberId([m; 16]),
            enc: [m; 32],
            sealed: vec![m; crypto::SEALED_KEY_LEN],
        }
    }

    fn key_update(g: u8) -> GroupKeyUpdate {
        GroupKeyUpdate {
            group: GroupId([g; 16]),
            commitment: [g; 32],
            public: [g; 32],
            wraps: vec![member_wrap(1), member_wrap(2)],
        }
    }

    /// One record of every body kind, every wrap kind, options set and unset.
    fn sample_records() -> Vec<Record> {
        let keys = PublicKeys {
            agreement: [3; 32],
            signing: [4; 32],
        };
        let sealed = |wraps| {
            EntryContent::Sealed(SealedEntry {
                readers: vec![
                    Principal::Member(MemberId([1; 16])),
                    Principal::Group(GroupId([2; 16])),
                ],
                writers: vec![Principal::Group(GroupId([2; 16]))],
                commitment: [5; 32],
                wraps,
                nonce: [6; 24],
                ciphertext: vec![7; MIN_BUCKET + crypto::TAG_LEN],
            })
        };
        let bodies = vec![
            RecordBody::Genesis(Genesis {
                team: "acme".into(),
                owner: MemberId([1; 16]),
                owner_name: "alice".into(),
                owner_keys: keys,
                nonce: [2; 16],
            }),
            RecordBody::AddMember(AddMember {
                member: MemberId([2; 16]),
                name: "bob".into(),
                keys,
                role: Role::Admin,
                admin_wrap: Some(member_wrap(2)),
            }),
            RecordBody::AddMember(AddMember {
                member: MemberId([3; 16]),
                name: "carol".into(),
                keys,
                role: Role::Member,
                admin_wrap: None,
            }),
            RecordBody::RemoveMember {
                member: MemberId([2; 16]),
            },
            RecordBody::ChangeRole {
                member: MemberId([3; 16]),
                role: Role::Admin,
                admin_wrap: Some(member_wrap(3)),
            },
            RecordBody::ChangeMemberKeys {
                member: MemberId([3; 16]),
                keys,
                new_key_signature: vec![8; crypto::SIGNATURE_LEN],
            },
            RecordBody::CreateGroup {
                name: "devops".into(),
                members: vec![MemberId([2; 16]), MemberId([3; 16])],
                key: key_update(9),
            },
            RecordBody::AddGroupMember {
                group: GroupId([9; 16]),
                member: MemberId([3; 16]),
                wrap: member_wrap(3),
            },
            RecordBody::RemoveGroupMember {
                group: GroupId([9; 16]),
                member: MemberId([2; 16]),
                key: key_update(9),
            },
            RecordBody::RotateGroupKey(key_update(0)),
            RecordBody::EntryRevision(EntryRevision {
                entry: EntryId([10; 16]),
                prev: None,
                content: sealed(vec![
                    KeyWrap::Group {
                        key_id: RecordId([11; 32]),
                        nonce: [12; 24],
                        sealed: [13; crypto::SEALED_KEY_LEN],
                    },
                    KeyWrap::Member(member_wrap(3)),
                    KeyWrap::GroupPublic {
                        key_id: RecordId([14; 32]),
                        enc: [15; 32],
                        sealed: [16; crypto::SEALED_KEY_LEN],
                    },
                ]),
            }),
            RecordBody::EntryRevision(EntryRevision {
                entry: EntryId([10; 16]),
                prev: Some(RecordId([17; 32])),
                content: EntryContent::Tombstone,
            }),
            RecordBody::Event(AuditEvent::new(
                EventKind::RotatedAtSource,
                Some(EntryId([10; 16])),
            )),
            RecordBody::Event(AuditEvent::new(EventKind::Reviewed, None)),
            RecordBody::RotateAtSource {
                member: MemberId([2; 16]),
                entries: vec![EntryId([10; 16]), EntryId([18; 16])],
            },
            RecordBody::OfferOwnership {
                member: MemberId([2; 16]),
            },
            RecordBody::AcceptOwnership {
                offer: RecordId([19; 32]),
            },
            RecordBody::WithdrawOwnership {
                offer: RecordId([19; 32]),
            },
            RecordBody::Event(AuditEvent::reviewed(
                Some(EntryId([10; 16])),
                Some("still used by billing".into()),
            )),
        ];
        bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| Record {
                parents: if i == 0 {
                    vec![]
                } else {
                    vec![RecordId([20; 32]), RecordId([21; 32])]
                },
                author: MemberId([1; 16]),
                time: 1_700_000_000 + i as u64,
                body,
            })
            .collect()
    }

    fn encoded(record: &Record) -> Vec<u8> {
        postcard::to_allocvec(record).unwrap()
    }

    #[test]
    fn record_parser_reads_every_kind_as_postcard_writes_it() {
        for r in sample_records() {
            let bytes = encoded(&r);
            assert_eq!(decode_record(&bytes), Ok(r.clone()), "{r:?}");
            assert_eq!(decode_record_postcard(&bytes), Ok(r));
        }
    }

    /// `Record { parents: [], author, time, body: RemoveMember { member } }`, with the
    /// time varint and the body's variant index given as raw bytes.
    fn remove_member(time: &[u8], variant: &[u8]) -> Vec<u8> {
        let mut out = vec![0];
        out.extend_from_slice(&[1; 16]);
        out.extend_from_slice(time);
        out.extend_from_slice(variant);
        out.extend_from_slice(&[2; 16]);
        out
    }

    #[test]
    fn record_parser_rejects_overlong_varints() {
        let canonical = remove_member(&[5], &[2]);
        assert!(decode_record(&canonical).is_ok());
        for bad in [
            remove_member(&[0x85, 0x00], &[2]),
            remove_member(&[0x80, 0x00], &[2]),
            remove_member(&[0x85, 0x80, 0x80, 0x00], &[2]),
            remove_member(&[5], &[0x82, 0x00]),
        ] {
            assert_eq!(
                decode_record(&bad),
                Err(FormatError::NonCanonical("record"))
            );
            assert_eq!(decode_record_postcard(&bad), decode_record(&bad));
        }
        // A list count (no parents, written as 0x80 0x00).
        let mut bad = vec![0x80];
        bad.extend_from_slice(&canonical);
        assert_eq!(
            decode_record(&bad),
            Err(FormatError::NonCanonical("record"))
        );
        // A string length inside genesis (team "acme": 4 written as 0x84 0x00).
        let genesis = encoded(&sample_records()[0]);
        let at = 1 + 16 + varint_len_of(&genesis[17..]) + 1;
        assert_eq!(genesis[at], 4);
        let mut bad = genesis[..at].to_vec();
        bad.extend_from_slice(&[0x84, 0x00]);
        bad.extend_from_slice(&genesis[at + 1..]);
        assert_eq!(
            decode_record(&bad),
            Err(FormatError::NonCanonical("record"))
        );
        assert_eq!(decode_record_postcard(&bad), decode_record(&bad));
    }

    fn varint_len_of(bytes: &[u8]) -> usize {
        bytes.iter().position(|b| b & 0x80 == 0).unwrap() + 1
    }

    #[test]
    fn record_parser_checks_varint_limits_like_postcard() {
        // The largest u64 time: ten bytes, the last 0x01.
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        let ok = remove_member(&max, &[2]);
        assert_eq!(decode_record(&ok).map(|r| r.time), Ok(u64::MAX));
        // Past u64 (last byte 0x02), and eleven bytes.
        let mut over = max;
        over[9] = 0x02;
        let mut eleven = max.to_vec();
        eleven[9] = 0xff;
        eleven.push(0x01);
        // A variant index past u32 (five bytes, the last above 0x0f).
        let big_variant = remove_member(&[5], &[0x82, 0x80, 0x80, 0x80, 0x10]);
        for bad in [
            remove_member(&over, &[2]),
            remove_member(&eleven, &[2]),
            big_variant,
        ] {
            assert_eq!(decode_record(&bad), Err(FormatError::Malformed("record")));
            assert_eq!(decode_record_postcard(&bad), decode_record(&bad));
        }
    }

    #[test]
    fn record_parser_rejects_bad_tags() {
        let samples = sample_records();
        let mut cases = Vec::new();
        // Unknown body variant.
        cases.push(remove_member(&[5], &[15]));
        // Unknown role (AddMember's role byte follows member, name and keys).
        let add = encoded(&samples[2]);
        let role_at = add.len() - 2;
        assert_eq!(add[role_at], 2, "Role::Member");
        let mut bad = add.clone();
        bad[role_at] = 3;
        cases.push(bad);
        // An option tag that is neither 0 nor 1 (AddMember's admin_wrap).
        let mut bad = add;
        *bad.last_mut().unwrap() = 2;
        cases.push(bad);
        // Unknown entry content, unknown wrap kind, unknown event kind.
        let tombstone = encoded(&samples[11]);
        let mut bad = tombstone.clone();
        *bad.last_mut().unwrap() = 2;
        cases.push(bad);
        let revision = encoded(&samples[10]);
        let wraps_at = revision.len()
            - (24 + 2 + MIN_BUCKET + crypto::TAG_LEN)
            - (1 + 32 + 32 + 48)
            - (1 + 16 + 32 + 1 + 48)
            - (1 + 32 + 24 + 48);
        assert_eq!(revision[wraps_at], 1, "KeyWrap::Group");
        let mut bad = revision;
        bad[wraps_at] = 3;
        cases.push(bad);
        let event = encoded(&samples[12]);
        let kind_at = event.len() - 1 - 16 - 1;
        assert_eq!(event[kind_at], 1, "RotatedAtSource");
        let mut bad = event;
        bad[kind_at] = 6; // the first unknown event kind (5 is a review with a note)
        cases.push(bad);
        // Text that is not UTF-8 (genesis team "acme": after the parent count, author,
        // time, variant and length).
        let mut bad = encoded(&samples[0]);
        let at = 1 + 16 + varint_len_of(&bad[17..]) + 2;
        assert_eq!(bad[at], b'a');
        bad[at] = 0xff;
        cases.push(bad);
        for bad in cases {
            assert_eq!(decode_record(&bad), Err(FormatError::Malformed("record")));
            assert_eq!(decode_record_postcard(&bad), decode_record(&bad));
        }
    }

    #[test]
    fn record_parser_refuses_counts_beyond_the_bytes_and_trailing_bytes() {
        // 2^62 parents in a few bytes: refused before allocating anything.
        let huge = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40];
        let mut bad = huge.to_vec();
        bad.extend_from_slice(&remove_member(&[5], &[2])[1..]);
        assert_eq!(decode_record(&bad), Err(FormatError::Malformed("record")));
        assert_eq!(decode_record_postcard(&bad), decode_record(&bad));
        // Trailing bytes are reported before an overlong varint, as postcard did.
        let mut bad = remove_member(&[0x85, 0x00], &[2]);
        bad.push(0);
        assert_eq!(decode_record(&bad), Err(FormatError::TrailingBytes));
        assert_eq!(decode_record_postcard(&bad), decode_record(&bad));
        // Every truncation fails.
        for r in sample_records() {
            let bytes = encoded(&r);
            for cut in 0..bytes.len() {
                assert_eq!(
                    decode_record(&bytes[..cut]),
                    Err(FormatError::Malformed("record"))
                );
            }
        }
    }

    proptest::proptest! {
        /// The parser and postcard agree on every mutation of every kind of record: the
        /// same record, or the same error.
        #[test]
        fn record_parser_agrees_with_postcard(
            which in 0usize..15,
            edits in proptest::collection::vec(
                (proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>(), 0u8..4),
                1..4,
            ),
        ) {
            let samples = sample_records();
            let mut bytes = encoded(&samples[which % samples.len()]);
            for (at, byte, op) in edits {
                let i = at % (bytes.len() + 1);
                match op {
                    0 if i < bytes.len() => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    2 if i < bytes.len() => {
                        bytes.remove(i);
                    }
                    _ => bytes.truncate(i),
                }
            }
            proptest::prop_assert_eq!(decode_record(&bytes), decode_record_postcard(&bytes));
        }
    }

    #[test]
    fn bad_magic_version_and_empty() {
        assert_eq!(VaultFile::decode(b"").err(), Some(FormatError::BadMagic));
        assert_eq!(
            VaultFile::decode(b"NOTAVAULT").err(),
            Some(FormatError::BadMagic)
        );
        let mut v = VAULT_MAGIC.to_vec();
        v.push(2);
        assert_eq!(
            VaultFile::decode(&v).err(),
            Some(FormatError::UnsupportedVersion(2))
        );
        let mut v = VAULT_MAGIC.to_vec();
        v.push(1);
        v.extend_from_slice(&[0; 32]);
        v.extend_from_slice(&[0xff, 0xff, 0xff, 0x7f]);
        assert_eq!(
            VaultFile::decode(&v).err(),
            Some(FormatError::TooLarge("record count"))
        );
    }

    /// docs/format.md, "Entry revisions": a group wrap names only its key version and
    /// holds 48 sealed bytes without a length (the per-wrap target is 120 bytes).
    #[test]
    fn group_wraps_encode_to_105_and_113_bytes() {
        let group = KeyWrap::Group {
            key_id: RecordId([1; 32]),
            nonce: [2; 24],
            sealed: [3; crypto::SEALED_KEY_LEN],
        };
        let public = KeyWrap::GroupPublic {
            key_id: RecordId([1; 32]),
            enc: [2; 32],
            sealed: [3; crypto::SEALED_KEY_LEN],
        };
        let group_bytes = postcard::to_allocvec(&group).unwrap();
        assert_eq!(group_bytes.len(), 1 + 32 + 24 + 48);
        assert_eq!(&group_bytes[57..], &[3; 48]);
        assert_eq!(
            postcard::to_allocvec(&public).unwrap().len(),
            1 + 32 + 32 + 48
        );
        assert_eq!(
            postcard::from_bytes::<KeyWrap>(&group_bytes).unwrap(),
            group
        );
    }

    #[test]
    fn hex_round_trip() {
        let id = EntryId([0xab; 16]);
        assert_eq!(EntryId::from_hex(&id.to_hex()), Some(id));
        assert_eq!(EntryId::from_hex("zz"), None);
    }
}
