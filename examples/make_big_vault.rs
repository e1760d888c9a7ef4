//! Generate a large vault for benchmarks and measure its on-disk overhead.
//!
//! ```text
//! cargo run --release --example make_big_vault -- DIR [ENTRIES] [--default-kdf]
//! ```
//!
//! Writes `DIR/vault/` (a vault directory of one segment) and the same records as one
//! file `DIR/vault.amanat` (for the decode benchmarks) (ENTRIES entries, default 10,000, all wrapped to `@admins`),
//! `DIR/identity.amanat` (the owner, sealed with `KdfParams::INSECURE_TEST` so unlocking
//! costs nothing), and `DIR/passphrase`. With `--default-kdf` it also writes
//! `DIR/identity-default.amanat`: the same keys sealed with `KdfParams::DEFAULT`, to time
//! the CLI with a realistic KDF. Prints the file-size accounting on stdout.
//!
//! `Session::create_entry` lists (decrypts) every readable entry to check that the path
//! is free, so creating N entries on the growing vault costs O(N²) decryptions (about
//! 7 minutes for 10,000). The paths here are unique by construction, so every entry is
//! sealed through a session on the vault as it was before any entry was added (same
//! vault id, same `@admins` key), which makes each `create_entry` O(1); the records are
//! then signed and appended to the real vault in batches with `Vault::append`.
//! `benches/vault.rs` includes this file as a module to build the same vault.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use amanat::crypto::{KdfParams, SecretString};
use amanat::forge;
use amanat::format::{
    self, EntryContent, EntryPayload, KeyWrap, MemberId, RecordBody, RecordId, VaultFile,
};
use amanat::identity::Identity;
use amanat::passgen::{self, CharClasses};
use amanat::vault::{EntryDraft, Vault};

/// The passphrase of the generated identity files.
pub const PASSPHRASE: &str = "bench-passphrase-not-secret";
/// Entries per `Vault::append` call (each call replays the whole vault).
pub const BATCH: usize = 1_000;

const TEAMS: [&str; 8] = [
    "platform", "payments", "mobile", "data", "security", "support", "growth", "infra",
];
const SERVICES: [&str; 16] = [
    "github",
    "aws-console",
    "gcp",
    "datadog",
    "pagerduty",
    "stripe",
    "sentry",
    "grafana",
    "jira",
    "slack",
    "vault-prod",
    "postgres-prod",
    "redis-cache",
    "cloudflare",
    "okta",
    "npm-registry",
];

/// The path of the `i`th generated entry: `team/service/login-i`.
pub fn entry_path(i: usize) -> String {
    let team = TEAMS[i % TEAMS.len()];
    let service = SERVICES[(i / TEAMS.len()) % SERVICES.len()];
    format!("{team}/{service}/login-{i}")
}

/// A realistic draft: path, username, URL, a random 20-character password and a note.
pub fn draft(i: usize, time: u64) -> EntryDraft {
    let path = entry_path(i);
    let mut payload = EntryPayload::default();
    let team = TEAMS[i % TEAMS.len()];
    let service = SERVICES[(i / TEAMS.len()) % SERVICES.len()];
    payload.username = format!("{team}-bot-{i}@example.com");
    payload.url = format!("https://{service}.example.com/{team}/login");
    payload.password = SecretString::new(
        passgen::random_password(20, CharClasses::default())
            .unwrap()
            .to_string(),
    );
    payload.notes = format!(
        "Shared {service} login for the {team} team. Rotate quarterly; ask #{team}-oncall."
    );
    payload.path = path;
    payload.created = time;
    payload.modified = time;
    payload.password_changed = time;
    EntryDraft {
        payload,
        share_with: vec![],
    }
}

