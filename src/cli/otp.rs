//! `amanat otp`: the current TOTP code of an entry (RFC 6238, computed by
//! `amanat::totp` from the stored `otpauth://` URI).
//!
//! The code is printed even on a terminal: it is valid for one period (usually 30 s)
//! and is typed by hand, unlike the passwords `get` refuses to show. `--clip` hands it
//! to `clip`'s delivery ([`super::clip::deliver`]): display clipboard or OSC 52,
//! cleared after `--clear-after` seconds if unchanged.

use clap::Args;

use amanat::totp::Generator;

use amanat::clipboard::Route;

use super::exit::{Exit, fail};
use super::identity::unlock;
use super::input::has_tty;
use super::output::{sanitize, stdout_is_tty};
use super::paths::Paths;
use super::vault::load;

/// `otp` arguments.
#[derive(Debug, Args)]
pub struct OtpArgs {
    /// Entry path
    pub path: String,
    /// Put the code on the clipboard instead of printing it
    #[arg(long)]
    pub clip: bool,
    /// With --clip: clear the clipboard after this many seconds (if unchanged)
    #[arg(
        long,
        value_name = "SECS",
        env = "AMANAT_CLIP_TIME",
        default_value_t = 45,
        value_parser = clap::value_parser!(u64).range(1..=MAX_CLEAR_AFTER)
    )]
    pub clear_after: u64,
}

/// Longest `--clear-after` (a day, as for `clip`).
const MAX_CLEAR_AFTER: u64 = 86_400;

/// Seconds since the epoch, or a failure for a clock set before 1970 (no code would
/// be right).
fn now() -> anyhow::Result<u64> {
    match amanat::vault::system_now() {
        Some(t) => Ok(t),
        None => fail(
            Exit::Other,
            "the system clock is set before 1970: no TOTP code can be right",
            "set the clock (TOTP codes depend on the time)",
        ),
    }
}

/// `otp`.
pub fn otp(paths: &Paths, args: OtpArgs) -> anyhow::Result<()> {
    // With nowhere to copy to, refuse before the passphrase is asked for.
    if args.clip
        && Route::choose(
            std::env::var_os("WAYLAND_DISPLAY").as_deref(),
            std::env::var_os("DISPLAY").as_deref(),
            has_tty(),
        ) == Route::None
    {
        return fail(
            Exit::Other,
            "no clipboard: no display (WAYLAND_DISPLAY and DISPLAY are unset) and no terminal for OSC 52",
            format!(
                "print the code with 'amanat otp {}' (it is valid for one period only)",
                sanitize(&args.path)
            ),
        );
    }
    // An unlocked agent answers without the passphrase.
    let (entry, vault_id) = match super::agent::entry(paths, &args.path)? {
        Some((_, entry, vault_id)) => (entry, vault_id),
        None => {
            let vault = load(paths)?;
            let identity = unlock(paths)?;
            let entry = vault.session(&identity)?.open(&args.path)?;
            super::entry::warn_shadowed(&vault, &entry);
            (entry, Some(vault.id()))
        }
    };
    if let Some(w) = entry.conflict_warning("using") {
        eprintln!("warning: {}", sanitize(&w));
    }
    let Some(uri) = &entry.payload.totp else {
        return fail(
            Exit::NotFound,
            format!("'{}' has no TOTP seed", sanitize(&args.path)),
            format!(
                "add one with 'amanat edit {} --totp' (or --totp-stdin)",
                sanitize(&args.path)
            ),
        );
    };
    let generator = match Generator::from_uri(uri.expose()) {
        Ok(g) => g,
        Err(e) => {
            return fail(
                Exit::Other,
                format!(
                    "the TOTP URI stored in '{}' is invalid: {e}",
                    sanitize(&args.path)
                ),
                format!(
                    "replace it with 'amanat edit {} --totp'",
                    sanitize(&args.path)
                ),
            );
        }
    };
    let time = now()?;
    let code = generator.code_at(time);
    if args.clip {
        let what = format!("TOTP code of {}", sanitize(&args.path));
        super::clip::deliver(code.expose().as_bytes(), &what, args.clear_after)?;
    } else {
        outln!("{}", code.expose());
        if stdout_is_tty() {
            eprintln!("valid for {} more s", generator.seconds_left(time));
        }
    }
    super::uselog::record(paths, vault_id, &[entry.id]);
    Ok(())
}
