//! `amanat identity new|show|passwd`, and unlocking the identity for other commands.

use clap::Args;
use serde_json::json;

use amanat::agent::AgentKeys;
use amanat::crypto::{HpkeWrapped, KdfParams, SIGNATURE_LEN, SymmetricKey};
use amanat::format::PublicKeys;
use amanat::identity::{self as id, Identity, Keyholder, KeyholderError};
use amanat::store;

use super::JsonArgs;
use super::exit::{Exit, fail};
use super::input::{self, NEW_PASSPHRASE_FILE_VAR, PASSPHRASE_FILE_VAR};
use super::output::{print_json, sanitize};
use super::paths::Paths;

/// `identity new` arguments.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// Your name as teammates will see it (no spaces)
    #[arg(long)]
    pub name: String,
    /// Argon2id memory in MiB [default: 256]
    #[arg(long, value_name = "MIB")]
    pub kdf_memory: Option<u32>,
    /// Argon2id passes [default: 3]
    #[arg(long, value_name = "N")]
    pub kdf_time: Option<u32>,
    /// Allow parameters below 64 MiB / t=3 (tests only; recorded in the file and
    /// warned about on every use). Without --kdf-memory/--kdf-time it uses 64 KiB, t=1.
    #[arg(long)]
    pub insecure_kdf: bool,
}

/// `identity passwd` arguments.
#[derive(Debug, Args)]
pub struct PasswdArgs {}

/// The identity a command signs and reads with: the unlock agent's when one is
/// unlocked for these paths (no passphrase), else the file unlocked in this process.
#[derive(Debug)]
pub enum Unlocked {
    /// Held by the agent; its secret keys never leave it.
    Agent(AgentKeys),
    /// Unlocked here with the passphrase.
    Local(Identity),
}

impl Keyholder for Unlocked {
    fn name(&self) -> &str {
        match self {
            Self::Agent(k) => k.name(),
            Self::Local(i) => i.name(),
        }
    }
    fn keys(&self) -> &PublicKeys {
        match self {
            Self::Agent(k) => k.keys(),
            Self::Local(i) => i.keys(),
        }
    }
    fn sign_record(&self, record: &[u8]) -> Result<[u8; SIGNATURE_LEN], KeyholderError> {
        match self {
            Self::Agent(k) => k.sign_record(record),
            Self::Local(i) => i.sign_record(record),
        }
    }
    fn unwrap_key(
        &self,
        info: &[u8],
        wrapped: &HpkeWrapped,
    ) -> Result<SymmetricKey, KeyholderError> {
        match self {
            Self::Agent(k) => k.unwrap_key(info, wrapped),
            Self::Local(i) => i.unwrap_key(info, wrapped),
        }
    }
}

/// The identity for a command: through the agent when it is unlocked for these
/// paths, else read and unlocked here ([`unlock_local`]).
pub fn unlock(paths: &Paths) -> anyhow::Result<Unlocked> {
    // Keys and decrypted entries ahead: lock every page (see `harden_command`).
    amanat::harden::lock_all_memory();
    if let Some(keys) = super::agent::keys(paths)? {
        return Ok(Unlocked::Agent(keys));
    }
    unlock_local(paths).map(Unlocked::Local)
}

/// Read and unlock the identity file in this process, with the passphrase (warns when
/// its KDF is below the floor).
pub fn unlock_local(paths: &Paths) -> anyhow::Result<Identity> {
    let bytes = store::read_identity(&paths.identity)?;
    let info = id::inspect(&bytes)?;
    let pass = input::passphrase(&info.name)?;
    let identity = Identity::unlock(&bytes, &pass)?;
    if identity.insecure_kdf {
        warn_insecure(&identity.kdf);
    } else if let Some(stronger) = upgrade(&identity.kdf) {
        // SECURITY.md item 11: weaker-than-default (but allowed) parameters are
        // re-sealed at the defaults after a successful unlock.
        let _lock = store::lock(&paths.identity)?;
        let resealed = identity.seal(&pass, stronger, false)?;
        store::write_identity(&paths.identity, &resealed, true)?;
        eprintln!(
            "note: identity re-sealed with stronger key-derivation parameters ({} MiB, t={})",
            stronger.memory_kib / 1024,
            stronger.time
        );
    }
    Ok(identity)
}

