//! Tampering with the golden vault and identity (SECURITY.md item 1, DESIGN.md promise 2):
//! every single-byte change is rejected with a typed error, never a panic, and no
//! changed plaintext is ever released.
//!
//! The every-byte loops run through the library (decode + verify of the ~3.5 KB golden
//! vault costs about a millisecond); a sample of positions goes through the real binary,
//! which must exit 6. The last sections move sealed entries between places (SECURITY.md
//! item 10) and pin, as regression tests, forgeries that an earlier build accepted.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use amanat::crypto::{self, SecretString, SymmetricKey};
use amanat::forge;
use amanat::format::{
    self, EntryContent, EntryId, EntryPayload, EntryRevision, FormatError, KeyWrap, MemberId,
    PublicKeys, Record, RecordBody, RecordId, Role, StoredRecord, VaultFile,
};
use amanat::identity::{Identity, IdentityError};
use amanat::vault::{EntryDraft, Vault, VaultError};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn read(name: &str) -> Vec<u8> {
    fs::read(vectors().join(name)).unwrap()
}

fn passphrase() -> SecretString {
    let text = String::from_utf8(read("golden.passphrase")).unwrap();
    SecretString::new(text.lines().next().unwrap().to_string())
}

fn alice() -> Identity {
    Identity::unlock(&read("golden.identity"), &passphrase()).unwrap()
}

