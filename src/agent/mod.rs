//! The unlock agent's protocol and client (docs/agent.md is the normative description).
//!
//! One passphrase, then instant commands: `amanat unlock` hands the passphrase to a
//! detached agent process over a Unix socket; the agent keeps the unlocked identity and
//! a cache of the decoded, verified vault, and answers `get`/`list` requests from
//! processes of the same user. It never hands out the identity's secret keys.
//!
//! Wire format: every message is a frame `u32 length (big-endian) || UTF-8 JSON`. The
//! first exchange on a connection is a handshake ([`Request::Hello`] /
//! [`Reply::Hello`]) that carries [`PROTOCOL_VERSION`], an explicit constant bumped by
//! hand whenever a message changes shape (STYLE.md §12).
//!
//! This module does no printing; the server loop is in [`server`], the commands that
//! start and query it are in the binary (`src/cli/agent.rs`).
//! Not for: process hardening (`harden`), reading the vault file (`store`).

use std::cell::RefCell;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::{
    self, HpkeWrapped, SIGNATURE_LABEL, SIGNATURE_LEN, SecretString, SymmetricKey,
};
use crate::format::{EntryPayload, PublicKeys, hex_string, parse_hex};
use crate::identity::{Keyholder, KeyholderError, parse_public_key_text};

pub mod server;

