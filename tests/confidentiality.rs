//! Confidentiality of metadata (SECURITY.md item 8, DESIGN.md promise 1) and no
//! passphrase-derived material in the shared file (SECURITY.md item 9).
//!
//! A vault is built through the real binary (hermetic environment, `--insecure-kdf`)
//! with a distinct marker string in every field: each path segment (before and after a
//! rename), username, password, URL, note, custom field name and value, the TOTP URI
//! (label, issuer and seed, via `--totp-stdin`), and a secret custom field (name and
//! value; it needs a terminal prompt in the CLI, so it goes through the library). None
//! of the markers may appear in the raw bytes of any of the vault's segment files, the
//! identity file, the local state files, or any file name.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use amanat::crypto::{KdfParams, SecretString};
use amanat::format::{CustomField, PublicKeys};
use amanat::identity::{IDENTITY_MAGIC, Identity};
use amanat::store::{StoreError, VaultStore};
use amanat::vault::EntryDraft;

/// Common to every marker, so a partial leak is caught as well.
const TAG: &str = "qzmkr";

const PATH_SEG_1: &str = "qzmkr-seg-team";
const PATH_SEG_2: &str = "qzmkr-seg-service";
const PATH_SEG_3: &str = "qzmkr-seg-login";
const MOVED_SEG_1: &str = "qzmkr-seg-moved";
const MOVED_SEG_2: &str = "qzmkr-seg-renamed";
const USERNAME: &str = "qzmkr-username-7d1";
const PASSWORD: &str = "qzmkr-password-a93";
const URL: &str = "https://qzmkr-url-host.example/qzmkr-url-path";
const NOTE: &str = "qzmkr-note-first-line and more";
const FIELD_NAME: &str = "qzmkr-field-name";
const FIELD_VALUE: &str = "qzmkr-field-value";
const SECRET_FIELD_NAME: &str = "qzmkr-secret-field-name";
const SECRET_FIELD_VALUE: &str = "qzmkr-secret-field-value";
const TOTP_LABEL: &str = "qzmkr-totp-label";
const TOTP_ISSUER: &str = "qzmkr-totp-issuer";
/// Base32 of "qzmkr-totp-seed-bytes".
const TOTP_SEED: &str = "OF5G223SFV2G65DQFVZWKZLEFVRHS5DFOM";

const PASSPHRASE: &str = "confidentiality test passphrase";

fn path() -> String {
    format!("{PATH_SEG_1}/{PATH_SEG_2}/{PATH_SEG_3}")
}

fn moved_path() -> String {
    format!("{MOVED_SEG_1}/{MOVED_SEG_2}")
}

fn totp_uri() -> String {
    format!("otpauth://totp/{TOTP_LABEL}?secret={TOTP_SEED}&issuer={TOTP_ISSUER}")
}

fn markers() -> Vec<String> {
    let mut m: Vec<String> = [
        TAG,
        PATH_SEG_1,
        PATH_SEG_2,
        PATH_SEG_3,
        MOVED_SEG_1,
        MOVED_SEG_2,
        USERNAME,
        PASSWORD,
        URL,
        "qzmkr-url-host",
        "qzmkr-url-path",
        NOTE,
        FIELD_NAME,
        FIELD_VALUE,
        SECRET_FIELD_NAME,
        SECRET_FIELD_VALUE,
        TOTP_LABEL,
        TOTP_ISSUER,
        TOTP_SEED,
        PASSPHRASE,
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect();
    m.push(path());
    m.push(moved_path());
    m.push(totp_uri());
    m
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("passphrase"), format!("{PASSPHRASE}\n")).unwrap();
        fs::set_permissions(
            dir.path().join("passphrase"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        Self { dir }
    }
    fn root(&self) -> &Path {
        self.dir.path()
    }
    /// The vault directory.
    fn vault(&self) -> PathBuf {
        self.root().join("data/amanat/vault")
    }
    /// The vault's segment files, sorted (every write added one).
    fn segments(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = fs::read_dir(self.vault())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "seg"))
            .collect();
        out.sort();
        out
    }
    fn identity(&self) -> PathBuf {
        self.root().join("config/amanat/identity.amanat")
    }
    fn state(&self) -> PathBuf {
        self.root().join("state/amanat")
    }
    /// A hermetic `amanat`: empty environment, HOME and XDG dirs in the temp dir, the
    /// default vault and identity locations under them.
    fn amanat(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_amanat"));
        common::hermetic(&mut cmd, self.root(), &self.root().join("passphrase"))
            .env("XDG_RUNTIME_DIR", self.root().join("run"))
            .args(args);
        assert_cmd::Command::from_std(cmd)
    }
    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let mut cmd = self.amanat(args);
        if let Some(s) = stdin {
            cmd.write_stdin(s);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "amanat {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }
}

