//! Ancestry queries over the record DAG, for the authority rule (docs/format.md,
//! "Authority"): "is record `a` an ancestor of record `b`?" and "are they concurrent?",
//! each in O(log c) for c concurrent branches, for any two records.
//!
//! Records are indexed by their position in canonical order, in which every parent
//! comes before its children. The DAG is cut into chains (paths): a record extends the
//! chain of a parent that is that chain's last record, or starts a new chain. A record
//! then knows, for every other chain, the last position in it among its ancestors (a
//! vector clock over chains, sparse and sorted). A linear run shares one clock (`Rc`),
//! so a long history of single-parent records costs a pointer each; only a merge or a
//! fork builds a new clock. The answer is exact whatever the order of the parents.

use std::rc::Rc;

/// A sparse clock: (chain, last ancestor position in it), sorted by chain.
type Clock = Rc<[(u32, u32)]>;

/// Ancestry of every record, built incrementally in canonical order.
#[derive(Debug, Default, Clone)]
pub struct Ancestry {
    chain: Vec<u32>,
    pos: Vec<u32>,
    clock: Vec<Clock>,
    /// The last record of each chain.
    tail: Vec<usize>,
}

impl Ancestry {
    /// Room for `records` records without growing.
    pub fn with_capacity(records: usize) -> Self {
        Self {
            chain: Vec::with_capacity(records),
            pos: Vec::with_capacity(records),
            clock: Vec::with_capacity(records),
            tail: Vec::new(),
        }
    }

    /// Number of records added.
    pub fn len(&self) -> usize {
        self.chain.len()
    }

    /// Whether no record was added.
    pub fn is_empty(&self) -> bool {
        self.chain.is_empty()
    }

    /// Add the next record (index = number added so far) with its parents' indices,
    /// which must all be smaller (others are ignored).
    pub fn push(&mut self, parents: &[usize]) {
        let me = self.chain.len();
        let extend = parents
            .iter()
            .copied()
            .filter(|&p| p < me)
            .find(|&p| self.tail[self.chain[p] as usize] == p);
        let (chain, pos) = match extend {
            Some(p) => {
                let c = self.chain[p];
                self.tail[c as usize] = me;
                (c, self.pos[p] + 1)
            }
            None => {
                self.tail.push(me);
                ((self.tail.len() - 1) as u32, 0)
            }
        };
        let clock = match (parents, extend) {
            ([p], Some(_)) => Rc::clone(&self.clock[*p]),
            _ => {
                let mut merged: Vec<(u32, u32)> = Vec::new();
                for &p in parents.iter().filter(|&&p| p < me) {
                    merged.extend_from_slice(&self.clock[p]);
                    merged.push((self.chain[p], self.pos[p]));
                }
                merged.sort_unstable();
                // Keep the highest position per chain (the last of each run).
                let mut out: Vec<(u32, u32)> = Vec::with_capacity(merged.len());
                for (c, p) in merged {
                    match out.last_mut() {
                        Some(last) if last.0 == c => last.1 = last.1.max(p),
                        _ => out.push((c, p)),
                    }
                }
                Rc::from(out)
            }
        };
        self.chain.push(chain);
        self.pos.push(pos);
        self.clock.push(clock);
    }

    /// Whether record `a` is a strict ancestor of record `b`.
    pub fn is_ancestor(&self, a: usize, b: usize) -> bool {
        if a >= b || b >= self.chain.len() {
            return false;
        }
        let (ca, pa) = (self.chain[a], self.pos[a]);
        if self.chain[b] == ca {
            return pa < self.pos[b];
        }
        let clock = &self.clock[b];
        match clock.binary_search_by_key(&ca, |&(c, _)| c) {
            Ok(k) => clock[k].1 >= pa,
            Err(_) => false,
        }
    }

    /// Whether two distinct records are concurrent: neither is an ancestor of the other.
    pub fn concurrent(&self, a: usize, b: usize) -> bool {
        a != b && !self.is_ancestor(a, b) && !self.is_ancestor(b, a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 0 genesis → 1 → 2; 3 on 1 (concurrent with 2); 4 merge(2,3).
    fn sample() -> Ancestry {
        let mut a = Ancestry::default();
        a.push(&[]);
        a.push(&[0]);
        a.push(&[1]);
        a.push(&[1]);
        a.push(&[2, 3]);
        a
    }

    #[test]
    fn ancestry() {
        let a = sample();
        assert!(a.is_ancestor(1, 2));
        assert!(a.is_ancestor(3, 4));
        assert!(a.is_ancestor(1, 4));
        assert!(!a.is_ancestor(3, 2), "concurrent");
        assert!(!a.is_ancestor(2, 3), "concurrent");
        assert!(a.concurrent(2, 3));
        assert!(!a.is_ancestor(2, 2), "strict");
        assert!(a.is_ancestor(0, 4));
        assert!(!a.concurrent(0, 4));
    }

    /// Compare with a plain transitive closure on random DAGs.
    #[test]
    fn matches_the_closure_on_random_dags() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..50 {
            let n = 60;
            let mut a = Ancestry::default();
            let mut closure: Vec<Vec<bool>> = Vec::new();
            for i in 0..n {
                let mut parents: Vec<usize> = Vec::new();
                if i > 0 {
                    let k = 1 + (next() % 3) as usize;
                    for _ in 0..k {
                        let p = (next() % i as u64) as usize;
                        if !parents.contains(&p) {
                            parents.push(p);
                        }
                    }
                }
                let mut row = vec![false; n];
                for &p in &parents {
                    row[p] = true;
                    for (j, &x) in closure[p].iter().enumerate() {
                        row[j] |= x;
                    }
                }
                closure.push(row);
                a.push(&parents);
            }
            for (y, row) in closure.iter().enumerate() {
                for (x, &reaches) in row.iter().enumerate() {
                    assert_eq!(a.is_ancestor(x, y), reaches, "{x} -> {y}");
                }
            }
        }
    }
}
