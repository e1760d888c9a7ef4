//! `import::pass::parse_entry` on arbitrary text (a decrypted pass entry): never
//! panics; the password is the first line, and nothing is lost except blank lines,
//! `---` separators and the line ends.
#![no_main]

use amanat::import::pass;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let e = pass::parse_entry("fuzz/entry", text);
    let first = text.split('\n').next().unwrap_or("");
    assert_eq!(
        e.payload.password.expose(),
        first.strip_suffix('\r').unwrap_or(first)
    );
});