/// The protocol version. Bump by hand when any message changes shape; never derive it
/// from the crate version.
pub const PROTOCOL_VERSION: u32 = 3;
/// Largest request frame the agent reads (a request holds paths and at most a
/// passphrase). Anything larger is refused before it is read.
pub const MAX_REQUEST_LEN: u32 = 64 * 1024;
/// Largest reply frame a client reads (a listing of a big vault).
pub const MAX_REPLY_LEN: u32 = 256 << 20;
/// Default idle timeout (`unlock --timeout`).
pub const DEFAULT_IDLE: Duration = Duration::from_secs(15 * 60);
/// Absolute lifetime of an unlock, however active the agent is.
pub const MAX_UNLOCKED: Duration = Duration::from_secs(8 * 3600);
/// How long the agent waits for each frame of a client before it hangs up (a client
/// that sends half a frame and stalls must not hold a thread forever).
pub const SERVER_IO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client waits for a reply (the first request after a vault change
/// re-verifies and re-decrypts the vault).
pub const CLIENT_IO_TIMEOUT: Duration = Duration::from_secs(120);

/// Errors of the agent protocol.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// An I/O error on the socket.
    #[error("agent socket: {0}")]
    Io(#[from] io::Error),
    /// A frame larger than the cap.
    #[error("agent message too large ({0} bytes)")]
    TooLarge(u32),
    /// The peer closed the connection in the middle of a frame, or before replying.
    #[error("the agent closed the connection")]
    Closed,
    /// A frame that is not a valid message.
    #[error("malformed agent message")]
    Malformed,
    /// The agent speaks another protocol version.
    #[error("the agent speaks protocol version {theirs}, this amanat speaks {ours}")]
    Version {
        /// Ours.
        ours: u32,
        /// Theirs.
        theirs: u32,
    },
    /// The agent answered with an error.
    #[error("{message}")]
    Agent {
        /// What kind of failure.
        kind: ErrorKind,
        /// The error line.
        message: String,
        /// The exit code a local command gives for it, when the agent sent one.
        exit: Option<u8>,
        /// The next step a local command prints for it, when the agent sent one.
        hint: Option<String>,
    },
    /// A reply of the wrong type for the request.
    #[error("unexpected reply from the agent")]
    Unexpected,
    /// The socket is not one of our own agent's: its directory is not private to this
    /// user, or the process listening on it runs as another user. Nothing was sent.
    #[error("{0}; nothing was sent to it")]
    Untrusted(String),
}

impl AgentError {
    /// Whether this says the agent is gone or no longer serves us (it closed the
    /// connection, the socket broke, or it answered `locked`/`mismatch`), rather than
    /// that the request itself failed: a command can go on without the agent.
    pub fn is_gone(&self) -> bool {
        match self {
            Self::Closed | Self::Io(_) => true,
            Self::Agent { kind, .. } => matches!(kind, ErrorKind::Locked | ErrorKind::Mismatch),
            _ => false,
        }
    }
}

/// The directory the socket `socket` lives in (`.` for a bare file name).
pub fn socket_dir(socket: &Path) -> PathBuf {
    match socket.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Why `dir` (its `lstat` metadata `meta`) may not hold the agent socket of user `uid`,
/// or `None` when it may: a real directory (not a symlink to one), owned by `uid`, with
/// no permission bits for group or others. Anyone else who can enter, list or write it
/// could plant a socket of their own there (a fake agent that collects the passphrase
/// and serves spoofed values) or replace ours.
pub fn unsafe_dir_reason(dir: &Path, meta: &fs::Metadata, uid: u32) -> Option<String> {
    let dir = dir.display();
    if meta.file_type().is_symlink() {
        return Some(format!("the directory {dir} is a symbolic link"));
    }
    if !meta.is_dir() {
        return Some(format!("{dir} is not a directory"));
    }
    if meta.uid() != uid {
        return Some(format!(
            "the directory {dir} belongs to uid {}, not to you (uid {uid})",
            meta.uid()
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Some(format!(
            "the directory {dir} is open to group or others (mode {mode:04o}; it must be 0700)"
        ));
    }
    None
}

/// Check the socket's directory before anything is sent (see [`unsafe_dir_reason`]).
/// `Ok(false)`: the directory does not exist, so no agent can be listening there.
pub fn check_socket_dir(socket: &Path) -> Result<bool, AgentError> {
    let dir = socket_dir(socket);
    let meta = match fs::symlink_metadata(&dir) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(AgentError::Untrusted(format!(
                "the directory {} cannot be checked: {e}",
                dir.display()
            )));
        }
    };
    match unsafe_dir_reason(&dir, &meta, rustix::process::getuid().as_raw()) {
        Some(reason) => Err(AgentError::Untrusted(reason)),
        None => Ok(true),
    }
}

/// Check, with `SO_PEERCRED`, that the process listening on `stream` runs as this user.
fn check_peer(stream: &UnixStream) -> Result<(), AgentError> {
    let ours = rustix::process::getuid();
    let cred = rustix::net::sockopt::socket_peercred(stream).map_err(|e| {
        AgentError::Untrusted(format!("its owner cannot be checked (SO_PEERCRED): {e}"))
    })?;
    if cred.uid != ours {
        return Err(AgentError::Untrusted(format!(
            "the process listening on it runs as uid {}, not as you (uid {})",
            cred.uid.as_raw(),
            ours.as_raw()
        )));
    }
    Ok(())
}

/// Which vault and identity a request is about. The agent serves one binding: the one
/// it was unlocked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    /// The identity file.
    pub identity: PathBuf,
    /// The vault file.
    pub vault: PathBuf,
    /// The local state directory (pins).
    pub state: PathBuf,
}

/// A client's message.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// First message on every connection.
    Hello {
        /// [`PROTOCOL_VERSION`] of the client.
        version: u32,
    },
    /// Is the agent unlocked, for what, for how long. A struct variant without fields,
    /// not a unit variant: serde lets unit variants of an internally tagged enum
    /// through with any extra fields, and `deny_unknown_fields` refuses them only here.
    Status {},
    /// Unlock (or re-unlock, resetting both timers) with this passphrase.
    Unlock {
        /// What to serve.
        binding: Binding,
        /// The identity's passphrase.
        passphrase: SecretString,
        /// Idle timeout in seconds (capped at [`MAX_UNLOCKED`]).
        idle_secs: u64,
    },
    /// Forget everything and exit (no fields, like [`Request::Status`]).
    Lock {},
    /// One entry, by path.
    Get {
        /// Must equal the agent's binding.
        binding: Binding,
        /// The entry path.
        path: String,
    },
    /// Every readable entry (no secret values).
    List {
        /// Must equal the agent's binding.
        binding: Binding,
    },
    /// The unlocked identity's name and public keys.
    Keys {
        /// Must equal the agent's binding.
        binding: Binding,
    },
    /// Sign an encoded record of the bound vault authored by this identity, whose
    /// parents are records of that vault (or, while no vault exists at the bound path,
    /// the records of the new vault `init` creates); anything else is refused.
    Sign {
        /// Must equal the agent's binding.
        binding: Binding,
        /// The record's encoding, hex.
        record: String,
    },
    /// Create an entry (`add`): the agent writes it on the vault it holds verified,
    /// as one new segment under the vault's write lock, without reading the vault
    /// again. Answered with [`Reply::Added`], or [`Reply::WriteLocally`] when the
    /// agent does not make this write (the client then makes it itself).
    Add {
        /// Must equal the agent's binding.
        binding: Binding,
        /// The new entry (path already normalised by the client; checked again).
        payload: Box<EntryPayload>,
        /// Members and `@groups` to share it with, by name.
        share_with: Vec<String>,
    },
    /// Open an HPKE key wrap addressed to the identity.
    Unwrap {
        /// Must equal the agent's binding.
        binding: Binding,
        /// The HPKE `info`, hex.
        info: String,
        /// The encapsulated key, hex (32 bytes).
        enc: String,
        /// The sealed key and tag, hex (48 bytes).
        sealed: String,
    },
}

