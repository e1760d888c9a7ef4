//! End-to-end tests of the `amanat` command line against its contract
//! (CLI.md, the command-line contract: names, flags, variables, exit codes, output shapes).
//!
//! Each test runs the real binary in a hermetic [`TestEnv`] (temporary HOME and XDG
//! directories, every `AMANAT_*` variable scrubbed, no controlling terminal) with
//! `--insecure-kdf` identities, and asserts the exact exit code and the `error: ` /
//! `hint: ` lines or stdout it relies on. Terminal behaviour (refusing to print a
//! secret to a terminal, the hidden passphrase prompt) is in `tests/pty.rs`.
//!
//! Tests whose comment says "Regression" pin a bug found while this suite was written.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::process::Stdio;

use common::{
    Outcome, PASSPHRASE, TestEnv, copy_vault, mode, segment_files, segment_names, set_vault_bytes,
    vault_bytes,
};
use serde_json::{Value, json};

const OSC52: &str = "\u{1b}]52;c;aGVsbG8=\u{7}";
const TOTP_URI: &str = "otpauth://totp/ACME:alice?secret=JBSWY3DPEHPK3PXP&issuer=ACME";
const EFF_WORDLIST: &str = include_str!("../src/passgen/eff_large_wordlist.txt");

fn wordlist() -> HashSet<&'static str> {
    EFF_WORDLIST.lines().collect()
}

