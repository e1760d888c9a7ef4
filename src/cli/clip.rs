//! `amanat clip`: put a value on the clipboard, clear it after a timeout.
//!
//! With a display (`WAYLAND_DISPLAY` or `DISPLAY`) the value goes to a detached helper
//! process — this binary's hidden `__clip-serve` subcommand — through a pipe on its
//! stdin (never argv, never the environment). The helper takes the clipboard (arboard,
//! marked `x-kde-passwordManagerHint: secret`; `wl-copy` or `xclip` if arboard fails),
//! reads it back to confirm, reports `ready …` on its stdout, keeps serving the
//! selection (an X11 selection vanishes with its owner), and at the deadline clears it
//! only if it still holds our value. `clip` returns as soon as the helper is ready.
//!
//! With no display but a terminal: OSC 52 on `/dev/tty` (wrapped for tmux or GNU
//! screen), and a helper that sends the clearing OSC 52 after the delay. A terminal's
//! clipboard cannot be read back, so that clear is unconditional.
//!
//! `otp --clip` can reuse [`deliver`].

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use amanat::clipboard::{self as cb, Passthrough, Route};
use amanat::format::{EntryId, RecordId};
use clap::Args;
use zeroize::Zeroizing;

use super::exit::{Exit, fail};
use super::input::has_tty;
use super::output::sanitize;
use super::paths::Paths;

/// Longest value `clip` copies (the helper refuses more on its stdin).
const MAX_VALUE: usize = 64 * 1024;
/// Longest the clear may be put off (a day).
const MAX_CLEAR_AFTER: u64 = 86_400;
/// How long `clip` waits for the helper to report that it owns the selection.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the helper waits for `wl-copy`/`xclip` to take the selection.
const TOOL_READY_TIMEOUT: Duration = Duration::from_secs(5);
/// Variable choosing the display backend: `auto` (default), `arboard`, `wl-copy`, `xclip`.
pub const BACKEND_VAR: &str = "AMANAT_CLIP_BACKEND";

/// `clip` arguments.
#[derive(Debug, Args)]
pub struct ClipArgs {
    /// Entry path
    pub path: String,
    /// password (default), username, url, notes, totp, or a custom field's name
    #[arg(long, value_name = "NAME", default_value = "password")]
    pub field: String,
    /// Clear the clipboard after this many seconds (only if it still holds the value)
    #[arg(
        long,
        value_name = "SECS",
        env = "AMANAT_CLIP_TIME",
        default_value_t = 45,
        value_parser = clap::value_parser!(u64).range(1..=MAX_CLEAR_AFTER)
    )]
    pub clear_after: u64,
}

/// Arguments of the hidden `__clip-serve` helper that `clip` starts.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Seconds until the clear
    #[arg(
        long,
        value_name = "SECS",
        value_parser = clap::value_parser!(u64).range(1..=MAX_CLEAR_AFTER)
    )]
    pub clear_after: u64,
    /// Only send the clearing OSC 52 to the terminal after the delay
    #[arg(long)]
    pub osc52: bool,
}

/// `clip`.
pub fn clip(paths: &Paths, args: ClipArgs) -> anyhow::Result<()> {
    // Before the passphrase: no point unlocking anything if there is nowhere to copy to.
    let route = route();
    if route == Route::None {
        return no_route();
    }
    let (value, vault, id) = open_field(paths, &args.path, &args.field)?;
    if value.is_empty() {
        return fail(
            Exit::Other,
            format!(
                "the {} of '{}' is empty; nothing copied",
                sanitize(&args.field),
                sanitize(&args.path)
            ),
            format!("see 'amanat show {}'", sanitize(&args.path)),
        );
    }
    let what = format!("{} of {}", sanitize(&args.field), sanitize(&args.path));
    deliver(value.as_bytes(), &what, args.clear_after)?;
    super::uselog::record(paths, vault, &[id]);
    Ok(())
}

/// Put `value` on the clipboard (display, else OSC 52), have it cleared after
/// `clear_after` seconds, and say so on stderr (`copied WHAT to the clipboard; …`).
pub fn deliver(value: &[u8], what: &str, clear_after: u64) -> anyhow::Result<()> {
    match route() {
        Route::Display => match to_display(value, clear_after) {
            Ok(backend) => {
                eprintln!("copied {what} to the clipboard; clears in {clear_after} s");
                for w in backend_warnings(&backend) {
                    eprintln!("warning: {w}");
                }
                Ok(())
            }
            Err(e) if has_tty() => {
                eprintln!(
                    "warning: cannot use the display's clipboard ({}); copying through the terminal (OSC 52) instead",
                    sanitize(&e)
                );
                to_terminal(value, what, clear_after)
            }
            Err(e) => fail(
                Exit::Other,
                format!("cannot use the display's clipboard: {e}"),
                "install wl-clipboard (Wayland) or xclip (X11), or use 'amanat get PATH' into a pipe",
            ),
        },
        Route::Terminal => to_terminal(value, what, clear_after),
        Route::None => no_route(),
    }
}

