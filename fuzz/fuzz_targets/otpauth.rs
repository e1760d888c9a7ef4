//! `otpauth::parse_secret` on arbitrary strings, and when it accepts, the TOTP generator
//! built from it (`totp::Generator`, which calls totp-rs's `build_noncompliant`, a
//! function that panics on parameters it does not like): never panics, accepted digits
//! are 6–8 and the period 1–300 s, and every code is exactly `digits` ASCII digits.
#![no_main]

use amanat::otpauth::{parse, parse_secret};
use amanat::totp::Generator;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(uri) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((config, secret)) = parse_secret(uri) else {
        assert!(parse(uri).is_err());
        return;
    };
    assert_eq!(parse(uri).as_ref(), Ok(&config));
    assert!((6..=8).contains(&config.digits));
    assert!((1..=300).contains(&config.period));
    let generator = Generator::new(config.clone(), &secret).expect("a parsed URI builds");
    for t in [0, 59, 1_111_111_109, 20_000_000_000, u64::MAX] {
        let code = generator.code_at(t);
        assert_eq!(code.expose().len(), config.digits as usize);
        assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
        let left = generator.seconds_left(t);
        assert!((1..=config.period).contains(&left));
    }
});
