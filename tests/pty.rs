//! Terminal behaviour of the `amanat` binary, driven through a real pseudo-terminal
//! with `rexpect`: `get` refuses to print a secret to a terminal unless `--reveal`,
//! passphrases and passwords are read with hidden prompts on the controlling
//! terminal, and text written by teammates is defused before it reaches a terminal.
//!
//! rexpect starts the child in a new session with the PTY as its controlling terminal
//! (so `/dev/tty` is the PTY) and turns terminal echo off. Tests about echo turn it
//! back on with `stty echo` first, so that a prompt which failed to hide its input
//! would show up in the captured output.
//!
//! The vault is prepared with the hermetic, terminal-less harness of `tests/common`.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use amanat::forge;
use common::{PASSPHRASE, TestEnv, set_vault_bytes, vault_bytes};
use rexpect::process::WaitStatus;
use rexpect::session::PtySession;

/// Timeout of every expectation, in milliseconds.
const TIMEOUT_MS: u64 = 30_000;

/// Generous pause between seeing a prompt and typing: rpassword prints the prompt
/// and only then turns echo off, and with echo on that gap would echo our input.
const BEFORE_TYPING: Duration = Duration::from_millis(300);

const SECRET: &str = "Pty-S3cret-5b1e";

fn with_entry() -> TestEnv {
    let env = TestEnv::new();
    env.init_alice();
    env.add_with("web/github", SECRET, &["--username", "alice"]);
    env
}

/// The agent socket of `env`'s home, in a private directory of its own (the agent
/// creates it 0700): an agent started by a test never uses the user's real socket.
fn agent_socket(env: &TestEnv) -> std::path::PathBuf {
    env.path("run/agent.sock")
}

/// Spawn `amanat ARGS` on a fresh PTY with the hermetic environment. With
/// `echo`, terminal echo is switched on before amanat starts. A passphrase typed at
/// the prompt starts no agent ([`spawn_auto_agent`] lets it).
fn spawn(env: &TestEnv, args: &[&str], echo: bool, passphrase_file: bool) -> PtySession {
    spawn_with(env, args, echo, passphrase_file, false)
}

/// [`spawn`], with the automatic agent left on (its socket inside the test's home).
fn spawn_auto_agent(env: &TestEnv, args: &[&str]) -> PtySession {
    spawn_with(env, args, false, false, true)
}

fn spawn_with(
    env: &TestEnv,
    args: &[&str],
    echo: bool,
    passphrase_file: bool,
    auto_agent: bool,
) -> PtySession {
    let mut cmd = if echo {
        let mut c = std::process::Command::new("sh");
        c.arg("-c")
            .arg("stty echo && exec \"$0\" \"$@\"")
            .arg(common::bin())
            .args(args);
        env.apply_env(&mut c);
        c
    } else {
        env.std_command(args)
    };
    if !passphrase_file {
        cmd.env_remove("AMANAT_PASSPHRASE_FILE");
    }
    cmd.env("AMANAT_AGENT_SOCK", agent_socket(env));
    if !auto_agent {
        cmd.env("AMANAT_AGENT", "off");
    }
    rexpect::session::spawn_command(cmd, Some(TIMEOUT_MS)).unwrap()
}

/// Answer alice's passphrase prompt with each of `typed` in turn; after each but the
/// last, the wrong-passphrase line must come.
fn type_at_prompt(p: &mut PtySession, typed: &[&str]) {
    for (i, text) in typed.iter().enumerate() {
        p.exp_string("passphrase for alice: ").unwrap();
        std::thread::sleep(BEFORE_TYPING);
        p.send_line(text).unwrap();
        if i + 1 < typed.len() {
            p.exp_string("wrong passphrase, try again").unwrap();
        }
    }
}

/// Read everything up to EOF, then the exit code.
fn finish(mut p: PtySession) -> (String, i32) {
    let rest = p.exp_eof().unwrap();
    let code = match p.process().wait().unwrap() {
        WaitStatus::Exited(_, code) => code,
        other => panic!("amanat did not exit normally: {other:?}\n{rest}"),
    };
    (rest, code)
}

#[test]
fn get_refuses_to_print_a_secret_to_a_terminal() {
    let env = with_entry();
    let p = spawn(&env, &["get", "web/github"], false, true);
    let (out, code) = finish(p);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("error: refusing to print a secret to a terminal"),
        "{out}"
    );
    assert!(out.contains("hint: "), "{out}");
    assert!(
        !out.contains(SECRET),
        "the secret reached the terminal: {out}"
    );
}

