//! Compaction (`amanat gc`, and automatically past [`AUTO_THRESHOLD`] segments):
//! small segments are packed into one, in tiers, and the replaced segments are deleted
//! only after a grace period (docs/sync.md, "Repository growth and compaction").
//!
//! - A segment is only replaced by a pack at least twice its size, so a pack is never
//!   replaced by one of about its own size: every record is rewritten O(log n) times,
//!   and git sees adds and deletes, never a file rewritten.
//! - A pack is a function of the set of segments it replaces, so two clones compacting
//!   the same segments write the same file; packs that overlap hold duplicate records,
//!   which reading takes once.
//! - A replaced segment is deleted after the grace period, and only while every record
//!   in it is in another sound segment that stays: a file share that delivers the
//!   deletion before the pack cannot make anyone miss a record for long, and nothing is
//!   ever lost.

use std::collections::HashSet;
use std::fs;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{
    SegmentSet, StoreError, VaultStore, create_private_dir, lock, read_segments_except,
    remove_stale_temps, write_atomic, write_segment,
};
use crate::format::RecordId;
use crate::format::segment::{Segment, pack};

/// More live segments than this start a compaction after a write.
pub const AUTO_THRESHOLD: usize = 64;

/// Replaced segments are deleted this long after they were packed (a day), unless
/// `AMANAT_GC_GRACE_SECONDS` says otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 60 * 60);

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Segments packed now.
    pub packed: usize,
    /// The pack written, if any.
    pub pack: Option<String>,
    /// Replaced segments deleted now (their grace period over).
    pub deleted: usize,
    /// Their names.
    pub deleted_names: Vec<String>,
    /// Replaced segments still waiting for their grace period.
    pub waiting: usize,
    /// Live segments after this run (not counting those waiting for deletion).
    pub live: usize,
}

