//! `amanat unlock|lock|agent status`, the hidden `__agent-serve` that the detached agent
//! runs, and the client side other commands use (`get`, `ls`, `show`, `find` ask a
//! running, unlocked agent instead of decoding the vault themselves).
//!
//! Not for: the protocol or the server loop (`amanat::agent`).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use clap::{Args, Subcommand};

use amanat::agent::{
    AgentError, AgentKeys, Binding, Client, DEFAULT_IDLE, EntrySummary, EntryView, ErrorKind,
    MAX_UNLOCKED, Reply, Request, SERVER_IO_TIMEOUT, check_socket_dir,
};
use amanat::crypto::SecretString;
use amanat::format::{EntryId, EntryPayload, MemberId, RecordId};
use amanat::identity as id;
use amanat::store;
use amanat::vault::OpenEntry;

use super::JsonArgs;
use super::exit::{Exit, Failure, fail};
use super::input::{self, PASSPHRASE_FILE_VAR};
use super::output::{print_json, sanitize};
use super::paths::Paths;

/// Variable naming the agent socket.
pub const SOCKET_VAR: &str = "AMANAT_AGENT_SOCK";
/// Variable that turns the automatic agent off (`AMANAT_AGENT=off`).
pub const AGENT_VAR: &str = "AMANAT_AGENT";

/// `unlock` arguments.
#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// Lock after this long without a request (e.g. 90s, 15m, 2h; at most 8h)
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// `agent` subcommands.
#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Locked or unlocked, for which identity and vault, time left (no secrets)
    #[command(after_help = "Example:\n  amanat agent status")]
    Status(JsonArgs),
}

/// `__agent-serve` arguments.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The socket to bind
    #[arg(long, value_name = "PATH")]
    pub socket: PathBuf,
}

/// Parse `90s`, `15m`, `2h`, `1h30m` or plain seconds (the grammar of
/// [`amanat::duration`]); between 1 s and 8 h.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let secs = amanat::duration::parse(text, true).map_err(|e| e.to_string())?;
    let d = Duration::from_secs(secs);
    if d.is_zero() || d > MAX_UNLOCKED {
        return Err(format!(
            "the timeout must be between 1s and 8h, not '{text}'"
        ));
    }
    Ok(d)
}

