//! Regression tests for issue 9's findings: records crafted and signed the way a
//! member, a departed member or a demoted admin could, with an old copy of the vault,
//! chosen times and ground ids. Each asserts the defence, not just "no panic".

#![allow(clippy::unwrap_used)]

use super::*;
use crate::crypto::SecretString;
use crate::format::{AuditEvent, EventKind, Principal};
use crate::identity::Identity;

pub(super) fn person(name: &str) -> Identity {
    Identity::generate(name).unwrap()
}

/// A record by `who` as `author` on `parents`, at `time`, signed with `who`'s key.
pub(super) fn signed(
    who: &Identity,
    author: MemberId,
    mut parents: Vec<RecordId>,
    time: u64,
    body: RecordBody,
) -> StoredRecord {
    parents.sort();
    parents.dedup();
    // The decoder refuses more (a structural limit, not a rule): stay within it.
    parents.truncate(format::MAX_PARENTS);
    let record = Record {
        parents,
        author,
        time,
        body,
    };
    let (bytes, id) = StoredRecord::encode(record.clone()).unwrap();
    let signature = who.signing.sign(crypto::SIGNATURE_LABEL, &bytes);
    StoredRecord {
        bytes,
        record,
        signature,
        id,
    }
}

/// `v` plus `new` records (those it does not hold), decoded from bytes.
pub(super) fn with(v: &Vault, new: Vec<StoredRecord>) -> Vault {
    let mut file = v.file.clone();
    let mut seen = std::collections::HashSet::new();
    let new: Vec<StoredRecord> = new
        .into_iter()
        .filter(|r| !v.contains(&r.id) && seen.insert(r.id))
        .collect();
    file.append(new);
    Vault::decode(&file.encode()).unwrap()
}

fn id_of(v: &Vault, name: &str) -> MemberId {
    v.members.values().find(|m| m.name == name).unwrap().id
}

fn draft(path: &str, password: &str, writers: Vec<Principal>) -> EntryDraft {
    let mut payload = EntryPayload::default();
    payload.path = path.into();
    payload.password = SecretString::new(password.into());
    payload.write_grants = writers;
    EntryDraft {
        payload,
        share_with: vec![],
    }
}

/// An edit through the library, as `edit` makes it (a new password clears the
/// rotate-at-source flag); returns the new revision's id.
pub(super) fn edit(
    v: &mut Vault,
    who: &Identity,
    path: &str,
    change: impl FnOnce(&mut EntryPayload),
) -> RecordId {
    let s = v.session(who).unwrap();
    let e = s.open(path).unwrap();
    let mut payload = e.payload.clone();
    change(&mut payload);
    let body = s
        .revise_entry(
            &e,
            &EntryDraft {
                payload,
                share_with: s.shared_with(&e),
            },
        )
        .unwrap();
    v.append(who, vec![body]).unwrap()[0]
}

fn add_entry(v: &mut Vault, who: &Identity, d: EntryDraft) {
    let body = v.session(who).unwrap().create_entry(&d).unwrap();
    v.append(who, vec![body]).unwrap();
}

fn password(v: &Vault, who: &Identity, path: &str) -> String {
    let e = v.session(who).unwrap().open(path).unwrap();
    e.payload.password.expose().to_string()
}

struct Team {
    v: Vault,
    alice: Identity,
    bob: Identity,
    mallory: Identity,
    carol: Identity,
    dave: Identity,
}

/// alice owns; bob and mallory are admins; carol and dave are members; @devops holds
/// carol; `ops/db` is shared with @devops, written by alice.
fn team() -> Team {
    let (alice, bob, mallory, carol, dave) = (
        person("alice"),
        person("bob"),
        person("mallory"),
        person("carol"),
        person("dave"),
    );
    let mut v = Vault::create(&alice, "acme").unwrap();
    v.add_member(&alice, "bob", bob.keys, Role::Admin).unwrap();
    v.add_member(&alice, "mallory", mallory.keys, Role::Admin)
        .unwrap();
    v.add_member(&alice, "carol", carol.keys, Role::Member)
        .unwrap();
    v.add_member(&alice, "dave", dave.keys, Role::Member)
        .unwrap();
    let devops = v.create_group(&alice, "devops", &["carol".into()]).unwrap();
    let mut d = draft("ops/db", "original", vec![]);
    d.share_with = vec![Principal::Group(devops)];
    add_entry(&mut v, &alice, d);
    Team {
        v,
        alice,
        bob,
        mallory,
        carol,
        dave,
    }
}

fn head_of(v: &Vault, who: &Identity, path: &str) -> OpenEntry {
    v.session(who).unwrap().open(path).unwrap()
}

/// A revision of `entry` sealed by `who` through the library, wrapped as they choose.
fn forged_revision(
    v: &Vault,
    who: &Identity,
    entry: &OpenEntry,
    password: &str,
    share_with: Vec<Principal>,
    writers: Vec<Principal>,
) -> RecordBody {
    let s = v.session(who).unwrap();
    let mut d = draft(&entry.payload.path, password, writers);
    d.share_with = share_with;
    s.seal(entry.id, Some(entry.revision), &d).unwrap()
}

