//! Device sensors, recognition, throttle verdicts, cooldown and the timeline file on fixture
//! trees that copy real devices (Raspberry Pi 5, Jetson Orin Nano and AGX Orin, an x86 desktop
//! with hwmon chips; see docs/sensors.md and the sources named in each sensor's module).

use edgebench_harness::cooldown::{self, CooldownConfig};
use edgebench_harness::protocol::Phase;
use edgebench_harness::sampler::Sampler;
use edgebench_harness::sensors::{
    self, CgroupCpu, CoolingDevices, Hwmon, JetsonGpu, Quantity, Reading, Sensor, SysRoot,
    ThermalThrottle, Vcgencmd,
};
use edgebench_harness::{env, throttling, timeline_file};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::Arc;
use std::time::Duration;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A writable copy of a fixture tree (permissions kept, so its scripts stay executable).
fn copy_fixture(name: &str) -> tempfile::TempDir {
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
    let dir = tempfile::tempdir().unwrap();
    copy(&fixture(name), dir.path());
    dir
}

fn find<'a>(readings: &'a [Reading], channel: &str) -> &'a Reading {
    readings
        .iter()
        .find(|r| r.channel == channel)
        .unwrap_or_else(|| panic!("no {channel} in {readings:?}"))
}

fn no_pid() -> Arc<AtomicU32> {
    Arc::new(AtomicU32::new(0))
}

#[test]
fn pi5_vcgencmd_decodes_every_throttled_bit_and_estimates_board_power() {
    let dir = copy_fixture("pi5");
    let root = SysRoot::new(dir.path());
    let mut vc = Vcgencmd::discover(&root).expect("the fixture has vcgencmd");
    assert!(vc.has_board_power());
    vc.min_interval = Duration::ZERO;
    let r = vc.read().unwrap();
    assert_eq!(find(&r, "vcgencmd/temp").value, 52.6);
    assert_eq!(find(&r, "vcgencmd/arm_clock").value, 2400.0);
    for bit in sensors::THROTTLED_BITS {
        assert_eq!(find(&r, &format!("vcgencmd/{}", bit.name)).value, 0.0);
        assert_eq!(
            find(&r, &format!("vcgencmd/{}_occurred", bit.name)).value,
            0.0
        );
    }
    // Σ I × V over the rails with both (VDD_CORE 2.1546 A × 0.8635 V is most of it).
    let board = find(&r, "vcgencmd/board_power_est");
    assert!(board.total && board.quantity == Quantity::PowerW);
    assert!((board.value - 2.914).abs() < 0.01, "{board:?}");
    assert!((find(&r, "vcgencmd/rail/VDD_CORE").value - 2.1546 * 0.8635).abs() < 1e-9);
    // Under-voltage and throttled now and since boot.
    std::fs::write(
        dir.path().join("vcgencmd/get_throttled"),
        "throttled=0x50005\n",
    )
    .unwrap();
    let r = vc.read().unwrap();
    let on: Vec<&str> = r
        .iter()
        .filter(|x| {
            matches!(x.quantity, Quantity::ThrottleFlag | Quantity::ThrottleCount) && x.value == 1.0
        })
        .map(|x| x.channel.as_str())
        .collect();
    assert_eq!(
        on,
        [
            "vcgencmd/under_voltage",
            "vcgencmd/under_voltage_occurred",
            "vcgencmd/throttled",
            "vcgencmd/throttled_occurred"
        ]
    );
    assert_eq!(find(&r, "vcgencmd/soft_temp_limit").value, 0.0);
    // Junk from the firmware is an error naming the command, not a panic.
    std::fs::write(
        dir.path().join("vcgencmd/get_throttled"),
        "throttled=0xZZ\n",
    )
    .unwrap();
    let err = vc.read().unwrap_err();
    assert!(err.contains("get_throttled"), "{err}");
}

#[test]
fn vcgencmd_reads_at_most_once_a_second() {
    let root = SysRoot::new(fixture("pi5"));
    let mut vc = Vcgencmd::discover(&root).unwrap();
    assert!(!vc.read().unwrap().is_empty());
    // The next sample, a tenth of a second later, gets nothing.
    assert!(vc.read().unwrap().is_empty());
}

