//! Reading passphrases and secrets (CLI.md, "Passphrase input" and "Secret input"):
//! never from argv; from a file named by a variable, from stdin when asked, or from a
//! hidden prompt on the controlling terminal (`rpassword` reads `/dev/tty`).

use std::io::{BufRead, Read};
use std::path::Path;

use amanat::crypto::SecretString;
use zeroize::Zeroizing;

use super::exit::{Exit, Failure, fail};

/// Variable naming a file whose first line is the passphrase.
pub const PASSPHRASE_FILE_VAR: &str = "AMANAT_PASSPHRASE_FILE";
/// Variable naming a file whose first line is the new passphrase (`identity passwd`).
pub const NEW_PASSPHRASE_FILE_VAR: &str = "AMANAT_NEW_PASSPHRASE_FILE";
/// Ceiling on a secret read from stdin or a file.
const MAX_SECRET_LEN: u64 = 64 * 1024;

/// Whether a controlling terminal can be opened for prompts.
pub fn has_tty() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .is_ok()
}

/// Where a passphrase came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The file named by a variable (scripts, CI).
    File,
    /// Typed at the hidden prompt on the terminal.
    Prompt,
}

/// How many times the terminal prompt asks for an existing identity's passphrase.
pub const PROMPT_TRIES: u32 = 3;

/// The first line of a file, trailing newline stripped. A file that group or others
/// may read is refused (the passphrase would not be secret), with the fix.
fn first_line_of(path: &Path, var: &str) -> anyhow::Result<SecretString> {
    use std::os::unix::fs::MetadataExt as _;
    let file = std::fs::File::open(path).map_err(|e| {
        Failure::new(
            Exit::Passphrase,
            format!("cannot read {var} file {}: {e}", path.display()),
            format!("point {var} at a readable file whose first line is the passphrase"),
        )
    })?;
    // The opened file's mode (not the path's: no race with a rename).
    let mode = file.metadata().map(|m| m.mode()).unwrap_or(0);
    if mode & 0o077 != 0 {
        return fail(
            Exit::Passphrase,
            format!(
                "{var} file {} is readable by group or others (mode {:04o})",
                path.display(),
                mode & 0o7777
            ),
            format!(
                "make it private: chmod 600 {} (and consider a new passphrase if others could read it)",
                path.display()
            ),
        );
    }
    let mut line = Zeroizing::new(String::new());
    std::io::BufReader::new(file.take(MAX_SECRET_LEN))
        .read_line(&mut line)
        .map_err(|e| {
            Failure::new(
                Exit::Passphrase,
                format!("cannot read {var} file: {e}"),
                "check the file",
            )
        })?;
    Ok(SecretString::new(strip_newline(&line).to_string()))
}

fn strip_newline(s: &str) -> &str {
    let s = s.strip_suffix('\n').unwrap_or(s);
    s.strip_suffix('\r').unwrap_or(s)
}

fn prompt(label: &str) -> anyhow::Result<SecretString> {
    let value = rpassword::prompt_password(label).map_err(|e| {
        Failure::new(
            Exit::Passphrase,
            format!("cannot read from the terminal: {e}"),
            "run it on a terminal, or set AMANAT_PASSPHRASE_FILE",
        )
    })?;
    Ok(SecretString::new(value))
}

/// The passphrase of an existing identity (one try; see [`passphrase_checked`]).
pub fn passphrase(identity_name: &str) -> anyhow::Result<SecretString> {
    passphrase_from(identity_name).map(|(p, _)| p)
}

/// The passphrase of an existing identity and where it came from.
pub fn passphrase_from(identity_name: &str) -> anyhow::Result<(SecretString, Source)> {
    amanat::harden::lock_all_memory();
    if let Some(path) = std::env::var_os(PASSPHRASE_FILE_VAR).filter(|v| !v.is_empty()) {
        return first_line_of(Path::new(&path), PASSPHRASE_FILE_VAR).map(|p| (p, Source::File));
    }
    if has_tty() {
        return prompt(&format!(
            "passphrase for {}: ",
            super::output::sanitize(identity_name)
        ))
        .map(|p| (p, Source::Prompt));
    }
    fail(
        Exit::Passphrase,
        "no passphrase available: no terminal to prompt on and AMANAT_PASSPHRASE_FILE is not set",
        "run on a terminal, or set AMANAT_PASSPHRASE_FILE to a file holding the passphrase",
    )
}

