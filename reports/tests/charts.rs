//! Charts: valid SVG (parsed with a real XML parser) and PNG, with the expected series.

mod common;

use common::{fixture_path, two_devices};
use edgebench_harness::protocol::Phase;
use edgebench_harness::sampler::{Sample, Timeline};
use edgebench_harness::schema::{metric, TestRecord};
use edgebench_harness::sensors::{Quantity, Reading};
use edgebench_reports::chart::{self, render_png, render_svg, Chart};
use std::collections::HashMap;

/// Every `<text>` of the SVG, and the number of filled `<rect>`s per fill colour.
struct Svg {
    texts: Vec<String>,
    rects_by_fill: HashMap<String, usize>,
    width: f64,
    height: f64,
}

fn parse_svg(svg: &str) -> Svg {
    let doc = roxmltree::Document::parse(svg).expect("the chart is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let num = |a: &str| root.attribute(a).unwrap().parse::<f64>().unwrap();
    let mut texts = Vec::new();
    let mut rects_by_fill = HashMap::new();
    for node in doc.descendants() {
        match node.tag_name().name() {
            "text" => texts.push(node.text().unwrap_or("").trim().to_string()),
            "rect" => {
                if let Some(fill) = node.attribute("fill").filter(|f| *f != "none") {
                    *rects_by_fill.entry(fill.to_uppercase()).or_insert(0) += 1;
                }
            }
            _ => {}
        }
    }
    Svg {
        texts,
        rects_by_fill,
        width: num("width"),
        height: num("height"),
    }
}

/// Write the chart when `EDGEBENCH_CHART_DIR` is set, to look at it.
fn keep(chart: &dyn Chart, svg: &str) {
    if let Some(dir) = std::env::var_os("EDGEBENCH_CHART_DIR") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{}.svg", chart.name())), svg).unwrap();
        std::fs::write(
            dir.join(format!("{}.png", chart.name())),
            render_png(chart).unwrap(),
        )
        .unwrap();
    }
}

fn hex(c: plotters::style::RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

#[test]
fn throughput_bars_per_target_in_a_facet_per_model() {
    let tests = two_devices();
    let chart = chart::throughput(&tests).expect("the fixture has rates");
    assert_eq!(chart.series, ["candle", "llamacpp"]);
    // llama3-8b failed on both devices: no rate, no facet.
    let facets: Vec<&str> = chart.facets.iter().map(|f| f.title.as_str()).collect();
    assert_eq!(facets, ["gemma-2b", "phi3-mini"]);
    let svg = render_svg(&chart).unwrap();
    keep(&chart, &svg);
    let parsed = parse_svg(&svg);
    // Facet titles, panel titles, the legend, and bar groups by device.
    for text in [
        "gemma-2b",
        "phi3-mini",
        "Prompt processing (pp)",
        "Token generation (tg)",
        "candle",
        "llamacpp",
        "prompt tokens per second (t/s, higher is better)",
        "Raspberry Pi 5 Model B Rev 1.0 · q4_k_m pp512",
        "NVIDIA Jetson Orin Nano Developer Kit · q4_k_m tg128",
    ] {
        assert!(
            parsed.texts.iter().any(|t| t == text),
            "no text {text:?} in {:?}",
            parsed.texts
        );
    }
    // Bars: per device, llamacpp has pp512, pp512+tg128 (pp), tg128, pp512+tg128 (tg);
    // candle has the interrupted gemma tg128. One legend swatch each.
    let llamacpp = parsed
        .rects_by_fill
        .get(&hex(chart::PALETTE_FOR_TESTS[1]))
        .copied();
    let candle = parsed
        .rects_by_fill
        .get(&hex(chart::PALETTE_FOR_TESTS[0]))
        .copied();
    assert_eq!(llamacpp, Some(2 * 4 + 1), "{:?}", parsed.rects_by_fill);
    assert_eq!(candle, Some(2 + 1), "{:?}", parsed.rects_by_fill);
    // The Jetson's pp512 bar is three times the Pi's.
    let pp = |device: &str| {
        chart.facets[1].panels[0]
            .bars
            .iter()
            .find(|b| b.group == format!("{device} · q4_k_m pp512"))
            .unwrap()
            .value
    };
    let ratio = pp("NVIDIA Jetson Orin Nano Developer Kit") / pp("Raspberry Pi 5 Model B Rev 1.0");
    assert!((ratio - 3.0).abs() < 1e-9, "{ratio}");
}

/// The widths of the filled bars of one colour in an SVG, in pixels.
fn bar_widths(svg: &str, color: plotters::style::RGBColor) -> Vec<f64> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| {
            n.has_tag_name("rect")
                && n.attribute("fill")
                    .is_some_and(|f| f.eq_ignore_ascii_case(&hex(color)))
        })
        .filter_map(|n| n.attribute("width")?.parse::<f64>().ok())
        .collect()
}