#[test]
fn pi5_is_recognised_with_its_firmware_and_sensors() {
    let root = SysRoot::new(fixture("pi5"));
    let e = env::detect(&root, "0.0.0", "test");
    assert_eq!(e.device, "Raspberry Pi 5 (8 GB)");
    assert_eq!(e.extra["catalog_id"], "rpi5-8gb");
    assert_eq!(e.extra["catalog_peak_bandwidth_gbs"], "17.1");
    assert_eq!(e.extra["board_model"], "Raspberry Pi 5 Model B Rev 1.0");
    assert_eq!(e.extra["firmware"], "2024/09/23 14:02:56 (26826259)");
    assert_eq!(e.ram_bytes, 8_245_452 * 1024);
    let (found, absent) = sensors::survey(&root, no_pid());
    let names: Vec<&str> = found.iter().map(|s| s.name()).collect();
    assert_eq!(names, ["thermal", "cpufreq", "hwmon", "vcgencmd"]);
    // The fan is a cooling device but not one that caps clocks.
    assert!(absent.iter().any(|a| a.name == "cooling"));
    let mut hw = Hwmon::discover(&root).unwrap();
    assert_eq!(hw.chips, ["cpu_thermal", "rp1_adc"]);
    let r = hw.read().unwrap();
    assert_eq!(find(&r, "hwmon/cpu_thermal/temp1").value, 52.65);
    assert_eq!(find(&r, "hwmon/rp1_adc/in1").quantity, Quantity::VoltageV);
    assert!((find(&r, "hwmon/rp1_adc/in1").value - 1.449).abs() < 1e-12);
}

#[test]
fn jetson_orin_nano_rails_gpu_power_mode_and_super_mode() {
    let dir = copy_fixture("jetson-orin-nano");
    let root = SysRoot::new(dir.path());
    let mut hw = Hwmon::discover(&root).unwrap();
    assert_eq!(hw.chips, ["ina3221"]);
    let r = hw.read().unwrap();
    let rails: Vec<(&str, bool)> = r.iter().map(|x| (x.channel.as_str(), x.total)).collect();
    // Channel 7 (sum of shunt voltages) is not a rail; only VDD_IN is the whole module.
    assert_eq!(
        rails,
        [
            ("hwmon/ina3221/VDD_IN", true),
            ("hwmon/ina3221/VDD_CPU_GPU_CV", false),
            ("hwmon/ina3221/VDD_SOC", false)
        ]
    );
    // tegrastats' example: VDD_IN 4727 mW.
    assert!((r[0].value - 5.072 * 0.932).abs() < 1e-9);
    assert!((r[0].value - 4.727).abs() < 0.001);
    let mut gpu = JetsonGpu::discover(&root).unwrap();
    assert_eq!(gpu.gpu, "gpu");
    let g = gpu.read().unwrap();
    assert_eq!(find(&g, "jetson_gpu/clock").value, 306.0);
    assert_eq!(find(&g, "jetson_gpu/load").value, 45.2);

    let e = env::detect(&root, "0.0.0", "test");
    assert_eq!(e.device, "Jetson Orin Nano 8GB");
    assert_eq!(e.extra["power_mode"], "15W (mode 0)");
    assert_eq!(e.extra["l4t"], "R36.4.0");
    assert_eq!(e.extra["catalog_peak_bandwidth_gbs"], "68");
    std::fs::write(
        dir.path().join("nvpmodel/query"),
        "NV Power Mode: MAXN_SUPER\n2\n",
    )
    .unwrap();
    let e = env::detect(&root, "0.0.0", "test");
    assert_eq!(e.device, "Jetson Orin Nano 8GB (Super mode)");
    assert_eq!(e.extra["catalog_peak_bandwidth_gbs"], "102");
}

#[test]
fn jetson_agx_orin_counts_every_rail_without_vdd_in() {
    let root = SysRoot::new(fixture("jetson-agx-orin"));
    let mut hw = Hwmon::discover(&root).unwrap();
    assert_eq!(hw.chips, ["ina3221", "ina3221"]);
    let r = hw.read().unwrap();
    let names: Vec<&str> = r.iter().map(|x| x.channel.as_str()).collect();
    assert_eq!(
        names,
        [
            "hwmon/ina3221/VDD_GPU_SOC",
            "hwmon/ina3221/VDD_CPU_CV",
            "hwmon/ina3221/VIN_SYS_5V0",
            "hwmon/ina3221/VDDQ_VDD2_1V8AO"
        ]
    );
    assert!(r.iter().all(|x| x.total), "no VDD_IN: every rail counts");
    let total: f64 = r.iter().map(|x| x.value).sum();
    let expected = 19.008 * 0.280 + 19.008 * 0.104 + 4.992 * 0.520 + 4.984 * 0.096;
    assert!((total - expected).abs() < 1e-9);
    let gpu = JetsonGpu::discover(&root).unwrap();
    assert_eq!(gpu.gpu, "ga10b");
    let e = env::detect(&root, "0.0.0", "test");
    assert_eq!(e.device, "Jetson AGX Orin 64GB");
    assert_eq!(e.extra["power_mode"], "MAXN (mode 0)");
}

