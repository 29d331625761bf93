//! Horizontal grouped bar charts, one facet per model so that each model has its own axes:
//! throughput (pp and tg t/s; a speech model's real-time factor and decoder steps/s), energy
//! (J/token and t/s per W) and % of the memory-bandwidth roofline. Bars are coloured by
//! target and grouped by device, quantization and workload; a thread sweep shows its fastest
//! thread count (the scaling charts show every one), so a chart stays readable at the scale of
//! a lab's results.
//!
//! Bars are horizontal so that scenario names read left to right, each bar has its own
//! 18-pixel slot (the chart grows with its bars, so 100+ bars never overlap), the value is
//! written at the end of each bar, and the 95% confidence interval of the mean is a whisker.

use super::refs;
use super::{
    bold, color, draw_error, draw_legend, fit_text, font, impl_chart, legend_height, short_number,
    text_width, tick, KeyedAxis, INK, MUTED,
};
use crate::table::{is_speech, rows_of, target_label, workload_name, Phase, Row};
use edgebench_harness::schema::{metric, Environment, TestRecord};
use edgebench_harness::stats::Summary;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

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
const MAX_LABEL_W: u32 = 440;

/// One bar: a value of one series (target) in one group (scenario).
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub group: String,
    pub series: String,
    pub value: f64,
    /// 95% confidence interval of the value, where known.
    pub ci: Option<(f64, f64)>,
    /// Written after the value at the bar's end (`4 thr`: the thread count a bar was picked
    /// at).
    pub note: Option<String>,
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
        // Room at the right for the value (and note) written after the longest bar.
        let headroom = if panel.bars.iter().any(|b| b.note.is_some()) {
            1.3
        } else {
            1.18
        };
        let xmax = if max > 0.0 { max * headroom } else { 1.0 };
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
                    match &b.note {
                        Some(note) => format!("{} · {note}", short_number(b.value)),
                        None => short_number(b.value),
                    },
                    (end + xmax * 0.008, *y),
                    font(11).pos(Pos::new(HPos::Left, VPos::Center)),
                )])
                .map_err(draw_error)?;
        }
        Ok(())
    }
}

/// A row the bar charts show, and the thread counts it was picked from.
struct Picked<'a> {
    row: Row<'a>,
    /// Thread counts the same device, model, quantization, workload, target and options ran
    /// with; the row is the fastest of them.
    thread_counts: usize,
}

/// The rows of `tests` (latest runs) the bar charts show: for each device, model,
/// quantization, workload, phase, target and option set, the thread count with the highest
/// rate (a sweep's every thread count is in the scaling charts and the tables). Table order.
fn fastest_rows<'a>(tests: &[&'a TestRecord]) -> Vec<Picked<'a>> {
    type Key = (String, String, String, String, String, String, Phase);
    let mut index: HashMap<Key, usize> = HashMap::new();
    let mut picked: Vec<Picked> = Vec::new();
    let mut sorted = tests.to_vec();
    sorted.sort_by(|a, b| crate::order::compare(a, b));
    for row in rows_of(sorted) {
        let t = row.test;
        let key = (
            t.environment.device.clone(),
            t.scenario.model.clone(),
            t.scenario.quant.clone(),
            workload_name(t),
            target_label(t),
            format!("{:?}", t.parameters.options),
            row.phase,
        );
        let rate = |r: &Row| r.tps().map_or(f64::NEG_INFINITY, |s| s.median);
        match index.get(&key) {
            Some(&i) => {
                let p = &mut picked[i];
                p.thread_counts += 1;
                if rate(&row) > rate(&p.row) {
                    p.row = row;
                }
            }
            None => {
                index.insert(key, picked.len());
                picked.push(Picked {
                    row,
                    thread_counts: 1,
                });
            }
        }
    }
    picked
}

