//! Build a team vault and time revoking one member in memory
//! (docs/performance-revocation.md; `scripts/bench-revoke.sh` runs it).
//!
//! ```text
//! cargo run --release --example make_team_vault -- \
//!     --entries 10000 --members 50 --groups 5 --group-size 10 \
//!     --target-share 0.5 --direct 0.05 [--direct-others 1] [--admins 1] [--bob-admin] \
//!     [--bob-groups 1] [--repeat 3] [--out DIR] [--label NAME]
//! ```
//!
//! The shape:
//! - `--members M` members in all: `alice` (the owner), `bob` (the member revoked) and
//!   `m002`…; the first `--admins A` of them counting alice (bob skipped) are admins,
//!   and `--bob-admin` makes bob one too (he then reads everything through `@admins`).
//! - `--groups G` groups `g00`… of `--group-size S` members each. bob is in the first
//!   `--bob-groups` of them; the other seats are filled round-robin from the other
//!   members (alice and every admin hold every group key anyway).
//! - `--entries N` entries: `target-share × N` of them are readable by bob, of which
//!   `direct × N` are shared with him directly (each also shared directly with
//!   `--direct-others` other members, so the re-key has HPKE wraps to redo) and the rest
//!   with one of his groups; every other entry is shared with one of the groups he is
//!   not in (round-robin), or with `@admins` only if there is none.
//!
//! Members' identities come from `Identity::generate`; alice's file is sealed with
//! `KdfParams::INSECURE_TEST`: the KDF is excluded from these measurements by design.
//!
//! Generation: `Session::create_entry` lists (decrypts) every readable entry to check
//! that the path is free, so creating entries one by one on the growing vault is
//! O(N²). The paths are unique by construction, so every entry is sealed through a
//! session on a snapshot of the vault taken after the roster was built and before any
//! entry was added (same vault id, same group keys): each `create_entry` is then O(1).
//! The sealed bodies are signed and appended to the real vault 1,000 per
//! `Vault::append` (each call re-sorts and replays the whole file).
//!
//! Timing: `revoke_member(&alice, "bob", …)` on a clone of the in-memory vault,
//! `--repeat` times. `revoke_member` cannot be instrumented from outside, so its
//! phases are split by the progress callback (called after each re-keyed entry):
//! - `phase_setup`: call → first callback: `readable_by`, the `RemoveMember` append,
//!   the group-key rotations and their append, the first entry;
//! - `phase_rekey`: first → last callback: the other entries' open + seal;
//! - `phase_final`: last callback → return: signing every new record, the final append
//!   (canonical sort + replay of the whole file), sorting the list.
//!
//! Then `Vault::encode` and `store::write_atomic` (fsync) of the result. For scale, the
//! fixed cost of one `Vault::append` is measured on the revoked vault (an append of no
//! records: heads, canonical sort, replay), the canonical sort alone
//! (`VaultFile::append` of nothing), and loading it (`VaultFile::decode`,
//! `Vault::decode`).
//!
//! With `--out DIR` it writes `DIR/vault/` (a vault directory of one segment) and
//! `DIR/vault.amanat` (the same records as one file) (before the revocation),
//! `DIR/identity.amanat` (alice) and `DIR/passphrase`, for timing `amanat member rm bob`.
//! Results go to stdout as `key<TAB>value` lines; progress to stderr.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use amanat::crypto::{KdfParams, SecretString};
use amanat::format::{EntryContent, EntryPayload, KeyWrap, Principal, RecordBody, Role, VaultFile};
use amanat::identity::Identity;
use amanat::passgen::{self, CharClasses};
use amanat::vault::{EntryDraft, Vault};

/// The passphrase of the generated identity file.
const PASSPHRASE: &str = "bench-passphrase-not-secret";
/// Entries per `Vault::append` call while building (each call replays the whole vault).
const BATCH: usize = 1_000;

#[derive(Debug, Clone)]
struct Args {
    entries: usize,
    members: usize,
    groups: usize,
    group_size: usize,
    target_share: f64,
    direct: f64,
    direct_others: usize,
    admins: usize,
    bob_admin: bool,
    bob_groups: usize,
    repeat: usize,
    out: Option<PathBuf>,
    label: String,
}

const USAGE: &str = "usage: make_team_vault [--entries N] [--members M] [--groups G] \
[--group-size S] [--target-share F] [--direct F] [--direct-others K] [--admins A] \
[--bob-admin] [--bob-groups K] [--repeat R] [--out DIR] [--label NAME]";

