//! (c) Thermal timeline of one test: the rate of each repetition, and — where the test's sensor
//! timeline file is found — temperature, clock and power over time on twin axes, with the
//! repetitions the device reported as throttled shaded.
//!
//! The timeline file is optional. Without it the x axis is the repetition number and only the
//! rates (and throttled repetitions) are drawn, with the sensor summary written under the title.
//! With it, the x axis is seconds since the test's first sample and each repetition's rate is
//! placed at the middle of its measured phases (from the runner's phase markers).

use super::{bold, color, draw_error, font, impl_chart, tick, MUTED, THROTTLE};
use edgebench_harness::protocol::Phase;
use edgebench_harness::sampler::{Sample, Timeline};
use edgebench_harness::schema::{metric, TestRecord};
use edgebench_harness::sensors::Quantity;
use edgebench_harness::timeline_file;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const WIDTH: u32 = 1000;
const TITLE_H: u32 = 56;
const PANEL_H: u32 = 300;
const LEGEND_H: u32 = 26;

#[derive(Debug, Clone, PartialEq)]
pub struct TimelineChart {
    pub name: String,
    pub title: String,
    /// Sensor summary or why there is no timeline, under the title.
    pub note: String,
    pub x_desc: String,
    /// `tg t/s` or `pp t/s`.
    pub rate_name: String,
    /// (x, rate) per repetition.
    pub rates: Vec<(f64, f64)>,
    /// x spans of throttled repetitions.
    pub throttled: Vec<(f64, f64)>,
    /// Highest temperature over all zones per sample, °C.
    pub temperature: Vec<(f64, f64)>,
    /// Mean CPU clock per sample, MHz.
    pub clock: Vec<(f64, f64)>,
    /// Total power per sample, W.
    pub power: Vec<(f64, f64)>,
}

impl_chart!(TimelineChart);

impl TimelineChart {
    fn has_sensors(&self) -> bool {
        !(self.temperature.is_empty() && self.clock.is_empty() && self.power.is_empty())
    }

    fn pixel_size(&self) -> (u32, u32) {
        let panels = if self.clock.is_empty() && self.power.is_empty() {
            1
        } else {
            2
        };
        (WIDTH, TITLE_H + panels * (PANEL_H + LEGEND_H) + 10)
    }