/// The agent's message.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Reply {
    /// Handshake answer.
    Hello {
        /// [`PROTOCOL_VERSION`] of the agent.
        version: u32,
        /// The agent's process id.
        pid: u32,
    },
    /// Answer to [`Request::Status`].
    Status(Box<AgentStatus>),
    /// Answer to [`Request::Unlock`].
    Unlocked {
        /// The identity's name.
        name: String,
        /// The identity uses test-only KDF parameters.
        insecure_kdf: bool,
        /// The agent's memory is locked (`mlockall`).
        memory_locked: bool,
    },
    /// Answer to [`Request::Lock`]; the agent exits after sending it (no fields, like
    /// [`Request::Status`]).
    Locked {},
    /// Answer to [`Request::Add`]: written.
    Added {
        /// The new entry's id, hex.
        id: String,
        /// Warnings to show (a stale copy, pins not written, first use).
        warnings: Vec<String>,
    },
    /// Answer to [`Request::Add`]: not written by the agent; the client writes it
    /// itself (another writer holds the lock, the path looks taken, a name does not
    /// resolve, …), which also gives the exact error when there is one.
    WriteLocally {
        /// Why (not an error; not shown).
        reason: String,
    },
    /// Answer to [`Request::Get`].
    Entry {
        /// The entry, secrets included.
        entry: Box<EntryView>,
        /// Warnings to show (ignored records, wrap findings, first use).
        warnings: Vec<String>,
    },
    /// Answer to [`Request::List`].
    List {
        /// Readable entries sorted by path.
        entries: Vec<EntrySummary>,
        /// Entries addressed to this identity that failed to open.
        failed: Vec<FailedEntry>,
        /// Warnings to show.
        warnings: Vec<String>,
    },
    /// Answer to [`Request::Keys`].
    Keys {
        /// The identity's name.
        name: String,
        /// The public keys as `amanat1…` text.
        public_key: String,
    },
    /// Answer to [`Request::Sign`].
    Signature {
        /// The Ed25519 signature, hex (64 bytes).
        signature: String,
    },
    /// Answer to [`Request::Unwrap`]: the unwrapped 32-byte key, hex.
    Key {
        /// The key, hex.
        key: SecretString,
    },
    /// The request failed.
    Error {
        /// Kind, which the client maps to an exit code when `exit` is absent.
        kind: ErrorKind,
        /// One line, never a secret.
        message: String,
        /// The exit code a local command gives for the same library error
        /// ([`crate::errors`]), when the error is one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit: Option<u8>,
        /// The next step a local command prints for it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hint: Option<String>,
    },
}

/// Kinds of [`Reply::Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The handshake's version differs.
    Version,
    /// A malformed, oversized or out-of-order message.
    Protocol,
    /// The connecting process belongs to another user.
    Uid,
    /// The agent holds no unlocked identity.
    Locked,
    /// The agent is unlocked for another identity, vault or state directory.
    Mismatch,
    /// Wrong passphrase.
    Passphrase,
    /// No such entry, vault or identity.
    NotFound,
    /// Not readable by this identity.
    Denied,
    /// The vault or identity failed to verify (tampering, rollback, damage).
    Integrity,
    /// Anything else.
    Other,
}

