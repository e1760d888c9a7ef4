//! Writes the committed seed inputs under `fuzz/seeds/<target>/`.
//!
//! Run from the repository root: `cargo run --manifest-path fuzz/Cargo.toml --example
//! make_seeds`. Vault seeds use the fixed identities of `amanat_fuzz`, so the
//! `vault_replay` target can re-sign mutated records; record ids, nonces and times are
//! random, so each run writes different (equally valid) bytes.

use std::fs;
use std::path::{Path, PathBuf};

use amanat::crypto::{self, AgreementSecret, KdfParams, SecretString, SymmetricKey};
use amanat::forge;
use amanat::format::{
    ADMINS_GROUP, CustomField, EntryPayload, EventKind, GroupId, MemberId, MemberWrap, Principal,
    RecordBody, Role,
};
use amanat::identity::Identity;
use amanat::invite::{Invite, MAX_INVITE_HEADS};
use amanat::vault::{EntryDraft, Vault};
use amanat_fuzz::{PASSPHRASE, fixed_identity};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn out_dir(target: &str) -> Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn write(target: &str, name: &str, bytes: &[u8]) -> Result<()> {
    fs::write(out_dir(target)?.join(name), bytes)?;
    Ok(())
}

fn secret(s: &str) -> SecretString {
    SecretString::new(s.to_string())
}

fn full_payload(path: &str) -> EntryPayload {
    let mut p = EntryPayload::default();
    p.path = path.to_string();
    p.username = "alice@example.com".into();
    p.password = secret("correct horse battery staple");
    p.url = "https://example.com/login".into();
    p.notes = "recovery codes in the safe".into();
    p.fields = vec![
        CustomField {
            name: "pin".into(),
            value: secret("0000"),
            secret: true,
        },
        CustomField {
            name: "account".into(),
            value: secret("12345"),
            secret: false,
        },
    ];
    p.totp = Some(secret(
        "otpauth://totp/ACME:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=ACME",
    ));
    p.write_grants = vec![Principal::Member(MemberId([7; 16]))];
    p.rotate_at_source = true;
    p.created = 1_700_000_000;
    p.modified = 1_700_000_100;
    p.password_changed = 1_700_000_050;
    p
}

fn member_wrap(
    vault: &Vault,
    to: MemberId,
    keys: &amanat::format::PublicKeys,
    group: GroupId,
    key: &SymmetricKey,
) -> Result<MemberWrap> {
    let info = amanat::format::group_key_wrap_info(&vault.id(), &to, &group, &key.commitment());
    let w = crypto::hpke_wrap(&keys.agreement, &info, key)?;
    Ok(forge::member_wrap(to, w.enc, w.sealed.to_vec()))
}

