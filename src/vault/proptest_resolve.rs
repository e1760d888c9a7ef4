//! Model-based property test of resolution (issue 9): random histories of a small team
//! on several replicas — honest writes through the API, roster changes, revocations,
//! merges — plus hostile records signed by members and departed members on old heads
//! (back-dated, ground times, future times, unauthorized writes and tombstones, invalid
//! keys, many siblings). Invariants:
//! 1. the same state under any topological order of the records;
//! 2. a removed member never counts again: every counted record by X is an ancestor of
//!    every counted removal of X;
//! 3. no entry revision an honest client wrote after seeing X's removal wraps to X or
//!    under a group key version X holds;
//! 4. opening, `verify`, writing and `member rm` never fail because of a signed record.
//!
//! `AMANAT_RESOLVE_CASES` sets the number of cases (default 60, sized for CI);
//! `AMANAT_RESOLVE_SEED` the first seed.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::attacks::{person, signed, with};
use super::*;
use crate::crypto::SecretString;
use crate::format::{AuditEvent, EventKind, Principal};
use crate::identity::Identity;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// What must be equal whatever the order of the records.
#[derive(Debug, PartialEq, Eq)]
struct Summary {
    counted: BTreeSet<RecordId>,
    members: BTreeMap<MemberId, (String, Role, bool, bool, PublicKeys)>,
    groups: BTreeMap<GroupId, (BTreeSet<MemberId>, RecordId)>,
    heads: BTreeMap<EntryId, BTreeSet<RecordId>>,
}

fn summary(records: &[StoredRecord], r: &resolve::Resolution) -> Summary {
    Summary {
        counted: records
            .iter()
            .zip(&r.role)
            .filter(|(_, role)| role.is_some())
            .map(|(s, _)| s.id)
            .collect(),
        members: r
            .members
            .values()
            .map(|m| {
                (
                    m.id,
                    (m.name.clone(), m.role, m.active, m.key_current, m.keys),
                )
            })
            .collect(),
        groups: r
            .groups
            .values()
            .map(|g| (g.id, (g.members.clone(), g.key_id)))
            .collect(),
        heads: r
            .heads
            .iter()
            .map(|(e, h)| (*e, h.iter().map(|&i| records[i].id).collect()))
            .collect(),
    }
}

/// A random topological order of `records` (parents first).
fn shuffled(records: &[StoredRecord], rng: &mut Rng) -> Vec<StoredRecord> {
    let index: HashMap<RecordId, usize> =
        records.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let mut pending: Vec<usize> = records
        .iter()
        .map(|r| {
            r.record
                .parents
                .iter()
                .filter(|p| index.contains_key(p))
                .count()
        })
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); records.len()];
    for (i, r) in records.iter().enumerate() {
        for p in &r.record.parents {
            if let Some(&pi) = index.get(p) {
                children[pi].push(i);
            }
        }
    }
    let mut ready: Vec<usize> = (0..records.len()).filter(|&i| pending[i] == 0).collect();
    let mut out = Vec::with_capacity(records.len());
    while !ready.is_empty() {
        let i = ready.swap_remove(rng.below(ready.len()));
        out.push(records[i].clone());
        for &c in &children[i] {
            pending[c] -= 1;
            if pending[c] == 0 {
                ready.push(c);
            }
        }
    }
    out
}

fn resolve_in(records: &[StoredRecord], seed: u64) -> resolve::Resolution {
    let index: HashMap<RecordId, usize> =
        records.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let r = resolve::resolve(records, &index, &[]).unwrap();
    if r.cycles > 0 && std::env::var("AMANAT_DEBUG_PROP").is_ok() {
        eprintln!(
            "seed {seed}: {} dependency cycle(s), broken by record id",
            r.cycles
        );
    }
    r
}

/// Everything a vault derives from its records, in a form that compares (hash maps
/// sorted), with records named by id.
fn derived(v: &Vault) -> String {
    let id = |i: &usize| v.file.records[*i].id;
    let heads: BTreeMap<&EntryId, Vec<RecordId>> = v
        .heads
        .iter()
        .map(|(e, h)| (e, h.iter().map(id).collect()))
        .collect();
    let keys: BTreeMap<&RecordId, String> = v
        .group_keys
        .iter()
        .map(|(k, g)| {
            (
                k,
                format!("{:?} {:?} {:?}", g.group, g.commitment, g.holders),
            )
        })
        .collect();
    let index: BTreeMap<&RecordId, &usize> = v.index.iter().collect();
    format!(
        "owner {:?}\nmembers {:?}\ngroups {:?}\nkeys {keys:?}\nheads {heads:?}\nrole {:?}\nconflicted {:?}\nignored {:?}\nsig {:?}\nsigner {:?}\nindex {index:?}\nsinks {:?}",
        v.owner,
        v.members,
        v.groups,
        v.role,
        v.conflicted,
        v.ignored,
        v.sig,
        v.signer,
        v.heads(),
    )
}

