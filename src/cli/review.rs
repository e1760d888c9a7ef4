//! `review`: the yearly review listing, and `review --mark`, which writes signed
//! `Reviewed` events. The logic is in the library's `review` module.

use clap::Args;
use serde_json::json;

use amanat::audit::Names;
use amanat::format::{AuditEvent, RecordBody, check_note};
use amanat::review::{self, ReviewRow};
use amanat::vault::{Access, OpenEntry, Session, Vault, now};

use super::exit::{Exit, fail};
use super::identity::unlock;
use super::output::{format_time, print_json, sanitize, stdout_is_tty};
use super::paths::Paths;
use super::vault::load;

/// `review` arguments.
#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// Record that you reviewed these entries (signed events), instead of listing
    #[arg(long)]
    pub mark: bool,
    /// Entries to mark as reviewed
    #[arg(value_name = "PATH", requires = "mark")]
    pub paths: Vec<String>,
    /// Mark every entry under this prefix that you may review (with --mark)
    #[arg(long, value_name = "PREFIX", requires = "mark")]
    pub all_under: Option<String>,
    /// A note kept with the review, e.g. "still used by billing" (with --mark)
    #[arg(long, value_name = "TEXT", requires = "mark")]
    pub note: Option<String>,
    /// Machine-readable output
    #[arg(long, conflicts_with = "mark")]
    pub json: bool,
}

/// The entries `me` answers for in a review, with who can reach each: every entry
/// for an admin, the entries they may write otherwise.
fn reviewable<'a>(
    session: &Session<'_>,
    entries: &'a [OpenEntry],
) -> Vec<(&'a OpenEntry, Vec<Access>)> {
    entries
        .iter()
        .filter(|e| session.may_write(e))
        .map(|e| (e, session.access(e)))
        .collect()
}

/// The review rows of the entries among `entries` (opened already) that the caller
/// answers for, with their last use from the use log: the `review` listing, the
/// `not-reviewed` and `unused` findings of `audit`, and the evidence pack's
/// `review.json`.
pub(super) fn review_rows(
    paths: &Paths,
    vault: &Vault,
    session: &Session<'_>,
    entries: &[OpenEntry],
) -> Vec<ReviewRow> {
    let uses = super::uselog::last_uses(paths, vault);
    let mine = reviewable(session, entries);
    review::rows(vault, &Names::new(vault), &mine, &uses, now())
}

/// A row as JSON (the shape docs/audit.md documents).
pub(super) fn row_json(r: &ReviewRow) -> serde_json::Value {
    json!({
        "path": r.path,
        "id": r.id.to_hex(),
        "author": r.author,
        "created": r.created,
        "changed": r.changed,
        "last_used_by_you": r.used,
        "readers": r.readers,
        "writers": r.writers,
        "last_reviewed": r.reviewed.as_ref().map(|(t, by, note)| json!({
            "time": t,
            "by": by,
            "note": note,
        })),
    })
}

fn day(t: u64) -> String {
    format_time(t).chars().take(10).collect()
}

/// `review`: list, or with `--mark`, record reviews.
pub fn review(paths: &Paths, args: ReviewArgs) -> anyhow::Result<()> {
    if args.mark {
        return mark(paths, args);
    }
    let vault = load(paths)?;
    let identity = unlock(paths)?;
    let session = vault.session(&identity)?;
    let listing = session.list_all()?;
    super::audit::warn_unopened(&listing, "are not listed");
    let rows = review_rows(paths, &vault, &session, &listing.entries);
    if !session.me().role.is_admin() {
        eprintln!(
            "note: you are not an admin: this review lists the entries you may write ({})",
            rows.len()
        );
    }
    if args.json {
        return print_json(&json!(rows.iter().map(row_json).collect::<Vec<_>>()));
    }
    let now = now();
    let mut table: Vec<Vec<String>> = Vec::new();
    if stdout_is_tty() {
        table.push(
            [
                "PATH", "AUTHOR", "AGE", "CHANGED", "USED", "READERS", "REVIEWED",
            ]
            .map(String::from)
            .to_vec(),
        );
    }
    for r in &rows {
        table.push(vec![
            sanitize(&r.path).into_owned(),
            sanitize(r.author.as_deref().unwrap_or("-")).into_owned(),
            format!("{}d", now.saturating_sub(r.created) / amanat::duration::DAY),
            day(r.changed),
            r.used.map_or_else(|| "-".to_string(), day),
            sanitize(&r.readers.join(",")).into_owned(),
            match &r.reviewed {
                Some((t, by, _)) => format!("{} by {}", day(*t), sanitize(by)),
                None => "never".to_string(),
            },
        ]);
    }
    super::audit::print_table(&table)?;
    eprintln!(
        "{} entr{} to review; mark each with 'amanat review --mark PATH [--note TEXT]'",
        rows.len(),
        if rows.len() == 1 { "y" } else { "ies" }
    );
    Ok(())
}