#[test]
fn a_tiny_test_model_does_not_flatten_full_size_bars() {
    let base = edgebench_reports::read_results(&[fixture_path()]).unwrap();
    let tg = base[1].clone(); // phi3-mini tg128 at 4.6 t/s
    let mut tiny = tg.clone();
    tiny.scenario.model = "llama3-8b-tiny".into();
    tiny.test_id.push_str("-tiny");
    for rep in &mut tiny.repetitions {
        *rep.metrics.get_mut(metric::TG_TPS).unwrap() *= 6000.0;
    }
    tiny.summary = edgebench_harness::runner::summarize_repetitions(&tiny.repetitions);
    let chart = chart::throughput(&[tg, tiny]).unwrap();
    assert_eq!(chart.facets.len(), 2, "one facet per model");
    let svg = render_svg(&chart).unwrap();
    keep(&chart, &svg);
    // Two bars (and a legend-less single series): each spans most of its own axis.
    let widths = bar_widths(&svg, chart::PALETTE_FOR_TESTS[0]);
    assert_eq!(widths.len(), 2, "{widths:?}");
    assert!(widths.iter().all(|w| *w > 300.0), "{widths:?}");
}

#[test]
fn a_thread_sweep_shows_its_fastest_thread_count() {
    let base = edgebench_reports::read_results(&[fixture_path()]).unwrap();
    let mut tests = Vec::new();
    for (threads, speed) in [(1usize, 0.3), (2, 0.6), (4, 1.0), (8, 0.9)] {
        let mut t = base[1].clone();
        t.parameters.threads = threads;
        t.test_id = format!("{}-t{threads}", t.test_id);
        for rep in &mut t.repetitions {
            *rep.metrics.get_mut(metric::TG_TPS).unwrap() *= speed;
        }
        t.summary = edgebench_harness::runner::summarize_repetitions(&t.repetitions);
        tests.push(t);
    }
    let chart = chart::throughput(&tests).unwrap();
    let bars = &chart.facets[0].panels[0].bars;
    assert_eq!(bars.len(), 1, "{bars:?}");
    assert_eq!(bars[0].value, base[1].summary[metric::TG_TPS].median);
    assert_eq!(bars[0].note.as_deref(), Some("4 thr"));
    let svg = render_svg(&chart).unwrap();
    assert!(parse_svg(&svg).texts.iter().any(|t| t.ends_with("· 4 thr")));
}

#[test]
fn speech_has_real_time_factor_and_decoder_panels_not_token_generation() {
    let tests = vec![common::whisper_test()];
    let chart = chart::throughput(&tests).unwrap();
    let titles: Vec<&str> = chart.facets[0]
        .panels
        .iter()
        .map(|p| p.title.as_str())
        .collect();
    assert_eq!(titles, ["Transcription: real-time factor", "Decoder steps"]);
    assert_eq!(
        chart.facets[0].panels[0].bars[0].value,
        tests[0].summary[metric::RTF].median
    );
    assert!(chart::energy(&tests).is_none(), "no LLM energy for speech");
}

