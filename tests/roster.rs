//! Forgeries against the roster and the team key hierarchy, built with the library
//! (SECURITY.md items 2–4, 13, 17; DESIGN.md "One signed record DAG", "Key hierarchy
//! and sharing", "Revocation"): forged, reordered, duplicated and truncated records,
//! substituted public keys, entries whose wraps disagree, back-dated records by a
//! removed admin, concurrent group-key rotations, and what a revoked member can still
//! unwrap with every old copy of the vault.
//!
//! Identities are `Identity::generate` (no KDF); a few checks go through the binary
//! (`amanat verify`, refused admin commands) with the hermetic harness.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use amanat::crypto::{self, HpkeWrapped, SIGNATURE_LABEL, SecretString, SymmetricKey};
use amanat::forge;
use amanat::format::{
    self, ADMINS_GROUP, EntryContent, EntryId, EntryPayload, EntryRevision, FormatError, GroupId,
    GroupKeyUpdate, KeyWrap, MemberId, MemberWrap, Principal, Record, RecordBody, RecordId, Role,
    SealedEntry, StoredRecord, VaultFile,
};
use amanat::identity::Identity;
use amanat::store::{PinStatus, StoreError, VaultStore};
use amanat::vault::{EntryDraft, Vault, VaultError};
use common::{TestEnv, set_vault_bytes, vault_state};

// ---------------------------------------------------------------------------------------
// Helpers

fn person(name: &str) -> Identity {
    Identity::generate(name).unwrap()
}

fn file_of(v: &Vault) -> VaultFile {
    VaultFile::decode(&v.encode()).unwrap()
}

fn sign(record: Record, signer: &Identity) -> StoredRecord {
    forge::sign(record, &signer.signing)
}

/// A record by `author` on `parents` (sorted here), signed by `signer`, dated after
/// every record of `file`.
fn forge(
    file: &VaultFile,
    mut parents: Vec<RecordId>,
    author: MemberId,
    body: RecordBody,
    signer: &Identity,
) -> StoredRecord {
    parents.sort();
    parents.dedup();
    let time = file
        .records()
        .iter()
        .map(|r| r.record().time())
        .max()
        .unwrap()
        + 1;
    sign(forge::record(parents, author, time, body), signer)
}

/// `file` plus `extra`, in canonical order, as bytes.
fn with(file: &VaultFile, extra: Vec<StoredRecord>) -> Vec<u8> {
    let mut f = file.clone();
    f.append(extra);
    f.encode()
}

/// Records in exactly this order (no re-sorting), as bytes.
fn raw(vault_id: RecordId, records: Vec<StoredRecord>) -> Vec<u8> {
    forge::vault_file(vault_id, records).encode()
}

fn add_member_body(name: &str, keys: format::PublicKeys) -> RecordBody {
    RecordBody::AddMember(forge::add_member(
        MemberId(crypto::random_array().unwrap()),
        name.into(),
        keys,
        Role::Member,
        None,
    ))
}

fn member_id(v: &Vault, name: &str) -> MemberId {
    v.member_named(name).unwrap().id
}

fn group_id(v: &Vault, name: &str) -> GroupId {
    v.group_named(name).unwrap().id
}

/// Add an entry (username `u-PATH`, URL `https://PATH`) as `who`; returns its id.
fn add_entry(
    v: &mut Vault,
    who: &Identity,
    path: &str,
    password: &str,
    share: Vec<Principal>,
) -> EntryId {
    let mut payload = EntryPayload::default();
    payload.path = path.into();
    payload.username = format!("u-{path}");
    payload.url = format!("https://{path}");
    payload.password = SecretString::new(password.into());
    let body = v
        .session(who)
        .unwrap()
        .create_entry(&EntryDraft {
            payload,
            share_with: share,
        })
        .unwrap();
    let RecordBody::EntryRevision(rev) = &body else {
        panic!("not a revision")
    };
    let entry = rev.entry();
    v.append(who, vec![body]).unwrap();
    entry
}

fn paths(v: &Vault, who: &Identity) -> Vec<String> {
    v.session(who)
        .unwrap()
        .list()
        .unwrap()
        .into_iter()
        .map(|e| e.payload.path.clone())
        .collect()
}

/// Current revision of every live entry (read as `admin`, who reads everything).
fn current_revisions(v: &Vault, admin: &Identity) -> HashMap<EntryId, RecordId> {
    v.session(admin)
        .unwrap()
        .list()
        .unwrap()
        .into_iter()
        .map(|e| (e.id, e.revision))
        .collect()
}

fn record<'a>(file: &'a VaultFile, id: &RecordId) -> &'a StoredRecord {
    file.records().iter().find(|r| r.id() == id).unwrap()
}

fn sealed_of<'a>(file: &'a VaultFile, revision: &RecordId) -> (&'a EntryRevision, &'a SealedEntry) {
    match &record(file, revision).record().body() {
        RecordBody::EntryRevision(rev) => match rev.content() {
            EntryContent::Sealed(s) => (rev, s),
            EntryContent::Tombstone => panic!("tombstone"),
        },
        _ => panic!("not a revision"),
    }
}

/// The group key update carried by a key-creating record.
fn key_update<'a>(file: &'a VaultFile, key_id: &RecordId) -> &'a GroupKeyUpdate {
    match &record(file, key_id).record().body() {
        RecordBody::CreateGroup { key, .. }
        | RecordBody::RemoveGroupMember { key, .. }
        | RecordBody::RotateGroupKey(key) => key,
        other => panic!("record carries no group key: {other:?}"),
    }
}

/// The group of a key version: a group wrap names only the key, whose record says
/// which group it belongs to.
fn key_group(file: &VaultFile, key_id: &RecordId) -> GroupId {
    key_update(file, key_id).group()
}

/// alice (owner), bob and carol (members), `@devops` = {bob, carol}.
struct Team {
    v: Vault,
    alice: Identity,
    bob: Identity,
    carol: Identity,
}

fn team() -> Team {
    let (alice, bob, carol) = (person("alice"), person("bob"), person("carol"));
    let mut v = Vault::create(&alice, "acme").unwrap();
    v.add_member(&alice, "bob", bob.keys, Role::Member).unwrap();
    v.add_member(&alice, "carol", carol.keys, Role::Member)
        .unwrap();
    v.create_group(&alice, "devops", &["bob".into(), "carol".into()])
        .unwrap();
    Team {
        v,
        alice,
        bob,
        carol,
    }
}

// ---------------------------------------------------------------------------------------
// What a (former) member can unwrap by hand, from every record of a file: every older
// copy of the vault is a part of the newest file's DAG, so scanning the newest file
// covers every copy they ever had.

