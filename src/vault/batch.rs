//! Many new entries in one write (`amanat import`): one pass over the vault to learn
//! which paths are taken, then every record appended at once, so the store writes one
//! segment. Creating entries one `create_entry` at a time decrypts every readable entry
//! per call (O(n²) for n imports) and lets two drafts with one path both in.

use std::collections::HashMap;

use super::*;
use crate::format::Principal;

/// What to do with an imported entry whose path is taken (by an entry you can read, or
/// by an earlier one of the same batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// Leave the existing entry; report the new one as skipped (the default).
    Skip,
    /// Put the new one at `PATH (2)`, `PATH (3)`, …
    Rename,
    /// Write the new content as a revision of the existing entry (needs the right to
    /// write it); in a batch, the later draft wins.
    Overwrite,
}

/// What an import did (or, dry, would do). Paths only: never a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// New entries, by path.
    pub created: Vec<String>,
    /// Entries put at another path: (wanted, given).
    pub renamed: Vec<(String, String)>,
    /// Paths left alone because they were taken.
    pub skipped: Vec<String>,
    /// Existing entries given the imported content.
    pub overwritten: Vec<String>,
    /// Custom fields brought in.
    pub fields: usize,
    /// TOTP seeds brought in.
    pub totp: usize,
}

impl Vault {
    /// Import `items` (entry path, already normalised, and payload) as `identity`,
    /// each shared with `share_with` (besides the admins). Times are set to `time`. With
    /// `dry_run`, nothing is appended and the report says what would happen. Fails
    /// without appending anything if any entry cannot be made (a path refused, an
    /// overwrite without the right to write).
    pub fn import_entries(
        &mut self,
        identity: &dyn Keyholder,
        items: Vec<(String, EntryPayload)>,
        share_with: &[Principal],
        on_conflict: OnConflict,
        time: u64,
        dry_run: bool,
    ) -> Result<ImportReport, VaultError> {
        let mut report = ImportReport::default();
        let bodies = {
            let session = self.session(identity)?;
            let existing: HashMap<String, OpenEntry> = session
                .list()?
                .into_iter()
                .map(|e| (format::nfc(&e.payload.path).into_owned(), e))
                .collect();
            // The batch, by final path: new entries and overwrites, in order.
            let mut order: Vec<String> = Vec::new();
            let mut planned: HashMap<String, EntryPayload> = HashMap::new();
            for (path, mut payload) in items {
                let path = check_path(&path)?;
                let taken = |p: &str| existing.contains_key(p) || planned.contains_key(p);
                let path = if !taken(&path) {
                    path
                } else {
                    match on_conflict {
                        OnConflict::Skip => {
                            report.skipped.push(path);
                            continue;
                        }
                        OnConflict::Rename => {
                            let given = crate::import::free_path(&path, taken);
                            let given = check_path(&given)?;
                            report.renamed.push((path, given.clone()));
                            given
                        }
                        OnConflict::Overwrite => path,
                    }
                };
                payload.path.clone_from(&path);
                payload.created = time;
                payload.modified = time;
                payload.password_changed = time;
                if planned.insert(path.clone(), payload).is_none() {
                    order.push(path);
                }
            }
            let mut bodies = Vec::with_capacity(order.len());
            for path in order {
                let Some(payload) = planned.remove(&path) else {
                    continue;
                };
                report.fields += payload.fields.len();
                report.totp += usize::from(payload.totp.is_some());
                match existing.get(&path) {
                    Some(entry) => {
                        let mut share = session.shared_with(entry);
                        for p in share_with {
                            if !share.contains(p) {
                                share.push(*p);
                            }
                        }
                        let mut payload = payload;
                        payload.created = entry.payload.created;
                        payload.write_grants = entry.payload.write_grants.clone();
                        bodies.push(session.revise_entry(
                            entry,
                            &EntryDraft {
                                payload,
                                share_with: share,
                            },
                        )?);
                        report.overwritten.push(path);
                    }
                    None => {
                        bodies.push(session.create_entry_at_free_path(&EntryDraft {
                            payload,
                            share_with: share_with.to_vec(),
                        })?);
                        report.created.push(path);
                    }
                }
            }
            bodies
        };
        if !dry_run && !bodies.is_empty() {
            self.append(identity, bodies)?;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::crypto::SecretString;

    fn item(path: &str, pw: &str) -> (String, EntryPayload) {
        let mut p = EntryPayload::default();
        p.password = SecretString::new(pw.into());
        (path.into(), p)
    }

    #[test]
    fn one_write_and_the_conflict_rules() {
        let owner = crate::vault::attacks::person("alice");
        let mut v = Vault::create(&owner, "acme").unwrap();
        let r = v
            .import_entries(
                &owner,
                vec![item("a", "1")],
                &[],
                OnConflict::Skip,
                5,
                false,
            )
            .unwrap();
        assert_eq!(r.created, ["a"]);
        let before = v.record_count();
        // A dry run appends nothing.
        let dry = v
            .import_entries(&owner, vec![item("b", "2")], &[], OnConflict::Skip, 5, true)
            .unwrap();
        assert_eq!(dry.created, ["b"]);
        assert_eq!(v.record_count(), before);
        // Taken by the vault, and twice in the batch.
        let batch = || vec![item("a", "new"), item("c", "3"), item("c", "4")];
        let r = v
            .import_entries(&owner, batch(), &[], OnConflict::Skip, 6, true)
            .unwrap();
        assert_eq!(
            (r.created, r.skipped),
            (
                vec!["c".to_string()],
                vec!["a".to_string(), "c".to_string()]
            )
        );
        let r = v
            .import_entries(&owner, batch(), &[], OnConflict::Rename, 6, true)
            .unwrap();
        assert_eq!(r.created, ["a (2)", "c", "c (2)"]);
        let r = v
            .import_entries(&owner, batch(), &[], OnConflict::Overwrite, 6, false)
            .unwrap();
        assert_eq!(
            (r.created, r.overwritten),
            (vec!["c".to_string()], vec!["a".to_string()])
        );
        let s = v.session(&owner).unwrap();
        assert_eq!(s.open("a").unwrap().payload.password.expose(), "new");
        assert_eq!(s.open("c").unwrap().payload.password.expose(), "4");
        assert_eq!(s.list().unwrap().len(), 2);
        v.verify().unwrap();
    }
}
