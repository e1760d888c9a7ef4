//! Structure-aware companion of `vault_decode`: the fuzzer cannot forge Ed25519, so in
//! `vault_decode` any mutated roster record stops at its signature check. Here every
//! record written by one of the fixed test identities (`amanat_fuzz::fixed_identity`,
//! which the committed vault seeds use) is re-signed before the replay, so mutations
//! reach the authority rule, the roster replay, `verify`, and — through a member's
//! session — the unwrapping, decryption and unpadding of every entry.
#![no_main]

use amanat::format::VaultFile;
use amanat::vault::Vault;
use amanat_fuzz::{NAMES, fixed_identity, resign};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut file) = VaultFile::decode(data) else {
        return;
    };
    let bytes = resign(&mut file);
    // Invariant 4 of issue 9: no signed record blocks the vault. A structurally valid
    // file resolves (only a damaged genesis is a hard error), and verify reports
    // instead of failing.
    let vault = match Vault::decode(&bytes) {
        Ok(v) => v,
        Err(amanat::vault::VaultError::Integrity("genesis signature")) => return,
        Err(e) => panic!("a structurally valid vault failed to resolve: {e}"),
    };
    if let Err(e) = vault.verify() {
        panic!("verify failed instead of reporting: {e}");
    }
    // Invariant 1: the same state whatever the order of the records (parents first).
    // The file's canonical order takes the smallest ready id first; resolve again
    // taking the largest first.
    let records = vault.records();
    let mut index = std::collections::HashMap::new();
    for (i, r) in records.iter().enumerate() {
        index.insert(*r.id(), i);
    }
    let mut pending: Vec<usize> = records
        .iter()
        .map(|r| {
            r.record()
                .parents()
                .iter()
                .filter(|p| index.contains_key(*p))
                .count()
        })
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); records.len()];
    for (i, r) in records.iter().enumerate() {
        for p in r.record().parents() {
            if let Some(&pi) = index.get(p) {
                children[pi].push(i);
            }
        }
    }
    let mut ready: std::collections::BTreeSet<(amanat::format::RecordId, usize)> = records
        .iter()
        .enumerate()
        .filter(|(i, _)| pending[*i] == 0)
        .map(|(i, r)| (*r.id(), i))
        .collect();
    let mut other = Vec::with_capacity(records.len());
    while let Some(&(id, i)) = ready.iter().next_back() {
        ready.remove(&(id, i));
        other.push(records[i].clone());
        for &c in &children[i] {
            pending[c] -= 1;
            if pending[c] == 0 {
                ready.insert((*records[c].id(), c));
            }
        }
    }
    let a = Vault::resolution_digest(records).expect("resolves in canonical order");
    let b = Vault::resolution_digest(&other).expect("resolves in another order");
    // (A rank-inversion cycle may occur in hostile histories; it is broken by record
    // id, so the digests, cycle count included, must still agree.)
    assert_eq!(a, b, "resolution depends on the order of the records");
    for n in 0..NAMES.len() as u8 {
        let identity = fixed_identity(n);
        let Ok(session) = vault.session(&identity) else {
            continue;
        };
        let Ok(entries) = session.list() else {
            continue;
        };
        for entry in entries {
            if let Ok(opened) = session.open_id(&entry.id) {
                let _ = session.may_write(&opened);
                let _ = session.shared_with(&opened);
            }
        }
    }
});
