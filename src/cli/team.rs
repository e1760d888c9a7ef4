//! Team commands: `member`, `join`, `group`, `share`, `unshare`, `access`.

use std::io::{IsTerminal, Write as _};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use amanat::format::{ADMINS_GROUP, Principal, Role};
use amanat::identity as id;
use amanat::invite::Invite;
use amanat::vault::Vault;

use super::exit::{Exit, fail};
use super::identity::unlock;
use super::input;
use super::output::{columns, print_json, sanitize};
use super::paths::Paths;
use super::vault::load;

/// `member` subcommands.
#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a member by their amanat1… public key; prints an invite line for them
    #[command(
        after_help = "Example:\n  amanat member add bob amanat1qq… --fingerprint 3F2A-9C01-…"
    )]
    Add(MemberAddArgs),
    /// List members
    #[command(after_help = "Example:\n  amanat member ls --json")]
    Ls(super::JsonArgs),
    /// Revoke a member: rotate their groups' keys, re-key every entry they could read,
    /// and print those entries (path, URL, username, password or password+totp) to change at their source
    #[command(after_help = "Example:\n  amanat member rm bob > rotate-at-source.tsv")]
    Rm(NameArg),
    /// Replace a member's keys (a new laptop, a lost passphrase) without revoking them:
    /// their name, groups, grants and shares stay; their groups' keys rotate and what
    /// they read is re-keyed to the new key
    #[command(
        after_help = "Examples:\n  amanat member rekey carol amanat-rekey1qq… --fingerprint 3F2A-9C01-…   # carol ran 'amanat identity proof'\n  amanat member rekey carol amanat-rekey1qq… --fingerprint 3F2A-… --compromised > rotate-at-source.tsv"
    )]
    Rekey(MemberRekeyArgs),
    /// Change a member's role; `owner` offers ownership to an admin (the owner only)
    #[command(
        after_help = "Examples:\n  amanat member role carol admin\n  amanat member role carol owner    # carol then runs: amanat member accept-ownership"
    )]
    Role(RoleArgs),
    /// Accept the ownership the owner offered you: you become the owner, they an admin
    #[command(
        name = "accept-ownership",
        after_help = "Example:\n  amanat member accept-ownership"
    )]
    AcceptOwnership,
}

/// `member add` arguments.
#[derive(Debug, Args)]
pub struct MemberAddArgs {
    /// Their name in this vault (no spaces)
    pub name: String,
    /// Their public key, as `amanat identity show` prints it
    pub pubkey: String,
    /// Make them an admin (they can read every entry)
    #[arg(long)]
    pub admin: bool,
    /// The fingerprint they read to you, to confirm without a prompt
    #[arg(long, value_name = "FP")]
    pub fingerprint: Option<String>,
}

/// `member rekey` arguments.
#[derive(Debug, Args)]
pub struct MemberRekeyArgs {
    /// Their name in this vault
    pub name: String,
    /// Their new key with its proof: the amanat-rekey1… line `amanat identity proof`
    /// printed for them
    pub pubkey: String,
    /// The fingerprint they read to you, to confirm without a prompt
    #[arg(long, value_name = "FP")]
    pub fingerprint: Option<String>,
    /// Their old key may be in someone else's hands: also flag every entry it could
    /// read for rotation at source (as `member rm` does)
    #[arg(long)]
    pub compromised: bool,
}

/// A member's name.
#[derive(Debug, Args)]
pub struct NameArg {
    /// Member name
    pub name: String,
}

/// Roles that can be given.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// Administers the roster and reads every entry
    Admin,
    /// Reads what is shared with them
    Member,
    /// Offers ownership (to an admin; they accept with `member accept-ownership`)
    Owner,
}

/// `member role` arguments.
#[derive(Debug, Args)]
pub struct RoleArgs {
    /// Member name
    pub name: String,
    /// New role
    pub role: RoleArg,
}

/// `adopt` arguments.
#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// Ids of void records (full hex, or a unique prefix as `verify` prints them)
    #[arg(required = true, value_name = "RECORD-ID")]
    pub records: Vec<String>,
}

/// `join` arguments.
#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The amanat-invite1… line your admin gave you
    pub invite: String,
}

