//! Files on disk: the vault directory (immutable segments, docs/format.md "Segments"),
//! the identity file, and local state (pins that detect rollback and forks, the write
//! lock).
//!
//! This is the only module that touches those files. A write adds one new segment and
//! never rewrites one: a temporary file in the same directory is written, fsynced,
//! renamed to the SHA-256 of its bytes, and the directory is fsynced, so a crash at any
//! moment leaves the vault without or with the whole segment. Writers on one machine
//! hold an exclusive lock in local state (never in the synced directory) and re-read
//! the directory under it; readers take no lock.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::format::segment::{SEGMENT_EXTENSION, Segment, segment_name};

mod compact;
use crate::format::{MAX_RECORD_LEN, MAX_RECORDS, RecordId};
use crate::identity::MAX_IDENTITY_LEN;
use crate::vault::{Vault, VaultError};
pub use compact::{AUTO_THRESHOLD, GcReport};

/// Ceiling on a vault file's size (1 GiB).
pub const MAX_VAULT_LEN: u64 = 1 << 30;
const _: () = assert!(MAX_RECORD_LEN < MAX_VAULT_LEN as usize && MAX_RECORDS > 0);

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The vault file does not exist.
    #[error("no vault at {0}")]
    NoVault(PathBuf),
    /// The identity file does not exist.
    #[error("no identity at {0}")]
    NoIdentity(PathBuf),
    /// A file that must not be overwritten already exists.
    #[error("{0} already exists")]
    Exists(PathBuf),
    /// A file larger than its ceiling.
    #[error("{0} is too large")]
    TooLarge(PathBuf),
    /// The vault lacks records this machine pinned: a rollback or a fork.
    #[error(
        "vault {vault} lacks {missing} record(s) this machine already verified: this copy was rolled back or forked, or a segment was deleted"
    )]
    Rollback {
        /// Short vault id.
        vault: String,
        /// How many pinned records are missing.
        missing: usize,
    },
    /// Pinned records are missing because a segment is damaged.
    #[error(
        "vault {vault} lacks {missing} record(s) this machine already verified: segment {segment} is damaged ({reason})"
    )]
    DamagedSegment {
        /// Short vault id.
        vault: String,
        /// How many pinned records are missing.
        missing: usize,
        /// The first damaged segment's name.
        segment: String,
        /// Why it is damage.
        reason: String,
    },
    /// A record voids an ownership hand-over this machine had counted (the old
    /// owner's key signing on old heads): refused like a rollback.
    #[error(
        "vault {vault}: record(s) void the ownership hand-over {acceptance} this machine already counted"
    )]
    HandOverUndone {
        /// Short vault id.
        vault: String,
        /// Short id of the acceptance.
        acceptance: String,
    },
    /// The file at this path is a different vault than the one pinned for it.
    #[error("{path} now holds vault {found}, not the vault {pinned} this machine knows there")]
    Replaced {
        /// The vault path.
        path: PathBuf,
        /// Short id pinned.
        pinned: String,
        /// Short id found.
        found: String,
    },
    /// Records whose signatures do not verify, in a copy to be taken in.
    #[error("{0} record(s) are damaged or forged (their signatures do not verify)")]
    DamagedRecords(usize),
    /// A single-file vault of an earlier version where a vault directory belongs.
    #[error("{0} is a single-file vault of an earlier version, not a vault directory")]
    SingleFile(PathBuf),
    /// A vault directory without the segment holding the genesis record (and the
    /// first damaged segment, if one was skipped: likely that one).
    #[error("{0} holds no segment with the vault's first (genesis) record{1}")]
    NoGenesis(PathBuf, String),
    /// A directory holding the genesis records of two vaults.
    #[error("{0} holds segments of two different vaults")]
    TwoVaults(PathBuf),
    /// The vault's contents.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Create a directory (and parents) with mode 0700 for the parts we create.
pub fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir))
}

/// Read a whole file, refusing anything larger than `max` bytes before reading it.
pub fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, StoreError> {
    let file = File::open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    if len > max {
        return Err(StoreError::TooLarge(path.to_path_buf()));
    }
    let mut out = Vec::with_capacity(len as usize);
    file.take(max + 1)
        .read_to_end(&mut out)
        .map_err(io_err(path))?;
    if out.len() as u64 > max {
        return Err(StoreError::TooLarge(path.to_path_buf()));
    }
    Ok(out)
}

/// Replace `path` atomically with `bytes`, mode 0600: temp file in the same directory,
/// fsync, rename, fsync the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    write_atomic_then(path, bytes, true)
}

/// [`write_atomic`] that may skip the directory's fsync: after a crash the file is
/// then either the new one or the old one, never a mix or empty (its bytes are synced
/// before the rename). For the pins, whose write may fail or be lost without harm (an
/// older pin protects less; a write that reported success is in its segment, synced
/// first), and which every write updates.
fn write_atomic_then(path: &Path, bytes: &[u8], sync_dir: bool) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(0o600))
        .tempfile_in(&dir)
        .map_err(io_err(&dir))?;
    // Through the File (NamedTempFile's own Write adds the temporary path, which is
    // gone by the time the error is read): errors name the file being written.
    tmp.as_file_mut().write_all(bytes).map_err(io_err(path))?;
    tmp.as_file().sync_all().map_err(io_err(path))?;
    tmp.persist(path).map_err(|e| StoreError::Io {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    if !sync_dir {
        return Ok(());
    }
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(&dir))
}

/// fsync a directory (after removing files from it).
fn fsync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// An exclusive lock held until dropped.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

