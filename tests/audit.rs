//! End-to-end tests of `log`, `audit` and `report access` (CLI.md; docs/audit.md):
//! a small team — alice (owner), bob (member) in @devops — shares entries, bob is
//! removed, and the review commands must show exactly what happened and what to fix,
//! without ever printing a password.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Outcome, TestEnv};
use serde_json::Value;

const REDIS: &str = "Xk9#mQ2$vL7!pR4@-redis";
const DB: &str = "Yk9#mQ2$vL7!pR4@-db";
const PAYROLL: &str = "Zk9#mQ2$vL7!pR4@-payroll";

/// alice's home with a second identity file for bob.
struct Team {
    env: TestEnv,
    bob: String,
}

impl Team {
    /// alice (owner) and bob (member, in @devops); ops/redis shared with @devops,
    /// ops/db shared with bob directly, hr/payroll with nobody.
    fn new() -> Self {
        let env = TestEnv::new();
        env.init_alice();
        let bob = env.path("bob.identity").display().to_string();
        let (key, fp) = env.identity_new_at(&bob, "bob");
        env.run(&["member", "add", "bob", &key, "--fingerprint", &fp])
            .success();
        env.run(&["group", "create", "devops", "bob"]).success();
        env.add_with("ops/redis", REDIS, &["--share-with", "@devops"]);
        env.add("ops/db", DB);
        env.add("hr/payroll", PAYROLL);
        env.run(&["share", "ops/db", "--with", "bob"]).success();
        Self { env, bob }
    }

    /// `amanat ARGS` as bob.
    fn as_bob(&self, args: &[&str]) -> Outcome {
        let mut all = vec!["--identity", self.bob.as_str()];
        all.extend_from_slice(args);
        self.env.run(&all)
    }

    /// The entry id of a path (from `ls --json`).
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

    fn assert_no_password(&self, out: &Outcome) {
        for pw in [REDIS, DB, PAYROLL] {
            out.assert_absent(pw, "a password");
        }
    }
}

/// `(kind, path)` of each `kind<TAB>path<TAB>detail` line.
fn findings(out: &Outcome) -> Vec<(String, String)> {
    out.stdout
        .lines()
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 3, "not kind<TAB>path<TAB>detail: {l:?}");
            (cols[0].to_string(), cols[1].to_string())
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn revocation_is_audited_until_each_password_changes() {
    let team = Team::new();
    let env = &team.env;
    // A clean team has nothing to report, and --strict passes.
    let out = env.run(&["audit", "--strict"]).success();
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("audit: no findings over 3 entries"),
        "{}",
        out.stderr
    );

    env.run(&["member", "rm", "bob"]).success();
    let out = env.run(&["audit"]).success();
    assert_eq!(
        findings(&out),
        pairs(&[
            ("rotate-at-source", "ops/db"),
            ("rotate-at-source", "ops/redis")
        ])
    );
    assert!(
        out.stdout
            .lines()
            .all(|l| l.ends_with("\tbob was removed and could read it: change the password where it is used, then update it here ('amanat edit PATH --generate')")),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("audit: 2 findings over 3 entries (rotate-at-source: 2)")
    );
    team.assert_no_password(&out);

    let out = env.run(&["audit", "--strict"]).code(7);
    assert_eq!(out.error(), "2 findings (--strict)");
    assert_eq!(findings(&out).len(), 2);

    // JSON shape.
    let out = env.run(&["audit", "--json"]).success();
    let items = out.json();
    let items = items.as_array().unwrap();
    assert_eq!(items.len(), 2);
    let db_id = team.id("ops/db");
    assert_eq!(
        items[0],
        serde_json::json!({
            "kind": "rotate-at-source",
            "path": "ops/db",
            "id": db_id,
            "detail": "bob was removed and could read it: change the password where it is used, then update it here ('amanat edit PATH --generate')",
        })
    );

    // Changing the password clears that entry's finding, and only that one.
    env.run(&["edit", "ops/db", "--generate"]).success();
    let out = env.run(&["audit"]).success();
    assert_eq!(findings(&out), pairs(&[("rotate-at-source", "ops/redis")]));
    env.run(&["audit", "--strict"]).code(7);
    // Editing something else does not.
    env.run(&["edit", "ops/redis", "--username", "svc"])
        .success();
    assert_eq!(
        findings(&env.run(&["audit"]).success()),
        pairs(&[("rotate-at-source", "ops/redis")])
    );
}

#[test]
fn audit_needs_the_passphrase_and_covers_only_what_a_member_reads() {
    let team = Team::new();
    let out = team.as_bob(&["audit"]).success();
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains(
            "note: you are not an admin: this audit covers only the 2 of 3 entries shared with you"
        ),
        "{}",
        out.stderr
    );
    team.env.set_passphrase("wrong\n");
    team.env.run(&["audit"]).code(3);
}

