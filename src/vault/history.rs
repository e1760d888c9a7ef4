//! Read access to the replayed record DAG, for the review commands (`log`, `audit`):
//! the roster and the key wraps are in clear, so the history is read from the records
//! themselves. Nothing in [`Vault::records`] decrypts.
//!
//! The history of one entry (`history`) and restoring an old revision (`restore`) do
//! decrypt: a [`Session`] opens consecutive revisions to say which fields changed,
//! naming fields, never values.

use super::*;
use crate::format::{CustomField, Principal};

/// A counted review: who reviewed which entry (or, with none, the whole vault's
/// access), when (the author's clock) and with what note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// The `Reviewed` event's record.
    pub record: RecordId,
    /// The entry reviewed; `None` for a vault-wide review (an admin's).
    pub entry: Option<EntryId>,
    /// The reviewer.
    pub author: MemberId,
    /// When, by the reviewer's clock.
    pub time: u64,
    /// The reviewer's note.
    pub note: Option<String>,
}

impl Vault {
    /// Every record, in canonical (file, replay) order.
    pub fn records(&self) -> &[StoredRecord] {
        &self.file.records
    }

    /// The ids of the records whose hex id starts with `prefix` (any case), in file
    /// order: how `restore --revision` finds the revision `history` printed.
    pub fn records_with_prefix(&self, prefix: &str) -> Vec<RecordId> {
        let prefix = prefix.to_ascii_lowercase();
        if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_hexdigit()) {
            return Vec::new();
        }
        self.file
            .records
            .iter()
            .filter(|r| r.id.to_hex().starts_with(&prefix))
            .map(|r| r.id)
            .collect()
    }

    /// Every counted review (issue 13), in canonical order: a `Reviewed` event that
    /// counts, so its author was an admin or a writer of the entry at its parents
    /// (docs/format.md, "Events"). Void reviews are left out; `verify` lists them.
    pub fn reviews(&self) -> Vec<Review> {
        self.file
            .records
            .iter()
            .enumerate()
            .filter(|&(i, _)| self.counted_role(i).is_some())
            .filter_map(|(_, r)| match &r.record.body {
                RecordBody::Event(e) if e.kind() == format::EventKind::Reviewed => Some(Review {
                    record: r.id,
                    entry: e.entry(),
                    author: r.record.author,
                    time: r.record.time,
                    note: e.note().map(str::to_owned),
                }),
                _ => None,
            })
            .collect()
    }

    /// Who lost access to an entry at the newest revision, walking back from its
    /// current one, that readers were dropped in (`unshare`): the principals the
    /// revision before named as readers and that one does not. Empty when none did
    /// within the last 64 revisions. Read from the clear `readers`; nothing decrypts.
    pub fn lost_readers(&self, entry: &EntryId) -> Vec<Principal> {
        let Some((mut i, _)) = self.current(entry) else {
            return Vec::new();
        };
        for _ in 0..64 {
            let Some((_, rev)) = self.revision(i) else {
                break;
            };
            let Some(prev) = rev.prev.and_then(|p| self.index.get(&p).copied()) else {
                break;
            };
            let readers = |k: usize| match self.revision(k) {
                Some((
                    _,
                    EntryRevision {
                        content: EntryContent::Sealed(s),
                        ..
                    },
                )) => s.readers.clone(),
                _ => Vec::new(),
            };
            let now = readers(i);
            let lost: Vec<Principal> = readers(prev)
                .into_iter()
                .filter(|p| !now.contains(p))
                .collect();
            if !lost.is_empty() {
                return lost;
            }
            i = prev;
        }
        Vec::new()
    }

    /// Removed members who could have read revision `i`: a counted removal it does not
    /// descend from (written before it, or by someone who had not seen it), and a wrap
    /// to the member or under a group key version they held.
    fn readable_by_removed(&self, i: usize) -> Vec<MemberId> {
        let Some((_, rev)) = self.revision(i) else {
            return Vec::new();
        };
        let EntryContent::Sealed(sealed) = &rev.content else {
            return Vec::new();
        };
        let mut out = Vec::new();
        self.removed_readers(sealed, |d| !self.dag.is_ancestor(d, i), &mut out);
        out
    }
}