#[test]
fn a_hundred_bars_get_a_slot_each_and_labels_never_overlap() {
    let base = edgebench_reports::read_results(&[fixture_path()]).unwrap();
    let mut tests: Vec<TestRecord> = Vec::new();
    for i in 0..60 {
        let mut t = base[1].clone(); // tg128, ok
        t.scenario.quant = format!("quant-{i:02}-with-a-rather-long-name-to-test-fitting");
        t.test_id = format!("{}-{i}", t.test_id);
        tests.push(t.clone());
        t.target.name = "candle".into();
        t.test_id.push_str("-candle");
        tests.push(t);
    }
    let chart = chart::throughput(&tests).unwrap();
    let svg = render_svg(&chart).unwrap();
    keep(&chart, &svg);
    let parsed = parse_svg(&svg);
    // 120 bars, 18 px each at least.
    assert!(parsed.height >= 120.0 * 18.0, "{}", parsed.height);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    // Group labels on the y axis: 60 of them, at least 18 px apart, all inside the image.
    let mut ys: Vec<f64> = doc
        .descendants()
        .filter(|n| {
            n.has_tag_name("text") && n.text().is_some_and(|t| t.trim().starts_with("quant-"))
        })
        .map(|n| n.attribute("y").unwrap().parse::<f64>().unwrap())
        .collect();
    assert_eq!(ys.len(), 60);
    ys.sort_by(|a, b| a.total_cmp(b));
    for w in ys.windows(2) {
        assert!(w[1] - w[0] >= 18.0, "labels {} and {} overlap", w[0], w[1]);
    }
    assert!(ys.iter().all(|y| *y > 0.0 && *y < parsed.height));
    assert!(parsed.width >= 1000.0);
}

#[test]
fn energy_chart_has_joules_and_tokens_per_watt() {
    let tests = edgebench_reports::read_results(&[fixture_path()]).unwrap();
    let chart = chart::energy(&tests).expect("the fixture has energy");
    let phi3 = chart
        .facets
        .iter()
        .find(|f| f.title.starts_with("phi3-mini"))
        .unwrap();
    let titles: Vec<&str> = phi3.panels.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(titles.len(), 2, "{titles:?}");
    let svg = render_svg(&chart).unwrap();
    keep(&chart, &svg);
    let parsed = parse_svg(&svg);
    assert!(parsed
        .texts
        .iter()
        .any(|t| t == "joules per token (J/token, lower is better)"));
    assert!(parsed
        .texts
        .iter()
        .any(|t| t == "tokens per second per watt (t/s per W, higher is better)"));
    // t/s per W of phi3 tg128 = median tg t/s ÷ the decode power the sensors saw (6.9 W).
    let tg = tests
        .iter()
        .find(|t| t.scenario.workload == "tg128" && t.status.label() == "ok")
        .unwrap();
    let expected = tg.summary[metric::TG_TPS].median / 6.9;
    let bar = phi3.panels[1]
        .bars
        .iter()
        .find(|b| b.group == "q4_k_m tg128 (tg)")
        .unwrap();
    assert!((bar.value - expected).abs() < 1e-12);
}

#[test]
fn roofline_needs_a_bandwidth_and_uses_weight_bytes() {
    let mut tests = edgebench_reports::read_results(&[fixture_path()]).unwrap();
    assert!(
        chart::roofline(&tests).is_none(),
        "no bandwidth in the results yet"
    );
    for t in &mut tests {
        t.environment
            .extra
            .insert("peak_memory_bandwidth_gbs".into(), "17.1".into());
    }
    let chart = chart::roofline(&tests).unwrap();
    let tg = tests
        .iter()
        .find(|t| t.scenario.workload == "tg128" && t.status.label() == "ok")
        .unwrap();
    let bytes = tg.model.as_ref().unwrap().weight_bytes.unwrap() as f64;
    let expected = bytes * tg.summary[metric::TG_TPS].median / 17.1e9 * 100.0;
    let phi3 = chart
        .facets
        .iter()
        .find(|f| f.title == "phi3-mini · Raspberry Pi 5 Model B Rev 1.0")
        .unwrap();
    let bar = &phi3.panels[0]
        .bars
        .iter()
        .find(|b| b.group == "q4_k_m tg128")
        .unwrap();
    assert!(
        (bar.value - expected).abs() < 1e-9,
        "{} vs {expected}",
        bar.value
    );
    let svg = render_svg(&chart).unwrap();
    keep(&chart, &svg);
    assert!(parse_svg(&svg)
        .texts
        .iter()
        .any(|t| t.contains("% of memory-bandwidth roofline")));
}

