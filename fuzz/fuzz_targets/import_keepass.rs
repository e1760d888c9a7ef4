//! `import::keepass::parse` on arbitrary bytes (`amanat import keepass FILE`) with a
//! fixed password and a tiny KDF limit: never panics out of `parse` (the crate's own
//! panics are caught there); a header asking for more than the limit is refused before
//! any key derivation (so no input costs more than it).
#![no_main]

use amanat::import::keepass::{Limits, check_kdf, parse};
use libfuzzer_sys::fuzz_target;

const TINY: Limits = Limits {
    argon2_memory: 1 << 20,
    argon2_iterations: 2,
    aes_rounds: 1_000,
};

fuzz_target!(|data: &[u8]| {
    // libfuzzer-sys aborts on any panic from its hook, even one `parse` catches (the
    // keepass crate panics on some malformed headers; `parse` turns that into an
    // error). A quiet hook instead: a panic that escapes still fails the run, since
    // libfuzzer-sys catches what unwinds out of this closure and aborts.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let refused = check_kdf(data, &TINY).is_err();
    let parsed = parse(data, "kdbx-pw", &TINY);
    if refused {
        assert!(parsed.is_err());
    }
});
