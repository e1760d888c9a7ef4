//! The use log: which entries this person used on this machine, and when
//! (docs/format.md, "Local state (not shared)"; docs/guide.md, "The use log").
//!
//! One file per vault in local state, `uses/<vault id hex>` (mode 0600, in a 0700
//! directory), never synced: each `get`, `clip`, `run`, `otp` and git credential use
//! appends `<unix seconds> <entry id hex>\n`. Nothing else: no path, no name, no
//! secret. `review` and `audit` read it for "last used by you". It is local evidence
//! only: it cannot show anyone else's use, and its owner can edit or delete it.
//!
//! The file is local but still input: reading is bounded ([`MAX_READ`], the newest
//! part), a line that is not exactly `<digits> <32 hex digits>` is skipped and counted,
//! and nothing here panics on its content.
//!
//! Concurrency: every writer (an append, a compaction) holds the exclusive lock
//! `uses/<vault id hex>.lock` and opens the file under it, so an append can never
//! land in a file a compaction has just replaced; appends are also `O_APPEND` with one
//! `write` per use, so they stay whole even where the lock is not honoured. Readers
//! take no lock: the file is replaced by rename, never rewritten in place.
//!
//! Not for: deciding what counts as a use (the command line calls [`record`] after a
//! secret was delivered), or printing anything.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::format::{EntryId, RecordId};
use crate::store::{self, StoreError};

/// The variable that turns the use log off: `AMANAT_USE_LOG=off` (any case, spaces
/// around it ignored). Unset, empty or any other value: on.
pub const USE_LOG_VAR: &str = "AMANAT_USE_LOG";

/// The directory of the use logs in local state.
pub const USES_DIR: &str = "uses";

/// Past this size an append compacts the file to one line per entry (its latest use).
pub const COMPACT_AT: u64 = 1 << 20;

/// At most this much of the file is read: its newest part (a file can only be this
/// large if compaction kept failing, or someone else wrote it).
pub const MAX_READ: u64 = 8 << 20;

/// How long an append waits for another writer's lock before giving up (appends and
/// compactions hold it for milliseconds; a use must never hang on the log).
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// Whether the use log is on (`AMANAT_USE_LOG`, see [`USE_LOG_VAR`]).
pub fn enabled() -> bool {
    enabled_by(std::env::var_os(USE_LOG_VAR).as_deref())
}

fn enabled_by(value: Option<&OsStr>) -> bool {
    !value
        .and_then(OsStr::to_str)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("off"))
}

/// The use log of the vault `vault_id` in the state directory `state_dir`.
pub fn log_file(state_dir: &Path, vault_id: &RecordId) -> PathBuf {
    state_dir.join(USES_DIR).join(vault_id.to_hex())
}

/// Record that `entries` were used at `now` (seconds since the epoch): one append of
/// one line each (duplicates once). Nothing when the log is off or `entries` is empty.
/// The file is not synced: a use lost in a crash is lost evidence, not lost data, and
/// a `get` should not wait for the disk.
pub fn record(
    state_dir: &Path,
    vault_id: &RecordId,
    entries: &[EntryId],
    now: u64,
) -> io::Result<()> {
    if !enabled() {
        return Ok(());
    }
    append(&log_file(state_dir, vault_id), entries, now, COMPACT_AT)
}

/// What a use log holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Uses {
    /// The latest use of each entry (seconds since the epoch).
    pub last: HashMap<EntryId, u64>,
    /// Lines that were not `<unix seconds> <entry id hex>`, skipped.
    pub malformed: usize,
}

/// The latest use of each entry in the use log of `vault_id` (empty when there is
/// none). Malformed lines are skipped; [`read`] also counts them.
pub fn last_uses(state_dir: &Path, vault_id: &RecordId) -> io::Result<HashMap<EntryId, u64>> {
    read(state_dir, vault_id).map(|u| u.last)
}

/// [`last_uses`] with the count of malformed lines.
pub fn read(state_dir: &Path, vault_id: &RecordId) -> io::Result<Uses> {
    read_file(&log_file(state_dir, vault_id))
}