fn vault_seeds() -> Result<()> {
    let owner = fixed_identity(0);
    let bob = fixed_identity(1);
    let carol = fixed_identity(2);
    let carol_new = fixed_identity(3);
    let owner_id = |v: &Vault| v.member_for(&owner).map(|m| m.id);
    let mut step = 0;
    let mut save = |v: &Vault, what: &str| -> Result<()> {
        step += 1;
        let bytes = v.encode();
        // Every seed must be accepted by the parser and pass verification.
        Vault::decode(&bytes)?.verify()?;
        write("vault_decode", &format!("{step:02}-{what}"), &bytes)?;
        write("vault_replay", &format!("{step:02}-{what}"), &bytes)?;
        // The same records as three segments (round-robin, so parents are often in
        // another segment), in the `segment_union` input framing.
        let mut parts: [Vec<amanat::format::StoredRecord>; 3] = Default::default();
        for (i, r) in v.records().iter().enumerate() {
            parts[i % 3].push(r.clone());
        }
        let mut input = vec![2u8];
        for (k, part) in parts.iter().enumerate() {
            let seg = amanat::format::segment::Segment::encode(&v.id(), part);
            if k < 2 {
                let Ok(len) = u16::try_from(seg.len()) else {
                    return Ok(());
                };
                input.extend_from_slice(&len.to_le_bytes());
            }
            input.extend_from_slice(&seg);
        }
        write("segment_union", &format!("{step:02}-{what}"), &input)
    };

    let mut v = Vault::create(&owner, "fuzz team")?;
    save(&v, "create")?;

    let body = v
        .session(&owner)?
        .create_entry(&EntryDraft::default().with_path("web/github"))?;
    v.append(&owner, vec![body])?;
    save(&v, "entry")?;

    let bob_id = MemberId([0xb0; 16]);
    let carol_id = MemberId([0xca; 16]);
    v.append(
        &owner,
        vec![
            RecordBody::AddMember(forge::add_member(
                bob_id,
                "bob".into(),
                bob.keys,
                Role::Member,
                None,
            )),
            RecordBody::AddMember(forge::add_member(
                carol_id,
                "carol".into(),
                carol.keys,
                Role::Member,
                None,
            )),
        ],
    )?;
    save(&v, "add-members")?;

    let ops = GroupId([0x05; 16]);
    let ops_key = SymmetricKey::from_bytes([0x11; 32]);
    let wraps = vec![
        member_wrap(&v, owner_id(&v)?, &owner.keys, ops, &ops_key)?,
        member_wrap(&v, bob_id, &bob.keys, ops, &ops_key)?,
    ];
    v.append(
        &owner,
        vec![RecordBody::CreateGroup {
            name: "ops".into(),
            members: vec![bob_id],
            key: forge::group_key_update(
                ops,
                ops_key.commitment(),
                AgreementSecret::derive_from_group_key(&ops_key).public()?,
                wraps,
            ),
        }],
    )?;
    save(&v, "create-group")?;

    // A plain member writes: the entry key is wrapped to @admins through its public key.
    let body = v
        .session(&bob)?
        .create_entry(&EntryDraft::default().with_path("bob/notes"))?;
    v.append(&bob, vec![body])?;
    save(&v, "member-entry")?;

    let draft = EntryDraft {
        payload: full_payload("ops/db"),
        share_with: vec![Principal::Group(ops), Principal::Member(carol_id)],
    };
    let body = v.session(&owner)?.create_entry(&draft)?;
    v.append(&owner, vec![body])?;
    save(&v, "shared-entry")?;

    let s = v.session(&owner)?;
    let github = s.open("web/github")?;
    let mut payload = full_payload("web/github");
    payload.notes = "x".repeat(300); // the next bucket
    let draft = EntryDraft {
        payload,
        ..EntryDraft::default()
    };
    let body = s.revise_entry(&github, &draft)?;
    drop(s);
    v.append(&owner, vec![body])?;
    save(&v, "revise")?;

    v.append(
        &owner,
        vec![RecordBody::AddGroupMember {
            group: ops,
            member: carol_id,
            wrap: member_wrap(&v, carol_id, &carol.keys, ops, &ops_key)?,
        }],
    )?;
    save(&v, "add-group-member")?;

    let ops_key2 = SymmetricKey::from_bytes([0x22; 32]);
    let wraps = vec![
        member_wrap(&v, owner_id(&v)?, &owner.keys, ops, &ops_key2)?,
        member_wrap(&v, carol_id, &carol.keys, ops, &ops_key2)?,
    ];
    v.append(
        &owner,
        vec![RecordBody::RemoveGroupMember {
            group: ops,
            member: bob_id,
            key: forge::group_key_update(
                ops,
                ops_key2.commitment(),
                AgreementSecret::derive_from_group_key(&ops_key2).public()?,
                wraps,
            ),
        }],
    )?;
    save(&v, "remove-group-member")?;

    let s = v.session(&owner)?;
    let github = s.open("web/github")?;
    let tombstone = s.delete_entry(&github)?;
    drop(s);
    v.append(
        &owner,
        vec![
            tombstone,
            RecordBody::Event(forge::audit_event(EventKind::Reviewed, None)),
            RecordBody::ChangeRole {
                member: carol_id,
                role: Role::Admin,
                admin_wrap: None,
            },
        ],
    )?;
    save(&v, "delete-event-promote")?;

    let s = v.session(&owner)?;
    let db = s.open("ops/db")?;
    let db_id = db.id;
    drop(s);
    let admins_key = SymmetricKey::from_bytes([0x33; 32]);
    let wraps = vec![
        member_wrap(&v, owner_id(&v)?, &owner.keys, ADMINS_GROUP, &admins_key)?,
        member_wrap(&v, carol_id, &carol.keys, ADMINS_GROUP, &admins_key)?,
    ];
    v.append(
        &owner,
        vec![
            RecordBody::RemoveMember { member: bob_id },
            RecordBody::RotateAtSource {
                member: bob_id,
                entries: vec![db_id],
            },
            RecordBody::RotateGroupKey(forge::group_key_update(
                ADMINS_GROUP,
                admins_key.commitment(),
                AgreementSecret::derive_from_group_key(&admins_key).public()?,
                wraps,
            )),
        ],
    )?;
    save(&v, "remove-member")?;

    let msg = amanat::vault::key_change_message(&v.id(), &carol_id, &carol_new.keys);
    // Proof of possession: the new key signs the vault id, member id and new keys.
    let new_key_signature = carol_new
        .signing
        .sign(amanat::vault::KEY_CHANGE_LABEL, &msg)
        .to_vec();
    let _ = &carol;
    v.append(
        &owner,
        vec![RecordBody::ChangeMemberKeys {
            member: carol_id,
            keys: carol_new.keys,
            new_key_signature,
        }],
    )?;
    save(&v, "change-keys")?;

    // The last file's records, one by one, for `record_decode`.
    let bytes = v.encode();
    let file = amanat::format::VaultFile::decode(&bytes)?;
    for (i, r) in file.records().iter().enumerate() {
        write(
            "record_decode",
            &format!("{i:02}-kind{}", r.record().body().kind()),
            r.bytes(),
        )?;
    }
    Ok(())
}

