//! The evidence pack's `MANIFEST` (docs/format.md, "Evidence manifest"): its text
//! format, its signature, and checking a pack against the vault's roster.
//!
//! A pack is a directory of report files written by `amanat report evidence` and a
//! `MANIFEST` naming the vault, the DAG heads the reports were made at, the member who
//! made them and the SHA-256 of every file, signed by that member's Ed25519 key.
//! [`verify`] checks it against the local vault — the member's key *at those heads* —
//! never against a key found in the pack.
//!
//! The manifest is attacker-controlled input: [`SignedManifest::parse`] is bounded
//! ([`MAX_MANIFEST_BYTES`], [`MAX_FILES`], [`MAX_HEADS`]) and strict (one canonical
//! text per manifest; anything else is refused). This module does no I/O: the command
//! line reads the directory and hands over the file digests.

use std::collections::BTreeMap;

use crate::crypto::{self, SIGNATURE_LEN, SigningSecret};
use crate::format::{MemberId, RecordId};
use crate::vault::{Vault, VaultError};

/// Domain label of the manifest signature: Ed25519 over
/// `"amanat/v1/evidence-manifest" || 0x00 || the manifest bytes before the signature line`.
pub const MANIFEST_LABEL: &str = "amanat/v1/evidence-manifest";

/// The manifest's first line (magic and version).
pub const MANIFEST_HEADER: &str = "amanat-evidence v1";

/// The manifest's file name inside a pack.
pub const MANIFEST_NAME: &str = "MANIFEST";

/// Largest manifest accepted, in bytes.
pub const MAX_MANIFEST_BYTES: usize = 64 * 1024;

/// Most files a manifest may list.
pub const MAX_FILES: usize = 64;

/// Most heads a manifest may name.
pub const MAX_HEADS: usize = 256;

/// Longest file name, in bytes.
pub const MAX_FILE_NAME: usize = 64;

/// Longest member name, in bytes (names are checked again against the roster).
const MAX_MEMBER_NAME: usize = 256;

/// Why a manifest or a pack was refused. Every variant is an integrity failure except
/// where its documentation says otherwise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// Larger than [`MAX_MANIFEST_BYTES`].
    #[error("MANIFEST is larger than {MAX_MANIFEST_BYTES} bytes")]
    TooLarge,
    /// Not the canonical text of a manifest.
    #[error("MANIFEST is malformed (line {line}: {why})")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A file name a manifest may not list (a path, a hidden file, `MANIFEST`).
    #[error("MANIFEST lists an invalid file name (line {line})")]
    BadFileName {
        /// 1-based line number.
        line: usize,
    },
    /// The pack is for another vault.
    #[error("the pack is for vault {pack}, not this vault {local}")]
    WrongVault {
        /// The manifest's vault id (hex).
        pack: String,
        /// The local vault's id (hex).
        local: String,
    },
    /// A head the local vault does not hold.
    #[error("MANIFEST names head {0}, which this copy of the vault does not hold")]
    UnknownHead(String),
    /// The generating member is not a member with a current key at the heads.
    #[error("MANIFEST is signed as member {0}, who has no current key at its heads")]
    NotAMember(String),
    /// The manifest's member name is not the roster's name for that member id.
    #[error("MANIFEST names member {id} '{name}', but the roster calls them '{roster}'")]
    NameMismatch {
        /// The member id (hex).
        id: String,
        /// The name in the manifest.
        name: String,
        /// The name in the roster at the heads.
        roster: String,
    },
    /// The signature does not verify under the member's key at the heads.
    #[error("MANIFEST signature does not verify under {0}'s key at its heads")]
    BadSignature(String),
    /// A listed file is not in the pack.
    #[error("file '{0}' is listed in MANIFEST but missing")]
    Missing(String),
    /// A file in the pack that the manifest does not list.
    #[error("file '{0}' is in the pack but not listed in MANIFEST")]
    Unlisted(String),
    /// A file whose SHA-256 is not the listed one.
    #[error("file '{0}' does not match its SHA-256 in MANIFEST")]
    Mismatch(String),
    /// A manifest that cannot be written: a field breaks a rule or a limit of the
    /// format (a bug in the caller, not an integrity failure).
    #[error("cannot write this manifest: {0}")]
    Unencodable(&'static str),
    /// The vault could not be resolved at the heads.
    #[error("{0}")]
    Vault(String),
}

