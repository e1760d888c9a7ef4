//! Review commands: `log`, `audit`, `report access`.

use clap::{Args, Subcommand, ValueEnum};

use super::exit::{Exit, fail};
use super::paths::Paths;

/// `log` arguments.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Only events newer than this (e.g. 30m, 12h, 7d, 4w)
    #[arg(long, value_name = "DUR")]
    pub since: Option<String>,
    /// Only events by or about this member
    #[arg(long, value_name = "M")]
    pub member: Option<String>,
    /// Only events about this entry
    #[arg(long, value_name = "PATH")]
    pub entry: Option<String>,
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
}

/// `audit` arguments.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
    /// Exit 7 when there is any finding
    #[arg(long)]
    pub strict: bool,
    /// Flag passwords older than this many days (due for rotation)
    #[arg(long, value_name = "DAYS")]
    pub max_age: Option<u64>,
    /// Flag entries not modified for this many days
    #[arg(long, value_name = "DAYS")]
    pub stale: Option<u64>,
}

/// `report` subcommands.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Who can read and write what: member × entry, via direct share or group
    #[command(after_help = "Examples:\n  amanat report access\n  amanat report access --format csv > access-review.csv")]
    Access(ReportAccessArgs),
}

/// Report formats.
#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub enum ReportFormat {
    /// Aligned columns (tab-separated off a terminal)
    #[default]
    Table,
    /// RFC 4180 CSV with a header line
    Csv,
    /// A JSON array
    Json,
}

/// `report access` arguments.
#[derive(Debug, Args)]
pub struct ReportAccessArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Only this member
    #[arg(long, value_name = "M")]
    pub member: Option<String>,
    /// Only this entry
    #[arg(long, value_name = "PATH")]
    pub entry: Option<String>,
    /// Only access through this group
    #[arg(long, value_name = "G")]
    pub group: Option<String>,
}

/// `log`.
pub fn log(_paths: &Paths, _args: LogArgs) -> anyhow::Result<()> {
    fail(Exit::Other, "'log' is being implemented", "see docs/guide.md")
}

/// `audit`.
pub fn audit(_paths: &Paths, _args: AuditArgs) -> anyhow::Result<()> {
    fail(Exit::Other, "'audit' is being implemented", "see docs/guide.md")
}

/// `report access`.
pub fn report_access(_paths: &Paths, _args: ReportAccessArgs) -> anyhow::Result<()> {
    fail(Exit::Other, "'report access' is being implemented", "see docs/guide.md")
}
