//! Segments (docs/format.md, "Segments"): a vault is a directory of immutable segment
//! files, each named by the SHA-256 of its bytes. A segment has the vault file's
//! container — `magic || version || vault id || varint count || (varint len || record
//! || signature)*` — but its records' parents may live in other segments, so a vault
//! file written by an earlier version is one valid segment. Reading a vault is the
//! union of its segments' records by id; a record whose parents have not all arrived
//! is held back (with its descendants) until they do.

use std::collections::{HashMap, HashSet};

use super::{
    FORMAT_VERSION, FormatError, MAX_RECORDS, MemberId, Reader, RecordBody, RecordId, StoredRecord,
    VAULT_MAGIC, VaultFile, canonical_order, check_record_shape, read_header, read_stored,
    write_varint,
};
use crate::crypto::{self, SIGNATURE_LABEL};

/// The file name extension of a segment.
pub const SEGMENT_EXTENSION: &str = "seg";

/// One decoded segment: the vault id its header names and its records, in file order.
#[derive(Debug, Clone)]
pub struct Segment {
    pub(crate) vault_id: RecordId,
    pub(crate) records: Vec<StoredRecord>,
}

/// The name a segment's bytes must have: the lowercase hex SHA-256 of the bytes, then
/// `.seg`.
pub fn segment_name(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest: [u8; 32] = Sha256::digest(bytes).into();
    format!("{}.{SEGMENT_EXTENSION}", super::hex_string(&digest))
}

impl Segment {
    /// Encode records (already signed) as a segment of vault `vault_id`.
    pub fn encode(vault_id: &RecordId, records: &[StoredRecord]) -> Vec<u8> {
        let size: usize =
            8 + 1 + 32 + 5 + records.iter().map(|r| r.bytes.len() + 70).sum::<usize>();
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(VAULT_MAGIC);
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&vault_id.0);
        write_varint(&mut out, records.len());
        for r in records {
            write_varint(&mut out, r.bytes.len());
            out.extend_from_slice(&r.bytes);
            out.extend_from_slice(&r.signature);
        }
        out
    }

    /// Decode and check one segment's structure: the header, every record's canonical
    /// encoding and shape, no record twice, no trailing bytes, and a genesis record (if
    /// the segment holds one) whose id is the header's vault id. Parents are not looked
    /// for: they may be in other segments. Signatures are not checked here.
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut rd = Reader { rest: bytes };
        let (vault_id, count) = read_header(&mut rd, "segment without records")?;
        let mut records: Vec<StoredRecord> = Vec::with_capacity(count);
        let mut ids: HashSet<RecordId> = HashSet::with_capacity(count);
        for _ in 0..count {
            let stored = read_stored(&mut rd)?;
            let (record, id) = (&stored.record, stored.id);
            if !ids.insert(id) {
                return Err(FormatError::Duplicate);
            }
            let is_genesis = matches!(record.body, RecordBody::Genesis(_));
            check_record_shape(record, usize::from(!is_genesis))?;
            if is_genesis && id != vault_id {
                return Err(FormatError::VaultIdMismatch);
            }
            records.push(stored);
        }
        if !rd.rest.is_empty() {
            return Err(FormatError::TrailingBytes);
        }
        Ok(Self { vault_id, records })
    }

    /// The vault id the header names.
    pub fn vault_id(&self) -> RecordId {
        self.vault_id
    }

    /// The records, in file order.
    pub fn records(&self) -> &[StoredRecord] {
        &self.records
    }

    /// Whether the segment holds the vault's genesis record.
    pub fn has_genesis(&self) -> bool {
        self.records
            .iter()
            .any(|r| matches!(r.record.body, RecordBody::Genesis(_)))
    }
}

/// The union of a vault's segments.
#[derive(Debug, Clone)]
pub struct Union {
    /// The records that can be resolved, genesis first, in canonical order.
    pub file: VaultFile,
    /// Record id → position in `file`.
    pub index: HashMap<RecordId, usize>,
    /// Records held back because a parent (or a parent's parent…) has not arrived, in
    /// id order.
    pub held_back: Vec<RecordId>,
}

