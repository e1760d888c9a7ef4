//! End-to-end tests of the team commands through the binary (DESIGN.md "Roster",
//! "Revocation"; SECURITY.md items 4, 5, 7, 16, 17): `member add/ls/rm/role`, `join`,
//! `group create/add/remove/ls`, `share`, `unshare`, `access`, and the pins that
//! refuse rolled-back and forked copies.
//!
//! Each person has their own hermetic home (identity file, local state) and they all
//! point `--vault` at one shared vault directory, as a team sharing it through git
//! (or a file share) would.
//! Identities use `--insecure-kdf`.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use common::{Outcome, TestEnv, copy_vault, segment_files, set_vault_bytes, vault_state};
use serde_json::Value;

/// One person: their own home, and the vault directory they use.
struct Person {
    env: TestEnv,
    vault: PathBuf,
}

impl Person {
    /// `amanat --vault VAULT ARGS`.
    fn run(&self, args: &[&str]) -> Outcome {
        let mut all = vec!["--vault", self.vault.to_str().unwrap()];
        all.extend_from_slice(args);
        self.env.run(&all)
    }

    /// `amanat --vault VAULT ARGS` with `stdin`.
    fn run_stdin(&self, args: &[&str], stdin: &str) -> Outcome {
        let mut all = vec!["--vault", self.vault.to_str().unwrap()];
        all.extend_from_slice(args);
        self.env.run_stdin(&all, stdin)
    }

    /// `get PATH` on a pipe: the password.
    fn get(&self, path: &str) -> String {
        let out = self.run(&["get", path]).success();
        out.stdout.strip_suffix('\n').unwrap().to_string()
    }

    /// `ls`: must succeed without a first-use warning (everyone here joined with an
    /// invite or created the vault).
    fn ls(&self) -> String {
        let out = self.run(&["ls"]).success();
        assert!(!out.stderr.contains("first use"), "{}", out.stderr);
        out.stdout
    }

    /// `add PATH --password-stdin EXTRA…`.
    fn add(&self, path: &str, password: &str, extra: &[&str]) {
        let mut args = vec!["add", path, "--password-stdin"];
        args.extend_from_slice(extra);
        let out = self.run_stdin(&args, &format!("{password}\n")).success();
        assert_eq!(out.stdout, format!("added {path}\n"));
    }

    /// The vault's records as one single-file encoding.
    fn vault_bytes(&self) -> Vec<u8> {
        common::vault_bytes(&self.vault)
    }

    /// The vault's segment names and records: unchanged by a command that writes
    /// nothing.
    fn vault_state(&self) -> (BTreeSet<String>, Vec<u8>) {
        vault_state(&self.vault)
    }
}

/// alice, owner of a new vault `acme`.
fn alice() -> Person {
    let env = TestEnv::new();
    env.init_alice();
    let vault = env.vault_path();
    Person { env, vault }
}

/// A new identity `name` in a fresh home: (home, public key, fingerprint).
fn newcomer(name: &str) -> (TestEnv, String, String) {
    let env = TestEnv::new();
    let (key, fp) = env.identity_new(name);
    (env, key, fp)
}

/// `member add` by `admin`; returns the invite line (the last line of stdout).
fn invite(admin: &Person, name: &str, key: &str, fp: &str, extra: &[&str]) -> String {
    let mut args = vec!["member", "add", name, key, "--fingerprint", fp];
    args.extend_from_slice(extra);
    let out = admin.run(&args).success();
    let last = out.stdout.lines().last().unwrap().to_string();
    assert!(last.starts_with("amanat-invite1"), "{}", out.stdout);
    last
}

/// `name` joins alice's vault with the invite from `member add` (`extra`: `--admin`).
fn member(alice: &Person, name: &str, extra: &[&str]) -> Person {
    let (env, key, fp) = newcomer(name);
    let line = invite(alice, name, &key, &fp, extra);
    let p = Person {
        env,
        vault: alice.vault.clone(),
    };
    let out = p.run(&["join", &line]).success();
    assert!(!out.stderr.contains("first use"), "{}", out.stderr);
    p
}

