//! `edgebench device`, throttle flags, cooldown, soak and the timeline file, as a user runs
//! them: on this machine and on fixture trees copied from real devices.

use assert_cmd::Command;
use edgebench_harness::schema::{Record, Status, TestRecord};
use std::path::{Path, PathBuf};

fn edgebench() -> Command {
    let mut cmd = Command::cargo_bin("edgebench").unwrap();
    cmd.env_remove("EDGEBENCH_MODELS_DIR");
    // Bandwidth is measured once for the whole test suite, not once per test.
    cmd.env(
        "EDGEBENCH_CACHE_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("edgebench-cache"),
    );
    cmd
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../harness/tests/fixtures")
        .join(name)
}

/// A writable copy of a fixture tree (scripts stay executable).
fn copy_fixture(name: &str, to: &Path) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let dest = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &dest);
            } else {
                std::fs::copy(entry.path(), dest).unwrap();
            }
        }
    }
    copy(&fixture(name), to);
}

fn test_records(path: &Path) -> Vec<TestRecord> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| match serde_json::from_str(l).unwrap() {
            Record::Test(t) => Some(t),
            _ => None,
        })
        .collect()
}

fn ok_output(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "stdout {stdout}\nstderr {stderr}");
    (stdout, stderr)
}

#[test]
fn device_lists_this_machine_with_live_readings() {
    let (stdout, _) = ok_output(edgebench().args(["device", "--no-bandwidth"]));
    assert!(stdout.starts_with("device "), "{stdout}");
    assert!(stdout.contains("sensors found:"), "{stdout}");
    // Every machine has the process sensor; the ones it lacks are listed with the reason.
    assert!(stdout.contains("cpu/total"), "{stdout}");
    assert!(
        stdout.contains("apple") || stdout.contains("nvml"),
        "{stdout}"
    );
}

#[test]
fn device_on_a_pi5_names_it_and_reads_its_firmware() {
    let (stdout, _) = ok_output(
        edgebench()
            .arg("device")
            .arg("--sys-root")
            .arg(fixture("pi5")),
    );
    assert!(
        stdout.contains("Raspberry Pi 5 (8 GB) (catalog: rpi5-8gb)"),
        "{stdout}"
    );
    assert!(stdout.contains("board       Raspberry Pi 5 Model B Rev 1.0"));
    assert!(stdout.contains("firmware    2024/09/23 14:02:56 (26826259)"));
    assert!(stdout.contains("17.1 GB/s peak"));
    assert!(stdout.contains("vcgencmd/board_power_est"));
    assert!(stdout.contains("2.91 W (device total)"), "{stdout}");
    assert!(
        stdout.contains("vcgencmd/throttled                   no"),
        "{stdout}"
    );
    assert!(
        stdout.contains("thermal/cpu-thermal                  52.6 °C"),
        "{stdout}"
    );
    assert!(stdout.contains("not found:") && stdout.contains("rapl"));
}

#[test]
fn device_catalog_lists_every_family() {
    let (stdout, _) = ok_output(edgebench().args(["device", "--catalog"]));
    for id in [
        "rpi5-16gb",
        "jetson-orin-nano-8gb-super",
        "jetson-agx-orin-64gb",
        "apple-m4-max-16c",
        "x86-ddr5-5600-dual",
        "nvidia-rtx-4090",
    ] {
        assert!(stdout.contains(id), "{id} missing:\n{stdout}");
    }
}