#[test]
fn x86_hwmon_labels_units_junk_and_energy() {
    let dir = copy_fixture("x86-hwmon");
    let root = SysRoot::new(dir.path());
    let mut hw = Hwmon::discover(&root).unwrap();
    // The Super I/O chip's unreadable in0 is left out; its in1 stays.
    assert_eq!(
        hw.chips,
        ["coretemp", "nvme", "nct6798", "power_meter", "amd_energy"]
    );
    let r = hw.read().unwrap();
    assert_eq!(find(&r, "hwmon/coretemp/Package id 0").value, 61.0);
    assert_eq!(find(&r, "hwmon/nvme/Composite").value, 38.85);
    assert!(r.iter().all(|x| x.channel != "hwmon/nct6798/in0"));
    assert_eq!(find(&r, "hwmon/nct6798/in1").value, 1.008);
    let meter = find(&r, "hwmon/power_meter/power1");
    assert_eq!((meter.value, meter.total), (87.5, false));
    assert_eq!(find(&r, "hwmon/amd_energy/Esocket0").value, 0.0);
    // 5 J later; then the counter goes back (driver reloaded): no negative energy.
    let energy = dir.path().join("sys/class/hwmon/hwmon4/energy17_input");
    std::fs::write(&energy, "255000000\n").unwrap();
    assert_eq!(
        find(&hw.read().unwrap(), "hwmon/amd_energy/Esocket0").value,
        5.0
    );
    std::fs::write(&energy, "1000\n").unwrap();
    assert_eq!(
        find(&hw.read().unwrap(), "hwmon/amd_energy/Esocket0").value,
        5.0
    );
    std::fs::write(&energy, "2001000\n").unwrap();
    assert_eq!(
        find(&hw.read().unwrap(), "hwmon/amd_energy/Esocket0").value,
        7.0
    );
    // Junk appears in one file mid-run: that channel is skipped, the others are read.
    std::fs::write(
        dir.path().join("sys/class/hwmon/hwmon1/temp1_input"),
        "-EIO\n",
    )
    .unwrap();
    let r = hw.read().unwrap();
    assert!(r.iter().all(|x| x.channel != "hwmon/nvme/Composite"));
    assert_eq!(find(&r, "hwmon/coretemp/Core 1").value, 60.0);
    // Every chip vanishes (module unloaded): an error naming a file.
    std::fs::remove_dir_all(dir.path().join("sys/class/hwmon")).unwrap();
    let err = hw.read().unwrap_err();
    assert!(err.contains("hwmon"), "{err}");
}

#[test]
fn x86_throttle_counters_cooling_devices_and_cgroup_quota() {
    let root = SysRoot::new(fixture("x86-hwmon"));
    let mut tt = ThermalThrottle::discover(&root).unwrap();
    let r = tt.read().unwrap();
    // Core counts add up over CPUs; the package count is taken once per package.
    assert_eq!(find(&r, "thermal_throttle/core").value, 12.0);
    assert_eq!(find(&r, "thermal_throttle/package").value, 7.0);
    let mut cooling = CoolingDevices::discover(&root).unwrap();
    let c = cooling.read().unwrap();
    let names: Vec<&str> = c.iter().map(|x| x.channel.as_str()).collect();
    // The fan is left out: it is running, but it slows nothing down.
    assert_eq!(names, ["cooling/Processor", "cooling/intel_powerclamp"]);
    assert!(c
        .iter()
        .all(|x| x.value == 0.0 && x.quantity == Quantity::ThrottleFlag));
    let mut cg = CgroupCpu::discover(&root, no_pid()).unwrap();
    let g = cg.read().unwrap();
    // The quota sits on the parent (user.slice): its counts are what throttles this group.
    assert_eq!(find(&g, "cgroup/nr_throttled").value, 5.0);
    assert_eq!(find(&g, "cgroup/throttled_s").value, 0.25);
}

