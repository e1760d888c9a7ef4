//! `amanat run`: start a command with secrets in its environment, masking its output.
//!
//! The references (`--env VAR=PATH[#FIELD]`, `--env-file` lines
//! `VAR=amanat://PATH#FIELD`) are checked before the vault is opened; each entry is
//! opened once however many variables name it (by an unlocked agent if one runs, as
//! for `get`, else here with the passphrase). The child inherits stdin, the working
//! directory and the environment — minus every `AMANAT_*` variable the user did not
//! name (SECURITY.md item 22: `AMANAT_PASSPHRASE_FILE` and the agent socket would let
//! the child open the whole vault) — plus the requested variables. Secrets never go
//! to argv and are never printed; messages name paths and fields, never values.
//!
//! Masking (the default): the child's stdout and stderr are pipes, and a thread per
//! stream copies them to ours through an [`amanat::mask::Masker`] holding the secret
//! values injected (passwords, TOTP seeds, secret custom fields). `--no-masking` hands
//! the child our stdout and stderr instead.
//!
//! SIGINT, SIGTERM and SIGHUP are forwarded to the child until it is reaped (a reaped
//! pid may belong to someone else: the main thread both forwards and reaps, and it
//! reaps only after a `waitid(WNOWAIT)` thread reports the child a zombie). One
//! exception: a SIGINT while amanat is in the foreground of its terminal came from
//! Ctrl-C, which the terminal also sent to the child (same process group); passing it
//! on again would make one Ctrl-C count twice ("press Ctrl-C again to quit now"), as
//! sudo also avoids.
//!
//! Exit: the child's status; 128+N if a signal N killed it; 125 when amanat fails
//! before the child starts, 126 when the command cannot be executed, 127 when it is
//! not found (CLI.md, as `env` does). docs/delivery.md says what this protects against
//! and what it does not.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Sender};
use std::thread;

use amanat::crypto::SecretString;
use amanat::format::{EntryId, RecordId};
use amanat::mask::Masker;
use amanat::vault::{self, OpenEntry};
use clap::Args;
use rustix::process::{Pid, Signal, WaitId, WaitIdOptions};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use zeroize::Zeroizing;

use super::exit::{Exit, ExitWith, classify, fail};
use super::identity::unlock;
use super::output::sanitize;
use super::paths::Paths;
use super::vault::load;

/// Exit code when amanat fails before the child starts.
const NOT_STARTED: u8 = 125;
/// Exit code when the command exists but cannot be executed.
const CANNOT_EXECUTE: u8 = 126;
/// Exit code when the command is not found.
const NOT_FOUND: u8 = 127;
/// The scheme of a reference in an `--env-file` (optional with `--env`).
const SCHEME: &str = "amanat://";
/// The field a reference without `#FIELD` selects.
const DEFAULT_FIELD: &str = "password";
/// Variables with this prefix are amanat's own and do not reach the child unless named.
const OWN_PREFIX: &[u8] = b"AMANAT_";
/// The largest `--env-file` read (it holds references, not data).
const MAX_ENV_FILE: u64 = 1024 * 1024;
/// Size of the reads from the child's output pipes.
const CHUNK: usize = 8192;

/// `run` arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Put an entry's field in the child's environment: VAR=PATH[#FIELD] (repeatable;
    /// FIELD is password, username, url, notes, path, totp or a custom field's name)
    #[arg(long = "env", value_name = "VAR=PATH[#FIELD]")]
    pub env: Vec<String>,
    /// A file of VAR=amanat://PATH#FIELD lines (plain VAR=VALUE lines are passed as
    /// they are; blank lines and # comments are skipped)
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// Pass the child's output through unchanged (no masking of the secrets)
    #[arg(long)]
    pub no_masking: bool,
    /// The command and its arguments
    // No `allow_hyphen_values`: a mistyped flag (`--no-masknig`) must be a usage
    // error, not the command to run. After the command, and after `--`, arguments
    // starting with '-' are the command's.
    #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Where a variable's value comes from.
enum Source {
    /// A field of an entry.
    Entry { path: String, field: String },
    /// A plain `VAR=VALUE` line of the `--env-file`, passed as it is.
    Plain(SecretString),
}

