//! Sensors and the sampler on fixture trees copied from real devices (docs/sensors.md).

use edgebench_harness::protocol::Phase;
use edgebench_harness::sampler::Sampler;
use edgebench_harness::sensors::{self, CpuFreq, Quantity, Rapl, Sensor, SysRoot, ThermalZones};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;
use std::sync::Arc;
use std::time::Duration;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A writable copy of a fixture tree, so a test can change counters while sensors read them.
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

#[test]
fn pi5_thermal_and_clocks() {
    let root = SysRoot::new(fixture("pi5"));
    let mut thermal = ThermalZones::discover(&root).expect("pi5 has a thermal zone");
    let r = thermal.read().unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].channel, "thermal/cpu-thermal");
    assert_eq!(r[0].quantity, Quantity::TemperatureC);
    assert!((r[0].value - 52.65).abs() < 1e-9);

    let mut freq = CpuFreq::discover(&root).expect("pi5 has cpufreq");
    assert_eq!(freq.max_mhz, Some(2400.0));
    let r = freq.read().unwrap();
    // cpu0..cpu3 only: the `cpufreq` policy folder is not a CPU; then the clock ratio.
    assert_eq!(
        r.iter().map(|r| r.channel.as_str()).collect::<Vec<_>>(),
        [
            "cpufreq/cpu0",
            "cpufreq/cpu1",
            "cpufreq/cpu2",
            "cpufreq/cpu3",
            "cpufreq/ratio"
        ]
    );
    assert_eq!(r[3].value, 1500.0);
    // The fastest CPU runs at its maximum.
    assert_eq!(r[4].quantity, Quantity::ClockRatio);
    assert_eq!(r[4].value, 1.0);
    assert!(Rapl::discover(&root).is_none(), "a Pi has no RAPL");
    assert_eq!(
        edgebench_harness::env::device_name(&root).as_deref(),
        Some("Raspberry Pi 5 Model B Rev 1.0")
    );
}

#[test]
fn rapl_counter_wraps_and_only_packages_count_toward_total() {
    let dir = copy_fixture("x86-rapl");
    let root = SysRoot::new(dir.path());
    let mut rapl = Rapl::discover(&root).expect("fixture has RAPL");
    let first = rapl.read().unwrap();
    let total: Vec<_> = first
        .iter()
        .filter(|r| r.total)
        .map(|r| r.channel.as_str())
        .collect();
    assert_eq!(total, ["rapl/package-0"]);
    assert!(first
        .iter()
        .all(|r| r.value == 0.0 && r.quantity == Quantity::EnergyJ));
    // The package counter was 262142 J, 1 J below its range; it wraps to 2 J: 3 J were used.
    let energy = dir.path().join("sys/class/powercap/intel-rapl:0/energy_uj");
    std::fs::write(&energy, "2000000\n").unwrap();
    let second = rapl.read().unwrap();
    let package = second
        .iter()
        .find(|r| r.channel == "rapl/package-0")
        .unwrap();
    assert!((package.value - 3.0).abs() < 1e-9, "{package:?}");
}

#[test]
fn junk_in_a_file_is_an_error_naming_it_not_a_panic() {
    let dir = copy_fixture("pi5");
    let temp = dir.path().join("sys/class/thermal/thermal_zone0/temp");
    let root = SysRoot::new(dir.path());
    let mut thermal = ThermalZones::discover(&root).unwrap();
    std::fs::write(&temp, "N/A\n").unwrap();
    let err = thermal.read().unwrap_err();
    assert!(
        err.contains("thermal_zone0/temp") && err.contains("not a number"),
        "{err}"
    );
}

#[test]
fn sampler_records_timeline_marks_and_a_sensor_vanishing_mid_run() {
    let dir = copy_fixture("x86-rapl");
    let root = SysRoot::new(dir.path());
    let found = sensors::discover(&root, Arc::new(AtomicU32::new(0)));
    let names: Vec<_> = found.iter().map(|s| s.name().to_string()).collect();
    assert_eq!(names, ["thermal", "cpufreq", "rapl", "thermal_throttle"]);
    let sampler = Sampler::start(found, Duration::from_millis(10));
    // Energy of a phase needs samples on both sides of its start.
    std::thread::sleep(Duration::from_millis(25));
    sampler.mark(Phase::Decode);
    std::thread::sleep(Duration::from_millis(80));
    // Every thermal zone disappears (a driver unloaded): a warning, and sampling goes on.
    std::fs::remove_dir_all(dir.path().join("sys/class/thermal")).unwrap();
    std::thread::sleep(Duration::from_millis(80));
    sampler.mark(Phase::Idle);
    let end = sampler.now();
    std::thread::sleep(Duration::from_millis(25));
    let timeline = sampler.stop();
    assert!(
        timeline.samples.len() >= 8,
        "{} samples",
        timeline.samples.len()
    );
    assert_eq!(timeline.warnings.len(), 1, "{:?}", timeline.warnings);
    assert!(timeline.warnings[0].1.contains("sensor thermal failed"));
    let summary = timeline.summarize(0.0, end);
    assert_eq!(summary.max_temp_c, Some(61.0));
    assert_eq!(summary.avg_clock_mhz, Some(3400.0));
    // The counters did not move: zero energy, but it is measured.
    assert_eq!(summary.energy_j.get("decode"), Some(&0.0));
    let last = timeline.samples.last().unwrap();
    assert!(last
        .readings
        .iter()
        .all(|r| !r.channel.starts_with("thermal/")));
    assert!(last.readings.iter().any(|r| r.channel == "cpufreq/cpu1"));
}
