//! `amanat clip` end to end: under a real X server (Xvfb, read with `xclip`) the value
//! is served after `clip` returns, marked `x-kde-passwordManagerHint: secret`, cleared
//! after the timeout, and left alone when the user copied something else meanwhile;
//! on a pseudo-terminal without a display it goes out as OSC 52 (tmux-wrapped when
//! `TMUX` is set), the clearing OSC 52 follows, and the plain value never appears.
//!
//! Each X test starts its own `Xvfb -displayfd` (the server picks a free display, so
//! tests run in parallel without sharing a clipboard) and stops it at the end, along
//! with any `__clip-serve` helper of its environment. Without Xvfb or xclip the X tests
//! are skipped with a message, except under CI (`CI` set), where that is a failure.
//!
//! The vault is prepared with the hermetic, terminal-less harness of `tests/common`.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::x11::{self, clip_helpers_of, kill_clip_helpers, wait_for};
use common::{Outcome, TestEnv};
use rexpect::process::WaitStatus;

const SECRET: &str = "Clip-S3cret-7f2a";
const USERNAME: &str = "alice@example.com";
/// Bound on every "wait until" in these tests.
const WAIT: Duration = Duration::from_secs(10);

fn with_entry() -> TestEnv {
    let env = TestEnv::new();
    env.init_alice();
    env.add_with("web/github", SECRET, &["--username", USERNAME]);
    env
}

/// A private X server and the test environment whose clipboard helpers it outlives:
/// the helpers are killed before the server stops.
struct Xvfb {
    x: x11::Xvfb,
    display: String,
    env: TestEnv,
}

impl Xvfb {
    /// Start one for `env`, or `None` when Xvfb or xclip is missing.
    fn start(env: TestEnv) -> Option<Self> {
        let x = x11::Xvfb::start()?;
        Some(Self {
            display: x.display.clone(),
            x,
            env,
        })
    }

    /// `amanat ARGS` with `DISPLAY` pointing here (no terminal).
    fn amanat(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Outcome {
        let mut cmd = self.env.cmd(args);
        cmd.env("DISPLAY", &self.display);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let start = Instant::now();
        let out = Outcome::from(cmd.output().unwrap());
        // `clip` must return at once, not when the clear is due.
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "clip took {:?}",
            start.elapsed()
        );
        out
    }

    /// What the clipboard holds (of `target`), `None` when nothing is there.
    fn read(&self, target: Option<&str>) -> Option<String> {
        self.x.read(target)
    }

    /// The user copies `text` (`printf TEXT | xclip -selection clipboard`).
    fn copy(&self, text: &str) {
        let mut child = Command::new("xclip")
            .args(["-selection", "clipboard"])
            .env("DISPLAY", &self.display)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        // xclip forks a server and its first process exits.
        child.wait().unwrap();
        assert!(
            wait_for(WAIT, || (self.read(None).as_deref() == Some(text))
                .then_some(()))
            .is_some(),
            "the user's copy did not land"
        );
    }

    /// Wait until no helper of this test's environment runs any more.
    fn wait_helpers_gone(&self) {
        assert!(
            wait_for(Duration::from_secs(20), || clip_helpers_of(&self.env)
                .is_empty()
                .then_some(()))
            .is_some(),
            "the clipboard helper is still running"
        );
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // Then the server stops, when `x` is dropped.
        kill_clip_helpers(&self.env);
    }
}

fn assert_copied_message(out: &Outcome, what: &str, secs: u64) {
    assert!(
        out.stderr
            .lines()
            .any(|l| l == format!("copied {what} to the clipboard; clears in {secs} s")),
        "{out:?}"
    );
}

