//! Fault handling of the store (issue 10, "Fault handling (store)"): a full
//! filesystem under the vault directory or the state directory, a read-only vault
//! directory, segments replaced by symbolic links, directories and FIFOs, processes
//! killed with SIGKILL during writes and compactions, and concurrent writers mixing
//! every kind of write with compaction.
//!
//! Every process runs the built binary in a hermetic environment (`env_clear`, then
//! PATH, HOME, the XDG base directories and `AMANAT_PASSPHRASE_FILE`, all inside a
//! temporary directory), as in `tests/stress.rs`. Nothing is asserted about how long
//! anything takes; the only clock is a generous deadline that turns a hang (a stale
//! lock, a FIFO opened for reading) into a failure.
//!
//! Full filesystems and read-only mounts need a private mount namespace: such a test
//! runs itself again under `unshare -rm` (or `unshare -m` as root), where it may mount
//! a small tmpfs or a read-only bind mount that vanish with the namespace. Where
//! neither works, the test says why on stderr and passes without testing anything
//! (run with `--nocapture` to see it).
//!
//! The killed-process test draws its choices from a seeded generator: set
//! `AMANAT_FAULTS_SEED` to replay a run (the seed is printed with `--nocapture`).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_amanat");
/// A command that has not finished by then is taken to hang (a stale lock, a FIFO).
const HANG: Duration = Duration::from_secs(120);
const ENOSPC: &str = "No space left on device";

// ---------------------------------------------------------------------------------
// The environment
// ---------------------------------------------------------------------------------

/// A home, XDG directories, an identity `alice` and a vault `acme`, all in a temp dir.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    /// Identity and vault created.
    fn new() -> Self {
        let env = Self::bare();
        env.init();
        env
    }

    /// Only the home directory and the passphrase file: nothing of amanat's yet.
    fn bare() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("home")).unwrap();
        fs::write(dir.path().join("passphrase"), "correct horse battery\n").unwrap();
        fs::set_permissions(
            dir.path().join("passphrase"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        Self { dir }
    }

    /// `identity new` (alice) and `init` (acme).
    fn init(&self) {
        self.ok(
            &["identity", "new", "--name", "alice", "--insecure-kdf"],
            None,
        );
        self.ok(&["init", "--name", "acme"], None);
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `$XDG_DATA_HOME`, which holds the vault directory.
    fn data_home(&self) -> PathBuf {
        self.root().join("data")
    }

    /// `$XDG_STATE_HOME`, which holds the pins and the locks.
    fn state_home(&self) -> PathBuf {
        self.root().join("state")
    }

    /// The vault directory.
    fn vault(&self) -> PathBuf {
        self.data_home().join("amanat/vault")
    }

    fn pins_dir(&self) -> PathBuf {
        self.state_home().join("amanat/pins")
    }

    /// A directory outside the vault, for the targets of symbolic links.
    fn outside(&self) -> PathBuf {
        let dir = self.root().join("outside");
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The names of the vault's `*.seg` entries, whatever their type.
    fn segment_names(&self) -> BTreeSet<String> {
        fs::read_dir(self.vault())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".seg") && !n.starts_with('.'))
            .collect()
    }

    /// Every entry of the vault directory and its bytes (`None`: not a regular file).
    fn snapshot(&self) -> BTreeMap<String, Option<Vec<u8>>> {
        fs::read_dir(self.vault())
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let bytes = e
                    .file_type()
                    .unwrap()
                    .is_file()
                    .then(|| fs::read(e.path()).unwrap());
                (e.file_name().to_string_lossy().into_owned(), bytes)
            })
            .collect()
    }

    /// `program` (the binary unless told) with the hermetic environment.
    fn command_of(&self, program: &str) -> Command {
        let r = self.root();
        let mut cmd = Command::new(program);
        common::hermetic(&mut cmd, r, &r.join("passphrase"))
            .env("HOME", r.join("home"))
            .env("XDG_DATA_HOME", self.data_home())
            .env("XDG_STATE_HOME", self.state_home())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.command_of(BIN);
        cmd.args(args);
        cmd
    }

    /// Start `amanat args`, with `stdin` written to it (then closed).
    fn spawn(&self, args: &[&str], stdin: Option<&str>) -> Child {
        spawn_with(&mut self.command(args), stdin)
    }

    /// Run `amanat args` to completion (fails the test if it hangs).
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Out {
        let what = format!("amanat {}", args.join(" "));
        Out::from(finish(self.spawn(args, stdin), &what), what)
    }

    /// Run and require exit 0; returns stdout.
    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        self.run(args, stdin).code(0).stdout
    }

    /// Run and require exit 0, with local state of another machine (its own pins):
    /// for work on a copy of the vault that must not move this machine's pins.
    fn ok_elsewhere(&self, args: &[&str], stdin: Option<&str>) -> String {
        let mut cmd = self.command(args);
        cmd.env("XDG_STATE_HOME", self.root().join("other-state"));
        let what = format!("amanat {} (other state)", args.join(" "));
        Out::from(finish(spawn_with(&mut cmd, stdin), &what), what)
            .code(0)
            .stdout
    }

    fn add(&self, path: &str, password: &str) {
        self.ok(
            &["add", path, "--password-stdin"],
            Some(&format!("{password}\n")),
        );
    }

    /// Add an entry and return the name of the one segment the add wrote.
    fn add_segment(&self, path: &str, password: &str) -> String {
        let before = self.segment_names();
        self.add(path, password);
        let new: Vec<String> = self.segment_names().difference(&before).cloned().collect();
        assert_eq!(new.len(), 1, "add {path} wrote {new:?}");
        new.into_iter().next().unwrap()
    }

    fn ls(&self) -> Vec<String> {
        lines(&self.ok(&["ls"], None))
    }

    fn get(&self, path: &str) -> String {
        let out = self.ok(&["get", path], None);
        out.strip_suffix('\n').unwrap_or(&out).to_string()
    }

    fn verify(&self) {
        let out = self.ok(&["verify"], None);
        assert!(out.starts_with("ok: "), "verify printed {out:?}");
    }
}

