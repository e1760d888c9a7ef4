//! `report evidence` (write an evidence pack: the review reports and a signed
//! `MANIFEST`) and `report verify-evidence` (check a pack against the vault's roster).
//! The manifest format and the checks are in the library's `evidence` module; this
//! file gathers the reports, writes and reads the directory, and prints.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use amanat::audit::{self, AuditOptions};
use amanat::evidence::{self, EvidenceError, MANIFEST_NAME, MAX_FILES, MAX_MANIFEST_BYTES};
use amanat::format::{ADMINS_GROUP, EntryId};
use amanat::identity as id;
use amanat::vault::{Session, Vault, now};

use super::audit::{
    access_csv, access_json, access_rows, findings, findings_json, log_json, note_reader_scope,
    review_findings,
};
use super::exit::{Exit, fail};
use super::identity::unlock_local;
use super::output::{json_text, sanitize};
use super::paths::Paths;
use super::vault::{load, verify_outcome};

/// `report evidence` arguments.
#[derive(Debug, Args)]
pub struct EvidenceArgs {
    /// The directory to write the pack to (must not exist, or be empty)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The log's period: only events newer than this (e.g. 90d, 52w); default: all
    #[arg(long, value_name = "DUR")]
    pub since: Option<String>,
}

/// `report verify-evidence` arguments.
#[derive(Debug, Args)]
pub struct VerifyEvidenceArgs {
    /// The pack's directory (what `report evidence --out` wrote)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// The next step after a pack that fails verification.
const TAMPERED_HINT: &str = "the pack changed after it was signed, or was not signed by that member: do not rely on it; make a new one with 'amanat report evidence --out DIR'";

/// `report evidence`: the review reports at the vault's current heads, and a
/// `MANIFEST` with their SHA-256 signed by the caller's key (docs/audit.md).
pub fn evidence(paths: &Paths, args: EvidenceArgs) -> anyhow::Result<()> {
    let since = super::audit::since_arg(args.since.as_deref())?;
    check_out_dir(&args.out)?;
    let vault = load(paths)?;
    // The manifest is signed here, with the identity's own key: the agent signs vault
    // records only (docs/agent.md), never other messages, so it is not asked to.
    amanat::harden::lock_all_memory();
    let identity = unlock_local(paths)?;
    let session = vault.session(&identity)?;
    let me = session.me().clone();
    let scope = if me.role.is_admin() {
        evidence::Scope::Admin
    } else {
        evidence::Scope::Reader
    };
    let listing = session.list_all()?;
    super::audit::warn_unopened(&listing, "are not in this pack");
    if scope == evidence::Scope::Reader {
        note_reader_scope(&vault, listing.entries.len(), "this evidence pack");
    }
    let time = now();
    let cutoff = since.map(|s| time.saturating_sub(s));

    let mut files: BTreeMap<&'static str, Vec<u8>> = BTreeMap::new();
    let rows = access_rows(&session, &listing.entries, None, None);
    files.insert("access.csv", access_csv(&rows).into_bytes());
    files.insert(
        "access.json",
        json_file(&json!({
            "scope": scope.as_str(),
            "generated_by": me.name,
            "entries": listing.entries.len(),
            "vault_entries": vault.entry_count(),
            "rows": access_json(&rows),
        }))?,
    );
    let opts = AuditOptions {
        now: time,
        max_age_days: None,
        stale_days: None,
    };
    let mut all = findings(&vault, &listing, &opts)?;
    let review = super::review::review_rows(paths, &vault, &session, &listing.entries);
    all.extend(review_findings(
        &review,
        amanat::review::DEFAULT_REVIEW_AGE_DAYS,
        amanat::review::DEFAULT_UNUSED_DAYS,
    ));
    audit::sort(&mut all);
    files.insert("audit.json", json_file(&findings_json(&all))?);
    files.insert(
        "log.json",
        json_file(&signed_log(&vault, &session, cutoff)?)?,
    );
    files.insert("verify.txt", verify_text(&vault)?.into_bytes());
    files.insert("members.json", json_file(&members_json(&vault))?);
    files.insert(
        "review.json",
        json_file(&json!(
            review
                .iter()
                .map(super::review::row_json)
                .collect::<Vec<_>>()
        ))?,
    );

    let heads = vault.heads();
    let manifest = evidence::Manifest {
        vault: vault.id(),
        heads: heads.clone(),
        time,
        member: me.id,
        member_name: me.name.clone(),
        scope,
        since: cutoff,
        files: files
            .iter()
            .map(|(name, bytes)| (name.to_string(), Sha256::digest(bytes).into()))
            .collect(),
    };
    let signed = manifest.sign(&identity.signing)?;
    write_pack(&args.out, &files, &signed)?;
    outln!(
        "evidence pack written to {}: {} files and MANIFEST, signed by {} at heads {}",
        args.out.display(),
        files.len(),
        sanitize(&me.name),
        short_heads(&heads)
    );
    eprintln!(
        "check it with 'amanat report verify-evidence {}'; it names entries and members: share it like the vault's access report",
        args.out.display()
    );
    Ok(())
}

/// The events of the period (`log --json`'s objects), each with its record's
/// signature: the signed log, checkable against the vault by record id.
fn signed_log(vault: &Vault, session: &Session<'_>, cutoff: Option<u64>) -> anyhow::Result<Value> {
    let events: Vec<audit::Event> = audit::history(vault)
        .into_iter()
        .filter(|e| cutoff.is_none_or(|c| e.time >= c))
        .collect();
    let ids: HashSet<EntryId> = events.iter().filter_map(|e| e.entry).collect();
    let paths_of = session.readable_paths(&ids)?;
    let signatures: std::collections::HashMap<_, _> = vault
        .records()
        .iter()
        .map(|r| (r.id(), r.signature()))
        .collect();
    let items: Vec<Value> = events
        .iter()
        .map(|e| {
            let path = e.entry.and_then(|id| paths_of.get(&id)).map(String::as_str);
            let mut item = log_json(e, path);
            item["signature"] = json!(signatures.get(&e.record).map(|s| hex(&s[..])));
            item
        })
        .collect();
    Ok(json!(items))
}

/// `verify`'s output as text: its lines, its notes, and `failed: …` when it fails.
fn verify_text(vault: &Vault) -> anyhow::Result<String> {
    let outcome = verify_outcome(vault)?;
    let mut out = String::new();
    for line in outcome.lines.iter().chain(&outcome.notes) {
        out.push_str(line);
        out.push('\n');
    }
    if let Some(f) = outcome.failure {
        out.push_str(&format!("failed: {}\n", f.message));
    }
    Ok(out)
}

/// Current members: name, id, role, fingerprint (as `identity show` prints it),
/// public key, whether the key is current, and groups (`@admins` aside: the role
/// says it). Sorted by name.
fn members_json(vault: &Vault) -> Value {
    let mut members: Vec<_> = vault.members().filter(|m| m.active).collect();
    members.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let items: Vec<Value> = members
        .iter()
        .map(|m| {
            let mut groups: Vec<&str> = vault
                .groups()
                .filter(|g| g.id != ADMINS_GROUP && g.members.contains(&m.id))
                .map(|g| g.name.as_str())
                .collect();
            groups.sort_unstable();
            json!({
                "name": m.name,
                "id": m.id.to_hex(),
                "role": m.role.as_str(),
                "fingerprint": id::fingerprint(&m.keys),
                "public_key": id::public_key_text(&m.keys),
                "key_current": m.key_current,
                "groups": groups,
            })
        })
        .collect();
    json!(items)
}

/// JSON as `--json` prints it, with the final newline.
fn json_file(value: &Value) -> anyhow::Result<Vec<u8>> {
    let mut text = json_text(value)?;
    text.push('\n');
    Ok(text.into_bytes())
}

/// Refuse an output directory that exists and is not empty, or is not a directory.
fn check_out_dir(out: &Path) -> anyhow::Result<()> {
    match fs::symlink_metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
        Ok(m) if !m.is_dir() => fail(
            Exit::Other,
            format!("'{}' exists and is not a directory", out.display()),
            "choose a new directory for --out",
        ),
        Ok(_) => {
            if fs::read_dir(out)?.next().is_some() {
                return fail(
                    Exit::Other,
                    format!("'{}' is not empty", out.display()),
                    "choose a new directory for --out (a pack is written whole, never into an old one)",
                );
            }
            Ok(())
        }
    }
}

