//! Horizontal grouped bar charts, faceted by device: throughput (pp and tg t/s per scenario,
//! coloured by target), energy (J/token and t/s per W) and % of the memory-bandwidth roofline.
//!
//! Bars are horizontal so that scenario names read left to right, each bar has its own
//! 18-pixel slot (the chart grows with its bars, so 100+ bars never overlap), the value is
//! written at the end of each bar, and the 95% confidence interval of the mean is a whisker.

use super::{
    bold, color, draw_error, draw_legend, fit_text, font, impl_chart, legend_height, short_number,
    text_width, tick, KeyedAxis, INK, MUTED,
};
use crate::table::{rows, target_label, workload_name, Phase};
use edgebench_harness::schema::{Environment, TestRecord};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::BTreeSet;

const WIDTH: u32 = 1100;
const TITLE_H: u32 = 36;
const NOTE_H: u32 = 20;
const FACET_HEAD: u32 = 30;
const PANEL_HEAD: u32 = 30;
const AXIS_H: u32 = 50;
/// Pixels per bar.
const SLOT: f64 = 18.0;
/// Space between groups, in slots.
const GROUP_GAP: f64 = 0.6;
const MAX_LABEL_W: u32 = 380;

/// One bar: a value of one series (target) in one group (scenario).
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub group: String,
    pub series: String,
    pub value: f64,
    /// 95% confidence interval of the value, where known.
    pub ci: Option<(f64, f64)>,
}

/// Bars on one value axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub title: String,
    /// Axis description with its unit: `t/s (tokens per second, higher is better)`.
    pub axis: String,
    pub bars: Vec<Bar>,
}

/// The panels of one device.
#[derive(Debug, Clone, PartialEq)]
pub struct Facet {
    pub title: String,
    pub panels: Vec<Panel>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    pub name: String,
    pub title: String,
    /// Series in legend order; a bar's colour is its series' index here.
    pub series: Vec<String>,
    pub facets: Vec<Facet>,
    /// A line under the title (where a figure comes from).
    pub note: Option<String>,
}

impl_chart!(BarChart);

/// Groups of a panel in order of first appearance, with their bars.
fn groups(panel: &Panel) -> Vec<(&str, Vec<&Bar>)> {
    let mut out: Vec<(&str, Vec<&Bar>)> = Vec::new();
    for bar in &panel.bars {
        match out.iter_mut().find(|(g, _)| *g == bar.group) {
            Some((_, bars)) => bars.push(bar),
            None => out.push((&bar.group, vec![bar])),
        }
    }
    out
}

/// Slots a panel's bars take (bars plus the gaps between groups).
fn slots(panel: &Panel) -> f64 {
    let n = groups(panel).len();
    panel.bars.len() as f64 + GROUP_GAP * n.saturating_sub(1) as f64
}

fn panel_height(panel: &Panel) -> u32 {
    PANEL_HEAD + (slots(panel) * SLOT).ceil() as u32 + AXIS_H
}

impl BarChart {
    fn header_height(&self) -> u32 {
        TITLE_H + legend_height(&self.series, WIDTH) + if self.note.is_some() { NOTE_H } else { 0 }
    }

