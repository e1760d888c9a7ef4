//! `amanat init|info|verify`, and loading the vault for other commands.

use serde_json::json;

use amanat::identity::{self as id, Keyholder};
use amanat::store::{self, PinStatus};
use amanat::vault::Vault;

use super::exit::{Exit, Failure, fail};
use super::output::{print_json, sanitize};
use super::paths::Paths;
use super::{InitArgs, JsonArgs};

/// Load the vault, check and update this machine's pins, warn on first use.
pub fn load(paths: &Paths) -> anyhow::Result<Vault> {
    let (vault, status) = paths.store().load()?;
    if status == PinStatus::FirstUse {
        eprintln!(
            "warning: first use of vault {} on this machine: trusting and pinning it (compare the vault id with your team)",
            vault.id().to_hex()
        );
    }
    warn_segments(&vault);
    warn_pins(&vault);
    warn_ignored(&vault);
    // Announcing key changes is best effort: a read-only state directory must not
    // stop reading.
    if let Ok(notices) = paths.store().check_member_keys(&vault) {
        for n in notices {
            eprintln!(
                "notice: {}'s keys changed (new fingerprint {}); compare it with them before sharing anything new",
                sanitize(&n.member),
                n.fingerprint
            );
        }
    }
    Ok(vault)
}

/// Make a change under the write lock ([`amanat::store::VaultStore::update`]),
/// warning first when this copy may be stale (SECURITY.md item 15): a warning, never a
/// refusal, so that a stale copy can still revoke.
pub fn write<T, E>(
    paths: &Paths,
    change: impl FnOnce(&mut Vault) -> Result<T, E>,
) -> Result<(Vault, T), E>
where
    E: From<amanat::store::StoreError>,
{
    let (vault, out) = paths.store().update(|vault| {
        warn_segments(vault);
        warn_stale(vault);
        change(vault)
    })?;
    warn_pins(&vault);
    Ok((vault, out))
}

/// A pin that could not be written (a full or read-only state directory).
pub fn warn_pins(vault: &Vault) {
    if let Some(w) = vault.pin_warning() {
        eprintln!("warning: {w}");
    }
}

/// The freshness warning, when the newest heartbeat is older than the limit.
pub fn warn_stale(vault: &Vault) {
    if let Some(w) = vault.stale_warning(amanat::vault::now()) {
        eprintln!("warning: {w}");
    }
}

fn warn_segments(vault: &Vault) {
    let report = vault.segment_report();
    for (name, why) in &report.damaged {
        eprintln!(
            "warning: skipping segment {} ({}); run 'amanat verify'",
            sanitize(name),
            why
        );
    }
    if !report.held_back.is_empty() {
        eprintln!(
            "warning: {} record(s) held back until the segments holding their parents arrive (sync again, or wait for your file share)",
            report.held_back.len()
        );
    }
}

fn warn_ignored(vault: &Vault) {
    for i in vault.voided_here() {
        let cause = i
            .cause
            .map(|c| format!(", because of record {}", c.short()))
            .unwrap_or_default();
        eprintln!(
            "warning: record {} counted here before and is now void ({}{cause}); the owner can redo it with 'amanat adopt {}'",
            i.record.short(),
            i.reason,
            i.record.short()
        );
    }
    for i in vault.ignored() {
        // Each void record is named once, when it arrives (`verify` lists them all).
        if vault.voided_here().iter().any(|v| v.record == i.record) || vault.seen_here(&i.record) {
            continue;
        }
        let redo = if i.reason.starts_with("concurrent with") {
            format!(
                "; the owner can redo it with 'amanat adopt {}'",
                i.record.short()
            )
        } else {
            "; run 'amanat verify'".to_string()
        };
        eprintln!(
            "warning: ignoring record {} ({}){redo}",
            i.record.short(),
            i.reason
        );
    }
}

/// `init`.
pub fn init(paths: &Paths, mut args: InitArgs) -> anyhow::Result<()> {
    let store = paths.store();
    if store.exists() {
        return fail(
            Exit::Other,
            format!("a vault already exists at {}", paths.vault.display()),
            "use it, or choose another file with --vault / AMANAT_VAULT",
        );
    }
    match amanat::format::check_name(amanat::format::NameKind::Team, &args.name) {
        Ok(name) => args.name = name,
        Err(why) => {
            return fail(
                Exit::Usage,
                format!("invalid team name: {why}"),
                "use a name of at most 128 bytes without control, bidi (right-to-left) or \
                 invisible characters",
            );
        }
    }
    let identity = super::identity::unlock(paths)?;
    let vault = Vault::create(&identity, &args.name)?;
    store.forget_path()?;
    store.create(&vault)?;
    outln!("vault: {}", vault.id().to_hex());
    eprintln!(
        "created vault for team '{}' at {}; '{}' is its owner",
        sanitize(&args.name),
        paths.vault.display(),
        sanitize(identity.name())
    );
    Ok(())
}

