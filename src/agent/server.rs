//! The agent process: binds the socket, checks every peer's uid, answers requests, and
//! forgets everything (by exiting) on `lock`, on a timeout, on SIGTERM/SIGHUP/SIGINT and
//! when the identity file changes.
//!
//! A blocking `UnixListener` with a thread per connection (CRATES.md: no tokio). All
//! state sits behind one mutex; requests are short (a cache lookup) except the first
//! after a vault change, which re-verifies and re-decrypts the vault.
//!
//! Not for: deciding when to start an agent or printing anything (the CLI does that).

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use rustix::fs::Mode;
use rustix::process::{getuid, umask};

use super::{
    AgentError, AgentStatus, Binding, EntrySummary, EntryView, ErrorKind, FailedEntry,
    MAX_REQUEST_LEN, MAX_UNLOCKED, PROTOCOL_VERSION, Reply, Request, SERVER_IO_TIMEOUT, decode,
    read_frame, write_frame,
};
use crate::crypto::{self, SIGNATURE_LABEL, SecretString};
use crate::format::{MemberId, Record, RecordBody, RecordId};
use crate::harden::Hardening;
use crate::identity::{Identity, IdentityError};
use crate::store::{self, PinStatus, StoreError, VaultStore};
use crate::vault::{OpenEntry, Vault, VaultError};

/// Connections served at once; more are closed at once (a local flood must not exhaust
/// threads).
const MAX_CONNECTIONS: usize = 64;
/// An agent that was started but never unlocked exits after this long.
const UNLOCK_GRACE: Duration = Duration::from_secs(30);
/// New vaults remembered per unlock (see `Unlocked::new_vaults`); the oldest is
/// forgotten first.
const MAX_NEW_VAULTS: usize = 8;
/// Records remembered per vault among those signed since the unlock (see [`Signed`]).
/// Only a write in progress needs them (its records are not in the file yet), and it
/// builds on its newest ones; anything older is in the file.
const MAX_SIGNED: usize = 4096;
/// How often the timer checks the timeouts and the identity file.
const TICK: Duration = Duration::from_millis(250);