    fn pixel_size(&self) -> (u32, u32) {
        let body: u32 = self
            .facets
            .iter()
            .map(|f| FACET_HEAD + f.panels.iter().map(panel_height).sum::<u32>())
            .sum();
        (WIDTH, self.header_height() + body + 10)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        root.draw(&Text::new(self.title.clone(), (12, 10), bold(18)))
            .map_err(draw_error)?;
        let (_, rest) = root.split_vertically(TITLE_H);
        let (legend, rest) = rest.split_vertically(legend_height(&self.series, WIDTH));
        let colors: Vec<RGBColor> = (0..self.series.len()).map(color).collect();
        draw_legend(&legend, &self.series, &colors)?;
        let mut area = rest;
        if let Some(note) = &self.note {
            let (head, r) = area.split_vertically(NOTE_H);
            head.draw(&Text::new(note.clone(), (12, 2), font(12).color(&MUTED)))
                .map_err(draw_error)?;
            area = r;
        }
        for facet in &self.facets {
            let (head, r) = area.split_vertically(FACET_HEAD);
            head.draw(&Text::new(facet.title.clone(), (12, 8), bold(15)))
                .map_err(draw_error)?;
            area = r;
            for panel in &facet.panels {
                let (pa, r) = area.split_vertically(panel_height(panel));
                area = r;
                self.draw_panel(&pa, panel)?;
            }
        }
        Ok(())
    }

    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        panel: &Panel,
    ) -> anyhow::Result<()> {
        let groups = groups(panel);
        let total = slots(panel).max(1.0);
        // Slot centres from the top; the axis runs bottom-up, so y = total − position.
        let mut centres = Vec::new();
        let mut bar_y = Vec::new();
        let mut pos = 0.0;
        for (g, (_, bars)) in groups.iter().enumerate() {
            if g > 0 {
                pos += GROUP_GAP;
            }
            let first = pos;
            for bar in bars {
                bar_y.push((*bar, total - (pos + 0.5)));
                pos += 1.0;
            }
            centres.push(total - (first + pos) / 2.0);
        }
        let label_style = font(12);
        let labels: Vec<String> = groups
            .iter()
            .map(|(g, _)| fit_text(area, g, &label_style, MAX_LABEL_W))
            .collect();
        let label_w = labels
            .iter()
            .map(|l| text_width(area, l, &label_style))
            .max()
            .unwrap_or(40)
            .clamp(60, MAX_LABEL_W)
            + 14;
        let max = panel
            .bars
            .iter()
            .map(|b| b.ci.map_or(b.value, |(_, hi)| hi.max(b.value)))
            .fold(0.0f64, f64::max);
        let xmax = if max > 0.0 { max * 1.18 } else { 1.0 };
        let mut chart = ChartBuilder::on(area)
            .caption(panel.title.clone(), bold(14))
            .margin_left(6)
            .margin_right(24)
            .x_label_area_size(AXIS_H - 6)
            .y_label_area_size(label_w)
            .build_cartesian_2d(
                0.0..xmax,
                KeyedAxis {
                    lo: 0.0,
                    hi: total,
                    keys: centres.clone(),
                },
            )
            .map_err(draw_error)?;
        let label_of = |v: &f64| -> String {
            centres
                .iter()
                .position(|c| (c - v).abs() < 1e-6)
                .map(|i| labels[i].clone())
                .unwrap_or_default()
        };
        let x_fmt = |v: &f64| tick(*v);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(0xe0, 0xe0, 0xe0))
            .x_desc(panel.axis.clone())
            .x_labels(8)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&label_of)
            .x_label_style(font(12))
            .y_label_style(label_style.clone())
            .axis_desc_style(font(13))
            .draw()
            .map_err(draw_error)?;
        for (i, series) in self.series.iter().enumerate() {
            let fill = color(i).filled();
            let mine: Vec<&(&Bar, f64)> =
                bar_y.iter().filter(|(b, _)| &b.series == series).collect();
            if mine.is_empty() {
                continue;
            }
            chart
                .draw_series(mine.iter().map(|(b, y)| {
                    Rectangle::new([(0.0, y - 0.39), (b.value.max(0.0), y + 0.39)], fill)
                }))
                .map_err(draw_error)?;
        }
        // Confidence whiskers and values, on top of the bars.
        let whisker = ShapeStyle::from(&INK).stroke_width(1);
        for (b, y) in &bar_y {
            if let Some((lo, hi)) = b.ci.filter(|(lo, hi)| hi > lo) {
                chart
                    .draw_series([
                        PathElement::new(vec![(lo, *y), (hi, *y)], whisker),
                        PathElement::new(vec![(lo, y - 0.2), (lo, y + 0.2)], whisker),
                        PathElement::new(vec![(hi, y - 0.2), (hi, y + 0.2)], whisker),
                    ])
                    .map_err(draw_error)?;
            }
            let end = b.ci.map_or(b.value, |(_, hi)| hi.max(b.value));
            chart
                .draw_series([Text::new(
                    short_number(b.value),
                    (end + xmax * 0.008, *y),
                    font(11).pos(Pos::new(HPos::Left, VPos::Center)),
                )])
                .map_err(draw_error)?;
        }
        Ok(())
    }
}

