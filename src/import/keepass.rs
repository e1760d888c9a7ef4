//! KeePass databases (`.kdbx`, KDBX 3.1 and 4; AES-KDF and Argon2), through the
//! `keepass` crate (the maintained reader; it brings its own crypto stack for the
//! importer only). Groups become the path (the recycle bin is left out); Title,
//! UserName, Password, URL and Notes map to the entry; a TOTP (`otp` field, KeePassXC)
//! to the TOTP seed; every other string field to a custom field (protected ones stay
//! secret).
//!
//! A `.kdbx` file names its own key derivation cost, before anything is
//! authenticated: a crafted file could ask for Argon2 at many GiB or for billions of
//! AES rounds. [`check_kdf`] reads the outer header and refuses costs above
//! [`Limits`] before the crate derives anything.

use keepass::db::GroupRef;
use keepass::{Database, DatabaseKey};

use super::{ImportError, Imported};
use crate::crypto::SecretString;

/// The most a source file may ask the key derivation to cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Argon2 memory, bytes.
    pub argon2_memory: u64,
    /// Argon2 passes.
    pub argon2_iterations: u64,
    /// AES-KDF rounds.
    pub aes_rounds: u64,
}

impl Limits {
    /// For importing people's real databases: 1 GiB and 100 passes of Argon2 (KeePassXC's
    /// defaults are 64 MiB and a few passes), 100 million AES rounds (its default is
    /// calibrated to a second; a few million).
    pub const IMPORT: Self = Self {
        argon2_memory: 1 << 30,
        argon2_iterations: 100,
        aes_rounds: 100_000_000,
    };
}

fn le_u32(b: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(..4)?.try_into().ok()?))
}

fn le_u64(b: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(..8)?.try_into().ok()?))
}

