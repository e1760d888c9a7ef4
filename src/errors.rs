//! The one place library errors are mapped to an exit code (docs/cli.md, "Exit
//! codes") and a next step: used by the command line and by the agent, which sends
//! both with its error replies so that a command answered by the agent fails exactly
//! as one that worked locally.

use std::process::ExitCode;

use crate::crypto::CryptoError;
use crate::format::FormatError;
use crate::identity::{IdentityError, KeyholderError};
use crate::store::StoreError;
use crate::vault::VaultError;

/// The exit codes of CLI.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 1: other error (I/O, bad input file, …).
    Other = 1,
    /// 2: usage error.
    Usage = 2,
    /// 3: no passphrase available, or wrong passphrase.
    Passphrase = 3,
    /// 4: not found (entry, member, group, vault, identity).
    NotFound = 4,
    /// 5: access denied.
    Denied = 5,
    /// 6: integrity failure.
    Integrity = 6,
    /// 7: `audit --strict` found something.
    AuditFindings = 7,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

impl Exit {
    /// The code of a known exit (`None` for any other number).
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::Other,
            2 => Self::Usage,
            3 => Self::Passphrase,
            4 => Self::NotFound,
            5 => Self::Denied,
            6 => Self::Integrity,
            7 => Self::AuditFindings,
            _ => return None,
        })
    }
}

/// The hint for a refused member, group or identity name (`amanat::format::check_name`).
pub const NAME_HINT: &str = "names are 1–64 characters without spaces, '@', '/', control, bidi \
                         (right-to-left) or invisible characters";

/// A format error: the exit code and next step.
pub fn classify_format(_: &FormatError) -> (Exit, Option<String>) {
    (Exit::Integrity, Some(verify_hint()))
}

/// A crypto error: the exit code and next step.
pub fn classify_crypto(_: &CryptoError) -> (Exit, Option<String>) {
    (Exit::Integrity, None)
}

/// The next step after a damaged or tampered file.
pub fn verify_hint() -> String {
    "the file is damaged or was tampered with: do not use it; restore it from a trusted copy (git history, a backup)".into()
}

/// A store error: the exit code and next step.
pub fn classify_store(e: &StoreError) -> (Exit, Option<String>) {
    match e {
        StoreError::NoVault(_) => (Exit::NotFound, Some("create one with 'amanat init', or point --vault / AMANAT_VAULT at your team's vault directory (in your git clone or shared folder)".into()),
        ),
        StoreError::NoIdentity(_) => (Exit::NotFound, Some("create one with 'amanat identity new --name NAME', or set --identity / AMANAT_IDENTITY".into()),
        ),
        StoreError::HandOverUndone { .. } => (Exit::Integrity, Some("the old owner's key signed on old heads: do not use this copy; tell the new owner".into()),
        ),
        StoreError::Rollback { .. } | StoreError::Replaced { .. } => (Exit::Integrity, Some("do not use this copy: bring in the records it lacks with 'amanat sync' (git) or 'amanat merge PATH' (a copy that has them); docs/sync.md".into()),
        ),
        StoreError::Vault(v) => classify_vault(v),
        StoreError::Exists(_) => (Exit::Other, Some("move it away first, or choose another path".into())),
        StoreError::SingleFile(p) => (Exit::Other, Some(format!(
                "make it a vault directory: move it aside, then 'amanat --vault {} merge FILE' (docs/sync.md)",
                p.display()
            )),
        ),
        StoreError::DamagedSegment { .. } => (Exit::Integrity, Some("do not use this copy; delete the damaged segment and fetch it again from your team's shared copy (docs/sync.md)".into()),
        ),
        StoreError::DamagedRecords(_) => (Exit::Integrity, Some(verify_hint())),
        StoreError::NoGenesis(..) | StoreError::TwoVaults(_) => (Exit::Integrity, Some(
            "a segment is missing or a stray one was copied in: restore the vault directory from your team's shared copy".into(),
        )),
        StoreError::TooLarge(_) => (Exit::Integrity, Some(verify_hint())),
        StoreError::Io { .. } => (Exit::Other, None),
    }
}