/// Errors while setting up the socket.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BindError {
    /// Another agent holds the socket's lock: it is alive.
    #[error("an agent is already running at {0}")]
    AlreadyRunning(PathBuf),
    /// The socket's directory is unsafe: a symbolic link, another owner, or open to
    /// group or others (see [`super::unsafe_dir_reason`]).
    #[error("{reason}")]
    UnsafeDir {
        /// The directory.
        dir: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Something that is not a socket is in the way.
    #[error("{0} exists and is not a socket")]
    NotASocket(PathBuf),
    /// An I/O error on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> BindError + '_ {
    move |source| BindError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A bound socket, owned by this process for its lifetime.
#[derive(Debug)]
pub struct Listener {
    listener: UnixListener,
    socket: PathBuf,
    ino: u64,
    // Held until exit: a live agent's lock tells the next one the socket is not stale.
    _lock: File,
}

/// Create the socket's directory (0700), take the agent lock, replace a stale socket
/// left by a dead agent, and bind a new one with mode 0600.
pub fn bind(socket: &Path) -> Result<Listener, BindError> {
    let dir = super::socket_dir(socket);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(io_at(&dir))?;
    let meta = fs::symlink_metadata(&dir).map_err(io_at(&dir))?;
    // Removing a stale socket in a directory others can write to would race with them,
    // and clients refuse a socket in a directory that is not private (they could not
    // tell this agent from one another user planted there).
    if let Some(reason) = super::unsafe_dir_reason(&dir, &meta, getuid().as_raw()) {
        return Err(BindError::UnsafeDir { dir, reason });
    }
    let lock_path = with_suffix(socket, ".lock");
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock_path)
        .map_err(io_at(&lock_path))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            return Err(BindError::AlreadyRunning(socket.to_path_buf()));
        }
        Err(fs::TryLockError::Error(e)) => return Err(io_at(&lock_path)(e)),
    }
    // Every live agent holds the lock, so with it held any socket file here is stale.
    match fs::symlink_metadata(socket) {
        Ok(m) if m.file_type().is_socket() => {
            fs::remove_file(socket).map_err(io_at(socket))?;
        }
        Ok(_) => return Err(BindError::NotASocket(socket.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_at(socket)(e)),
    }
    // The umask makes the socket 0600 from its creation (no window with wider modes).
    let old = umask(Mode::from_raw_mode(0o177));
    let bound = UnixListener::bind(socket);
    umask(old);
    let listener = bound.map_err(io_at(socket))?;
    fs::set_permissions(socket, fs::Permissions::from_mode(0o600)).map_err(io_at(socket))?;
    let ino = fs::symlink_metadata(socket).map_err(io_at(socket))?.ino();
    Ok(Listener {
        listener,
        socket: socket.to_path_buf(),
        ino,
        _lock: lock,
    })
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// A file's identity and version, to notice that it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(path: &Path) -> Option<Self> {
        let m = fs::metadata(path).ok()?;
        Some(Self {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }
}

/// The decoded, verified vault and every entry this identity can read.
struct Cache {
    stamp: Stamp,
    /// The segment files `vault` was read from (taken before reading): a changed
    /// directory stamp with the same listing (this agent's own write) keeps the cache.
    files: store::SegmentFiles,
    heads: Vec<RecordId>,
    vault: Vault,
    entries: Vec<OpenEntry>,
    by_path: HashMap<String, Vec<usize>>,
    failed: Vec<FailedEntry>,
    /// Revisions whose signature and write right were checked by `Session::open_id`.
    verified: HashSet<RecordId>,
    wrap_findings: HashMap<crate::format::EntryId, Vec<String>>,
    /// Shown with every answer, as a local command shows them on every load.
    standing_warnings: Vec<String>,
}

/// A freshly unlocked identity on its way to the state thread.
struct Grant {
    identity: Identity,
    binding: Binding,
    identity_stamp: Option<Stamp>,
    idle: Duration,
}

struct Unlocked {
    identity: Identity,
    binding: Binding,
    identity_stamp: Option<Stamp>,
    idle: Duration,
    last_used: Instant,
    deadline: Instant,
    cache: Option<Cache>,
    /// This identity's member id in the cached vault (set with each load).
    member: Option<MemberId>,
    /// Records signed since the unlock for the vault at the bound path.
    signed: Option<Signed>,
    /// Entries this agent added itself since the unlock.
    entries_added: u64,
    /// The end of the agent's last write, done after its reply went out and before
    /// the next job ([`finish_pending`]).
    pending: Option<PendingAdd>,
    /// Vaults created since the unlock while no vault was at the bound path (`init`
    /// signs the first records of a vault before its file exists), newest last.
    new_vaults: VecDeque<NewVault>,
}

/// Ids of records the agent signed for one vault (the newest [`MAX_SIGNED`]): what a
/// record being signed may have as parents besides the records of the vault itself.
struct Signed {
    /// The vault's id (its genesis record's id).
    vault: RecordId,
    ids: HashSet<RecordId>,
    order: VecDeque<RecordId>,
}

impl Signed {
    fn new(vault: RecordId) -> Self {
        Self {
            vault,
            ids: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    fn insert(&mut self, id: RecordId) {
        if !self.ids.insert(id) {
            return;
        }
        self.order.push_back(id);
        if self.order.len() > MAX_SIGNED
            && let Some(old) = self.order.pop_front()
        {
            self.ids.remove(&old);
        }
    }
}

/// A vault whose genesis this agent signed: its owner id and the records signed for it
/// (its genesis included).
struct NewVault {
    owner: MemberId,
    records: Signed,
}

struct State {
    unlocked: Option<Unlocked>,
    started: Instant,
}

/// What connection threads share (the vault cache is not `Send`: it stays on the
/// state thread, and connection threads talk to it through [`Job`]s).
struct Shared {
    socket: PathBuf,
    ino: u64,
    hardening: Hardening,
    connections: AtomicUsize,
    jobs: Mutex<mpsc::Sender<Job>>,
}

/// A message to the state thread.
enum Job {
    /// A request; the answer and whether to exit after sending it.
    Request(Request, mpsc::Sender<(Reply, bool)>),
    /// An identity unlocked by a connection thread (the Argon2 derivation runs there, so
    /// a slow unlock does not stall other clients).
    Install(Box<Grant>, mpsc::Sender<(Reply, bool)>),
    /// A failed first unlock: nothing to serve.
    GiveUp,
    /// SIGTERM, SIGHUP or SIGINT.
    Signal,
}

impl Shared {
    /// Remove our socket (not a successor's) and exit. The caller has already dropped
    /// the unlocked state; exiting takes every other page with it.
    fn exit(&self) -> ! {
        if fs::symlink_metadata(&self.socket).is_ok_and(|m| m.ino() == self.ino) {
            let _ = fs::remove_file(&self.socket);
        }
        std::process::exit(0)
    }

    fn ask(&self, job: impl FnOnce(mpsc::Sender<(Reply, bool)>) -> Job) -> (Reply, bool) {
        let (tx, rx) = mpsc::channel();
        let sent = self
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(job(tx));
        match sent.ok().and_then(|()| rx.recv().ok()) {
            Some(answer) => answer,
            None => (error(ErrorKind::Locked, "the agent is locking"), true),
        }
    }
}

/// Serve until locked. Never returns: the process exits so that every secret page
/// goes with it.
pub fn serve(listener: Listener, hardening: Hardening) -> ! {
    let (tx, rx) = mpsc::channel();
    let shared = Arc::new(Shared {
        socket: listener.socket.clone(),
        ino: listener.ino,
        hardening,
        connections: AtomicUsize::new(0),
        jobs: Mutex::new(tx.clone()),
    });
    {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        // Without the handler the default action (exit) still forgets everything.
        if let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT]) {
            let tx = tx.clone();
            std::thread::spawn(move || {
                if signals.forever().next().is_some() {
                    let _ = tx.send(Job::Signal);
                }
            });
        }
    }
    {
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || state_thread(&shared, &rx));
    }
    for stream in listener.listener.incoming() {
        let Ok(stream) = stream else { continue };
        if shared.connections.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            shared.connections.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || {
            let exit_after = handle(&shared, stream);
            shared.connections.fetch_sub(1, Ordering::SeqCst);
            if exit_after {
                shared.exit();
            }
        });
    }
    shared.exit()
}

