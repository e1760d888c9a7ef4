//! Bringing logins in from other password managers (`amanat import`) and taking them
//! out again (`amanat export`): docs/import.md.
//!
//! Every reader here is a pure function from bytes (or text) to [`Imported`] entries,
//! with no I/O, so that it can be fuzzed (`fuzz/fuzz_targets/import_*.rs`); the
//! command line walks a `pass` store and runs `gpg`, then hands the decrypted text to
//! [`pass::parse_entry`]. Writing the entries is one batch in the library
//! ([`crate::vault::Vault::import_entries`]): one pass over the vault, one segment.
//!
//! Not for: reading the vault (`store`), or anything that touches the terminal.

use crate::crypto::SecretString;
use crate::format::{CustomField, EntryPayload};

pub mod bitwarden;
pub mod csv;
pub mod keepass;
pub mod keepass_xml;
pub mod pass;
pub mod table;

/// Why an import source could not be read. Names the record or line; never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// A CSV file that is not CSV.
    #[error("line {line}: {why}")]
    Csv {
        /// Where the bad record starts (1-based).
        line: usize,
        /// What is wrong.
        why: &'static str,
    },
    /// The first record of a CSV file lacks a column the format needs.
    #[error("no '{0}' column in the header line")]
    MissingColumn(String),
    /// A record with more or fewer fields than the header.
    #[error("line {line}: {found} fields, the header has {expected}")]
    Width {
        /// Where (1-based).
        line: usize,
        /// Fields in that record.
        found: usize,
        /// Fields in the header.
        expected: usize,
    },
    /// A JSON document that is not the expected export.
    #[error("{0}")]
    Json(String),
    /// A `--map` that is not `FIELD=COLUMN,…`.
    #[error("--map: {0}")]
    Map(String),
    /// The source is not UTF-8 text.
    #[error("not UTF-8 text")]
    NotText,
    /// A KeePass database that cannot be read (or asks too much of the KDF).
    #[error("{0}")]
    KeePass(String),
    /// The source's own password (a KeePass database's) does not open it.
    #[error("the password does not open it (or it needs a key file, or it is damaged)")]
    Password,
}

/// One entry read from a source: a path in the source's own spelling (normalised by
/// [`normalize_path`] before it is written) and the payload.
pub struct Imported {
    /// Where it was in the source (folder/name).
    pub path: String,
    /// Everything else; `payload.path` is ignored.
    pub payload: EntryPayload,
}

impl std::fmt::Debug for Imported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imported")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Imported {
    /// An entry at `path` with nothing in it yet.
    pub fn new(path: &str) -> Self {
        Self {
            path: path.to_string(),
            payload: EntryPayload::default(),
        }
    }

    /// Add a custom field (empty values are dropped; a repeated name gets ` (2)`, …).
    pub fn field(&mut self, name: &str, value: &str, secret: bool) {
        if value.is_empty() {
            return;
        }
        let base = field_name(name);
        let mut name = base.clone();
        let mut n = 2;
        while self.payload.fields.iter().any(|f| f.name == name) {
            name = format!("{base} ({n})");
            n += 1;
        }
        if self.payload.fields.len() < crate::format::MAX_FIELDS {
            self.payload.fields.push(CustomField {
                name,
                value: SecretString::new(value.to_string()),
                secret,
            });
        }
    }

    /// Append a line to the notes.
    pub fn note(&mut self, line: &str) {
        if line.is_empty() {
            return;
        }
        if !self.payload.notes.is_empty() {
            self.payload.notes.push('\n');
        }
        self.payload.notes.push_str(line);
    }
}

/// Words in a field name that make its value secret where the source does not say
/// (pass's `key: value` lines, CSV columns and Bitwarden CSV's `fields`).
const SECRET_HINTS: &[&str] = &[
    "password",
    "passphrase",
    "secret",
    "token",
    "pin",
    "key",
    "code",
    "recovery",
    "number",
    "cvv",
    "ssn",
];

/// Whether a field called `name` should be kept secret when the source does not say.
pub fn looks_secret(name: &str) -> bool {
    let name = name.to_lowercase();
    SECRET_HINTS.iter().any(|h| name.contains(h))
}

/// A custom field's name from a source's: control characters removed, at most 128
/// bytes, `field` when nothing is left.
fn field_name(name: &str) -> String {
    let mut out: String = name.trim().chars().filter(|c| !c.is_control()).collect();
    while out.len() > 128 {
        out.pop();
    }
    if out.is_empty() {
        "field".to_string()
    } else {
        out
    }
}

/// The entry path for a source path, by one stated rule (docs/import.md, "Paths"):
/// NFC; `\` is a separator too; control, bidi and invisible characters removed;
/// spaces trimmed around each segment; empty segments dropped; a `.` or `..` segment
/// becomes `_` or `__`; each segment cut to 128 bytes and the whole to 512; an empty
/// result is `unnamed`. The result passes [`crate::format::check_path`].
pub fn normalize_path(source: &str) -> String {
    let nfc = crate::format::nfc(source);
    let mut segments: Vec<String> = Vec::new();
    for raw in nfc.split(['/', '\\']) {
        let cleaned: String = raw
            .chars()
            .filter(|&c| !crate::format::is_hidden_char(c))
            .collect();
        let mut seg = cleaned.trim().to_string();
        if seg.is_empty() {
            continue;
        }
        if seg == "." {
            seg = "_".into();
        } else if seg == ".." {
            seg = "__".into();
        }
        while seg.len() > 128 {
            seg.pop();
        }
        segments.push(seg.trim_end().to_string());
    }
    let mut path = segments.join("/");
    while path.len() > crate::format::MAX_PATH_LEN {
        path.pop();
    }
    let path = path.trim_end_matches(['/', ' ']).to_string();
    if crate::format::check_path(&path).is_ok() {
        path
    } else {
        "unnamed".into()
    }
}

/// The first free path among `path`, `path (2)`, `path (3)`, … under `taken`.
pub fn free_path(path: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(path) {
        return path.to_string();
    }
    let mut n = 2;
    loop {
        let candidate = format!("{path} ({n})");
        if !taken(&candidate) {
            return candidate;
        }
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_path_rule() {
        assert_eq!(normalize_path("Work/GitHub"), "Work/GitHub");
        assert_eq!(normalize_path(" Work / Git Hub "), "Work/Git Hub");
        assert_eq!(normalize_path("a//b/"), "a/b");
        assert_eq!(normalize_path("a\\b"), "a/b");
        assert_eq!(normalize_path("../etc/./passwd"), "__/etc/_/passwd");
        assert_eq!(normalize_path("invoice\u{202e}fdp.exe"), "invoicefdp.exe");
        assert_eq!(normalize_path("cafe\u{301}"), "caf\u{e9}");
        assert_eq!(normalize_path(""), "unnamed");
        assert_eq!(normalize_path("\u{200b}/ /"), "unnamed");
        assert!(normalize_path(&"x".repeat(2000)).len() <= 512);
    }

    #[test]
    fn free_paths() {
        let taken = ["a", "a (2)"];
        assert_eq!(free_path("a", |p| taken.contains(&p)), "a (3)");
        assert_eq!(free_path("b", |p| taken.contains(&p)), "b");
    }

    proptest! {
        #[test]
        fn every_normalized_path_is_valid(s in "\\PC{0,80}") {
            let p = normalize_path(&s);
            prop_assert!(crate::format::check_path(&p).is_ok(), "{:?} -> {:?}", s, p);
            prop_assert_eq!(normalize_path(&p), p.clone());
        }
    }
}
