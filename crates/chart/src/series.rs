//! What a chart plots: series of points and stacked bars, and how series look.

use plotters::prelude::*;

use super::PALETTE;

/// A point marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    None,
    Circle,
    Square,
    Triangle,
    Cross,
}

/// How the points of a series are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    None,
    Solid,
    Dashed,
    Dotted,
}

/// One series of `(x, y)` points.
#[derive(Debug, Clone)]
pub struct Series {
    pub(super) label: String,
    pub(super) points: Vec<(f64, f64)>,
    pub(super) errors: Option<Vec<(f64, f64)>>,
    pub(super) color: Option<RGBColor>,
    pub(super) line: Line,
    pub(super) marker: Marker,
    pub(super) step: bool,
    pub(super) offset_px: i32,
}

impl Series {
    /// A solid line with a circle on each point.
    pub fn line(label: impl Into<String>, points: impl IntoIterator<Item = (f64, f64)>) -> Self {
        Self {
            label: label.into(),
            points: points.into_iter().collect(),
            errors: None,
            color: None,
            line: Line::Solid,
            marker: Marker::Circle,
            step: false,
            offset_px: 0,
        }
    }

    /// Points only.
    pub fn scatter(label: impl Into<String>, points: impl IntoIterator<Item = (f64, f64)>) -> Self {
        Self {
            line: Line::None,
            ..Self::line(label, points)
        }
    }

    /// Vertical error bars: `(low, high)` per point, `low <= y <= high`.
    pub fn errors(mut self, bounds: impl IntoIterator<Item = (f64, f64)>) -> Self {
        self.errors = Some(bounds.into_iter().collect());
        self
    }

    /// The colour (otherwise [`PALETTE`] by the series' index).
    pub fn color(mut self, color: RGBColor) -> Self {
        self.color = Some(color);
        self
    }

    /// How the points are joined.
    pub fn line_style(mut self, line: Line) -> Self {
        self.line = line;
        self
    }

    /// The marker on each point.
    pub fn marker(mut self, marker: Marker) -> Self {
        self.marker = marker;
        self
    }

    /// Join the points as steps: each y holds until the next point's x.
    pub fn step(mut self) -> Self {
        self.step = true;
        self
    }

    /// Draw the series `px` pixels lower (keeps coinciding lines apart; the data are unchanged).
    pub fn offset_px(mut self, px: i32) -> Self {
        self.offset_px = px;
        self
    }

    /// The colour it is drawn in as series number `index` of its chart.
    pub(super) fn color_at(&self, index: usize) -> RGBColor {
        self.color.unwrap_or(PALETTE[index % PALETTE.len()])
    }
}

/// Stacked bars: bar `i` stands at x = `i`, its components stacked from 0 upwards; segments above
/// the y range are clipped.
#[derive(Debug, Clone)]
pub struct StackedBars {
    pub(super) components: Vec<(String, RGBColor)>,
    pub(super) bars: Vec<Vec<f64>>,
    pub(super) width: f64,
}

impl StackedBars {
    /// `bars[i][j]` is component `j` (label, colour; bottom-up) of bar `i`; values are >= 0.
    pub fn new(components: Vec<(String, RGBColor)>, bars: Vec<Vec<f64>>) -> Self {
        Self {
            components,
            bars,
            width: 0.8,
        }
    }

    /// Bar width in x units (default 0.8).
    pub fn width(mut self, width: f64) -> Self {
        self.width = width;
        self
    }
}