/// The vault `v` (built by appends, some judged alone) equals a resolution of its
/// records from scratch with the same signature findings.
fn assert_as_resolved_again(v: &Vault, seed: u64, what: &str) {
    let known: Vec<Option<resolve::Sig>> = v.sig.iter().copied().map(Some).collect();
    let again = Vault::replay_indexed(v.file.clone(), v.index.clone(), &known).unwrap();
    let (a, b) = (derived(v), derived(&again));
    if a != b {
        let diff: Vec<String> = a
            .lines()
            .zip(b.lines())
            .filter(|(x, y)| x != y)
            .map(|(x, y)| format!("appended:  {x}\nresolved:  {y}"))
            .collect();
        panic!(
            "seed {seed}: {what}: appending differs from resolving again:\n{}",
            diff.join("\n")
        );
    }
}

/// A record on top of every other (parents: all sinks) by `who`, of a kind judged
/// alone: a revision or tombstone of some entry (whatever the author may do), a new
/// entry, or an event. Signed by `who`'s key, whether or not it is the author's.
fn leaf(v: &Vault, cast: &Cast, who: usize, rng: &mut Rng) -> Option<StoredRecord> {
    let ident = &cast.people[who].1;
    let author = match cast.who(v, &cast.people[who].0) {
        Some(a) if rng.chance(90) => a,
        _ => cast.who(v, &cast.people[rng.below(cast.people.len())].0)?,
    };
    let owner = &cast.people[0].1;
    let entries: Vec<(EntryId, RecordId)> = v
        .heads
        .iter()
        .filter_map(|(e, h)| h.first().map(|&i| (*e, v.file.records[i].id)))
        .collect();
    let body = match rng.below(4) {
        0 if !entries.is_empty() => {
            let (e, rev) = entries[rng.below(entries.len())];
            RecordBody::EntryRevision(EntryRevision {
                entry: e,
                prev: Some(rev),
                content: EntryContent::Tombstone,
            })
        }
        1 if !entries.is_empty() => {
            let (e, rev) = entries[rng.below(entries.len())];
            let writers = if rng.chance(70) {
                v.heads[&e]
                    .first()
                    .map(|&i| writers_of_record(&v.file.records[i]))
                    .unwrap_or_default()
            } else {
                vec![Principal::Member(author)]
            };
            v.session(owner)
                .ok()?
                .seal(e, Some(rev), &draft("e/leaf", writers, vec![]))
                .ok()?
        }
        2 => {
            let mut e = EntryId(crypto::random_array().ok()?);
            if rng.chance(80) {
                e.0[8..].copy_from_slice(&author.0[..8]);
            }
            v.session(owner)
                .ok()?
                .seal(
                    e,
                    None,
                    &draft("e/new", vec![Principal::Member(author)], vec![]),
                )
                .ok()?
        }
        _ => match rng.below(3) {
            0 => RecordBody::Event(AuditEvent::new(EventKind::Heartbeat, None)),
            1 if !entries.is_empty() => RecordBody::Event(AuditEvent::reviewed(
                Some(entries[rng.below(entries.len())].0),
                Some("leaf".into()),
            )),
            _ => RecordBody::Event(AuditEvent::new(EventKind::Reviewed, None)),
        },
    };
    let parents = v.heads();
    (parents.len() <= format::MAX_PARENTS).then(|| signed(ident, author, parents, now(), body))
}

fn writers_of_record(r: &StoredRecord) -> Vec<Principal> {
    match &r.record.body {
        RecordBody::EntryRevision(EntryRevision {
            content: EntryContent::Sealed(s),
            ..
        }) => s.writers.clone(),
        _ => Vec::new(),
    }
}

struct Cast {
    people: Vec<(String, Identity)>,
}