/// Whether the pack covers the whole vault (made by an admin, who reads every entry)
/// or only what its maker can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Made by an admin: every entry.
    Admin,
    /// Made by a member who is not an admin: the entries shared with them.
    Reader,
}

impl Scope {
    /// `admin` or `reader`, as in the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::Reader => "reader",
        }
    }
}

/// What a manifest says (everything but the signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The vault id.
    pub vault: RecordId,
    /// The DAG heads the reports were made at (sorted, distinct, at least one).
    pub heads: Vec<RecordId>,
    /// When the pack was made (seconds since the epoch, the maker's clock).
    pub time: u64,
    /// The member who made and signed it.
    pub member: MemberId,
    /// Their name (checked against the roster at the heads).
    pub member_name: String,
    /// What the reports cover.
    pub scope: Scope,
    /// The start of the log's period (seconds since the epoch), if `--since` was given.
    pub since: Option<u64>,
    /// Every file of the pack but `MANIFEST`: name → SHA-256, sorted by name.
    pub files: BTreeMap<String, [u8; 32]>,
}

impl Manifest {
    /// The text before the signature line (what is signed). Fails on a file name or a
    /// member name that [`SignedManifest::parse`] would refuse, or on limits.
    pub fn body(&self) -> Result<String, EvidenceError> {
        let bad = EvidenceError::Unencodable;
        if self.heads.is_empty() || self.heads.len() > MAX_HEADS {
            return Err(bad("number of heads"));
        }
        if !self.heads.windows(2).all(|w| w[0] < w[1]) {
            return Err(bad("heads not sorted and distinct"));
        }
        if !member_name_ok(&self.member_name) {
            return Err(bad("member name"));
        }
        if self.files.len() > MAX_FILES {
            return Err(bad("too many files"));
        }
        if self.files.keys().any(|n| !file_name_ok(n)) {
            return Err(bad("file name"));
        }
        let heads: Vec<String> = self.heads.iter().map(RecordId::to_hex).collect();
        let mut out = String::new();
        out.push_str(MANIFEST_HEADER);
        out.push('\n');
        out.push_str(&format!("vault {}\n", self.vault.to_hex()));
        out.push_str(&format!("heads {}\n", heads.join(",")));
        out.push_str(&format!("time {}\n", self.time));
        out.push_str(&format!(
            "member {} {}\n",
            self.member.to_hex(),
            self.member_name
        ));
        out.push_str(&format!("scope {}\n", self.scope.as_str()));
        match self.since {
            Some(s) => out.push_str(&format!("since {s}\n")),
            None => out.push_str("since -\n"),
        }
        for (name, digest) in &self.files {
            out.push_str(&format!("sha256 {}  {name}\n", hex(digest)));
        }
        if out.len() + SIGNATURE_LINE_LEN > MAX_MANIFEST_BYTES {
            return Err(EvidenceError::TooLarge);
        }
        Ok(out)
    }

    /// The signed manifest's bytes: [`Self::body`] and a `signature` line by `key`.
    pub fn sign(&self, key: &SigningSecret) -> Result<Vec<u8>, EvidenceError> {
        let body = self.body()?;
        let signature = key.sign(MANIFEST_LABEL, body.as_bytes());
        let mut out = body.into_bytes();
        out.extend_from_slice(format!("signature {}\n", hex(&signature)).as_bytes());
        Ok(out)
    }
}

/// `signature <128 hex>\n`.
const SIGNATURE_LINE_LEN: usize = "signature ".len() + 2 * SIGNATURE_LEN + 1;

/// A parsed manifest with its signature and the exact bytes it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedManifest {
    manifest: Manifest,
    signed: Vec<u8>,
    signature: [u8; SIGNATURE_LEN],
}

