//! `evidence::SignedManifest::parse` on arbitrary bytes (an evidence pack's `MANIFEST`,
//! read by `amanat report verify-evidence`): never panics, and an accepted manifest is
//! the canonical text of what it parses to — its body re-encodes to the signed bytes,
//! followed by exactly one signature line.
#![no_main]

use amanat::evidence::{MAX_FILES, MAX_HEADS, SignedManifest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = SignedManifest::parse(data) else {
        return;
    };
    let m = parsed.manifest();
    assert!((1..=MAX_HEADS).contains(&m.heads.len()));
    assert!(m.files.len() <= MAX_FILES);
    let body = m.body().expect("an accepted manifest encodes");
    assert_eq!(body.as_bytes(), parsed.signed_bytes());
    let sig: String = parsed
        .signature()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(format!("{body}signature {sig}\n").as_bytes(), data);
});