/// One variable to set in the child's environment.
struct Variable {
    name: String,
    source: Source,
    /// Where it was defined, for messages: `--env 'SPEC'` or `FILE line N`.
    origin: String,
}

/// A value for the child's environment.
struct Value {
    name: String,
    value: SecretString,
    /// Whether the value is a secret (masked in the child's output).
    secret: bool,
}

/// `run`.
pub fn run(paths: &Paths, args: RunArgs) -> anyhow::Result<()> {
    // It holds the values (and masks them) for as long as the command runs.
    amanat::harden::lock_all_memory();
    let (values, used) = prepare(paths, &args).map_err(not_started)?;
    let Some((program, arguments)) = args.command.split_first() else {
        return Err(not_started(usage_error("no command given")));
    };
    let masking = !args.no_masking;
    let secrets: Vec<Zeroizing<Vec<u8>>> = values
        .iter()
        .filter(|v| masking && v.secret)
        .map(|v| Zeroizing::new(v.value.expose().as_bytes().to_vec()))
        .collect();
    let mut command = child_command(program, arguments, &values, masking);
    // Registered before the child exists so that nothing sent in between is lost: a
    // signal that arrives early waits in the iterator and is forwarded at once.
    let signals = Signals::new([SIGINT, SIGTERM, SIGHUP]).map_err(|e| {
        not_started(anyhow::anyhow!(
            "cannot install the signal handlers: {}",
            describe(&e)
        ))
    })?;
    let spawned = command.spawn();
    // The copies of the values `Command` keeps are freed (std cannot zeroize them);
    // ours are zeroized here.
    drop(command);
    drop(values);
    let child = spawned.map_err(|e| spawn_error(program, &e))?;
    // The values are in the child's environment now: a use, however it ends.
    super::uselog::record(paths, used.vault, &used.entries);
    let status = supervise(child, &secrets, signals).map_err(|e| {
        // amanat's own failure, not the child's: the same code as before it starts.
        anyhow::Error::from(ExitWith {
            code: NOT_STARTED,
            message: Some((format!("lost track of the command: {}", describe(&e)), None)),
        })
    })?;
    match exit_code(status) {
        0 => Ok(()),
        code => Err(ExitWith {
            code,
            message: None,
        }
        .into()),
    }
}

