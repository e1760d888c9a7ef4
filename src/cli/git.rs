//! `amanat git-credential`: a git credential helper (gitcredentials(7)).
//!
//! Configure with `git config --global credential.helper '!amanat git-credential'`.
//! Git writes a request on stdin (`amanat::gitcred` reads it and picks the entry);
//! `get` prints `username=`/`password=` for the best match and nothing when none
//! matches, so git goes on to its next helper or prompt; `store` writes a password git
//! reports as working only into an entry of yours alone (created by you, readable and
//! writable by nobody else), else into a new entry shared with no one — never into an
//! entry someone else can read (`amanat::gitcred::store_action`, issue 11); `erase` never deletes:
//! git calls it after any failed login, and a typo or an outage must not cost the
//! team an entry. Values go to stdout for git only; stderr carries paths and hosts,
//! never a username or password.

use clap::{Args, ValueEnum};
use subtle::ConstantTimeEq;

use amanat::crypto::SecretString;
use amanat::format::{EntryPayload, Principal, RecordBody, RecordId};
use amanat::gitcred::{self, Candidate, Location, Request, StoreAction, StoreMatch};
use amanat::identity::Keyholder;
use amanat::vault::{self, EntryDraft, Listing, OpenEntry, Session, Vault, VaultError};

use super::exit::{Exit, Failure, fail};
use super::identity::unlock;
use super::output::sanitize;
use super::paths::Paths;
use super::vault::load;

/// The variable that chooses what `store` may do.
pub const STORE_VAR: &str = "AMANAT_GIT_STORE";

/// The operations git calls a helper with.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Operation {
    /// Look up a credential
    Get,
    /// Store a credential that worked
    Store,
    /// A credential was rejected (never deletes an entry)
    Erase,
}

/// `git-credential` arguments.
#[derive(Debug, Args)]
pub struct GitCredentialArgs {
    /// What git asks for
    pub operation: Operation,
}

/// What `store` may do (`AMANAT_GIT_STORE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoreMode {
    /// `update` (the default): change the password of a matching entry.
    Update,
    /// `create`: also create `git/<host>/<username>` when nothing matches.
    Create,
    /// `off`: never write.
    Off,
}

fn store_mode() -> anyhow::Result<StoreMode> {
    let value = std::env::var_os(STORE_VAR).unwrap_or_default();
    match value.to_str() {
        Some("" | "update") => Ok(StoreMode::Update),
        Some("create") => Ok(StoreMode::Create),
        Some("off") => Ok(StoreMode::Off),
        _ => fail(
            Exit::Usage,
            format!("{STORE_VAR} must be update, create or off"),
            format!("unset {STORE_VAR} to update matching entries only"),
        ),
    }
}

/// `git-credential`.
pub fn git_credential(paths: &Paths, args: GitCredentialArgs) -> anyhow::Result<()> {
    let request = Request::read(std::io::stdin().lock()).map_err(|e| {
        Failure::new(
            Exit::Other,
            e.to_string(),
            "git runs this helper: git config --global credential.helper '!amanat git-credential'",
        )
    })?;
    match args.operation {
        Operation::Get => get(paths, &request),
        Operation::Store => store(paths, &request),
        Operation::Erase => {
            erase(&request);
            Ok(())
        }
    }
}

fn warn_failed(listing: &Listing) {
    for (id, e) in &listing.failed {
        eprintln!(
            "warning: entry {} cannot be opened: {e}; run 'amanat verify'",
            id.short()
        );
    }
}

fn candidates<'a>(entries: &[&'a OpenEntry]) -> Vec<Candidate<'a>> {
    entries
        .iter()
        .map(|e| Candidate {
            path: &e.payload.path,
            username: &e.payload.username,
            url: &e.payload.url,
            modified: e.payload.modified,
        })
        .collect()
}

/// The entry `get` answers with, and its vault's id (for the use log), from an
/// unlocked agent (no passphrase needed): `Ok(None)` when there is no usable agent (or
/// it locked meanwhile), so the caller decides locally; `Ok(Some(None))` when nothing
/// matches. Entries with an empty password are skipped: git would take an empty
/// password and stop asking anyone else.
fn best_via_agent(paths: &Paths, request: &Request) -> anyhow::Result<Option<Option<Best>>> {
    // The agent has already warned about entries it cannot open; one damaged entry
    // must not stop git from getting another.
    let Some((entries, _damaged)) = super::agent::listing(paths)? else {
        return Ok(None);
    };
    let all: Vec<&OpenEntry> = entries.iter().collect();
    for i in gitcred::ranked(request, &candidates(&all)) {
        // The listing carries no secrets: fetch the entry itself.
        let Some((_, entry, vault)) = super::agent::entry(paths, &all[i].payload.path)? else {
            return Ok(None);
        };
        if !entry.payload.password.is_empty() {
            return Ok(Some(Some((entry, vault))));
        }
    }
    Ok(Some(None))
}