/// Answer to [`Request::Status`]: no secrets.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentStatus {
    /// The agent's process id.
    pub pid: u32,
    /// Whether an identity is unlocked.
    pub unlocked: bool,
    /// The identity's name, when unlocked.
    pub name: Option<String>,
    /// What it serves, when unlocked.
    pub binding: Option<Binding>,
    /// Seconds until the idle timeout.
    pub idle_left_secs: Option<u64>,
    /// Seconds until the absolute limit.
    pub max_left_secs: Option<u64>,
    /// Entries in the cache (0 before the first request).
    pub cached_entries: usize,
    /// Entries this agent added itself since the unlock (`add` through the agent).
    pub entries_added: u64,
    /// The agent is not dumpable (no core, no ptrace by same-uid processes).
    pub not_dumpable: bool,
    /// The agent's memory is locked.
    pub memory_locked: bool,
}

/// An opened entry as the agent sends it.
#[derive(Debug, Serialize, Deserialize)]
pub struct EntryView {
    /// Entry id (hex).
    pub id: String,
    /// Current revision (hex).
    pub revision: String,
    /// Author of the revision (member id, hex).
    pub author_id: String,
    /// Author's name ("" if unknown).
    pub author: String,
    /// Number of concurrent head revisions.
    pub heads: usize,
    /// The decrypted payload.
    pub payload: EntryPayload,
    /// The id of the vault the entry is in (hex), for the client's use log
    /// (`crate::uselog`). Optional both ways without a version change: a client
    /// ignores unknown fields inside `entry`, and an agent that does not send it
    /// leaves it `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<String>,
    /// The payload's TOTP seed must be enrolled anew at its source (not in
    /// `payload`'s serde form: in the vault it is a byte after the body).
    pub rotate_totp_at_source: bool,
}

/// A listed entry: what `ls` and `find` show, no secret values.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntrySummary {
    /// Entry id (hex).
    pub id: String,
    /// Path.
    pub path: String,
    /// Login name.
    pub username: String,
    /// URL.
    pub url: String,
    /// Last modification time.
    pub modified: u64,
    /// Number of concurrent head revisions.
    pub heads: usize,
}

/// An entry that failed to open.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailedEntry {
    /// Entry id (hex).
    pub id: String,
    /// Why.
    pub message: String,
}

// ---------------------------------------------------------------------------------------
// Framing

/// Write one frame: big-endian `u32` length, then the JSON bytes. The serialized copy
/// (which may hold a secret) is zeroized.
pub fn write_frame<T: Serialize>(w: &mut impl Write, message: &T) -> Result<(), AgentError> {
    let body = Zeroizing::new(serde_json::to_vec(message).map_err(|_| AgentError::Malformed)?);
    let len = u32::try_from(body.len()).map_err(|_| AgentError::TooLarge(u32::MAX))?;
    let mut frame = Zeroizing::new(Vec::with_capacity(4 + body.len()));
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&body);
    w.write_all(&frame)?;
    w.flush()?;
    Ok(())
}

/// Read one frame's bytes, refusing a length above `max` before reading the body.
/// `Ok(None)` on a clean end of stream before the first length byte.
pub fn read_frame(r: &mut impl Read, max: u32) -> Result<Option<Zeroizing<Vec<u8>>>, AgentError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(AgentError::Closed),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let len = u32::from_be_bytes(len);
    if len > max {
        return Err(AgentError::TooLarge(len));
    }
    let mut body = Zeroizing::new(vec![0u8; len as usize]);
    r.read_exact(&mut body).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => AgentError::Closed,
        _ => AgentError::Io(e),
    })?;
    Ok(Some(body))
}

/// Decode a frame's JSON (serde_json rejects trailing bytes).
pub fn decode<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, AgentError> {
    serde_json::from_slice(body).map_err(|_| AgentError::Malformed)
}

// ---------------------------------------------------------------------------------------
// Client

/// The answer to the request sent with the handshake ([`Client::connect_with`]).
pub type FirstReply = Result<Reply, AgentError>;

/// A connection to a running agent, past the handshake.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
    /// The agent's process id (from the handshake).
    pub pid: u32,
}