fn open_lock_file(path: &Path) -> Result<(File, PathBuf), StoreError> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .map_err(io_err(&lock_path))?;
    Ok((file, lock_path))
}

/// Take the exclusive lock on `<path>.lock` (waits for other writers and readers).
pub fn lock(path: &Path) -> Result<Lock, StoreError> {
    let (file, lock_path) = open_lock_file(path)?;
    file.lock().map_err(io_err(&lock_path))?;
    Ok(Lock { _file: file })
}

/// [`lock`] without waiting: `None` when another process holds it.
pub fn try_lock(path: &Path) -> Result<Option<Lock>, StoreError> {
    let (file, lock_path) = open_lock_file(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(Lock { _file: file })),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(e)) => Err(io_err(&lock_path)(e)),
    }
}

/// Remove temporary files that `write_atomic` left for `path` when a writer was killed
/// between creating and renaming them. Only call this while holding the lock that
/// every writer of `path` holds, so no live writer's temp file can match.
pub(crate) fn remove_stale_temps(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let n = file_name.to_string_lossy();
        if n.starts_with(&prefix) && n.ends_with(".tmp") {
            // Best effort: a failure leaves a harmless file behind.
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Read an identity file.
pub fn read_identity(path: &Path) -> Result<Vec<u8>, StoreError> {
    if !path.exists() {
        return Err(StoreError::NoIdentity(path.to_path_buf()));
    }
    read_limited(path, MAX_IDENTITY_LEN as u64)
}

/// Write a new identity file (0600 in a 0700 directory); refuses to overwrite unless
/// `replace` (for `identity passwd`, which holds the lock).
pub fn write_identity(path: &Path, bytes: &[u8], replace: bool) -> Result<(), StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    if !replace && path.exists() {
        return Err(StoreError::Exists(path.to_path_buf()));
    }
    write_atomic(path, bytes)
}

/// A member whose keys changed since this machine last saw them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberKeyNotice {
    /// Their name.
    pub member: String,
    /// Their new fingerprint.
    pub fingerprint: String,
}

/// What a load found about this machine's pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinStatus {
    /// The vault holds everything pinned before (and maybe more).
    Known,
    /// Nothing was pinned for this vault: trust on first use.
    FirstUse,
}

/// The vault directory and this machine's state about it.
#[derive(Debug, Clone)]
pub struct VaultStore {
    path: PathBuf,
    state_dir: PathBuf,
}

/// The segments read from a vault directory (or another copy, for `merge`).
#[derive(Debug, Default)]
pub struct SegmentSet {
    /// Segments that decoded, with their file names.
    pub segments: Vec<(String, Segment)>,
    /// Files set aside as damage: name and why.
    pub damaged: Vec<(String, String)>,
}

/// Temporary files a killed writer left behind are removed after this long.
const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(600);

/// Read every `*.seg` file of a directory. A file whose name is not the SHA-256 of its
/// bytes, that does not decode, that is not a regular file (a symlink, a directory, a
/// FIFO) or that is over the size ceiling is damage: listed, never read further. Files
/// with other names (temporary files, a README) are ignored; a segment deleted while
/// the directory is read (compaction) is skipped.
pub fn read_segments(dir: &Path) -> Result<SegmentSet, StoreError> {
    read_segments_with(dir, &HashSet::new()).map(|(set, _)| set)
}

/// [`read_segments`], skipping the SHA-256 of the bytes of a segment whose name and
/// file stamp (device, inode, size, modification and change times) are in `known`:
/// this machine checked that very file before (the change time moves with any write
/// to it and cannot be set back by its owner). Returns the `name stamp` lines of every
/// sound segment, to remember.
fn read_segments_with(
    dir: &Path,
    known: &HashSet<String>,
) -> Result<(SegmentSet, Vec<String>), StoreError> {
    read_segments_except(dir, known, &HashSet::new())
}

/// [`read_segments_with`], not opening the segments named in `skip` (compaction
/// leaves out the replaced segments still in their grace period: their records are in
/// the pack that replaced them).
pub(crate) fn read_segments_except(
    dir: &Path,
    known: &HashSet<String>,
    skip: &HashSet<String>,
) -> Result<(SegmentSet, Vec<String>), StoreError> {
    let entries = fs::read_dir(dir).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => StoreError::NoVault(dir.to_path_buf()),
        _ => io_err(dir)(e),
    })?;
    let mut names: Vec<String> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err(dir))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.ends_with(&format!(".{SEGMENT_EXTENSION}"))
            && !name.starts_with('.')
            && !skip.contains(&name)
        {
            names.push(name);
        }
    }
    names.sort();
    let mut out = SegmentSet::default();
    let mut checked = Vec::new();
    for name in names {
        let path = dir.join(&name);
        match read_segment_file(&path) {
            Ok(None) => {}
            Ok(Some((bytes, stamp))) => {
                let line = format!("{name} {stamp}");
                if !known.contains(&line) && segment_name(&bytes) != name {
                    out.damaged
                        .push((name, "its name is not the SHA-256 of its bytes".into()));
                    continue;
                }
                match Segment::decode(&bytes) {
                    Ok(seg) => {
                        out.segments.push((name, seg));
                        checked.push(line);
                    }
                    Err(e) => out.damaged.push((name, e.to_string())),
                }
            }
            Err(reason) => out.damaged.push((name, reason)),
        }
    }
    Ok((out, checked))
}