/// Read the outer header of a KDBX 3 or 4 file and refuse a key derivation above
/// `limits`. Only KDBX files get past this to the crate: a KeePass 1 `.kdb` (whose
/// AES rounds sit elsewhere) and anything without the KeePass signatures are refused
/// here.
pub fn check_kdf(bytes: &[u8], limits: &Limits) -> Result<(), ImportError> {
    let too_costly = |what: &str| {
        Err(ImportError::KeePass(format!(
            "its key derivation asks for {what}, above what an import allows; lower it in KeePass (Database settings → Encryption) and export again"
        )))
    };
    let (Some(sig1), Some(sig2), Some(version)) = (
        le_u32(bytes),
        le_u32(bytes.get(4..).unwrap_or(&[])),
        le_u32(bytes.get(8..).unwrap_or(&[])),
    ) else {
        return Err(ImportError::KeePass(
            "not a KeePass database (too short)".into(),
        ));
    };
    if sig1 != 0x9AA2_D903 {
        return Err(ImportError::KeePass("not a KeePass database".into()));
    }
    if sig2 != 0xB54B_FB67 {
        return Err(ImportError::KeePass(
            "a KeePass 1 (.kdb) or pre-release database: open it in KeePassXC and save it as .kdbx"
                .into(),
        ));
    }
    let major = version >> 16;
    let mut rest = &bytes[12..];
    loop {
        let Some((&id, after)) = rest.split_first() else {
            return Ok(());
        };
        let (len, after) = if major >= 4 {
            (le_u32(after).map(|l| l as usize), after.get(4..))
        } else {
            (
                after
                    .get(..2)
                    .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize),
                after.get(2..),
            )
        };
        let (Some(len), Some(after)) = (len, after) else {
            return Ok(());
        };
        let Some(data) = after.get(..len) else {
            return Ok(());
        };
        rest = &after[len..];
        match (major, id) {
            (_, 0) => return Ok(()),
            // KDBX 3: transform rounds of AES-KDF.
            (3, 6) if le_u64(data).is_some_and(|r| r > limits.aes_rounds) => {
                return too_costly("more AES rounds");
            }
            // KDBX 4: the KDF parameters, a variant dictionary.
            (4.., 11) => {
                let mut d = data.get(2..).unwrap_or(&[]);
                while let Some((&kind, after)) = d.split_first() {
                    if kind == 0 {
                        break;
                    }
                    let Some(klen) = le_u32(after).map(|l| l as usize) else {
                        break;
                    };
                    let Some(key) = after.get(4..4 + klen) else {
                        break;
                    };
                    let after = &after[4 + klen..];
                    let Some(vlen) = le_u32(after).map(|l| l as usize) else {
                        break;
                    };
                    let Some(value) = after.get(4..4 + vlen) else {
                        break;
                    };
                    d = &after[4 + vlen..];
                    let v = le_u64(value).or_else(|| le_u32(value).map(u64::from));
                    match (key, v) {
                        (b"M", Some(m)) if m > limits.argon2_memory => {
                            return too_costly("more Argon2 memory");
                        }
                        (b"I", Some(i)) if i > limits.argon2_iterations => {
                            return too_costly("more Argon2 passes");
                        }
                        (b"R", Some(r)) if r > limits.aes_rounds => {
                            return too_costly("more AES rounds");
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
}

/// The entries of a KeePass database opened with `password`, its KDF within `limits`.
pub fn parse(bytes: &[u8], password: &str, limits: &Limits) -> Result<Vec<Imported>, ImportError> {
    check_kdf(bytes, limits)?;
    let key = DatabaseKey::new().with_password(password);
    // The crate panics on some malformed headers (found by `import_keepass`, e.g. a
    // compression field shorter than four bytes): a file that makes it panic is a
    // malformed file, never a crash. (The command line silences the panic message.)
    let parsed =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Database::parse(bytes, key)))
            .map_err(|_| {
                ImportError::KeePass(
                    "not a KeePass database the reader can parse (malformed)".into(),
                )
            })?;
    let db = parsed.map_err(|e| match e {
        // KDBX 4 authenticates the key (IncorrectKey); KDBX 3 has no MAC, so a wrong
        // key shows as a decryption (padding) failure.
        keepass::error::DatabaseOpenError::Key(_)
        | keepass::error::DatabaseOpenError::Cryptography(_) => ImportError::Password,
        e => ImportError::KeePass(e.to_string()),
    })?;
    let recycle = db.recycle_bin().map(|g| g.id());
    let mut out = Vec::new();
    // The root group's name (usually the database's) is not part of the paths.
    walk(&db.root(), "", recycle, &mut out);
    Ok(out)
}

/// One KeePass entry from its string fields (key, value, protected), in the group
/// path `path` (`/`-joined, root group left out): the mapping of the `.kdbx` and the
/// XML reader. Title (else `untitled`) is the last path segment; UserName, Password,
/// URL and Notes map to the entry; `otp` (KeePassXC) or `TOTP Seed` to the TOTP seed;
/// every other string to a custom field, secret when protected or named like a secret.
pub(super) fn from_strings(path: &str, strings: &[(&str, &str, bool)]) -> Imported {
    let get = |k: &str| {
        strings
            .iter()
            .find(|(key, _, _)| *key == k)
            .map_or("", |(_, v, _)| *v)
    };
    let title = match get("Title") {
        t if t.trim().is_empty() => "untitled",
        t => t,
    };
    let full = if path.is_empty() {
        title.to_string()
    } else {
        format!("{path}/{title}")
    };
    let mut e = Imported::new(&full);
    e.payload.username = get("UserName").to_string();
    e.payload.password = SecretString::new(get("Password").to_string());
    e.payload.url = get("URL").to_string();
    e.payload.notes = get("Notes").to_string();
    for &(k, v, protected) in strings {
        match k {
            "Title" | "UserName" | "Password" | "URL" | "Notes" => {}
            "otp" | "TOTP Seed" if e.payload.totp.is_none() && !v.is_empty() => {
                e.payload.totp = Some(SecretString::new(v.to_string()));
            }
            _ => e.field(k, v, protected || super::looks_secret(k)),
        }
    }
    e
}

fn walk(
    group: &GroupRef<'_>,
    path: &str,
    recycle: Option<keepass::db::GroupId>,
    out: &mut Vec<Imported>,
) {
    for entry in group.entries() {
        let mut strings: Vec<(&str, &str, bool)> = entry
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str(), v.is_protected()))
            .collect();
        strings.sort();
        let mut e = from_strings(path, &strings);
        if !entry.tags.is_empty() {
            e.field("tags", &entry.tags.join(","), false);
        }
        out.push(e);
    }
    for sub in group.groups() {
        if Some(sub.id()) == recycle {
            continue;
        }
        let name = if sub.name.trim().is_empty() {
            "group"
        } else {
            sub.name.as_str()
        };
        let sub_path = if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}/{name}")
        };
        walk(&sub, &sub_path, recycle, out);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A KDBX 4 outer header whose KDF parameters say `key` = `value` (u64).
    fn header(key: &[u8], value: u64) -> Vec<u8> {
        let mut dict = vec![0x00, 0x01]; // variant dictionary version 1.0
        dict.push(0x05); // UInt64
        dict.extend_from_slice(&(key.len() as u32).to_le_bytes());
        dict.extend_from_slice(key);
        dict.extend_from_slice(&8u32.to_le_bytes());
        dict.extend_from_slice(&value.to_le_bytes());
        dict.push(0x00);
        let mut h = Vec::new();
        h.extend_from_slice(&0x9AA2_D903u32.to_le_bytes());
        h.extend_from_slice(&0xB54B_FB67u32.to_le_bytes());
        h.extend_from_slice(&0x0004_0001u32.to_le_bytes());
        h.push(11);
        h.extend_from_slice(&(dict.len() as u32).to_le_bytes());
        h.extend_from_slice(&dict);
        h.push(0);
        h.extend_from_slice(&4u32.to_le_bytes());
        h.extend_from_slice(b"\r\n\r\n");
        h
    }

    #[test]
    fn a_costly_kdf_is_refused_before_any_derivation() {
        let l = Limits::IMPORT;
        assert!(check_kdf(&header(b"M", 64 << 20), &l).is_ok());
        assert!(check_kdf(&header(b"M", 4 << 30), &l).is_err());
        assert!(check_kdf(&header(b"I", 1_000), &l).is_err());
        assert!(check_kdf(&header(b"R", 1 << 40), &l).is_err());
        // Through `parse` too: refused without trying the password.
        match parse(&header(b"M", u64::MAX), "x", &l) {
            Err(ImportError::KeePass(why)) => assert!(why.contains("Argon2 memory"), "{why}"),
            other => panic!("{other:?}"),
        }
        // Not KDBX (a KeePass 1 .kdb names its rounds elsewhere), or too short.
        assert!(check_kdf(b"garbage", &l).is_err());
        let mut kdb = header(b"R", 1);
        kdb[4] = 0x65;
        assert!(check_kdf(&kdb, &l).is_err());
        assert!(parse(b"garbage", "x", &l).is_err());
    }
}
