//! Review commands: `log`, `audit`, `report access`. The logic (classifying records,
//! findings, CSV quoting) is in the library's `audit` module; this file resolves the
//! arguments, formats and prints.

use std::collections::{HashMap, HashSet};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use amanat::audit::{self, AuditOptions, Finding, Names};
use amanat::format::{EntryId, RecordBody};
use amanat::vault::{Listing, OpenEntry, Session, Vault};

use super::exit::{Exit, fail};
use super::identity::{Unlocked, unlock};
use super::output::{format_time, print_json, sanitize, stdout_is_tty};
use super::paths::Paths;
use super::vault::load;

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
    /// Show entries by id only: no passphrase asked, nothing decrypted
    #[arg(long)]
    pub ids: bool,
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
    /// Flag entries you answer for that were not reviewed (nor created) within this many
    /// days (see 'amanat review')
    #[arg(long, value_name = "DAYS", default_value_t = amanat::review::DEFAULT_REVIEW_AGE_DAYS)]
    pub review_age: u64,
    /// Flag entries you answer for not changed, and not used by you on this machine,
    /// within this many days
    #[arg(long, value_name = "DAYS", default_value_t = amanat::review::DEFAULT_UNUSED_DAYS)]
    pub unused: u64,
}

/// `report` subcommands.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Who can read and write what: member × entry, via direct share or group
    #[command(
        after_help = "Examples:\n  amanat report access\n  amanat report access --format csv > access-review.csv"
    )]
    Access(ReportAccessArgs),
    /// Write an evidence pack: access report, findings, signed log, verify result,
    /// members and review status, with a MANIFEST of their SHA-256 signed by you
    #[command(
        after_help = "Examples:\n  amanat report evidence --out evidence-2026 --since 52w\n  amanat report verify-evidence evidence-2026"
    )]
    Evidence(super::evidence::EvidenceArgs),
    /// Check an evidence pack against this vault's roster (no passphrase needed)
    #[command(after_help = "Example:\n  amanat report verify-evidence evidence-2026")]
    VerifyEvidence(super::evidence::VerifyEvidenceArgs),
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
    /// Shorthand for `--format json`, as every other listing takes it
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
}

use amanat::vault::now;