/// Owns the identity and the cache; answers jobs; enforces the timeouts.
fn state_thread(shared: &Shared, jobs: &mpsc::Receiver<Job>) {
    let mut state = State {
        unlocked: None,
        started: Instant::now(),
    };
    // Set once locking: the connection that asked for it exits after its reply; this
    // is the backstop if it cannot.
    let mut exit_by: Option<Instant> = None;
    loop {
        match jobs.recv_timeout(TICK) {
            Ok(Job::Request(request, reply)) => {
                let (answer, lock) = if exit_by.is_some() {
                    (error(ErrorKind::Locked, "the agent is locking"), true)
                } else {
                    dispatch(shared, &mut state, request)
                };
                if lock {
                    state.unlocked = None;
                    exit_by.get_or_insert(Instant::now() + SERVER_IO_TIMEOUT);
                }
                let _ = reply.send((answer, lock));
                finish_pending(&mut state);
            }
            Ok(Job::Install(grant, reply)) => {
                let answer = Reply::Unlocked {
                    name: grant.identity.name.clone(),
                    insecure_kdf: grant.identity.insecure_kdf,
                    memory_locked: shared.hardening.memory_locked,
                };
                install(&mut state, *grant);
                let _ = reply.send((answer, false));
            }
            Ok(Job::GiveUp) if state.unlocked.is_none() => {
                exit_by.get_or_insert(Instant::now() + SERVER_IO_TIMEOUT);
            }
            Ok(Job::GiveUp) => {}
            Ok(Job::Signal) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                state.unlocked = None;
                shared.exit();
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if exit_by.is_some_and(|t| Instant::now() >= t) || expired(&state) {
            // Dropping zeroizes the secret keys and every decrypted payload.
            state.unlocked = None;
            shared.exit();
        }
    }
}

fn expired(state: &State) -> bool {
    let now = Instant::now();
    match &state.unlocked {
        None => now.duration_since(state.started) > UNLOCK_GRACE,
        Some(u) => {
            now >= u.deadline
                || now.duration_since(u.last_used) >= u.idle
                || Stamp::of(&u.binding.identity) != u.identity_stamp
        }
    }
}

fn error(kind: ErrorKind, message: impl Into<String>) -> Reply {
    Reply::Error {
        kind,
        message: message.into(),
        exit: None,
        hint: None,
    }
}

/// [`error`] for a library error, with the exit code and hint a local command gives
/// for it ([`crate::errors`]: one mapping for both paths).
fn classified(
    kind: ErrorKind,
    message: String,
    (exit, hint): (crate::errors::Exit, Option<String>),
) -> Reply {
    Reply::Error {
        kind,
        message,
        exit: Some(exit as u8),
        hint,
    }
}

/// Serve one connection; returns whether the agent must exit afterwards.
fn handle(shared: &Shared, mut stream: UnixStream) -> bool {
    // SO_PEERCRED: the kernel's record of who connected; file modes are only the
    // first fence (root, or a chmod, can get past them).
    match rustix::net::sockopt::socket_peercred(&stream) {
        Ok(cred) if cred.uid == getuid() => {}
        _ => {
            let _ = write_frame(
                &mut stream,
                &error(ErrorKind::Uid, "connection refused: peer is another user"),
            );
            return false;
        }
    }
    if stream.set_read_timeout(Some(SERVER_IO_TIMEOUT)).is_err()
        || stream.set_write_timeout(Some(SERVER_IO_TIMEOUT)).is_err()
    {
        return false;
    }
    let mut greeted = false;
    loop {
        let body = match read_frame(&mut stream, MAX_REQUEST_LEN) {
            Ok(Some(body)) => body,
            Ok(None) => return false,
            Err(AgentError::TooLarge(n)) => {
                let _ = write_frame(
                    &mut stream,
                    &error(
                        ErrorKind::Protocol,
                        format!("message of {n} bytes exceeds the {MAX_REQUEST_LEN}-byte cap"),
                    ),
                );
                return false;
            }
            // Half-sent frame, timeout, reset: nothing sensible to answer.
            Err(_) => return false,
        };
        let request = match decode::<Request>(&body) {
            Ok(r) => r,
            Err(_) => {
                let _ = write_frame(
                    &mut stream,
                    &error(ErrorKind::Protocol, "malformed message"),
                );
                return false;
            }
        };
        drop(body);
        let (reply, exit_after, close) = match request {
            Request::Hello { version } if !greeted => {
                if version == PROTOCOL_VERSION {
                    greeted = true;
                    let hello = Reply::Hello {
                        version: PROTOCOL_VERSION,
                        pid: std::process::id(),
                    };
                    (hello, false, false)
                } else {
                    let message = format!(
                        "protocol version {version} is not supported; this agent speaks version {PROTOCOL_VERSION}"
                    );
                    (error(ErrorKind::Version, message), false, true)
                }
            }
            _ if !greeted => (
                error(ErrorKind::Protocol, "the first message must be hello"),
                false,
                true,
            ),
            Request::Hello { .. } => (error(ErrorKind::Protocol, "hello sent twice"), false, true),
            Request::Unlock {
                binding,
                passphrase,
                idle_secs,
            } => {
                let (reply, exit) = unlock(shared, binding, &passphrase, idle_secs);
                (reply, exit, false)
            }
            request => {
                let (reply, exit) = shared.ask(|tx| Job::Request(request, tx));
                (reply, exit, false)
            }
        };
        if write_frame(&mut stream, &reply).is_err() || close || exit_after {
            return exit_after;
        }
    }
}

fn dispatch(shared: &Shared, state: &mut State, request: Request) -> (Reply, bool) {
    // Never answer from a cache with a write's end outstanding.
    finish_pending(state);
    match request {
        Request::Status {} => (Reply::Status(Box::new(status(shared, state))), false),
        Request::Lock {} => (Reply::Locked {}, true),
        Request::Get { binding, path } => (serve_cached(state, &binding, |u| get(u, &path)), false),
        Request::List { binding } => (serve_cached(state, &binding, list), false),
        Request::Keys { binding } => (serve_uncached(state, &binding, keys), false),
        Request::Add {
            binding,
            payload,
            share_with,
        } => (add(state, &binding, &payload, &share_with), false),
        Request::Sign { binding, record } => (sign(state, &binding, &record), false),
        Request::Unwrap {
            binding,
            info,
            enc,
            sealed,
        } => {
            let answer = |u: &mut Unlocked| unwrap_key(u, &info, &enc, &sealed);
            (serve_uncached(state, &binding, answer), false)
        }
        Request::Hello { .. } | Request::Unlock { .. } => {
            (error(ErrorKind::Protocol, "unexpected message"), false)
        }
    }
}

fn status(shared: &Shared, state: &State) -> AgentStatus {
    let now = Instant::now();
    let u = state.unlocked.as_ref();
    AgentStatus {
        pid: std::process::id(),
        unlocked: u.is_some(),
        name: u.map(|u| u.identity.name.clone()),
        binding: u.map(|u| u.binding.clone()),
        idle_left_secs: u.map(|u| {
            u.idle
                .saturating_sub(now.duration_since(u.last_used))
                .min(u.deadline.saturating_duration_since(now))
                .as_secs()
        }),
        max_left_secs: u.map(|u| u.deadline.saturating_duration_since(now).as_secs()),
        cached_entries: u
            .and_then(|u| u.cache.as_ref())
            .map_or(0, |c| c.entries.len()),
        entries_added: u.map_or(0, |u| u.entries_added),
        not_dumpable: crate::harden::is_not_dumpable(),
        memory_locked: shared.hardening.memory_locked,
    }
}

/// Unlock (or re-unlock) the identity on the connection's thread, then hand it to the
/// state thread.
fn unlock(
    shared: &Shared,
    binding: Binding,
    passphrase: &SecretString,
    idle_secs: u64,
) -> (Reply, bool) {
    let identity_stamp = Stamp::of(&binding.identity);
    let unlocked = store::read_identity(&binding.identity)
        .map_err(|e| store_error(&e))
        .and_then(|bytes| Identity::unlock(&bytes, passphrase).map_err(|e| identity_error(&e)));
    let identity = match unlocked {
        Ok(i) => i,
        Err(reply) => {
            // A failed first unlock leaves nothing to serve: the agent exits soon.
            let _ = shared
                .jobs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .send(Job::GiveUp);
            return (reply, false);
        }
    };
    let grant = Grant {
        identity,
        binding,
        identity_stamp,
        idle: Duration::from_secs(idle_secs.max(1)).min(MAX_UNLOCKED),
    };
    shared.ask(|tx| Job::Install(Box::new(grant), tx))
}

/// Replace the unlocked state, keeping the cache when it is for the same vault and keys.
fn install(state: &mut State, grant: Grant) {
    let cache = state
        .unlocked
        .take()
        .filter(|u| u.binding == grant.binding && u.identity.keys == grant.identity.keys)
        .and_then(|u| u.cache);
    let member = cache
        .as_ref()
        .and_then(|c| c.vault.member_for(&grant.identity).ok())
        .map(|m| m.id);
    let now = Instant::now();
    state.unlocked = Some(Unlocked {
        identity: grant.identity,
        binding: grant.binding,
        identity_stamp: grant.identity_stamp,
        idle: grant.idle,
        last_used: now,
        deadline: now + MAX_UNLOCKED,
        member,
        signed: None,
        entries_added: 0,
        pending: None,
        new_vaults: VecDeque::new(),
        cache,
    });
}

/// The unlocked state for `binding`, counting the request as activity.
fn bound<'a>(state: &'a mut State, binding: &Binding) -> Result<&'a mut Unlocked, Reply> {
    let Some(u) = state.unlocked.as_mut() else {
        return Err(error(ErrorKind::Locked, "the agent is locked"));
    };
    if u.binding != *binding {
        return Err(error(
            ErrorKind::Mismatch,
            "the agent is unlocked for another identity or vault",
        ));
    }
    u.last_used = Instant::now();
    Ok(u)
}

