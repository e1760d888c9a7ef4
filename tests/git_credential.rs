//! End-to-end tests of `amanat git-credential` with the real `git`: a hermetic HOME
//! whose global git config names amanat as the credential helper (git passes the
//! hermetic environment, AMANAT_PASSPHRASE_FILE included, on to the helper), then
//! `git credential fill|approve|reject` as git itself runs them around a login.
//! Matching rules in detail are unit tests in `src/gitcred.rs`.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{COMMAND_TIMEOUT, Outcome, TestEnv, bin, segment_names, vault_bytes};

const TOKEN: &str = "ghp_Token-3b9f1e";
const DECOY: &str = "Decoy-Secret-77a2";

/// util-linux `setsid`, to run git without a controlling terminal (so neither git
/// nor the helper can prompt on the developer's terminal).
fn setsid() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("setsid"))
        .find(|p| p.is_file())
}

/// `git ARGS` in the hermetic environment with `stdin`, no system config, no
/// terminal prompts, plus `extra` variables.
fn git(env: &TestEnv, args: &[&str], stdin: &str, extra: &[(&str, &str)]) -> Outcome {
    let mut cmd = match setsid() {
        Some(s) => {
            let mut c = Command::new(s);
            c.arg("--wait").arg("git");
            c
        }
        None => Command::new("git"),
    };
    cmd.args(args);
    env.apply_env(&mut cmd);
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut cmd = assert_cmd::Command::from_std(cmd);
    cmd.timeout(COMMAND_TIMEOUT).write_stdin(stdin);
    Outcome::from(cmd.output().unwrap())
}

/// alice's vault with the GitHub token, a decoy for the same host under a path (for
/// another user) and one for another host; amanat configured as git's helper.
fn setup() -> TestEnv {
    let env = TestEnv::new();
    env.init_alice();
    env.add_with(
        "web/github",
        TOKEN,
        &["--username", "alice", "--url", "https://github.com"],
    );
    env.add_with(
        "web/github-acme",
        DECOY,
        &["--username", "carol", "--url", "https://github.com/acme"],
    );
    env.add_with(
        "web/gitlab",
        DECOY,
        &["--username", "bob", "--url", "https://gitlab.com"],
    );
    let helper = format!("!'{}' git-credential", bin().display());
    git(
        &env,
        &["config", "--global", "credential.helper", &helper],
        "",
        &[],
    )
    .success();
    env
}

fn fill(env: &TestEnv, request: &str) -> Outcome {
    git(env, &["credential", "fill"], request, &[])
}

fn ls(env: &TestEnv) -> String {
    env.stdout(&["ls"])
}

#[test]
fn fill_returns_the_stored_username_and_token() {
    let env = setup();
    let out = fill(&env, "protocol=https\nhost=github.com\n\n").success();
    assert_eq!(
        out.stdout,
        format!("protocol=https\nhost=github.com\nusername=alice\npassword={TOKEN}\n")
    );
    assert!(
        !out.stderr.contains(TOKEN),
        "token on stderr: {}",
        out.stderr
    );
}

#[test]
fn fill_for_an_unknown_host_gets_nothing_from_amanat() {
    let env = setup();
    let out = fill(&env, "protocol=https\nhost=unknown.example\n\n");
    // With nothing from the helper git would prompt; prompts are off, so it fails.
    assert_ne!(out.code, 0, "git credential fill succeeded: {out:?}");
    assert!(!out.stdout.contains("password="), "{out:?}");
    out.assert_absent(TOKEN, "the token");
    out.assert_absent(DECOY, "the decoy");
    // http is not https: no token for the same host over another scheme.
    let out = fill(&env, "protocol=http\nhost=github.com\n\n");
    assert_ne!(out.code, 0);
    out.assert_absent(TOKEN, "the token");
}

