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
    StoreError, VaultStore, create_private_dir, lock, read_segments_except, remove_stale_temps,
    write_atomic, write_segment,
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
    ///
    /// Reads only what it acts on: the packing is chosen from file sizes, and only
    /// the segments chosen are read (verified and decoded) to be packed; every live
    /// segment is read only when a replaced one is due for deletion (at most once per
    /// grace period), to check that its records stay. Replaced segments resting in
    /// their grace period are never read.
    fn compact_locked_with(&self, force: bool, grace: u64) -> Result<GcReport, StoreError> {
        let _gc = {
            let dir = self.state_dir.join("gc");
            create_private_dir(&dir)?;
            lock(&dir.join(".gc"))?
        };
        let now = now_secs();
        let listed: Vec<String> = super::segment_listing(&self.path);
        let present: HashSet<&str> = listed.iter().map(String::as_str).collect();
        let mut replaced = self.replaced();
        replaced.retain(|(n, _)| present.contains(n.as_str()));
        let due: HashSet<String> = replaced
            .iter()
            .filter(|(_, t)| now.saturating_sub(*t) >= grace)
            .map(|(n, _)| n.clone())
            .collect();
        let mut report = GcReport::default();
        if !due.is_empty() {
            let deleted = self.delete_due(&mut replaced, &due)?;
            report.deleted = deleted.len();
            report.deleted_names = deleted;
        }
        // Pack the live segments (those not replaced), chosen by size.
        let waiting: HashSet<&str> = replaced.iter().map(|(n, _)| n.as_str()).collect();
        let mut live: Vec<(String, u64)> = listed
            .iter()
            .filter(|n| !waiting.contains(n.as_str()) && !report.deleted_names.contains(n))
            .map(|n| {
                let size = fs::symlink_metadata(self.path.join(n)).map_or(0, |m| m.len());
                (n.clone(), size)
            })
            .collect();
        live.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        report.live = live.len();
        let k = choose(&live.iter().map(|(_, s)| *s).collect::<Vec<_>>());
        if k >= 2 && (force || live.len() > AUTO_THRESHOLD) {
            let chosen: HashSet<String> = live[..k].iter().map(|(n, _)| n.clone()).collect();
            let vault_id = match self.pinned_id() {
                Some(id) => id,
                // Not pinned here (rare: a compaction before any load pinned): the
                // genesis decides, so read everything once.
                None => self.choose_vault_id(
                    &read_segments_except(
                        &self.path,
                        &HashSet::new(),
                        &waiting.iter().map(|n| n.to_string()).collect(),
                    )?
                    .0,
                )?,
            };
            let skip: HashSet<String> = listed
                .iter()
                .filter(|n| !chosen.contains(*n))
                .cloned()
                .collect();
            let (set, _) = read_segments_except(&self.path, &HashSet::new(), &skip)?;
            // Damaged or foreign segments are not packed (they stay, as damage).
            let mut members: Vec<(String, Segment, u64)> = set
                .segments
                .into_iter()
                .filter(|(_, seg)| seg.vault_id() == vault_id)
                .map(|(n, seg)| {
                    let size = live.iter().find(|(m, _)| *m == n).map_or(0, |(_, s)| *s);
                    (n, seg, size)
                })
                .collect();
            members.sort_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)));
            let largest = members.last().map_or(0, |m| m.2);
            if members.len() >= 2 {
                let segs: Vec<Segment> = members.iter().map(|(_, s, _)| s.clone()).collect();
                let bytes = pack(&vault_id, &segs);
                if bytes.len() as u64 >= largest.saturating_mul(2) {
                    let name = write_segment(&self.path, &bytes)?;
                    for (n, _, _) in &members {
                        if *n != name {
                            replaced.push((n.clone(), now));
                        }
                    }
                    report.packed = members.len();
                    report.pack = Some(name);
                    report.live = live.len() - members.len() + 1;
                }
            }
        }
        report.waiting = replaced.len();
        self.set_replaced(&replaced)?;
        Ok(report)
    }

    /// Delete the replaced segments in `due` whose every record is in a live segment
    /// (read here, sound, ours, not replaced): a resting segment does not count, so a
    /// segment is never deleted on the strength of another that is itself on its way
    /// out. A due segment that does not read as sound (damaged, another vault's) is
    /// forgotten, not deleted. Returns the names deleted, sorted; updates `replaced`.
    fn delete_due(
        &self,
        replaced: &mut Vec<(String, u64)>,
        due: &HashSet<String>,
    ) -> Result<Vec<String>, StoreError> {
        let resting: HashSet<String> = replaced
            .iter()
            .filter(|(n, _)| !due.contains(n))
            .map(|(n, _)| n.clone())
            .collect();
        let set = read_segments_except(&self.path, &HashSet::new(), &resting)?.0;
        let vault_id = self.choose_vault_id(&set)?;
        let ours: Vec<(String, Segment)> = set
            .segments
            .into_iter()
            .filter(|(_, s)| s.vault_id() == vault_id)
            .collect();
        let read: HashSet<&str> = ours.iter().map(|(n, _)| n.as_str()).collect();
        replaced.retain(|(n, _)| !due.contains(n) || read.contains(n.as_str()));
        let staying: HashSet<RecordId> = ours
            .iter()
            .filter(|(n, _)| !due.contains(n))
            .flat_map(|(_, s)| s.records().iter().map(|r| r.id))
            .collect();
        let mut deleted = Vec::new();
        for (name, seg) in &ours {
            if due.contains(name) && seg.records().iter().all(|r| staying.contains(&r.id)) {
                match fs::remove_file(self.path.join(name)) {
                    Ok(()) => deleted.push(name.clone()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        deleted.push(name.clone())
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
        deleted.sort();
        replaced.retain(|(n, _)| !deleted.contains(n));
        Ok(deleted)
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

    /// Random histories of writes and compactions — forced or not, with segments due
    /// for deletion or resting, the listing sometimes damaged by a stray file — never
    /// lose a record, and leave no more than the threshold's worth of live segments
    /// behind a compaction that packs.
    #[test]
    fn random_writes_and_compactions_lose_nothing() {
        use proptest::prelude::*;
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
            cases: 12,
            ..ProptestConfig::default()
        });
        let ops = proptest::collection::vec((0u8..4, any::<bool>()), 10..40);
        runner
            .run(&ops, |ops| {
                let (_dir, store, alice) = store_with(0);
                let mut written = store.load().unwrap().0.record_ids();
                for (i, (op, flag)) in ops.into_iter().enumerate() {
                    match op {
                        0 | 1 => {
                            let _l = store.write_lock().unwrap();
                            let (mut v, _) = store.load().unwrap();
                            let before = v.heads();
                            let body = v
                                .session(&alice)
                                .unwrap()
                                .create_entry(&EntryDraft::default().with_path(&format!("p/{i}")))
                                .unwrap();
                            v.append(&alice, vec![body]).unwrap();
                            write_segment(store.path(), &v.segment_after(&before).unwrap())
                                .unwrap();
                            written.extend(v.record_ids());
                        }
                        2 => {
                            let _l = store.write_lock().unwrap();
                            let grace = if flag { 0 } else { 3600 };
                            store.compact_locked_with(i % 3 == 0, grace).unwrap();
                        }
                        _ if flag => {
                            // A stray file that is not a sound segment of this vault.
                            let junk = b"junk";
                            fs::write(
                                store
                                    .path()
                                    .join(crate::format::segment::segment_name(junk)),
                                junk,
                            )
                            .unwrap();
                        }
                        _ => {}
                    }
                    let held = store.load().unwrap().0.record_ids();
                    prop_assert!(written.is_subset(&held), "a record was lost at op {}", i);
                }
                Ok(())
            })
            .unwrap();
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
