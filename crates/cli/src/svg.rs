//! A tiny SVG chart builder: a document of primitives, linear and log scales with readable ticks,
//! and a chart frame that maps data to pixels (axes, grid, stacked bars, lines, legend).
//!
//! Hand-written on purpose: the plots of `loadpart plan` need a few hundred lines, not a plotting
//! stack. Coordinates are pixels with y growing downwards; [`Chart`] methods take data values.

use std::fmt::Write;

/// Font stack for every label (DejaVu Sans is what headless renderers on Linux usually have).
const FONT: &str = "DejaVu Sans, Helvetica, Arial, sans-serif";

/// How a line is drawn.
#[derive(Debug, Clone, Copy)]
pub struct Stroke<'a> {
    /// Any SVG colour.
    pub color: &'a str,
    /// Width, px.
    pub width: f64,
    /// `stroke-dasharray`, e.g. `"6 3"`; `None` for a solid line.
    pub dash: Option<&'a str>,
}

impl<'a> Stroke<'a> {
    /// A solid line.
    pub fn solid(color: &'a str, width: f64) -> Self {
        Self {
            color,
            width,
            dash: None,
        }
    }

    /// A dashed line.
    pub fn dashed(color: &'a str, width: f64, dash: &'a str) -> Self {
        Self {
            color,
            width,
            dash: Some(dash),
        }
    }

    fn attrs(&self) -> String {
        let dash = self
            .dash
            .map(|d| format!(" stroke-dasharray=\"{d}\""))
            .unwrap_or_default();
        format!(
            "stroke=\"{}\" stroke-width=\"{}\" fill=\"none\"{dash}",
            self.color, self.width
        )
    }
}

/// Horizontal text alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// How a label is drawn.
#[derive(Debug, Clone, Copy)]
pub struct Font {
    /// Size, px.
    pub size: f64,
    /// Alignment at the anchor point.
    pub anchor: Anchor,
    /// Bold.
    pub bold: bool,
    /// Rotation about the anchor point, degrees (−90 for a y-axis label).
    pub rotate: f64,
    /// Colour.
    pub color: &'static str,
}

impl Font {
    /// Plain dark text of `size` px.
    pub fn new(size: f64, anchor: Anchor) -> Self {
        Self {
            size,
            anchor,
            bold: false,
            rotate: 0.0,
            color: "#222",
        }
    }

    /// The same font, bold.
    pub fn bold(self) -> Self {
        Self { bold: true, ..self }
    }
}

/// An SVG document under construction.
#[derive(Debug)]
pub struct Svg {
    out: String,
}