/// A vault error: the exit code and next step.
pub fn classify_vault(e: &VaultError) -> (Exit, Option<String>) {
    match e {
        VaultError::Format(_) | VaultError::Integrity(_) => (Exit::Integrity, Some(verify_hint())),
        VaultError::NotMember(_) => (
            Exit::Denied,
            Some(
                "ask an admin of this vault to add you, or choose another identity with --identity"
                    .into(),
            ),
        ),
        VaultError::NotFound(p) => {
            let dir = p
                .rsplit_once('/')
                .map(|(d, _)| format!(" {d}/"))
                .unwrap_or_default();
            (Exit::NotFound, Some(format!("see 'amanat ls{dir}'")))
        }
        VaultError::Ambiguous { path, .. } => (
            Exit::Other,
            Some(format!(
                "pick one by id: 'amanat show {path} --id ID' (get and rm take --id too)"
            )),
        ),
        VaultError::AmbiguousName { .. } => (
            Exit::Other,
            Some("name the member by id instead ('amanat member ls --json' shows the ids)".into()),
        ),
        VaultError::Exists(_) => (
            Exit::Other,
            Some("edit it with 'amanat edit', or choose another path".into()),
        ),
        VaultError::MemberExists(name) => (
            Exit::Other,
            Some(format!(
                "see 'amanat member ls'; to give '{name}' new keys use 'amanat member rekey', or choose another name"
            )),
        ),
        VaultError::KeysInUse(name) => (
            Exit::Other,
            Some(format!(
                "that public key is '{name}''s: check you were sent the right amanat1… key"
            )),
        ),
        VaultError::GroupExists(name) => (
            Exit::Other,
            Some(format!(
                "see 'amanat group ls'; add people to it with 'amanat group add {name} NAME'"
            )),
        ),
        VaultError::Denied(why) => (Exit::Denied, Some(denied_hint(why))),
        VaultError::NoMember(_) => (Exit::NotFound, Some("see 'amanat member ls'".into())),
        VaultError::NoGroup(_) => (Exit::NotFound, Some("see 'amanat group ls'".into())),
        VaultError::NotShared(p) => (Exit::NotFound, Some(format!("see 'amanat access {p}'"))),
        VaultError::InvalidName(_) => (Exit::Usage, Some(NAME_HINT.into())),
        VaultError::InvalidPath(_) => (
            Exit::Usage,
            Some(
                "paths look like team/service/login: no empty, '.' or '..' parts, and no \
                 control, bidi (right-to-left) or invisible characters"
                    .into(),
            ),
        ),
        VaultError::Keyholder(KeyholderError::Locked(_)) => (
            Exit::Passphrase,
            Some("nothing was written; unlock again with 'amanat unlock' and retry".into()),
        ),
        VaultError::Keyholder(_) => (
            Exit::Other,
            Some("nothing was written; run 'amanat lock' and retry (you will be asked for the passphrase)".into()),
        ),
        _ => (Exit::Other, None),
    }
}

/// The next step for a refusal, by what was refused.
fn denied_hint(why: &str) -> String {
    if why.contains("write this entry")
        || why.contains("delete this entry")
        || why.contains("share this entry")
        || why.contains("unshare this entry")
    {
        "ask an admin for write access to it ('amanat share PATH --with YOU --write'); 'amanat access PATH' shows who has it".into()
    } else if why.contains("owner") {
        "only the owner can do this; 'amanat member ls' shows who the owner is".into()
    } else if why.contains("admin") {
        "ask an admin ('amanat member ls' lists them)".into()
    } else if why.contains("shared with you") {
        "ask an admin or a writer of the entry to share it with you".into()
    } else {
        "ask an admin of this vault".into()
    }
}

/// An identity error: the exit code and next step.
pub fn classify_identity(e: &IdentityError) -> (Exit, Option<String>) {
    match e {
        IdentityError::WrongPassphrase => (
            Exit::Passphrase,
            Some("check the passphrase (or AMANAT_PASSPHRASE_FILE) and try again".into()),
        ),
        IdentityError::Malformed(_) | IdentityError::Kdf(_) => (
            Exit::Integrity,
            Some("restore the identity file from your backup".into()),
        ),
        IdentityError::PublicKeyText(_) => {
            (Exit::Usage, Some("copy the whole amanat1… line".into()))
        }
        IdentityError::KeyProofText(_) => (
            Exit::Usage,
            Some("copy the whole amanat-rekey1… line that 'amanat identity proof' printed".into()),
        ),
        IdentityError::Name => (Exit::Usage, Some(NAME_HINT.into())),
        _ => (Exit::Other, None),
    }
}