/// Check the binding, count as activity and answer with `answer`, without loading the
/// vault (key requests must work before the vault exists: `init`).
fn serve_uncached(
    state: &mut State,
    binding: &Binding,
    answer: impl FnOnce(&mut Unlocked) -> Result<Reply, Reply>,
) -> Reply {
    match bound(state, binding).and_then(answer) {
        Ok(reply) | Err(reply) => reply,
    }
}

fn keys(u: &mut Unlocked) -> Result<Reply, Reply> {
    Ok(Reply::Keys {
        name: u.identity.name.clone(),
        public_key: u.identity.public_key_text(),
    })
}

/// Sign a record, but only one for the vault at the bound path (docs/agent.md, "Keys
/// held by the agent"): with a vault there, a record authored by this identity's member
/// id in it whose parents are records of that vault (as loaded through
/// [`VaultStore`], pins checked) or records the agent signed for it; with none, the
/// genesis record of a new vault naming this identity as owner and the records built on
/// it (`init`). A same-uid process cannot get a signature on arbitrary bytes, or on a
/// record for another vault, a fake genesis included.
fn sign(state: &mut State, binding: &Binding, hex: &str) -> Reply {
    let Some(bytes) = crate::format::parse_hex(hex) else {
        return error(ErrorKind::Protocol, "record is not hex");
    };
    let record = match crate::format::decode_record(&bytes) {
        Ok(r) => r,
        Err(e) => return error(ErrorKind::Protocol, format!("not a vault record: {e}")),
    };
    let is_genesis = matches!(record.body, RecordBody::Genesis(_));
    if is_genesis != record.parents.is_empty() {
        return error(
            ErrorKind::Protocol,
            "not a vault record: only a genesis record has no parents",
        );
    }
    let id = crate::format::record_id(&bytes);
    let u = match bound(state, binding) {
        Ok(u) => u,
        Err(reply) => return reply,
    };
    let checked = if u.binding.vault.exists() {
        may_sign_for_bound_vault(u, &record, id)
    } else {
        may_sign_for_new_vault(u, &record, id)
    };
    match checked {
        Ok(()) => Reply::Signature {
            signature: crate::format::hex_string(&u.identity.signing.sign(SIGNATURE_LABEL, &bytes)),
        },
        Err(reply) => reply,
    }
}

/// With a vault at the bound path: `record` (id `id`) must be authored by this identity's
/// member id there and have only parents of that vault or records signed for it. The
/// vault is re-loaded (never waiting for its lock: the writer asking for this signature
/// may hold it) only when a parent is unknown, so a write's records, each on the one
/// before, need no reload.
fn may_sign_for_bound_vault(u: &mut Unlocked, record: &Record, id: RecordId) -> Result<(), Reply> {
    if matches!(record.body, RecordBody::Genesis(_)) {
        return Err(error(
            ErrorKind::Denied,
            "refusing to sign a genesis record: a vault exists at the bound path",
        ));
    }
    if !parents_known(u, record) {
        refresh(u)?;
    }
    if u.member.is_none() {
        return Err(vault_error(&VaultError::NotMember(u.identity.name.clone())));
    }
    if u.member != Some(record.author) {
        return Err(error(
            ErrorKind::Denied,
            "refusing to sign a record authored by another member",
        ));
    }
    if !parents_known(u, record) {
        return Err(error(
            ErrorKind::Denied,
            "refusing to sign a record whose parents are not records of the bound vault",
        ));
    }
    let vault = u
        .cache
        .as_ref()
        .map(|c| c.vault.id())
        .ok_or_else(|| error(ErrorKind::Other, "no vault loaded"))?;
    if u.signed.as_ref().is_none_or(|s| s.vault != vault) {
        u.signed = Some(Signed::new(vault));
    }
    if let Some(signed) = u.signed.as_mut() {
        signed.insert(id);
    }
    Ok(())
}