    fn x_range(&self) -> (f64, f64) {
        let xs = self
            .rates
            .iter()
            .chain(&self.temperature)
            .chain(&self.clock)
            .chain(&self.power)
            .map(|p| p.0)
            .chain(self.throttled.iter().flat_map(|s| [s.0, s.1]));
        let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        if !lo.is_finite() {
            return (0.0, 1.0);
        }
        if self.has_sensors() {
            (lo.min(0.0), hi.max(lo + 1.0))
        } else {
            (lo - 0.5, hi + 0.5)
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        root.draw(&Text::new(self.title.clone(), (12, 10), bold(17)))
            .map_err(draw_error)?;
        root.draw(&Text::new(
            self.note.clone(),
            (12, 34),
            font(12).color(&MUTED),
        ))
        .map_err(draw_error)?;
        let (_, rest) = root.split_vertically(TITLE_H);
        let (top, bottom) = rest.split_vertically(PANEL_H + LEGEND_H);
        let (x0, x1) = self.x_range();
        let rate_color = color(0);
        let temp_color = color(2);
        let rate_max = max_y(&self.rates);
        // Top: rates (left axis), temperature (right axis).
        self.panel(
            &top,
            (x0, x1),
            (
                &self.rate_name,
                format!("{} (tokens per second)", self.rate_name),
                rate_max,
            ),
            &self.rates,
            rate_color,
            true,
            (!self.temperature.is_empty()).then(|| {
                (
                    "temperature (max over zones)".to_string(),
                    "temperature (°C)".to_string(),
                    &self.temperature[..],
                    temp_color,
                )
            }),
        )?;
        if !self.clock.is_empty() || !self.power.is_empty() {
            // Bottom: clock (left axis), power (right axis).
            let (left, right) = if self.clock.is_empty() {
                (("power", "power (W)", &self.power[..]), None)
            } else {
                (
                    ("clock (mean over CPUs)", "CPU clock (MHz)", &self.clock[..]),
                    (!self.power.is_empty()).then_some((
                        "power (total)",
                        "power (W)",
                        &self.power[..],
                    )),
                )
            };
            self.panel(
                &bottom,
                (x0, x1),
                (left.0, left.1.to_string(), max_y(left.2)),
                left.2,
                color(4),
                false,
                right.map(|(n, d, s)| (n.to_string(), d.to_string(), s, color(1))),
            )?;
        }
        Ok(())
    }

    /// One panel: a series on the left axis and optionally one on the right, throttled spans
    /// shaded, a legend strip under it.
    #[allow(clippy::too_many_arguments)]
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        (x0, x1): (f64, f64),
        (left_name, left_desc, left_max): (&str, String, f64),
        left: &[(f64, f64)],
        left_color: RGBColor,
        points: bool,
        right: Option<RightAxis>,
    ) -> anyhow::Result<()> {
        let (plot, legend) = area.split_vertically(PANEL_H);
        let right_range = right.as_ref().map(|(_, _, s, _)| {
            let (lo, hi) = s
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                    (a.min(p.1), b.max(p.1))
                });
            let pad = ((hi - lo) * 0.15).max(1.0);
            (lo - pad, hi + pad)
        });
        let mut chart = ChartBuilder::on(&plot)
            .margin_left(10)
            .margin_right(10)
            .margin_top(8)
            .x_label_area_size(44)
            .y_label_area_size(72)
            .right_y_label_area_size(if right.is_some() { 72 } else { 10 })
            .build_cartesian_2d(x0..x1, 0.0..left_max)
            .map_err(draw_error)?
            .set_secondary_coord(x0..x1, right_range.map_or(0.0..1.0, |(lo, hi)| lo..hi));
        let fmt = |v: &f64| tick(*v);
        // Repetitions are whole numbers: no label between them.
        let by_repetition = !self.has_sensors();
        let x_fmt = |v: &f64| {
            if by_repetition && (v.fract().abs() > 1e-9 || *v < 1.0) {
                String::new()
            } else {
                tick(*v)
            }
        };
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(0xe6, 0xe6, 0xe6))
            .x_desc(self.x_desc.clone())
            .y_desc(left_desc)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&fmt)
            .x_label_style(font(12))
            .y_label_style(font(12))
            .axis_desc_style(font(13))
            .draw()
            .map_err(draw_error)?;
        chart
            .draw_series(self.throttled.iter().map(|&(a, b)| {
                Rectangle::new([(a, 0.0), (b, left_max)], THROTTLE.mix(0.8).filled())
            }))
            .map_err(draw_error)?;
        let style = ShapeStyle::from(&left_color).stroke_width(2);
        chart
            .draw_series(LineSeries::new(left.iter().copied(), style))
            .map_err(draw_error)?;
        if points {
            chart
                .draw_series(left.iter().map(|&p| Circle::new(p, 4, left_color.filled())))
                .map_err(draw_error)?;
        }
        let mut entries: Vec<(String, RGBColor)> = vec![(left_name.to_string(), left_color)];
        if let Some((name, desc, series, c)) = &right {
            chart
                .configure_secondary_axes()
                .y_desc(desc.clone())
                .label_style(font(12))
                .axis_desc_style(font(13))
                .y_label_formatter(&fmt)
                .draw()
                .map_err(draw_error)?;
            chart
                .draw_secondary_series(LineSeries::new(
                    series.iter().copied(),
                    ShapeStyle::from(c).stroke_width(2),
                ))
                .map_err(draw_error)?;
            entries.push((format!("{name} (right axis)"), *c));
        }
        if !self.throttled.is_empty() {
            entries.push(("throttled".into(), THROTTLE));
        }
        let mut x = 84;
        for (label, c) in entries {
            legend
                .draw(&Rectangle::new([(x, 5), (x + 14, 17)], c.filled()))
                .map_err(draw_error)?;
            legend
                .draw(&Text::new(label.clone(), (x + 20, 4), font(13)))
                .map_err(draw_error)?;
            x += 40 + super::text_width(&legend, &label, &font(13)) as i32;
        }
        Ok(())
    }
}

/// A series on the right axis: legend name, axis description, points, colour.
type RightAxis<'a> = (String, String, &'a [(f64, f64)], RGBColor);

fn max_y(series: &[(f64, f64)]) -> f64 {
    let m = series.iter().map(|p| p.1).fold(0.0f64, f64::max);
    if m > 0.0 {
        m * 1.15
    } else {
        1.0
    }
}

/// The headline rate of a test: tg t/s when it generates, else pp t/s.
fn headline(test: &TestRecord) -> Option<(&'static str, &'static str)> {
    let has = |m: &str| test.repetitions.iter().any(|r| r.metrics.contains_key(m));
    if has(metric::TG_TPS) {
        Some((metric::TG_TPS, "tg t/s"))
    } else if has(metric::PP_TPS) {
        Some((metric::PP_TPS, "pp t/s"))
    } else {
        None
    }
}

