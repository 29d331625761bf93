//! Charts with plotters, as SVG (for the HTML page) and PNG (for slides and issues).
//!
//! One small trait, [`Chart`]; each kind of chart is plain data built from test records by a
//! pure function (`throughput`, `energy`, `roofline`, `timeline`, `scaling`), then drawn. Charts
//! read records and never measure; the only arithmetic here is unit conversion and ratios of
//! figures the records hold (t/s ÷ W, bytes × t/s ÷ bandwidth). [`charts_for`] picks every chart
//! the results have data for.
//!
//! Text is measured with DejaVu Sans, embedded in the binary (the `dejavu` crate), so charts
//! come out the same on every machine and PNGs need no system fonts. Every axis names its unit,
//! every chart with more than one colour has a legend outside the plot, and bar charts grow in
//! height with their bars (one 18-pixel slot a bar) so labels never overlap, however many bars.

mod bars;
mod choice;
mod lines;
mod timeline;

pub use bars::{energy, roofline, throughput, Bar, BarChart, Facet, Panel};
pub use choice::{choice, ChoiceChart, ChoicePoint};
pub use lines::{scaling_prompt, scaling_threads, LineChart, Point, Series};
pub use timeline::{read_test_timelines, read_timeline, timeline, timelines, TimelineChart};

use anyhow::{anyhow, Context};
use edgebench_harness::sampler::Timeline;
use edgebench_harness::schema::TestRecord;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::HashMap;
use std::sync::Once;

/// A chart: a name for its file, a title, a size for its data, and drawing on any backend.
pub trait Chart: Send + Sync {
    /// File stem, unique among a report's charts (`throughput`, `timeline-3`…).
    fn name(&self) -> &str;
    /// Title drawn at the top, also used as the HTML caption.
    fn title(&self) -> &str;
    /// Pixel size (width, height) for the data.
    fn size(&self) -> (u32, u32);
    fn draw_svg(&self, root: &DrawingArea<SVGBackend, Shift>) -> anyhow::Result<()>;
    fn draw_png(&self, root: &DrawingArea<BitMapBackend, Shift>) -> anyhow::Result<()>;
}

/// Implements [`Chart`]'s two drawing methods with the type's generic `draw`.
macro_rules! impl_chart {
    ($ty:ty) => {
        impl $crate::chart::Chart for $ty {
            fn name(&self) -> &str {
                &self.name
            }
            fn title(&self) -> &str {
                &self.title
            }
            fn size(&self) -> (u32, u32) {
                self.pixel_size()
            }
            fn draw_svg(
                &self,
                root: &plotters::prelude::DrawingArea<
                    plotters::prelude::SVGBackend,
                    plotters::coord::Shift,
                >,
            ) -> anyhow::Result<()> {
                self.draw(root)
            }
            fn draw_png(
                &self,
                root: &plotters::prelude::DrawingArea<
                    plotters::prelude::BitMapBackend,
                    plotters::coord::Shift,
                >,
            ) -> anyhow::Result<()> {
                self.draw(root)
            }
        }
    };
}
pub(crate) use impl_chart;

/// Every chart the results have data for, in the order a report shows them. `timelines` maps a
/// test id to its sensor timeline where one was found (see [`read_timeline`]); at most
/// `max_timelines` thermal timelines are drawn (see [`timelines`] for which).
pub fn charts_for(
    tests: &[TestRecord],
    timelines_by_test: &HashMap<String, Timeline>,
    max_timelines: usize,
) -> Vec<Box<dyn Chart>> {
    // The latest runs by reference: a lab's results hold thousands of tests.
    let histories = crate::merge::histories(tests);
    let latest: Vec<&TestRecord> = histories.iter().map(|h| h.latest()).collect();
    let mut charts: Vec<Box<dyn Chart>> = Vec::new();
    if let Some(c) = throughput(&latest) {
        charts.push(Box::new(c));
    }
    if let Some(c) = energy(&latest) {
        charts.push(Box::new(c));
    }
    if let Some(c) = roofline(&latest) {
        charts.push(Box::new(c));
    }
    for c in scaling_threads(&latest) {
        charts.push(Box::new(c));
    }
    for c in scaling_prompt(&latest) {
        charts.push(Box::new(c));
    }
    for c in timelines(&latest, timelines_by_test, max_timelines) {
        charts.push(Box::new(c));
    }
    charts
}

/// The tests of a chart builder, by reference: builders take `&[TestRecord]` or
/// `&[&TestRecord]` alike.
pub(crate) fn refs<T: std::borrow::Borrow<TestRecord>>(tests: &[T]) -> Vec<&TestRecord> {
    tests.iter().map(|t| t.borrow()).collect()
}

/// Device names of `tests`, sorted, each once.
pub(crate) fn device_names<'a>(tests: &[&'a TestRecord]) -> std::collections::BTreeSet<&'a str> {
    tests
        .iter()
        .map(|t| t.environment.device.as_str())
        .collect()
}

/// The chart as an SVG document.
pub fn render_svg(chart: &dyn Chart) -> anyhow::Result<String> {
    ensure_fonts();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, chart.size()).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        chart
            .draw_svg(&root)
            .with_context(|| format!("drawing chart `{}`", chart.name()))?;
        root.present().map_err(draw_error)?;
    }
    Ok(out)
}

/// The chart as a PNG image.
pub fn render_png(chart: &dyn Chart) -> anyhow::Result<Vec<u8>> {
    ensure_fonts();
    let (w, h) = chart.size();
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        chart
            .draw_png(&root)
            .with_context(|| format!("drawing chart `{}`", chart.name()))?;
        root.present().map_err(draw_error)?;
    }
    let mut png_bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png_bytes, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&rgb)?;
    }
    Ok(png_bytes)
}

