//! The yearly review (issue 13): which entries a member answers for, when each was
//! last reviewed and by whom, and the two findings `audit` adds from them —
//! `not-reviewed` and `unused`.
//!
//! A review is a signed `Reviewed` event in the vault ([`Vault::reviews`]: only the
//! counted ones, so only an admin's or a writer's). "Last used by you" comes from the
//! local use log ([`crate::uselog`]), which the caller reads and passes in: it speaks
//! for this person on this machine only. Nothing here prints or returns a secret.

use std::collections::HashMap;

use crate::audit::{Finding, FindingKind, Names};
use crate::duration::DAY;
use crate::format::{EntryContent, EntryId, MemberId, RecordBody};
use crate::vault::{OpenEntry, Review, Vault};

/// Reviews dated further ahead of the local clock than this are not believed: the
/// time of a record is its author's choice, and a review dated next year would keep
/// an entry "reviewed" until then (docs/format.md, "Events").
pub const FUTURE_SLACK: u64 = 3600;

/// The default `--review-age`: a yearly review.
pub const DEFAULT_REVIEW_AGE_DAYS: u64 = 365;

/// The default for `unused`: not changed and not used for a year.
pub const DEFAULT_UNUSED_DAYS: u64 = 365;

/// The newest believable counted review of each entry (ignoring those dated more than
/// [`FUTURE_SLACK`] ahead of `now`); vault-wide reviews are not an entry's.
pub fn latest_reviews(vault: &Vault, now: u64) -> HashMap<EntryId, Review> {
    let mut out: HashMap<EntryId, Review> = HashMap::new();
    for r in vault.reviews() {
        let Some(e) = r.entry else { continue };
        if r.time > now.saturating_add(FUTURE_SLACK) {
            continue;
        }
        match out.get(&e) {
            Some(old) if (old.time, old.record) >= (r.time, r.record) => {}
            _ => {
                out.insert(e, r);
            }
        }
    }
    out
}

/// Who created each entry and when (the counted revision that names no previous one;
/// an entry id is bound to its creator, docs/format.md "Entry revisions").
pub fn creators(vault: &Vault) -> HashMap<EntryId, (MemberId, u64)> {
    let mut out = HashMap::new();
    for r in vault.records() {
        if let RecordBody::EntryRevision(rev) = r.record.body()
            && rev.prev().is_none()
            && matches!(rev.content(), EntryContent::Sealed(_))
            && vault.counts(&r.id)
        {
            out.entry(rev.entry())
                .or_insert((r.record.author(), r.record.time()));
        }
    }
    out
}

/// One line of `amanat review`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRow {
    /// The entry.
    pub id: EntryId,
    /// Its path.
    pub path: String,
    /// Who created it (a name), if its first revision is in this copy.
    pub author: Option<String>,
    /// When it was created (the payload's time, else its first record's).
    pub created: u64,
    /// When it last changed (the payload's `modified`, else `created`).
    pub changed: u64,
    /// When this person last used it on this machine (the use log), if ever.
    pub used: Option<u64>,
    /// Who can read it: member names, sorted.
    pub readers: Vec<String>,
    /// Who can write it besides admins: member names, sorted.
    pub writers: Vec<String>,
    /// Its newest counted review: when, by whom, with what note.
    pub reviewed: Option<(u64, String, Option<String>)>,
}

impl ReviewRow {
    /// When the review clock of this entry started: its last review, or its creation.
    pub fn review_due_from(&self) -> u64 {
        self.reviewed
            .as_ref()
            .map_or(self.created, |(t, _, _)| (*t).max(self.created))
    }
}

/// The rows for `entries` (the caller's: all for an admin, those they may write
/// otherwise), oldest-reviewed first: never-reviewed entries first (oldest created
/// first), then by the time of their last review; ties by path.
pub fn rows(
    vault: &Vault,
    names: &Names,
    entries: &[(&OpenEntry, Vec<crate::vault::Access>)],
    uses: &HashMap<EntryId, u64>,
    now: u64,
) -> Vec<ReviewRow> {
    let reviews = latest_reviews(vault, now);
    let creators = creators(vault);
    let mut out: Vec<ReviewRow> = entries
        .iter()
        .map(|(e, access)| {
            let p = &e.payload;
            let first = creators.get(&e.id);
            let created = if p.created != 0 {
                p.created
            } else {
                first.map_or(0, |&(_, t)| t)
            };
            let mut readers: Vec<String> = access.iter().map(|a| a.member.clone()).collect();
            readers.sort();
            readers.dedup();
            let mut writers: Vec<String> = access
                .iter()
                .filter(|a| a.write && !a.role.is_admin())
                .map(|a| a.member.clone())
                .collect();
            writers.sort();
            writers.dedup();
            ReviewRow {
                id: e.id,
                path: p.path.clone(),
                author: first.map(|(m, _)| names.member(m)),
                created,
                changed: if p.modified != 0 { p.modified } else { created },
                used: uses.get(&e.id).copied(),
                readers,
                writers,
                reviewed: reviews
                    .get(&e.id)
                    .map(|r| (r.time, names.member(&r.author), r.note.clone())),
            }
        })
        .collect();
    out.sort_by(oldest_reviewed_first);
    out
}

