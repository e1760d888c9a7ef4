//! The command line: clap definitions, dispatch, and the turning of parsed arguments
//! into the core's calls. Binary-only (declared from `main.rs`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// `println!` that returns broken pipes and other write errors (with `?`) instead of
/// panicking. Defined before the modules so they all see it.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

pub mod agent;
pub mod audit;
pub mod clip;
pub mod demo;
pub mod entry;
pub mod evidence;
pub mod exit;
pub mod git;
pub mod history;
pub mod identity;
pub mod import;
pub mod input;
pub mod otp;
pub mod output;
pub mod paths;
pub mod review;
pub mod run;
pub mod sync;
pub mod team;
pub mod uselog;
pub mod vault;

pub use exit::Exit;

/// amanat — an encrypted team password manager for the terminal.
#[derive(Debug, Parser)]
#[command(
    name = "amanat",
    version,
    about,
    after_help = "Example:\n  amanat identity new --name alice && amanat init --name acme\n  \
                  printf 'S3cret\\n' | amanat add web/github --username alice --password-stdin\n  \
                  amanat get web/github | wl-copy"
)]
pub struct Cli {
    /// Vault directory (segment files) [default: $XDG_DATA_HOME/amanat/vault]
    #[arg(long, global = true, env = "AMANAT_VAULT", value_name = "PATH")]
    pub vault: Option<PathBuf>,
    /// Identity file [default: $XDG_CONFIG_HOME/amanat/identity.amanat]
    #[arg(long, global = true, env = "AMANAT_IDENTITY", value_name = "PATH")]
    pub identity: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, show, re-seal, rotate, back up or restore your identity (your key pairs)
    #[command(
        subcommand,
        after_help = "Examples:\n  amanat identity new --name alice\n  amanat identity show"
    )]
    Identity(IdentityCommand),
    /// Create a new vault; you become its owner
    #[command(after_help = "Example:\n  amanat init --name acme")]
    Init(InitArgs),
    /// Show the vault id, team, member count and your role
    #[command(after_help = "Example:\n  amanat info --json")]
    Info(JsonArgs),
    /// Check every record, signature and authority rule (exit 6 on failure)
    #[command(after_help = "Example:\n  amanat verify && echo intact")]
    Verify,
    /// Owner: re-issue the changes of records void only because they were concurrent
    /// with a removal, demotion, key replacement or hand-over (`verify` lists them)
    #[command(
        after_help = "Example:\n  amanat verify            # lists 'ignored  ID  concurrent with …'\n  amanat adopt 3f2a9c01"
    )]
    Adopt(team::AdoptArgs),
    /// Take in the records of another copy of the vault (a vault directory, a segment,
    /// an old single-file vault, a sync-conflict copy), verified, as one new segment
    #[command(
        after_help = "Examples:\n  amanat merge ~/Sync/acme.vault.sync-conflict-20261207/\n  amanat --vault ~/acme.vault merge ~/old/vault.amanat   # make a vault directory of an old file"
    )]
    Merge(sync::MergeArgs),
    /// Share the vault through git: commit new segments, fetch, verify, merge, push
    /// (never a conflict, never a force-push)
    #[command(after_help = "Examples:\n  amanat sync\n  amanat sync --remote backup --no-push")]
    Sync(sync::SyncArgs),
    /// Compact the vault directory: pack small segments into one (also automatic past
    /// 64 segments); replaced segments are deleted after a grace period (a day)
    #[command(after_help = "Example:\n  amanat gc && amanat sync")]
    Gc,
    /// Bring logins in from pass, Bitwarden, 1Password, Chrome, Firefox or a CSV, as one
    /// write (docs/import.md)
    #[command(after_help = "Examples:\n  \
        amanat import pass ~/.password-store --prefix legacy/\n  \
        amanat import bitwarden bitwarden_export.json --dry-run\n  \
        amanat import csv logins.csv --map name=Title,username=Login,password=Pass,url=Site")]
    Import(import::ImportArgs),
    /// Write every entry you can read, in plain text, for another password manager
    #[command(
        after_help = "Example:\n  amanat export --format bitwarden-json --plaintext -o out.json"
    )]
    Export(import::ExportArgs),
    /// Add an entry
    #[command(after_help = "Examples:\n  \
        printf 'S3cret\\n' | amanat add web/github --username alice --url https://github.com --password-stdin\n  \
        amanat add db/prod --generate --length 32")]
    Add(entry::AddArgs),
    /// Change the named fields of an entry (the rest stays)
    #[command(
        after_help = "Examples:\n  amanat edit web/github --username alice2\n  amanat edit db/prod --generate"
    )]
    Edit(entry::EditArgs),
    /// Delete an entry (a signed tombstone; history is kept)
    #[command(
        after_help = "Examples:\n  amanat rm db/prod\n  amanat rm hr/secret --id 3f2a9c01   # one of several entries at the path"
    )]
    Rm(entry::PathArg),
    /// Rename an entry
    #[command(after_help = "Example:\n  amanat mv web/github web/gh")]
    Mv(entry::MvArgs),
    /// List the entries you can read, one full path a line
    #[command(after_help = "Examples:\n  amanat ls\n  amanat ls web/ --tree")]
    Ls(entry::LsArgs),
    /// Find entries whose path, username or URL contains QUERY (case-insensitive)
    #[command(after_help = "Example:\n  amanat find github")]
    Find(entry::FindArgs),
    /// Show all fields of an entry, secret fields masked unless --reveal
    #[command(
        after_help = "Examples:\n  amanat show web/github\n  amanat show web/github --reveal\n  amanat show hr/secret --id 3f2a9c01   # one of several entries at the path"
    )]
    Show(entry::ShowArgs),
    /// Print one value (default: the password); refuses a terminal unless --reveal
    #[command(
        after_help = "Examples:\n  amanat get web/github | wl-copy\n  amanat get web/github --field username\n  amanat get hr/secret --id 3f2a9c01   # one of several entries at the path"
    )]
    Get(entry::GetArgs),
    /// Copy a value to the clipboard; cleared after 45 s if unchanged (OSC 52 without a display)
    #[command(
        after_help = "Examples:\n  amanat clip web/github\n  amanat clip web/github --field username --clear-after 20"
    )]
    Clip(clip::ClipArgs),
    /// Internal: the detached process that serves and later clears a `clip` copy
    #[command(
        hide = true,
        name = "__clip-serve",
        after_help = "Example:\n  (started by 'amanat clip'; not for direct use)"
    )]
    ClipServe(clip::ServeArgs),
    /// Run a command with secrets in its environment; its output is masked
    #[command(
        after_help = "Examples:\n  amanat run --env PGPASSWORD=ops/db -- psql -h db.acme.example -U pgadmin\n  amanat run --env-file .env.amanat -- ./deploy.sh"
    )]
    Run(run::RunArgs),
    /// Print the current TOTP code of an entry (or --clip it)
    #[command(after_help = "Examples:\n  amanat otp web/github\n  amanat otp web/github --clip")]
    Otp(otp::OtpArgs),
    /// Git credential helper (git config --global credential.helper '!amanat git-credential')
    #[command(
        name = "git-credential",
        after_help = "Example:\n  git config --global credential.helper '!amanat git-credential'"
    )]
    GitCredential(git::GitCredentialArgs),
    /// Print a new random password or passphrase
    #[command(after_help = "Examples:\n  amanat gen --length 32\n  amanat gen --words 6")]
    Gen(entry::GenArgs),
    /// Members: add (with an invite), list, revoke, change role
    #[command(
        subcommand,
        after_help = "Examples:\n  amanat member add bob amanat1qq… --fingerprint 3F2A-…\n  amanat member rm bob"
    )]
    Member(team::MemberCommand),
    /// Join a vault with the invite line an admin gave you (pins the vault)
    #[command(after_help = "Example:\n  amanat join amanat-invite1qq…")]
    Join(team::JoinArgs),
    /// Groups: create, add and remove members, list
    #[command(
        subcommand,
        after_help = "Examples:\n  amanat group create devops\n  amanat group add devops bob carol"
    )]
    Group(team::GroupCommand),
    /// Share an entry with a member or a group
    #[command(
        after_help = "Examples:\n  amanat share ops/db --with bob\n  amanat share ops/db --with @devops --write"
    )]
    Share(team::ShareArgs),
    /// Stop sharing an entry (rotates the entry key)
    #[command(after_help = "Example:\n  amanat unshare ops/db --from bob")]
    Unshare(team::UnshareArgs),
    /// Who can read and write an entry, and through what
    #[command(after_help = "Example:\n  amanat access ops/db")]
    Access(team::AccessArgs),
    /// The signed history: who changed what, when (paths of the entries you can read)
    #[command(
        after_help = "Examples:\n  amanat log --since 7d\n  amanat log --entry ops/db --json"
    )]
    Log(audit::LogArgs),
    /// The revisions of an entry: when, who, which fields changed (never values)
    #[command(
        after_help = "Examples:\n  amanat history web/github\n  amanat history web/github --json"
    )]
    History(history::HistoryArgs),
    /// Bring back an old revision's fields as a new revision (see 'history')
    #[command(after_help = "Example:\n  amanat restore web/github --revision 3f2a9c01")]
    Restore(history::RestoreArgs),
    /// Findings: entries to rotate at source, reused, old or stale passwords
    #[command(after_help = "Examples:\n  amanat audit\n  amanat audit --strict --max-age 365")]
    Audit(audit::AuditArgs),
    /// The yearly review: entries you answer for, when each was last reviewed; --mark
    /// records a signed review
    #[command(
        after_help = "Examples:\n  amanat review\n  amanat review --mark ops/db --note \"still used by billing\"\n  amanat review --mark --all-under ops/"
    )]
    Review(review::ReviewArgs),
    /// Reports for access reviews
    #[command(
        subcommand,
        after_help = "Examples:\n  amanat report access --format csv\n  amanat report evidence --out evidence-2026"
    )]
    Report(audit::ReportCommand),
    /// Start (or refresh) the agent: passphrase once, then every command (reads, writes,
    /// sharing, team changes, git-credential) without it until `lock` or the timeout
    #[command(after_help = "Examples:\n  amanat unlock\n  amanat unlock --timeout 2h")]
    Unlock(agent::UnlockArgs),
    /// Lock the agent now: it forgets the identity and the vault and exits
    #[command(after_help = "Example:\n  amanat lock")]
    Lock,
    /// The unlock agent: status
    #[command(subcommand, after_help = "Example:\n  amanat agent status")]
    Agent(agent::AgentCommand),
    /// Internal: the detached agent process that `unlock` starts
    #[command(
        hide = true,
        name = "__agent-serve",
        after_help = "Example:\n  (started by 'amanat unlock'; not for direct use)"
    )]
    AgentServe(agent::ServeArgs),
    /// Print a shell completion script
    #[command(
        after_help = "Example:\n  amanat completions bash > ~/.local/share/bash-completion/completions/amanat"
    )]
    Completions(CompletionsArgs),
    /// Run a scripted scenario in a temporary directory (no prompts)
    #[command(after_help = "Example:\n  cargo run --release -- demo")]
    Demo,
}

