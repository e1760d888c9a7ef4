//! End-to-end tests of the yearly review (issue 13; docs/audit.md "amanat review"):
//! `review`, `review --mark`, and the `not-reviewed` and `unused` findings of `audit`,
//! on a vault whose clock is injected (`AMANAT_NOW`), never slept. A review by a member
//! who may only read an entry is refused by the command and, forged through the
//! library, ignored by every copy and listed by `verify`.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use amanat::crypto::SecretString;
use amanat::forge;
use amanat::format::{AuditEvent, EntryId, RecordBody, VaultFile};
use amanat::identity::Identity;
use amanat::vault::Vault;
use common::{Outcome, PASSPHRASE, TestEnv, set_vault_bytes, vault_bytes};

const DAY: u64 = 86_400;
/// "Now" in these tests: 2033-05-18.
const T0: u64 = 2_000_000_000;

fn ago(days: u64) -> u64 {
    T0 - days * DAY
}

/// One home; `at` runs a command with the clock at a chosen time.
struct Clocked {
    env: TestEnv,
}

impl Clocked {
    fn at(&self, time: u64, args: &[&str]) -> Outcome {
        self.run(time, args, None)
    }

    fn run(&self, time: u64, args: &[&str], stdin: Option<&str>) -> Outcome {
        let mut cmd = self.env.cmd(args);
        cmd.env("AMANAT_NOW", time.to_string())
            // The freshness warning is another finding (docs/sync.md): not this test's.
            .env("AMANAT_FRESHNESS_DAYS", "100000");
        if let Some(s) = stdin {
            cmd.write_stdin(s);
        }
        Outcome::from(cmd.output().unwrap())
    }

    fn add(&self, time: u64, path: &str, password: &str) {
        self.run(
            time,
            &["add", path, "--password-stdin"],
            Some(&format!("{password}\n")),
        )
        .success();
    }

    /// `(kind, path)` of every `audit --json` finding at `time`.
    fn findings(&self, time: u64, extra: &[&str]) -> BTreeSet<(String, String)> {
        let mut args = vec!["audit", "--json"];
        args.extend_from_slice(extra);
        let out = self.at(time, &args).success();
        out.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["kind"].as_str().unwrap().to_string(),
                    f["path"].as_str().unwrap_or("-").to_string(),
                )
            })
            .collect()
    }
}

