//! Several live entries at one path: which one a lookup by path shows (issue 9,
//! "Ambiguous paths"). Paths are encrypted, so nothing stops a member from creating an
//! entry at a path he cannot see (`hr/secret`) — or two members from creating one path
//! concurrently. A lookup shows the entry created by an admin or by the reader when
//! exactly one is, and names the others it shadows; otherwise it fails as ambiguous,
//! listing every entry with its creator. `--id` picks one exactly.
//!
//! One rule, used by [`super::Session::open`] and by the agent's cached lookup.

use crate::format::{EntryId, MemberId};

use super::{Vault, VaultError};

/// One live entry at the path, as the choice sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// The entry.
    pub id: EntryId,
    /// Its creator: the author of its creation revision (`prev` = none).
    pub creator: MemberId,
    /// Whether the creator's counted role at that creation was owner or admin.
    pub creator_admin: bool,
}

/// What [`choose_at_path`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathChoice {
    /// Show `candidates[at]`; the others are shadowed: `(entry, creator)` each, in
    /// the candidates' order (empty when there was only one candidate).
    Chosen {
        /// Index of the chosen candidate.
        at: usize,
        /// The other candidates.
        shadowed: Vec<(EntryId, MemberId)>,
    },
    /// No single candidate stands out: all of them, `(entry, creator)`, in order.
    /// (Also the answer for no candidates at all: callers report "not found" first.)
    Ambiguous(Vec<(EntryId, MemberId)>),
}

/// The rule: a lone candidate is chosen; among several, the one created by an admin or
/// by `me` is chosen when it is the only such one, shadowing the others; otherwise the
/// path is ambiguous.
pub fn choose_at_path(candidates: &[Candidate], me: &MemberId) -> PathChoice {
    let pair = |c: &Candidate| (c.id, c.creator);
    if let [_] = candidates {
        return PathChoice::Chosen {
            at: 0,
            shadowed: Vec::new(),
        };
    }
    let mut preferred = candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| c.creator_admin || c.creator == *me)
        .map(|(n, _)| n);
    match (preferred.next(), preferred.next()) {
        (Some(at), None) => PathChoice::Chosen {
            at,
            shadowed: candidates
                .iter()
                .enumerate()
                .filter(|&(n, _)| n != at)
                .map(|(_, c)| pair(c))
                .collect(),
        },
        _ => PathChoice::Ambiguous(candidates.iter().map(pair).collect()),
    }
}

impl Vault {
    /// The creation revision of a live entry: its current revision's `prev` chain,
    /// followed back to the revision without one.
    fn creation(&self, entry: &EntryId) -> Option<usize> {
        let (mut i, _) = self.current(entry)?;
        // Each step goes to a strict ancestor (resolution checks it): at most one step
        // per record.
        for _ in 0..=self.file.records.len() {
            let (_, rev) = self.revision(i)?;
            match &rev.prev {
                None => return Some(i),
                Some(prev) => i = *self.index.get(prev)?,
            }
        }
        None
    }

    /// A live entry as [`choose_at_path`] sees it. A creation that does not count, or
    /// cannot be found, is not an admin's.
    pub fn path_candidate(&self, entry: &EntryId) -> Candidate {
        let creation = self.creation(entry);
        let creator = creation.map_or_else(
            // The id ends with the creator's member id's first 8 bytes.
            || {
                self.members
                    .keys()
                    .find(|m| super::entry_bound_to(entry, m))
                    .copied()
                    .unwrap_or(MemberId([0; 16]))
            },
            |i| self.file.records[i].record.author,
        );
        Candidate {
            id: *entry,
            creator,
            creator_admin: creation
                .and_then(|i| self.counted_role(i))
                .is_some_and(|r| r.is_admin()),
        }
    }

