//! `otpauth::parse` on arbitrary strings: never panics, and an accepted URI has
//! parameters in the documented ranges.
#![no_main]

use amanat::otpauth::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(uri) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = parse(uri) {
        assert!((6..=8).contains(&config.digits));
        assert!((1..=300).contains(&config.period));
    }
});