fn set(v: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Four entries created two years ago by alice (owner): one reviewed 400 days ago,
/// three 10 days ago; one used yesterday, one never used.
fn fixture() -> Clocked {
    let c = Clocked {
        env: TestEnv::new(),
    };
    c.env.identity_new("alice");
    c.at(ago(800), &["init", "--name", "acme"]).success();
    for (path, pw) in [
        ("ops/reviewed-old", "Qz7#long-and-random-1"),
        ("ops/reviewed-recent", "Qz7#long-and-random-2"),
        ("ops/used-yesterday", "Qz7#long-and-random-3"),
        ("ops/never-used", "Qz7#long-and-random-4"),
    ] {
        c.add(ago(800), path, pw);
    }
    c.at(ago(400), &["review", "--mark", "ops/reviewed-old"])
        .success();
    let out = c
        .at(
            ago(10),
            &[
                "review",
                "--mark",
                "ops/reviewed-recent",
                "ops/used-yesterday",
                "ops/never-used",
                "--note",
                "still used by billing",
            ],
        )
        .success();
    assert_eq!(
        out.stdout,
        "ops/never-used\nops/reviewed-recent\nops/used-yesterday\n"
    );
    c.at(ago(5), &["get", "ops/reviewed-old"]).success();
    c.at(ago(3), &["get", "ops/reviewed-recent"]).success();
    c.at(ago(1), &["get", "ops/used-yesterday"]).success();
    c
}

#[test]
fn audit_lists_exactly_the_unreviewed_and_the_unused_entries() {
    let c = fixture();
    assert_eq!(
        c.findings(T0, &[]),
        set(&[
            ("not-reviewed", "ops/reviewed-old"),
            ("unused", "ops/never-used"),
        ])
    );
    // The limits are the user's: a 5-year review cycle flags nothing old, a 9-day one
    // everything not reviewed since; a 1000-day unused limit nothing.
    assert_eq!(
        c.findings(T0, &["--review-age", "1825", "--unused", "1000"]),
        set(&[])
    );
    assert_eq!(
        c.findings(T0, &["--review-age", "9"]),
        set(&[
            ("not-reviewed", "ops/reviewed-old"),
            ("not-reviewed", "ops/reviewed-recent"),
            ("not-reviewed", "ops/used-yesterday"),
            ("not-reviewed", "ops/never-used"),
            ("unused", "ops/never-used"),
        ])
    );

    // The listing: oldest review first, with who reviewed, the note and your last use.
    let rows = c.at(T0, &["review", "--json"]).success().json();
    let rows = rows.as_array().unwrap();
    let paths: Vec<&str> = rows.iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        [
            "ops/reviewed-old",
            "ops/never-used",
            "ops/reviewed-recent",
            "ops/used-yesterday"
        ]
    );
    assert_eq!(rows[0]["last_reviewed"]["time"], ago(400));
    assert_eq!(rows[0]["last_reviewed"]["by"], "alice");
    assert!(rows[0]["last_reviewed"]["note"].is_null());
    assert_eq!(rows[1]["last_reviewed"]["note"], "still used by billing");
    assert!(rows[1]["last_used_by_you"].is_null());
    assert_eq!(rows[3]["last_used_by_you"], ago(1));
    assert_eq!(rows[3]["author"], "alice");
    assert_eq!(rows[3]["readers"], serde_json::json!(["alice"]));
    assert_eq!(rows[3]["created"], ago(800));

    // Marking it reviewed clears the finding; `unused` stays until it is used.
    c.at(T0, &["review", "--mark", "ops/reviewed-old"])
        .success();
    assert_eq!(c.findings(T0, &[]), set(&[("unused", "ops/never-used")]));
    c.at(T0, &["get", "ops/never-used"]).success();
    assert_eq!(c.findings(T0, &[]), set(&[]));

    // Without the use log nothing is said about use, and the audit says why.
    let mut cmd = c.env.cmd(&["audit", "--json", "--unused", "1"]);
    cmd.env("AMANAT_NOW", (T0 + 400 * DAY).to_string())
        .env("AMANAT_FRESHNESS_DAYS", "100000")
        .env("AMANAT_USE_LOG", "off");
    let out = Outcome::from(cmd.output().unwrap()).success();
    let kinds: BTreeSet<String> = out
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, BTreeSet::from(["not-reviewed".to_string()]));
    assert!(out.stderr.contains("the use log is off"), "{}", out.stderr);
}

#[test]
fn a_review_dated_in_the_future_is_not_believed() {
    let c = fixture();
    // alice's own clock is a year ahead when she marks it: at T0 the review is not
    // believed, so the entry is still due.
    c.at(T0 + 365 * DAY, &["review", "--mark", "ops/reviewed-old"])
        .success();
    assert!(
        c.findings(T0, &[])
            .contains(&("not-reviewed".into(), "ops/reviewed-old".into()))
    );
    assert!(
        !c.findings(T0 + 366 * DAY, &["--unused", "100000"])
            .contains(&("not-reviewed".into(), "ops/reviewed-old".into()))
    );
}

/// The id of an entry, from `ls --json`.
fn entry_id(out: &Outcome, path: &str) -> EntryId {
    let hex = out
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == path)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    EntryId::from_hex(&hex).unwrap()
}