#[test]
fn weak_reused_old_and_stale_passwords() {
    let env = TestEnv::new();
    env.init_alice();
    let shared = "Qv8!tZ3#nW6$kP1@";
    env.add("a/one", shared);
    env.add("a/two", shared);
    env.add("w/common", "password123");
    env.add("w/short", "Tr0ub4dor&3");
    env.add("w/digits", "12345678901234567890");
    let out = env.run(&["audit"]).success();
    assert_eq!(
        out.stdout,
        "reused\ta/one\tsame password as 1 other entry: a/two\n\
         reused\ta/two\tsame password as 1 other entry: a/one\n\
         weak\tw/common\ta common password with a few characters added\n\
         weak\tw/digits\tonly one kind of character\n\
         weak\tw/short\tshorter than 12 characters\n"
    );
    for pw in [shared, "password123", "Tr0ub4dor&3", "12345678901234567890"] {
        out.assert_absent(pw, "a password");
    }
    // Everything was changed just now: older than 0 days, not older than 1.
    let out = env
        .run(&["audit", "--max-age", "0", "--stale", "0"])
        .success();
    let kinds = findings(&out);
    assert_eq!(kinds.iter().filter(|(k, _)| k == "max-age").count(), 5);
    assert_eq!(kinds.iter().filter(|(k, _)| k == "stale").count(), 5);
    assert!(
        out.stdout
            .contains("max-age\ta/one\tpassword last changed 0 days ago (limit 0)\n")
    );
    let out = env
        .run(&["audit", "--max-age", "1", "--stale", "1"])
        .success();
    assert_eq!(findings(&out).len(), 5);
    assert!(!out.stdout.contains("max-age") && !out.stdout.contains("stale"));
}

#[test]
fn log_shows_the_team_history() {
    let team = Team::new();
    let env = &team.env;
    env.run(&["member", "rm", "bob"]).success();
    let (db, redis) = (team.id("ops/db"), team.id("ops/redis"));
    let (db8, redis8) = (&db[..8], &redis[..8]);

    // --ids: entries by id only (without it, the paths alice can read are shown too:
    // tests/history.rs).
    let out = env.run(&["log", "--ids", "--json"]).success();
    let events = out.json();
    let events = events.as_array().unwrap();
    for e in events {
        let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "action", "author", "entry", "ignored", "members", "path", "record", "subject",
                "time"
            ]
        );
        assert!(e["time"].is_u64());
        assert_eq!(e["record"].as_str().unwrap().len(), 64);
        assert_eq!(e["author"], "alice");
        assert_eq!(e["ignored"], Value::Null);
        assert_eq!(e["path"], Value::Null, "log --ids shows no paths");
    }
    let got: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["subject"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let (first, second) = if db < redis {
        (db8, redis8)
    } else {
        (redis8, db8)
    };
    let payroll8 = team.id("hr/payroll")[..8].to_string();
    let want = pairs(&[
        ("create vault", "acme"),
        ("rotate key", "@admins"),
        ("add member", "bob (member)"),
        ("create group", "@devops (bob)"),
        ("entry create", &format!("{redis8} with @devops")),
        ("entry create", db8),
        ("entry create", &payroll8),
        ("entry share", &format!("{db8} with bob")),
        ("remove member", "bob"),
        ("rotate key", "@devops"),
        ("entry rekey", &format!("{first} after removing bob")),
        ("entry rekey", &format!("{second} after removing bob")),
        ("rotate-at-source", "bob: 2 entries"),
    ]);
    assert_eq!(got, want);
    let share = &events[7];
    assert_eq!(share["entry"], db.as_str());
    assert_eq!(share["members"], serde_json::json!(["bob"]));

    // The human form: the same events, one a line, five tab-separated columns.
    let out = env.run(&["log", "--ids"]).success();
    let lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(lines.len(), want.len());
    for (cols, (action, subject)) in lines.iter().zip(&want) {
        assert_eq!(cols.len(), 5, "{cols:?}");
        assert!(cols[0].ends_with(" UTC") && cols[0].len() == 23, "{cols:?}");
        assert_eq!(
            (cols[1], cols[2], cols[3]),
            ("alice", action.as_str(), subject.as_str())
        );
        assert_eq!(cols[4].len(), 8);
    }

    // --member: by or about bob.
    let out = env.run(&["log", "--member", "bob", "--json"]).success();
    let actions: Vec<String> = out
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actions,
        [
            "add member",
            "create group",
            "entry share",
            "remove member",
            "entry rekey",
            "entry rekey",
            "rotate-at-source"
        ]
    );
    env.run(&["log", "--member", "nobody"]).code(4);

    // --since.
    assert_eq!(
        env.run(&["log", "--since", "1h"]).success().stdout,
        out_of(env, &["log"])
    );
    let out = env.run(&["log", "--since", "yesterday"]).code(2);
    assert_eq!(out.error(), "invalid duration 'yesterday'");
}

fn out_of(env: &TestEnv, args: &[&str]) -> String {
    env.run(args).success().stdout
}

