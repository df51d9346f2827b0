//! Means, percentiles and confidence intervals over repetitions.

/// Mean; NaN when empty.
pub fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// The `q` quantile by nearest rank; NaN when empty.
pub fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        crate::loadgen::quantile(v, q)
    }
}

/// Two-sided 95% Student t quantile for `df` degrees of freedom.
fn t95(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        d if d <= 30 => T[d - 1],
        _ => 1.96,
    }
}

/// Half-width of the 95% confidence interval of the mean of `v` (one value per repetition);
/// NaN with fewer than two.
pub fn ci95(v: &[f64]) -> f64 {
    let n = v.len();
    if n < 2 {
        return f64::NAN;
    }
    let m = mean(v);
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64;
    t95(n - 1) * (var / n as f64).sqrt()
}

/// `x` with its interval, `12.3 ± 0.4`, or just `12.3` without one.
pub fn with_ci(x: f64, ci: f64, digits: usize) -> String {
    if ci.is_finite() {
        format!("{x:.digits$} ± {ci:.digits$}")
    } else {
        format!("{x:.digits$}")
    }
}

/// A reduction (`100 × (1 - stat(a) / stat(b))`, %) with its 95% bootstrap interval,
/// clustered by repetition: `pairs` holds, per repetition, the samples of `a` and of `b` under
/// the same conditions; each bootstrap draw resamples whole repetitions with replacement and
/// pools their samples. Positive when `a` is lower. `(point, low, high)`; NaN when a side is
/// empty.
pub fn reduction_ci(
    pairs: &[(Vec<f64>, Vec<f64>)],
    stat: fn(&[f64]) -> f64,
    draws: usize,
    seed: u64,
) -> (f64, f64, f64) {
    use rand::{Rng, SeedableRng, rngs::StdRng};
    let reduction = |picks: &mut dyn Iterator<Item = usize>| {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for i in picks {
            a.extend_from_slice(&pairs[i].0);
            b.extend_from_slice(&pairs[i].1);
        }
        let (sa, sb) = (stat(&a), stat(&b));
        100.0 * (1.0 - sa / sb)
    };
    let point = reduction(&mut (0..pairs.len()));
    if pairs.is_empty() || !point.is_finite() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let n = pairs.len();
    let mut draws_v: Vec<f64> = (0..draws.max(1))
        .map(|_| reduction(&mut (0..n).map(|_| rng.random_range(0..n))))
        .filter(|r| r.is_finite())
        .collect();
    draws_v.sort_by(f64::total_cmp);
    if draws_v.is_empty() {
        return (point, f64::NAN, f64::NAN);
    }
    let at = |q: f64| draws_v[((q * (draws_v.len() - 1) as f64).round()) as usize];
    (point, at(0.025), at(0.975))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_reductions_cover_the_truth_and_widen_with_spread() {
        // a is 20% below b in every repetition: the interval is tight around 20.
        let pairs: Vec<(Vec<f64>, Vec<f64>)> = (0..5)
            .map(|r| {
                let base = 100.0 + 10.0 * r as f64;
                (vec![0.8 * base; 10], vec![base; 10])
            })
            .collect();
        let (p, lo, hi) = reduction_ci(&pairs, mean, 500, 1);
        assert!((p - 20.0).abs() < 1e-9, "{p}");
        assert!(lo <= p && p <= hi && hi - lo < 2.0, "{lo} {hi}");
        // One repetition where a is worse: the interval reaches below zero.
        let mut noisy = pairs.clone();
        noisy[0] = (vec![300.0; 10], vec![100.0; 10]);
        let (_, lo, _) = reduction_ci(&noisy, mean, 500, 1);
        assert!(lo < 0.0, "{lo}");
        assert!(reduction_ci(&[], mean, 10, 1).0.is_nan());
    }

    #[test]
    fn intervals() {
        assert!(ci95(&[1.0]).is_nan());
        let h = ci95(&[1.0, 2.0, 3.0]);
        // s = 1, n = 3, t(2) = 4.303.
        assert!((h - 4.303 / 3f64.sqrt()).abs() < 1e-9);
        assert_eq!(with_ci(1.0, f64::NAN, 1), "1.0");
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 0.5), 2.0);
    }
}
