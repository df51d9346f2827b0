//! The order in which a measuring round sends its variants' requests.
//!
//! A variant's latency depends on what ran just before it, not only on its own choice: on a
//! token-bucket link, an upload that follows a long local run finds the bucket full and
//! leaves faster than one that follows another upload (measured on the test bed at 5 Mbit/s:
//! the same full offload took 193 ms of network in second place and 207 ms in first place,
//! behind the previous round's 150 KB upload). A fixed order gives every variant the same
//! neighbour in every round; a fresh, seeded shuffle per round spreads that effect over all
//! variants alike and keeps runs repeatable.

use rand::seq::SliceRandom;
use rand::{SeedableRng, rngs::StdRng};

/// The indices `0..n` in the order round `round` sends them: a permutation drawn from `seed`
/// and `round`, the same for the same arguments.
pub fn round_order(n: usize, round: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = StdRng::seed_from_u64(seed ^ (round as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    order.shuffle(&mut rng);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_round_is_a_permutation_and_rounds_differ() {
        let orders: Vec<Vec<usize>> = (0..20).map(|r| round_order(7, r, 3)).collect();
        for o in &orders {
            let mut s = o.clone();
            s.sort_unstable();
            assert_eq!(s, (0..7).collect::<Vec<_>>());
        }
        assert_eq!(round_order(7, 5, 3), orders[5], "repeatable");
        // Over 20 rounds, every variant is sent first at least once (7! orders; a fixed order
        // would put variant 0 first every time).
        for v in 0..7 {
            assert!(orders.iter().any(|o| o[0] == v), "variant {v} never first");
        }
    }
}
