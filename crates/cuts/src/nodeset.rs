//! A fixed-capacity bitset over node indices.

use crate::NodeId;

/// A set of nodes of one [`crate::Dag`], stored as a bitset of `capacity` bits.
///
/// Two sets are only comparable when they have the same capacity (the DAG's node count).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeSet {
    words: Vec<u64>,
    capacity: usize,
}

impl std::fmt::Debug for NodeSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter().map(|n| n.0)).finish()
    }
}

impl NodeSet {
    /// The empty set over `capacity` nodes.
    pub fn empty(capacity: usize) -> Self {
        Self {
            words: vec![0; capacity.div_ceil(64)],
            capacity,
        }
    }

    /// The set of all `capacity` nodes.
    pub fn full(capacity: usize) -> Self {
        let mut s = Self::empty(capacity);
        for i in 0..capacity {
            s.insert(NodeId(i as u32));
        }
        s
    }

    /// Number of nodes the set can hold (the DAG's node count).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Adds `n`; returns whether it was absent. Panics if `n` is out of capacity.
    pub fn insert(&mut self, n: NodeId) -> bool {
        let i = n.index();
        assert!(
            i < self.capacity,
            "node {i} out of set capacity {}",
            self.capacity
        );
        let (w, b) = (i / 64, i % 64);
        let absent = self.words[w] & (1 << b) == 0;
        self.words[w] |= 1 << b;
        absent
    }

    /// Removes `n`; returns whether it was present.
    pub fn remove(&mut self, n: NodeId) -> bool {
        let i = n.index();
        if i >= self.capacity {
            return false;
        }
        let (w, b) = (i / 64, i % 64);
        let present = self.words[w] & (1 << b) != 0;
        self.words[w] &= !(1 << b);
        present
    }

    /// Whether `n` is in the set (false when out of capacity).
    pub fn contains(&self, n: NodeId) -> bool {
        let i = n.index();
        i < self.capacity && self.words[i / 64] & (1 << (i % 64)) != 0
    }

    /// Number of nodes in the set.
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// Whether every node of `self` is in `other`.
    pub fn is_subset(&self, other: &NodeSet) -> bool {
        self.words
            .iter()
            .zip(&other.words)
            .all(|(a, b)| a & !b == 0)
    }

    /// Adds every node of `other`.
    pub fn union_with(&mut self, other: &NodeSet) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    /// Removes every node of `other`.
    pub fn difference_with(&mut self, other: &NodeSet) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= !b;
        }
    }

    /// Nodes in increasing index (topological) order.
    pub fn iter(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.words.iter().enumerate().flat_map(|(wi, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros() as usize;
                w &= w - 1;
                Some(NodeId((wi * 64 + b) as u32))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_remove_iterate() {
        let mut s = NodeSet::empty(130);
        assert!(s.is_empty());
        assert!(s.insert(NodeId(0)));
        assert!(!s.insert(NodeId(0)));
        s.insert(NodeId(64));
        s.insert(NodeId(129));
        assert_eq!(s.len(), 3);
        assert_eq!(s.iter().map(|n| n.0).collect::<Vec<_>>(), vec![0, 64, 129]);
        assert!(s.remove(NodeId(64)));
        assert!(!s.contains(NodeId(64)));
        assert!(s.is_subset(&NodeSet::full(130)));
        assert!(!NodeSet::full(130).is_subset(&s));
        assert_eq!(NodeSet::full(130).len(), 130);
    }
}