/// The child's command: our environment without amanat's own variables (unless
/// named), plus the values; output piped when masking.
fn child_command(program: &str, arguments: &[String], values: &[Value], masking: bool) -> Command {
    let mut command = Command::new(program);
    command.args(arguments).stdin(Stdio::inherit());
    let named: HashSet<OsString> = values.iter().map(|v| OsString::from(&v.name)).collect();
    for (name, _) in std::env::vars_os() {
        if name.as_encoded_bytes().starts_with(OWN_PREFIX) && !named.contains(&name) {
            command.env_remove(&name);
        }
    }
    for v in values {
        command.env(&v.name, v.value.expose());
    }
    if masking {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    command
}

/// Copy (and mask) the child's output, forward signals, and return its status once
/// it has exited and its output has ended — or once it has exited and a signal says
/// to stop waiting for output that something it started still holds open.
fn supervise(
    mut child: Child,
    secrets: &[Zeroizing<Vec<u8>>],
    mut signals: Signals,
) -> io::Result<ExitStatus> {
    let (events, inbox) = mpsc::channel();
    let pid = Pid::from_child(&child);
    let mut open_streams = 0;
    if let Some(out) = child.stdout.take() {
        open_streams += 1;
        copy_thread(out, io::stdout(), Masker::new(secrets), events.clone());
    }
    if let Some(err) = child.stderr.take() {
        open_streams += 1;
        copy_thread(err, io::stderr(), Masker::new(secrets), events.clone());
    }
    let signal_handle = signals.handle();
    let forwarder = events.clone();
    thread::spawn(move || {
        for signal in signals.forever() {
            if forwarder.send(Event::Signal(signal)).is_err() {
                break;
            }
        }
    });
    thread::spawn(move || {
        // Wait until the child is a zombie without reaping it: its pid stays ours
        // until the main thread reaps it, so a forwarded signal cannot hit a stranger.
        let options = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT;
        while matches!(
            rustix::process::waitid(WaitId::Pid(pid), options),
            Err(rustix::io::Errno::INTR)
        ) {}
        let _ = events.send(Event::ChildExited);
    });

    let mut status: Option<ExitStatus> = None;
    let outcome = loop {
        let Ok(event) = inbox.recv() else {
            break child.wait();
        };
        match event {
            Event::Signal(signal) => match status {
                None => forward(pid, signal),
                Some(s) => break Ok(s),
            },
            // Reaped here, on the thread that forwards: never a signal after this.
            Event::ChildExited => match child.wait() {
                Ok(s) => status = Some(s),
                Err(e) => break Err(e),
            },
            Event::OutputClosed => open_streams -= 1,
        }
        if let Some(s) = status.filter(|_| open_streams == 0) {
            break Ok(s);
        }
    };
    signal_handle.close();
    outcome
}

/// What the main thread waits for.
enum Event {
    /// amanat received this signal.
    Signal(i32),
    /// The child has exited (not yet reaped).
    ChildExited,
    /// A copy thread reached the end of its stream.
    OutputClosed,
}

/// The entries whose fields go into the child's environment, for the use log.
struct Used {
    /// Their vault (`None` when an agent served them without saying which).
    vault: Option<RecordId>,
    entries: Vec<EntryId>,
}

/// Check the references, open the entries, and collect the values.
fn prepare(paths: &Paths, args: &RunArgs) -> anyhow::Result<(Vec<Value>, Used)> {
    let mut variables = Vec::new();
    if let Some(file) = &args.env_file {
        variables.extend(read_env_file(file)?);
    }
    for spec in &args.env {
        variables.push(parse_env_arg(spec)?);
    }
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for v in &variables {
        if let Some(first) = seen.insert(&v.name, &v.origin) {
            return fail(
                Exit::Usage,
                format!(
                    "variable '{}' is set twice ({first} and {})",
                    v.name, v.origin
                ),
                "keep one of them",
            );
        }
    }

    // Each entry once, however many variables name it.
    let mut wanted: Vec<&str> = Vec::new();
    for v in &variables {
        if let Source::Entry { path, .. } = &v.source
            && !wanted.contains(&path.as_str())
        {
            wanted.push(path);
        }
    }
    // An unlocked agent answers from its verified cache (as for `get`); what it does
    // not answer is opened here, with the passphrase.
    let mut entries: BTreeMap<&str, OpenEntry> = BTreeMap::new();
    let mut local = Vec::new();
    // One vault (the agent serves the same paths): whichever path says which.
    let mut vault_id = None;
    for path in wanted {
        match super::agent::entry(paths, path)? {
            Some((_, entry, vault)) => {
                entries.insert(path, entry);
                vault_id = vault_id.or(vault);
            }
            None => local.push(path),
        }
    }
    if !local.is_empty() {
        let vault = load(paths)?;
        vault_id = Some(vault.id());
        let identity = unlock(paths)?;
        let session = vault.session(&identity)?;
        for path in local {
            let entry = session.open(path)?;
            super::entry::warn_shadowed(&vault, &entry);
            entries.insert(path, entry);
        }
    }
    for entry in entries.values() {
        if let Some(w) = entry.conflict_warning("using") {
            eprintln!("warning: {}", sanitize(&w));
        }
    }

    let mut values = Vec::with_capacity(variables.len());
    for v in &variables {
        let (value, secret) = match &v.source {
            Source::Plain(value) => (value.clone(), false),
            Source::Entry { path, field } => match entries.get(path.as_str()) {
                Some(entry) => select(entry, path, field)?,
                None => return Err(vault::VaultError::NotFound(path.clone()).into()),
            },
        };
        if value.expose().contains('\0') {
            return fail(
                Exit::Other,
                format!(
                    "the value for '{}' ({}) contains a NUL byte, which an environment variable cannot hold",
                    v.name, v.origin
                ),
                "use another field, or 'amanat get' in a pipe",
            );
        }
        values.push(Value {
            name: v.name.clone(),
            value,
            secret,
        });
    }
    let used = Used {
        vault: vault_id,
        entries: entries.values().map(|e| e.id).collect(),
    };
    Ok((values, used))
}

/// One field of an entry, chosen as `get --field` does, and whether it is secret.
fn select(entry: &OpenEntry, path: &str, field: &str) -> anyhow::Result<(SecretString, bool)> {
    let p = &entry.payload;
    let plain = |s: &str| Ok((SecretString::new(s.to_string()), false));
    match field {
        "password" => Ok((p.password.clone(), true)),
        "username" => plain(&p.username),
        "url" => plain(&p.url),
        "notes" => plain(&p.notes),
        "path" => plain(&p.path),
        "totp" => match &p.totp {
            Some(t) => Ok((t.clone(), true)),
            None => fail(
                Exit::NotFound,
                format!("'{}' has no TOTP seed", sanitize(path)),
                "add one with 'amanat edit PATH --totp'",
            ),
        },
        name => match p.fields.iter().find(|f| f.name == name) {
            Some(f) => Ok((f.value.clone(), f.secret)),
            None => fail(
                Exit::NotFound,
                format!("'{}' has no field '{}'", sanitize(path), sanitize(name)),
                format!("see 'amanat show {}'", sanitize(path)),
            ),
        },
    }
}

/// `--env VAR=PATH[#FIELD]` (the `amanat://` prefix is allowed).
fn parse_env_arg(spec: &str) -> anyhow::Result<Variable> {
    let hint = "write --env VAR=PATH[#FIELD], e.g. --env PGPASSWORD=ops/db";
    let Some((name, reference)) = spec.split_once('=') else {
        return fail(
            Exit::Usage,
            format!("--env '{}' is not VAR=PATH[#FIELD]", sanitize(spec)),
            hint,
        );
    };
    if !valid_name(name) {
        return fail(
            Exit::Usage,
            format!(
                "--env '{}': '{}' is not a variable name",
                sanitize(spec),
                sanitize(name)
            ),
            "names are letters, digits and '_', not starting with a digit",
        );
    }
    let reference = reference.strip_prefix(SCHEME).unwrap_or(reference);
    let (path, field) = parse_reference(reference)
        .map_err(|problem| usage_error(format!("--env '{}': {problem}", sanitize(spec))))?;
    Ok(Variable {
        name: name.to_string(),
        source: Source::Entry { path, field },
        origin: format!("--env '{}'", sanitize(spec)),
    })
}

/// `PATH[#FIELD]`: the path and the field (the last `#` separates them).
fn parse_reference(reference: &str) -> Result<(String, String), String> {
    let (path, field) = reference
        .rsplit_once('#')
        .unwrap_or((reference, DEFAULT_FIELD));
    if field.is_empty() {
        return Err("the field after '#' is empty".into());
    }
    if vault::check_path(path).is_err() {
        return Err(format!(
            "'{}' is not an entry path (team/service/login)",
            sanitize(path)
        ));
    }
    Ok((path.to_string(), field.to_string()))
}

/// The lines of an `--env-file`. Messages quote names and references, never a line
/// or a plain value: a plain line may hold a secret.
fn read_env_file(file: &Path) -> anyhow::Result<Vec<Variable>> {
    let shown = file.display().to_string();
    let cannot = |e: &io::Error| {
        usage_error(format!(
            "cannot read --env-file {}: {}",
            sanitize(&shown),
            describe(e)
        ))
    };
    let f = std::fs::File::open(file).map_err(|e| cannot(&e))?;
    let mut text = Zeroizing::new(String::new());
    f.take(MAX_ENV_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| cannot(&e))?;
    if text.len() as u64 > MAX_ENV_FILE {
        return fail(
            Exit::Usage,
            format!("--env-file {} is larger than 1 MiB", sanitize(&shown)),
            "it holds VAR=amanat://PATH#FIELD lines",
        );
    }
    let mut variables = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let origin = format!("{} line {}", sanitize(&shown), i + 1);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line
            .strip_prefix("export ")
            .map(str::trim_start)
            .unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            return fail(
                Exit::Usage,
                format!("{origin}: not VAR=amanat://PATH#FIELD"),
                "each line is VAR=amanat://PATH#FIELD, VAR=VALUE, blank, or a # comment",
            );
        };
        let name = name.trim_end();
        if !valid_name(name) {
            return fail(
                Exit::Usage,
                format!("{origin}: invalid variable name"),
                "names are letters, digits and '_', not starting with a digit",
            );
        }
        let value = unquote(value.trim());
        let source = if let Some(reference) = value.strip_prefix(SCHEME) {
            let (path, field) = parse_reference(reference)
                .map_err(|problem| usage_error(format!("{origin}: {problem}")))?;
            Source::Entry { path, field }
        } else if value.starts_with("amanat:") {
            // Most likely a mistyped reference: do not hand it over as a value.
            return fail(
                Exit::Usage,
                format!("{origin}: a reference is written amanat://PATH#FIELD"),
                "e.g. PGPASSWORD=amanat://ops/db#password",
            );
        } else {
            Source::Plain(SecretString::new(value.to_string()))
        };
        variables.push(Variable {
            name: name.to_string(),
            source,
            origin,
        });
    }
    Ok(variables)
}

