//! Structure-aware companion of `vault_decode`: the fuzzer cannot forge Ed25519, so in
//! `vault_decode` any mutated roster record stops at its signature check. Here every
//! record written by one of the fixed test identities (`amanat_fuzz::fixed_identity`,
//! which the committed vault seeds use) is re-signed before the replay, so mutations
//! reach the authority rule, the roster replay, `verify`, and — through a member's
//! session — the unwrapping, decryption and unpadding of every entry.
#![no_main]

use amanat::format::VaultFile;
use amanat::vault::Vault;
use amanat_fuzz::{NAMES, fixed_identity, resign};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut file) = VaultFile::decode(data) else {
        return;
    };
    let bytes = resign(&mut file);
    let Ok(vault) = Vault::decode(&bytes) else {
        return;
    };
    let _ = vault.verify();
    for n in 0..NAMES.len() as u8 {
        let identity = fixed_identity(n);
        let Ok(session) = vault.session(&identity) else {
            continue;
        };
        let Ok(entries) = session.list() else {
            continue;
        };
        for entry in entries {
            if let Ok(opened) = session.open_id(&entry.id) {
                let _ = session.may_write(&opened);
                let _ = session.shared_with(&opened);
            }
        }
    }
});
