//! End-to-end tests of the use log (issue 13; docs/format.md, "Local state (not
//! shared)"): `get`, `clip`, `run`, `otp` and `git-credential get` each append exactly
//! `<AMANAT_NOW> <entry id hex>` to `uses/<vault id hex>` in the state directory, mode
//! 0600; the file holds no path, username or secret; `AMANAT_USE_LOG=off`, a failed
//! `get` and `show --reveal` write nothing; a use served by the agent is recorded too;
//! a log that cannot be written warns and never costs the secret.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::PathBuf;

use common::{Outcome, TestEnv, mode, x11};

const PATH: &str = "infra/db-primary";
const USERNAME: &str = "pgadmin-7c4e";
const SECRET: &str = "Use-Log-S3cret-91b2";
/// RFC 6238's SHA1 seed in base32.
const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const NOW: u64 = 1_800_000_123;

/// alice's vault with one entry (a password, a username and a TOTP seed).
struct Env {
    env: TestEnv,
    vault: String,
}

impl Env {
    fn new() -> Self {
        let env = TestEnv::new();
        let vault = env.init_alice();
        let out = env
            .run_stdin(
                &[
                    "add",
                    PATH,
                    "--password-stdin",
                    "--username",
                    USERNAME,
                    "--url",
                    "https://db.example.org",
                ],
                &format!("{SECRET}\n"),
            )
            .success();
        assert_eq!(out.stdout, format!("added {PATH}\n"));
        let uri = format!("otpauth://totp/ACME:alice?secret={SEED}&issuer=ACME");
        env.run_stdin(&["edit", PATH, "--totp-stdin"], &format!("{uri}\n"))
            .success();
        Self { env, vault }
    }

    fn entry_id(&self) -> String {
        let out = self.env.run(&["show", PATH, "--json"]).success();
        out.json()["id"].as_str().unwrap().to_string()
    }

    fn log(&self) -> PathBuf {
        self.env.state_dir().join("uses").join(&self.vault)
    }

    /// The log's contents ("" when there is none).
    fn contents(&self) -> String {
        fs::read_to_string(self.log()).unwrap_or_default()
    }

    /// `amanat ARGS` at `AMANAT_NOW` = `now`, with `extra` variables.
    fn run_at(&self, now: u64, args: &[&str], extra: &[(&str, &str)], stdin: &str) -> Outcome {
        let mut cmd = self.env.cmd(args);
        cmd.env("AMANAT_NOW", now.to_string());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        Outcome::from(cmd.write_stdin(stdin).output().unwrap())
    }

    /// Run `args` at `now`; require success and exactly one new line
    /// `<now> <entry id>`. Returns the outcome.
    #[track_caller]
    fn assert_one_use(&self, now: u64, args: &[&str], extra: &[(&str, &str)]) -> Outcome {
        self.assert_one_use_stdin(now, args, extra, "")
    }

    #[track_caller]
    fn assert_one_use_stdin(
        &self,
        now: u64,
        args: &[&str],
        extra: &[(&str, &str)],
        stdin: &str,
    ) -> Outcome {
        let before = self.contents();
        let out = self.run_at(now, args, extra, stdin).success();
        let after = self.contents();
        assert_eq!(
            after.strip_prefix(&before),
            Some(format!("{now} {}\n", self.entry_id()).as_str()),
            "{args:?} appended something else: {after:?}\n{out:?}"
        );
        out
    }

    /// Run `args` at `now` (exit `code`); require the log unchanged.
    #[track_caller]
    fn assert_no_use(&self, code: i32, args: &[&str], extra: &[(&str, &str)]) -> Outcome {
        let before = self.contents();
        let out = self.run_at(NOW, args, extra, "").code(code);
        assert_eq!(self.contents(), before, "{args:?} wrote to the use log");
        out
    }
}

#[test]
fn get_records_the_entry_id_and_time_in_a_private_file() {
    let e = Env::new();
    assert!(!e.log().exists(), "adding or editing is not a use");
    let out = e.assert_one_use(NOW, &["get", PATH], &[]);
    assert_eq!(out.stdout, format!("{SECRET}\n"));
    assert_eq!(mode(&e.log()), 0o600);
    assert_eq!(mode(e.log().parent().unwrap()), 0o700);
    // Each use is a line; the log is never the place for names or values.
    e.assert_one_use(NOW + 60, &["get", PATH, "--field", "username"], &[]);
    let text = e.contents();
    for needle in [PATH, "db-primary", USERNAME, SECRET, SEED, "db.example.org"] {
        assert!(
            !text.contains(needle),
            "{needle:?} is in the use log: {text:?}"
        );
    }
    for line in text.lines() {
        let (time, id) = line.split_once(' ').unwrap();
        assert!(time.bytes().all(|b| b.is_ascii_digit()), "{line:?}");
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{line:?}"
        );
    }
}