#[test]
fn x11_value_is_served_after_clip_returns_and_marked_secret() {
    let Some(x) = Xvfb::start(with_entry()) else {
        return;
    };
    let out = x
        .amanat(&["clip", "web/github", "--clear-after", "30"], &[])
        .success();
    assert_copied_message(&out, "password of web/github", 30);
    out.assert_absent(SECRET, "the password");
    assert_eq!(x.read(None).as_deref(), Some(SECRET));
    // SECURITY.md item 21: clipboard managers are told it is a secret.
    let targets = x.read(Some("TARGETS")).unwrap();
    assert!(
        targets.lines().any(|t| t == "x-kde-passwordManagerHint"),
        "{targets}"
    );
    assert_eq!(
        x.read(Some("x-kde-passwordManagerHint")).as_deref(),
        Some("secret")
    );
    // The value reached the helper through a pipe: not in its argv or environment.
    let helpers = clip_helpers_of(&x.env);
    assert_eq!(helpers.len(), 1, "{helpers:?}");
    for file in ["cmdline", "environ"] {
        let bytes = std::fs::read(format!("/proc/{}/{file}", helpers[0])).unwrap();
        assert!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "the value is in the helper's {file}"
        );
    }
    // Still served a little later (the helper, not `clip`, owns the selection).
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(x.read(None).as_deref(), Some(SECRET));
}

#[test]
fn x11_other_fields_and_errors() {
    let Some(x) = Xvfb::start(with_entry()) else {
        return;
    };
    let out = x
        .amanat(
            &[
                "clip",
                "web/github",
                "--field",
                "username",
                "--clear-after",
                "30",
            ],
            &[],
        )
        .success();
    assert_copied_message(&out, "username of web/github", 30);
    assert_eq!(x.read(None).as_deref(), Some(USERNAME));

    let out = x
        .amanat(&["clip", "web/github", "--field", "nope"], &[])
        .code(4);
    assert!(out.error().contains("has no field 'nope'"), "{out:?}");
    let out = x.amanat(&["clip", "web/nothing"], &[]).code(4);
    assert!(out.hint().contains("amanat ls web/"), "{out:?}");
    // Nothing replaced the earlier copy.
    assert_eq!(x.read(None).as_deref(), Some(USERNAME));
}

#[test]
fn x11_cleared_after_the_timeout() {
    let Some(x) = Xvfb::start(with_entry()) else {
        return;
    };
    let copied = Instant::now();
    x.amanat(&["clip", "web/github", "--clear-after", "2"], &[])
        .success();
    assert_eq!(x.read(None).as_deref(), Some(SECRET));
    let cleared = wait_for(WAIT, || match x.read(None) {
        Some(v) if v == SECRET => None,
        other => Some(other),
    });
    let Some(now) = cleared else {
        panic!("still on the clipboard {WAIT:?} after a 2 s --clear-after");
    };
    assert!(
        copied.elapsed() >= Duration::from_millis(1500),
        "cleared too early ({:?})",
        copied.elapsed()
    );
    assert_eq!(now, None, "the clipboard should be empty, not {now:?}");
    x.wait_helpers_gone();
}

#[test]
fn x11_not_cleared_when_the_user_copied_something_else() {
    let Some(x) = Xvfb::start(with_entry()) else {
        return;
    };
    x.amanat(&["clip", "web/github", "--clear-after", "2"], &[])
        .success();
    assert_eq!(x.read(None).as_deref(), Some(SECRET));
    x.copy("other");
    // The helper has made its decision once it is gone.
    x.wait_helpers_gone();
    assert_eq!(x.read(None).as_deref(), Some("other"));
}

#[test]
fn x11_xclip_fallback_serves_and_clears() {
    let Some(x) = Xvfb::start(with_entry()) else {
        return;
    };
    let out = x
        .amanat(
            &["clip", "web/github", "--clear-after", "2"],
            &[("AMANAT_CLIP_BACKEND", "xclip")],
        )
        .success();
    assert_copied_message(&out, "password of web/github", 2);
    assert!(
        out.stderr
            .contains("warning: copied with xclip, which cannot mark the copy as a secret"),
        "{out:?}"
    );
    assert_eq!(x.read(None).as_deref(), Some(SECRET));
    x.wait_helpers_gone();
    assert_eq!(x.read(None), None, "not cleared");
}

#[test]
fn unknown_backend_fails_without_copying() {
    let Some(x) = Xvfb::start(with_entry()) else {
        return;
    };
    let out = x
        .amanat(&["clip", "web/github"], &[("AMANAT_CLIP_BACKEND", "nope")])
        .code(1);
    assert!(out.error().contains("AMANAT_CLIP_BACKEND"), "{out:?}");
    out.assert_absent(SECRET, "the password");
    assert_eq!(x.read(None), None);
}