/// Whether every parent of `record` is a record of the cached vault or one the agent
/// signed for that vault.
fn parents_known(u: &Unlocked, record: &Record) -> bool {
    let Some(cache) = &u.cache else {
        return false;
    };
    let signed = u.signed.as_ref().filter(|s| s.vault == cache.vault.id());
    record
        .parents
        .iter()
        .all(|p| cache.vault.contains(p) || signed.is_some_and(|s| s.ids.contains(p)))
}

/// With no vault at the bound path (`init`): a genesis record naming this identity's
/// keys as the owner's, or a record by that genesis' owner whose parents are all
/// records signed for that new vault in this unlock.
fn may_sign_for_new_vault(u: &mut Unlocked, record: &Record, id: RecordId) -> Result<(), Reply> {
    if let RecordBody::Genesis(g) = &record.body {
        if g.owner_keys != u.identity.keys || g.owner != record.author {
            return Err(error(
                ErrorKind::Denied,
                "refusing to sign a genesis record for another owner",
            ));
        }
        if u.new_vaults.len() >= MAX_NEW_VAULTS {
            u.new_vaults.pop_front();
        }
        let mut records = Signed::new(id);
        records.insert(id);
        u.new_vaults.push_back(NewVault {
            owner: g.owner,
            records,
        });
        return Ok(());
    }
    let vault = u.new_vaults.iter_mut().rev().find(|v| {
        v.owner == record.author && record.parents.iter().all(|p| v.records.ids.contains(p))
    });
    let Some(vault) = vault else {
        return Err(error(
            ErrorKind::Denied,
            "refusing to sign: no vault at the bound path, and the record does not build on a new vault's records signed by this agent",
        ));
    };
    vault.records.insert(id);
    Ok(())
}

fn unwrap_key(u: &mut Unlocked, info: &str, enc: &str, sealed: &str) -> Result<Reply, Reply> {
    let malformed = || error(ErrorKind::Protocol, "malformed key wrap");
    let info = crate::format::parse_hex(info).ok_or_else(malformed)?;
    let wrapped = crypto::HpkeWrapped {
        enc: crate::format::parse_hex(enc)
            .and_then(|v| v.try_into().ok())
            .ok_or_else(malformed)?,
        sealed: crate::format::parse_hex(sealed)
            .and_then(|v| v.try_into().ok())
            .ok_or_else(malformed)?,
    };
    let key = crypto::hpke_unwrap(&u.identity.agreement, &info, &wrapped)
        .map_err(|_| error(ErrorKind::Integrity, "key wrap did not open"))?;
    Ok(Reply::Key {
        key: SecretString::new(crate::format::hex_string(key.expose())),
    })
}

/// Check the binding, refresh the cache if the vault file changed, count as activity,
/// and answer with `answer`.
fn serve_cached(
    state: &mut State,
    binding: &Binding,
    answer: impl FnOnce(&mut Unlocked) -> Result<Reply, Reply>,
) -> Reply {
    let u = match bound(state, binding) {
        Ok(u) => u,
        Err(reply) => return reply,
    };
    let fresh_warnings = match refresh(u) {
        Ok(w) => w,
        Err(reply) => return reply,
    };
    match answer(u) {
        Ok(mut reply) => {
            if let Reply::Entry { warnings, .. } | Reply::List { warnings, .. } = &mut reply {
                let mut all = fresh_warnings;
                all.append(warnings);
                *warnings = all;
            }
            reply
        }
        Err(reply) => reply,
    }
}

/// Re-load the vault through [`VaultStore::load`] (pins, rollback check, signature
/// checks) when its file changed. Returns one-time warnings (first use, key changes).
fn refresh(u: &mut Unlocked) -> Result<Vec<String>, Reply> {
    let Some(stamp) = Stamp::of(&u.binding.vault) else {
        u.cache = None;
        return Err(store_error(&StoreError::NoVault(u.binding.vault.clone())));
    };
    if u.cache.as_ref().is_some_and(|c| c.stamp == stamp) {
        return Ok(Vec::new());
    }
    let files = store::SegmentFiles::of(&u.binding.vault);
    if let Some(c) = u.cache.as_mut().filter(|c| c.files == files) {
        c.stamp = stamp;
        return Ok(Vec::new());
    }
    let store = VaultStore::new(u.binding.vault.clone(), u.binding.state.clone());
    let (vault, status) = match store.load_without_waiting() {
        Ok(v) => v,
        Err(e) => {
            // Never keep answering from a vault whose file no longer verifies.
            u.cache = None;
            return Err(store_error(&e));
        }
    };
    let mut warnings = Vec::new();
    if status == PinStatus::FirstUse {
        warnings.push(format!(
            "first use of vault {} on this machine: trusting and pinning it (compare the vault id with your team)",
            vault.id().to_hex()
        ));
    }
    if let Ok(notices) = store.check_member_keys(&vault) {
        for n in notices {
            warnings.push(format!(
                "{}'s keys changed (new fingerprint {}); compare it with them before sharing anything new",
                n.member, n.fingerprint
            ));
        }
    }
    let heads = vault.heads();
    if let Some(c) = u.cache.as_mut().filter(|c| c.heads == heads) {
        // Same records (a touch, or a rewrite with the same content): keep the cache.
        c.stamp = stamp;
        c.files = files;
        return Ok(warnings);
    }
    u.cache = None;
    u.member = vault.member_for(&u.identity).ok().map(|m| m.id);
    if u.signed.as_ref().is_some_and(|s| s.vault != vault.id()) {
        u.signed = None;
    }
    let listing = match vault.session(&u.identity).and_then(|s| s.list_all()) {
        Ok(l) => l,
        Err(e) => return Err(vault_error(&e)),
    };
    let mut by_path: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, e) in listing.entries.iter().enumerate() {
        by_path.entry(e.payload.path.clone()).or_default().push(i);
    }
    let mut wrap_findings: HashMap<_, Vec<String>> = HashMap::new();
    for f in vault.wrap_findings() {
        wrap_findings.entry(f.entry).or_default().push(f.problem);
    }
    let standing_warnings = vault
        .ignored()
        .iter()
        .map(|i| {
            format!(
                "ignoring record {} ({}); run 'amanat verify'",
                i.record.short(),
                i.reason
            )
        })
        .collect();
    u.cache = Some(Cache {
        stamp,
        files,
        heads,
        vault,
        failed: listing
            .failed
            .iter()
            .map(|(id, e)| FailedEntry {
                id: id.to_hex(),
                message: e.to_string(),
            })
            .collect(),
        entries: listing.entries,
        by_path,
        verified: HashSet::new(),
        wrap_findings,
        standing_warnings,
    });
    Ok(warnings)
}

