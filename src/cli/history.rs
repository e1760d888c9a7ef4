//! `history` (the revisions of an entry: who changed which fields, never values) and
//! `restore` (a new revision with an old revision's fields). The logic is in the
//! library (`vault::Session::entry_history`, `vault::Session::restore_revision`);
//! this file resolves the arguments, formats and prints.

use clap::Args;
use serde_json::json;

use amanat::audit::Names;
use amanat::format::{Principal, RecordId};
use amanat::vault::{Change, RestoreError, Revision, VaultError};

use super::entry::warn_shadowed;
use super::exit::{Exit, fail};
use super::identity::unlock;
use super::output::{format_time, print_json, sanitize, stdout_is_tty};
use super::paths::Paths;
use super::vault::load;

/// `history` arguments.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Entry path
    pub path: String,
    /// Machine-readable output (shape in docs/guide.md)
    #[arg(long)]
    pub json: bool,
}

/// `restore` arguments.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Entry path
    pub path: String,
    /// The revision to bring back: its record id as 'history' prints it (8 or more hex
    /// digits, or the full id)
    #[arg(long, value_name = "ID")]
    pub revision: String,
}

/// `+bob, -@devops`.
fn principals(names: &Names, added: &[Principal], removed: &[Principal]) -> String {
    added
        .iter()
        .map(|p| format!("+{}", names.principal(p)))
        .chain(removed.iter().map(|p| format!("-{}", names.principal(p))))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One change as the text form shows it (names and paths, never a value).
fn describe(names: &Names, c: &Change) -> String {
    match c {
        Change::Renamed { from, to } => format!("rename ({from} → {to})"),
        Change::Fields(f) => format!("fields ({})", f.join(", ")),
        Change::RotateAtSource(true) => "rotate-at-source set".into(),
        Change::RotateAtSource(false) => "rotate-at-source cleared".into(),
        Change::Readers { added, removed } => {
            format!("readers ({})", principals(names, added, removed))
        }
        Change::Writers { added, removed } => {
            format!("writers ({})", principals(names, added, removed))
        }
        c => c.as_str().into(),
    }
}

/// `current`, `concurrent`, `VOID (reason)`: how a revision stands.
fn marks(r: &Revision, heads: usize) -> Vec<String> {
    let mut out = Vec::new();
    if r.current {
        out.push("current".to_string());
    } else if r.head && heads > 1 {
        out.push("concurrent".to_string());
    }
    if let Some(reason) = r.void {
        out.push(format!("VOID ({reason})"));
    }
    out
}

fn names_of(names: &Names, ps: &[Principal]) -> Vec<String> {
    ps.iter().map(|p| names.principal(p)).collect()
}

fn to_json(names: &Names, r: &Revision) -> serde_json::Value {
    let mut fields: Vec<String> = Vec::new();
    let (mut readers_added, mut readers_removed) = (Vec::new(), Vec::new());
    let (mut writers_added, mut writers_removed) = (Vec::new(), Vec::new());
    let mut renamed_from = None;
    for c in &r.changes {
        match c {
            Change::Fields(f) => fields.clone_from(f),
            Change::Readers { added, removed } => {
                readers_added = names_of(names, added);
                readers_removed = names_of(names, removed);
            }
            Change::Writers { added, removed } => {
                writers_added = names_of(names, added);
                writers_removed = names_of(names, removed);
            }
            Change::Renamed { from, .. } => renamed_from = Some(from.clone()),
            _ => {}
        }
    }
    let changes: Vec<&str> = r.changes.iter().map(Change::as_str).collect();
    json!({
        "revision": r.record.to_hex(),
        "previous": r.prev.map(|p| p.to_hex()),
        "time": r.time,
        "author": names.member(&r.author),
        "path": r.path,
        "changes": changes,
        "fields": fields,
        "renamed_from": renamed_from,
        "readers_added": readers_added,
        "readers_removed": readers_removed,
        "writers_added": writers_added,
        "writers_removed": writers_removed,
        "readable": r.readable,
        "current": r.current,
        "head": r.head,
        "void": r.void,
    })
}

/// `history PATH`: the revisions of an entry I can read, newest first.
pub fn history(paths: &Paths, args: HistoryArgs) -> anyhow::Result<()> {
    let vault = load(paths)?;
    let identity = unlock(paths)?;
    let session = vault.session(&identity)?;
    let entry = session.open(&args.path)?;
    warn_shadowed(&vault, &entry);
    let revisions = session.entry_history(&entry.id)?;
    let names = Names::new(&vault);
    if args.json {
        let items: Vec<_> = revisions.iter().map(|r| to_json(&names, r)).collect();
        return print_json(&json!(items));
    }
    let rows: Vec<Vec<String>> = revisions
        .iter()
        .map(|r| {
            let mut changes: Vec<String> = r.changes.iter().map(|c| describe(&names, c)).collect();
            if !r.readable {
                changes.push("fields not readable by you".into());
            }
            let mut row = vec![
                format_time(r.time),
                sanitize(&names.member(&r.author)).into_owned(),
                if changes.is_empty() {
                    "-".to_string()
                } else {
                    sanitize(&changes.join(", ")).into_owned()
                },
                r.record.short(),
            ];
            let m = marks(r, entry.heads);
            if !m.is_empty() {
                row.push(m.join(", "));
            }
            row
        })
        .collect();
    print_rows(&rows)?;
    if entry.heads > 1 {
        eprintln!(
            "note: '{}' has {} concurrent revisions; any edit or restore merges them",
            sanitize(&entry.payload.path),
            entry.heads
        );
    }
    Ok(())
}

/// Rows as columns: aligned on a terminal, tab-separated otherwise; the last cell of
/// a row is never padded.
fn print_rows(rows: &[Vec<String>]) -> anyhow::Result<()> {
    let tty = stdout_is_tty();
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.chars().count();
            match widths.get_mut(i) {
                Some(max) => *max = (*max).max(w),
                None => widths.push(w),
            }
        }
    }
    for row in rows {
        let last = row.len().saturating_sub(1);
        let line = row
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if tty && i != last {
                    format!("{cell:<w$}", w = widths[i])
                } else {
                    cell.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(if tty { "  " } else { "\t" });
        outln!("{line}");
    }
    Ok(())
}