/// `group` subcommands.
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a group
    #[command(after_help = "Example:\n  amanat group create devops")]
    Create(GroupCreateArgs),
    /// Add members to a group (they receive its key)
    #[command(after_help = "Example:\n  amanat group add devops bob carol")]
    Add(GroupMembersArgs),
    /// Remove members from a group (its key rotates)
    #[command(after_help = "Example:\n  amanat group remove devops bob")]
    Remove(GroupMembersArgs),
    /// List groups and their members
    #[command(after_help = "Example:\n  amanat group ls --json")]
    Ls(super::JsonArgs),
}

/// `group create` arguments.
#[derive(Debug, Args)]
pub struct GroupCreateArgs {
    /// Group name (without @)
    pub name: String,
    /// Initial members
    pub members: Vec<String>,
}

/// `group add|remove` arguments.
#[derive(Debug, Args)]
pub struct GroupMembersArgs {
    /// Group name (with or without @)
    pub group: String,
    /// Member names
    #[arg(required = true)]
    pub members: Vec<String>,
}

/// `share` arguments.
#[derive(Debug, Args)]
pub struct ShareArgs {
    /// Entry path
    pub path: String,
    /// A member (NAME) or a group (@GROUP)
    #[arg(long, value_name = "NAME|@GROUP")]
    pub with: String,
    /// Let them write new revisions too
    #[arg(long)]
    pub write: bool,
}

/// `unshare` arguments.
#[derive(Debug, Args)]
pub struct UnshareArgs {
    /// Entry path
    pub path: String,
    /// A member (NAME) or a group (@GROUP)
    #[arg(long, value_name = "NAME|@GROUP")]
    pub from: String,
}

/// `access` arguments.
#[derive(Debug, Args)]
pub struct AccessArgs {
    /// Entry path
    pub path: String,
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
}

/// `NAME` or `@GROUP` to a principal.
pub fn principal(vault: &Vault, name: &str) -> anyhow::Result<Principal> {
    Ok(vault.principal_named(name)?)
}

fn role_of(arg: RoleArg) -> Role {
    match arg {
        RoleArg::Admin => Role::Admin,
        RoleArg::Member => Role::Member,
        RoleArg::Owner => Role::Owner,
    }
}

