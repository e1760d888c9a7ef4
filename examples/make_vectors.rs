//! Generates the committed test vectors of `tests/vectors/` (see its README.md).
//!
//! Run by hand, never from the tests: `cargo run --example make_vectors -- tests/vectors`.
//! The output is not deterministic (keys, nonces and ids are random), so the files are
//! generated once and committed; `tests/vectors.rs` pins what must stay stable (the
//! golden identity's public key and fingerprint, the vault id, the decrypted entries).
//! Re-running overwrites every file in the directory it is given, after checking that
//! each `fail_*` vector fails the way its README entry says.
//!
//! Only the public library API is used, plus the test-only `amanat::forge` module (the
//! `forge` feature, which the self dev-dependency in `Cargo.toml` turns on for examples)
//! for the manipulated records: `forge::sign` (encode, hash, sign), `forge::with_bytes`
//! and `forge::resign` for raw bytes, `forge::vault_file(vault_id, records).encode()`.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use serde::{Deserialize, Serialize};
use serde_json::json;

use amanat::crypto::{self, KdfParams, SecretString, SymmetricKey};
use amanat::forge;
use amanat::format::{
    self, CustomField, EntryContent, EntryId, EntryPayload, FormatError, KeyWrap, MemberId,
    PublicKeys, Record, RecordBody, StoredRecord, VaultFile,
};
use amanat::identity::{self, IDENTITY_MAGIC, Identity, IdentityError};
use amanat::vault::{EntryDraft, Vault, VaultError};

const PASSPHRASE: &str = "golden passphrase";
const TEAM: &str = "golden";
/// A fixed, plausible time for payload timestamps (2025-01-01T00:00:00Z).
const T0: u64 = 1_735_689_600;

/// One golden entry as written (and, after the edit and the rename, as expected).
#[derive(Clone)]
struct Expected {
    path: &'static str,
    username: &'static str,
    url: &'static str,
    password: &'static str,
    notes: &'static str,
    fields: Vec<(&'static str, &'static str, bool)>,
    totp: Option<&'static str>,
}

/// A mirror of the identity file's clear header (`identity::IdentityHeader` is private);
/// checked below to re-encode the golden file byte for byte before it is trusted.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IdentityHeaderMirror {
    name: String,
    keys: PublicKeys,
    kdf: KdfParams,
    insecure_kdf: bool,
    salt: [u8; 16],
    nonce: [u8; 24],
}

fn secret(s: &str) -> SecretString {
    SecretString::new(s.to_string())
}

fn payload(e: &Expected, time: u64) -> EntryPayload {
    let mut p = EntryPayload::default();
    p.path = e.path.into();
    p.username = e.username.into();
    p.url = e.url.into();
    p.password = secret(e.password);
    p.notes = e.notes.into();
    p.fields = e
        .fields
        .iter()
        .map(|(name, value, secret_field)| CustomField {
            name: (*name).into(),
            value: secret(value),
            secret: *secret_field,
        })
        .collect();
    p.totp = e.totp.map(secret);
    p.created = time;
    p.modified = time;
    p.password_changed = time;
    p
}

fn draft(payload: EntryPayload) -> EntryDraft {
    EntryDraft {
        payload,
        share_with: vec![],
    }
}