#[test]
fn fill_with_another_username_gets_nothing() {
    let env = setup();
    let out = fill(
        &env,
        "protocol=https\nhost=github.com\nusername=mallory\n\n",
    );
    assert_ne!(out.code, 0, "{out:?}");
    out.assert_absent(TOKEN, "the token");
    out.assert_absent(DECOY, "the decoy");
    // The decoy's own username selects the decoy.
    let out = fill(&env, "protocol=https\nhost=github.com\nusername=carol\n\n").success();
    assert!(
        out.stdout
            .ends_with(&format!("username=carol\npassword={DECOY}\n"))
    );
}

#[test]
fn fill_uses_the_longest_path_with_use_http_path() {
    let env = setup();
    git(
        &env,
        &["config", "--global", "credential.useHttpPath", "true"],
        "",
        &[],
    )
    .success();
    env.add_with(
        "git/team-a",
        "Team-A-Secret",
        &["--username", "a", "--url", "https://git.example.com/team-a"],
    );
    env.add_with(
        "git/team-b",
        "Team-B-Secret",
        &[
            "--username",
            "b",
            "--url",
            "https://git.example.com/team-b/",
        ],
    );
    env.add_with(
        "git/host",
        "Host-Secret",
        &["--username", "h", "--url", "https://git.example.com"],
    );
    let out = fill(&env, "url=https://git.example.com/team-b/repo.git\n\n").success();
    assert!(
        out.stdout.ends_with("username=b\npassword=Team-B-Secret\n"),
        "{out:?}"
    );
    let out = fill(&env, "url=https://git.example.com/team-c/repo.git\n\n").success();
    assert!(
        out.stdout.ends_with("username=h\npassword=Host-Secret\n"),
        "{out:?}"
    );
}

#[test]
fn approve_with_a_new_password_updates_the_entry() {
    let env = setup();
    let before = ls(&env);
    let out = git(
        &env,
        &["credential", "approve"],
        "protocol=https\nhost=github.com\nusername=alice\npassword=ghp_New-91c4\n\n",
        &[],
    )
    .success();
    assert!(!out.stderr.contains("ghp_New-91c4"), "{}", out.stderr);
    assert_eq!(env.get("web/github", "password"), "ghp_New-91c4");
    assert_eq!(env.get("web/github-acme", "password"), DECOY);
    assert_eq!(ls(&env), before);
    // And git gets the new one next time.
    let out = fill(&env, "protocol=https\nhost=github.com\n\n").success();
    assert!(out.stdout.ends_with("password=ghp_New-91c4\n"), "{out:?}");
}

#[test]
fn approve_of_the_same_password_does_not_rewrite_the_vault() {
    let env = setup();
    let names = segment_names(&env.vault_path());
    let before = vault_bytes(&env.vault_path());
    git(
        &env,
        &["credential", "approve"],
        &format!("protocol=https\nhost=github.com\nusername=alice\npassword={TOKEN}\n\n"),
        &[],
    )
    .success();
    // Nothing written: no new segment.
    assert_eq!(segment_names(&env.vault_path()), names);
    assert_eq!(vault_bytes(&env.vault_path()), before);
}

#[test]
fn approve_for_an_unknown_host_creates_only_when_asked() {
    let env = setup();
    let before = ls(&env);
    let request = "protocol=https\nhost=git.example.org\nusername=bob\npassword=Bob-Token-1\n\n";
    git(&env, &["credential", "approve"], request, &[]).success();
    assert_eq!(ls(&env), before);
    git(
        &env,
        &["credential", "approve"],
        request,
        &[("AMANAT_GIT_STORE", "create")],
    )
    .success();
    assert_eq!(
        env.get("git/git.example.org/bob", "password"),
        "Bob-Token-1"
    );
    assert_eq!(env.get("git/git.example.org/bob", "username"), "bob");
    assert_eq!(
        env.get("git/git.example.org/bob", "url"),
        "https://git.example.org"
    );
    let out = fill(&env, "protocol=https\nhost=git.example.org\n\n").success();
    assert!(out.stdout.ends_with("username=bob\npassword=Bob-Token-1\n"));
}