/// A generated vault and its owner.
#[derive(Debug)]
pub struct Big {
    /// The owner (unlocked).
    pub identity: Identity,
    /// The vault with `entries` entries.
    pub vault: Vault,
    /// The vault before any entry was added.
    pub empty: Vault,
    /// Number of entries.
    pub entries: usize,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Build a vault of `n` entries owned by a fresh identity, appending `BATCH` per call.
pub fn build(n: usize, verbose: bool) -> Big {
    let identity = Identity::generate("bench-owner").unwrap();
    let mut vault = Vault::create(&identity, "bench-team").unwrap();
    let empty = vault.clone();
    let time = now();
    let (mut t_seal, mut t_append) = (0.0, 0.0);
    {
        // A session on the empty vault: its `create_entry` path check lists nothing.
        let session = empty.session(&identity).unwrap();
        let mut start = 0;
        while start < n {
            let end = (start + BATCH).min(n);
            let t = Instant::now();
            let bodies: Vec<RecordBody> = (start..end)
                .map(|i| session.create_entry(&draft(i, time)).unwrap())
                .collect();
            t_seal += t.elapsed().as_secs_f64();
            let t = Instant::now();
            vault.append(&identity, bodies).unwrap();
            t_append += t.elapsed().as_secs_f64();
            start = end;
        }
    }
    if verbose {
        eprintln!(
            "built {n} entries: create_entry {t_seal:.2} s, append (sign + replay) {t_append:.2} s"
        );
    }
    Big {
        identity,
        vault,
        empty,
        entries: n,
    }
}

fn varint_len(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Byte accounting of a vault file with `entries` entries (all single-wrapped).
#[derive(Debug)]
pub struct Overhead {
    /// Whole file.
    pub file: usize,
    /// Header, genesis and `@admins` key records (everything but entry records).
    pub fixed: usize,
    /// `(file - fixed) / entries`.
    pub per_entry_stored: f64,
    /// Mean padded plaintext per entry (`format::bucket`).
    pub padded: f64,
    /// Mean unpadded payload (postcard + 4-byte length) per entry.
    pub unpadded: f64,
    /// Wraps per entry in this file.
    pub wraps_per_entry: f64,
    /// Mean encoded bytes of an entry's wraps, as found in the file.
    pub wrap_bytes_per_entry: f64,
    /// Encoded `KeyWrap::Group`.
    pub group_wrap: usize,
    /// Encoded `KeyWrap::Member`.
    pub member_wrap: usize,
    /// Encoded `KeyWrap::GroupPublic`.
    pub group_public_wrap: usize,
    /// Per entry beyond padded plaintext and wraps.
    pub per_entry_overhead: f64,
}

/// Compute the file overhead from the encoded bytes and the generation inputs.
pub fn overhead(bytes: &[u8], entries: usize, time: u64) -> Overhead {
    let file = VaultFile::decode(bytes).unwrap();
    let mut fixed = 8 + 1 + 32 + varint_len(file.records().len());
    let mut entry_bytes = 0usize;
    let mut wraps = 0usize;
    let mut wrap_bytes = 0usize;
    for r in file.records() {
        let stored = varint_len(r.bytes().len()) + r.bytes().len() + 64;
        match r.record().body() {
            RecordBody::EntryRevision(rev) => {
                entry_bytes += stored;
                if let EntryContent::Sealed(s) = rev.content() {
                    wraps += s.wraps().len();
                    for w in s.wraps() {
                        wrap_bytes += postcard::to_allocvec(w).unwrap().len();
                    }
                }
            }
            _ => fixed += stored,
        }
    }
    assert_eq!(fixed + entry_bytes, bytes.len());
    // Padded and unpadded sizes of the same drafts (passwords differ, lengths do not).
    let (mut padded, mut unpadded) = (0usize, 0usize);
    for i in 0..entries {
        let d = draft(i, time);
        let body = postcard::to_allocvec(&d.payload).unwrap().len() + 4;
        let p = d.payload.to_padded().unwrap().len();
        assert_eq!(p, format::bucket(body));
        padded += p;
        unpadded += body;
    }
    let member = KeyWrap::Member(forge::member_wrap(
        MemberId([7; 16]),
        [7; 32],
        vec![7; amanat::crypto::SEALED_KEY_LEN],
    ));
    let group = KeyWrap::Group {
        key_id: RecordId([7; 32]),
        nonce: [7; 24],
        sealed: [7; amanat::crypto::SEALED_KEY_LEN],
    };
    let group_public = KeyWrap::GroupPublic {
        key_id: RecordId([7; 32]),
        enc: [7; 32],
        sealed: [7; amanat::crypto::SEALED_KEY_LEN],
    };
    let member_wrap = postcard::to_allocvec(&member).unwrap().len();
    let group_public_wrap = postcard::to_allocvec(&group_public).unwrap().len();
    let group_wrap = postcard::to_allocvec(&group).unwrap().len();
    let n = entries as f64;
    let per_entry_stored = (bytes.len() - fixed) as f64 / n;
    let wraps_per_entry = wraps as f64 / n;
    let wrap_bytes_per_entry = wrap_bytes as f64 / n;
    Overhead {
        file: bytes.len(),
        fixed,
        per_entry_stored,
        padded: padded as f64 / n,
        unpadded: unpadded as f64 / n,
        wraps_per_entry,
        wrap_bytes_per_entry,
        group_wrap,
        member_wrap,
        group_public_wrap,
        per_entry_overhead: per_entry_stored - padded as f64 / n - wrap_bytes_per_entry,
    }
}

/// Written 0600: amanat refuses a passphrase file others can read.
fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
}

fn main() {
    let mut dir: Option<PathBuf> = None;
    let mut n = 10_000usize;
    let mut default_kdf = false;
    for arg in std::env::args().skip(1) {
        if arg == "--default-kdf" {
            default_kdf = true;
        } else if dir.is_none() {
            dir = Some(PathBuf::from(arg));
        } else {
            n = arg.parse().expect("ENTRIES must be a number");
        }
    }
    let Some(dir) = dir else {
        eprintln!("usage: make_big_vault DIR [ENTRIES] [--default-kdf]");
        std::process::exit(2);
    };
    std::fs::create_dir_all(&dir).unwrap();
    let t = Instant::now();
    let big = build(n, true);
    let bytes = big.vault.encode();
    let pass = SecretString::new(PASSPHRASE.to_string());
    let id_bytes = big
        .identity
        .seal(&pass, KdfParams::INSECURE_TEST, true)
        .unwrap();
    write(&dir.join("vault.amanat"), &bytes);
    // The same records as a vault directory of one segment (what the CLI reads).
    let _ = std::fs::remove_dir_all(dir.join("vault"));
    std::fs::create_dir_all(dir.join("vault")).unwrap();
    amanat::store::write_segment(&dir.join("vault"), &bytes).unwrap();
    write(&dir.join("identity.amanat"), &id_bytes);
    write(
        &dir.join("passphrase"),
        format!("{PASSPHRASE}\n").as_bytes(),
    );
    if default_kdf {
        let sealed = big.identity.seal(&pass, KdfParams::DEFAULT, false).unwrap();
        write(&dir.join("identity-default.amanat"), &sealed);
    }
    eprintln!(
        "wrote {} in {:.2} s",
        dir.display(),
        t.elapsed().as_secs_f64()
    );

    // Sanity: the file decodes and every entry is readable at its own path.
    let decoded = Vault::decode(&bytes).unwrap();
    let list = decoded.session(&big.identity).unwrap().list().unwrap();
    assert_eq!(list.len(), n);
    let mut paths: Vec<&str> = list.iter().map(|e| e.payload.path.as_str()).collect();
    let mut expected: Vec<String> = (0..n).map(entry_path).collect();
    paths.sort_unstable();
    expected.sort_unstable();
    assert!(paths.iter().zip(&expected).all(|(a, b)| a == b));

    let time = list.first().map(|e| e.payload.created).unwrap_or(0);
    let o = overhead(&bytes, n, time);
    let entries = n;
    println!("entries\t{entries}");
    println!("file_bytes\t{}", o.file);
    println!("fixed_bytes\t{}", o.fixed);
    println!("stored_bytes_per_entry\t{:.1}", o.per_entry_stored);
    println!("payload_unpadded_bytes\t{:.1}", o.unpadded);
    println!("payload_padded_bytes\t{:.1}", o.padded);
    println!("wraps_per_entry\t{:.2}", o.wraps_per_entry);
    println!("wrap_bytes_per_entry\t{:.1}", o.wrap_bytes_per_entry);
    println!("group_wrap_bytes\t{}", o.group_wrap);
    println!("member_wrap_bytes\t{}", o.member_wrap);
    println!("group_public_wrap_bytes\t{}", o.group_public_wrap);
    println!("overhead_per_entry_excl_wraps\t{:.1}", o.per_entry_overhead);
    println!("sample_path\t{}", entry_path(n / 2));
}
