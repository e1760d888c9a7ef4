//! `VaultFile::decode` on arbitrary bytes; when the structure is accepted, the full
//! replay (`Vault::decode`, which checks roster signatures and the authority rule) and
//! `Vault::verify` (every signature). Neither may panic, whatever the bytes.
#![no_main]

use amanat::format::VaultFile;
use amanat::vault::Vault;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = VaultFile::decode(data) else {
        return;
    };
    // What was accepted must be exactly what was read: encode is the inverse of decode.
    assert_eq!(file.encode(), data, "decode accepted a non-canonical file");
    if let Ok(vault) = Vault::decode(data) {
        let _ = vault.verify();
        let _ = vault.heads();
        let _ = vault.entry_count();
    }
});