impl Client {
    /// Connect and shake hands. `Ok(None)` when no agent listens at `socket` (no file,
    /// or a stale file nobody accepts on).
    pub fn connect(socket: &Path) -> Result<Option<Self>, AgentError> {
        let Some(mut client) = Self::open(socket)? else {
            return Ok(None);
        };
        let written = write_frame(&mut client.stream, &Self::hello());
        client.handshake(written)?;
        Ok(Some(client))
    }

    /// [`connect`](Self::connect), with `first` sent right behind the handshake in the
    /// same write: one round trip instead of two (the agent reads frames in order).
    /// Handshake failures are the outer error, as for `connect`; the answer to `first`
    /// is the inner result.
    pub fn connect_with(
        socket: &Path,
        first: &Request,
    ) -> Result<Option<(Self, FirstReply)>, AgentError> {
        let Some(mut client) = Self::open(socket)? else {
            return Ok(None);
        };
        // Both frames in one buffer (zeroized: `first` may hold a secret).
        let mut frames = Zeroizing::new(Vec::new());
        write_frame(&mut *frames, &Self::hello())?;
        write_frame(&mut *frames, first)?;
        let written = client.stream.write_all(&frames).map_err(AgentError::from);
        client.handshake(written)?;
        let reply = client.read_reply(Ok(()));
        Ok(Some((client, reply)))
    }