/// Write the pack: every file (0600) and then `MANIFEST` into a new 0700 directory
/// beside `out`, synced, then renamed to `out` (which may be an empty directory): the
/// pack appears whole or not at all.
fn write_pack(
    out: &Path,
    files: &BTreeMap<&'static str, Vec<u8>>,
    manifest: &[u8],
) -> anyhow::Result<()> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let suffix: [u8; 8] = amanat::crypto::random_array()?;
    let tmp = parent.join(format!(".amanat-evidence-{}", hex(&suffix)));
    fs::DirBuilder::new().mode(0o700).create(&tmp)?;
    let written = (|| -> anyhow::Result<()> {
        for (name, bytes) in files {
            write_new(&tmp.join(name), bytes)?;
        }
        write_new(&tmp.join(MANIFEST_NAME), manifest)?;
        fs::File::open(&tmp)?.sync_all()?;
        fs::rename(&tmp, out)?;
        fs::File::open(&parent)?.sync_all()?;
        Ok(())
    })();
    if written.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    written
}

/// A new file (never an existing one, never through a symlink), 0600, synced.
fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// `report verify-evidence`: check a pack against this vault (docs/audit.md). Needs
/// no passphrase: only public data (the roster, the pack) is read.
pub fn verify_evidence(paths: &Paths, args: VerifyEvidenceArgs) -> anyhow::Result<()> {
    let dir = &args.dir;
    match fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return fail(
                Exit::NotFound,
                format!("no evidence pack at '{}'", dir.display()),
                "give the directory that 'amanat report evidence --out DIR' wrote",
            );
        }
        Err(e) => return Err(e.into()),
        Ok(m) if !m.is_dir() => {
            return fail(
                Exit::Other,
                format!("'{}' is not a directory", dir.display()),
                "give the directory that 'amanat report evidence --out DIR' wrote",
            );
        }
        Ok(_) => {}
    }
    let manifest = read_manifest(dir)?;
    let present = pack_files(dir)?;
    let vault = load(paths)?;
    let verified = match evidence::verify(&vault, &manifest, &present) {
        Ok(v) => v,
        Err(e) => {
            let hint = match &e {
                EvidenceError::WrongVault { .. } => {
                    "check it with the vault it was made from (--vault / AMANAT_VAULT)".to_string()
                }
                EvidenceError::UnknownHead(_) => "sync this copy of the vault first ('amanat sync'); if it still lacks the record, the pack was not made from this vault's history".to_string(),
                _ => TAMPERED_HINT.to_string(),
            };
            return fail(Exit::Integrity, e.to_string(), hint);
        }
    };
    let m = &verified.manifest;
    outln!(
        "evidence verified: {} files, signed by {} at heads {}",
        verified.files,
        sanitize(&m.member_name),
        short_heads(&m.heads)
    );
    if m.scope == evidence::Scope::Reader {
        eprintln!(
            "note: {} is not an admin: the pack covers only the entries shared with them",
            sanitize(&m.member_name)
        );
    }
    // Valid at its heads; say so when the signer's standing has changed since.
    match vault.members().find(|x| x.id == m.member) {
        Some(now) if !now.active => eprintln!(
            "note: {} has since been removed from the vault",
            sanitize(&m.member_name)
        ),
        Some(now) if !now.key_current => eprintln!(
            "note: {} has no current key in the vault now",
            sanitize(&m.member_name)
        ),
        _ => {}
    }
    Ok(())
}