fn get(u: &mut Unlocked, path: &str) -> Result<Reply, Reply> {
    let cache = u
        .cache
        .as_mut()
        .ok_or_else(|| error(ErrorKind::Other, "no vault loaded"))?;
    let found = cache.by_path.get(path).map(Vec::as_slice).unwrap_or(&[]);
    if found.is_empty() {
        return Err(vault_error(&if cache.failed.is_empty() {
            VaultError::NotFound(path.to_string())
        } else {
            VaultError::Integrity(
                "no readable entry at this path, and some entries fail their integrity checks",
            )
        }));
    }
    // Several entries at the path: the rule of `Session::open`.
    let ids: Vec<_> = found.iter().map(|&i| cache.entries[i].id).collect();
    let me = u.member.unwrap_or(MemberId([0; 16]));
    let (at, shadowed) = cache
        .vault
        .choose_entry_at(path, &ids, &me)
        .map_err(|err| vault_error(&err))?;
    let i = found[at];
    let e = &cache.entries[i];
    if !cache.verified.contains(&e.revision) {
        // Signature and write right of this revision, as `Session::open` checks them.
        let opened = cache
            .vault
            .session(&u.identity)
            .and_then(|s| s.open_id(&e.id))
            .map_err(|err| vault_error(&err))?;
        if opened.revision != e.revision {
            return Err(error(ErrorKind::Integrity, "vault changed while reading"));
        }
        cache.verified.insert(e.revision);
    }
    let author = cache
        .vault
        .members()
        .find(|m| m.id == e.author)
        .map(|m| m.name.clone())
        .unwrap_or_default();
    let mut warnings = cache.standing_warnings.clone();
    warnings.extend(cache.vault.shadow_warning(path, &e.id, &shadowed));
    for problem in cache.wrap_findings.get(&e.id).into_iter().flatten() {
        warnings.push(format!(
            "'{}': {}; an admin or writer should re-key it ('amanat edit {}' with any change)",
            e.payload.path, problem, e.payload.path
        ));
    }
    Ok(Reply::Entry {
        entry: Box::new(EntryView {
            id: e.id.to_hex(),
            revision: e.revision.to_hex(),
            author_id: e.author.to_hex(),
            author,
            heads: e.heads,
            payload: e.payload.clone(),
            vault: Some(cache.vault.id().to_hex()),
            rotate_totp_at_source: e.payload.rotate_totp_at_source,
        }),
        warnings,
    })
}

/// `add`, made here: the vault this agent holds verified, the path checked against
/// every entry it holds decrypted, one new segment under the write lock
/// ([`VaultStore::try_update_held`]), and the cache updated rather than read again.
/// Anything this cannot do in that way is handed back to the client
/// ([`Reply::WriteLocally`]), which makes the write itself (and reports the exact
/// error, when there is one).
fn add(
    state: &mut State,
    binding: &Binding,
    payload: &crate::format::EntryPayload,
    share_with: &[String],
) -> Reply {
    let local = |reason: &str| Reply::WriteLocally {
        reason: reason.to_string(),
    };
    let u = match bound(state, binding) {
        Ok(u) => u,
        Err(reply) => return reply,
    };
    let Ok(path) = crate::format::check_path(&payload.path) else {
        return local("invalid path");
    };
    // A second try after the directory changed under the listing (a sync landed).
    for _ in 0..2 {
        let mut warnings = match refresh(u) {
            Ok(w) => w,
            Err(_) => return local("the vault did not load here"),
        };
        let Some(cache) = u.cache.as_mut() else {
            return local("no vault loaded");
        };
        if cache
            .by_path
            .get(&path)
            .is_some_and(|found| !found.is_empty())
        {
            return local("an entry is at that path");
        }
        let store = VaultStore::new(u.binding.vault.clone(), u.binding.state.clone());
        let identity = &u.identity;
        let written = store.try_update_held(
            &mut cache.vault,
            &mut cache.files,
            |vault| -> Result<crate::format::EntryId, WriteError> {
                let share = share_with
                    .iter()
                    .map(|name| vault.principal_named(name))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut payload = payload.clone();
                payload.path.clone_from(&path);
                let body = vault.session(identity)?.create_entry_at_free_path(
                    &crate::vault::EntryDraft {
                        payload,
                        share_with: share,
                    },
                )?;
                let RecordBody::EntryRevision(rev) = &body else {
                    return Err(WriteError);
                };
                let entry = rev.entry;
                vault.append(identity, vec![body])?;
                Ok(entry)
            },
        );
        let entry = match written {
            Ok(store::HeldUpdate::Done(entry, tail)) => {
                u.pending = Some(PendingAdd { tail, entry });
                entry
            }
            Ok(store::HeldUpdate::Busy) => return local("another writer holds the vault's lock"),
            Ok(store::HeldUpdate::Changed) => {
                // Read again (the listing no longer matches) and try once more.
                cache.stamp.mtime.0 = i64::MIN;
                cache.files = store::SegmentFiles::default();
                continue;
            }
            Err(WriteError) => {
                // The held vault may carry records that were not written.
                u.cache = None;
                return local("the agent could not make this write");
            }
        };
        if let Some(c) = u.cache.as_ref() {
            warnings.extend(c.vault.stale_warning(crate::vault::now()));
            warnings.extend(c.vault.pin_warning());
        }
        u.last_used = Instant::now();
        u.entries_added += 1;
        return Reply::Added {
            id: entry.to_hex(),
            warnings,
        };
    }
    local("the vault kept changing")
}

