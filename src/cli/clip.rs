//! `amanat clip`: put a value on the clipboard, clear it after a timeout.

use clap::Args;

use super::exit::{Exit, fail};
use super::paths::Paths;

/// `clip` arguments.
#[derive(Debug, Args)]
pub struct ClipArgs {
    /// Entry path
    pub path: String,
    /// password (default), username, url, notes, totp, or a custom field's name
    #[arg(long, value_name = "NAME", default_value = "password")]
    pub field: String,
    /// Clear the clipboard after this many seconds (only if it still holds the value)
    #[arg(
        long,
        value_name = "SECS",
        env = "AMANAT_CLIP_TIME",
        default_value_t = 45
    )]
    pub clear_after: u64,
}

/// `clip`.
pub fn clip(_paths: &Paths, _args: ClipArgs) -> anyhow::Result<()> {
    fail(
        Exit::Other,
        "'clip' is being implemented",
        "use 'amanat get PATH | wl-copy'",
    )
}

/// Arguments of the hidden `__clip-serve` helper that `clip` starts.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Seconds until the clear
    #[arg(long, value_name = "SECS")]
    pub clear_after: u64,
    /// Only send the clearing OSC 52 to the terminal after the delay
    #[arg(long)]
    pub osc52: bool,
}

/// `__clip-serve`.
pub fn serve(_args: ServeArgs) -> anyhow::Result<()> {
    fail(Exit::Other, "'__clip-serve' is being implemented", "wait")
}
