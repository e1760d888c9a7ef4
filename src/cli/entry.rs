//! Entry commands: `add`, `edit`, `rm`, `mv`, `ls`, `find`, `show`, `get`, `gen`.

use clap::Args;
use serde_json::json;

use amanat::crypto::SecretString;
use amanat::format::{CustomField, EntryPayload, Principal, RecordId};
use amanat::passgen::{self, CharClasses};
use amanat::vault::{self, EntryDraft, OpenEntry, Vault};

use super::exit::{Exit, fail};
use super::identity::unlock;
use super::input;
use super::output::{columns, format_time, print_json, sanitize, stdout_is_tty};
use super::paths::Paths;
use super::vault::load;

const MASK: &str = "********";

/// How a new password is chosen.
#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// Generate the password (24 random characters unless --length or --words)
    #[arg(long, conflicts_with = "password_stdin")]
    pub generate: bool,
    /// With --generate: this many random characters (8–256)
    #[arg(
        long,
        value_name = "N",
        requires = "generate",
        conflicts_with = "words"
    )]
    pub length: Option<usize>,
    /// With --generate: this many diceware words from the EFF large list (3–32)
    #[arg(long, value_name = "N", requires = "generate")]
    pub words: Option<usize>,
    /// Read the password from the first line of stdin
    #[arg(long)]
    pub password_stdin: bool,
}

/// Fields shared by `add` and `edit`.
#[derive(Debug, Args)]
pub struct FieldArgs {
    /// Login name
    #[arg(long, value_name = "U")]
    pub username: Option<String>,
    /// Where the login is used
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Free-text note (not secret on input: never put a secret here)
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// A custom, non-secret field (repeatable)
    #[arg(long = "field", value_name = "KEY=VALUE")]
    pub fields: Vec<String>,
    /// A custom secret field, asked for with a hidden prompt (repeatable)
    #[arg(long = "secret-field", value_name = "KEY")]
    pub secret_fields: Vec<String>,
    /// Ask for a TOTP otpauth:// URI with a hidden prompt
    #[arg(long, conflicts_with = "totp_stdin")]
    pub totp: bool,
    /// Read a TOTP otpauth:// URI from the first line of stdin
    #[arg(long, conflicts_with = "password_stdin")]
    pub totp_stdin: bool,
    /// Also share with a member (NAME) or a group (@GROUP); admins always can read
    #[arg(long = "share-with", value_name = "NAME|@GROUP")]
    pub share_with: Vec<String>,
}

/// `add` arguments.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Entry path, e.g. web/github
    pub path: String,
    #[command(flatten)]
    pub fields: FieldArgs,
    #[command(flatten)]
    pub password: PasswordArgs,
}

/// `edit` arguments.
#[derive(Debug, Args)]
pub struct EditArgs {
    /// Entry path
    pub path: String,
    #[command(flatten)]
    pub fields: FieldArgs,
    #[command(flatten)]
    pub new_password: PasswordArgs,
    /// Ask for a new password with a hidden prompt (twice)
    #[arg(long = "password", conflicts_with_all = ["generate", "password_stdin"])]
    pub password_prompt: bool,
    /// Remove a custom field (repeatable)
    #[arg(long = "remove-field", value_name = "KEY")]
    pub remove_fields: Vec<String>,
}

/// A single path.
#[derive(Debug, Args)]
pub struct PathArg {
    /// Entry path
    pub path: String,
    /// Pick the entry with this id (full hex, or a prefix of it that only one entry
    /// has: the short ids of warnings and errors, or 'ls --json'), when several
    /// entries share the path
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
}

/// `mv` arguments.
#[derive(Debug, Args)]
pub struct MvArgs {
    /// Current path
    pub path: String,
    /// New path
    pub new_path: String,
}

/// `ls` arguments.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only entries under this prefix (e.g. web/)
    pub prefix: Option<String>,
    /// Show as a tree
    #[arg(long, conflicts_with = "json")]
    pub tree: bool,
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
}

/// `find` arguments.
#[derive(Debug, Args)]
pub struct FindArgs {
    /// Text to look for in paths, usernames and URLs
    pub query: String,
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
}

