//! Resolution: which records count, and the state they make (docs/format.md,
//! "Authority"). A function of the record set alone: it never looks at file order
//! beyond "parents come first", at `time`, or at record ids (except to name records).
//!
//! A record by X counts iff
//! 1. X is a member at its parents, with a current key that verifies its signature;
//! 2. it is not concurrent with a counted removal of X, nor with a counted replacement
//!    of X's key (a key change is only voided by a concurrent one of strictly higher
//!    rank: equal ranks leave X with no current key);
//! 3. its body is within X's rights at its parents, judged with the lowest role that X
//!    has there or in a counted concurrent role change (a concurrent demotion judges
//!    the record as the demoted role would be);
//! 4. for a writer's (non-admin's) entry revision: X may write the entry at its
//!    parents, and no counted concurrent change by an admin takes that right away.
//!
//! Every verdict depends only on the record's ancestors and on concurrent records of
//! a strictly higher rank (removals, role and key changes, an admin's revision of the
//! entry or removal from a group), whose verdicts in turn depend on their ancestors
//! and on records of a rank higher still; the owner's depend on the owner's alone. So
//! the verdicts are well founded and computed by memoised recursion, in any order.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{Group, GroupKeyVersion, Ignored, Member, VaultError};
use crate::crypto::{self, SIGNATURE_LABEL};
use crate::dag::Ancestry;
use crate::format::{
    ADMINS_GROUP, EntryContent, EntryId, GroupId, MemberId, MemberWrap, Principal, PublicKeys,
    RecordBody, RecordId, Role, StoredRecord,
};

/// The label of a key change's proof of possession.
pub const KEY_CHANGE_LABEL: &str = "amanat/v1/key-change";

/// The bytes a key change's proof of possession signs: the vault id, the member id
/// and the new keys, so a proof cannot be replayed for another member or vault.
pub fn key_change_message(vault: &RecordId, member: &MemberId, keys: &PublicKeys) -> Vec<u8> {
    let mut msg = Vec::with_capacity(32 + 16 + 64);
    msg.extend_from_slice(&vault.0);
    msg.extend_from_slice(&member.0);
    msg.extend_from_slice(&keys.agreement);
    msg.extend_from_slice(&keys.signing);
    msg
}

/// Whether entry id `entry` is bound to creator `author`: a new entry's id ends with
/// the first 8 bytes of its creator's member id, so no one else can create it.
pub fn entry_bound_to(entry: &EntryId, author: &MemberId) -> bool {
    entry.0[8..] == author.0[..8]
}

/// Whether a void record was voided only by a concurrent record (its author's
/// removal, demotion, key replacement, a hand-over, or the loss of a write right): what
/// `adopt` may re-issue.
pub fn voided_by_concurrency(reason: &str) -> bool {
    reason.starts_with("concurrent with")
}

/// Why a record whose signature fails does not count (damage, not a rule broken).
pub const BAD_SIGNATURE: &str = "signature does not verify under the author's key at its parents";

/// Rank: owner > admin > member.
pub fn rank(role: Role) -> u8 {
    match role {
        Role::Owner => 2,
        Role::Admin => 1,
        Role::Member => 0,
    }
}

fn lower(a: Role, b: Role) -> Role {
    if rank(a) <= rank(b) { a } else { b }
}

/// What the signature pre-check found for a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sig {
    /// An ancestor of a record this machine verified before (pinned): not re-checked.
    Trusted,
    /// Verifies under this signing key.
    Key([u8; 32]),
    /// Verifies under no key its author ever had.
    Bad,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    Unknown,
    Busy,
    Counted(Role),
    Void(&'static str),
}

/// Records by what they concern, each list in record-id order.
#[derive(Debug, Clone, Default)]
pub(super) struct Index {
    adds: HashMap<MemberId, Vec<usize>>,
    roles: HashMap<MemberId, Vec<usize>>,
    keys: HashMap<MemberId, Vec<usize>>,
    removals: HashMap<MemberId, Vec<usize>>,
    role_changes: HashMap<MemberId, Vec<usize>>,
    key_changes: HashMap<MemberId, Vec<usize>>,
    group_creates: HashMap<GroupId, Vec<usize>>,
    group_keys: HashMap<GroupId, Vec<usize>>,
    group_adds: HashMap<(GroupId, MemberId), Vec<usize>>,
    group_removes: HashMap<(GroupId, MemberId), Vec<usize>>,
    group_removes_of: HashMap<MemberId, Vec<usize>>,
    revisions: HashMap<EntryId, Vec<usize>>,
    admin_wraps: Vec<usize>,
    offers: Vec<usize>,
    accepts: Vec<usize>,
    withdrawals: Vec<usize>,
}

fn push<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Vec<usize>>, key: K, i: usize) {
    map.entry(key).or_default().push(i);
}

impl Index {
    /// Index record `i`, the last of `records`, when it is an entry revision or an
    /// event (what [`extend`] takes): keeps the revision list in record-id order.
    fn add_leaf(&mut self, records: &[StoredRecord], i: usize) {
        if let RecordBody::EntryRevision(rev) = &records[i].record.body {
            let list = self.revisions.entry(rev.entry).or_default();
            let id = records[i].id;
            let at = list.partition_point(|&k| records[k].id < id);
            list.insert(at, i);
        }
    }

    fn build(records: &[StoredRecord], index: &HashMap<RecordId, usize>) -> Self {
        let mut ix = Index::default();
        for (i, stored) in records.iter().enumerate() {
            match &stored.record.body {
                RecordBody::Genesis(g) => {
                    push(&mut ix.adds, g.owner, i);
                    push(&mut ix.roles, g.owner, i);
                    push(&mut ix.keys, g.owner, i);
                }
                RecordBody::AddMember(a) => {
                    push(&mut ix.adds, a.member, i);
                    push(&mut ix.roles, a.member, i);
                    push(&mut ix.keys, a.member, i);
                    if a.admin_wrap.is_some() {
                        ix.admin_wraps.push(i);
                    }
                }
                RecordBody::RemoveMember { member } => push(&mut ix.removals, *member, i),
                RecordBody::ChangeRole {
                    member, admin_wrap, ..
                } => {
                    push(&mut ix.roles, *member, i);
                    push(&mut ix.role_changes, *member, i);
                    if admin_wrap.is_some() {
                        ix.admin_wraps.push(i);
                    }
                }
                RecordBody::ChangeMemberKeys { member, .. } => {
                    push(&mut ix.keys, *member, i);
                    push(&mut ix.key_changes, *member, i);
                }
                RecordBody::CreateGroup { members, key, .. } => {
                    push(&mut ix.group_creates, key.group, i);
                    push(&mut ix.group_keys, key.group, i);
                    for m in members {
                        push(&mut ix.group_adds, (key.group, *m), i);
                    }
                }
                RecordBody::AddGroupMember { group, member, .. } => {
                    push(&mut ix.group_adds, (*group, *member), i);
                }
                RecordBody::RemoveGroupMember { group, member, key } => {
                    push(&mut ix.group_removes, (*group, *member), i);
                    push(&mut ix.group_removes_of, *member, i);
                    push(&mut ix.group_keys, key.group, i);
                }
                RecordBody::RotateGroupKey(key) => push(&mut ix.group_keys, key.group, i),
                RecordBody::EntryRevision(rev) => push(&mut ix.revisions, rev.entry, i),
                RecordBody::OfferOwnership { .. } => ix.offers.push(i),
                RecordBody::AcceptOwnership { offer } => {
                    ix.accepts.push(i);
                    // A role record of the nominee (owner) and of the old owner (admin).
                    if let Some(o) = index.get(offer).filter(|&&o| o < i)
                        && let RecordBody::OfferOwnership { member } = &records[*o].record.body
                    {
                        push(&mut ix.roles, *member, i);
                        push(&mut ix.roles, records[*o].record.author, i);
                    }
                }
                RecordBody::WithdrawOwnership { .. } => ix.withdrawals.push(i),
                RecordBody::Event(_) | RecordBody::RotateAtSource { .. } => {}
            }
        }
        // Every list in record-id order, so that the order in which verdicts are
        // asked for is a function of the record set, never of the file's order.
        let by_id = |list: &mut Vec<usize>| {
            list.sort_unstable_by_key(|&i| records[i].id);
            list.dedup();
        };
        for map in [
            &mut ix.adds,
            &mut ix.roles,
            &mut ix.keys,
            &mut ix.removals,
            &mut ix.role_changes,
            &mut ix.key_changes,
            &mut ix.group_removes_of,
        ] {
            map.values_mut().for_each(by_id);
        }
        for map in [&mut ix.group_creates, &mut ix.group_keys] {
            map.values_mut().for_each(by_id);
        }
        for map in [&mut ix.group_adds, &mut ix.group_removes] {
            map.values_mut().for_each(by_id);
        }
        ix.revisions.values_mut().for_each(by_id);
        for list in [
            &mut ix.admin_wraps,
            &mut ix.offers,
            &mut ix.accepts,
            &mut ix.withdrawals,
        ] {
            by_id(list);
        }
        ix
    }
}

