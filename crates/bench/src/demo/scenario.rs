//! The demo's phases: what the links and the synthetic load do, and when.

/// One phase of the demo.
#[derive(Debug, Clone)]
pub struct Phase {
    /// What a viewer should notice.
    pub name: &'static str,
    /// A few words, for the timeline.
    pub short: &'static str,
    /// Fraction of the demo's duration.
    pub share: f64,
    /// Each device's link rate is its base rate times this.
    pub link_factor: f64,
    /// Synthetic load, as a fraction of the server's measured capacity.
    pub load: f64,
}

/// The default story: fast links and an idle server, the server loaded by other devices, the
/// links slowed down, and everything back to normal.
pub fn default_phases(load: f64) -> Vec<Phase> {
    vec![
        Phase {
            name: "idle server, fast links",
            short: "start",
            share: 0.25,
            link_factor: 1.0,
            load: 0.0,
        },
        Phase {
            name: "server busy with other devices",
            short: "busy server",
            share: 0.25,
            link_factor: 1.0,
            load,
        },
        Phase {
            name: "idle server, links 8x slower",
            short: "slow links",
            share: 0.25,
            link_factor: 0.125,
            load: 0.0,
        },
        Phase {
            name: "back to normal",
            short: "normal",
            share: 0.25,
            link_factor: 1.0,
            load: 0.0,
        },
    ]
}

/// Start and end of each phase, seconds, for a demo of `total_s`.
pub fn bounds(phases: &[Phase], total_s: f64) -> Vec<(f64, f64)> {
    let sum: f64 = phases.iter().map(|p| p.share).sum();
    let mut t = 0.0;
    phases
        .iter()
        .map(|p| {
            let start = t;
            t += p.share / sum * total_s;
            (start, t)
        })
        .collect()
}

/// The phase at `t` seconds.
pub fn phase_at(bounds: &[(f64, f64)], t: f64) -> usize {
    bounds
        .iter()
        .position(|&(_, end)| t < end)
        .unwrap_or(bounds.len().saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_split_the_duration_by_share() {
        let p = default_phases(1.5);
        let b = bounds(&p, 40.0);
        assert_eq!(b.len(), 4);
        assert_eq!(b[0], (0.0, 10.0));
        assert!((b[3].1 - 40.0).abs() < 1e-9);
        assert_eq!(phase_at(&b, 0.0), 0);
        assert_eq!(phase_at(&b, 15.0), 1);
        assert_eq!(phase_at(&b, 99.0), 3);
    }
}