/// The picked rows of each model, models by name.
fn by_model<'a, 'b>(picked: &'b [Picked<'a>]) -> BTreeMap<&'a str, Vec<&'b Picked<'a>>> {
    let mut out: BTreeMap<&str, Vec<&Picked>> = BTreeMap::new();
    for p in picked {
        out.entry(p.row.test.scenario.model.as_str())
            .or_default()
            .push(p);
    }
    out
}

/// Labels of bars: the device (when the results have several), quantization, workload,
/// options.
struct Labels {
    with_device: bool,
    with_options: bool,
}

impl Labels {
    fn new(tests: &[&TestRecord]) -> Self {
        let options: BTreeSet<String> = tests
            .iter()
            .map(|t| format!("{:?}", t.parameters.options))
            .collect();
        Labels {
            with_device: super::device_names(tests).len() > 1,
            with_options: options.len() > 1,
        }
    }

    /// `Raspberry Pi 5 · q4_k_m pp512`.
    fn group(&self, test: &TestRecord) -> String {
        let mut label = String::new();
        if self.with_device {
            label.push_str(&device_title(&test.environment.device));
            label.push_str(" · ");
        }
        label.push_str(&format!("{} {}", test.scenario.quant, workload_name(test)));
        if self.with_options && !test.parameters.options.is_empty() {
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

    /// `4 thr`, when the bar is the fastest of several thread counts.
    fn note(p: &Picked) -> Option<String> {
        (p.thread_counts > 1 && p.row.test.parameters.threads > 0)
            .then(|| format!("{} thr", p.row.test.parameters.threads))
    }

    /// The facet of one model: its name, and the device when the results have only one.
    fn facet(&self, model: &str, tests: &[&Picked]) -> String {
        match tests.first() {
            Some(p) if !self.with_device => {
                format!("{model} · {}", device_title(&p.row.test.environment.device))
            }
            _ => model.to_string(),
        }
    }
}

fn device_title(device: &str) -> String {
    if device.is_empty() {
        "unknown device".into()
    } else {
        device.to_string()
    }
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

fn bar(group: String, p: &Picked, s: &Summary, value_scale: f64) -> Bar {
    Bar {
        group,
        series: target_label(p.row.test),
        value: s.median * value_scale,
        ci: (s.n > 1).then_some((s.ci95_low * value_scale, s.ci95_high * value_scale)),
        note: Labels::note(p),
    }
}

/// (a) Throughput, one facet per model so that every model has its own axes (a tiny test
/// model at thousands of t/s does not flatten a full-size model's bars): prompt processing and
/// token generation t/s for an LLM; real-time factor and decoder steps/s for a speech model.
/// Bars are coloured by target, grouped by device, quantization and workload, each at its
/// fastest thread count. `None` when no test has a rate.
pub fn throughput<T: Borrow<TestRecord>>(tests: &[T]) -> Option<BarChart> {
    let tests = &refs(tests);
    let labels = Labels::new(tests);
    let picked = fastest_rows(tests);
    let mut facets = Vec::new();
    for (model, mine) in by_model(&picked) {
        let mut pp = Vec::new();
        let mut tg = Vec::new();
        let mut rtf = Vec::new();
        let mut steps = Vec::new();
        let speech = mine.iter().any(|p| is_speech(p.row.test));
        for p in &mine {
            let group = labels.group(p.row.test);
            if speech {
                if p.row.first {
                    if let Some(s) = p.row.summary(metric::RTF) {
                        rtf.push(bar(group.clone(), p, s, 1.0));
                    }
                }
                if let (Phase::Decode, Some(s)) = (p.row.phase, p.row.tps()) {
                    steps.push(bar(group, p, s, 1.0));
                }
                continue;
            }
            let Some(s) = p.row.tps() else { continue };
            match p.row.phase {
                Phase::Prefill => pp.push(bar(group, p, s, 1.0)),
                Phase::Decode => tg.push(bar(group, p, s, 1.0)),
                Phase::Whole => {}
            }
        }
        let mut panels = Vec::new();
        for (bars, title, axis) in [
            (
                pp,
                "Prompt processing (pp)",
                "prompt tokens per second (t/s, higher is better)",
            ),
            (
                tg,
                "Token generation (tg)",
                "generated tokens per second (t/s, higher is better)",
            ),
            (
                rtf,
                "Transcription: real-time factor",
                "seconds of audio per second of compute (× real time, higher is better)",
            ),
            (
                steps,
                "Decoder steps",
                "single-token decoder steps per second (higher is better)",
            ),
        ] {
            if !bars.is_empty() {
                panels.push(Panel {
                    title: title.into(),
                    axis: axis.into(),
                    bars,
                });
            }
        }
        if !panels.is_empty() {
            facets.push(Facet {
                title: labels.facet(model, &mine),
                panels,
            });
        }
    }
    if facets.is_empty() {
        return None;
    }
    Some(BarChart {
        name: "throughput".into(),
        title: "Throughput per model: median, by target (whiskers: 95% CI of the mean)".into(),
        series: series_of(&facets),
        facets,
        note: Some("each model on its own axes; a sweep's bar is its fastest thread count".into()),
    })
}

/// (b) Energy per token and t/s per watt of LLM tests, where the device measured energy or
/// power, one facet per model. The t/s per W of a phase is its median rate over the average
/// power the sensors saw in that phase. `None` when no test has either.
pub fn energy<T: Borrow<TestRecord>>(tests: &[T]) -> Option<BarChart> {
    let tests = &refs(tests);
    let labels = Labels::new(tests);
    let picked = fastest_rows(tests);
    let mut facets = Vec::new();
    for (model, mine) in by_model(&picked) {
        let mut joules = Vec::new();
        let mut per_watt = Vec::new();
        for p in mine.iter().filter(|p| !is_speech(p.row.test)) {
            let row = &p.row;
            let group = format!("{} ({})", labels.group(row.test), row.phase.short());
            if let Some(s) = row.energy() {
                joules.push(bar(group.clone(), p, s, 1.0));
            }
            let sensor_phase = match row.phase {
                Phase::Prefill => "prefill",
                Phase::Decode => "decode",
                Phase::Whole => continue,
            };
            let watts = row.test.sensors.avg_power_w.get(sensor_phase).copied();
            if let (Some(s), Some(w)) = (row.tps(), watts.filter(|w| *w > 0.0)) {
                per_watt.push(Bar {
                    ci: None,
                    ..bar(group, p, s, 1.0 / w)
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
                title: labels.facet(model, &mine),
                panels,
            });
        }
    }
    if facets.is_empty() {
        return None;
    }
    Some(BarChart {
        name: "energy".into(),
        title: "Energy per model: J/token and t/s per W, by target".into(),
        series: series_of(&facets),
        facets,
        note: Some("a sweep's bar is its fastest thread count".into()),
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

/// (e) % of the memory-bandwidth roofline in token generation, one facet per model: weight
/// bytes read per token × median tg t/s ÷ the device's memory bandwidth. Only for devices
/// whose results carry a bandwidth (see [`BANDWIDTH_KEYS`]); `None` when none does.
pub fn roofline<T: Borrow<TestRecord>>(tests: &[T]) -> Option<BarChart> {
    let tests = &refs(tests);
    let labels = Labels::new(tests);
    let picked = fastest_rows(tests);
    let mut facets = Vec::new();
    let mut sources = BTreeSet::new();
    for (model, mine) in by_model(&picked) {
        let mut bars = Vec::new();
        for p in mine.iter().filter(|p| !is_speech(p.row.test)) {
            let row = &p.row;
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
                ci: None,
                ..bar(
                    labels.group(row.test),
                    p,
                    s,
                    bytes as f64 / (bw * 1e9) * 100.0,
                )
            });
        }
        if !bars.is_empty() {
            facets.push(Facet {
                title: labels.facet(model, &mine),
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
        title: "Roofline per model: % of memory bandwidth in token generation".into(),
        series: series_of(&facets),
        facets,
        note: Some(format!(
            "bandwidth from the results' {}; a sweep's bar is its fastest thread count",
            keys.join(", ")
        )),
    })
}