fn payload_seeds() -> Result<()> {
    write(
        "payload_unpad",
        "empty",
        &EntryPayload::default().to_padded()?,
    )?;
    write(
        "payload_unpad",
        "full",
        &full_payload("web/github").to_padded()?,
    )?;
    let mut p = full_payload("a/b");
    p.notes = "n".repeat(400);
    write("payload_unpad", "bucket-1024", &p.to_padded()?)?;
    Ok(())
}

fn identity_seeds() -> Result<()> {
    let pass = secret(PASSPHRASE);
    let cheap = [
        ("insecure-test", KdfParams::INSECURE_TEST),
        (
            "m1024-t2-p2",
            KdfParams {
                memory_kib: 1024,
                time: 2,
                lanes: 2,
            },
        ),
    ];
    for (name, params) in cheap {
        let id = fixed_identity(0);
        let bytes = id.seal(&pass, params, true)?;
        Identity::unlock(&bytes, &pass)?;
        write("identity_parse", name, &bytes)?;
    }
    // At the floor: `inspect` reads it, the target skips `unlock` (64 MiB, t = 3).
    let bytes = fixed_identity(1).seal(&pass, KdfParams::FLOOR, false)?;
    write("identity_parse", "floor-skipped", &bytes)?;
    Ok(())
}

fn text_seeds() -> Result<()> {
    for n in 0..3 {
        let text = fixed_identity(n).public_key_text();
        write("public_key_text", &format!("key{n}"), text.as_bytes())?;
    }
    let text = fixed_identity(0).public_key_text();
    write(
        "public_key_text",
        "upper-padded",
        format!("  {}\n", text.to_uppercase()).as_bytes(),
    )?;
    let uris = [
        (
            "plain",
            "otpauth://totp/ACME:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=ACME",
        ),
        (
            "all-params",
            "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=SHA256&digits=8&period=60",
        ),
        (
            "sha512-padded",
            "otpauth://totp/y?Secret=jbswy3dpehpk3pxp====&ALGORITHM=sha512&digits=7&period=300",
        ),
        ("no-secret", "otpauth://totp/x?digits=6"),
    ];
    for (name, uri) in uris {
        write("otpauth", name, uri.as_bytes())?;
    }
    Ok(())
}

fn invite_seeds() -> Result<()> {
    let owner = fixed_identity(0);
    let mut v = Vault::create(&owner, "fuzz team")?;
    let one = Invite {
        vault: v.id(),
        heads: v.heads(),
    };
    write("invite_decode", "one-head", one.encode().as_bytes())?;
    // Two concurrent writes give two heads.
    let base = v.clone();
    let body = v
        .session(&owner)?
        .create_entry(&EntryDraft::default().with_path("a"))?;
    v.append(&owner, vec![body])?;
    let mut other = base;
    let body = other
        .session(&owner)?
        .create_entry(&EntryDraft::default().with_path("b"))?;
    other.append(&owner, vec![body])?;
    let mut heads = v.heads();
    heads.extend(other.heads());
    let two = Invite {
        vault: v.id(),
        heads,
    };
    write(
        "invite_decode",
        "two-heads-upper",
        format!(" {}\n", two.encode().to_uppercase()).as_bytes(),
    )?;
    let max = Invite {
        vault: v.id(),
        heads: (0..MAX_INVITE_HEADS as u8)
            .map(|i| amanat::format::RecordId([i; 32]))
            .collect(),
    };
    write("invite_decode", "max-heads", max.encode().as_bytes())?;
    Ok(())
}

/// `make_seeds [GROUP...]` with groups vault, payload, identity, text, invite (default:
/// all). Regenerating a group rewrites its files with new random ids and nonces.
fn main() -> Result<()> {
    let only: Vec<String> = std::env::args().skip(1).collect();
    let want = |g: &str| only.is_empty() || only.iter().any(|o| o == g);
    if want("vault") {
        vault_seeds()?;
    }
    if want("payload") {
        payload_seeds()?;
    }
    if want("identity") {
        identity_seeds()?;
    }
    if want("text") {
        text_seeds()?;
    }
    if want("invite") {
        invite_seeds()?;
    }
    println!("seeds written under {}", out_dir("")?.display());
    Ok(())
}