#[test]
fn finding_1_a_removed_admin_cannot_undo_her_removal_even_grinding_ids() {
    let Team {
        mut v,
        alice,
        bob,
        mallory,
        ..
    } = team();
    let old = v.clone();
    v.revoke_member(&alice, "mallory", &mut |_, _| {}).unwrap();
    let (m_id, b_id) = (id_of(&v, "mallory"), id_of(&v, "bob"));
    // Ground: every time (so every id) on her pre-removal heads.
    for t in 0..300 {
        for body in [
            RecordBody::RemoveMember { member: b_id },
            RecordBody::ChangeRole {
                member: b_id,
                role: Role::Member,
                admin_wrap: None,
            },
        ] {
            let r = signed(&mallory, m_id, old.heads(), t, body);
            let m = with(&v, vec![r.clone()]);
            assert!(!m.counts(&r.id), "time {t}");
            assert!(m.member_named("bob").unwrap().role == Role::Admin);
            assert!(m.member_named("mallory").is_err());
        }
    }
    // Her back-dated puppet is not a member either.
    let puppet = person("puppet");
    let r = signed(
        &mallory,
        m_id,
        old.heads(),
        1,
        RecordBody::AddMember(format::AddMember {
            member: MemberId([0x66; 16]),
            name: "puppet".into(),
            keys: puppet.keys,
            role: Role::Member,
            admin_wrap: None,
        }),
    );
    let m = with(&v, vec![r.clone()]);
    assert!(!m.counts(&r.id));
    assert!(m.member_named("puppet").is_err());
    // And two admins can never remove each other: bob's removal of mallory is refused
    // by the API and, crafted, does not count.
    let mut v2 = old.clone();
    assert!(matches!(
        v2.revoke_member(&bob, "mallory", &mut |_, _| {}),
        Err(VaultError::Denied(_))
    ));
    let r = signed(
        &bob,
        b_id,
        old.heads(),
        now(),
        RecordBody::RemoveMember { member: m_id },
    );
    let m = with(&old, vec![r.clone()]);
    assert!(!m.counts(&r.id));
    assert!(m.member_named("mallory").is_ok());
}

#[test]
fn finding_2_a_reader_cannot_overwrite_an_entry() {
    let Team {
        v,
        alice,
        carol,
        dave,
        ..
    } = team();
    let devops = v.group_named("devops").unwrap().id;
    for (who, name) in [(&carol, "carol"), (&dave, "dave")] {
        let me = id_of(&v, name);
        let head = head_of(&v, &alice, "ops/db");
        // R_a wrapped only to the forger, then R_b on it wrapped to everyone.
        let ra = forged_revision(
            &v,
            &alice,
            &head,
            "evil",
            vec![Principal::Member(me)],
            vec![],
        );
        let ra = signed(who, me, v.heads(), now(), ra);
        let with_ra = with(&v, vec![ra.clone()]);
        let fake_head = OpenEntry {
            id: head.id,
            revision: ra.id,
            author: me,
            payload: EntryPayload::default(),
            heads: 1,
            shadowed: Vec::new(),
        };
        let rb = forged_revision(
            &with_ra,
            &alice,
            &fake_head,
            "evil",
            vec![Principal::Group(devops)],
            vec![Principal::Member(me)],
        );
        let rb = signed(who, me, with_ra.heads(), now(), rb);
        let m = with(&with_ra, vec![rb.clone()]);
        assert!(!m.counts(&ra.id) && !m.counts(&rb.id));
        assert_eq!(password(&m, &alice, "ops/db"), "original");
        assert_eq!(head_of(&m, &alice, "ops/db").heads, 1);
        assert_eq!(m.verify().unwrap().ignored.len(), 2);
        // The admin's next edit keeps the real sharing, not the forged one.
        let mut m = m;
        let e = head_of(&m, &alice, "ops/db");
        let s = m.session(&alice).unwrap();
        let share = s.shared_with(&e);
        assert_eq!(share, vec![Principal::Group(devops)]);
        let body = s
            .revise_entry(
                &e,
                &EntryDraft {
                    payload: e.payload.clone(),
                    share_with: share,
                },
            )
            .unwrap();
        drop(s);
        m.append(&alice, vec![body]).unwrap();
        assert!(
            m.writers_of(&head_of(&m, &alice, "ops/db").revision)
                .is_empty()
        );
    }
}

#[test]
fn finding_3_and_4_a_reader_cannot_delete_or_block_an_entry() {
    let Team {
        mut v,
        alice,
        carol,
        ..
    } = team();
    let me = id_of(&v, "carol");
    let head = head_of(&v, &alice, "ops/db");
    let tomb = signed(
        &carol,
        me,
        v.heads(),
        now(),
        RecordBody::EntryRevision(EntryRevision {
            entry: head.id,
            prev: Some(head.revision),
            content: EntryContent::Tombstone,
        }),
    );
    let planted = forged_revision(&v, &alice, &head, "x", vec![Principal::Member(me)], vec![]);
    let planted = signed(&carol, me, v.heads(), now() + 1, planted);
    v = with(&v, vec![tomb.clone(), planted.clone()]);
    assert!(!v.counts(&tomb.id) && !v.counts(&planted.id));
    assert_eq!(password(&v, &alice, "ops/db"), "original");
    // Neither blocks removing carol, nor editing or deleting the entry.
    v.revoke_member(&alice, "carol", &mut |_, _| {}).unwrap();
    let e = head_of(&v, &alice, "ops/db");
    let body = v.session(&alice).unwrap().delete_entry(&e).unwrap();
    v.append(&alice, vec![body]).unwrap();
    assert!(matches!(
        v.session(&alice).unwrap().open("ops/db"),
        Err(VaultError::NotFound(_))
    ));
}