    /// Which of the live entries `ids` (all at `path`, at least one) a lookup by path
    /// shows to `me`: its position in `ids` and the entries it shadows with their
    /// creators, or [`VaultError::Ambiguous`] listing every entry with its creator.
    pub fn choose_entry_at(
        &self,
        path: &str,
        ids: &[EntryId],
        me: &MemberId,
    ) -> Result<(usize, Vec<(EntryId, MemberId)>), VaultError> {
        if ids.len() < 2 {
            return Ok((0, Vec::new()));
        }
        let candidates: Vec<Candidate> = ids.iter().map(|id| self.path_candidate(id)).collect();
        match choose_at_path(&candidates, me) {
            PathChoice::Chosen { at, shadowed } => Ok((at, shadowed)),
            PathChoice::Ambiguous(all) => Err(VaultError::Ambiguous {
                path: path.to_string(),
                ids: all
                    .iter()
                    .map(|(id, creator)| format!("{} ({})", id.short(), self.member_name(creator)))
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// A member's name, or the short form of the id for an unknown member.
    fn member_name(&self, id: &MemberId) -> String {
        self.members
            .get(id)
            .map_or_else(|| format!("member {}", id.short()), |m| m.name.clone())
    }

    /// The warning for an entry `chosen` at `path` that shadows others (see
    /// [`Vault::choose_entry_at`]), without the `warning: ` prefix; `None` if it
    /// shadows none. Names are not sanitized.
    pub fn shadow_warning(
        &self,
        path: &str,
        chosen: &EntryId,
        shadowed: &[(EntryId, MemberId)],
    ) -> Option<String> {
        if shadowed.is_empty() {
            return None;
        }
        let others = shadowed
            .iter()
            .map(|(id, creator)| format!("{} by {}", id.short(), self.member_name(creator)))
            .collect::<Vec<_>>()
            .join(", ");
        let creator = self.member_name(&self.path_candidate(chosen).creator);
        let (what, verb, which) = if shadowed.len() == 1 {
            ("another entry", "is", "it")
        } else {
            ("other entries", "are", "one")
        };
        Some(format!(
            "{what} at '{path}' ({others}) {verb} shadowed: showing {} by {creator}, created by an admin or by you; use --id to pick {which}",
            chosen.short()
        ))
    }

    /// The live entries whose id starts with `prefix` (hex digits, either case).
    pub fn entries_with_id_prefix(&self, prefix: &str) -> Vec<EntryId> {
        let prefix = prefix.to_ascii_lowercase();
        let mut ids: Vec<EntryId> = self
            .heads
            .keys()
            .filter(|id| id.to_hex().starts_with(&prefix))
            .copied()
            .collect();
        ids.sort();
        ids
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn id(n: u8) -> EntryId {
        EntryId([n; 16])
    }

    fn member(n: u8) -> MemberId {
        MemberId([n; 16])
    }

    fn cand(n: u8, creator: u8, admin: bool) -> Candidate {
        Candidate {
            id: id(n),
            creator: member(creator),
            creator_admin: admin,
        }
    }

    #[test]
    fn a_lone_entry_is_chosen_whoever_created_it() {
        assert_eq!(
            choose_at_path(&[cand(1, 9, false)], &member(2)),
            PathChoice::Chosen {
                at: 0,
                shadowed: vec![]
            }
        );
    }

    #[test]
    fn the_admins_entry_shadows_a_members_squat() {
        let c = [cand(1, 7, false), cand(2, 1, true)];
        // The admin herself, and any other reader.
        for me in [member(1), member(3)] {
            assert_eq!(
                choose_at_path(&c, &me),
                PathChoice::Chosen {
                    at: 1,
                    shadowed: vec![(id(1), member(7))]
                }
            );
        }
    }

    #[test]
    fn my_own_entry_shadows_another_members() {
        let c = [cand(1, 7, false), cand(2, 8, false)];
        assert_eq!(
            choose_at_path(&c, &member(8)),
            PathChoice::Chosen {
                at: 1,
                shadowed: vec![(id(1), member(7))]
            }
        );
        assert_eq!(
            choose_at_path(&c, &member(7)),
            PathChoice::Chosen {
                at: 0,
                shadowed: vec![(id(2), member(8))]
            }
        );
    }

    #[test]
    fn one_preferred_entry_shadows_several() {
        let c = [cand(1, 7, false), cand(2, 1, true), cand(3, 8, false)];
        assert_eq!(
            choose_at_path(&c, &member(9)),
            PathChoice::Chosen {
                at: 1,
                shadowed: vec![(id(1), member(7)), (id(3), member(8))]
            }
        );
    }

    #[test]
    fn no_single_preferred_entry_is_ambiguous() {
        let all =
            |c: &[Candidate]| PathChoice::Ambiguous(c.iter().map(|c| (c.id, c.creator)).collect());
        // Two other members' entries.
        let c = [cand(1, 7, false), cand(2, 8, false)];
        assert_eq!(choose_at_path(&c, &member(9)), all(&c));
        // Two admins' entries (concurrent creation), whoever reads.
        let c = [cand(1, 1, true), cand(2, 2, true)];
        assert_eq!(choose_at_path(&c, &member(1)), all(&c));
        assert_eq!(choose_at_path(&c, &member(9)), all(&c));
        // Mine and an admin's.
        let c = [cand(1, 1, true), cand(2, 8, false)];
        assert_eq!(choose_at_path(&c, &member(8)), all(&c));
        // Two of mine.
        let c = [cand(1, 8, false), cand(2, 8, false), cand(3, 7, false)];
        assert_eq!(choose_at_path(&c, &member(8)), all(&c));
        // None at all.
        assert_eq!(
            choose_at_path(&[], &member(8)),
            PathChoice::Ambiguous(vec![])
        );
    }

    // Regression tests for issue 9, finding 9 (path squatting), through the vault.

    use crate::crypto::SecretString;
    use crate::format::{EntryPayload, Principal, RecordBody, Role};
    use crate::identity::Identity;
    use crate::vault::{EntryDraft, OpenEntry};

    struct Team {
        v: Vault,
        alice: Identity,
        bob: Identity,
        carol: Identity,
        dave: Identity,
    }

    /// alice owns; bob, carol and dave are members.
    fn team() -> Team {
        let person = |name: &str| Identity::generate(name).unwrap();
        let (alice, bob, carol, dave) = (
            person("alice"),
            person("bob"),
            person("carol"),
            person("dave"),
        );
        let mut v = Vault::create(&alice, "acme").unwrap();
        for who in [&bob, &carol, &dave] {
            v.add_member(&alice, &who.name, who.keys, Role::Member)
                .unwrap();
        }
        Team {
            v,
            alice,
            bob,
            carol,
            dave,
        }
    }

    fn member_id(v: &Vault, who: &Identity) -> MemberId {
        v.member_for(who).unwrap().id
    }

    /// `who` creates an entry at `path` (as `amanat add` would: it fails if `who` can
    /// read an entry there), shared with `readers` beyond `@admins`; its id.
    fn add(
        v: &mut Vault,
        who: &Identity,
        path: &str,
        password: &str,
        readers: &[&Identity],
    ) -> EntryId {
        let mut payload = EntryPayload::default();
        payload.path = path.into();
        payload.password = SecretString::new(password.into());
        let share_with = readers
            .iter()
            .map(|r| Principal::Member(member_id(v, r)))
            .collect();
        let body = v
            .session(who)
            .unwrap()
            .create_entry(&EntryDraft {
                payload,
                share_with,
            })
            .unwrap();
        let RecordBody::EntryRevision(rev) = &body else {
            panic!("not a revision");
        };
        let id = rev.entry;
        v.append(who, vec![body]).unwrap();
        id
    }

    fn open(v: &Vault, who: &Identity, path: &str) -> Result<OpenEntry, VaultError> {
        v.session(who).unwrap().open(path)
    }

    #[test]
    fn a_members_squat_does_not_hide_the_admins_entry() {
        let Team {
            mut v,
            alice,
            bob,
            carol,
            ..
        } = team();
        let real = add(&mut v, &alice, "hr/secret", "real", &[&carol]);
        // bob cannot see alice's entry, so nothing stops him from creating one there;
        // it is wrapped to @admins, so alice sees both.
        let squat = add(&mut v, &bob, "hr/secret", "squat", &[&carol]);
        let bob_id = member_id(&v, &bob);
        for reader in [&alice, &carol] {
            let e = open(&v, reader, "hr/secret").unwrap();
            assert_eq!(e.id, real, "{}", reader.name);
            assert_eq!(e.payload.password.expose(), "real");
            assert_eq!(e.shadowed, vec![(squat, bob_id)]);
        }
        let e = open(&v, &alice, "hr/secret").unwrap();
        let warning = v.shadow_warning("hr/secret", &e.id, &e.shadowed).unwrap();
        assert!(
            warning.starts_with(&format!(
                "another entry at 'hr/secret' ({} by bob) is shadowed: showing {} by alice",
                squat.short(),
                real.short()
            )),
            "{warning}"
        );
        // The squatter's entry is still there for whoever wants it, by id.
        let s = v.session(&alice).unwrap();
        assert_eq!(
            s.open_id(&squat).unwrap().payload.password.expose(),
            "squat"
        );
        assert_eq!(v.entries_with_id_prefix(&squat.short()), vec![squat]);
        // bob sees only his own.
        let e = open(&v, &bob, "hr/secret").unwrap();
        assert_eq!((e.id, e.shadowed.len()), (squat, 0));
        // A squatter promoted afterwards was a member when he created it.
        v.change_role(&alice, "bob", Role::Admin).unwrap();
        let e = open(&v, &alice, "hr/secret").unwrap();
        assert_eq!((e.id, e.shadowed), (real, vec![(squat, bob_id)]));
    }

    #[test]
    fn my_own_entry_shadows_another_members_and_a_third_member_sees_ambiguity() {
        let Team {
            mut v,
            alice,
            bob,
            carol,
            dave,
        } = team();
        // bob's entry, not shared with carol: she creates one at the same path.
        let mine = add(&mut v, &bob, "team/deploy", "bob's", &[&dave]);
        let theirs = add(&mut v, &carol, "team/deploy", "carol's", &[&bob, &dave]);
        let (bob_id, carol_id) = (member_id(&v, &bob), member_id(&v, &carol));
        let e = open(&v, &bob, "team/deploy").unwrap();
        assert_eq!(e.payload.password.expose(), "bob's");
        assert_eq!(e.shadowed, vec![(theirs, carol_id)]);
        let e = open(&v, &carol, "team/deploy").unwrap();
        assert_eq!((e.id, e.shadowed.len()), (theirs, 0));
        // dave (and the admin) created neither: ambiguous, listing both with creators.
        for reader in [&dave, &alice] {
            match open(&v, reader, "team/deploy") {
                Err(VaultError::Ambiguous { path, ids }) => {
                    assert_eq!(path, "team/deploy");
                    let mut want = [
                        (mine, format!("{} (bob)", mine.short())),
                        (theirs, format!("{} (carol)", theirs.short())),
                    ];
                    want.sort();
                    let want: Vec<String> = want.into_iter().map(|(_, s)| s).collect();
                    assert_eq!(ids, want.join(", "));
                }
                other => panic!("expected Ambiguous, got {other:?}"),
            }
        }
        let c = v.path_candidate(&theirs);
        assert_eq!((c.creator, c.creator_admin), (carol_id, false));
        assert_eq!(v.path_candidate(&mine).creator, bob_id);
    }

    #[test]
    fn the_creator_is_found_after_later_revisions_by_others() {
        let Team {
            mut v, alice, bob, ..
        } = team();
        let squat = add(&mut v, &bob, "hr/secret", "squat", &[]);
        // alice edits bob's entry: its creator stays bob, a member at creation.
        let body = {
            let s = v.session(&alice).unwrap();
            let e = s.open_id(&squat).unwrap();
            let mut payload = e.payload.clone();
            payload.password = SecretString::new("edited".into());
            s.revise_entry(
                &e,
                &EntryDraft {
                    payload,
                    share_with: s.shared_with(&e),
                },
            )
            .unwrap()
        };
        v.append(&alice, vec![body]).unwrap();
        let real = add(&mut v, &alice, "hr/other", "x", &[]);
        let c = v.path_candidate(&squat);
        assert_eq!((c.creator, c.creator_admin), (member_id(&v, &bob), false));
        let c = v.path_candidate(&real);
        assert_eq!((c.creator, c.creator_admin), (member_id(&v, &alice), true));
    }
}
