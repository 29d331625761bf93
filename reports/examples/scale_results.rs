//! A results folder at the scale of a lab, for measuring how reports scale
//! (`scripts/report-scale.sh`):
//!
//! ```sh
//! cargo run --release -p edgebench-reports --example scale_results -- OUT_DIR [TESTS]
//! ```
//!
//! writes `TESTS` tests (default 10,000) as `edgebench run` writes them: one JSONL file per
//! device and run, each test a `test_start` line, one `repetition` line per repetition and a
//! `test` line, built from the schema's own types and serialized by serde as the runner does.
//! Repetition metrics come from the harness's own `repetition_metrics` (LLM and speech) and
//! summaries from the same summarizer the reader uses; only the raw timings are made up
//! (seeded: the same arguments give the same files).
//!
//! The mix: 10 devices from a Raspberry Pi to an x86 workstation; LLMs at full size
//! (Llama 3 8B, Phi-3 mini, Gemma 2B/7B) and one tiny test model thousands of times faster;
//! Whisper tiny/base transcriptions; llama.cpp, candle and ONNX Runtime (whisper.cpp for
//! speech); 1 to 8 threads; pp512, tg128 and pp512+tg128; 3 to 6 repetitions; five runs, so
//! most tests have a history. About 3% fail (out of memory, with the long reason the runner
//! writes), 3% are skipped and 1% were interrupted (no `test` line).

use edgebench_harness::protocol::{RepetitionTiming, RunSpec, SpeechRunSpec};
use edgebench_harness::schema::{
    metric, Environment, Parameters, Record, RepetitionRecord, ScenarioRef, SensorSummary, Status,
    TestRecord, SCHEMA_VERSION,
};
use edgebench_harness::target::{ModelInfo, TargetInfo};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

/// xorshift64*: seeded, so the folder is the same every time.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
    /// `v` varied by up to ±`spread` (a fraction), rounded to microseconds as timers give.
    fn around(&mut self, v: f64, spread: f64) -> f64 {
        ((v * (1.0 + spread * (2.0 * self.unit() - 1.0))) * 1e6).round() / 1e6
    }
}

struct Device {
    name: &'static str,
    cpu: &'static str,
    cores: usize,
    ram_gib: u64,
    arch: &'static str,
    /// Speed relative to a Raspberry Pi 5.
    speed: f64,
    /// Measures power (energy per token in the results).
    power: bool,
}

const DEVICES: [Device; 10] = [
    Device {
        name: "Raspberry Pi 5 Model B Rev 1.0",
        cpu: "Cortex-A76",
        cores: 4,
        ram_gib: 8,
        arch: "aarch64",
        speed: 1.0,
        power: true,
    },
    Device {
        name: "Raspberry Pi 4 Model B Rev 1.5",
        cpu: "Cortex-A72",
        cores: 4,
        ram_gib: 8,
        arch: "aarch64",
        speed: 0.45,
        power: true,
    },
    Device {
        name: "NVIDIA Jetson Orin Nano Developer Kit",
        cpu: "Cortex-A78AE",
        cores: 6,
        ram_gib: 8,
        arch: "aarch64",
        speed: 1.6,
        power: true,
    },
    Device {
        name: "NVIDIA Jetson AGX Orin Developer Kit",
        cpu: "Cortex-A78AE",
        cores: 12,
        ram_gib: 64,
        arch: "aarch64",
        speed: 3.1,
        power: true,
    },
    Device {
        name: "Apple M1 MacBook Air",
        cpu: "Apple M1",
        cores: 8,
        ram_gib: 16,
        arch: "aarch64",
        speed: 4.2,
        power: false,
    },
    Device {
        name: "Apple M2 Pro Mac mini",
        cpu: "Apple M2 Pro",
        cores: 12,
        ram_gib: 32,
        arch: "aarch64",
        speed: 6.5,
        power: false,
    },
    Device {
        name: "Apple M4 Max MacBook Pro",
        cpu: "Apple M4 Max",
        cores: 16,
        ram_gib: 64,
        arch: "aarch64",
        speed: 11.0,
        power: false,
    },
    Device {
        name: "Intel NUC 13 Pro",
        cpu: "13th Gen Intel(R) Core(TM) i7-1360P",
        cores: 16,
        ram_gib: 32,
        arch: "x86_64",
        speed: 3.4,
        power: true,
    },
    Device {
        name: "AMD Ryzen 9 7950X workstation",
        cpu: "AMD Ryzen 9 7950X 16-Core Processor",
        cores: 32,
        ram_gib: 64,
        arch: "x86_64",
        speed: 7.8,
        power: true,
    },
    Device {
        name: "unknown x86_64 host",
        cpu: "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz",
        cores: 8,
        ram_gib: 16,
        arch: "x86_64",
        speed: 3.0,
        power: false,
    },
];