/// The order of `review`: never-reviewed entries first (oldest created first), then
/// by the time of the last review; ties by path, then id.
pub fn oldest_reviewed_first(a: &ReviewRow, b: &ReviewRow) -> std::cmp::Ordering {
    let key = |r: &ReviewRow| (r.reviewed.as_ref().map(|x| x.0), r.created);
    key(a)
        .cmp(&key(b))
        .then_with(|| a.path.cmp(&b.path))
        .then(a.id.cmp(&b.id))
}

/// What the review findings check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewOptions {
    /// The current time (seconds since the epoch).
    pub now: u64,
    /// `not-reviewed`: no review (and no creation) within this many days.
    pub review_age_days: u64,
    /// `unused`: not changed and not used by this person within this many days;
    /// `None` when the use log is off (then nothing is said about use).
    pub unused_days: Option<u64>,
}

/// `not-reviewed` and `unused` findings over review rows.
pub fn findings(rows: &[ReviewRow], opts: &ReviewOptions) -> Vec<Finding> {
    let mut out = Vec::new();
    let limit = |days: u64| opts.now.saturating_sub(days.saturating_mul(DAY));
    let days_ago = |t: u64| opts.now.saturating_sub(t) / DAY;
    for r in rows {
        let finding = |kind, detail: String| Finding {
            kind,
            path: Some(r.path.clone()),
            id: r.id.to_hex(),
            detail,
        };
        if r.review_due_from() <= limit(opts.review_age_days) {
            let detail = match &r.reviewed {
                Some((t, by, _)) => format!(
                    "last reviewed {} days ago by {by} (limit {}): check who needs it, then 'amanat review --mark PATH'",
                    days_ago(*t),
                    opts.review_age_days
                ),
                None => format!(
                    "never reviewed in its {} days (limit {}): check who needs it, then 'amanat review --mark PATH'",
                    days_ago(r.created),
                    opts.review_age_days
                ),
            };
            out.push(finding(FindingKind::NotReviewed, detail));
        }
        if let Some(days) = opts.unused_days
            && r.changed <= limit(days)
            && r.used.is_none_or(|u| u <= limit(days))
        {
            let used = match r.used {
                Some(u) => format!("last used by you {} days ago", days_ago(u)),
                None => "never used by you on this machine".to_string(),
            };
            out.push(finding(
                FindingKind::Unused,
                format!(
                    "not changed for {} days and {used} (limit {days}; others' use is not recorded here): delete it if no one needs it",
                    days_ago(r.changed)
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const NOW: u64 = 2_000_000_000;

    fn row(path: &str, created_days: u64, reviewed_days: Option<u64>) -> ReviewRow {
        ReviewRow {
            id: EntryId([path.len() as u8; 16]),
            path: path.into(),
            author: Some("alice".into()),
            created: NOW - created_days * DAY,
            changed: NOW - created_days * DAY,
            used: None,
            readers: vec!["alice".into()],
            writers: vec![],
            reviewed: reviewed_days.map(|d| (NOW - d * DAY, "bob".into(), None)),
        }
    }

    fn kinds(rows: &[ReviewRow], unused: Option<u64>) -> Vec<(String, FindingKind)> {
        let opts = ReviewOptions {
            now: NOW,
            review_age_days: 365,
            unused_days: unused,
        };
        findings(rows, &opts)
            .into_iter()
            .map(|f| (f.path.unwrap(), f.kind))
            .collect()
    }

    #[test]
    fn the_review_clock_starts_at_creation_or_the_last_review() {
        let rows = [
            row("old/reviewed-400", 800, Some(400)),
            row("old/reviewed-10", 800, Some(10)),
            row("new/never", 30, None),
            row("old/never", 366, None),
            row("old/exactly-a-year", 700, Some(365)),
        ];
        assert_eq!(
            kinds(&rows, None),
            vec![
                ("old/reviewed-400".into(), FindingKind::NotReviewed),
                ("old/never".into(), FindingKind::NotReviewed),
                ("old/exactly-a-year".into(), FindingKind::NotReviewed),
            ]
        );
    }

    #[test]
    fn unused_needs_no_change_and_no_use_within_the_limit() {
        let mut used_yesterday = row("a/used-yesterday", 800, Some(1));
        used_yesterday.used = Some(NOW - DAY);
        let never = row("a/never-used", 730, Some(1));
        let mut changed = row("a/changed-recently", 800, Some(1));
        changed.changed = NOW - 20 * DAY;
        let mut used_long_ago = row("a/used-long-ago", 800, Some(1));
        used_long_ago.used = Some(NOW - 400 * DAY);
        let rows = [used_yesterday, never, changed, used_long_ago];
        assert_eq!(
            kinds(&rows, Some(365)),
            vec![
                ("a/never-used".into(), FindingKind::Unused),
                ("a/used-long-ago".into(), FindingKind::Unused),
            ]
        );
        // With the use log off, nothing is said about use.
        assert!(kinds(&rows, None).is_empty());
    }

    #[test]
    fn rows_sort_never_reviewed_first_then_oldest_review() {
        let mut rows = [
            row("b", 50, Some(5)),
            row("a", 50, Some(300)),
            row("c", 90, None),
            row("d", 60, None),
        ];
        rows.sort_by(oldest_reviewed_first);
        let order: Vec<&str> = rows.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(order, ["c", "d", "a", "b"]);
    }
}
