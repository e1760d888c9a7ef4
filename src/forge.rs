//! Test-only: build crafted records for the tests, benches, examples and fuzz targets
//! (forged authors, bad signatures, substituted bodies, tampered bytes, reordered
//! files).
//!
//! The record types of [`crate::format`] have crate-private fields, so the only
//! [`StoredRecord`]s outside the crate are the ones it decoded or signed itself. This
//! module, behind the `forge` cargo feature (off by default, never needed by the
//! binary), is the one way around that. [`sign`] is correct by construction (encodes,
//! hashes, signs); [`with_signature`], [`with_bytes`] and [`vault_file`] build
//! deliberately inconsistent or out-of-order data, for tamper tests.
//!
//! The integration tests get it through the self dev-dependency in `Cargo.toml`.

use crate::crypto::{SIGNATURE_LABEL, SigningSecret};
use crate::format::{
    AddMember, AuditEvent, EntryContent, EntryId, EntryRevision, EventKind, FormatError, Genesis,
    GroupId, GroupKeyUpdate, KeyWrap, MemberId, MemberWrap, Principal, PublicKeys, Record,
    RecordBody, RecordId, Role, SealedEntry, StoredRecord, VaultFile,
};

// ---------------------------------------------------------------------------------------
// Records and stored records

/// A record (not yet encoded or signed).
pub fn record(parents: Vec<RecordId>, author: MemberId, time: u64, body: RecordBody) -> Record {
    Record {
        parents,
        author,
        time,
        body,
    }
}

/// Encode `record`, hash it and sign it with `signer`: a consistent stored record
/// (whoever `signer` is; whether the vault accepts it is what the tests check).
///
/// # Panics
/// If the record does not encode (larger than [`crate::format::MAX_RECORD_LEN`]); see
/// [`try_sign`].
pub fn sign(record: Record, signer: &SigningSecret) -> StoredRecord {
    try_sign(record, signer).expect("record encodes")
}

/// [`sign`], returning the encoding error instead of panicking.
pub fn try_sign(record: Record, signer: &SigningSecret) -> Result<StoredRecord, FormatError> {
    let (bytes, id) = StoredRecord::encode(record.clone())?;
    let signature = signer.sign(SIGNATURE_LABEL, &bytes);
    Ok(StoredRecord {
        bytes,
        record,
        signature,
        id,
    })
}

/// Encode `record` and hash it, attaching `signature` unchecked (e.g. the signature of
/// the record it replaces): a stored record whose signature is most likely wrong.
///
/// # Panics
/// If the record does not encode.
pub fn encode(record: Record, signature: [u8; 64]) -> StoredRecord {
    let (bytes, id) = StoredRecord::encode(record.clone()).expect("record encodes");
    StoredRecord {
        bytes,
        record,
        signature,
        id,
    }
}

/// `stored` with its signature replaced.
pub fn with_signature(mut stored: StoredRecord, signature: [u8; 64]) -> StoredRecord {
    stored.signature = signature;
    stored
}

/// `stored` with its bytes replaced by `bytes` (possibly non-canonical or not a record
/// at all) and its id recomputed from them; the decoded record and the signature are
/// kept, so they no longer match the bytes. Re-sign with [`resign`].
pub fn with_bytes(mut stored: StoredRecord, bytes: Vec<u8>) -> StoredRecord {
    stored.id = crate::format::record_id(&bytes);
    stored.bytes = bytes;
    stored
}

/// `stored` with its bytes signed again by `signer` (bytes, record and id unchanged).
pub fn resign(mut stored: StoredRecord, signer: &SigningSecret) -> StoredRecord {
    stored.signature = signer.sign(SIGNATURE_LABEL, &stored.bytes);
    stored
}

/// A vault file with exactly these records in exactly this order (no checks, no
/// re-sorting): encode it to get crafted file bytes.
pub fn vault_file(vault_id: RecordId, records: Vec<StoredRecord>) -> VaultFile {
    VaultFile { vault_id, records }
}