fn parse_args() -> Args {
    let mut a = Args {
        entries: 10_000,
        members: 50,
        groups: 5,
        group_size: 10,
        target_share: 0.5,
        direct: 0.05,
        direct_others: 1,
        admins: 1,
        bob_admin: false,
        bob_groups: 1,
        repeat: 3,
        out: None,
        label: String::from("run"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--bob-admin" {
            a.bob_admin = true;
            continue;
        }
        let Some(value) = it.next() else {
            eprintln!("{flag} needs a value\n{USAGE}");
            std::process::exit(2);
        };
        let num = |v: &str| -> usize { v.parse().expect("a whole number") };
        let frac = |v: &str| -> f64 {
            let f: f64 = v.parse().expect("a fraction");
            assert!((0.0..=1.0).contains(&f), "{flag} must be in 0..=1");
            f
        };
        match flag.as_str() {
            "--entries" => a.entries = num(&value),
            "--members" => a.members = num(&value),
            "--groups" => a.groups = num(&value),
            "--group-size" => a.group_size = num(&value),
            "--target-share" => a.target_share = frac(&value),
            "--direct" => a.direct = frac(&value),
            "--direct-others" => a.direct_others = num(&value),
            "--admins" => a.admins = num(&value),
            "--bob-groups" => a.bob_groups = num(&value),
            "--repeat" => a.repeat = num(&value).max(1),
            "--out" => a.out = Some(PathBuf::from(value)),
            "--label" => a.label = value,
            _ => {
                eprintln!("unknown option {flag}\n{USAGE}");
                std::process::exit(2);
            }
        }
    }
    assert!(a.members >= 2, "need at least alice and bob");
    assert!(a.admins >= 1, "alice (the owner) is an admin");
    assert!(
        a.bob_groups <= a.groups,
        "bob cannot be in more groups than exist"
    );
    assert!(
        a.group_size <= a.members && (a.groups == a.bob_groups || a.group_size < a.members),
        "a group bob is not in holds at most every member but bob"
    );
    assert!(
        a.direct <= a.target_share,
        "direct shares are part of what bob reads"
    );
    a
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn member_name(i: usize) -> String {
    match i {
        0 => "alice".into(),
        1 => "bob".into(),
        _ => format!("m{i:03}"),
    }
}

const SERVICES: [&str; 8] = [
    "github", "aws", "datadog", "stripe", "sentry", "grafana", "postgres", "okta",
];

/// A realistic entry: path, username, URL, a random 20-character password and a note.
fn draft(i: usize, time: u64, share_with: Vec<Principal>) -> EntryDraft {
    let service = SERVICES[i % SERVICES.len()];
    let mut payload = EntryPayload::default();
    payload.path = format!("team/{service}/login-{i:05}");
    payload.username = format!("bot-{i}@example.com");
    payload.url = format!("https://{service}.example.com/login");
    payload.password = SecretString::new(
        passgen::random_password(20, CharClasses::default())
            .unwrap()
            .to_string(),
    );
    payload.notes = format!("Shared {service} login. Rotate quarterly.");
    payload.created = time;
    payload.modified = time;
    payload.password_changed = time;
    EntryDraft {
        payload,
        share_with,
    }
}

/// The built vault and what it should contain.
struct Team {
    alice: Identity,
    vault: Vault,
    /// Entries bob should be able to read.
    bob_reads: usize,
    /// Members of bob's groups (without bob), counted once.
    bob_group_peers: usize,
}

fn build(a: &Args) -> Team {
    let t_all = Instant::now();
    let alice = Identity::generate("alice").unwrap();
    let mut vault = Vault::create(&alice, "bench-team").unwrap();

    // Members. Admins: alice plus the next admins-1 members that are not bob.
    let t = Instant::now();
    let mut admins: BTreeSet<usize> = (2..a.members).take(a.admins - 1).collect();
    if a.bob_admin {
        admins.insert(1);
    }
    for i in 1..a.members {
        let id = Identity::generate(&member_name(i)).unwrap();
        let role = if admins.contains(&i) {
            Role::Admin
        } else {
            Role::Member
        };
        vault
            .add_member(&alice, &member_name(i), id.keys, role)
            .unwrap();
    }
    let t_members = ms(t);

    // Groups: bob in the first bob_groups, the other seats round-robin from everyone
    // else (alice included).
    let t = Instant::now();
    let others: Vec<usize> = (0..a.members).filter(|&i| i != 1).collect();
    let mut next = 0usize;
    let mut group_ids = Vec::with_capacity(a.groups);
    let mut bob_group_peers = BTreeSet::new();
    for g in 0..a.groups {
        let mut seats: BTreeSet<usize> = BTreeSet::new();
        if g < a.bob_groups {
            seats.insert(1);
        }
        while seats.len() < a.group_size {
            seats.insert(others[next % others.len()]);
            next += 1;
        }
        if g < a.bob_groups {
            bob_group_peers.extend(seats.iter().copied().filter(|&i| i != 1));
        }
        let names: Vec<String> = seats.iter().map(|&i| member_name(i)).collect();
        group_ids.push(
            vault
                .create_group(&alice, &format!("g{g:02}"), &names)
                .unwrap(),
        );
    }
    let t_groups = ms(t);

    // Who each entry is shared with.
    let id_of = |v: &Vault, i: usize| v.member_named(&member_name(i)).unwrap().id;
    let bob = Principal::Member(id_of(&vault, 1));
    let plain: Vec<usize> = (2..a.members).filter(|i| !admins.contains(i)).collect();
    let n_read = (a.target_share * a.entries as f64).round() as usize;
    let n_direct = (a.direct * a.entries as f64).round() as usize;
    let n_group = n_read - n_direct;
    let mut shares = Vec::with_capacity(a.entries);
    for i in 0..a.entries {
        let s = if i < n_group && a.bob_groups > 0 {
            vec![Principal::Group(group_ids[i % a.bob_groups])]
        } else if i < n_read {
            let mut s = vec![bob];
            for k in 0..a.direct_others.min(plain.len()) {
                let m = plain[(i * a.direct_others.max(1) + k) % plain.len()];
                s.push(Principal::Member(id_of(&vault, m)));
            }
            s
        } else if a.groups > a.bob_groups {
            let k = a.bob_groups + i % (a.groups - a.bob_groups);
            vec![Principal::Group(group_ids[k])]
        } else {
            vec![]
        };
        shares.push(s);
    }
    let bob_reads = if a.bob_admin { a.entries } else { n_read };

    // Entries, sealed on the roster-only snapshot, appended BATCH at a time.
    let snapshot = vault.clone();
    let session = snapshot.session(&alice).unwrap();
    let time = now();
    let (mut t_seal, mut t_append) = (0.0, 0.0);
    let mut shares = shares.into_iter().enumerate();
    loop {
        let t = Instant::now();
        let bodies: Vec<RecordBody> = shares
            .by_ref()
            .take(BATCH)
            .map(|(i, s)| session.create_entry(&draft(i, time, s)).unwrap())
            .collect();
        if bodies.is_empty() {
            break;
        }
        t_seal += ms(t);
        let t = Instant::now();
        vault.append(&alice, bodies).unwrap();
        t_append += ms(t);
    }
    eprintln!(
        "[{}] built {} entries, {} members, {} groups in {:.0} ms: members {t_members:.0} ms, \
         groups {t_groups:.0} ms, create_entry {t_seal:.0} ms, append {t_append:.0} ms",
        a.label,
        a.entries,
        a.members,
        a.groups,
        ms(t_all),
    );
    println!("build_ms\t{:.1}", ms(t_all));
    Team {
        alice,
        vault,
        bob_reads,
        bob_group_peers: bob_group_peers.len(),
    }
}

/// One in-memory revocation's timings (ms) and counts.
#[derive(Debug, Default, Clone)]
struct Run {
    total: f64,
    setup: f64,
    rekey: f64,
    last: f64,
    encode: f64,
    write: f64,
    /// CPU time of this thread during `revoke_member` (robust to other load).
    cpu: f64,
    rekeyed: usize,
}

/// CPU time of the calling thread in ms (`/proc/thread-self/schedstat`; 0 elsewhere).
fn thread_cpu_ms() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0.0, |ns| ns as f64 / 1e6)
}

