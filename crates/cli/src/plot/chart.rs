//! Charts on plotters' SVG backend: line and scatter series (optionally stepped, with vertical
//! error bars), stacked bars, a linear or log x axis, reference lines, labels, notes and a
//! legend; a [`Figure`] stacks several charts under a title.
//!
//! Only the SVG backend is used and no font library: the viewer lays out the text, and the white
//! boxes behind labels are sized by plotters' estimate of the text width. The y axis is linear.
//! Everything is checked before drawing, so bad data is an error, never a panic or half a file.

use std::ops::Range;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

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

/// One series of `(x, y)` points.
#[derive(Debug, Clone)]
pub struct Series {
    label: String,
    points: Vec<(f64, f64)>,
    errors: Option<Vec<(f64, f64)>>,
    color: Option<RGBColor>,
    line: Line,
    marker: Marker,
    step: bool,
    offset_px: i32,
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
}

/// Stacked bars: bar `i` stands at x = `i`, its components stacked from 0 upwards; segments above
/// the y range are clipped.
#[derive(Debug, Clone)]
pub struct StackedBars {
    components: Vec<(String, RGBColor)>,
    bars: Vec<Vec<f64>>,
    width: f64,
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

#[derive(Debug, Clone)]
struct VLine {
    x: f64,
    label: String,
}

#[derive(Debug, Clone)]
struct Label {
    at: (f64, f64),
    text: String,
    anchor: Anchor,
    offset: (i32, i32),
}

#[derive(Debug, Clone)]
struct Pointer {
    at: (f64, f64),
    text: String,
}

/// A chart: axes with titles, series, optional stacked bars, annotations and a legend.
#[derive(Debug, Clone)]
pub struct Chart {
    title: String,
    x_label: String,
    y_label: String,
    log_x: bool,
    x_range: Option<(f64, f64)>,
    y_range: Option<(f64, f64)>,
    series: Vec<Series>,
    bars: Option<StackedBars>,
    vlines: Vec<VLine>,
    labels: Vec<Label>,
    pointers: Vec<Pointer>,
    notes: Vec<String>,
    legend: Legend,
    legend_title: Option<String>,
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

    /// The chart alone as an SVG document of `size` px.
    pub fn to_svg(&self, size: (u32, u32)) -> Result<String> {
        self.axes()?;
        render(size, |root| self.draw(root))
    }

    /// The chart alone written to `path` as SVG.
    pub fn write_svg(&self, path: &Path, size: (u32, u32)) -> Result<()> {
        write(path, &self.to_svg(size)?)
    }

    /// Draws the chart into `area`.
    pub fn draw(&self, area: &DrawingArea<SVGBackend<'_>, Shift>) -> Result<()> {
        let (x, y) = self.axes()?;
        let entries = self.legend_entries();
        let (width, _) = area.dim_in_pixel();
        let right_legend = self.legend == Legend::Right && !entries.is_empty();
        let (plot_area, legend_area) = if right_legend {
            let (a, b) = area.split_horizontally(width.saturating_sub(LEGEND_WIDTH));
            (a, Some(b))
        } else {
            (area.clone(), None)
        };
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(&self.title, bold(15.0))
            .margin(10)
            .margin_right(if right_legend { 10 } else { 20 })
            .x_label_area_size(50)
            .y_label_area_size(72)
            .build_cartesian_2d(x.clone(), y.clone())?;
        let number = |v: &f64| format_number(*v);
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_label_formatter(&number)
            .y_label_formatter(&number)
            .label_style(font(12.0))
            .axis_desc_style(font(13.0))
            .bold_line_style(GRID)
            .light_line_style(GRID_LIGHT)
            .axis_style(AXIS)
            .draw()?;

        // Pixel positions relative to `plot_area`, where annotations are drawn.
        let base = plot_area.get_base_pixel();
        let px = |x: f64, y: f64| {
            let (a, b) = chart.backend_coord(&(x, y));
            (a - base.0, b - base.1)
        };
        let (xr, yr) = chart.plotting_area().get_pixel_range();
        let (left, right) = (xr.start - base.0, xr.end - base.0);
        let (top, bottom) = (yr.start - base.1, yr.end - base.1);
        let y_per_px = (y.hi - y.lo) / f64::from((bottom - top).max(1));

        if let Some(bars) = &self.bars {
            let half = bars.width / 2.0;
            for (i, values) in bars.bars.iter().enumerate() {
                let x = i as f64;
                let mut base = 0.0_f64;
                for (&v, (_, color)) in values.iter().zip(&bars.components) {
                    let (lo, hi) = (base.max(y.lo), (base + v).min(y.hi));
                    base += v;
                    if v > 0.0 && hi > lo {
                        chart.plotting_area().draw(&Rectangle::new(
                            [(x - half, lo), (x + half, hi)],
                            color.filled(),
                        ))?;
                    }
                }
            }
        }

        for (i, s) in self.series.iter().enumerate() {
            let color = series_color(s, i);
            let dy = f64::from(s.offset_px) * y_per_px;
            let shifted: Vec<(f64, f64)> = s.points.iter().map(|&(x, y)| (x, y - dy)).collect();
            let path = if s.step {
                steps(&shifted)
            } else {
                shifted.clone()
            };
            let style = color.stroke_width(2);
            let area = chart.plotting_area();
            match s.line {
                Line::None => {}
                Line::Solid => area.draw(&PathElement::new(path, style))?,
                Line::Dashed => area.draw(&DashedPathElement::new(path, 7, 3, style))?,
                Line::Dotted => area.draw(&DashedPathElement::new(path, 2, 3, style))?,
            }
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
                draw_marker(&plot_area, px(x, y), s.marker, color)?;
            }
        }