/// A username (or URL, path, notes, non-secret custom field) is not a secret: `get`
/// prints it on a terminal as `show` does; the password and the TOTP seed are refused
/// (and a secret custom field: the same check, by its `secret` flag).
#[test]
fn get_prints_non_secret_fields_on_a_terminal_and_refuses_secret_ones() {
    let env = with_entry();
    env.run(&["edit", "web/github", "--field", "region=eu-west-1"])
        .success();
    let p = spawn(
        &env,
        &["get", "web/github", "--field", "username"],
        false,
        true,
    );
    let (out, code) = finish(p);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("alice"), "{out}");
    let (out, code) = finish(spawn(
        &env,
        &["get", "web/github", "--field", "region"],
        false,
        true,
    ));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("eu-west-1"), "{out}");
    for field in ["password", "totp"] {
        let (out, code) = finish(spawn(
            &env,
            &["get", "web/github", "--field", field],
            false,
            true,
        ));
        assert_eq!(code, 2, "{field}: {out}");
        assert!(
            out.contains("refusing to print a secret to a terminal"),
            "{out}"
        );
        assert!(!out.contains(SECRET), "{out}");
    }
}

#[test]
fn get_reveal_prints_the_secret_to_a_terminal() {
    let env = with_entry();
    let p = spawn(&env, &["get", "web/github", "--reveal"], false, true);
    let (out, code) = finish(p);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.lines().any(|l| l.trim_end_matches('\r') == SECRET),
        "{out}"
    );
}

#[test]
fn get_reveal_strips_osc52_clipboard_payload_on_a_terminal() {
    let env = TestEnv::new();
    env.init_alice();
    env.add_with(
        "web/evil",
        "S3cret",
        &["--field", "memo=x\u{1b}]52;c;aGVsbG8=\u{7}"],
    );
    let p = spawn(
        &env,
        &["get", "web/evil", "--field", "memo", "--reveal"],
        false,
        true,
    );
    let (out, code) = finish(p);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains('\u{1b}'), "ESC reached the terminal: {out:?}");
    assert!(!out.contains('\u{7}'), "BEL reached the terminal: {out:?}");
    assert!(out.contains("x\\u{1b}]52;c;aGVsbG8="), "{out:?}");
}

#[test]
fn passphrase_prompt_is_hidden() {
    let env = with_entry();
    env.add("web/other", "S3cret2");
    let mut p = spawn(&env, &["ls"], true, false);
    p.exp_string("passphrase for alice: ").unwrap();
    std::thread::sleep(BEFORE_TYPING);
    p.send_line(PASSPHRASE).unwrap();
    let (out, code) = finish(p);
    assert_eq!(code, 0, "{out}");
    assert!(
        !out.contains(PASSPHRASE),
        "the passphrase was echoed: {out}"
    );
    let listed: Vec<&str> = out
        .lines()
        .map(|l| l.trim_end_matches('\r').trim())
        .filter(|l| !l.is_empty() && !l.starts_with("warning: "))
        .collect();
    assert_eq!(listed, ["web/github", "web/other"], "{out}");
}

#[test]
fn wrong_passphrase_at_the_prompt_is_asked_three_times_then_exit_3() {
    let env = with_entry();
    let mut p = spawn(&env, &["ls"], true, false);
    type_at_prompt(&mut p, &["not the passphrase"; 3]);
    let (out, code) = finish(p);
    assert_eq!(code, 3, "{out}");
    // No fourth prompt.
    assert!(!out.contains("passphrase for alice"), "{out}");
    assert!(
        out.contains("error: wrong passphrase, or the identity file was modified"),
        "{out}"
    );
    assert!(!out.contains("not the passphrase"), "echoed: {out}");
    assert!(!out.contains("web/github"), "{out}");
}

#[test]
fn a_right_passphrase_on_the_second_try_works() {
    let env = with_entry();
    let mut p = spawn(&env, &["ls"], false, false);
    p.exp_string("passphrase for alice: ").unwrap();
    std::thread::sleep(BEFORE_TYPING);
    p.send_line("not the passphrase").unwrap();
    p.exp_string("wrong passphrase, try again").unwrap();
    p.exp_string("passphrase for alice: ").unwrap();
    std::thread::sleep(BEFORE_TYPING);
    p.send_line(PASSPHRASE).unwrap();
    let (out, code) = finish(p);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("web/github"), "{out}");
}

