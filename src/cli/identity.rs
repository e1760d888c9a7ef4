//! `amanat identity new|show|passwd|rotate|proof|export|import`, and unlocking the
//! identity for other commands.

use clap::Args;
use serde_json::json;

use amanat::agent::AgentKeys;
use amanat::crypto::{HpkeWrapped, KdfParams, SIGNATURE_LEN, SymmetricKey};
use amanat::format::PublicKeys;
use amanat::identity::{self as id, Identity, Keyholder, KeyholderError};
use amanat::store;
use std::io::IsTerminal as _;

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

/// `identity rotate` arguments.
#[derive(Debug, Args)]
pub struct RotateArgs {}

/// `identity proof` arguments.
#[derive(Debug, Args)]
pub struct ProofArgs {
    /// Your name in the vault, or your member id [default: this identity's name]
    #[arg(long, value_name = "NAME")]
    pub member: Option<String>,
}

/// `identity export` arguments.
#[derive(Debug, Args)]
pub struct ExportArgs {}

/// `identity import` arguments.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The export (armored text, or an identity file); `-` reads stdin
    pub file: std::path::PathBuf,
    /// Replace an existing identity without asking (it is kept next to it as a backup)
    #[arg(long)]
    pub force: bool,
}

/// The identity a command signs and reads with: the unlock agent's when one is
/// unlocked for these paths (no passphrase), else the file unlocked in this process.
#[derive(Debug)]
pub enum Unlocked {
    /// Held by the agent; its secret keys never leave it. If the agent goes away in
    /// the middle of the command (`lock`, a timeout), the identity is unlocked here
    /// instead (passphrase file or prompt) and the command goes on.
    Agent(AgentKeys, Box<Fallback>),
    /// Unlocked here with the passphrase.
    Local(Identity),
}

/// The local identity an [`Unlocked::Agent`] falls back to when its agent vanishes.
#[derive(Debug)]
pub struct Fallback {
    paths: Paths,
    local: std::cell::OnceCell<Identity>,
}

impl Fallback {
    fn new(paths: &Paths) -> Box<Self> {
        Box::new(Self {
            paths: paths.clone(),
            local: std::cell::OnceCell::new(),
        })
    }

    /// The identity unlocked here, once the agent holding `keys` is gone.
    fn local(&self, keys: &PublicKeys) -> Result<&Identity, KeyholderError> {
        if let Some(i) = self.local.get() {
            return Ok(i);
        }
        eprintln!("note: the unlock agent went away; unlocking here instead");
        let identity = unlock_local_with(&self.paths, false)
            .map_err(|e| KeyholderError::Locked(format!("{e:#}")))?;
        if identity.keys != *keys {
            return Err(KeyholderError::Failed(
                "the identity file changed while the command ran".into(),
            ));
        }
        Ok(self.local.get_or_init(|| identity))
    }
}

impl Keyholder for Unlocked {
    fn name(&self) -> &str {
        match self {
            Self::Agent(k, _) => k.name(),
            Self::Local(i) => i.name(),
        }
    }
    fn keys(&self) -> &PublicKeys {
        match self {
            Self::Agent(k, _) => k.keys(),
            Self::Local(i) => i.keys(),
        }
    }
    fn sign_record(&self, record: &[u8]) -> Result<[u8; SIGNATURE_LEN], KeyholderError> {
        match self {
            Self::Agent(k, f) => match f.local.get() {
                Some(i) => i.sign_record(record),
                None => match k.sign_record(record) {
                    Err(_) if k.vanished() => f.local(k.keys())?.sign_record(record),
                    other => other,
                },
            },
            Self::Local(i) => i.sign_record(record),
        }
    }
    fn unwrap_key(
        &self,
        info: &[u8],
        wrapped: &HpkeWrapped,
    ) -> Result<SymmetricKey, KeyholderError> {
        match self {
            Self::Agent(k, f) => match f.local.get() {
                Some(i) => i.unwrap_key(info, wrapped),
                None => match k.unwrap_key(info, wrapped) {
                    Err(_) if k.vanished() => f.local(k.keys())?.unwrap_key(info, wrapped),
                    other => other,
                },
            },
            Self::Local(i) => i.unwrap_key(info, wrapped),
        }
    }
}

/// The identity for a command: through the agent when it is unlocked for these
/// paths, else read and unlocked here ([`unlock_local`]). A passphrase typed at the
/// prompt then starts the agent (docs/agent.md, "Automatic agent").
pub fn unlock(paths: &Paths) -> anyhow::Result<Unlocked> {
    // Keys and decrypted entries ahead: lock every page (see `harden_command`).
    amanat::harden::lock_all_memory();
    if let Some(keys) = super::agent::keys(paths)? {
        return Ok(Unlocked::Agent(keys, Fallback::new(paths)));
    }
    unlock_local_with(paths, true).map(Unlocked::Local)
}