/// The passphrase of an existing identity, checked with `check`: a wrong one typed at
/// the prompt (`check` answers `Ok(None)`) is asked for again, [`PROMPT_TRIES`] times in
/// all; from the file, or after the last try, `wrong()` is the error.
pub fn passphrase_checked<T>(
    identity_name: &str,
    mut check: impl FnMut(&SecretString) -> anyhow::Result<Option<T>>,
    wrong: impl Fn() -> anyhow::Error,
) -> anyhow::Result<(T, SecretString, Source)> {
    for attempt in 1..=PROMPT_TRIES {
        let (pass, source) = passphrase_from(identity_name)?;
        if let Some(value) = check(&pass)? {
            return Ok((value, pass, source));
        }
        if source == Source::File || attempt == PROMPT_TRIES {
            break;
        }
        eprintln!("wrong passphrase, try again");
    }
    Err(wrong())
}

/// A new passphrase: from the variable's file, or asked twice on the terminal.
pub fn new_passphrase(var: &str) -> anyhow::Result<SecretString> {
    amanat::harden::lock_all_memory();
    let value = if let Some(path) = std::env::var_os(var).filter(|v| !v.is_empty()) {
        first_line_of(Path::new(&path), var)?
    } else if has_tty() {
        twice("new passphrase: ", "repeat passphrase: ", Exit::Passphrase)?
    } else {
        return fail(
            Exit::Passphrase,
            "no passphrase available: no terminal to prompt on",
            format!("run on a terminal, or set {var} to a file holding the new passphrase"),
        );
    };
    if value.is_empty() {
        return fail(
            Exit::Passphrase,
            "the passphrase is empty",
            "choose a passphrase (try 'amanat gen --words 6')",
        );
    }
    Ok(value)
}

/// A secret asked twice on the terminal (they must match).
pub fn twice(first: &str, second: &str, exit: Exit) -> anyhow::Result<SecretString> {
    amanat::harden::lock_all_memory();
    let a = prompt(first)?;
    let b = prompt(second)?;
    if a != b {
        return fail(exit, "the two entries differ", "try again");
    }
    Ok(a)
}

/// The password of a file being imported (a `.kdbx`): from the file named by
/// `AMANAT_IMPORT_PASSPHRASE_FILE` (private, like `AMANAT_PASSPHRASE_FILE`), else asked
/// on the terminal; never from argv.
pub fn import_password(what: &str) -> anyhow::Result<SecretString> {
    const VAR: &str = "AMANAT_IMPORT_PASSPHRASE_FILE";
    amanat::harden::lock_all_memory();
    if let Some(path) = std::env::var_os(VAR).filter(|v| !v.is_empty()) {
        return first_line_of(Path::new(&path), VAR);
    }
    if has_tty() {
        return prompt(&format!("password for {}: ", super::output::sanitize(what)));
    }
    fail(
        Exit::Passphrase,
        format!(
            "no password for {}: no terminal to prompt on",
            super::output::sanitize(what)
        ),
        "run on a terminal, or set AMANAT_IMPORT_PASSPHRASE_FILE to a file (mode 0600) holding it",
    )
}

/// One secret asked once on the terminal, or a usage error if there is none.
pub fn prompt_secret(label: &str, flag: &str) -> anyhow::Result<SecretString> {
    amanat::harden::lock_all_memory();
    if !has_tty() {
        return fail(
            Exit::Usage,
            format!("{flag} needs a terminal to prompt on"),
            "run it on a terminal",
        );
    }
    prompt(label)
}

/// One line of stdin, trailing newline stripped.
pub fn stdin_line(flag: &str) -> anyhow::Result<SecretString> {
    amanat::harden::lock_all_memory();
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .take(MAX_SECRET_LEN)
        .read_line(&mut line)
        .map_err(|e| {
            Failure::new(
                Exit::Other,
                format!("cannot read {flag} from stdin: {e}"),
                "pipe the value in",
            )
        })?;
    if line.is_empty() {
        return fail(
            Exit::Usage,
            format!("{flag}: stdin is empty"),
            "pipe one line: printf 'S3cret\\n' | amanat …",
        );
    }
    Ok(SecretString::new(strip_newline(&line).to_string()))
}
