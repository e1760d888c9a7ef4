//! Hermetic environment for end-to-end tests of the `amanat` binary (STYLE.md §14).
//!
//! Every [`TestEnv`] owns a temporary directory that serves as `HOME` and holds the
//! XDG data, config and state directories and a passphrase file. Commands start from
//! an empty environment (`env_clear`) and get only `PATH`, `HOME`, the XDG variables,
//! `TMPDIR` and `AMANAT_PASSPHRASE_FILE`, so no `AMANAT_*` variable, real vault or real
//! identity of the developer running the tests can leak in.
//!
//! Commands also run without a controlling terminal: a null stdin is not enough,
//! because amanat prompts on `/dev/tty`, which a test started from a developer's
//! shell can still open (and would then block on). Where util-linux `setsid` exists,
//! each command is started in a new session through it. Tests that need a terminal
//! use a pseudo-terminal (`tests/pty.rs`).
//!
//! Not for: driving the library directly, or anything that needs a real terminal.

// Each test crate that includes this module uses a different subset of it.
#![allow(dead_code)]

pub mod x11;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use std::time::Duration;

/// The passphrase every environment starts with.
pub const PASSPHRASE: &str = "correct horse battery staple";

/// Longest a single command may run before the test fails instead of hanging (a
/// prompt that should not have happened, a lock never released).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Start `cmd` from an empty environment with only what a hermetic test gives it:
/// `PATH`, `HOME` = `root`, the XDG data, config and state directories under `root`
/// (`data`, `config`, `state`), and `AMANAT_PASSPHRASE_FILE` = `passphrase`; the
/// working directory is `root`. Callers add or override what their test needs (a
/// data directory on a small tmpfs, a runtime directory). Every test crate builds
/// its environment through this ([`TestEnv::apply_env`] included).
pub fn hermetic<'c>(
    cmd: &'c mut std::process::Command,
    root: &Path,
    passphrase: &Path,
) -> &'c mut std::process::Command {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", root)
        .env("XDG_DATA_HOME", root.join("data"))
        .env("XDG_CONFIG_HOME", root.join("config"))
        .env("XDG_STATE_HOME", root.join("state"))
        .env("AMANAT_PASSPHRASE_FILE", passphrase)
        .current_dir(root)
}

/// Path of the binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_amanat"))
}

/// util-linux `setsid`, if it is on `PATH`.
fn setsid() -> Option<&'static Path> {
    static SETSID: OnceLock<Option<PathBuf>> = OnceLock::new();
    SETSID
        .get_or_init(|| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path)
                .map(|dir| dir.join("setsid"))
                .find(|p| p.is_file())
        })
        .as_deref()
}

/// A temporary home for one test.
#[derive(Debug)]
pub struct TestEnv {
    dir: tempfile::TempDir,
    passphrase_file: PathBuf,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    /// A fresh environment whose passphrase file holds [`PASSPHRASE`].
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("amanat-cli-test.")
            .tempdir()
            .unwrap();
        fs::create_dir(dir.path().join("tmp")).unwrap();
        let passphrase_file = dir.path().join("passphrase");
        fs::write(&passphrase_file, format!("{PASSPHRASE}\n")).unwrap();
        // Private, or amanat refuses it (docs/cli.md, "Passphrase input").
        fs::set_permissions(
            &passphrase_file,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        Self {
            dir,
            passphrase_file,
        }
    }

    /// Builder form of [`TestEnv::set_passphrase`].
    pub fn with_passphrase_file(self, text: &str) -> Self {
        self.set_passphrase(text);
        self
    }

    /// Replace the contents of the passphrase file (written verbatim).
    pub fn set_passphrase(&self, text: &str) {
        fs::write(&self.passphrase_file, text).unwrap();
    }

    /// The temporary home directory.
    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the home directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Write a file inside the home directory and return its path.
    pub fn write_file(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(rel);
        fs::write(&p, contents).unwrap();
        p
    }

    /// `$XDG_DATA_HOME`.
    pub fn data_home(&self) -> PathBuf {
        self.path("data")
    }

    /// `$XDG_CONFIG_HOME`.
    pub fn config_home(&self) -> PathBuf {
        self.path("config")
    }

    /// `$XDG_STATE_HOME`.
    pub fn state_home(&self) -> PathBuf {
        self.path("state")
    }

    /// The default vault directory (CLI.md, "Where things live").
    pub fn vault_path(&self) -> PathBuf {
        self.data_home().join("amanat/vault")
    }

    /// The default identity file.
    pub fn identity_path(&self) -> PathBuf {
        self.config_home().join("amanat/identity.amanat")
    }

    /// The default local state directory (pins).
    pub fn state_dir(&self) -> PathBuf {
        self.state_home().join("amanat")
    }

    /// The file `AMANAT_PASSPHRASE_FILE` points at.
    pub fn passphrase_file(&self) -> &Path {
        &self.passphrase_file
    }