        plot_area.draw(&Rectangle::new(
            [(left, top), (right, bottom)],
            AXIS.stroke_width(1),
        ))?;

        for v in &self.vlines {
            let (x, _) = px(v.x, y.lo);
            plot_area.draw(&DashedPathElement::new(
                [(x, top), (x, bottom)],
                4,
                4,
                REFERENCE.stroke_width(1),
            ))?;
            let style = font(11.0).pos(Pos::new(HPos::Left, VPos::Center));
            boxed_text(&plot_area, (x + 5, (top + bottom) / 2), &v.label, &style)?;
        }
        for l in &self.labels {
            let (x, y) = px(l.at.0, l.at.1);
            let h = match l.anchor {
                Anchor::Start => HPos::Left,
                Anchor::Middle => HPos::Center,
                Anchor::End => HPos::Right,
            };
            let style = font(11.0).pos(Pos::new(h, VPos::Center));
            boxed_text(
                &plot_area,
                (x + l.offset.0, y + l.offset.1),
                &l.text,
                &style,
            )?;
        }
        for p in &self.pointers {
            let (x, y) = px(p.at.0, p.at.1.clamp(y.lo, y.hi));
            plot_area.draw(&Polygon::new(
                vec![(x, y - 3), (x - 7, y - 15), (x + 7, y - 15)],
                TEXT.filled(),
            ))?;
            let (h, dx) = if x > (left + right) / 2 {
                (HPos::Right, -9)
            } else {
                (HPos::Left, 9)
            };
            let style = bold(12.0).pos(Pos::new(h, VPos::Bottom));
            boxed_text(&plot_area, (x + dx, y - 16), &p.text, &style)?;
        }
        let mut note_y = top + 8;
        if self.legend == Legend::Inside && !entries.is_empty() {
            let (w, h) = self.legend_size(&plot_area, &entries)?;
            let (x0, y0) = (right - 8 - w, top + 8);
            plot_area.draw(&Rectangle::new(
                [(x0, y0), (x0 + w, y0 + h)],
                WHITE.mix(0.9).filled(),
            ))?;
            plot_area.draw(&Rectangle::new(
                [(x0, y0), (x0 + w, y0 + h)],
                GRID.stroke_width(1),
            ))?;
            self.draw_legend(&plot_area, (x0 + 10, y0 + 8), &entries)?;
            note_y = y0 + h + 8;
        }
        for n in &self.notes {
            let style = font(11.0).pos(Pos::new(HPos::Right, VPos::Top));
            boxed_text(&plot_area, (right - 8, note_y), n, &style)?;
            note_y += 20;
        }
        if let Some(area) = legend_area {
            self.draw_legend(&area, (12, top), &entries)?;
        }
        Ok(())
    }

