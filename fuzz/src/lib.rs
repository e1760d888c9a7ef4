//! Helpers shared by the fuzz targets and the seed maker: identities with fixed keys, and
//! re-signing a vault file with them so that mutated records still pass the signature
//! checks and the fuzzer reaches the replay and decryption code behind them.
//!
//! Nothing here is used by amanat itself; the keys are public test keys.

use std::collections::HashMap;

use amanat::crypto::{AgreementSecret, KdfParams, SigningSecret};
use amanat::forge;
use amanat::format::{MemberId, PublicKeys, RecordBody, VaultFile};
use amanat::identity::Identity;

/// The passphrase the committed identity seeds are sealed with (see `identity_parse`).
pub const PASSPHRASE: &str = "fuzz-seed-passphrase";

/// Names of the fixed identities, in key order.
pub const NAMES: [&str; 4] = ["owner", "bob", "carol", "carol-new-keys"];

/// Identity number `n` (0 = owner, 1 = bob, 2 = carol, 3 = carol's replacement keys): both secrets are derived from
/// `n` alone, so seeds made once keep matching the keys the harness signs with.
pub fn fixed_identity(n: u8) -> Identity {
    let agreement = AgreementSecret::from_bytes([0x40 | n; 32]);
    let signing = SigningSecret::from_seed(&[0x80 | n; 32]);
    let keys = PublicKeys {
        agreement: agreement.public().expect("fixed X25519 key"),
        signing: signing.public(),
    };
    Identity {
        name: NAMES
            .get(usize::from(n))
            .copied()
            .unwrap_or("member")
            .to_string(),
        keys,
        agreement,
        signing,
        kdf: KdfParams::INSECURE_TEST,
        insecure_kdf: true,
    }
}

/// The signing secrets of all fixed identities, by public signing key.
fn signers() -> HashMap<[u8; 32], SigningSecret> {
    (0..NAMES.len() as u8)
        .map(|n| {
            let s = SigningSecret::from_seed(&[0x80 | n; 32]);
            (s.public(), s)
        })
        .collect()
}

/// Re-sign every record whose author's current keys (as declared by the records before
/// it) are fixed keys. The record bytes, and so the record ids and parents, are
/// unchanged: a record's signature is not part of its id. (A key-change record's
/// old-key signature is inside the record, so it is left alone.) Returns the new file
/// bytes.
pub fn resign(file: &mut VaultFile) -> Vec<u8> {
    let signers = signers();
    let mut keys: HashMap<MemberId, PublicKeys> = HashMap::new();
    let mut records = Vec::with_capacity(file.records().len());
    for stored in file.records() {
        let record = stored.record();
        let signing_key = match record.body() {
            RecordBody::Genesis(g) => Some(g.owner_keys().signing),
            _ => keys.get(&record.author()).map(|k| k.signing),
        };
        records.push(match signing_key.and_then(|k| signers.get(&k)) {
            Some(secret) => forge::resign(stored.clone(), secret),
            None => stored.clone(),
        });
        match record.body() {
            RecordBody::Genesis(g) => {
                keys.insert(g.owner(), *g.owner_keys());
            }
            RecordBody::AddMember(a) => {
                keys.entry(a.member()).or_insert(*a.keys());
            }
            RecordBody::ChangeMemberKeys {
                member, keys: new, ..
            } => {
                keys.insert(*member, *new);
            }
            _ => {}
        }
    }
    *file = forge::vault_file(file.vault_id(), records);
    file.encode()
}