#[test]
fn finding_5_an_invalid_back_dated_roster_record_blocks_nothing() {
    let Team {
        mut v,
        alice,
        bob,
        carol,
        ..
    } = team();
    let old = v.heads();
    v.change_role(&alice, "bob", Role::Member).unwrap();
    let b = id_of(&v, "bob");
    let c = id_of(&v, "carol");
    let bad_key = signed(
        &bob,
        b,
        old.clone(),
        1,
        RecordBody::AddMember(format::AddMember {
            member: MemberId([0x55; 16]),
            name: "zero".into(),
            keys: PublicKeys {
                agreement: [0; 32],
                signing: [0; 32],
            },
            role: Role::Member,
            admin_wrap: None,
        }),
    );
    let bad_change = signed(
        &bob,
        b,
        old,
        1,
        RecordBody::ChangeMemberKeys {
            member: c,
            keys: person("x").keys,
            new_key_signature: vec![0; 64],
        },
    );
    v = with(&v, vec![bad_key.clone(), bad_change.clone()]);
    assert!(!v.counts(&bad_key.id) && !v.counts(&bad_change.id));
    assert_eq!(v.verify().unwrap().ignored.len(), 2);
    assert_eq!(password(&v, &carol, "ops/db"), "original");
    add_entry(&mut v, &alice, draft("ops/new", "n", vec![]));
    v.revoke_member(&alice, "carol", &mut |_, _| {}).unwrap();
    Vault::decode(&v.encode()).unwrap();
}

#[test]
fn finding_6_sixty_five_siblings_block_no_writer() {
    let Team {
        mut v,
        alice,
        carol,
        ..
    } = team();
    let me = id_of(&v, "carol");
    let parents = v.heads();
    let siblings: Vec<StoredRecord> = (0..70)
        .map(|t| {
            signed(
                &carol,
                me,
                parents.clone(),
                t,
                RecordBody::Event(AuditEvent::new(EventKind::Exported, None)),
            )
        })
        .collect();
    v = with(&v, siblings);
    assert_eq!(v.heads().len(), 70);
    add_entry(&mut v, &alice, draft("ops/after", "a", vec![]));
    let v = Vault::decode(&v.encode()).unwrap();
    assert_eq!(v.heads().len(), 1);
    assert!(v.records().iter().all(|r| r.record.parents.len() <= 64));
    assert_eq!(password(&v, &alice, "ops/after"), "a");
}

#[test]
fn finding_7_neither_old_revisions_nor_chosen_times_decide_the_value() {
    let Team {
        mut v,
        alice,
        carol,
        ..
    } = team();
    let c = id_of(&v, "carol");
    let mut d = draft("ops/api", "v1", vec![Principal::Member(c)]);
    d.share_with = vec![Principal::Member(c)];
    add_entry(&mut v, &alice, d);
    let old = v.clone();
    // carol loses her write right.
    let e = head_of(&v, &alice, "ops/api");
    let body = v
        .session(&alice)
        .unwrap()
        .revise_entry(&e, &draft("ops/api", "v2", vec![]))
        .unwrap();
    v.append(&alice, vec![body]).unwrap();
    // From her old copy she forks the old revision, dated 2099.
    let old_head = head_of(&old, &carol, "ops/api");
    let body = forged_revision(
        &old,
        &carol,
        &old_head,
        "carol's",
        vec![],
        vec![Principal::Member(c)],
    );
    let fork = signed(&carol, c, old.heads(), 4_070_908_800, body);
    let m = with(&v, vec![fork.clone()]);
    assert!(!m.counts(&fork.id));
    assert_eq!(password(&m, &alice, "ops/api"), "v2");
    // A writer's valid concurrent edit dated 2099 does not win over the admin's either:
    // the value is chosen by rank, never by time.
    let mut w = old.clone();
    add_entry(&mut w, &alice, draft("ops/other", "o", vec![]));
    let e = head_of(&old, &carol, "ops/api");
    let body = forged_revision(
        &old,
        &carol,
        &e,
        "carol's",
        vec![],
        vec![Principal::Member(c)],
    );
    let edit = signed(&carol, c, old.heads(), 4_070_908_800, body);
    let admin_edit = {
        let mut a = old.clone();
        let e = head_of(&a, &alice, "ops/api");
        let body = a
            .session(&alice)
            .unwrap()
            .revise_entry(&e, &draft("ops/api", "alice's", vec![Principal::Member(c)]))
            .unwrap();
        a.append(&alice, vec![body]).unwrap();
        a
    };
    let m = with(&admin_edit, vec![edit.clone()]);
    assert!(m.counts(&edit.id));
    let shown = head_of(&m, &alice, "ops/api");
    assert_eq!(shown.heads, 2);
    assert_eq!(shown.payload.password.expose(), "alice's");
    // Later records are stamped with the writer's clock, not the future parent's.
    let mut m = m;
    let ids = m
        .append(
            &alice,
            vec![RecordBody::Event(AuditEvent::new(
                EventKind::Reviewed,
                None,
            ))],
        )
        .unwrap();
    let newest = m.records().iter().find(|r| r.id == ids[0]).unwrap();
    assert!(newest.record.time <= now() + 5);
    drop(w);
}