/// Every file under `dir` (recursively): `(path, bytes)`.
fn all_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = fs::read(&p).unwrap();
                out.push((p, bytes));
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Build the marker vault; returns the environment.
fn marker_vault() -> Env {
    let env = Env::new();
    env.ok(
        &["identity", "new", "--name", "alice", "--insecure-kdf"],
        None,
    );
    env.ok(&["init", "--name", "acme"], None);
    let field = format!("{FIELD_NAME}={FIELD_VALUE}");
    env.ok(
        &[
            "add",
            &path(),
            "--username",
            USERNAME,
            "--url",
            URL,
            "--note",
            NOTE,
            "--field",
            &field,
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    env.ok(
        &["edit", &path(), "--totp-stdin"],
        Some(&format!("{}\n", totp_uri())),
    );

    // A secret field needs a terminal prompt in the CLI: add it through the library,
    // through the same store (lock, atomic write, pins) the CLI uses.
    let identity = Identity::unlock(
        &fs::read(env.identity()).unwrap(),
        &SecretString::new(PASSPHRASE.into()),
    )
    .unwrap();
    let store = VaultStore::new(env.vault(), env.state());
    store
        .update(|vault| -> Result<(), StoreError> {
            let body = {
                let session = vault.session(&identity)?;
                let entry = session.open(&path())?;
                let mut payload = entry.payload.clone();
                payload.fields.push(CustomField {
                    name: SECRET_FIELD_NAME.into(),
                    value: SecretString::new(SECRET_FIELD_VALUE.into()),
                    secret: true,
                });
                session.revise_entry(
                    &entry,
                    &EntryDraft {
                        payload,
                        share_with: vec![],
                    },
                )?
            };
            vault.append(&identity, vec![body])?;
            Ok(())
        })
        .unwrap();

    // A rename, so old and new path segments are both in the history.
    env.ok(&["mv", &path(), &moved_path()], None);
    env
}

#[test]
fn no_marker_reaches_any_file_or_file_name() {
    let env = marker_vault();

    // The markers really were stored: everything reads back.
    let moved = moved_path();
    let get = |field: &str| env.ok(&["get", &moved, "--field", field], None);
    assert_eq!(get("password"), format!("{PASSWORD}\n"));
    assert_eq!(get("username"), format!("{USERNAME}\n"));
    assert_eq!(get("url"), format!("{URL}\n"));
    assert_eq!(get("notes"), format!("{NOTE}\n"));
    assert_eq!(get(FIELD_NAME), format!("{FIELD_VALUE}\n"));
    assert_eq!(get(SECRET_FIELD_NAME), format!("{SECRET_FIELD_VALUE}\n"));
    assert_eq!(get("totp"), format!("{}\n", totp_uri()));
    assert_eq!(env.ok(&["ls"], None), format!("{moved}\n"));

    // Control: names that are clear by design (the roster) are found by the same
    // search, so the absence of the markers below means something.
    let segments = env.segments();
    assert!(
        segments.iter().any(|p| {
            let bytes = fs::read(p).unwrap();
            contains(&bytes, b"acme") && contains(&bytes, b"alice")
        }),
        "{segments:?}"
    );

    // Every segment file is among the files scanned below, and the vault directory
    // holds nothing else.
    let files = all_files(env.root());
    let names: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
    assert!(segments.len() >= 5, "one segment a write: {segments:?}");
    for seg in &segments {
        assert!(
            files.iter().any(|(p, _)| p == seg),
            "{} not scanned: {names:?}",
            seg.display()
        );
    }
    let in_vault = files
        .iter()
        .filter(|(p, _)| p.starts_with(env.vault()))
        .count();
    assert_eq!(in_vault, segments.len(), "{names:?}");
    assert!(
        names.iter().any(|n| n.ends_with("identity.amanat")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.contains("/state/amanat/")),
        "state files exist: {names:?}"
    );
    for marker in markers() {
        for (p, bytes) in &files {
            if p.ends_with("passphrase") {
                continue; // the test's own input file
            }
            assert!(
                !contains(bytes, marker.as_bytes()),
                "marker {marker:?} found in {}",
                p.display()
            );
            assert!(
                !contains(
                    &bytes.to_ascii_lowercase(),
                    marker.to_ascii_lowercase().as_bytes()
                ),
                "marker {marker:?} (any case) found in {}",
                p.display()
            );
            let name = p.strip_prefix(env.root()).unwrap().display().to_string();
            assert!(
                !name.contains(&marker),
                "marker {marker:?} in file name {name}"
            );
        }
    }
}

/// A mirror of the identity file's clear header (private in `identity`).
#[derive(serde::Deserialize)]
struct IdentityHeaderMirror {
    #[allow(dead_code)]
    name: String,
    #[allow(dead_code)]
    keys: PublicKeys,
    kdf: KdfParams,
    insecure_kdf: bool,
    salt: [u8; 16],
    nonce: [u8; 24],
}

/// Assert `vault` holds nothing passphrase-derived from the identity file `identity`:
/// no identity magic, no KDF parameter block (with or without its salt), no salt, no
/// nonce, no piece of the passphrase-sealed secret keys.
fn assert_no_kdf_material(vault: &[u8], identity: &[u8]) {
    assert!(!contains(vault, IDENTITY_MAGIC), "identity magic in vault");
    assert!(!contains(vault, b"AMANATID"));
    let (h, tail): (IdentityHeaderMirror, &[u8]) =
        postcard::take_from_bytes(&identity[9..]).unwrap();
    let mut block = postcard::to_allocvec(&h.kdf).unwrap();
    block.push(u8::from(h.insecure_kdf));
    block.extend_from_slice(&h.salt);
    assert!(!contains(vault, &block), "KDF parameter block in vault");
    assert!(!contains(vault, &h.salt), "KDF salt in vault");
    assert!(!contains(vault, &h.nonce), "identity nonce in vault");
    // The default parameters' encoding (256 MiB, t=3, p=4) is 5 distinctive bytes.
    let default = postcard::to_allocvec(&KdfParams::DEFAULT).unwrap();
    assert_eq!(default.len(), 5);
    assert!(
        !contains(vault, &default),
        "default KDF parameters in vault"
    );
    // The sealed secret keys: no 12-byte window of them appears.
    for w in tail.windows(12) {
        assert!(!contains(vault, w), "sealed secret keys in vault");
    }
}

#[test]
fn the_vault_holds_no_passphrase_derived_material() {
    let env = marker_vault();
    let identity = fs::read(env.identity()).unwrap();
    let segments = env.segments();
    assert!(segments.len() >= 5, "one segment a write: {segments:?}");
    for seg in &segments {
        assert_no_kdf_material(&fs::read(seg).unwrap(), &identity);
    }
    // The committed golden vault too.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    assert_no_kdf_material(
        &fs::read(dir.join("golden.vault")).unwrap(),
        &fs::read(dir.join("golden.identity")).unwrap(),
    );
}
