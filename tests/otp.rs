//! End-to-end tests of `amanat otp` (RFC 6238 codes from the stored `otpauth://` URI).
//! The RFC 6238 Appendix B vectors are unit tests in `src/totp.rs`; these check that
//! the command computes the code of the seed that `add --totp-stdin` stored, for the
//! current time window, and its failures.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use amanat::totp::Generator;
use common::x11;
use common::{Outcome, TestEnv};

/// RFC 6238's SHA1 seed, ASCII "12345678901234567890", in base32.
const RFC_SEED_20: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn add_with_totp(env: &TestEnv, path: &str, uri: &str) {
    let out = env
        .run_stdin(
            &["add", path, "--generate", "--totp-stdin"],
            &format!("{uri}\n"),
        )
        .success();
    assert_eq!(out.stdout, format!("added {path}\n"));
}

/// Run `otp PATH`; require stdout to be exactly one `digits`-digit code that the
/// library computes from `uri` for some second during the run (a run that straddles
/// a window boundary may print either window's code). Returns the code.
#[track_caller]
fn assert_current_code(env: &TestEnv, path: &str, uri: &str, digits: usize) -> String {
    let generator = Generator::from_uri(uri).unwrap();
    let before = unix_now();
    let out = env.run(&["otp", path]).success();
    let after = unix_now();
    let code = out
        .stdout
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("no newline after the code: {out:?}"));
    assert!(
        code.len() == digits && code.bytes().all(|b| b.is_ascii_digit()),
        "not a {digits}-digit code: {:?}",
        out.stdout
    );
    let expected: BTreeSet<String> = (before..=after)
        .map(|t| generator.code_at(t).expose().to_string())
        .collect();
    assert!(
        expected.contains(code),
        "otp printed {code}, expected one of {expected:?}"
    );
    out.assert_absent(RFC_SEED_20, "the seed");
    code.to_string()
}

#[test]
fn otp_prints_the_current_code_of_the_stored_seed() {
    let env = TestEnv::new();
    env.init_alice();
    let uri = format!("otpauth://totp/ACME:alice?secret={RFC_SEED_20}&issuer=ACME");
    add_with_totp(&env, "web/github", &uri);
    assert_current_code(&env, "web/github", &uri, 6);
}

/// HMAC-SHA512 (RFC 2104) written out here, so the expected codes below do not come
/// from the code under test.
fn hmac_sha512(key: &[u8], message: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha512};
    const BLOCK: usize = 128;
    let mut k = if key.len() > BLOCK {
        Sha512::digest(key).to_vec()
    } else {
        key.to_vec()
    };
    k.resize(BLOCK, 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha512::new()
        .chain_update(&ipad)
        .chain_update(message)
        .finalize();
    Sha512::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// RFC 6238 TOTP with HMAC-SHA512, independent of `amanat::totp`.
fn reference_sha512(seed: &[u8], time: u64, period: u64, digits: u32) -> String {
    let mac = hmac_sha512(seed, &(time / period).to_be_bytes());
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let value = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]) % 10u32.pow(digits);
    format!("{value:0width$}", width = digits as usize)
}

#[test]
fn otp_honours_algorithm_digits_and_period() {
    let env = TestEnv::new();
    env.init_alice();
    // RFC 6238's SHA512 seed: "1234567890" repeated to 64 bytes.
    let seed64 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNA=";
    let uri = format!("otpauth://totp/x?secret={seed64}&algorithm=SHA512&digits=8&period=60");
    add_with_totp(&env, "ops/vpn", &uri);
    let seed: Vec<u8> = b"1234567890".iter().copied().cycle().take(64).collect();
    // The reference agrees with RFC 6238 Appendix B (SHA512, T=59, 30 s).
    assert_eq!(reference_sha512(&seed, 59, 30, 8), "90693936");
    let before = unix_now();
    let code = assert_current_code(&env, "ops/vpn", &uri, 8);
    let after = unix_now();
    // A command that ignored the algorithm or the period would print another code.
    assert!(
        (before..=after).any(|t| reference_sha512(&seed, t, 60, 8) == code),
        "{code} is not the SHA512/60 s code of the seed"
    );
}

#[test]
fn otp_decodes_seeds_as_providers_show_them() {
    let env = TestEnv::new();
    env.init_alice();
    // Lower case, grouped with spaces, padded: the same seed as RFC_SEED_20.
    let shown = "otpauth://totp/x?secret=gezd gnbv gy3t qojq gezd gnbv gy3t qojq====";
    add_with_totp(&env, "web/shown", shown);
    let canonical = format!("otpauth://totp/x?secret={RFC_SEED_20}");
    assert_current_code(&env, "web/shown", &canonical, 6);
}

