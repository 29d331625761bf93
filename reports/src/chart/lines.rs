//! (d) Scaling line charts from sweeps, one per model: t/s against thread count, and
//! prompt-processing t/s against prompt length. One line per test family (everything but the swept parameter
//! equal), the 95% confidence interval of each point as an error bar, x on a log scale (thread
//! counts and prompt lengths usually double).

use super::{
    bold, color, draw_error, draw_legend, font, impl_chart, legend_height, tick, INK, MUTED,
};
use crate::table::{rows_of, target_label, workload_name, Phase};
use edgebench_harness::schema::TestRecord;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};

const WIDTH: u32 = 1000;
const PLOT_H: u32 = 420;
const TITLE_H: u32 = 36;

#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    /// 95% confidence interval of y, where known.
    pub ci: Option<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<Point>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub name: String,
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    pub series: Vec<Series>,
}

impl_chart!(LineChart);

impl LineChart {
    fn labels(&self) -> Vec<String> {
        self.series.iter().map(|s| s.label.clone()).collect()
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
        let xs: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.x))
            .filter(|x| *x > 0.0)
            .map(|x| x as u64)
            .collect::<BTreeSet<u64>>()
            .into_iter()
            .map(|x| x as f64)
            .collect();
        let (xmin, xmax) = match (xs.first(), xs.last()) {
            (Some(a), Some(b)) => (*a, *b),
            _ => (1.0, 2.0),
        };
        let ymax = self
            .series
            .iter()
            .flat_map(|s| &s.points)
            .map(|p| p.ci.map_or(p.y, |(_, hi)| hi.max(p.y)))
            .fold(0.0f64, f64::max);
        let ymax = if ymax > 0.0 { ymax * 1.12 } else { 1.0 };
        let mut chart = ChartBuilder::on(&plot)
            .margin_left(10)
            .margin_right(30)
            .margin_top(6)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .build_cartesian_2d(
                (xmin / 1.25..xmax * 1.25)
                    .log_scale()
                    .with_key_points(xs.clone()),
                0.0..ymax,
            )
            .map_err(draw_error)?;
        let x_fmt = |v: &f64| format!("{v:.0}");
        let y_fmt = |v: &f64| tick(*v);
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(0xe0, 0xe0, 0xe0))
            .x_desc(self.x_desc.clone())
            .y_desc(self.y_desc.clone())
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .x_label_style(font(12))
            .y_label_style(font(12))
            .axis_desc_style(font(13))
            .draw()
            .map_err(draw_error)?;
        for (i, s) in self.series.iter().enumerate() {
            let c = color(i);
            let line = ShapeStyle::from(&c).stroke_width(2);
            chart
                .draw_series(LineSeries::new(s.points.iter().map(|p| (p.x, p.y)), line))
                .map_err(draw_error)?;
            chart
                .draw_series(
                    s.points
                        .iter()
                        .map(|p| Circle::new((p.x, p.y), 4, c.filled())),
                )
                .map_err(draw_error)?;
            let bar = ShapeStyle::from(&INK).stroke_width(1);
            for p in &s.points {
                if let Some((lo, hi)) = p.ci.filter(|(lo, hi)| hi > lo) {
                    chart
                        .draw_series([PathElement::new(vec![(p.x, lo), (p.x, hi)], bar)])
                        .map_err(draw_error)?;
                }
            }
        }
        let colors: Vec<RGBColor> = (0..self.series.len()).map(color).collect();
        draw_legend(&legend, &self.labels(), &colors)?;
        if self.series.len() == 1 {
            legend
                .draw(&Text::new(
                    self.series[0].label.clone(),
                    (12, 4),
                    font(13).color(&MUTED),
                ))
                .map_err(draw_error)?;
        }
        Ok(())
    }
}

/// Everything that identifies a family of tests except the swept parameter.
type Family = (String, String, String, String, String, String);

fn family_label(f: &Family, several_devices: bool) -> String {
    let (device, model, quant, workload, target, extra) = f;
    let mut label = format!("{model} {quant} {workload} · {target}");
    if !extra.is_empty() {
        label.push_str(&format!(" · {extra}"));
    }
    if several_devices {
        label.push_str(&format!(" · {device}"));
    }
    label
}

