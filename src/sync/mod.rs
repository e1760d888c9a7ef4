//! Taking in records from other copies of a vault: `amanat merge` (another vault
//! directory, a single segment, an old single-file vault, a sync-conflict copy) and
//! `amanat sync` (git). Incoming records are verified against this
//! machine's vault and pins before anything is written; what is new is added as one
//! segment (docs/sync.md).

use std::path::{Path, PathBuf};

use crate::format::RecordId;
use crate::format::segment::Segment;
use crate::store::{self, StoreError, VaultStore};
use crate::vault::Vault;

pub mod git;

/// Errors of `merge` and `sync`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The local store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Incoming data with a damaged segment: nothing was taken in.
    #[error("{source_name}: segment {segment} is damaged ({reason}); nothing was taken in")]
    Damaged {
        /// Where it came from.
        source_name: String,
        /// The segment (file name).
        segment: String,
        /// Why.
        reason: String,
    },
    /// Incoming records of another vault.
    #[error("{source_name} holds records of vault {found}, not of vault {expected}")]
    OtherVault {
        /// Where they came from.
        source_name: String,
        /// Short id found.
        found: String,
        /// Short id of this vault.
        expected: String,
    },
    /// Incoming records whose signatures do not verify.
    #[error(
        "{count} incoming record(s) are damaged or forged (their signatures do not verify); nothing was taken in"
    )]
    BadRecords {
        /// How many.
        count: usize,
    },
    /// Incoming records whose parents exist in no copy (a commit is complete, so they
    /// were tampered with or made up).
    #[error("{count} incoming record(s) name parents that exist nowhere; nothing was taken in")]
    Orphans {
        /// How many.
        count: usize,
    },
    /// Nothing to take records from.
    #[error("{0}: no segment or vault file there")]
    Empty(String),
    /// Git failed, or the work tree is not in a state `sync` can work in.
    #[error("{0}")]
    Git(String),
    /// The remote's history was rewritten since the last sync.
    #[error("{0}")]
    Rewritten(String),
}

/// What a merge took in.
#[derive(Debug)]
pub struct MergeReport {
    /// The vault after the merge.
    pub vault: Vault,
    /// Records that were new here (now in one new segment).
    pub added: usize,
    /// Incoming records this vault already held.
    pub known: usize,
    /// Incoming records held back (parents in neither copy).
    pub held_back: usize,
    /// The segment written, if any.
    pub segment: Option<String>,
    /// Whether the vault directory was created by this merge.
    pub created: bool,
}

/// Read the records of another copy: a vault directory (every `*.seg`; any damaged
/// one refuses the whole source), or one file (a segment or an old single-file vault).
pub fn read_source(path: &Path) -> Result<Vec<Segment>, SyncError> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| {
        SyncError::Store(StoreError::Io {
            path: path.to_path_buf(),
            source: e,
        })
    })?;
    if meta.is_dir() {
        let set = store::read_segments(path)?;
        if let Some((segment, reason)) = set.damaged.into_iter().next() {
            return Err(SyncError::Damaged {
                source_name: name,
                segment,
                reason,
            });
        }
        if set.segments.is_empty() {
            return Err(SyncError::Empty(name));
        }
        return Ok(set.segments.into_iter().map(|(_, s)| s).collect());
    }
    let bytes = store::read_limited(path, store::MAX_VAULT_LEN)?;
    match Segment::decode(&bytes) {
        Ok(s) => Ok(vec![s]),
        Err(e) => Err(SyncError::Damaged {
            source_name: name,
            segment: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            reason: e.to_string(),
        }),
    }
}

/// Verify `incoming` segments against the vault in `store` (its pins included) and
/// add the records it lacks as one new segment. With no vault there yet, the incoming
/// records make one (trusted on first use, like `join`).
pub fn merge_segments(
    store: &VaultStore,
    incoming: Vec<Segment>,
    source_name: &str,
) -> Result<MergeReport, SyncError> {
    if incoming.is_empty() {
        return Err(SyncError::Empty(source_name.to_string()));
    }
    let total: usize = incoming.iter().map(|s| s.records().len()).sum();
    if !store.exists() {
        check_duplicates(None, &incoming)?;
        let vault = match store.create_from(incoming) {
            Err(StoreError::DamagedRecords(count)) => return Err(SyncError::BadRecords { count }),
            other => other?,
        };
        let added = vault.record_count();
        let held_back = vault.segment_report().held_back.len();
        return Ok(MergeReport {
            vault,
            added,
            known: total.saturating_sub(added + held_back),
            held_back,
            segment: None,
            created: true,
        });
    }
    let (local, _) = store.load_unpinned()?;
    for s in &incoming {
        if s.vault_id() != local.id() {
            return Err(SyncError::OtherVault {
                source_name: source_name.to_string(),
                found: s.vault_id().short(),
                expected: local.id().short(),
            });
        }
    }
    check_duplicates(Some(&local), &incoming)?;
    let mut incoming_ids: std::collections::HashSet<RecordId> = std::collections::HashSet::new();
    for s in &incoming {
        incoming_ids.extend(s.records().iter().map(|r| r.id));
    }
    let combined = store.load_with(incoming)?;
    let before = local.record_ids();
    let bad = combined
        .damaged()
        .filter(|id| !before.contains(id) && incoming_ids.contains(id))
        .count();
    if bad > 0 {
        return Err(SyncError::BadRecords { count: bad });
    }
    let known = incoming_ids.iter().filter(|id| before.contains(id)).count();
    let held_back = incoming_ids
        .iter()
        .filter(|id| !combined.contains(id))
        .count();
    let Some(bytes) = combined.segment_since(&before) else {
        store.pin(&local)?;
        return Ok(MergeReport {
            vault: local,
            added: 0,
            known,
            held_back,
            segment: None,
            created: false,
        });
    };
    let added = combined.record_count() - before.len().min(combined.record_count());
    let (vault, name) = store.add_segment(&bytes)?;
    Ok(MergeReport {
        vault,
        added,
        known,
        held_back,
        segment: Some(name),
        created: false,
    })
}

/// Every copy of a record carries one signature: Ed25519 signing is deterministic, so
/// an honest duplicate is byte-identical. An incoming copy of a record whose signature
/// differs from this vault's copy, or from another incoming copy, was tampered with
/// (its bytes would otherwise be taken in as a harmless-looking duplicate).
pub fn check_duplicates(local: Option<&Vault>, incoming: &[Segment]) -> Result<(), SyncError> {
    let mut seen: std::collections::HashMap<RecordId, [u8; 64]> = local
        .map(|v| v.records().iter().map(|r| (r.id, r.signature)).collect())
        .unwrap_or_default();
    let mut bad = 0;
    for s in incoming {
        for r in s.records() {
            match seen.get(&r.id) {
                Some(sig) if *sig != r.signature => bad += 1,
                Some(_) => {}
                None => {
                    seen.insert(r.id, r.signature);
                }
            }
        }
    }
    if bad > 0 {
        return Err(SyncError::BadRecords { count: bad });
    }
    Ok(())
}

/// `merge PATH...`: read every source first (any damage refuses all), then merge.
pub fn merge_paths(store: &VaultStore, paths: &[PathBuf]) -> Result<MergeReport, SyncError> {
    let mut incoming = Vec::new();
    for p in paths {
        incoming.extend(read_source(p)?);
    }
    let name = paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    merge_segments(store, incoming, &name)
}
