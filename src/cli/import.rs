//! `import` and `export` (docs/import.md): read another tool's store or export file
//! into one new segment, and write what you can read as a plaintext file for another
//! tool. The readers are pure functions in `amanat::import`; this file does the I/O:
//! files, walking a `pass` store, running `gpg`.

use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::{Args, ValueEnum};
use zeroize::Zeroizing;

use amanat::import::{self, Imported, table};
use amanat::vault::{ImportReport, OnConflict};

use super::exit::{Exit, fail};
use super::identity::unlock;
use super::output::sanitize;
use super::paths::Paths;

/// Where the logins come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Source {
    /// A `pass` password store (a directory of `.gpg` files), decrypted with your gpg
    Pass,
    /// A KeePass database (.kdbx, KDBX 3.1 or 4); its password from the terminal or
    /// AMANAT_IMPORT_PASSPHRASE_FILE
    Keepass,
    /// KeePass 2 XML (KeePass's or KeePassXC's XML export)
    KeepassXml,
    /// Bitwarden's unencrypted JSON export
    Bitwarden,
    /// Bitwarden's CSV export
    BitwardenCsv,
    /// 1Password's CSV export
    #[value(name = "1password")]
    OnePassword,
    /// Chrome's (Edge's, Brave's) saved passwords CSV
    Chrome,
    /// Firefox's saved logins CSV
    Firefox,
    /// Any CSV, its columns named with --map
    Csv,
}

/// `import` arguments.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The source's format
    #[arg(value_enum)]
    pub source: Source,
    /// The export file, or the store directory for `pass` (default: ~/.password-store)
    pub path: Option<PathBuf>,
    /// Put every entry under this folder (e.g. legacy/)
    #[arg(long, value_name = "FOLDER")]
    pub prefix: Option<String>,
    /// Share every imported entry with a member or @group (repeatable)
    #[arg(long = "share-with", value_name = "NAME|@GROUP")]
    pub share_with: Vec<String>,
    /// When a path is taken: skip (default), rename to "PATH (2)", or overwrite
    #[arg(long, value_enum, default_value = "skip")]
    pub on_conflict: Conflict,
    /// For `csv`: which column holds what, e.g. name=Title,username=Login,password=Pass,url=Site
    #[arg(long, value_name = "FIELD=COLUMN,...")]
    pub map: Option<String>,
    /// Show what would be imported (paths only), write nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// `--on-conflict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Conflict {
    /// Leave the existing entry
    Skip,
    /// Import as "PATH (2)"
    Rename,
    /// Replace the existing entry's content (a new revision)
    Overwrite,
}