#[test]
fn thread_sweep_gives_a_scaling_line() {
    let base = edgebench_reports::read_results(&[fixture_path()]).unwrap();
    let mut tests = Vec::new();
    for threads in [1usize, 2, 4] {
        for t in base.iter().filter(|t| t.status.label() == "ok") {
            let mut t = t.clone();
            t.parameters.threads = threads;
            t.test_id = format!("{}-t{threads}", t.test_id);
            tests.push(t);
        }
    }
    let charts = chart::scaling_threads(&tests);
    let names: Vec<&str> = charts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "scaling-threads-pp-phi3-mini",
            "scaling-threads-tg-phi3-mini"
        ]
    );
    let tg = &charts[1];
    // tg128 and pp512+tg128 families, three thread counts each.
    assert_eq!(tg.series.len(), 2);
    assert!(tg
        .series
        .iter()
        .all(|s| s.points.iter().map(|p| p.x).eq([1.0, 2.0, 4.0])));
    let svg = render_svg(tg).unwrap();
    keep(tg, &svg);
    let parsed = parse_svg(&svg);
    assert!(parsed.texts.iter().any(|t| t == "threads (log scale)"));
    assert!(parsed
        .texts
        .iter()
        .any(|t| t == "tg t/s (tokens per second)"));
    for s in &tg.series {
        assert!(parsed.texts.contains(&s.label), "legend lacks {}", s.label);
    }
    // One polyline per series.
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert!(
        doc.descendants()
            .filter(|n| n.has_tag_name("polyline"))
            .count()
            >= 2
    );
}

#[test]
fn prompt_length_sweep_gives_a_scaling_line() {
    let base = edgebench_reports::read_results(&[fixture_path()]).unwrap();
    let pp = base
        .iter()
        .find(|t| t.scenario.workload == "pp512")
        .unwrap();
    let mut tests = vec![pp.clone()];
    for n in [128usize, 2048] {
        let mut t = pp.clone();
        t.scenario.prompt_tokens = n;
        t.scenario.workload = format!("pp{n}");
        t.test_id = format!("{}-{n}", t.test_id);
        tests.push(t);
    }
    let charts = chart::scaling_prompt(&tests);
    assert_eq!(charts.len(), 1);
    assert!(charts[0].series[0]
        .points
        .iter()
        .map(|p| p.x)
        .eq([128.0, 512.0, 2048.0]));
    let svg = render_svg(&charts[0]).unwrap();
    keep(&charts[0], &svg);
    assert!(parse_svg(&svg)
        .texts
        .iter()
        .any(|t| t == "prompt tokens (log scale)"));
}

/// A timeline as the sampler records one: warmup, then per repetition a prefill and a decode
/// mark, temperature rising, clock dropping in the last repetition.
fn sampler_timeline(reps: usize) -> Timeline {
    let mut tl = Timeline {
        sensors: vec!["thermal".into(), "cpufreq".into(), "rapl".into()],
        ..Default::default()
    };
    tl.marks.push((0.0, Phase::Warmup));
    tl.marks.push((1.0, Phase::Idle));
    for r in 0..reps {
        let t = 1.0 + r as f64 * 2.0;
        tl.marks.push((t, Phase::Prefill));
        tl.marks.push((t + 0.5, Phase::Decode));
        tl.marks.push((t + 1.8, Phase::Idle));
    }
    let end = 1.0 + reps as f64 * 2.0;
    let mut energy = 0.0;
    let mut t = 0.0;
    while t <= end {
        energy += 0.1 * 12.0;
        tl.samples.push(Sample {
            t_s: t,
            readings: vec![
                Reading {
                    channel: "thermal/cpu".into(),
                    quantity: Quantity::TemperatureC,
                    value: 50.0 + t * 2.0,
                    total: false,
                },
                Reading {
                    channel: "cpufreq/cpu0".into(),
                    quantity: Quantity::ClockMhz,
                    value: if t > end - 2.0 { 1800.0 } else { 2400.0 },
                    total: false,
                },
                Reading {
                    channel: "rapl/package-0".into(),
                    quantity: Quantity::EnergyJ,
                    value: energy,
                    total: true,
                },
            ],
        });
        t += 0.1;
    }
    tl
}