/// A write whose segment is durable and whose reply may be on its way: what is left
/// ([`store::HeldTail`]: pin, compaction, listing, and the write lock), and the entry
/// to put in the cache.
struct PendingAdd {
    tail: store::HeldTail,
    entry: crate::format::EntryId,
}

/// Finish the last write, if one is pending: after its reply went out (the client
/// waits only for the durable segment), before anything else is served. Pin, compact
/// when due, then open the new entry into the cache; if it cannot be opened back,
/// the cache is dropped and the next request reads everything again.
fn finish_pending(state: &mut State) {
    let Some(u) = state.unlocked.as_mut() else {
        return;
    };
    let Some(PendingAdd { tail, entry }) = u.pending.take() else {
        return;
    };
    let Some(cache) = u.cache.as_mut() else {
        return; // dropping the tail releases the lock; the next write pins
    };
    let store = VaultStore::new(u.binding.vault.clone(), u.binding.state.clone());
    store.finish_held(tail, &mut cache.vault, &mut cache.files);
    let opened = cache
        .vault
        .session(&u.identity)
        .and_then(|s| s.open_id(&entry));
    match opened {
        Ok(open) => {
            let i = cache.entries.len();
            cache
                .by_path
                .entry(open.payload.path.clone())
                .or_default()
                .push(i);
            cache.verified.insert(open.revision);
            cache.entries.push(open);
            cache.heads = cache.vault.heads();
            if let Some(stamp) = Stamp::of(&u.binding.vault) {
                cache.stamp = stamp;
            }
        }
        // Written, but not readable back here: read everything again next time.
        Err(_) => u.cache = None,
    }
}

/// A write the agent hands back to the client (the reason does not matter: the
/// client's own attempt reports it exactly).
struct WriteError;

impl From<StoreError> for WriteError {
    fn from(_: StoreError) -> Self {
        Self
    }
}

impl From<VaultError> for WriteError {
    fn from(_: VaultError) -> Self {
        Self
    }
}

fn list(u: &mut Unlocked) -> Result<Reply, Reply> {
    let cache = u
        .cache
        .as_ref()
        .ok_or_else(|| error(ErrorKind::Other, "no vault loaded"))?;
    Ok(Reply::List {
        entries: cache
            .entries
            .iter()
            .map(|e| EntrySummary {
                id: e.id.to_hex(),
                path: e.payload.path.clone(),
                username: e.payload.username.clone(),
                url: e.payload.url.clone(),
                modified: e.payload.modified,
                heads: e.heads,
            })
            .collect(),
        failed: cache.failed.clone(),
        warnings: cache.standing_warnings.clone(),
    })
}

fn store_error(e: &StoreError) -> Reply {
    let kind = match e {
        StoreError::NoVault(_) | StoreError::NoIdentity(_) => ErrorKind::NotFound,
        StoreError::Rollback { .. } | StoreError::Replaced { .. } | StoreError::TooLarge(_) => {
            ErrorKind::Integrity
        }
        StoreError::Vault(v) => return vault_error(v),
        _ => ErrorKind::Other,
    };
    classified(kind, e.to_string(), crate::errors::classify_store(e))
}

fn vault_error(e: &VaultError) -> Reply {
    let kind = match e {
        VaultError::Format(_) | VaultError::Integrity(_) => ErrorKind::Integrity,
        VaultError::NotMember(_) | VaultError::Denied(_) => ErrorKind::Denied,
        VaultError::NotFound(_) => ErrorKind::NotFound,
        _ => ErrorKind::Other,
    };
    classified(kind, e.to_string(), crate::errors::classify_vault(e))
}