/// Every group key `who` can unwrap from a wrap addressed to `who_id` anywhere in
/// `file` (group key records, group joins, admin promotions), commitment-checked.
fn keys_held(file: &VaultFile, who: &Identity, who_id: MemberId) -> Vec<SymmetricKey> {
    let mut commitments: HashMap<GroupId, Vec<[u8; 32]>> = HashMap::new();
    let mut wraps: Vec<(GroupId, MemberWrap)> = Vec::new();
    for r in file.records() {
        match r.record().body() {
            RecordBody::CreateGroup { key, .. }
            | RecordBody::RemoveGroupMember { key, .. }
            | RecordBody::RotateGroupKey(key) => {
                commitments
                    .entry(key.group())
                    .or_default()
                    .push(*key.commitment());
                wraps.extend(key.wraps().iter().map(|w| (key.group(), w.clone())));
            }
            RecordBody::AddGroupMember { group, wrap, .. } => wraps.push((*group, wrap.clone())),
            RecordBody::AddMember(add) => {
                if let Some(w) = add.admin_wrap() {
                    wraps.push((ADMINS_GROUP, w.clone()));
                }
            }
            RecordBody::ChangeRole {
                admin_wrap: Some(w),
                ..
            } => wraps.push((ADMINS_GROUP, w.clone())),
            _ => {}
        }
    }
    let mut keys = Vec::new();
    for (group, w) in wraps.iter().filter(|(_, w)| w.member() == who_id) {
        let wrapped = HpkeWrapped {
            enc: *w.enc(),
            sealed: w.sealed().try_into().unwrap(),
        };
        for c in commitments.get(group).into_iter().flatten() {
            let info = format::group_key_wrap_info(&file.vault_id(), &who_id, group, c);
            if let Ok(k) = crypto::hpke_unwrap(&who.agreement, &info, &wrapped)
                && k.check_commitment(c).is_ok()
            {
                keys.push(k);
            }
        }
    }
    keys
}

/// Whether `who`, holding the group keys `keys`, can decrypt the payload of
/// `revision`: through any group wrap under one of those keys, or any member wrap
/// their X25519 secret opens.
fn can_decrypt(
    file: &VaultFile,
    revision: &RecordId,
    who: &Identity,
    keys: &[SymmetricKey],
) -> bool {
    let vid = file.vault_id();
    let (rev, sealed) = sealed_of(file, revision);
    let payload_opens = |k: &SymmetricKey| {
        let aad =
            format::entry_payload_aad(&vid, &rev.entry(), rev.prev().as_ref(), sealed.commitment());
        crypto::open(k, sealed.nonce(), &aad, sealed.ciphertext()).is_ok()
    };
    sealed.wraps().iter().any(|w| match w {
        KeyWrap::Member(m) => {
            let info = format::entry_member_wrap_info(
                &vid,
                &m.member(),
                &rev.entry(),
                rev.prev().as_ref(),
                sealed.commitment(),
            );
            let wrapped = HpkeWrapped {
                enc: *m.enc(),
                sealed: m.sealed().try_into().unwrap(),
            };
            crypto::hpke_unwrap(&who.agreement, &info, &wrapped).is_ok_and(|k| payload_opens(&k))
        }
        KeyWrap::Group {
            key_id,
            nonce,
            sealed: s,
        } => {
            let aad = format::entry_group_wrap_aad(
                &vid,
                &key_group(file, key_id),
                key_id,
                &rev.entry(),
                rev.prev().as_ref(),
                sealed.commitment(),
            );
            keys.iter()
                .any(|gk| crypto::open_key(gk, nonce, &aad, s).is_ok_and(|k| payload_opens(&k)))
        }
        KeyWrap::GroupPublic {
            key_id,
            enc,
            sealed: s,
        } => {
            let info = format::entry_group_public_wrap_info(
                &vid,
                &key_group(file, key_id),
                key_id,
                &rev.entry(),
                rev.prev().as_ref(),
                sealed.commitment(),
            );
            let wrapped = HpkeWrapped {
                enc: *enc,
                sealed: *s,
            };
            keys.iter().any(|gk| {
                let secret = crypto::AgreementSecret::derive_from_group_key(gk);
                crypto::hpke_unwrap(&secret, &info, &wrapped).is_ok_and(|k| payload_opens(&k))
            })
        }
    })
}

/// A new key for `group`, wrapped to its members and every admin (what a rotation by
/// an admin carries).
fn rotation(v: &Vault, group: GroupId) -> RecordBody {
    let key = SymmetricKey::generate().unwrap();
    let commitment = key.commitment();
    let g = v.groups().find(|g| g.id == group).unwrap();
    let wraps = v
        .members()
        .filter(|m| m.active && (m.role.is_admin() || g.members.contains(&m.id)))
        .map(|m| {
            let info = format::group_key_wrap_info(&v.id(), &m.id, &group, &commitment);
            let w = crypto::hpke_wrap(&m.keys.agreement, &info, &key).unwrap();
            forge::member_wrap(m.id, w.enc, w.sealed.to_vec())
        })
        .collect();
    let public = crypto::AgreementSecret::derive_from_group_key(&key)
        .public()
        .unwrap();
    RecordBody::RotateGroupKey(forge::group_key_update(group, commitment, public, wraps))
}

fn write_vault(env: &TestEnv, bytes: &[u8]) -> String {
    let p = env.path("forged");
    set_vault_bytes(&p, bytes);
    p.to_str().unwrap().to_string()
}

/// `amanat verify` on these bytes: exit 6, and every id in `ignored` listed.
#[track_caller]
fn cli_verify_lists_ignored(bytes: &[u8], ignored: &[RecordId]) {
    let env = TestEnv::new();
    let vault = write_vault(&env, bytes);
    let out = env.run(&["--vault", &vault, "verify"]).code(6);
    for id in ignored {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with(&format!("ignored\t{}\t", id.to_hex()))),
            "{} not listed:\n{}",
            id.to_hex(),
            out.stdout
        );
    }
    assert_eq!(
        out.stdout
            .lines()
            .filter(|l| l.starts_with("ignored\t"))
            .count(),
        ignored.len(),
        "{}",
        out.stdout
    );
    assert!(out.error().contains("authority rule"), "{}", out.error());
}

// ---------------------------------------------------------------------------------------
// Forged roster records (SECURITY.md item 2)

#[test]
fn add_member_with_a_missing_or_wrong_signature_makes_the_file_invalid() {
    let t = team();
    let file = file_of(&t.v);
    let alice_id = member_id(&t.v, "alice");
    let dave = person("dave");
    let genuine = forge(
        &file,
        file.heads(),
        alice_id,
        add_member_body("dave", dave.keys),
        &t.alice,
    );
    // The control: signed by alice, it applies.
    let v = Vault::decode(&with(&file, vec![genuine.clone()])).unwrap();
    assert!(v.member_named("dave").is_ok());
    assert!(v.verify().unwrap().ignored.is_empty());

    let mut garbage = [0x5au8; 64];
    garbage[..16].copy_from_slice(&crypto::random_array::<16>().unwrap());
    let variants: [(&str, [u8; 64]); 4] = [
        ("all-zero signature", [0; 64]),
        ("random bytes", garbage),
        (
            "alice's signature over other bytes",
            t.alice.signing.sign(SIGNATURE_LABEL, b"something else"),
        ),
        (
            "bob's signature (author alice)",
            t.bob.signing.sign(SIGNATURE_LABEL, genuine.bytes()),
        ),
    ];
    for (what, signature) in variants {
        let forged = forge::with_signature(genuine.clone(), signature);
        // Skipped as damage and listed, never a hard error.
        let r = Vault::decode(&with(&file, vec![forged]));
        assert!(
            r.as_ref().is_ok_and(|v| v.has_damage()),
            "{what}: {:?}",
            r.map(|v| v.ignored().to_vec())
        );
    }
}