/// What one revision changed relative to the revision it was written on (its
/// `prev`). Names what changed, never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The first revision.
    Created,
    /// Renamed (both paths: the reader could read both revisions).
    Renamed {
        /// The previous path.
        from: String,
        /// The new path.
        to: String,
    },
    /// The password.
    Password,
    /// The login name.
    Username,
    /// The URL.
    Url,
    /// The notes.
    Notes,
    /// The TOTP seed (set, changed or removed).
    Totp,
    /// Custom fields added, changed or removed: their names, sorted.
    Fields(Vec<String>),
    /// The rotate-at-source flag was set (`true`) or cleared (`false`).
    RotateAtSource(bool),
    /// Readers added and removed (`@admins`, on every revision, and a writer's own
    /// wrap to themself aside), from the clear, signed reader lists.
    Readers {
        /// Added.
        added: Vec<Principal>,
        /// Removed.
        removed: Vec<Principal>,
    },
    /// Writers (besides admins) added and removed, from the clear writer lists.
    Writers {
        /// Added.
        added: Vec<Principal>,
        /// Removed.
        removed: Vec<Principal>,
    },
    /// A tombstone.
    Deleted,
}

impl Change {
    /// The stable name `history` prints (also in `--json`'s `changes`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Change::Created => "create",
            Change::Renamed { .. } => "rename",
            Change::Password => "password",
            Change::Username => "username",
            Change::Url => "url",
            Change::Notes => "notes",
            Change::Totp => "totp",
            Change::Fields(_) => "fields",
            Change::RotateAtSource(_) => "rotate-at-source",
            Change::Readers { .. } => "readers",
            Change::Writers { .. } => "writers",
            Change::Deleted => "delete",
        }
    }
}

/// One revision of an entry, as `history` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// The revision's record id.
    pub record: RecordId,
    /// The revision it was written on.
    pub prev: Option<RecordId>,
    /// Its author.
    pub author: MemberId,
    /// Seconds since the epoch, as the author's clock claimed.
    pub time: u64,
    /// The entry's path in this revision, when it opened.
    pub path: Option<String>,
    /// What it changed. Field changes are known only when `readable`.
    pub changes: Vec<Change>,
    /// Whether this revision and the one before it opened, so that field changes are
    /// known (a tombstone or a first revision needs only itself).
    pub readable: bool,
    /// The revision the entry shows now ([`Session::open`]).
    pub current: bool,
    /// A valid head: no counted revision of the entry descends from it.
    pub head: bool,
    /// Why resolution ignores it, if it does.
    pub void: Option<&'static str>,
}

/// Why a revision cannot be restored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// No record has this id.
    #[error("no revision {0}")]
    NoRevision(String),
    /// The record is not a revision of this entry.
    #[error("record {0} is not a revision of this entry")]
    OtherEntry(String),
    /// Resolution ignores the revision.
    #[error("revision {id} is void ({reason}): it never counted, so it cannot be restored")]
    Void {
        /// The short revision id.
        id: String,
        /// Why it is ignored.
        reason: &'static str,
    },
    /// The revision is a delete.
    #[error("revision {0} is a delete: it has no fields to restore")]
    Tombstone(String),
    /// The revision was not readable by this member (not shared with them then).
    #[error("revision {0} was not shared with you: its fields cannot be read")]
    NotReadable(String),
    /// The revision's fields are the current ones and there is nothing to merge.
    #[error("revision {0} has the same fields as the current one")]
    Unchanged(String),
    /// Anything else (access, integrity).
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// The principals a revision lists as readers (`@admins` aside) and as writers.
fn clear_lists(rev: &EntryRevision) -> Option<(BTreeSet<Principal>, BTreeSet<Principal>)> {
    let EntryContent::Sealed(sealed) = &rev.content else {
        return None;
    };
    let readers = sealed
        .readers
        .iter()
        .copied()
        .filter(|p| *p != Principal::Group(ADMINS_GROUP))
        .collect();
    Some((readers, sealed.writers.iter().copied().collect()))
}