/// The numbers of list words `phrase` can be split into. Words such as `yo-yo`
/// contain the `-` separator, so a blind split can over-count.
fn word_counts(phrase: &str, list: &HashSet<&str>) -> BTreeSet<usize> {
    let tokens: Vec<&str> = phrase.split('-').collect();
    let mut counts = vec![BTreeSet::new(); tokens.len() + 1];
    counts[0].insert(0);
    for i in 0..tokens.len() {
        let here = counts[i].clone();
        for take in 1..=2 {
            if i + take <= tokens.len() && list.contains(tokens[i..i + take].join("-").as_str()) {
                counts[i + take].extend(here.iter().map(|c| c + 1));
            }
        }
    }
    counts.pop().unwrap()
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX`, uppercase hex.
fn is_fingerprint(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 8
        && groups.iter().all(|g| {
            g.len() == 4
                && g.bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        })
}

/// The vault id, from `info --json`.
fn vault_id(env: &TestEnv) -> String {
    let v = env.run(&["info", "--json"]).success().json();
    v["vault_id"].as_str().unwrap().to_string()
}

/// An env with alice's vault holding a few entries.
fn populated() -> TestEnv {
    let env = TestEnv::new();
    env.init_alice();
    env.add_with(
        "web/github",
        "gh-S3cret",
        &[
            "--username",
            "alice",
            "--url",
            "https://github.com",
            "--note",
            "work account",
            "--field",
            "team=payments",
        ],
    );
    env.add_with(
        "webmail/x",
        "mail-S3cret",
        &["--username", "Alice.M", "--url", "https://mail.example"],
    );
    env.add_with("db/prod", "db-S3cret", &["--url", "postgres://db.internal"]);
    env
}

// ---------------------------------------------------------------------------
// identity
// ---------------------------------------------------------------------------

#[test]
fn identity_new_prints_key_then_fingerprint() {
    let env = TestEnv::new();
    let out = env
        .run(&["identity", "new", "--name", "alice", "--insecure-kdf"])
        .success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(lines[0].starts_with("amanat1"), "{}", lines[0]);
    assert!(!lines[0].contains(' '), "key alone on line 1: {}", lines[0]);
    let fp = lines[1].strip_prefix("fingerprint: ").unwrap();
    assert!(is_fingerprint(fp), "{fp}");
    assert!(
        out.stderr.contains(&format!(
            "identity 'alice' saved to {}",
            env.identity_path().display()
        )),
        "{}",
        out.stderr
    );
    // --insecure-kdf is warned about.
    assert!(
        out.stderr
            .contains("warning: this identity uses insecure key-derivation parameters"),
        "{}",
        out.stderr
    );
}

#[test]
fn identity_file_is_0600_in_a_0700_directory() {
    let env = TestEnv::new();
    env.identity_new("alice");
    assert_eq!(mode(&env.identity_path()), 0o600);
    assert_eq!(mode(env.identity_path().parent().unwrap()), 0o700);
}

#[test]
fn identity_new_refuses_to_overwrite() {
    let env = TestEnv::new();
    env.identity_new("alice");
    let before = fs::read(env.identity_path()).unwrap();
    let out = env
        .run(&["identity", "new", "--name", "bob", "--insecure-kdf"])
        .code(1);
    assert_eq!(
        out.error(),
        format!(
            "an identity already exists at {}",
            env.identity_path().display()
        )
    );
    assert_eq!(
        out.hint(),
        "use it, or choose another file with --identity / AMANAT_IDENTITY"
    );
    assert_eq!(out.stdout, "");
    assert_eq!(fs::read(env.identity_path()).unwrap(), before);
}

#[test]
fn identity_show_prints_the_same_key_without_a_passphrase() {
    let env = TestEnv::new();
    let (key, fp) = env.identity_new("alice");
    // Showing the public half needs no passphrase.
    let out = Outcome::from(
        env.cmd(&["identity", "show"])
            .env_remove("AMANAT_PASSPHRASE_FILE")
            .output()
            .unwrap(),
    )
    .success();
    assert_eq!(
        out.stdout,
        format!("{key}\nfingerprint: {fp}\nname: alice\n")
    );
}

#[test]
fn identity_show_json_shape() {
    let env = TestEnv::new();
    let (key, fp) = env.identity_new("alice");
    let v = env.run(&["identity", "show", "--json"]).success().json();
    assert_eq!(
        v,
        json!({
            "name": "alice",
            "public_key": key,
            "fingerprint": fp,
            "kdf": {"memory_kib": 64, "time": 1, "lanes": 1},
            "insecure_kdf": true,
        })
    );
}

#[test]
fn identity_new_rejects_invalid_names() {
    let env = TestEnv::new();
    for name in ["a b", "a@b", "", "tab\there", "a/b", "a\u{202e}b"] {
        let out = env
            .run(&["identity", "new", "--name", name, "--insecure-kdf"])
            .code(2);
        assert_eq!(out.error(), "invalid identity name", "name {name:?}");
        assert_eq!(
            out.hint(),
            "names are 1–64 characters without spaces, '@', '/', control, bidi (right-to-left) or invisible characters"
        );
    }
    assert!(!env.identity_path().exists());
}

#[test]
fn identity_new_kdf_below_floor_needs_insecure_flag() {
    let env = TestEnv::new();
    let out = env
        .run(&["identity", "new", "--name", "alice", "--kdf-memory", "8"])
        .code(2);
    assert_eq!(
        out.error(),
        "key derivation parameters rejected: below the 64 MiB, t=3 floor (only allowed with --insecure-kdf)"
    );
    assert!(out.hint().contains("--kdf-memory 64"), "{}", out.hint());
    assert!(!env.identity_path().exists());

    // With the flag the same parameters are accepted and recorded.
    env.run(&[
        "identity",
        "new",
        "--name",
        "alice",
        "--kdf-memory",
        "8",
        "--insecure-kdf",
    ])
    .success();
    let v = env.run(&["identity", "show", "--json"]).success().json();
    assert_eq!(v["kdf"]["memory_kib"], 8 * 1024);
    assert_eq!(v["kdf"]["time"], 1);
    assert_eq!(v["insecure_kdf"], true);
}

/// The one test with a real-strength KDF (~1 s with argon2 optimised in debug).
#[test]
fn identity_new_without_insecure_flag_uses_default_kdf() {
    let env = TestEnv::new();
    let out = env.run(&["identity", "new", "--name", "alice"]).success();
    assert!(out.stdout.starts_with("amanat1"), "{}", out.stdout);
    assert!(
        !out.stderr.contains("insecure"),
        "no insecure-KDF warning expected: {}",
        out.stderr
    );
    let v = env.run(&["identity", "show", "--json"]).success().json();
    assert_eq!(v["kdf"]["memory_kib"], 262_144);
    assert_eq!(v["kdf"]["time"], 3);
    assert_eq!(v["insecure_kdf"], false);
}

#[test]
fn identity_new_refuses_an_empty_passphrase() {
    let env = TestEnv::new().with_passphrase_file("\n");
    let out = env
        .run(&["identity", "new", "--name", "alice", "--insecure-kdf"])
        .code(3);
    assert_eq!(out.error(), "the passphrase is empty");
    assert!(!env.identity_path().exists());
}

#[test]
fn identity_passwd_replaces_the_passphrase() {
    let env = TestEnv::new();
    env.init_alice();
    env.add("web/github", "S3cret");
    let key = env.run(&["identity", "show", "--json"]).success().json()["public_key"].clone();
    let new_file = env.write_file("new-passphrase", "a brand new passphrase\n");
    fs::set_permissions(
        &new_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let out = Outcome::from(
        env.cmd(&["identity", "passwd"])
            .env("AMANAT_NEW_PASSPHRASE_FILE", &new_file)
            .output()
            .unwrap(),
    )
    .success();
    assert!(
        out.stderr.contains("passphrase changed for 'alice'"),
        "{}",
        out.stderr
    );
    assert_eq!(mode(&env.identity_path()), 0o600);

    // The old passphrase no longer opens the identity.
    let out = env.run(&["ls"]).code(3);
    assert_eq!(
        out.error(),
        "wrong passphrase, or the identity file was modified"
    );
    assert_eq!(
        out.hint(),
        "check the passphrase (or AMANAT_PASSPHRASE_FILE) and try again"
    );

    // The new one does, and the keys are the same.
    env.set_passphrase("a brand new passphrase\n");
    assert_eq!(env.stdout(&["ls"]), "web/github\n");
    assert_eq!(env.get("web/github", "password"), "S3cret");
    let v = env.run(&["identity", "show", "--json"]).success().json();
    assert_eq!(v["public_key"], key);
}

#[test]
fn identity_passwd_without_a_new_passphrase_source_exit_3() {
    let env = TestEnv::new();
    env.identity_new("alice");
    let before = fs::read(env.identity_path()).unwrap();
    let out = env.run(&["identity", "passwd"]).code(3);
    assert_eq!(
        out.error(),
        "no passphrase available: no terminal to prompt on"
    );
    assert!(
        out.hint().contains("AMANAT_NEW_PASSPHRASE_FILE"),
        "{}",
        out.hint()
    );
    assert_eq!(fs::read(env.identity_path()).unwrap(), before);
}

// ---------------------------------------------------------------------------
// passphrase sources
// ---------------------------------------------------------------------------

#[test]
fn no_passphrase_source_and_no_terminal_exit_3() {
    let env = TestEnv::new();
    env.init_alice();
    let out = Outcome::from(
        env.cmd(&["ls"])
            .env_remove("AMANAT_PASSPHRASE_FILE")
            .output()
            .unwrap(),
    )
    .code(3);
    assert_eq!(
        out.error(),
        "no passphrase available: no terminal to prompt on and AMANAT_PASSPHRASE_FILE is not set"
    );
    assert!(
        out.hint().contains("AMANAT_PASSPHRASE_FILE"),
        "{}",
        out.hint()
    );
    assert_eq!(out.stdout, "");
}

#[test]
fn wrong_passphrase_exit_3_and_is_not_echoed() {
    let env = TestEnv::new();
    env.init_alice();
    env.set_passphrase("wrong-Passphrase-Marker\n");
    let out = env.run(&["ls"]).code(3);
    assert_eq!(
        out.error(),
        "wrong passphrase, or the identity file was modified"
    );
    out.assert_absent("wrong-Passphrase-Marker", "the passphrase");
}

#[test]
fn unreadable_passphrase_file_exit_3() {
    let env = TestEnv::new();
    env.init_alice();
    let missing = env.path("no-such-file");
    let out = Outcome::from(
        env.cmd(&["ls"])
            .env("AMANAT_PASSPHRASE_FILE", &missing)
            .output()
            .unwrap(),
    )
    .code(3);
    assert!(
        out.error().starts_with(&format!(
            "cannot read AMANAT_PASSPHRASE_FILE file {}",
            missing.display()
        )),
        "{}",
        out.error()
    );
}

#[test]
fn passphrase_file_first_line_only_and_crlf_stripped() {
    let env = TestEnv::new();
    env.init_alice();
    env.set_passphrase(&format!("{PASSPHRASE}\r\nsecond line is ignored\n"));
    env.run(&["ls"]).success();
    // No trailing newline at all also works.
    env.set_passphrase(PASSPHRASE);
    env.run(&["ls"]).success();
}

// ---------------------------------------------------------------------------
// init, info
// ---------------------------------------------------------------------------

#[test]
fn init_creates_a_private_vault_and_prints_its_id() {
    let env = TestEnv::new();
    env.identity_new("alice");
    let out = env.run(&["init", "--name", "acme"]).success();
    let id = out.stdout.strip_prefix("vault: ").unwrap().trim_end();
    assert!(is_hex(id, 64), "{}", out.stdout);
    assert_eq!(out.stdout.lines().count(), 1);
    assert!(
        out.stderr.contains(&format!(
            "created vault for team 'acme' at {}; 'alice' is its owner",
            env.vault_path().display()
        )),
        "{}",
        out.stderr
    );
    // The vault is a private directory holding one private segment.
    assert_eq!(mode(&env.vault_path()), 0o700);
    assert_eq!(mode(env.vault_path().parent().unwrap()), 0o700);
    let segments = segment_files(&env.vault_path());
    assert_eq!(segments.len(), 1, "{segments:?}");
    for s in &segments {
        assert_eq!(mode(s), 0o600, "{}", s.display());
    }
    assert_eq!(mode(&env.state_dir()), 0o700);
}

#[test]
fn init_refuses_an_existing_vault() {
    let env = TestEnv::new();
    env.init_alice();
    env.add("web/github", "S3cret");
    let names = segment_names(&env.vault_path());
    let before = vault_bytes(&env.vault_path());
    let out = env.run(&["init", "--name", "other"]).code(1);
    assert_eq!(
        out.error(),
        format!("a vault already exists at {}", env.vault_path().display())
    );
    assert_eq!(
        out.hint(),
        "use it, or choose another file with --vault / AMANAT_VAULT"
    );
    assert_eq!(segment_names(&env.vault_path()), names);
    assert_eq!(vault_bytes(&env.vault_path()), before);
}

#[test]
fn init_without_identity_exit_4() {
    let env = TestEnv::new();
    let out = env.run(&["init"]).code(4);
    assert_eq!(
        out.error(),
        format!("no identity at {}", env.identity_path().display())
    );
    assert!(
        out.hint().contains("amanat identity new --name NAME"),
        "{}",
        out.hint()
    );
    assert!(!env.vault_path().exists());
}

#[test]
fn info_reports_the_vault() {
    let env = TestEnv::new();
    let id = env.init_alice();
    env.add("web/github", "S3cret");
    let out = env.run(&["info"]).success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], format!("vault: {id}"));
    assert_eq!(lines[1], "team: acme");
    assert_eq!(lines[2], "members: 1");
    assert_eq!(lines[3], "groups: 0");
    assert_eq!(lines[4], "entries: 1");
    assert!(lines[5].starts_with("records: "), "{}", lines[5]);
    assert_eq!(lines[6], "segments: 2");
    assert_eq!(lines[7], "your role: owner");
    assert_eq!(
        lines[8],
        format!("directory: {}", env.vault_path().display())
    );
    assert_eq!(lines.len(), 9);
}

#[test]
fn info_json_shape() {
    let env = TestEnv::new();
    let id = env.init_alice();
    let v = env.run(&["info", "--json"]).success().json();
    assert_eq!(v["vault_id"], id.as_str());
    assert_eq!(v["team"], "acme");
    assert_eq!(v["members"], 1);
    assert_eq!(v["groups"], 0);
    assert_eq!(v["entries"], 0);
    assert_eq!(v["your_role"], "owner");
    assert_eq!(v["file"], env.vault_path().display().to_string());
    assert_eq!(v["directory"], env.vault_path().display().to_string());
    assert_eq!(v["segments"], 1);
    assert!(v["records"].as_u64().unwrap() >= 1);
    let heads = v["heads"].as_array().unwrap();
    assert!(!heads.is_empty());
    assert!(heads.iter().all(|h| is_hex(h.as_str().unwrap(), 64)));
}

#[test]
fn info_needs_no_passphrase() {
    let env = TestEnv::new();
    env.init_alice();
    let out = Outcome::from(
        env.cmd(&["info"])
            .env_remove("AMANAT_PASSPHRASE_FILE")
            .output()
            .unwrap(),
    )
    .success();
    assert!(out.stdout.contains("your role: owner\n"), "{}", out.stdout);
}

#[test]
fn a_non_member_sees_the_vault_but_cannot_read_it() {
    let env = TestEnv::new();
    env.init_alice();
    env.add("web/github", "S3cret");
    let bob = env.path("bob.identity");
    env.run(&[
        "--identity",
        bob.to_str().unwrap(),
        "identity",
        "new",
        "--name",
        "bob",
        "--insecure-kdf",
    ])
    .success();
    let info = env
        .run(&["--identity", bob.to_str().unwrap(), "info", "--json"])
        .success()
        .json();
    assert_eq!(info["your_role"], Value::Null);
    let out = env
        .run(&["--identity", bob.to_str().unwrap(), "ls"])
        .code(5);
    assert_eq!(out.error(), "identity 'bob' is not a member of this vault");
    assert_eq!(out.stdout, "");
    let out = env
        .run(&["--identity", bob.to_str().unwrap(), "get", "web/github"])
        .code(5);
    out.assert_absent("S3cret", "the password");
}

// ---------------------------------------------------------------------------
// add
// ---------------------------------------------------------------------------

#[test]
fn add_password_stdin_with_metadata_fields() {
    let env = populated();
    assert_eq!(env.get("web/github", "password"), "gh-S3cret");
    assert_eq!(env.get("web/github", "username"), "alice");
    assert_eq!(env.get("web/github", "url"), "https://github.com");
    assert_eq!(env.get("web/github", "notes"), "work account");
    assert_eq!(env.get("web/github", "team"), "payments");
    assert_eq!(env.get("web/github", "path"), "web/github");
    // Only the first line of stdin is the password.
    env.run_stdin(
        &["add", "multi/line", "--password-stdin"],
        "first line\nsecond line\n",
    )
    .success();
    assert_eq!(env.get("multi/line", "password"), "first line");
}

#[test]
fn add_generate_length() {
    let env = TestEnv::new();
    env.init_alice();
    let out = env
        .run(&["add", "db/prod", "--generate", "--length", "32"])
        .success();
    assert_eq!(out.stdout, "added db/prod\n");
    let pw = env.get("db/prod", "password");
    assert_eq!(pw.chars().count(), 32, "{pw}");
    // The generated password is not printed by add.
    assert!(!out.stdout.contains(&pw) && !out.stderr.contains(&pw));
    // Default length is 24.
    env.run(&["add", "db/dev", "--generate"]).success();
    assert_eq!(env.get("db/dev", "password").chars().count(), 24);
}

#[test]
fn add_generate_words() {
    let env = TestEnv::new();
    env.init_alice();
    env.run(&["add", "wifi/office", "--generate", "--words", "5"])
        .success();
    let phrase = env.get("wifi/office", "password");
    assert!(
        word_counts(&phrase, &wordlist()).contains(&5),
        "not 5 EFF words joined by '-': {phrase}"
    );
}

#[test]
fn add_duplicate_path_exit_1() {
    let env = TestEnv::new();
    env.init_alice();
    env.add("web/github", "first");
    let out = env
        .run_stdin(&["add", "web/github", "--password-stdin"], "second\n")
        .code(1);
    assert_eq!(out.error(), "an entry 'web/github' already exists");
    assert_eq!(
        out.hint(),
        "edit it with 'amanat edit', or choose another path"
    );
    assert_eq!(env.get("web/github", "password"), "first");
}

#[test]
fn add_invalid_paths_exit_2() {
    let env = TestEnv::new();
    env.init_alice();
    for path in ["a//b", "../x", "/a", "a/", ".", "a/./b", "a/../b", " a/b"] {
        let out = env
            .run_stdin(&["add", path, "--password-stdin"], "S3cret\n")
            .code(2);
        assert_eq!(out.error(), format!("invalid entry path '{path}'"));
        assert_eq!(
            out.hint(),
            "paths look like team/service/login: no empty, '.' or '..' parts, and no control, bidi (right-to-left) or invisible characters"
        );
    }
    assert_eq!(env.stdout(&["ls"]), "");
}

#[test]
fn add_without_password_source_and_no_terminal_exit_2() {
    let env = TestEnv::new();
    env.init_alice();
    let out = env.run(&["add", "web/github"]).code(2);
    assert_eq!(
        out.error(),
        "no password given and no terminal to prompt on"
    );
    assert!(out.hint().contains("--password-stdin"), "{}", out.hint());
    assert!(out.hint().contains("--generate"), "{}", out.hint());
    assert_eq!(env.stdout(&["ls"]), "");
}

#[test]
fn add_with_empty_stdin_exit_2() {
    let env = TestEnv::new();
    env.init_alice();
    let out = env
        .run_stdin(&["add", "web/github", "--password-stdin"], "")
        .code(2);
    assert_eq!(out.error(), "--password-stdin: stdin is empty");
}

#[test]
fn add_password_stdin_and_totp_stdin_are_exclusive() {
    let env = TestEnv::new();
    env.init_alice();
    let out = env
        .run_stdin(
            &["add", "web/github", "--password-stdin", "--totp-stdin"],
            "x\n",
        )
        .code(2);
    assert!(
        out.stderr
            .contains("error: the argument '--password-stdin' cannot be used with '--totp-stdin'"),
        "{}",
        out.stderr
    );
}

#[test]
fn add_generator_options_require_generate() {
    let env = TestEnv::new();
    env.init_alice();
    for opt in ["--length", "--words"] {
        let out = env.run(&["add", "web/github", opt, "12"]).code(2);
        assert!(
            out.stderr
                .contains("error: the following required arguments were not provided"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("--generate"), "{}", out.stderr);
    }
    let out = env
        .run(&["add", "x", "--generate", "--length", "12", "--words", "4"])
        .code(2);
    assert!(out.stderr.contains("cannot be used with"), "{}", out.stderr);
}

#[test]
fn add_invalid_totp_uri_exit_2() {
    let env = TestEnv::new();
    env.init_alice();
    for (uri, reason) in [
        ("not-a-uri", "not an otpauth://totp/ URI"),
        (
            "otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP",
            "not an otpauth://totp/ URI",
        ),
        (
            "otpauth://totp/x?secret=not!base32",
            "the secret parameter is missing or not base32",
        ),
        (
            "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=5",
            "unsupported digits parameter",
        ),
    ] {
        let out = env
            .run_stdin(
                &["add", "web/otp", "--totp-stdin", "--generate"],
                &format!("{uri}\n"),
            )
            .code(2);
        assert_eq!(out.error(), format!("invalid TOTP URI: {reason}"));
    }
    assert_eq!(env.stdout(&["ls"]), "");
}

#[test]
fn add_totp_uri_is_stored_and_masked() {
    let env = TestEnv::new();
    env.init_alice();
    env.run_stdin(
        &["add", "web/otp", "--totp-stdin", "--generate"],
        &format!("{TOTP_URI}\n"),
    )
    .success();
    assert_eq!(env.get("web/otp", "totp"), TOTP_URI);
    let shown = env.stdout(&["show", "web/otp"]);
    assert!(shown.contains("\ntotp: ********\n"), "{shown}");
    assert!(!shown.contains("JBSWY3DPEHPK3PXP"), "{shown}");
    let revealed = env.stdout(&["show", "web/otp", "--reveal"]);
    assert!(
        revealed.contains(&format!("\ntotp: {TOTP_URI}\n")),
        "{revealed}"
    );
}

#[test]
fn get_totp_of_an_entry_without_seed_exit_4() {
    let env = TestEnv::new();
    env.init_alice();
    env.add("web/github", "S3cret");
    let out = env.run(&["get", "web/github", "--field", "totp"]).code(4);
    assert_eq!(out.error(), "'web/github' has no TOTP seed");
}

#[test]
fn add_to_a_missing_vault_exit_4() {
    let env = TestEnv::new();
    env.identity_new("alice");
    let missing = env.path("missing.amanat");
    let out = env
        .run_stdin(
            &[
                "--vault",
                missing.to_str().unwrap(),
                "add",
                "web/github",
                "--password-stdin",
            ],
            "S3cret\n",
        )
        .code(4);
    assert_eq!(out.error(), format!("no vault at {}", missing.display()));
    assert!(out.hint().contains("amanat init"), "{}", out.hint());
    assert!(!missing.exists());
}

/// Before `init`, the default vault's directory does not exist yet: every writing
/// command should still say "no vault … create one with 'amanat init'".
#[test]
fn writes_before_init_exit_4_with_init_hint() {
    let env = TestEnv::new();
    env.identity_new("alice");
    for args in [
        &["add", "web/github", "--generate"][..],
        &["edit", "web/github", "--username", "x"],
        &["rm", "web/github"],
        &["mv", "web/github", "web/gh"],
    ] {
        let out = env.run(args).code(4);
        assert_eq!(
            out.error(),
            format!("no vault at {}", env.vault_path().display()),
            "{args:?}"
        );
        assert!(out.hint().contains("amanat init"), "{}", out.hint());
    }
}

// ---------------------------------------------------------------------------
// ls, find
// ---------------------------------------------------------------------------

#[test]
fn ls_lists_sorted_paths_one_a_line() {
    let env = TestEnv::new();
    env.init_alice();
    for p in ["zeta/z", "alpha/b", "mid", "alpha/a"] {
        env.add(p, "S3cret");
    }
    let out = env.run(&["ls"]).success();
    assert_eq!(out.stdout, "alpha/a\nalpha/b\nmid\nzeta/z\n");
}

#[test]
fn ls_on_an_empty_vault_prints_nothing() {
    let env = TestEnv::new();
    env.init_alice();
    assert_eq!(env.stdout(&["ls"]), "");
}

#[test]
fn ls_prefix_matches_whole_path_components() {
    let env = populated();
    env.add("web/a/deep", "S3cret");
    assert_eq!(env.stdout(&["ls", "web"]), "web/a/deep\nweb/github\n");
    assert_eq!(env.stdout(&["ls", "web/"]), "web/a/deep\nweb/github\n");
    assert_eq!(env.stdout(&["ls", "webmail"]), "webmail/x\n");
    assert_eq!(env.stdout(&["ls", "web/github"]), "web/github\n");
    assert_eq!(env.stdout(&["ls", "we"]), "");
}

#[test]
fn ls_tree() {
    let env = populated();
    env.add("web/a/deep", "S3cret");
    let out = env.run(&["ls", "--tree"]).success();
    assert_eq!(
        out.stdout,
        "db/\n  prod\nweb/\n  a/\n    deep\n  github\nwebmail/\n  x\n"
    );
}

#[test]
fn ls_json_shape() {
    let env = populated();
    let v = env.run(&["ls", "--json"]).success().json();
    let items = v.as_array().unwrap();
    let paths: Vec<&str> = items.iter().map(|i| i["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["db/prod", "web/github", "webmail/x"]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for item in items {
        let keys: BTreeSet<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(keys, BTreeSet::from(["path", "id", "modified"]));
        assert!(is_hex(item["id"].as_str().unwrap(), 32), "{item}");
        let modified = item["modified"].as_u64().unwrap();
        assert!(now.abs_diff(modified) < 600, "{item}");
    }
    let filtered = env.run(&["ls", "web", "--json"]).success().json();
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    assert_eq!(filtered[0]["path"], "web/github");
}

#[test]
fn find_matches_path_username_and_url_case_insensitively() {
    let env = populated();
    // Path.
    assert_eq!(
        env.stdout(&["find", "GITHUB"]),
        "web/github\talice\thttps://github.com\n"
    );
    // Username (both alice and Alice.M).
    assert_eq!(
        env.stdout(&["find", "ALICE"]),
        "web/github\talice\thttps://github.com\nwebmail/x\tAlice.M\thttps://mail.example\n"
    );
    // URL only.
    assert_eq!(
        env.stdout(&["find", "db.INTERNAL"]),
        "db/prod\t\tpostgres://db.internal\n"
    );
    // Notes and custom fields are not searched.
    let out = env.run(&["find", "payments"]).code(4);
    assert_eq!(out.error(), "nothing matches 'payments'");
    assert_eq!(out.hint(), "see 'amanat ls'");
    assert_eq!(out.stdout, "");
}

#[test]
fn find_json_shape() {
    let env = populated();
    let v = env.run(&["find", "github", "--json"]).success().json();
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["path"], "web/github");
    assert_eq!(items[0]["username"], "alice");
    assert_eq!(items[0]["url"], "https://github.com");
    assert!(is_hex(items[0]["id"].as_str().unwrap(), 32));
    assert!(items[0].get("password").is_none());
}

// ---------------------------------------------------------------------------
// show, get
// ---------------------------------------------------------------------------

#[test]
fn show_masks_the_password() {
    let env = populated();
    let out = env.run(&["show", "web/github"]).success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        &lines[..6],
        [
            "path: web/github",
            "username: alice",
            "password: ********",
            "url: https://github.com",
            "notes: work account",
            "team: payments",
        ]
    );
    assert!(lines.contains(&"last written by: alice"), "{}", out.stdout);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("created: ") && l.ends_with(" UTC")),
        "{}",
        out.stdout
    );
    out.assert_absent("gh-S3cret", "the password");
}

#[test]
fn show_reveal_prints_the_password() {
    let env = populated();
    let out = env.run(&["show", "web/github", "--reveal"]).success();
    assert!(
        out.stdout.lines().any(|l| l == "password: gh-S3cret"),
        "{}",
        out.stdout
    );
}

#[test]
fn show_json_masked_and_revealed() {
    let env = populated();
    let v = env.run(&["show", "web/github", "--json"]).success().json();
    assert_eq!(v["path"], "web/github");
    assert_eq!(v["username"], "alice");
    assert_eq!(v["password"], "********");
    assert_eq!(v["url"], "https://github.com");
    assert_eq!(v["notes"], "work account");
    assert_eq!(v["author"], "alice");
    assert_eq!(v["totp"], Value::Null);
    assert_eq!(
        v["fields"],
        json!([{"name": "team", "value": "payments", "secret": false}])
    );
    assert!(is_hex(v["id"].as_str().unwrap(), 32));
    assert!(is_hex(v["revision"].as_str().unwrap(), 64));
    assert!(!v.to_string().contains("gh-S3cret"));

    let v = env
        .run(&["show", "web/github", "--reveal", "--json"])
        .success()
        .json();
    assert_eq!(v["password"], "gh-S3cret");
}

#[test]
fn get_prints_the_value_and_a_newline_on_a_pipe() {
    let env = populated();
    let out = env.run(&["get", "web/github"]).success();
    assert_eq!(out.stdout, "gh-S3cret\n");
    let out = env
        .run(&["get", "web/github", "--field", "username"])
        .success();
    assert_eq!(out.stdout, "alice\n");
    let out = env.run(&["get", "web/github", "--field", "team"]).success();
    assert_eq!(out.stdout, "payments\n");
}

#[test]
fn get_unknown_field_exit_4() {
    let env = populated();
    let out = env.run(&["get", "web/github", "--field", "nope"]).code(4);
    assert_eq!(out.error(), "'web/github' has no field 'nope'");
    assert_eq!(out.hint(), "see 'amanat show web/github'");
    assert_eq!(out.stdout, "");
}

#[test]
fn get_missing_entry_exit_4_with_ls_hint() {
    let env = populated();
    let out = env.run(&["get", "nope"]).code(4);
    assert_eq!(out.error(), "no entry 'nope'");
    assert_eq!(out.hint(), "see 'amanat ls'");
    let out = env.run(&["get", "web/nope"]).code(4);
    assert_eq!(out.error(), "no entry 'web/nope'");
    assert_eq!(out.hint(), "see 'amanat ls web/'");
    let out = env.run(&["show", "web/nope"]).code(4);
    assert_eq!(out.error(), "no entry 'web/nope'");
}

// ---------------------------------------------------------------------------
// edit, mv, rm
// ---------------------------------------------------------------------------

#[test]
fn edit_changes_only_the_named_fields() {
    let env = populated();
    let out = env
        .run(&["edit", "web/github", "--username", "alice2"])
        .success();
    assert_eq!(out.stdout, "updated web/github\n");
    assert_eq!(env.get("web/github", "username"), "alice2");
    assert_eq!(env.get("web/github", "password"), "gh-S3cret");
    assert_eq!(env.get("web/github", "url"), "https://github.com");
    assert_eq!(env.get("web/github", "notes"), "work account");
    assert_eq!(env.get("web/github", "team"), "payments");
}

#[test]
fn edit_generate_changes_the_password_only() {
    let env = populated();
    env.run(&["edit", "web/github", "--generate", "--length", "40"])
        .success();
    let pw = env.get("web/github", "password");
    assert_ne!(pw, "gh-S3cret");
    assert_eq!(pw.chars().count(), 40);
    assert_eq!(env.get("web/github", "username"), "alice");
}

#[test]
fn edit_password_stdin_replaces_the_password() {
    let env = populated();
    env.run_stdin(&["edit", "web/github", "--password-stdin"], "N3w-pass\n")
        .success();
    assert_eq!(env.get("web/github", "password"), "N3w-pass");
}

#[test]
fn edit_with_nothing_to_change_exit_2() {
    let env = populated();
    let names = segment_names(&env.vault_path());
    let before = vault_bytes(&env.vault_path());
    let out = env.run(&["edit", "web/github"]).code(2);
    assert_eq!(out.error(), "nothing to change");
    assert!(out.hint().contains("amanat edit --help"), "{}", out.hint());
    assert_eq!(segment_names(&env.vault_path()), names);
    assert_eq!(vault_bytes(&env.vault_path()), before);
}

#[test]
fn edit_remove_field() {
    let env = populated();
    env.run(&["edit", "web/github", "--field", "env=prod"])
        .success();
    env.run(&["edit", "web/github", "--remove-field", "team"])
        .success();
    let out = env.run(&["get", "web/github", "--field", "team"]).code(4);
    assert_eq!(out.error(), "'web/github' has no field 'team'");
    assert_eq!(env.get("web/github", "env"), "prod");
    // Removing a field that is not there is "not found".
    let out = env
        .run(&["edit", "web/github", "--remove-field", "team"])
        .code(4);
    assert_eq!(out.error(), "'web/github' has no field 'team'");
}

#[test]
fn edit_rejects_malformed_field() {
    let env = populated();
    let out = env
        .run(&["edit", "web/github", "--field", "novalue"])
        .code(2);
    assert_eq!(out.error(), "--field 'novalue' is not KEY=VALUE");
}

#[test]
fn edit_missing_entry_exit_4() {
    let env = populated();
    let out = env.run(&["edit", "web/nope", "--username", "x"]).code(4);
    assert_eq!(out.error(), "no entry 'web/nope'");
}

#[test]
fn mv_renames() {
    let env = populated();
    let out = env.run(&["mv", "web/github", "web/gh"]).success();
    assert_eq!(out.stdout, "renamed web/github -> web/gh\n");
    assert_eq!(env.get("web/gh", "password"), "gh-S3cret");
    assert_eq!(env.get("web/gh", "username"), "alice");
    env.run(&["get", "web/github"]).code(4);
    assert_eq!(env.stdout(&["ls", "web"]), "web/gh\n");
}

#[test]
fn mv_onto_an_existing_path_exit_1() {
    let env = populated();
    let out = env.run(&["mv", "web/github", "webmail/x"]).code(1);
    assert_eq!(out.error(), "an entry 'webmail/x' already exists");
    assert_eq!(env.get("web/github", "password"), "gh-S3cret");
    assert_eq!(env.get("webmail/x", "password"), "mail-S3cret");
}

#[test]
fn mv_invalid_or_missing() {
    let env = populated();
    let out = env.run(&["mv", "web/github", "../x"]).code(2);
    assert_eq!(out.error(), "invalid entry path '../x'");
    let out = env.run(&["mv", "web/nope", "web/x"]).code(4);
    assert_eq!(out.error(), "no entry 'web/nope'");
}

#[test]
fn rm_removes_and_the_path_can_be_reused() {
    let env = populated();
    let out = env.run(&["rm", "web/github"]).success();
    assert_eq!(out.stdout, "removed web/github\n");
    let out = env.run(&["get", "web/github"]).code(4);
    assert_eq!(out.error(), "no entry 'web/github'");
    assert_eq!(env.stdout(&["ls"]), "db/prod\nwebmail/x\n");
    let out = env.run(&["rm", "web/github"]).code(4);
    assert_eq!(out.error(), "no entry 'web/github'");
    env.add("web/github", "again");
    assert_eq!(env.get("web/github", "password"), "again");
}

// ---------------------------------------------------------------------------
// gen
// ---------------------------------------------------------------------------

#[test]
fn gen_length() {
    let env = TestEnv::new();
    let out = env.run(&["gen", "--length", "40"]).success();
    let pw = out.stdout.strip_suffix('\n').unwrap();
    assert_eq!(pw.chars().count(), 40, "{pw}");
    assert!(pw.bytes().all(|b| b.is_ascii_graphic()), "{pw}");
    let default = env.stdout(&["gen"]);
    assert_eq!(default.trim_end().chars().count(), 24);
    assert_ne!(default, env.stdout(&["gen"]), "two calls gave the same");
}

#[test]
fn gen_words_from_the_eff_list() {
    let env = TestEnv::new();
    let list = wordlist();
    for _ in 0..3 {
        let out = env.run(&["gen", "--words", "6"]).success();
        let phrase = out.stdout.strip_suffix('\n').unwrap();
        assert!(
            word_counts(phrase, &list).contains(&6),
            "not 6 EFF words: {phrase}"
        );
    }
}

#[test]
fn gen_out_of_range_exit_2() {
    let env = TestEnv::new();
    let out = env.run(&["gen", "--length", "4"]).code(2);
    assert_eq!(out.error(), "password length 4 is outside 8..=256");
    assert_eq!(out.hint(), "see 'amanat gen --help'");
    assert_eq!(out.stdout, "");
    let out = env.run(&["gen", "--words", "2"]).code(2);
    assert_eq!(out.error(), "word count 2 is outside 3..=32");
    env.run(&["gen", "--length", "257"]).code(2);
    env.run(&["gen", "--length", "12", "--words", "4"]).code(2);
}

#[test]
fn gen_no_symbols() {
    let env = TestEnv::new();
    let out = env
        .run(&["gen", "--no-symbols", "--length", "200"])
        .success();
    let pw = out.stdout.strip_suffix('\n').unwrap();
    assert_eq!(pw.len(), 200);
    assert!(pw.bytes().all(|b| b.is_ascii_alphanumeric()), "{pw}");
    // Without the flag, a password of that length has symbols.
    let with = env.stdout(&["gen", "--length", "200"]);
    assert!(
        with.trim_end().bytes().any(|b| !b.is_ascii_alphanumeric()),
        "{with}"
    );
}

// ---------------------------------------------------------------------------
// verify, damaged files, missing files
// ---------------------------------------------------------------------------

#[test]
fn verify_a_good_vault() {
    let env = populated();
    let id = vault_id(&env);
    let out = env.run(&["verify"]).success();
    let expected_prefix = format!("ok: vault {}: ", &id[..8]);
    assert!(out.stdout.starts_with(&expected_prefix), "{}", out.stdout);
    assert!(
        out.stdout
            .ends_with(" records, 3 entries; every signature and authority rule verified\n"),
        "{}",
        out.stdout
    );
}

/// A vault directory whose only segment holds the genesis record and does not decode:
/// the segment is damage (skipped, for `detail`), and without its genesis record the
/// vault cannot be opened by any command.
#[track_caller]
fn assert_damaged(env: &TestEnv, vault: &std::path::Path, detail: &str) {
    let set = amanat::store::read_segments(vault).unwrap();
    assert!(set.segments.is_empty());
    assert_eq!(set.damaged.len(), 1, "{:?}", set.damaged);
    assert_eq!(set.damaged[0].1, detail);
    for cmd in [&["verify"][..], &["ls"][..], &["get", "web/github"][..]] {
        let mut args = vec!["--vault", vault.to_str().unwrap()];
        args.extend_from_slice(cmd);
        let out = env.run(&args).code(6);
        // The command names the damaged segment and why.
        assert_eq!(
            out.error(),
            format!(
                "{} holds no segment with the vault's first (genesis) record; segment {} is damaged ({detail})",
                vault.display(),
                set.damaged[0].0
            ),
            "{cmd:?}"
        );
        assert!(
            out.hint().contains("restore the vault directory"),
            "{}",
            out.hint()
        );
        assert_eq!(out.stdout, "", "{cmd:?}");
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}

#[test]
fn garbage_vault_exit_6() {
    let env = populated();
    let garbage: Vec<u8> = (0..200u32).map(|i| (i * 7919 % 251) as u8).collect();
    let p = env.path("garbage");
    set_vault_bytes(&p, &garbage);
    assert_damaged(&env, &p, "not an amanat vault file (bad magic)");
}

#[test]
fn empty_vault_file_exit_6() {
    let env = populated();
    let p = env.path("empty");
    set_vault_bytes(&p, b"");
    assert_damaged(&env, &p, "not an amanat vault file (bad magic)");
}

#[test]
fn truncated_vault_exit_6() {
    let env = populated();
    let bytes = vault_bytes(&env.vault_path());
    for cut in [bytes.len() - 1, bytes.len() / 2, 40] {
        let p = env.path("truncated");
        set_vault_bytes(&p, &bytes[..cut]);
        assert_damaged(&env, &p, "truncated file");
    }
}

#[test]
fn trailing_bytes_after_the_vault_exit_6() {
    let env = populated();
    let mut bytes = vault_bytes(&env.vault_path());
    bytes.extend_from_slice(b"\0\0\0\0");
    let p = env.path("trailing");
    set_vault_bytes(&p, &bytes);
    assert_damaged(&env, &p, "trailing bytes after the last record");
}

/// A symbolic link or a directory with a segment's name is damage: skipped with a
/// warning by every command (the genuine segments still read), listed by `verify`,
/// which exits 6.
#[test]
fn a_symlink_or_directory_named_as_a_segment_is_skipped() {
    let env = populated();
    let listed = env.stdout(&["ls"]);
    let real = segment_files(&env.vault_path());
    let dir_name = format!("{}.seg", "a".repeat(64));
    let link_name = format!("{}.seg", "b".repeat(64));
    fs::create_dir(env.vault_path().join(&dir_name)).unwrap();
    std::os::unix::fs::symlink(&real[0], env.vault_path().join(&link_name)).unwrap();
    let out = env.run(&["ls"]).success();
    assert_eq!(out.stdout, listed);
    for (name, why) in [
        (&dir_name, "not a regular file"),
        (&link_name, "a symbolic link, not a segment file"),
    ] {
        let warning = format!("warning: skipping segment {name} ({why}); run 'amanat verify'");
        assert!(out.stderr.lines().any(|l| l == warning), "{}", out.stderr);
    }
    let out = env.run(&["verify"]).code(6);
    let listed: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("segment\t"))
        .collect();
    assert_eq!(
        listed,
        [
            format!("segment\t{dir_name}\tnot a regular file"),
            format!("segment\t{link_name}\ta symbolic link, not a segment file"),
        ]
    );
    assert_eq!(
        out.error(),
        "vault integrity check failed: 2 damaged segment(s)"
    );
}

/// A vault path that is a regular file (a vault of an earlier version, before vaults
/// were directories) is refused, for reading and writing, with a hint to merge it
/// into a vault directory; the file is left as it was.
#[test]
fn a_single_file_vault_is_refused_with_a_merge_hint() {
    let env = populated();
    let file = env.path("old.amanat");
    let bytes = vault_bytes(&env.vault_path());
    fs::write(&file, &bytes).unwrap();
    let out = env.run(&["--vault", file.to_str().unwrap(), "ls"]).code(1);
    assert_eq!(
        out.error(),
        format!(
            "{} is a single-file vault of an earlier version, not a vault directory",
            file.display()
        )
    );
    assert!(
        out.hint()
            .contains(&format!("amanat --vault {} merge FILE", file.display())),
        "{}",
        out.hint()
    );
    assert_eq!(out.stdout, "");
    env.run_stdin(
        &[
            "--vault",
            file.to_str().unwrap(),
            "add",
            "web/x",
            "--password-stdin",
        ],
        "S3cret\n",
    )
    .code(1);
    assert_eq!(fs::read(&file).unwrap(), bytes);
}

/// A segment whose bytes were changed in place (its name no longer the SHA-256 of its
/// bytes) is damage: every command skips it with a warning, and `verify` lists it and
/// exits 6. Its records are gone, so on a machine that pinned them it is a rollback.
#[test]
fn a_segment_changed_in_place_is_skipped_and_verify_exits_6() {
    let env = populated();
    let before = segment_names(&env.vault_path());
    env.add("web/other", "0ther-S3cret");
    let added: Vec<String> = segment_names(&env.vault_path())
        .difference(&before)
        .cloned()
        .collect();
    assert_eq!(added.len(), 1, "{added:?}");
    let name = &added[0];
    let path = env.vault_path().join(name);
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    fs::write(&path, &bytes).unwrap();
    let warning = format!(
        "warning: skipping segment {name} (its name is not the SHA-256 of its bytes); run 'amanat verify'"
    );

    // This machine pinned the record in it: refused, naming the damaged segment.
    let out = env.run(&["ls"]).code(6);
    assert!(
        out.error().contains(&format!("segment {name} is damaged")),
        "{}",
        out.error()
    );
    assert_eq!(out.stdout, "");

    // A machine that never saw that record skips the segment and reads the rest.
    fs::remove_dir_all(env.state_dir()).unwrap();
    let out = env.run(&["ls"]).success();
    assert!(out.stderr.lines().any(|l| l == warning), "{}", out.stderr);
    assert!(out.stdout.contains("web/github\n"), "{}", out.stdout);
    assert!(!out.stdout.contains("web/other"), "{}", out.stdout);
    let out = env.run(&["verify"]).code(6);
    assert!(
        out.stdout
            .lines()
            .any(|l| l == format!("segment\t{name}\tits name is not the SHA-256 of its bytes")),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.error(),
        "vault integrity check failed: 1 damaged segment(s)"
    );
    assert!(!out.stdout.contains("ok: "), "{}", out.stdout);
}

/// Every sampled single-bit flip anywhere in the file is caught by `verify`.
#[test]
fn verify_catches_a_flipped_bit_anywhere() {
    let env = populated();
    env.run(&["edit", "web/github", "--username", "alice2"])
        .success();
    let bytes = vault_bytes(&env.vault_path());
    let step = (bytes.len() / 48).max(1);
    let mut positions: Vec<usize> = (0..bytes.len()).step_by(step).collect();
    positions.push(bytes.len() - 1);
    for (n, &i) in positions.iter().enumerate() {
        for bit in [0x01u8, 0x80] {
            let mut flipped = bytes.clone();
            flipped[i] ^= bit;
            let p = env.path(&format!("flip-{n}-{bit}"));
            set_vault_bytes(&p, &flipped);
            let out = env.run(&["--vault", p.to_str().unwrap(), "verify"]);
            assert_eq!(
                out.code,
                6,
                "flip of bit {bit:#04x} at byte {i}/{} not caught:\n{}{}",
                bytes.len(),
                out.stdout,
                out.stderr
            );
            assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        }
    }
}

/// Opening an entry checks the signature of its current revision (the last record
/// written here; its signature ends the file).
#[test]
fn tampered_current_revision_signature_exit_6_on_get_and_show() {
    let env = populated();
    env.run(&["edit", "web/github", "--username", "alice2"])
        .success();
    let mut bytes = vault_bytes(&env.vault_path());
    *bytes.last_mut().unwrap() ^= 0x01;
    set_vault_bytes(&env.vault_path(), &bytes);
    for cmd in [&["get", "web/github"][..], &["show", "web/github"][..]] {
        let out = env.run(cmd).code(6);
        assert_eq!(
            out.error(),
            "vault integrity check failed: entry revision signature"
        );
        out.assert_absent("gh-S3cret", "the password");
    }
    let out = env.run(&["verify"]).code(6);
    assert_eq!(
        out.error(),
        "vault integrity check failed: record signature"
    );
}

#[test]
fn missing_vault_exit_4() {
    let env = TestEnv::new();
    env.identity_new("alice");
    for cmd in [&["verify"][..], &["ls"][..], &["info"][..]] {
        let out = env.run(cmd).code(4);
        assert_eq!(
            out.error(),
            format!("no vault at {}", env.vault_path().display())
        );
        assert_eq!(
            out.hint(),
            "create one with 'amanat init', or point --vault / AMANAT_VAULT at your team's vault directory (in your git clone or shared folder)"
        );
    }
}

#[test]
fn missing_identity_exit_4() {
    let env = populated();
    let elsewhere = env.path("nobody.identity");
    for cmd in [
        &["ls"][..],
        &["identity", "show"][..],
        &["get", "web/github"][..],
    ] {
        let mut args = vec!["--identity", elsewhere.to_str().unwrap()];
        args.extend_from_slice(cmd);
        let out = env.run(&args).code(4);
        assert_eq!(
            out.error(),
            format!("no identity at {}", elsewhere.display())
        );
        assert!(
            out.hint().contains("amanat identity new --name NAME"),
            "{}",
            out.hint()
        );
    }
}

#[test]
fn damaged_identity_file_exit_6() {
    let env = populated();
    let mut bytes = fs::read(env.identity_path()).unwrap();
    bytes.truncate(bytes.len() / 2);
    let p = env.write_file("half.identity", bytes);
    let out = env
        .run(&["--identity", p.to_str().unwrap(), "identity", "show"])
        .code(6);
    assert!(
        out.error().starts_with("malformed identity file"),
        "{}",
        out.error()
    );
}

// ---------------------------------------------------------------------------
// rollback and replacement (local pins)
// ---------------------------------------------------------------------------

#[test]
fn rollback_is_refused_until_the_pins_are_forgotten() {
    let env = TestEnv::new();
    let id = env.init_alice();
    env.add("web/old", "S3cret");
    let old = vault_bytes(&env.vault_path());
    env.add("web/new", "S3cret");
    set_vault_bytes(&env.vault_path(), &old);
    let old_names = segment_names(&env.vault_path());

    let out = env.run(&["ls"]).code(6);
    assert!(out.error().contains("rolled back"), "{}", out.error());
    assert!(out.error().contains(&id[..8]), "{}", out.error());
    assert_eq!(
        out.hint(),
        "do not use this copy: bring in the records it lacks with 'amanat sync' (git) or 'amanat merge PATH' (a copy that has them); docs/sync.md"
    );
    assert_eq!(out.stdout, "");
    // Writers are refused too.
    env.run_stdin(&["add", "web/x", "--password-stdin"], "S3cret\n")
        .code(6);
    assert_eq!(segment_names(&env.vault_path()), old_names);
    assert_eq!(vault_bytes(&env.vault_path()), old);

    // Without local state the old copy is trusted on first use, with a warning.
    fs::remove_dir_all(env.state_dir()).unwrap();
    let out = env.run(&["ls"]).success();
    assert_eq!(out.stdout, "web/old\n");
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with("warning: ") && l.contains("first use") && l.contains(&id)),
        "{}",
        out.stderr
    );
    // Only the first use warns.
    let out = env.run(&["ls"]).success();
    assert!(!out.stderr.contains("first use"), "{}", out.stderr);
}

#[test]
fn a_different_vault_at_the_same_path_is_refused() {
    let env = TestEnv::new();
    env.init_alice();
    let other = env.path("other");
    env.run(&["--vault", other.to_str().unwrap(), "init", "--name", "evil"])
        .success();
    copy_vault(&other, &env.vault_path());
    let out = env.run(&["ls"]).code(6);
    assert!(
        out.error()
            .starts_with(&format!("{} now holds vault ", env.vault_path().display())),
        "{}",
        out.error()
    );
}

// ---------------------------------------------------------------------------
// secrets never leak
// ---------------------------------------------------------------------------

#[test]
fn secrets_never_appear_in_output() {
    let env = TestEnv::new();
    env.init_alice();
    let marker = "Pw-Marker-7f3a9c";
    let seed = "MFRGGZDFMZTWQ2LK";
    env.add_with(
        "web/github",
        marker,
        &["--username", "alice", "--url", "https://github.com"],
    );
    env.run_stdin(
        &["edit", "web/github", "--totp-stdin"],
        &format!("otpauth://totp/x?secret={seed}\n"),
    )
    .success();
    let runs: Vec<(&[&str], Outcome)> = [
        &["ls"][..],
        &["ls", "--json"],
        &["ls", "--tree"],
        &["show", "web/github"],
        &["show", "web/github", "--json"],
        &["find", "github"],
        &["find", "github", "--json"],
        &["info"],
        &["info", "--json"],
        &["verify"],
        &["get", "web/github", "--field", "username"],
        &["edit", "web/github", "--url", "https://github.com/login"],
        &["mv", "web/github", "web/gh"],
        &["identity", "show"],
        &["identity", "show", "--json"],
    ]
    .into_iter()
    .map(|args| (args, env.run(args).success()))
    .collect();
    for (args, out) in &runs {
        for secret in [marker, seed, PASSPHRASE] {
            assert!(
                !out.all_output().contains(secret),
                "{secret} in the output of {args:?}:\n{}",
                out.all_output()
            );
        }
    }
}

#[test]
fn error_messages_never_contain_secrets() {
    let env = TestEnv::new();
    env.init_alice();
    let marker = "Pw-Marker-e41d07";
    env.add("web/github", marker);
    let outs = [
        // Duplicate add: the refused password came on stdin.
        env.run_stdin(
            &["add", "web/github", "--password-stdin"],
            &format!("{marker}\n"),
        )
        .code(1),
        // An invalid TOTP URI whose "secret" is the marker.
        env.run_stdin(
            &["add", "web/otp", "--generate", "--totp-stdin"],
            &format!("otpauth://totp/x?secret={marker}\n"),
        )
        .code(2),
        env.run(&["get", "web/github", "--field", "nope"]).code(4),
        env.run(&["edit", "web/github"]).code(2),
        env.run(&["mv", "web/github", "web/github/.."]).code(2),
    ];
    for out in &outs {
        out.assert_absent(marker, "the password");
        out.assert_absent(PASSPHRASE, "the passphrase");
    }
    // A wrong passphrase is not echoed.
    env.set_passphrase(&format!("{marker}\n"));
    env.run(&["get", "web/github"])
        .code(3)
        .assert_absent(marker, "the passphrase");
}

// ---------------------------------------------------------------------------
// terminal escapes in teammate-written text
// ---------------------------------------------------------------------------

#[test]
fn show_strips_osc52_clipboard_payload_from_username() {
    let env = TestEnv::new();
    env.init_alice();
    env.add_with(
        "web/evil",
        "S3cret",
        &[
            "--username",
            &format!("mallory{OSC52}"),
            "--note",
            &format!("note{OSC52}"),
            "--field",
            &format!("k=v{OSC52}"),
        ],
    );
    for args in [
        &["show", "web/evil"][..],
        &["show", "web/evil", "--reveal"],
        &["show", "web/evil", "--json"],
        &["find", "mallory"],
        &["find", "mallory", "--json"],
    ] {
        let out = env.run(args).success();
        assert!(
            !out.stdout_bytes.contains(&0x1b) && !out.stderr_bytes.contains(&0x1b),
            "ESC byte in the output of {args:?}: {:?}",
            out.stdout
        );
        assert!(
            !out.stdout_bytes.contains(&0x07),
            "BEL byte in the output of {args:?}"
        );
    }
    // The payload is shown defused, not silently dropped.
    let shown = env.stdout(&["show", "web/evil"]);
    assert!(
        shown.contains("username: mallory\\u{1b}]52;c;aGVsbG8=\\u{7}\n"),
        "{shown}"
    );
    // On a pipe, `get` passes the stored bytes through unchanged (for scripts).
    assert_eq!(env.get("web/evil", "username"), format!("mallory{OSC52}"));
}

#[test]
fn error_line_strips_osc52_clipboard_payload_from_path() {
    let env = TestEnv::new();
    env.init_alice();
    let evil = format!("web/{OSC52}");
    let out = env
        .run_stdin(&["add", &evil, "--password-stdin"], "S3cret\n")
        .code(2);
    assert!(
        !out.stderr_bytes.contains(&0x1b),
        "ESC byte on stderr: {:?}",
        out.stderr
    );
    let out = env.run(&["get", &evil]).code(4);
    assert!(
        !out.stderr_bytes.contains(&0x1b),
        "ESC byte on stderr: {:?}",
        out.stderr
    );
}

// ---------------------------------------------------------------------------
// closed stdout (`amanat … | head -1`)
// ---------------------------------------------------------------------------

/// Run with stdout a pipe whose reading end is already closed, so the first write
/// fails with EPIPE (deterministically, unlike racing `head`).
fn run_with_closed_stdout(env: &TestEnv, args: &[&str]) -> Outcome {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = env.detached_command(args);
    cmd.stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped());
    Outcome::from(cmd.output().unwrap())
}

#[test]
fn commands_exit_0_when_the_reader_goes_away() {
    let env = populated();
    for args in [
        &["ls"][..],
        &["ls", "--json"],
        &["show", "web/github"],
        &["get", "web/github"],
        &["find", "web"],
        &["info"],
        &["verify"],
        &["gen"],
        &["identity", "show"],
        &["--help"],
    ] {
        let out = run_with_closed_stdout(&env, args);
        assert!(!out.stderr.contains("panicked"), "{args:?}: {}", out.stderr);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
    }
}

#[test]
fn completions_to_a_closed_pipe_do_not_panic() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = run_with_closed_stdout(&env, &["completions", shell]);
        assert!(!out.stderr.contains("panicked"), "{shell}: {}", out.stderr);
        assert_eq!(out.code, 0, "{shell}");
    }
}

#[test]
fn demo_to_a_closed_pipe_does_not_panic() {
    let env = TestEnv::new();
    let out = run_with_closed_stdout(&env, &["demo"]);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

// ---------------------------------------------------------------------------
// help, completions, demo
// ---------------------------------------------------------------------------

/// Subcommand names listed under "Commands:" in a help text.
fn listed_subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_leaf_command_help_has_an_example() {
    let env = TestEnv::new();
    let top = env.stdout(&["--help"]);
    assert!(top.contains("Example"), "{top}");
    let mut queue: Vec<Vec<String>> = listed_subcommands(&top)
        .into_iter()
        .map(|n| vec![n])
        .collect();
    assert!(queue.len() >= 15, "too few commands found: {queue:?}");
    let mut leaves = 0;
    while let Some(path) = queue.pop() {
        let mut args = path.clone();
        args.push("--help".into());
        let help = env.stdout(&args);
        let subs = listed_subcommands(&help);
        if subs.is_empty() {
            leaves += 1;
            assert!(
                help.contains("Example"),
                "`{}` has no example",
                path.join(" ")
            );
        } else {
            queue.extend(subs.into_iter().map(|s| {
                let mut p = path.clone();
                p.push(s);
                p
            }));
        }
    }
    assert!(leaves >= 17, "{leaves}");
}

#[test]
fn command_group_help_has_an_example() {
    let env = TestEnv::new();
    let help = env.stdout(&["identity", "--help"]);
    assert!(help.contains("Example"), "{help}");
}

#[test]
fn top_level_help_version_and_unknown_subcommand() {
    let env = TestEnv::new();
    let out = env.run(&["--help"]).success();
    assert!(out.stdout.contains("Usage: amanat"), "{}", out.stdout);
    let out = env.run(&["--version"]).success();
    assert!(out.stdout.starts_with("amanat "), "{}", out.stdout);
    let out = env.run(&["frobnicate"]).code(2);
    assert!(
        out.stderr
            .starts_with("error: unrecognized subcommand 'frobnicate'"),
        "{}",
        out.stderr
    );
    // No subcommand at all is a usage error too.
    env.run::<&str>(&[]).code(2);
}

#[test]
fn completions_for_each_shell() {
    let env = TestEnv::new();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef amanat"),
        ("fish", "complete -c amanat"),
    ] {
        let out = env.run(&["completions", shell]).success();
        assert!(out.stdout.contains(marker), "{shell}: no {marker:?}");
        assert!(out.stdout.contains("identity"), "{shell}");
    }
    let out = env.run(&["completions", "tcsh"]).code(2);
    assert!(
        out.stderr.contains("invalid value 'tcsh'"),
        "{}",
        out.stderr
    );
}

#[test]
fn demo_runs_to_completion_and_cleans_up() {
    let env = TestEnv::new();
    let out = env.run(&["demo"]).success();
    assert!(out.stdout.contains("demo finished"), "{}", out.stdout);
    // The demo's own tamper check ran and exited 6 as expected.
    assert!(
        out.stdout.contains("(exit 6, as expected)"),
        "{}",
        out.stdout
    );
    // It never prints a secret it fetched with `get`.
    assert!(
        out.stdout.contains("piped — never shown on a terminal"),
        "{}",
        out.stdout
    );
    // The yearly review: a signed evidence pack that verifies.
    assert!(
        out.stdout
            .contains("  evidence verified: 7 files, signed by alice"),
        "{}",
        out.stdout
    );
    // carol's agent answered a read and signed a write with no passphrase source,
    // then locked: the same read afterwards exits 3.
    assert!(
        out.stdout.contains(
            "carol$ (no passphrase source) amanat add carol/vpn --generate --username carol\n  added carol/vpn\n"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("(exit 3, as expected)"),
        "{}",
        out.stdout
    );
    // Its temporary directory (under our TMPDIR) is gone, and it did not touch
    // our HOME's vault or identity.
    assert_eq!(fs::read_dir(env.path("tmp")).unwrap().count(), 0);
    assert!(!env.vault_path().exists());
    assert!(!env.identity_path().exists());
}

/// A mistyped path gets a did-you-mean; an empty `ls` says why (issue 11).
#[test]
fn a_mistyped_path_suggests_the_closest_and_an_empty_ls_says_why() {
    let env = populated();
    let out = env.run(&["get", "web/gihtub"]).code(4);
    assert_eq!(out.error(), "no entry 'web/gihtub'");
    assert_eq!(
        out.hint(),
        "did you mean 'web/github'? (see 'amanat ls web/')"
    );
    // The same name under another prefix.
    let out = env.run(&["show", "old/github"]).code(4);
    assert!(
        out.hint().starts_with("did you mean 'web/github'?"),
        "{}",
        out.hint()
    );
    let out = env.run(&["ls", "nothing/"]).success();
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .contains("no entry you can read is under 'nothing/'"),
        "{}",
        out.stderr
    );
    let empty = TestEnv::new();
    empty.init_alice();
    let out = empty.run(&["ls"]).success();
    assert!(
        out.stderr.contains("note: no entry you can read: none yet"),
        "{}",
        out.stderr
    );
}