#[test]
fn add_member_signed_by_a_non_admin_is_ignored_and_verify_exits_6() {
    let t = team();
    let file = file_of(&t.v);
    let dave = person("dave");
    let forged = forge(
        &file,
        file.heads(),
        member_id(&t.v, "bob"),
        add_member_body("dave", dave.keys),
        &t.bob,
    );
    let bytes = with(&file, vec![forged.clone()]);
    let v = Vault::decode(&bytes).unwrap();
    assert!(
        v.member_named("dave").is_err(),
        "a member's AddMember applied"
    );
    assert_eq!(v.ignored().len(), 1);
    assert_eq!(v.ignored()[0].record, *forged.id());
    assert!(!v.ignored()[0].reason.is_empty());
    let report = v.verify().unwrap();
    assert_eq!(report.ignored, v.ignored());
    cli_verify_lists_ignored(&bytes, &[*forged.id()]);
}

#[test]
fn records_by_a_removed_admin_on_post_removal_parents_are_ignored() {
    let mut t = team();
    t.v.change_role(&t.alice, "bob", Role::Admin).unwrap();
    let bob_id = member_id(&t.v, "bob");
    t.v.revoke_member(&t.alice, "bob", &mut |_, _| {}).unwrap();
    let file = file_of(&t.v);
    let dave = person("dave");
    let add = forge(
        &file,
        file.heads(),
        bob_id,
        add_member_body("dave", dave.keys),
        &t.bob,
    );
    let carol_id = member_id(&t.v, "carol");
    let remove = forge(
        &file,
        file.heads(),
        bob_id,
        RecordBody::RemoveMember { member: carol_id },
        &t.bob,
    );
    let bytes = with(&file, vec![add.clone(), remove.clone()]);
    let v = Vault::decode(&bytes).unwrap();
    assert!(v.member_named("dave").is_err());
    assert!(v.member_named("carol").is_ok());
    let ignored: BTreeSet<RecordId> = v.ignored().iter().map(|i| i.record).collect();
    assert_eq!(ignored, BTreeSet::from([*add.id(), *remove.id()]));
    assert_eq!(v.verify().unwrap().ignored.len(), 2);
}

#[test]
fn a_record_naming_a_missing_parent_is_refused() {
    let t = team();
    let file = file_of(&t.v);
    let alice_id = member_id(&t.v, "alice");
    let dave = person("dave");
    let unknown = RecordId([0x5a; 32]);
    for parents in [vec![unknown], [file.heads(), vec![unknown]].concat()] {
        let forged = forge(
            &file,
            parents,
            alice_id,
            add_member_body("dave", dave.keys),
            &t.alice,
        );
        let mut records = file.records().to_vec();
        records.push(forged);
        let bytes = raw(file.vault_id(), records);
        assert_eq!(
            VaultFile::decode(&bytes).err(),
            Some(FormatError::MissingParent)
        );
        assert!(matches!(
            Vault::decode(&bytes),
            Err(VaultError::Format(FormatError::MissingParent))
        ));
    }
}

#[test]
fn reordered_records_are_refused() {
    let t = team();
    let file = file_of(&t.v);
    // A child before its parent: record 2 (AddMember bob) names record 1.
    assert!(
        file.records()[2]
            .record()
            .parents()
            .contains(file.records()[1].id())
    );
    let mut records = file.records().to_vec();
    records.swap(1, 2);
    assert_eq!(
        VaultFile::decode(&raw(file.vault_id(), records)).err(),
        Some(FormatError::MissingParent)
    );

    // Two concurrent records (siblings on the same parents) in the wrong tie order.
    let (mut a, mut b) = (t.v.clone(), t.v.clone());
    add_entry(&mut a, &t.alice, "a/x", "1", vec![]);
    add_entry(&mut b, &t.alice, "b/y", "2", vec![]);
    let mut merged = file_of(&a);
    let known: BTreeSet<RecordId> = merged.records().iter().map(|r| *r.id()).collect();
    merged.append(
        file_of(&b)
            .records()
            .iter()
            .filter(|r| !known.contains(r.id()))
            .cloned()
            .collect(),
    );
    let n = merged.records().len();
    assert_eq!(
        merged.records()[n - 1].record().parents(),
        merged.records()[n - 2].record().parents()
    );
    Vault::decode(&merged.encode()).unwrap().verify().unwrap();
    let mut records = merged.records().to_vec();
    records.swap(n - 1, n - 2);
    assert_eq!(
        VaultFile::decode(&raw(merged.vault_id(), records)).err(),
        Some(FormatError::Order)
    );
}

/// Replay looks records up in the id → position map of the whole file (built once while
/// decoding): a revision whose `prev` names a record that comes *after* it must still
/// count as a revision of an unknown revision, as when the map was built during replay.
#[test]
fn a_revision_of_a_later_record_is_ignored() {
    let t = team();
    let file = file_of(&t.v);
    let alice_id = member_id(&t.v, "alice");
    // A: a new entry on the current heads.
    let mut a_vault = t.v.clone();
    add_entry(&mut a_vault, &t.alice, "ops/later", "1", vec![]);
    let a_file = file_of(&a_vault);
    let a = a_file.records().last().unwrap().clone();
    // B: a revision of A's entry naming A as `prev`, but on the heads before A
    // (concurrent with it), re-dated until canonical order puts it before A.
    let session = a_vault.session(&t.alice).unwrap();
    let old = session.open("ops/later").unwrap();
    let mut payload = old.payload.clone();
    payload.password = SecretString::new("2".into());
    let body = session
        .revise_entry(
            &old,
            &EntryDraft {
                payload,
                share_with: vec![],
            },
        )
        .unwrap();
    let mut b = forge(&file, file.heads(), alice_id, body, &t.alice);
    while b.id() > a.id() {
        let mut record = b.record().clone();
        let time = record.time() + 1;
        forge::set_time(&mut record, time);
        b = sign(record, &t.alice);
    }
    let bytes = with(&file, vec![a.clone(), b.clone()]);
    let decoded = VaultFile::decode(&bytes).unwrap();
    let at = |id: &RecordId| decoded.records().iter().position(|r| r.id() == id).unwrap();
    assert!(at(b.id()) < at(a.id()), "B comes first in canonical order");
    let v = Vault::decode(&bytes).unwrap();
    let ignored: Vec<_> = v.ignored().iter().map(|i| (i.record, i.reason)).collect();
    assert_eq!(
        ignored,
        [(*b.id(), "revision of a revision that is not an ancestor")]
    );
    // A stands: the entry opens with its first password.
    let opened = v.session(&t.alice).unwrap().open("ops/later").unwrap();
    assert_eq!(opened.revision, *a.id());
    assert_eq!(opened.payload.password.expose(), "1");
}

#[test]
fn a_duplicated_record_is_refused() {
    let t = team();
    let file = file_of(&t.v);
    let n = file.records().len();
    for (at, copy) in [(n, n - 1), (2, 1)] {
        let mut records = file.records().to_vec();
        records.insert(at, file.records()[copy].clone());
        let bytes = raw(file.vault_id(), records);
        assert_eq!(
            VaultFile::decode(&bytes).err(),
            Some(FormatError::Duplicate)
        );
        assert!(matches!(
            Vault::decode(&bytes),
            Err(VaultError::Format(FormatError::Duplicate))
        ));
    }
}