/// Read one segment file without following a symlink or blocking on a FIFO. `Ok(None)`
/// when it vanished since the directory was listed; `Err(why)` when it is damage.
fn read_segment_file(path: &Path) -> Result<Option<(Vec<u8>, String)>, String> {
    let flags = (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits();
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(flags as i32)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            return Err("a symbolic link, not a segment file".into());
        }
        Err(e) => return Err(format!("cannot be read: {e}")),
    };
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot be read: {e}"))?;
    if !meta.file_type().is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > MAX_VAULT_LEN {
        return Err("larger than the 1 GiB ceiling".into());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_VAULT_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > MAX_VAULT_LEN {
        return Err("larger than the 1 GiB ceiling".into());
    }
    use std::os::unix::fs::MetadataExt;
    let stamp = format!(
        "{} {} {} {}.{} {}.{}",
        meta.dev(),
        meta.ino(),
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    );
    Ok(Some((bytes, stamp)))
}

/// What a vault directory lists: each segment's name with its file's stamp (device,
/// inode, size, modification and change times, from `lstat`). Two equal listings
/// are the same segment files: names are content hashes, and a file rewritten in
/// place or swapped for another moves its stamp. How the agent knows that the vault
/// it holds is still what the directory holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentFiles(Vec<(String, String)>);

impl SegmentFiles {
    /// The directory `dir` now.
    pub fn of(dir: &Path) -> Self {
        let names = segment_listing(dir);
        Self(
            names
                .into_iter()
                .map(|name| {
                    let stamp = file_stamp(&dir.join(&name));
                    (name, stamp)
                })
                .collect(),
        )
    }

    fn names(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(n, _)| n)
    }
}

/// A file's `lstat` stamp as text (empty when it cannot be read).
fn file_stamp(path: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    fs::symlink_metadata(path).map_or_else(
        |_| String::new(),
        |m| {
            format!(
                "{} {} {} {}.{} {}.{} {:o}",
                m.dev(),
                m.ino(),
                m.len(),
                m.mtime(),
                m.mtime_nsec(),
                m.ctime(),
                m.ctime_nsec(),
                m.mode()
            )
        },
    )
}

/// How [`VaultStore::try_update_held`] went.
#[derive(Debug)]
pub enum HeldUpdate<T> {
    /// Written: one new segment, durable (file and directory synced). The held vault
    /// is current; pinning, compaction and the listing wait in the [`HeldTail`],
    /// which holds the write lock until [`VaultStore::finish_held`].
    Done(T, HeldTail),
    /// Another writer holds the write lock: nothing done (the agent never waits for
    /// it: that writer may be waiting for the agent).
    Busy,
    /// The directory changed since the listing: nothing done; load again.
    Changed,
}

/// What is left of a held write once its segment is durable: pin, compact when due,
/// and check the listing ([`VaultStore::finish_held`]). It holds the vault's write
/// lock, so no other writer of this machine comes between; the agent answers its
/// client first and finishes before its next request. Dropped unfinished, the lock
/// goes and nothing is lost but the pin's advance (the next write pins).
#[must_use = "finish_held pins the write and releases the lock"]
#[derive(Debug)]
pub struct HeldTail {
    _lock: Lock,
    /// The segment this write added (none when it added no record).
    written: Option<String>,
}

/// The sorted `*.seg` names of a directory (cheap: no file is opened).
fn segment_listing(dir: &Path) -> Vec<String> {
    segments_among(dir_names(dir))
}

/// The sorted segment names among `names` (a listing of a vault directory).
fn segments_among(names: Vec<String>) -> Vec<String> {
    let mut names: Vec<String> = names
        .into_iter()
        .filter(|n| is_segment_file_name(n))
        .collect();
    names.sort_unstable();
    names
}

/// Write a segment into a vault directory: temp file, fsync, rename, fsync the
/// directory. A segment with the same name is the same bytes: nothing to do. Returns
/// its name.
pub fn write_segment(dir: &Path, bytes: &[u8]) -> Result<String, StoreError> {
    let name = segment_name(bytes);
    let path = dir.join(&name);
    match fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_file() && m.len() == bytes.len() as u64 => return Ok(name),
        Ok(m) if !m.file_type().is_file() => {
            // A symlink or directory squatting on the name: never write through it.
            return Err(StoreError::Io {
                path,
                source: io::Error::other(
                    "a segment's name is taken by something that is not a file",
                ),
            });
        }
        _ => {}
    }
    write_atomic(&path, bytes)?;
    Ok(name)
}

/// Remove temporary files older than [`STALE_TEMP_AGE`] that a killed writer left in
/// a vault directory (`.<name>.seg.<random>.tmp`). Best effort.
fn remove_stale_segment_temps(dir: &Path) {
    remove_stale_segment_temps_in(dir, &dir_names(dir));
}

/// [`remove_stale_segment_temps`] among `names`, a listing of `dir` already made.
fn remove_stale_segment_temps_in(dir: &Path, names: &[String]) {
    for n in names {
        if !(n.starts_with('.') && n.ends_with(".tmp") && n.contains(".seg.")) {
            continue;
        }
        let path = dir.join(n);
        let old = fs::symlink_metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMP_AGE);
        if old {
            let _ = fs::remove_file(path);
        }
    }
}

/// Every name in `dir` that is valid UTF-8 (one `readdir`).
fn dir_names(dir: &Path) -> Vec<String> {
    fs::read_dir(dir).map_or(Vec::new(), |d| {
        d.filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .collect()
    })
}

fn is_segment_file_name(n: &str) -> bool {
    !n.starts_with('.') && n.ends_with(&format!(".{SEGMENT_EXTENSION}"))
}