#[test]
fn reject_keeps_the_entry() {
    let env = setup();
    let before = ls(&env);
    let out = git(
        &env,
        &["credential", "reject"],
        &format!("protocol=https\nhost=github.com\nusername=alice\npassword={TOKEN}\n\n"),
        &[],
    )
    .success();
    assert!(!out.stderr.contains(TOKEN), "{}", out.stderr);
    assert_eq!(ls(&env), before);
    assert_eq!(env.get("web/github", "password"), TOKEN);
    let out = fill(&env, "protocol=https\nhost=github.com\n\n").success();
    assert!(out.stdout.ends_with(&format!("password={TOKEN}\n")));
}

// The helper run directly, as git would run it.

#[test]
fn get_without_a_match_prints_nothing_and_succeeds() {
    let env = setup();
    let out = env
        .run_stdin(
            &["git-credential", "get"],
            "protocol=https\nhost=nowhere.example\n\n",
        )
        .success();
    assert_eq!(out.stdout, "");
    let out = env
        .run_stdin(
            &["git-credential", "get"],
            "protocol=https\nhost=github.com\n\n",
        )
        .success();
    assert_eq!(out.stdout, format!("username=alice\npassword={TOKEN}\n"));
}

#[test]
fn values_that_would_inject_protocol_lines_are_not_offered() {
    let env = TestEnv::new();
    env.init_alice();
    env.add_with(
        "web/evil",
        TOKEN,
        &[
            "--username",
            "alice\nhost=evil.example",
            "--url",
            "https://github.com",
        ],
    );
    let out = env
        .run_stdin(
            &["git-credential", "get"],
            "protocol=https\nhost=github.com\n\n",
        )
        .success();
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("not offered to git"), "{}", out.stderr);
    out.assert_absent(TOKEN, "the token");
}

#[test]
fn oversized_or_malformed_requests_fail_cleanly() {
    let env = setup();
    let big = format!("protocol=https\nhost={}\n\n", "a".repeat(70 * 1024));
    let out = env.run_stdin(&["git-credential", "get"], &big).code(1);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.error(),
        "git's credential request is larger than 64 KiB"
    );
    let out = env
        .run_stdin(
            &["git-credential", "get"],
            "protocol=https\nno equals sign\n\n",
        )
        .code(1);
    assert_eq!(
        out.error(),
        "git's credential request has a line that is not key=value"
    );
    assert!(!out.stderr.contains("panicked"));
}

#[test]
fn an_unknown_store_mode_is_a_usage_error() {
    let env = setup();
    let mut cmd = env.cmd(&["git-credential", "store"]);
    cmd.env("AMANAT_GIT_STORE", "sometimes")
        .write_stdin("protocol=https\nhost=github.com\nusername=alice\npassword=x\n\n");
    let out = Outcome::from(cmd.output().unwrap()).code(2);
    assert_eq!(
        out.error(),
        "AMANAT_GIT_STORE must be update, create or off"
    );
    assert_eq!(env.get("web/github", "password"), TOKEN);
}

/// An agent unlocked for `env` (socket inside its home), killed by pid on drop.
struct Agent<'a> {
    env: &'a TestEnv,
    pid: u32,
}

impl<'a> Agent<'a> {
    fn unlock(env: &'a TestEnv) -> Self {
        let mut cmd = env.cmd(&["unlock"]);
        cmd.env("AMANAT_AGENT_SOCK", Self::socket(env));
        let out = Outcome::from(cmd.output().unwrap()).success();
        let pid = out.agent_pid();
        Self { env, pid }
    }

    fn socket(env: &TestEnv) -> String {
        env.path("run/agent.sock").display().to_string()
    }

