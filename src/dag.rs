//! Ancestry queries over the record DAG, for the authority rule (docs/format.md,
//! "Authority"): "was this roster record an ancestor of that record?" in O(1), and
//! "was that record an ancestor of this removal?" through a cached ancestor set.
//!
//! Records are indexed by their position in canonical order, in which every parent
//! comes before its children. Roster records get ordinals; each record carries the set
//! of roster ordinals among its ancestors, shared (`Rc`) along linear runs so a long
//! chain of entry revisions costs one pointer each.

use std::collections::HashMap;
use std::rc::Rc;

/// A fixed set of small integers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BitSet(Vec<u64>);

impl BitSet {
    /// Whether `bit` is in the set.
    pub fn contains(&self, bit: usize) -> bool {
        self.0
            .get(bit / 64)
            .is_some_and(|w| w & (1 << (bit % 64)) != 0)
    }
    fn insert(&mut self, bit: usize) {
        if self.0.len() <= bit / 64 {
            self.0.resize(bit / 64 + 1, 0);
        }
        self.0[bit / 64] |= 1 << (bit % 64);
    }
    fn union_with(&mut self, other: &BitSet) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }
}

/// Ancestry of every record, built incrementally in canonical order.
#[derive(Debug, Default, Clone)]
pub struct Ancestry {
    /// For each record index: its roster ordinal, if it is a roster record.
    ordinal: Vec<Option<usize>>,
    /// For each record index: roster ordinals of its strict ancestors.
    roster_ancestors: Vec<Rc<BitSet>>,
    /// Every record's parents' indices, one record after the other (no allocation per
    /// record); record `i`'s are `parents[parent_start[i]..parent_start[i + 1]]`.
    parents: Vec<usize>,
    /// Where each record's parents start in `parents`, plus the end of the last one.
    parent_start: Vec<usize>,
    next_ordinal: usize,
    /// Cached full ancestor sets (record indices), for the few records that remove or
    /// demote someone.
    full: HashMap<usize, Rc<Vec<bool>>>,
}

impl Ancestry {
    /// Room for `records` records (and about as many parent links) without growing.
    pub fn with_capacity(records: usize) -> Self {
        let mut parent_start = Vec::with_capacity(records + 1);
        parent_start.push(0);
        Self {
            ordinal: Vec::with_capacity(records),
            roster_ancestors: Vec::with_capacity(records),
            parents: Vec::with_capacity(records),
            parent_start,
            ..Self::default()
        }
    }

    /// Record `i`'s parents' indices.
    fn parents_of(&self, i: usize) -> &[usize] {
        match (self.parent_start.get(i), self.parent_start.get(i + 1)) {
            (Some(&start), Some(&end)) => &self.parents[start..end],
            _ => &[],
        }
    }

    /// Add the next record (index = number added so far) with its parents' indices,
    /// which must all be smaller.
    pub fn push(&mut self, parents: &[usize], is_roster: bool) {
        if self.parent_start.is_empty() {
            // Built by `default()`: the first record's parents start at 0.
            self.parent_start.push(0);
        }
        let set = match parents {
            [] => Rc::new(BitSet::default()),
            [p] if self.ordinal[*p].is_none() => Rc::clone(&self.roster_ancestors[*p]),
            _ => {
                let mut set = BitSet::default();
                for &p in parents {
                    set.union_with(&self.roster_ancestors[p]);
                    if let Some(o) = self.ordinal[p] {
                        set.insert(o);
                    }
                }
                Rc::new(set)
            }
        };
        self.roster_ancestors.push(set);
        self.parents.extend_from_slice(parents);
        self.parent_start.push(self.parents.len());
        if is_roster {
            self.ordinal.push(Some(self.next_ordinal));
            self.next_ordinal += 1;
        } else {
            self.ordinal.push(None);
        }
    }

    /// Whether roster record `ancestor` is a strict ancestor of record `of`.
    pub fn roster_is_ancestor(&self, ancestor: usize, of: usize) -> bool {
        match (
            self.ordinal.get(ancestor).copied().flatten(),
            self.roster_ancestors.get(of),
        ) {
            (Some(o), Some(set)) => set.contains(o),
            _ => false,
        }
    }

    /// Whether record `ancestor` is a strict ancestor of record `of` (any kinds).
    pub fn is_ancestor(&mut self, ancestor: usize, of: usize) -> bool {
        if ancestor >= of {
            return false;
        }
        if self.ordinal.get(ancestor).copied().flatten().is_some() {
            return self.roster_is_ancestor(ancestor, of);
        }
        let full = self.full_ancestors(of);
        full.get(ancestor).copied().unwrap_or(false)
    }

    fn full_ancestors(&mut self, of: usize) -> Rc<Vec<bool>> {
        if let Some(f) = self.full.get(&of) {
            return Rc::clone(f);
        }
        let mut seen = vec![false; of + 1];
        let mut stack: Vec<usize> = self.parents_of(of).to_vec();
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            stack.extend_from_slice(self.parents_of(i));
        }
        let f = Rc::new(seen);
        self.full.insert(of, Rc::clone(&f));
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 0 genesis(r) → 1 entry → 2 roster; 3 entry on 1 (concurrent with 2); 4 merge(2,3).
    fn sample() -> Ancestry {
        let mut a = Ancestry::default();
        a.push(&[], true);
        a.push(&[0], false);
        a.push(&[1], true);
        a.push(&[1], false);
        a.push(&[2, 3], false);
        a
    }

    #[test]
    fn roster_ancestry() {
        let a = sample();
        assert!(a.roster_is_ancestor(0, 1));
        assert!(a.roster_is_ancestor(0, 3));
        assert!(!a.roster_is_ancestor(2, 3), "concurrent");
        assert!(a.roster_is_ancestor(2, 4));
        assert!(!a.roster_is_ancestor(1, 4), "not a roster record");
    }

    #[test]
    fn full_ancestry() {
        let mut a = sample();
        assert!(a.is_ancestor(1, 2));
        assert!(a.is_ancestor(3, 4));
        assert!(!a.is_ancestor(3, 2), "concurrent");
        assert!(!a.is_ancestor(2, 2), "strict");
        assert!(a.is_ancestor(0, 4));
    }
}
