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

#[cfg(test)]
mod tests {
    use super::*;

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