#[test]
fn a_plain_members_removal_silences_no_one() {
    let Team { v, carol, dave, .. } = team();
    let (c, d) = (id_of(&v, "carol"), id_of(&v, "dave"));
    let rm = signed(
        &carol,
        c,
        v.heads(),
        now(),
        RecordBody::RemoveMember { member: d },
    );
    let m = with(&v, vec![rm.clone()]);
    assert!(!m.counts(&rm.id));
    let ev = signed(
        &dave,
        d,
        m.heads(),
        now(),
        RecordBody::Event(AuditEvent::new(EventKind::Exported, None)),
    );
    let m = with(&m, vec![ev.clone()]);
    assert!(m.counts(&ev.id));
    assert!(m.member_named("dave").unwrap().active);
}

#[test]
fn only_the_owner_touches_admins() {
    let Team { v, bob, .. } = team();
    let (b, c) = (id_of(&v, "bob"), id_of(&v, "carol"));
    let promote = signed(
        &bob,
        b,
        v.heads(),
        now(),
        RecordBody::ChangeRole {
            member: c,
            role: Role::Admin,
            admin_wrap: None,
        },
    );
    let m = with(&v, vec![promote.clone()]);
    assert!(!m.counts(&promote.id));
    assert_eq!(m.member_named("carol").unwrap().role, Role::Member);
    let mut v = v;
    assert!(v.change_role(&bob, "carol", Role::Admin).is_err());
}

#[test]
fn a_demoted_admin_keeps_the_edits_she_may_still_make() {
    let Team {
        mut v, alice, bob, ..
    } = team();
    let b = id_of(&v, "bob");
    add_entry(
        &mut v,
        &alice,
        draft("ops/bob", "1", vec![Principal::Member(b)]),
    );
    v.change_role(&alice, "bob", Role::Member).unwrap();
    let e = head_of(&v, &bob, "ops/bob");
    let body = v
        .session(&bob)
        .unwrap()
        .revise_entry(&e, &draft("ops/bob", "2", vec![Principal::Member(b)]))
        .unwrap();
    let ids = v.append(&bob, vec![body]).unwrap();
    assert!(v.counts(&ids[0]));
    assert_eq!(password(&v, &alice, "ops/bob"), "2");
}

#[test]
fn an_admins_key_replacement_beats_the_members_concurrent_one() {
    let Team { v, bob, carol, .. } = team();
    let c = id_of(&v, "carol");
    let b = id_of(&v, "bob");
    let (k1, k2) = (person("carol1"), person("carol2"));
    let vid = v.id();
    let proof = |k: &Identity| {
        k.signing
            .sign(KEY_CHANGE_LABEL, &key_change_message(&vid, &c, &k.keys))
            .to_vec()
    };
    let mine = signed(
        &carol,
        c,
        v.heads(),
        now(),
        RecordBody::ChangeMemberKeys {
            member: c,
            keys: k1.keys,
            new_key_signature: proof(&k1),
        },
    );
    let admin = signed(
        &bob,
        b,
        v.heads(),
        now(),
        RecordBody::ChangeMemberKeys {
            member: c,
            keys: k2.keys,
            new_key_signature: proof(&k2),
        },
    );
    let m = with(&v, vec![mine.clone(), admin.clone()]);
    assert!(m.counts(&admin.id));
    assert!(!m.counts(&mine.id));
    assert_eq!(m.member_named("carol").unwrap().keys, k2.keys);
    assert!(m.member_named("carol").unwrap().key_current);
}

#[test]
fn an_entry_id_is_bound_to_its_creator() {
    let Team {
        v, alice, carol, ..
    } = team();
    let c = id_of(&v, "carol");
    // carol re-creates alice's entry id on old heads: it is not hers to create.
    let e = head_of(&v, &alice, "ops/db");
    let s = v.session(&carol).unwrap();
    let body = s
        .seal(
            e.id,
            None,
            &draft("ops/db", "squat", vec![Principal::Member(c)]),
        )
        .unwrap();
    drop(s);
    let genesis = v.records()[0].id;
    let r = signed(&carol, c, vec![genesis], now(), body);
    let m = with(&v, vec![r.clone()]);
    assert!(!m.counts(&r.id));
    assert_eq!(password(&m, &alice, "ops/db"), "original");
}

// ---------------------------------------------------------------------------------------
// Ownership hand-over

#[test]
fn ownership_moves_by_offer_and_acceptance() {
    let Team {
        mut v, alice, bob, ..
    } = team();
    assert!(v.accept_ownership(&bob).is_err(), "no offer yet");
    v.change_role(&alice, "bob", Role::Owner).unwrap();
    assert_eq!(v.owner(), id_of(&v, "alice"), "an offer moves nothing");
    v.accept_ownership(&bob).unwrap();
    assert_eq!(v.owner(), id_of(&v, "bob"));
    assert_eq!(v.member_named("alice").unwrap().role, Role::Admin);
    assert_eq!(v.member_named("bob").unwrap().role, Role::Owner);
    // Exactly one owner; the new owner touches admins, the old one no longer does.
    assert_eq!(
        v.members()
            .filter(|m| m.active && m.role == Role::Owner)
            .count(),
        1
    );
    assert!(v.revoke_member(&alice, "mallory", &mut |_, _| {}).is_err());
    v.change_role(&bob, "alice", Role::Member).unwrap();
    assert_eq!(v.member_named("alice").unwrap().role, Role::Member);
    let v = Vault::decode(&v.encode()).unwrap();
    assert!(v.verify().unwrap().ignored.is_empty());
}