impl SignedManifest {
    /// Parse a manifest's bytes (docs/format.md, "Evidence manifest"): bounded and
    /// canonical — the only text accepted is the one [`Manifest::sign`] writes.
    pub fn parse(bytes: &[u8]) -> Result<Self, EvidenceError> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(EvidenceError::TooLarge);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| EvidenceError::Malformed {
            line: 1,
            why: "not UTF-8",
        })?;
        let Some(text) = text.strip_suffix('\n') else {
            return Err(EvidenceError::Malformed {
                line: text.lines().count().max(1),
                why: "no newline at the end",
            });
        };
        let lines: Vec<&str> = text.split('\n').collect();
        let mut p = Lines {
            lines: &lines,
            at: 0,
        };
        if p.next()? != MANIFEST_HEADER {
            return Err(p.bad("not an amanat-evidence v1 manifest"));
        }
        let vault = p.field("vault")?;
        let vault = record_id(vault).ok_or_else(|| p.bad("vault id"))?;
        let heads_text = p.field("heads")?;
        let mut heads = Vec::new();
        for h in heads_text.split(',') {
            if heads.len() == MAX_HEADS {
                return Err(p.bad("too many heads"));
            }
            heads.push(record_id(h).ok_or_else(|| p.bad("head id"))?);
        }
        if !heads.windows(2).all(|w| w[0] < w[1]) {
            return Err(p.bad("heads not sorted and distinct"));
        }
        let time = number(p.field("time")?).ok_or_else(|| p.bad("time"))?;
        let member_text = p.field("member")?;
        let (id, name) = member_text.split_once(' ').ok_or_else(|| p.bad("member"))?;
        let member = member_id(id).ok_or_else(|| p.bad("member id"))?;
        if !member_name_ok(name) {
            return Err(p.bad("member name"));
        }
        let scope = match p.field("scope")? {
            "admin" => Scope::Admin,
            "reader" => Scope::Reader,
            _ => return Err(p.bad("scope")),
        };
        let since = match p.field("since")? {
            "-" => None,
            s => Some(number(s).ok_or_else(|| p.bad("since"))?),
        };
        let mut files = BTreeMap::new();
        let mut last: Option<&str> = None;
        loop {
            let line = p.next()?;
            if let Some(rest) = line.strip_prefix("sha256 ") {
                if files.len() == MAX_FILES {
                    return Err(p.bad("too many files"));
                }
                let (digest, name) = rest.split_once("  ").ok_or_else(|| p.bad("sha256 line"))?;
                let digest = hex32(digest).ok_or_else(|| p.bad("sha256 digest"))?;
                if !file_name_ok(name) {
                    return Err(EvidenceError::BadFileName { line: p.at });
                }
                if last.is_some_and(|l| l >= name) {
                    return Err(p.bad("files not sorted by name and distinct"));
                }
                last = Some(name);
                files.insert(name.to_string(), digest);
                continue;
            }
            let Some(sig) = line.strip_prefix("signature ") else {
                return Err(p.bad("expected a sha256 or signature line"));
            };
            let signature = hex_array::<SIGNATURE_LEN>(sig).ok_or_else(|| p.bad("signature"))?;
            if p.at != lines.len() {
                return Err(EvidenceError::Malformed {
                    line: p.at + 1,
                    why: "text after the signature line",
                });
            }
            // The signed bytes: everything before the signature line.
            let signed_len = bytes.len() - line.len() - 1;
            let manifest = Manifest {
                vault,
                heads,
                time,
                member,
                member_name: name.to_string(),
                scope,
                since,
                files,
            };
            return Ok(Self {
                manifest,
                signed: bytes[..signed_len].to_vec(),
                signature,
            });
        }
    }

    /// The exact bytes the signature covers (everything before the signature line).
    pub fn signed_bytes(&self) -> &[u8] {
        &self.signed
    }

    /// The Ed25519 signature.
    pub fn signature(&self) -> &[u8; SIGNATURE_LEN] {
        &self.signature
    }

    /// What the manifest says (not yet verified: see [`verify`]).
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Check the signature under `signing_key` (an Ed25519 public key).
    pub fn verify_signature(&self, signing_key: &[u8; 32]) -> Result<(), EvidenceError> {
        crypto::verify(signing_key, MANIFEST_LABEL, &self.signed, &self.signature)
            .map_err(|_| EvidenceError::BadSignature(self.manifest.member_name.clone()))
    }

    /// Compare the listed files with the pack's (`present`: every file in the pack
    /// directory but `MANIFEST`, name → SHA-256): the same names, the same digests.
    pub fn check_files(&self, present: &BTreeMap<String, [u8; 32]>) -> Result<(), EvidenceError> {
        for (name, digest) in &self.manifest.files {
            match present.get(name) {
                None => return Err(EvidenceError::Missing(name.clone())),
                Some(d) if d != digest => return Err(EvidenceError::Mismatch(name.clone())),
                Some(_) => {}
            }
        }
        if let Some(name) = present
            .keys()
            .find(|n| !self.manifest.files.contains_key(*n))
        {
            return Err(EvidenceError::Unlisted(name.clone()));
        }
        Ok(())
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The manifest.
    pub manifest: Manifest,
    /// Number of files checked (`MANIFEST` aside).
    pub files: usize,
}