/// Sample a fixture, mark a "repetition", change files the way an induced slowdown does, and
/// judge spans of the timeline as the runner does.
#[test]
fn induced_slowdowns_are_flagged_from_a_fixture_replay() {
    let dir = copy_fixture("x86-hwmon");
    let root = SysRoot::new(dir.path());
    let sampler = Sampler::start(
        sensors::discover(&root, no_pid()),
        Duration::from_millis(10),
    );
    let wait = |ms| std::thread::sleep(Duration::from_millis(ms));
    wait(40);
    // Repetition 1: nothing happens.
    let a0 = sampler.mark(Phase::Decode);
    wait(60);
    let a1 = sampler.mark(Phase::Idle);
    wait(30);
    // Repetition 2: the CPU quota throttles the group 12 more times.
    let b0 = sampler.mark(Phase::Decode);
    wait(30);
    std::fs::write(
        dir.path().join("sys/fs/cgroup/user.slice/cpu.stat"),
        "usage_usec 2000\nnr_periods 420\nnr_throttled 17\nthrottled_usec 900000\n",
    )
    .unwrap();
    wait(40);
    let b1 = sampler.mark(Phase::Idle);
    wait(30);
    // Repetition 3: the clock is capped to 2.8 of 4.7 GHz (a power limit, a hot chip).
    let c0 = sampler.mark(Phase::Decode);
    for c in 0..4 {
        std::fs::write(
            dir.path().join(format!(
                "sys/devices/system/cpu/cpu{c}/cpufreq/scaling_cur_freq"
            )),
            "2800000\n",
        )
        .unwrap();
    }
    wait(60);
    let c1 = sampler.mark(Phase::Idle);
    wait(30);
    // Repetition 4: the clock is back, but the kernel's Processor cooling device kicks in.
    for c in 0..4 {
        std::fs::write(
            dir.path().join(format!(
                "sys/devices/system/cpu/cpu{c}/cpufreq/scaling_cur_freq"
            )),
            "4200000\n",
        )
        .unwrap();
    }
    std::fs::write(
        dir.path()
            .join("sys/class/thermal/cooling_device0/cur_state"),
        "3\n",
    )
    .unwrap();
    let d0 = sampler.mark(Phase::Decode);
    wait(60);
    let d1 = sampler.mark(Phase::Idle);
    wait(30);
    let timeline = sampler.stop();
    let judge = |from, to| throttling::assess(&timeline.window(from, to), from, to, true);
    let first = judge(a0, a1);
    assert_eq!(first.throttled, Some(false), "{first:?}");
    let second = judge(b0, b1);
    assert_eq!(second.throttled, Some(true));
    assert_eq!(
        second.reasons,
        ["cgroup/nr_throttled +12", "cgroup/throttled_s +0.65"]
    );
    let third = judge(c0, c1);
    assert_eq!(third.reasons, ["cpufreq/ratio at 60% of max"]);
    // A GPU's work does not slow down with the CPU clock.
    assert_eq!(
        throttling::assess(&timeline.window(c0, c1), c0, c1, false).throttled,
        Some(false)
    );
    let fourth = judge(d0, d1);
    assert_eq!(fourth.reasons, ["cooling/Processor"]);
}