#[test]
fn a_truncated_log_is_refused_by_a_client_that_pinned_the_dropped_record() {
    let mut t = team();
    add_entry(&mut t.v, &t.alice, "ops/db", "d1", vec![]);
    let full = t.v.encode();
    let file = file_of(&t.v);
    let last = file.records().last().unwrap().clone();
    assert_eq!(file.heads(), vec![*last.id()]);
    let mut records = file.records().to_vec();
    records.pop();
    let truncated = raw(file.vault_id(), records);
    // On its own it is a valid, older vault.
    Vault::decode(&truncated).unwrap().verify().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault");
    let store = VaultStore::new(path.clone(), dir.path().join("state"));
    set_vault_bytes(&path, &full);
    assert_eq!(store.load().unwrap().1, PinStatus::FirstUse);
    assert_eq!(store.load().unwrap().1, PinStatus::Known);
    set_vault_bytes(&path, &truncated);
    let r = store.load();
    assert!(
        matches!(r, Err(StoreError::Rollback { missing: 1, .. })),
        "{:?}",
        r.map(|(_, s)| s)
    );
    // A restart does not forget it, and the full file is still accepted.
    let again = VaultStore::new(path.clone(), dir.path().join("state"));
    assert!(matches!(again.load(), Err(StoreError::Rollback { .. })));
    set_vault_bytes(&path, &full);
    assert_eq!(again.load().unwrap().1, PinStatus::Known);
}

// ---------------------------------------------------------------------------------------
// Public-key substitution (SECURITY.md item 3)

#[test]
fn a_member_s_substituted_public_keys_are_refused() {
    let alice = person("alice");
    let bob = person("bob");
    let mallory = person("mallory");
    let mut v = Vault::create(&alice, "acme").unwrap();
    v.add_member(&alice, "bob", bob.keys, Role::Member).unwrap();
    let bob_id = member_id(&v, "bob");
    let file = file_of(&v);
    let n = file.records().len();
    // Bob's AddMember is the last record (a head, so no child names its id).
    let original = file.records()[n - 1].clone();
    let RecordBody::AddMember(add) = original.record().body() else {
        panic!("last record is not bob's AddMember")
    };
    assert_eq!(add.member(), bob_id);
    let mut substituted = original.record().clone();
    let RecordBody::AddMember(a) = forge::body_mut(&mut substituted) else {
        unreachable!()
    };
    forge::set_add_member_keys(a, mallory.keys);
    let replace = |r: StoredRecord| {
        let mut records = file.records().to_vec();
        records[n - 1] = r;
        forge::vault_file(file.vault_id(), records).encode()
    };

    // (i) Keys replaced, alice's signature kept.
    let unsigned = forge::encode(substituted.clone(), *original.signature());
    let r = Vault::decode(&replace(unsigned));
    // Damage is skipped and listed, never a hard error (DESIGN "No record can block").
    assert!(
        r.as_ref().is_ok_and(|v| !v.ignored().is_empty()),
        "{:?}",
        r.map(|v| v.ignored().to_vec())
    );

    // (ii) Re-signed by an outsider: as alice, or as a fresh member id.
    let r = Vault::decode(&replace(sign(substituted.clone(), &mallory)));
    // Damage is skipped and listed, never a hard error (DESIGN "No record can block").
    assert!(
        r.as_ref().is_ok_and(|v| !v.ignored().is_empty()),
        "{:?}",
        r.map(|v| v.ignored().to_vec())
    );
    let mut as_outsider = substituted.clone();
    forge::set_author(&mut as_outsider, MemberId([0x33; 16]));
    let r = Vault::decode(&replace(sign(as_outsider, &mallory)));
    // Damage is skipped and listed, never a hard error (DESIGN "No record can block").
    assert!(
        r.as_ref().is_ok_and(|v| !v.ignored().is_empty()),
        "{:?}",
        r.map(|v| v.ignored().to_vec())
    );
    // … or naming bob's own id as its author: at best ignored, and never a member
    // with mallory's keys (so nothing can ever be wrapped to them).
    let mut as_bob = substituted;
    forge::set_author(&mut as_bob, bob_id);
    match Vault::decode(&replace(sign(as_bob, &mallory))) {
        Err(_) => {}
        Ok(v) => {
            assert!(v.member_named("bob").is_err());
            assert!(v.members().all(|m| m.keys != mallory.keys));
            assert!(v.verify().is_err() || !v.ignored().is_empty());
        }
    }

    // Bob's AddMember in the middle of the log: a substitution breaks the children.
    v.create_group(&alice, "devops", &["bob".into()]).unwrap();
    let file = file_of(&v);
    let at = file
        .records()
        .iter()
        .position(|r| r.id() == original.id())
        .unwrap();
    for signer in [&alice, &mallory] {
        let mut rec = file.records()[at].record().clone();
        let RecordBody::AddMember(a) = forge::body_mut(&mut rec) else {
            unreachable!()
        };
        forge::set_add_member_keys(a, mallory.keys);
        let mut records = file.records().to_vec();
        // Re-signed by alice's key too: the record's id changes, its child's parent
        // no longer exists.
        records[at] = sign(rec, signer);
        assert!(Vault::decode(&raw(file.vault_id(), records)).is_err());
    }
    // The untouched vault wraps bob's group key to bob's key, not mallory's.
    let key = key_update(&file, &v.group_named("devops").unwrap().key_id);
    assert!(key.wraps().iter().any(|w| w.member() == bob_id));
    assert!(keys_held(&file, &mallory, bob_id).is_empty());
    assert_eq!(keys_held(&file, &bob, bob_id).len(), 1);
}

#[test]
fn member_add_with_the_fingerprint_of_another_key_exits_6_and_writes_nothing() {
    let alice = TestEnv::new();
    alice.init_alice();
    let bob = TestEnv::new();
    let (_, bob_fp) = bob.identity_new("bob");
    let mallory = TestEnv::new();
    let (mallory_key, mallory_fp) = mallory.identity_new("mallory");
    let before = vault_state(&alice.vault_path());
    // The key was substituted on its way to alice; bob read her his fingerprint.
    let out = alice
        .run(&[
            "member",
            "add",
            "bob",
            &mallory_key,
            "--fingerprint",
            &bob_fp,
        ])
        .code(6);
    assert!(out.error().contains("fingerprint"), "{}", out.error());
    // The error names the fingerprint of the key it was given, so alice sees the
    // mismatch.
    assert!(out.error().contains(&mallory_fp), "{}", out.error());
    assert_eq!(out.stdout, "");
    assert_eq!(vault_state(&alice.vault_path()), before);
    let members = alice.run(&["member", "ls", "--json"]).success().json();
    assert_eq!(members.as_array().unwrap().len(), 1);
}

// ---------------------------------------------------------------------------------------
// Key commitment (SECURITY.md item 13)