fn options_text(test: &TestRecord) -> String {
    test.parameters
        .options
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Series with at least two distinct x values, as lines sorted by x.
fn to_series(families: BTreeMap<Family, Vec<Point>>, several_devices: bool) -> Vec<Series> {
    families
        .into_iter()
        .filter_map(|(f, mut points)| {
            points.sort_by(|a, b| a.x.total_cmp(&b.x));
            points.dedup_by(|a, b| a.x == b.x);
            (points.len() > 1).then(|| Series {
                label: family_label(&f, several_devices),
                points,
            })
        })
        .collect()
}

fn point(x: f64, s: &edgebench_harness::stats::Summary) -> Point {
    Point {
        x,
        y: s.median,
        ci: (s.n > 1).then_some((s.ci95_low, s.ci95_high)),
    }
}

/// Tests of each model, models by name: scaling charts are drawn per model, so that each has
/// its own axes (a tiny test model at thousands of t/s would flatten a full-size model's
/// lines).
fn by_model<'a>(tests: &[&'a TestRecord]) -> BTreeMap<&'a str, Vec<&'a TestRecord>> {
    let mut out: BTreeMap<&str, Vec<&TestRecord>> = BTreeMap::new();
    for &t in tests {
        out.entry(t.scenario.model.as_str()).or_default().push(t);
    }
    out
}

/// `scaling-threads-tg-llama3-8b`: a file-name-safe chart name.
fn chart_name(prefix: &str, model: &str) -> String {
    let safe: String = model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{prefix}-{safe}")
}

/// t/s against threads, per model and rate (pp, tg), for test families run at two or more
/// thread counts.
pub fn scaling_threads<T: Borrow<TestRecord>>(tests: &[T]) -> Vec<LineChart> {
    let tests = &super::refs(tests);
    let several_devices = super::device_names(tests).len() > 1;
    let mut charts = Vec::new();
    for (model, mine) in by_model(tests) {
        let rows = rows_of(sorted_refs(mine));
        for (phase, name, rate) in [
            (Phase::Prefill, "scaling-threads-pp", "prompt processing"),
            (Phase::Decode, "scaling-threads-tg", "token generation"),
        ] {
            let mut families: BTreeMap<Family, Vec<Point>> = BTreeMap::new();
            for row in rows.iter().filter(|r| r.phase == phase) {
                let (Some(s), threads) = (row.tps(), row.test.parameters.threads) else {
                    continue;
                };
                if threads == 0 {
                    continue;
                }
                let t = row.test;
                let family = (
                    t.environment.device.clone(),
                    t.scenario.model.clone(),
                    t.scenario.quant.clone(),
                    workload_name(t),
                    target_label(t),
                    options_text(t),
                );
                families
                    .entry(family)
                    .or_default()
                    .push(point(threads as f64, s));
            }
            let series = to_series(families, several_devices);
            if !series.is_empty() {
                charts.push(LineChart {
                    name: chart_name(name, model),
                    title: format!("Scaling with threads: {rate} · {model}"),
                    x_desc: "threads (log scale)".into(),
                    y_desc: format!("{} t/s (tokens per second)", phase.short()),
                    series,
                });
            }
        }
    }
    charts
}

/// Tests in table order.
fn sorted_refs(mut tests: Vec<&TestRecord>) -> Vec<&TestRecord> {
    tests.sort_by(|a, b| crate::order::compare(a, b));
    tests
}

/// Prompt-processing t/s against prompt length, per model, for families run at two or more
/// lengths.
pub fn scaling_prompt<T: Borrow<TestRecord>>(tests: &[T]) -> Vec<LineChart> {
    let tests = &super::refs(tests);
    let several_devices = super::device_names(tests).len() > 1;
    let mut charts = Vec::new();
    for (model, mine) in by_model(tests) {
        let mut families: BTreeMap<Family, Vec<Point>> = BTreeMap::new();
        for row in rows_of(sorted_refs(mine))
            .into_iter()
            .filter(|r| r.phase == Phase::Prefill && r.test.scenario.gen_tokens == 0)
        {
            let t = row.test;
            let Some(s) = row.tps() else { continue };
            if t.scenario.prompt_tokens == 0 {
                continue;
            }
            let mut extra = format!("{} thr", t.parameters.threads);
            let options = options_text(t);
            if !options.is_empty() {
                extra.push_str(&format!(" {options}"));
            }
            let family = (
                t.environment.device.clone(),
                t.scenario.model.clone(),
                t.scenario.quant.clone(),
                "pp".to_string(),
                target_label(t),
                extra,
            );
            families
                .entry(family)
                .or_default()
                .push(point(t.scenario.prompt_tokens as f64, s));
        }
        let series = to_series(families, several_devices);
        if !series.is_empty() {
            charts.push(LineChart {
                name: chart_name("scaling-prompt", model),
                title: format!("Scaling with prompt length: prompt processing · {model}"),
                x_desc: "prompt tokens (log scale)".into(),
                y_desc: "pp t/s (tokens per second)".into(),
                series,
            });
        }
    }
    charts
}