fn identity_error(e: &IdentityError) -> Reply {
    let kind = match e {
        IdentityError::WrongPassphrase => ErrorKind::Passphrase,
        IdentityError::Malformed(_) | IdentityError::Kdf(_) => ErrorKind::Integrity,
        _ => ErrorKind::Other,
    };
    classified(kind, e.to_string(), crate::errors::classify_identity(e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::cell::RefCell;

    use super::*;
    use crate::format::{Genesis, PublicKeys, StoredRecord, hex_string, parse_hex};
    use crate::identity::{Keyholder, KeyholderError};
    use crate::vault::EntryDraft;

    /// The agent as a writer sees it: a [`Keyholder`] whose signatures come from
    /// [`sign`], on an agent unlocked for `identity` and bound to `dir/vault`.
    struct Through {
        state: RefCell<State>,
        binding: Binding,
        name: String,
        keys: PublicKeys,
    }

    impl std::fmt::Debug for Through {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Through")
        }
    }

    impl Through {
        fn new(dir: &Path, identity: Identity) -> Self {
            let binding = Binding {
                identity: dir.join("identity"),
                vault: dir.join("vault"),
                state: dir.join("state"),
            };
            let mut state = State {
                unlocked: None,
                started: Instant::now(),
            };
            let (name, keys) = (identity.name.clone(), identity.keys);
            install(
                &mut state,
                Grant {
                    identity,
                    binding: binding.clone(),
                    identity_stamp: None,
                    idle: Duration::from_secs(600),
                },
            );
            Self {
                state: RefCell::new(state),
                binding,
                name,
                keys,
            }
        }

        fn store(&self) -> VaultStore {
            VaultStore::new(self.binding.vault.clone(), self.binding.state.clone())
        }

        fn ask(&self, record: &Record) -> Reply {
            let (bytes, _) = StoredRecord::encode(record.clone()).unwrap();
            sign(
                &mut self.state.borrow_mut(),
                &self.binding,
                &hex_string(&bytes),
            )
        }
    }

    impl Keyholder for Through {
        fn name(&self) -> &str {
            &self.name
        }
        fn keys(&self) -> &PublicKeys {
            &self.keys
        }
        fn sign_record(&self, record: &[u8]) -> Result<[u8; 64], KeyholderError> {
            match sign(
                &mut self.state.borrow_mut(),
                &self.binding,
                &hex_string(record),
            ) {
                Reply::Signature { signature } => {
                    Ok(parse_hex(&signature).unwrap().try_into().unwrap())
                }
                other => Err(KeyholderError::Failed(format!("{other:?}"))),
            }
        }
        fn unwrap_key(
            &self,
            info: &[u8],
            wrapped: &crypto::HpkeWrapped,
        ) -> Result<crypto::SymmetricKey, KeyholderError> {
            let state = self.state.borrow();
            let u = state.unlocked.as_ref().unwrap();
            crypto::hpke_unwrap(&u.identity.agreement, info, wrapped)
                .map_err(|_| KeyholderError::Integrity)
        }
    }

    fn genesis(owner: MemberId, keys: PublicKeys, nonce: u8) -> Record {
        Record {
            parents: vec![],
            author: owner,
            time: 1,
            body: RecordBody::Genesis(Genesis {
                team: "fake".into(),
                owner,
                owner_name: "alice".into(),
                owner_keys: keys,
                nonce: [nonce; 16],
            }),
        }
    }

    fn on(mut parents: Vec<RecordId>, author: MemberId) -> Record {
        parents.sort();
        Record {
            parents,
            author,
            time: 2,
            body: RecordBody::RemoveMember {
                member: MemberId([8; 16]),
            },
        }
    }

    fn id_of(record: &Record) -> RecordId {
        StoredRecord::encode(record.clone()).unwrap().1
    }

    fn signed(reply: &Reply) -> bool {
        matches!(reply, Reply::Signature { .. })
    }

    fn denied(reply: &Reply) -> bool {
        matches!(
            reply,
            Reply::Error {
                kind: ErrorKind::Denied,
                ..
            }
        )
    }

    #[test]
    fn a_fake_genesis_naming_my_member_id_gets_nothing_signed() {
        // Issue 9, finding 8: with a vault at the bound path, a genesis naming this
        // identity's member id and keys is refused, and so is every record built on it.
        let dir = tempfile::tempdir().unwrap();
        let agent = Through::new(dir.path(), Identity::generate("alice").unwrap());
        let vault = Vault::create(&agent, "acme").unwrap();
        agent.store().create(&vault).unwrap();
        let me = vault.member_for(&agent).unwrap().id;

        let fake = genesis(me, agent.keys, 1);
        assert!(denied(&agent.ask(&fake)), "{:?}", agent.ask(&fake));
        assert!(denied(&agent.ask(&on(vec![id_of(&fake)], me))));
        let mut mixed = vault.heads();
        mixed.push(id_of(&fake));
        assert!(denied(&agent.ask(&on(mixed, me))));
        // Another member's record on the real heads: refused; mine: signed.
        assert!(denied(&agent.ask(&on(vault.heads(), MemberId([7; 16])))));
        assert!(signed(&agent.ask(&on(vault.heads(), me))));
    }

    #[test]
    fn writes_through_the_agent_chain_records_not_yet_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let agent = Through::new(dir.path(), Identity::generate("alice").unwrap());
        let vault = Vault::create(&agent, "acme").unwrap();
        let store = agent.store();
        store.create(&vault).unwrap();
        for round in 0..3 {
            // Two records in one append: the second's parent is only in the agent's
            // memory of what it signed.
            store
                .update(|v| {
                    let s = v.session(&agent).map_err(StoreError::Vault)?;
                    let bodies = vec![
                        s.create_entry(&EntryDraft::default().with_path(&format!("a/{round}")))
                            .map_err(StoreError::Vault)?,
                        s.create_entry(&EntryDraft::default().with_path(&format!("b/{round}")))
                            .map_err(StoreError::Vault)?,
                    ];
                    v.append(&agent, bodies).map_err(StoreError::Vault)
                })
                .unwrap();
        }
        let (v, _) = store.load().unwrap();
        assert!(v.verify().unwrap().ignored.is_empty());
        assert_eq!(
            v.session(&agent).unwrap().list_all().unwrap().entries.len(),
            6
        );
    }

    #[test]
    fn init_signs_only_records_that_build_on_its_own_genesis() {
        let dir = tempfile::tempdir().unwrap();
        let agent = Through::new(dir.path(), Identity::generate("alice").unwrap());
        let other = Identity::generate("mallory").unwrap();
        let (me, g1) = (MemberId([1; 16]), genesis(MemberId([1; 16]), agent.keys, 1));
        // No vault at the bound path: a genesis naming my keys is `init`'s, signed.
        assert!(denied(&agent.ask(&genesis(me, other.keys, 2))));
        assert!(signed(&agent.ask(&g1)));
        let r1 = on(vec![id_of(&g1)], me);
        assert!(signed(&agent.ask(&r1)));
        assert!(signed(&agent.ask(&on(vec![id_of(&r1)], me))));
        // The same owner id on a record that does not build on that genesis: refused.
        assert!(denied(&agent.ask(&on(vec![RecordId([9; 32])], me))));
        let mut mixed = vec![id_of(&r1), RecordId([9; 32])];
        mixed.sort();
        assert!(denied(&agent.ask(&on(mixed, me))));
        // Another author on it: refused.
        assert!(denied(&agent.ask(&on(vec![id_of(&g1)], MemberId([2; 16])))));
        // Two new vaults' records are not mixed.
        let g2 = genesis(me, agent.keys, 3);
        assert!(signed(&agent.ask(&g2)));
        assert!(denied(&agent.ask(&on(vec![id_of(&r1), id_of(&g2)], me))));
        // `init` through the agent, then the new vault is the bound one: the records of
        // the abandoned new vaults are nothing to it, and no genesis is signed.
        let vault = Vault::create(&agent, "acme").unwrap();
        agent.store().create(&vault).unwrap();
        let owner = vault.member_for(&agent).unwrap().id;
        assert!(denied(&agent.ask(&on(vec![id_of(&r1)], owner))));
        assert!(denied(&agent.ask(&genesis(owner, agent.keys, 4))));
        assert!(signed(&agent.ask(&on(vault.heads(), owner))));
    }
}
