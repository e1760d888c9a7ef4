//! `amanat run`: start a command with secrets in its environment, masking its output.

use std::path::PathBuf;

use clap::Args;

use super::exit::{Exit, fail};
use super::paths::Paths;

/// `run` arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Put an entry's field in the child's environment: VAR=PATH[#FIELD] (repeatable)
    #[arg(long = "env", value_name = "VAR=PATH[#FIELD]")]
    pub env: Vec<String>,
    /// A file of VAR=amanat://PATH#FIELD lines
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// Pass the child's output through unchanged (no masking of the secrets)
    #[arg(long)]
    pub no_masking: bool,
    /// The command and its arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

/// `run`.
pub fn run(_paths: &Paths, _args: RunArgs) -> anyhow::Result<()> {
    fail(
        Exit::Other,
        "'run' is being implemented",
        "use 'amanat get' in a pipe",
    )
}
