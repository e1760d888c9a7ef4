//! End-to-end tests of the identity lifecycle through the binary (issue 11): a
//! member's keys replaced by an admin (`identity proof` then `member rekey`, with and
//! without `--compromised`), replaced by the member (`identity rotate`), and identity
//! backup (`identity export` / `identity import`).
//!
//! Three people, each with their own hermetic home, share one vault directory. After a
//! key change the old identity file must open nothing written afterwards, while the
//! member with the new identity keeps their groups and shares.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{Outcome, TestEnv, mode};

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

    /// `amanat --vault VAULT --identity FILE ARGS`.
    fn run_as(&self, identity: &Path, args: &[&str]) -> Outcome {
        let mut all = vec![
            "--vault",
            self.vault.to_str().unwrap(),
            "--identity",
            identity.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        self.env.run(&all)
    }

    /// `add PATH --password-stdin EXTRA…`.
    fn add(&self, path: &str, password: &str, extra: &[&str]) {
        let mut args = vec!["--vault", self.vault.to_str().unwrap(), "add", path];
        args.push("--password-stdin");
        args.extend_from_slice(extra);
        let out = self
            .env
            .run_stdin(&args, &format!("{password}\n"))
            .success();
        assert_eq!(out.stdout, format!("added {path}\n"));
    }

    /// `get PATH` on a pipe: the password.
    fn get(&self, path: &str) -> String {
        let out = self.run(&["get", path]).success();
        out.stdout.strip_suffix('\n').unwrap().to_string()
    }

    /// `ls`: the paths.
    fn ls(&self) -> Vec<String> {
        let out = self.run(&["ls"]).success();
        out.stdout.lines().map(str::to_string).collect()
    }
}

/// alice (owner) with bob and carol (members, joined with invites), `@devops` = {bob,
/// carol}; ops/redis shared with @devops, ops/db shared with carol directly, hr/payroll
/// for admins only.
fn team() -> (Person, Person, Person) {
    let alice = Person {
        env: TestEnv::new(),
        vault: PathBuf::new(),
    };
    alice.env.init_alice();
    let alice = Person {
        vault: alice.env.vault_path(),
        env: alice.env,
    };
    let member = |name: &str| {
        let env = TestEnv::new();
        let (key, fp) = env.identity_new(name);
        let out = alice
            .run(&["member", "add", name, &key, "--fingerprint", &fp])
            .success();
        let invite = out.stdout.lines().last().unwrap().to_string();
        let p = Person {
            env,
            vault: alice.vault.clone(),
        };
        p.run(&["join", &invite]).success();
        p
    };
    let bob = member("bob");
    let carol = member("carol");
    alice
        .run(&["group", "create", "devops", "bob", "carol"])
        .success();
    alice.add("ops/redis", "redis-1", &["--share-with", "@devops"]);
    alice.add("ops/db", "db-1", &["--share-with", "carol"]);
    alice.add("hr/payroll", "payroll-1", &[]);
    // Each has read the vault once (and pinned everyone's fingerprints).
    assert_eq!(bob.ls(), ["ops/redis"]);
    assert_eq!(carol.ls(), ["ops/db", "ops/redis"]);
    (alice, bob, carol)
}

/// A copy of `who`'s current identity file in their home (the "old laptop's" file).
fn keep_identity(who: &Person, name: &str) -> PathBuf {
    let copy = who.env.path(name);
    fs::copy(who.env.identity_path(), &copy).unwrap();
    copy
}

