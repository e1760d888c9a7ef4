//! `parse_public_key_text` on arbitrary strings: never panics, and what it accepts
//! round-trips through `public_key_text`.
#![no_main]

use amanat::identity::{parse_public_key_text, public_key_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(keys) = parse_public_key_text(text) {
        let again = public_key_text(&keys);
        assert_eq!(parse_public_key_text(&again), Ok(keys));
        // bech32 is case-insensitive (but not mixed-case); the canonical form is lowercase.
        assert_eq!(again, text.trim().to_ascii_lowercase());
    }
});
