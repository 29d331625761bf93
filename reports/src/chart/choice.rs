//! The device chooser's ranking as a chart: generation t/s (or × real time) against the same
//! per watt, one labelled point per device, both axes on a log scale (devices span two orders
//! of magnitude). Colour says where the speed comes from: measured, published or predicted.

use super::{bold, draw_error, draw_legend, font, impl_chart, legend_height, tick, INK, PALETTE};
use crate::matrix::CellKind;
use plotters::coord::Shift;
use plotters::prelude::*;

const WIDTH: u32 = 1000;
const PLOT_H: u32 = 520;
const TITLE_H: u32 = 36;

/// One device.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoicePoint {
    pub label: String,
    /// t/s (or × real time).
    pub speed: f64,
    /// The same per watt.
    pub per_watt: f64,
    pub kind: CellKind,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceChart {
    pub name: String,
    pub title: String,
    /// `generation t/s`, `× real time`.
    pub unit: String,
    pub points: Vec<ChoicePoint>,
}

impl_chart!(ChoiceChart);

const KINDS: [(CellKind, &str); 3] = [
    (CellKind::Measured, "measured"),
    (CellKind::Published, "published"),
    (CellKind::Predicted, "predicted"),
];

/// The chart, or `None` without a point to draw (a point needs a speed and a power).
pub fn choice(title: &str, unit: &str, points: Vec<ChoicePoint>) -> Option<ChoiceChart> {
    let points: Vec<ChoicePoint> = points
        .into_iter()
        .filter(|p| p.speed > 0.0 && p.per_watt > 0.0)
        .collect();
    (!points.is_empty()).then(|| ChoiceChart {
        name: "choice".into(),
        title: title.to_string(),
        unit: unit.to_string(),
        points,
    })
}

fn kind_color(kind: CellKind) -> RGBColor {
    match kind {
        CellKind::Measured => PALETTE[0],
        CellKind::Published => PALETTE[4],
        CellKind::Predicted => PALETTE[1],
    }
}

/// Log-axis bounds around `values`, a little beyond them.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() || hi <= 0.0 {
        return (0.1, 10.0);
    }
    (lo / 1.6, hi * 1.6)
}

impl ChoiceChart {
    fn labels(&self) -> Vec<String> {
        KINDS.iter().map(|(_, l)| l.to_string()).collect()
    }

    fn pixel_size(&self) -> (u32, u32) {
        (
            WIDTH,
            TITLE_H + PLOT_H + legend_height(&self.labels(), WIDTH) + 10,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        root.draw(&Text::new(self.title.clone(), (12, 10), bold(18)))
            .map_err(draw_error)?;
        let (_, rest) = root.split_vertically(TITLE_H);
        let (plot, legend) = rest.split_vertically(PLOT_H);
        let (x0, x1) = bounds(self.points.iter().map(|p| p.speed));
        let (y0, y1) = bounds(self.points.iter().map(|p| p.per_watt));
        let mut chart = ChartBuilder::on(&plot)
            .margin_left(10)
            .margin_right(30)
            .margin_top(6)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
            .map_err(draw_error)?;
        let fmt = |v: &f64| tick(*v);
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(0xe0, 0xe0, 0xe0))
            .x_desc(format!("{} (log scale)", self.unit))
            .y_desc(format!("{} per watt (log scale)", self.unit))
            .x_label_formatter(&fmt)
            .y_label_formatter(&fmt)
            .x_label_style(font(12))
            .y_label_style(font(12))
            .axis_desc_style(font(13))
            .draw()
            .map_err(draw_error)?;
        for p in &self.points {
            let c = kind_color(p.kind);
            chart
                .draw_series([Circle::new((p.speed, p.per_watt), 5, c.filled())])
                .map_err(draw_error)?;
            chart
                .draw_series([Text::new(
                    p.label.clone(),
                    (p.speed, p.per_watt),
                    font(11)
                        .color(&INK)
                        .pos(plotters::style::text_anchor::Pos::new(
                            plotters::style::text_anchor::HPos::Left,
                            plotters::style::text_anchor::VPos::Bottom,
                        )),
                )])
                .map_err(draw_error)?;
        }
        let colors: Vec<RGBColor> = KINDS.iter().map(|(k, _)| kind_color(*k)).collect();
        draw_legend(&legend, &self.labels(), &colors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_labelled_points_and_skips_points_without_power() {
        let points = vec![
            ChoicePoint {
                label: "Raspberry Pi 5".into(),
                speed: 2.2,
                per_watt: 0.19,
                kind: CellKind::Published,
            },
            ChoicePoint {
                label: "Jetson".into(),
                speed: 19.0,
                per_watt: 0.76,
                kind: CellKind::Predicted,
            },
            ChoicePoint {
                label: "no power".into(),
                speed: 5.0,
                per_watt: 0.0,
                kind: CellKind::Measured,
            },
        ];
        let c = choice("Llama 3 8B", "generation t/s", points).unwrap();
        assert_eq!(c.points.len(), 2);
        let svg = crate::chart::render_svg(&c).unwrap();
        assert!(svg.contains("Raspberry Pi 5") && svg.contains("Jetson"));
        assert!(!svg.contains("no power"));
        assert!(crate::chart::render_png(&c)
            .unwrap()
            .starts_with(b"\x89PNG"));
        assert!(choice("t", "u", Vec::new()).is_none());
    }
}
