//! Axes and their ticks: linear (round steps) or base-10 log (1, 2, 5 per decade), and the tick
//! labels.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

/// An axis: linear or log, with its own ticks (bold ones labelled).
#[derive(Debug, Clone)]
pub(super) struct Axis {
    pub(super) lo: f64,
    pub(super) hi: f64,
    log: bool,
    pub(super) bold: Vec<f64>,
    pub(super) light: Vec<f64>,
}

impl Axis {
    /// Round ticks at most eight steps apart (so a [`nice_range`] has a tick at both ends);
    /// whole numbers only when `integer`.
    pub(super) fn linear(lo: f64, hi: f64, integer: bool) -> Self {
        let raw = (hi - lo) / 8.0;
        let step = nice_step(if integer { raw.max(1.0) } else { raw });
        let first = (lo / step - 1e-9).ceil() as i64;
        let last = (hi / step + 1e-9).floor() as i64;
        Self {
            lo,
            hi,
            log: false,
            bold: (first..=last).map(|i| i as f64 * step).collect(),
            light: Vec::new(),
        }
    }

    /// Base-10 log: 1, 2 and 5 per decade labelled, the other integers light (over more than four
    /// decades only the powers of ten are labelled). `0 < lo < hi`.
    pub(super) fn log(lo: f64, hi: f64) -> Self {
        let inside = |v: f64| v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9);
        let many = hi / lo > 1e4;
        let (mut bold, mut light) = (Vec::new(), Vec::new());
        for d in lo.log10().floor() as i32..=hi.log10().ceil() as i32 {
            for m in 1..10 {
                let v = f64::from(m) * 10f64.powi(d);
                if inside(v) {
                    if m == 1 || (!many && matches!(m, 2 | 5)) {
                        bold.push(v);
                    } else {
                        light.push(v);
                    }
                }
            }
        }
        Self {
            lo,
            hi,
            log: true,
            bold,
            light,
        }
    }

    /// Where `v` lies between the ends, 0 to 1.
    pub(super) fn fraction(&self, v: f64) -> f64 {
        if self.log {
            (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let px = f64::from(limit.1 - limit.0) * self.fraction(*value);
        limit.0 + px.round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// `lo..hi` rounded outwards to a round tick step (about six ticks); an empty range is widened.
pub fn nice_range(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5 * lo.abs().max(1.0), hi + 0.5 * hi.abs().max(1.0))
    };
    let step = nice_step((hi - lo) / 6.0);
    (
        (lo / step + 1e-9).floor() * step,
        (hi / step - 1e-9).ceil() * step,
    )
}

/// A round step (1, 2 or 5 times a power of ten) at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|&s| s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * p)
}

/// A tick label: no trailing zeros, at most three decimals.
pub fn format_number(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}