/// A value without one pair of surrounding quotes (`"…"` or `'…'`), as in .env files.
/// Nothing inside is interpreted.
fn unquote(value: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner;
        }
    }
    value
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn usage_error(message: impl Into<String>) -> anyhow::Error {
    super::exit::Failure {
        exit: Exit::Usage,
        message: message.into(),
        hint: None,
    }
    .into()
}

/// Any failure before the child starts exits 125, with its usual message and hint.
fn not_started(err: anyhow::Error) -> anyhow::Error {
    if err.is::<ExitWith>() {
        return err;
    }
    let (_, message, hint) = classify(&err);
    ExitWith {
        code: NOT_STARTED,
        message: Some((message, hint)),
    }
    .into()
}

/// The error of a failed `spawn`: 127 not found, 126 cannot be executed (as `env`),
/// 125 anything else (amanat could not start it).
fn spawn_error(program: &str, e: &io::Error) -> anyhow::Error {
    use rustix::io::Errno;
    const CANNOT: [Errno; 9] = [
        Errno::ACCESS,
        Errno::PERM,
        Errno::NOEXEC,
        Errno::ISDIR,
        Errno::NOTDIR,
        Errno::LOOP,
        Errno::NAMETOOLONG,
        Errno::TXTBSY,
        Errno::TOOBIG,
    ];
    let name = sanitize(program);
    let (code, message, hint) = if e.kind() == io::ErrorKind::NotFound {
        (
            NOT_FOUND,
            format!("cannot run '{name}': command not found"),
            "check the name, or give the command's full path",
        )
    } else if Errno::from_io_error(e).is_some_and(|n| CANNOT.contains(&n)) {
        (
            CANNOT_EXECUTE,
            format!("cannot run '{name}': {}", describe(e)),
            "check that it is an executable file (chmod +x), or run it through its interpreter",
        )
    } else {
        (
            NOT_STARTED,
            format!("cannot start '{name}': {}", describe(e)),
            "try again; check the system's limits (open files, processes)",
        )
    };
    ExitWith {
        code,
        message: Some((message, Some(hint.to_string()))),
    }
    .into()
}