/// Run `amanat ARGS` (no terminal) in `env` with its agent socket; with
/// `passphrase_file`, `AMANAT_PASSPHRASE_FILE` stays set.
fn run_with_agent(env: &TestEnv, args: &[&str], passphrase_file: bool) -> common::Outcome {
    let mut cmd = env.detached_command(args);
    cmd.env("AMANAT_AGENT_SOCK", agent_socket(env));
    if !passphrase_file {
        cmd.env_remove("AMANAT_PASSPHRASE_FILE");
    }
    let mut cmd = assert_cmd::Command::from_std(cmd);
    cmd.timeout(common::COMMAND_TIMEOUT);
    common::Outcome::from(cmd.output().unwrap())
}

/// Locks the test's agent (if any) when dropped, so that no test leaves one running.
struct LockOnDrop<'a>(&'a TestEnv);

impl Drop for LockOnDrop<'_> {
    fn drop(&mut self) {
        let _ = run_with_agent(self.0, &["lock"], false);
    }
}

/// Wait until the agent in `env` reports itself unlocked (it derives the key after the
/// command that started it has gone on).
fn wait_unlocked(env: &TestEnv) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        let out = run_with_agent(env, &["agent", "status", "--json"], false);
        if out.stdout.contains("\"unlocked\":true") || out.stdout.contains("\"unlocked\": true") {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn a_passphrase_typed_at_the_prompt_starts_the_agent() {
    let env = with_entry();
    let _lock = LockOnDrop(&env);
    // No agent yet: with no passphrase source, a read fails.
    run_with_agent(&env, &["ls"], false).code(3);
    let mut p = spawn_auto_agent(&env, &["ls"]);
    p.exp_string("passphrase for alice: ").unwrap();
    std::thread::sleep(BEFORE_TYPING);
    p.send_line(PASSPHRASE).unwrap();
    let (out, code) = finish(p);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("web/github"), "{out}");
    assert!(wait_unlocked(&env), "the agent did not unlock");
    // The next commands need no passphrase source: the agent answers.
    let got = run_with_agent(&env, &["get", "web/github"], false).success();
    assert_eq!(got.stdout, format!("{SECRET}\n"));
    let listed = run_with_agent(&env, &["ls"], false).success();
    assert!(listed.stdout.contains("web/github"), "{}", listed.stdout);
    let status = run_with_agent(&env, &["agent", "status", "--json"], false)
        .success()
        .json();
    // The default idle timeout: 15 minutes.
    let idle = status["idle_left_secs"].as_u64().unwrap();
    assert!((800..=900).contains(&idle), "{status}");
    // `lock` ends it: back to needing a passphrase.
    run_with_agent(&env, &["lock"], false).success();
    run_with_agent(&env, &["get", "web/github"], false).code(3);
    assert!(!agent_socket(&env).exists());
}

