//! End-to-end tests of `report evidence` and `report verify-evidence` (docs/audit.md,
//! "Evidence pack"): a team of three — alice (owner), bob (member, in @devops), carol
//! (member) — with entries shared in known ways. The pack verifies; any change to any
//! file, an extra or a missing file, or a MANIFEST signed by someone other than the
//! member it names fails with exit 6; no secret of the vault is in any file; and the
//! access report's CSV is exactly the shares made.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use common::{Outcome, PASSPHRASE, TestEnv};
use serde_json::Value;

const DB: &str = "Qw7#db-Secret-Password-1";
const REDIS: &str = "Qw7#redis-Secret-Password-2";
const PAYROLL: &str = "Qw7#payroll-Secret-Password-3";
const TOTP_SEED: &str = "KRUGKIDROVUWG2ZAMJZG653OEBTG66BANJ2W24DTEBXXMZLS";
const NOTE: &str = "the-safe-combination-is-4471";
const USERNAME: &str = "dbadmin-user-7731";
const URL: &str = "https://db.internal-secret.example";

/// The pack's files besides MANIFEST.
const FILES: [&str; 7] = [
    "access.csv",
    "access.json",
    "audit.json",
    "log.json",
    "members.json",
    "review.json",
    "verify.txt",
];

struct Team {
    env: TestEnv,
    bob: String,
    /// The password `--generate` made for web/github.
    github: String,
}

impl Team {
    /// ops/db (username, URL, note) shared with @devops; web/github (generated
    /// password, TOTP seed) shared with carol, who may write it; hr/payroll with
    /// nobody; ops/redis with bob directly.
    fn new() -> Self {
        let env = TestEnv::new();
        env.init_alice();
        let bob = env.path("bob.identity").display().to_string();
        let carol = env.path("carol.identity").display().to_string();
        for (file, name) in [(&bob, "bob"), (&carol, "carol")] {
            let (key, fp) = env.identity_new_at(file, name);
            env.run(&["member", "add", name, &key, "--fingerprint", &fp])
                .success();
        }
        env.run(&["group", "create", "devops", "bob"]).success();
        env.add_with(
            "ops/db",
            DB,
            &[
                "--username",
                USERNAME,
                "--url",
                URL,
                "--note",
                NOTE,
                "--share-with",
                "@devops",
            ],
        );
        let uri = format!("otpauth://totp/ACME:alice?secret={TOTP_SEED}&issuer=ACME");
        env.run_stdin(
            &["add", "web/github", "--generate", "--totp-stdin"],
            &format!("{uri}\n"),
        )
        .success();
        env.run(&["share", "web/github", "--with", "carol", "--write"])
            .success();
        env.add("hr/payroll", PAYROLL);
        env.add_with("ops/redis", REDIS, &["--share-with", "bob"]);
        let github = env.get("web/github", "password");
        assert!(github.len() >= 16, "generated password: {github:?}");
        Self { env, bob, github }
    }

    /// `amanat ARGS` as the identity in `file`.
    fn as_member(&self, file: &str, args: &[&str]) -> Outcome {
        let mut all = vec!["--identity", file];
        all.extend_from_slice(args);
        self.env.run(&all)
    }

    /// `report evidence --out NAME` as alice; returns the pack's directory.
    fn pack(&self, name: &str) -> PathBuf {
        let dir = self.env.path(name);
        let out = self
            .env
            .run(&["report", "evidence", "--out", dir.to_str().unwrap()])
            .success();
        assert!(
            out.stdout.starts_with(&format!(
                "evidence pack written to {}: 7 files and MANIFEST, signed by alice at heads ",
                dir.display()
            )),
            "{out:?}"
        );
        dir
    }

    fn verify(&self, dir: &Path) -> Outcome {
        self.env
            .run(&["report", "verify-evidence", dir.to_str().unwrap()])
    }

    /// Every secret value in the vault, each checked to be really there (so that the
    /// search for them in the pack searches for the right strings).
    fn secrets(&self) -> Vec<String> {
        assert_eq!(self.env.get("ops/db", "password"), DB);
        assert_eq!(self.env.get("ops/db", "username"), USERNAME);
        assert_eq!(self.env.get("ops/db", "url"), URL);
        assert_eq!(self.env.get("ops/db", "notes"), NOTE);
        assert_eq!(self.env.get("ops/redis", "password"), REDIS);
        assert_eq!(self.env.get("hr/payroll", "password"), PAYROLL);
        let totp = self.env.get("web/github", "totp");
        assert!(totp.contains(TOTP_SEED), "{totp}");
        vec![
            DB.into(),
            REDIS.into(),
            PAYROLL.into(),
            self.github.clone(),
            TOTP_SEED.into(),
            TOTP_SEED.to_lowercase(),
            totp,
            NOTE.into(),
            USERNAME.into(),
            URL.into(),
            "db.internal-secret".into(),
            PASSPHRASE.into(),
        ]
    }
}