/// The thermal timeline of one test, `None` when it has no repetition with a rate.
pub fn timeline(test: &TestRecord, tl: Option<&Timeline>, name: &str) -> Option<TimelineChart> {
    let (metric_name, rate_name) = headline(test)?;
    let title = format!(
        "Thermal timeline: {} {} {} on {} · {} thr · {}",
        test.scenario.model,
        test.scenario.quant,
        crate::table::workload_name(test),
        crate::table::target_label(test),
        test.parameters.threads,
        if test.environment.device.is_empty() {
            "unknown device"
        } else {
            &test.environment.device
        }
    );
    let s = &test.sensors;
    let mut facts = Vec::new();
    if let Some(t) = s.max_temp_c {
        facts.push(format!("max {t:.1} °C"));
    }
    if let (Some(lo), Some(hi)) = (s.min_clock_mhz, s.max_clock_mhz) {
        facts.push(format!("clock {lo:.0}–{hi:.0} MHz"));
    }
    if let Some(p) = s.peak_power_w {
        facts.push(format!("peak {p:.1} W"));
    }
    let throttled_reps: Vec<usize> = test
        .repetitions
        .iter()
        .filter(|r| r.throttled == Some(true))
        .map(|r| r.index)
        .collect();
    if test.repetitions.iter().all(|r| r.throttled.is_none()) {
        facts.push("throttling not reported".into());
    } else {
        facts.push(format!(
            "{} of {} repetitions throttled",
            throttled_reps.len(),
            test.repetitions.len()
        ));
    }
    let rates_by_index: Vec<(usize, f64)> = test
        .repetitions
        .iter()
        .filter_map(|r| r.metrics.get(metric_name).map(|v| (r.index, *v)))
        .collect();
    let placed = tl.and_then(|tl| repetition_spans(tl, test));
    let mut chart = TimelineChart {
        name: name.to_string(),
        title,
        note: String::new(),
        x_desc: "repetition".into(),
        rate_name: rate_name.into(),
        rates: Vec::new(),
        throttled: Vec::new(),
        temperature: Vec::new(),
        clock: Vec::new(),
        power: Vec::new(),
    };
    match (tl, placed) {
        (Some(tl), Some(spans)) => {
            let t0 = tl.samples.first().map_or(0.0, |s| s.t_s);
            chart.x_desc = "time since the test's first sensor sample (s)".into();
            for (index, rate) in &rates_by_index {
                if let Some((a, b)) = spans.get(*index) {
                    chart.rates.push(((a + b) / 2.0 - t0, *rate));
                }
            }
            for index in &throttled_reps {
                if let Some((a, b)) = spans.get(*index) {
                    chart.throttled.push((a - t0, b - t0));
                }
            }
            chart.temperature = per_sample(tl, t0, |s| reduce(s, Quantity::TemperatureC, f64::max));
            chart.clock = per_sample(tl, t0, |s| mean(s, Quantity::ClockMhz));
            chart.power = power_series(tl, t0);
            facts.push(format!("{} sensor samples", tl.samples.len()));
        }
        (tl, _) => {
            for (index, rate) in &rates_by_index {
                chart.rates.push(((index + 1) as f64, *rate));
            }
            for index in &throttled_reps {
                let x = (index + 1) as f64;
                chart.throttled.push((x - 0.5, x + 0.5));
            }
            facts.push(match (tl, &s.timeline_file) {
                (Some(_), _) => {
                    "timeline file did not match the repetitions: per repetition".into()
                }
                (None, Some(f)) => format!("timeline file {f} not found: per repetition"),
                (None, None) => "no sensor timeline recorded: per repetition".into(),
            });
        }
    }
    chart.note = facts.join(" · ");
    Some(chart)
}

/// Thermal timelines worth drawing, at most `max`: tests with a timeline file first, then tests
/// with throttled repetitions, then the longest test (most repetitions) of each device.
pub fn timelines<T: std::borrow::Borrow<TestRecord>>(
    tests: &[T],
    by_test: &HashMap<String, Timeline>,
    max: usize,
) -> Vec<TimelineChart> {
    let tests = super::refs(tests);
    let mut picked: Vec<&TestRecord> = Vec::new();
    fn push<'a>(t: &'a TestRecord, picked: &mut Vec<&'a TestRecord>, max: usize) {
        if picked.len() < max && !picked.iter().any(|p| p.test_id == t.test_id) {
            picked.push(t);
        }
    }
    let mut candidates = tests.clone();
    candidates.sort_by(|a, b| crate::order::compare(a, b));
    for t in candidates
        .iter()
        .filter(|t| by_test.contains_key(&t.test_id))
    {
        push(t, &mut picked, max);
    }
    for t in candidates
        .iter()
        .filter(|t| t.repetitions.iter().any(|r| r.throttled == Some(true)))
    {
        push(t, &mut picked, max);
    }
    for device in super::device_names(&tests) {
        if let Some(t) = candidates
            .iter()
            .filter(|t| t.environment.device == device && headline(t).is_some())
            .max_by_key(|t| t.repetitions.len())
        {
            push(t, &mut picked, max);
        }
    }
    picked
        .into_iter()
        .enumerate()
        .filter_map(|(i, t)| timeline(t, by_test.get(&t.test_id), &format!("timeline-{}", i + 1)))
        .collect()
}