    /// Give `cmd` the hermetic environment (and nothing else).
    pub fn apply_env(&self, cmd: &mut std::process::Command) {
        hermetic(cmd, self.home(), &self.passphrase_file).env("TMPDIR", self.path("tmp"));
    }

    /// A `std::process::Command` for `amanat ARGS` with the hermetic environment,
    /// still attached to the caller's session (for pseudo-terminal tests, which
    /// start their own session).
    pub fn std_command<S: AsRef<OsStr>>(&self, args: &[S]) -> std::process::Command {
        let mut cmd = std::process::Command::new(bin());
        cmd.args(args);
        self.apply_env(&mut cmd);
        cmd
    }

    /// Like [`TestEnv::std_command`], but with no controlling terminal.
    pub fn detached_command<S: AsRef<OsStr>>(&self, args: &[S]) -> std::process::Command {
        let mut cmd = match setsid() {
            Some(setsid) => {
                // `--wait` only matters if setsid has to fork; it then passes the
                // exit status through.
                let mut c = std::process::Command::new(setsid);
                c.arg("--wait").arg(bin());
                c
            }
            None => std::process::Command::new(bin()),
        };
        cmd.args(args);
        self.apply_env(&mut cmd);
        cmd
    }

    /// An `assert_cmd` command for `amanat ARGS`: hermetic, no terminal, null stdin
    /// unless `write_stdin` is used, and a timeout.
    pub fn cmd<S: AsRef<OsStr>>(&self, args: &[S]) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::from_std(self.detached_command(args));
        cmd.timeout(COMMAND_TIMEOUT);
        cmd
    }

    /// Run `amanat ARGS` and capture the outcome.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Outcome {
        Outcome::from(self.cmd(args).output().unwrap())
    }

    /// Run `amanat ARGS` with `stdin` piped in.
    pub fn run_stdin<S: AsRef<OsStr>>(&self, args: &[S], stdin: &str) -> Outcome {
        Outcome::from(self.cmd(args).write_stdin(stdin).output().unwrap())
    }

    /// Run `amanat ARGS`, require exit 0, return stdout.
    pub fn stdout<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        self.run(args).success().stdout
    }

    /// `identity new --name NAME --insecure-kdf`; returns (public key, fingerprint).
    pub fn identity_new(&self, name: &str) -> (String, String) {
        Self::key_and_fingerprint(
            &self
                .run(&["identity", "new", "--name", name, "--insecure-kdf"])
                .success(),
        )
    }

    /// `--identity FILE identity new --name NAME --insecure-kdf`: a second person's
    /// identity in this home (a teammate on the same shared vault); returns (public
    /// key, fingerprint).
    pub fn identity_new_at(&self, file: &str, name: &str) -> (String, String) {
        Self::key_and_fingerprint(
            &self
                .run(&[
                    "--identity",
                    file,
                    "identity",
                    "new",
                    "--name",
                    name,
                    "--insecure-kdf",
                ])
                .success(),
        )
    }

    /// The public key and fingerprint `identity new` prints on its first two lines.
    fn key_and_fingerprint(out: &Outcome) -> (String, String) {
        let mut lines = out.stdout.lines();
        let key = lines.next().unwrap().to_string();
        let fp = lines
            .next()
            .unwrap()
            .strip_prefix("fingerprint: ")
            .unwrap()
            .to_string();
        (key, fp)
    }

    /// `identity new --name alice --insecure-kdf` then `init --name acme`; returns
    /// the vault id `init` printed.
    pub fn init_alice(&self) -> String {
        self.identity_new("alice");
        let out = self.run(&["init", "--name", "acme"]).success();
        out.stdout
            .trim_end()
            .strip_prefix("vault: ")
            .unwrap_or_else(|| panic!("unexpected init output: {out:?}"))
            .to_string()
    }

    /// `add PATH --password-stdin` with `password` on stdin; must succeed.
    pub fn add(&self, path: &str, password: &str) {
        self.add_with(path, password, &[]);
    }

    /// `add PATH --password-stdin EXTRA…` with `password` on stdin; must succeed.
    pub fn add_with(&self, path: &str, password: &str, extra: &[&str]) {
        let mut args = vec!["add", path, "--password-stdin"];
        args.extend_from_slice(extra);
        let out = self.run_stdin(&args, &format!("{password}\n")).success();
        assert_eq!(out.stdout, format!("added {path}\n"));
    }

    /// `get PATH [--field FIELD]` on a pipe: the value without its newline.
    pub fn get(&self, path: &str, field: &str) -> String {
        let out = self.run(&["get", path, "--field", field]).success();
        out.stdout
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("get output lacks its newline: {out:?}"))
            .to_string()
    }
}

/// The `*.seg` files of a vault directory, sorted by name (none if it is missing).
pub fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    out.sort();
    out
}