#[test]
fn an_offer_racing_a_removal_of_the_nominee_moves_nothing() {
    let Team {
        mut v, alice, bob, ..
    } = team();
    v.change_role(&alice, "bob", Role::Owner).unwrap();
    let before = v.clone();
    // bob accepts on one copy; alice, not having seen it, removes bob on another.
    let mut accepted = before.clone();
    accepted.accept_ownership(&bob).unwrap();
    let mut removed = before.clone();
    removed
        .revoke_member(&alice, "bob", &mut |_, _| {})
        .unwrap();
    let m = with(&removed, accepted.records().to_vec());
    assert_eq!(m.owner(), id_of(&m, "alice"));
    assert!(m.member_named("bob").is_err(), "the removal counts");
    assert_eq!(m.counted_acceptances().len(), 0);
}

#[test]
fn concurrent_offers_void_each_other_and_old_owner_records_concurrent_with_acceptance_are_void() {
    let Team {
        mut v,
        alice,
        bob,
        mallory,
        ..
    } = team();
    let (b, m_id) = (id_of(&v, "bob"), id_of(&v, "mallory"));
    let a = id_of(&v, "alice");
    let heads = v.heads();
    let o1 = signed(
        &alice,
        a,
        heads.clone(),
        now(),
        RecordBody::OfferOwnership { member: b },
    );
    let o2 = signed(
        &alice,
        a,
        heads,
        now(),
        RecordBody::OfferOwnership { member: m_id },
    );
    let both = with(&v, vec![o1.clone(), o2.clone()]);
    assert!(!both.counts(&o1.id) && !both.counts(&o2.id));
    // A completed hand-over: alice's owner-only record on the heads before the
    // acceptance (demoting mallory) is void; her admin-level one counts.
    v.change_role(&alice, "bob", Role::Owner).unwrap();
    let before = v.heads();
    v.accept_ownership(&bob).unwrap();
    let demote = signed(
        &alice,
        a,
        before.clone(),
        now(),
        RecordBody::ChangeRole {
            member: m_id,
            role: Role::Member,
            admin_wrap: None,
        },
    );
    let event = signed(
        &alice,
        a,
        before,
        now(),
        RecordBody::Event(AuditEvent::new(EventKind::Exported, None)),
    );
    let m = with(&v, vec![demote.clone(), event.clone()]);
    assert_eq!(m.owner(), b);
    assert!(!m.counts(&demote.id));
    assert!(m.counts(&event.id));
    assert_eq!(m.member_named("mallory").unwrap().role, Role::Admin);
    let _ = mallory;
}

/// The undo attack: after bob's acceptance was counted here, the old owner's key signs
/// a withdrawal on the heads from before it. Resolution alone would void the
/// acceptance (a pure DAG cannot tell late from concurrent); this machine refuses it
/// like a rollback (exit 6).
#[test]
fn an_old_owners_late_withdrawal_cannot_undo_a_counted_hand_over() {
    use crate::store::{StoreError, VaultStore};
    let Team { v, alice, bob, .. } = team();
    let dir = tempfile::tempdir().unwrap();
    let store = VaultStore::new(dir.path().join("v"), dir.path().join("state"));
    store.create(&v).unwrap();
    store
        .update(|v| -> Result<(), StoreError> {
            v.change_role(&alice, "bob", Role::Owner)?;
            Ok(())
        })
        .unwrap();
    let (offered, _) = store.load().unwrap();
    let offer = offered.ownership_offer_to(&id_of(&offered, "bob")).unwrap();
    let before = offered.heads();
    store
        .update(|v| -> Result<(), StoreError> {
            v.accept_ownership(&bob)?;
            Ok(())
        })
        .unwrap();
    let (accepted, _) = store.load().unwrap();
    assert_eq!(accepted.owner(), id_of(&accepted, "bob"));
    let a = id_of(&accepted, "alice");
    let late = signed(
        &alice,
        a,
        before,
        now(),
        RecordBody::WithdrawOwnership { offer },
    );
    let undone = with(&accepted, vec![late]);
    assert_eq!(undone.owner(), a, "resolution alone voids the acceptance");
    crate::store::write_segment(store.path(), &undone.encode_segment()).unwrap();
    assert!(matches!(
        store.load(),
        Err(StoreError::HandOverUndone { .. })
    ));
}

// ---------------------------------------------------------------------------------------
// What the rule costs: an admin's change concurrent with their demotion is void, and the
// owner adopts it.

#[test]
fn the_owner_adopts_an_admins_change_voided_by_a_concurrent_demotion() {
    let Team {
        mut v,
        alice,
        bob,
        carol,
        ..
    } = team();
    let base = v.clone();
    let mut bobs = base.clone();
    bobs.revoke_member(&bob, "carol", &mut |_, _| {}).unwrap();
    v.change_role(&alice, "bob", Role::Member).unwrap();
    let mut m = with(&v, bobs.records().to_vec());
    assert!(m.member_named("carol").is_ok(), "bob's removal is void");
    let adoptable = m.adoptable();
    let removal = adoptable
        .iter()
        .find(|(id, _)| {
            matches!(
                m.records()
                    .iter()
                    .find(|r| r.id == *id)
                    .map(|r| &r.record.body),
                Some(RecordBody::RemoveMember { .. })
            )
        })
        .map(|(id, reason)| (*id, *reason))
        .unwrap();
    assert!(removal.1.contains("demotion"), "{}", removal.1);
    // Only the owner adopts.
    assert!(m.adopt(&bob, &removal.0).is_err());
    let what = m.adopt(&alice, &removal.0).unwrap();
    assert!(what.contains("carol"));
    assert!(m.member_named("carol").is_err());
    // The re-done revocation re-keyed what carol could read.
    assert!(m.session(&carol).is_err());
    assert!(m.readable_by(&id_of(&m, "carol")).is_empty());
    // A counted record cannot be adopted.
    let head = m.heads()[0];
    assert!(m.adopt(&alice, &head).is_err());
}