/// A Pi 5 whose firmware reports under-voltage and throttling: every repetition is flagged,
/// the table says so, cooldown finds it at its idle temperature, and the timeline file has the
/// board's power.
#[test]
fn a_throttling_pi5_flags_every_repetition() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("pi5");
    copy_fixture("pi5", &root);
    std::fs::write(root.join("vcgencmd/get_throttled"), "throttled=0x50005\n").unwrap();
    let results = dir.path().join("results.jsonl");
    let (stdout, stderr) = ok_output(
        edgebench()
            .args([
                "run",
                "--target",
                "candle",
                "--scenario",
                "llama3-8b-tiny",
                "--quant",
                "q8_0",
                "-n",
                "16",
                "-r",
                "3",
                "-t",
                "1",
            ])
            .arg("--models-dir")
            .arg(dir.path().join("models"))
            .arg("--results")
            .arg(&results)
            .arg("--sys-root")
            .arg(&root),
    );
    assert!(stdout.contains("ok, throttled 3/3"), "{stdout}");
    assert!(stderr.contains("idle temperature 52.6 °C"), "{stderr}");
    let tests = test_records(&results);
    assert_eq!(tests.len(), 1);
    let t = &tests[0];
    assert_eq!(t.status, Status::Ok);
    assert_eq!(t.environment.device, "Raspberry Pi 5 (8 GB)");
    assert!(t.repetitions.iter().all(|r| r.throttled == Some(true)));
    assert_eq!(t.sensors.throttled_repetitions, Some(3));
    assert_eq!(
        t.sensors.throttle_reasons,
        ["vcgencmd/under_voltage", "vcgencmd/throttled"]
    );
    let cooldown = t.sensors.cooldown.as_ref().expect("cooldown recorded");
    assert!(cooldown.reached && cooldown.waited_s == 0.0, "{cooldown:?}");
    // A model this small fits in the caches: no bandwidth roofline for it.
    assert!(!t.summary.contains_key("roofline_percent"));
    // … so no bandwidth is measured for it either.
    assert!(!t.environment.extra.contains_key("read_bandwidth_gbs_t1"));
    let timeline = dir.path().join("results.timeline.jsonl");
    assert_eq!(
        t.sensors.timeline_file.as_deref(),
        Some("results.timeline.jsonl")
    );
    let data = edgebench_harness::timeline_file::read(&timeline).unwrap();
    assert_eq!(data.tests.len(), 1);
    assert!(!data.timeline.series("vcgencmd/board_power_est").is_empty());
    let [from, to] = t.sensors.timeline_span_s.unwrap();
    assert!(from <= to && data.tests[0].0 <= from + 1e-6);
}

#[test]
fn soak_records_the_rate_per_window() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("soak.jsonl");
    let (_, stderr) = ok_output(
        edgebench()
            .args([
                "run",
                "--target",
                "candle",
                "--scenario",
                "llama3-8b-tiny",
                "--quant",
                "q8_0",
                "-n",
                "16",
                "-t",
                "1",
                "--soak",
                "2s",
                "--soak-window",
                "0.5",
                "--cooldown",
                "off",
            ])
            .arg("--models-dir")
            .arg(dir.path().join("models"))
            .arg("--results")
            .arg(&results),
    );
    assert!(!stderr.contains("idle temperature"), "{stderr}");
    let tests = test_records(&results);
    assert_eq!(tests.len(), 1, "a soak runs generation only");
    let t = &tests[0];
    assert_eq!(t.scenario.workload, "tg16 soak2s");
    assert_eq!(t.stop_reason.as_deref(), Some("time_cap"));
    assert!(t.repetitions.len() > 3);
    let soak = t.soak.as_ref().expect("soak summary");
    assert_eq!((soak.duration_s, soak.window_s), (2.0, 0.5));
    assert!(soak.windows.len() >= 4, "{soak:?}");
    assert!(soak.windows[0].start_s == 0.0 && soak.windows[0].tokens > 0);
    assert!(soak
        .windows
        .iter()
        .take(4)
        .all(|w| w.tg_tps.is_some_and(|r| r > 0.0)));
    assert!(soak.change_percent.is_some());
}

#[test]
fn bad_device_flags_get_one_line_errors() {
    for (args, needle) in [
        (vec!["run", "--soak", "10x"], "not a duration"),
        (vec!["run", "--cooldown", "soon"], "cooldown limit"),
        (
            vec!["run", "--soak", "1m", "-p", "16"],
            "--soak runs generation only",
        ),
        (vec!["run", "--soak-window", "0"], "--soak-window"),
    ] {
        let out = edgebench().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{args:?}: {stderr}");
        assert!(errors[0].contains(needle), "{args:?}: {stderr}");
    }
}

/// An 8 GB Pi 5 cannot hold Phi-3 mini in f16 on candle: the plan says so, with the
/// breakdown, and `--force` plans it anyway.
#[test]
fn a_model_too_large_for_the_device_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let plan = |force: bool| {
        let mut cmd = edgebench();
        cmd.args([
            "run",
            "--target",
            "candle",
            "--scenario",
            "phi3-mini",
            "--quant",
            "f16,q4_k_m",
            "--dry-run",
        ])
        .arg("--models-dir")
        .arg(dir.path())
        .arg("--sys-root")
        .arg(fixture("pi5"));
        if force {
            cmd.arg("--force");
        }
        ok_output(&mut cmd).1
    };
    let stderr = plan(false);
    assert!(
        stderr.contains(
            "skipped: needs about 12.19 GiB of memory (weights 7.12 GiB + KV cache 0.38 GiB \
             for 512 tokens + f32 embeddings 0.37 GiB + copies while loading 3.83 GiB + runtime \
             0.50 GiB), this device has 7.86 GiB: pick a smaller model or quantization, or use \
             --force to try anyway"
        ),
        "{stderr}"
    );
    // Q4_K_M fits: one skip only.
    assert_eq!(stderr.matches("skipped:").count(), 1, "{stderr}");
    assert!(!plan(true).contains("skipped:"));
}