    /// Connect to `socket` after checking its directory, then check the listener's uid:
    /// nothing is written to a socket that fails either check ([`AgentError::Untrusted`]).
    fn open(socket: &Path) -> Result<Option<Self>, AgentError> {
        if !check_socket_dir(socket)? {
            return Ok(None);
        }
        let stream = match UnixStream::connect(socket) {
            Ok(s) => s,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        check_peer(&stream)?;
        stream.set_read_timeout(Some(CLIENT_IO_TIMEOUT))?;
        stream.set_write_timeout(Some(CLIENT_IO_TIMEOUT))?;
        Ok(Some(Self { stream, pid: 0 }))
    }

    fn hello() -> Request {
        Request::Hello {
            version: PROTOCOL_VERSION,
        }
    }

    /// Read the answer to the handshake (after `written`, the result of sending it).
    fn handshake(&mut self, written: Result<(), AgentError>) -> Result<(), AgentError> {
        match self.read_reply(written)? {
            Reply::Hello { version, pid } if version == PROTOCOL_VERSION => {
                self.pid = pid;
                Ok(())
            }
            Reply::Hello { version, .. } => Err(AgentError::Version {
                ours: PROTOCOL_VERSION,
                theirs: version,
            }),
            _ => Err(AgentError::Unexpected),
        }
    }

    /// Send one request without waiting for its reply (the automatic agent's `unlock`:
    /// the agent derives the key while the command goes on).
    pub fn send(&mut self, request: &Request) -> Result<(), AgentError> {
        write_frame(&mut self.stream, request)
    }

    /// Send one request and read its reply; an error reply becomes [`AgentError::Agent`].
    pub fn request(&mut self, request: &Request) -> Result<Reply, AgentError> {
        // The agent may answer and close before reading (it refuses another user's
        // connection at once): then our write fails with a broken pipe while its reply
        // is already waiting to be read, so read before reporting the write error.
        let written = write_frame(&mut self.stream, request);
        self.read_reply(written)
    }

    /// Read one reply (after `written`, the result of sending what it answers).
    fn read_reply(&mut self, written: Result<(), AgentError>) -> Result<Reply, AgentError> {
        let body = match read_frame(&mut self.stream, MAX_REPLY_LEN) {
            Ok(Some(body)) => body,
            Ok(None) => return Err(written.err().unwrap_or(AgentError::Closed)),
            Err(e) => return Err(written.err().unwrap_or(e)),
        };
        match decode::<Reply>(&body)? {
            Reply::Error {
                kind,
                message,
                exit,
                hint,
            } => Err(AgentError::Agent {
                kind,
                message,
                exit,
                hint,
            }),
            reply => Ok(reply),
        }
    }
}

/// The identity as an unlocked agent holds it: a [`Keyholder`] whose signatures and
/// key unwraps are requests on one connection. The secret keys stay in the agent.
#[derive(Debug)]
pub struct AgentKeys {
    client: RefCell<Client>,
    /// Set when the agent went away or stopped serving this binding mid-way.
    vanished: std::cell::Cell<bool>,
    binding: Binding,
    name: String,
    keys: PublicKeys,
}

impl AgentKeys {
    /// The identity the agent at `socket` holds for `binding`. `Ok(None)`: no agent, a
    /// locked one, or one unlocked for another identity, vault or state directory.
    pub fn connect(socket: &Path, binding: Binding) -> Result<Option<Self>, AgentError> {
        let request = Request::Keys {
            binding: binding.clone(),
        };
        let Some((client, reply)) = Client::connect_with(socket, &request)? else {
            return Ok(None);
        };
        match reply {
            Ok(Reply::Keys { name, public_key }) => {
                let keys = parse_public_key_text(&public_key).map_err(|_| AgentError::Malformed)?;
                Ok(Some(Self {
                    client: RefCell::new(client),
                    vanished: std::cell::Cell::new(false),
                    binding,
                    name,
                    keys,
                }))
            }
            Ok(_) => Err(AgentError::Unexpected),
            Err(AgentError::Agent {
                kind: ErrorKind::Locked | ErrorKind::Mismatch,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the agent went away (closed the connection, locked, or was unlocked for
    /// something else) after [`connect`](Self::connect): the caller may then go on
    /// without it, with the identity unlocked locally.
    pub fn vanished(&self) -> bool {
        self.vanished.get()
    }

    fn ask(&self, request: &Request) -> Result<Reply, KeyholderError> {
        self.client
            .borrow_mut()
            .request(request)
            .inspect_err(|e| {
                if e.is_gone() {
                    self.vanished.set(true);
                }
            })
            .map_err(|e| match e {
                AgentError::Agent {
                    kind: ErrorKind::Locked | ErrorKind::Mismatch,
                    message,
                    ..
                } => KeyholderError::Locked(format!("agent: {message}")),
                AgentError::Agent {
                    kind: ErrorKind::Integrity,
                    ..
                } => KeyholderError::Integrity,
                e => KeyholderError::Failed(format!("agent: {e}")),
            })
    }
}

fn unexpected() -> KeyholderError {
    KeyholderError::Failed(format!("agent: {}", AgentError::Unexpected))
}

impl Keyholder for AgentKeys {
    fn name(&self) -> &str {
        &self.name
    }

    fn keys(&self) -> &PublicKeys {
        &self.keys
    }

    fn sign_record(&self, record: &[u8]) -> Result<[u8; SIGNATURE_LEN], KeyholderError> {
        let reply = self.ask(&Request::Sign {
            binding: self.binding.clone(),
            record: hex_string(record),
        })?;
        let Reply::Signature { signature } = reply else {
            return Err(unexpected());
        };
        let signature: [u8; SIGNATURE_LEN] = parse_hex(&signature)
            .and_then(|v| v.try_into().ok())
            .ok_or_else(unexpected)?;
        // A signature that does not verify under our key would make the write useless
        // (every reader ignores the record): refuse it here, before anything is written.
        crypto::verify(&self.keys.signing, SIGNATURE_LABEL, record, &signature).map_err(|_| {
            KeyholderError::Failed(
                "agent: its signature does not verify under this identity's key".into(),
            )
        })?;
        Ok(signature)
    }

    fn unwrap_key(
        &self,
        info: &[u8],
        wrapped: &HpkeWrapped,
    ) -> Result<SymmetricKey, KeyholderError> {
        let reply = self.ask(&Request::Unwrap {
            binding: self.binding.clone(),
            info: hex_string(info),
            enc: hex_string(&wrapped.enc),
            sealed: hex_string(&wrapped.sealed),
        })?;
        let Reply::Key { key } = reply else {
            return Err(unexpected());
        };
        let bytes = Zeroizing::new(parse_hex(key.expose()).ok_or_else(unexpected)?);
        let mut array = Zeroizing::new([0u8; 32]);
        if bytes.len() != array.len() {
            return Err(unexpected());
        }
        array.copy_from_slice(&bytes);
        Ok(SymmetricKey::from_bytes(*array))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn dir_with_mode(mode: u32) -> tempfile::TempDir {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(mode)).unwrap();
        dir
    }

    fn untrusted(socket: &Path) -> String {
        match check_socket_dir(socket) {
            Err(AgentError::Untrusted(reason)) => reason,
            other => panic!("{} was not refused: {other:?}", socket.display()),
        }
    }

    #[test]
    fn a_private_directory_passes_the_socket_checks() {
        let dir = dir_with_mode(0o700);
        let meta = fs::symlink_metadata(dir.path()).unwrap();
        let uid = rustix::process::getuid().as_raw();
        assert_eq!(unsafe_dir_reason(dir.path(), &meta, uid), None);
        let socket = dir.path().join("agent.sock");
        assert!(check_socket_dir(&socket).unwrap());
        // No socket there yet: no agent, and no error.
        assert!(Client::connect(&socket).unwrap().is_none());
        // No directory: no agent either.
        assert!(!check_socket_dir(&dir.path().join("none/agent.sock")).unwrap());
    }

    #[test]
    fn a_socket_directory_open_to_group_or_others_is_refused() {
        for mode in [0o755, 0o750, 0o711, 0o701, 0o770, 0o707, 0o1777] {
            let dir = dir_with_mode(mode);
            let reason = untrusted(&dir.path().join("agent.sock"));
            assert!(
                reason.contains(&format!("is open to group or others (mode {mode:04o}")),
                "{reason}"
            );
        }
    }

    #[test]
    fn a_symlinked_socket_directory_is_refused() {
        let base = dir_with_mode(0o700);
        let real = base.path().join("real");
        fs::create_dir(&real).unwrap();
        fs::set_permissions(&real, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let link = base.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        // The target is private and ours; the link is still refused (lstat, not stat).
        assert!(check_socket_dir(&real.join("agent.sock")).unwrap());
        let reason = untrusted(&link.join("agent.sock"));
        assert!(reason.ends_with("link is a symbolic link"), "{reason}");
    }

    #[test]
    fn a_socket_directory_of_another_uid_is_refused() {
        let dir = dir_with_mode(0o700);
        let meta = fs::symlink_metadata(dir.path()).unwrap();
        let other = rustix::process::getuid().as_raw() ^ 1;
        let reason = unsafe_dir_reason(dir.path(), &meta, other).unwrap();
        assert!(reason.contains(&format!(
            "belongs to uid {}, not to you (uid {other})",
            meta.uid()
        )));
        let file = dir.path().join("file");
        fs::write(&file, b"").unwrap();
        let meta = fs::symlink_metadata(&file).unwrap();
        let reason = unsafe_dir_reason(&file, &meta, meta.uid()).unwrap();
        assert!(reason.ends_with("is not a directory"), "{reason}");
    }

    #[test]
    fn nothing_reaches_a_listener_in_a_directory_open_to_others() {
        let dir = dir_with_mode(0o755);
        let socket = dir.path().join("agent.sock");
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        listener.set_nonblocking(true).unwrap();
        let unlock = Request::Unlock {
            binding: Binding {
                identity: "/i".into(),
                vault: "/v".into(),
                state: "/s".into(),
            },
            passphrase: SecretString::new("never-sent-7c1e".to_string()),
            idle_secs: 60,
        };
        assert!(matches!(
            Client::connect_with(&socket, &unlock),
            Err(AgentError::Untrusted(_))
        ));
        assert!(matches!(
            Client::connect(&socket),
            Err(AgentError::Untrusted(_))
        ));
        // Refused before connecting: the listener never saw a connection.
        match listener.accept() {
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock),
            Ok(_) => panic!("the client connected to a socket in an open directory"),
        }
    }

    #[test]
    fn protocol_version_is_an_explicit_constant() {
        // Changing a message's shape means bumping this by hand (docs/agent.md).
        assert_eq!(PROTOCOL_VERSION, 3);
    }

    /// The entry's `vault` (for the use log) was added without a version change: an
    /// entry reply without it decodes (an agent from before), and one with it decodes
    /// in a client that does not know it (unknown fields inside `entry` are ignored).
    #[test]
    fn entry_vault_is_optional_both_ways() {
        let payload = serde_json::to_value(EntryPayload::default()).unwrap();
        let mut entry = serde_json::json!({
            "id": "00", "revision": "00", "author_id": "00", "author": "a",
            "heads": 1, "payload": payload, "rotate_totp_at_source": false,
        });
        let reply = |entry: &serde_json::Value| {
            serde_json::to_vec(&serde_json::json!({
                "type": "entry", "entry": entry, "warnings": [],
            }))
            .unwrap()
        };
        let Reply::Entry { entry: view, .. } = decode::<Reply>(&reply(&entry)).unwrap() else {
            panic!("not an entry reply");
        };
        assert_eq!(view.vault, None);
        entry["vault"] = "ab".into();
        let Reply::Entry { entry: view, .. } = decode::<Reply>(&reply(&entry)).unwrap() else {
            panic!("not an entry reply");
        };
        assert_eq!(view.vault.as_deref(), Some("ab"));
        // What an older client reads: the same struct without the field.
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct OlderView {
            id: String,
            heads: usize,
        }
        let older: OlderView = serde_json::from_value(entry).unwrap();
        assert_eq!(older.heads, 1);
    }

    #[test]
    fn frame_round_trip() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &Request::Status {}).unwrap();
        assert_eq!(&buf[..4], &(buf.len() as u32 - 4).to_be_bytes());
        let body = read_frame(&mut buf.as_slice(), MAX_REQUEST_LEN)
            .unwrap()
            .unwrap();
        assert_eq!(&body[..], br#"{"type":"status"}"#);
        assert!(matches!(
            decode::<Request>(&body).unwrap(),
            Request::Status {}
        ));
    }

    #[test]
    fn oversized_length_is_refused_before_reading() {
        let frame = [0xff_u8; 8];
        assert!(matches!(
            read_frame(&mut frame.as_slice(), MAX_REQUEST_LEN),
            Err(AgentError::TooLarge(0xffff_ffff))
        ));
    }

    #[test]
    fn truncated_frames_are_errors_and_empty_is_end() {
        assert!(read_frame(&mut [].as_slice(), 10).unwrap().is_none());
        assert!(matches!(
            read_frame(&mut [0u8, 0].as_slice(), 10),
            Err(AgentError::Closed)
        ));
        assert!(matches!(
            read_frame(&mut [0u8, 0, 0, 5, b'{'].as_slice(), 10),
            Err(AgentError::Closed)
        ));
    }

    #[test]
    fn unknown_and_trailing_json_is_malformed() {
        assert!(decode::<Request>(br#"{"type":"status"} x"#).is_err());
        assert!(decode::<Request>(br#"{"type":"nope"}"#).is_err());
        assert!(decode::<Request>(br#"{"type":"hello","version":1,"x":2}"#).is_err());
    }

    #[test]
    fn requests_without_fields_refuse_unknown_fields() {
        // Issue 9, finding 10: serde lets a unit variant of an internally tagged enum
        // through with any extra fields; these are exactly `{"type": …}`.
        assert!(decode::<Request>(br#"{"type":"status","x":1}"#).is_err());
        assert!(decode::<Request>(br#"{"type":"lock","binding":null}"#).is_err());
        assert!(decode::<Reply>(br#"{"type":"locked","x":1}"#).is_err());
        assert!(matches!(
            decode::<Request>(br#"{"type":"status"}"#).unwrap(),
            Request::Status {}
        ));
        assert!(matches!(
            decode::<Request>(br#"{"type":"lock"}"#).unwrap(),
            Request::Lock {}
        ));
        assert!(matches!(
            decode::<Reply>(br#"{"type":"locked"}"#).unwrap(),
            Reply::Locked {}
        ));
        // Their encoding is unchanged: the wire format (and the version) stay.
        let mut buf = Vec::new();
        write_frame(&mut buf, &Reply::Locked {}).unwrap();
        assert_eq!(&buf[4..], br#"{"type":"locked"}"#);
        // The requests with fields still refuse theirs, and accept exactly theirs.
        let keys = br#"{"type":"keys","binding":{"identity":"/i","vault":"/v","state":"/s"}}"#;
        assert!(matches!(
            decode::<Request>(keys).unwrap(),
            Request::Keys { .. }
        ));
        let extra =
            br#"{"type":"keys","binding":{"identity":"/i","vault":"/v","state":"/s"},"x":1}"#;
        assert!(decode::<Request>(extra).is_err());
        let nested =
            br#"{"type":"keys","binding":{"identity":"/i","vault":"/v","state":"/s","x":1}}"#;
        assert!(decode::<Request>(nested).is_err());
    }
}