#[test]
fn otp_through_an_unlocked_agent_needs_no_passphrase() {
    let env = TestEnv::new();
    env.init_alice();
    let uri = format!("otpauth://totp/x?secret={RFC_SEED_20}");
    add_with_totp(&env, "web/github", &uri);
    let socket = env.path("run/agent.sock");
    let mut cmd = env.cmd(&["unlock"]);
    cmd.env("AMANAT_AGENT_SOCK", &socket);
    let out = Outcome::from(cmd.output().unwrap()).success();
    let pid: u32 = out.agent_pid();
    let otp = || {
        let mut cmd = env.cmd(&["otp", "web/github"]);
        cmd.env("AMANAT_AGENT_SOCK", &socket)
            .env_remove("AMANAT_PASSPHRASE_FILE");
        let before = unix_now();
        let out = Outcome::from(cmd.output().unwrap());
        (before, out, unix_now())
    };
    let (before, out, after) = otp();
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
    let out = out.success();
    let generator = Generator::from_uri(&uri).unwrap();
    assert!(
        (before..=after).any(|t| format!("{}\n", generator.code_at(t).expose()) == out.stdout),
        "{out:?}"
    );
    // With the agent gone there is no passphrase source: exit 3.
    let (_, out, _) = otp();
    out.code(3);
}

#[test]
fn otp_without_a_seed_exits_4_with_a_hint() {
    let env = TestEnv::new();
    env.init_alice();
    env.add("web/plain", "Pw-Marker-5a1c");
    let out = env.run(&["otp", "web/plain"]).code(4);
    assert_eq!(out.stdout, "");
    assert_eq!(out.error(), "'web/plain' has no TOTP seed");
    assert_eq!(
        out.hint(),
        "add one with 'amanat edit web/plain --totp' (or --totp-stdin)"
    );
    out.assert_absent("Pw-Marker-5a1c", "the password");
}

#[test]
fn otp_of_a_missing_entry_exits_4() {
    let env = TestEnv::new();
    env.init_alice();
    let out = env.run(&["otp", "web/nothing"]).code(4);
    assert_eq!(out.stdout, "");
    assert_eq!(out.hint(), "see 'amanat ls web/'");
}

#[test]
fn otp_clip_without_a_clipboard_fails_before_unlocking() {
    let env = TestEnv::new();
    env.init_alice();
    let uri = format!("otpauth://totp/x?secret={RFC_SEED_20}");
    add_with_totp(&env, "web/github", &uri);
    // A wrong passphrase: the refusal must come before any unlock (which would exit 3).
    env.set_passphrase("wrong passphrase\n");
    let out = env.run(&["otp", "web/github", "--clip"]).code(1);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.error(),
        "no clipboard: no display (WAYLAND_DISPLAY and DISPLAY are unset) and no terminal for OSC 52"
    );
    assert_eq!(
        out.hint(),
        "print the code with 'amanat otp web/github' (it is valid for one period only)"
    );
}

/// A private X server for `env`; `env`'s clipboard helpers are killed before it stops.
struct Xvfb<'a> {
    x: x11::Xvfb,
    display: String,
    env: &'a TestEnv,
}

impl<'a> Xvfb<'a> {
    /// Start one, or `None` when Xvfb or xclip is missing.
    fn start(env: &'a TestEnv) -> Option<Self> {
        let x = x11::Xvfb::start()?;
        Some(Self {
            display: x.display.clone(),
            x,
            env,
        })
    }

    /// The clipboard's text, or `None` when it is empty or unreadable.
    fn read(&self) -> Option<String> {
        self.x.read(None)
    }
}

impl Drop for Xvfb<'_> {
    fn drop(&mut self) {
        // Then the server stops, when `x` is dropped.
        x11::kill_clip_helpers(self.env);
    }
}

#[test]
fn otp_clip_puts_the_code_on_the_x11_clipboard_without_printing_it() {
    let env = TestEnv::new();
    env.init_alice();
    let uri = format!("otpauth://totp/x?secret={RFC_SEED_20}");
    add_with_totp(&env, "web/github", &uri);
    let Some(x) = Xvfb::start(&env) else {
        return;
    };
    let generator = Generator::from_uri(&uri).unwrap();
    let before = unix_now();
    let mut cmd = env.cmd(&["otp", "web/github", "--clip", "--clear-after", "60"]);
    cmd.env("DISPLAY", &x.display);
    let out = Outcome::from(cmd.output().unwrap()).success();
    let after = unix_now();
    assert_eq!(out.stdout, "", "the code must not be printed");
    assert!(
        out.stderr
            .lines()
            .any(|l| l == "copied TOTP code of web/github to the clipboard; clears in 60 s"),
        "{out:?}"
    );
    let copied = x.read().expect("nothing on the clipboard");
    let expected: BTreeSet<String> = (before..=after)
        .map(|t| generator.code_at(t).expose().to_string())
        .collect();
    assert!(
        expected.contains(&copied),
        "clipboard holds {copied:?}, expected one of {expected:?}"
    );
    out.assert_absent(&copied, "the code");
}
