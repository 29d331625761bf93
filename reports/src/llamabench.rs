//! llama-bench results in and out, so existing llama-bench history compares with edgebench runs.
//!
//! **Import.** llama-bench's `-o json` (an array) and `-o jsonl` (one object a line) print one
//! object per test with the fields of `test::get_fields()` in llama.cpp's
//! `tools/llama-bench/llama-bench.cpp` (`build_commit`, `build_number`, `cpu_info`, `gpu_info`,
//! `backends`, `model_filename`, `model_type`, `model_size`, `model_n_params`, `n_batch`,
//! `n_ubatch`, `n_threads`, `type_k`, `type_v`, `n_gpu_layers`, `flash_attn`, …, `n_prompt`,
//! `n_gen`, `n_depth`, `test_time`, `avg_ns`, `stddev_ns`, `avg_ts`, `stddev_ts`) plus
//! `samples_ns` and `samples_ts`. Each becomes a `TestRecord`:
//! - one repetition per sample; rates come from `samples_ns` (exact integers; `samples_ts` is
//!   printed with 6 significant digits), as llama-bench computes them: tokens × 10⁹ ÷ ns.
//!   A pp test's repetition also gets its prefill time; a tg test has no per-token times, so
//!   no inter-token latency is made up;
//! - a test with both `n_prompt` and `n_gen` (llama-bench's `pg`) gets the metric [`PG_TPS`]:
//!   (prompt + generated tokens) ÷ total time, llama-bench's definition;
//! - the scenario is the model file's stem and the quantization read from `model_type`
//!   (`llama 8B Q4_K - Medium` → `q4_k_m`), the target `llamacpp` version `b<build_number>`,
//!   the device named by `cpu_info` (and `gpu_info`); the options are the llama-bench settings
//!   that differ from its defaults (`batch`, `ubatch`, `type_k`, `type_v`, `ngl`, `flash_attn`,
//!   `depth`), so a batch sweep stays apart;
//! - every original field is kept in the target's `extra` as `llama_bench.<field>`, so an
//!   export gives back what was imported.
//!
//! **Export** ([`export`]): a JSON array of llama-bench objects, one per test and rate (a
//! combined edgebench test gives a pp and a tg object), with the subset of fields edgebench
//! knows; samples from the repetitions' timings, averages and standard deviations computed as
//! llama-bench does (sample standard deviation; `avg_ns` an integer mean).

use edgebench_harness::protocol::RepetitionTiming;
use edgebench_harness::schema::{
    metric, Environment, Parameters, RepetitionRecord, ScenarioRef, SensorSummary, Status,
    TestRecord, SCHEMA_VERSION,
};
use edgebench_harness::target::{ModelInfo, TargetInfo};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// llama-bench's combined prompt + generation rate: (n_prompt + n_gen) tokens ÷ total time.
pub const PG_TPS: &str = "pg_tps";

/// Prefix of the target `extra` keys holding the original llama-bench fields.
const KEEP: &str = "llama_bench.";

/// Fields that are recomputed from the samples rather than kept.
const COMPUTED: [&str; 6] = [
    "avg_ns",
    "stddev_ns",
    "avg_ts",
    "stddev_ts",
    "samples_ns",
    "samples_ts",
];

/// Whether a JSON object is a llama-bench result (and not an edgebench record).
pub fn looks_like(object: &Map<String, Value>) -> bool {
    !object.contains_key("schema_version")
        && object.contains_key("n_prompt")
        && object.contains_key("n_gen")
        && (object.contains_key("samples_ns") || object.contains_key("avg_ts"))
}

/// llama.cpp's file-type names (`llama_model_ftype_name`) and edgebench's quantization names.
const FTYPES: [(&str, &str); 14] = [
    ("all F32", "f32"),
    ("F16", "f16"),
    ("BF16", "bf16"),
    ("Q4_0", "q4_0"),
    ("Q4_1", "q4_1"),
    ("Q5_0", "q5_0"),
    ("Q5_1", "q5_1"),
    ("Q8_0", "q8_0"),
    ("Q4_K - Small", "q4_k_s"),
    ("Q4_K - Medium", "q4_k_m"),
    ("Q5_K - Small", "q5_k_s"),
    ("Q5_K - Medium", "q5_k_m"),
    ("Q6_K", "q6_k"),
    ("Q3_K - Medium", "q3_k_m"),
];