fn revoke_once(team: &Team, write_to: Option<&std::path::Path>) -> (Run, Vault) {
    let mut v = team.vault.clone();
    let cpu0 = thread_cpu_ms();
    let t0 = Instant::now();
    let mut first: Option<Instant> = None;
    let mut last: Option<Instant> = None;
    let listed = v
        .revoke_member(&team.alice, "bob", &mut |_, _| {
            let t = Instant::now();
            first.get_or_insert(t);
            last = Some(t);
        })
        .unwrap();
    let end = Instant::now();
    let cpu = thread_cpu_ms() - cpu0;
    let secs = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
    let (setup, rekey, last_ms) = match (first, last) {
        (Some(f), Some(l)) => (secs(t0, f), secs(f, l), secs(l, end)),
        _ => (secs(t0, end), 0.0, 0.0),
    };
    let t = Instant::now();
    let bytes = v.encode();
    let encode = ms(t);
    let mut write = 0.0;
    if let Some(dir) = write_to {
        let t = Instant::now();
        amanat::store::write_atomic(&dir.join("revoked.amanat"), &bytes).unwrap();
        write = ms(t);
    }
    (
        Run {
            total: secs(t0, end),
            setup,
            rekey,
            last: last_ms,
            encode,
            write,
            cpu,
            rekeyed: listed.len(),
        },
        v,
    )
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn main() {
    let a = parse_args();
    let team = build(&a);
    let bob_id = team.vault.member_named("bob").unwrap().id;
    let t = Instant::now();
    let readable = team.vault.readable_by(&bob_id);
    let t_readable = ms(t);
    assert_eq!(
        readable.len(),
        team.bob_reads,
        "bob reads what the shape says"
    );

    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir).unwrap();
        let pass = SecretString::new(PASSPHRASE.to_string());
        let id_bytes = team
            .alice
            .seal(&pass, KdfParams::INSECURE_TEST, true)
            .unwrap();
        std::fs::write(dir.join("vault.amanat"), team.vault.encode()).unwrap();
        let _ = std::fs::remove_dir_all(dir.join("vault"));
        std::fs::create_dir_all(dir.join("vault")).unwrap();
        amanat::store::write_segment(&dir.join("vault"), &team.vault.encode()).unwrap();
        std::fs::write(dir.join("identity.amanat"), id_bytes).unwrap();
        std::fs::write(dir.join("passphrase"), format!("{PASSPHRASE}\n")).unwrap();
        std::fs::set_permissions(
            dir.join("passphrase"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
    }

    // Warm-up (allocator, caches), then the timed runs.
    let tmp = tempfile::tempdir().unwrap();
    let write_dir = a.out.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let _ = revoke_once(&team, None);
    let mut runs = Vec::with_capacity(a.repeat);
    let mut revoked = None;
    for _ in 0..a.repeat {
        let (r, v) = revoke_once(&team, Some(&write_dir));
        runs.push(r);
        revoked = Some(v);
    }
    let revoked = revoked.unwrap();

    // What the revocation wrote: the records not in the vault before.
    let bytes = revoked.encode();
    let file = VaultFile::decode(&bytes).unwrap();
    let new: Vec<_> = file
        .records()
        .iter()
        .filter(|r| !team.vault.contains(r.id()))
        .collect();
    let (mut rotations, mut rotation_wraps, mut revisions) = (0, 0, 0);
    let (mut member_wraps, mut public_wraps, mut group_wraps) = (0, 0, 0);
    for r in &new {
        match r.record().body() {
            RecordBody::RotateGroupKey(k) => {
                rotations += 1;
                rotation_wraps += k.wraps().len();
            }
            RecordBody::EntryRevision(rev) => {
                revisions += 1;
                if let EntryContent::Sealed(s) = rev.content() {
                    for w in s.wraps() {
                        match w {
                            KeyWrap::Member(_) => member_wraps += 1,
                            KeyWrap::GroupPublic { .. } => public_wraps += 1,
                            KeyWrap::Group { .. } => group_wraps += 1,
                        }
                    }
                }
            }
            _ => {}
        }
    }
    assert_eq!(revisions, team.bob_reads);
    assert!(revoked.readable_by(&bob_id).is_empty());
    // Fixed costs of one `Vault::append` on a file this size (best of three; the
    // clones are not timed): the whole call with no bodies (heads, canonical sort,
    // replay), the canonical sort alone, and loading (`Vault::decode`).
    let best = |f: &mut dyn FnMut() -> f64| (0..3).map(|_| f()).fold(f64::INFINITY, f64::min);
    let append_ms = best(&mut || {
        let mut v = revoked.clone();
        let t = Instant::now();
        v.append(&team.alice, Vec::new()).unwrap();
        ms(t)
    });
    let sort_ms = best(&mut || {
        let mut f = file.clone();
        let t = Instant::now();
        f.append(Vec::new());
        ms(t)
    });
    let file_decode_ms = best(&mut || {
        let t = Instant::now();
        let _ = VaultFile::decode(&bytes).unwrap();
        ms(t)
    });
    let vault_decode_ms = best(&mut || {
        let t = Instant::now();
        let _ = Vault::decode(&bytes).unwrap();
        ms(t)
    });

    // What generating entries one by one would cost: `create_entry` on the full vault
    // decrypts every readable entry to check the path is free (best of three).
    let create_entry_ms = best(&mut || {
        let session = team.vault.session(&team.alice).unwrap();
        let d = draft(a.entries, now(), Vec::new());
        let t = Instant::now();
        let _ = session.create_entry(&d).unwrap();
        ms(t)
    });

    let med = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
    let min = |f: fn(&Run) -> f64| runs.iter().map(f).fold(f64::INFINITY, f64::min);
    let max = |f: fn(&Run) -> f64| runs.iter().map(f).fold(0.0, f64::max);
    println!("label\t{}", a.label);
    println!("entries\t{}", a.entries);
    println!("members\t{}", a.members);
    println!("groups\t{}", a.groups);
    println!("group_size\t{}", a.group_size);
    println!("admins\t{}", a.admins + usize::from(a.bob_admin));
    println!("bob_admin\t{}", a.bob_admin);
    println!("bob_reads\t{}", team.bob_reads);
    println!("bob_group_peers\t{}", team.bob_group_peers);
    println!("records_before\t{}", team.vault.record_count());
    println!("records_after\t{}", revoked.record_count());
    println!("new_records\t{}", new.len());
    println!("entries_rekeyed\t{}", runs[0].rekeyed);
    println!("groups_rotated\t{rotations}");
    println!("hpke_wraps_rotation\t{rotation_wraps}");
    println!("hpke_wraps_entries\t{}", member_wraps + public_wraps);
    println!("symmetric_group_wraps\t{group_wraps}");
    println!("file_bytes_before\t{}", team.vault.encode().len());
    println!("file_bytes_after\t{}", bytes.len());
    println!("runs\t{}", runs.len());
    println!("readable_by_ms\t{t_readable:.1}");
    println!("revoke_ms_median\t{:.1}", med(|r| r.total));
    println!("revoke_ms_min\t{:.1}", min(|r| r.total));
    println!("revoke_ms_max\t{:.1}", max(|r| r.total));
    println!("revoke_cpu_ms_median\t{:.1}", med(|r| r.cpu));
    println!("revoke_cpu_ms_min\t{:.1}", min(|r| r.cpu));
    println!("phase_setup_ms\t{:.1}", med(|r| r.setup));
    println!("phase_rekey_ms\t{:.1}", med(|r| r.rekey));
    println!("phase_final_ms\t{:.1}", med(|r| r.last));
    println!("encode_ms\t{:.1}", med(|r| r.encode));
    println!("write_atomic_ms\t{:.1}", med(|r| r.write));
    println!(
        "revoke_encode_write_ms\t{:.1}",
        med(|r| r.total + r.encode + r.write)
    );
    println!(
        "cpu_us_per_entry\t{:.1}",
        med(|r| r.cpu) * 1e3 / team.bob_reads.max(1) as f64
    );
    println!(
        "rekey_us_per_entry\t{:.1}",
        med(|r| r.rekey) * 1e3 / team.bob_reads.saturating_sub(1).max(1) as f64
    );
    println!("append_empty_ms\t{append_ms:.1}");
    println!("append_sort_ms\t{sort_ms:.1}");
    println!("file_decode_ms\t{file_decode_ms:.1}");
    println!("vault_decode_ms\t{vault_decode_ms:.1}");
    println!("create_entry_full_vault_ms\t{create_entry_ms:.1}");
    eprintln!(
        "[{}] revoke bob ({} entries re-keyed, {} groups rotated): median {:.0} ms \
         ({:.0} ms CPU; setup {:.0}, re-key {:.0}, final append {:.0}) + encode {:.0} + write {:.0}",
        a.label,
        runs[0].rekeyed,
        rotations,
        med(|r| r.total),
        med(|r| r.cpu),
        med(|r| r.setup),
        med(|r| r.rekey),
        med(|r| r.last),
        med(|r| r.encode),
        med(|r| r.write),
    );
}