/// `llama3-8b q4_k_m pp512`, with threads and options when the device has several.
fn group_label(test: &TestRecord, with_threads: bool, with_options: bool) -> String {
    let mut label = format!(
        "{} {} {}",
        test.scenario.model,
        test.scenario.quant,
        workload_name(test)
    );
    if with_threads && test.parameters.threads > 0 {
        label.push_str(&format!(" · {} thr", test.parameters.threads));
    }
    if with_options && !test.parameters.options.is_empty() {
        let options: Vec<String> = test
            .parameters
            .options
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        label.push_str(&format!(" · {}", options.join(" ")));
    }
    label
}

/// Tests of each device, devices sorted by name.
fn by_device(tests: &[TestRecord]) -> Vec<(String, Vec<TestRecord>)> {
    crate::merge::devices(tests)
        .into_iter()
        .map(|d| {
            let mine = tests
                .iter()
                .filter(|t| t.environment.device == d)
                .cloned()
                .collect();
            (d, mine)
        })
        .collect()
}

fn device_title(device: &str) -> String {
    if device.is_empty() {
        "unknown device".into()
    } else {
        device.to_string()
    }
}

/// What distinguishes tests of one device: (several thread counts, several option sets).
fn variety(tests: &[TestRecord]) -> (bool, bool) {
    let threads: BTreeSet<usize> = tests.iter().map(|t| t.parameters.threads).collect();
    let options: BTreeSet<String> = tests
        .iter()
        .map(|t| format!("{:?}", t.parameters.options))
        .collect();
    (threads.len() > 1, options.len() > 1)
}

/// Series (targets) in sorted order, over tests with a bar.
fn series_of(panels: &[Facet]) -> Vec<String> {
    let set: BTreeSet<String> = panels
        .iter()
        .flat_map(|f| f.panels.iter().flat_map(|p| p.bars.iter()))
        .map(|b| b.series.clone())
        .collect();
    set.into_iter().collect()
}

/// (a) Prompt processing and token generation t/s per scenario, coloured by target, one facet
/// per device. `None` when no test has a rate.
pub fn throughput(tests: &[TestRecord]) -> Option<BarChart> {
    let mut facets = Vec::new();
    for (device, mine) in by_device(tests) {
        let (threads, options) = variety(&mine);
        let mut pp = Vec::new();
        let mut tg = Vec::new();
        for row in rows(&mine) {
            let Some(s) = row.tps() else { continue };
            let bar = Bar {
                group: group_label(row.test, threads, options),
                series: target_label(row.test),
                value: s.median,
                ci: (s.n > 1).then_some((s.ci95_low, s.ci95_high)),
            };
            match row.phase {
                Phase::Prefill => pp.push(bar),
                Phase::Decode => tg.push(bar),
                Phase::Whole => {}
            }
        }
        let mut panels = Vec::new();
        if !pp.is_empty() {
            panels.push(Panel {
                title: "Prompt processing (pp)".into(),
                axis: "prompt tokens per second (t/s, higher is better)".into(),
                bars: pp,
            });
        }
        if !tg.is_empty() {
            panels.push(Panel {
                title: "Token generation (tg)".into(),
                axis: "generated tokens per second (t/s, higher is better)".into(),
                bars: tg,
            });
        }
        if !panels.is_empty() {
            facets.push(Facet {
                title: device_title(&device),
                panels,
            });
        }
    }
    if facets.is_empty() {
        return None;
    }
    Some(BarChart {
        name: "throughput".into(),
        title: "Throughput: median t/s per scenario, by target (whiskers: 95% CI of the mean)"
            .into(),
        series: series_of(&facets),
        facets,
        note: None,
    })
}