/// `llama 8B Q4_K - Medium` → (`llama`, `8B`, `q4_k_m`).
fn parse_model_type(model_type: &str) -> (String, String, String) {
    let mut words = model_type.splitn(3, ' ');
    let arch = words.next().unwrap_or("").to_string();
    let size = words.next().unwrap_or("").to_string();
    // Builds before mid-2024 print `mostly Q4_0` for the file type.
    let ftype = words.next().unwrap_or("").trim();
    let ftype = ftype.strip_prefix("mostly ").unwrap_or(ftype);
    let quant = FTYPES.iter().find(|(name, _)| *name == ftype).map_or_else(
        || {
            ftype
                .to_ascii_lowercase()
                .replace(" - ", "_")
                .replace(' ', "_")
        },
        |(_, q)| q.to_string(),
    );
    (arch, size, quant)
}

fn ftype_name(quant: &str) -> String {
    FTYPES
        .iter()
        .find(|(_, q)| *q == quant)
        .map_or_else(|| quant.to_ascii_uppercase(), |(name, _)| name.to_string())
}

/// Settings kept as options when they differ from llama-bench's defaults (as of build 6000+).
const OPTIONS: [(&str, &str, &str); 7] = [
    ("n_batch", "batch", "2048"),
    ("n_ubatch", "ubatch", "512"),
    ("type_k", "type_k", "f16"),
    ("type_v", "type_v", "f16"),
    ("n_gpu_layers", "ngl", "99"),
    ("flash_attn", "flash_attn", "-1"),
    ("n_depth", "depth", "0"),
];

/// The text of a JSON scalar as llama-bench printed it (`"f16"` → `f16`, `512` → `512`).
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        other => other.to_string(),
    }
}

/// Builds before `backends` existed (2023–2024) print one boolean per backend (`"cuda": true`,
/// `"metal": false`…): the backend named by the first true flag, or `CPU`.
fn old_backend_flags(object: &Map<String, Value>) -> Option<String> {
    if object.contains_key("backends") {
        return None;
    }
    const FLAGS: [(&str, &str); 6] = [
        ("cuda", "CUDA"),
        ("metal", "Metal"),
        ("vulkan", "Vulkan"),
        ("sycl", "SYCL"),
        ("kompute", "Kompute"),
        ("opencl", "OpenCL"),
    ];
    if !FLAGS.iter().any(|(field, _)| object.contains_key(*field)) {
        return None;
    }
    let on = FLAGS
        .iter()
        .find(|(field, _)| object.get(*field).and_then(Value::as_bool) == Some(true));
    Some(on.map_or("CPU", |(_, name)| *name).to_string())
}

