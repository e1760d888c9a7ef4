//! Reading and writing as one member: a [`Session`] unwraps and caches group keys,
//! opens entries (choosing the wrap to open with [`wraps_to_try`], on every CPU for a
//! large vault: the parallel walk), and seals new revisions.

use super::*;

/// A member's view of the vault, with unwrapped group keys cached.
#[derive(Debug)]
pub struct Session<'a> {
    pub(super) vault: &'a Vault,
    pub(super) identity: &'a dyn Keyholder,
    pub(super) me: Member,
    pub(super) group_keys: RefCell<HashMap<RecordId, SymmetricKey>>,
}

/// What [`Session::list_all`] found.
#[derive(Debug, Default)]
pub struct Listing {
    /// The entries that opened, sorted by path.
    pub entries: Vec<OpenEntry>,
    /// Entries addressed to me that failed to open, and why.
    pub failed: Vec<(EntryId, VaultError)>,
}

/// What [`Session::at_path`] found.
#[derive(Debug, Default)]
pub(super) struct PathMatches {
    /// The entries at the path that opened, in entry-id order.
    pub(super) found: Vec<OpenEntry>,
    /// Whether some entry addressed to me failed to open.
    pub(super) failed: bool,
}

/// The current revision of one live entry: `(entry, revision, number of heads)`.
pub(super) type Current<'v> = (EntryId, &'v StoredRecord, &'v EntryRevision, usize);

/// What a walk keeps of an opened entry: `(entry, its current revision, number of
/// heads, payload)` → `Some` to keep.
pub(super) type KeepFn<'k, T> =
    dyn Fn(EntryId, &StoredRecord, usize, EntryPayload) -> Option<T> + Sync + 'k;

/// What [`Session::walk`] found.
pub(super) struct Walk<T> {
    /// What `keep` kept, in no particular order.
    pub(super) kept: Vec<T>,
    /// Entries addressed to me that failed to open, and why, in entry-id order.
    pub(super) failed: Vec<(EntryId, VaultError)>,
    /// The keyholder could not open a wrap at all (the agent went away and no
    /// passphrase is at hand, a locked key): the walk fails with it, rather than
    /// count entries as failing their checks.
    pub(super) keyholder: Option<VaultError>,
}

/// What one thread of a walk found in its contiguous share of the current revisions.
pub(super) struct Share<T> {
    pub(super) kept: Vec<T>,
    pub(super) failed: Vec<(EntryId, VaultError)>,
    /// Positions (in the whole walk) of entries left to the session's thread.
    pub(super) deferred: Vec<usize>,
    /// The random number generator failed.
    pub(super) random: bool,
}

/// The part of a session that can cross threads: opens entries through group wraps
/// under already-unwrapped group keys, and nothing else (no identity, no cache).
pub(super) struct GroupReader<'s> {
    pub(super) vault_id: RecordId,
    pub(super) me: MemberId,
    /// The vault's group key versions.
    pub(super) versions: &'s HashMap<RecordId, GroupKeyVersion>,
    /// The unwrapped ones.
    pub(super) keys: &'s HashMap<RecordId, SymmetricKey>,
}

impl GroupReader<'_> {
    /// Open `current[..]` (whose first element is at `start` in the whole walk).
    pub(super) fn share<T>(
        &self,
        start: usize,
        current: &[Current<'_>],
        keep: &KeepFn<'_, T>,
    ) -> Share<T> {
        let mut share = Share {
            kept: Vec::new(),
            failed: Vec::new(),
            deferred: Vec::new(),
            random: false,
        };
        for (n, &(id, stored, rev, heads)) in current.iter().enumerate() {
            match self.decrypt(rev) {
                Some(opened) => settle(
                    (id, stored, heads),
                    opened,
                    keep,
                    &mut share.kept,
                    &mut share.failed,
                    &mut share.random,
                ),
                None => share.deferred.push(start + n),
            }
        }
        share
    }

    /// What [`Session::decrypt`] returns for `rev` when the wrap
    /// [`Session::entry_key`] would pick (the first group wrap under a key I hold) is
    /// under a key in `keys`; `None` in every other case, for the session to decide.
    pub(super) fn decrypt(
        &self,
        rev: &EntryRevision,
    ) -> Option<Result<Option<EntryPayload>, VaultError>> {
        let EntryContent::Sealed(sealed) = &rev.content else {
            return Some(Ok(None));
        };
        // The wrap every reader tries first (`wraps_to_try`): open it here only if it
        // is a group wrap under a key already unwrapped; anything else is the
        // session's to decide, on its own thread.
        let holds = |k: &RecordId| holds_group_key_wrap(self.versions, &self.me, k);
        let Some(KeyWrap::Group {
            key_id,
            nonce,
            sealed: s,
        }) = wraps_to_try(sealed, &self.me, holds).first().copied()
        else {
            return None;
        };
        let gk = self.keys.get(key_id)?;
        // A key in `keys` was unwrapped from its version in `versions`.
        let Some(group) = self.versions.get(key_id).map(|v| v.group) else {
            return Some(Err(VaultError::Integrity(
                "wrap under an unknown group key",
            )));
        };
        let key = open_group_wrap(&self.vault_id, gk, &group, key_id, nonce, s, rev, sealed);
        Some(key.and_then(|key| {
            key.check_commitment(&sealed.commitment)
                .map_err(|_| VaultError::Integrity("entry key commitment"))?;
            open_payload(&self.vault_id, &key, rev, sealed).map(Some)
        }))
    }
}

