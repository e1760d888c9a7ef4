//! `amanat git-credential`: a git credential helper (gitcredentials(7)).
//!
//! Configure with `git config --global credential.helper '!amanat git-credential'`.
//! Git writes a request on stdin (`amanat::gitcred` reads it and picks the entry);
//! `get` prints `username=`/`password=` for the best match and nothing when none
//! matches, so git goes on to its next helper or prompt; `store` updates the matching
//! entry when git reports that a different password worked (or creates
//! `git/<host>/<username>` when `AMANAT_GIT_STORE=create`); `erase` never deletes:
//! git calls it after any failed login, and a typo or an outage must not cost the
//! team an entry. Values go to stdout for git only; stderr carries paths and hosts,
//! never a username or password.

use clap::{Args, ValueEnum};
use subtle::ConstantTimeEq;

use amanat::crypto::SecretString;
use amanat::format::EntryPayload;
use amanat::gitcred::{self, Candidate, Location, Request};
use amanat::identity::Keyholder;
use amanat::vault::{self, EntryDraft, Listing, OpenEntry, Vault};

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

/// Which entries `best_*` may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Any match (`store` fills in an empty password too).
    Any,
    /// Only one with a password: an empty one would stop git from asking anyone else.
    Password,
}

/// The best entry for `request` from an unlocked agent (no passphrase needed):
/// `Ok(None)` when there is no usable agent (or it locked meanwhile), so the caller
/// decides locally; `Ok(Some(None))` when nothing matches.
fn best_via_agent(
    paths: &Paths,
    request: &Request,
    need: Need,
) -> anyhow::Result<Option<Option<OpenEntry>>> {
    // The agent has already warned about entries it cannot open; one damaged entry
    // must not stop git from getting another.
    let Some((entries, _damaged)) = super::agent::listing(paths)? else {
        return Ok(None);
    };
    let all: Vec<&OpenEntry> = entries.iter().collect();
    for i in gitcred::ranked(request, &candidates(&all)) {
        // The listing carries no secrets: fetch the entry itself.
        let Some((_, entry)) = super::agent::entry(paths, &all[i].payload.path)? else {
            return Ok(None);
        };
        if need == Need::Any || !entry.payload.password.is_empty() {
            return Ok(Some(Some(entry)));
        }
    }
    Ok(Some(None))
}

/// The best entry for `request`, decrypting the vault with `identity`. The chosen
/// entry is opened again by id, which checks its revision's signature (the listing
/// only decrypts).
fn best_local(
    vault: &Vault,
    identity: &dyn Keyholder,
    request: &Request,
    need: Need,
    warn: bool,
) -> anyhow::Result<Option<OpenEntry>> {
    let session = vault.session(identity)?;
    let listing = session.list_all()?;
    if warn {
        warn_failed(&listing);
    }
    let usable: Vec<&OpenEntry> = listing
        .entries
        .iter()
        .filter(|e| need == Need::Any || !e.payload.password.is_empty())
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
    let best = match best_via_agent(paths, request, Need::Password)? {
        Some(best) => best,
        None => {
            let vault = load(paths)?;
            let identity = unlock(paths)?;
            best_local(&vault, &identity, request, Need::Password, true)?
        }
    };
    let Some(entry) = best else {
        return Ok(());
    };
    let path = sanitize(&entry.payload.path);
    if entry.heads > 1 {
        eprintln!(
            "warning: '{path}' has {} concurrent revisions; using the one by the highest-ranked author, not the newest (edit it to resolve)",
            entry.heads
        );
    }
    if entry.payload.rotate_at_source {
        eprintln!("warning: '{path}' must be changed where it is used (a member who knew it left)");
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
    /// Whether `best` (the best match, if any) calls for a write.
    fn needs_write(&self, best: Option<&OpenEntry>) -> bool {
        match best {
            Some(entry) => {
                let same: bool = entry
                    .payload
                    .password
                    .expose()
                    .as_bytes()
                    .ct_eq(self.password.expose().as_bytes())
                    .into();
                !same
            }
            None => self.mode == StoreMode::Create,
        }
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

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `store`: git reports a login that worked.
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
    // Decide without the lock (and, with an unlocked agent, without the passphrase)
    // first: the usual answer (git stores what `get` gave it) is "nothing", and that
    // must neither prompt nor rewrite the vault.
    let mut identity = None;
    let best = match best_via_agent(paths, request, Need::Any)? {
        Some(best) => best,
        None => {
            let vault = load(paths)?;
            let id = unlock(paths)?;
            let best = best_local(&vault, &id, request, Need::Any, true)?;
            identity = Some(id);
            best
        }
    };
    if !stored.needs_write(best.as_ref()) {
        return Ok(());
    }
    if best.is_none() {
        stored.new_path()?;
    }
    let identity = match identity {
        Some(id) => id,
        None => unlock(paths)?,
    };
    let (_, done) = super::vault::write(paths, |vault| -> anyhow::Result<Option<String>> {
        // Decide again on the newest file, under the lock.
        let best = best_local(vault, &identity, request, Need::Any, false)?;
        if !stored.needs_write(best.as_ref()) {
            return Ok(None);
        }
        let session = vault.session(&identity)?;
        let time = now();
        let (body, note) = match best {
            Some(entry) => {
                let mut payload = entry.payload.clone();
                payload.password = stored.password.clone();
                payload.password_changed = time;
                payload.modified = time;
                // A changed password no longer needs changing at its source.
                payload.rotate_at_source = false;
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
                    format!("updated the password of '{}'", entry.payload.path),
                )
            }
            None => {
                let path = stored.new_path()?;
                let mut payload = EntryPayload::default();
                payload.path = path.clone();
                payload.username = stored.username.to_string();
                payload.password = stored.password.clone();
                payload.url = stored.location.url();
                payload.created = time;
                payload.modified = time;
                payload.password_changed = time;
                let body = session.create_entry(&EntryDraft {
                    payload,
                    share_with: Vec::new(),
                })?;
                (body, format!("created '{path}'"))
            }
        };
        vault.append(&identity, vec![body])?;
        Ok(Some(note))
    })?;
    if let Some(note) = done {
        eprintln!("amanat: {} from git", sanitize(&note));
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