#[test]
fn no_display_and_no_terminal_exit_1_before_unlocking() {
    let env = with_entry();
    // A wrong passphrase would exit 3: `clip` gives up before asking for one.
    env.set_passphrase("wrong\n");
    let out = env.run(&["clip", "web/github"]).code(1);
    assert!(out.error().starts_with("no clipboard"), "{out:?}");
    assert!(out.hint().contains("amanat get PATH"), "{out:?}");
    out.assert_absent(SECRET, "the password");
    assert!(clip_helpers_of(&env).is_empty());
}

#[test]
fn clear_after_must_be_positive() {
    let env = with_entry();
    env.run(&["clip", "web/github", "--clear-after", "0"])
        .code(2);
    let mut cmd = env.cmd(&["clip", "web/github"]);
    cmd.env("AMANAT_CLIP_TIME", "0");
    Outcome::from(cmd.output().unwrap()).code(2);
}

// --- OSC 52 on a pseudo-terminal ----------------------------------------------------

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Run `clip --clear-after 2` on a fresh PTY (no display): the `set` sequence, the
/// message, a prompt exit 0, then (more than 1 s after the copy was seen: the helper
/// starts its 2 s just before the copy) the `clear` sequence, then the end of output.
/// Returns everything the terminal got.
fn clip_on_a_pty(env: &TestEnv, extra_env: &[(&str, &str)], set: &str, clear: &str) -> String {
    let mut cmd = env.std_command(&["clip", "web/github", "--clear-after", "2"]);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut p = rexpect::session::spawn_command(cmd, Some(30_000)).unwrap();
    let mut seen = p.exp_string(set).unwrap();
    seen.push_str(set);
    let sent = Instant::now();
    let message = "copied password of web/github to the clipboard through the terminal (OSC 52); clears in 2 s";
    seen.push_str(&p.exp_string(message).unwrap());
    seen.push_str(message);
    // `clip` itself returns at once; the helper sends the clear later.
    let code = match p.process_mut().wait().unwrap() {
        WaitStatus::Exited(_, code) => code,
        other => panic!("amanat did not exit normally: {other:?}\n{seen:?}"),
    };
    assert_eq!(code, 0, "{seen:?}");
    assert!(
        !seen.contains(clear),
        "cleared before clip returned: {seen:?}"
    );
    seen.push_str(&p.exp_string(clear).unwrap());
    seen.push_str(clear);
    assert!(
        sent.elapsed() >= Duration::from_secs(1),
        "the clear came too early ({:?})",
        sent.elapsed()
    );
    // The helper exits after the clear: the terminal closes.
    seen.push_str(&p.exp_eof().unwrap());
    assert!(clip_helpers_of(env).is_empty());
    seen
}

#[test]
fn osc52_on_a_terminal_without_a_display() {
    let env = with_entry();
    let set = format!("\u{1b}]52;c;{}\u{7}", b64(SECRET));
    let clear = "\u{1b}]52;c;\u{7}";
    let seen = clip_on_a_pty(&env, &[], &set, clear);
    assert!(
        !seen.contains(SECRET),
        "the plain value reached the terminal: {seen:?}"
    );
    assert_eq!(seen.matches(&set).count(), 1, "{seen:?}");
    // The clear comes after the copy.
    assert!(seen.find(&set).unwrap() < seen.rfind(clear).unwrap());
}

#[test]
fn osc52_is_wrapped_for_tmux() {
    let env = with_entry();
    let set = format!("\u{1b}Ptmux;\u{1b}\u{1b}]52;c;{}\u{7}\u{1b}\\", b64(SECRET));
    let clear = "\u{1b}Ptmux;\u{1b}\u{1b}]52;c;\u{7}\u{1b}\\";
    let seen = clip_on_a_pty(&env, &[("TMUX", "/tmp/tmux-0/default,1,0")], &set, clear);
    assert!(!seen.contains(SECRET), "{seen:?}");
    // Only the wrapped form: an unwrapped OSC 52 would be eaten (or stored) by tmux.
    assert_eq!(
        seen.matches("\u{1b}]52;c;").count(),
        seen.matches("\u{1b}\u{1b}]52;c;").count(),
        "{seen:?}"
    );
    assert_eq!(
        seen.matches("]52;c;").count(),
        2,
        "one copy and one clear: {seen:?}"
    );
}