/// Register the embedded DejaVu Sans as plotters' `sans-serif` (once per process).
pub fn ensure_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are the crate's own static font files; they parse.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

pub(crate) fn draw_error<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("plotters: {e}")
}

/// A linear f64 axis whose ticks are exactly the given values (bar groups on a bar chart).
/// plotters' `with_key_points` has no label formatter for f64 axes, hence this small type.
#[derive(Debug, Clone)]
pub(crate) struct KeyedAxis {
    pub lo: f64,
    pub hi: f64,
    pub keys: Vec<f64>,
}

impl plotters::coord::ranged1d::Ranged for KeyedAxis {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        if self.hi == self.lo {
            return (limit.0 + limit.1) / 2;
        }
        let t = (v - self.lo) / (self.hi - self.lo);
        limit.0 + ((limit.1 - limit.0) as f64 * t).round() as i32
    }

    fn key_points<H: plotters::coord::ranged1d::KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.keys.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// Colours for series (targets, lines): Tableau 10, readable on white and distinct in print.
pub(crate) const PALETTE: [RGBColor; 10] = [
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

/// The palette, for tests that look for a series' colour.
pub const PALETTE_FOR_TESTS: [RGBColor; 10] = PALETTE;

pub(crate) const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
pub(crate) const MUTED: RGBColor = RGBColor(0x66, 0x66, 0x66);
/// Shading of throttled spans.
pub(crate) const THROTTLE: RGBColor = RGBColor(0xf4, 0xc7, 0xc3);

pub(crate) fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

pub(crate) fn font(size: u32) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&INK)
}

pub(crate) fn bold(size: u32) -> TextStyle<'static> {
    ("sans-serif", size)
        .into_font()
        .style(FontStyle::Bold)
        .color(&INK)
}

/// Width in pixels of `text` in `style` (DejaVu Sans metrics).
pub(crate) fn text_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
) -> u32 {
    area.estimate_text_size(text, style)
        .map(|(w, _)| w)
        .unwrap_or(text.chars().count() as u32 * style.font.get_size() as u32 * 6 / 10)
}

/// `text` cut with `…` to fit `max_width` pixels.
pub(crate) fn fit_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    max_width: u32,
) -> String {
    if text_width(area, text, style) <= max_width {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut n = chars.len();
    while n > 1 {
        n -= 1;
        let candidate: String = chars[..n].iter().collect::<String>() + "…";
        if text_width(area, &candidate, style) <= max_width {
            return candidate;
        }
    }
    "…".into()
}

/// Rows of legend entries (a colour swatch and a label) laid out to fit `width`.
pub(crate) fn legend_rows(labels: &[String], width: u32, char_px: u32) -> Vec<Vec<usize>> {
    let mut rows: Vec<Vec<usize>> = vec![Vec::new()];
    let mut used = 0;
    for (i, label) in labels.iter().enumerate() {
        let w = 34 + label.chars().count() as u32 * char_px;
        if used + w > width && !rows.last().is_some_and(|r| r.is_empty()) {
            rows.push(Vec::new());
            used = 0;
        }
        rows.last_mut().expect("one row").push(i);
        used += w;
    }
    rows
}

/// Height a legend of `labels` takes at `width`.
pub(crate) fn legend_height(labels: &[String], width: u32) -> u32 {
    if labels.len() < 2 {
        return 0;
    }
    legend_rows(labels, width, 8).len() as u32 * LEGEND_ROW + 6
}

pub(crate) const LEGEND_ROW: u32 = 20;

/// Draw a legend (swatch + label per entry, wrapped in rows) at the top of `area`; colours by
/// index into `colors`.
pub(crate) fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    labels: &[String],
    colors: &[RGBColor],
) -> anyhow::Result<()> {
    if labels.len() < 2 {
        return Ok(());
    }
    let width = area.dim_in_pixel().0;
    let style = font(13);
    for (r, row) in legend_rows(labels, width, 8).into_iter().enumerate() {
        let y = r as i32 * LEGEND_ROW as i32 + 4;
        let mut x = 8i32;
        for i in row {
            let c = colors[i % colors.len()];
            area.draw(&Rectangle::new([(x, y + 2), (x + 14, y + 14)], c.filled()))
                .map_err(draw_error)?;
            area.draw(&Text::new(
                labels[i].clone(),
                (x + 20, y + 1),
                style.clone(),
            ))
            .map_err(draw_error)?;
            x += 34 + text_width(area, &labels[i], &style) as i32;
        }
    }
    Ok(())
}

/// `12.3`, `0.123`, `1234`: a value with three significant figures or so, for bar ends.
pub(crate) fn short_number(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A label for the tick at `v` on a value axis.
pub(crate) fn tick(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1000.0 || (a - a.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legend_wraps_into_rows_that_fit() {
        let labels: Vec<String> = (0..12).map(|i| format!("target-{i}")).collect();
        let rows = legend_rows(&labels, 300, 8);
        assert!(rows.len() > 1);
        assert_eq!(rows.iter().map(|r| r.len()).sum::<usize>(), 12);
        for row in rows {
            let w: u32 = row
                .iter()
                .map(|&i| 34 + labels[i].chars().count() as u32 * 8)
                .sum();
            assert!(w <= 300 || row.len() == 1);
        }
    }

    #[test]
    fn numbers_for_labels() {
        assert_eq!(short_number(123.456), "123");
        assert_eq!(short_number(12.345), "12.3");
        assert_eq!(short_number(1.2345), "1.23");
        assert_eq!(short_number(0.12345), "0.123");
        assert_eq!(tick(2.0), "2");
        assert_eq!(tick(2.5), "2.5");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(0.5), "0.5");
    }
}