    /// Variables for git (and so the helper): this agent, and no passphrase source.
    fn vars(&self) -> [(&'static str, String); 2] {
        [
            ("AMANAT_AGENT_SOCK", Self::socket(self.env)),
            ("AMANAT_PASSPHRASE_FILE", String::new()),
        ]
    }
}

impl Drop for Agent<'_> {
    fn drop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.pid as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

#[test]
fn an_unlocked_agent_answers_get_and_a_same_password_store_without_the_passphrase() {
    let env = setup();
    let agent = Agent::unlock(&env);
    let vars = agent.vars();
    let extra: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = git(
        &env,
        &["credential", "fill"],
        "protocol=https\nhost=github.com\n\n",
        &extra,
    )
    .success();
    assert_eq!(
        out.stdout,
        format!("protocol=https\nhost=github.com\nusername=alice\npassword={TOKEN}\n")
    );
    // git stores what it just got: nothing to write, so nothing to unlock.
    let names = segment_names(&env.vault_path());
    let before = vault_bytes(&env.vault_path());
    let out = git(
        &env,
        &["credential", "approve"],
        &format!("protocol=https\nhost=github.com\nusername=alice\npassword={TOKEN}\n\n"),
        &extra,
    )
    .success();
    assert!(!out.stderr.contains("error:"), "{}", out.stderr);
    assert_eq!(segment_names(&env.vault_path()), names);
    assert_eq!(vault_bytes(&env.vault_path()), before);
    // Without any passphrase source, the same commands fail: the agent was used.
    let out = git(
        &env,
        &["credential", "fill"],
        "protocol=https\nhost=github.com\n\n",
        &[("AMANAT_PASSPHRASE_FILE", "")],
    );
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("error: no passphrase available"),
        "{out:?}"
    );
}

// Issue 11, "git-credential store exfiltration": what `store` may write into.

const ALICE_TOKEN: &str = "glpat-Alice-5e0d2c";
const CORP: &str = "protocol=https\nhost=git.corp.example\n\n";

/// `amanat --vault VAULT ARGS` for another person sharing `vault`.
fn as_member(env: &TestEnv, vault: &std::path::Path, args: &[&str], stdin: &str) -> Outcome {
    let mut all = vec!["--vault", vault.to_str().unwrap()];
    all.extend_from_slice(args);
    env.run_stdin(&all, stdin)
}

/// bob, a plain member of `alice`'s vault, in his own home.
fn join_bob(alice: &TestEnv) -> TestEnv {
    let bob = TestEnv::new();
    let (key, fp) = bob.identity_new("bob");
    let out = alice
        .run(&["member", "add", "bob", &key, "--fingerprint", &fp])
        .success();
    let invite = out.stdout.lines().last().unwrap().to_string();
    as_member(&bob, &alice.vault_path(), &["join", &invite], "").success();
    bob
}

/// `git credential approve` of alice's token for git.corp.example.
fn approve_alice_token(alice: &TestEnv) -> Outcome {
    git(
        alice,
        &["credential", "approve"],
        &format!(
            "protocol=https\nhost=git.corp.example\nusername=alice\npassword={ALICE_TOKEN}\n\n"
        ),
        &[],
    )
    .success()
}