#[test]
fn thermal_timeline_with_and_without_the_timeline_file() {
    let base = edgebench_reports::read_results(&[fixture_path()]).unwrap();
    let mut test = base
        .iter()
        .find(|t| t.scenario.workload == "pp512+tg128")
        .unwrap()
        .clone();
    test.repetitions.last_mut().unwrap().throttled = Some(true);

    // Without a timeline: per repetition.
    let chart = chart::timeline(&test, None, "timeline-1").unwrap();
    assert_eq!(chart.x_desc, "repetition");
    assert_eq!(chart.rates.len(), 3);
    assert_eq!(chart.throttled, [(2.5, 3.5)]);
    assert!(
        chart.note.contains("1 of 3 repetitions throttled"),
        "{}",
        chart.note
    );
    assert!(
        chart.note.contains("timelines/decode.jsonl not found"),
        "{}",
        chart.note
    );
    let svg = render_svg(&chart).unwrap();
    let parsed = parse_svg(&svg);
    assert!(parsed
        .texts
        .iter()
        .any(|t| t == "tg t/s (tokens per second)"));
    assert!(parsed.texts.iter().any(|t| t == "throttled"));

    // With one: seconds, twin axes, power from the energy counter.
    let tl = sampler_timeline(3);
    let chart = chart::timeline(&test, Some(&tl), "timeline-2").unwrap();
    assert_eq!(
        chart.x_desc,
        "time since the test's first sensor sample (s)"
    );
    // Repetition r spans [1 + 2r, 2.8 + 2r]: its rate sits at the middle.
    let xs: Vec<f64> = chart.rates.iter().map(|p| p.0).collect();
    for (x, want) in xs.iter().zip([1.9, 3.9, 5.9]) {
        assert!((x - want).abs() < 1e-9, "{xs:?}");
    }
    assert_eq!(chart.throttled.len(), 1);
    assert!(!chart.temperature.is_empty() && !chart.clock.is_empty());
    assert!(
        chart.power.iter().all(|p| (p.1 - 12.0).abs() < 1e-6),
        "{:?}",
        &chart.power[..3]
    );
    let svg = render_svg(&chart).unwrap();
    keep(&chart, &svg);
    let parsed = parse_svg(&svg);
    for text in [
        "temperature (°C)",
        "CPU clock (MHz)",
        "power (W)",
        "temperature (max over zones) (right axis)",
        "power (total) (right axis)",
    ] {
        assert!(
            parsed.texts.iter().any(|t| t == text),
            "no {text:?} in {:?}",
            parsed.texts
        );
    }
}

#[test]
fn timeline_file_is_read_from_beside_the_results() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("timelines")).unwrap();
    let tl = sampler_timeline(2);
    std::fs::write(
        dir.path().join("timelines/a.json"),
        serde_json::to_string(&tl).unwrap(),
    )
    .unwrap();
    let lines: String = tl
        .samples
        .iter()
        .map(|s| serde_json::to_string(s).unwrap() + "\n")
        .collect();
    std::fs::write(dir.path().join("timelines/b.jsonl"), lines).unwrap();
    std::fs::write(dir.path().join("timelines/bad.jsonl"), "{\"nope\": 1}\n").unwrap();
    let results = vec![dir.path().join("run.jsonl")];
    let a = chart::read_timeline("timelines/a.json", &results)
        .unwrap()
        .unwrap();
    assert_eq!(a, tl);
    let b = chart::read_timeline("timelines/b.jsonl", &results)
        .unwrap()
        .unwrap();
    assert_eq!(b.samples, tl.samples);
    assert!(chart::read_timeline("timelines/missing.json", &results)
        .unwrap()
        .is_none());
    let err = chart::read_timeline("timelines/bad.jsonl", &results)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bad.jsonl:1") && err.contains("not a sensor timeline"),
        "{err}"
    );
}

