//! Segments (docs/format.md, "Segments"): `Segment::decode` on arbitrary bytes split into
//! up to four segments, then the union of those that decode, resolved. Whatever the
//! bytes, nothing may panic, and the union — and the state resolved from it — must not
//! depend on the order the segments are read in (a directory lists them in any order).
//!
//! Input: one byte `n` (segments: `n % 4 + 1`), then `n % 4` chunks each prefixed by a
//! little-endian `u16` length, then the last chunk (the rest).
#![no_main]

use amanat::format::segment::{Segment, union};
use amanat::vault::Vault;
use libfuzzer_sys::fuzz_target;

fn split(data: &[u8]) -> Vec<&[u8]> {
    let Some((&n, mut rest)) = data.split_first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for _ in 0..n % 4 {
        if rest.len() < 2 {
            break;
        }
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        out.push(&rest[2..2 + len]);
        rest = &rest[2 + len..];
    }
    out.push(rest);
    out
}

fuzz_target!(|data: &[u8]| {
    let segments: Vec<Segment> = split(data)
        .into_iter()
        .filter_map(|chunk| Segment::decode(chunk).ok())
        .collect();
    // Encoding what was decoded gives back a segment with the same records.
    for s in &segments {
        let again = Segment::decode(&Segment::encode(&s.vault_id(), s.records()))
            .expect("a decoded segment re-encodes");
        assert_eq!(again.records().len(), s.records().len());
    }
    let Some(id) = segments
        .iter()
        .find(|s| s.has_genesis())
        .map(Segment::vault_id)
    else {
        return;
    };
    let mut reversed = segments.clone();
    reversed.reverse();
    match (union(id, segments), union(id, reversed)) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.file.encode(), b.file.encode(), "union depends on order");
            assert_eq!(a.held_back, b.held_back, "held back depends on order");
            let da = Vault::resolution_digest(a.file.records());
            let db = Vault::resolution_digest(b.file.records());
            assert_eq!(da.is_ok(), db.is_ok());
            if let (Ok(da), Ok(db)) = (da, db) {
                assert_eq!(da, db, "state depends on segment order");
            }
        }
        (Err(x), Err(y)) => assert_eq!(x, y),
        _ => panic!("one order decodes, the other does not"),
    }
});
