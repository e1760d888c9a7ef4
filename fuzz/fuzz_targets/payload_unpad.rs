//! `EntryPayload::from_padded` on arbitrary (already decrypted) bytes: it must never
//! panic, and what it accepts must round-trip through `to_padded` byte for byte.
#![no_main]

use amanat::format::EntryPayload;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(payload) = EntryPayload::from_padded(data) {
        let again = payload.to_padded().expect("an accepted payload re-pads");
        assert_eq!(
            again.as_slice(),
            data,
            "from_padded accepted a non-canonical payload"
        );
    }
});
