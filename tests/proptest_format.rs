//! Property tests of the format layer (STYLE.md rule 13, second layer): entry payloads
//! round-trip through padding, the padded size is exactly the size bucket, and the
//! decoders never panic on arbitrary input or on mutations of the golden vectors —
//! and whatever they accept is in its one canonical encoding.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use proptest::collection::vec;
use proptest::prelude::*;

use amanat::crypto::SecretString;
use amanat::format::{
    self, CustomField, EntryPayload, GroupId, MAX_PAYLOAD_LEN, MIN_BUCKET, MemberId, Principal,
    Role, StoredRecord, VaultFile,
};
use amanat::identity::{self, Identity};
use amanat::vault::Vault;

fn golden(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/vectors")
            .join(name),
    )
    .unwrap()
}

/// What the crate guarantees of every `StoredRecord` it hands out (docs/format.md,
/// "Record"): its id is the hash of its bytes and its record is their decoding. The
/// fields are private to the crate; only the test-only `forge` feature builds others.
fn consistent(r: &StoredRecord) -> bool {
    *r.id() == format::record_id(r.bytes())
        && format::decode_record(r.bytes()).as_ref() == Ok(r.record())
}

#[test]
fn stored_records_from_the_public_api_are_consistent() {
    // Decoded from a file.
    let file = VaultFile::decode(&golden("golden.vault")).unwrap();
    assert!(!file.records().is_empty());
    assert!(file.records().iter().all(consistent));
    assert_eq!(file.vault_id(), *file.records()[0].id());
    // Written by the vault (signed, then appended), and decoded again.
    let alice = Identity::generate("alice").unwrap();
    let bob = Identity::generate("bob").unwrap();
    let mut v = Vault::create(&alice, "acme").unwrap();
    v.add_member(&alice, "bob", bob.keys, Role::Member).unwrap();
    v.create_group(&alice, "devops", &["bob".into()]).unwrap();
    assert!(v.records().len() >= 3, "genesis, a member, a group");
    assert!(v.records().iter().all(consistent));
    let again = Vault::decode(&v.encode()).unwrap();
    assert!(again.records().iter().all(consistent));
}

/// Any Unicode text (control characters, NULs and astral planes included).
fn text(max: usize) -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..max).prop_map(|c| c.into_iter().collect())
}

#[allow(dead_code)]
fn principal() -> impl Strategy<Value = Principal> {
    prop_oneof![
        any::<[u8; 16]>().prop_map(|a| Principal::Member(MemberId(a))),
        any::<[u8; 16]>().prop_map(|a| Principal::Group(GroupId(a))),
    ]
}

fn field() -> impl Strategy<Value = CustomField> {
    (text(40), text(200), any::<bool>()).prop_map(|(name, value, secret)| CustomField {
        name,
        value: SecretString::new(value),
        secret,
    })
}

prop_compose! {
    fn payload(max_text: usize)(
        path in text(120),
        username in text(60),
        password in text(100),
        url in text(120),
        notes in text(max_text),
        fields in vec(field(), 0..8),
        totp in proptest::option::of(text(200)),
        rotate_at_source in any::<bool>(),
        rotate_totp_at_source in any::<bool>(),
        times in any::<(u64, u64, u64)>(),
    ) -> EntryPayload {
        let mut p = EntryPayload::default();
        p.path = path;
        p.username = username;
        p.password = SecretString::new(password);
        p.url = url;
        p.notes = notes;
        p.fields = fields;
        p.totp = totp.map(SecretString::new);
        // write_grants are not in the payload: they travel in clear as the revision's
        // writers (docs/format.md).
        p.rotate_at_source = rotate_at_source;
        p.rotate_totp_at_source = rotate_totp_at_source;
        (p.created, p.modified, p.password_changed) = times;
        p
    }
}

/// Round trip and exact bucket size for one payload.
fn check_round_trip(p: &EntryPayload) -> Result<(), TestCaseError> {
    // The TOTP flag is one byte after the postcard body, present only when set.
    let body_len = postcard::to_allocvec(p).unwrap().len() + usize::from(p.rotate_totp_at_source);
    let padded = p.to_padded().unwrap();
    prop_assert_eq!(padded.len(), format::bucket(body_len + 4));
    prop_assert!(padded.len() >= MIN_BUCKET);
    // A bucket size is its own bucket: equal-bucket payloads are indistinguishable.
    prop_assert_eq!(format::bucket(padded.len()), padded.len());
    let back = EntryPayload::from_padded(&padded).unwrap();
    prop_assert!(back == *p, "payload changed in the round trip");
    Ok(())
}

/// A mutation of a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Xor(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), 1..=255u8).prop_map(|(i, b)| Mutation::Xor(i, b)),
        (any::<usize>(), vec(any::<u8>(), 1..8)).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 1..70usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match m {
            Mutation::Set(i, b) => {
                if !bytes.is_empty() {
                    bytes[i % len] = *b;
                }
            }
            Mutation::Xor(i, b) => {
                if !bytes.is_empty() {
                    bytes[i % len] ^= *b;
                }
            }
            Mutation::Insert(i, b) => {
                let at = i % (bytes.len() + 1);
                bytes.splice(at..at, b.iter().copied());
            }
            Mutation::Delete(i, n) => {
                let at = i % len;
                let end = (at + n).min(bytes.len());
                if at < end {
                    bytes.drain(at..end);
                }
            }
            Mutation::Truncate(n) => bytes.truncate(n % len),
        }
    }
    bytes
}