/// The default-strength parameters, if `kdf` is weaker than them in any dimension.
fn upgrade(kdf: &KdfParams) -> Option<KdfParams> {
    let d = KdfParams::DEFAULT;
    let stronger = KdfParams {
        memory_kib: kdf.memory_kib.max(d.memory_kib),
        time: kdf.time.max(d.time),
        lanes: kdf.lanes.max(d.lanes),
    };
    (stronger != *kdf).then_some(stronger)
}

fn warn_insecure(kdf: &KdfParams) {
    eprintln!(
        "warning: this identity uses insecure key-derivation parameters ({} KiB, t={}; --insecure-kdf): fine for tests, never for real secrets",
        kdf.memory_kib, kdf.time
    );
}

/// `identity new`.
pub fn new(paths: &Paths, args: NewArgs) -> anyhow::Result<()> {
    if paths.identity.exists() {
        return fail(
            Exit::Other,
            format!("an identity already exists at {}", paths.identity.display()),
            "use it, or choose another file with --identity / AMANAT_IDENTITY",
        );
    }
    let base = if args.insecure_kdf {
        KdfParams::INSECURE_TEST
    } else {
        KdfParams::DEFAULT
    };
    let params = KdfParams {
        memory_kib: match args.kdf_memory {
            Some(mib) => mib.saturating_mul(1024),
            None => base.memory_kib,
        },
        time: args.kdf_time.unwrap_or(base.time),
        lanes: base.lanes,
    };
    if let Err(e) = params.check(args.insecure_kdf) {
        return fail(
            Exit::Usage,
            e.to_string(),
            "use at least --kdf-memory 64 --kdf-time 3 (the defaults are 256 and 3)",
        );
    }
    amanat::harden::lock_all_memory();
    let identity = Identity::generate(&args.name)?;
    let pass = input::new_passphrase(PASSPHRASE_FILE_VAR)?;
    let bytes = identity.seal(&pass, params, args.insecure_kdf)?;
    store::write_identity(&paths.identity, &bytes, false)?;
    if args.insecure_kdf && params.below_floor() {
        warn_insecure(&params);
    }
    outln!("{}", identity.public_key_text());
    outln!("fingerprint: {}", identity.fingerprint());
    eprintln!(
        "identity '{}' saved to {}; give the amanat1… line to your admin and compare the fingerprint with them",
        identity.name,
        paths.identity.display()
    );
    Ok(())
}

/// `identity show`.
pub fn show(paths: &Paths, args: JsonArgs) -> anyhow::Result<()> {
    let bytes = store::read_identity(&paths.identity)?;
    let info = id::inspect(&bytes)?;
    let key = id::public_key_text(&info.keys);
    let fp = id::fingerprint(&info.keys);
    if args.json {
        return print_json(&json!({
            "name": info.name,
            "public_key": key,
            "fingerprint": fp,
            "kdf": {"memory_kib": info.kdf.memory_kib, "time": info.kdf.time, "lanes": info.kdf.lanes},
            "insecure_kdf": info.insecure_kdf,
        }));
    }
    outln!("{key}");
    outln!("fingerprint: {fp}");
    outln!("name: {}", sanitize(&info.name));
    Ok(())
}

/// `identity passwd`: unlock with the current passphrase, re-seal under a new one.
pub fn passwd(paths: &Paths, _args: PasswdArgs) -> anyhow::Result<()> {
    let identity = unlock_local(paths)?;
    let _lock = store::lock(&paths.identity)?;
    let new = input::new_passphrase(NEW_PASSPHRASE_FILE_VAR)?;
    // Insecure test identities keep their parameters; others are at least the defaults
    // (unlock has already upgraded weaker ones).
    let (params, insecure) = if identity.insecure_kdf {
        (identity.kdf, true)
    } else {
        (upgrade(&identity.kdf).unwrap_or(identity.kdf), false)
    };
    let bytes = identity.seal(&new, params, insecure)?;
    store::write_identity(&paths.identity, &bytes, true)?;
    eprintln!("passphrase changed for '{}'", sanitize(&identity.name));
    Ok(())
}