struct Model {
    name: &'static str,
    quant: &'static str,
    arch: &'static str,
    bytes: u64,
    params: u64,
    vocab: usize,
    /// Prompt and generation t/s of llama.cpp on a Raspberry Pi 5 with 4 threads.
    pp_tps: f64,
    tg_tps: f64,
    speech: bool,
}

const MODELS: [Model; 8] = [
    Model {
        name: "llama3-8b",
        quant: "q4_k_m",
        arch: "llama",
        bytes: 4_920_733_696,
        params: 8_030_261_248,
        vocab: 128_256,
        pp_tps: 9.8,
        tg_tps: 1.9,
        speech: false,
    },
    Model {
        name: "llama3-8b",
        quant: "q8_0",
        arch: "llama",
        bytes: 8_540_770_304,
        params: 8_030_261_248,
        vocab: 128_256,
        pp_tps: 11.2,
        tg_tps: 1.1,
        speech: false,
    },
    Model {
        name: "phi3-mini",
        quant: "q4_k_m",
        arch: "phi3",
        bytes: 2_393_231_072,
        params: 3_821_079_552,
        vocab: 32_064,
        pp_tps: 21.4,
        tg_tps: 4.6,
        speech: false,
    },
    Model {
        name: "gemma-2b",
        quant: "q4_k_m",
        arch: "gemma",
        bytes: 1_630_261_504,
        params: 2_506_172_416,
        vocab: 256_000,
        pp_tps: 40.0,
        tg_tps: 6.9,
        speech: false,
    },
    Model {
        name: "gemma-7b",
        quant: "q4_0",
        arch: "gemma",
        bytes: 5_011_345_408,
        params: 8_537_680_896,
        vocab: 256_000,
        pp_tps: 8.1,
        tg_tps: 1.7,
        speech: false,
    },
    Model {
        name: "llama3-8b-tiny",
        quant: "q4_0",
        arch: "llama",
        bytes: 21_233_664,
        params: 35_000_000,
        vocab: 128_256,
        pp_tps: 27_000.0,
        tg_tps: 2_600.0,
        speech: false,
    },
    Model {
        name: "whisper-tiny",
        quant: "q8_0",
        arch: "whisper",
        bytes: 43_537_433,
        params: 37_760_640,
        vocab: 51_865,
        pp_tps: 0.0,
        tg_tps: 310.0,
        speech: true,
    },
    Model {
        name: "whisper-base",
        quant: "f16",
        arch: "whisper",
        bytes: 147_964_211,
        params: 72_593_920,
        vocab: 51_865,
        pp_tps: 0.0,
        tg_tps: 140.0,
        speech: true,
    },
];

