//! Where files live (CLI.md, "Where things live"): flags, `AMANAT_*` variables, then
//! the XDG base directories with their `~/.local/...` fallbacks.

use std::env;
use std::path::PathBuf;

use super::exit::{Exit, Failure};

/// Resolved file locations.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The vault file.
    pub vault: PathBuf,
    /// The identity file.
    pub identity: PathBuf,
    /// Local state (pins).
    pub state: PathBuf,
}

/// An XDG base directory: the variable if it is set to an absolute path, else
/// `$HOME/<fallback>` (relative values are ignored, as the XDG spec says).
fn xdg(var: &str, fallback: &str) -> Option<PathBuf> {
    if let Some(v) = env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
    {
        return Some(v);
    }
    env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .map(|h| h.join(fallback))
}

impl Paths {
    /// Resolve from flags (which clap already filled from the variables) and XDG.
    pub fn resolve(vault: Option<PathBuf>, identity: Option<PathBuf>) -> Result<Self, Failure> {
        let missing = |what: &str| {
            Failure::new(
                Exit::Other,
                format!("cannot find a default {what} location: HOME is not set"),
                "set HOME, or pass --vault and --identity (AMANAT_VAULT, AMANAT_IDENTITY, AMANAT_STATE_DIR)",
            )
        };
        let vault = match vault {
            Some(v) => v,
            None => xdg("XDG_DATA_HOME", ".local/share")
                .ok_or_else(|| missing("vault"))?
                .join("amanat/vault"),
        };
        let identity = match identity {
            Some(i) => i,
            None => xdg("XDG_CONFIG_HOME", ".config")
                .ok_or_else(|| missing("identity"))?
                .join("amanat/identity.amanat"),
        };
        let state = match env::var_os("AMANAT_STATE_DIR").filter(|s| !s.is_empty()) {
            Some(s) => PathBuf::from(s),
            None => xdg("XDG_STATE_HOME", ".local/state")
                .ok_or_else(|| missing("state"))?
                .join("amanat"),
        };
        Ok(Self {
            vault,
            identity,
            state,
        })
    }

    /// The vault store for these paths.
    pub fn store(&self) -> amanat::store::VaultStore {
        amanat::store::VaultStore::new(self.vault.clone(), self.state.clone())
    }
}
