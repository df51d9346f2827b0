//! Charts on plotters' SVG backend: line and scatter series (optionally stepped, with vertical
//! error bars), stacked bars, a linear or log x axis, reference lines, labels, notes and a
//! legend; a [`Figure`] stacks several charts under a title.
//!
//! Only the SVG backend is used and no font library: the viewer lays out the text, and the white
//! boxes behind labels are sized by plotters' estimate of the text width. The y axis is linear.
//! Everything is checked before drawing, so bad data is an error, never a panic or half a file.
//!
//! One job per file:
//!
//! - `series`: what is plotted ([`Series`], [`StackedBars`]) and how it looks ([`Line`],
//!   [`Marker`]).
//! - `spec`: the [`Chart`] description and its builder methods: axes, series, bars, reference
//!   lines, labels, pointers, notes, [`Legend`].
//! - `validate`: checking a chart and working out its axis ranges before anything is drawn.
//! - `axis`: linear and log axes with their ticks ([`nice_range`], [`format_number`]).
//! - `draw`: the data layer: bars, series lines ([`steps`]), error bars, markers, the frame.
//! - `annotate`: reference lines, labels, pointers, notes and the legend.
//! - `figure`: laying a chart out on a drawing area, [`Figure`] and the SVG documents.

use plotters::prelude::*;

mod annotate;
mod axis;
mod draw;
mod figure;
mod series;
mod spec;
mod validate;

pub mod testing;
#[cfg(test)]
mod tests;

pub use axis::{format_number, nice_range};
pub use draw::steps;
pub use figure::Figure;
pub use series::{Line, Marker, Series, StackedBars};
pub use spec::{Anchor, Chart, Legend};

/// Why a chart could not be drawn or written.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// The data cannot be shown (a series without points, a value that is not finite, ...).
    #[error("{0}")]
    Invalid(String),
    /// plotters failed to draw.
    #[error("drawing: {0}")]
    Draw(String),
    /// The file could not be written.
    #[error("writing {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// A chart's result.
pub type Result<T, E = ChartError> = std::result::Result<T, E>;

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for ChartError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        ChartError::Draw(e.to_string())
    }
}

/// `Err(ChartError::Invalid(..))` with a formatted message unless `cond`.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err($crate::ChartError::Invalid(format!($($msg)+)));
        }
    };
}
pub(crate) use ensure;

/// Font stack of every label (DejaVu Sans is what headless renderers on Linux usually have).
const FONT: &str = "DejaVu Sans, Helvetica, Arial, sans-serif";
const TEXT: RGBColor = RGBColor(0x22, 0x22, 0x22);
const AXIS: RGBColor = RGBColor(0x44, 0x44, 0x44);
const GRID: RGBColor = RGBColor(0xd8, 0xd8, 0xd8);
const GRID_LIGHT: RGBColor = RGBColor(0xee, 0xee, 0xee);
const REFERENCE: RGBColor = RGBColor(0x88, 0x88, 0x88);
/// Width of the legend column of [`Legend::Right`], px.
const LEGEND_WIDTH: u32 = 220;

/// Colours of series that set none, by index (Tableau 10).
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0xba, 0xb0, 0xac),
];

/// Dark text of `px` px (plotters writes font sizes divided by 1.24).
fn font(px: f64) -> TextStyle<'static> {
    TextStyle::from((FONT, px * 1.24).into_font()).color(&TEXT)
}

/// Dark bold text of `px` px.
fn bold(px: f64) -> TextStyle<'static> {
    TextStyle::from((FONT, px * 1.24).into_font().style(FontStyle::Bold)).color(&TEXT)
}