/// `show` arguments.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Entry path
    pub path: String,
    /// Show secret fields in clear
    #[arg(long)]
    pub reveal: bool,
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
    /// Pick the entry with this id (full hex, or a prefix of it that only one entry
    /// has: the short ids of warnings and errors, or 'ls --json'), when several
    /// entries share the path
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
}

/// `get` arguments.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// Entry path
    pub path: String,
    /// password (default), username, url, notes, totp, path, or a custom field's name
    #[arg(long, value_name = "NAME", default_value = "password")]
    pub field: String,
    /// Print even when stdout is a terminal
    #[arg(long)]
    pub reveal: bool,
    /// Pick the entry with this id (full hex, or a prefix of it that only one entry
    /// has: the short ids of warnings and errors, or 'ls --json'), when several
    /// entries share the path
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
}

/// `gen` arguments.
#[derive(Debug, Args)]
pub struct GenArgs {
    /// Random characters (8–256) [default: 24]
    #[arg(long, value_name = "N", conflicts_with = "words")]
    pub length: Option<usize>,
    /// Diceware words from the EFF large list (3–32)
    #[arg(long, value_name = "N")]
    pub words: Option<usize>,
    /// Leave out symbols
    #[arg(long)]
    pub no_symbols: bool,
}

use amanat::vault::now;

fn generate(
    length: Option<usize>,
    words: Option<usize>,
    symbols: bool,
) -> anyhow::Result<SecretString> {
    let value = match words {
        Some(n) => passgen::passphrase(n),
        None => passgen::random_password(
            length.unwrap_or(passgen::DEFAULT_LENGTH),
            CharClasses {
                symbols,
                ..CharClasses::default()
            },
        ),
    };
    match value {
        Ok(v) => Ok(SecretString::new(v.to_string())),
        Err(e) => fail(Exit::Usage, e.to_string(), "see 'amanat gen --help'"),
    }
}

/// The new password the options ask for, if any.
fn new_password(args: &PasswordArgs, prompt: bool) -> anyhow::Result<Option<SecretString>> {
    if args.generate {
        return generate(args.length, args.words, true).map(Some);
    }
    if args.password_stdin {
        return input::stdin_line("--password-stdin").map(Some);
    }
    if prompt {
        if !input::has_tty() {
            return fail(
                Exit::Usage,
                "no password given and no terminal to prompt on",
                "use --password-stdin (printf 'S3cret\\n' | amanat add …) or --generate",
            );
        }
        return input::twice("password: ", "repeat password: ", Exit::Usage).map(Some);
    }
    Ok(None)
}

/// Secrets that come from stdin or prompts, gathered before the vault is locked.
struct Secrets {
    password: Option<SecretString>,
    totp: Option<SecretString>,
    secret_fields: Vec<(String, SecretString)>,
}

fn gather(fields: &FieldArgs, password: Option<SecretString>) -> anyhow::Result<Secrets> {
    let totp = if fields.totp_stdin {
        Some(input::stdin_line("--totp-stdin")?)
    } else if fields.totp {
        Some(input::prompt_secret("otpauth:// URI: ", "--totp")?)
    } else {
        None
    };
    if let Some(Err(e)) = totp
        .as_ref()
        .map(|uri| amanat::otpauth::parse(uri.expose()))
    {
        return fail(
            Exit::Usage,
            format!("invalid TOTP URI: {e}"),
            "give the otpauth://totp/…?secret=BASE32 line your provider shows",
        );
    }
    let mut secret_fields = Vec::new();
    for key in &fields.secret_fields {
        check_field_name(key)?;
        let value = input::prompt_secret(&format!("{}: ", sanitize(key)), "--secret-field")?;
        secret_fields.push((key.clone(), value));
    }
    Ok(Secrets {
        password,
        totp,
        secret_fields,
    })
}

fn check_field_name(key: &str) -> anyhow::Result<()> {
    if key.is_empty() || key.len() > 128 || key.chars().any(char::is_control) {
        return fail(
            Exit::Usage,
            format!("invalid field name '{}'", sanitize(key)),
            "use a short name without control characters",
        );
    }
    Ok(())
}

fn set_field(payload: &mut EntryPayload, name: &str, value: SecretString, secret: bool) {
    if let Some(f) = payload.fields.iter_mut().find(|f| f.name == name) {
        f.value = value;
        f.secret = secret;
    } else {
        payload.fields.push(CustomField {
            name: name.to_string(),
            value,
            secret,
        });
    }
}