#[test]
fn log_needs_no_passphrase_except_to_resolve_a_path() {
    let team = Team::new();
    let env = &team.env;
    let db = team.id("ops/db");
    // --entry PATH unlocks, filters, and shows the path.
    let out = env.run(&["log", "--entry", "ops/db"]).success();
    let subjects: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.split('\t').nth(3).unwrap())
        .collect();
    assert_eq!(
        subjects,
        [
            format!("{} (ops/db)", &db[..8]),
            format!("{} (ops/db) with bob", &db[..8])
        ]
    );
    let json = env
        .run(&["log", "--entry", "ops/db", "--json"])
        .success()
        .json();
    assert_eq!(json[0]["path"], "ops/db");
    assert_eq!(json[0]["entry"], db.as_str());

    env.set_passphrase("wrong\n");
    let all = env.run(&["log"]).success();
    assert_eq!(all.stdout.lines().count(), 8);
    // An id (as log prints it) needs no passphrase either.
    let out = env.run(&["log", "--entry", &db[..8]]).success();
    assert_eq!(out.stdout.lines().count(), 2);
    assert!(
        out.stdout
            .contains(&format!("\tentry share\t{} with bob\t", &db[..8]))
    );
    env.run(&["log", "--entry", "ops/db"]).code(3);
    team.assert_no_password(&all);
}

#[test]
fn report_access_before_and_after_removal() {
    let team = Team::new();
    let env = &team.env;
    let csv = env.run(&["report", "access", "--format", "csv"]).success();
    assert_eq!(
        csv.stdout,
        "entry,member,role,access,via\r\n\
         hr/payroll,alice,owner,write,@admins\r\n\
         ops/db,alice,owner,write,@admins\r\n\
         ops/db,bob,member,read,direct\r\n\
         ops/redis,alice,owner,write,@admins\r\n\
         ops/redis,bob,member,read,@devops\r\n"
    );
    // Filters.
    let only = |args: &[&str]| {
        let mut all = vec!["report", "access"];
        all.extend_from_slice(args);
        env.run(&all).success().stdout
    };
    assert_eq!(
        only(&["--member", "bob"]),
        "ops/db\tbob\tmember\tread\tdirect\nops/redis\tbob\tmember\tread\t@devops\n"
    );
    assert_eq!(
        only(&["--group", "@devops"]),
        "ops/redis\tbob\tmember\tread\t@devops\n"
    );
    assert_eq!(only(&["--group", "devops", "--member", "alice"]), "");
    assert_eq!(
        only(&["--entry", "ops/db", "--format", "csv"]),
        "entry,member,role,access,via\r\nops/db,alice,owner,write,@admins\r\nops/db,bob,member,read,direct\r\n"
    );
    env.run(&["report", "access", "--group", "nope"]).code(4);
    env.run(&["report", "access", "--member", "nope"]).code(4);
    // `--json` is `--format json`, as for every other listing.
    assert_eq!(
        only(&["--json", "--member", "bob"]),
        only(&["--format", "json", "--member", "bob"])
    );
    env.run(&["report", "access", "--json", "--format", "csv"])
        .code(2);
    // JSON.
    let json = env
        .run(&["report", "access", "--format", "json", "--member", "bob"])
        .success()
        .json();
    assert_eq!(
        json,
        serde_json::json!([
            {"entry": "ops/db", "id": team.id("ops/db"), "member": "bob", "role": "member", "access": "read", "via": ["direct"]},
            {"entry": "ops/redis", "id": team.id("ops/redis"), "member": "bob", "role": "member", "access": "read", "via": ["@devops"]},
        ])
    );
    // Bob sees only what is shared with him, and is told so.
    let out = team
        .as_bob(&["report", "access", "--format", "csv"])
        .success();
    assert_eq!(
        out.stdout,
        "entry,member,role,access,via\r\n\
         ops/db,alice,owner,write,@admins\r\n\
         ops/db,bob,member,read,direct\r\n\
         ops/redis,alice,owner,write,@admins\r\n\
         ops/redis,bob,member,read,@devops\r\n"
    );
    assert!(out.stderr.contains(
        "note: you are not an admin: this report covers only the 2 of 3 entries shared with you"
    ));

    env.run(&["member", "rm", "bob"]).success();
    let csv = env.run(&["report", "access", "--format", "csv"]).success();
    assert_eq!(
        csv.stdout,
        "entry,member,role,access,via\r\n\
         hr/payroll,alice,owner,write,@admins\r\n\
         ops/db,alice,owner,write,@admins\r\n\
         ops/redis,alice,owner,write,@admins\r\n"
    );
    team.assert_no_password(&csv);
}

/// A teammate-written path cannot break the CSV or run as a spreadsheet formula.
#[test]
fn report_csv_quotes_and_defuses_formulas() {
    let env = TestEnv::new();
    env.init_alice();
    env.add("=SUM(1,2)&\"x\"", "Qv8!tZ3#nW6$kP1@");
    let out = env.run(&["report", "access", "--format", "csv"]).success();
    assert_eq!(
        out.stdout,
        "entry,member,role,access,via\r\n\
         \"'=SUM(1,2)&\"\"x\"\"\",alice,owner,write,@admins\r\n"
    );
}