/// `DIR/MANIFEST`'s bytes (at most [`MAX_MANIFEST_BYTES`]; more is an integrity failure).
fn read_manifest(dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = dir.join(MANIFEST_NAME);
    match fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return fail(
                Exit::NotFound,
                format!("'{}' holds no MANIFEST", dir.display()),
                "not an evidence pack, or an incomplete one: make one with 'amanat report evidence --out DIR'",
            );
        }
        Err(e) => return Err(e.into()),
        Ok(m) if !m.is_file() => {
            return fail(
                Exit::Integrity,
                "MANIFEST is not a regular file".to_string(),
                TAMPERED_HINT,
            );
        }
        Ok(_) => {}
    }
    let mut bytes = Vec::new();
    fs::File::open(&path)?
        .take(MAX_MANIFEST_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > MAX_MANIFEST_BYTES {
        return fail(
            Exit::Integrity,
            EvidenceError::TooLarge.to_string(),
            TAMPERED_HINT,
        );
    }
    Ok(bytes)
}

/// The SHA-256 of every file in the pack but `MANIFEST`. Anything that is not a
/// regular file with a UTF-8 name, or more files than a manifest may list, fails.
fn pack_files(dir: &Path) -> anyhow::Result<BTreeMap<String, [u8; 32]>> {
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            return fail(
                Exit::Integrity,
                "the pack holds a file whose name is not UTF-8, which MANIFEST cannot list",
                TAMPERED_HINT,
            );
        };
        if name == MANIFEST_NAME {
            continue;
        }
        if out.len() == MAX_FILES {
            return fail(
                Exit::Integrity,
                format!("the pack holds more than {MAX_FILES} files"),
                TAMPERED_HINT,
            );
        }
        if !fs::symlink_metadata(entry.path())?.is_file() {
            return fail(
                Exit::Integrity,
                format!("'{name}' in the pack is not a regular file"),
                TAMPERED_HINT,
            );
        }
        out.insert(name, sha256_file(&entry.path())?);
    }
    Ok(out)
}

/// SHA-256 of a file, read in blocks (a pack file can be large).
fn sha256_file(path: &Path) -> anyhow::Result<[u8; 32]> {
    let mut f = fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

/// `3f2a9c01,77a0c1e2`.
fn short_heads(heads: &[amanat::format::RecordId]) -> String {
    heads
        .iter()
        .map(|h| h.short())
        .collect::<Vec<_>>()
        .join(",")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