/// Apply the options to a payload; returns whether anything changed.
fn apply(
    payload: &mut EntryPayload,
    fields: &FieldArgs,
    secrets: Secrets,
    time: u64,
) -> anyhow::Result<bool> {
    let mut changed = false;
    if let Some(u) = &fields.username {
        payload.username = u.clone();
        changed = true;
    }
    if let Some(u) = &fields.url {
        payload.url = u.clone();
        changed = true;
    }
    if let Some(n) = &fields.note {
        payload.notes = n.clone();
        changed = true;
    }
    for kv in &fields.fields {
        let Some((k, v)) = kv.split_once('=') else {
            return fail(
                Exit::Usage,
                format!("--field '{}' is not KEY=VALUE", sanitize(kv)),
                "write --field team=payments",
            );
        };
        check_field_name(k)?;
        set_field(payload, k, SecretString::new(v.to_string()), false);
        changed = true;
    }
    for (k, v) in secrets.secret_fields {
        set_field(payload, &k, v, true);
        changed = true;
    }
    if let Some(t) = secrets.totp {
        payload.set_totp(t);
        changed = true;
    }
    if let Some(p) = secrets.password {
        payload.set_password(p, time);
        changed = true;
    }
    Ok(changed)
}

/// Turn `NAME` / `@GROUP` into principals of the vault.
pub(super) fn resolve_share(vault: &Vault, names: &[String]) -> anyhow::Result<Vec<Principal>> {
    names
        .iter()
        .map(|n| super::team::principal(vault, n))
        .collect()
}

/// Warn when `e` was chosen over other entries at its path (`vault::choose_at_path`).
pub(super) fn warn_shadowed(vault: &Vault, e: &OpenEntry) {
    if let Some(w) = vault.shadow_warning(&e.payload.path, &e.id, &e.shadowed) {
        eprintln!("warning: {}", sanitize(&w));
    }
}

fn warn_conflict(e: &OpenEntry) {
    if let Some(w) = e.conflict_warning("showing") {
        eprintln!("warning: {}", sanitize(&w));
    }
}

/// `add`.
pub fn add(paths: &Paths, mut args: AddArgs) -> anyhow::Result<()> {
    args.path = vault::check_path(&args.path)?;
    let password = new_password(&args.password, true)?;
    let secrets = gather(&args.fields, password)?;
    let time = now();
    let mut payload = EntryPayload::default();
    payload.path = args.path.clone();
    payload.created = time;
    payload.modified = time;
    apply(&mut payload, &args.fields, secrets, time)?;
    if super::agent::add(paths, &payload, &args.fields.share_with)? {
        outln!("added {}", sanitize(&args.path));
        return Ok(());
    }
    let identity = unlock(paths)?;
    super::vault::write(paths, |vault| -> anyhow::Result<()> {
        let share_with = resolve_share(vault, &args.fields.share_with)?;
        let body = vault.session(&identity)?.create_entry(&EntryDraft {
            payload,
            share_with,
        })?;
        vault.append(&identity, vec![body])?;
        Ok(())
    })?;
    outln!("added {}", sanitize(&args.path));
    Ok(())
}

/// `edit`: only the named fields change.
pub fn edit(paths: &Paths, args: EditArgs) -> anyhow::Result<()> {
    let password = new_password(&args.new_password, args.password_prompt)?;
    let secrets = gather(&args.fields, password)?;
    let identity = unlock(paths)?;
    let path = args.path.clone();
    super::vault::write(paths, |vault| -> anyhow::Result<()> {
        let session = vault.session(&identity)?;
        let entry = session.open(&path)?;
        warn_shadowed(vault, &entry);
        let mut payload = entry.payload.clone();
        let time = now();
        let mut changed = apply(&mut payload, &args.fields, secrets, time)?;
        for key in &args.remove_fields {
            let before = payload.fields.len();
            payload.fields.retain(|f| f.name != *key);
            if payload.fields.len() == before {
                return fail(
                    Exit::NotFound,
                    format!("'{}' has no field '{}'", sanitize(&path), sanitize(key)),
                    format!("see 'amanat show {}'", sanitize(&path)),
                );
            }
            changed = true;
        }
        let mut share_with = session.shared_with(&entry);
        let extra = resolve_share(vault, &args.fields.share_with)?;
        changed |= !extra.is_empty();
        share_with.extend(extra);
        if !changed {
            return fail(
                Exit::Usage,
                "nothing to change",
                "name what to change, e.g. --username or --generate; see 'amanat edit --help'",
            );
        }
        payload.modified = time;
        let body = session.revise_entry(
            &entry,
            &EntryDraft {
                payload,
                share_with,
            },
        )?;
        vault.append(&identity, vec![body])?;
        Ok(())
    })?;
    outln!("updated {}", sanitize(&args.path));
    Ok(())
}