fn main() -> anyhow::Result<()> {
    let out: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .context("usage: cargo run --example make_vectors -- tests/vectors")?;
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    // ---------------------------------------------------------------- golden identity
    let alice = Identity::generate("alice")?;
    let identity_bytes = alice.seal(&secret(PASSPHRASE), KdfParams::INSECURE_TEST, true)?;
    let alice = Identity::unlock(&identity_bytes, &secret(PASSPHRASE))?;

    // ---------------------------------------------------------------- golden vault
    let github_v1 = Expected {
        path: "web/github",
        username: "alice-gh",
        url: "https://github.com/login",
        password: "gh-Pa55word!",
        notes: "golden vector entry\nsecond line of notes",
        fields: vec![
            ("team", "platform", false),
            ("recovery-code", "RC-1111-2222-3333", true),
        ],
        totp: Some("otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP&issuer=GitHub"),
    };
    // After the edit: a new password, everything else unchanged.
    let github = Expected {
        password: "gh-Pa55word!-v2",
        ..github_v1.clone()
    };
    let db = Expected {
        path: "db/prod",
        username: "pgadmin",
        url: "postgres://db.example.internal:5432/prod",
        password: "db-S3cret-prod",
        notes: "",
        fields: vec![],
        totp: None,
    };
    let smtp = Expected {
        path: "mail/smtp",
        username: "mailer",
        url: "smtp://smtp.example.internal:587",
        password: "smtp-pw-0001",
        notes: "",
        fields: vec![("host", "smtp.example.internal", false)],
        totp: None,
    };
    // After the rename: a new path, everything else unchanged.
    let relay = Expected {
        path: "mail/relay",
        ..smtp.clone()
    };

    let mut vault = Vault::create(&alice, TEAM)?; // genesis + @admins key
    for e in [&github_v1, &db, &smtp] {
        let body = vault
            .session(&alice)?
            .create_entry(&draft(payload(e, T0)))?;
        vault.append(&alice, vec![body])?;
    }
    // One edit: a new password for web/github.
    let body = {
        let s = vault.session(&alice)?;
        let cur = s.open(github.path)?;
        let mut p = cur.payload.clone();
        p.password = secret(github.password);
        p.modified = T0 + 60;
        p.password_changed = T0 + 60;
        s.revise_entry(&cur, &draft(p))?
    };
    vault.append(&alice, vec![body])?;
    // One rename: mail/smtp -> mail/relay.
    let body = {
        let s = vault.session(&alice)?;
        let cur = s.open(smtp.path)?;
        let mut p = cur.payload.clone();
        p.path = relay.path.into();
        p.modified = T0 + 120;
        s.revise_entry(&cur, &draft(p))?
    };
    vault.append(&alice, vec![body])?;
    let golden = vault.encode();
    let file = VaultFile::decode(&golden)?;
    ensure!(file.records().len() == 7, "expected 7 records");

    // Record indices in the (linear) golden chain.
    let entry_of = |i: usize| -> anyhow::Result<EntryId> {
        match file.records()[i].record().body() {
            RecordBody::EntryRevision(r) => Ok(r.entry()),
            _ => bail!("record {i} is not an entry revision"),
        }
    };
    // 0 genesis, 1 @admins key, 2 github v1, 3 db/prod, 4 mail/smtp, 5 github edit,
    // 6 rename to mail/relay.
    let db_entry = entry_of(3)?;
    let github_entry = entry_of(5)?;
    let relay_entry = entry_of(6)?;
    ensure!(entry_of(2)? == github_entry && entry_of(4)? == relay_entry);

    let expected_entries: Vec<serde_json::Value> = [&github, &db, &relay]
        .iter()
        .map(|e| {
            json!({
                "path": e.path,
                "username": e.username,
                "url": e.url,
                "password": e.password,
                "notes": e.notes,
                "fields": e.fields.iter().map(|(n, v, s)| json!({"name": n, "value": v, "secret": s})).collect::<Vec<_>>(),
                "totp": e.totp,
            })
        })
        .collect();
    let expected = json!({
        "passphrase": PASSPHRASE,
        "identity": {
            "name": alice.name,
            "public_key": alice.public_key_text(),
            "fingerprint": alice.fingerprint(),
            "kdf": {"memory_kib": alice.kdf.memory_kib, "time": alice.kdf.time, "lanes": alice.kdf.lanes},
            "insecure_kdf": alice.insecure_kdf,
        },
        "vault_id": vault.id().to_hex(),
        "team": TEAM,
        "records": file.records().len(),
        "heads": vault.heads().iter().map(|h| h.to_hex()).collect::<Vec<_>>(),
        "entries": expected_entries,
        "gone_paths": [smtp.path],
        "entry_ids": {
            "web/github": github_entry.to_hex(),
            "db/prod": db_entry.to_hex(),
            "mail/relay": relay_entry.to_hex(),
        },
    });

    write(&out, "golden.identity", &identity_bytes)?;
    write(
        &out,
        "golden.passphrase",
        format!("{PASSPHRASE}\n").as_bytes(),
    )?;
    write(&out, "golden.vault", &golden)?;
    write(
        &out,
        "golden.expected.json",
        format!("{}\n", serde_json::to_string_pretty(&expected)?).as_bytes(),
    )?;

    // ---------------------------------------------------------------- fail vectors: framing
    let offsets = record_offsets(&golden)?;

    // Cut in the middle of record 3's bytes.
    let (start, len) = offsets[3];
    let v = golden[..start + len / 2].to_vec();
    expect_format(&v, FormatError::Truncated)?;
    write(&out, "fail_truncated.vault", &v)?;

    let mut v = golden.clone();
    v.extend_from_slice(b"\x00extra");
    expect_format(&v, FormatError::TrailingBytes)?;
    write(&out, "fail_trailing.vault", &v)?;

    // Record 0's length prefix replaced by a varint of 2^31.
    let (start, _) = offsets[0];
    let prefix_len = varint_len(&golden[COUNT_OFFSET + 1..]);
    let mut v = golden[..COUNT_OFFSET + 1].to_vec();
    v.extend_from_slice(&varint(1 << 31));
    v.extend_from_slice(&golden[start..]);
    ensure!(prefix_len + COUNT_OFFSET + 1 == start);
    expect_format(&v, FormatError::TooLarge("record"))?;
    write(&out, "fail_huge_length.vault", &v)?;

    // The record count replaced by 0xffffffff.
    let mut v = golden[..COUNT_OFFSET].to_vec();
    v.extend_from_slice(&varint(0xffff_ffff));
    v.extend_from_slice(&golden[COUNT_OFFSET + 1..]);
    expect_format(&v, FormatError::TooLarge("record count"))?;
    write(&out, "fail_huge_count.vault", &v)?;

    let mut v = golden.clone();
    v[7] = b'X';
    expect_format(&v, FormatError::BadMagic)?;
    write(&out, "fail_bad_magic.vault", &v)?;

    let mut v = golden.clone();
    v[8] = 2;
    expect_format(&v, FormatError::UnsupportedVersion(2))?;
    write(&out, "fail_version.vault", &v)?;

    // The header's vault id is not the genesis record's id.
    let mut v = golden.clone();
    v[9] ^= 0xff;
    expect_format(&v, FormatError::VaultIdMismatch)?;
    write(&out, "fail_vault_id.vault", &v)?;

    // The record count (7, one byte) written as an overlong two-byte varint.
    ensure!(golden[COUNT_OFFSET] == 7);
    let mut v = golden[..COUNT_OFFSET].to_vec();
    v.extend_from_slice(&[0x87, 0x00]);
    v.extend_from_slice(&golden[COUNT_OFFSET + 1..]);
    expect_format(&v, FormatError::NonCanonical("length"))?;
    write(&out, "fail_noncanonical.vault", &v)?;

    // The last record twice.
    let mut records = file.records().to_vec();
    records.push(records[6].clone());
    let v = forge::vault_file(file.vault_id(), records).encode();
    expect_format(&v, FormatError::Duplicate)?;
    write(&out, "fail_duplicate_record.vault", &v)?;

    // A middle record (db/prod's creation) removed: its child names a missing parent.
    let mut records = file.records().to_vec();
    records.remove(3);
    let v = forge::vault_file(file.vault_id(), records).encode();
    expect_format(&v, FormatError::MissingParent)?;
    write(&out, "fail_missing_parent.vault", &v)?;

    // ------------------------------------------------- fail vectors: re-signed records
    // The last record with its parent count written as an overlong varint (0x81 0x00
    // instead of 0x01), re-signed by alice: only the canonical-encoding check catches it.
    let last = &file.records()[6];
    ensure!(last.bytes()[0] == 1, "one parent");
    let mut bytes = vec![0x81, 0x00];
    bytes.extend_from_slice(&last.bytes()[1..]);
    let v = with_last_bytes(&file, bytes, &alice);
    expect_format(&v, FormatError::NonCanonical("record"))?;
    write(&out, "fail_noncanonical_record.vault", &v)?;

    // The last record with one extra byte inside its length (an unknown trailing
    // field), re-signed by alice.
    let mut bytes = file.records()[6].bytes().to_vec();
    bytes.push(0);
    let v = with_last_bytes(&file, bytes, &alice);
    expect_format(&v, FormatError::TrailingBytes)?;
    write(&out, "fail_record_trailing.vault", &v)?;

    // The last record's body variant replaced by an unknown one (15), re-signed.
    let last = &file.records()[6];
    let body_at = 1 + 32 + 16 + varint_len(&last.bytes()[1 + 32 + 16..]);
    ensure!(last.bytes()[body_at] == 9, "entry revision variant");
    let mut bytes = last.bytes().to_vec();
    bytes[body_at] = 15;
    let v = with_last_bytes(&file, bytes, &alice);
    expect_format(&v, FormatError::Malformed("record"))?;
    write(&out, "fail_unknown_body.vault", &v)?;

    // Swap the ciphertexts of the last two records: web/github's edit (5) and
    // mail/smtp's rename to mail/relay (6). Nothing names either as `prev`, so
    // re-chaining changes only record 6's parent. Re-signed by alice: decode and verify
    // pass, opening either entry must fail (the associated data binds the entry id and
    // its previous revision; the entry keys differ too); db/prod still opens.
    let swap = |rec: &mut Record, other: &[u8]| {
        if let RecordBody::EntryRevision(rev) = forge::body_mut(rec)
            && let EntryContent::Sealed(s) = forge::content_mut(rev)
        {
            forge::set_ciphertext(s, other.to_vec());
        }
    };
    let ct = |i: usize| -> anyhow::Result<Vec<u8>> {
        match file.records()[i].record().body() {
            RecordBody::EntryRevision(rev) => match rev.content() {
                EntryContent::Sealed(s) => Ok(s.ciphertext().to_vec()),
                EntryContent::Tombstone => bail!("record {i} is a tombstone"),
            },
            _ => bail!("record {i} is not a sealed revision"),
        }
    };
    let (ct5, ct6) = (ct(5)?, ct(6)?);
    let edit = |i: usize, rec: &mut Record| match i {
        5 => swap(rec, &ct6),
        6 => swap(rec, &ct5),
        _ => {}
    };
    let f = rechain(&file, edit, Some(&alice))?;
    let v = f.encode();
    let swapped = Vault::decode(&v)?;
    ensure!(swapped.verify()?.ignored.is_empty());
    {
        let s = swapped.session(&alice)?;
        for id in [github_entry, relay_entry] {
            ensure!(
                matches!(s.open_id(&id), Err(VaultError::Integrity(_))),
                "swapped ciphertext opened"
            );
        }
        ensure!(s.open_id(&db_entry)?.payload.password.expose() == db.password);
    }
    write(&out, "fail_swapped_ciphertexts.vault", &v)?;

    // The same swap without re-signing (parents re-linked, old signatures kept).
    let f = rechain(&file, edit, None)?;
    let v = f.encode();
    // Damage is skipped, never a hard error: both records are ignored, verify lists them.
    let unsigned = Vault::decode(&v)?;
    ensure!(unsigned.has_damage());
    ensure!(unsigned.verify()?.ignored.len() == 2);
    write(&out, "fail_swapped_ciphertexts_unsigned.vault", &v)?;

    // ---------------------------------------- fail vectors: records by someone else
    let mallory = Identity::generate("mallory")?;
    let alice_id = vault.member_for(&alice)?.id;
    let forged = |author: MemberId, path: &str| -> anyhow::Result<StoredRecord> {
        let head = *file.records()[6].id();
        let body = sealed_to(&vault.id(), (alice_id, &alice.keys), path)?;
        let record = forge::record(vec![head], author, T0 + 600, body);
        Ok(forge::try_sign(record, &mallory.signing)?)
    };
    // A new entry revision by a fresh identity that is not a member, signed by it.
    let mut records = file.records().to_vec();
    records.push(forged(MemberId(crypto::random_array()?), "evil/nonmember")?);
    let v = forge::vault_file(file.vault_id(), records).encode();
    let nm = Vault::decode(&v)?;
    ensure!(nm.verify()?.ignored.len() == 1);
    write(&out, "fail_nonmember_signature.vault", &v)?;

    // The same, but claiming alice's member id as author (signed by mallory's key).
    let mut records = file.records().to_vec();
    records.push(forged(alice_id, "evil/forged-author")?);
    let v = forge::vault_file(file.vault_id(), records).encode();
    let fa = Vault::decode(&v)?;
    ensure!(fa.has_damage() && fa.verify()?.ignored.len() == 1);
    write(&out, "fail_forged_author.vault", &v)?;

    // ---------------------------------------------------------- identity fail vectors
    let (header, header_end) = parse_identity_header(&identity_bytes)?;
    let sealed_tail = &identity_bytes[header_end..];
    let rebuild = |h: &IdentityHeaderMirror| -> anyhow::Result<Vec<u8>> {
        let mut v = IDENTITY_MAGIC.to_vec();
        v.push(identity::IDENTITY_VERSION);
        v.extend(postcard::to_allocvec(h)?);
        v.extend_from_slice(sealed_tail);
        Ok(v)
    };
    ensure!(
        rebuild(&header)? == identity_bytes,
        "mirror header re-encodes"
    );

    let v = identity_bytes[..identity_bytes.len() - 20].to_vec();
    expect_identity(&v, |e| matches!(e, IdentityError::Malformed(_)))?;
    write(&out, "fail_identity_truncated.identity", &v)?;

    let mut v = identity_bytes.clone();
    v.push(0);
    expect_identity(&v, |e| *e == IdentityError::Malformed("trailing bytes"))?;
    write(&out, "fail_identity_trailing.identity", &v)?;

    let mut v = identity_bytes.clone();
    v[0] = b'Z';
    expect_identity(&v, |e| *e == IdentityError::Malformed("bad magic"))?;
    write(&out, "fail_identity_bad_magic.identity", &v)?;

    let mut v = identity_bytes.clone();
    v[8] = 2;
    expect_identity(&v, |e| {
        *e == IdentityError::Malformed("unsupported version")
    })?;
    write(&out, "fail_identity_version.identity", &v)?;

    // Memory cost u32::MAX KiB (~4 TiB): refused before Argon2 allocates anything.
    let mut h = header.clone();
    h.kdf.memory_kib = u32::MAX;
    let v = rebuild(&h)?;
    expect_identity(&v, |e| matches!(e, IdentityError::Kdf(_)))?;
    write(&out, "fail_identity_kdf_ceiling.identity", &v)?;

    // Memory cost 64 -> 72 KiB (still allowed) with the original ciphertext: the
    // parameters are associated data, so the AEAD fails.
    let mut h = header.clone();
    h.kdf.memory_kib += 8;
    let v = rebuild(&h)?;
    expect_identity(&v, |e| *e == IdentityError::WrongPassphrase)?;
    write(&out, "fail_identity_kdf_modified.identity", &v)?;

    // The insecure-KDF flag cleared while the parameters stay below the floor.
    let mut h = header.clone();
    h.insecure_kdf = false;
    let v = rebuild(&h)?;
    expect_identity(&v, |e| *e == IdentityError::Malformed("insecure-kdf flag"))?;
    write(&out, "fail_identity_insecure_flag.identity", &v)?;

    eprintln!(
        "wrote vectors to {}; update the pins in tests/vectors.rs:\n\
         const PUBLIC_KEY: &str = \"{}\";\n\
         const FINGERPRINT: &str = \"{}\";\n\
         const VAULT_ID: &str = \"{}\";",
        out.display(),
        alice.public_key_text(),
        alice.fingerprint(),
        vault.id().to_hex(),
    );
    Ok(())
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let p = dir.join(name);
    fs::write(&p, bytes).with_context(|| format!("writing {}", p.display()))
}

