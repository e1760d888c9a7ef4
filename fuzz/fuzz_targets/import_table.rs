//! The CSV reader and the CSV formats (`amanat import chrome|firefox|1password|
//! bitwarden-csv|csv FILE`) on arbitrary text: never panic; what the CSV reader
//! accepts, written back with `csv::write_record`, reads the same.
#![no_main]

use amanat::import::{csv, table};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(records) = csv::parse(text) {
        let again: String = records
            .iter()
            .map(|r| csv::write_record(&r.iter().map(String::as_str).collect::<Vec<_>>()) + "\n")
            .collect();
        // An empty line is no record: a record of one empty field does not come back.
        if records.iter().all(|r| r.len() > 1 || !r[0].is_empty()) {
            assert_eq!(csv::parse(&again).ok(), Some(records));
        }
    }
    for format in [
        table::Format::Chrome,
        table::Format::Firefox,
        table::Format::OnePassword,
        table::Format::Bitwarden,
    ] {
        let _ = table::read(text, &format.columns());
    }
});