/// A new entry by alice whose `@admins` wrap (alice's way in) carries `for_alice` and
/// whose direct wrap to bob carries `for_bob`; the commitment is to `committed` and
/// the payload is sealed under `sealing`.
fn split_entry(
    t: &Team,
    for_alice: &SymmetricKey,
    for_bob: &SymmetricKey,
    committed: &SymmetricKey,
    sealing: &SymmetricKey,
) -> (Vault, EntryId) {
    let file = file_of(&t.v);
    let vid = t.v.id();
    let alice_id = member_id(&t.v, "alice");
    let bob_id = member_id(&t.v, "bob");
    let admins_key_id = t.v.group_named("admins").unwrap().key_id;
    let admins_key = keys_held(&file, &t.alice, alice_id)
        .into_iter()
        .find(|k| {
            k.check_commitment(key_update(&file, &admins_key_id).commitment())
                .is_ok()
        })
        .unwrap();
    let mut entry = EntryId(crypto::random_array().unwrap());
    entry.0[8..].copy_from_slice(&alice_id.0[..8]); // bound to its creator
    let commitment = committed.commitment();
    let aad = format::entry_group_wrap_aad(
        &vid,
        &ADMINS_GROUP,
        &admins_key_id,
        &entry,
        None,
        &commitment,
    );
    let (nonce, sealed) = crypto::seal_key(&admins_key, &aad, for_alice).unwrap();
    let info = format::entry_member_wrap_info(&vid, &bob_id, &entry, None, &commitment);
    let w = crypto::hpke_wrap(&t.bob.keys.agreement, &info, for_bob).unwrap();
    let mut payload = EntryPayload::default();
    payload.path = "ops/split".into();
    payload.password = SecretString::new("one-password".into());
    let aad = format::entry_payload_aad(&vid, &entry, None, &commitment);
    let (pnonce, ciphertext) = crypto::seal(sealing, &aad, &payload.to_padded().unwrap()).unwrap();
    let body = RecordBody::EntryRevision(forge::entry_revision(
        entry,
        None,
        EntryContent::Sealed(forge::sealed_entry(
            vec![],
            vec![],
            commitment,
            vec![
                KeyWrap::Group {
                    key_id: admins_key_id,
                    nonce,
                    sealed,
                },
                KeyWrap::Member(forge::member_wrap(bob_id, w.enc, w.sealed.to_vec())),
            ],
            pnonce,
            ciphertext,
        )),
    ));
    let forged = forge(&file, file.heads(), alice_id, body, &t.alice);
    let v = Vault::decode(&with(&file, vec![forged])).unwrap();
    (v, entry)
}

#[test]
fn wraps_carrying_different_keys_for_two_readers_are_refused_by_both() {
    let t = team();
    let ka = SymmetricKey::generate().unwrap();
    let kb = SymmetricKey::generate().unwrap();

    // The control: one key for both, and both read the one password.
    let (v, entry) = split_entry(&t, &ka, &ka, &ka, &ka);
    assert!(v.verify().unwrap().ignored.is_empty());
    for who in [&t.alice, &t.bob] {
        let e = v.session(who).unwrap().open_id(&entry).unwrap();
        assert_eq!(e.payload.password.expose(), "one-password");
    }

    // Committed to alice's key, sealed under bob's: bob's key would decrypt, but it is
    // not the committed one; alice's is committed but does not decrypt.
    let (v, entry) = split_entry(&t, &ka, &kb, &ka, &kb);
    let r = v.session(&t.bob).unwrap().open_id(&entry);
    assert!(
        matches!(r, Err(VaultError::Integrity("entry key commitment"))),
        "bob: {r:?}"
    );
    let r = v.session(&t.alice).unwrap().open_id(&entry);
    assert!(matches!(r, Err(VaultError::Integrity(_))), "alice: {r:?}");
    // The mirror image: now alice's key is the uncommitted one.
    let (v, entry) = split_entry(&t, &ka, &kb, &kb, &ka);
    let r = v.session(&t.alice).unwrap().open_id(&entry);
    assert!(
        matches!(r, Err(VaultError::Integrity("entry key commitment"))),
        "alice: {r:?}"
    );
    let r = v.session(&t.bob).unwrap().open_id(&entry);
    assert!(matches!(r, Err(VaultError::Integrity(_))), "bob: {r:?}");
    // Neither reader gets it through the path lookup either, and both listings report
    // it instead of hiding it.
    for who in [&t.alice, &t.bob] {
        let s = v.session(who).unwrap();
        assert!(matches!(s.open("ops/split"), Err(VaultError::Integrity(_))));
        assert!(
            s.list_all()
                .unwrap()
                .failed
                .iter()
                .any(|(id, _)| *id == entry)
        );
    }
}

// ---------------------------------------------------------------------------------------
// Revocation (SECURITY.md items 3, 4, 17)

/// Every wrap of the current revisions of `entries`: none to `gone`, group wraps only
/// under their group's current key.
#[track_caller]
fn assert_rekeyed_wraps(v: &Vault, file: &VaultFile, revisions: &[RecordId], gone: MemberId) {
    for rev in revisions {
        let (_, sealed) = sealed_of(file, rev);
        for w in sealed.wraps() {
            match w {
                KeyWrap::Member(m) => assert_ne!(m.member(), gone, "direct wrap to the leaver"),
                w => {
                    let key_id = w.key_id().unwrap();
                    let group = v.key_group(&key_id).unwrap();
                    let g = v.groups().find(|g| g.id == group).unwrap();
                    assert_eq!(key_id, g.key_id, "wrap under an old key of @{}", g.name);
                }
            }
        }
    }
}

