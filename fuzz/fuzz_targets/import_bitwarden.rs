//! `import::bitwarden::parse` on arbitrary bytes (`amanat import bitwarden FILE`): never
//! panics, and every entry it returns has a path that normalises to a valid one.
#![no_main]

use amanat::import::{bitwarden, normalize_path};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = bitwarden::parse(data) {
        for e in entries {
            assert!(amanat::format::check_path(&normalize_path(&e.path)).is_ok());
            assert!(e.payload.fields.len() <= amanat::format::MAX_FIELDS);
        }
    }
});
