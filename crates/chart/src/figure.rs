//! Laying charts out and writing them: a chart's plot and legend column on a drawing area, a
//! [`Figure`] of charts stacked under a title, and the SVG documents and files.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::format_number;
use super::draw::Plot;
use super::spec::{Chart, Legend};
use super::{AXIS, GRID, GRID_LIGHT, LEGEND_WIDTH, bold, font};
use crate::{ChartError, Result, ensure};

impl Chart {
    /// The chart alone as an SVG document of `size` px.
    pub fn to_svg(&self, size: (u32, u32)) -> Result<String> {
        self.axes()?;
        render(size, |root| self.draw(root))
    }

    /// The chart alone written to `path` as SVG.
    pub fn write_svg(&self, path: &Path, size: (u32, u32)) -> Result<()> {
        write(path, &self.to_svg(size)?)
    }

    /// Draws the chart into `area`: title, axes and grid; then bars, series and the frame; then
    /// the annotations, with the legend in a column on the right unless it goes inside or is
    /// hidden.
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

        let plot = Plot::new(&plot_area, &chart, &y);
        self.draw_bars(&plot)?;
        self.draw_series(&plot)?;
        self.draw_frame(&plot)?;
        self.draw_annotations(&plot, &entries)?;
        if let Some(area) = legend_area {
            self.draw_legend(&area, (12, plot.top), &entries)?;
        }
        Ok(())
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

/// Writes `svg` to `path`.
fn write(path: &Path, svg: &str) -> Result<()> {
    std::fs::write(path, svg).map_err(|source| ChartError::Write {
        path: path.to_path_buf(),
        source,
    })
}
