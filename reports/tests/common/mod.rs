//! Shared by the integration tests: the results fixture and golden-file checks.
//!
//! `tests/fixtures/results.jsonl` was written once from [`fixture_records`] and is kept as a
//! file, so it also checks that results written by this schema version stay readable. Rewrite it
//! (only when the fixture itself must change) with
//! `UPDATE_FIXTURE=1 cargo test --release -p edgebench-reports --test export write_fixture`.
//! Regenerate golden files with `UPDATE_GOLDEN=1 cargo test --release -p edgebench-reports`.

#![allow(dead_code)]

use edgebench_harness::protocol::RepetitionTiming;
use edgebench_harness::schema::{
    metric, Environment, Parameters, Record, RepetitionRecord, ScenarioRef, SensorSummary, Status,
    TestRecord, SCHEMA_VERSION,
};
use edgebench_harness::stats;
use edgebench_harness::target::{ModelInfo, TargetInfo};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results.jsonl")
}

pub fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Compare `actual` with `tests/golden/<name>`, or write it there with `UPDATE_GOLDEN=1`.
pub fn check_golden(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (create it with UPDATE_GOLDEN=1 cargo test -p edgebench-reports)",
            path.display()
        )
    });
    if expected != actual {
        let first_diff = expected
            .lines()
            .zip(actual.lines())
            .position(|(e, a)| e != a)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the output, first at line {}:\n  expected: {:?}\n  actual:   {:?}\n\
             --- actual output ---\n{actual}\n(regenerate with UPDATE_GOLDEN=1 if the change is \
             intended)",
            path.display(),
            first_diff + 1,
            expected.lines().nth(first_diff).unwrap_or("<end>"),
            actual.lines().nth(first_diff).unwrap_or("<end>"),
        );
    }
}

/// A small deterministic generator for the fixture's jitter (xorshift64*).
struct Jitter(u64);

