//! `amanat git-credential`: a git credential helper (gitcredentials(7)).

use clap::{Args, ValueEnum};

use super::exit::{Exit, fail};
use super::paths::Paths;

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

/// `git-credential`.
pub fn git_credential(_paths: &Paths, _args: GitCredentialArgs) -> anyhow::Result<()> {
    fail(
        Exit::Other,
        "'git-credential' is being implemented",
        "see docs/guide.md",
    )
}