/// What the user should know about the backend the helper reported.
fn backend_warnings(backend: &str) -> Vec<&'static str> {
    match backend {
        "xclip" => vec![
            "copied with xclip, which cannot mark the copy as a secret: a clipboard manager may keep it in its history",
        ],
        "wl-copy" => vec![
            "copied with wl-copy, which cannot mark the copy as a secret: a clipboard manager may keep it in its history",
            "wl-copy holds the value in a temporary file (under /tmp) while it serves it",
        ],
        "wl-copy-sensitive" => {
            vec!["wl-copy holds the value in a temporary file (under /tmp) while it serves it"]
        }
        "arboard" => Vec::new(),
        _ => vec![
            "the copy may not be marked as a secret: a clipboard manager may keep it in its history",
        ],
    }
}

fn route() -> Route {
    Route::choose(
        std::env::var_os("WAYLAND_DISPLAY").as_deref(),
        std::env::var_os("DISPLAY").as_deref(),
        has_tty(),
    )
}

fn no_route() -> anyhow::Result<()> {
    fail(
        Exit::Other,
        "no clipboard: no display (WAYLAND_DISPLAY and DISPLAY are unset) and no terminal for OSC 52",
        "use 'amanat get PATH' into a pipe (amanat get web/github | wl-copy), or run on a terminal",
    )
}

/// The entry's field, as `get` selects it, with the ids of its vault and entry (for
/// the use log).
fn open_field(
    paths: &Paths,
    path: &str,
    field: &str,
) -> anyhow::Result<(Zeroizing<String>, Option<RecordId>, EntryId)> {
    // Through the agent when it is unlocked (no passphrase), as `get` does.
    let (_, e, vault) = super::entry::open(paths, path)?;
    let value = super::entry::field_value(path, &e.payload, field)?;
    Ok((value, vault, e.id))
}

// --- the parent's side -------------------------------------------------------------

/// Start `amanat __clip-serve` detached from the terminal's job control (its own
/// process group, so Ctrl-C in the shell does not reach it), stdin and stdout piped,
/// stderr to /dev/null.
fn spawn_helper(clear_after: u64, osc52: bool) -> Result<Child, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find amanat itself: {e}"))?;
    let mut cmd = Command::new(exe);
    cmd.arg("__clip-serve")
        .arg("--clear-after")
        .arg(clear_after.to_string());
    if osc52 {
        cmd.arg("--osc52");
    }
    // From `/`, so that a long clear does not keep a directory (a mount) busy.
    cmd.current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0);
    cmd.spawn()
        .map_err(|e| format!("cannot start the clipboard helper: {e}"))
}

/// Wait for the helper's one status line: `ready BACKEND` or `error MESSAGE`.
fn await_ready(child: &mut Child) -> Result<String, String> {
    let Some(stdout) = child.stdout.take() else {
        return Err("the clipboard helper has no status pipe".into());
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let r = BufReader::new(stdout.take(4096))
            .read_line(&mut line)
            .map(|_| line);
        let _ = tx.send(r);
    });
    let status = match rx.recv_timeout(READY_TIMEOUT) {
        Ok(Ok(line)) => parse_status(&line),
        Ok(Err(e)) => Err(format!("cannot read the clipboard helper's status: {e}")),
        Err(_) => Err("the clipboard helper did not answer in time".into()),
    };
    if status.is_err() {
        let _ = child.kill();
        let _ = child.wait();
    }
    status
}

/// `ready BACKEND` → `Ok(BACKEND)`; anything else is the helper's failure.
fn parse_status(line: &str) -> Result<String, String> {
    let line = line.trim_end_matches(['\n', '\r']);
    if let Some(backend) = line.strip_prefix("ready ") {
        Ok(backend.to_string())
    } else if let Some(message) = line.strip_prefix("error ") {
        Err(message.to_string())
    } else if line.is_empty() {
        Err("the clipboard helper exited without taking the clipboard".into())
    } else {
        Err("the clipboard helper answered something unexpected".into())
    }
}