/// "; segment NAME is damaged (why)" for the first damaged segment, or nothing.
fn damaged_detail(damaged: &[(String, String)]) -> String {
    damaged
        .first()
        .map(|(name, why)| format!("; segment {name} is damaged ({why})"))
        .unwrap_or_default()
}

impl VaultStore {
    /// A store for the vault directory at `path` with local state in `state_dir`.
    pub fn new(path: PathBuf, state_dir: PathBuf) -> Self {
        Self { path, state_dir }
    }

    /// The vault directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a vault exists there: a directory holding a segment (or a single-file
    /// vault of an earlier version, which is refused with a hint when used).
    pub fn exists(&self) -> bool {
        match fs::metadata(&self.path) {
            Ok(m) if m.is_file() => true,
            Ok(m) if m.is_dir() => fs::read_dir(&self.path).is_ok_and(|mut d| {
                d.any(|e| {
                    e.is_ok_and(|e| {
                        let n = e.file_name();
                        let n = n.to_string_lossy();
                        !n.starts_with('.') && n.ends_with(&format!(".{SEGMENT_EXTENSION}"))
                    })
                })
            }),
            _ => false,
        }
    }

    fn check_directory(&self) -> Result<(), StoreError> {
        match fs::metadata(&self.path) {
            Ok(m) if m.is_file() => Err(StoreError::SingleFile(self.path.clone())),
            Ok(_) if self.exists() => Ok(()),
            _ => Err(StoreError::NoVault(self.path.clone())),
        }
    }

    /// The vault id this machine pinned for this path, if any (every load that pins
    /// writes it, the agent's too).
    pub fn pinned_id(&self) -> Option<RecordId> {
        fs::read_to_string(self.path_file())
            .ok()
            .and_then(|t| RecordId::from_hex(t.trim()))
    }

    /// Read and resolve the directory. Signatures of records this machine verified
    /// before (ancestors of its pinned heads for the vault id) are not checked again;
    /// every other one is. Damaged segments are set aside and noted in the vault.
    fn read(&self) -> Result<Vault, StoreError> {
        self.read_with(Vec::new())
    }

    /// [`Self::read`] with `extra` segments (records from elsewhere, not written).
    fn read_with(&self, extra: Vec<Segment>) -> Result<Vault, StoreError> {
        self.check_directory()?;
        let cache = self.state_dir.join("segments").join(self.path_key());
        let known: HashSet<String> = fs::read_to_string(&cache)
            .map(|t| t.lines().map(str::to_string).collect())
            .unwrap_or_default();
        let (mut set, checked) = read_segments_with(&self.path, &known)?;
        if checked.len() != known.len() || checked.iter().any(|l| !known.contains(l)) {
            // Best effort: without it the next read hashes every segment again.
            let text: String = checked.iter().map(|l| format!("{l}\n")).collect();
            if create_private_dir(cache.parent().unwrap_or(&self.state_dir)).is_ok() {
                remove_stale_temps(&cache);
                let _ = write_atomic(&cache, text.as_bytes());
            }
        }
        set.segments
            .extend(extra.into_iter().map(|s| ("(incoming)".to_string(), s)));
        let vault_id = self.choose_vault_id(&set)?;
        let (pinned, damaged) = self.pinned(&vault_id);
        let mut skipped = set.damaged;
        let mut segments = Vec::with_capacity(set.segments.len());
        for (name, seg) in set.segments {
            if seg.vault_id() == vault_id {
                segments.push(seg);
            } else {
                skipped.push((
                    name,
                    format!(
                        "it holds records of vault {}, not of vault {}",
                        seg.vault_id().short(),
                        vault_id.short()
                    ),
                ));
            }
        }
        let mut vault = match Vault::from_segments(vault_id, segments, &pinned, &damaged) {
            Err(VaultError::Format(crate::format::FormatError::MissingParent))
                if !pinned.is_empty() =>
            {
                return Err(StoreError::Rollback {
                    vault: vault_id.short(),
                    missing: pinned.len(),
                });
            }
            Err(VaultError::Format(crate::format::FormatError::MissingParent)) => {
                return Err(StoreError::NoGenesis(
                    self.path.clone(),
                    damaged_detail(&skipped),
                ));
            }
            other => other?,
        };
        vault.note_damaged_segments(skipped);
        Ok(vault)
    }