/// Offset of the record count: magic (8) + version (1) + vault id (32).
const COUNT_OFFSET: usize = 8 + 1 + 32;

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

fn read_varint(bytes: &[u8]) -> (usize, usize) {
    let mut value = 0usize;
    for (i, b) in bytes.iter().enumerate().take(10) {
        value |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return (value, i + 1);
        }
    }
    (value, bytes.len())
}

fn varint_len(bytes: &[u8]) -> usize {
    read_varint(bytes).1
}

/// `(start of record bytes, record length)` for each record of a well-formed file.
fn record_offsets(file: &[u8]) -> anyhow::Result<Vec<(usize, usize)>> {
    let (count, n) = read_varint(&file[COUNT_OFFSET..]);
    let mut at = COUNT_OFFSET + n;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let (len, n) = read_varint(&file[at..]);
        at += n;
        out.push((at, len));
        at += len + crypto::SIGNATURE_LEN;
    }
    ensure!(at == file.len(), "offsets cover the file");
    Ok(out)
}

/// `file` with its last record's raw bytes replaced (possibly non-canonical) and signed
/// as `who`, as file bytes.
fn with_last_bytes(file: &VaultFile, bytes: Vec<u8>, who: &Identity) -> Vec<u8> {
    let mut records = file.records().to_vec();
    let last = records.pop().expect("a record");
    records.push(forge::resign(forge::with_bytes(last, bytes), &who.signing));
    forge::vault_file(file.vault_id(), records).encode()
}