/// An I/O error as a lowercase phrase without the `(os error N)` suffix.
fn describe(e: &io::Error) -> String {
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or_default();
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => text.to_string(),
    }
}

/// Copy `from` to `to` through `masker` on a thread; report the end on `events`.
fn copy_thread<R, W>(from: R, to: W, masker: Masker, events: Sender<Event>)
where
    R: Read + Send + 'static,
    W: Write + Send + 'static,
{
    thread::spawn(move || {
        copy_masked(from, to, masker);
        let _ = events.send(Event::OutputClosed);
    });
}

fn copy_masked<R: Read, W: Write>(mut from: R, mut to: W, mut masker: Masker) {
    let mut buf = Zeroizing::new(vec![0u8; CHUNK]);
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let out = masker.feed(&buf[..n]);
        // Flush every chunk: a prompt must show before the child waits for input.
        if to.write_all(&out).and_then(|()| to.flush()).is_err() {
            // Our output is gone (a closed pipe): dropping `from` closes the child's
            // end too, so it sees EPIPE / SIGPIPE as if it wrote there directly.
            return;
        }
    }
    let out = masker.finish();
    let _ = to.write_all(&out).and_then(|()| to.flush());
}

/// Pass a signal amanat received on to the child.
fn forward(pid: Pid, signal: i32) {
    if signal == SIGINT && in_terminal_foreground() {
        // Ctrl-C: the terminal sent it to our whole process group, the child included.
        return;
    }
    if let Some(signal) = Signal::from_named_raw(signal) {
        // The child may have just exited (a zombie until we reap it): nothing to do.
        let _ = rustix::process::kill_process(pid, signal);
    }
}