impl Cast {
    fn who(&self, v: &Vault, name: &str) -> Option<MemberId> {
        v.members.values().find(|m| m.name == name).map(|m| m.id)
    }
}

fn draft(path: &str, writers: Vec<Principal>, share: Vec<Principal>) -> EntryDraft {
    let mut payload = EntryPayload::default();
    payload.path = path.into();
    payload.password = SecretString::new(format!("pw-{path}"));
    payload.write_grants = writers;
    EntryDraft {
        payload,
        share_with: share,
    }
}

/// One honest operation by `who` on replica `v`, through the API. Errors (denied,
/// not found) are fine: an honest client refuses what it may not do.
fn honest(
    v: &mut Vault,
    cast: &Cast,
    who: usize,
    rng: &mut Rng,
    honest_ids: &mut HashMap<RecordId, HashSet<MemberId>>,
) {
    let (name, id) = (&cast.people[who].0, &cast.people[who].1);
    let Ok(me) = v.member_for(id).cloned() else {
        return;
    };
    let before: HashSet<RecordId> = v.records().iter().map(|r| r.id).collect();
    let sinks_before = v.heads();
    let other = &cast.people[rng.below(cast.people.len())].0;
    let devops = v.group_named("devops").map(|g| g.id).ok();
    let op = rng.below(10);
    let _ = match op {
        0 | 1 => {
            let path = format!("e/{}", rng.below(6));
            let mut writers = vec![];
            let mut share = vec![];
            if let (Some(g), true) = (devops, rng.chance(50)) {
                share.push(Principal::Group(g));
                if rng.chance(50) {
                    writers.push(Principal::Group(g));
                }
            }
            v.session(id)
                .and_then(|s| s.create_entry(&draft(&path, writers, share)))
                .and_then(|b| v.append(id, vec![b]).map(|_| ()))
        }
        2 | 3 => {
            let listed = v.session(id).and_then(|s| s.list());
            match listed {
                Ok(list) if !list.is_empty() => {
                    let e = &list[rng.below(list.len())];
                    let body = v.session(id).and_then(|s| {
                        let mut d = EntryDraft {
                            payload: e.payload.clone(),
                            share_with: s.shared_with(e),
                        };
                        d.payload.password = SecretString::new(format!("new-{}", rng.next()));
                        if rng.chance(20) {
                            s.delete_entry(e)
                        } else {
                            s.revise_entry(e, &d)
                        }
                    });
                    body.and_then(|b| v.append(id, vec![b]).map(|_| ()))
                }
                _ => Ok(()),
            }
        }
        4 => v.revoke_member(id, other, &mut |_, _| {}).map(|_| ()),
        5 => v
            .change_role(
                id,
                other,
                if rng.chance(50) {
                    Role::Admin
                } else {
                    Role::Member
                },
            )
            .map(|_| ()),
        6 => v.group_add(id, "devops", std::slice::from_ref(other)),
        7 => v.group_remove(id, "devops", std::slice::from_ref(other)),
        8 => v.change_role(id, other, Role::Owner),
        _ => v.accept_ownership(id),
    };
    let _ = (name, me);
    // What a write puts in its segment, found from the sinks before it, is exactly
    // the records it added.
    assert_eq!(
        v.segment_after(&sinks_before),
        v.segment_since(&before),
        "op {op}: the records after the old sinks are not the new ones"
    );
    // Who was removed in the writer's view when it wrote (a removal's verdict can
    // change as records arrive that the writer had not seen).
    let removed: HashSet<MemberId> = v.members().filter(|m| !m.active).map(|m| m.id).collect();
    for r in v.records() {
        if !before.contains(&r.id) {
            // 3. In the writer's view: nothing it wrote wraps to a removed member, or
            // under a group key version a removed member holds. (Later records can
            // still hand a removed member a version concurrently, e.g. a promotion
            // concurrent with the removal; the next admin write then rotates it.)
            if let RecordBody::EntryRevision(rev) = &r.record.body
                && let EntryContent::Sealed(sealed) = &rev.content
            {
                for w in &sealed.wraps {
                    let to_removed = match w {
                        KeyWrap::Member(m) => removed.contains(&m.member),
                        w => w.key_id().is_some_and(|k| {
                            v.group_keys.get(&k).is_some_and(|x| {
                                x.wraps.iter().any(|w| removed.contains(&w.member))
                            })
                        }),
                    };
                    assert!(
                        !to_removed,
                        "op {op}: an honest revision wraps to a key a removed member holds"
                    );
                }
            }
            honest_ids.insert(r.id, removed.clone());
        }
    }
}

