//! End-to-end tests of `history` and `restore` (issue 11, "History and restore"), and
//! of `log` showing entry paths to those who can read them (docs/guide.md,
//! docs/audit.md): alice (owner) and bob (a member) in one vault; an entry is added,
//! its password and username edited, shared with bob and renamed; `history` names what
//! each revision changed and never a value; `restore` brings old fields back as a new
//! revision, only for a writer.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Outcome, TestEnv};
use serde_json::Value;

const OLD_PASSWORD: &str = "Old-Xk9#mQ2$vL7!pR4@";
const NEW_PASSWORD: &str = "New-Yk9#mQ2$vL7!pR4@";
const PAYROLL: &str = "Pay-Zk9#mQ2$vL7!pR4@";
/// The first username: not a secret, but `history` prints no field value at all.
const OLD_USER: &str = "first-login-name";
const NEW_USER: &str = "second-login-name";
const URL: &str = "https://code.example.invalid";

/// alice's home, with bob's identity file beside hers.
struct Team {
    env: TestEnv,
    bob: String,
}

impl Team {
    /// alice (owner) and bob (member); `hr/payroll` readable by alice only.
    fn new() -> Self {
        let env = TestEnv::new();
        env.init_alice();
        let bob = env.path("bob.identity").display().to_string();
        let (key, fp) = env.identity_new_at(&bob, "bob");
        env.run(&["member", "add", "bob", &key, "--fingerprint", &fp])
            .success();
        env.add("hr/payroll", PAYROLL);
        Self { env, bob }
    }

    /// `amanat ARGS` as bob.
    fn as_bob(&self, args: &[&str]) -> Outcome {
        let mut all = vec!["--identity", self.bob.as_str()];
        all.extend_from_slice(args);
        self.env.run(&all)
    }

    /// add, edit the password, edit the username, share with bob, rename: the
    /// entry ends at `web/gh`.
    fn five_revisions(&self) {
        let env = &self.env;
        env.add_with(
            "web/github",
            OLD_PASSWORD,
            &["--username", OLD_USER, "--url", URL],
        );
        env.run_stdin(
            &["edit", "web/github", "--password-stdin"],
            &format!("{NEW_PASSWORD}\n"),
        )
        .success();
        env.run(&["edit", "web/github", "--username", NEW_USER])
            .success();
        env.run(&["share", "web/github", "--with", "bob"]).success();
        env.run(&["mv", "web/github", "web/gh"]).success();
    }

    /// `history PATH --json` as alice.
    fn history_json(&self, path: &str) -> Vec<Value> {
        let out = self.env.run(&["history", path, "--json"]).success();
        assert_no_secret(&out);
        out.json().as_array().unwrap().clone()
    }

