//! `amanat demo`: a scripted team scenario run against this very binary in a temporary
//! directory. Three people (alice, bob, carol) each have their own home, identity,
//! local state and clone of one git repository (a local bare repository stands in for
//! the team's git host); `amanat sync` shares the vault directory between them. With
//! no `git` on the machine, they share one vault directory instead, as a file share
//! would. The
//! identities use small (insecure, clearly labelled) KDF parameters and a passphrase
//! file, so nothing prompts. Each command and what it printed is shown.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::exit::{Exit, fail};

struct Demo {
    exe: PathBuf,
    dir: PathBuf,
    /// Whether everyone has a git clone (else one shared directory).
    git: bool,
}

/// What to do with a step's stdout.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Show {
    /// Print it.
    All,
    /// It is a secret: print only its size.
    Size,
}

impl Demo {
    fn home(&self, who: &str) -> PathBuf {
        self.dir.join(who)
    }

    /// `who`'s vault directory: in their clone, or the shared one.
    fn vault(&self, who: &str) -> PathBuf {
        if self.git {
            self.home(who).join("secrets/acme.vault")
        } else {
            self.dir.join("shared/acme.vault")
        }
    }

    /// `git ARGS` in `dir`, shown as `who$ git …`; must succeed.
    fn git(&self, who: &str, dir: &Path, args: &[&str]) -> anyhow::Result<()> {
        outln!("\n{who}$ git {}", args.join(" "));
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home(who))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", who)
            .env("GIT_AUTHOR_EMAIL", format!("{who}@acme.example"))
            .env("GIT_COMMITTER_NAME", who)
            .env("GIT_COMMITTER_EMAIL", format!("{who}@acme.example"))
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return fail(
                Exit::Other,
                format!(
                    "demo step '{who}: git {}' failed: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                "this is a bug; please report it with the output above",
            );
        }
        Ok(())
    }

    /// `who` clones the team repository into their home.
    fn clone(&self, who: &str) -> anyhow::Result<()> {
        let home = self.home(who);
        std::fs::create_dir_all(&home)?;
        let remote = self.dir.join("team.git");
        self.git(
            who,
            &home,
            &["clone", "--quiet", &remote.to_string_lossy(), "secrets"],
        )
    }

    /// `amanat sync` as `who` (nothing with a shared directory).
    fn sync(&self, who: &str) -> anyhow::Result<()> {
        if self.git {
            self.step(who, &["sync"], None, 0, Show::All)?;
        }
        Ok(())
    }

    /// `amanat ARGS` as `who`; with the passphrase file unless `passphrase` is false
    /// (then only the agent can unlock). Each person's agent socket is in a private
    /// directory of their home (clients refuse a socket in a directory others can open).
    fn command(&self, who: &str, args: &[&str], passphrase: bool) -> Command {
        let home = self.home(who);
        let mut cmd = Command::new(&self.exe);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("AMANAT_AGENT_SOCK", home.join(".run/agent.sock"))
            .env("AMANAT_VAULT", self.vault(who));
        if passphrase {
            cmd.env("AMANAT_PASSPHRASE_FILE", self.dir.join("passphrase"));
        }
        cmd
    }

    /// Run `amanat ARGS` as `who`; `stdin` is piped in; the exit code must be `expect`.
    fn step(
        &self,
        who: &str,
        args: &[&str],
        stdin: Option<&str>,
        expect: i32,
        show: Show,
    ) -> anyhow::Result<String> {
        self.run_step(who, args, stdin, expect, show, true)
    }

    /// [`step`](Self::step) with no passphrase source: only an unlocked agent helps.
    fn step_no_passphrase(
        &self,
        who: &str,
        args: &[&str],
        expect: i32,
        show: Show,
    ) -> anyhow::Result<String> {
        self.run_step(who, args, None, expect, show, false)
    }

    fn run_step(
        &self,
        who: &str,
        args: &[&str],
        stdin: Option<&str>,
        expect: i32,
        show: Show,
        passphrase: bool,
    ) -> anyhow::Result<String> {
        let shown: Vec<String> = args
            .iter()
            .map(|a| {
                if a.len() > 40 {
                    format!("{}…", &a[..20])
                } else if a.contains(' ') {
                    format!("'{a}'")
                } else {
                    (*a).to_string()
                }
            })
            .collect();
        let pipe = if stdin.is_some() {
            "printf '…\\n' | "
        } else {
            ""
        };
        let source = if passphrase {
            ""
        } else {
            "(no passphrase source) "
        };
        outln!("\n{who}$ {source}{pipe}amanat {}", shown.join(" "));
        let mut child = self
            .command(who, args, passphrase)
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
        match show {
            Show::Size => outln!(
                "  [{} bytes on stdout, piped — never shown on a terminal]",
                out.stdout.len()
            ),
            Show::All => {
                for line in stdout.lines() {
                    outln!("  {line}");
                }
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
                    "demo step '{who}: amanat {}' exited {code}, expected {expect}",
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

    fn say(&self, text: &str) -> anyhow::Result<()> {
        outln!("\n== {text}");
        Ok(())
    }

    /// `identity new` for `who`; returns (public key, fingerprint).
    fn identity(&self, who: &str) -> anyhow::Result<(String, String)> {
        let out = self.step(
            who,
            &["identity", "new", "--name", who, "--insecure-kdf"],
            None,
            0,
            Show::All,
        )?;
        let mut lines = out.lines();
        let key = lines.next().unwrap_or_default().to_string();
        let fp = lines
            .next()
            .and_then(|l| l.strip_prefix("fingerprint: "))
            .unwrap_or_default()
            .to_string();
        Ok((key, fp))
    }

    /// `member add` by alice; returns the invite line.
    fn add_member(&self, name: &str, key: &str, fp: &str) -> anyhow::Result<String> {
        let out = self.step(
            "alice",
            &["member", "add", name, key, "--fingerprint", fp],
            None,
            0,
            Show::All,
        )?;
        Ok(out.lines().last().unwrap_or_default().to_string())
    }
}

/// Whether `git` can be run.
fn have_git() -> bool {
    Command::new("git")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Run the demo.
pub fn run() -> anyhow::Result<()> {
    let dir = tempfile::Builder::new().prefix("amanat-demo.").tempdir()?;
    std::fs::write(
        dir.path().join("passphrase"),
        "correct horse battery staple\n",
    )?;
    std::fs::set_permissions(
        dir.path().join("passphrase"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )?;
    let demo = Demo {
        exe: std::env::current_exe()?,
        dir: dir.path().to_path_buf(),
        git: have_git(),
    };
    outln!(
        "amanat demo — a team scenario in {}: alice, bob and carol each have a home there.",
        dir.path().display()
    );
    if demo.git {
        outln!(
            "Each has a clone of one git repository (team.git, standing in for the team's git host);"
        );
        outln!(
            "the vault is a directory of immutable segment files in it, shared with 'amanat sync'."
        );
        std::fs::create_dir_all(demo.home("alice"))?;
        demo.git(
            "alice",
            dir.path(),
            &["init", "--quiet", "--bare", "-b", "main", "team.git"],
        )?;
        demo.clone("alice")?;
    } else {
        std::fs::create_dir_all(dir.path().join("shared"))?;
        outln!(
            "(no git here: they share one vault directory, shared/acme.vault, as a file share would)"
        );
    }
    outln!("(identities use --insecure-kdf so the demo is fast; real ones take ~0.5 s to unlock)");

    demo.say("alice makes her identity and the team vault")?;
    demo.identity("alice")?;
    demo.step("alice", &["init", "--name", "acme"], None, 0, Show::All)?;

    demo.say("she stores logins: secrets come from stdin or are generated, never argv")?;
    demo.step(
        "alice",
        &[
            "add",
            "web/github",
            "--username",
            "acme-bot",
            "--url",
            "https://github.com",
            "--password-stdin",
        ],
        Some("S3cret-demo\n"),
        0,
        Show::All,
    )?;
    demo.step(
        "alice",
        &[
            "add",
            "ops/db",
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
        Show::All,
    )?;
    demo.step(
        "alice",
        &["add", "hr/payroll", "--generate", "--words", "5"],
        None,
        0,
        Show::All,
    )?;
    demo.step("alice", &["ls", "--tree"], None, 0, Show::All)?;
    demo.step("alice", &["show", "web/github"], None, 0, Show::All)?;
    demo.step("alice", &["get", "web/github"], None, 0, Show::Size)?;
    demo.sync("alice")?;

    demo.say("bob and carol clone the repository and make identities; alice checks each fingerprint and adds them")?;
    if demo.git {
        demo.clone("bob")?;
        demo.clone("carol")?;
    }
    let (bob_key, bob_fp) = demo.identity("bob")?;
    let (carol_key, carol_fp) = demo.identity("carol")?;
    let bob_invite = demo.add_member("bob", &bob_key, &bob_fp)?;
    let carol_invite = demo.add_member("carol", &carol_key, &carol_fp)?;
    demo.sync("alice")?;
    demo.sync("bob")?;
    demo.step("bob", &["join", &bob_invite], None, 0, Show::All)?;
    demo.sync("carol")?;
    demo.step("carol", &["join", &carol_invite], None, 0, Show::All)?;

    demo.say("a group for the ops team, and a direct share")?;
    demo.step(
        "alice",
        &["group", "create", "devops", "bob", "carol"],
        None,
        0,
        Show::All,
    )?;
    demo.step(
        "alice",
        &[
            "add",
            "ops/redis",
            "--generate",
            "--username",
            "default",
            "--share-with",
            "@devops",
        ],
        None,
        0,
        Show::All,
    )?;
    demo.step(
        "alice",
        &["share", "ops/redis", "--with", "@devops", "--write"],
        None,
        0,
        Show::All,
    )?;
    demo.step(
        "alice",
        &["share", "ops/db", "--with", "bob"],
        None,
        0,
        Show::All,
    )?;
    demo.step("alice", &["access", "ops/db"], None, 0, Show::All)?;
    demo.sync("alice")?;
    demo.sync("bob")?;
    demo.sync("carol")?;
    demo.step("bob", &["ls"], None, 0, Show::All)?;
    demo.step("bob", &["get", "ops/db"], None, 0, Show::Size)?;
    demo.step("carol", &["ls"], None, 0, Show::All)?;
    demo.step("bob", &["get", "hr/payroll"], None, 4, Show::All)?;
    demo.step("bob", &["group", "create", "mine"], None, 5, Show::All)?;

    if demo.git {
        demo.say("alice and carol change the same login on their own laptops, between syncs: no conflict")?;
        demo.step(
            "alice",
            &["edit", "ops/redis", "--password-stdin"],
            Some("set-by-alice\n"),
            0,
            Show::All,
        )?;
        demo.step(
            "carol",
            &["edit", "ops/redis", "--password-stdin"],
            Some("set-by-carol\n"),
            0,
            Show::All,
        )?;
        demo.sync("carol")?;
        demo.sync("alice")?;
        demo.sync("carol")?;
        outln!(
            "\n(both revisions are kept; everyone is shown the same one, by a fixed rule, with a warning)"
        );
        demo.step("carol", &["get", "ops/redis"], None, 0, Show::Size)?;
        demo.step(
            "alice",
            &["edit", "ops/redis", "--generate"],
            None,
            0,
            Show::All,
        )?;
        demo.sync("alice")?;
    }

    demo.say("bob leaves: one command revokes him completely")?;
    let before = segments(&demo.vault("alice"))?;
    if demo.git {
        outln!(
            "\n(meanwhile carol, offline, adds a login for @devops — before she has seen bob's removal)"
        );
        demo.step(
            "carol",
            &["add", "ops/queue", "--generate", "--share-with", "@devops"],
            None,
            0,
            Show::All,
        )?;
    }
    demo.step("alice", &["member", "rm", "bob"], None, 0, Show::All)?;
    demo.sync("alice")?;
    demo.sync("carol")?;
    demo.sync("alice")?;
    demo.sync("bob")?;
    demo.step("bob", &["ls"], None, 5, Show::All)?;
    demo.step("carol", &["get", "ops/redis"], None, 0, Show::Size)?;
    demo.step("alice", &["group", "ls"], None, 0, Show::All)?;
    if demo.git {
        outln!(
            "\n(carol's offline write was concurrent with the removal: audit flags it for a change at its source)"
        );
        demo.step("alice", &["audit"], None, 0, Show::All)?;
    }

    demo.say("the yearly review: alice marks what she checked and signs an evidence pack")?;
    demo.step("alice", &["review"], None, 0, Show::All)?;
    demo.step(
        "alice",
        &[
            "review",
            "--mark",
            "--all-under",
            "ops/",
            "--note",
            "checked with the ops team",
        ],
        None,
        0,
        Show::All,
    )?;
    let pack = demo.dir.join("evidence-2026");
    let pack = pack.to_string_lossy();
    demo.step(
        "alice",
        &["report", "evidence", "--out", &pack],
        None,
        0,
        Show::All,
    )?;
    demo.step(
        "alice",
        &["report", "verify-evidence", &pack],
        None,
        0,
        Show::All,
    )?;

    demo.say("the vault checks itself: tampering and rollback are caught")?;
    demo.step("alice", &["verify"], None, 0, Show::All)?;
    demo.step("alice", &["info"], None, 0, Show::All)?;
    let tampered = demo.dir.join("tampered.vault");
    std::fs::create_dir_all(&tampered)?;
    let mut newest = None;
    for name in segments(&demo.vault("alice"))? {
        std::fs::copy(demo.vault("alice").join(&name), tampered.join(&name))?;
        if !before.contains(&name) {
            newest = Some(name);
        }
    }
    if let Some(name) = &newest {
        let path = tampered.join(name);
        let mut bytes = std::fs::read(&path)?;
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        std::fs::write(&path, &bytes)?;
    }
    outln!("\n(one bit flipped in a segment of a copy of the vault)");
    demo.step(
        "alice",
        &["--vault", &tampered.to_string_lossy(), "verify"],
        None,
        6,
        Show::All,
    )?;
    let carol_vault = demo.vault("carol");
    let moved = demo.dir.join("held-back");
    std::fs::create_dir_all(&moved)?;
    let removal: Vec<String> = segments(&carol_vault)?
        .into_iter()
        .filter(|n| !before.contains(n))
        .collect();
    for name in &removal {
        std::fs::rename(carol_vault.join(name), moved.join(name))?;
    }
    outln!("\n(the segments written since before bob's removal deleted from carol's copy)");
    demo.step("carol", &["ls"], None, 6, Show::All)?;
    if demo.git {
        demo.git(
            "carol",
            &demo.home("carol").join("secrets"),
            &["checkout", "--", "."],
        )?;
        for name in &removal {
            if !carol_vault.join(name).exists() {
                std::fs::rename(moved.join(name), carol_vault.join(name))?;
            }
        }
        demo.step("carol", &["ls"], None, 0, Show::All)?;
    } else {
        for name in &removal {
            std::fs::rename(moved.join(name), carol_vault.join(name))?;
        }
    }

    demo.say("carol unlocks her agent once; then no passphrase, for reads and writes alike")?;
    demo.step("carol", &["unlock", "--timeout", "5m"], None, 0, Show::All)?;
    let agent = Agent {
        demo: &demo,
        who: "carol",
    };
    demo.step_no_passphrase("carol", &["get", "ops/redis"], 0, Show::Size)?;
    demo.step_no_passphrase(
        "carol",
        &["add", "carol/vpn", "--generate", "--username", "carol"],
        0,
        Show::All,
    )?;
    demo.step_no_passphrase("carol", &["agent", "status"], 0, Show::All)?;
    demo.step_no_passphrase("carol", &["lock"], 0, Show::All)?;
    std::mem::forget(agent);
    demo.step_no_passphrase("carol", &["get", "ops/redis"], 3, Show::All)?;

    demo.say("passwords and passphrases on demand")?;
    demo.step("alice", &["gen", "--words", "6"], None, 0, Show::All)?;

    outln!("\ndemo finished; {} is removed", dir.path().display());
    Ok(())
}

/// Locks `who`'s agent when dropped: a demo that fails half-way leaves no agent behind.
struct Agent<'a> {
    demo: &'a Demo,
    who: &'a str,
}

impl Drop for Agent<'_> {
    fn drop(&mut self) {
        let _ = self
            .demo
            .command(self.who, &["lock"], false)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The segment files of a vault directory, by name.
fn segments(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let name = e?.file_name().to_string_lossy().into_owned();
        if name.ends_with(".seg") {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}