/// (start, end) of each measured repetition on the timeline's clock: the runner marks each
/// repetition's phases, so a repetition starts at each mark of the test's first measured phase
/// after the last warmup and ends at the next idle mark or the next repetition. `None` when
/// the count does not match the test's repetitions.
fn repetition_spans(tl: &Timeline, test: &TestRecord) -> Option<Vec<(f64, f64)>> {
    let first = if test.scenario.prompt_tokens > 0 {
        Phase::Prefill
    } else {
        Phase::Decode
    };
    let after_warmup = tl
        .marks
        .iter()
        .rposition(|(_, p)| *p == Phase::Warmup)
        .map_or(0, |i| i + 1);
    let marks = &tl.marks[after_warmup..];
    let end_of_timeline = tl.samples.last().map(|s| s.t_s)?;
    let mut spans = Vec::new();
    for (i, &(t, p)) in marks.iter().enumerate() {
        if p != first {
            continue;
        }
        let end = marks[i + 1..]
            .iter()
            .find(|(_, q)| *q == Phase::Idle || *q == first || *q == Phase::Load)
            .map_or(end_of_timeline, |m| m.0);
        spans.push((t, end));
    }
    (spans.len() == test.repetitions.len() && !spans.is_empty()).then_some(spans)
}

fn per_sample(tl: &Timeline, t0: f64, f: impl Fn(&Sample) -> Option<f64>) -> Vec<(f64, f64)> {
    tl.samples
        .iter()
        .filter_map(|s| f(s).map(|v| (s.t_s - t0, v)))
        .collect()
}

fn values(s: &Sample, q: Quantity) -> impl Iterator<Item = f64> + '_ {
    s.readings
        .iter()
        .filter(move |r| r.quantity == q)
        .map(|r| r.value)
}

fn reduce(s: &Sample, q: Quantity, f: fn(f64, f64) -> f64) -> Option<f64> {
    values(s, q).reduce(f)
}

