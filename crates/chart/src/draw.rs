//! The data layer of a chart: stacked bars, series lines (plain or stepped), error bars, point
//! markers and the frame around the plot, drawn after the axes and before the annotations.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::AXIS;
use super::axis::Axis;
use super::series::{Line, Marker};
use super::spec::Chart;
use crate::Result;

/// The coordinate system of one drawn chart.
pub(super) type Coords<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Axis, Axis>>;

/// A chart's plot once its axes are drawn: the area annotations are drawn on (in pixels), the
/// data coordinates over it, and the pixel box of the data.
pub(super) struct Plot<'p, 'a, 'b> {
    /// The chart's area less any legend column; pixel positions are relative to it.
    pub(super) area: &'p DrawingArea<SVGBackend<'b>, Shift>,
    pub(super) coords: &'p Coords<'a, 'b>,
    /// The y axis (its range clips bars and pointers).
    pub(super) y: &'p Axis,
    pub(super) left: i32,
    pub(super) right: i32,
    pub(super) top: i32,
    pub(super) bottom: i32,
    base: (i32, i32),
}

impl<'p, 'a, 'b> Plot<'p, 'a, 'b> {
    pub(super) fn new(
        area: &'p DrawingArea<SVGBackend<'b>, Shift>,
        coords: &'p Coords<'a, 'b>,
        y: &'p Axis,
    ) -> Self {
        let base = area.get_base_pixel();
        let (xr, yr) = coords.plotting_area().get_pixel_range();
        Self {
            area,
            coords,
            y,
            left: xr.start - base.0,
            right: xr.end - base.0,
            top: yr.start - base.1,
            bottom: yr.end - base.1,
            base,
        }
    }

    /// The pixel position of data point `(x, y)`, relative to [`Plot::area`].
    pub(super) fn px(&self, x: f64, y: f64) -> (i32, i32) {
        let (a, b) = self.coords.backend_coord(&(x, y));
        (a - self.base.0, b - self.base.1)
    }
}

impl Chart {
    /// The stacked bars, each segment clipped to the y range.
    pub(super) fn draw_bars(&self, plot: &Plot<'_, '_, '_>) -> Result<()> {
        let Some(bars) = &self.bars else {
            return Ok(());
        };
        let y = plot.y;
        let half = bars.width / 2.0;
        for (i, values) in bars.bars.iter().enumerate() {
            let x = i as f64;
            let mut base = 0.0_f64;
            for (&v, (_, color)) in values.iter().zip(&bars.components) {
                let (lo, hi) = (base.max(y.lo), (base + v).min(y.hi));
                base += v;
                if v > 0.0 && hi > lo {
                    plot.coords.plotting_area().draw(&Rectangle::new(
                        [(x - half, lo), (x + half, hi)],
                        color.filled(),
                    ))?;
                }
            }
        }
        Ok(())
    }

    /// Every series: its line, its error bars, then its markers, each moved down by its pixel
    /// offset.
    pub(super) fn draw_series(&self, plot: &Plot<'_, '_, '_>) -> Result<()> {
        let y_per_px = (plot.y.hi - plot.y.lo) / f64::from((plot.bottom - plot.top).max(1));
        let area = plot.coords.plotting_area();
        for (i, s) in self.series.iter().enumerate() {
            let color = s.color_at(i);
            let dy = f64::from(s.offset_px) * y_per_px;
            let shifted: Vec<(f64, f64)> = s.points.iter().map(|&(x, y)| (x, y - dy)).collect();
            let path = if s.step {
                steps(&shifted)
            } else {
                shifted.clone()
            };
            draw_line(area, path, s.line, color)?;
            if let Some(errors) = &s.errors {
                for (&(x, y), &(lo, hi)) in s.points.iter().zip(errors) {
                    area.draw(&ErrorBar::new_vertical(
                        x,
                        lo - dy,
                        y - dy,
                        hi - dy,
                        color.stroke_width(1),
                        8,
                    ))?;
                }
            }
            for &(x, y) in &shifted {
                draw_marker(plot.area, plot.px(x, y), s.marker, color)?;
            }
        }
        Ok(())
    }

    /// The frame around the data box.
    pub(super) fn draw_frame(&self, plot: &Plot<'_, '_, '_>) -> Result<()> {
        plot.area.draw(&Rectangle::new(
            [(plot.left, plot.top), (plot.right, plot.bottom)],
            AXIS.stroke_width(1),
        ))?;
        Ok(())
    }
}

/// A step line through `points`: each y holds until the next point's x.
pub fn steps(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2);
    for (i, &(x, y)) in points.iter().enumerate() {
        if i > 0 {
            out.push((x, points[i - 1].1));
        }
        out.push((x, y));
    }
    out
}

/// `path` in `area`'s coordinates joined as `line` says, 2 px wide (nothing for [`Line::None`]).
pub(super) fn draw_line<C: CoordTranslate>(
    area: &DrawingArea<SVGBackend<'_>, C>,
    path: Vec<C::From>,
    line: Line,
    color: RGBColor,
) -> Result<()>
where
    C::From: Clone + 'static,
{
    let style = color.stroke_width(2);
    match line {
        Line::None => {}
        Line::Solid => area.draw(&PathElement::new(path, style))?,
        Line::Dashed => area.draw(&DashedPathElement::new(path, 7, 3, style))?,
        Line::Dotted => area.draw(&DashedPathElement::new(path, 2, 3, style))?,
    }
    Ok(())
}

/// `marker` centred at pixel `(x, y)` of `area`.
pub(super) fn draw_marker(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    (x, y): (i32, i32),
    marker: Marker,
    color: RGBColor,
) -> Result<()> {
    match marker {
        Marker::None => {}
        Marker::Circle => area.draw(&Circle::new((x, y), 3, color.filled()))?,
        Marker::Square => area.draw(&Rectangle::new(
            [(x - 3, y - 3), (x + 3, y + 3)],
            color.filled(),
        ))?,
        Marker::Triangle => area.draw(&Polygon::new(
            vec![(x, y - 4), (x - 4, y + 3), (x + 4, y + 3)],
            color.filled(),
        ))?,
        Marker::Cross => area.draw(&Cross::new((x, y), 4, color.stroke_width(2)))?,
    }
    Ok(())
}