/// One llama-bench object as a test. `run_id` names the file it came from, `index` its
/// position there. Errors say which field is missing or wrong.
pub fn import(
    object: &Map<String, Value>,
    run_id: &str,
    index: usize,
) -> Result<TestRecord, String> {
    let uint = |name: &str| -> Result<u64, String> {
        match object.get(name) {
            None => Ok(0),
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
                .ok_or_else(|| format!("llama-bench field `{name}` is {v}, not a count")),
        }
    };
    let text = |name: &str| object.get(name).map(scalar).unwrap_or_default();
    let n_prompt = uint("n_prompt")? as usize;
    let n_gen = uint("n_gen")? as usize;
    let n_depth = uint("n_depth")? as usize;
    if n_prompt + n_gen == 0 {
        return Err("llama-bench test with n_prompt = n_gen = 0".into());
    }
    let tokens = (n_prompt + n_gen) as f64;
    // Samples: exact nanoseconds where present, else the printed rates.
    let samples_ns: Vec<f64> = match object.get("samples_ns") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_f64().filter(|x| *x > 0.0))
            .collect::<Option<Vec<f64>>>()
            .ok_or("llama-bench `samples_ns` holds a value that is not a positive number")?,
        Some(other) => return Err(format!("llama-bench `samples_ns` is {other}, not an array")),
        None => match object.get("samples_ts") {
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_f64().filter(|x| *x > 0.0).map(|ts| tokens * 1e9 / ts))
                .collect::<Option<Vec<f64>>>()
                .ok_or("llama-bench `samples_ts` holds a value that is not a positive number")?,
            _ => match object.get("avg_ts").and_then(Value::as_f64) {
                // Old versions print only the average: one repetition.
                Some(ts) if ts > 0.0 => vec![tokens * 1e9 / ts],
                _ => return Err("llama-bench test without samples_ns, samples_ts or avg_ts".into()),
            },
        },
    };
    let model_filename = text("model_filename");
    let model = std::path::Path::new(&model_filename)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "unknown".into());
    let (arch, _size, quant) = parse_model_type(&text("model_type"));
    let mut workload = match (n_prompt, n_gen) {
        (p, 0) => format!("pp{p}"),
        (0, g) => format!("tg{g}"),
        (p, g) => format!("pp{p}+tg{g}"),
    };
    if n_depth > 0 {
        workload.push_str(&format!("@d{n_depth}"));
    }
    let backends = old_backend_flags(object).unwrap_or_else(|| text("backends"));
    let ngl = gpu_layers(object.get("n_gpu_layers"))?;
    let device = if backends.is_empty() || backends == "CPU" || ngl == GpuLayers::None {
        "cpu".to_string()
    } else {
        backends
            .split(',')
            .next()
            .unwrap_or("gpu")
            .to_ascii_lowercase()
    };
    let mut options = BTreeMap::new();
    for (field, name, default) in OPTIONS {
        if field == "n_depth" {
            continue; // in the workload name
        }
        if field == "n_gpu_layers" && device == "cpu" {
            continue;
        }
        if field == "n_gpu_layers" {
            if let GpuLayers::Some(n) = ngl {
                options.insert(name.to_string(), n.to_string());
            }
            continue;
        }
        if let Some(v) = object.get(field) {
            // Older versions print flash_attn as a bool (false their default); newer ones as
            // llama.cpp's type, -1 (auto) their default and 0 an explicit "off".
            let default_too = field == "flash_attn" && *v == Value::Bool(false);
            let v = scalar(v);
            if v != default && !default_too {
                options.insert(name.to_string(), v);
            }
        }
    }
    let mut extra: BTreeMap<String, String> = object
        .iter()
        .filter(|(k, _)| !COMPUTED.contains(&k.as_str()))
        .map(|(k, v)| (format!("{KEEP}{k}"), v.to_string()))
        .collect();
    extra.insert("source".into(), "llama-bench".into());
    let cpu = text("cpu_info");
    let gpu = text("gpu_info");
    let device_name = match (cpu.is_empty(), gpu.is_empty()) {
        (false, true) => cpu.clone(),
        (false, false) => format!("{cpu} + {gpu}"),
        (true, false) => gpu.clone(),
        (true, true) => "unknown (llama-bench)".into(),
    };
    let test_time = text("test_time");
    let threads = uint("n_threads")? as usize;
    let test_id = format!("llama-bench/{run_id}/{index}/{model}/{workload}/t{threads}");
    let repetitions: Vec<RepetitionRecord> = samples_ns
        .iter()
        .enumerate()
        .map(|(i, &ns)| {
            let seconds = ns / 1e9;
            let rate = tokens * 1e9 / ns;
            let mut timing = RepetitionTiming::default();
            let mut metrics = BTreeMap::new();
            match (n_prompt, n_gen) {
                (_, 0) => {
                    timing.prefill_s = Some(seconds);
                    metrics.insert(metric::PP_TPS.to_string(), rate);
                }
                (0, _) => {
                    metrics.insert(metric::TG_TPS.to_string(), rate);
                }
                _ => {
                    metrics.insert(PG_TPS.to_string(), rate);
                }
            }
            RepetitionRecord {
                schema_version: SCHEMA_VERSION,
                test_id: test_id.clone(),
                index: i,
                timing,
                metrics,
                throttled: None,
            }
        })
        .collect();
    let model_size = uint("model_size")?;
    let n_params = uint("model_n_params")?;
    let build_number = uint("build_number")?;
    Ok(TestRecord {
        schema_version: SCHEMA_VERSION,
        test_id,
        run_id: run_id.to_string(),
        started_at: test_time,
        environment: Environment {
            device: device_name,
            cpu_model: cpu,
            extra: BTreeMap::from([("source".into(), "llama-bench".into())]),
            ..Default::default()
        },
        scenario: ScenarioRef {
            model,
            quant: quant.clone(),
            workload,
            prompt_tokens: n_prompt,
            gen_tokens: n_gen,
            model_path: model_filename,
            model_sha256: None,
            model_bytes: model_size,
            synthetic: false,
            seed: None,
        },
        target: TargetInfo {
            name: "llamacpp".into(),
            library_version: if build_number > 0 {
                format!("b{build_number}")
            } else {
                String::new()
            },
            build_flags: backends
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            device,
            formats: vec!["gguf".into()],
            architectures: vec![arch.clone()],
            quants: vec![quant.clone()],
            extra,
            description: Default::default(),
        },
        parameters: Parameters { threads, options },
        status: Status::Ok,
        model: Some(ModelInfo {
            architecture: arch,
            vocab_size: 0,
            parameters: (n_params > 0).then_some(n_params),
            weight_bytes: (model_size > 0).then_some(model_size),
            quant: Some(quant),
            max_context: None,
        }),
        load_s: None,
        peak_rss_bytes: None,
        summary: edgebench_harness::runner::summarize_repetitions(&repetitions),
        repetitions,
        stop_reason: None,
        sensors: SensorSummary::default(),
        warnings: Vec::new(),
        soak: None,
    })
}

