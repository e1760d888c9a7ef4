//! amanat: an encrypted team password manager — the core library.
//!
//! The core never prints, prompts or exits; the binary (`src/main.rs`, `src/cli/`) does.
//! Dependencies point one way: `vault`/`store` → `format`/`identity` → `crypto`.

pub mod agent;
pub mod audit;
pub mod clipboard;
pub mod crypto;
pub mod dag;
pub mod duration;
pub mod errors;
pub mod evidence;
#[cfg(feature = "forge")]
#[doc(hidden)]
pub mod forge;
pub mod format;
pub mod gitcred;
pub mod harden;
pub mod identity;
pub mod import;
pub mod invite;
pub mod mask;
pub mod otpauth;
pub mod passgen;
pub mod review;
pub mod store;
pub mod sync;
pub mod text_code;
pub mod totp;
pub mod uselog;
pub mod vault;