/// The side file a run writes (`<results>.timeline.jsonl`, one for all its tests) is read once
/// and cut to each test's span, with the phase in force at the span's start.
#[test]
fn a_runs_timeline_side_file_is_cut_per_test() {
    let dir = tempfile::tempdir().unwrap();
    let side = [
        r#"{"record":"timeline","schema_version":1,"run_id":"r","interval_s":0.5,"sensors":["thermal"]}"#,
        r#"{"record":"channel","channel":"thermal/cpu","quantity":"temperature_c","total":false}"#,
        r#"{"record":"test","t_s":0.0,"test_id":"r/a"}"#,
        r#"{"record":"phase","t_s":0.1,"phase":"decode"}"#,
        r#"{"record":"sample","t_s":0.5,"values":{"thermal/cpu":50.0}}"#,
        r#"{"record":"sample","t_s":1.0,"values":{"thermal/cpu":51.0}}"#,
        r#"{"record":"test","t_s":1.2,"test_id":"r/b"}"#,
        r#"{"record":"sample","t_s":1.5,"values":{"thermal/cpu":60.0}}"#,
        r#"{"record":"phase","t_s":1.6,"phase":"prefill"}"#,
        r#"{"record":"sample","t_s":2.0,"values":{"thermal/cpu":61.0}}"#,
    ]
    .join("\n");
    std::fs::write(dir.path().join("run.timeline.jsonl"), side + "\n").unwrap();
    let mut tests = two_devices();
    tests.truncate(2);
    for (t, (id, span)) in tests
        .iter_mut()
        .zip([("r/a", [0.0, 1.1]), ("r/b", [1.2, 2.0])])
    {
        t.test_id = id.to_string();
        t.sensors.timeline_file = Some("run.timeline.jsonl".into());
        t.sensors.timeline_span_s = Some(span);
    }
    let (timelines, warnings) = chart::read_test_timelines(&tests, &[dir.path().join("run.jsonl")]);
    assert!(warnings.is_empty(), "{warnings:?}");
    let temps = |id: &str| -> Vec<f64> {
        timelines[id]
            .samples
            .iter()
            .map(|s| s.readings[0].value)
            .collect()
    };
    assert_eq!(temps("r/a"), [50.0, 51.0]);
    assert_eq!(temps("r/b"), [60.0, 61.0]);
    assert_eq!(timelines["r/a"].marks, [(0.1, Phase::Decode)]);
    assert_eq!(
        timelines["r/b"].marks,
        [(1.2, Phase::Decode), (1.6, Phase::Prefill)]
    );
    assert_eq!(
        timelines["r/b"].samples[0].readings[0].quantity,
        Quantity::TemperatureC
    );
}

/// Two devices' folders, each with a side file of the same name (fleet runs): each test gets
/// the one its own run wrote, not the first folder's.
#[test]
fn same_named_side_files_of_two_runs_are_told_apart_by_run_id() {
    let dir = tempfile::tempdir().unwrap();
    for (device, run, temp) in [("pi5-a", "ra", 40.0), ("pi5-b", "rb", 70.0)] {
        let folder = dir.path().join(device);
        std::fs::create_dir(&folder).unwrap();
        let side = [
            format!(r#"{{"record":"timeline","schema_version":1,"run_id":"{run}","interval_s":0.5,"sensors":["thermal"]}}"#),
            r#"{"record":"channel","channel":"thermal/cpu","quantity":"temperature_c","total":false}"#.to_string(),
            format!(r#"{{"record":"sample","t_s":0.5,"values":{{"thermal/cpu":{temp}}}}}"#),
        ]
        .join("\n");
        std::fs::write(folder.join("fleet.timeline.jsonl"), side + "\n").unwrap();
    }
    let mut tests = two_devices();
    tests.truncate(2);
    for (t, run) in tests.iter_mut().zip(["ra", "rb"]) {
        t.run_id = run.into();
        t.test_id = format!("{run}/x");
        t.sensors.timeline_file = Some("fleet.timeline.jsonl".into());
        t.sensors.timeline_span_s = None;
    }
    let results = [
        dir.path().join("pi5-a/fleet.jsonl"),
        dir.path().join("pi5-b/fleet.jsonl"),
    ];
    let (timelines, warnings) = chart::read_test_timelines(&tests, &results);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(timelines["ra/x"].samples[0].readings[0].value, 40.0);
    assert_eq!(timelines["rb/x"].samples[0].readings[0].value, 70.0);
}

#[test]
fn png_is_a_real_image_of_the_chart_size() {
    let tests = two_devices();
    let chart = chart::throughput(&tests).unwrap();
    let bytes = render_png(&chart).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let (w, h) = chart.size();
    assert_eq!((reader.info().width, reader.info().height), (w, h));
    let mut buf = vec![0; reader.output_buffer_size()];
    reader.next_frame(&mut buf).unwrap();
    // Not blank: both target colours are drawn.
    for c in [chart::PALETTE_FOR_TESTS[0], chart::PALETTE_FOR_TESTS[1]] {
        assert!(
            buf.chunks(3).any(|p| p == [c.0, c.1, c.2]),
            "no pixel of {c:?}"
        );
    }
}

#[test]
fn charts_for_picks_what_the_data_has() {
    let tests = two_devices();
    let charts = chart::charts_for(&tests, &HashMap::new(), 4);
    let names: Vec<&str> = charts.iter().map(|c| c.name()).collect();
    // No bandwidth, no sweeps: throughput, energy, and one timeline per device.
    assert_eq!(names, ["throughput", "energy", "timeline-1", "timeline-2"]);
}