fn human(secs: u64) -> String {
    match secs {
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// The socket: `AMANAT_AGENT_SOCK`, else `$XDG_RUNTIME_DIR/amanat/agent.sock`, else
/// `/tmp/amanat-UID/agent.sock`. Anyone can create `/tmp/amanat-UID` first: the agent
/// refuses to bind in a directory that is not private to its user, and clients refuse
/// to send anything to a socket in one, or to a listener of another uid
/// (`amanat::agent::Client`).
pub fn socket_path() -> PathBuf {
    if let Some(s) = std::env::var_os(SOCKET_VAR).filter(|s| !s.is_empty()) {
        return PathBuf::from(s);
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
    {
        return dir.join("amanat/agent.sock");
    }
    let uid = rustix::process::getuid().as_raw();
    PathBuf::from(format!("/tmp/amanat-{uid}/agent.sock"))
}

/// What the agent serves for these paths (absolute, so any working directory agrees).
fn binding(paths: &Paths) -> anyhow::Result<Binding> {
    Ok(Binding {
        identity: std::path::absolute(&paths.identity)?,
        vault: std::path::absolute(&paths.vault)?,
        state: std::path::absolute(&paths.state)?,
    })
}

fn exit_for(kind: ErrorKind) -> (Exit, &'static str) {
    match kind {
        ErrorKind::Passphrase => (
            Exit::Passphrase,
            "check the passphrase (or AMANAT_PASSPHRASE_FILE) and try again",
        ),
        ErrorKind::Locked => (Exit::Passphrase, "unlock it with 'amanat unlock'"),
        ErrorKind::NotFound => (Exit::NotFound, "see 'amanat ls'"),
        ErrorKind::Denied | ErrorKind::Uid => (
            Exit::Denied,
            "the agent serves only its own user; run 'amanat unlock' as yourself",
        ),
        ErrorKind::Integrity => (
            Exit::Integrity,
            "the file is damaged or was tampered with: do not use it; run 'amanat verify'",
        ),
        _ => (Exit::Other, "run 'amanat lock', then 'amanat unlock' again"),
    }
}

/// The hint for a socket that is not private to us ([`AgentError::Untrusted`]).
const UNTRUSTED_HINT: &str = "another user may have put it there: use a directory only you can open (mode 0700), e.g. set AMANAT_AGENT_SOCK, and remove the other one if it is not yours";

/// [`agent_failure`] for a command that has no local fallback (`unlock`, `lock`,
/// `agent status`): an untrusted socket is an error that names it.
fn agent_failure_at(socket: &Path, e: AgentError) -> anyhow::Error {
    match e {
        AgentError::Untrusted(_) => Failure::new(
            Exit::Other,
            format!(
                "not using the agent at {}: {}",
                sanitize(&socket.display().to_string()),
                sanitize(&e.to_string())
            ),
            UNTRUSTED_HINT,
        )
        .into(),
        e => agent_failure(e),
    }
}

fn agent_failure(e: AgentError) -> anyhow::Error {
    match e {
        // The library error's own exit code and hint (amanat::errors, as a local
        // command maps it); the kind's generic ones only for the agent's own errors.
        AgentError::Agent {
            kind,
            message,
            exit,
            hint,
        } => {
            let (kind_exit, kind_hint) = exit_for(kind);
            let exit = exit.and_then(Exit::from_code).unwrap_or(kind_exit);
            match (exit, hint) {
                (exit, Some(hint)) => Failure::new(exit, message, hint).into(),
                (exit, None) if exit == kind_exit => Failure::new(exit, message, kind_hint).into(),
                (exit, None) => Failure {
                    exit,
                    message,
                    hint: None,
                }
                .into(),
            }
        }
        e => Failure::new(
            Exit::Other,
            format!("agent: {e}"),
            "run 'amanat lock', then 'amanat unlock' again",
        )
        .into(),
    }
}

/// Send `request` to an agent unlocked for these paths. `Ok(None)`: no agent, a locked
/// one, or one unlocked for something else: the caller works locally (and may need the
/// passphrase). Errors about the request itself (no such entry, tampering) are errors.
fn ask(paths: &Paths, request: impl FnOnce(Binding) -> Request) -> anyhow::Result<Option<Reply>> {
    let socket = socket_path();
    let reply = match Client::connect_with(&socket, &request(binding(paths)?)) {
        Ok(Some((_, reply))) => reply,
        Ok(None) => return Ok(None),
        Err(e) => return Ok(not_using(&socket, &e)),
    };
    match reply {
        Ok(reply) => Ok(Some(reply)),
        Err(AgentError::Agent {
            kind: ErrorKind::Locked | ErrorKind::Mismatch,
            ..
        }) => Ok(None),
        Err(e @ AgentError::Agent { .. }) => Err(agent_failure(e)),
        Err(e) => Ok(not_using(&socket, &e)),
    }
}

/// Warn that the agent at `socket` is skipped because of `e`; the caller works locally
/// (an untrusted socket was sent nothing: see `Client::connect`).
fn not_using<T>(socket: &Path, e: &AgentError) -> Option<T> {
    // An agent that went away between the connection and its answer (`lock`, a
    // timeout) is no agent: the command works as if none were running.
    if e.is_gone() {
        return None;
    }
    eprintln!(
        "warning: not using the agent at {}: {}",
        sanitize(&socket.display().to_string()),
        sanitize(&e.to_string())
    );
    None
}

/// The identity as an agent unlocked for these paths holds it, or `None` to unlock
/// locally (no agent, a locked one, one for other paths, or an older agent).
pub fn keys(paths: &Paths) -> anyhow::Result<Option<AgentKeys>> {
    let socket = socket_path();
    match AgentKeys::connect(&socket, binding(paths)?) {
        Ok(keys) => Ok(keys),
        // An older or newer agent: work without it.
        Err(e @ AgentError::Agent { kind, .. })
            if !matches!(kind, ErrorKind::Version | ErrorKind::Protocol) =>
        {
            Err(agent_failure(e))
        }
        Err(e) => Ok(not_using(&socket, &e)),
    }
}

fn print_warnings(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {}", sanitize(w));
    }
}

fn parse_id<T>(hex: &str, parse: impl Fn(&str) -> Option<T>) -> anyhow::Result<T> {
    parse(hex).ok_or_else(|| agent_failure(AgentError::Malformed))
}

/// One entry from the agent: `(author name, entry, vault id)`, or `None` to open it
/// locally. The vault id (for the use log) is the one the agent sends, else (an agent
/// from before it sent one) the one this machine pinned for the vault path; `None`
/// when neither is known.
pub fn entry(
    paths: &Paths,
    path: &str,
) -> anyhow::Result<Option<(String, OpenEntry, Option<RecordId>)>> {
    let reply = ask(paths, |binding| Request::Get {
        binding,
        path: path.to_string(),
    })?;
    let Some(reply) = reply else { return Ok(None) };
    let Reply::Entry { entry, warnings } = reply else {
        return Err(agent_failure(AgentError::Unexpected));
    };
    print_warnings(&warnings);
    let EntryView {
        id,
        revision,
        author_id,
        author,
        heads,
        mut payload,
        vault,
        rotate_totp_at_source,
    } = *entry;
    payload.rotate_totp_at_source = rotate_totp_at_source;
    let vault = match vault {
        Some(hex) => Some(parse_id(&hex, RecordId::from_hex)?),
        None => paths.store().pinned_id(),
    };
    Ok(Some((
        author,
        OpenEntry {
            id: parse_id(&id, EntryId::from_hex)?,
            revision: parse_id(&revision, RecordId::from_hex)?,
            author: parse_id(&author_id, MemberId::from_hex)?,
            payload,
            heads,
            // The agent chose among entries at the path by the same rule and put the
            // shadow warning among `warnings`, printed above.
            shadowed: Vec::new(),
        },
        vault,
    )))
}

/// `add` made by the agent (it holds the vault verified: no read here, one segment
/// written there). `Ok(true)`: written, warnings printed. `Ok(false)`: no agent for
/// these paths, or it handed the write back ([`Reply::WriteLocally`]: another
/// writer holds the lock, the path looks taken, a name does not resolve): the caller
/// writes locally, which reports the exact error when there is one.
pub fn add(paths: &Paths, payload: &EntryPayload, share_with: &[String]) -> anyhow::Result<bool> {
    let request = |binding| Request::Add {
        binding,
        payload: Box::new(payload.clone()),
        share_with: share_with.to_vec(),
    };
    // An entry near the payload ceiling does not fit in a request frame.
    let size = serde_json::to_vec(&request(binding(paths)?))
        .map(|v| zeroize::Zeroizing::new(v).len())
        .unwrap_or(usize::MAX);
    if size > amanat::agent::MAX_REQUEST_LEN as usize - 64 {
        return Ok(false);
    }
    match ask(paths, request)? {
        None | Some(Reply::WriteLocally { .. }) => Ok(false),
        Some(Reply::Added { warnings, .. }) => {
            print_warnings(&warnings);
            Ok(true)
        }
        Some(_) => Err(agent_failure(AgentError::Unexpected)),
    }
}

/// Every readable entry from the agent, or `None` to list locally. The entries carry
/// only what `ls` and `find` show (path, username, URL, modification time): the
/// secret fields of their payloads are empty, and their revision and author are zero.
pub fn listing(paths: &Paths) -> anyhow::Result<Option<(Vec<OpenEntry>, anyhow::Result<()>)>> {
    let Some(reply) = ask(paths, |binding| Request::List { binding })? else {
        return Ok(None);
    };
    let Reply::List {
        entries,
        failed,
        warnings,
    } = reply
    else {
        return Err(agent_failure(AgentError::Unexpected));
    };
    print_warnings(&warnings);
    for f in &failed {
        eprintln!(
            "warning: entry {} cannot be opened: {}",
            sanitize(f.id.get(..8).unwrap_or(&f.id)),
            sanitize(&f.message)
        );
    }
    let mut list = Vec::with_capacity(entries.len());
    for EntrySummary {
        id,
        path,
        username,
        url,
        modified,
        heads,
    } in entries
    {
        let mut payload = EntryPayload::default();
        payload.path = path;
        payload.username = username;
        payload.url = url;
        payload.modified = modified;
        list.push(OpenEntry {
            id: parse_id(&id, EntryId::from_hex)?,
            revision: RecordId([0; 32]),
            author: MemberId([0; 16]),
            payload,
            heads,
            shadowed: Vec::new(),
        });
    }
    let outcome = if failed.is_empty() {
        Ok(())
    } else {
        fail(
            Exit::Integrity,
            format!("{} entr(y/ies) failed their integrity checks", failed.len()),
            "run 'amanat verify'; an admin can delete or rewrite them",
        )
    };
    Ok(Some((list, outcome)))
}

/// Start the agent process, detached (its own session, no terminal, no inherited
/// output), and wait until it listens.
fn spawn_agent(socket: &Path) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .arg("__agent-serve")
        .arg("--socket")
        .arg(socket)
        // The agent never needs the passphrase file: the passphrase comes over the socket.
        .env_remove(PASSPHRASE_FILE_VAR)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        BufReader::new(out).read_line(&mut line)?;
    }
    if line.trim_end() == "ready" {
        return Ok(());
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let _ = child.wait();
    // Lost a race with another `unlock`: that agent serves us.
    if err.contains("already running") {
        return Ok(());
    }
    fail(
        Exit::Other,
        format!(
            "the agent did not start: {}",
            sanitize(
                err.trim()
                    .lines()
                    .next()
                    .unwrap_or("no reason given")
                    .trim_start_matches("error: ")
            )
        ),
        format!(
            "check that {} is in a private directory, or set {SOCKET_VAR}",
            socket.display()
        ),
    )
}

/// A connection to the agent at `socket`, starting one if none answers.
fn connect_or_spawn(socket: &Path) -> anyhow::Result<Client> {
    if let Some(c) = Client::connect(socket).map_err(|e| agent_failure_at(socket, e))? {
        return Ok(c);
    }
    spawn_agent(socket)?;
    Client::connect(socket)
        .map_err(|e| agent_failure_at(socket, e))?
        .ok_or_else(|| {
            Failure::new(
                Exit::Other,
                format!("the agent at {} does not answer", socket.display()),
                "try 'amanat unlock' again",
            )
            .into()
        })
}

/// Wait (at most `within`) until process `pid` has exited: gone from `/proc`, or a
/// zombie. Returns whether it did.
fn wait_gone(pid: u32, within: Duration) -> bool {
    let deadline = std::time::Instant::now() + within;
    loop {
        let gone = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            // `PID (comm) STATE …`: the state follows the last ')'.
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
        };
        if gone {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The automatic agent (docs/agent.md): after a passphrase typed at the prompt opened
/// the identity, start the agent for these paths with the default idle timeout, so
/// the next commands need no passphrase. Not with `AMANAT_AGENT=off`, and never over
/// an agent that is already running (locked, or unlocked for something else). It
/// neither delays nor fails the command: the `unlock` request is sent without waiting
/// for the agent's key derivation, and if the agent cannot start, one note says why.
pub fn start_automatically(paths: &Paths, passphrase: &SecretString) {
    if std::env::var(AGENT_VAR).is_ok_and(|v| v.trim().eq_ignore_ascii_case("off")) {
        return;
    }
    if let Err(e) = try_start_automatically(paths, passphrase) {
        eprintln!(
            "note: the unlock agent was not started ({}); set {AGENT_VAR}=off to stop trying",
            sanitize(&format!("{e:#}"))
        );
    }
}

fn try_start_automatically(paths: &Paths, passphrase: &SecretString) -> anyhow::Result<()> {
    let socket = socket_path();
    // An untrusted directory was already named by the command (`not_using`).
    if check_socket_dir(&socket).is_err() {
        return Ok(());
    }
    match Client::connect(&socket) {
        Ok(None) => {}
        // Running (or not ours): leave it alone.
        Ok(Some(_)) | Err(_) => return Ok(()),
    }
    spawn_agent(&socket)?;
    let Some(mut client) = Client::connect(&socket)? else {
        return fail(Exit::Other, "it does not answer", "run 'amanat unlock'");
    };
    // Another command may have started one at the same moment: never re-unlock it.
    if let Ok(Reply::Status(s)) = client.request(&Request::Status {})
        && s.unlocked
    {
        return Ok(());
    }
    client.send(&Request::Unlock {
        binding: binding(paths)?,
        passphrase: passphrase.clone(),
        idle_secs: DEFAULT_IDLE.as_secs(),
    })?;
    Ok(())
}

/// `unlock`.
pub fn unlock(paths: &Paths, args: UnlockArgs) -> anyhow::Result<()> {
    let socket = socket_path();
    let binding = binding(paths)?;
    let bytes = store::read_identity(&paths.identity)?;
    let info = id::inspect(&bytes)?;
    // A socket in a directory that is not ours could be anyone's agent: refuse before
    // the passphrase is even asked for (the connection checks again, and checks the
    // listener's uid, before anything is sent).
    check_socket_dir(&socket).map_err(|e| agent_failure_at(&socket, e))?;
    // The passphrase is read here (file or prompt) and travels only over the socket.
    // A wrong one typed at the prompt is asked for again (three tries in all).
    let mut tries = 0;
    // An agent whose first unlock failed exits: wait for it before starting the next.
    let mut dying: Option<u32> = None;
    let (client, reply) = loop {
        tries += 1;
        let (passphrase, source) = input::passphrase_from(&info.name)?;
        if let Some(pid) = dying.take() {
            wait_gone(pid, SERVER_IO_TIMEOUT + Duration::from_secs(2));
        }
        let mut client = connect_or_spawn(&socket)?;
        let was_unlocked = matches!(
            client.request(&Request::Status {}),
            Ok(Reply::Status(ref s)) if s.unlocked
        );
        let reply = client.request(&Request::Unlock {
            binding: binding.clone(),
            passphrase,
            idle_secs: args.timeout.as_secs(),
        });
        match reply {
            Err(AgentError::Agent {
                kind: ErrorKind::Passphrase,
                ..
            }) if source == input::Source::Prompt && tries < input::PROMPT_TRIES => {
                eprintln!("wrong passphrase, try again");
                if !was_unlocked {
                    dying = Some(client.pid);
                }
            }
            reply => break (client, reply.map_err(agent_failure)?),
        }
    };
    let Reply::Unlocked {
        name,
        insecure_kdf,
        memory_locked,
    } = reply
    else {
        return Err(agent_failure(AgentError::Unexpected));
    };
    if insecure_kdf {
        eprintln!(
            "warning: this identity uses insecure key-derivation parameters (--insecure-kdf): fine for tests, never for real secrets"
        );
    }
    if !memory_locked && first_time(paths, "memory-not-locked") {
        eprintln!(
            "note: the agent could not lock its memory (RLIMIT_MEMLOCK); its secrets may reach swap (shown once; 'amanat agent status' tells)"
        );
    }
    outln!(
        "unlocked '{}' (agent pid {}): locks after {} idle, at most {}",
        sanitize(&name),
        client.pid,
        human(args.timeout.as_secs()),
        human(MAX_UNLOCKED.as_secs())
    );
    Ok(())
}

/// Whether a one-time notice named `name` is due: true the first time on this machine
/// (a marker in the state directory then remembers it), and whenever the marker cannot
/// be written (better shown twice than never).
fn first_time(paths: &Paths, name: &str) -> bool {
    let dir = paths.state.join("notices");
    let marker = dir.join(name);
    if marker.exists() {
        return false;
    }
    let _ = store::create_private_dir(&dir).and_then(|()| store::write_atomic(&marker, b""));
    true
}

/// `lock`.
pub fn lock() -> anyhow::Result<()> {
    let socket = socket_path();
    let Some(mut client) = Client::connect(&socket).map_err(|e| agent_failure_at(&socket, e))?
    else {
        outln!("locked (no agent running)");
        return Ok(());
    };
    let pid = client.pid;
    match client.request(&Request::Lock {}).map_err(agent_failure)? {
        Reply::Locked {} => {
            drop(client);
            // Return only once the agent is gone, so that the next command finds no
            // agent rather than one on its way out (bounded: it exits at once after
            // answering, or by its own backstop).
            if !wait_gone(pid, SERVER_IO_TIMEOUT + Duration::from_secs(2)) {
                eprintln!(
                    "note: the agent (pid {pid}) has forgotten everything but not exited yet"
                );
            }
            outln!("locked");
            Ok(())
        }
        _ => Err(agent_failure(AgentError::Unexpected)),
    }
}

/// `agent status`.
pub fn status(args: JsonArgs) -> anyhow::Result<()> {
    let socket = socket_path();
    let Some(mut client) = Client::connect(&socket).map_err(|e| agent_failure_at(&socket, e))?
    else {
        if args.json {
            return print_json(&serde_json::json!({"running": false, "unlocked": false}));
        }
        outln!("locked (no agent running)");
        return Ok(());
    };
    let Reply::Status(s) = client.request(&Request::Status {}).map_err(agent_failure)? else {
        return Err(agent_failure(AgentError::Unexpected));
    };
    if args.json {
        let mut v = serde_json::to_value(&s)?;
        v["running"] = serde_json::Value::Bool(true);
        return print_json(&v);
    }
    if !s.unlocked {
        outln!("locked (agent pid {} starting or stopping)", s.pid);
        return Ok(());
    }
    outln!("unlocked: {}", sanitize(s.name.as_deref().unwrap_or("")));
    if let Some(b) = &s.binding {
        outln!("identity: {}", sanitize(&b.identity.display().to_string()));
        outln!("vault: {}", sanitize(&b.vault.display().to_string()));
    }
    outln!(
        "locks in: {} (idle), at most {}",
        human(s.idle_left_secs.unwrap_or(0)),
        human(s.max_left_secs.unwrap_or(0))
    );
    outln!("cached entries: {}", s.cached_entries);
    outln!("entries added by the agent: {}", s.entries_added);
    outln!("agent pid: {}", s.pid);
    Ok(())
}

/// `__agent-serve`: become the agent. Prints `ready` on stdout once it listens.
pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let hardening = amanat::harden::harden();
    // A new session: no controlling terminal, so a closing terminal's SIGHUP does not
    // reach it (and `unlock`'s process group can end without it).
    let _ = rustix::process::setsid();
    let _ = std::env::set_current_dir("/");
    let listener = amanat::agent::server::bind(&args.socket)?;
    outln!("ready");
    amanat::agent::server::serve(listener, hardening)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use amanat::agent::DEFAULT_IDLE;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("8h"), Ok(MAX_UNLOCKED));
        assert!(parse_duration("9h").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn default_timeout_matches_the_library() {
        assert_eq!(parse_duration("15m"), Ok(DEFAULT_IDLE));
    }
}