proptest! {
    #[test]
    fn payload_round_trips_with_exact_bucket(p in payload(600)) {
        check_round_trip(&p)?;
    }

    #[test]
    fn padded_payload_decoding_never_panics_and_is_canonical(bytes in vec(any::<u8>(), 0..1100)) {
        if let Ok(p) = EntryPayload::from_padded(&bytes) {
            // Accepted input is the one encoding of what it decodes to.
            prop_assert_eq!(p.to_padded().unwrap().to_vec(), bytes);
        }
    }

    #[test]
    fn mutated_padded_payload_never_panics_and_is_canonical(
        p in payload(300),
        mutations in vec(mutation(), 1..4),
    ) {
        let bytes = mutate(p.to_padded().unwrap().to_vec(), &mutations);
        if let Ok(q) = EntryPayload::from_padded(&bytes) {
            prop_assert_eq!(q.to_padded().unwrap().to_vec(), bytes);
        }
    }

    #[test]
    fn vault_decoding_never_panics_on_arbitrary_bytes(bytes in vec(any::<u8>(), 0..600)) {
        let _ = VaultFile::decode(&bytes);
        let _ = Vault::decode(&bytes);
    }

    #[test]
    fn vault_decoding_never_panics_past_the_header(
        id in any::<[u8; 32]>(),
        body in vec(any::<u8>(), 0..600),
    ) {
        // Start with a valid magic and version, so the record parser is exercised.
        let mut bytes = format::VAULT_MAGIC.to_vec();
        bytes.push(format::FORMAT_VERSION);
        bytes.extend_from_slice(&id);
        bytes.extend_from_slice(&body);
        if let Ok(f) = VaultFile::decode(&bytes) {
            prop_assert_eq!(f.encode(), bytes.clone());
        }
        let _ = Vault::decode(&bytes);
    }

    #[test]
    fn mutated_golden_vault_never_panics_and_what_decodes_is_canonical(
        mutations in vec(mutation(), 1..4),
    ) {
        let bytes = mutate(golden("golden.vault"), &mutations);
        if let Ok(f) = VaultFile::decode(&bytes) {
            // One canonical encoding: re-encoding gives back the exact input.
            prop_assert_eq!(f.encode(), bytes.clone());
            prop_assert!(f.records().iter().all(consistent));
        }
        if let Ok(v) = Vault::decode(&bytes) {
            // Anything but the unchanged file fails verification: a hard error, or a
            // record skipped as damage and listed.
            if bytes != golden("golden.vault") {
                let clean = v.verify().is_ok_and(|r| r.ignored.is_empty());
                prop_assert!(!clean, "a mutated vault verified");
            }
        }
    }

    #[test]
    fn identity_parsing_never_panics(bytes in vec(any::<u8>(), 0..400)) {
        let _ = identity::inspect(&bytes);
        let mut with_magic = identity::IDENTITY_MAGIC.to_vec();
        with_magic.push(identity::IDENTITY_VERSION);
        with_magic.extend_from_slice(&bytes);
        let _ = identity::inspect(&with_magic);
    }
}

proptest! {
    // Argon2 runs for every mutation that still parses: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn mutated_golden_identity_never_unlocks(mutations in vec(mutation(), 1..3)) {
        let original = golden("golden.identity");
        let bytes = mutate(original.clone(), &mutations);
        prop_assume!(bytes != original);
        let pass = SecretString::new("golden passphrase".into());
        prop_assert!(Identity::unlock(&bytes, &pass).is_err());
    }
}

proptest! {
    // Large payloads cross the 64 KiB step from powers of two to multiples of 64 KiB.
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn large_payload_round_trips_with_exact_bucket(
        p in payload(8),
        extra in 0usize..200_000,
        fill in any::<char>(),
    ) {
        let mut p = p;
        p.notes = std::iter::repeat_n(fill, extra / fill.len_utf8()).collect();
        let body_len = postcard::to_allocvec(&p).unwrap().len();
        if body_len > MAX_PAYLOAD_LEN {
            prop_assert!(p.to_padded().is_err());
        } else {
            check_round_trip(&p)?;
        }
    }
}

#[test]
fn bucket_boundaries() {
    assert_eq!(format::bucket(0), MIN_BUCKET);
    assert_eq!(format::bucket(MIN_BUCKET), MIN_BUCKET);
    assert_eq!(format::bucket(MIN_BUCKET + 1), 2 * MIN_BUCKET);
    assert_eq!(format::bucket(64 * 1024), 64 * 1024);
    assert_eq!(format::bucket(64 * 1024 + 1), 128 * 1024);
    assert_eq!(format::bucket(192 * 1024 + 1), 256 * 1024);
    // Above 64 KiB the buckets are multiples of 64 KiB, not powers of two.
    assert_eq!(format::bucket(320 * 1024 + 1), 384 * 1024);
}

#[test]
fn to_padded_refuses_what_from_padded_refuses() {
    let mut p = EntryPayload::default();
    p.path = "many/fields".into();
    p.fields = (0..=format::MAX_FIELDS)
        .map(|i| CustomField {
            name: format!("k{i}"),
            value: SecretString::new("v".into()),
            secret: false,
        })
        .collect();
    match p.to_padded() {
        Err(_) => {}
        Ok(padded) => assert!(
            EntryPayload::from_padded(&padded).is_ok(),
            "sealed a payload that no reader accepts"
        ),
    }
}