/// `export` arguments.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The file format
    #[arg(long, value_enum, default_value = "bitwarden-json")]
    pub format: ExportFormat,
    /// Required: the output holds every secret you can read in plain text
    #[arg(long)]
    pub plaintext: bool,
    /// Write to this file (created with mode 0600; never overwritten) instead of a pipe
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `export --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Bitwarden's JSON (Bitwarden, 1Password, KeePassXC and others import it)
    BitwardenJson,
    /// Bitwarden's CSV layout
    Csv,
}

/// Largest export file read (a bigger one is refused, not truncated).
const MAX_SOURCE_LEN: u64 = 256 << 20;

fn read_source(path: &Path) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let meta = std::fs::metadata(path).or_else(|e| {
        fail(
            Exit::NotFound,
            format!("cannot read {}: {e}", sanitize(&path.display().to_string())),
            "give the path of the export file",
        )
    })?;
    if meta.len() > MAX_SOURCE_LEN {
        return fail(
            Exit::Other,
            format!(
                "{} is larger than 256 MiB",
                sanitize(&path.display().to_string())
            ),
            "split the export, or ask for a larger limit",
        );
    }
    let bytes = std::fs::read(path)?;
    Ok(Zeroizing::new(bytes))
}

fn bad_source(path: &Path, e: &import::ImportError) -> anyhow::Error {
    super::exit::Failure::new(
        Exit::Other,
        format!("{}: {e}", sanitize(&path.display().to_string())),
        "nothing was imported; fix the file (or pick the right format) and run again",
    )
    .into()
}

/// `import`.
pub fn import(paths: &Paths, args: ImportArgs) -> anyhow::Result<()> {
    if args.map.is_some() && args.source != Source::Csv {
        return fail(
            Exit::Usage,
            "--map is for 'import csv'",
            "drop --map, or use 'amanat import csv FILE --map …'",
        );
    }
    let (items, unreadable) = match args.source {
        Source::Pass => read_pass_store(args.path.as_deref())?,
        source => {
            let Some(path) = args.path.as_deref() else {
                return fail(
                    Exit::Usage,
                    "name the export file",
                    "e.g. 'amanat import bitwarden export.json'",
                );
            };
            let bytes = read_source(path)?;
            let parsed = match source {
                Source::Bitwarden => import::bitwarden::parse(&bytes),
                Source::KeepassXml => std::str::from_utf8(&bytes)
                    .map_err(|_| import::ImportError::NotText)
                    .and_then(import::keepass_xml::parse),
                Source::Keepass => {
                    let password = super::input::import_password(&path.display().to_string())?;
                    // The reader may panic on a malformed file; the library catches it,
                    // and no panic message reaches the terminal meanwhile.
                    let hook = std::panic::take_hook();
                    std::panic::set_hook(Box::new(|_| {}));
                    let parsed = import::keepass::parse(
                        &bytes,
                        password.expose(),
                        &import::keepass::Limits::IMPORT,
                    );
                    std::panic::set_hook(hook);
                    match parsed {
                        Err(import::ImportError::Password) => {
                            return fail(
                                Exit::Passphrase,
                                format!(
                                    "{}: the password does not open it (or the file is damaged)",
                                    sanitize(&path.display().to_string())
                                ),
                                "check the database's password (key files are not supported: remove it in KeePass, or export to CSV)",
                            );
                        }
                        other => other,
                    }
                }
                _ => {
                    let text = std::str::from_utf8(&bytes)
                        .map_err(|_| bad_source(path, &import::ImportError::NotText))?;
                    let columns = match source {
                        Source::BitwardenCsv => table::Format::Bitwarden.columns(),
                        Source::OnePassword => table::Format::OnePassword.columns(),
                        Source::Chrome => table::Format::Chrome.columns(),
                        Source::Firefox => table::Format::Firefox.columns(),
                        _ => match &args.map {
                            Some(spec) => {
                                table::parse_map(spec).map_err(|e| bad_source(path, &e))?
                            }
                            None => {
                                return fail(
                                    Exit::Usage,
                                    "'import csv' needs --map",
                                    "name the columns, e.g. --map name=Title,username=Login,password=Pass,url=Site",
                                );
                            }
                        },
                    };
                    table::read(text, &columns)
                }
            };
            (parsed.map_err(|e| bad_source(path, &e))?, Vec::new())
        }
    };
    let prefix = args.prefix.as_deref().unwrap_or("");
    let items: Vec<(String, amanat::format::EntryPayload)> = items
        .into_iter()
        .map(|Imported { path, payload }| {
            (import::normalize_path(&format!("{prefix}/{path}")), payload)
        })
        .collect();
    let identity = unlock(paths)?;
    let time = amanat::vault::now();
    let on_conflict = match args.on_conflict {
        Conflict::Skip => OnConflict::Skip,
        Conflict::Rename => OnConflict::Rename,
        Conflict::Overwrite => OnConflict::Overwrite,
    };
    let report = if args.dry_run {
        let vault = super::vault::load(paths)?;
        let share = super::entry::resolve_share(&vault, &args.share_with)?;
        let mut vault = vault;
        vault.import_entries(&identity, items, &share, on_conflict, time, true)?
    } else {
        let (_, report) = super::vault::write(paths, |vault| -> anyhow::Result<ImportReport> {
            let share = super::entry::resolve_share(vault, &args.share_with)?;
            Ok(vault.import_entries(&identity, items, &share, on_conflict, time, false)?)
        })?;
        report
    };
    let verb = if args.dry_run {
        "would import"
    } else {
        "imported"
    };
    for p in &report.created {
        outln!(
            "{} {}",
            if args.dry_run {
                "would create"
            } else {
                "created"
            },
            sanitize(p)
        );
    }
    for (wanted, given) in &report.renamed {
        outln!("renamed {} -> {}", sanitize(wanted), sanitize(given));
    }
    for p in &report.overwritten {
        outln!("overwrote {}", sanitize(p));
    }
    for p in &report.skipped {
        outln!("skipped {} (path taken)", sanitize(p));
    }
    eprintln!(
        "{verb} {} entr{} ({} custom field{}, {} TOTP seed{}){}{}{}",
        report.created.len() + report.overwritten.len(),
        if report.created.len() + report.overwritten.len() == 1 {
            "y"
        } else {
            "ies"
        },
        report.fields,
        if report.fields == 1 { "" } else { "s" },
        report.totp,
        if report.totp == 1 { "" } else { "s" },
        if report.skipped.is_empty() {
            String::new()
        } else {
            format!(
                "; skipped {} whose path is taken (--on-conflict rename|overwrite)",
                report.skipped.len()
            )
        },
        if report.renamed.is_empty() {
            String::new()
        } else {
            format!("; renamed {}", report.renamed.len())
        },
        if unreadable.is_empty() {
            String::new()
        } else {
            format!(
                "; {} file(s) your gpg could not decrypt were left out",
                unreadable.len()
            )
        },
    );
    for f in &unreadable {
        eprintln!(
            "warning: not imported (gpg could not decrypt it): {}",
            sanitize(f)
        );
    }
    Ok(())
}

/// Every `.gpg` file of a pass store, decrypted with the user's `gpg` (and agent),
/// parsed; and the files gpg could not decrypt (not this user's to read).
fn read_pass_store(dir: Option<&Path>) -> anyhow::Result<(Vec<Imported>, Vec<String>)> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => match std::env::var_os("PASSWORD_STORE_DIR") {
            Some(d) => PathBuf::from(d),
            None => {
                PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".password-store")
            }
        },
    };
    if !dir.is_dir() {
        return fail(
            Exit::NotFound,
            format!("no pass store at {}", sanitize(&dir.display().to_string())),
            "give the store directory, e.g. 'amanat import pass ~/.password-store'",
        );
    }
    let mut files = Vec::new();
    walk(&dir, &dir, &mut files)?;
    files.sort();
    let tty = std::io::stderr().is_terminal();
    let mut items = Vec::with_capacity(files.len());
    let mut unreadable = Vec::new();
    for (n, (rel, file)) in files.iter().enumerate() {
        if tty && files.len() >= 20 {
            eprint!("\rdecrypting {}/{}", n + 1, files.len());
            let _ = std::io::stderr().flush();
        }
        let out = Command::new("gpg")
            .args(["--quiet", "--batch", "--yes", "--decrypt", "--"])
            .arg(file)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                return fail(
                    Exit::Other,
                    format!("cannot run gpg: {e}"),
                    "install gnupg (the pass store is decrypted with your own gpg and key)",
                );
            }
        };
        let text = Zeroizing::new(out.stdout);
        if !out.status.success() {
            unreadable.push(rel.clone());
            continue;
        }
        let Ok(text) = std::str::from_utf8(&text) else {
            unreadable.push(rel.clone());
            continue;
        };
        items.push(import::pass::parse_entry(rel, text));
    }
    if tty && files.len() >= 20 {
        eprintln!();
    }
    Ok((items, unreadable))
}

/// The `.gpg` files under `dir` (not in dot-directories such as `.git`), with their
/// store paths (relative, without `.gpg`).
fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else if kind.is_file() && name.ends_with(".gpg") {
            let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy();
            let rel = rel.strip_suffix(".gpg").unwrap_or(&rel).to_string();
            out.push((rel, path));
        }
    }
    Ok(())
}

/// `export`.
pub fn export(paths: &Paths, args: ExportArgs) -> anyhow::Result<()> {
    if !args.plaintext {
        return fail(
            Exit::Usage,
            "an export holds every secret you can read in plain text",
            "say so with --plaintext, and write it to a file (-o FILE, mode 0600) you delete once imported",
        );
    }
    if args.output.is_none() && std::io::stdout().is_terminal() {
        return fail(
            Exit::Usage,
            "refusing to print an export to a terminal",
            "write it to a file with -o FILE, or pipe it to the program that reads it",
        );
    }
    if let Some(out) = &args.output
        && std::fs::symlink_metadata(out).is_ok()
    {
        return fail(
            Exit::Other,
            format!("{} exists", sanitize(&out.display().to_string())),
            "choose a new file name; an export never overwrites a file",
        );
    }
    let identity = unlock(paths)?;
    // Recorded before the file is written: a signed `export` event in the log (an
    // export that then fails to write is still on record, never the other way round).
    let (vault, ()) = super::vault::write(paths, |vault| -> anyhow::Result<()> {
        let event = amanat::format::AuditEvent::new(amanat::format::EventKind::Exported, None);
        vault.append(&identity, vec![amanat::format::RecordBody::Event(event)])?;
        Ok(())
    })?;
    let listing = vault.session(&identity)?.list_all()?;
    let text = Zeroizing::new(match args.format {
        ExportFormat::BitwardenJson => import::bitwarden::export(&listing.entries),
        ExportFormat::Csv => table::export(&listing.entries),
    });
    match &args.output {
        Some(out) => {
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(out)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
        }
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    eprintln!(
        "exported {} entr{} in plain text{}; delete the file once it is imported",
        listing.entries.len(),
        if listing.entries.len() == 1 {
            "y"
        } else {
            "ies"
        },
        if listing.failed.is_empty() {
            String::new()
        } else {
            format!(
                " ({} that failed their checks left out)",
                listing.failed.len()
            )
        }
    );
    Ok(())
}