impl Svg {
    /// A `width` x `height` px document with a white background.
    pub fn new(width: f64, height: f64) -> Self {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"{FONT}\">"
        );
        let mut s = Self { out };
        s.rect(0.0, 0.0, width, height, "#fff", None);
        s
    }

    /// A filled rectangle, optionally outlined.
    pub fn rect(
        &mut self,
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        fill: &str,
        outline: Option<Stroke<'_>>,
    ) {
        let stroke = outline
            .map(|s| s.attrs().replace(" fill=\"none\"", ""))
            .unwrap_or_default();
        let _ = writeln!(
            self.out,
            "<rect x=\"{x:.2}\" y=\"{y:.2}\" width=\"{w:.2}\" height=\"{h:.2}\" fill=\"{fill}\" {stroke}/>"
        );
    }

    /// A straight line.
    pub fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), stroke: Stroke<'_>) {
        let _ = writeln!(
            self.out,
            "<line x1=\"{x1:.2}\" y1=\"{y1:.2}\" x2=\"{x2:.2}\" y2=\"{y2:.2}\" {}/>",
            stroke.attrs()
        );
    }

    /// A polyline through `points`.
    pub fn polyline(&mut self, points: &[(f64, f64)], stroke: Stroke<'_>) {
        let pts: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{x:.2},{y:.2}"))
            .collect();
        let _ = writeln!(
            self.out,
            "<polyline points=\"{}\" stroke-linejoin=\"round\" {}/>",
            pts.join(" "),
            stroke.attrs()
        );
    }

    /// A filled polygon (markers, arrows).
    pub fn polygon(&mut self, points: &[(f64, f64)], fill: &str) {
        let pts: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{x:.2},{y:.2}"))
            .collect();
        let _ = writeln!(
            self.out,
            "<polygon points=\"{}\" fill=\"{fill}\"/>",
            pts.join(" ")
        );
    }

    /// A filled circle.
    pub fn circle(&mut self, (x, y): (f64, f64), r: f64, fill: &str) {
        let _ = writeln!(
            self.out,
            "<circle cx=\"{x:.2}\" cy=\"{y:.2}\" r=\"{r}\" fill=\"{fill}\"/>"
        );
    }

    /// A label at `(x, y)` (the baseline).
    pub fn text(&mut self, (x, y): (f64, f64), s: &str, font: Font) {
        let anchor = match font.anchor {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        };
        let weight = if font.bold {
            " font-weight=\"bold\""
        } else {
            ""
        };
        let rotate = if font.rotate != 0.0 {
            format!(" transform=\"rotate({} {x:.2} {y:.2})\"", font.rotate)
        } else {
            String::new()
        };
        let _ = writeln!(
            self.out,
            "<text x=\"{x:.2}\" y=\"{y:.2}\" font-size=\"{}\" text-anchor=\"{anchor}\" fill=\"{}\"{weight}{rotate}>{}</text>",
            font.size,
            font.color,
            escape(s)
        );
    }

    /// A label on a white box, readable over bars and lines. The box width is estimated from the
    /// character count (no font metrics here).
    pub fn boxed_text(&mut self, (x, y): (f64, f64), s: &str, font: Font) {
        let w = 0.6 * font.size * s.chars().count() as f64 + 6.0;
        let x0 = match font.anchor {
            Anchor::Start => x - 3.0,
            Anchor::Middle => x - w / 2.0,
            Anchor::End => x - w + 3.0,
        };
        let _ = writeln!(
            self.out,
            "<rect x=\"{x0:.2}\" y=\"{:.2}\" width=\"{w:.2}\" height=\"{:.2}\" fill=\"#fff\" fill-opacity=\"0.85\" rx=\"2\"/>",
            y - font.size,
            font.size * 1.35
        );
        self.text((x, y), s, font);
    }

    /// The finished document.
    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

/// `s` with the XML special characters escaped.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One axis tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// Data value.
    pub value: f64,
    /// Label; empty for a minor (unlabelled) tick.
    pub label: String,
}

/// A map from data values `[lo, hi]` to pixels `[px_lo, px_hi]`, linear or logarithmic.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    lo: f64,
    hi: f64,
    log: bool,
    px_lo: f64,
    px_hi: f64,
}

impl Scale {
    /// A linear scale. `hi` must exceed `lo`.
    pub fn linear(lo: f64, hi: f64, px_lo: f64, px_hi: f64) -> Self {
        Self {
            lo,
            hi,
            log: false,
            px_lo,
            px_hi,
        }
    }

    /// A linear scale from `lo` to `hi` rounded up to a round tick value.
    pub fn linear_nice(lo: f64, hi: f64, px_lo: f64, px_hi: f64) -> Self {
        let hi = if hi > lo { hi } else { lo + 1.0 };
        let step = nice_step((hi - lo) / 5.0);
        Self::linear(
            lo,
            lo + ((hi - lo) / step - 1e-9).ceil() * step,
            px_lo,
            px_hi,
        )
    }

    /// A base-10 log scale; `0 < lo < hi`.
    pub fn log(lo: f64, hi: f64, px_lo: f64, px_hi: f64) -> Self {
        Self {
            lo,
            hi,
            log: true,
            px_lo,
            px_hi,
        }
    }

    /// The upper end of the data range.
    pub fn hi(&self) -> f64 {
        self.hi
    }

    /// The pixel of data value `v` (values outside the range extrapolate).
    pub fn map(&self, v: f64) -> f64 {
        let (a, b, v) = if self.log {
            (self.lo.log10(), self.hi.log10(), v.log10())
        } else {
            (self.lo, self.hi, v)
        };
        self.px_lo + (v - a) / (b - a) * (self.px_hi - self.px_lo)
    }