/// Re-encode every record in order after `edit`, re-linking parents to the new ids;
/// sign with `signer`, or keep the old signatures when `None`. Refuses when a revision
/// names a re-encoded record as its `prev` (re-linking that would change the revision's
/// associated data, so the vector would fail for a second reason).
fn rechain(
    file: &VaultFile,
    edit: impl Fn(usize, &mut Record),
    signer: Option<&Identity>,
) -> anyhow::Result<VaultFile> {
    let mut ids = HashMap::new();
    let mut records = Vec::with_capacity(file.records().len());
    for (i, old) in file.records().iter().enumerate() {
        let mut record = old.record().clone();
        edit(i, &mut record);
        for p in forge::parents_mut(&mut record) {
            *p = *ids.get(p).context("parent re-encoded earlier")?;
        }
        if let RecordBody::EntryRevision(rev) = record.body()
            && let Some(prev) = rev.prev()
        {
            ensure!(
                ids.get(&prev) == Some(&prev),
                "record {i} names a changed prev"
            );
        }
        let stored = match signer {
            Some(s) => forge::try_sign(record, &s.signing)?,
            None => forge::encode(record, *old.signature()),
        };
        ids.insert(*old.id(), *stored.id());
        records.push(stored);
    }
    Ok(forge::vault_file(*records[0].id(), records))
}