/// `rm`.
pub fn rm(paths: &Paths, args: PathArg) -> anyhow::Result<()> {
    let identity = unlock(paths)?;
    super::vault::write(paths, |vault| -> anyhow::Result<()> {
        let session = vault.session(&identity)?;
        let entry = match &args.id {
            None => session.open(&args.path)?,
            Some(prefix) => open_by_id(vault, &session, &args.path, prefix)?,
        };
        warn_shadowed(vault, &entry);
        let body = session.delete_entry(&entry)?;
        vault.append(&identity, vec![body])?;
        Ok(())
    })?;
    outln!("removed {}", sanitize(&args.path));
    Ok(())
}

/// `mv`.
pub fn mv(paths: &Paths, mut args: MvArgs) -> anyhow::Result<()> {
    args.new_path = vault::check_path(&args.new_path)?;
    let identity = unlock(paths)?;
    super::vault::write(paths, |vault| -> anyhow::Result<()> {
        let session = vault.session(&identity)?;
        let entry = session.open(&args.path)?;
        warn_shadowed(vault, &entry);
        let mut payload = entry.payload.clone();
        payload.path = args.new_path.clone();
        payload.modified = now();
        let share_with = session.shared_with(&entry);
        let body = session.revise_entry(
            &entry,
            &EntryDraft {
                payload,
                share_with,
            },
        )?;
        vault.append(&identity, vec![body])?;
        Ok(())
    })?;
    outln!(
        "renamed {} -> {}",
        sanitize(&args.path),
        sanitize(&args.new_path)
    );
    Ok(())
}

/// The entries I can read, and a failure to report after printing them if any entry
/// addressed to me could not be opened (damaged or forged: exit 6).
fn readable(paths: &Paths) -> anyhow::Result<(Vec<OpenEntry>, anyhow::Result<()>)> {
    // An unlocked agent answers from its verified cache: no passphrase, no decoding here.
    if let Some(listing) = super::agent::listing(paths)? {
        return Ok(listing);
    }
    let vault = load(paths)?;
    let identity = unlock(paths)?;
    let listing = vault.session(&identity)?.list_all()?;
    for (id, e) in &listing.failed {
        eprintln!("warning: entry {} cannot be opened: {e}", id.short());
    }
    let outcome = if listing.failed.is_empty() {
        Ok(())
    } else {
        fail(
            Exit::Integrity,
            format!(
                "{} entr(y/ies) failed their integrity checks",
                listing.failed.len()
            ),
            "run 'amanat verify'; an admin can delete or rewrite them",
        )
    };
    Ok((listing.entries, outcome))
}

fn under(path: &str, prefix: &str) -> bool {
    let path = amanat::format::nfc(path);
    let path = path.as_ref();
    let prefix = amanat::format::nfc(prefix);
    let p = prefix.trim_end_matches('/');
    p.is_empty() || path == p || path.strip_prefix(p).is_some_and(|r| r.starts_with('/'))
}

/// `ls`.
pub fn ls(paths: &Paths, args: LsArgs) -> anyhow::Result<()> {
    let prefix = args.prefix.unwrap_or_default();
    let (all, outcome) = readable(paths)?;
    let (all_empty, total) = (all.is_empty(), all.len());
    let list: Vec<OpenEntry> = all
        .into_iter()
        .filter(|e| under(&e.payload.path, &prefix))
        .collect();
    if args.json {
        let items: Vec<_> = list
            .iter()
            .map(|e| json!({"path": e.payload.path, "id": e.id.to_hex(), "modified": e.payload.modified}))
            .collect();
        print_json(&json!(items))?;
    } else if args.tree {
        print_tree(&list)?;
    } else {
        for e in &list {
            outln!("{}", sanitize(&e.payload.path));
        }
    }
    if list.is_empty() && !args.json {
        // Say why nothing was listed.
        if !all_empty && !prefix.is_empty() {
            eprintln!(
                "note: no entry you can read is under '{}' ('amanat ls' lists all {total})",
                sanitize(&prefix)
            );
        } else if all_empty {
            eprintln!(
                "note: no entry you can read: none yet ('amanat add PATH'), or none shared with you (ask an admin)"
            );
        }
    }
    outcome
}