/// The fields (of the content, path and sharing aside) that differ between two
/// payloads, in the order `history` lists them.
pub fn field_changes(before: &EntryPayload, after: &EntryPayload) -> Vec<Change> {
    let mut out = Vec::new();
    if before.path != after.path {
        out.push(Change::Renamed {
            from: before.path.clone(),
            to: after.path.clone(),
        });
    }
    if before.password != after.password {
        out.push(Change::Password);
    }
    if before.username != after.username {
        out.push(Change::Username);
    }
    if before.url != after.url {
        out.push(Change::Url);
    }
    if before.notes != after.notes {
        out.push(Change::Notes);
    }
    if before.totp != after.totp {
        out.push(Change::Totp);
    }
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for f in &before.fields {
        match after.fields.iter().find(|g| g.name == f.name) {
            Some(g) if g.value == f.value && g.secret == f.secret => {}
            _ => {
                names.insert(&f.name);
            }
        }
    }
    for g in &after.fields {
        if !before.fields.iter().any(|f: &CustomField| f.name == g.name) {
            names.insert(&g.name);
        }
    }
    if !names.is_empty() {
        out.push(Change::Fields(
            names.into_iter().map(str::to_string).collect(),
        ));
    }
    if before.to_rotate_at_source() != after.to_rotate_at_source() {
        out.push(Change::RotateAtSource(
            after.to_rotate_at_source().is_some(),
        ));
    }
    out
}

/// Whether two payloads hold the same content (what `restore` brings back): password,
/// username, URL, notes, custom fields, TOTP seed.
fn same_content(a: &EntryPayload, b: &EntryPayload) -> bool {
    a.password == b.password
        && a.username == b.username
        && a.url == b.url
        && a.notes == b.notes
        && a.fields == b.fields
        && a.totp == b.totp
}