    /// Which vault the directory holds: the one pinned for this path, else the one
    /// whose genesis a segment holds (two different ones: refused).
    fn choose_vault_id(&self, set: &SegmentSet) -> Result<RecordId, StoreError> {
        let mut found: Vec<RecordId> = set
            .segments
            .iter()
            .filter(|(_, s)| s.has_genesis())
            .map(|(_, s)| s.vault_id())
            .collect();
        found.sort();
        found.dedup();
        if let Some(pinned) = self.pinned_id() {
            if !found.is_empty() && !found.contains(&pinned) {
                return Err(StoreError::Replaced {
                    path: self.path.clone(),
                    pinned: pinned.short(),
                    found: found[0].short(),
                });
            }
            return Ok(pinned);
        }
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(StoreError::NoGenesis(
                self.path.clone(),
                damaged_detail(&set.damaged),
            )),
            _ => Err(StoreError::TwoVaults(self.path.clone())),
        }
    }

    /// The heads pinned for a vault id (unchecked: `check_pins` checks them), and the
    /// records found damaged when they were pinned (`skip ID` lines: their signatures
    /// are checked again every time, never trusted).
    fn pinned(&self, vault_id: &RecordId) -> (Vec<RecordId>, Vec<RecordId>) {
        let text = fs::read_to_string(self.pin_file(vault_id)).unwrap_or_default();
        let mut heads = Vec::new();
        let mut damaged = Vec::new();
        for line in text.lines().map(str::trim) {
            if let Some(id) = line.strip_prefix("skip ") {
                damaged.extend(RecordId::from_hex(id.trim()));
            } else if !line.contains(' ') {
                heads.extend(RecordId::from_hex(line));
            }
        }
        (heads, damaged)
    }

    /// Read, check the pins, verify the signature of every record this machine has
    /// not verified before; then pin what was verified. A vault with a bad record is
    /// never pinned past it, so checking a tampered copy cannot lock you out of the
    /// real one.
    pub fn load(&self) -> Result<(Vault, PinStatus), StoreError> {
        let (mut vault, status) = self.load_unpinned()?;
        self.pin_or_note(&mut vault);
        Ok((vault, status))
    }

    /// Pin; a failure (a full or read-only state directory) is noted in the vault for
    /// the caller to warn about, never an error: pins only move forward, so not moving
    /// them loses nothing but this machine's record of what it has seen since.
    fn pin_or_note(&self, vault: &mut Vault) {
        if let Err(e) = self.pin(vault) {
            vault.note_pin_failure(e.to_string());
        }
    }

    /// [`load`](Self::load) for the agent, which must never wait for the vault's write
    /// lock (a writer holding it may be waiting for the agent's signature). Reading
    /// takes no lock at all now (segments are immutable and appear by rename), so
    /// this is `load`.
    pub fn load_without_waiting(&self) -> Result<(Vault, PinStatus), StoreError> {
        self.load()
    }

    /// Read, check the pins and verify the records not verified before, without
    /// pinning. A writer renames its segment into place before it pins, so a pinned
    /// record missing from a listing made just before that rename is found by reading
    /// the directory once more.
    pub fn load_unpinned(&self) -> Result<(Vault, PinStatus), StoreError> {
        // A writer renames its segment into place before it pins it, and a compaction
        // elsewhere deletes (after its grace period) a segment this read listed but had
        // not opened yet, its records now in a pack the listing predates: a pinned
        // record that looks missing is read for again, up to four times, while the
        // directory keeps changing. A genuine rollback leaves the directory as it is.
        let mut listing = segment_listing(&self.path);
        let mut result = self.load_unpinned_once();
        for _ in 0..4 {
            if !matches!(result, Err(StoreError::Rollback { .. })) {
                break;
            }
            let now = segment_listing(&self.path);
            if now == listing {
                break;
            }
            listing = now;
            result = self.load_unpinned_once();
        }
        result
    }

    fn load_unpinned_once(&self) -> Result<(Vault, PinStatus), StoreError> {
        let mut vault = self.read()?;
        let (status, _) = self.check_pins(&vault)?;
        let counted = self.pinned_counted(&vault.id());
        vault.note_pinned_counted(&counted);
        Ok((vault, status))
    }

    /// Resolve this vault's segments plus `extra` ones (records from another copy, not
    /// written anywhere) and check the pins against the result; nothing is written or
    /// pinned. What `merge` and `sync` verify before they add anything.
    pub fn load_with(&self, extra: Vec<Segment>) -> Result<Vault, StoreError> {
        let mut vault = self.read_with(extra)?;
        self.check_pins(&vault)?;
        let counted = self.pinned_counted(&vault.id());
        vault.note_pinned_counted(&counted);
        Ok(vault)
    }

    fn pinned_counted(&self, vault_id: &RecordId) -> Vec<RecordId> {
        fs::read_to_string(self.pin_file(vault_id))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().strip_prefix("counted "))
            .filter_map(|id| RecordId::from_hex(id.trim()))
            .collect()
    }

    /// Create a vault directory from records of another copy (`merge` into a path
    /// with no vault yet): every signature checked, one segment written, pinned.
    pub fn create_from(&self, segments: Vec<Segment>) -> Result<Vault, StoreError> {
        if self.exists() {
            return Err(StoreError::Exists(self.path.clone()));
        }
        let set = SegmentSet {
            segments: segments.into_iter().map(|s| (String::new(), s)).collect(),
            damaged: Vec::new(),
        };
        if self.pinned_id().is_some() {
            // This path held a vault that is gone (as before `init`): start afresh.
            self.forget_path()?;
        }
        let vault_id = self.choose_vault_id(&set)?;
        let segments = set.segments.into_iter().map(|(_, s)| s).collect();
        // A copy of a vault this machine knows must hold what it pinned.
        let (pinned, damaged) = self.pinned(&vault_id);
        let mut vault = Vault::from_segments(vault_id, segments, &pinned, &damaged)?;
        let bad = vault.damaged().count();
        if bad > 0 {
            return Err(StoreError::DamagedRecords(bad));
        }
        self.check_pins(&vault)?;
        let counted = self.pinned_counted(&vault_id);
        vault.note_pinned_counted(&counted);
        create_private_dir(&self.path)?;
        let _lock = self.write_lock()?;
        if self.exists() {
            return Err(StoreError::Exists(self.path.clone()));
        }
        write_segment(&self.path, &vault.encode_segment())?;
        self.pin(&vault)?;
        Ok(vault)
    }

    /// The write lock of this vault: in local state, never in the synced directory.
    fn write_lock(&self) -> Result<Lock, StoreError> {
        let locks = self.state_dir.join("locks");
        create_private_dir(&locks)?;
        lock(&locks.join(self.path_key()))
    }

    /// Create a new vault directory with one segment; refuses if a vault is there.
    pub fn create(&self, vault: &Vault) -> Result<(), StoreError> {
        if self.exists() {
            return Err(StoreError::Exists(self.path.clone()));
        }
        create_private_dir(&self.path)?;
        let _lock = self.write_lock()?;
        if self.exists() {
            return Err(StoreError::Exists(self.path.clone()));
        }
        write_segment(&self.path, &vault.encode_segment())?;
        self.pin(vault)
    }

    /// Under the write lock: re-read the newest state, check pins, let `change` modify
    /// the vault, write its new records as one new segment and pin the result.
    /// Nothing is written if `change` fails.
    pub fn update<T, E>(
        &self,
        change: impl FnOnce(&mut Vault) -> Result<T, E>,
    ) -> Result<(Vault, T), E>
    where
        E: From<StoreError>,
    {
        // Checked before locking, so a missing vault is reported as such (the read
        // under the lock checks again).
        self.check_directory()?;
        let _lock = self.write_lock()?;
        remove_stale_segment_temps(&self.path);
        let (mut vault, _) = self.load_unpinned()?;
        let before = vault.record_ids();
        let out = change(&mut vault)?;
        if let Some(bytes) = vault.segment_since(&before) {
            write_segment(&self.path, &bytes)?;
        }
        // The write is done: a pin that cannot be written is a warning, not a failure
        // (a script retrying a reported failure must not meet "already exists").
        self.pin_or_note(&mut vault);
        // Past the threshold, compact; the write already succeeded, so a failure here
        // (a full disk, a read-only share) is left for `amanat gc` to report.
        if self.needs_compaction() {
            let _ = self.compact_locked(false);
        }
        Ok((vault, out))
    }

    /// [`update`](Self::update) for a vault the caller already holds, loaded when the
    /// directory listed `listing` (the agent's cache): take the write lock without
    /// waiting, check that the directory still lists exactly that, let `change` modify
    /// `vault`, write its new records as one new segment, and hand back the rest —
    /// pin, compaction, `listing` — as a [`HeldTail`] for [`finish_held`](Self::finish_held).
    /// No re-read, so a write costs what the change costs. When `change` fails,
    /// nothing is written but `vault` may hold records that were not: the caller
    /// must drop it.
    pub fn try_update_held<T, E>(
        &self,
        vault: &mut Vault,
        listing: &mut SegmentFiles,
        change: impl FnOnce(&mut Vault) -> Result<T, E>,
    ) -> Result<HeldUpdate<T>, E>
    where
        E: From<StoreError>,
    {
        self.check_directory()?;
        let locks = self.state_dir.join("locks");
        create_private_dir(&locks)?;
        let Some(_lock) = try_lock(&locks.join(self.path_key()))? else {
            return Ok(HeldUpdate::Busy);
        };
        // Names only (one readdir, no stat of each file): the caller compared the full
        // listing when it last looked; this catches what arrived since. The same
        // listing finds stale temporary files (a directory of a thousand segments
        // costs a millisecond per readdir).
        let names = dir_names(&self.path);
        remove_stale_segment_temps_in(&self.path, &names);
        if !listing.names().eq(segments_among(names).iter()) {
            return Ok(HeldUpdate::Changed);
        }
        let count = vault.record_count();
        let before = vault.heads();
        let out = change(vault)?;
        let written = if vault.record_count() == count {
            None
        } else {
            // Records were added, yet none found after the old sinks: never silently
            // write nothing.
            let bytes = vault.segment_after(&before).ok_or_else(|| {
                StoreError::from(crate::vault::VaultError::Integrity(
                    "records added by this write could not be told apart",
                ))
            })?;
            Some(write_segment(&self.path, &bytes)?)
        };
        Ok(HeldUpdate::Done(out, HeldTail { _lock, written }))
    }

    /// Finish a held write ([`HeldTail`]): pin `vault`, compact when due, and keep
    /// `listing` only if the directory lists exactly what `vault` holds (else empty:
    /// the next use loads again). A pin that fails is noted on `vault`
    /// ([`Vault::pin_warning`]), as for every write.
    pub fn finish_held(&self, tail: HeldTail, vault: &mut Vault, listing: &mut SegmentFiles) {
        let HeldTail { _lock, written } = tail;
        self.pin_or_note(vault);
        // The listing the write was checked against, plus what this write and its
        // compaction added, less what the compaction deleted; kept sorted by name.
        // (Linear in the listing: a directory of a thousand segments made the old
        // name-by-name search cost more than the write.)
        let mut files = std::mem::take(&mut listing.0);
        let add = |files: &mut Vec<(String, String)>, name: String| {
            if let Err(at) = files.binary_search_by(|(n, _)| n.cmp(&name)) {
                let stamp = file_stamp(&self.path.join(&name));
                files.insert(at, (name, stamp));
            }
        };
        if let Some(name) = written {
            add(&mut files, name);
        }
        if self.needs_compaction_of(files.len()) {
            // A compaction adds a pack of records already here and deletes replaced
            // segments whose records stay: the records `vault` holds do not change,
            // so the listing is still its own (no reload) when that is all it did.
            if let Ok(report) = self.compact_locked(false) {
                if let Some(pack) = report.pack {
                    add(&mut files, pack);
                }
                let deleted: HashSet<&String> = report.deleted_names.iter().collect();
                files.retain(|(n, _)| !deleted.contains(n));
            }
        }
        // What the directory lists now is what `vault` holds only if the one change
        // is ours (a file share or `git pull` does not take our lock); else the next
        // use loads again.
        let now = segment_listing(&self.path);
        let same = now.len() == files.len() && now.iter().zip(&files).all(|(a, (b, _))| a == b);
        *listing = if same {
            SegmentFiles(files)
        } else {
            SegmentFiles::default()
        };
    }

    /// Add records from elsewhere (`merge`, `sync`) as one new segment, under the
    /// write lock, and pin the result. `records` must already be verified by the
    /// caller against this vault.
    pub fn add_segment(&self, bytes: &[u8]) -> Result<(Vault, String), StoreError> {
        let _lock = self.write_lock()?;
        let name = write_segment(&self.path, bytes)?;
        let (mut vault, _) = self.load_unpinned()?;
        self.pin_or_note(&mut vault);
        Ok((vault, name))
    }

    /// The remote commit `sync` last took in for `remote_ref` (to refuse a rewritten
    /// remote history).
    pub fn last_synced(&self, remote_ref: &str) -> Option<String> {
        let text = fs::read_to_string(self.sync_file()).ok()?;
        text.lines().find_map(|l| {
            let (r, commit) = l.split_once(' ')?;
            (r == remote_ref).then(|| commit.trim().to_string())
        })
    }

    /// Remember the remote commit `sync` took in for `remote_ref`.
    pub fn set_last_synced(&self, remote_ref: &str, commit: &str) -> Result<(), StoreError> {
        let dir = self.state_dir.join("sync");
        create_private_dir(&dir)?;
        let file = self.sync_file();
        let _lock = lock(&file)?;
        let old = fs::read_to_string(&file).unwrap_or_default();
        let mut text: String = old
            .lines()
            .filter(|l| l.split_once(' ').is_none_or(|(r, _)| r != remote_ref))
            .map(|l| format!("{l}\n"))
            .collect();
        text.push_str(&format!("{remote_ref} {commit}\n"));
        remove_stale_temps(&file);
        write_atomic(&file, text.as_bytes())
    }

    fn sync_file(&self) -> PathBuf {
        self.state_dir.join("sync").join(self.path_key())
    }

    fn pin_file(&self, vault_id: &RecordId) -> PathBuf {
        self.state_dir.join("pins").join(vault_id.to_hex())
    }

    /// A name for this vault path in local state: a hash of its canonical form.
    fn path_key(&self) -> String {
        let canonical = self
            .path
            .canonicalize()
            .unwrap_or_else(|_| self.path.clone());
        let key = crate::crypto::labeled_hash(
            "amanat/v1/vault-path",
            &[canonical.as_os_str().as_encoded_bytes()],
        );
        crate::format::hex_string(&key[..16])
    }

    fn path_file(&self) -> PathBuf {
        self.state_dir.join("paths").join(self.path_key())
    }

    /// Check the vault against this machine's pins; returns the pinned heads.
    fn check_pins(&self, vault: &Vault) -> Result<(PinStatus, Vec<RecordId>), StoreError> {
        let path_file = self.path_file();
        if let Ok(text) = fs::read_to_string(&path_file) {
            let pinned = text.trim();
            if pinned != vault.id().to_hex() {
                return Err(StoreError::Replaced {
                    path: self.path.clone(),
                    pinned: pinned.chars().take(8).collect(),
                    found: vault.id().short(),
                });
            }
        }
        let pin_file = self.pin_file(&vault.id());
        let Ok(text) = fs::read_to_string(&pin_file) else {
            return Ok((PinStatus::FirstUse, Vec::new()));
        };
        let mut pinned = Vec::new();
        let mut missing = 0;
        for line in text.lines().map(str::trim) {
            if let Some(id) = line.strip_prefix("accepted ") {
                // A counted hand-over is final here (DESIGN "Ownership").
                if let Some(id) = RecordId::from_hex(id.trim())
                    && vault.contains(&id)
                    && !vault.counts(&id)
                {
                    return Err(StoreError::HandOverUndone {
                        vault: vault.id().short(),
                        acceptance: id.short(),
                    });
                }
                continue;
            }
        }
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.contains(' '))
        {
            // A pinned record that is missing or held back (a parent missing): the
            // copy was rolled back, or a segment was deleted.
            match RecordId::from_hex(line).filter(|id| vault.contains(id)) {
                Some(id) => pinned.push(id),
                None => missing += 1,
            }
        }
        if missing > 0
            && let Some((segment, reason)) = vault.segment_report().damaged.first()
        {
            return Err(StoreError::DamagedSegment {
                vault: vault.id().short(),
                missing,
                segment: segment.clone(),
                reason: reason.clone(),
            });
        }
        if missing > 0 {
            return Err(StoreError::Rollback {
                vault: vault.id().short(),
                missing,
            });
        }
        Ok((PinStatus::Known, pinned))
    }

    /// Pin the vault's current heads (and its id for this path).
    pub fn pin(&self, vault: &Vault) -> Result<(), StoreError> {
        let pins = self.state_dir.join("pins");
        let paths = self.state_dir.join("paths");
        create_private_dir(&pins)?;
        create_private_dir(&paths)?;
        let _lock = lock(&pins.join(".pins"))?;
        let pin_file = self.pin_file(&vault.id());
        remove_stale_temps(&pin_file);
        // A damaged record (its signature fails) may be an ancestor of the heads: it is
        // named on a `skip` line, so the next load checks it again instead of trusting
        // it as verified.
        let (clean, damaged) = vault.pinnable();
        let mut heads: String = clean.iter().map(|h| h.to_hex() + "\n").collect();
        for id in damaged {
            heads.push_str(&format!("skip {}\n", id.to_hex()));
        }
        for id in vault.counted_acceptances() {
            heads.push_str(&format!("accepted {}\n", id.to_hex()));
        }
        for id in vault.counted_roster() {
            heads.push_str(&format!("counted {}\n", id.to_hex()));
        }
        let current = fs::read_to_string(&pin_file).unwrap_or_default();
        // Replace the pins only with a vault that holds every currently pinned record:
        // another process may have pinned newer heads since this one checked, and a
        // pin must never move back.
        let contains_current = current
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.trim().contains(' '))
            .all(|l| RecordId::from_hex(l.trim()).is_some_and(|id| vault.contains(&id)));
        if contains_current && current != heads {
            write_atomic_then(&pin_file, heads.as_bytes(), false)?;
        }
        let path_file = self.path_file();
        remove_stale_temps(&path_file);
        let id = vault.id().to_hex() + "\n";
        if fs::read_to_string(&path_file).ok().as_deref() != Some(id.as_str()) {
            write_atomic(&path_file, id.as_bytes())?;
        }
        Ok(())
    }

    /// Pin every current member's keys on first sight and report changes since the
    /// last pin (a key change is a signed roster record; it is still announced, so a
    /// person can check the new fingerprint out of band). Returns notices to show.
    pub fn check_member_keys(&self, vault: &Vault) -> Result<Vec<MemberKeyNotice>, StoreError> {
        let dir = self.state_dir.join("members");
        create_private_dir(&dir)?;
        let file = dir.join(vault.id().to_hex());
        let _lock = lock(&file)?;
        let old = fs::read_to_string(&file).unwrap_or_default();
        let pinned: std::collections::HashMap<&str, &str> =
            old.lines().filter_map(|l| l.split_once(' ')).collect();
        let mut notices = Vec::new();
        let mut text = String::new();
        for m in vault.members().filter(|m| m.active) {
            let fp = crate::identity::fingerprint(&m.keys);
            let id = m.id.to_hex();
            match pinned.get(id.as_str()) {
                Some(before) if *before != fp => notices.push(MemberKeyNotice {
                    member: m.name.clone(),
                    fingerprint: fp.clone(),
                }),
                _ => {}
            }
            text.push_str(&format!("{id} {fp}\n"));
        }
        if text != old {
            remove_stale_temps(&file);
            write_atomic(&file, text.as_bytes())?;
        }
        Ok(notices)
    }

    /// Pin an invite's vault id and heads before the vault has been seen (`join`):
    /// the first vault opened with this id must contain them. Adds to existing pins.
    pub fn pin_invite(&self, invite: &crate::invite::Invite) -> Result<(), StoreError> {
        let pins = self.state_dir.join("pins");
        create_private_dir(&pins)?;
        let _lock = lock(&pins.join(".pins"))?;
        let pin_file = self.pin_file(&invite.vault);
        let mut text = fs::read_to_string(&pin_file).unwrap_or_default();
        for h in &invite.heads {
            let line = h.to_hex();
            if !text.lines().any(|l| l.trim() == line) {
                text.push_str(&line);
                text.push('\n');
            }
        }
        write_atomic(&pin_file, text.as_bytes())
    }

    /// Forget which vault this path holds (before `init` replaces a deleted vault).
    pub fn forget_path(&self) -> Result<(), StoreError> {
        let f = self.path_file();
        match fs::remove_file(&f) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&f)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::identity::Identity;

    #[test]
    fn atomic_write_replaces_and_sets_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn reading_takes_no_lock_while_a_writer_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let a = Identity::generate("alice").unwrap();
        let store = VaultStore::new(dir.path().join("v"), dir.path().join("state"));
        let v = Vault::create(&a, "acme").unwrap();
        store.create(&v).unwrap();
        let held = store.write_lock().unwrap();
        let (read, _) = store.load_without_waiting().unwrap();
        assert_eq!(read.heads(), v.heads());
        drop(held);
        // Nothing of the store's is in the vault directory but segments.
        for e in fs::read_dir(store.path()).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            assert!(name.ends_with(".seg"), "{name}");
        }
    }

    #[test]
    fn rollback_is_detected_and_newer_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let a = Identity::generate("alice").unwrap();
        let store = VaultStore::new(dir.path().join("v"), dir.path().join("state"));
        let v = Vault::create(&a, "acme").unwrap();
        store.create(&v).unwrap();
        let old = v.encode_segment();
        store
            .update(|v| -> Result<(), StoreError> {
                let body = v
                    .session(&a)?
                    .create_entry(&crate::vault::EntryDraft::default().with_path("x"))?;
                v.append(&a, vec![body])?;
                Ok(())
            })
            .unwrap();
        assert_eq!(store.load().unwrap().1, PinStatus::Known);
        // Deleting the newer segment is a rollback.
        for e in fs::read_dir(store.path()).unwrap() {
            let p = e.unwrap().path();
            if fs::read(&p).unwrap() != old {
                fs::remove_file(p).unwrap();
            }
        }
        assert!(matches!(store.load(), Err(StoreError::Rollback { .. })));
    }

    #[test]
    fn oversized_file_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        let f = File::create(&p).unwrap();
        f.set_len(10_000).unwrap();
        assert!(matches!(
            read_limited(&p, 100),
            Err(StoreError::TooLarge(_))
        ));
    }
}