/// `info`: needs no passphrase (the role is found by public key).
pub fn info(paths: &Paths, args: JsonArgs) -> anyhow::Result<()> {
    let vault = load(paths)?;
    let role = store::read_identity(&paths.identity)
        .ok()
        .and_then(|b| id::inspect(&b).ok())
        .and_then(|info| {
            vault
                .members()
                .find(|m| m.active && m.keys == info.keys)
                .map(|m| m.role.as_str())
        });
    let members = vault.members().filter(|m| m.active).count();
    let groups = vault
        .groups()
        .filter(|g| g.id != amanat::format::ADMINS_GROUP)
        .count();
    let heads: Vec<String> = vault.heads().iter().map(|h| h.to_hex()).collect();
    if args.json {
        return print_json(&json!({
            "vault_id": vault.id().to_hex(),
            "team": vault.team(),
            "members": members,
            "groups": groups,
            "entries": vault.entry_count(),
            "records": vault.record_count(),
            "segments": vault.segment_report().segments,
            "heads": heads,
            "your_role": role,
            "file": paths.vault.display().to_string(),
            "directory": paths.vault.display().to_string(),
        }));
    }
    outln!("vault: {}", vault.id().to_hex());
    outln!("team: {}", sanitize(vault.team()));
    outln!("members: {members}");
    outln!("groups: {groups}");
    outln!("entries: {}", vault.entry_count());
    outln!("records: {}", vault.record_count());
    outln!("segments: {}", vault.segment_report().segments);
    outln!("your role: {}", role.unwrap_or("not a member"));
    outln!("directory: {}", paths.vault.display());
    Ok(())
}

/// `verify`: every record, signature and authority rule; exit 6 on any failure.
pub fn verify(paths: &Paths) -> anyhow::Result<()> {
    let vault = load(paths)?;
    let outcome = verify_outcome(&vault)?;
    for line in &outcome.lines {
        outln!("{line}");
    }
    for note in &outcome.notes {
        eprintln!("{note}");
    }
    match outcome.failure {
        Some(f) => Err(f.into()),
        None => Ok(()),
    }
}

/// What `verify` found, without printing or exiting (the evidence pack's `verify.txt`
/// holds it too).
#[derive(Debug)]
pub struct VerifyOutcome {
    /// The lines `verify` prints on stdout (escaped for a terminal).
    pub lines: Vec<String>,
    /// The notes it prints on stderr.
    pub notes: Vec<String>,
    /// Why it fails (exit 6), or `None` when the vault verifies.
    pub failure: Option<Failure>,
}

/// Check every record, signature and authority rule of `vault` (see [`verify`]).
pub fn verify_outcome(vault: &Vault) -> anyhow::Result<VerifyOutcome> {
    let report = vault.verify()?;
    let segments = vault.segment_report();
    let mut lines = Vec::new();
    let mut notes = Vec::new();
    let failed = |lines, notes, message: String, hint: String| {
        Ok(VerifyOutcome {
            lines,
            notes,
            failure: Some(Failure::new(Exit::Integrity, message, hint)),
        })
    };
    for (name, why) in &segments.damaged {
        lines.push(format!("segment\t{}\t{}", sanitize(name), why));
    }
    for id in &segments.held_back {
        lines.push(format!("held\t{}\tparents not arrived", id.to_hex()));
    }
    if !segments.damaged.is_empty() {
        return failed(
            lines,
            notes,
            format!(
                "vault integrity check failed: {} damaged segment(s)",
                segments.damaged.len()
            ),
            "they are skipped; delete them and restore the vault directory from your team's shared copy (docs/sync.md)".into(),
        );
    }
    if !segments.held_back.is_empty() {
        return failed(
            lines,
            notes,
            format!(
                "vault integrity check incomplete: {} record(s) held back, their parents are in no segment",
                segments.held_back.len()
            ),
            "an incomplete copy (sync again, or wait for your file share) or a tampered one: their signatures cannot be checked until the parents arrive".into(),
        );
    }
    if !report.ignored.is_empty() {
        for i in &report.ignored {
            lines.push(format!("ignored\t{}\t{}", i.record.to_hex(), i.reason));
        }
        let adoptable = report
            .ignored
            .iter()
            .filter(|i| i.reason.starts_with("concurrent with"))
            .count();
        if adoptable > 0 {
            notes.push(format!(
                "note: {adoptable} record(s) are void only because they were concurrent with a removal, demotion, key replacement or hand-over; the owner can redo them with 'amanat adopt RECORD-ID'"
            ));
        }
        let damaged = report
            .ignored
            .iter()
            .filter(|i| i.reason == amanat::vault::BAD_SIGNATURE)
            .count();
        if damaged > 0 {
            return failed(
                lines,
                notes,
                "vault integrity check failed: record signature".to_string(),
                format!(
                    "{damaged} record(s) are damaged or forged and are skipped; restore the vault from a good copy"
                ),
            );
        }
        return failed(
            lines,
            notes,
            format!("{} record(s) fail the authority rule", report.ignored.len()),
            "they are ignored; ask an admin to investigate who wrote them".into(),
        );
    }
    for f in vault.wrap_findings() {
        lines.push(format!(
            "wrap\t{}\t{}",
            f.entry.to_hex(),
            sanitize(&f.problem)
        ));
    }
    lines.push(format!(
        "ok: vault {}: {} records, {} entries; every signature and authority rule verified",
        vault.id().short(),
        report.records,
        report.entries
    ));
    Ok(VerifyOutcome {
        lines,
        notes,
        failure: None,
    })
}