impl Session<'_> {
    /// Open one revision for reading its fields: `Ok(None)` when I cannot (not shared
    /// with me then, a tombstone, or it fails its checks). Only a failure of the
    /// identity's holder (the agent) is an error.
    fn open_revision(&self, i: usize) -> Result<Option<EntryPayload>, VaultError> {
        let Some((stored, rev)) = self.vault.revision(i) else {
            return Ok(None);
        };
        match self.decrypt(stored, rev) {
            Ok(p) => Ok(p),
            Err(e @ (VaultError::Keyholder(_) | VaultError::Random)) => Err(e),
            Err(_) => Ok(None),
        }
    }

    /// The revisions of entry `id`, newest first (reverse canonical order, which puts
    /// every revision before the ones it was written on), each with what it changed
    /// relative to the revision it was written on. Field changes need both revisions
    /// to open for me; reader and writer changes and deletes are in clear.
    pub fn entry_history(&self, id: &EntryId) -> Result<Vec<Revision>, VaultError> {
        let v = self.vault;
        let indices: Vec<usize> = v
            .file
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(&r.record.body, RecordBody::EntryRevision(rev) if rev.entry == *id))
            .map(|(i, _)| i)
            .collect();
        if indices.is_empty() {
            return Err(VaultError::NotFound(id.to_hex()));
        }
        let heads: HashSet<usize> = v.heads.get(id).into_iter().flatten().copied().collect();
        let current = v.current(id).map(|(i, _)| i);
        let void: HashMap<RecordId, &'static str> =
            v.ignored.iter().map(|x| (x.record, x.reason)).collect();
        let mut opened: HashMap<usize, Option<EntryPayload>> = HashMap::new();
        for &i in &indices {
            opened.insert(i, self.open_revision(i)?);
        }
        let mut out = Vec::with_capacity(indices.len());
        for &i in indices.iter().rev() {
            let Some((stored, rev)) = v.revision(i) else {
                continue;
            };
            let prev = rev
                .prev
                .and_then(|p| v.index.get(&p).copied())
                .filter(|&p| matches!(v.revision(p), Some((_, r)) if r.entry == *id));
            let mut changes = Vec::new();
            let mut readable = true;
            let this = opened.get(&i).and_then(Option::as_ref);
            if matches!(rev.content, EntryContent::Tombstone) {
                changes.push(Change::Deleted);
            } else if let Some(p) = prev {
                match (opened.get(&p).and_then(Option::as_ref), this) {
                    (Some(before), Some(after)) => changes.extend(field_changes(before, after)),
                    _ => readable = false,
                }
                if let (Some((r0, w0)), Some((r1, w1))) = (
                    v.revision(p).and_then(|(_, r)| clear_lists(r)),
                    clear_lists(rev),
                ) {
                    // A writer who is not an admin always lists themself: not a share.
                    let me = Principal::Member(stored.record.author);
                    let added: Vec<Principal> =
                        r1.difference(&r0).copied().filter(|p| *p != me).collect();
                    let removed: Vec<Principal> = r0.difference(&r1).copied().collect();
                    if !added.is_empty() || !removed.is_empty() {
                        changes.push(Change::Readers { added, removed });
                    }
                    let added: Vec<Principal> = w1.difference(&w0).copied().collect();
                    let removed: Vec<Principal> = w0.difference(&w1).copied().collect();
                    if !added.is_empty() || !removed.is_empty() {
                        changes.push(Change::Writers { added, removed });
                    }
                }
            } else {
                changes.push(Change::Created);
                readable = this.is_some();
            }
            out.push(Revision {
                record: stored.id,
                prev: rev.prev,
                author: stored.record.author,
                time: stored.record.time,
                path: this.map(|p| p.path.clone()),
                changes,
                readable,
                current: current == Some(i),
                head: heads.contains(&i),
                void: void
                    .get(&stored.id)
                    .copied()
                    .or_else(|| v.counted_role(i).is_none().then_some("does not count")),
            });
        }
        Ok(out)
    }

    /// A new revision of `entry` whose content (password, username, URL, notes, custom
    /// fields, TOTP seed) is that of its old revision `revision`, written on the current
    /// revision (and, appended, on every head: concurrent heads are merged). The path,
    /// readers and writers stay the current ones.
    ///
    /// A password that differs from the current one is a password change (as `edit`
    /// makes it: `password_changed` is `time`), and it is flagged rotate-at-source when
    /// the old revision was (it carried a value a removed member had seen) or a removed
    /// member could have read it; the same password keeps the current flag and date.
    pub fn restore_revision(
        &self,
        entry: &OpenEntry,
        revision: &RecordId,
        time: u64,
    ) -> Result<RecordBody, RestoreError> {
        if !self.may_write(entry) {
            return Err(VaultError::Denied("you may not write this entry").into());
        }
        let v = self.vault;
        let short = revision.short();
        let &i = v
            .index
            .get(revision)
            .ok_or_else(|| RestoreError::NoRevision(short.clone()))?;
        let Some((stored, rev)) = v.revision(i).filter(|(_, r)| r.entry == entry.id) else {
            return Err(RestoreError::OtherEntry(short));
        };
        if v.counted_role(i).is_none() {
            let reason = v
                .ignored
                .iter()
                .find(|x| x.record == *revision)
                .map_or("does not count", |x| x.reason);
            return Err(RestoreError::Void { id: short, reason });
        }
        if matches!(rev.content, EntryContent::Tombstone) {
            return Err(RestoreError::Tombstone(short));
        }
        self.check_revision(revision)?;
        let old = match self.decrypt(stored, rev) {
            Ok(Some(old)) => old,
            Ok(None) => return Err(RestoreError::Tombstone(short)),
            Err(VaultError::Denied(_)) => return Err(RestoreError::NotReadable(short)),
            Err(e) => return Err(e.into()),
        };
        let current = &entry.payload;
        if same_content(&old, current) && entry.heads <= 1 {
            return Err(RestoreError::Unchanged(short));
        }
        let mut payload = current.clone();
        payload.username = old.username.clone();
        payload.url = old.url.clone();
        payload.notes = old.notes.clone();
        payload.fields = old.fields.clone();
        payload.totp = old.totp.clone();
        if old.password != current.password {
            payload.password = old.password.clone();
            payload.password_changed = time;
            payload.rotate_at_source = old.rotate_at_source || !v.readable_by_removed(i).is_empty();
        }
        if old.totp != current.totp {
            // An old seed comes back flagged if it was then, or a removed member
            // could read that revision.
            payload.rotate_totp_at_source = old.totp.is_some()
                && (old.rotate_totp_at_source || !v.readable_by_removed(i).is_empty());
        }
        payload.modified = time;
        let draft = EntryDraft {
            payload,
            share_with: self.shared_with(entry),
        };
        Ok(self.revise_entry(entry, &draft)?)
    }

    /// The paths of the entries `ids` that I can read: a live entry whose current
    /// revision opens, a deleted one whose last revision before the delete opened.
    /// Others are left out (shown by id).
    pub fn readable_paths(
        &self,
        ids: &HashSet<EntryId>,
    ) -> Result<HashMap<EntryId, String>, VaultError> {
        let v = self.vault;
        let mut out = HashMap::new();
        let mut sorted: Vec<&EntryId> = ids.iter().collect();
        sorted.sort();
        for id in sorted {
            let Some((i, _)) = v.current(id) else {
                continue;
            };
            let Some((_, rev)) = v.revision(i) else {
                continue;
            };
            let at = match &rev.content {
                EntryContent::Sealed(_) => Some(i),
                // Deleted: the revision it deleted, if that counts.
                EntryContent::Tombstone => rev
                    .prev
                    .and_then(|p| v.index.get(&p).copied())
                    .filter(|&p| v.counted_role(p).is_some()),
            };
            if let Some(payload) = at.map(|p| self.open_revision(p)).transpose()?.flatten() {
                out.insert(*id, payload.path.clone());
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::attacks::{edit, person, signed, with};
    use super::*;
    use crate::crypto::SecretString;
    use crate::identity::Identity;

    fn create(v: &mut Vault, who: &Identity, path: &str, password: &str, share: Vec<Principal>) {
        let mut payload = EntryPayload::default();
        payload.path = path.into();
        payload.password = SecretString::new(password.into());
        let body = v
            .session(who)
            .unwrap()
            .create_entry(&EntryDraft {
                payload,
                share_with: share,
            })
            .unwrap();
        v.append(who, vec![body]).unwrap();
    }

    fn new_password(p: &mut EntryPayload, value: &str) {
        p.password = SecretString::new(value.into());
        p.rotate_at_source = false;
    }

    /// `restore` at `time`: the entry afterwards.
    fn restore_at(
        v: &mut Vault,
        who: &Identity,
        path: &str,
        rev: &RecordId,
        time: u64,
    ) -> OpenEntry {
        let s = v.session(who).unwrap();
        let e = s.open(path).unwrap();
        let body = s.restore_revision(&e, rev, time).unwrap();
        v.append(who, vec![body]).unwrap();
        v.session(who).unwrap().open(path).unwrap()
    }

    fn restore(v: &mut Vault, who: &Identity, path: &str, rev: &RecordId) -> OpenEntry {
        restore_at(v, who, path, rev, 1_000)
    }

    #[test]
    fn field_changes_name_fields_never_values() {
        let mut a = EntryPayload::default();
        a.path = "web/a".into();
        a.fields.push(CustomField {
            name: "kept".into(),
            value: SecretString::new("same".into()),
            secret: false,
        });
        a.fields.push(CustomField {
            name: "gone".into(),
            value: SecretString::new("x".into()),
            secret: true,
        });
        let mut b = a.clone();
        assert!(field_changes(&a, &b).is_empty());
        b.path = "web/b".into();
        b.password = SecretString::new("new".into());
        b.notes = "n".into();
        b.totp = Some(SecretString::new("otpauth://totp/x?secret=AAAA".into()));
        b.fields.retain(|f| f.name != "gone");
        b.fields.push(CustomField {
            name: "added".into(),
            value: SecretString::new("y".into()),
            secret: false,
        });
        b.rotate_at_source = true;
        assert_eq!(
            field_changes(&a, &b),
            [
                Change::Renamed {
                    from: "web/a".into(),
                    to: "web/b".into()
                },
                Change::Password,
                Change::Notes,
                Change::Totp,
                Change::Fields(vec!["added".into(), "gone".into()]),
                Change::RotateAtSource(true),
            ]
        );
        // A field that only becomes secret changed too.
        let mut c = a.clone();
        c.fields[0].secret = true;
        assert_eq!(field_changes(&a, &c), [Change::Fields(vec!["kept".into()])]);
    }

    /// carol (a reader, not a writer) signs a revision: it is void, shown as such, and
    /// cannot be restored. Two concurrent edits are both heads; restoring merges them.
    #[test]
    fn history_marks_void_and_concurrent_revisions() {
        let (alice, carol) = (person("alice"), person("carol"));
        let mut v = Vault::create(&alice, "acme").unwrap();
        v.add_member(&alice, "carol", carol.keys, Role::Member)
            .unwrap();
        let c = v.member_named("carol").unwrap().id;
        create(&mut v, &alice, "ops/api", "v1", vec![Principal::Member(c)]);
        let e = v.session(&carol).unwrap().open("ops/api").unwrap();
        let created = e.revision;
        let mut payload = e.payload.clone();
        payload.password = SecretString::new("carol's".into());
        let body = v
            .session(&carol)
            .unwrap()
            .seal(
                e.id,
                Some(e.revision),
                &EntryDraft {
                    payload,
                    share_with: vec![Principal::Member(c)],
                },
            )
            .unwrap();
        let forged = signed(&carol, c, v.heads(), 5, body);
        let base = with(&v, vec![forged.clone()]);
        assert!(!base.counts(&forged.id));
        // Two concurrent edits by alice.
        let mut a = base.clone();
        let by_name = edit(&mut a, &alice, "ops/api", |p| p.username = "u".into());
        let mut b = base.clone();
        let by_url = edit(&mut b, &alice, "ops/api", |p| p.url = "https://x".into());
        let new: Vec<StoredRecord> = b
            .records()
            .iter()
            .filter(|r| !a.contains(&r.id))
            .cloned()
            .collect();
        let mut m = with(&a, new);

        let s = m.session(&alice).unwrap();
        let e = s.open("ops/api").unwrap();
        assert_eq!(e.heads, 2);
        let h = s.entry_history(&e.id).unwrap();
        let find = |id: &RecordId| h.iter().find(|r| r.record == *id).unwrap();
        assert_eq!(h.len(), 4);
        assert_eq!(h.iter().filter(|r| r.current).count(), 1);
        assert!(find(&by_name).head && find(&by_url).head);
        assert_eq!(find(&by_name).changes, [Change::Username]);
        assert_eq!(find(&by_url).changes, [Change::Url]);
        let void = find(&forged.id);
        assert!(void.void.is_some() && !void.head && !void.current);
        // Anyone can wrap to a public key: a revision that does not count is not
        // opened through such a wrap, so its fields are not compared.
        assert!(void.changes.is_empty() && !void.readable);
        assert_eq!(find(&created).changes, [Change::Created]);
        assert!(
            h.iter()
                .filter(|r| r.record != forged.id)
                .all(|r| r.readable)
        );
        assert!(matches!(
            s.restore_revision(&e, &forged.id, 9),
            Err(RestoreError::Void { .. })
        ));
        // The current revision's fields, restored, merge the two heads.
        let current = e.revision;
        drop(s);
        let after = restore(&mut m, &alice, "ops/api", &current);
        assert_eq!(after.heads, 1);
        let e = m.session(&alice).unwrap().open("ops/api").unwrap();
        assert!(matches!(
            m.session(&alice)
                .unwrap()
                .restore_revision(&e, &e.revision, 9),
            Err(RestoreError::Unchanged(_))
        ));
        // carol may read, not write: denied before anything else.
        let s = m.session(&carol).unwrap();
        let e = s.open("ops/api").unwrap();
        assert!(matches!(
            s.restore_revision(&e, &created, 9),
            Err(RestoreError::Vault(VaultError::Denied(_)))
        ));
    }

    /// A password a removed member could have read keeps (or gets back) the
    /// rotate-at-source flag when it is restored; one written after the removal does
    /// not.
    #[test]
    fn restoring_a_password_a_removed_member_saw_flags_it() {
        let (alice, bob) = (person("alice"), person("bob"));
        let mut v = Vault::create(&alice, "acme").unwrap();
        v.add_member(&alice, "bob", bob.keys, Role::Member).unwrap();
        let b = v.member_named("bob").unwrap().id;
        create(
            &mut v,
            &alice,
            "ops/db",
            "seen-by-bob",
            vec![Principal::Member(b)],
        );
        let s = v.session(&alice).unwrap();
        let first = s.open("ops/db").unwrap().revision;
        drop(s);
        v.revoke_member(&alice, "bob", &mut |_, _| {}).unwrap();
        let e = v.session(&alice).unwrap().open("ops/db").unwrap();
        assert!(e.payload.rotate_at_source);
        let rekeyed = e.revision;
        edit(&mut v, &alice, "ops/db", |p| new_password(p, "after-1"));
        let e = v.session(&alice).unwrap().open("ops/db").unwrap();
        assert!(!e.payload.rotate_at_source);

        // The first revision: wrapped to bob before his removal.
        let r = restore(&mut v, &alice, "ops/db", &first);
        assert_eq!(r.payload.password.expose(), "seen-by-bob");
        assert!(r.payload.rotate_at_source);
        assert_eq!(r.payload.password_changed, 1_000);
        let restored = r.revision;
        // Other fields back with the same password: not a password change, the flag
        // and the date stay.
        edit(&mut v, &alice, "ops/db", |p| p.username = "x".into());
        let r = restore_at(&mut v, &alice, "ops/db", &restored, 2_000);
        assert_eq!(r.payload.username, "");
        assert!(r.payload.rotate_at_source);
        assert_eq!(r.payload.password_changed, 1_000);
        assert_eq!(r.payload.modified, 2_000);
        // The re-keyed revision was not readable by bob, but carries his flag.
        edit(&mut v, &alice, "ops/db", |p| new_password(p, "after-2"));
        let r = restore(&mut v, &alice, "ops/db", &rekeyed);
        assert_eq!(r.payload.password.expose(), "seen-by-bob");
        assert!(r.payload.rotate_at_source);
        // A password set after the removal is a clean change.
        let later = edit(&mut v, &alice, "ops/db", |p| new_password(p, "after-3"));
        edit(&mut v, &alice, "ops/db", |p| new_password(p, "after-4"));
        let r = restore(&mut v, &alice, "ops/db", &later);
        assert_eq!(r.payload.password.expose(), "after-3");
        assert!(!r.payload.rotate_at_source);
    }

    /// A writer who was given access later cannot restore what was never theirs to
    /// read.
    #[test]
    fn a_revision_i_could_not_read_is_not_restored() {
        let (alice, carol) = (person("alice"), person("carol"));
        let mut v = Vault::create(&alice, "acme").unwrap();
        v.add_member(&alice, "carol", carol.keys, Role::Member)
            .unwrap();
        let c = Principal::Member(v.member_named("carol").unwrap().id);
        create(&mut v, &alice, "ops/x", "admins-only", vec![]);
        let first = v.session(&alice).unwrap().open("ops/x").unwrap().revision;
        let s = v.session(&alice).unwrap();
        let e = s.open("ops/x").unwrap();
        let mut payload = e.payload.clone();
        payload.password = SecretString::new("shared".into());
        payload.write_grants = vec![c];
        let body = s
            .revise_entry(
                &e,
                &EntryDraft {
                    payload,
                    share_with: vec![c],
                },
            )
            .unwrap();
        drop(s);
        v.append(&alice, vec![body]).unwrap();
        let s = v.session(&carol).unwrap();
        let e = s.open("ops/x").unwrap();
        assert!(s.may_write(&e));
        assert!(matches!(
            s.restore_revision(&e, &first, 9),
            Err(RestoreError::NotReadable(_))
        ));
        let h = s.entry_history(&e.id).unwrap();
        assert_eq!(h.len(), 2);
        assert!(!h[0].readable && !h[1].readable);
        assert_eq!(h[1].changes, [Change::Created]);
        assert_eq!(h[0].path.as_deref(), Some("ops/x"));
        assert_eq!(h[1].path, None);
    }

    #[test]
    fn readable_paths_cover_live_and_deleted_entries_i_could_read() {
        let (alice, bob) = (person("alice"), person("bob"));
        let mut v = Vault::create(&alice, "acme").unwrap();
        v.add_member(&alice, "bob", bob.keys, Role::Member).unwrap();
        let b = v.member_named("bob").unwrap().id;
        create(&mut v, &alice, "shared", "s", vec![Principal::Member(b)]);
        create(&mut v, &alice, "private", "p", vec![]);
        create(&mut v, &alice, "gone", "g", vec![Principal::Member(b)]);
        let s = v.session(&alice).unwrap();
        let ids: HashSet<EntryId> = s.list().unwrap().iter().map(|e| e.id).collect();
        let gone = s.open("gone").unwrap();
        let body = s.delete_entry(&gone).unwrap();
        drop(s);
        v.append(&alice, vec![body]).unwrap();
        let paths = |who: &Identity| -> Vec<String> {
            let mut p: Vec<String> = v
                .session(who)
                .unwrap()
                .readable_paths(&ids)
                .unwrap()
                .into_values()
                .collect();
            p.sort();
            p
        };
        assert_eq!(paths(&alice), ["gone", "private", "shared"]);
        assert_eq!(paths(&bob), ["gone", "shared"]);
    }
}