fn read_file(path: &Path) -> io::Result<Uses> {
    Ok(read_tail(path)?
        .map(|bytes| parse(&bytes))
        .unwrap_or_default())
}

/// An I/O error that names the file.
fn named(path: &Path) -> impl FnOnce(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// A store error as an I/O error (the store's messages name their file).
fn from_store(e: StoreError) -> io::Error {
    match e {
        StoreError::Io { path, source } => {
            io::Error::new(source.kind(), format!("{}: {source}", path.display()))
        }
        other => io::Error::other(other.to_string()),
    }
}

fn not_regular(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: not a regular file", path.display()),
    )
}

/// The last [`MAX_READ`] bytes of the file, starting at a line, or `None` when it does
/// not exist. Opened without following a symbolic link or blocking on a FIFO.
fn read_tail(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let flags = (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits();
    let mut file = match OpenOptions::new()
        .read(true)
        .custom_flags(flags as i32)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(named(path)(e)),
    };
    let meta = file.metadata().map_err(named(path))?;
    if !meta.file_type().is_file() {
        return Err(not_regular(path));
    }
    // From one byte before the part kept, so that a line starting exactly there is
    // recognised as whole: everything up to the first newline is dropped.
    let start = meta.len().saturating_sub(MAX_READ);
    let from = start.saturating_sub(1);
    file.seek(SeekFrom::Start(from)).map_err(named(path))?;
    let mut bytes = Vec::new();
    file.take(MAX_READ + 1)
        .read_to_end(&mut bytes)
        .map_err(named(path))?;
    if start > 0 {
        match bytes.iter().position(|&b| b == b'\n') {
            Some(i) => drop(bytes.drain(..=i)),
            None => bytes.clear(),
        }
    }
    Ok(Some(bytes))
}

/// The uses in a log's bytes: the latest time per entry, malformed lines counted.
fn parse(bytes: &[u8]) -> Uses {
    let mut uses = Uses::default();
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if body.is_empty() {
        return uses;
    }
    for line in body.split(|&b| b == b'\n') {
        match parse_line(line) {
            Some((time, id)) => {
                let last = uses.last.entry(id).or_insert(time);
                *last = (*last).max(time);
            }
            None => uses.malformed += 1,
        }
    }
    uses
}

/// `<unix seconds> <entry id hex>`: decimal digits (a u64), one space, 32 lowercase
/// hex digits; nothing else.
fn parse_line(line: &[u8]) -> Option<(u64, EntryId)> {
    let line = std::str::from_utf8(line).ok()?;
    let (time, id) = line.split_once(' ')?;
    if time.is_empty() || !time.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if id.len() != 32 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    Some((time.parse().ok()?, EntryId::from_hex(id)?))
}

fn line(time: u64, id: &EntryId) -> String {
    format!("{time} {}\n", id.to_hex())
}