/// How many layers a llama-bench test put on the GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GpuLayers {
    None,
    /// Every layer: llama-bench's default, written `99` by builds before late 2025 and `-1`
    /// (llama.cpp's "all") since; any count of 99 or more also means all in practice.
    All,
    Some(u64),
}

/// `n_gpu_layers` as any llama-bench version writes it (absent, `-1`, `0`, `99`, `"99"`).
fn gpu_layers(v: Option<&Value>) -> Result<GpuLayers, String> {
    let Some(v) = v else {
        return Ok(GpuLayers::All);
    };
    let n = v
        .as_i64()
        .or_else(|| v.as_f64().map(|f| f as i64))
        .or_else(|| v.as_str().and_then(|s| s.trim().parse::<i64>().ok()))
        .ok_or_else(|| format!("llama-bench field `n_gpu_layers` is {v}, not a layer count"))?;
    Ok(match n {
        0 => GpuLayers::None,
        n if !(0..99).contains(&n) => GpuLayers::All,
        n => GpuLayers::Some(n as u64),
    })
}

/// Mean and sample standard deviation as llama-bench computes them (`avg`, `stdev`).
fn avg_stdev(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let mean = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return (mean, 0.0);
    }
    let sq: f64 = v.iter().map(|x| x * x).sum();
    let var = sq / (n - 1.0) - mean * mean * n / (n - 1.0);
    (mean, var.max(0.0).sqrt())
}

/// One llama-bench object per test and rate, as a JSON array (see the module documentation).
pub fn export(tests: &[TestRecord]) -> Vec<Value> {
    let mut out = Vec::new();
    for test in crate::table::sorted(tests) {
        if test.repetitions.is_empty() {
            continue;
        }
        let (p, g) = (test.scenario.prompt_tokens, test.scenario.gen_tokens);
        let imported_pg = test
            .repetitions
            .iter()
            .any(|r| r.metrics.contains_key(PG_TPS));
        // (n_prompt, n_gen, metric, seconds of a repetition where the timing has it)
        let parts: Vec<(usize, usize, &str)> = if imported_pg {
            vec![(p, g, PG_TPS)]
        } else {
            let mut v = Vec::new();
            if p > 0 {
                v.push((p, 0, metric::PP_TPS));
            }
            if g > 0 {
                v.push((0, g, metric::TG_TPS));
            }
            v
        };
        for (n_prompt, n_gen, rate) in parts {
            let tokens = (n_prompt + n_gen) as f64;
            let ns: Vec<u64> = test
                .repetitions
                .iter()
                .filter_map(|r| {
                    let from_timing = match rate {
                        metric::PP_TPS => r.timing.prefill_s,
                        metric::TG_TPS if !r.timing.decode_s.is_empty() => {
                            Some(r.timing.decode_s.iter().sum())
                        }
                        _ => None,
                    };
                    from_timing
                        .or_else(|| r.metrics.get(rate).map(|ts| tokens / ts))
                        .map(|s| (s * 1e9).round() as u64)
                })
                .collect();
            if ns.is_empty() {
                continue;
            }
            out.push(object(test, n_prompt, n_gen, &ns));
        }
    }
    out
}