/// The wraps of a revision that `me` may be able to open, in the one order every
/// reader tries them: symmetric group wraps under a key version `me` holds first
/// (cheapest, and only holders of the group key can make them), then HPKE wraps to
/// such a version's public key, then a direct wrap to `me`.
/// An opened revision of entry `id`, before any path choice (nothing shadowed).
fn opened(id: EntryId, stored: &StoredRecord, heads: usize, payload: EntryPayload) -> OpenEntry {
    OpenEntry {
        id,
        revision: stored.id,
        author: stored.record.author,
        payload,
        heads,
        shadowed: Vec::new(),
    }
}

pub(super) fn wraps_to_try<'w>(
    sealed: &'w SealedEntry,
    me: &MemberId,
    holds: impl Fn(&RecordId) -> bool,
) -> Vec<&'w KeyWrap> {
    let rank = |w: &KeyWrap| match w {
        KeyWrap::Group { .. } => 0,
        KeyWrap::GroupPublic { .. } => 1,
        KeyWrap::Member(_) => 2,
    };
    let mut out: Vec<&KeyWrap> = sealed
        .wraps
        .iter()
        .filter(|w| match w {
            KeyWrap::Member(m) => m.member == *me,
            KeyWrap::Group { key_id, .. } | KeyWrap::GroupPublic { key_id, .. } => holds(key_id),
        })
        .collect();
    out.sort_by_key(|w| rank(w));
    out
}

/// Record one opened entry of a walk.
pub(super) fn settle<T>(
    (id, stored, heads): (EntryId, &StoredRecord, usize),
    opened: Result<Option<EntryPayload>, VaultError>,
    keep: &KeepFn<'_, T>,
    kept: &mut Vec<T>,
    failed: &mut Vec<(EntryId, VaultError)>,
    random: &mut bool,
) {
    match opened {
        Ok(Some(payload)) => kept.extend(keep(id, stored, heads, payload)),
        Ok(None) | Err(VaultError::Denied(_)) => {}
        Err(VaultError::Random) => *random = true,
        Err(e) => failed.push((id, e)),
    }
}