#[test]
fn revoking_a_member_rekeys_exactly_what_they_could_read() {
    let mut t = team();
    let bob_id = member_id(&t.v, "bob");
    let devops = Principal::Group(group_id(&t.v, "devops"));
    t.v.create_group(&t.alice, "finance", &["carol".into()])
        .unwrap();
    let finance = Principal::Group(group_id(&t.v, "finance"));
    let carol = Principal::Member(member_id(&t.v, "carol"));
    let redis = add_entry(&mut t.v, &t.alice, "ops/redis", "r1", vec![devops]);
    let db = add_entry(
        &mut t.v,
        &t.alice,
        "ops/db",
        "d1",
        vec![Principal::Member(bob_id)],
    );
    let both = add_entry(
        &mut t.v,
        &t.alice,
        "ops/both",
        "b1",
        vec![Principal::Member(bob_id), devops],
    );
    let payroll = add_entry(&mut t.v, &t.alice, "hr/payroll", "p1", vec![]);
    let bank = add_entry(&mut t.v, &t.alice, "fin/bank", "k1", vec![finance]);
    let web = add_entry(&mut t.v, &t.alice, "web/carol", "w1", vec![carol]);
    let could_read: BTreeSet<EntryId> = [redis, db, both].into();
    assert_eq!(
        t.v.readable_by(&bob_id)
            .into_iter()
            .collect::<BTreeSet<_>>(),
        could_read
    );

    // The attack we are closing works before: bob's keys open what is shared with him.
    let old_file = file_of(&t.v);
    let old_revs = current_revisions(&t.v, &t.alice);
    let bob_keys = keys_held(&old_file, &t.bob, bob_id);
    for (entry, rev) in &old_revs {
        assert_eq!(
            can_decrypt(&old_file, rev, &t.bob, &bob_keys),
            could_read.contains(entry),
            "{entry:?}"
        );
    }
    let carol_before = paths(&t.v, &t.carol);
    let old_devops_key = t.v.group_named("devops").unwrap().key_id;
    let old_admins_key = t.v.group_named("admins").unwrap().key_id;

    let listed = t.v.revoke_member(&t.alice, "bob", &mut |_, _| {}).unwrap();
    let rows: Vec<(&str, &str, &str)> = listed
        .iter()
        .map(|r| (r.path.as_str(), r.url.as_str(), r.username.as_str()))
        .collect();
    assert_eq!(
        rows,
        [
            ("ops/both", "https://ops/both", "u-ops/both"),
            ("ops/db", "https://ops/db", "u-ops/db"),
            ("ops/redis", "https://ops/redis", "u-ops/redis"),
        ]
    );
    assert_eq!(
        listed.iter().map(|r| r.id).collect::<BTreeSet<_>>(),
        could_read
    );

    let v = Vault::decode(&t.v.encode()).unwrap();
    let report = v.verify().unwrap();
    assert!(report.ignored.is_empty());
    let file = file_of(&v);
    assert!(v.readable_by(&bob_id).is_empty());
    assert!(matches!(v.session(&t.bob), Err(VaultError::NotMember(_))));
    // Exactly the entries bob could read have a new revision.
    let new_revs = current_revisions(&v, &t.alice);
    for (entry, rev) in &new_revs {
        assert_eq!(
            *rev != old_revs[entry],
            could_read.contains(entry),
            "{entry:?}"
        );
    }
    for untouched in [payroll, bank, web] {
        assert_eq!(new_revs[&untouched], old_revs[&untouched]);
    }
    let rekeyed: Vec<RecordId> = could_read.iter().map(|e| new_revs[e]).collect();
    assert_rekeyed_wraps(&v, &file, &rekeyed, bob_id);
    // @devops has a new key, not wrapped to bob; @admins (bob was no admin) and
    // @finance keep theirs.
    let devops_key = v.group_named("devops").unwrap().key_id;
    assert_ne!(devops_key, old_devops_key);
    assert!(
        key_update(&file, &devops_key)
            .wraps()
            .iter()
            .all(|w| w.member() != bob_id)
    );
    assert_eq!(v.group_named("admins").unwrap().key_id, old_admins_key);
    // The bookkeeping record lists them, and the revisions are flagged.
    assert!(file.records().iter().any(|r| matches!(r.record().body(),
        RecordBody::RotateAtSource { member, entries }
            if *member == bob_id && entries.iter().copied().collect::<BTreeSet<_>>() == could_read)));
    let s = v.session(&t.carol).unwrap();
    let e = s.open("ops/redis").unwrap();
    assert!(e.payload.rotate_at_source);
    assert_eq!(e.payload.password.expose(), "r1");
    assert!(!s.open("fin/bank").unwrap().payload.rotate_at_source);

    // Afterwards alice updates an old entry and adds a new one for @devops.
    let mut v = v;
    let body = {
        let s = v.session(&t.alice).unwrap();
        let e = s.open("ops/redis").unwrap();
        let mut payload = e.payload.clone();
        payload.password = SecretString::new("r2".into());
        s.revise_entry(
            &e,
            &EntryDraft {
                payload,
                share_with: s.shared_with(&e),
            },
        )
        .unwrap()
    };
    v.append(&t.alice, vec![body]).unwrap();
    let new = add_entry(&mut v, &t.alice, "ops/new", "n1", vec![devops]);
    let file = file_of(&v);
    let revs = current_revisions(&v, &t.alice);
    // Bob, with his identity and every copy of the vault he ever had (all part of
    // this file), can decrypt none of the current revisions.
    let bob_keys = keys_held(&file, &t.bob, bob_id);
    assert!(!bob_keys.is_empty(), "bob held group keys before");
    for (entry, rev) in &revs {
        assert!(
            !can_decrypt(&file, rev, &t.bob, &bob_keys),
            "bob decrypts {entry:?}"
        );
    }
    assert_rekeyed_wraps(&v, &file, &[revs[&redis], revs[&new]], bob_id);
    // Carol reads everything shared with her, old and new; alice everything.
    let mut carol_after = carol_before.clone();
    carol_after.push("ops/new".into());
    carol_after.sort();
    assert_eq!(paths(&v, &t.carol), carol_after);
    let s = v.session(&t.carol).unwrap();
    assert_eq!(s.open("ops/redis").unwrap().payload.password.expose(), "r2");
    assert_eq!(s.open("ops/new").unwrap().payload.password.expose(), "n1");
    assert_eq!(paths(&v, &t.alice).len(), 7);
}

#[test]
fn revoking_an_admin_rekeys_every_entry_and_the_admins_key() {
    let mut t = team();
    t.v.change_role(&t.alice, "bob", Role::Admin).unwrap();
    let bob_id = member_id(&t.v, "bob");
    let devops = Principal::Group(group_id(&t.v, "devops"));
    add_entry(&mut t.v, &t.alice, "ops/redis", "r1", vec![devops]);
    add_entry(&mut t.v, &t.alice, "hr/payroll", "p1", vec![]);
    let carol = Principal::Member(member_id(&t.v, "carol"));
    add_entry(&mut t.v, &t.alice, "carol/own", "c1", vec![carol]);
    let all: BTreeSet<EntryId> = current_revisions(&t.v, &t.alice).into_keys().collect();
    assert_eq!(all.len(), 3);
    assert_eq!(
        t.v.readable_by(&bob_id)
            .into_iter()
            .collect::<BTreeSet<_>>(),
        all
    );
    let old_revs = current_revisions(&t.v, &t.alice);
    let old_admins_key = t.v.group_named("admins").unwrap().key_id;

    let listed = t.v.revoke_member(&t.alice, "bob", &mut |_, _| {}).unwrap();
    let listed_paths: Vec<&str> = listed.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(listed_paths, ["carol/own", "hr/payroll", "ops/redis"]);

    let v = Vault::decode(&t.v.encode()).unwrap();
    assert!(v.verify().unwrap().ignored.is_empty());
    let file = file_of(&v);
    let admins_key = v.group_named("admins").unwrap().key_id;
    assert_ne!(admins_key, old_admins_key);
    assert!(
        key_update(&file, &admins_key)
            .wraps()
            .iter()
            .all(|w| w.member() != bob_id)
    );
    assert!(v.readable_by(&bob_id).is_empty());
    let revs = current_revisions(&v, &t.alice);
    let bob_keys = keys_held(&file, &t.bob, bob_id);
    for (entry, rev) in &revs {
        assert_ne!(*rev, old_revs[entry]);
        assert!(!can_decrypt(&file, rev, &t.bob, &bob_keys), "{entry:?}");
    }
    assert_rekeyed_wraps(
        &v,
        &file,
        &revs.values().copied().collect::<Vec<_>>(),
        bob_id,
    );
    assert_eq!(paths(&v, &t.carol), ["carol/own", "ops/redis"]);
}

#[test]
fn revocation_covers_entries_under_a_group_key_the_leaver_still_holds() {
    // Carol leaves @devops (its key rotates, entries are not re-keyed), then leaves the
    // team. The current revision of ops/redis is still under the old @devops key,
    // whose wrap to carol is in the file: she can decrypt it, so it must be re-keyed
    // and listed for rotation at source.
    let mut t = team();
    let carol_id = member_id(&t.v, "carol");
    let devops = Principal::Group(group_id(&t.v, "devops"));
    let redis = add_entry(&mut t.v, &t.alice, "ops/redis", "r1", vec![devops]);
    t.v.group_remove(&t.alice, "devops", &["carol".into()])
        .unwrap();
    let file = file_of(&t.v);
    let carol_keys = keys_held(&file, &t.carol, carol_id);
    let rev = current_revisions(&t.v, &t.alice)[&redis];
    assert!(can_decrypt(&file, &rev, &t.carol, &carol_keys));

    let listed =
        t.v.revoke_member(&t.alice, "carol", &mut |_, _| {})
            .unwrap();
    let file = file_of(&t.v);
    let rev = current_revisions(&t.v, &t.alice)[&redis];
    let carol_keys = keys_held(&file, &t.carol, carol_id);
    assert!(
        !can_decrypt(&file, &rev, &t.carol, &carol_keys),
        "the removed member still decrypts the current revision of ops/redis"
    );
    assert!(listed.iter().any(|r| r.id == redis), "ops/redis not listed");
}

