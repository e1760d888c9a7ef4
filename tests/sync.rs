//! Sharing the vault directory (issue 10, docs/sync.md): `amanat sync` over real git
//! (a bare repository and clones in a temporary directory), `amanat merge`, and
//! segments arriving in any order (Syncthing).
//!
//! Every person has their own home, identity, local state and clone; their vault is
//! `$XDG_DATA_HOME/amanat/vault`, inside the clone `$XDG_DATA_HOME/amanat`.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Outcome, TestEnv};

/// A small deterministic generator (a test must be repeatable from its seed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // SplitMix64.
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn seed() -> u64 {
    std::env::var("AMANAT_SYNC_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_2026_1207)
}

/// Run git in `dir` with a hermetic environment; must succeed; returns stdout.
fn git(env: &TestEnv, dir: &Path, args: &[&str]) -> String {
    let out = git_output(env, dir, args);
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn git_output(env: &TestEnv, dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.home())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .output()
        .unwrap()
}

struct Team {
    /// Holds the bare repository.
    hub: TestEnv,
    people: Vec<Person>,
}

struct Person {
    name: String,
    env: TestEnv,
}

impl Person {
    /// The clone (the vault directory is `vault` in it).
    fn repo(&self) -> PathBuf {
        self.env.data_home().join("amanat")
    }
    fn vault(&self) -> PathBuf {
        self.env.vault_path()
    }
    fn run(&self, args: &[&str]) -> Outcome {
        self.env.run(args)
    }
    fn sync(&self) -> Outcome {
        self.run(&["sync"]).success()
    }
    fn segments(&self) -> BTreeSet<String> {
        segment_names(&self.vault())
    }
    fn head(&self) -> String {
        git(&self.env, &self.repo(), &["rev-parse", "HEAD"])
    }
}

fn segment_names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".seg"))
                .collect()
        })
        .unwrap_or_default()
}

impl Team {
    fn remote(&self) -> PathBuf {
        self.hub.path("remote.git")
    }

    /// A bare repository; alice makes the vault in her clone and pushes it; the others
    /// clone, are invited and join. Everyone is in `@team`.
    fn new(names: &[&str]) -> Self {
        let hub = TestEnv::new();
        git(
            &hub,
            hub.home(),
            &["init", "--quiet", "--bare", "-b", "main", "remote.git"],
        );
        let mut team = Team {
            hub,
            people: Vec::new(),
        };
        let alice = team.clone_for(names[0]);
        alice.env.identity_new(names[0]);
        alice.run(&["init", "--name", "acme"]).success();
        let out = alice.sync();
        assert!(
            out.stdout.starts_with("synced with origin/main:"),
            "{}",
            out.stdout
        );
        team.people.push(alice);
        for name in &names[1..] {
            let p = team.clone_for(name);
            let (key, fp) = p.env.identity_new(name);
            let admin = &team.people[0];
            let out = admin
                .run(&["member", "add", name, &key, "--fingerprint", &fp])
                .success();
            let invite = out.stdout.lines().last().unwrap().to_string();
            admin.sync();
            p.sync();
            let out = p.run(&["join", &invite]).success();
            assert!(!out.stderr.contains("first use"), "{}", out.stderr);
            team.people.push(p);
        }
        let others: Vec<&str> = names.to_vec();
        let mut args = vec!["group", "create", "team"];
        args.extend(others);
        team.people[0].run(&args).success();
        team.people[0].sync();
        for p in &team.people[1..] {
            p.sync();
        }
        team
    }

