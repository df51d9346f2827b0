//! Turning segment times and a few measured heads and tails into per-block costs.
//!
//! A block timed alone as its own segment pays for things a longer part does not: a run of its
//! own, layout conversions of its input and output, caches warmed only by itself. Summed
//! segment times therefore drift from what a real head or tail takes (over-predicting heads by
//! 15-25% on ResNet-50). Real heads and tails measured at some boundaries (anchors) fix the
//! drift: between two anchors, the measured difference is split among the blocks in proportion
//! to their segment times, so every anchored head or tail is predicted exactly and the others
//! are interpolated.

/// Per-block costs such that the sum over blocks `0..k` equals the anchored cumulative time at
/// every anchor `k`.
///
/// `segments[i]` is block `i`'s own time (only its share within an anchor interval matters).
/// `anchors` holds `(boundary index, cumulative time)` pairs: boundary `k` separates blocks
/// `k - 1` and `k`; the pairs must include `0` and `segments.len()`, in increasing order.
/// Measurement noise can make cumulative times decrease; they are first made non-decreasing
/// (least-squares isotonic fit), so no block gets a negative cost.
pub(crate) fn calibrate(segments: &[f64], anchors: &[(usize, f64)]) -> Vec<f64> {
    debug_assert!(anchors.first().map(|a| a.0) == Some(0));
    debug_assert!(anchors.last().map(|a| a.0) == Some(segments.len()));
    let values = isotonic(&anchors.iter().map(|a| a.1.max(0.0)).collect::<Vec<_>>());
    let mut costs = vec![0.0; segments.len()];
    for (w, v) in anchors.windows(2).zip(values.windows(2)) {
        let (a, b) = (w[0].0, w[1].0);
        let span = (v[1] - v[0]).max(0.0);
        let shares = &segments[a..b];
        let total: f64 = shares.iter().map(|s| s.max(0.0)).sum();
        for (i, s) in shares.iter().enumerate() {
            costs[a + i] = if total > 0.0 {
                span * s.max(0.0) / total
            } else {
                span / shares.len() as f64
            };
        }
    }
    costs
}

/// Non-decreasing least-squares fit (pool adjacent violators).
fn isotonic(values: &[f64]) -> Vec<f64> {
    // (mean, count) of each pooled run.
    let mut runs: Vec<(f64, usize)> = Vec::with_capacity(values.len());
    for &v in values {
        runs.push((v, 1));
        while runs.len() > 1 && runs[runs.len() - 2].0 > runs[runs.len() - 1].0 {
            let (m2, n2) = runs.pop().unwrap_or_default();
            let (m1, n1) = runs.pop().unwrap_or_default();
            let n = n1 + n2;
            runs.push(((m1 * n1 as f64 + m2 * n2 as f64) / n as f64, n));
        }
    }
    runs.into_iter()
        .flat_map(|(m, n)| std::iter::repeat_n(m, n))
        .collect()
}

/// Up to `max` boundary indices strictly between `0` and `last`, evenly spread, plus both ends.
pub(crate) fn anchor_points(last: usize, max: usize) -> Vec<usize> {
    let inner = last.saturating_sub(1);
    let mut points = vec![0];
    if inner <= max {
        points.extend(1..last);
    } else if max > 0 {
        // Evenly spaced over 1..last-1.
        points.extend((1..=max).map(|j| (j * last).div_ceil(max + 1)));
        points.dedup();
    }
    if last > 0 {
        points.push(last);
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(costs: &[f64], k: usize) -> f64 {
        costs[..k].iter().sum()
    }

    #[test]
    fn anchored_prefixes_are_exact() {
        let seg = [10.0, 20.0, 30.0, 40.0];
        let costs = calibrate(&seg, &[(0, 0.0), (2, 24.0), (4, 80.0)]);
        assert!((prefix(&costs, 2) - 24.0).abs() < 1e-12);
        assert!((prefix(&costs, 4) - 80.0).abs() < 1e-12);
        // Within an interval the segment shares are kept: 24 split 1:2, 56 split 3:4.
        assert!((costs[0] - 8.0).abs() < 1e-12 && (costs[1] - 16.0).abs() < 1e-12);
        assert!((costs[2] - 24.0).abs() < 1e-12 && (costs[3] - 32.0).abs() < 1e-12);
    }

    #[test]
    fn noisy_anchors_never_give_negative_costs() {
        let costs = calibrate(&[1.0, 1.0, 1.0], &[(0, 0.0), (1, 5.0), (2, 4.0), (3, 9.0)]);
        assert!(costs.iter().all(|c| *c >= 0.0), "{costs:?}");
        assert!((prefix(&costs, 3) - 9.0).abs() < 1e-12);
        assert!((prefix(&costs, 1) - 4.5).abs() < 1e-12, "pooled 5 and 4");
    }

    #[test]
    fn zero_segments_split_evenly() {
        let costs = calibrate(&[0.0, 0.0], &[(0, 0.0), (2, 6.0)]);
        assert_eq!(costs, vec![3.0, 3.0]);
    }

    #[test]
    fn anchor_points_cover_ends_and_spread() {
        assert_eq!(anchor_points(4, 10), vec![0, 1, 2, 3, 4]);
        assert_eq!(anchor_points(1, 10), vec![0, 1]);
        let p = anchor_points(22, 5);
        assert_eq!(p.len(), 7);
        assert!(p.windows(2).all(|w| w[0] < w[1]));
        assert_eq!((p[0], p[6]), (0, 22));
        assert_eq!(anchor_points(22, 0), vec![0, 22]);
    }
}