/// Hand the value to a helper that owns the display's selection; returns its backend.
fn to_display(value: &[u8], clear_after: u64) -> Result<String, String> {
    let mut child = spawn_helper(clear_after, false)?;
    let sent = match child.stdin.take() {
        // Dropping stdin afterwards closes the pipe: the helper reads to EOF.
        Some(mut stdin) => stdin.write_all(value).and_then(|()| stdin.flush()),
        None => Err(std::io::Error::other("no stdin pipe")),
    };
    if let Err(e) = sent {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!(
            "cannot hand the value to the clipboard helper: {e}"
        ));
    }
    await_ready(&mut child)
}

/// OSC 52 on `/dev/tty`, after a helper that will send the clear is in place.
fn to_terminal(value: &[u8], what: &str, clear_after: u64) -> anyhow::Result<()> {
    let not_sent = |e: String| {
        fail::<()>(
            Exit::Other,
            format!("cannot copy through the terminal: {e}"),
            "use 'amanat get PATH' into a pipe instead",
        )
    };
    // The clear is arranged first: without it the value would stay on the clipboard.
    let mut child = match spawn_helper(clear_after, true) {
        Ok(c) => c,
        Err(e) => return not_sent(e),
    };
    drop(child.stdin.take());
    if let Err(e) = await_ready(&mut child) {
        return not_sent(e);
    }
    let seq = cb::osc52_set(value, Passthrough::from_env());
    let written = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/tty")
        .and_then(|mut tty| tty.write_all(&seq).and_then(|()| tty.flush()));
    if let Err(e) = written {
        return not_sent(format!("cannot write to /dev/tty: {e}"));
    }
    eprintln!(
        "copied {what} to the clipboard through the terminal (OSC 52); clears in {clear_after} s"
    );
    Ok(())
}

// --- the helper's side -------------------------------------------------------------

/// `__clip-serve`: the detached helper. Reports one status line on stdout, then never
/// writes there again (`clip` stops reading after that line).
pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // It holds the value until the clear is due: lock every page first.
    amanat::harden::lock_all_memory();
    let mut status = std::io::stdout();
    let result = if args.osc52 {
        serve_terminal(args.clear_after, &mut status)
    } else {
        serve_display(args.clear_after, &mut status)
    };
    if let Err(e) = &result {
        let _ = writeln!(status, "error {}", one_line(e));
        let _ = status.flush();
    }
    // The outcome is in the status line; exit quietly (stderr is /dev/null anyway).
    Ok(())
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn ready(status: &mut impl Write, backend: &str) {
    let _ = writeln!(status, "ready {backend}");
    let _ = status.flush();
}

fn sleep_until(deadline: Instant) {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        std::thread::sleep(deadline - now);
    }
}

/// Keep a terminal open, and after the delay send the clearing OSC 52 to it. The
/// terminal is opened now: once `clip`'s session leader is gone (a shell closing)
/// `/dev/tty` may no longer open, while this descriptor still reaches the terminal.
fn serve_terminal(clear_after: u64, status: &mut impl Write) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(clear_after);
    let mut tty = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/tty")
        .map_err(|e| format!("cannot open /dev/tty: {e}"))?;
    ready(status, "osc52");
    sleep_until(deadline);
    // Best effort: a closed terminal has nothing left to clear.
    let _ = tty
        .write_all(&cb::osc52_clear(Passthrough::from_env()))
        .and_then(|()| tty.flush());
    Ok(())
}

/// Read the value from stdin, take the selection, confirm, serve, clear if unchanged.
fn serve_display(clear_after: u64, status: &mut impl Write) -> Result<(), String> {
    // Sized up front so that reading never reallocates (which would leave copies).
    let mut value = Zeroizing::new(Vec::with_capacity(MAX_VALUE + 1));
    std::io::stdin()
        .lock()
        .take(MAX_VALUE as u64 + 1)
        .read_to_end(&mut value)
        .map_err(|e| format!("cannot read the value: {e}"))?;
    if value.len() > MAX_VALUE {
        return Err(format!("the value is longer than {MAX_VALUE} bytes"));
    }
    let text =
        std::str::from_utf8(&value).map_err(|_| "the value is not UTF-8 text".to_string())?;
    let deadline = Instant::now() + Duration::from_secs(clear_after);
    let mut holder = take_selection(text)?;
    ready(status, holder.label());
    sleep_until(deadline);
    let ours = holder
        .read()
        .is_some_and(|current| cb::still_ours(current.as_bytes(), &value));
    if ours {
        holder.clear();
    }
    holder.release();
    Ok(())
}

/// A system clipboard tool the helper can fall back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    WlCopy,
    Xclip,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::WlCopy => "wl-copy",
            Tool::Xclip => "xclip",
        }
    }
}

