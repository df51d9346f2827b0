//! Checking a chart before anything is drawn, and working out its axes from the data: bad data
//! is an error here, never a panic or half a file later.

use super::axis::{Axis, nice_range};
use super::spec::Chart;
use crate::{ChartError, Result, ensure};

impl Chart {
    /// Checks everything and works out both axes.
    pub(super) fn axes(&self) -> Result<(Axis, Axis)> {
        let name = &self.title;
        ensure!(
            !self.series.is_empty() || self.bars.is_some(),
            "chart '{name}' has no series and no bars"
        );
        let finite = |v: f64| v.is_finite();
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for s in &self.series {
            let label = &s.label;
            ensure!(!s.points.is_empty(), "series '{label}' has no points");
            for &(x, y) in &s.points {
                ensure!(
                    finite(x) && finite(y),
                    "series '{label}' has a point ({x}, {y}) that is not finite"
                );
                xs.push(x);
                ys.push(y);
            }
            if let Some(errors) = &s.errors {
                ensure!(
                    errors.len() == s.points.len(),
                    "series '{label}' has {} points but {} error bars",
                    s.points.len(),
                    errors.len()
                );
                for (&(x, y), &(lo, hi)) in s.points.iter().zip(errors) {
                    ensure!(
                        finite(lo) && finite(hi) && lo <= y && y <= hi,
                        "series '{label}': the error bar ({lo}, {hi}) at x = {x} does not enclose y = {y}"
                    );
                    ys.extend([lo, hi]);
                }
            }
        }
        if let Some(b) = &self.bars {
            ensure!(
                !self.log_x,
                "chart '{name}': stacked bars need a linear x axis"
            );
            ensure!(
                !b.bars.is_empty(),
                "chart '{name}' has stacked bars but no bar"
            );
            ensure!(
                b.width > 0.0 && b.width <= 1.0,
                "chart '{name}': bar width {} is not in (0, 1]",
                b.width
            );
            for (i, values) in b.bars.iter().enumerate() {
                ensure!(
                    values.len() == b.components.len(),
                    "chart '{name}': bar {i} has {} values for {} components",
                    values.len(),
                    b.components.len()
                );
                ensure!(
                    values.iter().all(|v| finite(*v) && *v >= 0.0),
                    "chart '{name}': bar {i} has a negative or non-finite value: {values:?}"
                );
                ys.push(values.iter().sum());
            }
            ys.push(0.0);
        }
        for v in &self.vlines {
            ensure!(finite(v.x), "chart '{name}': vertical line at x = {}", v.x);
            xs.push(v.x);
        }
        let extra = self
            .labels
            .iter()
            .map(|l| l.at)
            .chain(self.pointers.iter().map(|p| p.at));
        for (x, y) in extra {
            ensure!(
                finite(x) && finite(y),
                "chart '{name}': annotation at ({x}, {y}) is not finite"
            );
        }
        if self.log_x {
            let annotations = self.labels.iter().map(|l| l.at.0);
            let annotations = annotations.chain(self.pointers.iter().map(|p| p.at.0));
            let bad = xs
                .iter()
                .copied()
                .chain(annotations)
                .chain(self.x_range.map(|r| r.0))
                .find(|&x| x <= 0.0);
            if let Some(x) = bad {
                return Err(ChartError::Invalid(format!(
                    "chart '{name}': log x axis cannot show x = {x} (only x > 0)"
                )));
            }
        }

        let x = match self.x_range {
            Some((lo, hi)) => {
                ensure!(
                    finite(lo) && finite(hi) && lo < hi,
                    "chart '{name}': x range {lo}..{hi} is empty or not finite"
                );
                (lo, hi)
            }
            None => self.auto_x(&xs),
        };
        let x = if self.log_x {
            Axis::log(x.0, x.1)
        } else {
            Axis::linear(x.0, x.1, self.bars.is_some())
        };
        let y = match self.y_range {
            Some((lo, hi)) => {
                ensure!(
                    finite(lo) && finite(hi) && lo < hi,
                    "chart '{name}': y range {lo}..{hi} is empty or not finite"
                );
                (lo, hi)
            }
            None => {
                let lo = ys.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let pad = if self.bars.is_some() {
                    0.0
                } else {
                    0.05 * (hi - lo)
                };
                nice_range(lo - pad, hi + pad)
            }
        };
        Ok((x, Axis::linear(y.0, y.1, false)))
    }

    /// The x range of the data (bars span -0.5..n-0.5), padded a little around series.
    fn auto_x(&self, xs: &[f64]) -> (f64, f64) {
        let mut lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
        let mut hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !self.series.is_empty() {
            if self.log_x {
                let f = if hi > lo { (hi / lo).powf(0.02) } else { 2.0 };
                (lo, hi) = (lo / f, hi * f);
            } else {
                let pad = if hi > lo {
                    0.03 * (hi - lo)
                } else {
                    lo.abs().max(1.0) * 0.5
                };
                (lo, hi) = (lo - pad, hi + pad);
            }
        }
        if let Some(b) = &self.bars {
            lo = lo.min(-0.5);
            hi = hi.max(b.bars.len() as f64 - 0.5);
        }
        (lo, hi)
    }
}