    /// Ticks within the range: about five round values for a linear scale; 1, 2 and 5 per decade
    /// labelled plus the other integers unlabelled for a log scale.
    pub fn ticks(&self) -> Vec<Tick> {
        let inside = |v: f64| v >= self.lo * (1.0 - 1e-9) && v <= self.hi * (1.0 + 1e-9);
        if self.log {
            let mut out = Vec::new();
            for d in self.lo.log10().floor() as i32..=self.hi.log10().ceil() as i32 {
                for m in 1..10 {
                    let v = f64::from(m) * 10f64.powi(d);
                    if inside(v) {
                        let label = if matches!(m, 1 | 2 | 5) {
                            format_number(v)
                        } else {
                            String::new()
                        };
                        out.push(Tick { value: v, label });
                    }
                }
            }
            return out;
        }
        let step = nice_step((self.hi - self.lo) / 5.0);
        let first = (self.lo / step - 1e-9).ceil() as i64;
        let last = (self.hi / step + 1e-9).floor() as i64;
        (first..=last)
            .map(|i| i as f64 * step)
            .map(|v| Tick {
                value: v,
                label: format_number(v),
            })
            .collect()
    }
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

/// What a legend entry shows next to its label.
#[derive(Debug, Clone, Copy)]
pub enum Swatch<'a> {
    /// A filled square (a bar component).
    Fill(&'a str),
    /// A line sample with a marker.
    Line(Stroke<'a>, Marker),
}

/// A point marker for lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    None,
    Circle,
    Square,
    Triangle,
}

/// A plotting area with an x and a y scale.
#[derive(Debug, Clone, Copy)]
pub struct Chart {
    /// Left, top, right, bottom of the plotting area, px.
    pub left: f64,
    pub top: f64,
    pub right: f64,
    pub bottom: f64,
    pub x: Scale,
    pub y: Scale,
}

impl Chart {
    /// The data point `(x, y)` in pixels.
    pub fn at(&self, x: f64, y: f64) -> (f64, f64) {
        (self.x.map(x), self.y.map(y))
    }

    /// Frame, grid lines, ticks with labels, axis titles and a panel title.
    pub fn axes(&self, svg: &mut Svg, title: &str, x_label: &str, y_label: &str) {
        let grid = |major: bool| Stroke::solid(if major { "#d8d8d8" } else { "#eeeeee" }, 1.0);
        for t in self.x.ticks() {
            let x = self.x.map(t.value);
            svg.line((x, self.top), (x, self.bottom), grid(!t.label.is_empty()));
            svg.line(
                (x, self.bottom),
                (x, self.bottom + if t.label.is_empty() { 3.0 } else { 6.0 }),
                Stroke::solid("#444", 1.0),
            );
            if !t.label.is_empty() {
                svg.text(
                    (x, self.bottom + 20.0),
                    &t.label,
                    Font::new(12.0, Anchor::Middle),
                );
            }
        }
        for t in self.y.ticks() {
            let y = self.y.map(t.value);
            svg.line((self.left, y), (self.right, y), grid(!t.label.is_empty()));
            svg.line(
                (self.left - 6.0, y),
                (self.left, y),
                Stroke::solid("#444", 1.0),
            );
            svg.text(
                (self.left - 9.0, y + 4.0),
                &t.label,
                Font::new(12.0, Anchor::End),
            );
        }
        svg.rect(
            self.left,
            self.top,
            self.right - self.left,
            self.bottom - self.top,
            "none",
            Some(Stroke::solid("#444", 1.0)),
        );
        let mid_x = (self.left + self.right) / 2.0;
        svg.text(
            (mid_x, self.bottom + 42.0),
            x_label,
            Font::new(13.0, Anchor::Middle),
        );
        let mid_y = (self.top + self.bottom) / 2.0;
        svg.text(
            (self.left - 52.0, mid_y),
            y_label,
            Font {
                rotate: -90.0,
                ..Font::new(13.0, Anchor::Middle)
            },
        );
        svg.text(
            (self.left, self.top - 10.0),
            title,
            Font::new(15.0, Anchor::Start).bold(),
        );
    }

    /// A bar at `x` spanning `width` data units, stacked from 0 upwards by `segments` (value,
    /// colour); clipped at the top of the y range. Returns the pixel top of the stack.
    pub fn stacked_bar(&self, svg: &mut Svg, x: f64, width: f64, segments: &[(f64, &str)]) -> f64 {
        let (x0, x1) = (self.x.map(x - width / 2.0), self.x.map(x + width / 2.0));
        let mut base = 0.0;
        for &(v, color) in segments {
            if v <= 0.0 {
                continue;
            }
            let top = (base + v).min(self.y.hi());
            let (y0, y1) = (self.y.map(base), self.y.map(top));
            if y0 - y1 > 0.0 {
                svg.rect(x0, y1, (x1 - x0).max(0.5), y0 - y1, color, None);
            }
            base += v;
            if base >= self.y.hi() {
                break;
            }
        }
        self.y.map(base.min(self.y.hi()))
    }