/// A new entry (fresh id) whose key is HPKE-wrapped straight to member `to`: anyone
/// holding a member's public keys and id (both in clear in the vault) can make one.
fn sealed_to(
    vault_id: &format::RecordId,
    to: (MemberId, &PublicKeys),
    path: &str,
) -> anyhow::Result<RecordBody> {
    let entry = EntryId(crypto::random_array()?);
    let key = SymmetricKey::generate()?;
    let commitment = key.commitment();
    let mut p = EntryPayload::default();
    p.path = path.into();
    p.password = secret("forged-password");
    p.created = T0 + 600;
    p.modified = T0 + 600;
    let info = format::entry_member_wrap_info(vault_id, &to.0, &entry, None, &commitment);
    let w = crypto::hpke_wrap(&to.1.agreement, &info, &key)?;
    let padded = p.to_padded()?;
    let aad = format::entry_payload_aad(vault_id, &entry, None, &commitment);
    let (nonce, ciphertext) = crypto::seal(&key, &aad, &padded)?;
    Ok(RecordBody::EntryRevision(forge::entry_revision(
        entry,
        None,
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
    )))
}

fn parse_identity_header(bytes: &[u8]) -> anyhow::Result<(IdentityHeaderMirror, usize)> {
    let rest = &bytes[9..];
    let (h, tail): (IdentityHeaderMirror, &[u8]) = postcard::take_from_bytes(rest)?;
    Ok((h, bytes.len() - tail.len()))
}

fn expect_format(bytes: &[u8], want: FormatError) -> anyhow::Result<()> {
    match VaultFile::decode(bytes) {
        Err(e) if e == want => Ok(()),
        other => bail!("expected {want:?}, got {other:?}"),
    }
}

fn expect_identity(bytes: &[u8], ok: impl Fn(&IdentityError) -> bool) -> anyhow::Result<()> {
    match Identity::unlock(bytes, &secret(PASSPHRASE)) {
        Err(e) if ok(&e) => Ok(()),
        Err(e) => bail!("unexpected identity error {e:?}"),
        Ok(_) => bail!("a failing identity vector unlocked"),
    }
}