    fn clone_for(&self, name: &str) -> Person {
        let env = TestEnv::new();
        fs::create_dir_all(env.data_home()).unwrap();
        let out = git_output(
            &env,
            &env.data_home(),
            &[
                "clone",
                "--quiet",
                self.remote().to_str().unwrap(),
                "amanat",
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Person {
            name: name.to_string(),
            env,
        }
    }
}

/// Three people, a seeded random mix of adds, edits, shares and same-entry edits, with
/// `sync` at random points; then everyone syncs twice. Every acknowledged write is
/// there for every reader, `verify` passes everywhere, git never has an unmerged path,
/// and concurrent edits of one entry keep both revisions (one is shown, with a
/// warning naming the conflict).
#[test]
fn three_people_writing_and_syncing_at_random_converge_with_nothing_lost() {
    let team = Team::new(&["alice", "bob", "carol"]);
    let mut rng = Rng(seed());
    // path → every value acknowledged for it (the last one per writer matters).
    let mut written: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
    let mut n = 0;
    for step in 0..36 {
        let who = rng.below(3);
        let p = &team.people[who];
        match rng.below(6) {
            0 | 1 => {
                n += 1;
                let path = format!("shared/{}-{n}", p.name);
                let value = format!("v{step}-{}", p.name);
                p.env.add_with(&path, &value, &["--share-with", "@team"]);
                written.entry(path).or_default().push((who, value));
            }
            2 | 3 if !written.is_empty() => {
                // Edit an entry this person can see (after their last sync).
                // Admins write every entry; others the entries they created.
                let ls = p.run(&["ls"]).success().stdout;
                let visible: Vec<&str> = ls
                    .lines()
                    .filter(|l| written.contains_key(*l))
                    .filter(|l| who == 0 || l.starts_with(&format!("shared/{}-", p.name)))
                    .collect();
                if visible.is_empty() {
                    continue;
                }
                let path = visible[rng.below(visible.len())].to_string();
                let value = format!("e{step}-{}", p.name);
                let out = p
                    .env
                    .run_stdin(&["edit", &path, "--password-stdin"], &format!("{value}\n"));
                out.success();
                written.get_mut(&path).unwrap().push((who, value));
            }
            _ => {
                let out = p.sync();
                assert!(
                    out.stdout.starts_with("synced with origin/main:"),
                    "{}",
                    out.stdout
                );
            }
        }
        for q in &team.people {
            let unmerged = git(&q.env, &q.repo(), &["ls-files", "-u"]);
            assert!(
                unmerged.is_empty(),
                "{} has unmerged paths: {unmerged}",
                q.name
            );
        }
    }
    for _ in 0..2 {
        for p in &team.people {
            p.sync();
        }
    }
    let heads: Vec<String> = team
        .people
        .iter()
        .map(|p| p.run(&["info", "--json"]).success().json()["heads"].to_string())
        .collect();
    assert!(heads.windows(2).all(|w| w[0] == w[1]), "{heads:?}");
    for p in &team.people {
        let out = p.run(&["verify"]).success();
        assert!(out.stdout.starts_with("ok: "), "{}", out.stdout);
        assert_eq!(git(&p.env, &p.repo(), &["status", "--porcelain"]), "");
        let listed: BTreeSet<String> = p
            .run(&["ls"])
            .success()
            .stdout
            .lines()
            .map(str::to_string)
            .collect();
        for (path, values) in &written {
            assert!(listed.contains(path), "{} lacks {path}", p.name);
            let got = p.env.get(path, "password");
            assert!(
                values.iter().any(|(_, v)| *v == got),
                "{}: {path} = {got}, not one of {values:?}",
                p.name
            );
        }
    }
    // Everyone shows the same value for every entry.
    for path in written.keys() {
        let values: BTreeSet<String> = team
            .people
            .iter()
            .map(|p| p.env.get(path, "password"))
            .collect();
        assert_eq!(values.len(), 1, "{path}: {values:?}");
    }
}

/// Same-entry edits on two machines between syncs: both revisions are kept, one is
/// shown by the fixed rule, with a warning, and the next edit resolves it.
#[test]
fn concurrent_edits_of_one_entry_are_reported_and_both_kept() {
    let team = Team::new(&["alice", "bob"]);
    let (alice, bob) = (&team.people[0], &team.people[1]);
    alice
        .env
        .add_with("ops/db", "one", &["--share-with", "@team"]);
    alice.sync();
    bob.sync();
    alice
        .env
        .run_stdin(&["edit", "ops/db", "--password-stdin"], "by-alice\n")
        .success();
    alice
        .run(&["share", "ops/db", "--with", "@team", "--write"])
        .success();
    alice.sync();
    bob.sync();
    bob.env
        .run_stdin(&["edit", "ops/db", "--password-stdin"], "by-bob\n")
        .success();
    alice
        .env
        .run_stdin(&["edit", "ops/db", "--password-stdin"], "by-alice-2\n")
        .success();
    bob.sync();
    alice.sync();
    bob.sync();
    let out = bob.run(&["get", "ops/db"]).success();
    assert!(
        out.stderr.contains("2 concurrent revisions"),
        "{}",
        out.stderr
    );
    // The owner outranks bob: her revision is shown, everywhere.
    assert_eq!(out.stdout, "by-alice-2\n");
    assert_eq!(alice.env.get("ops/db", "password"), "by-alice-2");
    // Both revisions are in the history.
    let log = alice.run(&["log", "--json"]).success().json();
    let updates = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "entry update")
        .count();
    assert!(updates >= 3, "{log}");
    // The next edit (on merged heads) resolves it.
    bob.env
        .run_stdin(&["edit", "ops/db", "--password-stdin"], "settled\n")
        .success();
    bob.sync();
    alice.sync();
    let out = alice.run(&["get", "ops/db"]).success();
    assert_eq!(out.stdout, "settled\n");
    assert!(!out.stderr.contains("concurrent"), "{}", out.stderr);
}

/// carol adds an `@team` entry offline while alice removes bob. After everyone syncs,
/// bob (old identity, old clone, new files) cannot read it through amanat, and the
/// entry is on his rotate-at-source list, since the write was concurrent with his
/// removal (docs/sync.md, "Known limits").
#[test]
fn a_revocation_racing_an_unsynced_write_locks_the_removed_member_out() {
    let team = Team::new(&["alice", "bob", "carol"]);
    let (alice, bob, carol) = (&team.people[0], &team.people[1], &team.people[2]);
    carol
        .env
        .add_with("ops/offline", "written-offline", &["--share-with", "@team"]);
    alice.run(&["member", "rm", "bob"]).success();
    alice.sync();
    carol.sync();
    alice.sync();
    carol.sync();
    // bob's clone gets every new file.
    let out = bob.run(&["sync"]);
    let text = out.all_output();
    // He is no longer a member: nothing opens for him.
    let get = bob.run(&["get", "ops/offline"]);
    assert_ne!(get.code, 0, "{text}");
    assert!(!get.stdout.contains("written-offline"));
    assert_eq!(alice.env.get("ops/offline", "password"), "written-offline");
    assert_eq!(carol.env.get("ops/offline", "password"), "written-offline");
    let audit = alice.run(&["audit", "--json"]).success().stdout;
    assert!(
        audit.contains("ops/offline") && audit.contains("bob"),
        "the concurrent write is flagged for rotation at source: {audit}"
    );
}

/// A force-pushed older history and a tampered segment are refused by `sync` with
/// exit 6; the local vault, HEAD and work tree are unchanged.
#[test]
fn sync_refuses_a_rewritten_history_and_a_tampered_segment_changing_nothing() {
    let team = Team::new(&["alice", "bob"]);
    let (alice, bob) = (&team.people[0], &team.people[1]);
    alice.env.add_with("web/a", "1", &["--share-with", "@team"]);
    alice.sync();
    bob.sync();
    // mallory (anyone with push access) force-pushes an older history.
    let mallory = team.clone_for("mallory");
    git(
        &mallory.env,
        &mallory.repo(),
        &["reset", "--quiet", "--hard", "HEAD~2"],
    );
    git(
        &mallory.env,
        &mallory.repo(),
        &["push", "--quiet", "--force", "origin", "main"],
    );
    let (head, segments) = (bob.head(), bob.segments());
    let out = bob.run(&["sync"]).code(6);
    assert!(out.error().contains("rewritten"), "{}", out.error());
    assert_eq!(bob.head(), head);
    assert_eq!(bob.segments(), segments);
    assert_eq!(git(&bob.env, &bob.repo(), &["status", "--porcelain"]), "");
    assert_eq!(bob.env.get("web/a", "password"), "1");
    // Put the history back (alice's clone has it), then plant a tampered segment.
    git(
        &alice.env,
        &alice.repo(),
        &["push", "--quiet", "--force", "origin", "main"],
    );
    let mallory = team.clone_for("mallory2");
    let vault = mallory.vault();
    let some = segment_names(&vault).into_iter().next().unwrap();
    let original = fs::read(vault.join(&some)).unwrap();
    // A flip in the last record's signature (the record bytes, so its id, unchanged: a
    // duplicate with a forged signature), then one in the middle of the file.
    let mut name = String::new();
    let mut bytes = Vec::new();
    for at in [original.len() - 1, original.len() / 2] {
        if !name.is_empty() {
            git(
                &mallory.env,
                &mallory.repo(),
                &["rm", "--quiet", &format!("vault/{name}")],
            );
        }
        bytes = original.clone();
        bytes[at] ^= 1;
        // Named by its own hash, so only decoding or verification can catch it.
        name = amanat::format::segment::segment_name(&bytes);
        fs::write(vault.join(&name), &bytes).unwrap();
        git(&mallory.env, &mallory.repo(), &["add", "-A"]);
        git(
            &mallory.env,
            &mallory.repo(),
            &["commit", "--quiet", "-m", "x"],
        );
        git(
            &mallory.env,
            &mallory.repo(),
            &["push", "--quiet", "origin", "main"],
        );
        let (head, segments) = (bob.head(), bob.segments());
        let out = bob.run(&["sync"]).code(6);
        let e = out.error();
        assert!(
            e.contains("damaged") || e.contains("forged") || e.contains("exist nowhere"),
            "{e}"
        );
        assert_eq!(bob.head(), head);
        assert_eq!(bob.segments(), segments);
        assert_eq!(git(&bob.env, &bob.repo(), &["status", "--porcelain"]), "");
    }
    let head = bob.head();
    // A misnamed segment is refused the same way.
    git(
        &mallory.env,
        &mallory.repo(),
        &["rm", "--quiet", &format!("vault/{name}")],
    );
    fs::write(vault.join(format!("{}.seg", "0".repeat(64))), &bytes).unwrap();
    git(&mallory.env, &mallory.repo(), &["add", "-A"]);
    git(
        &mallory.env,
        &mallory.repo(),
        &["commit", "--quiet", "-m", "y"],
    );
    git(
        &mallory.env,
        &mallory.repo(),
        &["push", "--quiet", "origin", "main"],
    );
    let out = bob.run(&["sync"]).code(6);
    assert!(
        out.error().contains("name is not the SHA-256"),
        "{}",
        out.error()
    );
    assert_eq!(bob.head(), head);
}

/// `sync` refuses a work tree in the middle of something (exit 1), changing nothing.
#[test]
fn sync_refuses_a_detached_head_a_merge_in_progress_and_staged_changes() {
    let team = Team::new(&["alice"]);
    let alice = &team.people[0];
    let repo = alice.repo();
    git(&alice.env, &repo, &["checkout", "--quiet", "--detach"]);
    let out = alice.run(&["sync"]).code(1);
    assert!(out.error().contains("detached"), "{}", out.error());
    git(&alice.env, &repo, &["checkout", "--quiet", "main"]);
    fs::write(repo.join("notes.txt"), "x").unwrap();
    git(&alice.env, &repo, &["add", "notes.txt"]);
    let out = alice.run(&["sync"]).code(1);
    assert!(
        out.error().contains("staged outside the vault"),
        "{}",
        out.error()
    );
    git(&alice.env, &repo, &["reset", "--quiet"]);
    // An unrelated conflicting merge in progress.
    git(&alice.env, &repo, &["add", "notes.txt"]);
    git(&alice.env, &repo, &["commit", "--quiet", "-m", "a"]);
    git(
        &alice.env,
        &repo,
        &["checkout", "--quiet", "-b", "other", "HEAD~1"],
    );
    fs::write(repo.join("notes.txt"), "y").unwrap();
    git(&alice.env, &repo, &["add", "notes.txt"]);
    git(&alice.env, &repo, &["commit", "--quiet", "-m", "b"]);
    let _ = git_output(&alice.env, &repo, &["merge", "main"]);
    let out = alice.run(&["sync"]).code(1);
    assert!(
        out.error().contains("in progress") || out.error().contains("unmerged"),
        "{}",
        out.error()
    );
    // Not in a repository at all.
    let loose = TestEnv::new();
    loose.init_alice();
    let out = loose.run(&["sync"]).code(1);
    assert!(
        out.error().contains("not in a git work tree"),
        "{}",
        out.error()
    );
}

/// When the other side deleted segments whose records exist nowhere else, `sync`
/// restores them from this clone, says so, and the next sync is clean.
#[test]
fn segments_deleted_upstream_are_restored() {
    let team = Team::new(&["alice", "bob"]);
    let (alice, bob) = (&team.people[0], &team.people[1]);
    alice.env.add_with("web/a", "1", &["--share-with", "@team"]);
    alice.sync();
    bob.sync();
    let before = bob.segments();
    git(&alice.env, &alice.repo(), &["rm", "--quiet", "-r", "vault"]);
    git(
        &alice.env,
        &alice.repo(),
        &["commit", "--quiet", "-m", "oops"],
    );
    git(
        &alice.env,
        &alice.repo(),
        &["push", "--quiet", "origin", "main"],
    );
    let out = bob.run(&["sync"]).success();
    assert!(out.stderr.contains("restored"), "{}", out.stderr);
    assert_eq!(bob.segments(), before);
    assert_eq!(bob.env.get("web/a", "password"), "1");
    // alice's clone gets them back (her pins demand them).
    git(
        &alice.env,
        &alice.repo(),
        &["pull", "--quiet", "--no-rebase", "origin", "main"],
    );
    assert_eq!(alice.env.get("web/a", "password"), "1");
    bob.sync();
}

/// Syncthing delivers segment files in any order: no command fails on a partial set
/// (records with missing parents are held back), and the state is the same once all
/// have arrived.
#[test]
fn segments_arriving_in_random_order_converge() {
    let alice = TestEnv::new();
    alice.init_alice();
    let bob = TestEnv::new();
    let (bkey, bfp) = bob.identity_new("bob");
    let out = alice
        .run(&["member", "add", "bob", &bkey, "--fingerprint", &bfp])
        .success();
    let invite = out.stdout.lines().last().unwrap().to_string();
    copy_segments(&alice.vault_path(), &bob.vault_path(), &mut Rng(1));
    bob.run(&["join", &invite]).success();
    alice
        .run(&["group", "create", "team", "alice", "bob"])
        .success();
    let seen = segment_names(&bob.vault_path());
    for i in 0..12 {
        alice.add_with(
            &format!("web/{i}"),
            &format!("p{i}"),
            &["--share-with", "@team"],
        );
        if i % 4 == 3 {
            alice
                .run_stdin(
                    &["edit", &format!("web/{}", i - 2), "--password-stdin"],
                    "changed\n",
                )
                .success();
        }
    }
    let mut rng = Rng(seed());
    let mut new: Vec<String> = segment_names(&alice.vault_path())
        .into_iter()
        .filter(|n| !seen.contains(n))
        .collect();
    assert!(new.len() >= 12);
    let mut held_seen = false;
    while !new.is_empty() {
        let name = new.swap_remove(rng.below(new.len()));
        fs::copy(alice.vault_path().join(&name), bob.vault_path().join(&name)).unwrap();
        let out = bob.run(&["ls"]).success();
        let held = out.stderr.contains("held back");
        held_seen |= held;
        // `verify` cannot vouch for an incomplete copy.
        bob.run(&["verify"]).code(if held { 6 } else { 0 });
    }
    assert!(
        held_seen,
        "a random order should hold something back at least once"
    );
    let a = alice.run(&["info", "--json"]).success().json();
    let b = bob.run(&["info", "--json"]).success().json();
    assert_eq!(a["heads"], b["heads"]);
    assert_eq!(a["entries"], b["entries"]);
    let out = bob.run(&["ls"]).success();
    assert!(!out.stderr.contains("held back"), "{}", out.stderr);
    assert_eq!(bob.get("web/1", "password"), "changed");
    assert_eq!(bob.get("web/11", "password"), "p11");
}

fn copy_segments(from: &Path, to: &Path, rng: &mut Rng) {
    fs::create_dir_all(to).unwrap();
    let mut names: Vec<String> = segment_names(from).into_iter().collect();
    while !names.is_empty() {
        let n = names.swap_remove(rng.below(names.len()));
        fs::copy(from.join(&n), to.join(&n)).unwrap();
    }
}

/// `merge` takes in a stale copy's new records (a sync-conflict copy), refuses a
/// damaged one and another vault's with exit 6 (changing nothing), and makes a vault
/// directory of an old single-file vault.
#[test]
fn merge_takes_in_copies_and_refuses_damage() {
    let alice = TestEnv::new();
    alice.init_alice();
    alice.add("web/a", "1");
    // A copy on another machine (its own state) gets a write.
    let other = TestEnv::new();
    fs::create_dir_all(other.config_home().join("amanat")).unwrap();
    fs::copy(alice.identity_path(), other.identity_path()).unwrap();
    copy_segments(&alice.vault_path(), &other.vault_path(), &mut Rng(2));
    other.add("web/b", "2");
    alice.add("web/c", "3");
    let copy = other.vault_path();
    let before = segment_names(&alice.vault_path());
    let out = alice.run(&["merge", copy.to_str().unwrap()]).success();
    assert!(
        out.stdout
            .starts_with("merged: 1 new record(s) in segment "),
        "{}",
        out.stdout
    );
    assert_eq!(segment_names(&alice.vault_path()).len(), before.len() + 1);
    assert_eq!(alice.get("web/b", "password"), "2");
    // Again: nothing new, nothing written.
    let out = alice.run(&["merge", copy.to_str().unwrap()]).success();
    assert!(
        out.stdout.starts_with("merged: nothing new"),
        "{}",
        out.stdout
    );
    assert_eq!(segment_names(&alice.vault_path()).len(), before.len() + 1);
    // A damaged copy: refused whole.
    let bad = alice.path("bad.vault");
    copy_segments(&copy, &bad, &mut Rng(3));
    let victim = segment_names(&bad).into_iter().next_back().unwrap();
    let mut bytes = fs::read(bad.join(&victim)).unwrap();
    bytes[50] ^= 1;
    fs::write(bad.join(&victim), bytes).unwrap();
    let now = segment_names(&alice.vault_path());
    let out = alice.run(&["merge", bad.to_str().unwrap()]).code(6);
    assert!(out.error().contains("damaged"), "{}", out.error());
    assert_eq!(segment_names(&alice.vault_path()), now);
    // Another vault.
    let stranger = TestEnv::new();
    stranger.init_alice();
    let out = alice
        .run(&["merge", stranger.vault_path().to_str().unwrap()])
        .code(6);
    assert!(
        out.error().contains("holds records of vault"),
        "{}",
        out.error()
    );
    // An old single-file vault becomes a vault directory.
    let single = alice.path("old.amanat");
    let one = segment_names(&alice.vault_path());
    let mut all = Vec::new();
    for n in &one {
        all.push(
            amanat::format::segment::Segment::decode(
                &fs::read(alice.vault_path().join(n)).unwrap(),
            )
            .unwrap(),
        );
    }
    let genesis = all.iter().find(|s| s.has_genesis()).unwrap().vault_id();
    let u = amanat::format::segment::union(genesis, all).unwrap();
    fs::write(&single, u.file.encode()).unwrap();
    let dir = alice.path("migrated.vault");
    let out = alice
        .run(&[
            "--vault",
            dir.to_str().unwrap(),
            "merge",
            single.to_str().unwrap(),
        ])
        .success();
    assert!(
        out.stderr.contains("created vault directory"),
        "{}",
        out.stderr
    );
    assert_eq!(segment_names(&dir).len(), 1);
    let out = alice
        .run(&["--vault", dir.to_str().unwrap(), "get", "web/b"])
        .success();
    assert_eq!(out.stdout, "2\n");
    // Pointing a command at the old file says what to do.
    let out = alice
        .run(&["--vault", single.to_str().unwrap(), "ls"])
        .code(1);
    assert!(out.hint().contains("merge"), "{}", out.hint());
}

/// `gc` with a grace period of `grace` seconds.
fn gc(env: &TestEnv, grace: u64) -> Outcome {
    Outcome::from(
        env.cmd(&["gc"])
            .env("AMANAT_GC_GRACE_SECONDS", grace.to_string())
            .output()
            .unwrap(),
    )
    .success()
}

/// Past 64 segments a write compacts; replaced segments stay for the grace period,
/// then `gc` deletes them; nothing is lost and the pins still hold.
#[test]
fn compaction_packs_in_tiers_and_deletes_after_the_grace_period() {
    let env = TestEnv::new();
    env.init_alice();
    for i in 0..70 {
        env.add(&format!("web/{i}"), &format!("p{i}"));
    }
    let all = segment_names(&env.vault_path());
    // 71 segments written (init wrote one, each add one): the automatic compaction
    // packed 65 of them into one more, and deleted none yet.
    assert_eq!(all.len(), 72, "{all:?}");
    let out = gc(&env, 86_400);
    assert!(
        out.stdout.contains("waiting for the grace period"),
        "{}",
        out.stdout
    );
    assert_eq!(segment_names(&env.vault_path()).len(), all.len() + 1);
    env.run(&["verify"]).success();
    let out = gc(&env, 0);
    assert!(
        out.stdout.contains("deleted 71 replaced segment(s)"),
        "{}",
        out.stdout
    );
    let left = segment_names(&env.vault_path());
    assert!(left.len() <= 2, "{left:?}");
    env.run(&["verify"]).success();
    for i in [0, 33, 69] {
        assert_eq!(env.get(&format!("web/{i}"), "password"), format!("p{i}"));
    }
}

/// Two clones compacting concurrently (different sets, so different packs) sync
/// without a conflict, and deleting the replaced segments later loses nothing.
#[test]
fn concurrent_compactions_on_two_clones_merge_cleanly() {
    let team = Team::new(&["alice", "bob"]);
    let (alice, bob) = (&team.people[0], &team.people[1]);
    for i in 0..6 {
        alice
            .env
            .add_with(&format!("a/{i}"), "x", &["--share-with", "@team"]);
        bob.env
            .add_with(&format!("b/{i}"), "y", &["--share-with", "@team"]);
    }
    alice.sync();
    bob.sync();
    alice.sync();
    alice
        .env
        .add_with("a/late", "z", &["--share-with", "@team"]);
    gc(&alice.env, 86_400);
    gc(&bob.env, 86_400);
    bob.sync();
    alice.sync();
    bob.sync();
    // Then both delete what they replaced.
    gc(&alice.env, 0);
    gc(&bob.env, 0);
    alice.sync();
    bob.sync();
    alice.sync();
    for p in [alice, bob] {
        p.run(&["verify"]).success();
        assert_eq!(git(&p.env, &p.repo(), &["status", "--porcelain"]), "");
        assert!(git(&p.env, &p.repo(), &["ls-files", "-u"]).is_empty());
        for i in 0..6 {
            assert_eq!(p.env.get(&format!("a/{i}"), "password"), "x");
            assert_eq!(p.env.get(&format!("b/{i}"), "password"), "y");
        }
        assert_eq!(p.env.get("a/late", "password"), "z");
    }
    assert_eq!(alice.segments(), bob.segments());
}

/// `amanat ARGS` with the clock set to `now` (seconds since the epoch).
fn at(env: &TestEnv, now: u64, args: &[&str], stdin: &str) -> Outcome {
    Outcome::from(
        env.cmd(args)
            .env("AMANAT_NOW", now.to_string())
            .write_stdin(stdin)
            .output()
            .unwrap(),
    )
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

const STALE_WARNING: &str = "warning: the newest heartbeat in this copy of the vault is";

/// SECURITY.md item 15: a copy whose newest heartbeat is 8 days old warns before a
/// write (and writes: a stale copy must still be able to revoke) and `audit` lists it;
/// a heartbeat dated 2099 does not silence it; an admin's write clears it; a member's
/// writes carry no heartbeat.
#[test]
fn an_eight_day_old_heartbeat_warns_until_an_admin_writes() {
    let alice = TestEnv::new();
    alice.identity_new("alice");
    let eight_days_ago = unix_now() - 8 * 24 * 60 * 60;
    at(&alice, eight_days_ago, &["init", "--name", "acme"], "").success();
    at(
        &alice,
        eight_days_ago,
        &["add", "web/a", "--password-stdin"],
        "p\n",
    )
    .success();
    // A member, added then too.
    let bob = TestEnv::new();
    let (key, fp) = bob.identity_new("bob");
    let out = at(
        &alice,
        eight_days_ago,
        &["member", "add", "bob", &key, "--fingerprint", &fp],
        "",
    )
    .success();
    let invite = out.stdout.lines().last().unwrap().to_string();
    fs::create_dir_all(bob.vault_path()).unwrap();
    copy_segments(&alice.vault_path(), &bob.vault_path(), &mut Rng(4));
    bob.run(&["join", &invite]).success();

    let out = bob
        .run_stdin(&["add", "bob/x", "--password-stdin"], "q\n")
        .success();
    assert!(
        out.stderr.contains(&format!("{STALE_WARNING} 8 days old")),
        "{}",
        out.stderr
    );
    // Reads do not warn; audit lists it.
    let out = bob.run(&["ls"]).success();
    assert!(!out.stderr.contains(STALE_WARNING), "{}", out.stderr);
    let out = alice.run(&["audit"]).success();
    assert!(
        out.stdout
            .contains("freshness\t-\tthe newest heartbeat is 8 days old"),
        "{}",
        out.stdout
    );
    // A heartbeat dated 2099 (a clock far ahead) is ignored.
    at(
        &alice,
        4_070_908_800,
        &["add", "web/future", "--password-stdin"],
        "f\n",
    )
    .success();
    copy_segments(&alice.vault_path(), &bob.vault_path(), &mut Rng(5));
    let out = bob
        .run_stdin(&["add", "bob/y", "--password-stdin"], "q\n")
        .success();
    assert!(out.stderr.contains(STALE_WARNING), "{}", out.stderr);
    // bob's own writes carry no heartbeat.
    copy_segments(&bob.vault_path(), &alice.vault_path(), &mut Rng(6));
    let out = alice.run(&["audit"]).success();
    assert!(out.stdout.contains("freshness"), "{}", out.stdout);
    // An admin's write clears it, for everyone who gets it.
    let out = alice
        .run_stdin(&["add", "web/b", "--password-stdin"], "b\n")
        .success();
    assert!(
        out.stderr.contains(STALE_WARNING),
        "warns first: {}",
        out.stderr
    );
    let out = alice.run(&["audit"]).success();
    assert!(!out.stdout.contains("freshness"), "{}", out.stdout);
    copy_segments(&alice.vault_path(), &bob.vault_path(), &mut Rng(7));
    let out = bob
        .run_stdin(&["add", "bob/z", "--password-stdin"], "q\n")
        .success();
    assert!(!out.stderr.contains(STALE_WARNING), "{}", out.stderr);
    // The limit is configurable.
    let out = Outcome::from(
        bob.cmd(&["add", "bob/w", "--password-stdin"])
            .env("AMANAT_FRESHNESS_DAYS", "0")
            .env("AMANAT_NOW", (unix_now() + 2 * 24 * 60 * 60).to_string())
            .write_stdin("q\n")
            .output()
            .unwrap(),
    )
    .success();
    assert!(out.stderr.contains(STALE_WARNING), "{}", out.stderr);
}