/// A revision written concurrently with a removal, readable by the removed member,
/// joins their rotate-at-source list when merged; an edit that keeps the password keeps
/// the flag.
#[test]
fn a_revision_concurrent_with_a_removal_joins_the_rotate_at_source_list() {
    let Team {
        mut v, alice, bob, ..
    } = team();
    let devops = v.group_named("devops").unwrap().id;
    let mut bobs = v.clone();
    v.revoke_member(&alice, "carol", &mut |_, _| {}).unwrap();
    let mut d = draft("ops/new", "fresh", vec![]);
    d.share_with = vec![Principal::Group(devops)];
    add_entry(&mut bobs, &bob, d);
    let mut m = with(&v, bobs.records().to_vec());
    let e = head_of(&m, &alice, "ops/new");
    assert_eq!(m.exposed_to_removed(&e.id), vec![id_of(&m, "carol")]);
    assert!(
        m.exposed_to_removed(&head_of(&m, &alice, "ops/db").id)
            .is_empty()
    );
    // An edit that keeps the password keeps the flag; a new password clears it.
    let body = m
        .session(&alice)
        .unwrap()
        .revise_entry(
            &e,
            &EntryDraft {
                payload: e.payload.clone(),
                share_with: vec![Principal::Group(devops)],
            },
        )
        .unwrap();
    m.append(&alice, vec![body]).unwrap();
    let e = head_of(&m, &alice, "ops/new");
    assert!(e.payload.rotate_at_source);
    assert!(
        m.exposed_to_removed(&e.id).is_empty(),
        "no longer concurrent"
    );
}

/// A writer's revision that the admin cannot open (a broken `@admins` wrap) does not
/// stop a revocation: it re-keys from the newest revision the admin can open.
#[test]
fn a_revision_the_admin_cannot_open_does_not_block_a_revocation() {
    let Team {
        mut v,
        alice,
        carol,
        ..
    } = team();
    let (c, d) = (id_of(&v, "carol"), id_of(&v, "dave"));
    let mut first = draft("ops/w", "v1", vec![Principal::Member(c)]);
    first.share_with = vec![Principal::Member(c), Principal::Member(d)];
    add_entry(&mut v, &alice, first);
    let e = head_of(&v, &carol, "ops/w");
    let mut body = forged_revision(
        &v,
        &carol,
        &e,
        "v2",
        vec![Principal::Member(c), Principal::Member(d)],
        vec![Principal::Member(c)],
    );
    if let RecordBody::EntryRevision(EntryRevision {
        content: EntryContent::Sealed(s),
        ..
    }) = &mut body
    {
        for w in &mut s.wraps {
            if let KeyWrap::GroupPublic { sealed, .. } = w {
                sealed[0] ^= 1;
            }
        }
    }
    let broken = signed(&carol, c, v.heads(), now(), body);
    v = with(&v, vec![broken.clone()]);
    assert!(v.counts(&broken.id), "a writer's revision counts");
    assert!(v.session(&alice).unwrap().open("ops/w").is_err());
    let listed = v.revoke_member(&alice, "dave", &mut |_, _| {}).unwrap();
    assert!(listed.iter().any(|l| l.path == "ops/w"));
    assert_eq!(password(&v, &alice, "ops/w"), "v1");
    assert!(v.readable_by(&d).is_empty());
}

/// A name added twice concurrently: both members exist, the name is ambiguous, and an
/// admin can still remove either by member id (nobody becomes unremovable).
#[test]
fn a_name_added_twice_concurrently_is_ambiguous_and_removable_by_id() {
    let Team { v, alice, .. } = team();
    let (z1, z2) = (person("zed"), person("zed"));
    let mut a = v.clone();
    a.add_member(&alice, "zed", z1.keys, Role::Member).unwrap();
    let mut b = v.clone();
    b.add_member(&alice, "zed", z2.keys, Role::Member).unwrap();
    let mut m = with(&a, b.records().to_vec());
    assert_eq!(
        m.members().filter(|x| x.active && x.name == "zed").count(),
        2
    );
    assert!(matches!(
        m.member_named("zed"),
        Err(VaultError::AmbiguousName { .. })
    ));
    let first = m.member_for(&z1).unwrap().id;
    m.revoke_member(&alice, &first.to_hex()[..12], &mut |_, _| {})
        .unwrap();
    assert!(m.member_for(&z1).is_err());
    assert_eq!(
        m.member_named("zed").unwrap().id,
        m.member_for(&z2).unwrap().id
    );
}