/// How many threads to decrypt `entries` entries (or check as many signatures) on: one
/// per CPU, at most 8, and none for fewer than 512 items each (starting a thread costs
/// about as much as opening a few entries).
pub(super) fn worker_threads(entries: usize) -> usize {
    const MIN_ENTRIES_PER_THREAD: usize = 512;
    static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cpus = *CPUS.get_or_init(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    cpus.min(8).min(entries / MIN_ENTRIES_PER_THREAD).max(1)
}

/// Whether `me` holds a wrap of the group key version `key_id`.
pub(super) fn holds_group_key_wrap(
    versions: &HashMap<RecordId, GroupKeyVersion>,
    me: &MemberId,
    key_id: &RecordId,
) -> bool {
    versions
        .get(key_id)
        .is_some_and(|v| v.wraps.iter().any(|w| w.member == *me))
}

/// Open an entry key from a group wrap under the unwrapped group key `gk`.
#[allow(clippy::too_many_arguments)]
pub(super) fn open_group_wrap(
    vault_id: &RecordId,
    gk: &SymmetricKey,
    group: &GroupId,
    key_id: &RecordId,
    nonce: &[u8; 24],
    wrapped: &[u8],
    rev: &EntryRevision,
    sealed: &SealedEntry,
) -> Result<SymmetricKey, VaultError> {
    let aad = format::entry_group_wrap_aad(
        vault_id,
        group,
        key_id,
        &rev.entry,
        rev.prev.as_ref(),
        &sealed.commitment,
    );
    Ok(crypto::open_key(gk, nonce, &aad, wrapped)?)
}

/// Open a revision's payload under its (commitment-checked) entry key.
pub(super) fn open_payload(
    vault_id: &RecordId,
    key: &SymmetricKey,
    rev: &EntryRevision,
    sealed: &SealedEntry,
) -> Result<EntryPayload, VaultError> {
    let aad =
        format::entry_payload_aad(vault_id, &rev.entry, rev.prev.as_ref(), &sealed.commitment);
    let padded = crypto::open(key, &sealed.nonce, &aad, &sealed.ciphertext)?;
    let mut payload = EntryPayload::from_padded(&padded)?;
    // The writers are in clear, signed (resolution checks write rights with them).
    payload.write_grants = sealed.writers.clone();
    Ok(payload)
}

/// A write about to happen: what to put in a new revision.
#[derive(Debug, Default)]
pub struct EntryDraft {
    /// The payload (path inside).
    pub payload: EntryPayload,
    /// Extra readers beyond `@admins` (members or groups).
    pub share_with: Vec<format::Principal>,
}

/// Check a draft's path ([`check_path`]); a copy with the path in NFC when it was not.
fn nfc_draft(draft: &EntryDraft) -> Result<Option<EntryDraft>, VaultError> {
    let path = check_path(&draft.payload.path)?;
    if path == draft.payload.path {
        return Ok(None);
    }
    let mut payload = draft.payload.clone();
    payload.path = path;
    Ok(Some(EntryDraft {
        payload,
        share_with: draft.share_with.clone(),
    }))
}

impl EntryDraft {
    /// A draft with only a path and an empty password (tests, examples).
    pub fn with_path(mut self, path: &str) -> Self {
        self.payload.path = path.to_string();
        self
    }
}

impl Session<'_> {
    /// The member this session reads as.
    pub fn me(&self) -> &Member {
        &self.me
    }

    pub(super) fn group_key(&self, key_id: &RecordId) -> Result<SymmetricKey, VaultError> {
        if let Some(k) = self.group_keys.borrow().get(key_id) {
            return Ok(k.clone());
        }
        let version = self
            .vault
            .group_keys
            .get(key_id)
            .ok_or(VaultError::Integrity("wrap under an unknown group key"))?;
        let info = format::group_key_wrap_info(
            &self.vault.id(),
            &self.me.id,
            &version.group,
            &version.commitment,
        );
        // A member may hold more than one wrap of a version (a join concurrent with a
        // rotation attaches the join's wrap to every latest version): the one made for
        // this version opens.
        let mut found = Err(VaultError::Denied("you hold no wrap of this group key"));
        for wrap in version.wraps.iter().filter(|w| w.member == self.me.id) {
            let Ok(sealed) = wrap.sealed.as_slice().try_into() else {
                found = Err(VaultError::Integrity("group key wrap"));
                continue;
            };
            let wrapped = crypto::HpkeWrapped {
                enc: wrap.enc,
                sealed,
            };
            match self.identity.unwrap_key(&info, &wrapped) {
                Ok(k) => {
                    found = Ok(k);
                    break;
                }
                Err(KeyholderError::Integrity) => {
                    found = Err(VaultError::Integrity("group key wrap"));
                }
                Err(e) => return Err(VaultError::Keyholder(e)),
            }
        }
        let key = found?;
        key.check_commitment(&version.commitment)
            .map_err(|_| VaultError::Integrity("group key commitment"))?;
        // The published public key must be the one derived from this key, or wraps
        // made to it by non-holders would be readable by someone else.
        let public = crypto::AgreementSecret::derive_from_group_key(&key).public()?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            &public[..],
            &version.public[..],
        )) {
            return Err(VaultError::Integrity("group public key"));
        }
        self.group_keys.borrow_mut().insert(*key_id, key.clone());
        Ok(key)
    }

    /// Whether I hold a group's key id (without unwrapping it).
    pub(super) fn can_use_group_key(&self, key_id: &RecordId) -> bool {
        self.group_keys.borrow().contains_key(key_id)
            || holds_group_key_wrap(&self.vault.group_keys, &self.me.id, key_id)
    }

    /// Unwrap the entry key of a sealed revision, checking its commitment. Group wraps
    /// are tried first (cheaper, and only group-key holders can make them); the second
    /// value says whether the key came through a direct member wrap.
    pub(super) fn entry_key(
        &self,
        rev: &EntryRevision,
        sealed: &SealedEntry,
    ) -> Result<(SymmetricKey, bool), VaultError> {
        let vault_id = self.vault.id();
        let holds = |k: &RecordId| self.can_use_group_key(k);
        // The first wrap to try decides (a wrap that fails is an integrity failure,
        // not a reason to try another).
        if let Some(w) = wraps_to_try(sealed, &self.me.id, holds).into_iter().next() {
            let direct = !matches!(w, KeyWrap::Group { .. });
            let key = match w {
                KeyWrap::Member(m) => {
                    let info = format::entry_member_wrap_info(
                        &vault_id,
                        &m.member,
                        &rev.entry,
                        rev.prev.as_ref(),
                        &sealed.commitment,
                    );
                    let wrapped = crypto::HpkeWrapped {
                        enc: m.enc,
                        sealed: m
                            .sealed
                            .as_slice()
                            .try_into()
                            .map_err(|_| VaultError::Integrity("entry key wrap"))?,
                    };
                    self.identity.unwrap_key(&info, &wrapped)?
                }
                KeyWrap::Group {
                    key_id,
                    nonce,
                    sealed: s,
                } => {
                    let gk = self.group_key(key_id)?;
                    let group = self.vault.wrap_key_group(key_id)?;
                    open_group_wrap(&vault_id, &gk, &group, key_id, nonce, s, rev, sealed)?
                }
                KeyWrap::GroupPublic {
                    key_id,
                    enc,
                    sealed: s,
                } => {
                    let gk = self.group_key(key_id)?;
                    let group = self.vault.wrap_key_group(key_id)?;
                    let secret = crypto::AgreementSecret::derive_from_group_key(&gk);
                    let info = format::entry_group_public_wrap_info(
                        &vault_id,
                        &group,
                        key_id,
                        &rev.entry,
                        rev.prev.as_ref(),
                        &sealed.commitment,
                    );
                    let wrapped = crypto::HpkeWrapped {
                        enc: *enc,
                        sealed: *s,
                    };
                    crypto::hpke_unwrap(&secret, &info, &wrapped)?
                }
            };
            key.check_commitment(&sealed.commitment)
                .map_err(|_| VaultError::Integrity("entry key commitment"))?;
            return Ok((key, direct));
        }
        Err(VaultError::Denied("the entry is not shared with you"))
    }

    /// Decrypt one revision's payload. A revision readable only through a direct member
    /// wrap has its signature checked here: anyone who knows a member's public key can
    /// make such a wrap, so the AEAD alone does not show a member wrote it. (A group
    /// wrap can only be made by a holder of the group key.)
    pub(super) fn decrypt(
        &self,
        stored: &StoredRecord,
        rev: &EntryRevision,
    ) -> Result<Option<EntryPayload>, VaultError> {
        let EntryContent::Sealed(sealed) = &rev.content else {
            return Ok(None);
        };
        let (key, direct) = match self.entry_key(rev, sealed) {
            Ok(k) => k,
            // After my key change, what was wrapped to my retired key (directly or
            // under a group key version I held with it) does not open with the new one
            // until an admin re-keys it: not shared with me, rather than damage.
            Err(VaultError::Integrity(_)) if self.wrapped_before_my_key_change(stored) => {
                return Err(VaultError::Denied(
                    "wrapped to your retired key; an admin's next write re-keys it",
                ));
            }
            Err(e) => return Err(e),
        };
        // Anyone can make a public-key wrap: it is read only from a revision that
        // counts (signature verified by resolution, or pinned). The value handed out
        // has its signature checked again by `open`/`open_id`.
        if direct && !self.vault.counts(&stored.id) {
            return Err(VaultError::Integrity("entry revision signature"));
        }
        open_payload(&self.vault.id(), &key, rev, sealed).map(Some)
    }

    /// Whether a counted change of my keys is not an ancestor of this revision (it was
    /// written before the change, or concurrently with it). Only asked when a wrap
    /// fails to open, so the scan over the records is rare.
    fn wrapped_before_my_key_change(&self, stored: &StoredRecord) -> bool {
        let Some(&at) = self.vault.index.get(&stored.id) else {
            return false;
        };
        self.vault
            .file
            .records
            .iter()
            .enumerate()
            .any(|(k, r)| {
                matches!(&r.record.body, RecordBody::ChangeMemberKeys { member, .. } if *member == self.me.id)
                    && self.vault.counts(&r.id)
                    && !self.vault.dag.is_ancestor(k, at)
            })
    }

    /// Every live entry I can read, decrypted and sorted by path, and the entries
    /// addressed to me that failed to open (a damaged or forged revision must not hide
    /// the others). Paths are authenticated by the AEAD under keys only readers hold
    /// (and by the signature for direct shares); every value is signature- and
    /// write-right-checked when opened with [`Session::open`].
    pub fn list_all(&self) -> Result<Listing, VaultError> {
        let walk =
            self.walk(&|id, stored, heads, payload| Some(opened(id, stored, heads, payload)))?;
        let mut entries = walk.kept;
        entries.sort_by(|a, b| a.payload.path.cmp(&b.payload.path).then(a.id.cmp(&b.id)));
        Ok(Listing {
            entries,
            failed: walk.failed,
        })
    }

    /// The current revision of every live entry, in entry-id order.
    pub(super) fn current_revisions(&self) -> Vec<Current<'_>> {
        let mut ids: Vec<&EntryId> = self.vault.heads.keys().collect();
        ids.sort();
        ids.into_iter()
            .filter_map(|id| {
                let (i, heads) = self.vault.current(id)?;
                let (stored, rev) = self.vault.revision(i)?;
                Some((*id, stored, rev, heads))
            })
            .collect()
    }

    /// The live entries at `path` that I can read, in entry-id order: what
    /// [`Session::list_all`] would list there, without building and sorting the whole
    /// listing (every readable payload is still decrypted, since paths are encrypted;
    /// the others are dropped at once). `failed` says whether some entry addressed to
    /// me failed to open: it could have been at `path`.
    pub(super) fn at_path(&self, path: &str) -> Result<PathMatches, VaultError> {
        let wanted = format::nfc(path);
        let walk = self.walk(&|id, stored, heads, payload| {
            format::same_text(&payload.path, &wanted).then(|| opened(id, stored, heads, payload))
        })?;
        let mut found = walk.kept;
        found.sort_by_key(|e| e.id);
        Ok(PathMatches {
            found,
            failed: !walk.failed.is_empty(),
        })
    }

    /// Decrypt the current revision of every live entry I can read and keep what `keep`
    /// returns for it; entries addressed to me that fail to open go to `failed`, in
    /// entry-id order. Large vaults are decrypted on several threads
    /// ([`worker_threads`]).
    pub(super) fn walk<T: Send>(&self, keep: &KeepFn<'_, T>) -> Result<Walk<T>, VaultError> {
        let current = self.current_revisions();
        self.walk_on(worker_threads(current.len()), &current, keep)
    }

    /// [`Session::walk`] on `threads` threads (this one included). The session's group
    /// key cache cannot cross threads, so the group keys the entries are wrapped under
    /// are unwrapped here first; the other threads open only entries whose first usable
    /// wrap is a group wrap under one of those keys ([`GroupReader`]), which is what
    /// [`Session::entry_key`] would use, and hand every other entry (direct shares,
    /// keys that failed to unwrap, entries not for me) back to this thread, which opens
    /// it with [`Session::decrypt`] as a single-threaded walk would.
    pub(super) fn walk_on<T: Send>(
        &self,
        threads: usize,
        current: &[Current<'_>],
        keep: &KeepFn<'_, T>,
    ) -> Result<Walk<T>, VaultError> {
        let mut walk = Walk {
            kept: Vec::new(),
            failed: Vec::new(),
            keyholder: None,
        };
        let mut random = false;
        if threads <= 1 || current.len() < 2 {
            for (pos, _) in current.iter().enumerate() {
                self.walk_here(current, pos, keep, &mut walk, &mut random);
            }
        } else {
            self.unwrap_group_keys(current);
            let cache = self.group_keys.borrow();
            let reader = GroupReader {
                vault_id: self.vault.id(),
                me: self.me.id,
                versions: &self.vault.group_keys,
                keys: &cache,
            };
            let reader = &reader;
            let chunk = current.len().div_ceil(threads);
            let shares: Vec<Share<T>> = std::thread::scope(|scope| {
                let mut chunks = current.chunks(chunk).enumerate();
                let first = chunks.next();
                let spawned: Vec<_> = chunks
                    .map(|(n, c)| {
                        let start = n * chunk;
                        let handle = std::thread::Builder::new()
                            .spawn_scoped(scope, move || reader.share(start, c, keep));
                        (start, c, handle)
                    })
                    .collect();
                let mut shares: Vec<Share<T>> = first
                    .map(|(_, c)| reader.share(0, c, keep))
                    .into_iter()
                    .collect();
                for (start, c, handle) in spawned {
                    shares.push(match handle {
                        Ok(h) => h
                            .join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                        // No thread to be had: do its share here.
                        Err(_) => reader.share(start, c, keep),
                    });
                }
                shares
            });
            drop(cache);
            for share in shares {
                walk.kept.extend(share.kept);
                walk.failed.extend(share.failed);
                random |= share.random;
                for pos in share.deferred {
                    self.walk_here(current, pos, keep, &mut walk, &mut random);
                }
            }
            walk.failed.sort_by_key(|(id, _)| *id);
        }
        if random {
            return Err(VaultError::Random);
        }
        if let Some(e) = walk.keyholder.take() {
            return Err(e);
        }
        Ok(walk)
    }

    /// One step of a walk on this thread, with the session's own [`Session::decrypt`].
    pub(super) fn walk_here<T>(
        &self,
        current: &[Current<'_>],
        pos: usize,
        keep: &KeepFn<'_, T>,
        walk: &mut Walk<T>,
        random: &mut bool,
    ) {
        let Some(&(id, stored, rev, heads)) = current.get(pos) else {
            return;
        };
        let opened = self.decrypt(stored, rev);
        if let Err(VaultError::Keyholder(_)) = opened {
            if walk.keyholder.is_none() {
                walk.keyholder = opened.err();
            }
            return;
        }
        settle(
            (id, stored, heads),
            opened,
            keep,
            &mut walk.kept,
            &mut walk.failed,
            random,
        );
    }

    /// Unwrap (into the cache) every group key I hold that a group wrap of `current`
    /// names, so that other threads can open those wraps. Failures are not reported
    /// here: the entries that need such a key are opened on this thread and fail there.
    pub(super) fn unwrap_group_keys(&self, current: &[Current<'_>]) {
        let mut tried: std::collections::HashSet<RecordId> = std::collections::HashSet::new();
        let mut last = None;
        for &(_, _, rev, _) in current {
            let EntryContent::Sealed(sealed) = &rev.content else {
                continue;
            };
            for w in &sealed.wraps {
                let KeyWrap::Group { key_id, .. } = w else {
                    continue;
                };
                if last == Some(key_id) {
                    continue;
                }
                last = Some(key_id);
                if tried.insert(*key_id) && self.can_use_group_key(key_id) {
                    let _failure_reported_per_entry = self.group_key(key_id);
                }
            }
        }
    }

    /// Like [`Session::list_all`], but any entry that fails to open is an error.
    pub fn list(&self) -> Result<Vec<OpenEntry>, VaultError> {
        let mut listing = self.list_all()?;
        match listing.failed.pop() {
            Some((_, e)) => Err(e),
            None => Ok(listing.entries),
        }
    }

    /// Open the entry at `path`, verifying its current revision's signature. Of several
    /// entries at `path`, the one created by an admin or by me when only one is, with
    /// the others in `shadowed` (`vault::choose_at_path`); else [`VaultError::Ambiguous`].
    pub fn open(&self, path: &str) -> Result<OpenEntry, VaultError> {
        let PathMatches { mut found, failed } = self.at_path(path)?;
        match found.len() {
            0 if failed => {
                // The entry may be one that cannot be opened: say so, not "no entry".
                Err(VaultError::Integrity(
                    "no readable entry at this path, and some entries fail their integrity checks",
                ))
            }
            0 => Err(VaultError::NotFound(path.to_string())),
            _ => {
                let ids: Vec<EntryId> = found.iter().map(|e| e.id).collect();
                let (at, shadowed) = self.vault.choose_entry_at(path, &ids, &self.me.id)?;
                let mut e = found.swap_remove(at);
                self.check_revision(&e.revision)?;
                e.shadowed = shadowed;
                Ok(e)
            }
        }
    }

    /// Open an entry by id (current revision), verifying its signature.
    pub fn open_id(&self, id: &EntryId) -> Result<OpenEntry, VaultError> {
        let e = self.open_id_counted(id)?;
        self.check_revision(&e.revision)?;
        Ok(e)
    }

    /// [`Self::open_id`] for re-keying (revocation): the revision counts, and a pinned
    /// one's signature is not checked again. Its bytes are pinned by its id (the pinned
    /// heads' ids commit to every ancestor's bytes), and their signature was verified
    /// when they were pinned; re-checking 5,000 of them one by one doubled the cost of
    /// `member rm`.
    pub(super) fn open_id_counted(&self, id: &EntryId) -> Result<OpenEntry, VaultError> {
        let (i, heads) = self
            .vault
            .current(id)
            .ok_or_else(|| VaultError::NotFound(id.to_hex()))?;
        let (stored, rev) = self
            .vault
            .revision(i)
            .ok_or_else(|| VaultError::NotFound(id.to_hex()))?;
        let payload = self
            .decrypt(stored, rev)?
            .ok_or_else(|| VaultError::NotFound(id.to_hex()))?;
        if !self.vault.counts(&stored.id) {
            return Err(VaultError::Integrity(
                "entry revision does not count (write right)",
            ));
        }
        Ok(opened(*id, stored, heads, payload))
    }

    /// The check done before a value is handed out: the revision counts (its
    /// signature verified under its author's key at its parents, and its author was an
    /// admin or a writer there: see `resolve`).
    pub(super) fn check_revision(&self, revision: &RecordId) -> Result<(), VaultError> {
        let v = self.vault;
        let i = *v
            .index
            .get(revision)
            .ok_or(VaultError::Integrity("missing revision"))?;
        match (v.counted_role(i), v.sig.get(i)) {
            (Some(_), Some(resolve::Sig::Trusted)) => {
                // Verified when pinned; a value is handed out only with its signature
                // checked again (the pin covers deletion, not a rewritten file).
                let stored = &v.file.records[i];
                let signer = v.signer.get(i).copied().flatten();
                signer
                    .filter(|k| {
                        crypto::verify(k, crypto::SIGNATURE_LABEL, &stored.bytes, &stored.signature)
                            .is_ok()
                    })
                    .map(|_| ())
                    .ok_or(VaultError::Integrity("entry revision signature"))
            }
            (Some(_), _) => Ok(()),
            (None, Some(resolve::Sig::Bad)) => {
                Err(VaultError::Integrity("entry revision signature"))
            }
            (None, _) => Err(VaultError::Integrity(
                "entry revision does not count (write right)",
            )),
        }
    }

    pub(super) fn granted(&self, grants: &[format::Principal], member: &MemberId) -> bool {
        grants.iter().any(|p| match p {
            format::Principal::Member(m) => m == member,
            format::Principal::Group(g) => self
                .vault
                .groups
                .get(g)
                .is_some_and(|g| g.members.contains(member)),
        })
    }

    /// Whether I may write a new revision of `entry` (admins always; others when the
    /// current revision grants them).
    pub fn may_write(&self, entry: &OpenEntry) -> bool {
        self.me.role.is_admin() || self.granted(&entry.payload.write_grants, &self.me.id)
    }

    /// Seal a payload as a revision of `entry` after `prev`, wrapped to `@admins`, to me
    /// if I am not an admin, and to `share_with`.
    pub(super) fn seal(
        &self,
        entry: EntryId,
        prev: Option<RecordId>,
        draft: &EntryDraft,
    ) -> Result<RecordBody, VaultError> {
        let vault_id = self.vault.id();
        let key = SymmetricKey::generate()?;
        let commitment = key.commitment();
        let mut principals: BTreeSet<format::Principal> =
            draft.share_with.iter().copied().collect();
        principals.insert(format::Principal::Group(ADMINS_GROUP));
        if !self.me.role.is_admin() {
            principals.insert(format::Principal::Member(self.me.id));
        }
        // A reader who is no longer a member (removed concurrently, or named by an old
        // revision) is dropped, never an error: revoking must always work.
        principals.retain(|p| match p {
            format::Principal::Member(id) => self
                .vault
                .members
                .get(id)
                .is_some_and(|m| m.active && m.key_current),
            format::Principal::Group(g) => self.vault.groups.contains_key(g),
        });
        let mut wraps = Vec::with_capacity(principals.len());
        let readers = principals.clone();
        for p in principals {
            match p {
                format::Principal::Member(id) => {
                    let m = self
                        .vault
                        .members
                        .get(&id)
                        .filter(|m| m.active)
                        .ok_or(VaultError::Denied("not a current member"))?;
                    let info = format::entry_member_wrap_info(
                        &vault_id,
                        &id,
                        &entry,
                        prev.as_ref(),
                        &commitment,
                    );
                    let w = crypto::hpke_wrap(&m.keys.agreement, &info, &key)?;
                    wraps.push(KeyWrap::Member(MemberWrap {
                        member: id,
                        enc: w.enc,
                        sealed: w.sealed.to_vec(),
                    }));
                }
                format::Principal::Group(gid) => {
                    let g = self
                        .vault
                        .groups
                        .get(&gid)
                        .ok_or(VaultError::Denied("no such group"))?;
                    if self.vault.tainted(g) {
                        // Key hygiene: someone outside the group (a removed member, a
                        // concurrent rotation) holds its current key version, so wrap
                        // to each current member directly until an admin rotates.
                        for id in &g.members {
                            let Some(m) = self
                                .vault
                                .members
                                .get(id)
                                .filter(|m| m.active && m.key_current)
                            else {
                                continue;
                            };
                            let info = format::entry_member_wrap_info(
                                &vault_id,
                                id,
                                &entry,
                                prev.as_ref(),
                                &commitment,
                            );
                            let w = crypto::hpke_wrap(&m.keys.agreement, &info, &key)?;
                            wraps.push(KeyWrap::Member(MemberWrap {
                                member: *id,
                                enc: w.enc,
                                sealed: w.sealed.to_vec(),
                            }));
                        }
                    } else if self.can_use_group_key(&g.key_id) {
                        let gk = self.group_key(&g.key_id)?;
                        let aad = format::entry_group_wrap_aad(
                            &vault_id,
                            &gid,
                            &g.key_id,
                            &entry,
                            prev.as_ref(),
                            &commitment,
                        );
                        let (nonce, sealed) = crypto::seal_key(&gk, &aad, &key)?;
                        wraps.push(KeyWrap::Group {
                            key_id: g.key_id,
                            nonce,
                            sealed,
                        });
                    } else {
                        // Not a holder (a member writing an entry, which is always
                        // wrapped to @admins; or sharing with a group they are not in):
                        // wrap to the key version's public key, which the roster
                        // record published and an admin signed.
                        let public = self
                            .vault
                            .group_keys
                            .get(&g.key_id)
                            .map(|v| v.public)
                            .ok_or(VaultError::Integrity("group key"))?;
                        let info = format::entry_group_public_wrap_info(
                            &vault_id,
                            &gid,
                            &g.key_id,
                            &entry,
                            prev.as_ref(),
                            &commitment,
                        );
                        let w = crypto::hpke_wrap(&public, &info, &key)?;
                        wraps.push(KeyWrap::GroupPublic {
                            key_id: g.key_id,
                            enc: w.enc,
                            sealed: w.sealed,
                        });
                    }
                }
            }
        }
        let padded = draft.payload.to_padded()?;
        let aad = format::entry_payload_aad(&vault_id, &entry, prev.as_ref(), &commitment);
        let (nonce, ciphertext) = crypto::seal(&key, &aad, &padded)?;
        let writers: BTreeSet<format::Principal> =
            draft.payload.write_grants.iter().copied().collect();
        Ok(RecordBody::EntryRevision(EntryRevision {
            entry,
            prev,
            content: EntryContent::Sealed(SealedEntry {
                readers: readers.into_iter().collect(),
                writers: writers.into_iter().collect(),
                commitment,
                wraps,
                nonce,
                ciphertext,
            }),
        }))
    }

    /// A record creating a new entry. Fails if the path is taken.
    pub fn create_entry(&self, draft: &EntryDraft) -> Result<RecordBody, VaultError> {
        let normal;
        let draft = match nfc_draft(draft)? {
            Some(d) => {
                normal = d;
                &normal
            }
            None => draft,
        };
        self.create_unchecked(draft)
    }

    /// [`Session::create_entry`] without the path check: what an older or other client
    /// may have written (`forge::entry_at_any_path`, for tests).
    pub(crate) fn create_unchecked(&self, draft: &EntryDraft) -> Result<RecordBody, VaultError> {
        if !self.at_path(&draft.payload.path)?.found.is_empty() {
            return Err(VaultError::Exists(draft.payload.path.clone()));
        }
        self.create_fresh(draft)
    }

    /// [`Session::create_entry`] for a caller that already knows no entry this
    /// identity can read is at the path — the agent, which holds every readable
    /// entry decrypted — so every entry is not decrypted again to check. Other
    /// callers use `create_entry`.
    pub fn create_entry_at_free_path(&self, draft: &EntryDraft) -> Result<RecordBody, VaultError> {
        match nfc_draft(draft)? {
            Some(d) => self.create_fresh(&d),
            None => self.create_fresh(draft),
        }
    }

    fn create_fresh(&self, draft: &EntryDraft) -> Result<RecordBody, VaultError> {
        // A new entry's id is bound to its creator (`resolve::entry_bound_to`).
        let mut id = EntryId(crypto::random_array().map_err(|_| VaultError::Random)?);
        id.0[8..].copy_from_slice(&self.me.id.0[..8]);
        let me = format::Principal::Member(self.me.id);
        if self.me.role.is_admin() || draft.payload.write_grants.contains(&me) {
            return self.seal(id, None, draft);
        }
        // A member who creates an entry may go on writing it.
        let mut payload = draft.payload.clone();
        payload.write_grants.push(me);
        let draft = EntryDraft {
            payload,
            share_with: draft.share_with.clone(),
        };
        self.seal(id, None, &draft)
    }

    /// A record revising an opened entry (edit, rename, re-share).
    pub fn revise_entry(
        &self,
        entry: &OpenEntry,
        draft: &EntryDraft,
    ) -> Result<RecordBody, VaultError> {
        let normal;
        let draft = match nfc_draft(draft)? {
            Some(d) => {
                normal = d;
                &normal
            }
            None => draft,
        };
        if !self.may_write(entry) {
            return Err(VaultError::Denied("you may not write this entry"));
        }
        if !self.me.role.is_admin() {
            let before: BTreeSet<_> = entry.payload.write_grants.iter().collect();
            let after: BTreeSet<_> = draft.payload.write_grants.iter().collect();
            if before != after {
                return Err(VaultError::Denied(
                    "only an admin changes who may write an entry",
                ));
            }
        }
        if draft.payload.path != entry.payload.path
            && !self.at_path(&draft.payload.path)?.found.is_empty()
        {
            return Err(VaultError::Exists(draft.payload.path.clone()));
        }
        // A value that a removed member could read (a revision concurrent with their
        // removal, merged afterwards) keeps "rotate at source" until the password
        // changes, as revocation would have set it.
        let exposed = !self.vault.exposed_to_removed(&entry.id).is_empty();
        let password_kept =
            !draft.payload.rotate_at_source && draft.payload.password == entry.payload.password;
        let seed_kept = !draft.payload.rotate_totp_at_source
            && draft.payload.totp.is_some()
            && draft.payload.totp == entry.payload.totp;
        if exposed && (password_kept || seed_kept) {
            let mut payload = draft.payload.clone();
            payload.rotate_at_source |= password_kept;
            payload.rotate_totp_at_source |= seed_kept;
            let flagged = EntryDraft {
                payload,
                share_with: draft.share_with.clone(),
            };
            return self.seal(entry.id, Some(entry.revision), &flagged);
        }
        self.seal(entry.id, Some(entry.revision), draft)
    }

    /// The newest counted revision of an entry that this member can open (by DAG
    /// position, newest first), when its current one cannot be: what a revocation
    /// re-keys from.
    pub fn open_newest_readable(&self, id: &EntryId) -> Result<OpenEntry, VaultError> {
        let v = self.vault;
        let heads = v.heads.get(id).map_or(0, Vec::len);
        let mut last = VaultError::NotFound(id.to_hex());
        for (i, stored) in v.file.records.iter().enumerate().rev() {
            let RecordBody::EntryRevision(rev) = &stored.record.body else {
                continue;
            };
            if rev.entry != *id || v.counted_role(i).is_none() {
                continue;
            }
            match self.decrypt(stored, rev) {
                Ok(Some(payload)) => {
                    return Ok(opened(*id, stored, heads, payload));
                }
                Ok(None) => return Err(VaultError::NotFound(id.to_hex())),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// A tombstone for an opened entry.
    pub fn delete_entry(&self, entry: &OpenEntry) -> Result<RecordBody, VaultError> {
        if !self.may_write(entry) {
            return Err(VaultError::Denied("you may not delete this entry"));
        }
        Ok(RecordBody::EntryRevision(EntryRevision {
            entry: entry.id,
            prev: Some(entry.revision),
            content: EntryContent::Tombstone,
        }))
    }

    /// The principals an opened entry's current revision is shared with (its clear,
    /// signed readers, other than `@admins`), so a rewrite keeps them.
    pub fn shared_with(&self, entry: &OpenEntry) -> Vec<format::Principal> {
        self.vault
            .sealed_at(&entry.revision)
            .map(|s| {
                s.readers
                    .iter()
                    .copied()
                    .filter(|p| *p != format::Principal::Group(ADMINS_GROUP))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Vault {
    /// The sealed content of a revision, by id.
    fn sealed_at(&self, revision: &RecordId) -> Option<&SealedEntry> {
        let &i = self.index.get(revision)?;
        match &self.revision(i)?.1.content {
            EntryContent::Sealed(s) => Some(s),
            EntryContent::Tombstone => None,
        }
    }

    /// The writers (besides admins) a revision names, in clear.
    pub fn writers_of(&self, revision: &RecordId) -> Vec<format::Principal> {
        self.sealed_at(revision)
            .map(|s| s.writers.clone())
            .unwrap_or_default()
    }
}