/// Take the log's lock, waiting at most [`LOCK_WAIT`].
fn lock(path: &Path) -> io::Result<store::Lock> {
    let until = Instant::now() + LOCK_WAIT;
    loop {
        if let Some(lock) = store::try_lock(path).map_err(from_store)? {
            return Ok(lock);
        }
        if Instant::now() >= until {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{}: another process holds its lock", path.display()),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// [`record`] into `path`, compacting past `compact_at` bytes.
fn append(path: &Path, entries: &[EntryId], now: u64, compact_at: u64) -> io::Result<()> {
    let mut text = String::new();
    let mut seen = Vec::with_capacity(entries.len());
    for id in entries {
        if !seen.contains(id) {
            seen.push(*id);
            text.push_str(&line(now, id));
        }
    }
    if text.is_empty() {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        store::create_private_dir(dir).map_err(from_store)?;
    }
    let _lock = lock(path)?;
    let flags = rustix::fs::OFlags::NOFOLLOW.bits();
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(flags as i32)
        .open(path)
        .map_err(named(path))?;
    let meta = file.metadata().map_err(named(path))?;
    if !meta.file_type().is_file() {
        return Err(not_regular(path));
    }
    // A file someone else made readable (the mode applies only on creation).
    if meta.permissions().mode() & 0o077 != 0 {
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(named(path))?;
    }
    // A line cut short (a crash, a full disk) must not swallow the next one.
    let len = meta.len();
    if len > 0 {
        let mut last = [0u8];
        file.read_exact_at(&mut last, len - 1)
            .map_err(named(path))?;
        if last[0] != b'\n' {
            text.insert(0, '\n');
        }
    }
    file.write_all(text.as_bytes()).map_err(named(path))?;
    drop(file);
    if len + text.len() as u64 > compact_at {
        compact_locked(path, compact_at / 2)?;
    }
    Ok(())
}

/// Rewrite the log as one line per entry, its latest use, oldest first; the caller
/// holds the lock. At most `keep` bytes are kept, the most recent uses, so a
/// compaction always leaves room for half a threshold of appends before the next
/// (past about 11,900 distinct entries of one vault, the oldest uses are dropped).
/// Written as a temporary file in the same directory, synced, renamed over the log,
/// and the directory synced (`store::write_atomic`, mode 0600).
fn compact_locked(path: &Path, keep: u64) -> io::Result<()> {
    let uses = read_file(path)?;
    let mut latest: Vec<(u64, EntryId)> = uses.last.into_iter().map(|(id, t)| (t, id)).collect();
    // Newest first to choose what is kept, then oldest first in the file.
    latest.sort_unstable_by(|a, b| b.cmp(a));
    let mut kept = Vec::new();
    let mut size = 0u64;
    for (time, id) in latest {
        let l = line(time, &id);
        size += l.len() as u64;
        if size > keep {
            break;
        }
        kept.push(l);
    }
    kept.reverse();
    store::remove_stale_temps(path);
    store::write_atomic(path, kept.concat().as_bytes()).map_err(from_store)
}

/// Compact the log of `vault_id` now (under its lock); nothing when there is none.
pub fn compact(state_dir: &Path, vault_id: &RecordId) -> io::Result<()> {
    let path = log_file(state_dir, vault_id);
    if !path.exists() {
        return Ok(());
    }
    let _lock = lock(&path)?;
    compact_locked(&path, COMPACT_AT / 2)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;
    use std::fs::File;

    /// Hold the lock of the log at `path`, as another process would.
    fn hold_lock(path: &Path) -> File {
        let mut p = path.as_os_str().to_owned();
        p.push(".lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(PathBuf::from(p))
            .expect("lock file");
        f.lock().expect("lock");
        f
    }

    fn id(n: u8) -> EntryId {
        EntryId([n; 16])
    }

    fn vault() -> RecordId {
        RecordId([7; 32])
    }

    fn record_at(state: &Path, entries: &[EntryId], now: u64) {
        append(&log_file(state, &vault()), entries, now, COMPACT_AT).unwrap();
    }

    #[test]
    fn round_trip_one_line_per_use() {
        let dir = tempfile::tempdir().unwrap();
        record_at(dir.path(), &[id(1), id(2)], 1_700_000_000);
        record_at(dir.path(), &[id(1)], 1_700_000_100);
        let text = fs::read_to_string(log_file(dir.path(), &vault())).unwrap();
        assert_eq!(
            text,
            format!(
                "1700000000 {0}\n1700000000 {1}\n1700000100 {0}\n",
                id(1).to_hex(),
                id(2).to_hex()
            )
        );
        let last = last_uses(dir.path(), &vault()).unwrap();
        assert_eq!(
            last,
            HashMap::from([(id(1), 1_700_000_100), (id(2), 1_700_000_000)])
        );
    }

    #[test]
    fn latest_wins_whatever_the_order() {
        let dir = tempfile::tempdir().unwrap();
        record_at(dir.path(), &[id(1)], 300);
        record_at(dir.path(), &[id(1)], 100);
        assert_eq!(last_uses(dir.path(), &vault()).unwrap()[&id(1)], 300);
    }

    #[test]
    fn vaults_do_not_mix() {
        let dir = tempfile::tempdir().unwrap();
        record_at(dir.path(), &[id(1)], 5);
        assert!(
            last_uses(dir.path(), &RecordId([8; 32]))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn duplicates_in_one_record_are_one_line() {
        let dir = tempfile::tempdir().unwrap();
        record_at(dir.path(), &[id(1), id(1)], 5);
        let text = fs::read_to_string(log_file(dir.path(), &vault())).unwrap();
        assert_eq!(text.lines().count(), 1);
    }

    #[test]
    fn missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path(), &vault()).unwrap(), Uses::default());
    }

    #[test]
    fn malformed_lines_are_skipped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_file(dir.path(), &vault());
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let good = id(0xab).to_hex();
        let lines = [
            format!("10 {good}"),
            String::new(),
            format!("x10 {good}"),
            format!("-1 {good}"),
            format!(" 10 {good}"),
            format!("10  {good}"),
            format!("10 {good} extra"),
            format!("10 {}", &good[..31]),
            format!("10 {}", good.to_uppercase()),
            format!("99999999999999999999999 {good}"),
            "10".to_string(),
            "\u{fffd}\u{1b}]52;c;".to_string(),
            format!("20 {good}"),
        ];
        let mut bytes = lines.join("\n").into_bytes();
        bytes.extend_from_slice(b"\n\xff\xfe\n");
        fs::write(&path, &bytes).unwrap();
        let uses = read(dir.path(), &vault()).unwrap();
        assert_eq!(uses.last, HashMap::from([(id(0xab), 20)]));
        assert_eq!(uses.malformed, lines.len() - 2 + 1);
    }

    #[test]
    fn a_cut_line_does_not_swallow_the_next_use() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_file(dir.path(), &vault());
        record_at(dir.path(), &[id(1)], 10);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"11 0101").unwrap();
        record_at(dir.path(), &[id(2)], 12);
        let uses = read(dir.path(), &vault()).unwrap();
        assert_eq!(uses.last, HashMap::from([(id(1), 10), (id(2), 12)]));
        assert_eq!(uses.malformed, 1);
    }

    #[test]
    fn file_0600_in_a_0700_directory() {
        let dir = tempfile::tempdir().unwrap();
        record_at(dir.path(), &[id(1)], 1);
        let path = log_file(dir.path(), &vault());
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        // A file someone made readable is made private again by the next use.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        record_at(dir.path(), &[id(1)], 2);
        assert_eq!(mode(&path), 0o600);
        // So is the file a compaction writes.
        compact(dir.path(), &vault()).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn a_symlink_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_file(dir.path(), &vault());
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let target = dir.path().join("elsewhere");
        fs::write(&target, "").unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        assert!(append(&path, &[id(1)], 1, COMPACT_AT).is_err());
        assert!(read(dir.path(), &vault()).is_err());
        assert_eq!(fs::read(&target).unwrap(), b"");
    }

    #[test]
    fn off_means_off_and_anything_else_on() {
        assert!(enabled_by(None));
        for on in ["", "on", "1", "yes", "of", "offf"] {
            assert!(enabled_by(Some(OsStr::new(on))), "{on:?}");
        }
        for off in ["off", "OFF", " Off\n"] {
            assert!(!enabled_by(Some(OsStr::new(off))), "{off:?}");
        }
    }

    #[test]
    fn nothing_to_record_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        record_at(dir.path(), &[], 1);
        assert!(!dir.path().join(USES_DIR).exists());
    }

    #[test]
    fn compaction_keeps_the_latest_use_of_each_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_file(dir.path(), &vault());
        // 44 bytes a line: the 39th append passes 1,700 bytes and compacts.
        for t in 0..40u64 {
            append(&path, &[id((t % 3) as u8)], 1_000_000_000 + t, 1_700).unwrap();
        }
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.len() < 1_700, "{text}");
        assert_eq!(
            last_uses(dir.path(), &vault()).unwrap(),
            HashMap::from([
                (id(0), 1_000_000_039),
                (id(1), 1_000_000_037),
                (id(2), 1_000_000_038)
            ])
        );
        // Exactly one line each right after a compaction; nothing left behind.
        compact(dir.path(), &vault()).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!(
                "1000000037 {}\n1000000038 {}\n1000000039 {}\n",
                id(1).to_hex(),
                id(2).to_hex(),
                id(0).to_hex()
            )
        );
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        let mut names = names;
        names.sort();
        assert_eq!(
            names,
            [vault().to_hex(), format!("{}.lock", vault().to_hex())]
        );
    }

    #[test]
    fn compaction_keeps_the_newest_uses_within_half_the_threshold() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_file(dir.path(), &vault());
        for n in 0..10u8 {
            append(&path, &[id(n)], 1_000_000_000 + u64::from(n), u64::MAX).unwrap();
        }
        compact_locked(&path, 3 * 44).unwrap();
        assert_eq!(
            last_uses(dir.path(), &vault()).unwrap(),
            HashMap::from([
                (id(7), 1_000_000_007),
                (id(8), 1_000_000_008),
                (id(9), 1_000_000_009)
            ])
        );
    }

    #[test]
    fn reading_is_bounded_to_the_newest_part() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_file(dir.path(), &vault());
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        // An old use, then more than MAX_READ of filler, then a new use.
        let mut f = File::create(&path).unwrap();
        f.write_all(line(1, &id(1)).as_bytes()).unwrap();
        let filler = line(2, &id(2)).repeat(4096);
        let mut written = 0u64;
        while written <= MAX_READ {
            f.write_all(filler.as_bytes()).unwrap();
            written += filler.len() as u64;
        }
        f.write_all(line(3, &id(3)).as_bytes()).unwrap();
        drop(f);
        let uses = read(dir.path(), &vault()).unwrap();
        assert_eq!(uses.last, HashMap::from([(id(2), 2), (id(3), 3)]));
        assert_eq!(uses.malformed, 0, "a partial first line was parsed");
    }

    #[test]
    fn a_held_lock_fails_the_append_instead_of_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_file(dir.path(), &vault());
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let held = hold_lock(&path);
        let start = Instant::now();
        let err = append(&path, &[id(1)], 1, COMPACT_AT).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(start.elapsed() < LOCK_WAIT + Duration::from_secs(2));
        drop(held);
        append(&path, &[id(1)], 1, COMPACT_AT).unwrap();
    }

    #[test]
    fn concurrent_appends_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_file(dir.path(), &vault());
        std::thread::scope(|s| {
            for n in 0..4u8 {
                let path = &path;
                s.spawn(move || {
                    for t in 0..50u64 {
                        append(path, &[id(n)], t, 2_000).unwrap();
                    }
                });
            }
        });
        let uses = read(dir.path(), &vault()).unwrap();
        assert_eq!(uses.malformed, 0);
        assert_eq!(uses.last, (0..4).map(|n| (id(n), 49)).collect());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Record(Vec<u8>, u64),
        Compact,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (proptest::collection::vec(0u8..8, 0..4), 0u64..5_000_000_000)
                .prop_map(|(ids, t)| Op::Record(ids, t)),
            1 => Just(Op::Compact),
        ]
    }

    proptest! {
        /// Whatever uses are recorded, in any time order, with compactions forced or
        /// triggered by size in between, the log answers the latest use of each entry.
        #[test]
        fn last_uses_equals_the_model(ops in proptest::collection::vec(op(), 0..60)) {
            let dir = tempfile::tempdir().unwrap();
            let path = log_file(dir.path(), &vault());
            let mut model: HashMap<EntryId, u64> = HashMap::new();
            for op in ops {
                match op {
                    Op::Record(ids, t) => {
                        let ids: Vec<_> = ids.into_iter().map(id).collect();
                        // 8 entries of at most 54 bytes fit in half of 1,024 bytes:
                        // compaction never has to drop one here.
                        append(&path, &ids, t, 1_024).unwrap();
                        for i in ids {
                            let last = model.entry(i).or_insert(t);
                            *last = (*last).max(t);
                        }
                    }
                    Op::Compact => compact(dir.path(), &vault()).unwrap(),
                }
                prop_assert!(fs::metadata(&path).map(|m| m.len()).unwrap_or(0) <= 1_024 + 4 * 54);
            }
            let uses = read(dir.path(), &vault()).unwrap();
            prop_assert_eq!(uses.malformed, 0);
            prop_assert_eq!(uses.last, model);
        }
    }
}