/// Concurrent rotations leave a group with no current key version: writers wrap to its
/// members directly, and the next admin write rotates it again.
#[test]
fn concurrent_rotations_are_settled_by_the_next_admin_write() {
    let Team {
        v,
        alice,
        bob,
        carol,
        ..
    } = team();
    let devops = v.group_named("devops").unwrap().id;
    let rotate = |mut copy: Vault, who: &Identity| {
        let members = copy.group_named("devops").unwrap().members.clone();
        let key = copy.new_group_key(devops, &members).unwrap();
        copy.append(who, vec![RecordBody::RotateGroupKey(key)])
            .unwrap();
        copy
    };
    let a = rotate(v.clone(), &alice);
    let b = rotate(v.clone(), &bob);
    let mut m = with(&a, b.records().to_vec());
    assert!(m.conflicted_groups().any(|g| *g == devops));
    let g = m.group_named("devops").unwrap().clone();
    assert!(m.tainted(&g));
    // A member's write wraps to the group's members directly (and rotates nothing).
    let mut d = draft("ops/by-carol", "c", vec![]);
    d.share_with = vec![Principal::Group(devops)];
    add_entry(&mut m, &carol, d);
    assert!(m.conflicted_groups().any(|g| *g == devops));
    let e = head_of(&m, &carol, "ops/by-carol");
    assert_eq!(password(&m, &alice, "ops/by-carol"), "c");
    assert_eq!(e.payload.password.expose(), "c");
    // An admin's write settles it.
    add_entry(&mut m, &alice, draft("ops/by-alice", "a", vec![]));
    assert!(m.conflicted_groups().next().is_none());
    let g = m.group_named("devops").unwrap().clone();
    assert!(!m.tainted(&g));
    assert_eq!(password(&m, &carol, "ops/by-carol"), "c");
}

/// Key hygiene counts what is out there, not only what counts: a group member's void
/// "add dave to @devops" still hands dave the key, so the group's current version may
/// not be used until an admin rotates it.
#[test]
fn a_void_wrap_by_a_holder_taints_the_group_key() {
    let Team {
        v,
        alice,
        carol,
        dave,
        ..
    } = team();
    let devops = v.group_named("devops").unwrap().clone();
    assert!(!v.tainted(&devops), "a fresh team's groups are clean");
    assert!(!v.tainted(v.groups.get(&ADMINS_GROUP).unwrap()));
    let c = id_of(&v, "carol");
    let d = v.member_named("dave").unwrap().clone();
    let wrap = v
        .wrap_current_group_key(&carol, devops.id, d.id, &d.keys)
        .unwrap();
    let add = signed(
        &carol,
        c,
        v.heads(),
        now(),
        RecordBody::AddGroupMember {
            group: devops.id,
            member: d.id,
            wrap,
        },
    );
    let mut m = with(&v, vec![add.clone()]);
    assert!(!m.counts(&add.id), "only an admin adds to a group");
    let g = m.group_named("devops").unwrap().clone();
    assert!(!g.members.contains(&d.id));
    assert!(
        m.tainted(&g),
        "dave holds @devops's key through the void record"
    );
    // A void wrap by someone who never held the version hands over nothing.
    let forged = signed(
        &dave,
        d.id,
        v.heads(),
        now(),
        RecordBody::AddGroupMember {
            group: devops.id,
            member: d.id,
            wrap: MemberWrap {
                member: d.id,
                enc: [7; 32],
                sealed: vec![7; 48],
            },
        },
    );
    assert!(!with(&v, vec![forged]).tainted(&devops));
    // The admin's next write rotates; dave opens nothing shared with @devops after it.
    add_entry(&mut m, &alice, draft("ops/after", "a", vec![]));
    let g = m.group_named("devops").unwrap().clone();
    assert!(!m.tainted(&g));
    let mut e = draft("ops/later", "secret", vec![]);
    e.share_with = vec![Principal::Group(devops.id)];
    add_entry(&mut m, &alice, e);
    assert_eq!(password(&m, &carol, "ops/later"), "secret");
    assert!(m.session(&dave).unwrap().open("ops/later").is_err());
}

/// A wrap sealed to a key its member no longer has is held by a retired key (a lost
/// laptop): the version is tainted until an admin rotates it.
#[test]
fn a_replaced_key_taints_the_groups_it_held() {
    let Team {
        v, alice, carol, ..
    } = team();
    let c = id_of(&v, "carol");
    let a = id_of(&v, "alice");
    let new = person("carol-new");
    let proof = new
        .signing
        .sign(
            KEY_CHANGE_LABEL,
            &key_change_message(&v.id(), &c, &new.keys),
        )
        .to_vec();
    let change = signed(
        &alice,
        a,
        v.heads(),
        now(),
        RecordBody::ChangeMemberKeys {
            member: c,
            keys: new.keys,
            new_key_signature: proof,
        },
    );
    let mut m = with(&v, vec![change.clone()]);
    assert!(m.counts(&change.id));
    let devops = m.group_named("devops").unwrap().clone();
    assert!(
        m.tainted(&devops),
        "carol's old key holds @devops's version"
    );
    add_entry(&mut m, &alice, draft("ops/after", "a", vec![]));
    let devops = m.group_named("devops").unwrap().clone();
    assert!(!m.tainted(&devops));
    let mut e = draft("ops/later", "secret", vec![]);
    e.share_with = vec![Principal::Group(devops.id)];
    add_entry(&mut m, &alice, e);
    // The version now in use is sealed to carol's new key only: her old key (a lost
    // laptop) opens nothing shared with @devops from here on; her new one does.
    let holders = &m.group_keys[&devops.key_id].holders;
    assert!(holders.contains(&(c, Some(new.keys.agreement))));
    assert!(!holders.contains(&(c, Some(carol.keys.agreement))));
    let mut new = new;
    new.name = "carol".into();
    assert_eq!(password(&m, &new, "ops/later"), "secret");
}