#[test]
fn revocation_covers_entries_under_an_admins_key_a_demoted_admin_still_holds() {
    // Bob is an admin, then demoted (the @admins key rotates, entries are not
    // re-keyed), then removed. hr/payroll's current revision is still under the old
    // @admins key, whose wrap to bob is in the file.
    let mut t = team();
    t.v.change_role(&t.alice, "bob", Role::Admin).unwrap();
    let bob_id = member_id(&t.v, "bob");
    let payroll = add_entry(&mut t.v, &t.alice, "hr/payroll", "p1", vec![]);
    t.v.change_role(&t.alice, "bob", Role::Member).unwrap();
    let file = file_of(&t.v);
    let rev = current_revisions(&t.v, &t.alice)[&payroll];
    assert!(can_decrypt(
        &file,
        &rev,
        &t.bob,
        &keys_held(&file, &t.bob, bob_id)
    ));

    let listed = t.v.revoke_member(&t.alice, "bob", &mut |_, _| {}).unwrap();
    let file = file_of(&t.v);
    let rev = current_revisions(&t.v, &t.alice)[&payroll];
    assert!(
        !can_decrypt(&file, &rev, &t.bob, &keys_held(&file, &t.bob, bob_id)),
        "the removed member still decrypts the current revision of hr/payroll"
    );
    assert!(
        listed.iter().any(|r| r.id == payroll),
        "hr/payroll not listed"
    );
}

#[test]
fn a_member_removed_from_a_group_cannot_read_what_is_written_to_it_afterwards() {
    let mut t = team();
    let bob_id = member_id(&t.v, "bob");
    let devops = Principal::Group(group_id(&t.v, "devops"));
    let old_key = t.v.group_named("devops").unwrap().key_id;
    t.v.group_remove(&t.alice, "devops", &["bob".into()])
        .unwrap();
    let v = &mut t.v;
    let new_key = v.group_named("devops").unwrap().key_id;
    assert_ne!(new_key, old_key);
    let entry = add_entry(v, &t.alice, "ops/after", "a1", vec![devops]);
    let file = file_of(v);
    let rev = current_revisions(v, &t.alice)[&entry];
    assert!(!can_decrypt(
        &file,
        &rev,
        &t.bob,
        &keys_held(&file, &t.bob, bob_id)
    ));
    assert!(can_decrypt(
        &file,
        &rev,
        &t.carol,
        &keys_held(&file, &t.carol, member_id(v, "carol"))
    ));
    assert_eq!(paths(v, &t.bob), Vec::<String>::new());
    assert_eq!(paths(v, &t.carol), ["ops/after"]);
}

// ---------------------------------------------------------------------------------------
// Back-dating by a removed admin (DESIGN.md "Authority")

#[test]
fn backdated_records_by_a_removed_admin_are_ignored_and_listed_by_verify() {
    let mut t = team();
    t.v.change_role(&t.alice, "bob", Role::Admin).unwrap();
    let bob_id = member_id(&t.v, "bob");
    add_entry(&mut t.v, &t.alice, "ops/db", "d1", vec![]);
    let before_removal = t.v.heads();
    let old_file = file_of(&t.v);
    let old = t.v.session(&t.alice).unwrap().open("ops/db").unwrap();
    let old_admins_key_id = t.v.group_named("admins").unwrap().key_id;
    t.v.revoke_member(&t.alice, "bob", &mut |_, _| {}).unwrap();
    let file = file_of(&t.v);

    // (1) An AddMember on the parents from before his removal.
    let dave = person("dave");
    let add = forge(
        &file,
        before_removal.clone(),
        bob_id,
        add_member_body("dave", dave.keys),
        &t.bob,
    );
    // (2) A revision of ops/db on the same parents, under the @admins key bob held
    //     then (so alice can unwrap it), dated to look newest.
    let admins_key = keys_held(&old_file, &t.bob, bob_id)
        .into_iter()
        .find(|k| {
            k.check_commitment(key_update(&old_file, &old_admins_key_id).commitment())
                .is_ok()
        })
        .unwrap();
    let key = SymmetricKey::generate().unwrap();
    let commitment = key.commitment();
    let vid = t.v.id();
    let aad = format::entry_group_wrap_aad(
        &vid,
        &ADMINS_GROUP,
        &old_admins_key_id,
        &old.id,
        Some(&old.revision),
        &commitment,
    );
    let (nonce, sealed) = crypto::seal_key(&admins_key, &aad, &key).unwrap();
    let mut payload = old.payload.clone();
    payload.password = SecretString::new("bob-was-here".into());
    let aad = format::entry_payload_aad(&vid, &old.id, Some(&old.revision), &commitment);
    let (pnonce, ciphertext) = crypto::seal(&key, &aad, &payload.to_padded().unwrap()).unwrap();
    let rev_body = RecordBody::EntryRevision(forge::entry_revision(
        old.id,
        Some(old.revision),
        EntryContent::Sealed(forge::sealed_entry(
            vec![],
            vec![],
            commitment,
            vec![KeyWrap::Group {
                key_id: old_admins_key_id,
                nonce,
                sealed,
            }],
            pnonce,
            ciphertext,
        )),
    ));
    let revision = forge(&file, before_removal, bob_id, rev_body, &t.bob);
    let mut record = revision.record().clone();
    let time = record.time() + 1_000_000;
    forge::set_time(&mut record, time);
    let revision = sign(record, &t.bob);

    let bytes = with(&file, vec![add.clone(), revision.clone()]);
    let v = Vault::decode(&bytes).unwrap();
    assert!(
        v.member_named("dave").is_err(),
        "back-dated AddMember applied"
    );
    let ignored: BTreeSet<RecordId> = v.ignored().iter().map(|i| i.record).collect();
    assert_eq!(ignored, BTreeSet::from([*add.id(), *revision.id()]));
    assert!(v.ignored().iter().all(|i| !i.reason.is_empty()));
    let e = v.session(&t.alice).unwrap().open("ops/db").unwrap();
    assert_eq!(e.payload.password.expose(), "d1");
    assert_eq!(e.heads, 1);
    let report = v.verify().unwrap();
    assert_eq!(
        report
            .ignored
            .iter()
            .map(|i| i.record)
            .collect::<BTreeSet<_>>(),
        ignored
    );
    cli_verify_lists_ignored(&bytes, &[*add.id(), *revision.id()]);
}

// ---------------------------------------------------------------------------------------
// Concurrent rotations (DESIGN.md "Key hierarchy and sharing")