/// alice (owner), bob and carol (members), `@devops` = {bob, carol}.
fn team() -> (Person, Person, Person) {
    let alice = alice();
    let bob = member(&alice, "bob", &[]);
    let carol = member(&alice, "carol", &[]);
    alice
        .run(&["group", "create", "devops", "bob", "carol"])
        .success();
    (alice, bob, carol)
}

fn group_json(p: &Person, name: &str) -> Value {
    let groups = p.run(&["group", "ls", "--json"]).success().json();
    groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("no group {name}: {groups}"))
        .clone()
}

fn member_names(p: &Person) -> Vec<String> {
    let members = p.run(&["member", "ls", "--json"]).success().json();
    members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// A group's member names, sorted (`group ls` lists them in member-id order).
fn group_members(p: &Person, name: &str) -> Vec<String> {
    let mut names: Vec<String> = group_json(p, name)["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// `access PATH --json` as (member, access, sorted via) rows.
fn access_rows(p: &Person, path: &str) -> Vec<Row> {
    let j = p.run(&["access", path, "--json"]).success().json();
    j["access"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut via: Vec<String> = r["via"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            via.sort();
            (
                r["member"].as_str().unwrap().to_string(),
                r["access"].as_str().unwrap().to_string(),
                via,
            )
        })
        .collect()
}

type Row = (String, String, Vec<String>);

fn rows(r: &[(&str, &str, &[&str])]) -> Vec<Row> {
    r.iter()
        .map(|(m, a, v)| {
            (
                m.to_string(),
                a.to_string(),
                v.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The whole story

#[test]
fn members_groups_sharing_and_revocation_end_to_end() {
    let alice = alice();
    let vault_id = alice.run(&["info", "--json"]).success().json()["vault_id"]
        .as_str()
        .unwrap()
        .to_string();

    // bob makes an identity and reads alice his key and fingerprint.
    let (bob_env, bob_key, bob_fp) = newcomer("bob");
    let out = alice
        .run(&["member", "add", "bob", &bob_key, "--fingerprint", &bob_fp])
        .success();
    let line = out.stdout.lines().last().unwrap().to_string();
    assert!(line.starts_with("amanat-invite1"), "{}", out.stdout);
    assert!(out.stderr.contains(&bob_fp), "{}", out.stderr);
    let bob = Person {
        env: bob_env,
        vault: alice.vault.clone(),
    };
    let out = bob.run(&["join", &line]).success();
    assert_eq!(out.stdout, format!("pinned vault {vault_id}\n"));
    assert!(
        out.stderr.contains("joined team 'acme' as bob (member)"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("first use"), "{}", out.stderr);
    assert_eq!(bob.ls(), "");
    let carol = member(&alice, "carol", &[]);
    assert_eq!(member_names(&alice), ["alice", "bob", "carol"]);

    // A group, a direct share, a group share, and an entry shared with no one.
    assert_eq!(
        alice.run(&["group", "create", "devops"]).success().stdout,
        "created @devops\n"
    );
    alice
        .run(&["group", "add", "devops", "bob", "carol"])
        .success();
    assert_eq!(group_members(&alice, "devops"), ["bob", "carol"]);
    alice.add(
        "ops/db",
        "db-S3cret",
        &["--username", "dbadmin", "--url", "postgres://db.internal"],
    );
    assert_eq!(
        alice
            .run(&["share", "ops/db", "--with", "bob"])
            .success()
            .stdout,
        "shared ops/db with bob\n"
    );
    let out = alice
        .run(&[
            "add",
            "ops/redis",
            "--generate",
            "--share-with",
            "@devops",
            "--username",
            "cache",
            "--url",
            "redis://cache.internal",
        ])
        .success();
    assert_eq!(out.stdout, "added ops/redis\n");
    alice.add("hr/payroll", "payroll-S3cret", &[]);
    let redis = alice.get("ops/redis");
    assert_eq!(redis.chars().count(), 24);

    // Each reads exactly what is shared with them.
    assert_eq!(bob.get("ops/db"), "db-S3cret");
    assert_eq!(bob.get("ops/redis"), redis);
    assert_eq!(bob.ls(), "ops/db\nops/redis\n");
    assert_eq!(carol.ls(), "ops/redis\n");
    assert_eq!(alice.ls(), "hr/payroll\nops/db\nops/redis\n");
    let out = bob.run(&["get", "hr/payroll"]).code(4);
    out.assert_absent("payroll-S3cret", "an unshared password");
    carol.run(&["get", "ops/db"]).code(4);

    // Who can read and write, and through what.
    assert_eq!(
        alice.run(&["access", "ops/db"]).success().stdout,
        "alice\twrite\t@admins\nbob\tread\tdirect\n"
    );
    assert_eq!(
        bob.run(&["access", "ops/redis"]).success().stdout,
        "alice\twrite\t@admins\nbob\tread\t@devops\ncarol\tread\t@devops\n"
    );
    let j = alice.run(&["access", "ops/db", "--json"]).success().json();
    assert_eq!(j["path"], "ops/db");
    assert_eq!(
        j["access"],
        serde_json::json!([
            {"member": "alice", "role": "owner", "access": "write", "via": ["@admins"]},
            {"member": "bob", "role": "member", "access": "read", "via": ["direct"]},
        ])
    );

    // Revocation prints exactly what bob could read, never a secret.
    let out = alice.run(&["member", "rm", "bob"]).success();
    assert_eq!(
        out.stdout,
        "ops/db\tpostgres://db.internal\tdbadmin\tpassword\nops/redis\tredis://cache.internal\tcache\tpassword\n"
    );
    out.assert_absent("db-S3cret", "a password");
    out.assert_absent(&redis, "a password");
    assert!(out.stderr.contains("removed 'bob'"), "{}", out.stderr);
    assert_eq!(member_names(&alice), ["alice", "carol"]);
    assert_eq!(group_members(&alice, "devops"), ["carol"]);

    // bob is no member any more; carol still reads the group entry, now flagged.
    for args in [vec!["ls"], vec!["get", "ops/db"], vec!["get", "ops/redis"]] {
        let out = bob.run(&args).code(5);
        assert!(
            out.error().contains("not a member"),
            "{args:?}: {}",
            out.error()
        );
        assert_eq!(out.stdout, "");
    }
    assert_eq!(carol.get("ops/redis"), redis);
    let out = carol.run(&["show", "ops/redis"]).success();
    assert!(
        out.stdout.contains("rotate at source: yes"),
        "{}",
        out.stdout
    );
    assert_eq!(
        alice.run(&["access", "ops/redis"]).success().stdout,
        "alice\twrite\t@admins\ncarol\tread\t@devops\n"
    );
    assert_eq!(alice.get("ops/db"), "db-S3cret");
    alice.run(&["verify"]).success();
}

#[test]
fn unshare_closes_the_entry_to_that_member_or_group() {
    let (alice, bob, carol) = team();
    alice.add("ops/db", "db-S3cret", &["--share-with", "bob"]);
    alice.add("ops/redis", "redis-S3cret", &["--share-with", "@devops"]);
    assert_eq!(bob.get("ops/db"), "db-S3cret");
    assert_eq!(carol.get("ops/redis"), "redis-S3cret");

    let out = alice.run(&["unshare", "ops/db", "--from", "bob"]).success();
    assert!(
        out.stdout.starts_with("unshared ops/db from bob"),
        "{}",
        out.stdout
    );
    let out = bob.run(&["get", "ops/db"]).code(4);
    out.assert_absent("db-S3cret", "the unshared password");
    assert_eq!(bob.ls(), "ops/redis\n");
    assert_eq!(
        alice.run(&["access", "ops/db"]).success().stdout,
        "alice\twrite\t@admins\n"
    );

    alice
        .run(&["unshare", "ops/redis", "--from", "@devops"])
        .success();
    carol.run(&["get", "ops/redis"]).code(4);
    assert_eq!(carol.ls(), "");
    assert_eq!(bob.ls(), "");
    // Not shared (any more): exit 4, nothing written.
    let before = alice.vault_state();
    alice
        .run(&["unshare", "ops/redis", "--from", "carol"])
        .code(4);
    assert_eq!(alice.vault_state(), before);
    // The owner still reads both.
    assert_eq!(alice.get("ops/db"), "db-S3cret");
    assert_eq!(alice.get("ops/redis"), "redis-S3cret");
}

#[test]
fn without_write_access_a_member_cannot_edit_or_share() {
    let (alice, bob, carol) = team();
    alice.add("ops/db", "db-S3cret", &["--share-with", "@devops"]);
    let before = alice.vault_state();
    // Refused for want of a write grant (not for any other reason).
    for (args, why) in [
        (
            vec!["edit", "ops/db", "--username", "bob"],
            "you may not write this entry",
        ),
        (
            vec!["edit", "ops/db", "--generate"],
            "you may not write this entry",
        ),
        (
            vec!["share", "ops/db", "--with", "carol", "--write"],
            "you may not share this entry",
        ),
        (
            vec!["unshare", "ops/db", "--from", "@devops"],
            "you may not unshare this entry",
        ),
        (vec!["rm", "ops/db"], "you may not delete this entry"),
    ] {
        let out = bob.run(&args).code(5);
        assert_eq!(out.error(), format!("access denied: {why}"), "{args:?}");
    }
    assert_eq!(alice.vault_state(), before);
    assert_eq!(carol.get("ops/db"), "db-S3cret");
}

#[test]
fn share_write_lets_a_member_edit() {
    let (alice, bob, carol) = team();
    alice.add("ops/db", "db-S3cret", &["--share-with", "@devops"]);
    let out = alice
        .run(&["share", "ops/db", "--with", "bob", "--write"])
        .success();
    assert_eq!(out.stdout, "shared ops/db with bob (read and write)\n");
    assert_eq!(
        access_rows(&alice, "ops/db"),
        rows(&[
            ("alice", "write", &["@admins"]),
            ("bob", "write", &["@devops", "direct"]),
            ("carol", "read", &["@devops"]),
        ])
    );
    bob.run_stdin(&["edit", "ops/db", "--password-stdin"], "bob-rotated\n")
        .success();
    assert_eq!(alice.get("ops/db"), "bob-rotated");
    assert_eq!(carol.get("ops/db"), "bob-rotated");
    // carol, read-only, still cannot.
    carol
        .run(&["edit", "ops/db", "--username", "carol"])
        .code(5);
}

#[test]
fn a_member_can_add_an_entry_and_keeps_writing_it() {
    let (alice, bob, carol) = team();
    bob.add("bob/own", "bob-S3cret", &["--share-with", "@devops"]);
    assert_eq!(alice.get("bob/own"), "bob-S3cret");
    assert_eq!(carol.get("bob/own"), "bob-S3cret");
    bob.run_stdin(&["edit", "bob/own", "--password-stdin"], "bob-2\n")
        .success();
    assert_eq!(carol.get("bob/own"), "bob-2");
}

#[test]
fn promoting_a_member_to_admin_lets_them_read_everything() {
    let (alice, _bob, carol) = team();
    alice.add("ops/redis", "r1", &["--share-with", "@devops"]);
    alice.add("hr/payroll", "p1", &[]);
    assert_eq!(carol.ls(), "ops/redis\n");
    assert_eq!(
        alice
            .run(&["member", "role", "carol", "admin"])
            .success()
            .stdout,
        "carol is now admin\n"
    );
    assert_eq!(carol.ls(), "hr/payroll\nops/redis\n");
    assert_eq!(carol.get("hr/payroll"), "p1");
    assert_eq!(group_members(&alice, "admins"), ["alice", "carol"]);
    // An admin can administer: carol makes a group.
    carol.run(&["group", "create", "finance"]).success();
    // Demoted again: what is written afterwards is closed to her.
    alice.run(&["member", "role", "carol", "member"]).success();
    alice.add("hr/new", "n1", &[]);
    carol.run(&["get", "hr/new"]).code(4);
    carol.run(&["group", "create", "x"]).code(5);
}

#[test]
fn group_remove_rotates_the_group_key() {
    let (alice, bob, carol) = team();
    let before = group_json(&alice, "devops");
    let out = alice.run(&["group", "remove", "devops", "bob"]).success();
    assert!(out.stdout.contains("its key was rotated"), "{}", out.stdout);
    let after = group_json(&alice, "devops");
    assert_ne!(after["key_id"], before["key_id"]);
    assert_eq!(after["id"], before["id"]);
    assert_eq!(group_members(&alice, "devops"), ["carol"]);
    // What is shared with the group afterwards is closed to bob.
    alice.add("ops/after", "a1", &["--share-with", "@devops"]);
    bob.run(&["get", "ops/after"]).code(4);
    assert_eq!(carol.get("ops/after"), "a1");
    // Removing someone not in the group is an error and writes nothing.
    let before = alice.vault_state();
    alice.run(&["group", "remove", "devops", "bob"]).code(4);
    assert_eq!(alice.vault_state(), before);
    // Adding back hands over the current key: no rotation.
    alice.run(&["group", "add", "devops", "bob"]).success();
    assert_eq!(group_json(&alice, "devops")["key_id"], after["key_id"]);
    assert_eq!(bob.get("ops/after"), "a1");
}

// ---------------------------------------------------------------------------------------
// Rollback and forks (SECURITY.md item 5)

#[test]
fn a_copy_from_before_a_revocation_is_refused_by_everyone_who_saw_it() {
    let (alice, bob, carol) = team();
    alice.add("ops/redis", "r1", &["--share-with", "@devops"]);
    let before = alice.vault_bytes();
    alice.run(&["member", "rm", "bob"]).success();
    carol.ls(); // carol sees the revocation
    bob.run(&["ls"]).code(5); // and so does bob's client

    set_vault_bytes(&alice.vault, &before);
    let restored = alice.vault_state();
    for p in [&alice, &carol, &bob] {
        let out = p.run(&["ls"]).code(6);
        assert!(
            out.error().contains("rolled back or forked"),
            "{}",
            out.error()
        );
        assert_eq!(out.stdout, "");
    }
    // Nobody writes on top of it either.
    alice
        .run_stdin(&["add", "x", "--password-stdin"], "x\n")
        .code(6);
    assert_eq!(alice.vault_state(), restored);

    // Without local state the copy is trusted on first use, and says so.
    fs::remove_dir_all(alice.env.state_dir()).unwrap();
    let out = alice.run(&["ls"]).success();
    assert_eq!(out.stdout, "ops/redis\n");
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with("warning: first use of vault")),
        "{}",
        out.stderr
    );
}

#[test]
fn a_fork_is_refused_in_both_directions() {
    let alice = alice();
    let bob = member(&alice, "bob", &["--admin"]);
    // bob works on his own copy of the same vault.
    let fork = bob.env.path("fork");
    copy_vault(&alice.vault, &fork);
    let bob = Person {
        env: bob.env,
        vault: fork.clone(),
    };
    assert_eq!(bob.ls(), "");
    alice.add("a/one", "1", &[]);
    bob.add("b/two", "2", &[]);
    assert_eq!(alice.ls(), "a/one\n");
    assert_eq!(bob.ls(), "b/two\n");

    // Each is handed the other's copy.
    let mine = alice.vault_bytes();
    copy_vault(&fork, &alice.vault);
    let out = alice.run(&["ls"]).code(6);
    assert!(
        out.error().contains("rolled back or forked"),
        "{}",
        out.error()
    );
    set_vault_bytes(&fork, &mine);
    let out = bob.run(&["ls"]).code(6);
    assert!(
        out.error().contains("rolled back or forked"),
        "{}",
        out.error()
    );
}

// ---------------------------------------------------------------------------------------
// Invites (SECURITY.md item 16)

#[test]
fn an_invite_pins_the_heads_it_names() {
    let alice = alice();
    let old = alice.vault_bytes();
    let (bob_env, key, fp) = newcomer("bob");
    let line = invite(&alice, "bob", &key, &fp, &[]);

    // bob is handed a copy from before the invite: refused at join.
    let copy = bob_env.path("team");
    set_vault_bytes(&copy, &old);
    let bob = Person {
        env: bob_env,
        vault: copy.clone(),
    };
    let out = bob.run(&["join", &line]).code(6);
    assert!(
        out.error().contains("rolled back or forked"),
        "{}",
        out.error()
    );
    // … and at every later command, even without running join again.
    bob.run(&["ls"]).code(6);
    // The real vault is accepted, with no first-use warning.
    copy_vault(&alice.vault, &copy);
    assert_eq!(bob.ls(), "");

    // carol joins before she has the file; the old copy is refused when it arrives.
    let (carol_env, key, fp) = newcomer("carol");
    let line = invite(&alice, "carol", &key, &fp, &[]);
    let copy = carol_env.path("team");
    let carol = Person {
        env: carol_env,
        vault: copy.clone(),
    };
    let out = carol.run(&["join", &line]).success();
    assert!(
        out.stderr.contains("put the team's vault file"),
        "{}",
        out.stderr
    );
    set_vault_bytes(&copy, &old);
    carol.run(&["ls"]).code(6);
    copy_vault(&alice.vault, &copy);
    assert_eq!(carol.ls(), "");
    // A damaged invite is a usage error.
    let mut bad = line.clone();
    bad.pop();
    carol.run(&["join", &bad]).code(2);
}

// ---------------------------------------------------------------------------------------
// Adding a member needs the fingerprint (SECURITY.md items 3, 7)

#[test]
fn member_add_without_a_fingerprint_or_a_terminal_exits_2() {
    let alice = alice();
    let (_bob, key, fp) = newcomer("bob");
    let before = alice.vault_state();
    let out = alice.run(&["member", "add", "bob", &key]).code(2);
    assert!(
        out.error().contains("without a terminal"),
        "{}",
        out.error()
    );
    // The hint shows the fingerprint of this key, to compare.
    assert!(out.hint().contains(&fp), "{}", out.hint());
    assert_eq!(out.stdout, "");
    assert_eq!(alice.vault_state(), before);
    assert_eq!(member_names(&alice), ["alice"]);
}

#[test]
fn member_add_with_a_wrong_fingerprint_exits_6() {
    let alice = alice();
    let (_bob, key, fp) = newcomer("bob");
    let before = alice.vault_state();
    // One digit misheard.
    let last = fp.chars().last().unwrap();
    let wrong = format!(
        "{}{}",
        &fp[..fp.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    let out = alice
        .run(&["member", "add", "bob", &key, "--fingerprint", &wrong])
        .code(6);
    assert!(out.error().contains("does not match"), "{}", out.error());
    assert_eq!(out.stdout, "");
    assert_eq!(alice.vault_state(), before);
    alice
        .run(&["member", "add", "bob", &key, "--fingerprint", "0000"])
        .code(6);
    assert_eq!(alice.vault_state(), before);
    // As read aloud: lowercase, without dashes, is the same fingerprint.
    let spoken = fp.replace('-', "").to_lowercase();
    invite(&alice, "bob", &key, &spoken, &[]);
    assert_eq!(member_names(&alice), ["alice", "bob"]);
}

/// The union of two copies of a vault directory, in `into`: every segment of `other`
/// copied in (a vault is the union of its segments; what a file share or `merge`
/// does).
fn merge_into(into: &std::path::Path, other: &std::path::Path) {
    for p in segment_files(other) {
        let to = into.join(p.file_name().unwrap());
        if !to.exists() {
            fs::copy(&p, to).unwrap();
        }
    }
}

/// An admin's removal made offline, concurrent with the owner demoting that admin, is
/// void (the rule's cost): every command names it and how to redo it, `verify` lists
/// it, and the owner's `adopt` re-does the revocation. Then ownership moves by offer
/// and acceptance.
#[test]
fn adopt_and_ownership_hand_over_end_to_end() {
    let (alice, bob, carol) = team();
    alice.add("ops/db", "db-pass", &["--share-with", "@devops"]);
    alice.run(&["member", "role", "bob", "admin"]).success();
    // bob works on his own copy, offline, and removes carol.
    let copy = bob.env.path("offline");
    copy_vault(&alice.vault, &copy);
    let bob_offline = Person {
        env: bob.env,
        vault: copy.clone(),
    };
    bob_offline.run(&["member", "rm", "carol"]).success();
    // Meanwhile alice demotes bob; then the copies meet.
    alice.run(&["member", "role", "bob", "member"]).success();
    merge_into(&alice.vault, &copy);
    let out = alice.run(&["member", "ls"]).success();
    assert!(out.stdout.contains("carol"), "{}", out.stdout);
    assert!(
        out.stderr.contains("concurrent with its author's demotion")
            && out.stderr.contains("amanat adopt"),
        "{}",
        out.stderr
    );
    let out = alice.run(&["verify"]).code(6);
    let void: Vec<String> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("ignored\t") && l.contains("demotion"))
        .map(|l| l.split('\t').nth(1).unwrap().to_string())
        .collect();
    assert!(!void.is_empty(), "{}", out.stdout);
    // Only the owner adopts; the removal is re-done, re-keying included.
    let bob = Person {
        env: bob_offline.env,
        vault: alice.vault.clone(),
    };
    let removal = void
        .iter()
        .find(|id| {
            let out = alice.run(&["adopt", &id[..12]]);
            out.code == 0 && out.stdout.contains("removed carol")
        })
        .cloned();
    assert!(removal.is_some(), "no adoptable removal among {void:?}");
    assert!(!member_names(&alice).contains(&"carol".to_string()));
    carol.run(&["get", "ops/db"]).code(5);
    // Ownership: offered to an admin, moved when they accept.
    alice.run(&["member", "role", "bob", "admin"]).success();
    let out = alice.run(&["member", "role", "bob", "owner"]).success();
    assert!(
        out.stdout.contains("offered ownership to bob"),
        "{}",
        out.stdout
    );
    let out = bob.run(&["member", "accept-ownership"]).success();
    assert!(
        out.stdout.contains("you are now the owner"),
        "{}",
        out.stdout
    );
    let members = alice.run(&["member", "ls", "--json"]).success().json();
    let role = |name: &str| {
        members
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap()["role"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(role("bob"), "owner");
    assert_eq!(role("alice"), "admin");
    // The old owner no longer touches admins.
    let out = alice.run(&["member", "rm", "bob"]);
    assert_ne!(out.code, 0);
}

/// Errors name the right thing and the next step (issue 11, first-day problems): a
/// second `member add` is about a member (not an entry), a second `group create` about
/// a group, someone else's key about that member, and an edit without write access
/// asks for it.
#[test]
fn duplicate_names_and_missing_rights_get_the_right_nouns_and_hints() {
    let (alice, bob, _carol) = team();
    let (_, key, fp) = newcomer("bob");
    let out = alice
        .run(&["member", "add", "bob", &key, "--fingerprint", &fp])
        .code(1);
    assert_eq!(out.error(), "a member 'bob' already exists");
    assert!(out.hint().contains("member rekey"), "{}", out.hint());
    let bob_key = bob
        .env
        .run(&["identity", "show"])
        .success()
        .stdout
        .lines()
        .next()
        .unwrap()
        .to_string();
    let bob_fp = bob.env.run(&["identity", "show"]).success().stdout;
    let bob_fp = bob_fp
        .lines()
        .find_map(|l| l.strip_prefix("fingerprint: "))
        .unwrap()
        .to_string();
    let out = alice
        .run(&["member", "add", "bobby", &bob_key, "--fingerprint", &bob_fp])
        .code(1);
    assert_eq!(out.error(), "these keys already belong to member 'bob'");
    let out = alice.run(&["group", "create", "devops"]).code(1);
    assert_eq!(out.error(), "a group '@devops' already exists");
    assert!(out.hint().contains("group add devops"), "{}", out.hint());
    alice.add("ops/db", "pw", &["--share-with", "@devops"]);
    let out = bob
        .run_stdin(&["edit", "ops/db", "--password-stdin"], "x\n")
        .code(5);
    assert!(out.hint().contains("write access"), "{}", out.hint());
    let out = bob.run(&["member", "rm", "carol"]).code(5);
    assert!(out.hint().starts_with("ask an admin"), "{}", out.hint());
    let out = alice.run(&["member", "rm", "alice"]).code(5);
    assert!(out.hint().contains("owner"), "{}", out.hint());
}

fn audit_rotate(p: &Person) -> Vec<(String, String)> {
    let j = p.run(&["audit", "--json"]).success().json();
    j.as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "rotate-at-source")
        .map(|f| {
            (
                f["path"].as_str().unwrap_or("").to_string(),
                f["detail"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn totp_seeds_stay_flagged_until_enrolled_anew() {
    let (alice, _bob, _carol) = team();
    let seed = "otpauth://totp/acme:bob?secret=JBSWY3DPEHPK3PXP&issuer=acme";
    alice.add("ops/vpn", "vpn-S3cret", &["--share-with", "bob"]);
    alice
        .run_stdin(&["edit", "ops/vpn", "--totp-stdin"], &format!("{seed}\n"))
        .success();
    alice.add("ops/wiki", "wiki-S3cret", &["--share-with", "bob"]);
    assert!(audit_rotate(&alice).is_empty());

    // bob saw the seed: revocation lists it, in the fourth column.
    let out = alice.run(&["member", "rm", "bob"]).success();
    assert_eq!(
        out.stdout,
        "ops/vpn\t\t\tpassword+totp\nops/wiki\t\t\tpassword\n"
    );
    out.assert_absent("JBSWY3DPEHPK3PXP", "the TOTP seed");
    let found = audit_rotate(&alice);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].1.contains("bob was removed") && found[0].1.contains("password and TOTP seed"),
        "{found:?}"
    );

    // A new password alone leaves the seed to enrol anew: still listed, for the seed.
    alice
        .run_stdin(&["edit", "ops/vpn", "--password-stdin"], "vpn-n3w\n")
        .success();
    alice
        .run_stdin(&["edit", "ops/wiki", "--password-stdin"], "wiki-n3w\n")
        .success();
    let found = audit_rotate(&alice);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "ops/vpn");
    assert!(
        found[0].1.contains("change the TOTP seed") && !found[0].1.contains("password and"),
        "{found:?}"
    );
    let show = alice.run(&["show", "ops/vpn"]).success().stdout;
    assert!(
        show.contains("rotate at source: yes (change the TOTP seed"),
        "{show}"
    );
    // A new seed clears it.
    let new_seed = "otpauth://totp/acme:bob?secret=KRSXG5CTMVRXEZLU&issuer=acme";
    alice
        .run_stdin(
            &["edit", "ops/vpn", "--totp-stdin"],
            &format!("{new_seed}\n"),
        )
        .success();
    assert!(audit_rotate(&alice).is_empty());
    alice.run(&["verify"]).success();
}

#[test]
fn unshare_is_recorded_for_audit_until_the_secrets_change() {
    let (alice, bob, _carol) = team();
    alice.add("ops/db", "db-S3cret", &["--share-with", "bob"]);
    assert!(audit_rotate(&alice).is_empty());
    let out = alice.run(&["unshare", "ops/db", "--from", "bob"]).success();
    assert!(
        out.stderr.contains("'amanat audit' lists it"),
        "{}",
        out.stderr
    );
    bob.run(&["get", "ops/db"]).code(4);
    let found = audit_rotate(&alice);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0]
            .1
            .starts_with("bob lost access and could read it: change the password"),
        "{found:?}"
    );
    // An edit that keeps the password keeps the finding; a new password clears it.
    alice
        .run(&["edit", "ops/db", "--url", "db.internal"])
        .success();
    assert_eq!(audit_rotate(&alice).len(), 1);
    alice
        .run_stdin(&["edit", "ops/db", "--password-stdin"], "db-n3w\n")
        .success();
    assert!(audit_rotate(&alice).is_empty());
}