/// What a command did.
#[derive(Debug)]
struct Out {
    what: String,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Out {
    fn from(out: Output, what: String) -> Self {
        Self {
            what,
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Require this exit code.
    fn code(self, code: i32) -> Self {
        assert_eq!(
            self.status.code(),
            Some(code),
            "{} exited with {}, want {code}: stdout {:?}, stderr {:?}",
            self.what,
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// The `error:` lines of stderr (each must be a single line).
    fn errors(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect()
    }

    /// The one error line, which must name `path` and say `why`; every other line of
    /// stderr is a warning or the hint.
    fn one_error_naming(&self, path: &Path, why: &str) -> &str {
        let errors = self.errors();
        assert_eq!(errors.len(), 1, "{}: stderr {:?}", self.what, self.stderr);
        let line = errors[0];
        assert!(
            line.contains(&path.display().to_string()) && line.contains(why),
            "{}: the error does not name {} and say {why:?}: {line:?}",
            self.what,
            path.display()
        );
        for other in self.stderr.lines() {
            assert!(
                other == line || other.starts_with("warning:") || other.starts_with("hint:"),
                "{}: stray stderr line {other:?}",
                self.what
            );
        }
        line
    }
}

fn spawn_with(cmd: &mut Command, stdin: Option<&str>) -> Child {
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        // A few bytes fit in the pipe buffer: this never blocks, and the child is
        // alive (nobody killed it yet), so it cannot fail with EPIPE either.
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(text.as_bytes()).unwrap();
    }
    child
}

/// Wait for a child (draining its pipes), failing the test if it outlives [`HANG`].
fn finish(mut child: Child, what: &str) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > HANG {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{what} still running after {HANG:?} (stale lock? blocked on a FIFO?); stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        thread::sleep(Duration::from_millis(2));
    }
}

fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::to_string).collect()
}

/// Leftover temporary files of the atomic writes (`.<name>.XXXXXX.tmp`) in `dir`.
fn temp_files(dir: &Path) -> Vec<String> {
    let Ok(read) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = read
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n.ends_with(".tmp"))
        .collect();
    out.sort();
    out
}

/// Every regular `*.seg` file in `dir` is named by the SHA-256 of its bytes (checked
/// here, independently of `verify`).
fn assert_segments_sound(dir: &Path) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".seg") || name.starts_with('.') {
            continue;
        }
        assert!(
            entry.file_type().unwrap().is_file(),
            "{name} is not a regular file"
        );
        let bytes = fs::read(entry.path()).unwrap();
        let want = format!("{}.seg", hex::encode(Sha256::digest(&bytes)));
        assert_eq!(name, want, "segment {name} is not named by its hash");
    }
}

/// A small deterministic generator (SplitMix64): replayable without a crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn seed() -> u64 {
    std::env::var("AMANAT_FAULTS_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0x00a3_a4a7_f417)
}

// ---------------------------------------------------------------------------------
// Mount namespaces (full filesystems, read-only mounts)
// ---------------------------------------------------------------------------------

