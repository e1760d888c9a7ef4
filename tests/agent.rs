//! End-to-end tests of the unlock agent (issue 5, docs/agent.md): unlock → get with no
//! passphrase source, lock, timeouts, a dead agent's stale socket, peer-uid refusal,
//! garbage on the socket, the passphrase never on a command line or in an environment,
//! and the agent's process hardening.
//!
//! Every test points `AMANAT_AGENT_SOCK` into its own temporary home and kills its agent
//! (by pid) when it ends, pass or fail.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Outcome, TestEnv};

/// A test home with an agent socket inside it; kills the agent it started on drop.
struct AgentEnv {
    env: TestEnv,
    pids: std::cell::RefCell<Vec<u32>>,
}

impl Drop for AgentEnv {
    fn drop(&mut self) {
        for pid in self.pids.borrow().iter() {
            if let Some(pid) = rustix::process::Pid::from_raw(*pid as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
    }
}

impl AgentEnv {
    /// alice's identity and vault with one entry, `web/github` = `S3cret!`.
    fn new() -> Self {
        Self::with_passphrase(common::PASSPHRASE)
    }

    fn with_passphrase(passphrase: &str) -> Self {
        let env = TestEnv::new().with_passphrase_file(&format!("{passphrase}\n"));
        env.init_alice();
        env.add_with("web/github", "S3cret!", &["--username", "alice"]);
        Self {
            env,
            pids: Default::default(),
        }
    }

    fn socket(&self) -> PathBuf {
        self.env.path("run/agent.sock")
    }

    fn command(&self, args: &[&str], passphrase: bool) -> std::process::Command {
        let mut cmd = self.env.detached_command(args);
        cmd.env("AMANAT_AGENT_SOCK", self.socket());
        if !passphrase {
            cmd.env_remove("AMANAT_PASSPHRASE_FILE");
        }
        cmd
    }

    /// `amanat ARGS` with the passphrase file available.
    fn run(&self, args: &[&str]) -> Outcome {
        let mut cmd = assert_cmd::Command::from_std(self.command(args, true));
        cmd.timeout(common::COMMAND_TIMEOUT);
        Outcome::from(cmd.output().unwrap())
    }

    /// `amanat ARGS` with no passphrase source at all.
    fn run_without_passphrase(&self, args: &[&str]) -> Outcome {
        let mut cmd = assert_cmd::Command::from_std(self.command(args, false));
        cmd.timeout(common::COMMAND_TIMEOUT);
        Outcome::from(cmd.output().unwrap())
    }

    /// `unlock ARGS`; returns the agent's pid.
    fn unlock(&self, args: &[&str]) -> u32 {
        let mut all = vec!["unlock"];
        all.extend_from_slice(args);
        let out = self.run(&all).success();
        let pid = pid_in(&out.stdout);
        self.pids.borrow_mut().push(pid);
        pid
    }

    fn get(&self) -> Outcome {
        self.run_without_passphrase(&["get", "web/github"])
    }

    fn status(&self) -> serde_json::Value {
        self.run_without_passphrase(&["agent", "status", "--json"])
            .success()
            .json()
    }
}

fn pid_in(unlock_stdout: &str) -> u32 {
    let rest = unlock_stdout
        .split("agent pid ")
        .nth(1)
        .unwrap_or_else(|| panic!("no pid in {unlock_stdout:?}"));
    rest.split(')').next().unwrap().parse().unwrap()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| !s.split(") ").nth(1).unwrap_or("").starts_with('Z'))
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn unlock_then_get_needs_no_passphrase_and_lock_forgets() {
    let a = AgentEnv::new();
    // Before unlocking there is no passphrase source: exit 3.
    a.get().code(3);
    let pid = a.unlock(&[]);
    let out = a.get().success();
    assert_eq!(out.stdout, "S3cret!\n");
    let ls = a.run_without_passphrase(&["ls"]).success();
    assert_eq!(ls.stdout, "web/github\n");
    let find = a.run_without_passphrase(&["find", "git"]).success();
    assert_eq!(find.stdout, "web/github\talice\t\n");
    let show = a.run_without_passphrase(&["show", "web/github"]).success();
    assert!(show.stdout.contains("password: ********\n"), "{show:?}");
    assert!(show.stdout.contains("last written by: alice\n"), "{show:?}");
    let missing = a.run_without_passphrase(&["get", "web/nope"]).code(4);
    assert_eq!(missing.error(), "no entry 'web/nope'");
    let status = a.status();
    assert_eq!(status["unlocked"], true);
    assert_eq!(status["name"], "alice");
    assert_eq!(status["pid"], pid);

    let lock = a.run_without_passphrase(&["lock"]).success();
    assert_eq!(lock.stdout, "locked\n");
    wait_until("the agent exits", || !alive(pid));
    assert!(!a.socket().exists(), "lock leaves no socket behind");
    let out = a.get().code(3);
    assert!(
        out.error().starts_with("no passphrase available"),
        "{out:?}"
    );
    assert_eq!(a.status()["unlocked"], false);
}

#[test]
fn socket_and_directory_are_private() {
    let a = AgentEnv::new();
    a.unlock(&[]);
    assert_eq!(common::mode(&a.env.path("run")), 0o700);
    assert_eq!(common::mode(&a.socket()), 0o600);
    a.run(&["lock"]).success();
}

#[test]
fn idle_timeout_locks() {
    let a = AgentEnv::new();
    let pid = a.unlock(&["--timeout", "2s"]);
    a.get().success();
    std::thread::sleep(Duration::from_millis(2600));
    a.get().code(3);
    assert!(!alive(pid));
}

#[test]
fn a_changed_vault_is_reloaded() {
    let a = AgentEnv::new();
    a.unlock(&[]);
    a.get().success();
    // A write through the passphrase file (the agent does not sign), then a read
    // through the agent, which must notice the new file.
    let mut cmd =
        assert_cmd::Command::from_std(a.command(&["add", "db/prod", "--password-stdin"], true));
    cmd.timeout(common::COMMAND_TIMEOUT).write_stdin("pr0d\n");
    Outcome::from(cmd.output().unwrap()).success();
    let out = a.run_without_passphrase(&["get", "db/prod"]).success();
    assert_eq!(out.stdout, "pr0d\n");
    a.run(&["lock"]).success();
}

#[test]
fn a_dead_agents_stale_socket_is_replaced() {
    let a = AgentEnv::new();
    let pid = a.unlock(&[]);
    let p = rustix::process::Pid::from_raw(pid as i32).unwrap();
    rustix::process::kill_process(p, rustix::process::Signal::KILL).unwrap();
    wait_until("the agent dies", || !alive(pid));
    assert!(a.socket().exists(), "SIGKILL leaves the socket file behind");
    // Nobody answers on the stale socket: back to needing a passphrase.
    a.get().code(3);
    let pid2 = a.unlock(&[]);
    assert_ne!(pid, pid2);
    assert_eq!(a.get().success().stdout, "S3cret!\n");
    a.run(&["lock"]).success();
}

#[test]
fn sigterm_and_sighup_lock() {
    for signal in [rustix::process::Signal::TERM, rustix::process::Signal::HUP] {
        let a = AgentEnv::new();
        let pid = a.unlock(&[]);
        let p = rustix::process::Pid::from_raw(pid as i32).unwrap();
        rustix::process::kill_process(p, signal).unwrap();
        wait_until("the agent exits", || !alive(pid));
        assert!(!a.socket().exists());
        a.get().code(3);
    }
}

#[test]
fn a_changed_identity_file_locks() {
    let a = AgentEnv::new();
    let pid = a.unlock(&[]);
    let path = a.env.identity_path();
    let bytes = std::fs::read(&path).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&path, bytes).unwrap();
    wait_until("the agent exits", || !alive(pid));
    a.get().code(3);
}

#[test]
fn wrong_passphrase_is_exit_3_and_leaves_no_agent() {
    let a = AgentEnv::new();
    a.env.set_passphrase("wrong\n");
    let out = a.run(&["unlock"]).code(3);
    assert!(out.error().starts_with("wrong passphrase"), "{out:?}");
    wait_until("the agent gives up", || !a.socket().exists());
}

/// One frame: big-endian length, then the bytes.
fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

fn read_reply(s: &mut UnixStream) -> Option<serde_json::Value> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

fn connect(a: &AgentEnv) -> UnixStream {
    let s = UnixStream::connect(a.socket()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

#[test]
fn garbage_on_the_socket_does_not_stop_the_agent() {
    let a = AgentEnv::new();
    let pid = a.unlock(&[]);
    let hello = frame(br#"{"type":"hello","version":1}"#);

    // Random bytes.
    let mut noise = vec![0u8; 4096];
    getrandom_fill(&mut noise);
    let mut s = connect(&a);
    let _ = s.write_all(&noise);
    drop(s);

    // 1 MB of 0xff: a length prefix far above the cap, refused before reading.
    let mut s = connect(&a);
    let _ = s.write_all(&vec![0xff; 1 << 20]);
    if let Some(reply) = read_reply(&mut s) {
        assert_eq!(reply["type"], "error");
        assert_eq!(reply["kind"], "protocol");
    }
    drop(s);

    // A frame cut short, then the connection closed.
    let mut s = connect(&a);
    s.write_all(&100u32.to_be_bytes()).unwrap();
    s.write_all(b"{\"type\":").unwrap();
    drop(s);

    // Half a length prefix, and the client stalls (held open during the next steps).
    let mut stalled = connect(&a);
    stalled.write_all(&[0, 0]).unwrap();

    // Wrong protocol version: an error reply naming the version.
    let mut s = connect(&a);
    s.write_all(&frame(br#"{"type":"hello","version":999}"#))
        .unwrap();
    let reply = read_reply(&mut s).unwrap();
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["kind"], "version");
    drop(s);

    // A request before the handshake, and malformed JSON after it.
    let mut s = connect(&a);
    s.write_all(&frame(br#"{"type":"status"}"#)).unwrap();
    assert_eq!(read_reply(&mut s).unwrap()["kind"], "protocol");
    let mut s = connect(&a);
    s.write_all(&hello).unwrap();
    assert_eq!(read_reply(&mut s).unwrap()["type"], "hello");
    s.write_all(&frame(b"{not json")).unwrap();
    assert_eq!(read_reply(&mut s).unwrap()["kind"], "protocol");

    // An unknown message type and a lone oversized frame after a good handshake.
    let mut s = connect(&a);
    s.write_all(&hello).unwrap();
    read_reply(&mut s).unwrap();
    s.write_all(&frame(br#"{"type":"dump_keys"}"#)).unwrap();
    assert_eq!(read_reply(&mut s).unwrap()["kind"], "protocol");
    let mut s = connect(&a);
    s.write_all(&hello).unwrap();
    read_reply(&mut s).unwrap();
    s.write_all(&(64 * 1024 + 1u32).to_be_bytes()).unwrap();
    assert_eq!(read_reply(&mut s).unwrap()["kind"], "protocol");

    assert!(alive(pid));
    assert_eq!(a.get().success().stdout, "S3cret!\n");
    drop(stalled);
    assert_eq!(a.get().success().stdout, "S3cret!\n");
    a.run(&["lock"]).success();
}

fn getrandom_fill(buf: &mut [u8]) {
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(buf)
        .unwrap();
}

fn nobody_available() -> bool {
    rustix::process::getuid().is_root()
        && std::process::Command::new("setpriv")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
}

#[test]
fn a_connection_from_another_uid_is_refused() {
    if !nobody_available() {
        eprintln!("skipped: needs root and setpriv to run a client as nobody");
        return;
    }
    let a = AgentEnv::new();
    let pid = a.unlock(&[]);
    // Open the file-mode fence on purpose, so only the SO_PEERCRED check stands
    // between nobody and the agent.
    for dir in [a.env.home().to_path_buf(), a.env.path("run")] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    }
    std::fs::set_permissions(a.socket(), std::fs::Permissions::from_mode(0o666)).unwrap();
    // nobody runs a copy of the binary inside the (now traversable) home: the build
    // directory may sit where nobody cannot reach it (a checkout under /root in CI).
    let binary = a.env.path("amanat-for-nobody");
    std::fs::copy(common::bin(), &binary).unwrap();
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(&binary)
        .args(["agent", "status"]);
    a.env.apply_env(&mut cmd);
    cmd.env("AMANAT_AGENT_SOCK", a.socket())
        .env_remove("AMANAT_PASSPHRASE_FILE")
        .current_dir("/");
    let out = Outcome::from(cmd.output().unwrap());
    assert_eq!(out.code, 5, "{out:?}");
    assert_eq!(out.error(), "connection refused: peer is another user");
    assert!(!out.stdout.contains("alice"), "{out:?}");
    // The agent keeps serving its own user.
    assert!(alive(pid));
    assert_eq!(a.get().success().stdout, "S3cret!\n");
    a.run(&["lock"]).success();
}

/// Every `/proc/*/cmdline` and `/proc/*/environ` that contains `needle`.
fn proc_files_containing(needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        for file in ["cmdline", "environ"] {
            let path = entry.path().join(file);
            if let Ok(bytes) = std::fs::read(&path)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[test]
fn the_passphrase_never_reaches_a_command_line_or_an_environment() {
    let passphrase = "agent-test-passphrase-7f3a91c2";
    let a = AgentEnv::with_passphrase(passphrase);
    // The check must be able to fail: a process with the passphrase in its argv is seen.
    let mut canary = std::process::Command::new("sh")
        .args(["-c", "sleep 5", "canary", passphrase])
        .spawn()
        .unwrap();
    wait_until("the canary shows up", || {
        !proc_files_containing(passphrase.as_bytes()).is_empty()
    });
    canary.kill().unwrap();
    canary.wait().unwrap();

    let mut child = a.command(&["unlock"], true);
    child
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = child.spawn().unwrap();
    let mut seen = Vec::new();
    while child.try_wait().unwrap().is_none() {
        seen.extend(proc_files_containing(passphrase.as_bytes()));
    }
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    a.pids.borrow_mut().push(pid_in(&stdout));
    seen.extend(proc_files_containing(passphrase.as_bytes()));
    assert!(seen.is_empty(), "passphrase found in {seen:?}");
    assert_eq!(a.get().success().stdout, "S3cret!\n");
    a.run(&["lock"]).success();
}

#[test]
fn the_agent_is_not_dumpable_and_has_no_core_limit() {
    let a = AgentEnv::new();
    let pid = a.unlock(&[]);
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&fields[4..6], &["0", "0"], "{core}");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(!status.contains("CoreDumping:\t1"));
    assert_eq!(a.status()["not_dumpable"], true);
    a.run(&["lock"]).success();
}