impl Jitter {
    /// Uniform in [-1, 1).
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        x as f64 / (1u64 << 52) as f64 - 1.0
    }
    /// `value` varied by up to ±`spread` (a fraction), rounded to microseconds-like precision.
    fn around(&mut self, value: f64, spread: f64) -> f64 {
        round6(value * (1.0 + spread * self.next()))
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

const RUN_ID: &str = "20250601T100000Z-pi5";

fn environment() -> Environment {
    Environment {
        device: "Raspberry Pi 5 Model B Rev 1.0".into(),
        hostname: "pi5-bench".into(),
        cpu_model: "Cortex-A76".into(),
        cpu_cores: 4,
        ram_bytes: 8_454_545_408,
        os: "Debian GNU/Linux 12 (bookworm)".into(),
        kernel: "6.6.51+rpt-rpi-2712".into(),
        arch: "aarch64".into(),
        governor: Some("ondemand".into()),
        edgebench_version: "0.1.0".into(),
        edgebench_commit: "642ad87e3b1f0c9d2a4e5f60718293a4b5c6d7e8".into(),
        emulated: false,
        extra: BTreeMap::from([("pmic".into(), "vcgencmd pmic_read_adc".into())]),
    }
}

fn llamacpp() -> TargetInfo {
    TargetInfo {
        name: "llamacpp".into(),
        library_version: "b4589".into(),
        build_flags: vec!["NEON".into(), "ARM_FMA".into(), "DOTPROD".into()],
        device: "cpu".into(),
        formats: vec!["gguf".into()],
        architectures: vec!["llama".into(), "phi3".into(), "gemma".into()],
        quants: vec!["f16".into(), "q8_0".into(), "q4_0".into(), "q4_k_m".into()],
        extra: BTreeMap::from([("threads".into(), "4".into())]),
        description: Default::default(),
    }
}

fn candle() -> TargetInfo {
    TargetInfo {
        name: "candle".into(),
        library_version: "0.11.1".into(),
        build_flags: vec!["neon".into()],
        device: "cpu".into(),
        formats: vec!["gguf".into(), "safetensors".into()],
        architectures: vec!["llama".into(), "phi3".into(), "gemma".into()],
        quants: vec!["f32".into(), "f16".into(), "q8_0".into(), "q4_k_m".into()],
        extra: BTreeMap::from([("threads".into(), "4".into())]),
        description: Default::default(),
    }
}

fn onnxruntime() -> TargetInfo {
    TargetInfo {
        name: "onnxruntime".into(),
        library_version: "1.20.1".into(),
        build_flags: vec![],
        device: "cpu".into(),
        formats: vec!["onnx-genai".into()],
        architectures: vec!["llama".into(), "phi3".into(), "gemma".into()],
        quants: vec!["f32".into(), "f16".into(), "int4".into()],
        extra: BTreeMap::new(),
        description: Default::default(),
    }
}

struct Model {
    name: &'static str,
    quant: &'static str,
    bytes: u64,
    params: u64,
    synthetic: bool,
    arch: &'static str,
    vocab: usize,
}

const PHI3: Model = Model {
    name: "phi3-mini",
    quant: "q4_k_m",
    bytes: 2_393_231_072,
    params: 3_821_079_552,
    synthetic: false,
    arch: "phi3",
    vocab: 32064,
};
const LLAMA3_F16: Model = Model {
    name: "llama3-8b",
    quant: "f16",
    bytes: 16_068_890_880,
    params: 8_030_261_248,
    synthetic: true,
    arch: "llama",
    vocab: 128_256,
};
const GEMMA: Model = Model {
    name: "gemma-2b",
    quant: "q4_k_m",
    bytes: 1_630_261_504,
    params: 2_506_172_416,
    synthetic: true,
    arch: "gemma",
    vocab: 256_000,
};

fn scenario(m: &Model, workload: &str, prompt: usize, gen: usize) -> ScenarioRef {
    ScenarioRef {
        model: m.name.into(),
        quant: m.quant.into(),
        workload: workload.into(),
        prompt_tokens: prompt,
        gen_tokens: gen,
        model_path: if m.synthetic {
            format!("~/.cache/edgebench/models/{}-{}.gguf", m.name, m.quant)
        } else {
            "/home/pi/models/Phi-3-mini-4k-instruct-q4.gguf".into()
        },
        model_sha256: Some(format!("{:064x}", m.bytes)),
        model_bytes: m.bytes,
        synthetic: m.synthetic,
        seed: m.synthetic.then_some(42),
    }
}

/// A test as the runner writes it when it starts (no repetitions, status not yet known).
fn start(
    n: usize,
    m: &Model,
    target: TargetInfo,
    workload: &str,
    prompt: usize,
    gen: usize,
) -> TestRecord {
    let model_info = ModelInfo {
        architecture: m.arch.into(),
        vocab_size: m.vocab,
        parameters: Some(m.params),
        weight_bytes: Some(m.bytes - 8_000_000),
        quant: Some(m.quant.into()),
        max_context: Some(4096),
    };
    TestRecord {
        schema_version: SCHEMA_VERSION,
        test_id: format!(
            "{RUN_ID}/{}/{}/{workload}/{}/t4",
            m.name, m.quant, target.name
        ),
        run_id: RUN_ID.into(),
        started_at: format!("2025-06-01T10:{:02}:00Z", n * 7),
        environment: environment(),
        scenario: scenario(m, workload, prompt, gen),
        target,
        parameters: Parameters {
            threads: 4,
            options: BTreeMap::new(),
        },
        status: Status::Ok,
        model: Some(model_info),
        load_s: Some(round6(m.bytes as f64 / 1.8e9)),
        peak_rss_bytes: None,
        repetitions: vec![],
        summary: BTreeMap::new(),
        stop_reason: None,
        sensors: SensorSummary::default(),
        warnings: vec![],
        soak: None,
    }
}

/// Measured figures of one kind of run, for the jitter to vary.
struct Speed {
    pp_tps: f64,
    tg_tps: f64,
    prefill_j: f64,
    decode_j: f64,
    rss: u64,
}

fn repetitions(
    test: &TestRecord,
    count: usize,
    speed: &Speed,
    jitter: &mut Jitter,
) -> Vec<RepetitionRecord> {
    let (prompt, gen) = (test.scenario.prompt_tokens, test.scenario.gen_tokens);
    (0..count)
        .map(|index| {
            let mut timing = RepetitionTiming::default();
            let mut metrics = BTreeMap::new();
            if prompt > 0 {
                let prefill = jitter.around(prompt as f64 / speed.pp_tps, 0.01);
                let first = round6(prefill + jitter.around(0.004, 0.2));
                timing.prefill_s = Some(prefill);
                timing.first_token_s = Some(first);
                metrics.insert(metric::PP_TPS.into(), prompt as f64 / prefill);
                metrics.insert(metric::TTFT_S.into(), first);
                metrics.insert(
                    metric::PREFILL_J_PER_TOKEN.into(),
                    jitter.around(speed.prefill_j, 0.02),
                );
            }
            if gen > 0 {
                let itl = 1.0 / speed.tg_tps;
                timing.decode_s = (0..gen)
                    .map(|i| {
                        // A slow step now and then, as a real decode loop has.
                        let slow = if i % 41 == 7 { 1.12 } else { 1.0 };
                        jitter.around(itl * slow, 0.015)
                    })
                    .collect();
                timing.tokens = (0..gen as u32).map(|i| (i * 7919 + 13) % 32000).collect();
                let total: f64 = timing.decode_s.iter().sum();
                metrics.insert(metric::TG_TPS.into(), gen as f64 / total);
                for (name, p) in [
                    (metric::ITL_P50_S, 50.0),
                    (metric::ITL_P90_S, 90.0),
                    (metric::ITL_P99_S, 99.0),
                ] {
                    metrics.insert(name.into(), stats::percentile(&timing.decode_s, p));
                }
                metrics.insert(
                    metric::DECODE_J_PER_TOKEN.into(),
                    jitter.around(speed.decode_j, 0.02),
                );
            }
            timing.peak_rss_bytes = Some(speed.rss + index as u64 * 4096);
            RepetitionRecord {
                schema_version: SCHEMA_VERSION,
                test_id: test.test_id.clone(),
                index,
                timing,
                metrics,
                throttled: Some(false),
            }
        })
        .collect()
}

/// Append the lines of a test that ran to its end: start, repetitions, test record.
fn run_test(
    lines: &mut Vec<Record>,
    mut test: TestRecord,
    count: usize,
    speed: &Speed,
    jitter: &mut Jitter,
    finish: impl FnOnce(&mut TestRecord),
) {
    lines.push(Record::TestStart(test.clone()));
    test.repetitions = repetitions(&test, count, speed, jitter);
    lines.extend(test.repetitions.iter().cloned().map(Record::Repetition));
    test.summary = edgebench_harness::runner::summarize_repetitions(&test.repetitions);
    test.peak_rss_bytes = test
        .repetitions
        .iter()
        .filter_map(|r| r.timing.peak_rss_bytes)
        .max();
    test.stop_reason = Some("ci_reached".into());
    finish(&mut test);
    lines.push(Record::Test(test));
}

fn pi5_sensors(max_temp: f64, phase: &str, joules: f64, watts: f64) -> SensorSummary {
    SensorSummary {
        sensors: vec![
            "cpufreq/cpu0".into(),
            "thermal/cpu-thermal".into(),
            "vcgencmd/pmic".into(),
        ],
        samples: 2400,
        max_temp_c: Some(max_temp),
        min_clock_mhz: Some(2400.0),
        avg_clock_mhz: Some(2400.0),
        max_clock_mhz: Some(2400.0),
        avg_cpu_percent: Some(97.5),
        energy_j: BTreeMap::from([(phase.to_string(), joules)]),
        avg_power_w: BTreeMap::from([(phase.to_string(), watts)]),
        peak_power_w: Some(watts + 0.9),
        timeline_file: Some(format!("timelines/{phase}.jsonl")),
        ..Default::default()
    }
}

/// The lines of `results.jsonl`, as one `edgebench run` on a Raspberry Pi 5 would write them:
/// an ok pp test, an ok tg test, an ok combined test, a failed test, a skipped test, and a test
/// the run was killed in after two repetitions (a start line and two repetition lines only).
pub fn fixture_records() -> Vec<Record> {
    let mut jitter = Jitter(0x5eed_1234_abcd_0001);
    let mut lines = Vec::new();
    let phi3 = Speed {
        pp_tps: 21.4,
        tg_tps: 4.62,
        prefill_j: 0.312,
        decode_j: 1.487,
        rss: 2_783_969_280,
    };

    // 1. phi3-mini pp512: ok.
    let pp = start(0, &PHI3, llamacpp(), "pp512", 512, 0);
    run_test(&mut lines, pp, 5, &phi3, &mut jitter, |t| {
        t.sensors = pi5_sensors(71.3, "prefill", 3.2, 6.7);
    });

    // 2. phi3-mini tg128: ok, though the power sensor stopped answering.
    let tg = start(1, &PHI3, llamacpp(), "tg128", 0, 128);
    run_test(&mut lines, tg, 5, &phi3, &mut jitter, |t| {
        t.sensors = pi5_sensors(74.8, "decode", 4.9, 6.9);
        t.sensors.min_clock_mhz = Some(1800.0);
        t.warnings
            .push("sensor vcgencmd/pmic stopped answering (41.3 s into the test)".into());
    });

    // 3. phi3-mini pp512+tg128: ok, stopped at the repetition cap.
    let pg = start(2, &PHI3, llamacpp(), "pp512+tg128", 512, 128);
    run_test(&mut lines, pg, 3, &phi3, &mut jitter, |t| {
        t.sensors = pi5_sensors(76.2, "decode", 9.1, 7.0);
        t.stop_reason = Some("max_repetitions".into());
    });

    // 4. llama3-8b f16 pp512: failed while loading (too big for 8 GB).
    let mut failed = start(3, &LLAMA3_F16, llamacpp(), "pp512", 512, 0);
    failed.model = None;
    failed.load_s = None;
    lines.push(Record::TestStart(failed.clone()));
    failed.status = Status::Failed {
        reason: "worker killed by signal 9 (SIGKILL) while loading, likely out of memory: the \
                 model needs 14.97 GiB, the device has 7.87 GiB"
            .into(),
    };
    failed.peak_rss_bytes = Some(7_516_192_768);
    failed.sensors.max_temp_c = Some(58.4);
    lines.push(Record::Test(failed));

    // 5. gemma-2b q4_k_m on onnxruntime: skipped, it does not run that quantization.
    let mut skipped = start(4, &GEMMA, onnxruntime(), "tg128", 0, 128);
    skipped.model = None;
    skipped.load_s = None;
    skipped.status = Status::Skipped {
        reason: "onnxruntime does not run q4_k_m (it runs f32, f16, int4)".into(),
    };
    lines.push(Record::Test(skipped));

    // 6. gemma-2b q4_k_m tg128 on candle: the run was killed after two repetitions.
    let gemma = Speed {
        pp_tps: 40.0,
        tg_tps: 6.85,
        prefill_j: 0.2,
        decode_j: 1.02,
        rss: 1_932_735_283,
    };
    let killed = start(5, &GEMMA, candle(), "tg128", 0, 128);
    lines.push(Record::TestStart(killed.clone()));
    let reps = repetitions(&killed, 2, &gemma, &mut jitter);
    lines.extend(reps.into_iter().map(Record::Repetition));
    lines
}

/// The fixture as JSONL text.
pub fn fixture_jsonl() -> String {
    fixture_records()
        .iter()
        .map(|r| serde_json::to_string(r).unwrap() + "\n")
        .collect()
}

/// The fixture's tests as read, plus the same tests from a second device (a Jetson, about
/// three times faster, its own run), for merge and chart tests.
pub fn two_devices() -> Vec<TestRecord> {
    let pi = edgebench_reports::read_results(&[fixture_path()]).expect("the fixture reads");
    let mut all = pi.clone();
    for mut t in pi {
        t.environment.device = "NVIDIA Jetson Orin Nano Developer Kit".into();
        t.environment.hostname = "orin".into();
        t.environment.cpu_model = "Cortex-A78AE".into();
        t.environment.cpu_cores = 6;
        t.run_id = "20250602T090000Z-orin".into();
        t.test_id = t.test_id.replace(RUN_ID, &t.run_id);
        t.started_at = t.started_at.replace("2025-06-01", "2025-06-02");
        for rep in &mut t.repetitions {
            rep.test_id = t.test_id.clone();
            for (name, v) in rep.metrics.iter_mut() {
                if name.ends_with("_tps") {
                    *v *= 3.0;
                }
            }
        }
        t.summary = edgebench_harness::runner::summarize_repetitions(&t.repetitions);
        all.push(t);
    }
    all
}

/// `test` again from a later run (`run_id`, a day later), its rates scaled by `factor`.
pub fn rerun(test: &TestRecord, run_id: &str, day: u32, factor: f64) -> TestRecord {
    let mut t = test.clone();
    t.run_id = run_id.into();
    t.test_id = format!("{run_id}/{}", t.test_id);
    t.started_at = t
        .started_at
        .replace("2025-06-01", &format!("2025-06-{day:02}"));
    for rep in &mut t.repetitions {
        rep.test_id = t.test_id.clone();
        for (name, v) in rep.metrics.iter_mut() {
            if name.ends_with("_tps") {
                *v *= factor;
            }
        }
    }
    t.summary = edgebench_harness::runner::summarize_repetitions(&t.repetitions);
    t
}

/// A Whisper transcription as `edgebench run --suite whisper` writes it: the fixture's Pi 5,
/// whisper.cpp, `transcribe-30s` (mel, encoder, decoder prompt and 64 steps), its metrics from
/// the harness's own speech metrics. Decoder steps run at about 300/s, far beside an LLM's t/s.
pub fn whisper_test() -> TestRecord {
    use edgebench_harness::protocol::SpeechRunSpec;
    let mut jitter = Jitter(0x5eed_0000_7777_0001);
    let mut t = start(6, &PHI3, llamacpp(), "transcribe-30s", 0, 64);
    t.test_id = format!("{RUN_ID}/whisper-tiny/q8_0/transcribe-30s/whispercpp/t4");
    t.scenario.model = "whisper-tiny".into();
    t.scenario.quant = "q8_0".into();
    t.scenario.model_bytes = 43_537_433;
    t.scenario.synthetic = true;
    t.target.name = "whispercpp".into();
    t.target.library_version = "1.7.4".into();
    t.model = Some(ModelInfo {
        architecture: "whisper".into(),
        vocab_size: 51_865,
        parameters: Some(37_760_640),
        weight_bytes: Some(42_000_000),
        quant: Some("q8_0".into()),
        max_context: Some(448),
    });
    let spec = SpeechRunSpec {
        audio_path: "speech-30s.wav".into(),
        mel: true,
        encode: true,
        decode: 64,
    };
    t.repetitions = (0..5)
        .map(|index| {
            let timing = RepetitionTiming {
                audio_s: Some(30.0),
                mel_s: Some(jitter.around(0.021, 0.02)),
                encode_s: Some(jitter.around(0.412, 0.02)),
                prefill_s: Some(jitter.around(0.013, 0.02)),
                decode_s: (0..64).map(|_| jitter.around(0.0033, 0.02)).collect(),
                tokens: (0..64).map(|i| 50_364 + i).collect(),
                peak_rss_bytes: Some(161_000_000),
                ..Default::default()
            };
            RepetitionRecord {
                schema_version: SCHEMA_VERSION,
                test_id: t.test_id.clone(),
                index,
                metrics: edgebench_harness::speech::repetition_metrics(&timing, &spec),
                timing,
                throttled: Some(false),
            }
        })
        .collect();
    t.summary = edgebench_harness::runner::summarize_repetitions(&t.repetitions);
    t.peak_rss_bytes = Some(161_000_000);
    t
}