/// An entry `get` may answer with, and its vault's id when known (for the use log).
type Best = (OpenEntry, Option<RecordId>);

/// The entry `get` answers with, decrypting the vault with `identity` (entries with an
/// empty password skipped, as above). The chosen entry is opened again by id, which
/// checks its revision's signature (the listing only decrypts).
fn best_local(
    vault: &Vault,
    identity: &dyn Keyholder,
    request: &Request,
) -> anyhow::Result<Option<OpenEntry>> {
    let session = vault.session(identity)?;
    let listing = session.list_all()?;
    warn_failed(&listing);
    let usable: Vec<&OpenEntry> = listing
        .entries
        .iter()
        .filter(|e| !e.payload.password.is_empty())
        .collect();
    match gitcred::ranked(request, &candidates(&usable)).first() {
        Some(&best) => Ok(Some(session.open_id(&usable[best].id)?)),
        None => Ok(None),
    }
}

/// `get`: the best matching entry's username and password, or nothing.
fn get(paths: &Paths, request: &Request) -> anyhow::Result<()> {
    if request.location().is_none() {
        return Ok(());
    }
    let best = match best_via_agent(paths, request)? {
        Some(best) => best,
        None => {
            let vault = load(paths)?;
            let identity = unlock(paths)?;
            best_local(&vault, &identity, request)?.map(|e| (e, Some(vault.id())))
        }
    };
    let Some((entry, vault)) = best else {
        return Ok(());
    };
    let path = sanitize(&entry.payload.path);
    if let Some(w) = entry.conflict_warning("using") {
        eprintln!("warning: {}", sanitize(&w));
    }
    if entry.payload.rotate_at_source {
        eprintln!(
            "warning: '{path}' must be changed where it is used (someone who no longer has access knew it)"
        );
    }
    let response = match gitcred::response(&entry.payload.username, entry.payload.password.expose())
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("warning: '{path}': {e}; not offered to git");
            return Ok(());
        }
    };
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(response.as_bytes())?;
    out.flush()?;
    super::uselog::record(paths, vault, &[entry.id]);
    Ok(())
}

/// The part of a `store` request that matters once it is known to be complete.
struct Stored<'a> {
    location: Location,
    username: &'a str,
    password: &'a SecretString,
    mode: StoreMode,
}

impl Stored<'_> {
    /// Whether `entry`'s current password is the one git stores (constant time).
    fn held_by(&self, entry: &OpenEntry) -> bool {
        entry
            .payload
            .password
            .expose()
            .as_bytes()
            .ct_eq(self.password.expose().as_bytes())
            .into()
    }

    /// Where a new entry goes (`git/<host>/<username>`).
    fn new_path(&self) -> anyhow::Result<String> {
        let Some(path) = gitcred::new_entry_path(&self.location, self.username) else {
            return fail(
                Exit::Usage,
                format!(
                    "cannot make an entry path for git's login on {}: the username does not fit in one path segment",
                    sanitize(&self.location.host_port())
                ),
                "add the entry yourself with 'amanat add PATH --url URL --username U'",
            );
        };
        vault::check_path(&path)?;
        Ok(path)
    }
}

/// What `store` does on one vault (`gitcred::store_action`).
enum Plan {
    /// Write nothing.
    Nothing,
    /// Write git's password into this entry (opened by id: its signature checked).
    Update(Box<OpenEntry>),
    /// Create an entry shared with no one; `passed_over` is the best matching entry,
    /// if any, which the rule does not let `store` write into.
    Create { passed_over: Option<String> },
}

/// Whether only I (and the admins, who read every entry) can read or write `entry`, and
/// I created it.
fn yours_alone(vault: &Vault, session: &Session<'_>, entry: &OpenEntry) -> bool {
    let me = session.me().id;
    let only_me = |p: &Principal| *p == Principal::Member(me);
    vault.path_candidate(&entry.id).creator == me
        && session.shared_with(entry).iter().all(only_me)
        && entry.payload.write_grants.iter().all(only_me)
        && vault.writers_of(&entry.revision).iter().all(only_me)
}

/// Decide what `store` does on `vault` (module docs of `amanat::gitcred`, `store_action`).
fn plan(
    vault: &Vault,
    identity: &dyn Keyholder,
    request: &Request,
    stored: &Stored<'_>,
    warn: bool,
) -> anyhow::Result<Plan> {
    let session = vault.session(identity)?;
    let listing = session.list_all()?;
    if warn {
        warn_failed(&listing);
    }
    let all: Vec<&OpenEntry> = listing.entries.iter().collect();
    let ranked = gitcred::ranked(request, &candidates(&all));
    let matches: Vec<StoreMatch> = ranked
        .iter()
        .map(|&i| StoreMatch {
            holds: stored.held_by(all[i]),
            empty: all[i].payload.password.is_empty(),
            yours_alone: yours_alone(vault, &session, all[i]),
        })
        .collect();
    Ok(
        match gitcred::store_action(&matches, stored.mode == StoreMode::Create) {
            StoreAction::Nothing => Plan::Nothing,
            StoreAction::Update(n) => Plan::Update(Box::new(session.open_id(&all[ranked[n]].id)?)),
            StoreAction::Create => Plan::Create {
                passed_over: ranked.first().map(|&i| all[i].payload.path.clone()),
            },
        },
    )
}

