//! A small Dinic max-flow on f64 capacities, used for exact min s-t cuts.

/// A directed graph with paired residual edges (edge `e` and its reverse `e ^ 1`), stored as
/// adjacency arrays. The topology is fixed; capacities are reset per solve.
#[derive(Debug, Clone)]
pub(crate) struct FlowGraph {
    start: Vec<u32>,
    adj: Vec<u32>,
    to: Vec<u32>,
    /// Capacity of each edge as built (reverse edges 0); infinite edges are `f64::INFINITY`.
    pub cap0: Vec<f64>,
}

/// Collects edges before freezing them into a [`FlowGraph`].
#[derive(Debug, Default)]
pub(crate) struct FlowBuilder {
    n: usize,
    edges: Vec<(u32, u32, f64)>,
}

impl FlowBuilder {
    pub fn new(n: usize) -> Self {
        Self {
            n,
            edges: Vec::new(),
        }
    }

    /// Adds `u -> v` with capacity `cap`; returns the forward edge's index.
    pub fn edge(&mut self, u: usize, v: usize, cap: f64) -> usize {
        self.edges.push((u as u32, v as u32, cap));
        2 * (self.edges.len() - 1)
    }

    pub fn build(self) -> FlowGraph {
        let mut to = Vec::with_capacity(2 * self.edges.len());
        let mut cap0 = Vec::with_capacity(2 * self.edges.len());
        let mut deg = vec![0u32; self.n + 1];
        for &(u, v, c) in &self.edges {
            to.push(v);
            cap0.push(c);
            to.push(u);
            cap0.push(0.0);
            deg[u as usize] += 1;
            deg[v as usize] += 1;
        }
        let mut start = vec![0u32; self.n + 1];
        for i in 0..self.n {
            start[i + 1] = start[i] + deg[i];
        }
        let mut fill = start.clone();
        let mut adj = vec![0u32; 2 * self.edges.len()];
        for (i, &(u, v, _)) in self.edges.iter().enumerate() {
            adj[fill[u as usize] as usize] = 2 * i as u32;
            fill[u as usize] += 1;
            adj[fill[v as usize] as usize] = 2 * i as u32 + 1;
            fill[v as usize] += 1;
        }
        FlowGraph {
            start,
            adj,
            to,
            cap0,
        }
    }
}

impl FlowGraph {
    pub fn node_count(&self) -> usize {
        self.start.len() - 1
    }

    /// Runs max flow from `s` to `t` on residual capacities `cap` (modified in place) and returns
    /// the source side of a minimum cut: nodes reachable from `s` through edges whose residual
    /// exceeds `eps`. With exact arithmetic that side is a minimum cut; with floats its capacity
    /// exceeds the minimum by at most about `2 · edges · eps`.
    pub fn min_cut(&self, cap: &mut [f64], s: usize, t: usize, eps: f64) -> Vec<bool> {
        let n = self.node_count();
        let mut level = vec![u32::MAX; n];
        let mut iter = vec![0u32; n];
        let mut queue = Vec::with_capacity(n);
        loop {
            self.bfs(cap, s, eps, &mut level, &mut queue);
            if level[t] == u32::MAX {
                break;
            }
            iter.copy_from_slice(&self.start[..n]);
            while self.dfs(cap, s, t, f64::INFINITY, eps, &level, &mut iter) > 0.0 {}
        }
        level.iter().map(|&l| l != u32::MAX).collect()
    }

    fn bfs(&self, cap: &[f64], s: usize, eps: f64, level: &mut [u32], queue: &mut Vec<u32>) {
        level.fill(u32::MAX);
        queue.clear();
        level[s] = 0;
        queue.push(s as u32);
        let mut head = 0;
        while head < queue.len() {
            let u = queue[head] as usize;
            head += 1;
            for &e in &self.adj[self.start[u] as usize..self.start[u + 1] as usize] {
                let v = self.to[e as usize] as usize;
                if cap[e as usize] > eps && level[v] == u32::MAX {
                    level[v] = level[u] + 1;
                    queue.push(v as u32);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn dfs(
        &self,
        cap: &mut [f64],
        u: usize,
        t: usize,
        pushed: f64,
        eps: f64,
        level: &[u32],
        iter: &mut [u32],
    ) -> f64 {
        if u == t {
            return pushed;
        }
        while iter[u] < self.start[u + 1] {
            let e = self.adj[iter[u] as usize] as usize;
            let v = self.to[e] as usize;
            if cap[e] > eps && level[v] == level[u] + 1 {
                let got = self.dfs(cap, v, t, pushed.min(cap[e]), eps, level, iter);
                if got > 0.0 {
                    cap[e] -= got;
                    cap[e ^ 1] += got;
                    return got;
                }
            }
            iter[u] += 1;
        }
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_min_cut() {
        // s=0, t=3: 0->1 (3), 0->2 (2), 1->2 (1), 1->3 (2), 2->3 (3); max flow 5.
        let mut b = FlowBuilder::new(4);
        b.edge(0, 1, 3.0);
        b.edge(0, 2, 2.0);
        b.edge(1, 2, 1.0);
        b.edge(1, 3, 2.0);
        b.edge(2, 3, 3.0);
        let g = b.build();
        let mut cap = g.cap0.clone();
        let side = g.min_cut(&mut cap, 0, 3, 1e-12);
        assert!(side[0] && !side[3]);
        let flow: f64 = g
            .cap0
            .iter()
            .zip(&cap)
            .step_by(2)
            .take(2)
            .map(|(a, b)| a - b)
            .sum();
        assert!((flow - 5.0).abs() < 1e-12);
    }

    #[test]
    fn infinite_edges_are_never_cut() {
        // s -> a (5), a -> t (1), b -> a (inf), s -> b (1), b -> t (7).
        let mut b = FlowBuilder::new(4);
        let (s, t, a, bb) = (0, 1, 2, 3);
        b.edge(s, a, 5.0);
        b.edge(a, t, 1.0);
        b.edge(bb, a, f64::INFINITY);
        b.edge(s, bb, 1.0);
        b.edge(bb, t, 7.0);
        let g = b.build();
        let mut cap = g.cap0.clone();
        let side = g.min_cut(&mut cap, s, t, 1e-12);
        // Best: a on the source side (pay a->t = 1), b on the sink side (pay s->b = 1).
        assert_eq!(side, vec![true, false, true, false]);
    }
}
