//! The vault as it was at given DAG heads: the resolution of the set of records that
//! are those heads and their ancestors (docs/format.md, "Resolution (replay)": state
//! is a function of the record set, so this is exactly what a machine holding only
//! those records resolved). Used to check a signature made at those heads under the
//! key the roster gave its signer then (`report verify-evidence`).
//!
//! Not for writing: the result is a read-only view (nothing is pinned or appended).

use super::*;

impl Vault {
    /// The vault resolved from `heads` and their ancestors only. Every head must be a
    /// record of this vault (`VaultError::Integrity` otherwise). Signatures this
    /// resolution already judged are not checked again: the result trusts what this
    /// vault trusted, no more.
    pub fn at_heads(&self, heads: &[RecordId]) -> Result<Vault, VaultError> {
        let n = self.file.records.len();
        let mut keep = vec![false; n];
        let mut stack = Vec::with_capacity(heads.len());
        for h in heads {
            let &i = self
                .index
                .get(h)
                .ok_or(VaultError::Integrity("a head that is not in this vault"))?;
            stack.push(i);
        }
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut keep[i], true) {
                continue;
            }
            for p in &self.file.records[i].record.parents {
                if let Some(&pi) = self.index.get(p) {
                    stack.push(pi);
                }
            }
        }
        // The file is in canonical order (parents first); a subsequence keeps it.
        let mut records = Vec::with_capacity(keep.iter().filter(|&&k| k).count());
        let mut known = Vec::with_capacity(records.capacity());
        for (i, r) in self.file.records.iter().enumerate() {
            if keep[i] {
                records.push(r.clone());
                known.push(self.sig.get(i).copied());
            }
        }
        let file = VaultFile {
            vault_id: self.file.vault_id,
            records,
        };
        let index = file
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id, i))
            .collect();
        let mut v = Self::replay_indexed(file, index, &known)?;
        v.trusted_any = self.trusted_any;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    fn identity(name: &str) -> Identity {
        Identity::generate(name).expect("keys")
    }

    /// A member added after the heads is unknown there; the state at the current
    /// heads is the vault itself.
    #[test]
    fn state_at_old_heads_lacks_later_members() {
        let alice = identity("alice");
        let bob = identity("bob");
        let mut vault = Vault::create(&alice, "acme").expect("create");
        let before = vault.heads();
        vault
            .add_member(&alice, "bob", bob.keys, Role::Member)
            .expect("add bob");
        let then = vault.at_heads(&before).expect("at heads");
        assert!(then.members().all(|m| m.name != "bob"));
        assert!(then.members().any(|m| m.name == "alice"));
        let now = vault.at_heads(&vault.heads()).expect("at heads");
        assert!(now.members().any(|m| m.name == "bob" && m.active));
        assert_eq!(now.record_count(), vault.record_count());
        assert!(then.record_count() < vault.record_count());
    }

    #[test]
    fn unknown_head_is_refused() {
        let alice = identity("alice");
        let vault = Vault::create(&alice, "acme").expect("create");
        assert!(matches!(
            vault.at_heads(&[RecordId([7; 32])]),
            Err(VaultError::Integrity(_))
        ));
    }
}