#[test]
fn only_an_admin_or_a_writer_reviews_an_entry() {
    let c = fixture();
    let bob = c.env.path("bob.identity").display().to_string();
    let (key, fp) = c.env.identity_new_at(&bob, "bob");
    c.at(
        ago(700),
        &["member", "add", "bob", &key, "--fingerprint", &fp],
    )
    .success();
    for path in ["ops/reviewed-old", "ops/never-used"] {
        c.at(ago(700), &["share", path, "--with", "bob"]).success();
    }
    let as_bob = |time, args: &[&str]| {
        let mut all = vec!["--identity", bob.as_str()];
        all.extend_from_slice(args);
        c.at(time, &all)
    };

    // The command refuses a reader, and writes nothing.
    let before = vault_bytes(&c.env.vault_path());
    let out = as_bob(T0, &["review", "--mark", "ops/reviewed-old"]).code(5);
    assert!(out.error().contains("may not review"), "{}", out.stderr);
    assert_eq!(vault_bytes(&c.env.vault_path()), before);
    let out = as_bob(T0, &["review", "--mark", "--all-under", "ops/"]).code(4);
    assert!(
        out.error().contains("no entry under 'ops/'"),
        "{}",
        out.stderr
    );
    assert_eq!(
        as_bob(T0, &["review", "--json"]).success().json(),
        serde_json::json!([])
    );

    // Forged through the library with bob's own key: every copy ignores it, `verify`
    // lists it, and the entry is still due.
    let id = entry_id(&c.at(T0, &["ls", "--json"]).success(), "ops/reviewed-old");
    let bob_identity = Identity::unlock(
        &std::fs::read(&bob).unwrap(),
        &SecretString::new(PASSPHRASE.into()),
    )
    .unwrap();
    let v = Vault::decode(&vault_bytes(&c.env.vault_path())).unwrap();
    let bob_id = v.members().find(|m| m.name == "bob").unwrap().id;
    let forged = forge::sign(
        forge::record(
            v.heads(),
            bob_id,
            T0,
            RecordBody::Event(AuditEvent::reviewed(Some(id), Some("looks fine".into()))),
        ),
        &bob_identity.signing,
    );
    let mut file = VaultFile::decode(&v.encode()).unwrap();
    file.append(vec![forged.clone()]);
    set_vault_bytes(&c.env.vault_path(), &file.encode());
    let out = c.at(T0, &["verify"]).code(6);
    assert!(
        out.stdout
            .contains(&format!("ignored\t{}", forged.id().to_hex())),
        "{}",
        out.stdout
    );
    assert!(
        c.findings(T0, &[])
            .contains(&("not-reviewed".into(), "ops/reviewed-old".into()))
    );

    // Given write access, bob reviews it, and the review counts for everyone.
    c.at(
        T0,
        &["share", "ops/reviewed-old", "--with", "bob", "--write"],
    )
    .success();
    let out = as_bob(
        T0,
        &[
            "review",
            "--mark",
            "--all-under",
            "ops/",
            "--note",
            "checked",
        ],
    )
    .success();
    assert_eq!(out.stdout, "ops/reviewed-old\n");
    assert!(
        out.stderr.contains("1 entry under 'ops/' left out"),
        "{}",
        out.stderr
    );
    let rows = c.at(T0, &["review", "--json"]).success().json();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "ops/reviewed-old")
        .unwrap()
        .clone();
    assert_eq!(row["last_reviewed"]["by"], "bob");
    assert_eq!(row["last_reviewed"]["note"], "checked");
    assert_eq!(row["writers"], serde_json::json!(["bob"]));
    assert!(
        !c.findings(T0, &[])
            .contains(&("not-reviewed".into(), "ops/reviewed-old".into()))
    );
    // The review is in the signed log.
    let log = c.at(T0, &["log", "--json"]).success().json();
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "event reviewed"
                && e["author"] == "bob"
                && e["subject"].as_str().unwrap().ends_with("note: checked")),
        "{log}"
    );
}

#[test]
fn a_bad_mark_is_a_usage_error() {
    let c = fixture();
    let out = c.at(T0, &["review", "--mark"]).code(2);
    assert!(out.error().contains("nothing to mark"), "{}", out.stderr);
    let out = c
        .at(
            T0,
            &["review", "--mark", "ops/never-used", "--note", "two\nlines"],
        )
        .code(2);
    assert!(out.error().contains("review note"), "{}", out.stderr);
    let out = c.at(T0, &["review", "--mark", "ops/nope"]).code(4);
    assert!(out.error().contains("ops/nope"), "{}", out.stderr);
    let out = c.at(T0, &["review", "ops/never-used"]).code(2);
    assert!(out.stderr.contains("--mark"), "{}", out.stderr);
}
