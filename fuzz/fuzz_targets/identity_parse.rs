//! `identity::inspect` and `Identity::unlock` on arbitrary identity-file bytes.
//!
//! Cost cap: `unlock` runs Argon2id with the parameters in the file, and the file's
//! ceiling (4 GiB, t = 20, p = 16) is what an attacker-supplied identity file may demand
//! — seconds to minutes and gigabytes per input. That is allowed by design (the
//! parameters are authenticated only after the KDF ran), but it would turn every such
//! input into a libFuzzer timeout or OOM. So inputs whose `inspect` reports more than
//! 1 MiB or more than 2 passes are skipped for `unlock`; the ceiling itself is checked
//! before allocating, which the unit tests cover.
#![no_main]

use amanat::crypto::SecretString;
use amanat::identity::{Identity, inspect};
use amanat_fuzz::PASSPHRASE;
use libfuzzer_sys::fuzz_target;

const MAX_MEMORY_KIB: u32 = 1024;
const MAX_TIME: u32 = 2;

fuzz_target!(|data: &[u8]| {
    let info = match inspect(data) {
        Ok(info) => info,
        Err(_) => {
            // `unlock` parses first, so it must refuse what `inspect` refused.
            let pass = SecretString::new(PASSPHRASE.into());
            assert!(Identity::unlock(data, &pass).is_err());
            return;
        }
    };
    if info.kdf.memory_kib > MAX_MEMORY_KIB || info.kdf.time > MAX_TIME {
        return;
    }
    let pass = SecretString::new(PASSPHRASE.into());
    if let Ok(id) = Identity::unlock(data, &pass) {
        assert_eq!(id.keys, info.keys);
        assert_eq!(id.name, info.name);
        assert_eq!(id.kdf, info.kdf);
    }
});