/// The grace period: `AMANAT_GC_GRACE_SECONDS` or [`DEFAULT_GRACE`].
pub fn grace() -> Duration {
    std::env::var("AMANAT_GC_GRACE_SECONDS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .map_or(DEFAULT_GRACE, Duration::from_secs)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Which of the sorted (smallest first) sizes to pack: the longest prefix, of two or
/// more, whose total is at least twice its largest member.
fn choose(sizes: &[u64]) -> usize {
    let mut total = 0u64;
    let mut best = 0;
    for (i, &s) in sizes.iter().enumerate() {
        total = total.saturating_add(s);
        if i >= 1 && total >= s.saturating_mul(2) {
            best = i + 1;
        }
    }
    best
}

impl VaultStore {
    fn gc_file(&self) -> std::path::PathBuf {
        self.state_dir.join("gc").join(self.path_key())
    }

    /// `name time` lines: segments this machine packed, and when.
    fn replaced(&self) -> Vec<(String, u64)> {
        fs::read_to_string(self.gc_file())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let (name, t) = l.split_once(' ')?;
                Some((name.to_string(), t.trim().parse().ok()?))
            })
            .collect()
    }

    fn set_replaced(&self, list: &[(String, u64)]) -> Result<(), StoreError> {
        let file = self.gc_file();
        if let Some(dir) = file.parent() {
            create_private_dir(dir)?;
        }
        let text: String = list.iter().map(|(n, t)| format!("{n} {t}\n")).collect();
        remove_stale_temps(&file);
        write_atomic(&file, text.as_bytes())
    }

    /// Whether a write should compact: more than [`AUTO_THRESHOLD`] live segments (not
    /// counting those waiting for deletion), or replaced segments past their grace
    /// period. Cheap: lists the directory, opens no segment.
    pub(super) fn needs_compaction(&self) -> bool {
        self.needs_compaction_of(super::segment_listing(&self.path).len())
    }

    /// [`Self::needs_compaction`] when the directory is known to list `segments`
    /// segment files.
    pub(super) fn needs_compaction_of(&self, segments: usize) -> bool {
        let replaced = self.replaced();
        let now = now_secs();
        let grace = grace().as_secs();
        let live = segments.saturating_sub(replaced.len());
        live > AUTO_THRESHOLD
            || replaced
                .iter()
                .any(|(_, t)| now.saturating_sub(*t) >= grace)
    }

    /// Compact under the write lock: delete replaced segments whose grace period is
    /// over, then pack (with `force`, whenever two or more segments qualify; else only
    /// past [`AUTO_THRESHOLD`] live segments).
    pub fn compact(&self, force: bool) -> Result<GcReport, StoreError> {
        self.check_directory()?;
        let _lock = self.write_lock()?;
        self.compact_locked(force)
    }

    /// [`Self::compact`] for a caller that holds the write lock.
    pub(super) fn compact_locked(&self, force: bool) -> Result<GcReport, StoreError> {
        self.compact_locked_with(force, grace().as_secs())
    }

    /// [`Self::compact_locked`] with the grace period in seconds.
    fn compact_locked_with(&self, force: bool, grace: u64) -> Result<GcReport, StoreError> {
        let _gc = {
            let dir = self.state_dir.join("gc");
            create_private_dir(&dir)?;
            lock(&dir.join(".gc"))?
        };
        let now = now_secs();
        let mut replaced = self.replaced();
        let present: HashSet<String> = super::segment_listing(&self.path).into_iter().collect();
        replaced.retain(|(n, _)| present.contains(n));
        let due: HashSet<String> = replaced
            .iter()
            .filter(|(_, t)| now.saturating_sub(*t) >= grace)
            .map(|(n, _)| n.clone())
            .collect();
        // Replaced segments in their grace period are not read: nothing is done with
        // them now, and their records are in the pack that replaced them. (A bulk of
        // writes leaves a thousand of them; reading them all made every compaction
        // cost what the directory held.)
        let resting: HashSet<String> = replaced
            .iter()
            .filter(|(n, _)| !due.contains(n))
            .map(|(n, _)| n.clone())
            .collect();
        let (set, _) = read_segments_except(&self.path, &HashSet::new(), &resting)?;
        let vault_id = self.choose_vault_id(&set)?;
        let SegmentSet { segments, .. } = set;
        let mut ours: Vec<(String, Segment, u64)> = Vec::new();
        for (name, seg) in segments {
            if seg.vault_id() == vault_id {
                let size = fs::metadata(self.path.join(&name)).map_or(0, |m| m.len());
                ours.push((name, seg, size));
            }
        }
        // A due segment that did not read as sound (damaged, another vault's) is
        // forgotten, as before it was read: it is not ours to delete.
        let read: HashSet<&str> = ours.iter().map(|(n, _, _)| n.as_str()).collect();
        replaced.retain(|(n, _)| !due.contains(n) || read.contains(n.as_str()));
        let mut report = GcReport::default();
        // Delete replaced segments past their grace period whose every record is in a
        // live segment (read here, sound, not replaced): a resting segment does not
        // count, so a segment is never deleted on the strength of another that is
        // itself on its way out.
        let staying: HashSet<RecordId> = ours
            .iter()
            .filter(|(n, _, _)| !due.contains(n))
            .flat_map(|(_, s, _)| s.records().iter().map(|r| r.id))
            .collect();
        let mut deleted = HashSet::new();
        for (name, seg, _) in &ours {
            if due.contains(name) && seg.records().iter().all(|r| staying.contains(&r.id)) {
                match fs::remove_file(self.path.join(name)) {
                    Ok(()) => {
                        deleted.insert(name.clone());
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        deleted.insert(name.clone());
                    }
                    Err(e) => {
                        return Err(StoreError::Io {
                            path: self.path.join(name),
                            source: e,
                        });
                    }
                }
            }
        }
        if !deleted.is_empty() {
            super::fsync_dir(&self.path)?;
        }
        report.deleted = deleted.len();
        report.deleted_names = deleted.iter().cloned().collect();
        report.deleted_names.sort();
        replaced.retain(|(n, _)| !deleted.contains(n));
        ours.retain(|(n, _, _)| !deleted.contains(n));
        // Pack the live segments (those not already replaced).
        let waiting: HashSet<String> = replaced.iter().map(|(n, _)| n.clone()).collect();
        let mut live: Vec<(String, Segment, u64)> = ours
            .into_iter()
            .filter(|(n, _, _)| !waiting.contains(n))
            .collect();
        live.sort_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)));
        let k = choose(&live.iter().map(|(_, _, s)| *s).collect::<Vec<_>>());
        if k >= 2 && (force || live.len() > AUTO_THRESHOLD) {
            let members: Vec<Segment> = live[..k].iter().map(|(_, s, _)| s.clone()).collect();
            let bytes = pack(&vault_id, &members);
            let largest = live[k - 1].2;
            if bytes.len() as u64 >= largest.saturating_mul(2) {
                let name = write_segment(&self.path, &bytes)?;
                for (n, _, _) in &live[..k] {
                    if *n != name {
                        replaced.push((n.clone(), now));
                    }
                }
                report.packed = k;
                report.pack = Some(name);
                live.drain(..k);
                report.live = live.len() + 1;
            } else {
                report.live = live.len();
            }
        } else {
            report.live = live.len();
        }
        report.waiting = replaced.len();
        self.set_replaced(&replaced)?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::identity::Identity;
    use crate::vault::{EntryDraft, Vault};

    /// A store with `n` one-entry segments after the genesis one.
    fn store_with(n: usize) -> (tempfile::TempDir, VaultStore, Identity) {
        let dir = tempfile::tempdir().unwrap();
        let a = Identity::generate("alice").unwrap();
        let store = VaultStore::new(dir.path().join("v"), dir.path().join("state"));
        store.create(&Vault::create(&a, "acme").unwrap()).unwrap();
        for i in 0..n {
            let _lock = store.write_lock().unwrap();
            let (mut v, _) = store.load().unwrap();
            let before = v.heads();
            let body = v
                .session(&a)
                .unwrap()
                .create_entry(&EntryDraft::default().with_path(&format!("e/{i}")))
                .unwrap();
            v.append(&a, vec![body]).unwrap();
            write_segment(store.path(), &v.segment_after(&before).unwrap()).unwrap();
        }
        (dir, store, a)
    }

    /// Replaced segments in their grace period are not read by a compaction (a
    /// damaged one does not even make it fail), are deleted once due only when a live
    /// segment holds every record, and nothing is ever lost.
    #[test]
    fn resting_segments_are_not_read_and_deletion_loses_nothing() {
        let (_dir, store, _alice) = store_with(5);
        let ids = |s: &VaultStore| s.load().unwrap().0.record_ids();
        let all = ids(&store);
        let first = {
            let _l = store.write_lock().unwrap();
            store.compact_locked_with(true, 3600).unwrap()
        };
        assert_eq!(first.packed, 6);
        let resting: Vec<String> = store.replaced().into_iter().map(|(n, _)| n).collect();
        assert_eq!(resting.len(), 6);
        // Garble a resting segment: reading it would now find damage.
        let victim = store.path().join(&resting[0]);
        fs::write(&victim, b"not a segment").unwrap();
        let again = {
            let _l = store.write_lock().unwrap();
            store.compact_locked_with(true, 3600).unwrap()
        };
        assert_eq!((again.packed, again.deleted, again.waiting), (0, 0, 6));
        // Once due, the sound ones go (the pack holds their records); the garbled one
        // is not read as sound, so it is forgotten, never deleted on trust.
        let due = {
            let _l = store.write_lock().unwrap();
            store.compact_locked_with(false, 0).unwrap()
        };
        assert_eq!(due.deleted, 5);
        assert!(victim.exists());
        assert!(store.replaced().is_empty());
        fs::remove_file(&victim).unwrap();
        assert_eq!(ids(&store), all);
    }

    #[test]
    fn choose_packs_a_prefix_at_least_twice_its_largest() {
        assert_eq!(choose(&[]), 0);
        assert_eq!(choose(&[10]), 0);
        // 10 + 10 >= 2 * 10.
        assert_eq!(choose(&[10, 10]), 2);
        // A big pack is not rewritten for one small segment.
        assert_eq!(choose(&[10, 1000]), 0);
        assert_eq!(choose(&[10, 10, 10, 1000]), 3);
        // Enough small ones and the pack joins them.
        let mut sizes = vec![10; 120];
        sizes.push(1000);
        assert_eq!(choose(&sizes), 121);
    }
}