/// The revision `text` names: 8 or more hex digits of a record id, one record only.
fn revision_id(vault: &amanat::vault::Vault, text: &str) -> anyhow::Result<RecordId> {
    if !(8..=64).contains(&text.len()) || !text.chars().all(|c| c.is_ascii_hexdigit()) {
        return fail(
            Exit::Usage,
            format!("--revision '{}' is not a revision id", sanitize(text)),
            "give 8 or more hex digits of a revision id, as 'amanat history PATH' prints it",
        );
    }
    match vault.records_with_prefix(text).as_slice() {
        [id] => Ok(*id),
        [] => fail(
            Exit::NotFound,
            format!("no revision {text}"),
            "see 'amanat history PATH' for the entry's revisions",
        ),
        many => fail(
            Exit::Usage,
            format!("{} records have ids starting with {text}", many.len()),
            "give more digits of the id",
        ),
    }
}

/// `restore PATH --revision ID`: a new revision with the old revision's fields.
pub fn restore(paths: &Paths, args: RestoreArgs) -> anyhow::Result<()> {
    let identity = unlock(paths)?;
    let path = args.path.clone();
    let (_, (restored, new)) = super::vault::write(paths, |vault| -> anyhow::Result<_> {
        let session = vault.session(&identity)?;
        let entry = session.open(&path)?;
        warn_shadowed(vault, &entry);
        let id = revision_id(vault, &args.revision)?;
        let body = match session.restore_revision(&entry, &id, amanat::vault::now()) {
            Ok(body) => body,
            Err(e) => return restore_failure(&path, e),
        };
        let ids = vault.append(&identity, vec![body])?;
        Ok((id, ids.first().copied()))
    })?;
    match new {
        Some(new) => outln!(
            "restored {} to revision {} (new revision {})",
            sanitize(&args.path),
            restored.short(),
            new.short()
        ),
        None => outln!(
            "restored {} to revision {}",
            sanitize(&args.path),
            restored.short()
        ),
    }
    Ok(())
}

/// Exit codes and hints for a revision that cannot be restored.
fn restore_failure<T>(path: &str, e: RestoreError) -> anyhow::Result<T> {
    let history = format!("see 'amanat history {}'", sanitize(path));
    match e {
        RestoreError::NoRevision(_) | RestoreError::OtherEntry(_) => {
            fail(Exit::NotFound, e.to_string(), history)
        }
        RestoreError::Void { .. } => fail(
            Exit::Integrity,
            e.to_string(),
            "pick a revision history does not mark VOID; 'amanat verify' says why it is void",
        ),
        RestoreError::Tombstone(_) => fail(
            Exit::Usage,
            e.to_string(),
            "pick the revision before the delete",
        ),
        RestoreError::Unchanged(_) => fail(Exit::Usage, e.to_string(), history),
        RestoreError::NotReadable(_) => fail(
            Exit::Denied,
            e.to_string(),
            "pick a revision 'amanat history' can read for you (one without 'fields not readable by you')",
        ),
        RestoreError::Vault(VaultError::Denied(why)) => fail(
            Exit::Denied,
            format!("access denied: {why}"),
            "restoring is an edit: ask an admin for write access (amanat share PATH --with NAME --write)",
        ),
        RestoreError::Vault(v) => Err(v.into()),
        e => fail(Exit::Other, e.to_string(), history),
    }
}
