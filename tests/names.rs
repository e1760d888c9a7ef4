//! Look-alike names (issue 11): entry paths, member, group and team names are taken in
//! NFC, refused when they hold bidi controls or invisible characters, and shown escaped
//! wherever a record written by another client carries them (docs/format.md, "Names
//! and paths"; docs/threat-model.md).

#![allow(clippy::unwrap_used)]

mod common;

use amanat::crypto::SecretString;
use amanat::forge;
use amanat::identity::Identity;
use amanat::store::VaultStore;
use amanat::vault::EntryDraft;
use common::{PASSPHRASE, TestEnv};

/// `invoice\u{202e}fdp.exe`: shown raw, it reads `invoice` + `exe.pdf` reversed.
const RLO_PATH: &str = "docs/invoice\u{202e}fdp.exe";
const RLO_SHOWN: &str = "docs/invoice\\u{202e}fdp.exe";
const CAFE_NFC: &str = "web/caf\u{e9}";
const CAFE_NFD: &str = "web/cafe\u{301}";

/// Plant an entry at `path` as alice through the library, without the path check: a
/// record an older or another client wrote.
fn plant(env: &TestEnv, path: &str) {
    let bytes = std::fs::read(env.identity_path()).unwrap();
    let alice = Identity::unlock(&bytes, &SecretString::new(PASSPHRASE.to_string())).unwrap();
    let store = VaultStore::new(env.vault_path(), env.state_dir());
    store
        .update(|vault| -> Result<(), Box<dyn std::error::Error>> {
            let body = forge::entry_at_any_path(
                &vault.session(&alice)?,
                &EntryDraft::default().with_path(path),
            )?;
            vault.append(&alice, vec![body])?;
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_path_with_a_bidi_control_is_refused() {
    let env = TestEnv::new();
    env.init_alice();
    for path in [
        RLO_PATH,
        "docs/a\u{2066}b",
        "docs/zero\u{200b}width",
        "docs/\u{feff}bom",
        "docs/\u{200f}rlm",
    ] {
        let out = env
            .run_stdin(&["add", path, "--password-stdin"], "x\n")
            .code(2);
        assert!(out.error().starts_with("invalid entry path"), "{out:?}");
        // The message quotes the path escaped, and the hint says why.
        assert!(!out.stderr.contains(path), "raw path echoed: {out:?}");
        assert!(out.hint().contains("bidi"), "{out:?}");
    }
    // mv to such a path too.
    env.add("docs/invoice", "x");
    let out = env.run(&["mv", "docs/invoice", RLO_PATH]).code(2);
    assert!(out.error().starts_with("invalid entry path"), "{out:?}");
    assert_eq!(env.stdout(&["ls"]).trim_end(), "docs/invoice");
}

#[test]
fn a_planted_bidi_path_is_shown_escaped_everywhere() {
    let env = TestEnv::new();
    env.init_alice();
    plant(&env, RLO_PATH);
    let ls = env.run(&["ls"]).success();
    assert_eq!(ls.stdout.trim_end(), RLO_SHOWN);
    let tree = env.run(&["ls", "--tree"]).success();
    assert!(!tree.stdout.contains('\u{202e}'), "{tree:?}");
    assert!(tree.stdout.contains("invoice\\u{202e}fdp.exe"), "{tree:?}");
    let show = env.run(&["show", RLO_PATH]).success();
    assert!(
        show.stdout.contains(&format!("path: {RLO_SHOWN}")),
        "{show:?}"
    );
    let find = env.run(&["find", "invoice"]).success();
    assert!(find.stdout.starts_with(RLO_SHOWN), "{find:?}");
    let log = env.run(&["log"]).success();
    assert!(log.stdout.contains(RLO_SHOWN), "{log:?}");
    let history = env.run(&["history", RLO_PATH]).success();
    for out in [&ls, &tree, &show, &find, &log, &history] {
        assert!(
            !out.all_output().contains('\u{202e}'),
            "raw U+202E: {out:?}"
        );
    }
    // JSON keeps the value (a parser reads it back) but escapes the character.
    let json = env.run(&["ls", "--json"]).success();
    assert!(!json.stdout.contains('\u{202e}'), "{json:?}");
    assert!(json.stdout.contains("\\u202e"), "{json:?}");
    assert_eq!(json.json()[0]["path"], RLO_PATH);
    // The entry can still be renamed to a clean path.
    env.run(&["mv", RLO_PATH, "docs/invoice.exe"]).success();
    assert_eq!(env.stdout(&["ls"]).trim_end(), "docs/invoice.exe");
}

#[test]
fn nfc_and_nfd_spellings_are_one_entry() {
    let env = TestEnv::new();
    env.init_alice();
    let out = env
        .run_stdin(&["add", CAFE_NFD, "--password-stdin"], "espresso\n")
        .success();
    assert_eq!(out.stdout, format!("added {CAFE_NFC}\n"));
    // Stored in NFC, whatever was typed.
    assert_eq!(env.stdout(&["ls"]).trim_end(), CAFE_NFC);
    assert_eq!(env.get(CAFE_NFC, "password"), "espresso");
    assert_eq!(env.get(CAFE_NFD, "password"), "espresso");
    for spelling in [CAFE_NFC, CAFE_NFD] {
        let out = env
            .run_stdin(&["add", spelling, "--password-stdin"], "again\n")
            .code(1);
        assert!(out.error().contains("exists"), "{out:?}");
    }
    env.run(&["find", "cafe\u{301}"]).success();
    assert_eq!(env.stdout(&["ls", "web/"]).trim_end(), CAFE_NFC);
}

#[test]
fn a_planted_nfd_path_is_found_by_either_spelling_and_collides() {
    let env = TestEnv::new();
    env.init_alice();
    plant(&env, CAFE_NFD);
    assert_eq!(env.get(CAFE_NFC, "password"), "");
    let out = env
        .run_stdin(&["add", CAFE_NFC, "--password-stdin"], "x\n")
        .code(1);
    assert!(out.error().contains("exists"), "{out:?}");
}

#[test]
fn init_identity_and_member_add_refuse_the_same_names() {
    let env = TestEnv::new();
    env.init_alice();
    let (bob_key, _) = TestEnv::new().identity_new("bob");
    for bad in [
        "bob smith",
        "bob@corp",
        "ops/bob",
        "bo\u{202e}b",
        "bob\u{200d}",
        "",
        &"b".repeat(65),
    ] {
        let other = TestEnv::new();
        let out = other
            .run(&["identity", "new", "--name", bad, "--insecure-kdf"])
            .code(2);
        assert_eq!(out.error(), "invalid identity name", "{bad:?}");
        let out = env.run(&["member", "add", bad, &bob_key]).code(2);
        assert!(out.error().starts_with("invalid name"), "{bad:?}: {out:?}");
        assert_eq!(
            out.hint(),
            other
                .run(&["identity", "new", "--name", bad, "--insecure-kdf"])
                .hint(),
            "one rule, one hint"
        );
        let out = env.run(&["group", "create", bad]).code(2);
        assert!(out.error().starts_with("invalid name"), "{bad:?}: {out:?}");
    }
    // A team name may hold spaces, never a bidi control.
    let other = TestEnv::new();
    other.identity_new("carol");
    let out = other.run(&["init", "--name", "acme\u{202e}corp"]).code(2);
    assert!(out.error().starts_with("invalid team name"), "{out:?}");
    assert!(!out.stderr.contains('\u{202e}'));
    other.run(&["init", "--name", "Acme Corp"]).success();
}

#[test]
fn member_and_group_names_are_taken_in_nfc() {
    let env = TestEnv::new();
    env.init_alice();
    let (key, fp) = TestEnv::new().identity_new("x");
    env.run(&["member", "add", "jose\u{301}", &key, "--fingerprint", &fp])
        .success();
    let ls = env.stdout(&["member", "ls"]);
    assert!(ls.contains("jos\u{e9}"), "{ls}");
    // The other spelling names the same member.
    let (key2, fp2) = TestEnv::new().identity_new("y");
    let out = env
        .run(&["member", "add", "jos\u{e9}", &key2, "--fingerprint", &fp2])
        .code(1);
    assert!(out.error().contains("already"), "{out:?}");
    env.run(&["group", "create", "caf\u{e9}", "jose\u{301}"])
        .success();
    let out = env.run(&["group", "create", "cafe\u{301}"]).code(1);
    assert!(out.error().contains("already exists"), "{out:?}");
}