fn print_tree(list: &[OpenEntry]) -> anyhow::Result<()> {
    let mut previous: Vec<&str> = Vec::new();
    for e in list {
        let parts: Vec<&str> = e.payload.path.split('/').collect();
        let common = previous
            .iter()
            .zip(&parts)
            .take(parts.len().saturating_sub(1))
            .take_while(|(a, b)| a == b)
            .count();
        for (depth, part) in parts.iter().enumerate().skip(common) {
            let leaf = depth + 1 == parts.len();
            outln!(
                "{}{}{}",
                "  ".repeat(depth),
                sanitize(part),
                if leaf { "" } else { "/" }
            );
        }
        previous = parts;
    }
    Ok(())
}

/// `find`.
pub fn find(paths: &Paths, args: FindArgs) -> anyhow::Result<()> {
    // Compared in NFC: a query matches whichever spelling a record holds.
    let fold = |t: &str| amanat::format::nfc(t).to_lowercase();
    let q = fold(&args.query);
    let (all, outcome) = readable(paths)?;
    let hits: Vec<OpenEntry> = all
        .into_iter()
        .filter(|e| {
            fold(&e.payload.path).contains(&q)
                || fold(&e.payload.username).contains(&q)
                || fold(&e.payload.url).contains(&q)
        })
        .collect();
    if args.json {
        let items: Vec<_> = hits
            .iter()
            .map(|e| json!({"path": e.payload.path, "username": e.payload.username, "url": e.payload.url, "id": e.id.to_hex()}))
            .collect();
        print_json(&json!(items))?;
        return outcome;
    }
    for e in &hits {
        outln!(
            "{}",
            columns(&[
                &sanitize(&e.payload.path),
                &sanitize(&e.payload.username),
                &sanitize(&e.payload.url)
            ])
        );
    }
    if hits.is_empty() {
        return fail(
            Exit::NotFound,
            format!("nothing matches '{}'", sanitize(&args.query)),
            "see 'amanat ls'",
        );
    }
    Ok(())
}

/// The entry at `path`, the name of its revision's author and the id of its vault
/// (for the use log; `None` when an agent served it without saying which): from the
/// agent when it is unlocked for these paths, else decrypted here. Warnings go to
/// stderr.
pub(super) fn open(paths: &Paths, path: &str) -> anyhow::Result<Opened> {
    open_at(paths, path, None)
}

/// What [`open`] returns: the author's name, the entry, the vault id.
pub(super) type Opened = (String, OpenEntry, Option<RecordId>);

/// [`open`], or with `id` the entry whose id starts with it, which must be at `path`.
/// The agent has no request by id: with `id` the entry is opened here (the agent still
/// serves the identity's keys when it is unlocked).
fn open_at(paths: &Paths, path: &str, id: Option<&str>) -> anyhow::Result<Opened> {
    if id.is_none()
        && let Some((author, entry, vault)) = super::agent::entry(paths, path)?
    {
        warn_conflict(&entry);
        return Ok((author, entry, vault));
    }
    let vault = load(paths)?;
    let identity = unlock(paths)?;
    let session = vault.session(&identity)?;
    let entry = match id {
        None => match session.open(path) {
            Err(vault::VaultError::NotFound(p)) => return not_found(&session, &p),
            other => other?,
        },
        Some(prefix) => open_by_id(&vault, &session, path, prefix)?,
    };
    warn_conflict(&entry);
    warn_shadowed(&vault, &entry);
    for f in vault.wrap_findings_of(&entry.id) {
        eprintln!(
            "warning: '{}': {}; an admin or writer should re-key it ('amanat edit {}' with any change)",
            sanitize(&entry.payload.path),
            sanitize(&f.problem),
            sanitize(&entry.payload.path)
        );
    }
    let author = vault
        .members()
        .find(|m| m.id == entry.author)
        .map(|m| m.name.clone())
        .unwrap_or_default();
    Ok((author, entry, Some(vault.id())))
}