/// Unlock the identity in `bytes` with its passphrase: a wrong one typed at the
/// prompt is asked for again (three tries in all).
pub fn open_with_passphrase(
    bytes: &[u8],
    name: &str,
) -> anyhow::Result<(Identity, amanat::crypto::SecretString, input::Source)> {
    input::passphrase_checked(
        name,
        |pass| match Identity::unlock(bytes, pass) {
            Ok(i) => Ok(Some(i)),
            Err(id::IdentityError::WrongPassphrase) => Ok(None),
            Err(e) => Err(e.into()),
        },
        || id::IdentityError::WrongPassphrase.into(),
    )
}

/// Read and unlock the identity file in this process, with the passphrase (warns when
/// its KDF is below the floor).
pub fn unlock_local(paths: &Paths) -> anyhow::Result<Identity> {
    unlock_local_with(paths, false)
}

/// [`unlock_local`]; with `start_agent`, a passphrase typed at the prompt also starts
/// the unlock agent (unless `AMANAT_AGENT=off` or an agent is running).
fn unlock_local_with(paths: &Paths, start_agent: bool) -> anyhow::Result<Identity> {
    let bytes = store::read_identity(&paths.identity)?;
    let info = id::inspect(&bytes)?;
    let (identity, pass, source) = open_with_passphrase(&bytes, &info.name)?;
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
    // After any re-seal: the agent locks itself when the identity file changes.
    if start_agent && source == input::Source::Prompt {
        super::agent::start_automatically(paths, &pass);
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
        sanitize(&identity.name),
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

/// Lock the unlock agent if it holds the identity at `paths.identity` (an identity
/// about to be rotated or replaced must not stay in use there). Returns whether it did.
fn lock_agent_holding(paths: &Paths) -> anyhow::Result<bool> {
    use amanat::agent::{Client, Reply, Request};
    let Ok(Some(mut client)) = Client::connect(&super::agent::socket_path()) else {
        return Ok(false);
    };
    let Ok(Reply::Status(status)) = client.request(&Request::Status {}) else {
        return Ok(false);
    };
    let ours = std::path::absolute(&paths.identity)?;
    let holds = status.unlocked && status.binding.as_ref().is_some_and(|b| b.identity == ours);
    if !holds {
        return Ok(false);
    }
    match client.request(&Request::Lock {}) {
        Ok(Reply::Locked {}) => Ok(true),
        _ => fail(
            Exit::Other,
            "the unlock agent holds this identity and could not be locked",
            "run 'amanat lock', then try again",
        ),
    }
}

/// A new file next to `path` for a copy of an identity with these keys:
/// `PATH.XXXXXXXX.bak` (the first fingerprint digits), numbered if taken. Written 0600.
fn write_backup(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<std::path::PathBuf> {
    let info = id::inspect(bytes)?;
    let fp: String = id::fingerprint(&info.keys)
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(8)
        .collect();
    let base = path.as_os_str().to_string_lossy().into_owned();
    for n in 0..100 {
        let candidate = if n == 0 {
            std::path::PathBuf::from(format!("{base}.{fp}.bak"))
        } else {
            std::path::PathBuf::from(format!("{base}.{fp}.{n}.bak"))
        };
        if candidate.exists() {
            if std::fs::read(&candidate).is_ok_and(|b| b == bytes) {
                return Ok(candidate);
            }
            continue;
        }
        store::write_identity(&candidate, bytes, false)?;
        return Ok(candidate);
    }
    fail(
        Exit::Other,
        format!("too many backups next to {}", path.display()),
        "move old *.bak files away",
    )
}

/// Ask a yes/no question on the terminal (the answer is shown as typed).
fn confirm_on_tty(question: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead as _, Write as _};
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    write!(tty, "{question} [type 'yes' to confirm]: ")?;
    tty.flush()?;
    let mut answer = String::new();
    std::io::BufReader::new(tty.try_clone()?).read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// `identity rotate`: a new key pair for this member of this vault, announced by a
/// `ChangeMemberKeys` signed with the old key and proven by the new one; the identity
/// file is replaced (the old one kept next to it).
pub fn rotate(paths: &Paths, _args: RotateArgs) -> anyhow::Result<()> {
    amanat::harden::lock_all_memory();
    let locked_agent = lock_agent_holding(paths)?;
    let _lock = store::lock(&paths.identity)?;
    let bytes = store::read_identity(&paths.identity)?;
    let info = id::inspect(&bytes)?;
    let (old, pass, _) = open_with_passphrase(&bytes, &info.name)?;
    if old.insecure_kdf {
        warn_insecure(&old.kdf);
    }
    let (params, insecure) = if old.insecure_kdf {
        (old.kdf, true)
    } else {
        (upgrade(&old.kdf).unwrap_or(old.kdf), false)
    };
    let new = Identity::generate(&old.name)?;
    let new_bytes = new.seal(&pass, params, insecure)?;
    let mut pending = paths.identity.as_os_str().to_owned();
    pending.push(".new");
    let pending = std::path::PathBuf::from(pending);
    if pending.exists() {
        return fail(
            Exit::Other,
            format!(
                "{} exists (left by an interrupted rotation)",
                pending.display()
            ),
            format!(
                "if 'amanat --identity {} info' shows your role, move it over {}; otherwise delete it",
                pending.display(),
                paths.identity.display()
            ),
        );
    }
    // The old identity first, then the new one beside the current file: whatever
    // happens to the vault write, both keys stay on disk.
    let backup = write_backup(&paths.identity, &bytes)?;
    store::write_identity(&pending, &new_bytes, false)?;
    let tty = std::io::stderr().is_terminal();
    let mut progress = super::team::progress_bar(tty);
    let written = super::vault::write(paths, |vault| -> anyhow::Result<_> {
        let role = vault.member_for(&old)?.role;
        let done = vault.change_own_keys(&old, &new, &mut progress)?;
        Ok((role, done, vault.team().to_string()))
    });
    let (role, done, team) = match written {
        Ok((_, out)) => out,
        Err(e) => {
            // Nothing was written: the current identity stays.
            let _ = std::fs::remove_file(&pending);
            let _ = std::fs::remove_file(&backup);
            return Err(e);
        }
    };
    if let Err(e) = std::fs::rename(&pending, &paths.identity) {
        return fail(
            Exit::Other,
            format!(
                "the vault now has your new key, but {} could not replace {}: {e}",
                pending.display(),
                paths.identity.display()
            ),
            format!(
                "move {} over {} by hand (the old identity is kept at {})",
                pending.display(),
                paths.identity.display(),
                backup.display()
            ),
        );
    }
    if let Some(dir) = paths.identity.parent() {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    outln!("{}", new.public_key_text());
    outln!("fingerprint: {}", new.fingerprint());
    eprintln!(
        "rotated your keys in vault '{}': the old key is retired (it opens nothing written from now on)",
        sanitize(&team)
    );
    eprintln!(
        "the old identity is kept at {} (mode 0600): it opens only what was written before; delete it when you no longer need old copies of the vault",
        backup.display()
    );
    if role.is_admin() {
        eprintln!(
            "{} group key(s) rotated and {} entr{} re-keyed to your new key",
            done.rotated,
            done.rekeyed,
            if done.rekeyed == 1 { "y" } else { "ies" }
        );
    } else {
        eprintln!(
            "entries shared with you before now open again after an admin's next write (it rotates your groups' keys and re-keys them)"
        );
    }
    eprintln!(
        "teammates will see a notice that your fingerprint changed: read them the new one; if this identity is in other vaults, use the backup there (--identity) until you rotate there too"
    );
    if locked_agent {
        eprintln!("the unlock agent held the old key and was locked: run 'amanat unlock' again");
    }
    Ok(())
}

/// `identity proof`: the new key's proof of possession for `member rekey`, made by
/// whoever holds the new identity (a new laptop, a lost passphrase).
pub fn proof(paths: &Paths, args: ProofArgs) -> anyhow::Result<()> {
    let vault = super::vault::load(paths)?;
    let identity = unlock_local(paths)?;
    let name = args.member.clone().unwrap_or_else(|| identity.name.clone());
    let member = vault.member_named(&name)?.clone();
    if member.keys == identity.keys {
        return fail(
            Exit::Other,
            format!(
                "this identity already holds {}'s current keys in this vault",
                sanitize(&member.name)
            ),
            "nothing to replace: to change keys you still hold, run 'amanat identity rotate'",
        );
    }
    let p = id::KeyProof::sign(&identity, vault.id(), member.id);
    outln!("{}", p.encode());
    outln!("fingerprint: {}", identity.fingerprint());
    eprintln!(
        "give the amanat-rekey1… line to an admin of '{}' for 'amanat member rekey {} LINE' and read them the fingerprint",
        sanitize(vault.team()),
        sanitize(&member.name)
    );
    Ok(())
}

/// `identity export`: the identity file as armored text on stdout, still sealed under
/// the passphrase (checked first, so the backup is known to open).
pub fn export(paths: &Paths, _args: ExportArgs) -> anyhow::Result<()> {
    let bytes = store::read_identity(&paths.identity)?;
    let info = id::inspect(&bytes)?;
    open_with_passphrase(&bytes, &info.name)?;
    use std::io::Write as _;
    std::io::stdout()
        .lock()
        .write_all(id::armor(&bytes).as_bytes())?;
    eprintln!(
        "exported identity '{}' (fingerprint {}); it is sealed under your passphrase, so whoever holds it can try to guess that: keep it offline",
        sanitize(&info.name),
        id::fingerprint(&info.keys)
    );
    Ok(())
}

/// `identity import FILE`: restore an export. Nothing is replaced unless the export
/// parses, its checksum matches and it opens with the passphrase; an existing
/// identity is replaced only after a prompt or with `--force`, and kept as a backup.
pub fn import(paths: &Paths, args: ImportArgs) -> anyhow::Result<()> {
    use std::io::Read as _;
    amanat::harden::lock_all_memory();
    let from_stdin = args.file.as_os_str() == "-";
    let shown = if from_stdin {
        "stdin".to_string()
    } else {
        args.file.display().to_string()
    };
    let input = if from_stdin {
        let mut buf = Vec::new();
        std::io::stdin()
            .lock()
            .take(id::MAX_ARMOR_LEN as u64 + 1)
            .read_to_end(&mut buf)?;
        buf
    } else {
        if !args.file.exists() {
            return fail(
                Exit::NotFound,
                format!("no file {shown}"),
                "name the file 'amanat identity export' wrote",
            );
        }
        match store::read_limited(&args.file, id::MAX_ARMOR_LEN as u64) {
            Ok(b) => b,
            Err(store::StoreError::TooLarge(_)) => {
                return fail(
                    Exit::Integrity,
                    format!("{shown} is too large to be an identity export"),
                    "name the file 'amanat identity export' wrote; nothing was changed",
                );
            }
            Err(e) => return Err(e.into()),
        }
    };
    let bytes = match id::dearmor(&input) {
        Ok(b) => b,
        Err(e) => {
            return fail(
                Exit::Integrity,
                format!("{shown}: {e}"),
                "the export is damaged or incomplete; nothing was changed: export it again from a good copy",
            );
        }
    };
    let info = id::inspect(&bytes)?;
    let pass = input::passphrase(&info.name)?;
    let imported = match Identity::unlock(&bytes, &pass) {
        Ok(i) => i,
        Err(id::IdentityError::WrongPassphrase) => {
            return fail(
                Exit::Passphrase,
                format!("the passphrase does not open the identity in {shown}"),
                "use the passphrase the identity had when it was exported; nothing was changed",
            );
        }
        Err(e) => {
            return fail(
                Exit::Integrity,
                format!("{shown}: {e}"),
                "the export is damaged; nothing was changed: export it again from a good copy",
            );
        }
    };
    if let Some(dir) = paths
        .identity
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        store::create_private_dir(dir)?;
    }
    let _lock = store::lock(&paths.identity)?;
    let mut backup = None;
    if paths.identity.exists() {
        let current = store::read_identity(&paths.identity)?;
        if current == bytes {
            eprintln!(
                "identity '{}' is already at {}: nothing to do",
                sanitize(&imported.name),
                paths.identity.display()
            );
            return Ok(());
        }
        let describe = match id::inspect(&current) {
            Ok(c) => format!("'{}' ({})", sanitize(&c.name), id::fingerprint(&c.keys)),
            Err(_) => "a damaged identity".to_string(),
        };
        if !args.force {
            let question = format!(
                "replace identity {describe} at {} with '{}' ({})?",
                paths.identity.display(),
                sanitize(&imported.name),
                imported.fingerprint()
            );
            if !input::has_tty() {
                return fail(
                    Exit::Other,
                    format!(
                        "an identity already exists at {} ({describe})",
                        paths.identity.display()
                    ),
                    "pass --force to replace it (it is kept next to it as a backup), or import into another file with --identity PATH",
                );
            }
            if !confirm_on_tty(&question)? {
                return fail(
                    Exit::Other,
                    "not confirmed; nothing was changed",
                    "run again and type 'yes', or import into another file with --identity PATH",
                );
            }
        }
        backup = Some(if id::inspect(&current).is_ok() {
            write_backup(&paths.identity, &current)?
        } else {
            let mut p = paths.identity.as_os_str().to_owned();
            p.push(".damaged.bak");
            let p = std::path::PathBuf::from(p);
            store::write_identity(&p, &current, true)?;
            p
        });
        if lock_agent_holding(paths)? {
            eprintln!("the unlock agent held the replaced identity and was locked");
        }
    }
    store::write_identity(&paths.identity, &bytes, true)?;
    outln!("{}", imported.public_key_text());
    outln!("fingerprint: {}", imported.fingerprint());
    eprintln!(
        "imported identity '{}' to {}",
        sanitize(&imported.name),
        paths.identity.display()
    );
    if let Some(b) = backup {
        eprintln!(
            "the identity it replaced is kept at {} (mode 0600)",
            b.display()
        );
    }
    Ok(())
}