fn object(test: &TestRecord, n_prompt: usize, n_gen: usize, ns: &[u64]) -> Value {
    let tokens = (n_prompt + n_gen) as f64;
    let ts: Vec<f64> = ns.iter().map(|&n| 1e9 * tokens / n as f64).collect();
    let ns_f: Vec<f64> = ns.iter().map(|&n| n as f64).collect();
    let (avg_ts, stddev_ts) = avg_stdev(&ts);
    let (_, stddev_ns) = avg_stdev(&ns_f);
    let avg_ns = ns.iter().sum::<u64>() / ns.len() as u64;
    let model = test.model.as_ref();
    let params = model.and_then(|m| m.parameters).unwrap_or(0);
    let size = match params {
        0 => "?B".to_string(),
        p if p >= 1_000_000_000 => format!("{:.0}B", p as f64 / 1e9),
        p => format!("{:.0}M", p as f64 / 1e6),
    };
    let arch = model.map_or("?", |m| m.architecture.as_str());
    let option = |name: &str, default: Value| -> Value {
        test.parameters
            .options
            .get(name)
            .map_or(default, |v| v.parse::<i64>().map_or(json!(v), |n| json!(n)))
    };
    let backends = if test.target.device.is_empty() || test.target.device == "cpu" {
        "CPU".to_string()
    } else {
        test.target.device.to_ascii_uppercase()
    };
    // edgebench prefills the whole prompt in one batch: that is its batch size.
    let batch = if n_prompt > 0 { n_prompt as i64 } else { 2048 };
    let mut fields = Map::new();
    let digits: String = test
        .target
        .library_version
        .trim_start_matches('b')
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    fields.insert(
        "build_commit".into(),
        json!(test.environment.edgebench_commit),
    );
    fields.insert(
        "build_number".into(),
        json!(digits.parse::<u64>().unwrap_or(0)),
    );
    fields.insert("cpu_info".into(), json!(test.environment.cpu_model));
    fields.insert("gpu_info".into(), json!(""));
    fields.insert("backends".into(), json!(backends));
    fields.insert("model_filename".into(), json!(test.scenario.model_path));
    fields.insert(
        "model_type".into(),
        json!(format!(
            "{arch} {size} {}",
            ftype_name(&test.scenario.quant)
        )),
    );
    fields.insert(
        "model_size".into(),
        json!(model
            .and_then(|m| m.weight_bytes)
            .unwrap_or(test.scenario.model_bytes)),
    );
    fields.insert("model_n_params".into(), json!(params));
    fields.insert("n_batch".into(), option("batch", json!(batch)));
    fields.insert("n_ubatch".into(), option("ubatch", json!(batch.min(512))));
    fields.insert("n_threads".into(), json!(test.parameters.threads));
    fields.insert("type_k".into(), option("type_k", json!("f16")));
    fields.insert("type_v".into(), option("type_v", json!("f16")));
    fields.insert(
        "n_gpu_layers".into(),
        option("ngl", json!(if backends == "CPU" { 0 } else { 99 })),
    );
    fields.insert("flash_attn".into(), option("flash_attn", json!(0)));
    fields.insert("n_prompt".into(), json!(n_prompt));
    fields.insert("n_gen".into(), json!(n_gen));
    fields.insert("n_depth".into(), json!(0));
    fields.insert("test_time".into(), json!(test.started_at));
    // An imported test gives back its own fields.
    for (k, v) in &test.target.extra {
        if let Some(field) = k.strip_prefix(KEEP) {
            if let Ok(value) = serde_json::from_str::<Value>(v) {
                fields.insert(field.to_string(), value);
            }
        }
    }
    fields.insert("avg_ns".into(), json!(avg_ns));
    fields.insert("stddev_ns".into(), json!(stddev_ns as u64));
    fields.insert("avg_ts".into(), json!(avg_ts));
    fields.insert("stddev_ts".into(), json!(stddev_ts));
    fields.insert("samples_ns".into(), json!(ns));
    fields.insert("samples_ts".into(), json!(ts));
    Value::Object(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_types() {
        assert_eq!(
            parse_model_type("llama 8B Q4_K - Medium"),
            ("llama".into(), "8B".into(), "q4_k_m".into())
        );
        assert_eq!(parse_model_type("phi3 3B F16").2, "f16");
        assert_eq!(
            parse_model_type("gemma 2B IQ4_XS - 4.25 bpw").2,
            "iq4_xs_4.25_bpw"
        );
        assert_eq!(ftype_name("q4_k_m"), "Q4_K - Medium");
        assert_eq!(ftype_name("iq2_xs"), "IQ2_XS");
    }

    #[test]
    fn llama_bench_stdev() {
        let (m, s) = avg_stdev(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m, 2.5);
        assert!((s - 1.2909944487358056).abs() < 1e-12);
    }
}