/// One hostile record by `who` (member or not, removed or not) on `parents`.
fn hostile(
    v: &Vault,
    snapshot: &Vault,
    cast: &Cast,
    who: usize,
    rng: &mut Rng,
) -> Option<StoredRecord> {
    let ident = &cast.people[who].1;
    let author = cast.who(v, &cast.people[who].0)?;
    let target = cast.who(v, &cast.people[rng.below(cast.people.len())].0)?;
    let parents = if rng.chance(60) {
        snapshot.heads()
    } else {
        v.heads()
    };
    let time = match rng.below(3) {
        0 => rng.below(1000) as u64,
        1 => 4_070_908_800 + rng.below(1000) as u64,
        _ => now(),
    };
    let offers: Vec<RecordId> = snapshot
        .records()
        .iter()
        .filter(|r| matches!(r.record.body, RecordBody::OfferOwnership { .. }))
        .map(|r| r.id)
        .collect();
    let body = match rng.below(10) {
        7 => RecordBody::OfferOwnership { member: target },
        8 if !offers.is_empty() => RecordBody::AcceptOwnership {
            offer: offers[rng.below(offers.len())],
        },
        9 if !offers.is_empty() => RecordBody::WithdrawOwnership {
            offer: offers[rng.below(offers.len())],
        },
        0 => RecordBody::RemoveMember { member: target },
        1 => RecordBody::ChangeRole {
            member: author,
            role: Role::Admin,
            admin_wrap: None,
        },
        2 => RecordBody::AddMember(format::AddMember {
            member: MemberId(crypto::random_array().ok()?),
            name: format!("puppet{}", rng.below(100)),
            keys: if rng.chance(50) {
                PublicKeys {
                    agreement: [0; 32],
                    signing: [0; 32],
                }
            } else {
                person("p").keys
            },
            role: Role::Member,
            admin_wrap: None,
        }),
        3 | 4 => {
            // A revision (or tombstone) of some entry, wrapped to whoever the forger
            // likes; writers naming themselves.
            let (e, rev) = snapshot
                .heads
                .iter()
                .next()
                .and_then(|(e, h)| h.first().map(|&i| (*e, snapshot.file.records[i].id)))?;
            let owner = &cast.people[0].1;
            let s = snapshot.session(owner).ok()?;
            if rng.chance(30) {
                RecordBody::EntryRevision(EntryRevision {
                    entry: e,
                    prev: Some(rev),
                    content: EntryContent::Tombstone,
                })
            } else {
                s.seal(
                    e,
                    Some(rev),
                    &draft("e/0", vec![Principal::Member(author)], vec![]),
                )
                .ok()?
            }
        }
        5 => RecordBody::ChangeMemberKeys {
            member: target,
            keys: person("k").keys,
            new_key_signature: vec![1; 64],
        },
        _ => {
            // A review (issue 13) of the vault or of some entry: counts only from an
            // admin or a writer of that entry whose write right nothing concurrent took.
            let entry = snapshot
                .heads
                .keys()
                .nth(rng.below(snapshot.heads.len().max(1)));
            RecordBody::Event(AuditEvent::reviewed(
                entry.copied().filter(|_| rng.chance(70)),
                None,
            ))
        }
    };
    Some(signed(ident, author, parents, time, body))
}

