//! The [`Chart`] description: titles, axes, series, bars and annotations, set by builder methods.
//! Nothing is checked here; `validate` checks a chart when it is drawn.

use super::series::{Series, StackedBars};

/// Where the legend goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legend {
    /// A column right of the plot (never covers data).
    Right,
    /// A boxed legend in the plot's top-right corner.
    Inside,
    /// No legend.
    Hidden,
}

/// Horizontal alignment of a label at its point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// A dashed vertical reference line.
#[derive(Debug, Clone)]
pub(super) struct VLine {
    pub(super) x: f64,
    pub(super) label: String,
}

/// A boxed label at a data point.
#[derive(Debug, Clone)]
pub(super) struct Label {
    pub(super) at: (f64, f64),
    pub(super) text: String,
    pub(super) anchor: Anchor,
    pub(super) offset: (i32, i32),
}

/// A downward arrow onto a data point, with a label.
#[derive(Debug, Clone)]
pub(super) struct Pointer {
    pub(super) at: (f64, f64),
    pub(super) text: String,
}

/// A chart: axes with titles, series, optional stacked bars, annotations and a legend.
#[derive(Debug, Clone)]
pub struct Chart {
    pub(super) title: String,
    pub(super) x_label: String,
    pub(super) y_label: String,
    pub(super) log_x: bool,
    pub(super) x_range: Option<(f64, f64)>,
    pub(super) y_range: Option<(f64, f64)>,
    pub(super) series: Vec<Series>,
    pub(super) bars: Option<StackedBars>,
    pub(super) vlines: Vec<VLine>,
    pub(super) labels: Vec<Label>,
    pub(super) pointers: Vec<Pointer>,
    pub(super) notes: Vec<String>,
    pub(super) legend: Legend,
    pub(super) legend_title: Option<String>,
}

impl Chart {
    /// An empty chart with a title and axis titles.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_x: false,
            x_range: None,
            y_range: None,
            series: Vec::new(),
            bars: None,
            vlines: Vec::new(),
            labels: Vec::new(),
            pointers: Vec::new(),
            notes: Vec::new(),
            legend: Legend::Right,
            legend_title: None,
        }
    }

    /// A base-10 log x axis (every x must then be > 0).
    pub fn log_x(mut self) -> Self {
        self.log_x = true;
        self
    }

    /// The x range (otherwise the data's, a little padded).
    pub fn x_range(mut self, lo: f64, hi: f64) -> Self {
        self.x_range = Some((lo, hi));
        self
    }

    /// The y range (otherwise the data's, rounded out to ticks; from 0 with bars).
    pub fn y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo, hi));
        self
    }

    /// Adds a series.
    pub fn series(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// Sets the stacked bars (needs a linear x axis).
    pub fn bars(mut self, bars: StackedBars) -> Self {
        self.bars = Some(bars);
        self
    }

    /// A dashed vertical reference line at `x`, labelled halfway up.
    pub fn vline(mut self, x: f64, label: impl Into<String>) -> Self {
        self.vlines.push(VLine {
            x,
            label: label.into(),
        });
        self
    }

    /// A boxed label at data point `at`, moved by `offset` px (y down), aligned by `anchor`.
    pub fn label(
        mut self,
        at: (f64, f64),
        text: impl Into<String>,
        anchor: Anchor,
        offset: (i32, i32),
    ) -> Self {
        self.labels.push(Label {
            at,
            text: text.into(),
            anchor,
            offset,
        });
        self
    }

    /// A downward arrow onto data point `at` with a bold label above it (y clamped to the range).
    pub fn pointer(mut self, at: (f64, f64), text: impl Into<String>) -> Self {
        self.pointers.push(Pointer {
            at,
            text: text.into(),
        });
        self
    }

    /// A note in the plot's top-right corner (several stack downwards).
    pub fn note(mut self, text: impl Into<String>) -> Self {
        self.notes.push(text.into());
        self
    }

    /// Where the legend goes (default [`Legend::Right`]).
    pub fn legend(mut self, legend: Legend) -> Self {
        self.legend = legend;
        self
    }

    /// A bold title over the legend entries.
    pub fn legend_title(mut self, title: impl Into<String>) -> Self {
        self.legend_title = Some(title.into());
        self
    }
}