/// (name, version, relative speed).
const LLM_TARGETS: [(&str, &str, f64); 3] = [
    ("llamacpp", "b4589", 1.0),
    ("candle", "0.9.1", 0.7),
    ("onnxruntime", "1.20.1", 0.85),
];
const SPEECH_TARGETS: [(&str, &str, f64); 3] = [
    ("whispercpp", "1.7.4", 1.0),
    ("candle", "0.9.1", 0.8),
    ("onnxruntime", "1.20.1", 0.9),
];
const THREADS: [usize; 4] = [1, 2, 4, 8];
/// (workload, prompt tokens, generated tokens).
const WORKLOADS: [(&str, usize, usize); 3] = [
    ("pp512", 512, 0),
    ("tg128", 0, 128),
    ("pp512+tg128", 512, 128),
];
const RUNS: usize = 5;

fn environment(d: &Device) -> Environment {
    Environment {
        device: d.name.into(),
        hostname: d
            .name
            .split_whitespace()
            .next()
            .unwrap_or("host")
            .to_lowercase()
            + "-bench",
        cpu_model: d.cpu.into(),
        cpu_cores: d.cores,
        ram_bytes: d.ram_gib << 30,
        os: if d.cpu.starts_with("Apple") {
            "macOS 15.1".into()
        } else {
            "Debian GNU/Linux 12 (bookworm)".into()
        },
        kernel: "6.6.51".into(),
        arch: d.arch.into(),
        governor: Some("ondemand".into()),
        emulated: false,
        edgebench_version: "0.1.0".into(),
        edgebench_commit: "75cbc40e3b1f0c9d2a4e5f60718293a4b5c6d7e8".into(),
        extra: BTreeMap::from([(
            "peak_memory_bandwidth_gbs".to_string(),
            format!("{:.1}", 17.0 * d.speed),
        )]),
    }
}

fn target(name: &str, version: &str, model: &Model) -> TargetInfo {
    TargetInfo {
        name: name.into(),
        library_version: version.into(),
        build_flags: vec!["NEON".into(), "DOTPROD".into()],
        device: "cpu".into(),
        formats: vec![if model.speech { "ggml" } else { "gguf" }.into()],
        architectures: vec![model.arch.into()],
        quants: vec![model.quant.into()],
        extra: BTreeMap::new(),
        description: Default::default(),
    }
}