/// One random history; returns whether resolving it met a rank-inversion cycle.
fn run_case(seed: u64) -> bool {
    let mut rng = Rng(seed | 1);
    let names = ["alice", "bob", "carol", "dave", "erin", "frank"];
    let n = 3 + rng.below(4);
    let cast = Cast {
        people: names[..n]
            .iter()
            .map(|s| (s.to_string(), person(s)))
            .collect(),
    };
    let owner = &cast.people[0].1;
    let mut base = Vault::create(owner, "acme").unwrap();
    for (i, (name, id)) in cast.people.iter().enumerate().skip(1) {
        let role = if i == 1 || rng.chance(25) {
            Role::Admin
        } else {
            Role::Member
        };
        base.add_member(owner, name, id.keys, role).unwrap();
    }
    let some: Vec<String> = cast.people[1..]
        .iter()
        .filter(|_| rng.chance(60))
        .map(|(n, _)| n.clone())
        .collect();
    base.create_group(owner, "devops", &some).unwrap();
    let mut honest_ids: HashMap<RecordId, HashSet<MemberId>> = base
        .records()
        .iter()
        .map(|r| (r.id, HashSet::new()))
        .collect();
    let mut replicas = [base.clone(), base.clone(), base.clone()];
    let mut snapshots = vec![base];
    for _ in 0..(8 + rng.below(10)) {
        let r = rng.below(replicas.len());
        match rng.below(10) {
            0..=4 => {
                let who = rng.below(n);
                honest(&mut replicas[r], &cast, who, &mut rng, &mut honest_ids);
                assert_as_resolved_again(&replicas[r], seed, "an honest write");
            }
            5..=6 => {
                let snapshot = snapshots[rng.below(snapshots.len())].clone();
                // The old copy's records arrive too (the parents of what is forged).
                replicas[r] = with(&replicas[r], snapshot.records().to_vec());
                let who = rng.below(n);
                let count = if rng.chance(10) { 66 } else { 1 };
                let mut new = Vec::new();
                for _ in 0..count {
                    if let Some(rec) = hostile(&replicas[r], &snapshot, &cast, who, &mut rng) {
                        new.push(rec);
                    }
                }
                replicas[r] = with(&replicas[r], new);
            }
            _ => {
                let o = rng.below(replicas.len());
                let other = replicas[o].records().to_vec();
                replicas[r] = with(&replicas[r], other);
            }
        }
        snapshots.push(replicas[r].clone());
    }
    let mut all = replicas[0].clone();
    for r in &replicas[1..] {
        all = with(&all, r.records().to_vec());
    }
    let records = all.records().to_vec();

    // 1. The same state under any topological order.
    let resolved = resolve_in(&records, seed);
    let cycles = resolved.cycles > 0;
    let reference = summary(&records, &resolved);
    for _ in 0..3 {
        let order = shuffled(&records, &mut rng);
        assert_eq!(
            summary(&order, &resolve_in(&order, seed)),
            reference,
            "seed {seed}: state depends on the order of the records"
        );
    }

    // 2. A removed member never counts again.
    for (i, r) in records.iter().enumerate() {
        let RecordBody::RemoveMember { member } = &r.record.body else {
            continue;
        };
        if all.counted_role(i).is_none() {
            continue;
        }
        for (j, s) in records.iter().enumerate() {
            if s.record.author == *member && all.counted_role(j).is_some() {
                if !all.dag.is_ancestor(j, i) && std::env::var("AMANAT_DEBUG_PROP").is_ok() {
                    eprintln!(
                        "removal {} (index {i}) of {}; counted record {} (index {j}) kind {}",
                        r.id.short(),
                        member.short(),
                        s.id.short(),
                        s.record.body.kind()
                    );
                }
                assert!(
                    all.dag.is_ancestor(j, i),
                    "seed {seed}: a record of a removed member counts"
                );
            }
        }
    }

    // Exactly one owner, always.
    assert_eq!(
        all.members()
            .filter(|m| m.active && m.role == Role::Owner)
            .count(),
        1,
        "seed {seed}: not exactly one owner"
    );

    // 5. A record on top of every other, judged alone, gives the vault a resolution
    // from scratch gives (entry revisions and events by anyone, allowed or not).
    let mut leaves = all.clone();
    for _ in 0..6 {
        let who = rng.below(n);
        let Some(rec) = leaf(&leaves, &cast, who, &mut rng) else {
            continue;
        };
        let signer = cast.people[who].1.keys().signing;
        assert!(leaves.on_top(&rec), "seed {seed}: a leaf is not on top");
        let (sinks, ids) = (leaves.heads(), leaves.record_ids());
        leaves.append_signed(vec![rec], &signer).unwrap();
        assert_eq!(leaves.segment_after(&sinks), leaves.segment_since(&ids));
        assert_as_resolved_again(&leaves, seed, "a leaf on top");
    }

    // 4. Nothing signed blocks opening, verifying, writing or revoking.
    let mut all = Vault::decode(&all.encode()).unwrap();
    all.verify().unwrap();
    let owner_id = all.owner();
    let owner = &cast
        .people
        .iter()
        .find(|(name, _)| cast.who(&all, name) == Some(owner_id))
        .unwrap()
        .1;
    all.session(owner).unwrap().list_all().unwrap();
    let body = all
        .session(owner)
        .unwrap()
        .create_entry(&draft("final/entry", vec![], vec![]))
        .unwrap();
    let ids = all.append(owner, vec![body]).unwrap();
    // 3, in the union: what the owner writes now opens nothing for a removed member,
    // even where the union handed one a key version concurrently.
    let removed: HashSet<MemberId> = all.members().filter(|m| !m.active).map(|m| m.id).collect();
    let written = all.records().iter().find(|r| r.id == ids[0]).unwrap();
    let written_entry = match &written.record.body {
        RecordBody::EntryRevision(rev) => rev.entry,
        _ => EntryId([0; 16]),
    };
    if let RecordBody::EntryRevision(rev) = &written.record.body
        && let EntryContent::Sealed(sealed) = &rev.content
    {
        for w in &sealed.wraps {
            let to_removed = match w {
                KeyWrap::Member(m) => removed.contains(&m.member),
                w => w.key_id().is_some_and(|k| {
                    all.group_keys
                        .get(&k)
                        .is_some_and(|x| x.wraps.iter().any(|w| removed.contains(&w.member)))
                }),
            };
            assert!(
                !to_removed,
                "seed {seed}: the owner's new entry opens for a removed member"
            );
        }
    }
    let victim = all
        .members()
        .find(|m| m.active && m.role != Role::Owner)
        .map(|m| m.id.to_hex());
    let victim_dbg = victim.clone();
    // By member id: a name can be ambiguous (two puppets of one name), an id never.
    if let Some(victim) = victim {
        all.revoke_member(owner, &victim, &mut |_, _| {}).unwrap();
    }
    let opened = all.session(owner).unwrap().open("final/entry");
    if opened.is_err() && std::env::var("AMANAT_DEBUG_PROP").is_ok() {
        let e = written_entry;
        eprintln!("heads {:?}", all.heads.get(&e));
        for (k, r) in all.records().iter().enumerate() {
            if let RecordBody::EntryRevision(rev) = &r.record.body
                && rev.entry == e
            {
                eprintln!(
                    "rev {k} by {} counted {:?} tomb {} ignored {:?}",
                    r.record.author.short(),
                    all.counted_role(k),
                    matches!(rev.content, EntryContent::Tombstone),
                    all.ignored()
                        .iter()
                        .find(|i| i.record == r.id)
                        .map(|i| i.reason)
                );
            }
        }
        eprintln!("owner {} victim {:?}", owner_id.short(), victim_dbg);
        eprintln!(
            "open_id: {:?}",
            all.session(owner)
                .unwrap()
                .open_id(&e)
                .map(|x| x.payload.path.clone())
        );
        let h = all.heads[&e][0];
        if let RecordBody::EntryRevision(rev) = &all.records()[h].record.body
            && let EntryContent::Sealed(sealed) = &rev.content
        {
            for w in &sealed.wraps {
                match w {
                    KeyWrap::Member(m) => eprintln!("  wrap member {}", m.member.short()),
                    w => {
                        let k = w.key_id().unwrap();
                        eprintln!(
                            "  wrap group key {} holders {:?}",
                            k.short(),
                            all.group_keys.get(&k).map(|v| v
                                .wraps
                                .iter()
                                .map(|x| x.member.short())
                                .collect::<Vec<_>>())
                        );
                    }
                }
            }
            eprintln!("  readers {:?}", sealed.readers);
        }
        let g = all.groups[&ADMINS_GROUP].clone();
        eprintln!(
            "admins {:?} key {} tainted {}",
            g.members.iter().map(|m| m.short()).collect::<Vec<_>>(),
            g.key_id.short(),
            all.tainted(&g)
        );
    }
    assert!(
        opened.is_ok(),
        "seed {seed}: the owner cannot open their new entry: {opened:?}"
    );
    cycles
}

#[test]
fn resolution_is_a_function_of_the_record_set() {
    let cases: u64 = std::env::var("AMANAT_RESOLVE_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let first: u64 = std::env::var("AMANAT_RESOLVE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    let mut with_cycles = 0u64;
    for case in 0..cases {
        if run_case(first.wrapping_add(case.wrapping_mul(0x9e37_79b9_7f4a_7c15))) {
            with_cycles += 1;
        }
    }
    // Reported, not asserted: a rank-inversion cycle is resolved by record id, and the
    // state checks above hold all the same.
    eprintln!("{cases} cases, {with_cycles} met a rank-inversion cycle");
}