/// `identity` subcommands.
#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Make a new identity; prints the amanat1… public key and its fingerprint
    #[command(after_help = "Example:\n  amanat identity new --name alice")]
    New(identity::NewArgs),
    /// Print your amanat1… public key and fingerprint
    #[command(after_help = "Example:\n  amanat identity show --json")]
    Show(JsonArgs),
    /// Change the passphrase (re-seals the identity atomically)
    #[command(after_help = "Example:\n  amanat identity passwd")]
    Passwd(identity::PasswdArgs),
    /// Replace your key pair in this vault (signed by the old and the new key); the old
    /// identity is kept next to the file
    #[command(
        after_help = "Example:\n  amanat identity rotate     # then read teammates the new fingerprint"
    )]
    Rotate(identity::RotateArgs),
    /// Prove you hold this (new) identity's keys, for an admin's `member rekey`
    /// (a new laptop, a lost passphrase); prints an amanat-rekey1… line
    #[command(
        after_help = "Example:\n  amanat identity new --name carol && amanat identity proof   # send the line to an admin"
    )]
    Proof(identity::ProofArgs),
    /// Print your identity as armored text, still sealed under your passphrase (a backup)
    #[command(after_help = "Example:\n  amanat identity export > identity-backup.asc")]
    Export(identity::ExportArgs),
    /// Restore an exported identity (checks it opens first; asks before replacing one)
    #[command(after_help = "Example:\n  amanat identity import identity-backup.asc")]
    Import(identity::ImportArgs),
}