/// (b) Energy per token and t/s per watt, where the device measured energy or power. The
/// t/s per W of a phase is its median rate over the average power the sensors saw in that
/// phase. `None` when no test has either.
pub fn energy(tests: &[TestRecord]) -> Option<BarChart> {
    let mut facets = Vec::new();
    for (device, mine) in by_device(tests) {
        let (threads, options) = variety(&mine);
        let mut joules = Vec::new();
        let mut per_watt = Vec::new();
        for row in rows(&mine) {
            let group = format!(
                "{} ({})",
                group_label(row.test, threads, options),
                row.phase.short()
            );
            let series = target_label(row.test);
            if let Some(s) = row.energy() {
                joules.push(Bar {
                    group: group.clone(),
                    series: series.clone(),
                    value: s.median,
                    ci: (s.n > 1).then_some((s.ci95_low, s.ci95_high)),
                });
            }
            let sensor_phase = match row.phase {
                Phase::Prefill => "prefill",
                Phase::Decode => "decode",
                Phase::Whole => continue,
            };
            let watts = row.test.sensors.avg_power_w.get(sensor_phase).copied();
            if let (Some(s), Some(w)) = (row.tps(), watts.filter(|w| *w > 0.0)) {
                per_watt.push(Bar {
                    group,
                    series,
                    value: s.median / w,
                    ci: None,
                });
            }
        }
        let mut panels = Vec::new();
        if !joules.is_empty() {
            panels.push(Panel {
                title: "Energy per token".into(),
                axis: "joules per token (J/token, lower is better)".into(),
                bars: joules,
            });
        }
        if !per_watt.is_empty() {
            panels.push(Panel {
                title: "Efficiency: median t/s ÷ average power of the phase".into(),
                axis: "tokens per second per watt (t/s per W, higher is better)".into(),
                bars: per_watt,
            });
        }
        if !panels.is_empty() {
            facets.push(Facet {
                title: device_title(&device),
                panels,
            });
        }
    }
    if facets.is_empty() {
        return None;
    }
    Some(BarChart {
        name: "energy".into(),
        title: "Energy: J/token and t/s per W, by target".into(),
        series: series_of(&facets),
        facets,
        note: None,
    })
}

/// Keys of [`Environment::extra`] holding the device's memory bandwidth in GB/s: a measured
/// figure first, else the catalog's peak.
pub const BANDWIDTH_KEYS: [&str; 2] = ["memory_bandwidth_gbs", "peak_memory_bandwidth_gbs"];

/// The memory bandwidth a device's results name, GB/s, and the key it came from.
pub fn bandwidth_gbs(env: &Environment) -> Option<(f64, &'static str)> {
    BANDWIDTH_KEYS.iter().find_map(|k| {
        env.extra
            .get(*k)
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| *v > 0.0)
            .map(|v| (v, *k))
    })
}

/// (e) % of the memory-bandwidth roofline in token generation: weight bytes read per token ×
/// median tg t/s ÷ the device's memory bandwidth. Only for devices whose results carry a
/// bandwidth (see [`BANDWIDTH_KEYS`]); `None` when none does.
pub fn roofline(tests: &[TestRecord]) -> Option<BarChart> {
    let mut facets = Vec::new();
    let mut sources = BTreeSet::new();
    for (device, mine) in by_device(tests) {
        let (threads, options) = variety(&mine);
        let mut bars = Vec::new();
        for row in rows(&mine) {
            if row.phase != Phase::Decode {
                continue;
            }
            let Some((bw, key)) = bandwidth_gbs(&row.test.environment) else {
                continue;
            };
            let bytes = row
                .test
                .model
                .as_ref()
                .and_then(|m| m.weight_bytes)
                .unwrap_or(row.test.scenario.model_bytes);
            let Some(s) = row.tps() else { continue };
            if bytes == 0 {
                continue;
            }
            sources.insert(key);
            bars.push(Bar {
                group: group_label(row.test, threads, options),
                series: target_label(row.test),
                value: bytes as f64 * s.median / (bw * 1e9) * 100.0,
                ci: None,
            });
        }
        if !bars.is_empty() {
            facets.push(Facet {
                title: device_title(&device),
                panels: vec![Panel {
                    title: "Token generation: share of memory bandwidth used".into(),
                    axis: "% of memory-bandwidth roofline (weight bytes × t/s ÷ bandwidth)".into(),
                    bars,
                }],
            });
        }
    }
    if facets.is_empty() {
        return None;
    }
    let keys: Vec<&str> = sources.into_iter().collect();
    Some(BarChart {
        name: "roofline".into(),
        title: "Roofline: % of memory bandwidth in token generation".into(),
        series: series_of(&facets),
        facets,
        note: Some(format!("bandwidth from the results' {}", keys.join(", "))),
    })
}