/// The union by record id of segments of vault `vault_id` (segments naming another
/// vault id must have been set aside by the caller: they are skipped here).
///
/// Two copies of one record carry the same bytes (the id is their hash) but may carry
/// different signatures: a copy whose signature verifies under a key the author was
/// given somewhere in the union is kept, so a planted copy with a broken signature
/// cannot make a genuine record look damaged. Without a genesis record there is no
/// vault: `MissingParent`.
pub fn union(vault_id: RecordId, segments: Vec<Segment>) -> Result<Union, FormatError> {
    let mut records: Vec<StoredRecord> = Vec::new();
    let mut at: HashMap<RecordId, usize> = HashMap::new();
    let mut disputed: Vec<(usize, [u8; 64])> = Vec::new();
    for segment in segments.into_iter().filter(|s| s.vault_id == vault_id) {
        for r in segment.records {
            match at.get(&r.id) {
                Some(&i) => {
                    if records[i].signature != r.signature {
                        disputed.push((i, r.signature));
                    }
                }
                None => {
                    if records.len() >= MAX_RECORDS {
                        return Err(FormatError::TooLarge("record count"));
                    }
                    at.insert(r.id, records.len());
                    records.push(r);
                }
            }
        }
    }
    if !disputed.is_empty() {
        settle_signatures(&mut records, disputed);
    }
    let Some(&genesis) = at.get(&vault_id) else {
        return Err(FormatError::MissingParent);
    };
    if !matches!(records[genesis].record.body, RecordBody::Genesis(_)) {
        return Err(FormatError::VaultIdMismatch);
    }
    // Held back: a record with a parent that is not here, and everything below it.
    let mut held = vec![false; records.len()];
    let mut queue = Vec::new();
    for (i, r) in records.iter().enumerate() {
        if r.record.parents.iter().any(|p| !at.contains_key(p)) {
            held[i] = true;
            queue.push(i);
        }
    }
    let mut children: HashMap<RecordId, Vec<usize>> = HashMap::new();
    if !queue.is_empty() {
        for (i, r) in records.iter().enumerate() {
            for p in &r.record.parents {
                children.entry(*p).or_default().push(i);
            }
        }
    }
    while let Some(i) = queue.pop() {
        if let Some(kids) = children.get(&records[i].id) {
            for &k in kids {
                if !std::mem::replace(&mut held[k], true) {
                    queue.push(k);
                }
            }
        }
    }
    let mut held_back = Vec::new();
    let mut kept = Vec::with_capacity(records.len());
    for (r, h) in records.into_iter().zip(held) {
        if h {
            held_back.push(r.id);
        } else {
            kept.push(r);
        }
    }
    held_back.sort();
    // A linear history (each record's only parent is the one before it) has one order,
    // checked in one pass; anything else is sorted once (checking it would cost the
    // same topological sort).
    let linear = kept
        .iter()
        .enumerate()
        .skip(1)
        .all(|(i, r)| r.record.parents.len() == 1 && r.record.parents[0] == kept[i - 1].id);
    let mut index: HashMap<RecordId, usize> =
        kept.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let records = if linear {
        kept
    } else {
        // Records on a cycle of parents (only possible with a hash collision) are
        // left out by the topological sort.
        let sorted = canonical_order(kept);
        index = sorted.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
        sorted
    };
    if records.first().map(|r| r.id) != Some(vault_id) {
        return Err(FormatError::Order);
    }
    Ok(Union {
        file: VaultFile { vault_id, records },
        index,
        held_back,
    })
}

/// For records present with different signatures, keep one that verifies under a
/// signing key the union gives its author (the smallest such; the smallest overall
/// when none does, so the choice does not depend on the order segments were read).
fn settle_signatures(records: &mut [StoredRecord], disputed: Vec<(usize, [u8; 64])>) {
    let mut keys: HashMap<MemberId, Vec<[u8; 32]>> = HashMap::new();
    for r in records.iter() {
        let (member, public) = match &r.record.body {
            RecordBody::Genesis(g) => (g.owner, g.owner_keys.signing),
            RecordBody::AddMember(a) => (a.member, a.keys.signing),
            RecordBody::ChangeMemberKeys { member, keys, .. } => (*member, keys.signing),
            _ => continue,
        };
        keys.entry(member).or_default().push(public);
    }
    let mut alternatives: HashMap<usize, Vec<[u8; 64]>> = HashMap::new();
    for (i, sig) in disputed {
        alternatives.entry(i).or_default().push(sig);
    }
    for (i, mut sigs) in alternatives {
        sigs.push(records[i].signature);
        sigs.sort();
        sigs.dedup();
        let candidates = keys
            .get(&records[i].record.author)
            .map_or(&[][..], Vec::as_slice);
        let verifies = |sig: &[u8; 64]| {
            candidates.iter().any(|k| {
                crypto::Verifier::new(k)
                    .is_ok_and(|v| v.verify(SIGNATURE_LABEL, &records[i].bytes, sig).is_ok())
            })
        };
        let chosen = sigs.iter().find(|s| verifies(s)).or(sigs.first()).copied();
        if let Some(sig) = chosen {
            records[i].signature = sig;
        }
    }
}

/// One segment holding every record of `segments` once (the first copy of each), in
/// canonical order: the same set of segments always packs to the same bytes, so two
/// machines compacting the same segments write the same pack.
pub fn pack(vault_id: &RecordId, segments: &[Segment]) -> Vec<u8> {
    let mut seen: HashSet<RecordId> = HashSet::new();
    let mut records = Vec::new();
    let mut all: Vec<&StoredRecord> = segments.iter().flat_map(|s| s.records.iter()).collect();
    // The copy kept must not depend on the order the segments were listed in.
    all.sort_by_key(|r| (r.id, r.signature));
    for r in all {
        if seen.insert(r.id) {
            records.push(r.clone());
        }
    }
    Segment::encode(vault_id, &canonical_order(records))
}