/// "no entry 'x'" with a did-you-mean: the readable paths closest to `path` (a typo of
/// up to a third of its length, or the same last part under another prefix).
fn not_found<T>(session: &vault::Session<'_>, path: &str) -> anyhow::Result<T> {
    let paths: Vec<String> = session
        .list_all()
        .map(|l| l.entries.iter().map(|e| e.payload.path.clone()).collect())
        .unwrap_or_default();
    let leaf = path.rsplit('/').next().unwrap_or(path);
    let mut close: Vec<(usize, &String)> = paths
        .iter()
        .filter_map(|p| {
            let d = edit_distance(p, path);
            let same_leaf = p.rsplit('/').next() == Some(leaf);
            (d <= (path.chars().count() / 3).max(1) || same_leaf).then_some((d, p))
        })
        .collect();
    close.sort();
    let dir = path
        .rsplit_once('/')
        .map(|(d, _)| format!(" {d}/"))
        .unwrap_or_default();
    let hint = match close.first() {
        Some((_, p)) => format!("did you mean '{}'? (see 'amanat ls{dir}')", sanitize(p)),
        None => format!("see 'amanat ls{dir}'"),
    };
    fail(
        Exit::NotFound,
        format!("no entry '{}'", sanitize(path)),
        hint,
    )
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The entry whose id starts with `prefix` (`--id`), which must be at `path`.
fn open_by_id(
    vault: &Vault,
    session: &vault::Session<'_>,
    path: &str,
    prefix: &str,
) -> anyhow::Result<OpenEntry> {
    if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_hexdigit()) {
        return fail(
            Exit::Usage,
            format!("--id '{}' is not an entry id", sanitize(prefix)),
            "give the hex id, or its first digits, from the warning or 'amanat ls --json'",
        );
    }
    let id = match vault.entries_with_id_prefix(prefix).as_slice() {
        [] => {
            return fail(
                Exit::NotFound,
                format!("no entry with id {prefix}"),
                format!("see 'amanat ls --json {}'", sanitize(path)),
            );
        }
        [id] => *id,
        many => {
            return fail(
                Exit::Other,
                format!("{} entries have ids starting with {prefix}", many.len()),
                "give more digits of the id",
            );
        }
    };
    let entry = session.open_id(&id)?;
    if entry.payload.path != path {
        return fail(
            Exit::NotFound,
            format!("entry {} is not at '{}'", id.short(), sanitize(path)),
            format!("it is at '{}'", sanitize(&entry.payload.path)),
        );
    }
    Ok(entry)
}

/// `show`.
pub fn show(paths: &Paths, args: ShowArgs) -> anyhow::Result<()> {
    // Not a use for the use log, even with --reveal (docs/guide.md, "The use log").
    let (author, e, _) = open_at(paths, &args.path, args.id.as_deref())?;
    let p = &e.payload;
    let secret = |s: &SecretString| {
        if args.reveal {
            s.expose().to_string()
        } else {
            MASK.to_string()
        }
    };
    if args.json {
        let fields: Vec<_> = p
            .fields
            .iter()
            .map(|f| {
                let value = if f.secret {
                    secret(&f.value)
                } else {
                    f.value.expose().to_string()
                };
                json!({"name": f.name, "value": value, "secret": f.secret})
            })
            .collect();
        return print_json(&json!({
            "path": p.path,
            "id": e.id.to_hex(),
            "revision": e.revision.to_hex(),
            "author": author,
            "username": p.username,
            "password": secret(&p.password),
            "url": p.url,
            "notes": p.notes,
            "fields": fields,
            "totp": p.totp.as_ref().map(secret),
            "rotate_at_source": p.rotate_at_source,
            "rotate_totp_at_source": p.rotate_totp_at_source,
            "created": p.created,
            "modified": p.modified,
            "password_changed": p.password_changed,
        }));
    }
    let mut out = std::io::stdout().lock();
    let mut line = |k: &str, v: &str| {
        use std::io::Write as _;
        writeln!(out, "{k}: {}", sanitize(v))
    };
    line("path", &p.path)?;
    line("username", &p.username)?;
    line("password", &secret(&p.password))?;
    line("url", &p.url)?;
    if !p.notes.is_empty() {
        line("notes", &p.notes)?;
    }
    for f in &p.fields {
        let v = if f.secret {
            secret(&f.value)
        } else {
            f.value.expose().to_string()
        };
        line(&f.name, &v)?;
    }
    if let Some(t) = &p.totp {
        line("totp", &secret(t))?;
    }
    if let Some(what) = p.to_rotate_at_source() {
        line(
            "rotate at source",
            &format!("yes (change the {what} where it is used)"),
        )?;
    }
    line("created", &format_time(p.created))?;
    line("modified", &format_time(p.modified))?;
    line("password changed", &format_time(p.password_changed))?;
    line("last written by", &author)?;
    Ok(())
}

