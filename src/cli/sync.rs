//! `amanat merge` (and `amanat sync`): take in the records of other copies.

use std::path::PathBuf;

use clap::Args;

use amanat::sync::{self, SyncError};

use super::exit::{Exit, fail};
use super::output::sanitize;
use super::paths::Paths;

/// `merge` arguments.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Other copies: a vault directory, a `.seg` file, an old single-file vault, a
    /// sync-conflict copy
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// `merge PATH...`.
pub fn merge(paths: &Paths, args: MergeArgs) -> anyhow::Result<()> {
    let store = paths.store();
    let report = match sync::merge_paths(&store, &args.paths) {
        Ok(r) => r,
        Err(e) => return sync_failure(e),
    };
    let vault = &report.vault;
    if report.created {
        eprintln!(
            "created vault directory {} from {} record(s) of vault {} (team '{}'); pinned it (compare the vault id with your team)",
            paths.vault.display(),
            report.added,
            vault.id().to_hex(),
            sanitize(vault.team())
        );
    }
    if report.held_back > 0 {
        eprintln!(
            "warning: {} incoming record(s) held back: their parents are in neither copy",
            report.held_back
        );
    }
    match (&report.segment, report.created) {
        (_, true) => outln!("merged: {} new record(s)", report.added),
        (Some(name), false) => outln!(
            "merged: {} new record(s) in segment {}, {} already here",
            report.added,
            name,
            report.known
        ),
        (None, false) => outln!(
            "merged: nothing new ({} record(s) already here)",
            report.known
        ),
    }
    Ok(())
}

/// Map a merge or sync error to its exit code and hint.
pub fn sync_failure(e: SyncError) -> anyhow::Result<()> {
    match e {
        SyncError::Store(e) => Err(e.into()),
        e @ (SyncError::Damaged { .. }
        | SyncError::OtherVault { .. }
        | SyncError::BadRecords { .. }
        | SyncError::Orphans { .. }
        | SyncError::Rewritten(_)) => fail(
            Exit::Integrity,
            e.to_string(),
            "nothing was changed; do not use that copy, and tell your team (docs/sync.md)",
        ),
        e @ SyncError::Empty(_) => fail(
            Exit::NotFound,
            e.to_string(),
            "name a vault directory, a .seg file or an old vault file",
        ),
        e @ SyncError::Git(_) => fail(Exit::Other, e.to_string(), "nothing was changed"),
        e => fail(Exit::Other, e.to_string(), "nothing was changed"),
    }
}

/// `sync` arguments.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The git remote [default: the branch's upstream remote, else origin]
    #[arg(long, value_name = "NAME")]
    pub remote: Option<String>,
    /// Commit, fetch, verify and merge, but do not push
    #[arg(long)]
    pub no_push: bool,
}

/// `sync`: git commit, fetch, verify, merge, push.
pub fn sync(paths: &Paths, args: SyncArgs) -> anyhow::Result<()> {
    let store = paths.store();
    let committer = amanat::store::read_identity(&paths.identity)
        .ok()
        .and_then(|b| amanat::identity::inspect(&b).ok())
        .map_or_else(|| "amanat".to_string(), |i| i.name);
    let opts = sync::git::SyncOptions {
        remote: args.remote,
        push: !args.no_push,
        committer,
    };
    let report = match sync::git::sync(&store, &opts) {
        Ok(r) => r,
        Err(e) => return sync_failure(e),
    };
    if report.restored > 0 {
        eprintln!(
            "note: the other side deleted {} segment(s) whose records exist nowhere else; restored them from this copy",
            report.restored
        );
    }
    let held = report.vault.segment_report().held_back.len();
    if held > 0 {
        eprintln!(
            "warning: {held} record(s) held back until the segments holding their parents arrive"
        );
    }
    if report.no_remote {
        outln!(
            "synced: committed {} segment(s); no git remote to fetch from or push to",
            report.committed
        );
        return Ok(());
    }
    match &report.pushed {
        Some(to) => outln!(
            "synced with {}: {} record(s) in, {} record(s) out",
            sanitize(to),
            report.records_in,
            report.records_out
        ),
        None => outln!(
            "synced (not pushed): {} record(s) in, {} record(s) to push",
            report.records_in,
            report.records_out
        ),
    }
    Ok(())
}

/// `gc`: pack small segments now; delete replaced ones past their grace period.
pub fn gc(paths: &Paths) -> anyhow::Result<()> {
    let store = paths.store();
    // The vault must verify (pins included) before its files are rewritten.
    super::vault::load(paths)?;
    let report = store.compact(true)?;
    match &report.pack {
        Some(name) => outln!(
            "packed {} segment(s) into {}; deleted {} replaced segment(s); {} waiting for the grace period; {} live segment(s)",
            report.packed,
            name,
            report.deleted,
            report.waiting,
            report.live
        ),
        None => outln!(
            "nothing to pack; deleted {} replaced segment(s); {} waiting for the grace period; {} live segment(s)",
            report.deleted,
            report.waiting,
            report.live
        ),
    }
    Ok(())
}