/// Freshness (SECURITY.md item 15): only an admin's heartbeat counts, so a member
/// cannot make a stale copy look fresh.
#[test]
fn a_members_heartbeat_counts_for_nothing() {
    let Team { v, carol, .. } = team();
    let c = id_of(&v, "carol");
    let before = v.newest_heartbeat(now()).unwrap();
    let forged = signed(
        &carol,
        c,
        v.heads(),
        before + 3600,
        RecordBody::Event(format::AuditEvent::new(format::EventKind::Heartbeat, None)),
    );
    let m = with(&v, vec![forged.clone()]);
    assert!(!m.counts(&forged.id));
    assert_eq!(m.newest_heartbeat(now()), Some(before));
    // A member's write adds none; an admin's adds one at most daily.
    let mut m = m;
    add_entry(&mut m, &carol, draft("carol/x", "x", vec![]));
    assert_eq!(m.newest_heartbeat(now()), Some(before));
    assert!(m.staleness(before + 8 * 24 * 3600).is_some());
    assert!(m.staleness(before + 6 * 24 * 3600).is_none());
}

/// Issue 13: a review of an entry counts from an admin or a writer of it, and from no
/// one else; a vault-wide review only from an admin. A writer whose write right an
/// admin took away cannot back-date a review onto the parents where they still wrote.
#[test]
fn a_review_counts_only_from_an_admin_or_a_writer() {
    let Team {
        mut v,
        alice,
        bob,
        carol,
        dave,
        ..
    } = team();
    let (b, c, d) = (id_of(&v, "bob"), id_of(&v, "carol"), id_of(&v, "dave"));
    let db = head_of(&v, &alice, "ops/db").id;
    let review = |e| RecordBody::Event(AuditEvent::reviewed(e, Some("still used".into())));
    // carol reads ops/db through @devops but may not write it; dave cannot even read.
    let by_carol = signed(&carol, c, v.heads(), now(), review(Some(db)));
    let by_dave = signed(&dave, d, v.heads(), now(), review(Some(db)));
    let by_bob = signed(&bob, b, v.heads(), now(), review(Some(db)));
    let whole_by_carol = signed(&carol, c, v.heads(), now(), review(None));
    let whole_by_bob = signed(&bob, b, v.heads(), now(), review(None));
    let unknown = signed(&bob, b, v.heads(), now(), review(Some(EntryId([7; 16]))));
    let m = with(
        &v,
        vec![
            by_carol.clone(),
            by_dave.clone(),
            by_bob.clone(),
            whole_by_carol.clone(),
            whole_by_bob.clone(),
            unknown.clone(),
        ],
    );
    assert!(!m.counts(&by_carol.id) && !m.counts(&by_dave.id));
    assert!(!m.counts(&whole_by_carol.id) && !m.counts(&unknown.id));
    assert!(m.counts(&by_bob.id) && m.counts(&whole_by_bob.id));
    let ignored = m.verify().unwrap().ignored;
    assert_eq!(ignored.len(), 4, "verify lists each void review");

    // Once carol may write ops/db (through @devops), her review counts.
    v.share(
        &alice,
        "ops/db",
        Principal::Group(m.group_named("devops").unwrap().id),
        true,
    )
    .unwrap();
    let before_drop = v.heads();
    let writer_review = signed(&carol, c, v.heads(), now(), review(Some(db)));
    let m = with(&v, vec![writer_review.clone()]);
    assert!(m.counts(&writer_review.id));
    let reviews = m.reviews();
    let mine = reviews
        .iter()
        .find(|r| r.record == writer_review.id)
        .unwrap();
    assert_eq!((mine.entry, mine.author), (Some(db), c));
    assert_eq!(mine.note.as_deref(), Some("still used"));

    // alice takes the write right away; carol back-dates a review onto the old heads:
    // concurrent with the change that took her right, it is void.
    edit(&mut v, &alice, "ops/db", |p| p.write_grants.clear());
    let late = signed(&carol, c, before_drop, now() + 3600, review(Some(db)));
    let m = with(&v, vec![late.clone()]);
    assert!(
        !m.counts(&late.id),
        "a back-dated review after losing the right"
    );
    let after = signed(&carol, c, v.heads(), now(), review(Some(db)));
    assert!(!with(&v, vec![after.clone()]).counts(&after.id));
}

/// A review note is text shown on terminals: 1 to 1000 bytes, no control characters;
/// the decoder refuses anything else, and a review without a note encodes as before.
#[test]
fn a_review_note_is_checked_while_decoding() {
    let Team { v, bob, .. } = team();
    let b = id_of(&v, "bob");
    for (note, ok) in [
        ("fine", true),
        ("x".repeat(format::MAX_NOTE_LEN).as_str(), true),
        ("x".repeat(format::MAX_NOTE_LEN + 1).as_str(), false),
        ("line\nbreak", false),
        ("esc\u{1b}[2J", false),
    ] {
        let mut event = AuditEvent::reviewed(None, None);
        event.note = Some(note.to_string());
        let r = signed(&bob, b, v.heads(), now(), RecordBody::Event(event));
        let mut file = v.file.clone();
        file.append(vec![r]);
        assert_eq!(Vault::decode(&file.encode()).is_ok(), ok, "{note:?}");
    }
    let plain = StoredRecord::encode(Record {
        parents: vec![],
        author: b,
        time: 1,
        body: RecordBody::Event(AuditEvent::reviewed(None, Some(String::new()))),
    })
    .unwrap()
    .0;
    let old = StoredRecord::encode(Record {
        parents: vec![],
        author: b,
        time: 1,
        body: RecordBody::Event(AuditEvent::new(EventKind::Reviewed, None)),
    })
    .unwrap()
    .0;
    assert_eq!(
        plain, old,
        "an empty note is no note: wire kind 0 as before"
    );
}