/// Print rows as columns: padded to align on a terminal, tab-separated otherwise
/// (CLI.md). The last cell of a row is never padded.
pub(super) fn print_table(rows: &[Vec<String>]) -> anyhow::Result<()> {
    let tty = stdout_is_tty();
    let mut widths: Vec<usize> = Vec::new();
    if tty {
        for row in rows {
            for (i, cell) in row.iter().enumerate() {
                let w = cell.chars().count();
                match widths.get_mut(i) {
                    Some(max) => *max = (*max).max(w),
                    None => widths.push(w),
                }
            }
        }
    }
    for row in rows {
        let line = if tty {
            let last = row.len().saturating_sub(1);
            row.iter()
                .enumerate()
                .map(|(i, cell)| {
                    if i == last {
                        cell.clone()
                    } else {
                        format!("{cell:<w$}", w = widths[i])
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
        } else {
            row.join("\t")
        };
        outln!("{line}");
    }
    Ok(())
}

/// An entry for `log --entry`: an entry id (8 or more hex digits, as `log` prints it;
/// needs no passphrase and finds deleted entries too), else a path (unlocks the
/// identity, kept in `unlocked` for resolving the other paths). Returns the id.
fn resolve_log_entry(
    paths: &Paths,
    vault: &Vault,
    text: &str,
    unlocked: &mut Option<Unlocked>,
) -> anyhow::Result<EntryId> {
    if (8..=32).contains(&text.len()) && text.chars().all(|c| c.is_ascii_hexdigit()) {
        let prefix = text.to_ascii_lowercase();
        let mut ids: Vec<EntryId> = vault
            .records()
            .iter()
            .filter_map(|r| match r.record().body() {
                RecordBody::EntryRevision(rev) if rev.entry().to_hex().starts_with(&prefix) => {
                    Some(rev.entry())
                }
                _ => None,
            })
            .collect();
        ids.sort();
        ids.dedup();
        match ids.as_slice() {
            [id] => return Ok(*id),
            [] => {}
            _ => {
                return fail(
                    Exit::Usage,
                    format!("entry id '{text}' is ambiguous"),
                    "give more hex digits of the id",
                );
            }
        }
    }
    let identity = unlock(paths)?;
    let id = vault.session(&identity)?.open(text)?.id;
    *unlocked = Some(identity);
    Ok(id)
}

/// The paths of the entries among `ids` that the caller can read (`log` shows them
/// next to the ids). Unlocks the identity unless `unlocked` already holds it; when
/// that fails (no passphrase, no identity, not a member), says so on stderr and
/// returns nothing: the entries are then shown by id.
fn readable_paths(
    paths: &Paths,
    vault: &Vault,
    ids: &HashSet<EntryId>,
    unlocked: Option<Unlocked>,
) -> HashMap<EntryId, String> {
    if ids.is_empty() {
        return HashMap::new();
    }
    let found = (|| -> anyhow::Result<HashMap<EntryId, String>> {
        let identity = match unlocked {
            Some(i) => i,
            None => unlock(paths)?,
        };
        Ok(vault.session(&identity)?.readable_paths(ids)?)
    })();
    found.unwrap_or_else(|e| {
        eprintln!(
            "note: entries are shown by id, not path ({}); --ids skips this",
            sanitize(&super::exit::classify(&e).1)
        );
        HashMap::new()
    })
}

/// A `--since DUR` argument in seconds (a usage error names the grammar).
pub(super) fn since_arg(text: Option<&str>) -> anyhow::Result<Option<u64>> {
    match text.map(audit::parse_duration).transpose() {
        Ok(s) => Ok(s),
        Err(e) => fail(
            Exit::Usage,
            e.to_string(),
            "write a number and a unit: 30m, 12h, 7d, 4w",
        ),
    }
}

/// `log`: the signed history, one record a line, in canonical order. The events come
/// from what is in clear (roster, wraps, ids); the paths of the entries the caller can
/// read are decrypted (unlocking the identity; without it, or with `--ids`, entries
/// are shown by id only).
pub fn log(paths: &Paths, args: LogArgs) -> anyhow::Result<()> {
    let since = since_arg(args.since.as_deref())?;
    let vault = load(paths)?;
    if let Some(m) = &args.member
        && !Names::new(&vault).knows_member(m)
    {
        return fail(
            Exit::NotFound,
            format!("no member '{m}' in this vault's history"),
            "see 'amanat member ls'",
        );
    }
    let mut unlocked = None;
    let entry = match &args.entry {
        Some(text) => Some(resolve_log_entry(paths, &vault, text, &mut unlocked)?),
        None => None,
    };
    let cutoff = since.map(|s| now().saturating_sub(s));
    let events: Vec<audit::Event> = audit::history(&vault)
        .into_iter()
        .filter(|e| cutoff.is_none_or(|c| e.time >= c))
        .filter(|e| args.member.as_deref().is_none_or(|m| e.involves(m)))
        .filter(|e| entry.is_none_or(|id| e.entry == Some(id)))
        .collect();
    // Paths are encrypted: shown for the entries the caller can read.
    let paths_of = if args.ids {
        HashMap::new()
    } else {
        let ids: HashSet<EntryId> = events.iter().filter_map(|e| e.entry).collect();
        readable_paths(paths, &vault, &ids, unlocked)
    };
    let path_of = |e: &audit::Event| -> Option<&str> {
        e.entry.and_then(|id| paths_of.get(&id)).map(String::as_str)
    };
    if args.json {
        let items: Vec<Value> = events.iter().map(|e| log_json(e, path_of(e))).collect();
        return print_json(&json!(items));
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            let subject = e.subject(path_of(e));
            let mut row = vec![
                format_time(e.time),
                sanitize(&e.author).into_owned(),
                e.action.as_str().to_string(),
                if subject.is_empty() {
                    "-".to_string()
                } else {
                    sanitize(&subject).into_owned()
                },
                e.record.short(),
            ];
            if let Some(reason) = e.ignored {
                row.push(format!("IGNORED ({reason})"));
            }
            row
        })
        .collect();
    print_table(&rows)
}

/// One event of `log --json` (docs/audit.md); the evidence pack's `log.json` adds the
/// record's signature to it.
pub(super) fn log_json(e: &audit::Event, path: Option<&str>) -> Value {
    json!({
        "time": e.time,
        "record": e.record.to_hex(),
        "author": e.author,
        "action": e.action.as_str(),
        "subject": e.subject(path),
        "entry": e.entry.map(|id| id.to_hex()),
        "path": path,
        "members": e.members,
        "ignored": e.ignored,
    })
}

/// Warn that entries addressed to the caller failed to open and what that leaves
/// out (`are not in this report`).
pub(super) fn warn_unopened(listing: &Listing, left_out: &str) {
    let n = listing.failed.len();
    if n > 0 {
        eprintln!(
            "warning: {n} entr{} addressed to you failed to open and {left_out}; run 'amanat verify'",
            if n == 1 { "y" } else { "ies" }
        );
    }
}

pub(super) fn note_reader_scope(vault: &Vault, entries: usize, what: &str) {
    let total = vault.entry_count();
    eprintln!(
        "note: you are not an admin: {what} covers only the {entries} of {total} entr{} shared with you",
        if total == 1 { "y" } else { "ies" }
    );
}

/// `audit`: findings over the entries I can read, and vault-level findings.
pub fn audit(paths: &Paths, args: AuditArgs) -> anyhow::Result<()> {
    let vault = load(paths)?;
    let identity = unlock(paths)?;
    let session = vault.session(&identity)?;
    let listing = session.list_all()?;
    let opts = AuditOptions {
        now: now(),
        max_age_days: args.max_age,
        stale_days: args.stale,
    };
    let mut findings = findings(&vault, &listing, &opts)?;
    let rows = super::review::review_rows(paths, &vault, &session, &listing.entries);
    findings.extend(review_findings(&rows, args.review_age, args.unused));
    audit::sort(&mut findings);
    if args.json {
        print_json(&findings_json(&findings))?;
    } else {
        for f in &findings {
            outln!(
                "{}\t{}\t{}",
                f.kind.as_str(),
                sanitize(f.path.as_deref().unwrap_or("-")),
                sanitize(&f.detail)
            );
        }
    }
    if !session.me().role.is_admin() {
        note_reader_scope(&vault, listing.entries.len(), "this audit");
    }
    eprintln!("{}", summary(&findings, listing.entries.len()));
    if args.strict && !findings.is_empty() {
        return fail(
            Exit::AuditFindings,
            format!(
                "{} finding{} (--strict)",
                findings.len(),
                if findings.len() == 1 { "" } else { "s" }
            ),
            "fix them (see docs/audit.md), or run without --strict",
        );
    }
    Ok(())
}

/// `not-reviewed` and `unused` over the entries the caller answers for (all for an
/// admin, those they may write otherwise); `unused` only when the use log is on.
pub(super) fn review_findings(
    rows: &[amanat::review::ReviewRow],
    review_age_days: u64,
    unused_days: u64,
) -> Vec<Finding> {
    let logging = amanat::uselog::enabled();
    if !logging {
        eprintln!("note: the use log is off (AMANAT_USE_LOG=off): no 'unused' findings");
    }
    amanat::review::findings(
        rows,
        &amanat::review::ReviewOptions {
            now: now(),
            review_age_days,
            unused_days: logging.then_some(unused_days),
        },
    )
}

/// Every finding of `audit` over the entries of `listing` (those the caller can read)
/// and the vault: the one list `audit` prints and the evidence pack's `audit.json`
/// holds.
pub(super) fn findings(
    vault: &Vault,
    listing: &Listing,
    opts: &AuditOptions,
) -> anyhow::Result<Vec<Finding>> {
    let names = Names::new(vault);
    let removed_by = audit::rotate_at_source_members(vault, &names);
    let exposed = audit::exposed_to_removed(vault, &names);
    let lost = audit::lost_access(vault, &names, &listing.entries);
    let mut findings = audit::entry_findings(&listing.entries, &removed_by, &exposed, &lost, opts)?;
    findings.extend(audit::vault_findings(
        vault,
        &listing.entries,
        &listing.failed,
    ));
    findings.extend(audit::freshness_finding(vault, opts.now));
    Ok(findings)
}

/// Findings as `audit --json` prints them.
pub(super) fn findings_json(findings: &[Finding]) -> Value {
    let items: Vec<Value> = findings
        .iter()
        .map(|f| json!({"kind": f.kind.as_str(), "path": f.path, "id": f.id, "detail": f.detail}))
        .collect();
    json!(items)
}

/// `3 findings over 12 entries (rotate-at-source: 2, weak: 1)`.
fn summary(findings: &[Finding], entries: usize) -> String {
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let scope = plural(entries, "entry", "entries");
    if findings.is_empty() {
        return format!("audit: no findings over {scope}");
    }
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for f in findings {
        match counts.iter_mut().find(|(k, _)| *k == f.kind.as_str()) {
            Some((_, n)) => *n += 1,
            None => counts.push((f.kind.as_str(), 1)),
        }
    }
    let by_kind: Vec<String> = counts.iter().map(|(k, n)| format!("{k}: {n}")).collect();
    format!(
        "audit: {} over {scope} ({})",
        plural(findings.len(), "finding", "findings"),
        by_kind.join(", ")
    )
}

/// One row of the access report.
pub(super) struct AccessRow {
    entry: String,
    id: EntryId,
    member: String,
    role: &'static str,
    write: bool,
    via: Vec<String>,
}

impl AccessRow {
    fn access(&self) -> &'static str {
        if self.write { "write" } else { "read" }
    }
}

/// The rows of the access report over `entries`: one per member who can reach an
/// entry, keeping only `member` and access through `group` (`@G`) when given.
pub(super) fn access_rows(
    session: &Session<'_>,
    entries: &[OpenEntry],
    member: Option<&str>,
    group: Option<&str>,
) -> Vec<AccessRow> {
    let mut rows = Vec::new();
    for e in entries {
        for a in session.access(e) {
            if member.is_some_and(|m| m != a.member)
                || group.is_some_and(|g| !a.via.iter().any(|v| v == g))
            {
                continue;
            }
            rows.push(AccessRow {
                entry: e.payload.path.clone(),
                id: e.id,
                member: a.member,
                role: a.role.as_str(),
                write: a.write,
                via: a.via,
            });
        }
    }
    rows
}

/// The access report as `report access --format json` prints it.
pub(super) fn access_json(rows: &[AccessRow]) -> Value {
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "entry": r.entry,
                "id": r.id.to_hex(),
                "member": r.member,
                "role": r.role,
                "access": r.access(),
                "via": r.via,
            })
        })
        .collect();
    json!(items)
}