    /// The legend's entries: bar components top-down, then the series.
    fn legend_entries(&self) -> Vec<(Swatch, &str)> {
        let bars = self.bars.iter().flat_map(|b| {
            b.components
                .iter()
                .rev()
                .map(|(l, c)| (Swatch::Fill(*c), l.as_str()))
        });
        let series = self.series.iter().enumerate().map(|(i, s)| {
            let swatch = Swatch::Line(series_color(s, i), s.line, s.marker);
            (swatch, s.label.as_str())
        });
        bars.chain(series).collect()
    }

    /// Width and height of the legend block, px.
    fn legend_size(
        &self,
        area: &DrawingArea<SVGBackend<'_>, Shift>,
        entries: &[(Swatch, &str)],
    ) -> Result<(i32, i32)> {
        let mut w = 0;
        for (_, label) in entries {
            w = w.max(area.estimate_text_size(label, &font(12.0))?.0 as i32 + 32);
        }
        let mut h = 20 * entries.len() as i32;
        if let Some(t) = &self.legend_title {
            w = w.max(area.estimate_text_size(t, &bold(13.0))?.0 as i32);
            h += 22;
        }
        Ok((w + 20, h + 8))
    }

    /// The legend with its top-left corner at `(x, y)`.
    fn draw_legend(
        &self,
        area: &DrawingArea<SVGBackend<'_>, Shift>,
        (x, mut y): (i32, i32),
        entries: &[(Swatch, &str)],
    ) -> Result<()> {
        if let Some(t) = &self.legend_title {
            area.draw_text(t, &bold(13.0).pos(Pos::new(HPos::Left, VPos::Top)), (x, y))?;
            y += 22;
        }
        for (i, (swatch, label)) in entries.iter().enumerate() {
            let cy = y + 10 + 20 * i as i32;
            match *swatch {
                Swatch::Fill(c) => {
                    area.draw(&Rectangle::new([(x, cy - 6), (x + 14, cy + 6)], c.filled()))?
                }
                Swatch::Line(c, line, marker) => {
                    let path = [(x - 2, cy), (x + 22, cy)];
                    let style = c.stroke_width(2);
                    match line {
                        Line::None => {}
                        Line::Solid => area.draw(&PathElement::new(path, style))?,
                        Line::Dashed => area.draw(&DashedPathElement::new(path, 7, 3, style))?,
                        Line::Dotted => area.draw(&DashedPathElement::new(path, 2, 3, style))?,
                    }
                    draw_marker(area, (x + 10, cy), marker, c)?;
                }
            }
            let style = font(12.0).pos(Pos::new(HPos::Left, VPos::Center));
            area.draw_text(label, &style, (x + 30, cy))?;
        }
        Ok(())
    }

    /// Checks everything and works out both axes.
    fn axes(&self) -> Result<(Axis, Axis)> {
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
                bail!("chart '{name}': log x axis cannot show x = {x} (only x > 0)");
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

/// Several charts stacked vertically under a title and an optional subtitle.
#[derive(Debug, Clone)]
pub struct Figure {
    title: String,
    subtitle: Option<String>,
    panels: Vec<Chart>,
}

impl Figure {
    /// A figure with no panels yet.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            subtitle: None,
            panels: Vec::new(),
        }
    }

    /// A line under the title.
    pub fn subtitle(mut self, subtitle: impl Into<String>) -> Self {
        self.subtitle = Some(subtitle.into());
        self
    }

    /// Adds a panel below the others; panels share the height equally.
    pub fn panel(mut self, chart: Chart) -> Self {
        self.panels.push(chart);
        self
    }

    /// The figure as an SVG document of `size` px.
    pub fn to_svg(&self, size: (u32, u32)) -> Result<String> {
        ensure!(
            !self.panels.is_empty(),
            "figure '{}' has no panels",
            self.title
        );
        for p in &self.panels {
            p.axes()?;
        }
        render(size, |root| {
            root.draw_text(
                &self.title,
                &bold(18.0).pos(Pos::new(HPos::Left, VPos::Top)),
                (20, 14),
            )?;
            let mut header = 44;
            if let Some(s) = &self.subtitle {
                root.draw_text(
                    s,
                    &font(13.0).pos(Pos::new(HPos::Left, VPos::Top)),
                    (20, 40),
                )?;
                header = 66;
            }
            let (_, body) = root.split_vertically(header);
            for (chart, area) in self
                .panels
                .iter()
                .zip(body.split_evenly((self.panels.len(), 1)))
            {
                chart.draw(&area)?;
            }
            Ok(())
        })
    }