/// Set in the copy of the test binary that runs a test in a private mount namespace.
const NAMESPACE_VAR: &str = "AMANAT_FAULTS_NAMESPACE";

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Whether this process may mount for `test`: true in the copy of the test binary
/// started for it in a private mount namespace. Otherwise runs that copy (its output
/// passed on), fails if it failed, and returns false; or, when no namespace can be
/// made here, says why on stderr and returns false (the test is skipped).
fn in_private_mounts(test: &str) -> bool {
    if std::env::var(NAMESPACE_VAR).as_deref() == Ok(test) {
        return true;
    }
    let probe = tempfile::tempdir().unwrap();
    let mut tried = Vec::new();
    for flags in [&["-r", "-m"][..], &["-m"][..]] {
        let out = Command::new("unshare")
            .args(flags)
            .args(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(probe.path())
            .stdin(Stdio::null())
            .output();
        match out {
            Ok(o) if o.status.success() => {
                let out = Command::new("unshare")
                    .args(flags)
                    .arg(std::env::current_exe().unwrap())
                    .args([test, "--exact", "--nocapture", "--include-ignored"])
                    .args(["--test-threads", "1"])
                    .env(NAMESPACE_VAR, test)
                    .stdin(Stdio::null())
                    .output()
                    .unwrap();
                let stdout = String::from_utf8_lossy(&out.stdout);
                let stderr = String::from_utf8_lossy(&out.stderr);
                eprintln!("{test} in a private mount namespace (unshare {flags:?}):\n{stderr}");
                assert!(
                    out.status.success() && stdout.contains("1 passed"),
                    "{test} failed in its mount namespace ({}):\n{stdout}\n{stderr}",
                    out.status
                );
                return false;
            }
            Ok(o) => tried.push(format!(
                "unshare {}: {}",
                flags.join(" "),
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => tried.push(format!("unshare: {e}")),
        }
    }
    eprintln!(
        "SKIPPED {test}: cannot mount in a private mount namespace here ({})",
        tried.join("; ")
    );
    false
}

/// A mount in this process's private namespace, undone when dropped.
struct Mount(PathBuf);

impl Mount {
    /// A tmpfs of `size` (as `mount -o size=` takes it) at `at`.
    fn tmpfs(at: &Path, size: &str) -> Self {
        fs::create_dir_all(at).unwrap();
        mount(&[
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size},mode=0700"),
            "tmpfs",
            &at.display().to_string(),
        ]);
        Self(at.to_path_buf())
    }

    /// `at` bound onto itself, read-only.
    fn read_only(at: &Path) -> Self {
        let at_s = at.display().to_string();
        mount(&["--bind", &at_s, &at_s]);
        let m = Self(at.to_path_buf());
        mount(&["-o", "remount,bind,ro", &at_s]);
        m
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .stderr(Stdio::null())
            .status();
    }
}

fn mount(args: &[&str]) {
    let out = Command::new("mount").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "mount {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Fill the filesystem holding `dir` with a file `dir/filler`, until it is full.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 4096];
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::StorageFull => break,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    // Not a byte more fits.
    let err = file.write_all(b"x").and_then(|()| file.sync_all());
    assert!(err.is_err(), "{} is not full", dir.display());
    path
}

// ---------------------------------------------------------------------------------
// 1. A full filesystem
// ---------------------------------------------------------------------------------

/// A write into a vault directory on a full filesystem fails with one error line
/// naming the vault directory (exit 1), leaves no temporary file, changes nothing;
/// everything written before stays readable; `gc` fails the same way; once space is
/// freed, writes work again.
#[test]
fn full_vault_filesystem() {
    if !in_private_mounts("full_vault_filesystem") {
        return;
    }
    let env = Env::bare();
    let _tmpfs = Mount::tmpfs(&env.data_home(), "1m");
    env.init();
    let acked: Vec<(String, String)> = (0..3)
        .map(|i| (format!("a/{i}"), format!("pw-{i}")))
        .collect();
    for (path, pw) in &acked {
        env.add(path, pw);
    }
    let filler = fill(&env.data_home());
    let before = env.snapshot();

    let out = env
        .run(&["add", "a/full", "--password-stdin"], Some("pw-full\n"))
        .code(1);
    let line = out.one_error_naming(&env.vault(), ENOSPC);
    eprintln!("add on a full vault filesystem: {line}");
    let out = env
        .run(&["edit", "a/0", "--password-stdin"], Some("pw-edited\n"))
        .code(1);
    out.one_error_naming(&env.vault(), ENOSPC);
    // Packing the three segments needs room for the pack.
    let out = env.run(&["gc"], None).code(1);
    out.one_error_naming(&env.vault(), ENOSPC);
    assert_eq!(temp_files(&env.vault()), Vec::<String>::new());
    assert_eq!(env.snapshot(), before, "a failed write changed the vault");

    // Reads still work, and show every write that reported success.
    let want: Vec<String> = acked.iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(env.ls(), want);
    for (path, pw) in &acked {
        assert_eq!(env.get(path), *pw);
    }
    env.verify();

    fs::remove_file(filler).unwrap();
    env.add("a/after", "pw-after");
    env.ok(&["gc"], None);
    let mut want = want;
    want.push("a/after".into());
    assert_eq!(env.ls(), want, "a/full must not appear: its add failed");
    assert_eq!(env.get("a/0"), "pw-0", "the failed edit changed a/0");
    assert_eq!(env.get("a/after"), "pw-after");
    env.verify();
    assert_segments_sound(&env.vault());
}

/// Adds into a vault whose state directory (pins, locks) is on a filesystem that is
/// full: three acknowledged entries, then the state filesystem filled.
fn full_state_env() -> (Env, Mount, PathBuf) {
    let env = Env::bare();
    let tmpfs = Mount::tmpfs(&env.state_home(), "256k");
    env.init();
    for i in 0..3 {
        env.add(&format!("a/{i}"), &format!("pw-{i}"));
    }
    let filler = fill(&env.state_home());
    (env, tmpfs, filler)
}

/// With the state directory on a full filesystem: reads of a vault whose pins are
/// current work (they write nothing); a write fails with one error line naming the
/// pins directory (exit 1) and leaves no temporary file there; once space is freed,
/// everything acknowledged is there and writes work again.
#[test]
fn full_state_filesystem() {
    if !in_private_mounts("full_state_filesystem") {
        return;
    }
    let (env, _tmpfs, filler) = full_state_env();
    assert_eq!(env.ls(), ["a/0", "a/1", "a/2"]);
    assert_eq!(env.get("a/1"), "pw-1");
    env.verify();

    // The write itself goes to the vault directory: it succeeds, and the pins that
    // cannot move forward are a warning naming the pins file.
    let out = env
        .run(&["add", "a/full", "--password-stdin"], Some("pw-full\n"))
        .code(0);
    assert!(out.errors().is_empty(), "{:?}", out.stderr);
    let warning = out
        .stderr
        .lines()
        .find(|l| l.starts_with("warning: could not record what this machine has verified"))
        .unwrap_or_else(|| panic!("no pin warning: {:?}", out.stderr));
    assert!(
        warning.contains(&env.pins_dir().display().to_string()) && warning.contains(ENOSPC),
        "{warning}"
    );
    assert_eq!(temp_files(&env.pins_dir()), Vec::<String>::new());

    fs::remove_file(filler).unwrap();
    let listed = env.ls();
    for want in ["a/0", "a/1", "a/2", "a/full"] {
        assert!(
            listed.contains(&want.to_string()),
            "{want} lost: {listed:?}"
        );
    }
    env.add("a/after", "pw-after");
    assert_eq!(env.get("a/2"), "pw-2");
    assert_eq!(env.get("a/after"), "pw-after");
    env.verify();
    assert_eq!(temp_files(&env.pins_dir()), Vec::<String>::new());
}

/// An `add` that exits non-zero because the state filesystem is full has not added
/// the entry (a script that retries a failed add must not meet "already exists").
#[test]
fn failed_add_on_a_full_state_filesystem_adds_nothing() {
    if !in_private_mounts("failed_add_on_a_full_state_filesystem_adds_nothing") {
        return;
    }
    let (env, _tmpfs, filler) = full_state_env();
    let out = env.run(&["add", "a/full", "--password-stdin"], Some("pw-full\n"));
    fs::remove_file(filler).unwrap();
    let listed = env.ls();
    assert!(
        out.status.success() || !listed.contains(&"a/full".to_string()),
        "add a/full exited {} ({}), yet a/full was added: {listed:?}",
        out.status,
        out.stderr.trim()
    );
}

/// Reading a vault that gained segments (from a file share, or another process)
/// works while the state filesystem is full: failing to move a pin forward is no
/// reason to refuse a read.
#[test]
fn reads_work_on_a_full_state_filesystem_after_new_segments_arrive() {
    if !in_private_mounts("reads_work_on_a_full_state_filesystem_after_new_segments_arrive") {
        return;
    }
    let (env, _tmpfs, _filler) = full_state_env();
    // Another machine's write arrives: a segment written with other local state.
    let mut other = env.command(&["add", "a/new", "--password-stdin"]);
    other.env("XDG_STATE_HOME", env.root().join("other-state"));
    let out = finish(spawn_with(&mut other, Some("pw-new\n")), "other add");
    assert!(out.status.success(), "{out:?}");

    let out = env.run(&["ls"], None);
    assert!(
        out.status.success(),
        "ls with a full state filesystem exited {}: {}",
        out.status,
        out.stderr.trim()
    );
    assert_eq!(lines(&out.stdout), ["a/0", "a/1", "a/2", "a/new"]);
    let out = env.run(&["get", "a/new"], None).code(0);
    assert_eq!(out.stdout, "pw-new\n");
}

// ---------------------------------------------------------------------------------
// 2. A read-only vault directory
// ---------------------------------------------------------------------------------

/// Makes a directory writable again when dropped (a 0555 directory's files cannot be
/// removed by the temp dir's cleanup).
struct Writable(PathBuf);

impl Drop for Writable {
    fn drop(&mut self) {
        let _ = fs::set_permissions(&self.0, fs::Permissions::from_mode(0o700));
    }
}

/// A read-only vault directory (mode 0555; as root, which ignores mode bits, a
/// read-only bind mount in a private mount namespace): `ls` and `get` work; `add`,
/// `edit` and `gc` fail with one error line naming the directory (exit 1); nothing
/// changes; made writable again, writes work.
#[test]
fn read_only_vault_directory() {
    if is_root() && !in_private_mounts("read_only_vault_directory") {
        return;
    }
    let env = Env::new();
    env.add("a/0", "pw-0");
    env.add("a/1", "pw-1");
    let before = env.snapshot();
    let vault = env.vault();
    let (ro_mount, writable) = if is_root() {
        (Some(Mount::read_only(&vault)), None)
    } else {
        fs::set_permissions(&vault, fs::Permissions::from_mode(0o555)).unwrap();
        (None, Some(Writable(vault.clone())))
    };
    let why = if is_root() {
        "Read-only file system"
    } else {
        "Permission denied"
    };

    assert_eq!(env.ls(), ["a/0", "a/1"]);
    assert_eq!(env.get("a/1"), "pw-1");
    env.verify();
    for (args, stdin) in [
        (&["add", "a/ro", "--password-stdin"][..], Some("pw-ro\n")),
        (&["edit", "a/0", "--password-stdin"][..], Some("pw-x\n")),
        (&["gc"][..], None),
    ] {
        let out = env.run(args, stdin).code(1);
        let line = out.one_error_naming(&vault, why);
        eprintln!("{} on a read-only vault directory: {line}", args[0]);
    }
    assert_eq!(env.snapshot(), before, "a failed write changed the vault");

    drop(ro_mount);
    drop(writable);
    env.add("a/rw", "pw-rw");
    assert_eq!(env.ls(), ["a/0", "a/1", "a/rw"]);
    assert_eq!(env.get("a/0"), "pw-0");
    env.verify();
}

// ---------------------------------------------------------------------------------
// 3. Symbolic links, directories and FIFOs on segment names
// ---------------------------------------------------------------------------------

fn mkfifo(path: &Path) {
    let out = Command::new("mkfifo").arg(path).output().unwrap();
    assert!(out.status.success(), "mkfifo: {out:?}");
}

fn warning_for(name: &str, why: &str) -> String {
    format!("warning: skipping segment {name} ({why})")
}

const SYMLINK: &str = "a symbolic link, not a segment file";
const NOT_A_FILE: &str = "not a regular file";

/// Entries that squat on segment names, holding no record this machine pinned: a
/// symlink to a segment of the vault, a symlink to a file outside, a symlink to a
/// sound segment of this vault kept outside it (under its own name: followed, it
/// would add an entry), a directory and a FIFO. Every command warns about each and
/// goes on (exit 0) without following a link or blocking on the FIFO; writes and
/// `gc` work and leave them alone; `verify` lists each and exits 6.
#[test]
fn squatters_on_segment_names_are_skipped_never_followed() {
    let env = Env::new();
    let first = env.add_segment("a/0", "pw-0");
    env.add("a/1", "pw-1");

    // A sound segment of this vault, kept outside it: `a/hidden`, added to a copy.
    let copy = env.root().join("copy");
    fs::create_dir(&copy).unwrap();
    for name in env.segment_names() {
        fs::copy(env.vault().join(&name), copy.join(&name)).unwrap();
    }
    let copy_s = copy.display().to_string();
    let before: BTreeSet<String> = fs::read_dir(&copy)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    env.ok_elsewhere(
        &["--vault", &copy_s, "add", "a/hidden", "--password-stdin"],
        Some("pw-hidden\n"),
    );
    let hidden: Vec<String> = fs::read_dir(&copy)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !before.contains(n))
        .collect();
    assert_eq!(hidden.len(), 1, "{hidden:?}");
    let hidden = hidden.into_iter().next().unwrap();
    let outside = env.outside();
    fs::rename(copy.join(&hidden), outside.join(&hidden)).unwrap();

    let secret = outside.join("secret");
    fs::write(&secret, "not a segment\n").unwrap();
    let fake = |c: char| format!("{}.seg", c.to_string().repeat(64));
    let vault = env.vault();
    let squatters = [
        (fake('1'), SYMLINK),
        (fake('2'), SYMLINK),
        (hidden.clone(), SYMLINK),
        (fake('3'), NOT_A_FILE),
        (fake('4'), NOT_A_FILE),
    ];
    std::os::unix::fs::symlink(vault.join(&first), vault.join(fake('1'))).unwrap();
    std::os::unix::fs::symlink(&secret, vault.join(fake('2'))).unwrap();
    std::os::unix::fs::symlink(outside.join(&hidden), vault.join(&hidden)).unwrap();
    fs::create_dir(vault.join(fake('3'))).unwrap();
    mkfifo(&vault.join(fake('4')));
    let check_warnings = |out: &Out| {
        for (name, why) in &squatters {
            assert!(
                out.stderr.contains(&warning_for(name, why)),
                "{}: no warning for {name}: {}",
                out.what,
                out.stderr
            );
        }
    };

    let out = env.run(&["ls"], None).code(0);
    check_warnings(&out);
    assert_eq!(lines(&out.stdout), ["a/0", "a/1"], "a link was followed");
    let out = env.run(&["get", "a/1"], None).code(0);
    check_warnings(&out);
    assert_eq!(out.stdout, "pw-1\n");
    for args in [
        &["show", "a/0"][..],
        &["find", "a/"],
        &["info"],
        &["log"],
        &["access", "a/0"],
    ] {
        check_warnings(&env.run(args, None).code(0));
    }
    let out = env.run(&["get", "a/hidden"], None);
    assert_ne!(out.status.code(), Some(0), "a link was followed: {out:?}");
    // Writes go on (whether they warn: `writes_warn_about_skipped_segments`).
    env.add("a/2", "pw-2");
    env.ok(&["edit", "a/0", "--password-stdin"], Some("pw-0b\n"));
    env.ok(&["gc"], None);
    let out = env.run(&["verify"], None).code(6);
    for (name, why) in &squatters {
        assert!(
            out.stdout.contains(&format!("segment\t{name}\t{why}")),
            "verify does not list {name}: {}",
            out.stdout
        );
    }
    assert_eq!(env.ls(), ["a/0", "a/1", "a/2"]);
    assert_eq!(env.get("a/0"), "pw-0b");

    // Untouched: the squatters and what the links point to.
    for (name, why) in &squatters {
        let meta = fs::symlink_metadata(vault.join(name)).unwrap();
        let kind = meta.file_type();
        let still = if *why == SYMLINK {
            kind.is_symlink()
        } else {
            kind.is_dir() || kind.is_fifo()
        };
        assert!(still, "{name} was replaced by {kind:?}");
    }
    assert_eq!(fs::read_to_string(&secret).unwrap(), "not a segment\n");
    assert!(
        fs::symlink_metadata(vault.join(fake('4')))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    assert!(outside.join(&hidden).is_file());
}

/// Writes warn about the segments they skip, as every other command does
/// (docs/format.md, "Damage": "every command warns").
#[test]
fn writes_warn_about_skipped_segments() {
    let env = Env::new();
    env.add("a/0", "pw-0");
    let name = format!("{}.seg", "4".repeat(64));
    mkfifo(&env.vault().join(&name));
    let warning = warning_for(&name, NOT_A_FILE);
    for (args, stdin) in [
        (&["add", "a/1", "--password-stdin"][..], Some("pw-1\n")),
        (&["edit", "a/0", "--password-stdin"][..], Some("pw-0b\n")),
        (&["rm", "a/1"][..], None),
        (&["gc"][..], None),
    ] {
        let out = env.run(args, stdin).code(0);
        assert!(
            out.stderr.contains(&warning),
            "{} skipped {name} without a warning: {:?}",
            out.what,
            out.stderr
        );
    }
}

/// A segment holding records this machine pinned, replaced by a symlink to another
/// segment of the vault, by a symlink to a copy of itself outside the vault, by a
/// directory, or by a FIFO: every command exits 6 naming the segment (never follows
/// the link, never blocks on the FIFO), `verify` lists it, and nothing is written;
/// with the segment back, everything works again.
#[test]
fn a_replaced_pinned_segment_is_named_and_refused() {
    let env = Env::new();
    env.add("a/0", "pw-0");
    let middle = env.add_segment("a/1", "pw-1");
    let other = env.add_segment("a/2", "pw-2");
    let vault = env.vault();
    let original = fs::read(vault.join(&middle)).unwrap();
    let copy = env.outside().join(&middle);
    fs::write(&copy, &original).unwrap();

    type Plant<'a> = Box<dyn Fn(&Path) + 'a>;
    let kinds: Vec<(&str, &str, Plant)> = vec![
        (
            "a symlink to another segment",
            SYMLINK,
            Box::new(|p| std::os::unix::fs::symlink(vault.join(&other), p).unwrap()),
        ),
        (
            "a symlink to a copy of itself outside",
            SYMLINK,
            Box::new(|p| std::os::unix::fs::symlink(&copy, p).unwrap()),
        ),
        (
            "a directory",
            NOT_A_FILE,
            Box::new(|p| fs::create_dir(p).unwrap()),
        ),
        ("a FIFO", NOT_A_FILE, Box::new(mkfifo)),
    ];
    for (kind, why, plant) in &kinds {
        let seg = vault.join(&middle);
        fs::remove_file(&seg).unwrap();
        plant(&seg);
        let before = env.snapshot();
        for (args, stdin) in [
            (&["ls"][..], None),
            (&["get", "a/0"][..], None),
            (&["add", "a/3", "--password-stdin"][..], Some("pw-3\n")),
            (&["gc"][..], None),
        ] {
            let out = env.run(args, stdin).code(6);
            let errors = out.errors();
            assert!(
                errors.len() == 1 && errors[0].contains(&middle) && errors[0].contains(why),
                "{} with {kind} on a pinned segment: {}",
                out.what,
                out.stderr
            );
        }
        let out = env.run(&["verify"], None).code(6);
        assert!(
            out.stdout.contains(&format!("segment\t{middle}\t{why}"))
                || out.stderr.contains(&middle),
            "verify with {kind}: {out:?}"
        );
        assert_eq!(env.snapshot(), before, "a refused command wrote ({kind})");
        assert_eq!(fs::read(&copy).unwrap(), original);

        match fs::remove_dir(&seg) {
            Ok(()) => {}
            Err(_) => fs::remove_file(&seg).unwrap(),
        }
        fs::write(&seg, &original).unwrap();
        assert_eq!(env.ls(), ["a/0", "a/1", "a/2"], "after {kind}");
        env.verify();
    }
}

/// A pack's name is predictable (a function of what it replaces): a symlink, a FIFO
/// or a directory planted on it makes `gc` fail without writing through the link,
/// creating its target, blocking, or deleting anything.
#[test]
fn writes_never_write_through_a_squatter_on_the_segment_name() {
    let env = Env::new();
    for i in 0..3 {
        env.add(&format!("a/{i}"), &format!("pw-{i}"));
    }
    // Learn the pack's name by compacting a copy of the vault.
    let copy = env.root().join("copy");
    fs::create_dir(&copy).unwrap();
    for name in env.segment_names() {
        fs::copy(env.vault().join(&name), copy.join(&name)).unwrap();
    }
    let out = env.ok_elsewhere(&["--vault", &copy.display().to_string(), "gc"], None);
    let pack = out
        .split_whitespace()
        .find(|w| w.ends_with(".seg") || w.ends_with(".seg;"))
        .unwrap_or_else(|| panic!("no pack in {out:?}"))
        .trim_end_matches(';')
        .to_string();
    assert!(copy.join(&pack).is_file(), "{pack} not in the copy");

    let vault = env.vault();
    let outside = env.outside();
    let target = outside.join("target");
    fs::write(&target, "untouched\n").unwrap();
    let absent = outside.join("absent");
    let squat = vault.join(&pack);
    type Plant<'a> = Box<dyn Fn(&Path) + 'a>;
    let kinds: Vec<(&str, Plant)> = vec![
        (
            "a symlink to a file outside",
            Box::new(|p| std::os::unix::fs::symlink(&target, p).unwrap()),
        ),
        (
            "a dangling symlink",
            Box::new(|p| std::os::unix::fs::symlink(&absent, p).unwrap()),
        ),
        ("a FIFO", Box::new(mkfifo)),
        ("a directory", Box::new(|p| fs::create_dir(p).unwrap())),
    ];
    for (kind, plant) in &kinds {
        plant(&squat);
        let before = env.snapshot();
        let out = env.run(&["gc"], None);
        assert_ne!(out.status.code(), Some(0), "gc over {kind}: {out:?}");
        assert!(out.stderr.contains(&pack), "gc over {kind}: {}", out.stderr);
        assert_eq!(env.snapshot(), before, "gc over {kind} changed the vault");
        assert_eq!(fs::read_to_string(&target).unwrap(), "untouched\n");
        assert!(!absent.exists(), "gc created the target of a dangling link");
        assert_eq!(temp_files(&vault), Vec::<String>::new());
        assert_eq!(env.ls(), ["a/0", "a/1", "a/2"]);
        match fs::remove_dir(&squat) {
            Ok(()) => {}
            Err(_) => fs::remove_file(&squat).unwrap(),
        }
    }
    // With the name free, the same pack is written.
    env.ok(&["gc"], None);
    assert_eq!(
        fs::read(vault.join(&pack)).unwrap(),
        fs::read(copy.join(&pack)).unwrap()
    );
    env.verify();
}

// ---------------------------------------------------------------------------------
// 4. SIGKILL during writes and compactions
// ---------------------------------------------------------------------------------

const KILL_ITERATIONS: usize = 200;
/// Kill delays are drawn from `0..=MAX_KILL_DELAY` (a debug `add` takes tens of ms).
const MAX_KILL_DELAY: Duration = Duration::from_millis(50);

/// What is known of one entry: the value of the last write that reported success, and
/// the values of killed writes since (each may or may not have been committed).
#[derive(Debug, Default)]
struct Known {
    acked: Option<String>,
    maybe: Vec<String>,
}

impl Known {
    fn allowed(&self) -> Vec<&String> {
        self.acked.iter().chain(&self.maybe).collect()
    }
}

/// ~200 adds, edits and compactions (half of them with a grace period of 0, so
/// replaced segments are deleted), each SIGKILLed after a random delay. After every
/// kill: `verify` exits 0 (no damaged segment, nothing held back), every segment is
/// named by its hash, `ls` shows every write that reported success and nothing no one
/// wrote, and the entry just written holds an allowed value; every 50 iterations and
/// at the end, every entry's value is checked.
#[test]
fn killed_writes_and_compactions_never_break_the_vault() {
    let env = Env::new();
    let seed = seed();
    let mut rng = Rng(seed);
    let mut known: BTreeMap<String, Known> = BTreeMap::new();
    let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();

    for i in 0..KILL_ITERATIONS {
        let roll = rng.below(10);
        let acked: Vec<String> = known
            .iter()
            .filter(|(_, k)| k.acked.is_some())
            .map(|(p, _)| p.clone())
            .collect();
        let (op, path, value) = if roll < 4 || (roll < 6 && acked.is_empty()) {
            (
                "add",
                Some(format!("k/{i:03}")),
                Some(format!("pw-{i}-add")),
            )
        } else if roll < 6 {
            let path = acked[rng.below(acked.len() as u64) as usize].clone();
            ("edit", Some(path), Some(format!("pw-{i}-edit")))
        } else if roll < 8 {
            ("gc", None, None)
        } else {
            ("gc grace 0", None, None)
        };
        let mut cmd = match (op, &path) {
            ("add", Some(p)) => env.command(&["add", p, "--password-stdin"]),
            ("edit", Some(p)) => env.command(&["edit", p, "--password-stdin"]),
            _ => env.command(&["gc"]),
        };
        if op == "gc grace 0" {
            cmd.env("AMANAT_GC_GRACE_SECONDS", "0");
        }
        let stdin = value.as_ref().map(|v| format!("{v}\n"));
        let delay = rng.below(MAX_KILL_DELAY.as_micros() as u64 + 1);
        let mut child = spawn_with(&mut cmd, stdin.as_deref());
        thread::sleep(Duration::from_micros(delay));
        // On a child that already exited this does nothing, and `wait` returns its
        // real exit status.
        child.kill().unwrap();
        let out = child.wait_with_output().unwrap();
        let succeeded = if out.status.success() {
            true
        } else {
            assert_eq!(
                out.status.signal(),
                Some(9),
                "iteration {i} (seed {seed}): {op} {path:?} failed by itself ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            false
        };
        let c = counts.entry(op).or_default();
        if succeeded {
            c.0 += 1;
        } else {
            c.1 += 1;
        }
        if let (Some(p), Some(v)) = (&path, &value) {
            let k = known.entry(p.clone()).or_default();
            if succeeded {
                k.acked = Some(v.clone());
                k.maybe.clear();
            } else {
                k.maybe.push(v.clone());
            }
        }

        // The vault is whole after every kill.
        let what = format!("after iteration {i} ({op}, killed after {delay} µs, seed {seed})");
        let out = env.run(&["verify"], None);
        assert!(
            out.status.success() && out.stdout.starts_with("ok: "),
            "verify {what}: {out:?}"
        );
        assert_segments_sound(&env.vault());
        let listed: BTreeSet<String> = env.ls().into_iter().collect();
        for (p, k) in &known {
            assert!(
                k.acked.is_none() || listed.contains(p),
                "{p} reported success but is missing {what}"
            );
        }
        for p in &listed {
            assert!(known.contains_key(p), "{p} listed {what}, never written");
        }
        let check = |p: &String| {
            let value = env.get(p);
            let allowed = known[p].allowed();
            assert!(
                allowed.contains(&&value),
                "{p} holds {value:?} {what}; allowed {allowed:?}"
            );
        };
        if let Some(p) = path.as_ref().filter(|p| listed.contains(*p)) {
            check(p);
        }
        if i % 50 == 49 {
            listed.iter().for_each(check);
        }
    }

    let vault_tmp = temp_files(&env.vault());
    eprintln!(
        "killed writes and compactions (seed {seed}): (exited 0, killed) by operation {counts:?}; \
         {} entries; {} segments; temp files left in the vault dir: {vault_tmp:?}",
        known.len(),
        env.segment_names().len()
    );
    // Every kind of operation got through at least once, or the test tested little.
    for op in ["add", "gc"] {
        assert!(
            counts.get(op).is_some_and(|c| c.0 > 0),
            "no {op} got through: {counts:?}"
        );
    }
    // Leftover temp files are ignored by readers and do not stop writes.
    env.add("final", "pw-final");
    env.ok(&["gc"], None);
    let out = env
        .command(&["gc"])
        .env("AMANAT_GC_GRACE_SECONDS", "0")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    env.verify();
    assert_segments_sound(&env.vault());
    assert_eq!(env.get("final"), "pw-final");
    for p in env.ls().iter().filter(|p| *p != "final") {
        let value = env.get(p);
        assert!(known[p].allowed().contains(&&value), "{p} holds {value:?}");
    }
}

// ---------------------------------------------------------------------------------
// 5. Concurrent writers and compaction
// ---------------------------------------------------------------------------------

const MIXED_WRITERS: usize = 8;
const MIXED_OPS: usize = 25;

/// What one writer did, all of it acknowledged (exit 0).
#[derive(Debug, Default)]
struct Done {
    values: BTreeMap<String, String>,
    shared_with_bob: BTreeSet<String>,
    group: Option<String>,
    gcs: usize,
}

/// 8 processes at once, each doing 25 writes mixing `add`, `edit`, `share` (with a
/// member or a group), `group create`, `group add` and `gc` (half of them with a grace
/// period of 0): every one exits 0, and at the end every entry holds the value of its
/// last edit, every share and group membership is there, and `verify` exits 0.
#[test]
fn concurrent_mixed_writers_and_compaction_lose_nothing() {
    let env = Env::new();
    // bob, a member (he needs no copy of the vault to be shared with).
    let bob = Env::bare();
    let out = bob.ok(
        &["identity", "new", "--name", "bob", "--insecure-kdf"],
        None,
    );
    let mut out_lines = out.lines();
    let key = out_lines.next().unwrap().to_string();
    let fp = out_lines
        .next()
        .unwrap()
        .strip_prefix("fingerprint: ")
        .unwrap()
        .to_string();
    env.ok(&["member", "add", "bob", &key, "--fingerprint", &fp], None);

    let seed = seed();
    let done: Vec<Done> = thread::scope(|s| {
        let handles: Vec<_> = (0..MIXED_WRITERS)
            .map(|p| {
                let env = &env;
                s.spawn(move || {
                    let mut rng = Rng(seed ^ (p as u64 + 1).wrapping_mul(0x1234_5678_9abc));
                    let mut done = Done::default();
                    for i in 0..MIXED_OPS {
                        let paths: Vec<String> = done.values.keys().cloned().collect();
                        let roll = rng.below(10);
                        if i == 3 {
                            let g = format!("g{p}");
                            env.ok(&["group", "create", &g], None);
                            done.group = Some(g);
                        } else if i == 12 {
                            env.ok(&["group", "add", &format!("g{p}"), "bob"], None);
                        } else if roll < 4 || paths.is_empty() {
                            let path = format!("p{p}/e{i:02}");
                            let value = format!("pw-{p}-{i}");
                            env.add(&path, &value);
                            done.values.insert(path, value);
                        } else if roll < 6 {
                            let path = &paths[rng.below(paths.len() as u64) as usize];
                            let value = format!("pw-{p}-{i}-edit");
                            env.ok(
                                &["edit", path, "--password-stdin"],
                                Some(&format!("{value}\n")),
                            );
                            done.values.insert(path.clone(), value);
                        } else if roll < 8 {
                            let path = &paths[rng.below(paths.len() as u64) as usize];
                            let with = match &done.group {
                                Some(g) if roll == 7 => format!("@{g}"),
                                _ => "bob".to_string(),
                            };
                            env.ok(&["share", path, "--with", &with], None);
                            done.shared_with_bob.insert(path.clone());
                        } else {
                            let mut cmd = env.command(&["gc"]);
                            if roll == 9 {
                                cmd.env("AMANAT_GC_GRACE_SECONDS", "0");
                            }
                            let out = finish(spawn_with(&mut cmd, None), "gc");
                            assert!(
                                out.status.success(),
                                "writer {p}: gc failed: {}",
                                String::from_utf8_lossy(&out.stderr)
                            );
                            done.gcs += 1;
                        }
                    }
                    done
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let listed: BTreeSet<String> = env.ls().into_iter().collect();
    let want: BTreeSet<String> = done.iter().flat_map(|d| d.values.keys().cloned()).collect();
    assert_eq!(listed, want, "entries lost or made up");
    for d in &done {
        for (path, value) in &d.values {
            assert_eq!(env.get(path), *value, "{path} lost an edit");
        }
        for path in &d.shared_with_bob {
            let access = env.ok(&["access", path], None);
            assert!(
                access.lines().any(|l| l.starts_with("bob\t")),
                "{path} no longer shared with bob: {access}"
            );
        }
    }
    let groups: serde_json::Value =
        serde_json::from_str(&env.ok(&["group", "ls", "--json"], None)).unwrap();
    for p in 0..MIXED_WRITERS {
        let g = groups
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == format!("g{p}"))
            .unwrap_or_else(|| panic!("group g{p} lost: {groups}"));
        assert_eq!(g["members"], serde_json::json!(["bob"]), "g{p}: {g}");
    }
    env.verify();
    assert_segments_sound(&env.vault());
    eprintln!(
        "mixed writers (seed {seed}): {} entries, {} shares, {} gc runs, {} segments left",
        want.len(),
        done.iter().map(|d| d.shared_with_bob.len()).sum::<usize>(),
        done.iter().map(|d| d.gcs).sum::<usize>(),
        env.segment_names().len()
    );
}