    /// A line through data points, with an optional marker on each and a pixel offset in y (to
    /// keep coinciding lines apart).
    pub fn line(
        &self,
        svg: &mut Svg,
        points: &[(f64, f64)],
        stroke: Stroke<'_>,
        marker: Marker,
        dy: f64,
    ) {
        let px: Vec<(f64, f64)> = points
            .iter()
            .map(|&(x, y)| (self.x.map(x), self.y.map(y) + dy))
            .collect();
        svg.polyline(&px, stroke);
        for &p in &px {
            draw_marker(svg, p, marker, stroke.color);
        }
    }

    /// A marker at each data point, `dy` px lower.
    pub fn markers(
        &self,
        svg: &mut Svg,
        points: &[(f64, f64)],
        marker: Marker,
        color: &str,
        dy: f64,
    ) {
        for &(x, y) in points {
            draw_marker(svg, (self.x.map(x), self.y.map(y) + dy), marker, color);
        }
    }

    /// A vertical line across the chart at data `x`, labelled halfway up.
    pub fn vline(&self, svg: &mut Svg, x: f64, stroke: Stroke<'_>, label: &str) {
        let px = self.x.map(x);
        svg.line((px, self.top), (px, self.bottom), stroke);
        svg.boxed_text(
            (px + 4.0, (self.top + self.bottom) / 2.0),
            label,
            Font::new(11.0, Anchor::Start),
        );
    }
}

/// Draws `marker` centred at `p`.
pub fn draw_marker(svg: &mut Svg, (x, y): (f64, f64), marker: Marker, color: &str) {
    match marker {
        Marker::None => {}
        Marker::Circle => svg.circle((x, y), 3.2, color),
        Marker::Square => svg.rect(x - 3.0, y - 3.0, 6.0, 6.0, color, None),
        Marker::Triangle => svg.polygon(
            &[(x, y - 4.0), (x - 4.0, y + 3.0), (x + 4.0, y + 3.0)],
            color,
        ),
    }
}

/// A legend: one row per entry, starting at `(x, y)` (top left), 20 px apart.
pub fn legend(svg: &mut Svg, (x, y): (f64, f64), title: &str, entries: &[(Swatch<'_>, String)]) {
    svg.text((x, y + 12.0), title, Font::new(13.0, Anchor::Start).bold());
    for (i, (swatch, label)) in entries.iter().enumerate() {
        let cy = y + 30.0 + 20.0 * i as f64;
        match swatch {
            Swatch::Fill(c) => svg.rect(x, cy - 6.0, 14.0, 12.0, c, None),
            Swatch::Line(s, m) => {
                svg.line((x - 4.0, cy), (x + 22.0, cy), *s);
                draw_marker(svg, (x + 9.0, cy), *m, s.color);
            }
        }
        svg.text((x + 30.0, cy + 4.0), label, Font::new(12.0, Anchor::Start));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_round() {
        let s = Scale::linear_nice(0.0, 87.0, 0.0, 100.0);
        assert_eq!(s.hi(), 100.0);
        let labels: Vec<String> = s.ticks().into_iter().map(|t| t.label).collect();
        assert_eq!(labels, ["0", "20", "40", "60", "80", "100"]);
        let s = Scale::linear_nice(0.0, 0.37, 0.0, 100.0);
        assert!((s.hi() - 0.4).abs() < 1e-12);
        assert_eq!(s.ticks().len(), 5);
        assert_eq!(s.map(0.2), 50.0);
    }

    #[test]
    fn log_ticks_label_1_2_5() {
        let s = Scale::log(1.0, 1000.0, 0.0, 300.0);
        let labelled: Vec<String> = s
            .ticks()
            .into_iter()
            .filter(|t| !t.label.is_empty())
            .map(|t| t.label)
            .collect();
        assert_eq!(
            labelled,
            ["1", "2", "5", "10", "20", "50", "100", "200", "500", "1000"]
        );
        assert_eq!(s.ticks().len(), 28);
        assert!((s.map(10.0) - 100.0).abs() < 1e-9);
    }

    #[test]
    fn text_is_escaped_and_document_closed() {
        let mut svg = Svg::new(10.0, 10.0);
        svg.text((1.0, 2.0), "a<b & \"c\"", Font::new(10.0, Anchor::Start));
        let doc = svg.finish();
        assert!(doc.contains("a&lt;b &amp; &quot;c&quot;"));
        assert!(doc.starts_with("<svg") && doc.ends_with("</svg>\n"));
    }
}
