//! `decode_record` on arbitrary bytes: it must never panic, and what it accepts must be
//! canonical (re-encoding gives the same bytes).
#![no_main]

use amanat::format::{StoredRecord, decode_record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = decode_record(data) {
        let (bytes, _) = StoredRecord::encode(record).expect("an accepted record re-encodes");
        assert_eq!(bytes, data, "decode_record accepted a non-canonical record");
    }
});