#[test]
fn store_never_writes_into_an_entry_someone_else_planted() {
    let alice = setup();
    let bob = join_bob(&alice);
    let vault = alice.vault_path();
    // bob plants entries for alice's git host, with her username and an empty
    // password (so `get` skips them and git prompts her), shared with her; one of them
    // at the very path `store` would create.
    for path in ["git/corp-mirror", "git/git.corp.example/alice"] {
        as_member(
            &bob,
            &vault,
            &[
                "add",
                path,
                "--username",
                "alice",
                "--url",
                "https://git.corp.example",
                "--password-stdin",
                "--share-with",
                "alice",
            ],
            "\n",
        )
        .success();
    }
    // alice's git asks amanat: nothing to offer (empty passwords), so git would prompt.
    let out = alice.run_stdin(&["git-credential", "get"], CORP).success();
    assert_eq!(out.stdout, "");
    // She types her token, the login works, git stores it.
    let out = approve_alice_token(&alice);
    out.assert_absent(ALICE_TOKEN, "alice's token");
    assert!(
        out.stderr.contains(
            "amanat: stored git's new login in a new entry 'git/git.corp.example/alice-2', shared with no one; 'git/corp-mirror' also matches but was not changed"
        ),
        "{out:?}"
    );
    // bob's entries still hold his (empty) value.
    for path in ["git/corp-mirror", "git/git.corp.example/alice"] {
        let out = as_member(&bob, &vault, &["get", path], "").success();
        assert_eq!(out.stdout, "\n", "{path}: {out:?}");
    }
    // Her token is in a new entry that only she (the owner, so all the admins) reads.
    assert_eq!(
        alice.get("git/git.corp.example/alice-2", "password"),
        ALICE_TOKEN
    );
    let access = alice
        .run(&["access", "git/git.corp.example/alice-2"])
        .success();
    assert!(!access.stdout.contains("bob"), "{access:?}");
    let out = as_member(&bob, &vault, &["ls"], "").success();
    assert!(!out.stdout.contains("alice-2"), "{out:?}");
    let out = as_member(&bob, &vault, &["get", "git/git.corp.example/alice-2"], "");
    assert_ne!(out.code, 0, "{out:?}");
    out.assert_absent(ALICE_TOKEN, "alice's token");
    // Nothing bob can read anywhere holds it: every entry he can see, in full.
    let listing = as_member(&bob, &vault, &["ls"], "").success().stdout;
    for path in listing.lines() {
        let out = as_member(&bob, &vault, &["show", path, "--reveal"], "").success();
        out.assert_absent(ALICE_TOKEN, "alice's token");
    }
    // And git now gets her token from her entry.
    let out = alice.run_stdin(&["git-credential", "get"], CORP).success();
    assert_eq!(
        out.stdout,
        format!("username=alice\npassword={ALICE_TOKEN}\n")
    );
    // Storing it again writes nothing (git used that entry).
    let names = segment_names(&vault);
    approve_alice_token(&alice);
    assert_eq!(segment_names(&vault), names);
}

#[test]
fn store_fills_in_an_empty_password_of_your_own_private_entry() {
    let alice = setup();
    alice.add_with(
        "git/corp",
        "",
        &["--username", "alice", "--url", "https://git.corp.example"],
    );
    let before = ls(&alice);
    let out = approve_alice_token(&alice);
    assert!(
        out.stderr
            .contains("amanat: updated the password of 'git/corp' from git"),
        "{out:?}"
    );
    assert_eq!(alice.get("git/corp", "password"), ALICE_TOKEN);
    assert_eq!(ls(&alice), before);
}

#[test]
fn store_does_not_write_into_your_entry_once_others_can_read_it() {
    let alice = setup();
    let bob = join_bob(&alice);
    // alice's own entry, shared with bob (a team credential): a new password git got
    // elsewhere does not go into it; it goes into a new entry shared with no one.
    alice.add_with(
        "git/corp",
        "Team-Old-1",
        &[
            "--username",
            "alice",
            "--url",
            "https://git.corp.example",
            "--share-with",
            "bob",
        ],
    );
    let out = approve_alice_token(&alice);
    assert!(
        out.stderr
            .contains("new entry 'git/git.corp.example/alice'"),
        "{out:?}"
    );
    let out = as_member(&bob, &alice.vault_path(), &["get", "git/corp"], "").success();
    assert_eq!(out.stdout, "Team-Old-1\n");
    assert_eq!(
        alice.get("git/git.corp.example/alice", "password"),
        ALICE_TOKEN
    );
    // Storing the same token again writes nothing: her entry holds it.
    let names = segment_names(&alice.vault_path());
    approve_alice_token(&alice);
    assert_eq!(segment_names(&alice.vault_path()), names);
}