/// Everything resolution derives from a record set.
#[derive(Debug, Clone)]
pub(super) struct Resolution {
    pub dag: Ancestry,
    /// The author's effective role at each counted record; `None` for a void one.
    pub role: Vec<Option<Role>>,
    pub ignored: Vec<Ignored>,
    pub members: BTreeMap<MemberId, Member>,
    pub groups: BTreeMap<GroupId, Group>,
    pub group_keys: HashMap<RecordId, GroupKeyVersion>,
    /// Entry → its valid heads (counted revisions no counted revision descends from).
    pub heads: HashMap<EntryId, Vec<usize>>,
    /// Groups with more than one latest key version (concurrent rotations): no current
    /// key until someone rotates again.
    pub conflicted: BTreeSet<GroupId>,
    /// What the signature check found for each record (kept, so that appending
    /// records checks only the new ones).
    pub sig: Vec<Sig>,
    /// The signing key each counted record had to verify under (its author's key at
    /// its parents), so that a trusted (pinned) record can still be checked when its
    /// value is handed out.
    pub signer: Vec<Option<[u8; 32]>>,
    /// Dependency cycles met (always zero: see [`Judge::counted`]).
    pub cycles: usize,
    /// The owner now (after every counted hand-over).
    pub owner: MemberId,
    /// What judging one more record needs without resolving again ([`extend`]).
    pub memo: Memo,
}

/// The index and every verdict of a resolution, kept so that a record appended on top
/// of every other one is judged alone ([`extend`]).
#[derive(Debug, Clone, Default)]
pub(super) struct Memo {
    ix: Index,
    state: Vec<State>,
    cause: Vec<Option<usize>>,
    /// A rank-inversion cycle was met: verdicts may have been revised afterwards
    /// (`enforce_removal_finality`), so nothing is judged incrementally.
    cycles: bool,
}

struct Ctx<'a> {
    records: &'a [StoredRecord],
    index: &'a HashMap<RecordId, usize>,
    dag: &'a Ancestry,
    ix: &'a Index,
    sig: &'a [Sig],
    owner: MemberId,
}

struct Judge<'a> {
    ctx: &'a Ctx<'a>,
    state: Vec<State>,
    signer: Vec<Option<[u8; 32]>>,
    /// How often a verdict was asked for while being computed (a dependency cycle).
    /// Zero by the induction in docs/format.md; the property test asserts it.
    cycles: usize,
    stack: Vec<usize>,
    /// For a record voided by a concurrent one: that record.
    cause: Vec<Option<usize>>,
}

/// Resolve `records` (canonical order: parents first; record 0 the genesis). `known`
/// holds, where known, what an earlier check found for a record's signature (or
/// [`Sig::Trusted`] for one this machine verified before): those are not re-checked.
pub(super) fn resolve(
    records: &[StoredRecord],
    index: &HashMap<RecordId, usize>,
    known: &[Option<Sig>],
) -> Result<Resolution, VaultError> {
    let Some(first) = records.first() else {
        return Err(crate::format::FormatError::Malformed("vault without a genesis record").into());
    };
    let RecordBody::Genesis(g) = &first.record.body else {
        return Err(crate::format::FormatError::Malformed("first record is not genesis").into());
    };
    if known.first().copied().flatten().is_none() {
        crypto::verify(
            &g.owner_keys.signing,
            SIGNATURE_LABEL,
            &first.bytes,
            &first.signature,
        )
        .map_err(|_| VaultError::Integrity("genesis signature"))?;
    }
    let mut dag = Ancestry::with_capacity(records.len());
    let mut parents = Vec::with_capacity(crate::format::MAX_PARENTS);
    for (i, stored) in records.iter().enumerate() {
        parents.clear();
        parents.extend(stored.record.parents.iter().filter_map(|p| {
            if i > 0 && *p == records[i - 1].id {
                Some(i - 1)
            } else {
                index.get(p).copied().filter(|&pi| pi < i)
            }
        }));
        dag.push(&parents);
    }
    let ix = Index::build(records, index);
    let sig = check_signatures(records, &ix, known);
    let ctx = Ctx {
        records,
        index,
        dag: &dag,
        ix: &ix,
        sig: &sig,
        owner: g.owner,
    };
    let mut judge = Judge {
        ctx: &ctx,
        state: vec![State::Unknown; records.len()],
        signer: vec![None; records.len()],
        cycles: 0,
        stack: Vec::new(),
        cause: vec![None; records.len()],
    };
    judge.signer[0] = Some(g.owner_keys.signing);
    judge.state[0] = State::Counted(Role::Owner);
    // In record-id order: where the rules meet a cycle (see `Judge::counted`), how it
    // breaks is then a function of the record set too.
    let mut order: Vec<usize> = (1..records.len()).collect();
    order.sort_unstable_by_key(|&i| records[i].id);
    for i in order {
        judge.counted(i);
    }
    if judge.cycles > 0 {
        judge.enforce_removal_finality();
    }
    let mut out = judge.state_of_all(g);
    out.cycles = judge.cycles;
    let memo_state = std::mem::take(&mut judge.state);
    let memo_cause = std::mem::take(&mut judge.cause);
    let cycles = judge.cycles > 0;
    drop(judge);
    out.memo = Memo {
        ix,
        state: memo_state,
        cause: memo_cause,
        cycles,
    };
    out.dag = dag;
    out.sig = sig;
    Ok(out)
}

