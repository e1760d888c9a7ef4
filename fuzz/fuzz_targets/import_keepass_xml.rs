//! `import::keepass_xml::parse` on arbitrary text (`amanat import keepass-xml FILE`):
//! never panics, and every entry's path normalises to a valid one.
#![no_main]

use amanat::import::{keepass_xml, normalize_path};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(entries) = keepass_xml::parse(text) {
        for e in entries {
            assert!(amanat::format::check_path(&normalize_path(&e.path)).is_ok());
        }
    }
});
