//! Everything drawn over the data: reference lines, labels, pointers, notes and the legend, each
//! text on a white box so it stays readable over bars and lines.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::draw::{Plot, draw_line, draw_marker};
use super::series::{Line, Marker};
use super::spec::{Anchor, Chart, Legend};
use super::{GRID, REFERENCE, TEXT, bold, font};
use crate::Result;

/// A legend swatch.
#[derive(Debug, Clone, Copy)]
pub(super) enum Swatch {
    Fill(RGBColor),
    Line(RGBColor, Line, Marker),
}

impl Chart {
    /// Reference lines, labels and pointers, then the legend when it goes inside the plot, then
    /// the notes (below that legend).
    pub(super) fn draw_annotations(
        &self,
        plot: &Plot<'_, '_, '_>,
        entries: &[(Swatch, &str)],
    ) -> Result<()> {
        let (area, y) = (plot.area, plot.y);
        let (left, right, top, bottom) = (plot.left, plot.right, plot.top, plot.bottom);
        for v in &self.vlines {
            let (x, _) = plot.px(v.x, y.lo);
            area.draw(&DashedPathElement::new(
                [(x, top), (x, bottom)],
                4,
                4,
                REFERENCE.stroke_width(1),
            ))?;
            let style = font(11.0).pos(Pos::new(HPos::Left, VPos::Center));
            boxed_text(area, (x + 5, (top + bottom) / 2), &v.label, &style)?;
        }
        for l in &self.labels {
            let (x, y) = plot.px(l.at.0, l.at.1);
            let h = match l.anchor {
                Anchor::Start => HPos::Left,
                Anchor::Middle => HPos::Center,
                Anchor::End => HPos::Right,
            };
            let style = font(11.0).pos(Pos::new(h, VPos::Center));
            boxed_text(area, (x + l.offset.0, y + l.offset.1), &l.text, &style)?;
        }
        for p in &self.pointers {
            let (x, y) = plot.px(p.at.0, p.at.1.clamp(y.lo, y.hi));
            area.draw(&Polygon::new(
                vec![(x, y - 3), (x - 7, y - 15), (x + 7, y - 15)],
                TEXT.filled(),
            ))?;
            let (h, dx) = if x > (left + right) / 2 {
                (HPos::Right, -9)
            } else {
                (HPos::Left, 9)
            };
            let style = bold(12.0).pos(Pos::new(h, VPos::Bottom));
            boxed_text(area, (x + dx, y - 16), &p.text, &style)?;
        }
        let mut note_y = top + 8;
        if self.legend == Legend::Inside && !entries.is_empty() {
            let (w, h) = self.legend_size(area, entries)?;
            let (x0, y0) = (right - 8 - w, top + 8);
            area.draw(&Rectangle::new(
                [(x0, y0), (x0 + w, y0 + h)],
                WHITE.mix(0.9).filled(),
            ))?;
            area.draw(&Rectangle::new(
                [(x0, y0), (x0 + w, y0 + h)],
                GRID.stroke_width(1),
            ))?;
            self.draw_legend(area, (x0 + 10, y0 + 8), entries)?;
            note_y = y0 + h + 8;
        }
        for n in &self.notes {
            let style = font(11.0).pos(Pos::new(HPos::Right, VPos::Top));
            boxed_text(area, (right - 8, note_y), n, &style)?;
            note_y += 20;
        }
        Ok(())
    }

    /// The legend's entries: bar components top-down, then the series.
    pub(super) fn legend_entries(&self) -> Vec<(Swatch, &str)> {
        let bars = self.bars.iter().flat_map(|b| {
            b.components
                .iter()
                .rev()
                .map(|(l, c)| (Swatch::Fill(*c), l.as_str()))
        });
        let series = self.series.iter().enumerate().map(|(i, s)| {
            let swatch = Swatch::Line(s.color_at(i), s.line, s.marker);
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
    pub(super) fn draw_legend(
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
                    draw_line(area, vec![(x - 2, cy), (x + 22, cy)], line, c)?;
                    draw_marker(area, (x + 10, cy), marker, c)?;
                }
            }
            let style = font(12.0).pos(Pos::new(HPos::Left, VPos::Center));
            area.draw_text(label, &style, (x + 30, cy))?;
        }
        Ok(())
    }
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
