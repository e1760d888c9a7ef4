//! Exit codes (CLI.md, "Exit codes") and the one place errors are mapped to them.

use std::fmt;

use amanat::crypto::CryptoError;
pub use amanat::errors::Exit;
use amanat::errors::{
    classify_crypto, classify_format, classify_identity, classify_store, classify_vault,
};
use amanat::format::FormatError;
use amanat::identity::IdentityError;
use amanat::store::StoreError;
use amanat::vault::VaultError;

/// An error raised by the CLI itself, with its exit code and a hint line.
#[derive(Debug)]
pub struct Failure {
    /// Exit code.
    pub exit: Exit,
    /// The error line (lowercase, no trailing period, never a secret).
    pub message: String,
    /// The next step.
    pub hint: Option<String>,
}

impl Failure {
    /// A failure with a hint.
    pub fn new(exit: Exit, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
            hint: Some(hint.into()),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Exit with a code outside CLI.md's table: `run` returns its child's status, and
/// 125/126/127 when it fails before the child starts (as `env` does). The message,
/// if any, is printed like other errors.
#[derive(Debug)]
pub struct ExitWith {
    /// The exit code.
    pub code: u8,
    /// Error line and hint, or `None` to exit silently (the child's own status).
    pub message: Option<(String, Option<String>)>,
}

impl fmt::Display for ExitWith {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some((m, _)) => f.write_str(m),
            None => write!(f, "exit status {}", self.code),
        }
    }
}

impl std::error::Error for ExitWith {}

/// Shorthand for returning a [`Failure`].
pub fn fail<T>(
    exit: Exit,
    message: impl Into<String>,
    hint: impl Into<String>,
) -> anyhow::Result<T> {
    Err(Failure::new(exit, message, hint).into())
}

/// Map any error to `(exit code, message, hint)`.
pub fn classify(err: &anyhow::Error) -> (Exit, String, Option<String>) {
    if let Some(f) = err.downcast_ref::<Failure>() {
        return (f.exit, f.message.clone(), f.hint.clone());
    }
    let message = err.to_string();
    if let Some(e) = err.downcast_ref::<StoreError>() {
        let (exit, hint) = classify_store(e);
        return (exit, message, hint);
    }
    if let Some(e) = err.downcast_ref::<VaultError>() {
        let (exit, hint) = classify_vault(e);
        return (exit, message, hint);
    }
    if let Some(e) = err.downcast_ref::<IdentityError>() {
        let (exit, hint) = classify_identity(e);
        return (exit, message, hint);
    }
    if let Some(e) = err.downcast_ref::<FormatError>() {
        let (exit, hint) = classify_format(e);
        return (exit, message, hint);
    }
    if let Some(e) = err.downcast_ref::<CryptoError>() {
        let (exit, hint) = classify_crypto(e);
        return (exit, message, hint);
    }
    (Exit::Other, message, None)
}
