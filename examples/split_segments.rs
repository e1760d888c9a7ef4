//! Split a vault directory's records into N segments (contiguous runs of the
//! canonical order), for the benchmark that compares reading many segments with one
//! pack (`scripts/bench-sync.sh`).
//!
//! Usage: `cargo run --release --example split_segments -- DIR N` (DIR is rewritten).

#![allow(clippy::unwrap_used)]

use amanat::format::segment::{Segment, union};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(n)) = (args.next(), args.next()) else {
        eprintln!("usage: split_segments DIR N");
        std::process::exit(2);
    };
    let dir = std::path::PathBuf::from(dir);
    let n: usize = n.parse().unwrap();
    let set = amanat::store::read_segments(&dir).unwrap();
    let names: Vec<String> = set.segments.iter().map(|(n, _)| n.clone()).collect();
    let segments: Vec<Segment> = set.segments.into_iter().map(|(_, s)| s).collect();
    let id = segments
        .iter()
        .find(|s| s.has_genesis())
        .unwrap()
        .vault_id();
    let u = union(id, segments).unwrap();
    let records = u.file.records();
    let per = records.len().div_ceil(n);
    for name in names {
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    for chunk in records.chunks(per) {
        amanat::store::write_segment(&dir, &Segment::encode(&id, chunk)).unwrap();
    }
    eprintln!(
        "{}: {} records in {} segments",
        dir.display(),
        records.len(),
        records.chunks(per).count()
    );
}