/// One field of an entry's payload, by the names `get --field` takes: `password`,
/// `username`, `url`, `notes`, `path`, `totp` or a custom field's name. `path` names
/// the entry in the errors.
pub(super) fn field_value(
    path: &str,
    p: &EntryPayload,
    field: &str,
) -> anyhow::Result<zeroize::Zeroizing<String>> {
    let value = match field {
        "password" => p.password.expose().to_string(),
        "username" => p.username.clone(),
        "url" => p.url.clone(),
        "notes" => p.notes.clone(),
        "path" => p.path.clone(),
        "totp" => match &p.totp {
            Some(t) => t.expose().to_string(),
            None => {
                return fail(
                    Exit::NotFound,
                    format!("'{}' has no TOTP seed", sanitize(path)),
                    "add one with 'amanat edit PATH --totp'",
                );
            }
        },
        name => match p.fields.iter().find(|f| f.name == name) {
            Some(f) => f.value.expose().to_string(),
            None => {
                return fail(
                    Exit::NotFound,
                    format!("'{}' has no field '{}'", sanitize(path), sanitize(name)),
                    format!("see 'amanat show {}'", sanitize(path)),
                );
            }
        },
    };
    Ok(zeroize::Zeroizing::new(value))
}

fn refuse_terminal() -> anyhow::Result<()> {
    fail(
        Exit::Usage,
        "refusing to print a secret to a terminal",
        "pipe it (amanat get PATH | wl-copy), use 'amanat show', or add --reveal",
    )
}

/// Whether a field name could be a non-secret custom field (checked once the entry is
/// open): not one of the built-in secret fields.
fn custom_field_may_be_plain(field: &str) -> bool {
    !matches!(field, "password" | "totp")
}

/// `get`: one value on stdout; a secret is refused on a terminal unless --reveal (a
/// username, URL, path or non-secret custom field is not).
pub fn get(paths: &Paths, args: GetArgs) -> anyhow::Result<()> {
    let tty = stdout_is_tty();
    // A username, URL, path or notes are not secrets: printed on a terminal as `show`
    // prints them.
    let plain = matches!(args.field.as_str(), "username" | "url" | "path" | "notes");
    if tty && !args.reveal && !plain && !custom_field_may_be_plain(&args.field) {
        return refuse_terminal();
    }
    let (_, e, vault) = open_at(paths, &args.path, args.id.as_deref())?;
    if tty
        && !args.reveal
        && !plain
        && !e
            .payload
            .fields
            .iter()
            .any(|f| f.name == args.field && !f.secret)
    {
        return refuse_terminal();
    }
    let value = field_value(&args.path, &e.payload, &args.field)?;
    let mut out = std::io::stdout().lock();
    use std::io::Write;
    // On a terminal (only with --reveal) escapes in a teammate-written value are defused.
    if tty {
        writeln!(out, "{}", sanitize(&value))?;
    } else {
        writeln!(out, "{}", value.as_str())?;
    }
    out.flush()?;
    super::uselog::record(paths, vault, &[e.id]);
    Ok(())
}

/// `gen`.
pub fn gen_password(args: GenArgs) -> anyhow::Result<()> {
    amanat::harden::lock_all_memory();
    let value = generate(args.length, args.words, !args.no_symbols)?;
    outln!("{}", value.expose());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("web/github", "web/github"), 0);
        assert_eq!(edit_distance("web/gihtub", "web/github"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn prefix_matching() {
        assert!(under("web/github", "web"));
        assert!(under("web/github", "web/"));
        assert!(under("web", "web"));
        assert!(!under("webmail/x", "web"));
        assert!(under("anything", ""));
    }
}