/// A new entry for git's login, shared with no one, at `git/<host>/<username>` or, when
/// that path is taken (by anyone: a planted entry there must not block the write),
/// the first free `git/<host>/<username>-N`.
fn create_private(
    session: &Session<'_>,
    stored: &Stored<'_>,
    time: u64,
) -> anyhow::Result<(RecordBody, String)> {
    let base = stored.new_path()?;
    let mut payload = EntryPayload::default();
    payload.username = stored.username.to_string();
    payload.password = stored.password.clone();
    payload.url = stored.location.url();
    payload.created = time;
    payload.modified = time;
    payload.password_changed = time;
    for n in 1..=MAX_PATH_TRIES {
        let path = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        if vault::check_path(&path).is_err() {
            break;
        }
        payload.path = path.clone();
        let draft = EntryDraft {
            payload: payload.clone(),
            share_with: Vec::new(),
        };
        match session.create_entry(&draft) {
            Ok(body) => return Ok((body, path)),
            Err(VaultError::Exists(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    fail(
        Exit::Other,
        format!(
            "cannot store git's login: '{}' and its numbered variants are taken",
            sanitize(&base)
        ),
        "add the entry yourself with 'amanat add PATH --url URL --username U'",
    )
}

/// How many paths `create_private` tries.
const MAX_PATH_TRIES: usize = 20;

use amanat::vault::now;

/// `store`: git reports a login that worked. Its password is written only into an
/// entry git got it from (then nothing changes) or an entry of yours alone; otherwise
/// into a new entry shared with no one (`gitcred::store_action`, issue 11).
fn store(paths: &Paths, request: &Request) -> anyhow::Result<()> {
    let mode = store_mode()?;
    if mode == StoreMode::Off {
        return Ok(());
    }
    // Git only stores complete credentials; anything less is nothing to keep.
    let (Some(location), Some(username), Some(password)) = (
        request.location(),
        request.username(),
        request.password.as_ref().filter(|p| !p.is_empty()),
    ) else {
        return Ok(());
    };
    let stored = Stored {
        location,
        username,
        password,
        mode,
    };
    // The usual case — git stores what `get` just gave it — writes nothing, and with an
    // unlocked agent needs neither the passphrase nor the vault decoded here.
    if let Some(Some((answer, _))) = best_via_agent(paths, request)?
        && stored.held_by(&answer)
    {
        return Ok(());
    }
    // Decide without the lock first: most of the time there is still nothing to write.
    let vault = load(paths)?;
    let identity = unlock(paths)?;
    match plan(&vault, &identity, request, &stored, true)? {
        Plan::Nothing => return Ok(()),
        Plan::Create { .. } => {
            stored.new_path()?;
        }
        Plan::Update(_) => {}
    }
    drop(vault);
    let (_, done) = super::vault::write(paths, |vault| -> anyhow::Result<Option<String>> {
        // Decide again on the newest file, under the lock.
        let plan = plan(vault, &identity, request, &stored, false)?;
        let session = vault.session(&identity)?;
        let time = now();
        let (body, note) = match plan {
            Plan::Nothing => return Ok(None),
            Plan::Update(entry) => {
                let mut payload = entry.payload.clone();
                payload.set_password(stored.password.clone(), time);
                payload.modified = time;
                let share_with = session.shared_with(&entry);
                let body = session.revise_entry(
                    &entry,
                    &EntryDraft {
                        payload,
                        share_with,
                    },
                )?;
                (
                    body,
                    format!("updated the password of '{}' from git", entry.payload.path),
                )
            }
            Plan::Create { passed_over } => {
                let (body, path) = create_private(&session, &stored, time)?;
                let note = match passed_over {
                    None => format!("created '{path}' from git"),
                    Some(other) => format!(
                        "stored git's new login in a new entry '{path}', shared with no one; '{other}' also matches but was not changed: git did not get this password from it, and it is not an entry only you can read"
                    ),
                };
                (body, note)
            }
        };
        vault.append(&identity, vec![body])?;
        Ok(Some(note))
    })?;
    if let Some(note) = done {
        eprintln!("amanat: {}", sanitize(&note));
    }
    Ok(())
}

/// `erase`: never deletes (git calls it after any failed login); says so on stderr.
fn erase(request: &Request) {
    if let Some(location) = request.location() {
        eprintln!(
            "amanat: git reports a failed login to {}; entries are kept (erase never deletes). If the password changed, update it: amanat edit PATH --password",
            sanitize(&location.url())
        );
    }
}