/// `init` arguments.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The team's name
    #[arg(long, default_value = "team")]
    pub name: String,
}

/// Just `--json`.
#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Machine-readable output (shapes in docs/guide.md)
    #[arg(long)]
    pub json: bool,
}

/// `completions` arguments.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    pub shell: clap_complete::Shell,
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> Result<(), anyhow::Error> {
    let paths = paths::Paths::resolve(cli.vault, cli.identity)?;
    match cli.command {
        Command::Identity(IdentityCommand::New(a)) => identity::new(&paths, a),
        Command::Identity(IdentityCommand::Show(a)) => identity::show(&paths, a),
        Command::Identity(IdentityCommand::Passwd(a)) => identity::passwd(&paths, a),
        Command::Identity(IdentityCommand::Rotate(a)) => identity::rotate(&paths, a),
        Command::Identity(IdentityCommand::Proof(a)) => identity::proof(&paths, a),
        Command::Identity(IdentityCommand::Export(a)) => identity::export(&paths, a),
        Command::Identity(IdentityCommand::Import(a)) => identity::import(&paths, a),
        Command::Init(a) => vault::init(&paths, a),
        Command::Info(a) => vault::info(&paths, a),
        Command::Verify => vault::verify(&paths),
        Command::Adopt(a) => team::adopt(&paths, a),
        Command::Merge(a) => sync::merge(&paths, a),
        Command::Sync(a) => sync::sync(&paths, a),
        Command::Gc => sync::gc(&paths),
        Command::Import(a) => import::import(&paths, a),
        Command::Export(a) => import::export(&paths, a),
        Command::Add(a) => entry::add(&paths, a),
        Command::Edit(a) => entry::edit(&paths, a),
        Command::Rm(a) => entry::rm(&paths, a),
        Command::Mv(a) => entry::mv(&paths, a),
        Command::Ls(a) => entry::ls(&paths, a),
        Command::Find(a) => entry::find(&paths, a),
        Command::Show(a) => entry::show(&paths, a),
        Command::Get(a) => entry::get(&paths, a),
        Command::Gen(a) => entry::gen_password(a),
        Command::Completions(a) => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            // Generate into a buffer: clap_complete panics on a write error (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(a.shell, &mut cmd, "amanat", &mut script);
            use std::io::Write as _;
            std::io::stdout().lock().write_all(&script)?;
            Ok(())
        }
        Command::Member(team::MemberCommand::Add(a)) => team::member_add(&paths, a),
        Command::Member(team::MemberCommand::Ls(a)) => team::member_ls(&paths, a),
        Command::Member(team::MemberCommand::Rm(a)) => team::member_rm(&paths, a),
        Command::Member(team::MemberCommand::Rekey(a)) => team::member_rekey(&paths, a),
        Command::Member(team::MemberCommand::Role(a)) => team::member_role(&paths, a),
        Command::Member(team::MemberCommand::AcceptOwnership) => team::accept_ownership(&paths),
        Command::Join(a) => team::join(&paths, a),
        Command::Group(team::GroupCommand::Create(a)) => team::group_create(&paths, a),
        Command::Group(team::GroupCommand::Add(a)) => team::group_members(&paths, a, true),
        Command::Group(team::GroupCommand::Remove(a)) => team::group_members(&paths, a, false),
        Command::Group(team::GroupCommand::Ls(a)) => team::group_ls(&paths, a),
        Command::Share(a) => team::share(&paths, a),
        Command::Unshare(a) => team::unshare(&paths, a),
        Command::Access(a) => team::access(&paths, a),
        Command::Log(a) => audit::log(&paths, a),
        Command::History(a) => history::history(&paths, a),
        Command::Restore(a) => history::restore(&paths, a),
        Command::Audit(a) => audit::audit(&paths, a),
        Command::Review(a) => review::review(&paths, a),
        Command::Report(audit::ReportCommand::Access(a)) => audit::report_access(&paths, a),
        Command::Report(audit::ReportCommand::Evidence(a)) => evidence::evidence(&paths, a),
        Command::Report(audit::ReportCommand::VerifyEvidence(a)) => {
            evidence::verify_evidence(&paths, a)
        }
        Command::Clip(a) => clip::clip(&paths, a),
        Command::ClipServe(a) => clip::serve(a),
        Command::Run(a) => run::run(&paths, a),
        Command::Otp(a) => otp::otp(&paths, a),
        Command::GitCredential(a) => git::git_credential(&paths, a),
        Command::Demo => demo::run(),
        Command::Unlock(a) => agent::unlock(&paths, a),
        Command::Lock => agent::lock(),
        Command::Agent(agent::AgentCommand::Status(a)) => agent::status(a),
        Command::AgentServe(a) => agent::serve(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Arguments anywhere in `cmd` that take a value and are named like a secret.
    fn secret_value_arguments(cmd: &clap::Command) -> Vec<String> {
        fn walk(cmd: &clap::Command, path: &str, found: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values())
                    || arg.get_action().takes_values();
                let id = arg.get_id().as_str().to_lowercase();
                let secretish = ["password", "passphrase", "secret", "token", "totp", "pin"]
                    .iter()
                    .any(|w| id.contains(w));
                // `--secret-field KEY` takes the field's name; the value is prompted.
                if takes_value && secretish && id != "secret_fields" {
                    found.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), found);
            }
        }
        let mut found = Vec::new();
        walk(cmd, cmd.get_name(), &mut found);
        found
    }

    /// SECURITY.md item 12: no flag or positional argument takes a secret value.
    #[test]
    fn no_argument_takes_a_secret_value() {
        let found = secret_value_arguments(&Cli::command());
        assert!(
            found.is_empty(),
            "arguments that take a secret value: {found:?}"
        );
    }

    #[test]
    fn secret_value_check_catches_a_password_flag() {
        let bad = clap::Command::new("x")
            .subcommand(clap::Command::new("add").arg(clap::Arg::new("password").long("password")));
        assert_eq!(
            secret_value_arguments(&bad),
            vec!["x add password".to_string()]
        );
    }

    #[test]
    fn every_subcommand_has_an_example() {
        fn walk(cmd: &clap::Command, missing: &mut Vec<String>) {
            for sub in cmd.get_subcommands() {
                if sub.has_subcommands() {
                    walk(sub, missing);
                }
                if !sub
                    .get_after_help()
                    .is_some_and(|h| h.to_string().contains("Example"))
                {
                    missing.push(sub.get_name().to_string());
                }
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), &mut missing);
        missing.retain(|n| n != "help");
        assert!(
            missing.is_empty(),
            "subcommands without an example: {missing:?}"
        );
    }
}