    /// The id of an entry (from `ls --json`).
    fn id(&self, path: &str) -> String {
        let out = self.env.run(&["ls", "--json"]).success();
        out.json()
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["path"] == path)
            .unwrap_or_else(|| panic!("no {path} in {}", out.stdout))["id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// No password, and no field value at all, in either stream.
#[track_caller]
fn assert_no_secret(out: &Outcome) {
    for secret in [OLD_PASSWORD, NEW_PASSWORD, PAYROLL] {
        out.assert_absent(secret, "a password");
    }
    for value in [OLD_USER, NEW_USER, URL] {
        out.assert_absent(value, "a field value");
    }
}

/// The `changes` of each revision, newest first.
fn changes(revisions: &[Value]) -> Vec<Vec<String>> {
    revisions
        .iter()
        .map(|r| {
            r["changes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn history_names_the_changed_fields_and_never_a_value() {
    let team = Team::new();
    team.five_revisions();
    let env = &team.env;

    // The text form: time, author, changes, revision id, marks; newest first.
    let out = env.run(&["history", "web/gh"]).success();
    assert_no_secret(&out);
    let rows: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split('\t').collect())
        .collect();
    let got: Vec<(&str, &str)> = rows.iter().map(|r| (r[1], r[2])).collect();
    assert_eq!(
        got,
        [
            ("alice", "rename (web/github → web/gh)"),
            ("alice", "readers (+bob)"),
            ("alice", "username"),
            ("alice", "password"),
            ("alice", "create"),
        ],
        "{}",
        out.stdout
    );
    for r in &rows {
        assert!(r[0].ends_with(" UTC") && r[0].len() == 23, "{r:?}");
        assert_eq!(r[3].len(), 8, "{r:?}");
    }
    assert_eq!(rows[0].len(), 5, "the current revision is marked: {rows:?}");
    assert_eq!(rows[0][4], "current");
    assert!(rows[1..].iter().all(|r| r.len() == 4), "{rows:?}");

    // The JSON form: a stable shape.
    let revisions = team.history_json("web/gh");
    assert_eq!(
        changes(&revisions),
        [
            strings(&["rename"]),
            strings(&["readers"]),
            strings(&["username"]),
            strings(&["password"]),
            strings(&["create"]),
        ]
    );
    for r in &revisions {
        let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "author",
                "changes",
                "current",
                "fields",
                "head",
                "path",
                "previous",
                "readable",
                "readers_added",
                "readers_removed",
                "renamed_from",
                "revision",
                "time",
                "void",
                "writers_added",
                "writers_removed"
            ]
        );
        assert_eq!(r["author"], "alice");
        assert_eq!(r["readable"], true);
        assert_eq!(r["void"], Value::Null);
        assert_eq!(r["revision"].as_str().unwrap().len(), 64);
        assert!(r["time"].is_u64());
    }
    assert_eq!(revisions[0]["current"], true);
    assert_eq!(revisions[0]["head"], true);
    assert_eq!(revisions[0]["path"], "web/gh");
    assert_eq!(revisions[0]["renamed_from"], "web/github");
    assert_eq!(revisions[1]["readers_added"], serde_json::json!(["bob"]));
    assert_eq!(revisions[1]["path"], "web/github");
    assert!(revisions[1..].iter().all(|r| r["current"] == false));
    // Each revision names the one it was written on.
    for pair in revisions.windows(2) {
        assert_eq!(pair[0]["previous"], pair[1]["revision"]);
    }
    assert_eq!(revisions[4]["previous"], Value::Null);

    // Custom fields are named, their values never shown.
    env.run(&["edit", "web/gh", "--field", "team=payments-squad"])
        .success();
    let out = env.run(&["history", "web/gh"]).success();
    assert!(
        out.stdout
            .lines()
            .next()
            .unwrap()
            .contains("\tfields (team)\t"),
        "{}",
        out.stdout
    );
    out.assert_absent("payments-squad", "a custom field's value");

    // Only someone who can read the entry sees its history.
    team.as_bob(&["history", "hr/payroll"]).code(4);
    let out = team.as_bob(&["history", "web/gh"]).success();
    assert_no_secret(&out);
    // bob could not read the revisions before the share: their fields are unknown.
    assert!(
        out.stdout.contains("fields not readable by you"),
        "{}",
        out.stdout
    );
}

#[test]
fn restore_brings_back_old_fields_as_a_new_revision() {
    let team = Team::new();
    team.five_revisions();
    let env = &team.env;
    let before = team.history_json("web/gh");
    let created = before[4]["revision"].as_str().unwrap().to_string();
    assert_eq!(env.get("web/gh", "password"), NEW_PASSWORD);

    let out = env
        .run(&["restore", "web/gh", "--revision", &created[..8]])
        .success();
    assert_no_secret(&out);
    assert!(
        out.stdout
            .starts_with(&format!("restored web/gh to revision {}", &created[..8])),
        "{}",
        out.stdout
    );
    assert_eq!(env.get("web/gh", "password"), OLD_PASSWORD);
    assert_eq!(env.get("web/gh", "username"), OLD_USER);
    // The path and the sharing stay the current ones.
    assert_eq!(env.get("web/gh", "path"), "web/gh");
    let out = team.as_bob(&["get", "web/gh"]).success();
    assert_eq!(out.stdout, format!("{OLD_PASSWORD}\n"));

    // A new revision, on top of the old ones, that history shows.
    let after = team.history_json("web/gh");
    assert_eq!(after.len(), before.len() + 1);
    let ids = |rs: &[Value]| -> Vec<Value> { rs.iter().map(|r| r["revision"].clone()).collect() };
    assert_eq!(ids(&after[1..]), ids(&before));
    assert_eq!(after[0]["current"], true);
    assert_ne!(after[0]["revision"], created.as_str());
    assert_eq!(after[0]["previous"], before[0]["revision"]);
    assert_eq!(changes(&after[..1]), [strings(&["password", "username"])]);
    // The restored password is a password change, as an edit would make it.
    let show = env.run(&["show", "web/gh", "--json"]).success().json();
    assert_eq!(show["rotate_at_source"], false);
    assert!(show["password_changed"].as_u64().unwrap() >= show["created"].as_u64().unwrap());

    // The full id works too; restoring the fields it already has changes nothing.
    let out = env
        .run(&["restore", "web/gh", "--revision", &created])
        .code(2);
    assert!(out.error().contains("same fields"), "{}", out.stderr);
}

#[test]
fn restore_needs_write_access_and_a_revision_of_the_entry() {
    let team = Team::new();
    team.five_revisions();
    let env = &team.env;
    let created = team.history_json("web/gh")[4]["revision"]
        .as_str()
        .unwrap()
        .to_string();
    let vault_before = common::vault_state(&env.vault_path());

    // bob reads web/gh but may not write it.
    let out = team.as_bob(&["restore", "web/gh", "--revision", &created[..8]]);
    let out = out.code(5);
    assert_no_secret(&out);
    // An id no record has.
    let out = env
        .run(&["restore", "web/gh", "--revision", "0123456789abcdef"])
        .code(4);
    assert!(out.error().contains("no revision"), "{}", out.stderr);
    // A revision of another entry.
    let payroll = team.history_json("hr/payroll")[0]["revision"]
        .as_str()
        .unwrap()
        .to_string();
    let out = env
        .run(&["restore", "web/gh", "--revision", &payroll[..12]])
        .code(4);
    assert!(
        out.error().contains("is not a revision of this entry"),
        "{}",
        out.stderr
    );
    // Too few digits, or not hex: a usage error.
    env.run(&["restore", "web/gh", "--revision", &created[..7]])
        .code(2);
    env.run(&["restore", "web/gh", "--revision", "not-a-revision"])
        .code(2);
    // Nothing was written by any of these.
    assert_eq!(common::vault_state(&env.vault_path()), vault_before);
    assert_eq!(env.get("web/gh", "password"), NEW_PASSWORD);
}

#[test]
fn log_shows_paths_to_readers_and_ids_to_others() {
    let team = Team::new();
    team.five_revisions();
    let env = &team.env;
    let (gh, payroll) = (team.id("web/gh"), team.id("hr/payroll"));
    let subjects = |out: &Outcome, id: &str| -> Vec<String> {
        out.stdout
            .lines()
            .map(|l| l.split('\t').nth(3).unwrap().to_string())
            .filter(|s| s.starts_with(&id[..8]))
            .collect()
    };

    // alice (an admin) reads both: every entry event shows the current path.
    let out = env.run(&["log"]).success();
    assert_no_secret(&out);
    let mine = subjects(&out, &payroll);
    assert_eq!(mine, [format!("{} (hr/payroll)", &payroll[..8])]);
    let gh_events = subjects(&out, &gh);
    assert_eq!(gh_events.len(), 5, "{}", out.stdout);
    assert!(
        gh_events
            .iter()
            .all(|s| s.starts_with(&format!("{} (web/gh)", &gh[..8]))),
        "{gh_events:?}"
    );
    let json = env.run(&["log", "--json"]).success().json();
    let paths: Vec<&Value> = json
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["entry"] == payroll.as_str())
        .map(|e| &e["path"])
        .collect();
    assert_eq!(paths, [&Value::from("hr/payroll")]);

    // bob reads web/gh (shared with him), not hr/payroll: its id only.
    let out = team.as_bob(&["log"]).success();
    assert_no_secret(&out);
    assert_eq!(subjects(&out, &payroll), [payroll[..8].to_string()]);
    out.assert_absent("hr/payroll", "the path of an entry bob cannot read");
    assert!(
        subjects(&out, &gh)
            .iter()
            .all(|s| s.starts_with(&format!("{} (web/gh)", &gh[..8]))),
        "{}",
        out.stdout
    );
    let json = team.as_bob(&["log", "--json"]).success().json();
    for e in json.as_array().unwrap() {
        if e["entry"] == payroll.as_str() {
            assert_eq!(e["path"], Value::Null);
        }
    }

    // --ids, or no passphrase: ids only, and the command still works.
    let out = env.run(&["log", "--ids"]).success();
    assert_eq!(subjects(&out, &payroll), [payroll[..8].to_string()]);
    env.set_passphrase("wrong\n");
    let out = env.run(&["log"]).success();
    assert_eq!(subjects(&out, &payroll), [payroll[..8].to_string()]);
    assert!(
        out.stderr.contains("note: entries are shown by id"),
        "{}",
        out.stderr
    );
}