/// After a key change: alice writes to the group and shares directly with carol; the
/// old identity file opens none of it (nor anything else), the new one reads all of
/// carol's entries, and bob keeps his. `also`: paths shared with @devops besides.
fn check_after_key_change(alice: &Person, bob: &Person, carol: &Person, old: &Path, also: &[&str]) {
    alice.add("ops/new", "new-1", &["--share-with", "@devops"]);
    alice.add("ops/direct", "direct-1", &["--share-with", "carol"]);
    for path in ["ops/new", "ops/direct", "ops/redis", "ops/db"] {
        let out = carol.run_as(old, &["get", path]);
        assert_eq!(out.code, 5, "the old identity read {path}: {out:?}");
        out.assert_absent("-1", "a password");
    }
    carol.run_as(old, &["ls"]).code(5);
    let with = |paths: &[&str]| {
        let mut v: Vec<String> = paths.iter().chain(also).map(|p| p.to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(
        carol.ls(),
        with(&["ops/db", "ops/direct", "ops/new", "ops/redis"]),
        "the new identity keeps carol's groups and shares"
    );
    assert_eq!(carol.get("ops/new"), "new-1");
    assert_eq!(carol.get("ops/direct"), "direct-1");
    assert_eq!(carol.get("ops/redis"), "redis-1");
    assert_eq!(carol.get("ops/db"), "db-1");
    assert_eq!(bob.ls(), with(&["ops/new", "ops/redis"]));
    // Still in @devops, by name.
    let groups = alice.run(&["group", "ls", "--json"]).success().json();
    let devops = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "devops")
        .unwrap();
    let mut names: Vec<&str> = devops["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["bob", "carol"]);
    alice.run(&["verify"]).success();
}

/// carol on a new laptop: a new identity and its proof for the vault.
fn new_laptop(carol_vault: &Path) -> (Person, String, String) {
    let env = TestEnv::new();
    let (_, fp) = env.identity_new("carol");
    let p = Person {
        env,
        vault: carol_vault.to_path_buf(),
    };
    let out = p.run(&["identity", "proof"]).success();
    let mut lines = out.stdout.lines();
    let line = lines.next().unwrap().to_string();
    assert!(line.starts_with("amanat-rekey1"), "{}", out.stdout);
    assert_eq!(lines.next().unwrap(), format!("fingerprint: {fp}"));
    (p, line, fp)
}

#[test]
fn member_rekey_keeps_groups_and_shares_and_retires_the_old_key() {
    let (alice, bob, carol) = team();
    let old = keep_identity(&carol, "carol-old.amanat");
    let (carol2, proof, fp) = new_laptop(&carol.vault);
    let out = alice
        .run(&["member", "rekey", "carol", &proof, "--fingerprint", &fp])
        .success();
    let invite = out.stdout.lines().last().unwrap();
    assert!(invite.starts_with("amanat-invite1"), "{}", out.stdout);
    assert_eq!(out.stdout.lines().count(), 1, "no rotate-at-source list");
    assert!(
        out.stderr
            .contains("1 group key(s) rotated, 2 entries re-keyed"),
        "{}",
        out.stderr
    );
    carol2.run(&["join", invite]).success();
    // The member list shows the new fingerprint; others are told it changed.
    let members = alice.run(&["member", "ls", "--json"]).success().json();
    let row = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "carol")
        .unwrap()
        .clone();
    assert_eq!(row["fingerprint"], fp.as_str());
    assert_eq!(row["role"], "member");
    let out = bob.run(&["ls"]).success();
    assert!(
        out.stderr.contains(&format!(
            "notice: carol's keys changed (new fingerprint {fp})"
        )),
        "{}",
        out.stderr
    );
    check_after_key_change(&alice, &bob, &carol2, &old, &[]);
    // The audit records the change; nothing to rotate at source without --compromised.
    let out = alice.run(&["audit"]).success();
    assert!(!out.stdout.contains("rotate-at-source"), "{}", out.stdout);
}

#[test]
fn member_rekey_refuses_a_bare_key_a_wrong_fingerprint_and_a_foreign_proof() {
    let (alice, bob, carol) = team();
    let (_carol2, proof, fp) = new_laptop(&carol.vault);
    let before = common::vault_state(&alice.vault);
    // The bare amanat1… key cannot prove anything: usage, with the way forward.
    let (key, key_fp) = TestEnv::new().identity_new("carol");
    let out = alice
        .run(&["member", "rekey", "carol", &key, "--fingerprint", &key_fp])
        .code(2);
    assert!(
        out.hint().contains("amanat identity proof"),
        "{}",
        out.stderr
    );
    // A fingerprint that does not match is an integrity failure and does not show
    // the key's own.
    let out = alice
        .run(&["member", "rekey", "carol", &proof, "--fingerprint", &key_fp])
        .code(6);
    assert!(!out.stderr.contains(&fp), "{}", out.stderr);
    // A proof made for carol does not replace bob's keys.
    alice
        .run(&["member", "rekey", "bob", &proof, "--fingerprint", &fp])
        .code(2);
    // A damaged proof line: bad checksum.
    let mut damaged = proof.clone().into_bytes();
    let i = damaged.len() - 20;
    damaged[i] = if damaged[i] == b'q' { b'p' } else { b'q' };
    let damaged = String::from_utf8(damaged).unwrap();
    alice
        .run(&["member", "rekey", "carol", &damaged, "--fingerprint", &fp])
        .code(2);
    // A member may not re-key anyone.
    bob.run(&["member", "rekey", "carol", &proof, "--fingerprint", &fp])
        .code(5);
    assert_eq!(common::vault_state(&alice.vault), before, "nothing written");
}

#[test]
fn member_rekey_compromised_flags_what_the_old_key_could_read() {
    let (alice, _bob, carol) = team();
    let (carol2, proof, fp) = new_laptop(&carol.vault);
    let out = alice
        .run(&[
            "member",
            "rekey",
            "carol",
            &proof,
            "--fingerprint",
            &fp,
            "--compromised",
        ])
        .success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    assert!(lines[0].starts_with("ops/db\t"), "{}", out.stdout);
    assert!(lines[1].starts_with("ops/redis\t"), "{}", out.stdout);
    assert!(lines[2].starts_with("amanat-invite1"));
    out.assert_absent("redis-1", "a password");
    let out = alice.run(&["audit"]).success();
    let flagged: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("rotate-at-source\t"))
        .map(|l| l.split('\t').nth(1).unwrap())
        .collect();
    assert_eq!(flagged, ["ops/db", "ops/redis"], "{}", out.stdout);
    // She was not removed: the finding says whose key it was.
    assert!(
        out.stdout
            .contains("carol's replaced key, which may be compromised, could read it"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("was removed"), "{}", out.stdout);
    assert!(lines[0].ends_with("\tpassword"), "{}", lines[0]);
    // She keeps reading them with the new key.
    carol2.run(&["join", lines[2]]).success();
    assert_eq!(carol2.get("ops/db"), "db-1");
    // A new password clears the finding.
    alice.run(&["edit", "ops/db", "--generate"]).success();
    let out = alice.run(&["audit"]).success();
    assert!(!out.stdout.contains("ops/db"), "{}", out.stdout);
}

#[test]
fn identity_rotate_keeps_groups_and_shares_and_retires_the_old_key() {
    let (alice, bob, carol) = team();
    let before = fs::read(carol.env.identity_path()).unwrap();
    let old_fp = carol.run(&["identity", "show", "--json"]).success().json()["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    let out = carol.run(&["identity", "rotate"]).success();
    let mut lines = out.stdout.lines();
    let key = lines.next().unwrap();
    assert!(key.starts_with("amanat1"), "{}", out.stdout);
    let fp = lines.next().unwrap().strip_prefix("fingerprint: ").unwrap();
    assert_ne!(fp, old_fp);
    // The identity file holds the new key; the old one is kept next to it, 0600.
    let now = carol.run(&["identity", "show", "--json"]).success().json();
    assert_eq!(now["fingerprint"], fp);
    assert_eq!(now["name"], "carol");
    let backup_name = format!(
        "identity.amanat.{}.bak",
        old_fp.replace('-', "").get(..8).unwrap()
    );
    let backup = carol.env.identity_path().with_file_name(&backup_name);
    assert!(
        out.stderr.contains(&backup.display().to_string()),
        "{}",
        out.stderr
    );
    assert_eq!(fs::read(&backup).unwrap(), before);
    assert_eq!(mode(&backup), 0o600);
    assert!(
        !carol
            .env
            .identity_path()
            .with_file_name("identity.amanat.new")
            .exists()
    );
    // The record is signed by the old key and proven by the new: it counts.
    carol.run(&["verify"]).success();
    let out = bob.run(&["ls"]).success();
    assert!(
        out.stderr.contains("notice: carol's keys changed"),
        "{}",
        out.stderr
    );
    // Until an admin writes, what was wrapped to the old key does not open with the
    // new one (and is not reported as damage); a plain member's write wraps to her
    // directly.
    assert!(carol.ls().is_empty());
    bob.add("ops/bob", "bob-1", &["--share-with", "@devops"]);
    assert_eq!(carol.get("ops/bob"), "bob-1");
    carol.run_as(&backup, &["get", "ops/bob"]).code(5);
    // alice's writes rotate @devops and re-key what carol reads.
    check_after_key_change(&alice, &bob, &carol, &backup, &["ops/bob"]);
    assert_eq!(carol.get("ops/bob"), "bob-1");
}

#[test]
fn identity_rotate_by_an_admin_rekeys_at_once() {
    let (alice, bob, _carol) = team();
    let old = keep_identity(&alice, "alice-old.amanat");
    let out = alice.run(&["identity", "rotate"]).success();
    assert!(out.stderr.contains("entries re-keyed"), "{}", out.stderr);
    assert_eq!(alice.ls(), ["hr/payroll", "ops/db", "ops/redis"]);
    assert_eq!(alice.get("hr/payroll"), "payroll-1");
    alice.run_as(&old, &["get", "hr/payroll"]).code(5);
    let info = alice.run(&["info", "--json"]).success().json();
    assert_eq!(info["your_role"], "owner");
    assert_eq!(bob.get("ops/redis"), "redis-1");
    alice.run(&["verify"]).success();
}

#[test]
fn identity_export_import_round_trip() {
    let (alice, _bob, _carol) = team();
    let original = fs::read(alice.env.identity_path()).unwrap();
    let out = alice.run(&["identity", "export"]).success();
    assert!(out.stdout.starts_with("-----BEGIN AMANAT IDENTITY-----\n"));
    assert!(out.stdout.ends_with("-----END AMANAT IDENTITY-----\n"));
    // A new laptop: import, then the vault opens with it.
    let laptop = Person {
        env: TestEnv::new(),
        vault: alice.vault.clone(),
    };
    let export = laptop.env.write_file("alice.asc", &out.stdout);
    let out = laptop
        .run(&["identity", "import", export.to_str().unwrap()])
        .success();
    assert!(out.stdout.starts_with("amanat1"), "{}", out.stdout);
    assert_eq!(fs::read(laptop.env.identity_path()).unwrap(), original);
    assert_eq!(mode(&laptop.env.identity_path()), 0o600);
    assert_eq!(laptop.ls(), ["hr/payroll", "ops/db", "ops/redis"]);
    assert_eq!(laptop.get("hr/payroll"), "payroll-1");
    // From stdin too; the same identity again changes nothing.
    let out = laptop.env.run_stdin(
        &["identity", "import", "-"],
        &fs::read_to_string(&export).unwrap(),
    );
    out.success();
    // Another identity in place: refused without a terminal or --force, unchanged.
    let other = TestEnv::new();
    other.identity_new("zed");
    let zed = fs::read(other.identity_path()).unwrap();
    let out = other.run(&["identity", "import", export.to_str().unwrap()]);
    out.clone().code(1);
    assert!(out.hint().contains("--force"), "{}", out.stderr);
    assert_eq!(fs::read(other.identity_path()).unwrap(), zed);
    // With --force it is replaced, and the replaced one is kept.
    let out = other
        .run(&["identity", "import", "--force", export.to_str().unwrap()])
        .success();
    assert_eq!(fs::read(other.identity_path()).unwrap(), original);
    let kept: Vec<PathBuf> = fs::read_dir(other.identity_path().parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".bak"))
        .collect();
    assert_eq!(kept.len(), 1, "{}", out.stderr);
    assert_eq!(fs::read(&kept[0]).unwrap(), zed);
    assert_eq!(mode(&kept[0]), 0o600);
}

#[test]
fn a_corrupted_import_leaves_the_existing_identity_byte_identical() {
    let env = TestEnv::new();
    env.identity_new("alice");
    let export = env.run(&["identity", "export"]).success().stdout;
    let other = TestEnv::new();
    other.identity_new("zed");
    let zed = fs::read(other.identity_path()).unwrap();
    let try_import = |name: &str, text: &[u8], expected: i32| {
        let file = other.write_file(name, text);
        for force in [false, true] {
            let mut args = vec!["identity", "import", file.to_str().unwrap()];
            if force {
                args.push("--force");
            }
            let out = other.run(&args).code(expected);
            assert!(out.hint().contains("nothing was changed"), "{}", out.stderr);
            assert_eq!(
                fs::read(other.identity_path()).unwrap(),
                zed,
                "{name} changed the identity"
            );
        }
    };
    // A flipped byte in the base64 body (one a line, all over it).
    let body: Vec<usize> = export
        .char_indices()
        .filter(|(i, c)| c.is_ascii_alphanumeric() && *i > 40 && *i < export.len() - 60)
        .map(|(i, _)| i)
        .step_by(97)
        .collect();
    assert!(body.len() > 2);
    for i in body {
        let mut t = export.clone().into_bytes();
        t[i] = if t[i] == b'0' { b'1' } else { b'0' };
        try_import("flipped.asc", &t, 6);
    }
    // Truncated, or only the start.
    try_import("truncated.asc", &export.as_bytes()[..export.len() / 2], 6);
    try_import(
        "no-end.asc",
        &export.as_bytes()[..export.len() - "-----END AMANAT IDENTITY-----\n".len()],
        6,
    );
    try_import("empty.asc", b"", 6);
    // A wrong passphrase.
    other.set_passphrase("not the passphrase\n");
    try_import("good.asc", export.as_bytes(), 3);
    // The same file with the right passphrase imports (so the cases above failed for
    // the reason they test).
    other.set_passphrase(&format!("{}\n", common::PASSPHRASE));
    let file = other.write_file("good.asc", &export);
    other
        .run(&["identity", "import", "--force", file.to_str().unwrap()])
        .success();
    assert_ne!(fs::read(other.identity_path()).unwrap(), zed);
}

/// Kills the agent a test started (by its pid) when the test ends.
struct AgentGuard(u32);

impl Drop for AgentGuard {
    fn drop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.0 as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

#[test]
fn identity_rotate_locks_an_agent_holding_the_old_key() {
    let env = TestEnv::new();
    env.init_alice();
    env.add("web/github", "S3cret!");
    let socket = env.path("run/agent.sock");
    let run = |args: &[&str], passphrase: bool| {
        let mut cmd = env.detached_command(args);
        cmd.env("AMANAT_AGENT_SOCK", &socket);
        if !passphrase {
            cmd.env_remove("AMANAT_PASSPHRASE_FILE");
        }
        let mut cmd = assert_cmd::Command::from_std(cmd);
        cmd.timeout(common::COMMAND_TIMEOUT);
        Outcome::from(cmd.output().unwrap())
    };
    let out = run(&["unlock"], true).success();
    let pid: u32 = out.agent_pid();
    let _guard = AgentGuard(pid);
    run(&["get", "web/github"], false).success();
    let out = run(&["identity", "rotate"], true).success();
    assert!(out.stderr.contains("agent"), "{}", out.stderr);
    let status = run(&["agent", "status", "--json"], false).success().json();
    assert_eq!(status["unlocked"], false, "{status}");
    // Without the agent and a passphrase, nothing opens; with the passphrase, the new
    // key reads the re-keyed entry.
    run(&["get", "web/github"], false).code(3);
    assert_eq!(
        run(&["get", "web/github"], true).success().stdout,
        "S3cret!\n"
    );
}
