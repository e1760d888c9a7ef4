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

use amanat::forge;
use common::{Outcome, TestEnv, vault_bytes};

/// A test home with an agent socket inside it; kills the agent it started on drop.
struct AgentEnv {
    env: TestEnv,
    pids: std::sync::Mutex<Vec<u32>>,
}

impl Drop for AgentEnv {
    fn drop(&mut self) {
        for pid in self.pids.lock().unwrap().iter() {
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
        let pid = common::agent_pid(&out.stdout);
        self.pids.lock().unwrap().push(pid);
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
    // A write (signed through the agent), then a read through the agent, which must
    // notice the new file.
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
    let hello = frame(br#"{"type":"hello","version":3}"#);

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

/// Variables of this test binary's [`helper_as_another_user`].
const HELPER_VAR: &str = "AMANAT_TEST_HELPER";
const HELPER_SOCKET_VAR: &str = "AMANAT_TEST_HELPER_SOCKET";
const HELPER_RECORD_VAR: &str = "AMANAT_TEST_HELPER_RECORD";

/// Start this test binary's [`helper_as_another_user`] as nobody, doing `mode` on
/// `socket` and writing what it saw to `record`. A copy of the binary goes into the
/// home (which must be traversable: the build directory may sit where nobody cannot
/// reach it, as a checkout under /root in CI).
fn helper_as_nobody(
    a: &AgentEnv,
    mode: &str,
    socket: &std::path::Path,
    record: &std::path::Path,
) -> std::process::Child {
    let binary = a.env.path("agent-tests-for-nobody");
    if !binary.exists() {
        std::fs::copy(std::env::current_exe().unwrap(), &binary).unwrap();
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::process::Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(&binary)
        .args([
            "helper_as_another_user",
            "--exact",
            "--test-threads=1",
            "-q",
        ])
        .env_clear()
        .env(HELPER_VAR, mode)
        .env(HELPER_SOCKET_VAR, socket)
        .env(HELPER_RECORD_VAR, record)
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Not a test of its own: what [`helper_as_nobody`] runs as another user (it does
/// nothing without its variables).
///
/// - `fake-agent`: listen on the socket for 30 s, like an agent another user planted,
///   and append one line per connection to the record: how many bytes it received.
/// - `hello`: connect to the socket, send a `hello`, and write the reply to the record.
#[test]
fn helper_as_another_user() {
    let Ok(mode) = std::env::var(HELPER_VAR) else {
        return;
    };
    let socket = PathBuf::from(std::env::var_os(HELPER_SOCKET_VAR).unwrap());
    let record = PathBuf::from(std::env::var_os(HELPER_RECORD_VAR).unwrap());
    match mode.as_str() {
        "fake-agent" => {
            let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
            listener.set_nonblocking(true).unwrap();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let mut got = Vec::new();
                let _ = stream.read_to_end(&mut got);
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&record)
                    .unwrap();
                writeln!(file, "{}", got.len()).unwrap();
            }
        }
        "hello" => {
            let mut s = UnixStream::connect(&socket).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            // The agent may refuse and close before it reads: a failed write is
            // expected, its answer is still there to read.
            let _ = s.write_all(&frame(br#"{"type":"hello","version":3}"#));
            let reply = read_reply(&mut s)
                .map(|v| v.to_string())
                .unwrap_or_default();
            std::fs::write(&record, reply).unwrap();
        }
        other => panic!("unknown helper mode {other}"),
    }
}

/// A directory in the home owned by nobody (mode 0700), with the home opened (0711)
/// so that nobody can reach it.
fn nobodys_dir(a: &AgentEnv, name: &str) -> PathBuf {
    std::fs::set_permissions(a.env.home(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let dir = a.env.path(name);
    std::fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    dir
}

#[test]
fn a_connection_from_another_uid_is_refused() {
    if !nobody_available() {
        eprintln!("skipped: needs root and setpriv to run a client as nobody");
        return;
    }
    let a = AgentEnv::new();
    let pid = a.unlock(&[]);
    // Open the file-mode fence on purpose, so only the SO_PEERCRED checks stand
    // between nobody and the agent.
    for dir in [a.env.home().to_path_buf(), a.env.path("run")] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    }
    std::fs::set_permissions(a.socket(), std::fs::Permissions::from_mode(0o666)).unwrap();
    // nobody's amanat refuses root's socket itself (issue 11): the directory is not
    // nobody's, so nothing is sent. It runs a copy of the binary inside the (now
    // traversable) home: the build directory may sit where nobody cannot reach it.
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
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.error(),
        format!(
            "not using the agent at {}: the directory {} belongs to uid 0, not to you (uid 65534); nothing was sent to it",
            a.socket().display(),
            a.env.path("run").display()
        )
    );
    assert!(!out.stdout.contains("alice"), "{out:?}");
    // A raw client of nobody's gets past every client-side check: the agent refuses it.
    let record = nobodys_dir(&a, "nobody").join("reply");
    let mut helper = helper_as_nobody(&a, "hello", &a.socket(), &record);
    assert!(helper.wait().unwrap().success());
    let reply: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["kind"], "uid", "{reply}");
    assert_eq!(reply["message"], "connection refused: peer is another user");
    // The agent keeps serving its own user (once the directory is private again: its
    // own clients refuse it while it is open).
    std::fs::set_permissions(a.env.path("run"), std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(alive(pid));
    assert_eq!(a.get().success().stdout, "S3cret!\n");
    a.run(&["lock"]).success();
}

/// Listen on `socket` in this process and count what arrives: `(connections, bytes)`
/// once `stop` is called.
struct Listener {
    seen: std::sync::Arc<std::sync::Mutex<(usize, usize)>>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Listener {
    fn start(socket: PathBuf) -> Self {
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        listener.set_nonblocking(true).unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new((0, 0)));
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = {
            let (seen, done) = (seen.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    let Ok((mut stream, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    };
                    stream.set_nonblocking(false).unwrap();
                    stream
                        .set_read_timeout(Some(Duration::from_secs(5)))
                        .unwrap();
                    let mut got = Vec::new();
                    let _ = stream.read_to_end(&mut got);
                    let mut seen = seen.lock().unwrap();
                    seen.0 += 1;
                    seen.1 += got.len();
                }
            })
        };
        Self {
            seen,
            done,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> (usize, usize) {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
        *self.seen.lock().unwrap()
    }
}

/// Run `args` as alice (root in CI) with `AMANAT_AGENT_SOCK` = `socket`.
fn run_with_socket(a: &AgentEnv, socket: &std::path::Path, args: &[&str]) -> Outcome {
    let mut cmd = a.command(args, true);
    cmd.env("AMANAT_AGENT_SOCK", socket);
    let mut cmd = assert_cmd::Command::from_std(cmd);
    cmd.timeout(common::COMMAND_TIMEOUT);
    Outcome::from(cmd.output().unwrap())
}

/// Issue 11, "fake agent": without `XDG_RUNTIME_DIR` the socket is
/// `/tmp/amanat-UID/agent.sock`, and another local user can create that directory
/// first and listen there. A socket whose directory is not private to us (another
/// owner, or open to group or others) gets nothing: no `hello`, no passphrase; reads
/// fall back to the vault, `unlock`, `lock` and `agent status` refuse it by name.
#[test]
fn a_socket_in_a_directory_that_is_not_ours_gets_nothing() {
    let a = AgentEnv::new();
    // Everywhere: a directory of ours, but open to others (mode 0755).
    let open = a.env.path("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cases = vec![(
        open.clone(),
        format!(
            "the directory {} is open to group or others (mode 0755; it must be 0700)",
            open.display()
        ),
    )];
    // As root: /tmp/amanat-0 made by nobody first (mode 0700, as a careful attacker
    // would; root can still bind and connect in it).
    if rustix::process::getuid().is_root() {
        let squat = a.env.path("amanat-0");
        std::fs::create_dir(&squat).unwrap();
        std::os::unix::fs::chown(&squat, Some(65534), Some(65534)).unwrap();
        cases.push((
            squat.clone(),
            format!(
                "the directory {} belongs to uid 65534, not to you (uid 0)",
                squat.display()
            ),
        ));
    } else {
        eprintln!("partly skipped: needs root to make a directory owned by nobody");
    }
    for (dir, reason) in cases {
        let socket = dir.join("agent.sock");
        let fake = Listener::start(socket.clone());
        let warning = format!(
            "warning: not using the agent at {}: {reason}; nothing was sent to it",
            socket.display()
        );
        // Reads fall back to the local path (the passphrase file), with a warning.
        let out = run_with_socket(&a, &socket, &["get", "web/github"]).success();
        assert_eq!(out.stdout, "S3cret!\n");
        assert!(out.stderr.contains(&warning), "{out:?}");
        let out = run_with_socket(&a, &socket, &["ls"]).success();
        assert!(out.stderr.contains(&warning), "{out:?}");
        // Writes too (they would ask the agent for signatures).
        let mut cmd = a.command(&["add", "db/x", "--password-stdin"], true);
        cmd.env("AMANAT_AGENT_SOCK", &socket);
        let mut cmd = assert_cmd::Command::from_std(cmd);
        cmd.timeout(common::COMMAND_TIMEOUT).write_stdin("x\n");
        let out = Outcome::from(cmd.output().unwrap()).success();
        assert!(out.stderr.contains(&warning), "{out:?}");
        a.run(&["rm", "db/x"]).success();
        // unlock refuses before it asks for the passphrase, and starts no agent.
        let error = format!(
            "not using the agent at {}: {reason}; nothing was sent to it",
            socket.display()
        );
        for args in [&["unlock"][..], &["lock"], &["agent", "status"]] {
            let out = run_with_socket(&a, &socket, args).code(1);
            assert_eq!(out.error(), error, "{args:?}: {out:?}");
            assert!(out.hint().contains("AMANAT_AGENT_SOCK"), "{out:?}");
        }
        // No agent was started there (an agent takes its lock file first).
        assert!(!dir.join("agent.sock.lock").exists());
        // The fake agent was never even connected to.
        assert_eq!(fake.stop(), (0, 0), "{}", dir.display());
    }
}

/// The fake agent's directory may even be ours (a socket moved or linked into it): the
/// listener's uid (`SO_PEERCRED`) is checked before anything is sent.
#[test]
fn a_listener_of_another_uid_gets_nothing() {
    if !nobody_available() {
        eprintln!("skipped: needs root and setpriv to run a listener as nobody");
        return;
    }
    let a = AgentEnv::new();
    let theirs = nobodys_dir(&a, "nobody");
    let record = theirs.join("record");
    let planted = theirs.join("agent.sock");
    let mut fake = helper_as_nobody(&a, "fake-agent", &planted, &record);
    wait_until("nobody's fake agent listens", || planted.exists());
    // Our private directory, with nobody's listening socket in it.
    let ours = a.env.path("run");
    std::fs::create_dir(&ours).unwrap();
    std::fs::set_permissions(&ours, std::fs::Permissions::from_mode(0o700)).unwrap();
    let socket = ours.join("agent.sock");
    std::fs::rename(&planted, &socket).unwrap();
    let reason = "the process listening on it runs as uid 65534, not as you (uid 0)";
    let out = run_with_socket(&a, &socket, &["get", "web/github"]).success();
    assert_eq!(out.stdout, "S3cret!\n");
    assert!(
        out.stderr.contains(&format!(
            "warning: not using the agent at {}: {reason}; nothing was sent to it",
            socket.display()
        )),
        "{out:?}"
    );
    let out = run_with_socket(&a, &socket, &["unlock"]).code(1);
    assert_eq!(
        out.error(),
        format!(
            "not using the agent at {}: {reason}; nothing was sent to it",
            socket.display()
        )
    );
    // Both commands connected, and sent not one byte: no hello, no passphrase.
    wait_until("the fake agent records two connections", || {
        std::fs::read_to_string(&record).is_ok_and(|r| r.lines().count() >= 2)
    });
    let _ = fake.kill();
    let _ = fake.wait();
    let record = std::fs::read_to_string(&record).unwrap();
    assert!(record.lines().all(|l| l == "0"), "{record}");
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
    a.pids.lock().unwrap().push(common::agent_pid(&stdout));
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

/// `amanat ARGS` with no passphrase source, `stdin` on its standard input.
fn run_stdin_without_passphrase(a: &AgentEnv, args: &[&str], stdin: &str) -> Outcome {
    let mut cmd = assert_cmd::Command::from_std(a.command(args, false));
    cmd.timeout(common::COMMAND_TIMEOUT).write_stdin(stdin);
    Outcome::from(cmd.output().unwrap())
}

#[test]
fn writes_and_team_commands_use_the_agent() {
    let a = AgentEnv::new();
    let bob = TestEnv::new().with_passphrase_file("bob's passphrase\n");
    let (bob_key, bob_fp) = bob.identity_new("bob");
    // Locked: a write needs the passphrase, and there is none.
    run_stdin_without_passphrase(&a, &["add", "db/prod", "--password-stdin"], "pr0d\n").code(3);

    a.unlock(&[]);
    let none = |args: &[&str]| a.run_without_passphrase(args).success();
    let out = run_stdin_without_passphrase(&a, &["add", "db/prod", "--password-stdin"], "pr0d\n");
    assert_eq!(out.success().stdout, "added db/prod\n");
    none(&["add", "db/gen", "--generate", "--length", "24"]);
    none(&["edit", "web/github", "--username", "alice2"]);
    none(&["mv", "db/gen", "db/generated"]);
    none(&["rm", "db/generated"]);
    none(&["member", "add", "bob", &bob_key, "--fingerprint", &bob_fp]);
    none(&["group", "create", "ops", "bob"]);
    none(&["share", "db/prod", "--with", "@ops"]);
    none(&["access", "db/prod"]);
    none(&["audit"]);
    none(&["report", "access", "--format", "csv"]);
    none(&["member", "rm", "bob"]);

    // Every record the agent signed verifies, and the writes are what they say.
    a.run_without_passphrase(&["verify"]).success();
    assert_eq!(none(&["get", "db/prod"]).stdout, "pr0d\n");
    assert_eq!(
        none(&["get", "web/github", "--field", "username"]).stdout,
        "alice2\n"
    );
    assert_eq!(none(&["ls"]).stdout, "db/prod\nweb/github\n");
    // The same reads without the agent, with the passphrase: the vault is ordinary.
    a.run(&["lock"]).success();
    assert_eq!(a.env.get("db/prod", "password"), "pr0d");
}

/// Hello, then one request; the reply.
fn ask_raw(a: &AgentEnv, request: serde_json::Value) -> serde_json::Value {
    let mut s = connect(a);
    s.write_all(&frame(br#"{"type":"hello","version":3}"#))
        .unwrap();
    assert_eq!(read_reply(&mut s).unwrap()["type"], "hello");
    s.write_all(&frame(request.to_string().as_bytes())).unwrap();
    read_reply(&mut s).unwrap()
}

#[test]
fn the_agent_signs_only_its_members_records_and_never_hands_out_keys() {
    use amanat::format::{MemberId, RecordBody, RecordId, StoredRecord, hex_string};
    let a = AgentEnv::new();
    let pid = a.unlock(&[]);
    let binding = serde_json::json!({
        "identity": a.env.identity_path(),
        "vault": a.env.vault_path(),
        "state": a.env.state_dir(),
    });
    let sign = |record: &str| {
        ask_raw(
            &a,
            serde_json::json!({"type": "sign", "binding": binding, "record": record}),
        )
    };

    let keys = ask_raw(&a, serde_json::json!({"type": "keys", "binding": binding}));
    assert_eq!(keys["type"], "keys", "{keys}");
    assert_eq!(keys["name"], "alice");
    let public = keys["public_key"].as_str().unwrap();
    assert!(public.starts_with("amanat1"));
    // Only the public half: the reply is the public key text and the name.
    assert_eq!(keys.as_object().unwrap().len(), 3, "{keys}");

    // Arbitrary bytes are not a record: refused.
    let reply = sign(&hex_string(b"please sign this login challenge"));
    assert_eq!(reply["kind"], "protocol", "{reply}");
    assert_eq!(sign("zz")["kind"], "protocol");
    // A well-formed record authored by another member id: refused.
    let foreign = forge::record(
        vec![RecordId([1; 32])],
        MemberId([7; 16]),
        0,
        RecordBody::RemoveMember {
            member: MemberId([8; 16]),
        },
    );
    let (bytes, _) = StoredRecord::encode(foreign).unwrap();
    let reply = sign(&hex_string(&bytes));
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["kind"], "denied", "{reply}");
    // Another binding (another vault path): refused, and the agent says so.
    let mut other = binding.clone();
    other["vault"] = serde_json::json!("/nonexistent/vault");
    let reply = ask_raw(
        &a,
        serde_json::json!({"type": "sign", "binding": other, "record": hex_string(&bytes)}),
    );
    assert_eq!(reply["kind"], "mismatch", "{reply}");
    // A key wrap that is not addressed to this identity does not open.
    let reply = ask_raw(
        &a,
        serde_json::json!({"type": "unwrap", "binding": binding, "info": "00",
            "enc": hex_string(&[9; 32]), "sealed": hex_string(&[1; 48])}),
    );
    assert_eq!(reply["kind"], "integrity", "{reply}");
    let reply = ask_raw(
        &a,
        serde_json::json!({"type": "unwrap", "binding": binding, "info": "00",
            "enc": "00", "sealed": "00"}),
    );
    assert_eq!(reply["kind"], "protocol", "{reply}");

    assert!(alive(pid));
    assert_eq!(a.get().success().stdout, "S3cret!\n");
    a.run(&["lock"]).success();
}

#[test]
fn concurrent_writers_and_readers_through_the_agent_do_not_deadlock() {
    // A writer holds the vault lock while it asks the agent for signatures; a reader
    // that makes the agent reload the vault must not leave the agent waiting for that
    // lock (it would wait for the writer, which waits for the agent).
    let a = AgentEnv::new();
    a.unlock(&[]);
    std::thread::scope(|scope| {
        for w in 0..3 {
            let a = &a;
            scope.spawn(move || {
                for i in 0..5 {
                    let path = format!("w{w}/e{i}");
                    let out = run_stdin_without_passphrase(
                        a,
                        &["add", &path, "--password-stdin"],
                        "pw\n",
                    );
                    assert_eq!(out.success().stdout, format!("added {path}\n"));
                }
            });
        }
        for _ in 0..2 {
            let a = &a;
            scope.spawn(move || {
                for _ in 0..8 {
                    assert_eq!(a.get().success().stdout, "S3cret!\n");
                }
            });
        }
    });
    let ls = a.run_without_passphrase(&["ls"]).success();
    assert_eq!(ls.stdout.lines().count(), 16, "{ls:?}");
    a.run_without_passphrase(&["verify"]).success();
    a.run(&["lock"]).success();
}

#[test]
fn the_memory_lock_notice_is_shown_once() {
    let a = AgentEnv::new();
    let first = a.run(&["unlock"]).success();
    a.pids
        .lock()
        .unwrap()
        .push(common::agent_pid(&first.stdout));
    let note = "could not lock its memory";
    if a.status()["memory_locked"] == true {
        // Root or an unlimited RLIMIT_MEMLOCK: locked, so never a note.
        assert!(!first.stderr.contains(note), "{first:?}");
    } else {
        assert!(first.stderr.contains(note), "{first:?}");
    }
    let second = a.run(&["unlock"]).success();
    assert!(!second.stderr.contains(note), "{second:?}");
    a.run(&["lock"]).success();
}

#[test]
fn init_signs_the_new_vault_through_the_agent() {
    let env = TestEnv::new().with_passphrase_file(&format!("{}\n", common::PASSPHRASE));
    env.identity_new("alice");
    let a = AgentEnv {
        env,
        pids: Default::default(),
    };
    a.unlock(&[]);
    let out = a
        .run_without_passphrase(&["init", "--name", "acme"])
        .success();
    assert!(out.stdout.starts_with("vault: "), "{out:?}");
    run_stdin_without_passphrase(&a, &["add", "x/y", "--password-stdin"], "pw\n").success();
    a.run_without_passphrase(&["verify"]).success();
    assert_eq!(
        a.run_without_passphrase(&["get", "x/y"]).success().stdout,
        "pw\n"
    );
    a.run(&["lock"]).success();
}

#[test]
fn the_agent_signs_no_fake_genesis_and_nothing_built_on_one() {
    // Issue 9, finding 8: a same-uid process crafts a genesis naming this identity's
    // member id and keys, has it signed, then has records "by" that member signed on top
    // of it. The agent signs only records of the vault it loaded from the bound path
    // (pins checked): with a vault there, no genesis, and no record whose parents are not
    // that vault's records (or records it signed for it).
    use amanat::format::{MemberId, Record, RecordBody, StoredRecord, hex_string};
    let a = AgentEnv::new();
    a.unlock(&[]);
    let binding = serde_json::json!({
        "identity": a.env.identity_path(),
        "vault": a.env.vault_path(),
        "state": a.env.state_dir(),
    });
    let sign = |record: &Record| {
        let (bytes, _) = StoredRecord::encode(record.clone()).unwrap();
        ask_raw(
            &a,
            serde_json::json!({"type": "sign", "binding": binding, "record": hex_string(&bytes)}),
        )
    };
    let vault = amanat::vault::Vault::decode(&vault_bytes(&a.env.vault_path())).unwrap();
    let me = vault.members().find(|m| m.name == "alice").unwrap().clone();

    let genesis = forge::record(
        vec![],
        me.id,
        1,
        RecordBody::Genesis(forge::genesis(
            "fake".into(),
            me.id,
            "alice".into(),
            me.keys,
            [3; 16],
        )),
    );
    let reply = sign(&genesis);
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["kind"], "denied", "{reply}");
    let (_, fake_id) = StoredRecord::encode(genesis).unwrap();

    let remove = |parents: Vec<amanat::format::RecordId>| {
        forge::record(
            parents,
            me.id,
            2,
            RecordBody::RemoveMember {
                member: MemberId([8; 16]),
            },
        )
    };
    // On the fake genesis, alone or beside a real head: refused.
    let reply = sign(&remove(vec![fake_id]));
    assert_eq!(reply["kind"], "denied", "{reply}");
    let mut mixed = vault.heads();
    mixed.push(fake_id);
    mixed.sort();
    let reply = sign(&remove(mixed));
    assert_eq!(reply["kind"], "denied", "{reply}");
    // No parents at all (only a genesis has none): refused.
    let reply = sign(&remove(vec![]));
    assert_eq!(reply["type"], "error", "{reply}");
    // The same record on the vault's real heads: signed (the agent still signs writes).
    let reply = sign(&remove(vault.heads()));
    assert_eq!(reply["type"], "signature", "{reply}");

    // Writes through the agent still work, and so does everything they signed.
    run_stdin_without_passphrase(&a, &["add", "x/y", "--password-stdin"], "pw\n").success();
    a.run_without_passphrase(&["edit", "x/y", "--username", "u"])
        .success();
    a.run_without_passphrase(&["verify"]).success();
    a.run(&["lock"]).success();
}

#[test]
fn requests_without_fields_refuse_unknown_fields() {
    // Issue 9, finding 10: `status` and `lock` are exactly `{"type": …}`.
    let a = AgentEnv::new();
    let pid = a.unlock(&[]);
    for request in [
        serde_json::json!({"type": "status", "x": 1}),
        serde_json::json!({"type": "lock", "binding": null}),
    ] {
        let reply = ask_raw(&a, request);
        assert_eq!(reply["type"], "error", "{reply}");
        assert_eq!(reply["kind"], "protocol", "{reply}");
    }
    assert!(alive(pid), "an unknown field must not lock the agent");
    assert_eq!(
        ask_raw(&a, serde_json::json!({"type": "status"}))["type"],
        "status"
    );
    a.run(&["lock"]).success();
}

fn segments(a: &AgentEnv) -> usize {
    std::fs::read_dir(a.env.vault_path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".seg"))
        })
        .count()
}

#[test]
fn the_agent_makes_add_itself_and_hands_back_what_it_cannot() {
    let a = AgentEnv::new();
    a.unlock(&[]);
    let before = segments(&a);
    for i in 0..4 {
        let out = run_stdin_without_passphrase(
            &a,
            &["add", &format!("db/e{i}"), "--password-stdin"],
            &format!("pw{i}\n"),
        );
        assert_eq!(out.success().stdout, format!("added db/e{i}\n"));
    }
    // Made by the agent, one segment each; its cache serves them at once.
    assert_eq!(a.status()["entries_added"], 4);
    assert_eq!(segments(&a), before + 4);
    assert_eq!(
        a.run_without_passphrase(&["get", "db/e2"]).success().stdout,
        "pw2\n"
    );

    // What the agent does not make is made here, with the error a local write gives.
    let taken = run_stdin_without_passphrase(&a, &["add", "db/e1", "--password-stdin"], "x\n");
    assert!(taken.code(1).error().contains("already"));
    let nobody = run_stdin_without_passphrase(
        &a,
        &["add", "db/x", "--password-stdin", "--share-with", "@nobody"],
        "x\n",
    );
    nobody.code(4);
    assert_eq!(a.status()["entries_added"], 4);

    // A write from elsewhere (no agent, the passphrase file): the agent reads it in
    // before its next write, which builds on it.
    a.env.add_with("web/other", "0ther", &[]);
    run_stdin_without_passphrase(&a, &["add", "db/after", "--password-stdin"], "aft\n").success();
    assert_eq!(a.status()["entries_added"], 5);
    a.run_without_passphrase(&["verify"]).success();
    let log = a.run_without_passphrase(&["log"]).success().stdout;
    assert!(
        log.contains("web/other") && log.contains("db/after"),
        "{log}"
    );

    // Another writer holds the vault's lock: the agent does not wait for it (that
    // writer may be waiting for the agent); the client writes itself once it is free.
    let locks: Vec<_> = std::fs::read_dir(a.env.state_dir().join("locks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(locks.len(), 1, "{locks:?}");
    let held = std::fs::OpenOptions::new()
        .write(true)
        .open(&locks[0])
        .unwrap();
    held.lock().unwrap();
    std::thread::scope(|scope| {
        let a = &a;
        let add = scope.spawn(move || {
            run_stdin_without_passphrase(a, &["add", "db/late", "--password-stdin"], "l8\n")
        });
        std::thread::sleep(Duration::from_millis(700));
        assert!(!add.is_finished(), "the write did not wait for the lock");
        held.unlock().unwrap();
        add.join().unwrap().success();
    });
    assert_eq!(a.status()["entries_added"], 5);

    // Everything the agent wrote is an ordinary vault: read it without the agent.
    a.run(&["lock"]).success();
    Outcome::from(a.env.cmd(&["verify"]).output().unwrap()).success();
    for (path, pw) in [
        ("db/e0", "pw0"),
        ("db/e3", "pw3"),
        ("db/after", "aft"),
        ("db/late", "l8"),
    ] {
        assert_eq!(a.env.get(path, "password"), pw);
    }
}

#[test]
fn errors_through_the_agent_have_the_local_exit_code_and_hint() {
    // bob is no member of alice's vault: the same refusal, with the same exit code
    // and next step, whether the agent answers or the command works locally (the
    // agent used to give a "not a member" refusal the hint of a wrong-uid socket).
    let a = AgentEnv::new();
    let bob = TestEnv::new().with_passphrase_file("bob's passphrase\n");
    bob.identity_new("bob");
    std::fs::create_dir_all(bob.path("run")).unwrap();
    std::fs::set_permissions(bob.path("run"), std::fs::Permissions::from_mode(0o700)).unwrap();
    let run = |args: &[&str], passphrase: bool| {
        let mut cmd = bob.detached_command(args);
        cmd.env("AMANAT_VAULT", a.env.vault_path())
            .env("AMANAT_AGENT_SOCK", bob.path("run/agent.sock"));
        if !passphrase {
            cmd.env_remove("AMANAT_PASSPHRASE_FILE");
        }
        let mut cmd = assert_cmd::Command::from_std(cmd);
        cmd.timeout(common::COMMAND_TIMEOUT);
        Outcome::from(cmd.output().unwrap())
    };
    let local = run(&["get", "web/github"], true).code(5);
    let out = run(&["unlock"], true).success();
    a.pids.lock().unwrap().push(common::agent_pid(&out.stdout));
    let through = run(&["get", "web/github"], false).code(5);
    assert_eq!(through.error(), local.error());
    assert_eq!(through.hint(), local.hint());
    assert!(
        through.hint().contains("ask an admin"),
        "{}",
        through.hint()
    );
    run(&["lock"], false).success();
}

/// A stand-in agent on `a`'s socket that answers `hello`, `keys` (alice's public key)
/// and refuses reads as locked, then vanishes — closes the connection and its socket
/// — at the first request that needs the secret keys (`sign` or `unwrap`): an agent
/// going away in the middle of a write. Returns how many times it vanished.
fn vanishing_agent(a: &AgentEnv, public_key: String) -> std::thread::JoinHandle<usize> {
    let dir = a.socket().parent().unwrap().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(a.socket()).unwrap();
    listener.set_nonblocking(true).unwrap();
    let socket = a.socket();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let Ok((mut s, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            s.set_nonblocking(false).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            while let Some(req) = read_reply(&mut s) {
                let reply = match req["type"].as_str().unwrap_or("") {
                    "hello" => serde_json::json!({"type": "hello", "version": 3, "pid": 1}),
                    "keys" => {
                        serde_json::json!({"type": "keys", "name": "alice", "public_key": public_key})
                    }
                    "sign" | "unwrap" => {
                        // Gone: the connection and the socket.
                        drop(s);
                        let _ = std::fs::remove_file(&socket);
                        return 1;
                    }
                    _ => {
                        serde_json::json!({"type": "error", "kind": "locked", "message": "locked"})
                    }
                };
                s.write_all(&frame(reply.to_string().as_bytes())).unwrap();
            }
        }
        0
    })
}

#[test]
fn a_write_whose_agent_vanishes_midway_finishes_locally_or_writes_nothing() {
    let a = AgentEnv::new();
    let key = a.run(&["identity", "show"]).success().stdout;
    let key = key.lines().next().unwrap().to_string();

    // No passphrase source: the write stops before anything is written (exit 3).
    let agent = vanishing_agent(&a, key.clone());
    let before = vault_bytes(&a.env.vault_path());
    let out = a.run_without_passphrase(&["edit", "web/github", "--username", "alice2"]);
    assert_eq!(agent.join().unwrap(), 1, "the stand-in agent was not used");
    out.code(3);
    assert_eq!(vault_bytes(&a.env.vault_path()), before, "a write was made");

    // With the passphrase file: it unlocks here and finishes the write.
    let agent = vanishing_agent(&a, key);
    let out = a.run(&["edit", "web/github", "--username", "alice2"]);
    assert_eq!(agent.join().unwrap(), 1, "the stand-in agent was not used");
    let out = out.success();
    assert!(
        out.stderr.contains("the unlock agent went away"),
        "{}",
        out.stderr
    );
    a.run(&["verify"]).success();
    assert_eq!(a.env.get("web/github", "username"), "alice2");
}

/// The yearly review works through the agent (issue 13): `review` and `review --mark`
/// of several entries in one append (each record signed by the agent, the second on
/// the first), and `report evidence` says it needs the passphrase here.
#[test]
fn review_marks_through_the_agent_without_a_passphrase() {
    let a = AgentEnv::new();
    a.env.add("web/gitlab", "S3cret!2");
    a.unlock(&[]);
    let out = a
        .run_without_passphrase(&["review", "--mark", "--all-under", "web/", "--note", "ok"])
        .success();
    assert_eq!(out.stdout, "web/github\nweb/gitlab\n");
    let rows = a
        .run_without_passphrase(&["review", "--json"])
        .success()
        .json();
    for row in rows.as_array().unwrap() {
        assert_eq!(row["last_reviewed"]["by"], "alice", "{row}");
        assert_eq!(row["last_reviewed"]["note"], "ok", "{row}");
    }
    a.run_without_passphrase(&["verify"]).success();
    let pack = a.env.path("pack").display().to_string();
    a.run_without_passphrase(&["report", "evidence", "--out", &pack])
        .code(3);
    a.run(&["lock"]).success();
}