    /// The figure written to `path` as SVG.
    pub fn write_svg(&self, path: &Path, size: (u32, u32)) -> Result<()> {
        write(path, &self.to_svg(size)?)
    }
}

/// A legend swatch.
#[derive(Debug, Clone, Copy)]
enum Swatch {
    Fill(RGBColor),
    Line(RGBColor, Line, Marker),
}

/// An axis: linear or log, with its own ticks (bold ones labelled).
#[derive(Debug, Clone)]
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Axis {
    /// Round ticks at most eight steps apart (so a [`nice_range`] has a tick at both ends);
    /// whole numbers only when `integer`.
    fn linear(lo: f64, hi: f64, integer: bool) -> Self {
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
    fn log(lo: f64, hi: f64) -> Self {
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
    fn fraction(&self, v: f64) -> f64 {
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

fn series_color(s: &Series, index: usize) -> RGBColor {
    s.color.unwrap_or(PALETTE[index % PALETTE.len()])
}

/// Dark text of `px` px (plotters writes font sizes divided by 1.24).
fn font(px: f64) -> TextStyle<'static> {
    TextStyle::from((FONT, px * 1.24).into_font()).color(&TEXT)
}

fn bold(px: f64) -> TextStyle<'static> {
    TextStyle::from((FONT, px * 1.24).into_font().style(FontStyle::Bold)).color(&TEXT)
}

/// `marker` centred at pixel `(x, y)` of `area`.
fn draw_marker(
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

/// `text` at pixel `at` of `area` on a white box, readable over bars and lines.
fn boxed_text(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    (x, y): (i32, i32),
    text: &str,
    style: &TextStyle<'_>,
) -> Result<()> {
    // plotters' estimate (no font metrics) is a little narrow for DejaVu Sans, more so in bold.
    let (w, h) = area.estimate_text_size(text, style)?;
    let (w, h) = ((f64::from(w) * 1.12).round() as i32, h as i32);
    let x0 = match style.pos.h_pos {
        HPos::Left => x,
        HPos::Center => x - w / 2,
        HPos::Right => x - w,
    };
    let y0 = match style.pos.v_pos {
        VPos::Top => y,
        VPos::Center => y - h / 2,
        VPos::Bottom => y - h,
    };
    area.draw(&Rectangle::new(
        [(x0 - 3, y0 - 2), (x0 + w + 3, y0 + h + 2)],
        WHITE.mix(0.85).filled(),
    ))?;
    area.draw_text(text, style, (x, y))?;
    Ok(())
}

/// An SVG document of `size` px on a white background, drawn by `draw`.
fn render(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>,
) -> Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    Ok(out)
}

fn write(path: &Path, svg: &str) -> Result<()> {
    std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The text of every element of `doc`, unescaped, after checking that `doc` is one
    /// well-formed `<svg>` element: tags nest and close, attribute values are quoted, and text
    /// holds no `<` and no `&` outside an entity.
    pub(crate) fn svg_texts(doc: &str) -> Vec<String> {
        let unescape = |s: &str| {
            let mut rest = s;
            while let Some(i) = rest.find('&') {
                let entity = &rest[i..];
                assert!(
                    ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                        .iter()
                        .any(|e| entity.starts_with(e)),
                    "bare & in {s:?}"
                );
                rest = &rest[i + 1..];
            }
            s.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&")
        };
        let mut stack: Vec<&str> = Vec::new();
        let mut roots = 0;
        let mut texts = Vec::new();
        let mut rest = doc.trim();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('<') {
                let end = after.find('>').expect("a tag is not closed");
                let tag = &after[..end];
                rest = &after[end + 1..];
                if let Some(name) = tag.strip_prefix('/') {
                    assert_eq!(stack.pop(), Some(name), "</{name}> closes another element");
                    continue;
                }
                let body = tag.strip_suffix('/').unwrap_or(tag);
                let name = body
                    .split_whitespace()
                    .next()
                    .expect("a tag without a name");
                let mut attrs = body[name.len()..].trim_start();
                while !attrs.is_empty() {
                    let (key, value) = attrs.split_once('=').expect("an attribute without =");
                    assert!(
                        !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || c == '-'),
                        "bad attribute name {key:?} in <{tag}>"
                    );
                    let value = value.strip_prefix('"').expect("an unquoted attribute");
                    let close = value.find('"').expect("an attribute value is not closed");
                    unescape(&value[..close]);
                    attrs = value[close + 1..].trim_start();
                }
                if stack.is_empty() {
                    roots += 1;
                    assert_eq!(name, "svg", "the root element is <{name}>");
                    assert!(body.contains("xmlns=\"http://www.w3.org/2000/svg\""));
                }
                if !tag.ends_with('/') {
                    stack.push(name);
                }
            } else {
                let end = rest.find('<').unwrap_or(rest.len());
                let text = rest[..end].trim();
                assert!(!stack.is_empty() || text.is_empty(), "text outside <svg>");
                if !text.is_empty() {
                    texts.push(unescape(text));
                }
                rest = &rest[end..];
            }
        }
        assert!(stack.is_empty(), "unclosed elements {stack:?}");
        assert_eq!(roots, 1, "not one root element");
        texts
    }

    fn has(texts: &[String], want: &str) -> bool {
        texts.iter().any(|t| t == want)
    }

    fn lines(doc: &str) -> usize {
        doc.matches("<line ").count()
    }

    fn two_series() -> Chart {
        Chart::new("Latency", "clients", "latency (ms)")
            .series(Series::line(
                "loadpart",
                [(1.0, 10.0), (2.0, 12.0), (4.0, 15.0)],
            ))
            .series(
                Series::scatter("neurosurgeon", [(1.0, 11.0), (2.0, 19.0)])
                    .marker(Marker::Square)
                    .line_style(Line::Dashed),
            )
            .legend_title("policy")
    }

    #[test]
    fn a_chart_is_valid_svg_with_its_titles_and_legend() {
        let doc = two_series().to_svg((640, 400)).unwrap();
        assert!(doc.starts_with("<svg") && doc.trim_end().ends_with("</svg>"));
        let texts = svg_texts(&doc);
        for want in [
            "Latency",
            "clients",
            "latency (ms)",
            "policy",
            "loadpart",
            "neurosurgeon",
        ] {
            assert!(has(&texts, want), "no {want:?} in {texts:?}");
        }
        // The auto y range is rounded out to ticks: 10..19 padded, in steps of 2.
        assert!(has(&texts, "8") && has(&texts, "20"), "{texts:?}");
        // The legend also fits inside the plot, or goes away.
        let inside = svg_texts(
            &two_series()
                .legend(Legend::Inside)
                .to_svg((640, 400))
                .unwrap(),
        );
        assert!(has(&inside, "neurosurgeon"));
        let hidden = svg_texts(
            &two_series()
                .legend(Legend::Hidden)
                .to_svg((640, 400))
                .unwrap(),
        );
        assert!(!has(&hidden, "neurosurgeon") && !has(&hidden, "policy"));
    }

    #[test]
    fn text_is_escaped() {
        let doc = Chart::new("a<b & \"c\" 'd'", "x", "y")
            .series(Series::line("p95 <= 10 ms", [(0.0, 1.0), (1.0, 2.0)]))
            .to_svg((400, 300))
            .unwrap();
        let texts = svg_texts(&doc);
        assert!(has(&texts, "a<b & \"c\" 'd'"), "{texts:?}");
        assert!(has(&texts, "p95 <= 10 ms"), "{texts:?}");
    }

    #[test]
    fn error_bars_are_drawn() {
        let points = [(1.0, 10.0), (2.0, 12.0), (3.0, 11.0)];
        let plain = Chart::new("t", "x", "y").series(Series::line("s", points));
        let with = plain.clone().series(Series::scatter("e", points).errors([
            (9.0, 11.0),
            (11.5, 13.0),
            (10.0, 12.0),
        ]));
        let without = plain
            .clone()
            .series(Series::scatter("e", points))
            .y_range(8.0, 14.0);
        let (with, without) = (
            with.y_range(8.0, 14.0).to_svg((500, 300)).unwrap(),
            without.to_svg((500, 300)).unwrap(),
        );
        svg_texts(&with);
        // Each error bar: a vertical line and two whiskers.
        assert_eq!(lines(&with), lines(&without) + 3 * points.len());
        // The error bars widen the automatic y range.
        let auto = Chart::new("t", "x", "y")
            .series(Series::scatter("e", [(1.0, 10.0)]).errors([(0.0, 50.0)]))
            .to_svg((500, 300))
            .unwrap();
        assert!(has(&svg_texts(&auto), "50"), "{:?}", svg_texts(&auto));
    }

    #[test]
    fn error_bars_must_enclose_their_point() {
        let bad = Chart::new("t", "x", "y")
            .series(Series::line("s", [(1.0, 10.0)]).errors([(11.0, 12.0)]))
            .to_svg((300, 200))
            .unwrap_err()
            .to_string();
        assert!(bad.contains("does not enclose y = 10"), "{bad}");
        let count = Chart::new("t", "x", "y")
            .series(Series::line("s", [(1.0, 10.0), (2.0, 3.0)]).errors([(9.0, 12.0)]))
            .to_svg((300, 200))
            .unwrap_err()
            .to_string();
        assert!(count.contains("2 points but 1 error bars"), "{count}");
    }

    #[test]
    fn log_x_takes_only_positive_x() {
        let chart = |x0: f64| {
            Chart::new("t", "bandwidth", "y")
                .log_x()
                .series(Series::line("s", [(x0, 1.0), (10.0, 2.0), (1000.0, 3.0)]))
        };
        let texts = svg_texts(&chart(1.0).to_svg((600, 300)).unwrap());
        for tick in ["1", "2", "5", "10", "20", "50", "100", "200", "500", "1000"] {
            assert!(has(&texts, tick), "no tick {tick} in {texts:?}");
        }
        for x0 in [0.0, -1.0] {
            let err = chart(x0).to_svg((600, 300)).unwrap_err().to_string();
            assert!(err.contains("log x axis cannot show x"), "{err}");
        }
        let err = chart(1.0)
            .x_range(0.0, 10.0)
            .to_svg((600, 300))
            .unwrap_err();
        assert!(err.to_string().contains("log x axis"), "{err}");
        let err = chart(1.0).vline(-5.0, "v").to_svg((600, 300)).unwrap_err();
        assert!(err.to_string().contains("x = -5"), "{err}");
        let bars = StackedBars::new(vec![("a".into(), PALETTE[0])], vec![vec![1.0]]);
        let err = chart(1.0).bars(bars).to_svg((600, 300)).unwrap_err();
        assert!(err.to_string().contains("linear x axis"), "{err}");
    }

    #[test]
    fn empty_or_bad_data_is_an_error() {
        let empty = Chart::new("t", "x", "y")
            .series(Series::line("nothing", Vec::new()))
            .to_svg((300, 200))
            .unwrap_err();
        assert!(empty.to_string().contains("series 'nothing' has no points"));
        let none = Chart::new("t", "x", "y").to_svg((300, 200)).unwrap_err();
        assert!(none.to_string().contains("no series"), "{none}");
        let nan = Chart::new("t", "x", "y")
            .series(Series::line("s", [(1.0, f64::NAN)]))
            .to_svg((300, 200))
            .unwrap_err();
        assert!(nan.to_string().contains("not finite"), "{nan}");
        let range = Chart::new("t", "x", "y")
            .series(Series::line("s", [(1.0, 1.0)]))
            .y_range(2.0, 2.0)
            .to_svg((300, 200))
            .unwrap_err();
        assert!(range.to_string().contains("y range"), "{range}");
        let bar = StackedBars::new(vec![("a".into(), PALETTE[0])], vec![vec![-1.0]]);
        let bar = Chart::new("t", "x", "y")
            .bars(bar)
            .to_svg((300, 200))
            .unwrap_err();
        assert!(bar.to_string().contains("negative"), "{bar}");
        let figure = Figure::new("f").to_svg((300, 200)).unwrap_err();
        assert!(figure.to_string().contains("no panels"), "{figure}");
        // A bad panel fails the whole figure.
        let figure = Figure::new("f")
            .panel(two_series())
            .panel(Chart::new("t", "x", "y"))
            .to_svg((300, 200))
            .unwrap_err();
        assert!(figure.to_string().contains("no series"), "{figure}");
    }

    #[test]
    fn one_point_and_flat_data_still_draw() {
        let doc = Chart::new("t", "x", "y")
            .series(Series::line("s", [(3.0, 7.0)]))
            .to_svg((300, 200))
            .unwrap();
        svg_texts(&doc);
        let doc = Chart::new("t", "x", "y")
            .log_x()
            .series(Series::line("s", [(5.0, 0.0), (5.0, 0.0)]))
            .to_svg((300, 200))
            .unwrap();
        svg_texts(&doc);
    }

    #[test]
    fn figures_stack_panels_and_annotations() {
        let bars = StackedBars::new(
            vec![("low".into(), PALETTE[0]), ("high".into(), PALETTE[1])],
            vec![vec![1.0, 2.0], vec![2.0, 40.0], vec![0.5, 0.5]],
        );
        let top = Chart::new("Bars", "bar", "ms")
            .bars(bars)
            .y_range(0.0, 5.0)
            .pointer((2.0, 1.0), "chosen")
            .note("clipped");
        let bottom =
            two_series()
                .vline(3.0, "given")
                .label((1.0, 10.0), "start", Anchor::End, (0, 0));
        let path = std::env::temp_dir().join(format!("loadpart-chart-{}.svg", std::process::id()));
        Figure::new("Figure")
            .subtitle("two panels")
            .panel(top)
            .panel(bottom)
            .write_svg(&path, (800, 700))
            .unwrap();
        let doc = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let texts = svg_texts(&doc);
        for want in [
            "Figure",
            "two panels",
            "Bars",
            "Latency",
            "chosen",
            "clipped",
            "given",
            "start",
            "high",
            "low",
            "loadpart",
        ] {
            assert!(has(&texts, want), "no {want:?} in {texts:?}");
        }
        // Bars are labelled by whole numbers only.
        assert!(
            has(&texts, "0") && has(&texts, "2") && !has(&texts, "0.5"),
            "{texts:?}"
        );
    }

    #[test]
    fn linear_ticks_are_round() {
        assert_eq!(nice_range(0.0, 87.0), (0.0, 100.0));
        assert_eq!(nice_range(3.0, 3.0), (1.5, 4.5));
        let (lo, hi) = nice_range(0.0, 0.37);
        assert!(lo == 0.0 && (hi - 0.4).abs() < 1e-12, "{hi}");
        let labels: Vec<String> = Axis::linear(0.0, 100.0, false)
            .bold
            .into_iter()
            .map(format_number)
            .collect();
        assert_eq!(labels, ["0", "20", "40", "60", "80", "100"]);
        assert_eq!(Axis::linear(-0.5, 2.5, true).bold, [0.0, 1.0, 2.0]);
        // A rounded range has a tick at both ends.
        for (lo, hi) in [
            (-2.5, 52.5),
            (0.0, 0.37),
            (3.0, 3.0),
            (-7.0, 1234.0),
            (0.1, 0.11),
        ] {
            let (lo, hi) = nice_range(lo, hi);
            let ticks = Axis::linear(lo, hi, false).bold;
            let (first, last) = (ticks[0], ticks[ticks.len() - 1]);
            assert!(
                (first - lo).abs() < 1e-9 && (last - hi).abs() < 1e-9,
                "{ticks:?}"
            );
        }
        assert_eq!(format_number(-0.0001), "0");
        assert_eq!(format_number(2.50), "2.5");
    }

    #[test]
    fn log_ticks_label_1_2_5() {
        let axis = Axis::log(1.0, 1000.0);
        let labels: Vec<String> = axis.bold.iter().copied().map(format_number).collect();
        assert_eq!(
            labels,
            ["1", "2", "5", "10", "20", "50", "100", "200", "500", "1000"]
        );
        assert_eq!(axis.bold.len() + axis.light.len(), 28);
        assert!((axis.fraction(10.0) - 1.0 / 3.0).abs() < 1e-12);
        // Over more than four decades only powers of ten are labelled.
        assert_eq!(Axis::log(0.01, 1000.0).bold.len(), 6);
    }

    #[test]
    fn steps_hold_until_the_next_point() {
        assert_eq!(
            steps(&[(1.0, 1.0), (2.0, 0.5)]),
            [(1.0, 1.0), (2.0, 1.0), (2.0, 0.5)]
        );
    }
}
