//! End-to-end regression tests for issue 9, finding 9 (path squatting), through the
//! binary: a member adds an entry at a path he cannot see (`hr/secret`). Readers get
//! the entry created by an admin or by themselves, with a warning naming the other
//! and its creator; `--id` picks either exactly; where no single such entry stands
//! out, the lookup fails as ambiguous (exit 1) naming every entry's creator. The agent
//! answers by the same rule.
//!
//! Each person has their own hermetic home and they share one vault file (as in
//! tests/team.rs). Identities use `--insecure-kdf`.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use common::{Outcome, TestEnv};

/// One person: their own home, the vault file they use, and (optionally) an agent
/// socket in their home, whose agent is killed on drop.
struct Person {
    env: TestEnv,
    vault: PathBuf,
    agent_pids: Vec<u32>,
}

impl Drop for Person {
    fn drop(&mut self) {
        for pid in &self.agent_pids {
            if let Some(pid) = rustix::process::Pid::from_raw(*pid as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
    }
}

impl Person {
    fn new(env: TestEnv, vault: PathBuf) -> Self {
        Self {
            env,
            vault,
            agent_pids: Vec::new(),
        }
    }

    fn command(&self, args: &[&str], passphrase: bool) -> assert_cmd::Command {
        let mut cmd = self
            .env
            .detached_command(&["--vault", self.vault.to_str().unwrap()]);
        cmd.args(args)
            .env("AMANAT_AGENT_SOCK", self.env.path("run/agent.sock"));
        if !passphrase {
            cmd.env_remove("AMANAT_PASSPHRASE_FILE");
        }
        let mut cmd = assert_cmd::Command::from_std(cmd);
        cmd.timeout(common::COMMAND_TIMEOUT);
        cmd
    }

    /// `amanat --vault VAULT ARGS`.
    fn run(&self, args: &[&str]) -> Outcome {
        Outcome::from(self.command(args, true).output().unwrap())
    }

    /// The same with no passphrase source (only an unlocked agent can help).
    fn run_via_agent(&self, args: &[&str]) -> Outcome {
        Outcome::from(self.command(args, false).output().unwrap())
    }

    /// `add PATH --password-stdin EXTRA…`.
    fn add(&self, path: &str, password: &str, extra: &[&str]) {
        let mut args = vec!["add", path, "--password-stdin"];
        args.extend_from_slice(extra);
        let out = Outcome::from(
            self.command(&args, true)
                .write_stdin(format!("{password}\n"))
                .output()
                .unwrap(),
        );
        assert_eq!(out.success().stdout, format!("added {path}\n"));
    }

    /// `unlock`: start this person's agent.
    fn unlock(&mut self) {
        let out = self.run(&["unlock"]).success();
        let pid = out.agent_pid();
        self.agent_pids.push(pid);
    }
}

/// The value `get` printed (without its newline).
fn value(out: &Outcome) -> &str {
    out.stdout.strip_suffix('\n').unwrap()
}

/// The `warning: ` lines about shadowed entries.
fn shadow_warnings(out: &Outcome) -> Vec<&str> {
    out.stderr
        .lines()
        .filter(|l| l.starts_with("warning: ") && l.contains("shadowed"))
        .collect()
}

/// The one shadow warning of `out`, which must say that at `path` the entry
/// created by `shown_by` is shown over one created by `other_by`; the shadowed
/// entry's short id.
#[track_caller]
fn shadowed_id(out: &Outcome, path: &str, other_by: &str, shown_by: &str) -> String {
    let warnings = shadow_warnings(out);
    assert_eq!(warnings.len(), 1, "{}", out.stderr);
    let rest = warnings[0]
        .strip_prefix(&format!("warning: another entry at '{path}' ("))
        .unwrap_or_else(|| panic!("{}", warnings[0]));
    let (id, rest) = rest.split_once(' ').unwrap();
    assert!(
        rest.starts_with(&format!("by {other_by}) is shadowed: showing "))
            && rest.contains(&format!(" by {shown_by}, created by an admin or by you; "))
            && rest.ends_with("use --id to pick it"),
        "{}",
        warnings[0]
    );
    id.to_string()
}

/// alice, owner of a new vault `acme`.
fn alice() -> Person {
    let env = TestEnv::new();
    env.init_alice();
    let vault = env.vault_path();
    Person::new(env, vault)
}

/// `name` joins alice's vault as a plain member.
fn member(alice: &Person, name: &str) -> Person {
    let env = TestEnv::new();
    let (key, fp) = env.identity_new(name);
    let out = alice
        .run(&["member", "add", name, &key, "--fingerprint", &fp])
        .success();
    let invite = out.stdout.lines().last().unwrap().to_string();
    let p = Person::new(env, alice.vault.clone());
    p.run(&["join", &invite]).success();
    p
}

/// The full hex id of the entries at `path` that `p` lists, in listing order.
fn ids_at(p: &Person, path: &str) -> Vec<String> {
    let list = p.run(&["ls", path, "--json"]).success().json();
    list.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"] == path)
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_members_squat_is_shadowed_with_a_warning_and_get_id_picks_it() {
    let alice = alice();
    let bob = member(&alice, "bob");
    alice.add("hr/secret", "real", &[]);
    // bob cannot see alice's entry: nothing stops him adding one at its path.
    bob.add("hr/secret", "squat", &[]);

    // Before the fix, alice's get failed as ambiguous (exit 1).
    let out = alice.run(&["get", "hr/secret"]).success();
    assert_eq!(value(&out), "real");
    let squat = shadowed_id(&out, "hr/secret", "bob", "alice");
    let out = alice.run(&["show", "hr/secret"]).success();
    assert_eq!(shadowed_id(&out, "hr/secret", "bob", "alice"), squat);

    // --id picks the squatter's entry (short id from the warning, or full hex).
    let ids = ids_at(&alice, "hr/secret");
    assert_eq!(ids.len(), 2);
    let full_squat = ids.iter().find(|id| id.starts_with(&squat)).unwrap();
    let full_real = ids.iter().find(|id| !id.starts_with(&squat)).unwrap();
    for id in [&squat, full_squat] {
        let out = alice.run(&["get", "hr/secret", "--id", id]).success();
        assert_eq!(value(&out), "squat");
        assert!(shadow_warnings(&out).is_empty(), "{}", out.stderr);
    }
    let out = alice
        .run(&["get", "hr/secret", "--id", &full_real.to_uppercase()])
        .success();
    assert_eq!(value(&out), "real");
    let out = alice
        .run(&["show", "hr/secret", "--id", &squat, "--json", "--reveal"])
        .success()
        .json();
    assert_eq!(
        (&out["id"], &out["password"]),
        (&full_squat.as_str().into(), &"squat".into())
    );
    // An id that is not an entry's, or not at this path, is refused.
    alice.run(&["get", "hr/secret", "--id", "xyz"]).code(2);
    alice.add("hr/other", "other", &[]);
    let out = alice.run(&["get", "hr/other", "--id", &squat]).code(4);
    assert!(
        out.error().contains("is not at 'hr/other'"),
        "{}",
        out.stderr
    );

    // bob sees only his own, without a warning.
    let out = bob.run(&["get", "hr/secret"]).success();
    assert_eq!(value(&out), "squat");
    assert!(shadow_warnings(&out).is_empty(), "{}", out.stderr);

    // Writes by path act on the shown entry, and warn.
    let out = alice
        .run(&["edit", "hr/secret", "--username", "hr-admin"])
        .success();
    assert_eq!(shadowed_id(&out, "hr/secret", "bob", "alice"), squat);
    let out = alice
        .run(&["get", "hr/secret", "--field", "username"])
        .success();
    assert_eq!(value(&out), "hr-admin");
    let out = alice
        .run(&["share", "hr/secret", "--with", "bob"])
        .success();
    assert_eq!(shadowed_id(&out, "hr/secret", "bob", "alice"), squat);
    let out = alice.run(&["otp", "hr/secret"]).code(4);
    assert_eq!(shadowed_id(&out, "hr/secret", "bob", "alice"), squat);

    // rm --id removes the squat; then nothing is shadowed.
    let out = alice.run(&["rm", "hr/secret", "--id", &squat]).success();
    assert!(shadow_warnings(&out).is_empty(), "{}", out.stderr);
    for who in [&alice, &bob] {
        let out = who.run(&["get", "hr/secret"]).success();
        assert_eq!(value(&out), "real");
        assert!(shadow_warnings(&out).is_empty(), "{}", out.stderr);
    }
}

#[test]
fn two_members_entries_at_one_path_are_ambiguous_for_others_and_each_sees_their_own() {
    let alice = alice();
    let bob = member(&alice, "bob");
    let carol = member(&alice, "carol");
    bob.add("team/deploy", "bob's", &[]);
    carol.add("team/deploy", "carol's", &["--share-with", "bob"]);

    // bob's own entry shadows carol's.
    let out = bob.run(&["get", "team/deploy"]).success();
    assert_eq!(value(&out), "bob's");
    let carols = shadowed_id(&out, "team/deploy", "carol", "bob");
    assert_eq!(
        value(&bob.run(&["get", "team/deploy", "--id", &carols]).success()),
        "carol's"
    );

    // alice (an admin, but neither entry is an admin's or hers): ambiguous, exit 1,
    // naming both creators.
    let out = alice.run(&["get", "team/deploy"]).code(1);
    let error = out.error();
    assert!(
        error.starts_with("ambiguous path 'team/deploy': entries ")
            && error.contains(&format!("{carols} (carol)"))
            && error.contains(" (bob)"),
        "{error}"
    );
    assert!(out.hint().contains("--id"), "{}", out.stderr);
    assert_eq!(
        value(
            &alice
                .run(&["get", "team/deploy", "--id", &carols])
                .success()
        ),
        "carol's"
    );
}

#[test]
fn the_agent_applies_the_same_choice() {
    let mut alice = alice();
    let bob = member(&alice, "bob");
    let carol = member(&alice, "carol");
    alice.add("hr/secret", "real", &[]);
    bob.add("hr/secret", "squat", &[]);
    bob.add("team/deploy", "bob's", &[]);
    carol.add("team/deploy", "carol's", &[]);
    alice.unlock();

    let out = alice.run_via_agent(&["get", "hr/secret"]).success();
    assert_eq!(value(&out), "real");
    let squat = shadowed_id(&out, "hr/secret", "bob", "alice");
    // The same warning as without the agent.
    let local = alice.run(&["get", "hr/secret"]).success();
    assert_eq!(shadow_warnings(&out), shadow_warnings(&local));
    // --id is opened here, with the agent's keys: still no passphrase needed.
    let out = alice
        .run_via_agent(&["get", "hr/secret", "--id", &squat])
        .success();
    assert_eq!(value(&out), "squat");

    let out = alice.run_via_agent(&["get", "team/deploy"]).code(1);
    assert!(
        out.error()
            .starts_with("ambiguous path 'team/deploy': entries ")
            && out.error().contains(" (bob)")
            && out.error().contains(" (carol)"),
        "{}",
        out.stderr
    );
}