/// A span of the timeline after `channel` has been read at least once.
fn span_after_reading(sampler: &Sampler, channel: &str) -> (f64, f64) {
    for _ in 0..1000 {
        if !sampler
            .window(0.0, sampler.now())
            .series(channel)
            .is_empty()
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let a = sampler.now();
    std::thread::sleep(Duration::from_millis(50));
    (a, a + 0.02)
}

#[test]
fn pi5_throttle_flags_flag_a_repetition() {
    let dir = copy_fixture("pi5");
    let root = SysRoot::new(dir.path());
    let sampler = Sampler::start(
        sensors::discover(&root, no_pid()),
        Duration::from_millis(10),
    );
    let (a, b) = span_after_reading(&sampler, "vcgencmd/throttled");
    let timeline = sampler.stop();
    // vcgencmd was read once a second with throttled=0x0: its flag holds, and it says "no"
    // (without the CPU clock rule, so the verdict is vcgencmd's alone).
    assert_eq!(
        throttling::assess(&timeline, a, b, false).throttled,
        Some(false)
    );
    std::fs::write(
        dir.path().join("vcgencmd/get_throttled"),
        "throttled=0x50005\n",
    )
    .unwrap();
    let sampler = Sampler::start(
        sensors::discover(&root, no_pid()),
        Duration::from_millis(10),
    );
    let (a, b) = span_after_reading(&sampler, "vcgencmd/throttled");
    let timeline = sampler.stop();
    let v = throttling::assess(&timeline, a, b, true);
    assert_eq!(v.reasons, ["vcgencmd/under_voltage", "vcgencmd/throttled"]);
}

#[test]
fn timeline_file_round_trips_samples_marks_and_tests() {
    let dir = copy_fixture("jetson-orin-nano");
    let root = SysRoot::new(dir.path());
    let out = tempfile::tempdir().unwrap();
    let results = out.path().join("run.jsonl");
    let path = timeline_file::path_for(&results);
    assert_eq!(path, out.path().join("run.timeline.jsonl"));
    let sampler = Sampler::start(
        sensors::discover(&root, no_pid()),
        Duration::from_millis(10),
    );
    std::thread::sleep(Duration::from_millis(30));
    sampler.record_to(&path, "run-test").unwrap();
    let t0 = sampler.begin_test("run-test/x/q/tg16/candle/t1");
    sampler.mark(Phase::Decode);
    std::thread::sleep(Duration::from_millis(50));
    // A sensor vanishes mid-run: a warning line.
    std::fs::remove_dir_all(dir.path().join("sys/class/devfreq")).unwrap();
    std::thread::sleep(Duration::from_millis(30));
    sampler.mark(Phase::Idle);
    std::thread::sleep(Duration::from_millis(20));
    let (file, error) = sampler.timeline_file().unwrap();
    assert_eq!((file, error), (path.clone(), None));
    let live = sampler.stop();
    let data = timeline_file::read(&path).unwrap();
    assert_eq!(data.run_id, "run-test");
    assert_eq!(data.interval_s, 0.01);
    assert_eq!(
        data.tests,
        vec![(t0, "run-test/x/q/tg16/candle/t1".to_string())]
    );
    assert_eq!(data.timeline.sensors, live.sensors);
    // Samples taken before recording started are in the file too.
    assert_eq!(data.timeline.samples.len(), live.samples.len());
    assert_eq!(data.timeline.marks, live.marks);
    assert_eq!(
        data.timeline.warnings.len(),
        1,
        "{:?}",
        data.timeline.warnings
    );
    let vdd_in = data.timeline.series("hwmon/ina3221/VDD_IN");
    assert!(vdd_in.len() >= 5);
    let first = &data.timeline.samples[0].readings;
    let r = find(first, "hwmon/ina3221/VDD_IN");
    assert!(r.total && r.quantity == Quantity::PowerW);
    // Energy from the file: a constant 4.727 W over the decode phase.
    let (a, b) = (data.timeline.marks[0].0, data.timeline.marks[1].0);
    let joules = data.timeline.energy_between(a, b).unwrap();
    assert!((joules / (b - a) - 4.727).abs() < 0.001, "{joules} J");
    // A bad line is an error naming the file and the line.
    std::fs::write(&path, "{\"record\":\"sample\",\"t_s\":1}\n").unwrap();
    let err = timeline_file::read(&path).unwrap_err();
    assert!(err.contains("run.timeline.jsonl: line 1"), "{err}");
}

#[test]
fn cooldown_waits_for_the_temperature_and_gives_up_at_its_limit() {
    let dir = copy_fixture("pi5");
    let root = SysRoot::new(dir.path());
    let temp = dir.path().join("sys/class/thermal/thermal_zone0/temp");
    // Only the thermal zone, so the test controls the one temperature.
    let zones = sensors::ThermalZones::discover(&root).unwrap();
    let sampler = Sampler::start(vec![Box::new(zones)], Duration::from_millis(10));
    let baseline = cooldown::idle_baseline(&sampler, Duration::from_millis(50)).unwrap();
    assert!((baseline - 52.65).abs() < 1e-9);
    let cancel = AtomicBool::new(false);
    let config = CooldownConfig {
        baseline_c: baseline,
        margin_c: 3.0,
        max_wait: Duration::from_millis(300),
    };
    // Still hot: waits its whole limit and says the target was not reached.
    std::fs::write(&temp, "71000\n").unwrap();
    std::thread::sleep(Duration::from_millis(30));
    let hot = cooldown::wait(&sampler, &config, &cancel).unwrap();
    assert!(!hot.reached && hot.waited_s >= 0.3, "{hot:?}");
    assert_eq!((hot.start_c, hot.end_c), (71.0, 71.0));
    // Cools down while waiting.
    let cooling = {
        let temp = temp.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(60));
            std::fs::write(&temp, "54000\n").unwrap();
        })
    };
    let cooled = cooldown::wait(&sampler, &config, &cancel).unwrap();
    cooling.join().unwrap();
    assert!(cooled.reached && cooled.end_c == 54.0, "{cooled:?}");
    // Already cool: no wait at all.
    let cool = cooldown::wait(&sampler, &config, &cancel).unwrap();
    assert_eq!((cool.waited_s, cool.reached), (0.0, true));
    let timeline = sampler.stop();
    let phases: Vec<Phase> = timeline.marks.iter().map(|m| m.1).collect();
    assert_eq!(
        phases,
        [Phase::Cooldown, Phase::Idle, Phase::Cooldown, Phase::Idle]
    );
}