/// One test's raw timings; metrics from the harness's own functions.
fn repetitions(
    test_id: &str,
    model: &Model,
    (prompt, gen): (usize, usize),
    (pp_tps, tg_tps): (f64, f64),
    count: usize,
    power: bool,
    rng: &mut Rng,
) -> Vec<RepetitionRecord> {
    (0..count)
        .map(|index| {
            let mut timing = RepetitionTiming::default();
            let mut metrics;
            if model.speech {
                timing.audio_s = Some(30.0);
                timing.mel_s = Some(rng.around(0.6 / tg_tps * 10.0, 0.02));
                timing.encode_s = Some(rng.around(40.0 / tg_tps, 0.02));
                timing.prefill_s = Some(rng.around(4.0 / tg_tps, 0.02));
                timing.decode_s = (0..gen).map(|_| rng.around(1.0 / tg_tps, 0.03)).collect();
                timing.tokens = (0..gen as u32).map(|i| 50_364 + i * 17 % 1500).collect();
                let spec = SpeechRunSpec {
                    audio_path: PathBuf::from("speech-30s.wav"),
                    mel: true,
                    encode: true,
                    decode: gen,
                };
                metrics = edgebench_harness::speech::repetition_metrics(&timing, &spec);
            } else {
                if prompt > 0 {
                    let s = rng.around(prompt as f64 / pp_tps, 0.015);
                    timing.prefill_s = Some(s);
                    timing.first_token_s = Some(((s + 1.0 / tg_tps) * 1e6).round() / 1e6);
                }
                timing.decode_s = (0..gen)
                    .map(|i| rng.around(if i % 41 == 7 { 1.12 } else { 1.0 } / tg_tps, 0.02))
                    .collect();
                timing.tokens = (0..gen as u32).map(|i| (i * 7919 + 13) % 32_000).collect();
                let run = RunSpec {
                    prompt,
                    gen,
                    seed: 42,
                };
                metrics = edgebench_harness::runner::repetition_metrics(&timing, run);
            }
            if power {
                if prompt > 0 && !model.speech {
                    metrics.insert(
                        metric::PREFILL_J_PER_TOKEN.into(),
                        rng.around(6.5 / pp_tps, 0.03),
                    );
                }
                if gen > 0 {
                    metrics.insert(
                        metric::DECODE_J_PER_TOKEN.into(),
                        rng.around(6.8 / tg_tps, 0.03),
                    );
                }
            }
            timing.peak_rss_bytes = Some(model.bytes + 300_000_000 + index as u64 * 4096);
            RepetitionRecord {
                schema_version: SCHEMA_VERSION,
                test_id: test_id.into(),
                index,
                timing,
                metrics,
                throttled: Some(rng.unit() < 0.04),
            }
        })
        .collect()
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(
        args.next()
            .ok_or_else(|| anyhow::anyhow!("usage: scale_results OUT_DIR [TESTS]"))?,
    );
    let total: usize = args.next().map_or(Ok(10_000), |s| s.parse())?;
    std::fs::create_dir_all(&out)?;
    let mut rng = Rng(0x5eed_2026_0001);
    let mut written = 0;
    'runs: for run in 0..RUNS {
        for (di, d) in DEVICES.iter().enumerate() {
            if written >= total {
                break 'runs;
            }
            let run_id = format!("202506{:02}T{:02}0000Z-{}", 1 + run * 3, 8 + di, di);
            let path = out.join(format!("{run_id}.jsonl"));
            let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
            let mut minute = 0;
            for m in &MODELS {
                let targets = if m.speech {
                    &SPEECH_TARGETS
                } else {
                    &LLM_TARGETS
                };
                let workloads: &[(&str, usize, usize)] = if m.speech {
                    &[("transcribe-30s", 0, 64)]
                } else {
                    &WORKLOADS
                };
                for &(tname, tversion, tspeed) in targets {
                    for &threads in THREADS.iter().filter(|&&t| t <= d.cores) {
                        for &(workload, prompt, gen) in workloads {
                            if written >= total {
                                break;
                            }
                            written += 1;
                            minute += 1;
                            let test_id = format!(
                                "{run_id}/{}/{}/{workload}/{tname}/t{threads}",
                                m.name, m.quant
                            );
                            let scaling = (threads as f64).min(4.0).powf(0.8) / 4f64.powf(0.8);
                            let drift = 1.0 + 0.02 * (rng.unit() - 0.5) + 0.01 * run as f64;
                            let pp = m.pp_tps * d.speed * tspeed * scaling * drift;
                            let tg = m.tg_tps * d.speed.sqrt() * tspeed * scaling.sqrt() * drift;
                            let mut test = TestRecord {
                                schema_version: SCHEMA_VERSION,
                                test_id: test_id.clone(),
                                run_id: run_id.clone(),
                                started_at: format!(
                                    "2025-06-{:02}T{:02}:{:02}:{:02}Z",
                                    1 + run * 3,
                                    8 + minute / 3600,
                                    minute / 60 % 60,
                                    minute % 60
                                ),
                                environment: environment(d),
                                scenario: ScenarioRef {
                                    model: m.name.into(),
                                    quant: m.quant.into(),
                                    workload: workload.into(),
                                    prompt_tokens: prompt,
                                    gen_tokens: gen,
                                    model_path: format!(
                                        "~/.cache/edgebench/models/{}-{}.gguf",
                                        m.name, m.quant
                                    ),
                                    model_sha256: Some(format!("{:064x}", m.bytes)),
                                    model_bytes: m.bytes,
                                    synthetic: true,
                                    seed: Some(42),
                                },
                                target: target(tname, tversion, m),
                                parameters: Parameters {
                                    threads,
                                    options: BTreeMap::new(),
                                },
                                status: Status::Ok,
                                model: Some(ModelInfo {
                                    architecture: m.arch.into(),
                                    vocab_size: m.vocab,
                                    parameters: Some(m.params),
                                    weight_bytes: Some(m.bytes - m.bytes / 50),
                                    quant: Some(m.quant.into()),
                                    max_context: Some(4096),
                                }),
                                load_s: Some(rng.around(m.bytes as f64 / 1.8e9, 0.1)),
                                peak_rss_bytes: None,
                                repetitions: vec![],
                                summary: BTreeMap::new(),
                                stop_reason: None,
                                sensors: SensorSummary {
                                    sensors: vec![
                                        "cpufreq/cpu0".into(),
                                        "thermal/cpu-thermal".into(),
                                    ],
                                    samples: 300,
                                    max_temp_c: Some(rng.around(68.0, 0.1)),
                                    min_clock_mhz: Some(2400.0),
                                    avg_clock_mhz: Some(2400.0),
                                    max_clock_mhz: Some(2400.0),
                                    avg_cpu_percent: Some(rng.around(90.0, 0.05)),
                                    ..Default::default()
                                },
                                warnings: vec![],
                                soak: None,
                            };
                            writeln!(
                                file,
                                "{}",
                                serde_json::to_string(&Record::TestStart(test.clone()))?
                            )?;
                            let fate = rng.unit();
                            let too_big = m.bytes + 400_000_000 > d.ram_gib << 30;
                            if too_big || fate < 0.03 {
                                test.model = None;
                                test.load_s = None;
                                test.status = Status::Failed {
                                    reason: format!(
                                        "worker killed by signal 9 (SIGKILL) while loading, likely out of \
                                         memory: the model needs {:.2} GiB with its KV cache and the backend's \
                                         buffers, the device has {:.2} GiB free of {} GiB; run a smaller \
                                         quantization or pass --force to try anyway",
                                        (m.bytes + 400_000_000) as f64 / (1u64 << 30) as f64,
                                        d.ram_gib as f64 * 0.93,
                                        d.ram_gib
                                    ),
                                };
                                test.peak_rss_bytes = Some((d.ram_gib << 30) / 10 * 9);
                                writeln!(file, "{}", serde_json::to_string(&Record::Test(test))?)?;
                                continue;
                            }
                            if fate < 0.06 {
                                test.model = None;
                                test.load_s = None;
                                test.status = Status::Skipped {
                                    reason: format!(
                                        "{tname} does not run {} on this build (it runs f32, f16, int8, int4); \
                                         convert the model with its own tools or pick another target",
                                        m.quant
                                    ),
                                };
                                writeln!(file, "{}", serde_json::to_string(&Record::Test(test))?)?;
                                continue;
                            }
                            let count = if fate < 0.07 {
                                2
                            } else {
                                3 + (rng.unit() * 4.0) as usize
                            };
                            let reps = repetitions(
                                &test_id,
                                m,
                                (prompt, gen),
                                (pp, tg),
                                count,
                                d.power,
                                &mut rng,
                            );
                            for r in &reps {
                                writeln!(
                                    file,
                                    "{}",
                                    serde_json::to_string(&Record::Repetition(r.clone()))?
                                )?;
                            }
                            if fate < 0.07 {
                                continue; // interrupted: the run was killed before the test line
                            }
                            test.summary = edgebench_harness::runner::summarize_repetitions(&reps);
                            test.peak_rss_bytes =
                                reps.iter().filter_map(|r| r.timing.peak_rss_bytes).max();
                            let throttled =
                                reps.iter().filter(|r| r.throttled == Some(true)).count();
                            test.sensors.throttled_repetitions = Some(throttled);
                            test.repetitions = reps;
                            test.stop_reason = Some("ci_reached".into());
                            writeln!(file, "{}", serde_json::to_string(&Record::Test(test))?)?;
                        }
                    }
                }
            }
            file.flush()?;
        }
    }
    eprintln!("{written} tests in {}", out.display());
    Ok(())
}