/// Ask on the controlling terminal and read one line, echoed (a confirmation is not a
/// secret: the person should see what they typed).
fn ask_visible(prompt: &str) -> anyhow::Result<String> {
    use std::io::{BufRead, Write};
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    let mut out = &tty;
    out.write_all(prompt.as_bytes())?;
    out.flush()?;
    let mut line = String::new();
    std::io::BufReader::new(&tty).read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Check the fingerprint of the exact keys about to be used: against `--fingerprint`
/// (a mismatch is exit 6 and never shows the key's own fingerprint, so it cannot be
/// copied), or by asking on the terminal.
fn confirm_fingerprint(
    name: &str,
    keys: &amanat::format::PublicKeys,
    typed: Option<&str>,
    doing: &str,
) -> anyhow::Result<()> {
    let fp = id::fingerprint(keys);
    match typed {
        Some(typed) if id::fingerprint_matches(keys, typed) => Ok(()),
        Some(_) => fail(
            Exit::Integrity,
            "the fingerprint does not match this key",
            "do not use this key: ask the person to read their fingerprint again ('amanat identity show')",
        ),
        None if input::has_tty() => {
            eprintln!("{doing} '{}' with key fingerprint {fp}", sanitize(name));
            eprintln!(
                "compare it with {}'s own 'amanat identity show' (in person or by phone)",
                sanitize(name)
            );
            let answer = ask_visible("type 'yes' if it matches: ")?;
            if answer.trim() != "yes" {
                return fail(
                    Exit::Other,
                    "not confirmed; nothing was changed",
                    "run again once the fingerprints match",
                );
            }
            Ok(())
        }
        None => fail(
            Exit::Usage,
            "cannot confirm the fingerprint without a terminal",
            "pass --fingerprint with the fingerprint they read to you",
        ),
    }
}

/// A progress bar on stderr for long re-keying (shown on a terminal, from 50 entries).
pub fn progress_bar(tty: bool) -> impl FnMut(usize, usize) {
    move |done: usize, total: usize| {
        if tty && total >= 50 && (done.is_multiple_of(25) || done == total) {
            let width = 30;
            let filled = done * width / total.max(1);
            eprint!(
                "\rre-keying [{}{}] {done}/{total}",
                "#".repeat(filled),
                " ".repeat(width - filled)
            );
            if done == total {
                eprintln!();
            }
            let _ = std::io::stderr().flush();
        }
    }
}

/// `member rekey`: replace a member's keys with the new key its holder proved.
pub fn member_rekey(paths: &Paths, args: MemberRekeyArgs) -> anyhow::Result<()> {
    if id::parse_public_key_text(&args.pubkey).is_ok() {
        return fail(
            Exit::Usage,
            format!(
                "replacing {}'s keys needs proof that they hold the new key, not the bare amanat1… key",
                sanitize(&args.name)
            ),
            format!(
                "ask {} to run 'amanat identity proof' with the new identity and this vault, and send you the amanat-rekey1… line it prints",
                sanitize(&args.name)
            ),
        );
    }
    let proof = id::KeyProof::parse(&args.pubkey)?;
    let fp = id::fingerprint(&proof.keys);
    confirm_fingerprint(
        &args.name,
        &proof.keys,
        args.fingerprint.as_deref(),
        "giving",
    )?;
    if !proof.verifies() {
        return fail(
            Exit::Integrity,
            "the key proof does not verify (forged or damaged)",
            "do not use it: ask them to run 'amanat identity proof' again",
        );
    }
    let identity = unlock(paths)?;
    let tty = std::io::stderr().is_terminal();
    let mut progress = progress_bar(tty);
    let (vault, done) = super::vault::write(paths, |vault| -> anyhow::Result<_> {
        if proof.vault != vault.id() {
            return fail(
                Exit::Usage,
                "this key proof is for another vault",
                "ask them to run 'amanat identity proof' with this vault (--vault)",
            );
        }
        let m = vault.member_named(&args.name)?;
        if proof.member != m.id {
            return fail(
                Exit::Usage,
                format!(
                    "this key proof is for another member, not '{}'",
                    sanitize(&args.name)
                ),
                "ask them to run 'amanat identity proof --member NAME' with their name in this vault",
            );
        }
        Ok(vault.replace_member_keys(
            &identity,
            &args.name,
            proof.keys,
            &proof.signature,
            args.compromised,
            &mut progress,
        )?)
    })?;
    eprintln!(
        "replaced {}'s keys (new fingerprint {fp}): {} group key(s) rotated, {} entr{} re-keyed; their old key opens nothing written from now on",
        sanitize(&args.name),
        done.rotated,
        done.rekeyed,
        if done.rekeyed == 1 { "y" } else { "ies" }
    );
    if args.compromised {
        eprintln!(
            "their old key may have been used to read these secrets (the last column says which): change each where it is used, then update it here (amanat edit PATH --generate, and --totp for a new TOTP seed); 'amanat audit' lists each until then:"
        );
        print_rotate_list(&done.rotate_at_source)?;
    }
    let invite = Invite {
        vault: vault.id(),
        heads: vault.heads(),
    };
    eprintln!("on a new machine, they run 'amanat join' with this invite line:");
    outln!("{}", invite.encode());
    Ok(())
}

/// `member add`.
pub fn member_add(paths: &Paths, mut args: MemberAddArgs) -> anyhow::Result<()> {
    args.name = amanat::vault::check_name(&args.name)?;
    // The fingerprint shown or checked is computed from this very object, which is
    // the one the records will carry and every wrap will target.
    let keys = id::parse_public_key_text(&args.pubkey)?;
    let fp = id::fingerprint(&keys);
    match &args.fingerprint {
        Some(typed) if id::fingerprint_matches(&keys, typed) => {}
        Some(_) => {
            return fail(
                Exit::Integrity,
                format!("the fingerprint does not match this key (its fingerprint is {fp})"),
                "do not add this key: ask the person to read their fingerprint again ('amanat identity show')",
            );
        }
        None if input::has_tty() => {
            eprintln!(
                "adding '{}' with key fingerprint {fp}",
                sanitize(&args.name)
            );
            eprintln!(
                "compare it with {}'s own 'amanat identity show' (in person or by phone)",
                sanitize(&args.name)
            );
            let answer = ask_visible("type 'yes' if it matches: ")?;
            if answer.trim() != "yes" {
                return fail(
                    Exit::Other,
                    "not confirmed; nothing was changed",
                    "run again once the fingerprints match",
                );
            }
        }
        None => {
            return fail(
                Exit::Usage,
                "cannot confirm the fingerprint without a terminal",
                format!(
                    "pass --fingerprint with the fingerprint they read to you (this key's is {fp})"
                ),
            );
        }
    }
    let identity = unlock(paths)?;
    let role = if args.admin {
        Role::Admin
    } else {
        Role::Member
    };
    let (vault, _) = super::vault::write(paths, |vault| -> anyhow::Result<()> {
        vault.add_member(&identity, &args.name, keys, role)?;
        Ok(())
    })?;
    let invite = Invite {
        vault: vault.id(),
        heads: vault.heads(),
    };
    eprintln!(
        "added '{}' as {} (fingerprint {fp}); give them this invite line for 'amanat join':",
        sanitize(&args.name),
        role.as_str()
    );
    outln!("{}", invite.encode());
    Ok(())
}

/// `member ls`.
pub fn member_ls(paths: &Paths, args: super::JsonArgs) -> anyhow::Result<()> {
    let vault = load(paths)?;
    let members: Vec<_> = vault.members().filter(|m| m.active).collect();
    if args.json {
        let items: Vec<_> = members
            .iter()
            .map(|m| {
                json!({
                    "name": m.name,
                    "id": m.id.to_hex(),
                    "role": m.role.as_str(),
                    "public_key": id::public_key_text(&m.keys),
                    "fingerprint": id::fingerprint(&m.keys),
                })
            })
            .collect();
        return print_json(&json!(items));
    }
    for m in members {
        outln!(
            "{}",
            columns(&[
                &sanitize(&m.name),
                m.role.as_str(),
                &id::fingerprint(&m.keys)
            ])
        );
    }
    Ok(())
}

/// `member rm`: revocation.
pub fn member_rm(paths: &Paths, args: NameArg) -> anyhow::Result<()> {
    let identity = unlock(paths)?;
    let tty = std::io::stderr().is_terminal();
    let mut progress = progress_bar(tty);
    let (_, listed) = super::vault::write(paths, |vault| -> anyhow::Result<_> {
        Ok(vault.revoke_member(&identity, &args.name, &mut progress)?)
    })?;
    eprintln!(
        "removed '{}'; keys rotated and {} entr{} re-keyed. They may have seen these secrets (the last column says which): change each where it is used, then update it here (amanat edit PATH --generate, and --totp for a new TOTP seed); 'amanat audit' lists each until then:",
        sanitize(&args.name),
        listed.len(),
        if listed.len() == 1 { "y" } else { "ies" }
    );
    print_rotate_list(&listed)
}

/// The rotate-at-source list: `path<TAB>url<TAB>username<TAB>what` lines, `what`
/// being `password` or `password+totp` (docs/cli.md).
fn print_rotate_list(listed: &[amanat::vault::RotateAtSource]) -> anyhow::Result<()> {
    for r in listed {
        let what = if r.what.contains("TOTP") {
            "password+totp"
        } else {
            "password"
        };
        outln!(
            "{}\t{}\t{}\t{what}",
            sanitize(&r.path),
            sanitize(&r.url),
            sanitize(&r.username)
        );
    }
    Ok(())
}

/// `member role`.
pub fn member_role(paths: &Paths, args: RoleArgs) -> anyhow::Result<()> {
    let identity = unlock(paths)?;
    let role = role_of(args.role);
    super::vault::write(paths, |vault| -> anyhow::Result<()> {
        vault.change_role(&identity, &args.name, role)?;
        Ok(())
    })?;
    if role == Role::Owner {
        outln!(
            "offered ownership to {}; it moves when they run 'amanat member accept-ownership'",
            sanitize(&args.name)
        );
    } else {
        outln!("{} is now {}", sanitize(&args.name), role.as_str());
    }
    Ok(())
}

/// `adopt`.
pub fn adopt(paths: &Paths, args: AdoptArgs) -> anyhow::Result<()> {
    let identity = unlock(paths)?;
    let (_, done) = super::vault::write(paths, |vault| -> anyhow::Result<Vec<String>> {
        let mut done = Vec::new();
        for wanted in &args.records {
            let wanted = wanted.to_ascii_lowercase();
            let matches: Vec<amanat::format::RecordId> = vault
                .adoptable()
                .into_iter()
                .map(|(id, _)| id)
                .filter(|id| id.to_hex().starts_with(&wanted))
                .collect();
            let id = match matches.as_slice() {
                [id] => *id,
                [] => {
                    return fail(
                        Exit::NotFound,
                        format!("no adoptable record '{}'", sanitize(&wanted)),
                        "run 'amanat verify': it lists the void records and why",
                    );
                }
                _ => {
                    return fail(
                        Exit::Usage,
                        format!("record id prefix '{}' is ambiguous", sanitize(&wanted)),
                        "give more of the id",
                    );
                }
            };
            let what = vault.adopt(&identity, &id)?;
            done.push(format!("adopted {}: {}", id.short(), sanitize(&what)));
        }
        Ok(done)
    })?;
    for line in done {
        outln!("{line}");
    }
    Ok(())
}

/// `member accept-ownership`.
pub fn accept_ownership(paths: &Paths) -> anyhow::Result<()> {
    let identity = unlock(paths)?;
    let (_, team) = super::vault::write(paths, |vault| -> anyhow::Result<String> {
        vault.accept_ownership(&identity)?;
        Ok(vault.team().to_string())
    })?;
    outln!(
        "you are now the owner of {}; keep this identity backed up and offline",
        sanitize(&team)
    );
    Ok(())
}

/// `join`: pin the vault id and heads from an invite.
pub fn join(paths: &Paths, args: JoinArgs) -> anyhow::Result<()> {
    let invite = match Invite::decode(&args.invite) {
        Ok(i) => i,
        Err(e) => {
            return fail(
                Exit::Usage,
                format!("invalid invite: {e}"),
                "copy the whole amanat-invite1… line",
            );
        }
    };
    let store = paths.store();
    store.pin_invite(&invite)?;
    outln!("pinned vault {}", invite.vault.to_hex());
    if !store.exists() {
        eprintln!(
            "put the team's vault file at {} (or use --vault); it will be checked against this invite",
            paths.vault.display()
        );
        return Ok(());
    }
    let vault = load(paths)?;
    if vault.id() != invite.vault {
        return fail(
            Exit::Integrity,
            format!(
                "the vault at {} is {}, not the invited vault",
                paths.vault.display(),
                vault.id().short()
            ),
            "point --vault at the team's vault file",
        );
    }
    let bytes = amanat::store::read_identity(&paths.identity)?;
    let me = id::inspect(&bytes)?;
    match vault.members().find(|m| m.active && m.keys == me.keys) {
        Some(m) => eprintln!(
            "joined team '{}' as {} ({})",
            sanitize(vault.team()),
            sanitize(&m.name),
            m.role.as_str()
        ),
        None => eprintln!(
            "your identity is not (yet) a member of this vault; ask the admin who invited you"
        ),
    }
    Ok(())
}

/// `group create`.
pub fn group_create(paths: &Paths, args: GroupCreateArgs) -> anyhow::Result<()> {
    let name = amanat::vault::check_name(args.name.trim_start_matches('@'))?;
    let identity = unlock(paths)?;
    super::vault::write(paths, |vault| -> anyhow::Result<()> {
        vault.create_group(&identity, &name, &args.members)?;
        Ok(())
    })?;
    outln!("created @{}", sanitize(&name));
    Ok(())
}

/// `group add` / `group remove`.
pub fn group_members(paths: &Paths, args: GroupMembersArgs, add: bool) -> anyhow::Result<()> {
    let identity = unlock(paths)?;
    let group = args.group.trim_start_matches('@').to_string();
    super::vault::write(paths, |vault| -> anyhow::Result<()> {
        if add {
            vault.group_add(&identity, &group, &args.members)?;
        } else {
            vault.group_remove(&identity, &group, &args.members)?;
        }
        Ok(())
    })?;
    let names = args
        .members
        .iter()
        .map(|m| sanitize(m).into_owned())
        .collect::<Vec<_>>()
        .join(", ");
    if add {
        outln!("added {names} to @{}", sanitize(&group));
    } else {
        outln!(
            "removed {names} from @{}; its key was rotated",
            sanitize(&group)
        );
    }
    Ok(())
}

/// `group ls`.
pub fn group_ls(paths: &Paths, args: super::JsonArgs) -> anyhow::Result<()> {
    let vault = load(paths)?;
    let name_of = |id: &amanat::format::MemberId| {
        vault
            .members()
            .find(|m| m.id == *id)
            .map(|m| m.name.clone())
            .unwrap_or_default()
    };
    // `@admins` first, then by name; members by name.
    let mut groups: Vec<_> = vault.groups().collect();
    groups.sort_by(|a, b| {
        (a.id != ADMINS_GROUP, &a.name, a.id).cmp(&(b.id != ADMINS_GROUP, &b.name, b.id))
    });
    let sorted_names = |g: &amanat::vault::Group| {
        let mut names: Vec<String> = g.members.iter().map(name_of).collect();
        names.sort();
        names
    };
    if args.json {
        let items: Vec<_> = groups
            .iter()
            .map(|g| {
                json!({
                    "name": g.name,
                    "id": g.id.to_hex(),
                    "builtin": g.id == ADMINS_GROUP,
                    "members": sorted_names(g),
                    "key_id": g.key_id.to_hex(),
                })
            })
            .collect();
        return print_json(&json!(items));
    }
    for g in groups {
        let members: Vec<String> = sorted_names(g)
            .iter()
            .map(|m| sanitize(m).into_owned())
            .collect();
        outln!(
            "{}",
            columns(&[&format!("@{}", sanitize(&g.name)), &members.join(",")])
        );
    }
    Ok(())
}

/// Warn when the entry `share` and `unshare` act on at `path` shadows others (they
/// open it again, by the same rule).
fn warn_shadowed(vault: &Vault, identity: &dyn id::Keyholder, path: &str) -> anyhow::Result<()> {
    let entry = vault.session(identity)?.open(path)?;
    super::entry::warn_shadowed(vault, &entry);
    Ok(())
}

/// `share`.
pub fn share(paths: &Paths, args: ShareArgs) -> anyhow::Result<()> {
    let identity = unlock(paths)?;
    super::vault::write(paths, |vault| -> anyhow::Result<()> {
        let p = principal(vault, &args.with)?;
        warn_shadowed(vault, &identity, &args.path)?;
        vault.share(&identity, &args.path, p, args.write)?;
        Ok(())
    })?;
    outln!(
        "shared {} with {}{}",
        sanitize(&args.path),
        sanitize(&args.with),
        if args.write { " (read and write)" } else { "" }
    );
    Ok(())
}

/// `unshare`.
pub fn unshare(paths: &Paths, args: UnshareArgs) -> anyhow::Result<()> {
    let identity = unlock(paths)?;
    super::vault::write(paths, |vault| -> anyhow::Result<()> {
        let p = principal(vault, &args.from)?;
        warn_shadowed(vault, &identity, &args.path)?;
        vault.unshare(&identity, &args.path, p)?;
        Ok(())
    })?;
    outln!(
        "unshared {} from {}; the entry key was rotated",
        sanitize(&args.path),
        sanitize(&args.from)
    );
    eprintln!(
        "they may have seen its secrets: change the password (and TOTP seed) where it is used if they should no longer know them; 'amanat audit' lists it until then"
    );
    Ok(())
}

/// `access`: who can read and write an entry, and through what.
pub fn access(paths: &Paths, args: AccessArgs) -> anyhow::Result<()> {
    let vault = load(paths)?;
    let identity = unlock(paths)?;
    let session = vault.session(&identity)?;
    let entry = session.open(&args.path)?;
    super::entry::warn_shadowed(&vault, &entry);
    let rows = session.access(&entry);
    if args.json {
        let items: Vec<_> = rows
            .iter()
            .map(|r| json!({"member": r.member, "role": r.role.as_str(), "access": if r.write { "write" } else { "read" }, "via": r.via}))
            .collect();
        return print_json(
            &json!({"path": entry.payload.path, "id": entry.id.to_hex(), "access": items}),
        );
    }
    for r in rows {
        outln!(
            "{}",
            columns(&[
                &sanitize(&r.member),
                if r.write { "write" } else { "read" },
                &sanitize(&r.via.join(","))
            ])
        );
    }
    Ok(())
}