fn names_in(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

fn flip(path: &Path, at: usize) -> Vec<u8> {
    let original = fs::read(path).unwrap();
    let mut bytes = original.clone();
    bytes[at] ^= 0x01;
    fs::write(path, &bytes).unwrap();
    original
}

#[test]
fn pack_verifies_and_any_change_to_any_file_fails() {
    let team = Team::new();
    let dir = team.pack("evidence");
    let mut expected: BTreeSet<String> = FILES.iter().map(|s| s.to_string()).collect();
    expected.insert("MANIFEST".into());
    assert_eq!(names_in(&dir), expected);
    assert_eq!(common::mode(&dir), 0o700);
    for name in &expected {
        assert_eq!(common::mode(&dir.join(name)), 0o600, "{name}");
    }
    let ok = team.verify(&dir).success();
    assert!(
        ok.stdout
            .starts_with("evidence verified: 7 files, signed by alice at heads "),
        "{ok:?}"
    );
    assert_eq!(ok.stdout.lines().count(), 1);

    // One flipped byte anywhere (first, middle, last but one) in any file: exit 6,
    // naming the file; put back, the pack verifies again.
    for name in &expected {
        let path = dir.join(name);
        let len = fs::read(&path).unwrap().len();
        assert!(len > 2, "{name} is empty");
        for at in [0, len / 2, len - 2] {
            let original = flip(&path, at);
            let out = team.verify(&dir).code(6);
            assert!(
                out.error().contains(&format!("'{name}'")) || out.error().contains(name.as_str()),
                "{name} byte {at}: {}",
                out.stderr
            );
            fs::write(&path, original).unwrap();
        }
    }
    team.verify(&dir).success();

    // A file the manifest does not list.
    fs::write(dir.join("extra.txt"), "added later").unwrap();
    let out = team.verify(&dir).code(6);
    assert_eq!(
        out.error(),
        "file 'extra.txt' is in the pack but not listed in MANIFEST"
    );
    fs::remove_file(dir.join("extra.txt")).unwrap();
    team.verify(&dir).success();

    // A listed file deleted.
    for name in FILES {
        let path = dir.join(name);
        let original = fs::read(&path).unwrap();
        fs::remove_file(&path).unwrap();
        let out = team.verify(&dir).code(6);
        assert_eq!(
            out.error(),
            format!("file '{name}' is listed in MANIFEST but missing")
        );
        fs::write(&path, original).unwrap();
    }
    team.verify(&dir).success();

    // MANIFEST deleted: not a pack (exit 4, with the next step).
    fs::remove_file(dir.join("MANIFEST")).unwrap();
    let out = team.verify(&dir).code(4);
    assert_eq!(
        out.error(),
        format!("'{}' holds no MANIFEST", dir.display())
    );
    assert!(out.hint().contains("amanat report evidence --out DIR"));

    // No directory at all.
    let out = team.verify(&team.env.path("nowhere")).code(4);
    assert!(
        out.error().starts_with("no evidence pack at "),
        "{}",
        out.stderr
    );
}

/// The signature is checked under the key the roster gives the named member at the
/// heads, never under a key the pack could bring: bob re-signing alice's manifest
/// fails; the same manifest claiming bob and signed by bob verifies.
#[test]
fn manifest_signed_by_another_member_fails() {
    use amanat::crypto::SecretString;
    use amanat::evidence::SignedManifest;
    use amanat::format::MemberId;
    use amanat::identity::Identity;

    let team = Team::new();
    let dir = team.pack("evidence");
    let path = dir.join("MANIFEST");
    let original = fs::read(&path).unwrap();
    let parsed = SignedManifest::parse(&original).unwrap();
    let bob = Identity::unlock(
        &fs::read(&team.bob).unwrap(),
        &SecretString::new(PASSPHRASE.into()),
    )
    .unwrap();

    // bob signs alice's manifest (member line unchanged).
    let forged = parsed.manifest().sign(&bob.signing).unwrap();
    assert_ne!(forged, original);
    fs::write(&path, &forged).unwrap();
    let out = team.verify(&dir).code(6);
    assert_eq!(
        out.error(),
        "MANIFEST signature does not verify under alice's key at its heads"
    );

    // The same with bob's own id and name: it verifies, as bob's pack.
    let members = team.env.run(&["member", "ls", "--json"]).success().json();
    let bob_id = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "bob")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut as_bob = parsed.manifest().clone();
    as_bob.member = MemberId::from_hex(&bob_id).unwrap();
    as_bob.member_name = "bob".into();
    fs::write(&path, as_bob.sign(&bob.signing).unwrap()).unwrap();
    let out = team.verify(&dir).success();
    assert!(out.stdout.contains("signed by bob at heads"), "{out:?}");

    // bob's id with alice's name: the roster disagrees.
    let mut wrong_name = as_bob.clone();
    wrong_name.member_name = "alice".into();
    fs::write(&path, wrong_name.sign(&bob.signing).unwrap()).unwrap();
    team.verify(&dir).code(6);

    fs::write(&path, &original).unwrap();
    team.verify(&dir).success();
}

