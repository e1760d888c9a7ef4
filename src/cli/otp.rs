//! `amanat otp`: the current TOTP code of an entry.

use clap::Args;

use super::exit::{Exit, fail};
use super::paths::Paths;

/// `otp` arguments.
#[derive(Debug, Args)]
pub struct OtpArgs {
    /// Entry path
    pub path: String,
    /// Put the code on the clipboard instead of printing it
    #[arg(long)]
    pub clip: bool,
}

/// `otp`.
pub fn otp(_paths: &Paths, _args: OtpArgs) -> anyhow::Result<()> {
    fail(
        Exit::Other,
        "'otp' is being implemented",
        "see docs/guide.md",
    )
}