/// `(path, password)` of every entry of the golden vault, from golden.expected.json.
fn golden_passwords() -> Vec<(String, String)> {
    let exp: serde_json::Value = serde_json::from_slice(&read("golden.expected.json")).unwrap();
    exp["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_string(),
                e["password"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Run `check(position)` for every position in `0..len`, split over the available
/// cores, and fail with every position whose check failed or panicked.
fn for_every_position(len: usize, check: impl Fn(usize) -> Result<(), String> + Sync) {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let check = &check;
                s.spawn(move || {
                    (t..len)
                        .step_by(threads)
                        .filter_map(|i| match catch_unwind(AssertUnwindSafe(|| check(i))) {
                            Ok(Ok(())) => None,
                            Ok(Err(e)) => Some(format!("position {i}: {e}")),
                            Err(_) => Some(format!("position {i}: panicked")),
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What a tampered vault may do: fail to decode, or decode and fail `verify`; and
/// whatever still opens must be exactly the golden value (no changed plaintext).
fn check_rejected(
    bytes: &[u8],
    alice: &Identity,
    golden: &[(String, String)],
) -> Result<(), String> {
    let Ok(vault) = Vault::decode(bytes) else {
        return Ok(());
    };
    // Damage is skipped and listed by verify, never silently accepted.
    if vault.verify().is_ok_and(|r| r.ignored.is_empty()) {
        return Err("decode and verify accepted it".into());
    }
    let Ok(session) = vault.session(alice) else {
        return Ok(());
    };
    for (path, password) in golden {
        if let Ok(e) = session.open(path)
            && e.payload.password.expose() != password
        {
            // A damaged revision is skipped: the entry then opens to its previous
            // revision, which this machine could not tell from a deleted one (the pins
            // catch both). Anything else is a changed plaintext.
            let skipped = vault
                .ignored()
                .iter()
                .any(|i| i.reason == amanat::vault::BAD_SIGNATURE);
            if !skipped {
                return Err(format!("{path} opened to a changed value"));
            }
        }
    }
    Ok(())
}

#[test]
fn every_byte_flip_of_the_golden_vault_is_rejected() {
    let golden = read("golden.vault");
    let alice = alice();
    let passwords = golden_passwords();
    // The unmodified file passes, so the loop below tests the flips, not the fixture.
    Vault::decode(&golden).unwrap().verify().unwrap();
    for_every_position(golden.len(), |i| {
        let mut bytes = golden.clone();
        bytes[i] ^= 0x01;
        check_rejected(&bytes, &alice, &passwords)
    });
}

#[test]
fn every_bit_of_the_header_is_checked() {
    let golden = read("golden.vault");
    for bit in 0..8 * 9 {
        let mut bytes = golden.clone();
        bytes[bit / 8] ^= 1 << (bit % 8);
        let want = if bit < 64 {
            FormatError::BadMagic
        } else {
            FormatError::UnsupportedVersion(golden[8] ^ (1 << (bit % 8)))
        };
        assert_eq!(VaultFile::decode(&bytes).err(), Some(want), "bit {bit}");
        assert!(matches!(Vault::decode(&bytes), Err(VaultError::Format(_))));
    }
    // The vault id that follows: any change is a mismatch with the genesis record.
    for bit in 8 * 9..8 * (9 + 32) {
        let mut bytes = golden.clone();
        bytes[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(
            VaultFile::decode(&bytes).err(),
            Some(FormatError::VaultIdMismatch),
            "bit {bit}"
        );
    }
}

#[test]
fn truncation_at_every_length_is_rejected() {
    let golden = read("golden.vault");
    for_every_position(golden.len(), |n| match VaultFile::decode(&golden[..n]) {
        // Short of the magic; cut inside an object; or cut so early that the record
        // count cannot fit in what is left (checked before any allocation).
        Err(
            FormatError::BadMagic | FormatError::Truncated | FormatError::TooLarge("record count"),
        ) => Ok(()),
        r => Err(format!("{r:?}")),
    });
}

// ---------------------------------------------------------------------------------------
// Through the binary

/// A copy of the golden passphrase file in `dir`, mode 0600 (git keeps no such mode,
/// and amanat refuses a passphrase file others can read).
fn private_passphrase(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let copy = dir.join("golden.passphrase");
    std::fs::copy(vectors().join("golden.passphrase"), &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o600)).unwrap();
    copy
}

fn amanat(dir: &Path) -> assert_cmd::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_amanat"));
    common::hermetic(&mut cmd, dir, &private_passphrase(dir))
        .env("XDG_RUNTIME_DIR", dir.join("run"))
        .arg("--vault")
        .arg(dir.join("vault"))
        .arg("--identity")
        .arg(dir.join("identity.amanat"));
    assert_cmd::Command::from_std(cmd)
}

#[test]
fn a_sample_of_byte_flips_fails_amanat_verify_with_exit_6() {
    let golden = read("golden.vault");
    let n = golden.len();
    // ~50 positions spread over the file, plus the edges: magic, version, vault id,
    // record count, the first record's length, the last record's last byte (before its
    // signature) and the last signature's last byte.
    let mut positions: Vec<usize> = (0..50).map(|k| k * n / 50 + k % 7).collect();
    positions.extend([0, 7, 8, 9, 40, 41, 42, n - 65, n - 1]);
    positions.sort_unstable();
    positions.dedup();
    for i in positions {
        let mut bytes = golden.clone();
        bytes[i] ^= 0x01;
        // The changed bytes as a segment named by their hash, and (as an edit in place
        // would leave them) under the golden vault's segment name.
        for renamed in [true, false] {
            // A fresh state dir each time, so no pin of one run affects the next.
            let dir = tempfile::tempdir().unwrap();
            let vault = dir.path().join("vault");
            if renamed {
                common::set_vault_bytes(&vault, &bytes);
            } else {
                fs::create_dir(&vault).unwrap();
                fs::write(vault.join(format::segment::segment_name(&golden)), &bytes).unwrap();
            }
            fs::copy(
                vectors().join("golden.identity"),
                dir.path().join("identity.amanat"),
            )
            .unwrap();
            let out = amanat(dir.path()).arg("verify").output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let what = format!("byte {i} (renamed: {renamed})");
            assert_eq!(out.status.code(), Some(6), "{what}: {stderr}");
            assert!(!stderr.contains("panicked"), "{what}: {stderr}");
            assert!(
                stderr.lines().any(|l| l.starts_with("error: ")),
                "{what}: {stderr}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Identity file

#[test]
fn every_byte_flip_of_the_golden_identity_fails_to_unlock() {
    let golden = read("golden.identity");
    let pass = passphrase();
    Identity::unlock(&golden, &pass).unwrap();
    for_every_position(golden.len(), |i| {
        let mut bytes = golden.clone();
        bytes[i] ^= 0x01;
        match Identity::unlock(&bytes, &pass) {
            Ok(_) => Err("a modified identity file unlocked".into()),
            // Damage is either seen by the parser (Malformed; Kdf when a parameter
            // becomes invalid, e.g. t = 0) or by the AEAD (WrongPassphrase: the
            // header, KDF parameters included, is associated data).
            Err(
                IdentityError::Malformed(_)
                | IdentityError::WrongPassphrase
                | IdentityError::Kdf(_),
            ) => Ok(()),
            Err(e) => Err(format!("unexpected error class {e:?}")),
        }
    });
}

#[test]
fn every_bit_of_the_identity_magic_and_version_is_checked() {
    let golden = read("golden.identity");
    for bit in 0..8 * 9 {
        let mut bytes = golden.clone();
        bytes[bit / 8] ^= 1 << (bit % 8);
        let want = if bit < 64 {
            IdentityError::Malformed("bad magic")
        } else {
            IdentityError::Malformed("unsupported version")
        };
        assert_eq!(
            Identity::unlock(&bytes, &passphrase()).err(),
            Some(want),
            "bit {bit}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Moving ciphertexts (SECURITY.md item 10), re-signed by the real writer

fn stored(record: Record, signer: &Identity) -> StoredRecord {
    forge::sign(record, &signer.signing)
}

/// Append one record signed by `signer` to the file's head and re-decode.
fn append_raw(vault: &Vault, author: MemberId, body: RecordBody, signer: &Identity) -> Vault {
    let mut file = VaultFile::decode(&vault.encode()).unwrap();
    let time = file
        .records()
        .iter()
        .map(|r| r.record().time())
        .max()
        .unwrap()
        + 10;
    let record = forge::record(file.heads(), author, time, body);
    file.append(vec![stored(record, signer)]);
    Vault::decode(&file.encode()).unwrap()
}

fn revision_of(vault: &Vault, id: &RecordId) -> EntryRevision {
    let file = VaultFile::decode(&vault.encode()).unwrap();
    let r = file.records().iter().find(|r| r.id() == id).unwrap();
    match r.record().body() {
        RecordBody::EntryRevision(rev) => rev.clone(),
        _ => panic!("not a revision"),
    }
}

#[test]
fn a_sealed_entry_moved_to_another_entry_does_not_open() {
    let alice = alice();
    let vault = Vault::decode(&read("golden.vault")).unwrap();
    let me = vault.member_for(&alice).unwrap().id;
    let (github, db) = {
        let s = vault.session(&alice).unwrap();
        (s.open("web/github").unwrap(), s.open("db/prod").unwrap())
    };
    // web/github's whole sealed content (wraps, commitment, nonce, ciphertext) as a
    // new revision of db/prod, correctly signed by alice.
    let moved = forge::entry_revision(
        db.id,
        Some(db.revision),
        revision_of(&vault, &github.revision).content().clone(),
    );
    let tampered = append_raw(&vault, me, RecordBody::EntryRevision(moved), &alice);
    assert!(tampered.verify().unwrap().ignored.is_empty());
    let s = tampered.session(&alice).unwrap();
    assert!(matches!(s.open_id(&db.id), Err(VaultError::Integrity(_))));
    // Replayed under its own entry id on top of itself, it fails as well (the
    // previous revision is associated data too).
    let replayed = forge::entry_revision(
        github.id,
        Some(github.revision),
        revision_of(&vault, &github.revision).content().clone(),
    );
    let tampered = append_raw(&vault, me, RecordBody::EntryRevision(replayed), &alice);
    let s = tampered.session(&alice).unwrap();
    assert!(matches!(
        s.open_id(&github.id),
        Err(VaultError::Integrity(_))
    ));
}

// ---------------------------------------------------------------------------------------
// Regressions: forgeries an earlier build accepted

/// A revision of `entry` after `prev` whose key is HPKE-wrapped straight to `to`:
/// anyone who knows a member's public keys and id (both in clear) can make one.
fn revision_wrapped_to(
    vault_id: &RecordId,
    to: (MemberId, &PublicKeys),
    entry: EntryId,
    prev: Option<RecordId>,
    path: &str,
    password: &str,
) -> RecordBody {
    let key = SymmetricKey::generate().unwrap();
    let commitment = key.commitment();
    let mut p = EntryPayload::default();
    p.path = path.into();
    p.password = SecretString::new(password.into());
    let info = format::entry_member_wrap_info(vault_id, &to.0, &entry, prev.as_ref(), &commitment);
    let w = crypto::hpke_wrap(&to.1.agreement, &info, &key).unwrap();
    let aad = format::entry_payload_aad(vault_id, &entry, prev.as_ref(), &commitment);
    let (nonce, ciphertext) = crypto::seal(&key, &aad, &p.to_padded().unwrap()).unwrap();
    RecordBody::EntryRevision(forge::entry_revision(
        entry,
        prev,
        EntryContent::Sealed(forge::sealed_entry(
            vec![],
            vec![],
            commitment,
            vec![KeyWrap::Member(forge::member_wrap(
                to.0,
                w.enc,
                w.sealed.to_vec(),
            ))],
            nonce,
            ciphertext,
        )),
    ))
}

/// alice (owner) with a vault holding `web/github` = "alice-secret", and bob, a plain
/// member with no write grant on it.
fn team() -> (Identity, Identity, MemberId, Vault) {
    let alice = Identity::generate("alice").unwrap();
    let bob = Identity::generate("bob").unwrap();
    let mut vault = Vault::create(&alice, "acme").unwrap();
    let bob_id = MemberId(crypto::random_array().unwrap());
    vault
        .append(
            &alice,
            vec![RecordBody::AddMember(forge::add_member(
                bob_id,
                "bob".into(),
                bob.keys,
                Role::Member,
                None,
            ))],
        )
        .unwrap();
    let mut payload = EntryPayload::default();
    payload.path = "web/github".into();
    payload.password = SecretString::new("alice-secret".into());
    let body = vault
        .session(&alice)
        .unwrap()
        .create_entry(&EntryDraft {
            payload,
            share_with: vec![],
        })
        .unwrap();
    vault.append(&alice, vec![body]).unwrap();
    (alice, bob, bob_id, vault)
}

#[test]
fn a_member_without_write_right_cannot_overwrite_an_entry() {
    let (alice, bob, bob_id, vault) = team();
    let alice_id = vault.member_for(&alice).unwrap().id;
    let current = vault.session(&alice).unwrap().open("web/github").unwrap();
    // The honest write path refuses bob.
    let bob_session = vault.session(&bob).unwrap();
    assert!(!bob_session.may_write(&current));
    // Bob writes the record by hand: everything he needs is in clear.
    let forged = revision_wrapped_to(
        &vault.id(),
        (alice_id, &alice.keys),
        current.id,
        Some(current.revision),
        "web/github",
        "bob-was-here",
    );
    let tampered = append_raw(&vault, bob_id, forged, &bob);
    let opened = tampered.session(&alice).unwrap().open("web/github");
    let verified = tampered.verify();
    let detected =
        opened.is_err() || verified.is_err() || !verified.as_ref().unwrap().ignored.is_empty();
    assert!(detected, "an unauthorized writer's revision was accepted");
    if let Ok(e) = opened {
        assert_eq!(e.payload.password.expose(), "alice-secret");
    }
}

#[test]
fn an_ignored_add_member_record_lends_no_keys() {
    let (alice, bob, bob_id, mut vault) = team();
    let alice_id = vault.member_for(&alice).unwrap().id;
    let current = vault.session(&alice).unwrap().open("web/github").unwrap();
    vault
        .append(&alice, vec![RecordBody::RemoveMember { member: bob_id }])
        .unwrap();
    // Bob, removed, signs an AddMember naming alice's id with keys he holds. The
    // replay checks his signature and ignores the record ("author had been removed").
    let bob2 = Identity::generate("bob2").unwrap();
    let add = RecordBody::AddMember(forge::add_member(
        alice_id,
        "alice2".into(),
        bob2.keys,
        Role::Member,
        None,
    ));
    let vault = append_raw(&vault, bob_id, add, &bob);
    assert_eq!(vault.ignored().len(), 1);
    // Then a revision "by alice", signed with bob2's key.
    let forged = revision_wrapped_to(
        &vault.id(),
        (alice_id, &alice.keys),
        current.id,
        Some(current.revision),
        "web/github",
        "forged-as-alice",
    );
    let tampered = append_raw(&vault, alice_id, forged, &bob2);
    // The forged revision is damage (bob2's key was never alice's): skipped, and the
    // genuine value is what opens.
    assert!(tampered.has_damage());
    let opened = tampered
        .session(&alice)
        .unwrap()
        .open("web/github")
        .unwrap();
    assert_ne!(opened.payload.password.expose(), "forged-as-alice");
}

/// A mirror of the identity file's clear header (private in `identity`), to build a
/// damaged but well-formed file.
#[derive(serde::Serialize, serde::Deserialize)]
struct IdentityHeaderMirror {
    name: String,
    keys: PublicKeys,
    kdf: amanat::crypto::KdfParams,
    insecure_kdf: bool,
    salt: [u8; 16],
    nonce: [u8; 24],
}

#[test]
fn an_identity_file_with_an_invalid_stored_name_is_malformed() {
    let golden_vault = read("golden.vault");
    let golden = read("golden.identity");
    let (mut header, tail): (IdentityHeaderMirror, &[u8]) =
        postcard::take_from_bytes(&golden[9..]).unwrap();
    header.name = "al ice".into();
    let mut bytes = golden[..9].to_vec();
    bytes.extend(postcard::to_allocvec(&header).unwrap());
    bytes.extend_from_slice(tail);
    let r = Identity::unlock(&bytes, &passphrase());
    assert!(matches!(r, Err(IdentityError::Malformed(_))), "{r:?}");

    let dir = tempfile::tempdir().unwrap();
    common::set_vault_bytes(&dir.path().join("vault"), &golden_vault);
    fs::write(dir.path().join("identity.amanat"), &bytes).unwrap();
    let out = amanat(dir.path())
        .args(["get", "web/github"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6), "{out:?}");
}

#[test]
fn an_identity_file_with_an_overlong_sealed_length_is_refused() {
    let golden = read("golden.identity");
    let n = golden.len();
    // The file ends with the varint length 80 (0x50) and the 80 sealed bytes.
    assert_eq!(golden[n - 81], 0x50);
    let mut bytes = golden[..n - 81].to_vec();
    bytes.extend_from_slice(&[0xd0, 0x00]);
    bytes.extend_from_slice(&golden[n - 80..]);
    let r = Identity::unlock(&bytes, &passphrase());
    assert!(
        matches!(r, Err(IdentityError::Malformed(_))),
        "{:?}",
        r.map(|i| i.name)
    );
}