#[test]
fn concurrent_rotations_of_one_group_get_distinct_ids_and_merge() {
    let t = team();
    let g = group_id(&t.v, "devops");
    let devops = Principal::Group(g);
    let (mut a, mut b) = (t.v.clone(), t.v.clone());
    a.append(&t.alice, vec![rotation(&a, g)]).unwrap();
    b.append(&t.alice, vec![rotation(&b, g)]).unwrap();
    let (ka, kb) = (
        a.group_named("devops").unwrap().key_id,
        b.group_named("devops").unwrap().key_id,
    );
    assert_ne!(ka, kb);
    // Each branch writes under its own new key.
    add_entry(&mut a, &t.alice, "a/x", "x1", vec![devops]);
    add_entry(&mut b, &t.alice, "b/y", "y1", vec![devops]);

    let mut merged = file_of(&a);
    let known: BTreeSet<RecordId> = merged.records().iter().map(|r| *r.id()).collect();
    merged.append(
        file_of(&b)
            .records()
            .iter()
            .filter(|r| !known.contains(r.id()))
            .cloned()
            .collect(),
    );
    let mut v = Vault::decode(&merged.encode()).unwrap();
    let report = v.verify().unwrap();
    assert!(report.ignored.is_empty(), "{:?}", report.ignored);
    assert_eq!(v.heads().len(), 2);
    let k = v.group_named("devops").unwrap().key_id;
    assert!(k == ka || k == kb);
    // Nothing is lost: carol reads both branches' entries; a write on the merge works.
    assert_eq!(paths(&v, &t.carol), ["a/x", "b/y"]);
    add_entry(&mut v, &t.alice, "m/z", "z1", vec![devops]);
    let v = Vault::decode(&v.encode()).unwrap();
    assert_eq!(v.heads().len(), 1);
    v.verify().unwrap();
    assert_eq!(paths(&v, &t.bob), ["a/x", "b/y", "m/z"]);
    let s = v.session(&t.carol).unwrap();
    assert_eq!(s.open("a/x").unwrap().payload.password.expose(), "x1");
    assert_eq!(s.open("b/y").unwrap().payload.password.expose(), "y1");
    assert_eq!(s.open("m/z").unwrap().payload.password.expose(), "z1");
}

// ---------------------------------------------------------------------------------------
// Admin-only actions

#[test]
fn non_admins_are_denied_every_roster_change() {
    let mut t = team();
    add_entry(&mut t.v, &t.alice, "ops/db", "d1", vec![]);
    let before = t.v.encode();
    let dave = person("dave");
    let bob = &t.bob;
    let v = &mut t.v;
    let results = [
        (
            "add_member",
            v.add_member(bob, "dave", dave.keys, Role::Member)
                .map(|_| ()),
        ),
        ("change_role", v.change_role(bob, "carol", Role::Admin)),
        ("create_group", v.create_group(bob, "x", &[]).map(|_| ())),
        ("group_add", v.group_add(bob, "devops", &["alice".into()])),
        (
            "group_remove",
            v.group_remove(bob, "devops", &["carol".into()]),
        ),
        (
            "revoke_member",
            v.revoke_member(bob, "carol", &mut |_, _| {}).map(|_| ()),
        ),
    ];
    for (what, r) in results {
        assert!(
            matches!(r, Err(VaultError::Denied(why)) if why.contains("admin")),
            "{what}: {r:?}"
        );
    }
    // Sharing an entry bob cannot read fails too, and nothing was written.
    let carol = Principal::Member(member_id(v, "carol"));
    assert!(v.share(bob, "ops/db", carol, false).is_err());
    assert_eq!(v.encode(), before);
}

#[test]
fn the_owner_cannot_be_removed_or_demoted() {
    let mut t = team();
    t.v.change_role(&t.alice, "bob", Role::Admin).unwrap();
    let before = t.v.encode();
    let r = t.v.revoke_member(&t.bob, "alice", &mut |_, _| {});
    assert!(matches!(r, Err(VaultError::Denied(_))), "{r:?}");
    let r = t.v.revoke_member(&t.alice, "alice", &mut |_, _| {});
    assert!(matches!(r, Err(VaultError::Denied(_))), "{r:?}");
    let r = t.v.change_role(&t.bob, "alice", Role::Member);
    assert!(matches!(r, Err(VaultError::Denied(_))), "{r:?}");
    assert_eq!(t.v.encode(), before);

    // Written by hand by an admin, the records are ignored.
    let file = file_of(&t.v);
    let (bob_id, alice_id) = (member_id(&t.v, "bob"), member_id(&t.v, "alice"));
    let remove = forge(
        &file,
        file.heads(),
        bob_id,
        RecordBody::RemoveMember { member: alice_id },
        &t.bob,
    );
    let demote = forge(
        &file,
        file.heads(),
        bob_id,
        RecordBody::ChangeRole {
            member: alice_id,
            role: Role::Member,
            admin_wrap: None,
        },
        &t.bob,
    );
    let v = Vault::decode(&with(&file, vec![remove.clone(), demote.clone()])).unwrap();
    let alice = v.member_named("alice").unwrap();
    assert_eq!(alice.role, Role::Owner);
    assert_eq!(
        v.ignored()
            .iter()
            .map(|i| i.record)
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([*remove.id(), *demote.id()])
    );
}

// ---------------------------------------------------------------------------------------
// The same refusals through the binary (exit 5, nothing written)

/// `amanat --vault VAULT ARGS` in `env`.
fn on(env: &TestEnv, vault: &Path, args: &[&str]) -> common::Outcome {
    let mut all = vec!["--vault", vault.to_str().unwrap()];
    all.extend_from_slice(args);
    env.run(&all)
}

/// alice's vault with bob (as `role`) and carol, both joined with their invites.
fn cli_team(bob_admin: bool) -> (TestEnv, TestEnv, TestEnv) {
    let alice = TestEnv::new();
    alice.init_alice();
    let (bob, carol) = (TestEnv::new(), TestEnv::new());
    for (env, name) in [(&bob, "bob"), (&carol, "carol")] {
        let (key, fp) = env.identity_new(name);
        let mut args = vec!["member", "add", name, &key, "--fingerprint", &fp];
        if bob_admin && name == "bob" {
            args.push("--admin");
        }
        let invite = alice.stdout(&args);
        on(env, &alice.vault_path(), &["join", invite.trim()]).success();
    }
    (alice, bob, carol)
}

#[test]
fn a_member_running_admin_commands_exits_5_and_writes_nothing() {
    let (alice, bob, _carol) = cli_team(false);
    let vault = alice.vault_path();
    alice.run(&["group", "create", "devops", "carol"]).success();
    let before = vault_state(&vault);
    let dave = TestEnv::new();
    let (dave_key, dave_fp) = dave.identity_new("dave");
    for args in [
        vec!["group", "create", "x"],
        vec!["group", "add", "devops", "bob"],
        vec!["group", "remove", "devops", "carol"],
        vec![
            "member",
            "add",
            "dave",
            &dave_key,
            "--fingerprint",
            &dave_fp,
        ],
        vec!["member", "rm", "carol"],
        vec!["member", "role", "bob", "admin"],
    ] {
        let out = on(&bob, &vault, &args).code(5);
        assert!(
            out.error().starts_with("access denied") && out.error().contains("admin"),
            "{args:?}: {}",
            out.error()
        );
        assert_eq!(vault_state(&vault), before, "{args:?} wrote");
    }
}

#[test]
fn removing_or_demoting_the_owner_exits_5() {
    let (alice, bob, _carol) = cli_team(true);
    let vault = alice.vault_path();
    let before = vault_state(&vault);
    for args in [
        vec!["member", "rm", "alice"],
        vec!["member", "role", "alice", "member"],
    ] {
        on(&bob, &vault, &args).code(5);
        assert_eq!(vault_state(&vault), before, "{args:?} wrote");
    }
    // Nor can the owner remove herself.
    alice.run(&["member", "rm", "alice"]).code(5);
    assert_eq!(vault_state(&vault), before);
    let members = alice.run(&["member", "ls", "--json"]).success().json();
    let alice_row = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "alice")
        .unwrap();
    assert_eq!(alice_row["role"], "owner");
}
