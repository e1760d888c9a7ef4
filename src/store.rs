//! Files on disk: the vault (atomic replace under an exclusive lock), the identity file,
//! and local state (the pins that detect rollback and forks).
//!
//! This is the only module that touches those files. Writes never truncate in place: a
//! temporary file in the same directory is written, fsynced, renamed over the target,
//! and the directory is fsynced, so a crash at any moment leaves the old or the new file.
//! Writers hold an exclusive lock on a sidecar `<vault>.lock` (the vault itself is
//! replaced by rename, so it cannot carry the lock) and re-read the newest file under it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::format::{MAX_RECORD_LEN, MAX_RECORDS, RecordId};
use crate::identity::MAX_IDENTITY_LEN;
use crate::vault::{Vault, VaultError};

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
        "vault {vault} lacks {missing} record(s) this machine already verified: the file was rolled back or forked"
    )]
    Rollback {
        /// Short vault id.
        vault: String,
        /// How many pinned records are missing.
        missing: usize,
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
    tmp.write_all(bytes).map_err(io_err(tmp.path()))?;
    tmp.as_file().sync_all().map_err(io_err(path))?;
    tmp.persist(path).map_err(|e| StoreError::Io {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(&dir))
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

/// Take the shared lock on `<path>.lock`, so a reader's read, pin check and pin see
/// one consistent state (a writer renames and pins under the exclusive lock). `None`
/// when the lock file cannot be created (a read-only directory): reading still works,
/// only without that guarantee.
fn lock_shared(path: &Path) -> Option<Lock> {
    let (file, _) = open_lock_file(path).ok()?;
    file.lock_shared().ok()?;
    Some(Lock { _file: file })
}

/// Try to take the shared lock on `<path>.lock` without waiting. `Err(())` when a
/// writer holds the exclusive lock; `Ok(None)` when there is no lock file to take.
fn try_lock_shared(path: &Path) -> Result<Option<Lock>, ()> {
    let Ok((file, _)) = open_lock_file(path) else {
        return Ok(None);
    };
    match file.try_lock_shared() {
        Ok(()) => Ok(Some(Lock { _file: file })),
        Err(fs::TryLockError::WouldBlock) => Err(()),
        Err(fs::TryLockError::Error(_)) => Ok(None),
    }
}

/// Remove temporary files that `write_atomic` left for `path` when a writer was killed
/// between creating and renaming them. Only call this while holding the lock that
/// every writer of `path` holds, so no live writer's temp file can match.
fn remove_stale_temps(path: &Path) {
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

/// The vault file and this machine's state about it.
#[derive(Debug, Clone)]
pub struct VaultStore {
    path: PathBuf,
    state_dir: PathBuf,
}

impl VaultStore {
    /// A store for the vault at `path` with local state in `state_dir`.
    pub fn new(path: PathBuf, state_dir: PathBuf) -> Self {
        Self { path, state_dir }
    }

    /// The vault path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a vault file exists.
    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// Read and resolve the file. Signatures of records this machine verified before
    /// (ancestors of its pinned heads for the file's vault id) are not checked again;
    /// every other one is.
    fn read(&self) -> Result<Vault, StoreError> {
        if !self.path.exists() {
            return Err(StoreError::NoVault(self.path.clone()));
        }
        let bytes = read_limited(&self.path, MAX_VAULT_LEN)?;
        let (pinned, damaged) = crate::format::peek_vault_id(&bytes)
            .map(|id| self.pinned(&id))
            .unwrap_or_default();
        Ok(Vault::decode_trusting(&bytes, &pinned, &damaged)?)
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
    /// not verified before; then pin what was verified. A file with a bad record is
    /// never pinned, so checking a tampered copy cannot lock you out of the real one.
    pub fn load(&self) -> Result<(Vault, PinStatus), StoreError> {
        let _lock = lock_shared(&self.path);
        let (vault, status) = self.load_unpinned()?;
        self.pin(&vault)?;
        Ok((vault, status))
    }

    /// [`load`](Self::load) for the agent, which must never wait for the lock: a
    /// writer holding it may be waiting for the agent's signature. Then the file is
    /// read without the lock (it is only ever replaced by an atomic rename, so it is
    /// whole) and nothing is pinned; a read that raced the writer's rename and pin looks
    /// like a rollback, so that one case is read again.
    pub fn load_without_waiting(&self) -> Result<(Vault, PinStatus), StoreError> {
        match try_lock_shared(&self.path) {
            Ok(_lock) => {
                let (vault, status) = self.load_unpinned()?;
                self.pin(&vault)?;
                Ok((vault, status))
            }
            Err(()) => match self.load_unpinned() {
                Err(StoreError::Rollback { .. }) => self.load_unpinned(),
                other => other,
            },
        }
    }

    /// Read, check the pins and verify the records not verified before, without
    /// pinning.
    pub fn load_unpinned(&self) -> Result<(Vault, PinStatus), StoreError> {
        let mut vault = self.read()?;
        let (status, _) = self.check_pins(&vault)?;
        let counted: Vec<RecordId> = fs::read_to_string(self.pin_file(&vault.id()))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().strip_prefix("counted "))
            .filter_map(|id| RecordId::from_hex(id.trim()))
            .collect();
        vault.note_pinned_counted(&counted);
        Ok((vault, status))
    }

    /// Create a new vault file; refuses if one exists.
    pub fn create(&self, vault: &Vault) -> Result<(), StoreError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir)?;
        }
        let _lock = lock(&self.path)?;
        if self.path.exists() {
            return Err(StoreError::Exists(self.path.clone()));
        }
        write_atomic(&self.path, &vault.encode())?;
        self.pin(vault)
    }

    /// Under the lock: re-read the newest file, check pins, let `change` modify the
    /// vault, write it atomically and pin the result. Nothing is written if `change`
    /// fails.
    pub fn update<T, E>(
        &self,
        change: impl FnOnce(&mut Vault) -> Result<T, E>,
    ) -> Result<(Vault, T), E>
    where
        E: From<StoreError>,
    {
        // Checked before locking, so a missing vault is reported as such and leaves no
        // lock file behind (the read under the lock checks again).
        if !self.path.exists() {
            return Err(StoreError::NoVault(self.path.clone()).into());
        }
        let _lock = lock(&self.path)?;
        remove_stale_temps(&self.path);
        let (mut vault, _) = self.load_unpinned()?;
        let out = change(&mut vault)?;
        write_atomic(&self.path, &vault.encode())?;
        self.pin(&vault)?;
        Ok((vault, out))
    }

    fn pin_file(&self, vault_id: &RecordId) -> PathBuf {
        self.state_dir.join("pins").join(vault_id.to_hex())
    }

    fn path_file(&self) -> PathBuf {
        let canonical = self
            .path
            .canonicalize()
            .unwrap_or_else(|_| self.path.clone());
        let key = crate::crypto::labeled_hash(
            "amanat/v1/vault-path",
            &[canonical.as_os_str().as_encoded_bytes()],
        );
        self.state_dir
            .join("paths")
            .join(crate::format::hex_string(&key[..16]))
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
            match RecordId::from_hex(line).filter(|id| vault.contains(id)) {
                Some(id) => pinned.push(id),
                None => missing += 1,
            }
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
            write_atomic(&pin_file, heads.as_bytes())?;
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
    fn load_without_waiting_reads_while_a_writer_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let a = Identity::generate("alice").unwrap();
        let store = VaultStore::new(dir.path().join("v"), dir.path().join("state"));
        let v = Vault::create(&a, "acme").unwrap();
        store.create(&v).unwrap();
        let held = lock(store.path()).unwrap();
        // A blocking shared lock would wait here for ever (flock locks of two open
        // files conflict within one process too).
        assert!(try_lock_shared(store.path()).is_err());
        let (read, _) = store.load_without_waiting().unwrap();
        assert_eq!(read.heads(), v.heads());
        drop(held);
        let (read, _) = store.load_without_waiting().unwrap();
        assert_eq!(read.heads(), v.heads());
    }

    #[test]
    fn rollback_is_detected_and_newer_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let a = Identity::generate("alice").unwrap();
        let store = VaultStore::new(dir.path().join("v"), dir.path().join("state"));
        let v = Vault::create(&a, "acme").unwrap();
        store.create(&v).unwrap();
        let old = fs::read(store.path()).unwrap();
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
        fs::write(store.path(), &old).unwrap();
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