/// Whatever owns the selection for us until the deadline.
enum Holder {
    /// arboard: a thread of this process serves the selection (X11: while the
    /// `Clipboard` lives; Wayland: wl-clipboard-rs's serving thread, until the selection
    /// changes). Either way the selection ends when this process does.
    Arboard(arboard::Clipboard),
    /// `wl-copy --foreground` or `xclip -quiet`, serving until killed or replaced.
    Tool {
        tool: Tool,
        child: Child,
        sensitive: bool,
    },
}

impl std::fmt::Debug for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

impl Holder {
    /// What `ready` reports: `arboard`, `xclip`, `wl-copy`, or `wl-copy-sensitive`
    /// (a wl-copy that marked the copy as a secret).
    fn label(&self) -> &'static str {
        match self {
            Holder::Arboard(_) => "arboard",
            Holder::Tool {
                tool: Tool::WlCopy,
                sensitive: true,
                ..
            } => "wl-copy-sensitive",
            Holder::Tool {
                tool: Tool::WlCopy, ..
            } => "wl-copy",
            Holder::Tool { .. } => "xclip",
        }
    }

    /// What the clipboard holds now, if it holds text.
    fn read(&mut self) -> Option<Zeroizing<String>> {
        match self {
            Holder::Arboard(c) => c.get().text().ok().map(Zeroizing::new),
            Holder::Tool { tool, .. } => tool_read(*tool),
        }
    }

    /// Clear the selection (called only when it still holds our value).
    fn clear(&mut self) {
        match self {
            // X11: sets the owner to None (whoever serves our value now, a clipboard
            // manager included, loses it); Wayland: sets an empty selection.
            Holder::Arboard(c) => {
                let _ = c.clear();
            }
            // An X11 owner that exits takes its selection with it.
            Holder::Tool {
                tool: Tool::Xclip,
                child,
                ..
            } => {
                let _ = child.kill();
            }
            // wl-copy removes its temporary file only when its selection is replaced
            // (not when killed): replace it with nothing, then let it finish.
            Holder::Tool {
                tool: Tool::WlCopy,
                child,
                ..
            } => {
                if let Some(program) = find_on_path("wl-copy") {
                    let _ = Command::new(program)
                        .arg("--clear")
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status();
                }
                let until = Instant::now() + TOOL_READY_TIMEOUT;
                while matches!(child.try_wait(), Ok(None)) && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(50));
                }
                let _ = child.kill();
            }
        }
    }

    /// Let go: a tool that lost the selection has exited or is ended now (it no longer
    /// serves anything); arboard's `Drop` releases a selection marked secret without
    /// handing it to a clipboard manager.
    fn release(self) {
        match self {
            Holder::Arboard(c) => drop(c),
            Holder::Tool { mut child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// The backends to try, in order: the one `AMANAT_CLIP_BACKEND` names, or arboard, then
/// xclip (X11 or XWayland), then wl-copy (last: it stages the value in a file).
fn backends() -> Result<Vec<Option<Tool>>, String> {
    let choice = std::env::var(BACKEND_VAR).unwrap_or_default();
    let wayland = std::env::var_os("WAYLAND_DISPLAY").is_some_and(|v| !v.is_empty());
    let x11 = std::env::var_os("DISPLAY").is_some_and(|v| !v.is_empty());
    Ok(match choice.as_str() {
        "" | "auto" => {
            let mut list = vec![None];
            if x11 {
                list.push(Some(Tool::Xclip));
            }
            if wayland {
                list.push(Some(Tool::WlCopy));
            }
            list
        }
        "arboard" => vec![None],
        "wl-copy" => vec![Some(Tool::WlCopy)],
        "xclip" => vec![Some(Tool::Xclip)],
        other => {
            return Err(format!(
                "{BACKEND_VAR}='{}' is not one of auto, arboard, wl-copy, xclip",
                one_line(other)
            ));
        }
    })
}

fn take_selection(text: &str) -> Result<Holder, String> {
    let mut errors = Vec::new();
    for backend in backends()? {
        let attempt = match backend {
            None => with_arboard(text),
            Some(tool) => with_tool(tool, text),
        };
        match attempt {
            Ok(holder) => return Ok(holder),
            Err(e) => errors.push(e),
        }
    }
    Err(errors.join("; "))
}

fn with_arboard(text: &str) -> Result<Holder, String> {
    #[cfg(target_os = "macos")]
    use arboard::SetExtApple as _;
    #[cfg(all(unix, not(any(target_os = "macos", target_os = "android"))))]
    use arboard::SetExtLinux as _;

    let mut clipboard = arboard::Clipboard::new().map_err(|e| format!("arboard: {e}"))?;
    // No wait option: this returns once the selection is ours (X11: owner set and
    // flushed; Wayland: the serving thread has its data source), so that we can say
    // "ready" and then sleep until the deadline ourselves: `wait_until(deadline)`
    // would block inside `text()` before we could report.
    clipboard
        .set()
        .exclude_from_history()
        .text(text)
        .map_err(|e| format!("arboard: {e}"))?;
    let confirmed = clipboard
        .get()
        .text()
        .ok()
        .map(Zeroizing::new)
        .is_some_and(|t| cb::still_ours(t.as_bytes(), text.as_bytes()));
    if !confirmed {
        let _ = clipboard.clear();
        return Err("arboard: the clipboard did not take the value".into());
    }
    Ok(Holder::Arboard(clipboard))
}

/// `PATH` lookup, so that a missing tool is a clear message rather than a spawn error.
fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Whether this wl-copy has `--sensitive` (newer wl-clipboard releases mark the copy
/// with `x-kde-passwordManagerHint`, which `wl-paste --watch` turns into
/// `CLIPBOARD_STATE=sensitive`; 2.1 has no such flag).
fn wl_copy_has_sensitive(program: &Path) -> bool {
    Command::new(program)
        .arg("--help")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--sensitive"))
}

fn with_tool(tool: Tool, text: &str) -> Result<Holder, String> {
    let name = tool.name();
    let program = find_on_path(name).ok_or_else(|| format!("{name} is not installed"))?;
    let mut cmd = Command::new(&program);
    let mut sensitive = false;
    match tool {
        Tool::WlCopy => {
            cmd.args(["--foreground", "--type", "text/plain;charset=utf-8"]);
            if wl_copy_has_sensitive(&program) {
                cmd.arg("--sensitive");
                sensitive = true;
            }
            // wl-copy 2.1 copies its stdin to /tmp/wl-copy-buffer-XXXXXX/ (mode 0700)
            // and serves from there; giving the value in argv would avoid the file
            // but expose it in /proc: the file is the lesser evil, and warned about.
        }
        Tool::Xclip => {
            cmd.args(["-selection", "clipboard", "-quiet", "-in"]);
        }
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {name}: {e}"))?;
    let fed = match child.stdin.take() {
        Some(mut stdin) => stdin.write_all(text.as_bytes()),
        None => Err(std::io::Error::other("no stdin pipe")),
    };
    let mut holder = Holder::Tool {
        tool,
        child,
        sensitive,
    };
    if let Err(e) = fed {
        holder.release();
        return Err(format!("cannot feed {name}: {e}"));
    }
    // Confirm by reading it back: the tool gives no other sign of owning the selection.
    let until = Instant::now() + TOOL_READY_TIMEOUT;
    loop {
        if tool_read(tool).is_some_and(|t| cb::still_ours(t.as_bytes(), text.as_bytes())) {
            return Ok(holder);
        }
        let exited = match &mut holder {
            Holder::Tool { child, .. } => !matches!(child.try_wait(), Ok(None)),
            Holder::Arboard(_) => false,
        };
        if exited || Instant::now() >= until {
            holder.release();
            return Err(format!("{name} did not take the clipboard"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The clipboard's text through `wl-paste` or `xclip -o`.
fn tool_read(tool: Tool) -> Option<Zeroizing<String>> {
    let (program, args): (&str, &[&str]) = match tool {
        Tool::WlCopy => ("wl-paste", &["--no-newline", "--type", "text"]),
        Tool::Xclip => ("xclip", &["-selection", "clipboard", "-out"]),
    };
    let program = find_on_path(program)?;
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let stdout = Zeroizing::new(out.stdout);
    if !out.status.success() {
        return None;
    }
    std::str::from_utf8(&stdout)
        .ok()
        .map(|s| Zeroizing::new(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status("ready arboard\n"), Ok("arboard".to_string()));
        assert_eq!(parse_status("ready xclip\n"), Ok("xclip".to_string()));
        assert_eq!(
            parse_status("error xclip is not installed\n"),
            Err("xclip is not installed".to_string())
        );
        assert!(parse_status("").is_err());
        assert!(parse_status("S3cret\n").is_err());
    }

    #[test]
    fn warnings_per_backend() {
        assert!(backend_warnings("arboard").is_empty());
        assert_eq!(backend_warnings("xclip").len(), 1);
        assert_eq!(backend_warnings("wl-copy").len(), 2);
        assert_eq!(backend_warnings("wl-copy-sensitive").len(), 1);
        assert_eq!(backend_warnings("something new").len(), 1);
    }

    #[test]
    fn helper_messages_are_one_line() {
        assert_eq!(one_line("a\nb\x1b]52"), "a b ]52");
    }
}