#[test]
fn amanat_agent_off_starts_no_agent() {
    let env = with_entry();
    let _lock = LockOnDrop(&env);
    let mut p = spawn(&env, &["ls"], false, false);
    p.exp_string("passphrase for alice: ").unwrap();
    std::thread::sleep(BEFORE_TYPING);
    p.send_line(PASSPHRASE).unwrap();
    let (out, code) = finish(p);
    assert_eq!(code, 0, "{out}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(!agent_socket(&env).exists(), "an agent started");
    let status = run_with_agent(&env, &["agent", "status", "--json"], false)
        .success()
        .json();
    assert_eq!(status["running"], false, "{status}");
    run_with_agent(&env, &["get", "web/github"], false).code(3);
}

#[test]
fn a_passphrase_file_starts_no_agent() {
    let env = with_entry();
    let _lock = LockOnDrop(&env);
    run_with_agent(&env, &["ls"], true).success();
    std::thread::sleep(Duration::from_millis(500));
    assert!(!agent_socket(&env).exists(), "an agent started");
    run_with_agent(&env, &["get", "web/github"], false).code(3);
}

#[test]
fn a_passphrase_file_open_to_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let env = with_entry();
    for mode in [0o644, 0o640, 0o604] {
        std::fs::set_permissions(env.passphrase_file(), std::fs::Permissions::from_mode(mode))
            .unwrap();
        let out = env.run(&["ls"]).code(3);
        assert!(
            out.stderr.contains("readable by group or others"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr
                .contains(&format!("chmod 600 {}", env.passphrase_file().display())),
            "{}",
            out.stderr
        );
        assert!(!out.stdout.contains("web/github"));
    }
    std::fs::set_permissions(
        env.passphrase_file(),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    env.run(&["ls"]).success();
}

#[test]
fn get_with_a_passphrase_file_right_after_lock_works() {
    let env = with_entry();
    let _lock = LockOnDrop(&env);
    for round in 0..4 {
        run_with_agent(&env, &["unlock"], true).success();
        run_with_agent(&env, &["lock"], false).success();
        let got = run_with_agent(&env, &["get", "web/github"], true);
        assert_eq!(got.code, 0, "round {round}: {}", got.stderr);
        assert_eq!(got.stdout, format!("{SECRET}\n"));
        assert!(
            !got.stderr.contains("agent"),
            "round {round}: {}",
            got.stderr
        );
    }
}

#[test]
fn add_prompts_twice_for_the_password_with_echo_off() {
    let env = with_entry();
    let mut p = spawn(&env, &["add", "web/prompted"], true, true);
    p.exp_string("password: ").unwrap();
    std::thread::sleep(BEFORE_TYPING);
    p.send_line("Typed-S3cret").unwrap();
    p.exp_string("repeat password: ").unwrap();
    std::thread::sleep(BEFORE_TYPING);
    p.send_line("Typed-S3cret").unwrap();
    let (out, code) = finish(p);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("added web/prompted"), "{out}");
    assert!(
        !out.contains("Typed-S3cret"),
        "the password was echoed: {out}"
    );
    assert_eq!(env.get("web/prompted", "password"), "Typed-S3cret");
}

#[test]
fn add_with_mismatched_prompts_exit_2_and_stores_nothing() {
    let env = with_entry();
    let mut p = spawn(&env, &["add", "web/prompted"], true, true);
    p.exp_string("password: ").unwrap();
    std::thread::sleep(BEFORE_TYPING);
    p.send_line("first-S3cret").unwrap();
    p.exp_string("repeat password: ").unwrap();
    std::thread::sleep(BEFORE_TYPING);
    p.send_line("second-S3cret").unwrap();
    let (out, code) = finish(p);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("error: the two entries differ"), "{out}");
    assert_eq!(env.stdout(&["ls"]), "web/github\n");
}

/// Control for the echo tests above: on this PTY with echo switched on, input that
/// is read without a hidden prompt (here `--password-stdin` reading the terminal)
/// does appear in the output, so those tests would catch a prompt that echoed.
#[test]
fn control_unhidden_terminal_input_is_echoed() {
    let env = with_entry();
    let mut p = spawn(&env, &["add", "web/plain", "--password-stdin"], true, true);
    std::thread::sleep(BEFORE_TYPING);
    p.send_line("Visible-Input-91").unwrap();
    let (out, code) = finish(p);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Visible-Input-91"), "echo was not on: {out}");
}

/// Append to `env`'s vault an entry at a hostile `path`, as a teammate's modified
/// client could write it (amanat itself refuses such paths): directly wrapped to
/// alice and signed by her key, so it lists and opens like any other entry.
fn plant_entry(env: &TestEnv, path: &str) {
    use amanat::crypto::{self, SecretString, SymmetricKey};
    use amanat::format::{
        self, EntryContent, EntryId, EntryPayload, KeyWrap, RecordBody, VaultFile,
    };
    let identity = amanat::identity::Identity::unlock(
        &std::fs::read(env.identity_path()).unwrap(),
        &SecretString::new(PASSPHRASE.into()),
    )
    .unwrap();
    let vault = amanat::vault::Vault::decode(&vault_bytes(&env.vault_path())).unwrap();
    let me = vault.member_for(&identity).unwrap().id;
    // A new entry's id ends with its creator's member id prefix.
    let mut entry = EntryId([0x42; 16]);
    entry.0[8..].copy_from_slice(&me.0[..8]);
    let key = SymmetricKey::generate().unwrap();
    let commitment = key.commitment();
    let mut payload = EntryPayload::default();
    payload.path = path.to_string();
    payload.password = SecretString::new("planted".into());
    let aad = format::entry_payload_aad(&vault.id(), &entry, None, &commitment);
    let (nonce, ciphertext) = crypto::seal(&key, &aad, &payload.to_padded().unwrap()).unwrap();
    let info = format::entry_member_wrap_info(&vault.id(), &me, &entry, None, &commitment);
    let w = crypto::hpke_wrap(&identity.keys.agreement, &info, &key).unwrap();
    let record = forge::record(
        vault.heads(),
        me,
        0,
        RecordBody::EntryRevision(forge::entry_revision(
            entry,
            None,
            EntryContent::Sealed(forge::sealed_entry(
                vec![],
                vec![],
                commitment,
                vec![KeyWrap::Member(forge::member_wrap(
                    me,
                    w.enc,
                    w.sealed.to_vec(),
                ))],
                nonce,
                ciphertext,
            )),
        )),
    );
    let mut file = VaultFile::decode(&vault_bytes(&env.vault_path())).unwrap();
    file.append(vec![forge::sign(record, &identity.signing)]);
    set_vault_bytes(&env.vault_path(), &file.encode());
}