/// Check a pack against `vault`: the manifest parses; it names this vault; every head
/// is a record of this vault; at those heads (the resolution of the heads and their
/// ancestors) its member is a member with a current key and the name it gives; the
/// signature verifies under that key; and the pack's files (`present`, `MANIFEST`
/// aside) are exactly the listed ones with the listed SHA-256.
pub fn verify(
    vault: &Vault,
    manifest: &[u8],
    present: &BTreeMap<String, [u8; 32]>,
) -> Result<Verified, EvidenceError> {
    let signed = SignedManifest::parse(manifest)?;
    let m = signed.manifest();
    if m.vault != vault.id() {
        return Err(EvidenceError::WrongVault {
            pack: m.vault.to_hex(),
            local: vault.id().to_hex(),
        });
    }
    if let Some(h) = m.heads.iter().find(|h| !vault.contains(h)) {
        return Err(EvidenceError::UnknownHead(h.to_hex()));
    }
    let then = vault
        .at_heads(&m.heads)
        .map_err(|e: VaultError| EvidenceError::Vault(e.to_string()))?;
    let Some(member) = then
        .members()
        .find(|x| x.id == m.member && x.active && x.key_current)
    else {
        return Err(EvidenceError::NotAMember(m.member.to_hex()));
    };
    if member.name != m.member_name {
        return Err(EvidenceError::NameMismatch {
            id: m.member.to_hex(),
            name: m.member_name.clone(),
            roster: member.name.clone(),
        });
    }
    signed.verify_signature(&member.keys.signing)?;
    signed.check_files(present)?;
    Ok(Verified {
        manifest: m.clone(),
        files: present.len(),
    })
}

/// A file name a pack may hold: 1 to [`MAX_FILE_NAME`] bytes of ASCII letters, digits,
/// `.`, `_` and `-`, not starting with `.` (no path, no hidden file), not `MANIFEST`.
pub fn file_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_FILE_NAME
        && !name.starts_with('.')
        && name != MANIFEST_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A member name as a manifest may carry it: non-empty, bounded, no whitespace or
/// control character (the roster's own rule is stricter; the name is compared with it).
fn member_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_MEMBER_NAME
        && !name
            .chars()
            .any(|c| c.is_whitespace() || crate::format::is_hidden_char(c))
}

/// The lines of a manifest, read in order.
struct Lines<'a> {
    lines: &'a [&'a str],
    /// Lines taken so far (the 1-based number of the last one).
    at: usize,
}