/// The access report as `report access --format csv` prints it (RFC 4180, CRLF).
pub(super) fn access_csv(rows: &[AccessRow]) -> String {
    let mut out = audit::csv_record(&["entry", "member", "role", "access", "via"]);
    for r in rows {
        // Paths and names are teammates' text: no spreadsheet formulas.
        out.push_str(&audit::csv_record(&[
            &audit::csv_defuse(&r.entry),
            &audit::csv_defuse(&r.member),
            r.role,
            r.access(),
            &r.via.join(","),
        ]));
    }
    out
}

/// `report access`: member × entry over the entries I can read.
pub fn report_access(paths: &Paths, args: ReportAccessArgs) -> anyhow::Result<()> {
    let vault = load(paths)?;
    let member = match &args.member {
        Some(m) => Some(vault.member_named(m)?.name.clone()),
        None => None,
    };
    let group = match &args.group {
        Some(g) => Some(format!(
            "@{}",
            vault.group_named(g.trim_start_matches('@'))?.name
        )),
        None => None,
    };
    let identity = unlock(paths)?;
    let session = vault.session(&identity)?;
    let entries: Vec<OpenEntry> = match &args.entry {
        Some(path) => vec![session.open(path)?],
        None => {
            let listing = session.list_all()?;
            warn_unopened(&listing, "are not in this report");
            listing.entries
        }
    };
    let rows = access_rows(&session, &entries, member.as_deref(), group.as_deref());
    if !session.me().role.is_admin() && args.entry.is_none() {
        note_reader_scope(&vault, entries.len(), "this report");
    }
    let format = if args.json {
        ReportFormat::Json
    } else {
        args.format
    };
    match format {
        ReportFormat::Json => print_json(&access_json(&rows)),
        ReportFormat::Csv => {
            use std::io::Write as _;
            std::io::stdout()
                .lock()
                .write_all(access_csv(&rows).as_bytes())?;
            Ok(())
        }
        ReportFormat::Table => {
            let mut table: Vec<Vec<String>> = Vec::new();
            if stdout_is_tty() {
                table.push(
                    ["ENTRY", "MEMBER", "ROLE", "ACCESS", "VIA"]
                        .map(String::from)
                        .to_vec(),
                );
            }
            table.extend(rows.iter().map(|r| {
                vec![
                    sanitize(&r.entry).into_owned(),
                    sanitize(&r.member).into_owned(),
                    r.role.to_string(),
                    r.access().to_string(),
                    sanitize(&r.via.join(",")).into_owned(),
                ]
            }));
            print_table(&table)
        }
    }
}