#[test]
fn no_secret_in_any_file() {
    let team = Team::new();
    let dir = team.pack("evidence");
    let secrets = team.secrets();
    let names = names_in(&dir);
    assert_eq!(names.len(), 8);
    for name in &names {
        let text = String::from_utf8_lossy(&fs::read(dir.join(name)).unwrap()).into_owned();
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret is in {name}:\n{text}"
            );
        }
    }
    // The search reads the real contents: paths and members are there.
    let csv = fs::read_to_string(dir.join("access.csv")).unwrap();
    assert!(csv.contains("ops/db") && csv.contains("carol"), "{csv}");
}

/// `report access --format csv`, read by a CSV parser, is exactly the shares made
/// (admins reach every entry through @admins and may write it).
#[test]
fn access_csv_equals_the_shares_made() {
    let team = Team::new();
    let out = team
        .env
        .run(&["report", "access", "--format", "csv"])
        .success();
    let mut reader = csv::Reader::from_reader(out.stdout.as_bytes());
    assert_eq!(
        reader.headers().unwrap(),
        vec!["entry", "member", "role", "access", "via"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let got: BTreeSet<(String, String, String)> = rows
        .iter()
        .map(|r| (r[0].to_string(), r[1].to_string(), r[3].to_string()))
        .collect();
    assert_eq!(got.len(), rows.len(), "a duplicate row: {}", out.stdout);
    let expected: BTreeSet<(String, String, String)> = [
        ("hr/payroll", "alice", "write"),
        ("ops/db", "alice", "write"),
        ("ops/db", "bob", "read"),
        ("ops/redis", "alice", "write"),
        ("ops/redis", "bob", "read"),
        ("web/github", "alice", "write"),
        ("web/github", "carol", "write"),
    ]
    .iter()
    .map(|(e, m, a)| (e.to_string(), m.to_string(), a.to_string()))
    .collect();
    assert_eq!(got, expected);
    let via: BTreeSet<(String, String, String)> = rows
        .iter()
        .map(|r| (r[0].to_string(), r[1].to_string(), r[4].to_string()))
        .collect();
    assert!(via.contains(&("ops/db".into(), "bob".into(), "@devops".into())));
    assert!(via.contains(&("ops/redis".into(), "bob".into(), "direct".into())));

    // The pack's access.csv is the same report.
    let dir = team.pack("evidence");
    assert_eq!(
        fs::read_to_string(dir.join("access.csv")).unwrap(),
        out.stdout
    );
}

/// The other files hold what their names say.
#[test]
fn files_hold_the_reports() {
    let team = Team::new();
    let dir = team.pack("evidence");
    let read_json = |name: &str| -> Value {
        serde_json::from_slice(&fs::read(dir.join(name)).unwrap()).unwrap()
    };
    let access = read_json("access.json");
    assert_eq!(access["scope"], "admin");
    assert_eq!(access["generated_by"], "alice");
    assert_eq!(access["entries"], 4);
    assert_eq!(access["rows"].as_array().unwrap().len(), 7);
    let members = read_json("members.json");
    let members = members.as_array().unwrap();
    let names: Vec<&str> = members
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
    let bob = &members[1];
    assert_eq!(bob["role"], "member");
    assert_eq!(bob["groups"], serde_json::json!(["devops"]));
    let show = team.as_member(&team.bob, &["identity", "show"]).success();
    let fp = show
        .stdout
        .lines()
        .nth(1)
        .unwrap()
        .strip_prefix("fingerprint: ")
        .unwrap();
    assert_eq!(bob["fingerprint"], fp);
    let log = read_json("log.json");
    let log = log.as_array().unwrap();
    assert!(log.len() > 8, "{log:?}");
    for e in log {
        assert_eq!(e["signature"].as_str().unwrap().len(), 128, "{e}");
        assert_eq!(e["record"].as_str().unwrap().len(), 64, "{e}");
    }
    assert_eq!(
        read_json("audit.json"),
        team.env.run(&["audit", "--json"]).success().json()
    );
    assert_eq!(
        read_json("review.json"),
        team.env.run(&["review", "--json"]).success().json()
    );
    assert_eq!(read_json("review.json").as_array().unwrap().len(), 4);
    let verify = fs::read_to_string(dir.join("verify.txt")).unwrap();
    assert!(
        verify.lines().last().unwrap().starts_with("ok: vault "),
        "{verify}"
    );
    let manifest = fs::read_to_string(dir.join("MANIFEST")).unwrap();
    let lines: Vec<&str> = manifest.lines().collect();
    assert_eq!(lines[0], "amanat-evidence v1");
    let info = team.env.run(&["info", "--json"]).success().json();
    assert_eq!(
        lines[1],
        format!("vault {}", info["vault_id"].as_str().unwrap())
    );
    let heads: Vec<&str> = info["heads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert_eq!(lines[2], format!("heads {}", heads.join(",")));
    assert_eq!(lines[5], "scope admin");
    assert_eq!(lines[6], "since -");
    assert_eq!(lines.len(), 7 + 7 + 1);
}

/// `--since` bounds the log and is recorded in MANIFEST.
#[test]
fn since_bounds_the_log() {
    let team = Team::new();
    let later = amanat::vault::system_now().unwrap() + 10 * 86_400;
    let dir = team.env.path("evidence");
    team.env
        .cmd(&[
            "report",
            "evidence",
            "--out",
            dir.to_str().unwrap(),
            "--since",
            "1d",
        ])
        .env("AMANAT_NOW", later.to_string())
        .assert()
        .success();
    let log: Value = serde_json::from_slice(&fs::read(dir.join("log.json")).unwrap()).unwrap();
    assert_eq!(log, serde_json::json!([]));
    let manifest = fs::read_to_string(dir.join("MANIFEST")).unwrap();
    assert!(
        manifest.contains(&format!("\nsince {}\n", later - 86_400)),
        "{manifest}"
    );
    assert!(
        manifest.contains(&format!("\ntime {later}\n")),
        "{manifest}"
    );
    team.verify(&dir).success();

    let recent = team.env.path("recent");
    team.env
        .run(&[
            "report",
            "evidence",
            "--out",
            recent.to_str().unwrap(),
            "--since",
            "1h",
        ])
        .success();
    let log: Value = serde_json::from_slice(&fs::read(recent.join("log.json")).unwrap()).unwrap();
    assert!(!log.as_array().unwrap().is_empty());

    let bad = team
        .env
        .run(&["report", "evidence", "--out", "x", "--since", "soon"])
        .code(2);
    assert_eq!(bad.error(), "invalid duration 'soon'");
}

/// A member who is not an admin may make a pack: it covers what they can read, and
/// says so.
#[test]
fn reader_pack_covers_what_they_read() {
    let team = Team::new();
    let dir = team.env.path("bob-pack");
    let out = team
        .as_member(
            &team.bob,
            &["report", "evidence", "--out", dir.to_str().unwrap()],
        )
        .success();
    assert!(
        out.stderr
            .contains("note: you are not an admin: this evidence pack covers only the 2 of 4 entries shared with you"),
        "{}",
        out.stderr
    );
    assert!(
        fs::read_to_string(dir.join("MANIFEST"))
            .unwrap()
            .contains("\nscope reader\n")
    );
    let access: Value =
        serde_json::from_slice(&fs::read(dir.join("access.json")).unwrap()).unwrap();
    assert_eq!(access["scope"], "reader");
    let entries: BTreeSet<&str> = access["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["entry"].as_str().unwrap())
        .collect();
    assert_eq!(entries, BTreeSet::from(["ops/db", "ops/redis"]));
    // Checked by someone else against the same vault (no passphrase needed).
    team.env.set_passphrase("wrong passphrase\n");
    let out = team.verify(&dir).success();
    assert!(out.stdout.contains("signed by bob at heads"), "{out:?}");
    assert!(
        out.stderr.contains("note: bob is not an admin"),
        "{}",
        out.stderr
    );
}

#[test]
fn refuses_a_directory_that_is_not_empty() {
    let team = Team::new();
    let dir = team.env.path("used");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("old.txt"), "x").unwrap();
    let out = team
        .env
        .run(&["report", "evidence", "--out", dir.to_str().unwrap()])
        .code(1);
    assert_eq!(out.error(), format!("'{}' is not empty", dir.display()));
    assert!(out.hint().starts_with("choose a new directory"));
    assert_eq!(names_in(&dir), BTreeSet::from(["old.txt".to_string()]));
    // An empty directory is fine.
    let empty = team.env.path("empty");
    fs::create_dir(&empty).unwrap();
    team.env
        .run(&["report", "evidence", "--out", empty.to_str().unwrap()])
        .success();
    team.verify(&empty).success();
}
