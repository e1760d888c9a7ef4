//! `amanat demo`: a scripted scenario run against this very binary in a temporary
//! directory, with small (insecure, clearly labelled) KDF parameters and a passphrase
//! file, so it needs no prompts. It prints each command and what it printed.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use super::exit::{Exit, fail};

struct Demo<'a> {
    exe: std::path::PathBuf,
    dir: &'a Path,
}

impl Demo<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.exe);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir)
            .env("XDG_DATA_HOME", self.dir.join("data"))
            .env("XDG_CONFIG_HOME", self.dir.join("config"))
            .env("XDG_STATE_HOME", self.dir.join("state"))
            .env("AMANAT_PASSPHRASE_FILE", self.dir.join("passphrase"));
        cmd
    }

    /// Run a step; `stdin` is piped in; `hide_stdout` replaces a secret with its size.
    fn step(
        &self,
        args: &[&str],
        stdin: Option<&str>,
        expect: i32,
        hide_stdout: bool,
    ) -> anyhow::Result<String> {
        let shown: Vec<String> = args
            .iter()
            .map(|a| {
                if a.contains(' ') {
                    format!("'{a}'")
                } else {
                    (*a).to_string()
                }
            })
            .collect();
        match stdin {
            Some(_) => outln!("\n$ printf '…\\n' | amanat {}", shown.join(" ")),
            None => outln!("\n$ amanat {}", shown.join(" ")),
        }
        let mut child = self
            .command(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if hide_stdout {
            outln!(
                "  [{} bytes on stdout, piped — never shown on a terminal]",
                out.stdout.len()
            );
        } else {
            for line in stdout.lines() {
                outln!("  {line}");
            }
        }
        for line in stderr
            .lines()
            .filter(|l| !l.contains("insecure key-derivation"))
        {
            outln!("  (stderr) {line}");
        }
        let code = out.status.code().unwrap_or(-1);
        if code != expect {
            return fail(
                Exit::Other,
                format!(
                    "demo step 'amanat {}' exited {code}, expected {expect}",
                    args.join(" ")
                ),
                "this is a bug; please report it with the output above",
            );
        }
        if expect != 0 {
            outln!("  (exit {code}, as expected)");
        }
        Ok(stdout)
    }
}

/// Run the demo.
pub fn run() -> anyhow::Result<()> {
    let dir = tempfile::Builder::new().prefix("amanat-demo.").tempdir()?;
    std::fs::write(
        dir.path().join("passphrase"),
        "correct horse battery staple\n",
    )?;
    let demo = Demo {
        exe: std::env::current_exe()?,
        dir: dir.path(),
    };
    outln!(
        "amanat demo — a scripted scenario in {}",
        dir.path().display()
    );
    outln!(
        "(identities here use --insecure-kdf so the demo is fast; real ones take ~0.5 s to unlock)"
    );

    outln!("\n== alice makes her identity and the team vault");
    demo.step(
        &["identity", "new", "--name", "alice", "--insecure-kdf"],
        None,
        0,
        false,
    )?;
    demo.step(&["init", "--name", "acme"], None, 0, false)?;

    outln!("\n== she stores logins: secrets come from stdin or are generated, never argv");
    demo.step(
        &[
            "add",
            "web/github",
            "--username",
            "alice",
            "--url",
            "https://github.com",
            "--password-stdin",
        ],
        Some("S3cret-demo\n"),
        0,
        false,
    )?;
    demo.step(
        &[
            "add",
            "db/prod",
            "--generate",
            "--length",
            "32",
            "--username",
            "pgadmin",
            "--url",
            "postgres://db.acme.example",
        ],
        None,
        0,
        false,
    )?;
    demo.step(
        &[
            "add",
            "mail/smtp",
            "--generate",
            "--words",
            "5",
            "--field",
            "host=smtp.acme.example",
        ],
        None,
        0,
        false,
    )?;

    outln!("\n== and reads them back");
    demo.step(&["ls"], None, 0, false)?;
    demo.step(&["ls", "--tree"], None, 0, false)?;
    demo.step(&["find", "github"], None, 0, false)?;
    demo.step(&["show", "web/github"], None, 0, false)?;
    demo.step(&["get", "web/github"], None, 0, true)?;
    demo.step(&["get", "db/prod", "--field", "username"], None, 0, false)?;

    outln!("\n== edits, renames and deletions are new signed revisions");
    demo.step(
        &["edit", "web/github", "--username", "alice2"],
        None,
        0,
        false,
    )?;
    demo.step(&["mv", "web/github", "web/gh"], None, 0, false)?;
    demo.step(&["rm", "db/prod"], None, 0, false)?;
    demo.step(&["ls"], None, 0, false)?;
    demo.step(&["get", "db/prod"], None, 4, false)?;

    outln!("\n== passwords and passphrases on demand");
    demo.step(&["gen", "--words", "6"], None, 0, false)?;
    demo.step(&["gen", "--length", "20"], None, 0, false)?;

    outln!("\n== the vault checks itself, and catches tampering");
    demo.step(&["verify"], None, 0, false)?;
    demo.step(&["info"], None, 0, false)?;
    let vault = dir.path().join("data/amanat/vault.amanat");
    let mut bytes = std::fs::read(&vault)?;
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    let tampered = dir.path().join("tampered.amanat");
    std::fs::write(&tampered, &bytes)?;
    outln!("\n(one bit flipped in a copy of the vault)");
    demo.step(
        &["--vault", &tampered.to_string_lossy(), "verify"],
        None,
        6,
        false,
    )?;

    outln!("\ndemo finished; {} is removed", dir.path().display());
    Ok(())
}