fn mean(s: &Sample, q: Quantity) -> Option<f64> {
    let v: Vec<f64> = values(s, q).collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Whole-device power per sample: the sum of total power channels, else the rate of change of
/// the total energy counters between consecutive samples.
fn power_series(tl: &Timeline, t0: f64) -> Vec<(f64, f64)> {
    let total = |s: &Sample, q: Quantity| -> Option<f64> {
        let v: Vec<f64> = s
            .readings
            .iter()
            .filter(|r| r.quantity == q && r.total)
            .map(|r| r.value)
            .collect();
        (!v.is_empty()).then(|| v.iter().sum())
    };
    let direct = per_sample(tl, t0, |s| total(s, Quantity::PowerW));
    if !direct.is_empty() {
        return direct;
    }
    let energy: Vec<(f64, f64)> = per_sample(tl, t0, |s| total(s, Quantity::EnergyJ));
    energy
        .windows(2)
        .filter(|w| w[1].0 > w[0].0)
        .map(|w| {
            (
                (w[0].0 + w[1].0) / 2.0,
                (w[1].1 - w[0].1) / (w[1].0 - w[0].0),
            )
        })
        .collect()
}

/// The sensor timelines of these tests, found beside the results (see [`read_timeline`]), keyed
/// by test id. A run's side file (`<results>.timeline.jsonl`, one for all its tests) is read once
/// and cut to each test's `timeline_span_s`. Where folders of several runs hold a file of the
/// same name, the one written by the test's run (its `run_id`) is taken. A file that cannot be
/// read is one warning naming it.
pub fn read_test_timelines(
    tests: &[TestRecord],
    results_paths: &[PathBuf],
) -> (HashMap<String, Timeline>, Vec<String>) {
    let mut files: HashMap<PathBuf, Option<Timeline>> = HashMap::new();
    let mut out = HashMap::new();
    let mut warnings = Vec::new();
    for t in tests {
        let Some(rel) = t.sensors.timeline_file.as_deref() else {
            continue;
        };
        let Some(path) = locate(rel, results_paths, &t.run_id) else {
            continue;
        };
        let whole = files
            .entry(path)
            .or_insert_with_key(|path| match read_timeline_file(path) {
                Ok(tl) => Some(tl),
                Err(e) => {
                    warnings.push(format!("{e:#}"));
                    None
                }
            });
        if let Some(whole) = whole {
            let tl = match t.sensors.timeline_span_s {
                Some(span) => cut(whole, span),
                None => whole.clone(),
            };
            out.insert(t.test_id.clone(), tl);
        }
    }
    (out, warnings)
}

/// The file `rel` names beside the results (each results file's folder, or the folder given);
/// of several, the side file whose header names `run_id`, else the first.
fn locate(rel: &str, results_paths: &[PathBuf], run_id: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    let mut seen = Vec::new();
    for p in results_paths {
        let base = if p.is_dir() {
            p.as_path()
        } else {
            p.parent().unwrap_or(Path::new("."))
        };
        let candidate = base.join(rel);
        let canonical = std::fs::canonicalize(&candidate).unwrap_or(candidate.clone());
        if candidate.is_file() && !seen.contains(&canonical) {
            seen.push(canonical);
            found.push(candidate);
        }
    }
    if found.len() > 1 {
        let tag = format!(r#""run_id":{}"#, serde_json::Value::from(run_id));
        let written_by_run = |p: &PathBuf| {
            std::fs::File::open(p).is_ok_and(|f| {
                let mut first = String::new();
                std::io::BufRead::read_line(&mut std::io::BufReader::new(f), &mut first).is_ok()
                    && first.contains(&tag)
            })
        };
        if let Some(i) = found.iter().position(written_by_run) {
            return Some(found.swap_remove(i));
        }
    }
    found.into_iter().next()
}

/// The part of a run's timeline within `[from, to]`; the phase in force at `from` is kept.
fn cut(tl: &Timeline, [from, to]: [f64; 2]) -> Timeline {
    let within = |t: f64| t >= from && t <= to;
    let mut marks: Vec<(f64, Phase)> = Vec::new();
    if let Some((_, phase)) = tl.marks.iter().rev().find(|(t, _)| *t < from) {
        marks.push((from, *phase));
    }
    marks.extend(tl.marks.iter().filter(|(t, _)| within(*t)).cloned());
    Timeline {
        sensors: tl.sensors.clone(),
        samples: tl
            .samples
            .iter()
            .filter(|s| within(s.t_s))
            .cloned()
            .collect(),
        marks,
        warnings: tl
            .warnings
            .iter()
            .filter(|(t, _)| within(*t))
            .cloned()
            .collect(),
    }
}

/// Read a test's sensor timeline file: `rel` (as the record names it) is resolved against the
/// folder of each results path given (a file's folder, or the folder itself). The file is a run's
/// side file as the sampler writes it (see `edgebench_harness::timeline_file`), the harness's
/// `Timeline` as JSON, or JSONL with one sample (`{"t_s":…,"readings":[…]}`) a line.
/// `Ok(None)` when no such file exists; an error names the file and what is wrong with it.
pub fn read_timeline(rel: &str, results_paths: &[PathBuf]) -> anyhow::Result<Option<Timeline>> {
    let candidates = results_paths.iter().map(|p| {
        let base = if p.is_dir() {
            p.as_path()
        } else {
            p.parent().unwrap_or(Path::new("."))
        };
        base.join(rel)
    });
    let Some(path) = candidates.into_iter().find(|p| p.is_file()) else {
        return Ok(None);
    };
    read_timeline_file(&path).map(Some)
}

/// One timeline file, in any of the formats [`read_timeline`] reads.
fn read_timeline_file(path: &Path) -> anyhow::Result<Timeline> {
    let text =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if text.starts_with(r#"{"record":"timeline""#) {
        return timeline_file::read(path)
            .map(|data| data.timeline)
            .map_err(|e| anyhow::anyhow!("{e}"));
    }
    if let Ok(tl) = serde_json::from_str::<Timeline>(&text) {
        return Ok(tl);
    }
    let mut tl = Timeline::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let sample: Sample = serde_json::from_str(line).map_err(|e| {
            anyhow::anyhow!(
                "{}:{}: not a sensor timeline (a Timeline JSON object, or one sample a line): {e}",
                path.display(),
                i + 1
            )
        })?;
        tl.samples.push(sample);
    }
    Ok(tl)
}