impl Memo {
    /// Whether a record with this body, on top of every other record, can be judged
    /// alone by [`extend`].
    pub(super) fn extendable(&self, body: &RecordBody) -> bool {
        !self.cycles && matches!(body, RecordBody::EntryRevision(_) | RecordBody::Event(_))
    }
}

/// The verdict on one appended record, judged alone.
pub(super) enum Verdict {
    /// It counts, with its author's effective role.
    Counted(Role),
    /// It does not count: why, and the concurrent record that voided it, if one did.
    Void(&'static str, Option<usize>),
}

/// Judge record `i` — the last of `records`, an entry revision or an event, whose
/// parents leave no other record out (every other record is its ancestor) — against
/// the verdicts in `memo`, and add it to `memo` and `signer`. `dag` and `sig` already
/// hold it.
///
/// No earlier verdict can change: a rule judges a record by its ancestors and by the
/// records concurrent with it, and this record is neither; and an entry revision or an
/// event changes no member, group or key. So the resolution of the whole set is the old
/// one plus this verdict (and, when it counts, this record as its entry's only head) —
/// `vault::proptest_resolve::appending_on_top_matches_resolving_again` checks exactly
/// that over random histories. `None` (nothing changed) when the precondition does not
/// hold or the old resolution met a cycle: the caller resolves again.
pub(super) fn extend(
    records: &[StoredRecord],
    index: &HashMap<RecordId, usize>,
    dag: &Ancestry,
    sig: &[Sig],
    memo: &mut Memo,
    signer: &mut Vec<Option<[u8; 32]>>,
) -> Option<Verdict> {
    let i = records.len().checked_sub(1)?;
    if !memo.extendable(&records[i].record.body)
        || memo.state.len() != i
        || signer.len() != i
        || sig.len() != records.len()
    {
        return None;
    }
    // The caller checked that the parents include every sink (O(n) here).
    debug_assert!((0..i).all(|k| dag.is_ancestor(k, i)));
    let RecordBody::Genesis(g) = &records.first()?.record.body else {
        return None;
    };
    memo.ix.add_leaf(records, i);
    memo.state.push(State::Unknown);
    memo.cause.push(None);
    signer.push(None);
    let ctx = Ctx {
        records,
        index,
        dag,
        ix: &memo.ix,
        sig,
        owner: g.owner,
    };
    let mut judge = Judge {
        ctx: &ctx,
        state: std::mem::take(&mut memo.state),
        signer: std::mem::take(signer),
        cycles: 0,
        stack: Vec::new(),
        cause: std::mem::take(&mut memo.cause),
    };
    let role = judge.counted(i);
    let cycles = judge.cycles;
    let cause = judge.cause[i];
    let state = judge.state[i];
    memo.state = std::mem::take(&mut judge.state);
    memo.cause = std::mem::take(&mut judge.cause);
    *signer = std::mem::take(&mut judge.signer);
    if cycles > 0 {
        // Cannot happen (nothing can ask for this record's verdict while it is being
        // computed); resolve again rather than keep a verdict taken inside a cycle.
        memo.cycles = true;
        return None;
    }
    Some(match (role, state) {
        (Some(role), _) => Verdict::Counted(role),
        (None, State::Void(reason)) => Verdict::Void(reason, cause),
        (None, _) => Verdict::Void("not resolved", None),
    })
}

/// Check every untrusted record's signature under each key its author was ever given
/// (usually one), on every CPU. Which key had to sign it is decided by resolution.
fn check_signatures(records: &[StoredRecord], ix: &Index, known: &[Option<Sig>]) -> Vec<Sig> {
    let key_of = |i: usize| -> Option<[u8; 32]> {
        match &records.get(i)?.record.body {
            RecordBody::Genesis(g) => Some(g.owner_keys.signing),
            RecordBody::AddMember(a) => Some(a.keys.signing),
            RecordBody::ChangeMemberKeys { keys, .. } => Some(keys.signing),
            _ => None,
        }
    };
    let mut verifiers: HashMap<[u8; 32], Option<crypto::Verifier>> = HashMap::new();
    let mut candidates: HashMap<MemberId, Vec<([u8; 32], crypto::Verifier)>> = HashMap::new();
    for (member, list) in &ix.keys {
        let mut keys: Vec<([u8; 32], crypto::Verifier)> = Vec::new();
        for &k in list {
            let Some(public) = key_of(k) else { continue };
            if keys.iter().any(|(p, _)| *p == public) {
                continue;
            }
            let v = *verifiers
                .entry(public)
                .or_insert_with(|| crypto::Verifier::new(&public).ok());
            if let Some(v) = v {
                keys.push((public, v));
            }
        }
        candidates.insert(*member, keys);
    }
    let one = |i: usize| -> Sig {
        if let Some(sig) = known.get(i).copied().flatten() {
            return sig;
        }
        let stored = &records[i];
        let Some(keys) = candidates.get(&stored.record.author) else {
            return Sig::Bad;
        };
        keys.iter()
            .find(|(_, v)| {
                v.verify(SIGNATURE_LABEL, &stored.bytes, &stored.signature)
                    .is_ok()
            })
            .map_or(Sig::Bad, |(p, _)| Sig::Key(*p))
    };
    let n = records.len();
    let threads = super::worker_threads(n);
    if threads <= 1 {
        return (0..n).map(one).collect();
    }
    let per_thread = n.div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let one = &one;
                scope.spawn(move || {
                    (t * per_thread..((t + 1) * per_thread).min(n))
                        .map(one)
                        .collect::<Vec<Sig>>()
                })
            })
            .collect();
        // A panicked worker leaves its records unverified: they are damage.
        let mut out = Vec::with_capacity(n);
        for (t, w) in workers.into_iter().enumerate() {
            match w.join() {
                Ok(part) => out.extend(part),
                Err(_) => {
                    let len = ((t + 1) * per_thread).min(n).saturating_sub(t * per_thread);
                    out.extend(std::iter::repeat_n(Sig::Bad, len));
                }
            }
        }
        out
    })
}

fn writers_of(stored: &StoredRecord) -> BTreeSet<Principal> {
    match &stored.record.body {
        RecordBody::EntryRevision(rev) => match &rev.content {
            EntryContent::Sealed(s) => s.writers.iter().copied().collect(),
            EntryContent::Tombstone => BTreeSet::new(),
        },
        _ => BTreeSet::new(),
    }
}