/// Whether amanat's process group is the foreground group of its controlling
/// terminal (Linux `/proc/self/stat`: `pgrp` and `tpgid`; elsewhere: no).
fn in_terminal_foreground() -> bool {
    std::fs::read_to_string("/proc/self/stat").is_ok_and(|stat| foreground_in_stat(&stat))
}

/// [`in_terminal_foreground`] from the text of `/proc/<pid>/stat`.
fn foreground_in_stat(stat: &str) -> bool {
    // The command name in parentheses may hold spaces: count fields after the last ')'.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return false;
    };
    // state ppid pgrp session tty_nr tpgid
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let number = |i: usize| fields.get(i).and_then(|f| f.parse::<i64>().ok());
    match (number(2), number(5)) {
        (Some(pgrp), Some(tpgid)) => tpgid > 0 && tpgid == pgrp,
        _ => false,
    }
}

/// The child's status as ours: its exit code, or 128+N when signal N killed it.
fn exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(255),
        (None, None) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_names() {
        for good in ["X", "_", "PGPASSWORD", "a_1", "_9"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "1X", "A-B", "A B", "Ä", "X=Y", "a.b"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn env_arg_with_and_without_field() {
        let v = parse_env_arg("PGPASSWORD=ops/db").unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(&v.source, Source::Entry { path, field } if path == "ops/db" && field == "password")
        );
        let v = parse_env_arg("U=amanat://ops/db#username").unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(&v.source, Source::Entry { path, field } if path == "ops/db" && field == "username")
        );
        // The last '#' separates the field.
        let v = parse_env_arg("K=a/b#c#api key").unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(&v.source, Source::Entry { path, field } if path == "a/b#c" && field == "api key")
        );
    }

    #[test]
    fn bad_env_args_are_refused() {
        for bad in [
            "BAD",
            "=ops/db",
            "1X=ops/db",
            "X=",
            "X=ops/db#",
            "X=ops//db",
            "X=../db",
        ] {
            assert!(parse_env_arg(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quotes_are_stripped_once() {
        assert_eq!(unquote("\"a b\""), "a b");
        assert_eq!(unquote("'x'"), "x");
        assert_eq!(unquote("\"x'"), "\"x'");
        assert_eq!(unquote("\""), "\"");
        assert_eq!(unquote("plain"), "plain");
    }

    #[test]
    fn foreground_from_proc_stat() {
        // pid (comm) state ppid pgrp session tty_nr tpgid …
        assert!(foreground_in_stat(
            "42 (amanat) S 1 42 7 34816 42 4194560 0"
        ));
        // Background job: the terminal's foreground group is another one.
        assert!(!foreground_in_stat(
            "42 (amanat) S 1 42 7 34816 50 4194560 0"
        ));
        // No controlling terminal: tpgid is -1.
        assert!(!foreground_in_stat("42 (amanat) S 1 42 42 0 -1 4194560 0"));
        // A command name with spaces and parentheses does not shift the fields.
        assert!(foreground_in_stat("42 (a) b (c) S 1 42 7 34816 42 0"));
        assert!(!foreground_in_stat(
            "42 (a) 1 1 1 1 1 1) S 1 42 7 34816 50 0"
        ));
        assert!(!foreground_in_stat("garbage"));
    }

    #[test]
    fn describe_drops_the_os_error_suffix() {
        let e = io::Error::from_raw_os_error(13);
        assert_eq!(describe(&e), "permission denied");
    }
}