/// Issue 4, "Terminal safety": an entry named with an OSC 52 clipboard write (and a
/// carriage return that would let it overwrite the line before it) prints harmlessly.
#[test]
fn ls_defuses_osc52_and_cr_in_a_planted_entry_name() {
    let env = with_entry();
    plant_entry(&env, "x\u{1b}]52;c;cHduZWQ=\u{7}\rweb/github");
    let (out, code) = finish(spawn(&env, &["ls"], false, true));
    assert_eq!(code, 0, "{out}");
    assert!(
        !out.contains('\u{1b}'),
        "raw ESC reached the terminal: {out:?}"
    );
    assert!(
        !out.contains('\u{7}'),
        "raw BEL reached the terminal: {out:?}"
    );
    assert!(
        out.contains("x\\u{1b}]52;c;cHduZWQ=\\u{7}\\u{d}web/github"),
        "{out:?}"
    );
    assert!(out.contains("web/github"));
}

/// The fingerprint confirmation of `member add` is typed visibly (it is not a secret:
/// the person should see their `yes`), and only `yes` adds the member.
#[test]
fn member_add_confirms_the_fingerprint_with_a_visible_yes() {
    let env = with_entry();
    let bob = TestEnv::new();
    let (key, fp) = bob.identity_new("bob");
    let mut p = spawn(&env, &["member", "add", "bob", &key], true, true);
    p.exp_string(&fp).unwrap();
    p.exp_string("type 'yes' if it matches: ").unwrap();
    p.send_line("yes").unwrap();
    // The terminal echoes what was typed.
    p.exp_string("yes").unwrap();
    let (out, code) = finish(p);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("amanat-invite1"), "{out}");
    let mut p = spawn(&env, &["member", "add", "carol", &key], true, true);
    p.exp_string("type 'yes' if it matches: ").unwrap();
    p.send_line("no").unwrap();
    let (out, code) = finish(p);
    assert_ne!(code, 0, "{out}");
}

#[test]
fn unlock_asks_three_times_then_exit_3_and_leaves_no_agent() {
    let env = with_entry();
    let mut p = spawn(&env, &["unlock"], false, false);
    type_at_prompt(&mut p, &["not the passphrase"; 3]);
    let (out, code) = finish(p);
    assert_eq!(code, 3, "{out}");
    assert!(
        !out.contains("passphrase for alice"),
        "no fourth prompt: {out}"
    );
    assert!(!out.contains("not the passphrase"), "echoed: {out}");
    // Every failed try's agent is gone: nothing answers on the socket.
    let status = run_with_agent(&env, &["agent", "status"], false);
    assert!(!status.stdout.starts_with("unlocked"), "{status:?}");

    // And a right passphrase on the third try unlocks.
    let mut p = spawn(&env, &["unlock"], false, false);
    type_at_prompt(
        &mut p,
        &["not the passphrase", "not the passphrase", PASSPHRASE],
    );
    let (out, code) = finish(p);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("unlocked 'alice'"), "{out}");
    let got = run_with_agent(&env, &["get", "web/github", "--field", "username"], false);
    assert_eq!(got.stdout, "alice\n", "{got:?}");
    run_with_agent(&env, &["lock"], false).success();
}