#[test]
fn run_and_otp_and_git_credential_record_a_use() {
    let e = Env::new();
    let out = e.assert_one_use(
        NOW,
        &[
            "run",
            "--env",
            &format!("DB_PASSWORD={PATH}"),
            "--env",
            &format!("DB_USER={PATH}#username"),
            "--",
            "sh",
            "-c",
            &format!("test \"$DB_PASSWORD\" = '{SECRET}' && echo ok"),
        ],
        &[],
    );
    assert_eq!(out.stdout, "ok\n");

    let out = e.assert_one_use(NOW + 1, &["otp", PATH], &[]);
    assert_eq!(out.stdout.trim_end().len(), 6, "{out:?}");

    let out = e.assert_one_use_stdin(
        NOW + 2,
        &["git-credential", "get"],
        &[],
        "protocol=https\nhost=db.example.org\n\n",
    );
    assert_eq!(
        out.stdout,
        format!("username={USERNAME}\npassword={SECRET}\n")
    );
    // No credential given to git: no use.
    let before = e.contents();
    let out = e
        .run_at(
            NOW + 3,
            &["git-credential", "get"],
            &[],
            "protocol=https\nhost=nowhere.example\n\n",
        )
        .success();
    assert_eq!(out.stdout, "");
    assert_eq!(e.contents(), before);
}

#[test]
fn clip_records_a_use() {
    let e = Env::new();
    let Some(x) = x11::Xvfb::start() else {
        eprintln!("skipped: no Xvfb or xclip");
        return;
    };
    let out = e.assert_one_use(
        NOW,
        &["clip", PATH, "--clear-after", "2"],
        &[("DISPLAY", &x.display)],
    );
    assert_eq!(x.read(None).as_deref(), Some(SECRET), "{out:?}");
    x11::kill_clip_helpers(&e.env);
}

#[test]
fn off_failures_and_show_write_nothing() {
    let e = Env::new();
    let off = [("AMANAT_USE_LOG", "off")];
    let out = e.assert_no_use(0, &["get", PATH], &off);
    assert_eq!(out.stdout, format!("{SECRET}\n"));
    e.assert_no_use(0, &["otp", PATH], &off);
    e.assert_no_use(
        0,
        &["run", "--env", &format!("X={PATH}"), "--", "true"],
        &off,
    );
    assert!(!e.log().exists());
    assert!(!e.env.state_dir().join("uses").exists());
    // Failed uses.
    e.assert_no_use(4, &["get", "infra/db-primray"], &[]);
    e.assert_no_use(4, &["get", PATH, "--field", "nope"], &[]);
    e.assert_no_use(4, &["otp", "infra/nothing"], &[]);
    e.assert_no_use(125, &["run", "--env", "X=infra/nothing", "--", "true"], &[]);
    // `show` (even with --reveal) is not counted.
    e.assert_no_use(0, &["show", PATH, "--reveal"], &[]);
    assert!(!e.log().exists());
    // Any other value keeps it on.
    e.assert_one_use(NOW, &["get", PATH], &[("AMANAT_USE_LOG", "on")]);
}

#[test]
fn an_unwritable_log_warns_once_and_the_secret_is_still_delivered() {
    let e = Env::new();
    // A directory where the log's directory belongs: nothing can be written there.
    fs::create_dir_all(e.env.state_dir()).unwrap();
    fs::write(e.env.state_dir().join("uses"), "not a directory").unwrap();
    let out = e.run_at(NOW, &["get", PATH], &[], "").success();
    assert_eq!(out.stdout, format!("{SECRET}\n"));
    let warnings: Vec<_> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: could not write the use log ("))
        .collect();
    assert_eq!(warnings.len(), 1, "{out:?}");
    assert!(
        warnings[0].ends_with("); set AMANAT_USE_LOG=off to silence"),
        "{out:?}"
    );
    // Off: silent.
    let out = e
        .run_at(NOW, &["get", PATH], &[("AMANAT_USE_LOG", "off")], "")
        .success();
    assert!(!out.stderr.contains("use log"), "{out:?}");
}

#[test]
fn uses_served_by_the_agent_are_recorded() {
    let e = Env::new();
    let socket = e.env.path("run/agent.sock");
    let sock = socket.to_str().unwrap();
    let out = e
        .run_at(NOW, &["unlock"], &[("AMANAT_AGENT_SOCK", sock)], "")
        .success();
    let pid = i32::try_from(out.agent_pid()).unwrap();
    // Served by the agent: no passphrase file at all.
    let get = || {
        let mut cmd = e.env.cmd(&["get", PATH]);
        cmd.env("AMANAT_NOW", (NOW + 5).to_string())
            .env("AMANAT_AGENT_SOCK", sock)
            .env_remove("AMANAT_PASSPHRASE_FILE");
        Outcome::from(cmd.output().unwrap())
    };
    let before = e.contents();
    let out = get().success();
    let lock = e.run_at(NOW, &["lock"], &[("AMANAT_AGENT_SOCK", sock)], "");
    if lock.code != 0
        && let Some(pid) = rustix::process::Pid::from_raw(pid)
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
    lock.success();
    assert_eq!(out.stdout, format!("{SECRET}\n"));
    assert_eq!(
        e.contents().strip_prefix(&before),
        Some(format!("{} {}\n", NOW + 5, e.entry_id()).as_str()),
        "{out:?}"
    );
}