// ---------------------------------------------------------------------------------------
// Setters for a record's fields (re-sign afterwards: the bytes are not touched)

/// Set a record's author.
pub fn set_author(record: &mut Record, author: MemberId) {
    record.author = author;
}

/// Set a record's time.
pub fn set_time(record: &mut Record, time: u64) {
    record.time = time;
}

/// A record's parents, to edit in place.
pub fn parents_mut(record: &mut Record) -> &mut Vec<RecordId> {
    &mut record.parents
}

/// A record's body, to edit in place.
pub fn body_mut(record: &mut Record) -> &mut RecordBody {
    &mut record.body
}

// ---------------------------------------------------------------------------------------
// Record bodies' structs

/// A genesis body.
pub fn genesis(
    team: String,
    owner: MemberId,
    owner_name: String,
    owner_keys: PublicKeys,
    nonce: [u8; 16],
) -> Genesis {
    Genesis {
        team,
        owner,
        owner_name,
        owner_keys,
        nonce,
    }
}

/// An add-member body.
pub fn add_member(
    member: MemberId,
    name: String,
    keys: PublicKeys,
    role: Role,
    admin_wrap: Option<MemberWrap>,
) -> AddMember {
    AddMember {
        member,
        name,
        keys,
        role,
        admin_wrap,
    }
}

/// Set the keys an add-member body declares.
pub fn set_add_member_keys(add: &mut AddMember, keys: PublicKeys) {
    add.keys = keys;
}

/// A key HPKE-wrapped to a member.
pub fn member_wrap(member: MemberId, enc: [u8; 32], sealed: Vec<u8>) -> MemberWrap {
    MemberWrap {
        member,
        enc,
        sealed,
    }
}

/// A new group key and its wraps.
pub fn group_key_update(
    group: GroupId,
    commitment: [u8; 32],
    public: [u8; 32],
    wraps: Vec<MemberWrap>,
) -> GroupKeyUpdate {
    GroupKeyUpdate {
        group,
        commitment,
        public,
        wraps,
    }
}

/// An audit event.
pub fn audit_event(kind: EventKind, entry: Option<EntryId>) -> AuditEvent {
    AuditEvent::new(kind, entry)
}

/// An entry revision.
pub fn entry_revision(
    entry: EntryId,
    prev: Option<RecordId>,
    content: EntryContent,
) -> EntryRevision {
    EntryRevision {
        entry,
        prev,
        content,
    }
}

/// A sealed entry: readers and writers as given (not sorted here), the key's
/// commitment and wraps, and the encrypted padded payload.
pub fn sealed_entry(
    readers: Vec<Principal>,
    writers: Vec<Principal>,
    commitment: [u8; 32],
    wraps: Vec<KeyWrap>,
    nonce: [u8; 24],
    ciphertext: Vec<u8>,
) -> SealedEntry {
    SealedEntry {
        readers,
        writers,
        commitment,
        wraps,
        nonce,
        ciphertext,
    }
}

/// An entry revision's content, to edit in place.
pub fn content_mut(revision: &mut EntryRevision) -> &mut EntryContent {
    &mut revision.content
}

/// Set a sealed entry's ciphertext.
pub fn set_ciphertext(sealed: &mut SealedEntry, ciphertext: Vec<u8>) {
    sealed.ciphertext = ciphertext;
}

// ---------------------------------------------------------------------------------------
// Entries

/// A record creating an entry at `draft`'s path exactly as given, without the path
/// check of [`crate::vault::Session::create_entry`] (no NFC, bidi controls or invisible
/// characters allowed): what an older or another client may have written.
pub fn entry_at_any_path(
    session: &crate::vault::Session<'_>,
    draft: &crate::vault::EntryDraft,
) -> Result<RecordBody, crate::vault::VaultError> {
    session.create_unchecked(draft)
}
