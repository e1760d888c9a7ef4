//! The README's tour, run as written (issue 11, first-day problems: "the README tour
//! fails as written").
//!
//! Every line of the `sh` block under "## A tour" runs with `bash -c`, in order, in a
//! hermetic home, and must exit 0. What the test supplies, and nothing else:
//! - the placeholders: each `amanat1… --fingerprint XXXX-…` of a `member add NAME` line
//!   becomes NAME's real key and fingerprint (bob and carol make their identities
//!   first, as the comment says they do), and `amanat-invite1…` the invite the last
//!   `member add` printed;
//! - a line whose comment says `(bob)` runs as bob, in his own home, on the same vault
//!   directory (a shared folder);
//! - stand-ins on `PATH` for programs the machine may lack: `wl-copy` (reads its input)
//!   and `psql` (fails unless `PGPASSWORD` is set); a private X server (Xvfb) for `clip`;
//! - identities with the insecure test KDF (`identity new … --insecure-kdf`), so the
//!   tour runs in seconds, and the passphrase in `AMANAT_PASSPHRASE_FILE`.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::x11::{self, kill_clip_helpers};
use common::{Outcome, TestEnv};

/// The tour: the lines of the `sh` block after "## A tour", without blank and comment
/// lines.
fn tour() -> Vec<String> {
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme.find("## A tour").expect("README has a tour");
    let block = &readme[start..];
    let open = block.find("```sh\n").unwrap() + "```sh\n".len();
    let close = open + block[open..].find("```").unwrap();
    block[open..close]
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// A directory of stand-in programs.
fn stand_ins(env: &TestEnv) -> PathBuf {
    let dir = env.path("stand-ins");
    fs::create_dir_all(&dir).unwrap();
    for (name, script) in [
        ("wl-copy", "#!/bin/sh\ncat >/dev/null\n"),
        (
            "psql",
            "#!/bin/sh\n[ -n \"$PGPASSWORD\" ] || { echo 'psql: no password' >&2; exit 2; }\necho 'psql: connected'\n",
        ),
    ] {
        let p = dir.join(name);
        fs::write(&p, script).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

/// Run one tour line with bash in `env`'s hermetic environment, `amanat` and the
/// stand-ins first on `PATH`.
fn run_line(env: &TestEnv, line: &str, path: &str, display: Option<&str>, vault: &Path) -> Outcome {
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(line);
    env.apply_env(&mut cmd);
    cmd.env("PATH", path)
        .env("AMANAT_VAULT", vault)
        .env("AMANAT_AGENT_SOCK", env.path("run/agent.sock"))
        .env("AMANAT_CLIP_TIME", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    if let Some(d) = display {
        cmd.env("DISPLAY", d);
    }
    Outcome::from(cmd.output().unwrap())
}

#[test]
fn the_readme_tour_runs_as_written() {
    let lines = tour();
    assert!(
        lines.len() > 30,
        "the tour is shorter than expected: {lines:?}"
    );
    let alice = TestEnv::new();
    let bob = TestEnv::new();
    let carol = TestEnv::new();
    for e in [&alice, &bob, &carol] {
        let run = e.path("run");
        fs::create_dir_all(&run).unwrap();
        fs::set_permissions(&run, fs::Permissions::from_mode(0o700)).unwrap();
    }
    let (bob_key, bob_fp) = bob.identity_new("bob");
    let (carol_key, carol_fp) = carol.identity_new("carol");
    let x = x11::Xvfb::start();
    let display = x.as_ref().map(|x| x.display.clone());
    let bin_dir = common::bin().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}:{}",
        stand_ins(&alice).display(),
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let vault = alice.vault_path();
    let mut invite = String::new();
    for line in &lines {
        let mut line = line.clone();
        if line.contains("identity new") {
            line = line.replacen(
                "identity new --name alice",
                "identity new --name alice --insecure-kdf",
                1,
            );
        }
        for (name, key, fp) in [("bob", &bob_key, &bob_fp), ("carol", &carol_key, &carol_fp)] {
            if line.contains(&format!("member add {name} amanat1…")) {
                line = line.replacen("amanat1…", key, 1);
                let at = line.find("--fingerprint ").unwrap() + "--fingerprint ".len();
                let end = line[at..].find(' ').map_or(line.len(), |e| at + e);
                line.replace_range(at..end, fp);
            }
        }
        line = line.replace("amanat-invite1…", &invite);
        if line.contains("amanat clip") && display.is_none() {
            eprintln!("SKIPPED (no Xvfb): {line}");
            continue;
        }
        let who = if line.contains("(bob)") { &bob } else { &alice };
        let out = run_line(who, &line, &path, display.as_deref(), &vault);
        assert_eq!(
            out.code, 0,
            "README tour line failed: {line}\n--- stdout\n{}--- stderr\n{}",
            out.stdout, out.stderr
        );
        if line.contains("member add") {
            invite = out.stdout.lines().last().unwrap_or_default().to_string();
            assert!(invite.starts_with("amanat-invite1"), "{}", out.stdout);
        }
    }
    // The tour did what it says: bob is gone, the entries are where the tour left them.
    let out = run_line(&alice, "amanat ls", &path, None, &vault);
    assert_eq!(
        out.stdout, "mail/smtp\nops/db\nops/redis\nweb/gh\n",
        "{}",
        out.stderr
    );
    let out = run_line(&bob, "amanat ls", &path, None, &vault);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        alice
            .home()
            .join(".local/share/bash-completion/completions/amanat")
            .exists()
    );
    kill_clip_helpers(&alice);
    drop(x);
}
