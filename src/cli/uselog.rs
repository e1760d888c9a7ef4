//! The use log from the command line (`amanat::uselog`; docs/guide.md, "The use log"):
//! recording a use after a secret was delivered, and reading the last uses for
//! `review` and `audit`.
//!
//! A use log that cannot be written never stops a command that already delivered its
//! secret: one warning, then the command goes on. Not for: the file itself (the
//! library's), or what counts as a use (the commands that call [`record`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use amanat::format::{EntryId, RecordId};
use amanat::uselog::{self, USE_LOG_VAR};
use amanat::vault::Vault;

use super::output::sanitize;
use super::paths::Paths;

/// Whether this process has already warned that the use log cannot be written.
static WARNED: AtomicBool = AtomicBool::new(false);

fn warn_once(why: &str) {
    if !WARNED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "warning: could not write the use log ({}); set {USE_LOG_VAR}=off to silence",
            sanitize(why)
        );
    }
}

/// Record that `entries` of the vault `vault` were used now (`amanat::vault::now`,
/// which honours `AMANAT_NOW`). Call it after the secret was delivered. Nothing when
/// the log is off; a failure is a warning (once per process), never an error.
pub(super) fn record(paths: &Paths, vault: Option<RecordId>, entries: &[EntryId]) {
    if !uselog::enabled() || entries.is_empty() {
        return;
    }
    let Some(vault) = vault else {
        warn_once("the agent did not say which vault the entry is in");
        return;
    };
    if let Err(e) = uselog::record(&paths.state, &vault, entries, amanat::vault::now()) {
        warn_once(&e.to_string());
    }
}

/// The latest use of each entry of `vault` by this person on this machine, from the
/// use log: empty when the log is off, absent or unreadable (then with a one-line
/// warning). Local evidence only: it says nothing about anyone else's use.
pub(crate) fn last_uses(paths: &Paths, vault: &Vault) -> HashMap<EntryId, u64> {
    if !uselog::enabled() {
        return HashMap::new();
    }
    match uselog::read(&paths.state, &vault.id()) {
        Ok(uses) => {
            if uses.malformed > 0 {
                eprintln!(
                    "warning: the use log {} has {} malformed line(s), skipped (deleting it is safe)",
                    sanitize(
                        &uselog::log_file(&paths.state, &vault.id())
                            .display()
                            .to_string()
                    ),
                    uses.malformed
                );
            }
            uses.last
        }
        Err(e) => {
            eprintln!(
                "warning: could not read the use log ({}); last uses are not known",
                sanitize(&e.to_string())
            );
            HashMap::new()
        }
    }
}
