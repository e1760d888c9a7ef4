//! Vault benchmarks on a 10,000-entry vault (docs/performance.md has the results).
//!
//! `cargo bench --bench vault`. The vault is built in-process by the generator in
//! `examples/make_big_vault.rs` (included below as a module). The identity is unlocked
//! once, outside every timed loop, so no KDF is measured here.
//!
//! `AMANAT_BENCH_CLOCK=cpu cargo bench --bench vault` measures the benchmark thread's
//! CPU time (from `/proc/thread-self/schedstat`, which the kernel updates at least every
//! scheduler tick) instead of wall time: on a shared 2-core machine wall time also
//! counts the time other processes hold the CPU. Its groups are suffixed `_cpu`.
//! Code that fans out to other threads (listing and finding on a large vault) would
//! look cheaper by that clock than it is: `AMANAT_BENCH_CLOCK=process` measures the CPU
//! time of the whole process, every thread included (from `/proc/self/stat`, in clock
//! ticks of 10 ms, so only long samples are meaningful); its groups are suffixed
//! `_process`.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BatchSize, Criterion};

use amanat::format::{EntryId, VaultFile};
use amanat::vault::Vault;

#[allow(dead_code)]
#[path = "../examples/make_big_vault.rs"]
mod big;

const ENTRIES: usize = 10_000;

struct Fixture {
    big: big::Big,
    bytes: Vec<u8>,
    /// An entry in the middle of the id order.
    id: EntryId,
    /// Its path.
    path: String,
}

fn fixture() -> Fixture {
    let t = Instant::now();
    let big = big::build(ENTRIES, false);
    let bytes = big.vault.encode();
    let list = big.vault.session(&big.identity).unwrap().list().unwrap();
    let path = big::entry_path(ENTRIES / 2);
    let id = list.iter().find(|e| e.payload.path == path).unwrap().id;
    eprintln!(
        "fixture: {ENTRIES} entries, {} bytes, built in {:.2} s",
        bytes.len(),
        t.elapsed().as_secs_f64()
    );
    Fixture {
        big,
        bytes,
        id,
        path,
    }
}

/// CPU time of the calling thread, in nanoseconds.
#[derive(Debug)]
struct ThreadCpuTime;

fn thread_cpu_ns() -> u64 {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    text.split_whitespace().next().unwrap().parse().unwrap()
}

/// CPU time of the whole process (user + system, every thread), in nanoseconds.
#[derive(Debug)]
struct ProcessCpuTime;

fn process_cpu_ns() -> u64 {
    let text = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = &text[text.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // USER_HZ is 100 on every Linux architecture this runs on.
    ticks * 10_000_000
}

static WALL: WallTime = WallTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        // Nanoseconds, like wall time.
        WALL.formatter()
    }
}

impl Measurement for ProcessCpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        process_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        process_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args()
}

fn main() {
    let f = fixture();
    let clock = std::env::var("AMANAT_BENCH_CLOCK");
    if clock.as_deref() == Ok("cpu") {
        let mut c = config().with_measurement(ThreadCpuTime);
        benches(&mut c, &f, "_cpu");
        c.final_summary();
    } else if clock.as_deref() == Ok("process") {
        let mut c = config().with_measurement(ProcessCpuTime);
        benches(&mut c, &f, "_process");
        c.final_summary();
    } else {
        let mut c = config();
        benches(&mut c, &f, "");
        c.final_summary();
    }
}

fn benches<M: Measurement>(c: &mut Criterion<M>, f: &Fixture, suffix: &str) {
    let identity = &f.big.identity;

    // (a) decode: structure only; structure + resolution with every record pinned (what
    // a command does on a machine that verified the vault before); and with every
    // signature checked (first use, `verify`).
    let mut g = c.benchmark_group(format!("decode_10k{suffix}"));
    g.bench_function("format_VaultFile_decode", |b| {
        b.iter_with_large_drop(|| VaultFile::decode(black_box(&f.bytes)).unwrap())
    });
    let heads = Vault::decode(&f.bytes).unwrap().heads();
    g.bench_function("Vault_decode_pinned", |b| {
        b.iter_with_large_drop(|| {
            Vault::decode_trusting(black_box(&f.bytes), black_box(&heads), &[]).unwrap()
        })
    });
    g.bench_function("Vault_decode", |b| {
        b.iter_with_large_drop(|| Vault::decode(black_box(&f.bytes)).unwrap())
    });
    // What the decoded vault costs to free (part of every CLI run, outside the target).
    g.bench_function("drop_Vault", |b| {
        b.iter_batched(
            || Vault::decode(&f.bytes).unwrap(),
            drop,
            BatchSize::PerIteration,
        )
    });
    g.finish();

    let vault = Vault::decode(&f.bytes).unwrap();

    // (b) open one entry by id: fresh session (unwraps the @admins key) and warm session.
    let mut g = c.benchmark_group(format!("open_id_10k{suffix}"));
    g.bench_function("cold_session", |b| {
        b.iter(|| {
            let s = vault.session(identity).unwrap();
            s.open_id(black_box(&f.id)).unwrap()
        })
    });
    let warm = vault.session(identity).unwrap();
    warm.open_id(&f.id).unwrap();
    g.bench_function("warm_session", |b| {
        b.iter(|| warm.open_id(black_box(&f.id)).unwrap())
    });
    g.finish();

    // (c) find one path among 10k: `open(path)` lists and decrypts every readable entry.
    let mut g = c.benchmark_group(format!("find_path_10k{suffix}"));
    g.bench_function("open_path_warm", |b| {
        b.iter_with_large_drop(|| warm.open(black_box(&f.path)).unwrap())
    });
    g.bench_function("list_warm", |b| {
        b.iter_with_large_drop(|| warm.list().unwrap())
    });
    g.finish();

    // (d) one add on the 10k vault: create_entry (lists to check the path), append
    // (sign, canonical order, full replay), encode.
    let draft = || big::draft(ENTRIES + 1, 1_700_000_000);
    let mut g = c.benchmark_group(format!("add_10k{suffix}"));
    g.bench_function("create_entry", |b| {
        b.iter(|| warm.create_entry(&draft()).unwrap())
    });
    let body = warm.create_entry(&draft()).unwrap();
    g.bench_function("append_one", |b| {
        b.iter_batched(
            || (vault.clone(), body.clone()),
            |(mut v, body)| {
                v.append(identity, vec![body]).unwrap();
                v
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("create_entry_append_encode", |b| {
        b.iter_batched(
            || vault.clone(),
            |mut v| {
                let body = v.session(identity).unwrap().create_entry(&draft()).unwrap();
                v.append(identity, vec![body]).unwrap();
                let bytes = v.encode();
                (v, bytes)
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("encode", |b| b.iter(|| black_box(&vault).encode()));
    g.finish();
}