impl<'a> Judge<'a> {
    fn body(&self, i: usize) -> &'a RecordBody {
        let ctx: &'a Ctx<'a> = self.ctx;
        &ctx.records[i].record.body
    }

    /// Whether `a` is an ancestor of `at` (`None`: of everything, the final state).
    fn before(&self, a: usize, at: Option<usize>) -> bool {
        at.is_none_or(|r| self.ctx.dag.is_ancestor(a, r))
    }

    /// The record's verdict: the author's effective role if it counts.
    fn counted(&mut self, i: usize) -> Option<Role> {
        match self.state.get(i).copied()? {
            State::Counted(role) => Some(role),
            State::Void(_) => None,
            // A verdict asked for while it is being computed. The rules make this
            // impossible except in a rank-inversion cycle across concurrent branches
            // (X outranks Z on one, Z outranks Y on another, Y outranks X on a third:
            // the owner promoted and demoted people on concurrent branches, and they
            // acted against each other). Such a record is taken as not counting for the
            // record that asked. Verdicts are asked for in record-id order, over lists
            // in record-id order, so how a cycle breaks is a function of the record set
            // (docs/format.md, "Why the verdicts are well defined").
            State::Busy => {
                self.cycles += 1;
                if std::env::var("AMANAT_DEBUG_CYCLES").is_ok() {
                    let path: Vec<String> = self
                        .stack
                        .iter()
                        .skip_while(|&&s| s != i)
                        .map(|&s| {
                            let r = &self.ctx.records[s].record;
                            format!("{s}:kind{}:{}", r.body.kind(), r.author.short())
                        })
                        .collect();
                    eprintln!("cycle at {i}: {}", path.join(" -> "));
                    for &s in self.stack.iter().skip_while(|&&s| s != i) {
                        let r = &self.ctx.records[s].record;
                        let target = match &r.body {
                            RecordBody::RemoveMember { member }
                            | RecordBody::ChangeRole { member, .. } => member.short(),
                            _ => String::new(),
                        };
                        let parents: Vec<usize> = r
                            .parents
                            .iter()
                            .filter_map(|p| self.ctx.index.get(p).copied())
                            .collect();
                        eprintln!("   {s}: target {target} parents {parents:?}");
                    }
                    if self.cycles == 1 {
                        for (k, st) in self.ctx.records.iter().enumerate() {
                            let r = &st.record;
                            let what = match &r.body {
                                RecordBody::AddMember(a) => {
                                    format!("add {} {:?}", a.member.short(), a.role)
                                }
                                RecordBody::RemoveMember { member } => {
                                    format!("rm {}", member.short())
                                }
                                RecordBody::ChangeRole { member, role, .. } => {
                                    format!("role {} {role:?}", member.short())
                                }
                                RecordBody::OfferOwnership { member } => {
                                    format!("offer {}", member.short())
                                }
                                RecordBody::AcceptOwnership { offer } => {
                                    format!("accept {}", offer.short())
                                }
                                RecordBody::WithdrawOwnership { offer } => {
                                    format!("withdraw {}", offer.short())
                                }
                                RecordBody::ChangeMemberKeys { member, .. } => {
                                    format!("keys {}", member.short())
                                }
                                b => format!("kind{}", b.kind()),
                            };
                            let parents: Vec<usize> = r
                                .parents
                                .iter()
                                .filter_map(|p| self.ctx.index.get(p).copied())
                                .collect();
                            if !what.starts_with("kind") {
                                eprintln!(
                                    "REC {k} {} by {} {what} p{parents:?}",
                                    st.id.short(),
                                    r.author.short()
                                );
                            }
                        }
                    }
                }
                None
            }
            State::Unknown => {
                self.state[i] = State::Busy;
                self.stack.push(i);
                let verdict = self.judge(i);
                self.stack.pop();
                self.state[i] = match verdict {
                    Ok(role) => State::Counted(role),
                    Err(reason) => State::Void(reason),
                };
                verdict.ok()
            }
        }
    }

    /// After a rank-inversion cycle (and only then): a verdict taken inside the cycle
    /// may have let a record count that is concurrent with its author's counted
    /// removal. Void every such record, until none is left (voiding only, so this ends,
    /// and its result is the same whatever the order). A removal stays final.
    fn enforce_removal_finality(&mut self) {
        let ctx = self.ctx;
        let mut by_author: HashMap<MemberId, Vec<usize>> = HashMap::new();
        for (j, r) in ctx.records.iter().enumerate().skip(1) {
            by_author.entry(r.record.author).or_default().push(j);
        }
        loop {
            let mut changed = false;
            for (x, removals) in &ctx.ix.removals {
                for &d in removals {
                    if !matches!(self.state[d], State::Counted(_)) {
                        continue;
                    }
                    for &j in by_author.get(x).into_iter().flatten() {
                        if matches!(self.state[j], State::Counted(_))
                            && j != d
                            && !ctx.dag.is_ancestor(j, d)
                        {
                            self.state[j] = State::Void(
                                "concurrent with its author's removal (back-dated or not yet seen)",
                            );
                            self.cause[j] = Some(d);
                            changed = true;
                        }
                    }
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// [`Self::counted`] for a record that would void the one being judged (a removal,
    /// a role or key change, an admin's revision, a group removal, an acceptance):
    /// inside a rank-inversion cycle it is taken as counting, with the highest rank, so
    /// a cycle can only void more, never let a removed member's record count.
    fn counted_revoker(&mut self, c: usize) -> Option<Role> {
        if self.state.get(c) == Some(&State::Busy) {
            self.cycles += 1;
            return Some(Role::Owner);
        }
        self.counted(c)
    }

    /// The counted records of `list` among the ancestors of `at`, without those that
    /// are ancestors of another: the latest ones.
    fn latest(&mut self, list: &[usize], at: Option<usize>) -> Vec<usize> {
        let mut counted: Vec<usize> = Vec::new();
        for &c in list {
            if Some(c) != at && self.before(c, at) && self.counted(c).is_some() {
                counted.push(c);
            }
        }
        let dag = self.ctx.dag;
        counted
            .iter()
            .copied()
            .filter(|&c| !counted.iter().any(|&m| dag.is_ancestor(c, m)))
            .collect()
    }

    fn any_counted(&mut self, list: &[usize], mut keep: impl FnMut(&Self, usize) -> bool) -> bool {
        for &c in list {
            if keep(self, c) && self.counted(c).is_some() {
                return true;
            }
        }
        false
    }

    fn member_at(&mut self, x: &MemberId, at: Option<usize>) -> bool {
        let ix = self.ctx.ix;
        let added = ix
            .adds
            .get(x)
            .is_some_and(|l| self.any_counted(l, |s, c| Some(c) != at && s.before(c, at)));
        let removed = ix
            .removals
            .get(x)
            .is_some_and(|l| self.any_counted(l, |s, c| Some(c) != at && s.before(c, at)));
        added && !removed
    }

    /// The role record `c` gives member `x`.
    fn role_of_record(&self, c: usize, x: &MemberId) -> Option<Role> {
        match self.body(c) {
            RecordBody::Genesis(_) => Some(Role::Owner),
            RecordBody::AddMember(a) => Some(a.role),
            RecordBody::ChangeRole { role, .. } => Some(*role),
            RecordBody::AcceptOwnership { .. } => Some(if self.nominee_of(c) == Some(*x) {
                Role::Owner
            } else {
                Role::Admin
            }),
            _ => None,
        }
    }

    /// The offer an acceptance or withdrawal names: (offer index, old owner, nominee).
    fn offer_of(&self, c: usize) -> Option<(usize, MemberId, MemberId)> {
        let offer = match self.body(c) {
            RecordBody::AcceptOwnership { offer } | RecordBody::WithdrawOwnership { offer } => {
                offer
            }
            _ => return None,
        };
        let &o = self.ctx.index.get(offer)?;
        match &self.ctx.records[o].record.body {
            RecordBody::OfferOwnership { member } => {
                Some((o, self.ctx.records[o].record.author, *member))
            }
            _ => None,
        }
    }

    fn nominee_of(&self, c: usize) -> Option<MemberId> {
        self.offer_of(c).map(|(_, _, n)| n)
    }

    /// The owner at `at`: the genesis owner, or the nominee of the latest counted
    /// acceptance among its ancestors (acceptances follow one another: concurrent
    /// offers void each other, and an acceptance needs its offerer to be the owner).
    fn owner_at(&mut self, at: Option<usize>) -> MemberId {
        let ctx = self.ctx;
        let latest = self.latest(&ctx.ix.accepts, at);
        latest
            .iter()
            .filter_map(|&c| self.nominee_of(c).map(|n| (ctx.records[c].id, n)))
            .min()
            .map_or(ctx.owner, |(_, n)| n)
    }

    /// X's role at `at`: the lowest set by the latest counted role records.
    fn role_at(&mut self, x: &MemberId, at: Option<usize>) -> Option<Role> {
        if *x == self.owner_at(at) {
            return Some(Role::Owner);
        }
        if !self.member_at(x, at) {
            return None;
        }
        let list = self.ctx.ix.roles.get(x)?;
        self.latest(list, at)
            .into_iter()
            .filter_map(|c| self.role_of_record(c, x))
            .reduce(lower)
    }

    fn keys_of_record(&self, c: usize) -> Option<PublicKeys> {
        match self.body(c) {
            RecordBody::Genesis(g) => Some(g.owner_keys),
            RecordBody::AddMember(a) => Some(a.keys),
            RecordBody::ChangeMemberKeys { keys, .. } => Some(*keys),
            _ => None,
        }
    }

    /// The agreement key a wrap to X in record `c` was sealed to: the key `c` itself
    /// gives X (a join, a key change), or X's key at `c`'s parents.
    fn wrap_key(&mut self, x: &MemberId, c: usize) -> Option<[u8; 32]> {
        let sets_it = self.ctx.ix.keys.get(x).is_some_and(|l| l.contains(&c));
        match sets_it {
            true => self.keys_of_record(c),
            false => self.key_at(x, Some(c)),
        }
        .map(|k| k.agreement)
    }

    /// X's key at `at`: set by the latest counted key records; among different ones
    /// the strictly highest rank's; `None` when equal ranks disagree.
    fn key_at(&mut self, x: &MemberId, at: Option<usize>) -> Option<PublicKeys> {
        let list = self.ctx.ix.keys.get(x)?;
        let latest = self.latest(list, at);
        let mut best: Option<(u8, PublicKeys, bool)> = None;
        for c in latest {
            let (Some(keys), Some(role)) = (self.keys_of_record(c), self.counted(c)) else {
                continue;
            };
            let r = rank(role);
            best = match best {
                None => Some((r, keys, true)),
                Some((br, bk, ok)) if br == r => Some((br, bk, ok && bk == keys)),
                Some((br, _, _)) if r > br => Some((r, keys, true)),
                keep => keep,
            };
        }
        best.and_then(|(_, keys, agreed)| agreed.then_some(keys))
    }

    fn group_exists_at(&mut self, g: &GroupId, at: Option<usize>) -> bool {
        let ix = self.ctx.ix;
        ix.group_creates
            .get(g)
            .is_some_and(|l| self.any_counted(l, |s, c| Some(c) != at && s.before(c, at)))
    }

    /// Whether X is in group G at `at`: a counted add that every counted removal
    /// before `at` precedes (a concurrent add and removal: the removal wins), and X a
    /// member of the team.
    fn in_group_at(&mut self, g: &GroupId, x: &MemberId, at: Option<usize>) -> bool {
        if !self.member_at(x, at) {
            return false;
        }
        let ix = self.ctx.ix;
        let key = (*g, *x);
        let mut removes = Vec::new();
        for &d in ix.group_removes.get(&key).into_iter().flatten() {
            if Some(d) != at && self.before(d, at) && self.counted(d).is_some() {
                removes.push(d);
            }
        }
        for &a in ix.group_adds.get(&key).into_iter().flatten() {
            if Some(a) == at || !self.before(a, at) || self.counted(a).is_none() {
                continue;
            }
            if removes.iter().all(|&d| self.ctx.dag.is_ancestor(d, a)) {
                return true;
            }
        }
        false
    }

    /// An entry's writers at `at`: those every latest counted revision names.
    fn writers_at(&mut self, e: &EntryId, at: Option<usize>) -> Option<BTreeSet<Principal>> {
        let list = self.ctx.ix.revisions.get(e)?;
        let latest = self.latest(list, at);
        latest
            .into_iter()
            .map(|c| writers_of(&self.ctx.records[c]))
            .reduce(|a, b| a.intersection(&b).copied().collect())
    }

    /// Whether record `c` counts as an admin's (or the owner's) without a writer's
    /// check: its author is an admin at its parents, not demoted concurrently.
    fn counts_as_admin(&mut self, c: usize) -> bool {
        let author = self.ctx.records[c].record.author;
        if !self.role_at(&author, Some(c)).is_some_and(|r| r.is_admin()) {
            return false;
        }
        self.counted_revoker(c).is_some_and(|r| r.is_admin())
    }

    fn judge(&mut self, i: usize) -> Result<Role, &'static str> {
        let ctx = self.ctx;
        let rec = &ctx.records[i].record;
        let x = rec.author;
        if matches!(rec.body, RecordBody::Genesis(_)) {
            return Err("a second genesis");
        }
        if !self.member_at(&x, Some(i)) {
            return Err("author was not a member at its parents");
        }
        let mut role = self
            .role_at(&x, Some(i))
            .ok_or("author was not a member at its parents")?;
        let keys = self
            .key_at(&x, Some(i))
            .ok_or("author had no current key at its parents (concurrent key changes)")?;
        self.signer[i] = Some(keys.signing);
        match ctx.sig[i] {
            Sig::Trusted => {}
            Sig::Key(k) if k == keys.signing => {}
            _ => return Err(BAD_SIGNATURE),
        }
        let own_key_change =
            matches!(rec.body, RecordBody::ChangeMemberKeys { member, .. } if member == x);
        // The body first, with the role at the parents: what fails there fails with
        // any lower role too, and needs no concurrent record.
        self.check_body(i, x, role)?;
        // Then the effective role: a concurrent demotion (or hand-over) judges the
        // record as the lower role would be, before any concurrent removal or key
        // change is consulted (such a record may itself have been made by someone
        // that this record's author outranked only on the branch the demotion voids).
        let before = role;
        for &c in ctx.ix.role_changes.get(&x).into_iter().flatten() {
            if ctx.dag.concurrent(c, i)
                && self.outranks_target(c)
                && self.counted_revoker(c).is_some()
                && let Some(r) = self.role_of_record(c, &x)
            {
                if rank(r) < rank(role) {
                    self.cause[i] = Some(c);
                }
                role = lower(role, r);
            }
        }
        // An owner whose offer was accepted concurrently: the acceptance counts, and
        // the old owner's concurrent records are judged as an admin's.
        if role == Role::Owner {
            for &a in &ctx.ix.accepts {
                if ctx.dag.concurrent(a, i)
                    && self.offer_of(a).is_some_and(|(_, old, _)| old == x)
                    && self.counted_revoker(a).is_some()
                {
                    self.cause[i] = Some(a);
                    role = Role::Admin;
                }
            }
        }
        if role != before {
            self.check_body(i, x, role)
                .map_err(|_| "concurrent with its author's demotion (or an ownership hand-over)")?;
        }
        // Revokers come from a strictly higher rank: only a record whose author
        // outranks X at its own parents (or X's own key change) can void X's; X's
        // other records about X, and lower ranks' attempts, revoke nothing. (Judging
        // those against X's records would make verdicts depend on each other.)
        for &d in ctx.ix.removals.get(&x).into_iter().flatten() {
            if ctx.dag.concurrent(d, i) && self.outranks_target(d) && self.counted(d).is_some() {
                self.cause[i] = Some(d);
                return Err("concurrent with its author's removal (back-dated or not yet seen)");
            }
        }
        for &k in ctx.ix.key_changes.get(&x).into_iter().flatten() {
            // X's own concurrent key changes never void each other (the key at a later
            // record is then decided by rank, or is none).
            let self_change = ctx.records[k].record.author == x;
            if !ctx.dag.concurrent(k, i) || (own_key_change && self_change) {
                continue;
            }
            if !self_change && !self.outranks_target(k) {
                continue;
            }
            let Some(by) = self.counted_revoker(k) else {
                continue;
            };
            self.cause[i] = Some(k);
            if !own_key_change {
                return Err("concurrent with a replacement of the key that signed it");
            }
            if rank(by) > rank(role) {
                return Err("concurrent with a key replacement by a higher rank");
            }
        }
        Ok(role)
    }

    /// An acceptance by `x`: a counted offer to `x` among its ancestors, made by the
    /// owner there; not withdrawn, not accepted before; and no record by the old owner
    /// concurrent with it removes or demotes `x` or withdraws the offer (judged on
    /// those records' existence: no circle).
    fn check_acceptance(&mut self, i: usize, x: MemberId) -> Result<(), &'static str> {
        let ctx = self.ctx;
        let Some((o, old, nominee)) = self.offer_of(i) else {
            return Err("acceptance of an unknown offer");
        };
        if nominee != x || !ctx.dag.is_ancestor(o, i) {
            return Err("acceptance of an offer not made to its author");
        }
        if self.counted(o).is_none() || self.owner_at(Some(i)) != old {
            return Err("acceptance of an offer that does not stand");
        }
        for &c in ctx.ix.accepts.iter().chain(&ctx.ix.withdrawals) {
            if c != i
                && self.offer_of(c).is_some_and(|(oc, _, _)| oc == o)
                && (ctx.dag.is_ancestor(c, i) || ctx.dag.concurrent(c, i))
            {
                return Err("the offer was withdrawn or accepted already");
            }
        }
        for (j, r) in ctx.records.iter().enumerate() {
            if r.record.author != old || !ctx.dag.concurrent(j, i) {
                continue;
            }
            let voids = match &r.record.body {
                RecordBody::RemoveMember { member } => *member == x,
                RecordBody::ChangeRole { member, role, .. } => *member == x && *role != Role::Admin,
                _ => false,
            };
            if voids {
                return Err("the old owner removed or demoted the nominee concurrently");
            }
        }
        Ok(())
    }

    /// Whether the author of a record about a member (a removal, role or key change)
    /// has a strictly higher rank than that member at the record's parents: decided
    /// by ancestors alone, before the record's own verdict is asked for.
    fn outranks_target(&mut self, c: usize) -> bool {
        let rec = &self.ctx.records[c].record;
        let target = match &rec.body {
            RecordBody::RemoveMember { member }
            | RecordBody::ChangeRole { member, .. }
            | RecordBody::ChangeMemberKeys { member, .. } => *member,
            RecordBody::RemoveGroupMember { .. } => {
                return self
                    .role_at(&rec.author, Some(c))
                    .is_some_and(|r| r.is_admin());
            }
            _ => return false,
        };
        if target == rec.author {
            return false;
        }
        let (Some(mine), Some(theirs)) = (
            self.role_at(&rec.author, Some(c)),
            self.role_at(&target, Some(c)),
        ) else {
            return false;
        };
        rank(mine) > rank(theirs)
    }

    fn check_body(&mut self, i: usize, x: MemberId, role: Role) -> Result<(), &'static str> {
        let ctx = self.ctx;
        let at = Some(i);
        let mine = rank(role);
        let admin = role.is_admin();
        match &ctx.records[i].record.body {
            RecordBody::Genesis(_) => return Err("a second genesis"),
            RecordBody::AddMember(a) => {
                if rank(a.role) >= mine {
                    return Err("adding someone needs a strictly higher rank than their role");
                }
                let list = ctx.ix.adds.get(&a.member).map_or(&[][..], Vec::as_slice);
                if list.iter().any(|&c| ctx.dag.is_ancestor(c, i)) {
                    return Err("member id already used");
                }
                if crypto::check_agreement_public(&a.keys.agreement)
                    .and_then(|_| crypto::check_signing_public(&a.keys.signing))
                    .is_err()
                {
                    return Err("invalid member public key");
                }
            }
            RecordBody::RemoveMember { member } => {
                if *member == self.owner_at(at) {
                    return Err("the owner cannot be removed");
                }
                let target = self.role_at(member, at).ok_or("no such current member")?;
                if rank(target) >= mine {
                    return Err("removing someone needs a strictly higher rank than theirs");
                }
            }
            RecordBody::ChangeRole {
                member, role: new, ..
            } => {
                if *member == self.owner_at(at) {
                    return Err("the owner's role cannot change");
                }
                let target = self.role_at(member, at).ok_or("no such current member")?;
                if rank(target).max(rank(*new)) >= mine {
                    return Err("changing a role needs a strictly higher rank than both roles");
                }
            }
            RecordBody::ChangeMemberKeys {
                member,
                keys,
                new_key_signature,
            } => {
                let target = self.role_at(member, at).ok_or("no such current member")?;
                if *member != x && rank(target) >= mine {
                    return Err("replacing someone's key needs a strictly higher rank");
                }
                if crypto::check_agreement_public(&keys.agreement)
                    .and_then(|_| crypto::check_signing_public(&keys.signing))
                    .is_err()
                {
                    return Err("invalid member public key");
                }
                let Ok(sig) = <[u8; 64]>::try_from(new_key_signature.as_slice()) else {
                    return Err("key change without the new key's signature");
                };
                if crypto::verify(
                    &keys.signing,
                    KEY_CHANGE_LABEL,
                    &key_change_message(&ctx.records[0].id, member, keys),
                    &sig,
                )
                .is_err()
                {
                    return Err("key change without the new key's signature");
                }
            }
            RecordBody::CreateGroup { key, .. } => {
                if !admin {
                    return Err("only an admin changes groups");
                }
                if key.group == ADMINS_GROUP {
                    return Err("group already exists");
                }
                let list = ctx
                    .ix
                    .group_creates
                    .get(&key.group)
                    .map_or(&[][..], Vec::as_slice);
                if list.iter().any(|&c| ctx.dag.is_ancestor(c, i)) {
                    return Err("group id already used");
                }
            }
            RecordBody::AddGroupMember { group, member, .. } => {
                if !admin {
                    return Err("only an admin changes groups");
                }
                if *group == ADMINS_GROUP || !self.group_exists_at(group, at) {
                    return Err("no such group");
                }
                if !self.member_at(member, at) {
                    return Err("no such current member");
                }
            }
            RecordBody::RemoveGroupMember { group, key, .. } => {
                if !admin {
                    return Err("only an admin changes groups");
                }
                if *group == ADMINS_GROUP || key.group != *group || !self.group_exists_at(group, at)
                {
                    return Err("no such group");
                }
            }
            RecordBody::RotateGroupKey(key) => {
                if !admin {
                    return Err("only an admin rotates group keys");
                }
                if key.group != ADMINS_GROUP && !self.group_exists_at(&key.group, at) {
                    return Err("no such group");
                }
            }
            RecordBody::RotateAtSource { .. } => {
                if !admin {
                    return Err("only an admin records a revocation");
                }
            }
            RecordBody::Event(e) => match e.kind() {
                crate::format::EventKind::Heartbeat if !admin => {
                    return Err("only an admin writes a heartbeat");
                }
                crate::format::EventKind::Reviewed => match e.entry() {
                    None if !admin => return Err("only an admin reviews the whole vault"),
                    None => {}
                    Some(entry) => self.check_reviewer(i, x, &entry, admin)?,
                },
                _ => {}
            },
            RecordBody::OfferOwnership { member } => {
                if role != Role::Owner {
                    return Err("only the owner offers ownership");
                }
                if self.role_at(member, at) != Some(Role::Admin) {
                    return Err("ownership goes to a current admin");
                }
                // Judged on existence, so that no verdict depends on another's.
                if ctx.ix.offers.iter().any(|&o| ctx.dag.concurrent(o, i)) {
                    return Err("concurrent ownership offers void each other");
                }
            }
            RecordBody::AcceptOwnership { .. } => self.check_acceptance(i, x)?,
            RecordBody::WithdrawOwnership { .. } => {
                let Some((_, old, _)) = self.offer_of(i) else {
                    return Err("withdrawal of an unknown offer");
                };
                if old != x || role != Role::Owner {
                    return Err("only the owner who offered withdraws");
                }
            }
            RecordBody::EntryRevision(rev) => {
                let e = rev.entry;
                match rev.prev {
                    None => {
                        if !entry_bound_to(&e, &x) {
                            return Err("entry id not bound to its creator");
                        }
                        let list = ctx.ix.revisions.get(&e).map_or(&[][..], Vec::as_slice);
                        if list.iter().any(|&c| ctx.dag.is_ancestor(c, i)) {
                            return Err("entry id already used");
                        }
                        // Any member creates entries, and names their writers.
                        return Ok(());
                    }
                    Some(prev) => {
                        let Some(&p) = ctx.index.get(&prev) else {
                            return Err("revision of an unknown revision");
                        };
                        if !ctx.dag.is_ancestor(p, i) {
                            return Err("revision of a revision that is not an ancestor");
                        }
                        let same = matches!(&ctx.records[p].record.body,
                            RecordBody::EntryRevision(r) if r.entry == e);
                        if !same {
                            return Err("revision of another entry");
                        }
                    }
                }
                if admin {
                    return Ok(());
                }
                self.check_writer(i, x, &e, rev)?;
            }
        }
        Ok(())
    }

    /// A writer's revision: a write right at its parents that no counted concurrent
    /// change by an admin takes away, and the writers list left as it was.
    fn check_writer(
        &mut self,
        i: usize,
        x: MemberId,
        e: &EntryId,
        rev: &crate::format::EntryRevision,
    ) -> Result<(), &'static str> {
        let writers = self
            .writers_at(e, Some(i))
            .ok_or("revision of an entry that does not exist at its parents")?;
        let grants = self.write_grants(i, x, &writers);
        if grants.is_empty() {
            return Err("author may not write this entry at its parents");
        }
        if let EntryContent::Sealed(s) = &rev.content {
            let mine: BTreeSet<Principal> = s.writers.iter().copied().collect();
            if mine != writers {
                return Err("only an admin changes an entry's writers");
            }
        }
        self.keep_write_right(i, x, e, grants)
    }

    /// A review of entry `e` (issue 13) counts from an admin, or from a writer by the
    /// same rule as a writer's revision: a write right at its parents that no counted
    /// concurrent change takes away. So a writer removed since cannot back-date a
    /// review onto the parents where they still wrote.
    fn check_reviewer(
        &mut self,
        i: usize,
        x: MemberId,
        e: &EntryId,
        admin: bool,
    ) -> Result<(), &'static str> {
        let writers = self
            .writers_at(e, Some(i))
            .ok_or("review of an entry that does not exist at its parents")?;
        if admin {
            return Ok(());
        }
        let grants = self.write_grants(i, x, &writers);
        if grants.is_empty() {
            return Err("only an admin or a writer of the entry reviews it");
        }
        self.keep_write_right(i, x, e, grants)
    }

    /// The principals among `writers` through which `x` may write at record `i`'s
    /// parents: `x` itself, or a group `x` is in there.
    fn write_grants(
        &mut self,
        i: usize,
        x: MemberId,
        writers: &BTreeSet<Principal>,
    ) -> Vec<Principal> {
        let mut grants = Vec::new();
        for p in writers {
            let grants_me = match p {
                Principal::Member(m) => *m == x,
                Principal::Group(g) => self.in_group_at(g, &x, Some(i)),
            };
            if grants_me {
                grants.push(*p);
            }
        }
        grants
    }

    /// Whether some of `x`'s write `grants` on `e` survive the counted changes
    /// concurrent with record `i`: an admin's revision that drops them from the writers,
    /// or a removal of `x` from the group that grants them.
    fn keep_write_right(
        &mut self,
        i: usize,
        x: MemberId,
        e: &EntryId,
        mut grants: Vec<Principal>,
    ) -> Result<(), &'static str> {
        let ctx = self.ctx;
        for &c in ctx.ix.revisions.get(e).into_iter().flatten() {
            if ctx.dag.concurrent(c, i) && self.counts_as_admin(c) {
                let theirs = writers_of(&ctx.records[c]);
                let before = grants.len();
                grants.retain(|p| theirs.contains(p));
                if grants.len() < before {
                    self.cause[i] = Some(c);
                }
            }
        }
        for &c in ctx.ix.group_removes_of.get(&x).into_iter().flatten() {
            if ctx.dag.concurrent(c, i)
                && self.outranks_target(c)
                && self.counted_revoker(c).is_some()
                && let RecordBody::RemoveGroupMember { group, .. } = self.body(c)
            {
                let g = Principal::Group(*group);
                if grants.contains(&g) {
                    self.cause[i] = Some(c);
                }
                grants.retain(|p| *p != g);
            }
        }
        if grants.is_empty() {
            return Err("concurrent with a change that took away its author's write right");
        }
        Ok(())
    }

    /// The final state: the replay of every counted record.
    fn state_of_all(&mut self, genesis: &crate::format::Genesis) -> Resolution {
        let ctx = self.ctx;
        let n = ctx.records.len();
        // Members.
        let mut members = BTreeMap::new();
        let mut ids: Vec<&MemberId> = ctx.ix.adds.keys().collect();
        ids.sort();
        for x in ids {
            let adds = &ctx.ix.adds[x];
            // Two counted adds of one id (only a hostile admin copies an id): the one
            // with the smallest record id names them, whatever the order.
            let mut counted_adds = Vec::new();
            for &c in adds {
                if self.counted(c).is_some() {
                    counted_adds.push(c);
                }
            }
            let Some(&first) = counted_adds.iter().min_by_key(|&&c| ctx.records[c].id) else {
                continue;
            };
            let name = match self.body(first) {
                RecordBody::Genesis(g) => g.owner_name.clone(),
                RecordBody::AddMember(a) => a.name.clone(),
                _ => continue,
            };
            let active = self.member_at(x, None);
            let role = self
                .role_at(x, None)
                .or_else(|| self.role_of_record(first, x))
                .unwrap_or(Role::Member);
            let current = self.key_at(x, None);
            let keys = current
                .or_else(|| self.keys_of_record(first))
                .unwrap_or(genesis.owner_keys);
            members.insert(
                *x,
                Member {
                    id: *x,
                    name,
                    keys,
                    role,
                    active,
                    key_current: current.is_some(),
                },
            );
        }
        // Group key versions, then the wraps given later (a join, a promotion) to the
        // version(s) latest at that record's parents.
        let mut group_keys: HashMap<RecordId, GroupKeyVersion> = HashMap::new();
        let mut gids: Vec<&GroupId> = ctx.ix.group_keys.keys().collect();
        gids.sort();
        for g in &gids {
            for &c in &ctx.ix.group_keys[*g] {
                if self.counted(c).is_none() {
                    continue;
                }
                let key = match self.body(c) {
                    RecordBody::CreateGroup { key, .. }
                    | RecordBody::RemoveGroupMember { key, .. }
                    | RecordBody::RotateGroupKey(key) => key,
                    _ => continue,
                };
                let key = key.clone();
                let holders = key
                    .wraps
                    .iter()
                    .map(|w| (w.member, self.wrap_key(&w.member, c)))
                    .collect();
                group_keys.insert(
                    ctx.records[c].id,
                    GroupKeyVersion {
                        group: key.group,
                        commitment: key.commitment,
                        public: key.public,
                        wraps: key.wraps,
                        holders,
                    },
                );
            }
        }
        let mut late_wraps: Vec<(GroupId, usize, MemberWrap)> = Vec::new();
        for adds in ctx.ix.group_adds.values() {
            for &c in adds {
                if let RecordBody::AddGroupMember { group, wrap, .. } = self.body(c) {
                    late_wraps.push((*group, c, wrap.clone()));
                }
            }
        }
        for &c in &ctx.ix.admin_wraps {
            let wrap = match self.body(c) {
                RecordBody::AddMember(a) => a.admin_wrap.clone(),
                RecordBody::ChangeRole { admin_wrap, .. } => admin_wrap.clone(),
                _ => None,
            };
            if let Some(w) = wrap {
                late_wraps.push((ADMINS_GROUP, c, w));
            }
        }
        late_wraps.sort_by_key(|(_, c, _)| ctx.records[*c].id);
        let mut void_wraps = Vec::new();
        for (group, c, wrap) in late_wraps {
            let list = ctx.ix.group_keys.get(&group).map_or(&[][..], Vec::as_slice);
            let versions = self.latest(list, Some(c));
            if self.counted(c).is_none() {
                if !matches!(ctx.sig[c], Sig::Bad) {
                    void_wraps.push((versions, c, wrap));
                }
                continue;
            }
            let key = self.wrap_key(&wrap.member, c);
            for v in versions {
                if let Some(version) = group_keys.get_mut(&ctx.records[v].id) {
                    version.wraps.push(wrap.clone());
                    version.holders.push((wrap.member, key));
                }
            }
        }
        // Key hygiene: a void record still hands its wrap to its recipient when its
        // author held the version (and could seal it); repeated until nothing changes,
        // since a recipient may pass it on in turn.
        loop {
            let mut grew = false;
            for (versions, c, wrap) in &void_wraps {
                let author = ctx.records[*c].record.author;
                let key = self.wrap_key(&wrap.member, *c);
                for v in versions {
                    let Some(version) = group_keys.get_mut(&ctx.records[*v].id) else {
                        continue;
                    };
                    let held = version.holders.iter().any(|(h, _)| *h == author);
                    if held && !version.holders.contains(&(wrap.member, key)) {
                        version.holders.push((wrap.member, key));
                        grew = true;
                    }
                }
            }
            if !grew {
                break;
            }
        }
        // Groups.
        let mut groups = BTreeMap::new();
        let mut conflicted = BTreeSet::new();
        for g in gids {
            let list = &ctx.ix.group_keys[g];
            let latest = self.latest(list, None);
            // Concurrent latest versions: flagged; the largest record id is named.
            let Some(&key) = latest.iter().max_by_key(|&&c| ctx.records[c].id) else {
                continue;
            };
            if latest.len() > 1 {
                conflicted.insert(*g);
            }
            let (name, members_of) = if *g == ADMINS_GROUP {
                let admins = members
                    .values()
                    .filter(|m: &&Member| m.active && m.role.is_admin())
                    .map(|m| m.id)
                    .collect();
                ("admins".to_string(), admins)
            } else {
                let creates = ctx.ix.group_creates.get(g).map_or(&[][..], Vec::as_slice);
                let mut counted_creates = Vec::new();
                for &c in creates {
                    if self.counted(c).is_some() {
                        counted_creates.push(c);
                    }
                }
                let Some(&first) = counted_creates.iter().min_by_key(|&&c| ctx.records[c].id)
                else {
                    continue;
                };
                let RecordBody::CreateGroup { name, .. } = self.body(first) else {
                    continue;
                };
                let mut candidates: Vec<MemberId> = ctx
                    .ix
                    .group_adds
                    .keys()
                    .filter(|(gg, _)| gg == g)
                    .map(|(_, m)| *m)
                    .collect();
                candidates.sort();
                let mut set = BTreeSet::new();
                for m in candidates {
                    if self.in_group_at(g, &m, None) {
                        set.insert(m);
                    }
                }
                (name.clone(), set)
            };
            groups.insert(
                *g,
                Group {
                    id: *g,
                    name,
                    members: members_of,
                    key_id: ctx.records[key].id,
                },
            );
        }
        // Entries.
        let mut heads = HashMap::with_capacity(ctx.ix.revisions.len());
        for (e, list) in &ctx.ix.revisions {
            let mut latest = self.latest(list, None);
            if !latest.is_empty() {
                latest.sort_unstable();
                heads.insert(*e, latest);
            }
        }
        let mut role = Vec::with_capacity(n);
        let mut ignored = Vec::new();
        for (i, s) in self.state.iter().enumerate() {
            match s {
                State::Counted(r) => role.push(Some(*r)),
                State::Void(reason) => {
                    role.push(None);
                    let cause = self.cause[i]
                        .filter(|_| voided_by_concurrency(reason))
                        .map(|c| ctx.records[c].id);
                    ignored.push(Ignored {
                        record: ctx.records[i].id,
                        reason,
                        cause,
                    });
                }
                State::Unknown | State::Busy => {
                    role.push(None);
                    ignored.push(Ignored {
                        record: ctx.records[i].id,
                        reason: "not resolved",
                        cause: None,
                    });
                }
            }
        }
        Resolution {
            dag: Ancestry::default(),
            role,
            ignored,
            members,
            groups,
            group_keys,
            heads,
            conflicted,
            sig: Vec::new(),
            signer: std::mem::take(&mut self.signer),
            cycles: 0,
            owner: self.owner_at(None),
            memo: Memo::default(),
        }
    }
}