/// `review --mark`: one signed `Reviewed` event for each entry named (and under
/// `--all-under`), in one write. All or nothing: an entry you may not review fails
/// the whole command, except under `--all-under`, where only those you may review
/// are marked and the rest counted on stderr.
fn mark(paths: &Paths, args: ReviewArgs) -> anyhow::Result<()> {
    if args.paths.is_empty() && args.all_under.is_none() {
        return fail(
            Exit::Usage,
            "nothing to mark",
            "name the entries you reviewed, or give --all-under PREFIX",
        );
    }
    let note = args.note.filter(|n| !n.is_empty());
    if let Some(n) = &note
        && check_note(n).is_err()
    {
        return fail(
            Exit::Usage,
            format!(
                "a review note is 1 to {} bytes on one line",
                amanat::format::MAX_NOTE_LEN
            ),
            "shorten the note and leave out line breaks and control characters",
        );
    }
    let identity = unlock(paths)?;
    let (_, marked) = super::vault::write(paths, |vault| -> anyhow::Result<Vec<String>> {
        let session = vault.session(&identity)?;
        let mut chosen: Vec<OpenEntry> = Vec::new();
        for path in &args.paths {
            let e = session.open(path)?;
            if !session.may_write(&e) {
                return fail(
                    Exit::Denied,
                    format!("you may not review '{}'", sanitize(path)),
                    "only an admin or a writer of an entry reviews it; ask an admin",
                );
            }
            chosen.push(e);
        }
        if let Some(prefix) = &args.all_under {
            let listing = session.list_all()?;
            let under: Vec<OpenEntry> = listing
                .entries
                .into_iter()
                .filter(|e| e.payload.path.starts_with(prefix.as_str()))
                .collect();
            let total = under.len();
            let mine: Vec<OpenEntry> = under.into_iter().filter(|e| session.may_write(e)).collect();
            if mine.is_empty() {
                return fail(
                    Exit::NotFound,
                    format!("no entry under '{}' that you may review", sanitize(prefix)),
                    "see 'amanat review' for the entries you answer for",
                );
            }
            if mine.len() < total {
                eprintln!(
                    "note: {} entr{} under '{}' left out: you may only read {}",
                    total - mine.len(),
                    if total - mine.len() == 1 { "y" } else { "ies" },
                    sanitize(prefix),
                    if total - mine.len() == 1 {
                        "it"
                    } else {
                        "them"
                    }
                );
            }
            chosen.extend(mine);
        }
        chosen.sort_by(|a, b| a.payload.path.cmp(&b.payload.path).then(a.id.cmp(&b.id)));
        chosen.dedup_by_key(|e| e.id);
        let bodies: Vec<RecordBody> = chosen
            .iter()
            .map(|e| RecordBody::Event(AuditEvent::reviewed(Some(e.id), note.clone())))
            .collect();
        let paths: Vec<String> = chosen.iter().map(|e| e.payload.path.clone()).collect();
        drop(session);
        vault.append(&identity, bodies)?;
        Ok(paths)
    })?;
    for p in &marked {
        outln!("{}", sanitize(p));
    }
    eprintln!(
        "marked {} entr{} reviewed (signed; see 'amanat log')",
        marked.len(),
        if marked.len() == 1 { "y" } else { "ies" }
    );
    Ok(())
}