/// The names of the `*.seg` files of a vault directory. A write that changed nothing
/// adds no segment, so this set is unchanged by it.
pub fn segment_names(dir: &Path) -> BTreeSet<String> {
    segment_files(dir)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// The vault's records as one single-file encoding (what the vault file held before
/// vaults were directories of segments): the one segment's bytes, or the union of all
/// segments encoded as one. Every segment must decode and no record may be held back.
pub fn vault_bytes(dir: &Path) -> Vec<u8> {
    use amanat::format::segment::{Segment, union};
    let files = segment_files(dir);
    assert!(!files.is_empty(), "no segment in {}", dir.display());
    if let [one] = files.as_slice() {
        return fs::read(one).unwrap();
    }
    let segments: Vec<Segment> = files
        .iter()
        .map(|p| {
            Segment::decode(&fs::read(p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect();
    let vault_id = segments
        .iter()
        .find(|s| s.has_genesis())
        .unwrap_or_else(|| panic!("no genesis segment in {}", dir.display()))
        .vault_id();
    let u = union(vault_id, segments).unwrap();
    assert!(
        u.held_back.is_empty(),
        "records held back in {}",
        dir.display()
    );
    u.file.encode()
}

/// What a write that writes nothing leaves unchanged: the names of the segments (no
/// segment added or removed) and the records ([`vault_bytes`]).
pub fn vault_state(dir: &Path) -> (BTreeSet<String>, Vec<u8>) {
    (segment_names(dir), vault_bytes(dir))
}

/// Replace the vault in `dir` with `bytes` (a single-file encoding, or any bytes at
/// all) as its only segment, named by their SHA-256 — what writing the vault file
/// used to do. Creates `dir` if it is missing.
pub fn set_vault_bytes(dir: &Path, bytes: &[u8]) {
    fs::create_dir_all(dir).unwrap();
    for p in segment_files(dir) {
        fs::remove_file(p).unwrap();
    }
    let name = amanat::format::segment::segment_name(bytes);
    fs::write(dir.join(name), bytes).unwrap();
}

/// Replace the vault in `to` (created if missing) with a copy of every segment of the
/// vault in `from` — what copying the vault file used to do: another machine's copy,
/// or a copy kept from before.
pub fn copy_vault(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for p in segment_files(to) {
        fs::remove_file(p).unwrap();
    }
    for p in segment_files(from) {
        fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

/// The agent's pid in what `unlock` printed (`… (agent pid N) …`).
#[track_caller]
pub fn agent_pid(unlock_stdout: &str) -> u32 {
    unlock_stdout
        .split("agent pid ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no agent pid in {unlock_stdout:?}"))
}

/// Unix permission bits of a file or directory.
pub fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// What a command did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Exit code (`-1` if killed by a signal).
    pub code: i32,
    /// Standard output (lossy UTF-8).
    pub stdout: String,
    /// Standard error (lossy UTF-8).
    pub stderr: String,
    /// Raw standard output.
    pub stdout_bytes: Vec<u8>,
    /// Raw standard error.
    pub stderr_bytes: Vec<u8>,
}

impl From<Output> for Outcome {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            stdout_bytes: o.stdout,
            stderr_bytes: o.stderr,
        }
    }
}

impl Outcome {
    /// Require this exit code (the panic shows both streams).
    #[track_caller]
    pub fn code(self, expected: i32) -> Self {
        assert_eq!(
            self.code, expected,
            "expected exit {expected}, got {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// Require exit 0.
    #[track_caller]
    pub fn success(self) -> Self {
        self.code(0)
    }

    /// The text of the `error: ` line on stderr (there must be exactly one).
    #[track_caller]
    pub fn error(&self) -> &str {
        self.prefixed("error: ")
    }

    /// The text of the `hint: ` line on stderr (there must be exactly one).
    #[track_caller]
    pub fn hint(&self) -> &str {
        self.prefixed("hint: ")
    }

    #[track_caller]
    fn prefixed(&self, prefix: &str) -> &str {
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one '{prefix}' line on stderr:\n{}",
            self.stderr
        );
        lines[0]
    }

    /// Stderr without the `warning: ` lines (e.g. the insecure-KDF warning that
    /// every unlock of a test identity prints).
    pub fn stderr_without_warnings(&self) -> String {
        self.stderr
            .lines()
            .filter(|l| !l.starts_with("warning: "))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// Both streams, for "never appears anywhere" checks.
    pub fn all_output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Require that neither stream contains `needle`.
    #[track_caller]
    pub fn assert_absent(&self, needle: &str, what: &str) {
        assert!(
            !self.stdout.contains(needle) && !self.stderr.contains(needle),
            "{what} leaked into the output\n--- stdout\n{}--- stderr\n{}",
            self.stdout,
            self.stderr
        );
    }

    /// The agent's pid that `unlock` printed ([`agent_pid`]).
    #[track_caller]
    pub fn agent_pid(&self) -> u32 {
        agent_pid(&self.stdout)
    }

    /// Parse stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}