impl<'a> Lines<'a> {
    fn next(&mut self) -> Result<&'a str, EvidenceError> {
        let line = self
            .lines
            .get(self.at)
            .copied()
            .ok_or(EvidenceError::Malformed {
                line: self.at + 1,
                why: "ends early",
            })?;
        self.at += 1;
        Ok(line)
    }

    /// The value of the next line, which must be `KEY VALUE`.
    fn field(&mut self, key: &'static str) -> Result<&'a str, EvidenceError> {
        let line = self.next()?;
        line.strip_prefix(key)
            .and_then(|rest| rest.strip_prefix(' '))
            .ok_or(EvidenceError::Malformed {
                line: self.at,
                why: key,
            })
    }

    fn bad(&self, why: &'static str) -> EvidenceError {
        EvidenceError::Malformed { line: self.at, why }
    }
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Exactly `2 * N` lowercase hex digits.
fn hex_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn hex32(text: &str) -> Option<[u8; 32]> {
    hex_array::<32>(text)
}

fn record_id(text: &str) -> Option<RecordId> {
    hex32(text).map(RecordId)
}

fn member_id(text: &str) -> Option<MemberId> {
    hex_array::<16>(text).map(MemberId)
}

/// A canonical decimal `u64`: digits only, no leading zero (but `0`).
fn number(text: &str) -> Option<u64> {
    if text.is_empty()
        || text.len() > 20
        || !text.bytes().all(|b| b.is_ascii_digit())
        || (text.len() > 1 && text.starts_with('0'))
    {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key(n: u8) -> SigningSecret {
        SigningSecret::from_seed(&[n; 32])
    }

    fn sample() -> Manifest {
        let mut files = BTreeMap::new();
        files.insert("access.csv".to_string(), [1; 32]);
        files.insert("audit.json".to_string(), [2; 32]);
        files.insert("log.json".to_string(), [3; 32]);
        Manifest {
            vault: RecordId([9; 32]),
            heads: vec![RecordId([1; 32]), RecordId([2; 32])],
            time: 1_780_000_000,
            member: MemberId([5; 16]),
            member_name: "alice".into(),
            scope: Scope::Admin,
            since: Some(1_770_000_000),
            files,
        }
    }

    #[test]
    fn round_trip_and_signature() {
        let m = sample();
        let bytes = m.sign(&key(1)).unwrap();
        let parsed = SignedManifest::parse(&bytes).unwrap();
        assert_eq!(parsed.manifest(), &m);
        parsed.verify_signature(&key(1).public()).unwrap();
        // The exact text, as docs/format.md shows it.
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "amanat-evidence v1");
        assert_eq!(lines[1], format!("vault {}", "09".repeat(32)));
        assert_eq!(
            lines[2],
            format!("heads {},{}", "01".repeat(32), "02".repeat(32))
        );
        assert_eq!(lines[3], "time 1780000000");
        assert_eq!(lines[4], format!("member {} alice", "05".repeat(16)));
        assert_eq!(lines[5], "scope admin");
        assert_eq!(lines[6], "since 1770000000");
        assert_eq!(lines[7], format!("sha256 {}  access.csv", "01".repeat(32)));
        assert!(lines[10].starts_with("signature "));
        assert_eq!(lines.len(), 11);
    }

    #[test]
    fn no_since_and_reader_scope_round_trip() {
        let mut m = sample();
        m.since = None;
        m.scope = Scope::Reader;
        m.files.clear();
        let bytes = m.sign(&key(1)).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("\nsince -\n") && text.contains("\nscope reader\n"));
        assert_eq!(SignedManifest::parse(&bytes).unwrap().manifest(), &m);
    }

    #[test]
    fn wrong_key_fails() {
        let bytes = sample().sign(&key(1)).unwrap();
        let parsed = SignedManifest::parse(&bytes).unwrap();
        assert_eq!(
            parsed.verify_signature(&key(2).public()),
            Err(EvidenceError::BadSignature("alice".into()))
        );
    }

    #[test]
    fn every_changed_byte_fails_to_parse_or_verify() {
        let bytes = sample().sign(&key(1)).unwrap();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            let ok = SignedManifest::parse(&b)
                .and_then(|p| p.verify_signature(&key(1).public()).map(|_| p));
            assert!(ok.is_err(), "byte {i} flipped still verifies");
        }
    }

    /// Swapping two lines: refused even before the signature is checked.
    #[test]
    fn reordered_lines_are_refused() {
        let bytes = sample().sign(&key(1)).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.swap(3, 4);
        let swapped = format!("{}\n", lines.join("\n"));
        assert!(matches!(
            SignedManifest::parse(swapped.as_bytes()),
            Err(EvidenceError::Malformed { line: 4, .. })
        ));
        let mut lines: Vec<&str> = text.lines().collect();
        lines.swap(7, 8); // two sha256 lines out of order
        let swapped = format!("{}\n", lines.join("\n"));
        assert!(matches!(
            SignedManifest::parse(swapped.as_bytes()),
            Err(EvidenceError::Malformed { line: 9, .. })
        ));
    }

    /// A file listed twice (with different digests) is refused, even signed.
    #[test]
    fn duplicate_file_line_is_refused() {
        let body = sample().body().unwrap();
        let dup = body.replace(
            &format!("sha256 {}  audit.json\n", "02".repeat(32)),
            &format!(
                "sha256 {}  audit.json\nsha256 {}  audit.json\n",
                "02".repeat(32),
                "07".repeat(32)
            ),
        );
        assert_ne!(dup, body);
        let signed = format!(
            "{dup}signature {}\n",
            hex(&key(1).sign(MANIFEST_LABEL, dup.as_bytes()))
        );
        assert!(matches!(
            SignedManifest::parse(signed.as_bytes()),
            Err(EvidenceError::Malformed { line: 10, .. })
        ));
    }

    #[test]
    fn path_names_are_refused() {
        for name in [
            "../x",
            "a/b",
            "/etc/passwd",
            ".hidden",
            "MANIFEST",
            "",
            "a b",
        ] {
            let mut m = sample();
            m.files.insert(name.to_string(), [0; 32]);
            assert!(m.body().is_err(), "{name:?} encoded");
            // And in a hand-made manifest.
            let body = sample().body().unwrap().replace(
                "  log.json\n",
                &format!("  log.json\nsha256 {}  {name}\n", "00".repeat(32)),
            );
            let signed = format!(
                "{body}signature {}\n",
                hex(&key(1).sign(MANIFEST_LABEL, body.as_bytes()))
            );
            assert!(
                SignedManifest::parse(signed.as_bytes()).is_err(),
                "{name:?} parsed"
            );
        }
    }

    #[test]
    fn non_canonical_texts_are_refused() {
        let bytes = sample().sign(&key(1)).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let variants = [
            text.replace("time 1780000000", "time 01780000000"),
            text.replace("time 1780000000", "time +1780000000"),
            text.replace("vault 0909", "vault 0A09"),
            text.replace('\n', "\r\n"),
            text.trim_end().to_string(),
            format!("{text}\n"),
            format!("{text}extra\n"),
            text.replace("  access.csv", " access.csv"),
            text.replace("scope admin", "scope owner"),
            text.replace("heads ", "heads  "),
        ];
        for v in variants {
            assert_ne!(v, text);
            assert!(SignedManifest::parse(v.as_bytes()).is_err(), "{v}");
        }
        assert_eq!(
            SignedManifest::parse(&vec![b'a'; MAX_MANIFEST_BYTES + 1]),
            Err(EvidenceError::TooLarge)
        );
        assert!(SignedManifest::parse(b"").is_err());
        assert!(SignedManifest::parse(b"\n").is_err());
        assert!(SignedManifest::parse(&[0xff, b'\n']).is_err());
    }

    #[test]
    fn files_must_match_exactly() {
        let m = sample();
        let parsed = SignedManifest::parse(&m.sign(&key(1)).unwrap()).unwrap();
        let mut present = m.files.clone();
        parsed.check_files(&present).unwrap();
        present.insert("extra.txt".into(), [0; 32]);
        assert_eq!(
            parsed.check_files(&present),
            Err(EvidenceError::Unlisted("extra.txt".into()))
        );
        let mut present = m.files.clone();
        present.remove("log.json");
        assert_eq!(
            parsed.check_files(&present),
            Err(EvidenceError::Missing("log.json".into()))
        );
        let mut present = m.files.clone();
        present.insert("audit.json".into(), [0; 32]);
        assert_eq!(
            parsed.check_files(&present),
            Err(EvidenceError::Mismatch("audit.json".into()))
        );
    }

    /// The committed fuzz seeds are manifests the parser accepts, and re-encode.
    #[test]
    fn fuzz_seeds_parse() {
        for seed in [
            &include_bytes!("../fuzz/seeds/evidence_manifest/full-pack")[..],
            &include_bytes!("../fuzz/seeds/evidence_manifest/reader-three-heads")[..],
            &include_bytes!("../fuzz/seeds/evidence_manifest/no-files")[..],
        ] {
            let parsed = SignedManifest::parse(seed).unwrap();
            assert_eq!(
                parsed.manifest().body().unwrap().as_bytes(),
                parsed.signed_bytes()
            );
        }
    }

    /// STYLE.md 20: the label is documented where the format is.
    #[test]
    fn label_and_header_are_in_the_format_spec() {
        let spec = include_str!("../docs/format.md");
        assert!(spec.contains(MANIFEST_LABEL));
        assert!(spec.contains(MANIFEST_HEADER));
    }
}
