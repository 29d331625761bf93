//! Memory bandwidth of this machine, measured and cached: the denominator of the roofline.
//!
//! Token generation reads every weight once per token, so a model of `W` bytes cannot decode
//! faster than `bandwidth ÷ W` tokens/s on a machine that streams `bandwidth` bytes/s. That
//! holds only if `bandwidth` is a real ceiling, so the probe tries hard to reach it:
//! - kernels after McCalpin's STREAM (https://www.cs.virginia.edu/stream/): a buffer far
//!   larger than the last-level cache (at least 16 × L3 and 512 MiB, at most a quarter of
//!   RAM), split into one contiguous chunk per thread;
//! - **read**: sum every 64-bit word with 16 independent accumulators, compiled for the widest
//!   loads the CPU has, chosen at run time (AVX-512, else AVX2 on x86_64; NEON, the aarch64
//!   baseline, elsewhere); what decode does with weights, and what the roofline uses;
//! - **triad**: `a[i] = b[i] + s·c[i]`, counted as STREAM counts it (24 bytes an element,
//!   without the write-allocate traffic);
//! - with the run's thread count and with every core, [`ROUNDS`] rounds of [`PASSES`] passes
//!   each (the first pass of a round warms up); the best pass counts (STREAM's convention).
//!
//! A measurement taken while other work competes for memory reads low, and a low ceiling puts
//! decode above 100% of it. So a measurement is cached only when the machine was quiet
//! ([`cache_decision`]: the 1-minute load average from `/proc/loadavg` below
//! [`QUIET_LOAD_PER_CORE`] per core, and two rounds that agree within
//! [`ROUNDS_AGREE_WITHIN`]), and a cached value is only ever raised. A run whose decode reads
//! above 100% of the roofline measures again ([`remeasure_needed`]).
//!
//! Results are cached in `<cache dir>/bandwidth.json` per device (name, CPU, cores, RAM) and
//! thread count.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::time::Instant;

/// One measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bandwidth {
    /// Best read bandwidth, GB/s (10⁹ bytes/s), with `threads` threads or with every core,
    /// whichever is higher: the roofline's ceiling.
    pub read_gbs: f64,
    /// Best triad bandwidth, GB/s.
    pub triad_gbs: f64,
    /// The run's thread count this entry is for.
    pub threads: usize,
    pub buffer_bytes: u64,
    /// RFC 3339 time of the measurement.
    pub measured_at: String,
    /// The read kernel's loads: `avx512`, `avx2`, `neon` or `baseline`.
    #[serde(default)]
    pub kernel: String,
    /// Best read bandwidth of each round, GB/s (a busy machine makes them disagree).
    #[serde(default)]
    pub rounds_gbs: Vec<f64>,
    /// 1-minute load average before measuring, and the cores it is shared by.
    #[serde(default)]
    pub load_average: Option<f64>,
    #[serde(default)]
    pub cores: usize,
    /// Cores' worth of CPU other processes used while it was measured (`/proc/stat` less this
    /// process's own time), where the system tells. Unlike the load average, it does not count
    /// the benchmark that ran just before (a run's own tests keep a small machine's 1-minute
    /// load above any threshold, so no measurement taken during a run would ever be cached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub others_cores: Option<f64>,
}

/// Passes of each kernel in a round; the first is a warm-up and does not count.
const PASSES: usize = 8;
/// Independent rounds per thread count; their bests must agree for the result to be cached.
pub const ROUNDS: usize = 2;
/// Two rounds whose bests differ by more than this fraction mean the machine is busy.
pub const ROUNDS_AGREE_WITHIN: f64 = 0.05;
/// A 1-minute load average above this many runnable tasks per core means the machine is busy.
pub const QUIET_LOAD_PER_CORE: f64 = 0.3;
/// Other processes using more than this many cores' worth of CPU during the measurement mean
/// the machine is busy.
pub const QUIET_OTHERS_CORES: f64 = 0.1;

/// Whether to cache a new measurement.
#[derive(Debug, Clone, PartialEq)]
pub enum CacheDecision {
    /// Store it: the machine was quiet and it is the best seen.
    Cache,
    /// Quiet, but not above what is cached already: keep the cached ceiling.
    KeepCached,
    /// Measured under load: use it for this run only, and say why.
    Refuse(String),
}

/// Whether `new` (taken on a machine of `cores` cores) may be cached, given what is cached
/// (`cached` read GB/s). Pure: the numbers come from [`measure`] and [`load_average`].
pub fn cache_decision(new: &Bandwidth, cached: Option<f64>) -> CacheDecision {
    let cores = new.cores.max(1);
    if let Some(others) = new.others_cores {
        if others > QUIET_OTHERS_CORES {
            return CacheDecision::Refuse(format!(
                "the machine was busy (other processes used {others:.2} cores while it was measured)"
            ));
        }
    } else if let Some(load) = new.load_average {
        if load > QUIET_LOAD_PER_CORE * cores as f64 {
            return CacheDecision::Refuse(format!(
                "the machine was busy (load average {load:.2} on {cores} core{})",
                if cores == 1 { "" } else { "s" }
            ));
        }
    }
    let lo = new.rounds_gbs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = new.rounds_gbs.iter().copied().fold(0.0, f64::max);
    if new.rounds_gbs.len() >= 2 && hi > 0.0 && (hi - lo) / hi > ROUNDS_AGREE_WITHIN {
        return CacheDecision::Refuse(format!(
            "two rounds disagree ({lo:.1} and {hi:.1} GB/s): something else was using memory"
        ));
    }
    match cached {
        Some(c) if c >= new.read_gbs => CacheDecision::KeepCached,
        _ => CacheDecision::Cache,
    }
}

/// Whether a test whose decode reached `max_percent` of the roofline calls for measuring the
/// bandwidth again: above 100% the ceiling is too low (measured while the machine was busy).
pub fn remeasure_needed(max_percent: f64) -> bool {
    max_percent.is_finite() && max_percent > 100.0
}

/// The 1-minute load average (`/proc/loadavg`, Linux); `None` elsewhere.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The buffer size for this machine: ≥ 16 × L3 and ≥ 512 MiB, ≤ RAM / 4.
pub fn default_buffer_bytes(l3_bytes: Option<u64>, ram_bytes: u64) -> u64 {
    let want = (l3_bytes.unwrap_or(0) * 16).max(512 << 20);
    want.min(ram_bytes / 4).max(64 << 20)
}

/// Size of the last-level cache of CPU 0 (`/sys/devices/system/cpu/cpu0/cache/index*/size`,
/// e.g. `32768K`), where Linux tells.
pub fn last_level_cache_bytes() -> Option<u64> {
    let dir = Path::new("/sys/devices/system/cpu/cpu0/cache");
    let mut best: Option<(u32, u64)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let p = entry.path();
        let level = std::fs::read_to_string(p.join("level"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        let size = std::fs::read_to_string(p.join("size"))
            .ok()
            .and_then(|s| parse_size(s.trim()));
        if let (Some(level), Some(size)) = (level, size) {
            if best.is_none_or(|(l, _)| level > l) {
                best = Some((level, size));
            }
        }
    }
    best.map(|(_, s)| s)
}

fn parse_size(s: &str) -> Option<u64> {
    let (digits, mult) = match s.chars().last()? {
        'K' => (&s[..s.len() - 1], 1u64 << 10),
        'M' => (&s[..s.len() - 1], 1 << 20),
        'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    digits.parse::<u64>().ok().map(|n| n * mult)
}

/// Measure read and triad bandwidth for a run of `threads` threads over `buffer_bytes`: with
/// `threads` and with every core, [`ROUNDS`] rounds each; the best pass counts.
pub fn measure(threads: usize, buffer_bytes: u64) -> Bandwidth {
    let threads = threads.max(1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load_before = load_average();
    let ticks_before = cpu_ticks();
    let started = Instant::now();
    let words = (buffer_bytes / 8) as usize;
    let mut counts = vec![threads];
    if cores != threads {
        counts.push(cores);
    }
    let mut rounds_gbs = vec![0.0f64; ROUNDS];
    {
        let mut buf = vec![0u64; words];
        // First touch by as many threads as will read, so memory is local to them (NUMA).
        parallel_chunks(&mut buf, cores.max(threads), |_, chunk| {
            for (i, w) in chunk.iter_mut().enumerate() {
                *w = i as u64;
            }
        });
        for best in rounds_gbs.iter_mut() {
            for &t in &counts {
                let gbs = best_of(PASSES, words as f64 * 8.0, || {
                    std::hint::black_box(parallel_read(&buf, t));
                });
                *best = best.max(gbs);
            }
        }
    }
    let triad_gbs = {
        let n = words / 3;
        let (mut a, b, c) = (vec![0.0f64; n], vec![1.0f64; n], vec![2.0f64; n]);
        counts
            .iter()
            .map(|&t| {
                best_of(PASSES, n as f64 * 24.0, || {
                    parallel_triad(&mut a, &b, &c, 3.0, t);
                    std::hint::black_box(&a);
                })
            })
            .fold(0.0, f64::max)
    };
    Bandwidth {
        read_gbs: rounds_gbs.iter().copied().fold(0.0, f64::max),
        triad_gbs,
        threads,
        buffer_bytes: words as u64 * 8,
        measured_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        kernel: read_kernel().to_string(),
        rounds_gbs,
        // Before measuring: the probe's own threads are not load from others.
        load_average: load_before,
        cores,
        others_cores: others_cores(ticks_before, cpu_ticks(), started.elapsed().as_secs_f64()),
    }
}

/// CPU time, in clock ticks, that every process has used (`/proc/stat`'s busy columns) and
/// that this process has (`/proc/self/stat`'s utime + stime); Linux only.
fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal: all but idle and iowait.
    let busy = cpu
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    let own = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) end with ") ".
    let after = &own[own.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((busy, utime + stime))
}

/// Cores' worth of CPU others used between two [`cpu_ticks`] readings `seconds` apart (the
/// kernel's clock ticks are 100 a second on every Linux this runs on).
fn others_cores(
    before: Option<(u64, u64)>,
    after: Option<(u64, u64)>,
    seconds: f64,
) -> Option<f64> {
    let ((busy0, own0), (busy1, own1)) = (before?, after?);
    if seconds <= 0.0 {
        return None;
    }
    let others = busy1
        .saturating_sub(busy0)
        .saturating_sub(own1.saturating_sub(own0));
    Some(others as f64 / 100.0 / seconds)
}

/// Best GB/s over `passes` runs of `f`, each moving `bytes`; the first run is a warm-up.
fn best_of(passes: usize, bytes: f64, mut f: impl FnMut()) -> f64 {
    let mut best = f64::INFINITY;
    for pass in 0..passes {
        let start = Instant::now();
        f();
        let s = start.elapsed().as_secs_f64();
        if pass > 0 {
            best = best.min(s);
        }
    }
    bytes / best / 1e9
}

fn parallel_chunks<T: Send>(buf: &mut [T], threads: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    let per = buf.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for (i, chunk) in buf.chunks_mut(per).enumerate() {
            let f = &f;
            s.spawn(move || f(i, chunk));
        }
    });
}

/// Sum of each thread's chunk; all threads start together.
fn parallel_read(buf: &[u64], threads: usize) -> Vec<u64> {
    let per = buf.len().div_ceil(threads).max(1);
    let chunks: Vec<&[u64]> = buf.chunks(per).collect();
    let barrier = Barrier::new(chunks.len());
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    sum_words(chunk)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
    })
}

/// The widest loads this CPU offers to the read kernel.
pub fn read_kernel() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "avx512";
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            return "avx2";
        }
    }
    if cfg!(target_arch = "aarch64") {
        "neon"
    } else {
        "baseline"
    }
}

/// Sum of `words` (wrapping), with the widest loads the CPU has.
fn sum_words(words: &[u64]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above).
            return unsafe { sum_words_avx512(words) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { sum_words_avx2(words) };
        }
    }
    // aarch64: NEON is the baseline, so the plain build already uses 128-bit loads.
    sum_words_portable(words)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn sum_words_avx512(words: &[u64]) -> u64 {
    sum_words_portable(words)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sum_words_avx2(words: &[u64]) -> u64 {
    sum_words_portable(words)
}

/// 16 independent accumulators (128 bytes a step), so the compiler vectorizes the loop with
/// whatever vector width the calling function is compiled for (it is inlined into each).
#[inline(always)]
fn sum_words_portable(words: &[u64]) -> u64 {
    let mut acc = [0u64; 16];
    let blocks = words.chunks_exact(16);
    let rest = blocks.remainder();
    for block in blocks {
        for (a, w) in acc.iter_mut().zip(block) {
            *a = a.wrapping_add(*w);
        }
    }
    acc.iter().chain(rest).fold(0u64, |s, x| s.wrapping_add(*x))
}

fn parallel_triad(a: &mut [f64], b: &[f64], c: &[f64], scalar: f64, threads: usize) {
    let per = a.len().div_ceil(threads).max(1);
    let parts = a.chunks_mut(per).count();
    let barrier = Barrier::new(parts);
    std::thread::scope(|s| {
        for ((a, b), c) in a.chunks_mut(per).zip(b.chunks(per)).zip(c.chunks(per)) {
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                for ((x, y), z) in a.iter_mut().zip(b).zip(c) {
                    *x = y + scalar * z;
                }
            });
        }
    });
}

/// edgebench's cache folder: `$EDGEBENCH_CACHE_DIR`, else `$XDG_CACHE_HOME/edgebench`, else
/// `~/.cache/edgebench`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("EDGEBENCH_CACHE_DIR").filter(|d| !d.is_empty()) {
        return d.into();
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("edgebench");
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/edgebench"))
        .unwrap_or_else(|| std::env::temp_dir().join("edgebench-cache"))
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    /// Key: `<device key>|t<threads>`.
    entries: std::collections::BTreeMap<String, Bandwidth>,
}

/// A cache of measurements in one JSON file.
pub struct BandwidthCache {
    pub path: PathBuf,
}

impl BandwidthCache {
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join("bandwidth.json"),
        }
    }

    fn load(&self) -> CacheFile {
        // A missing or unreadable cache is measured again, never an error.
        std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    pub fn get(&self, device_key: &str, threads: usize) -> Option<Bandwidth> {
        self.load()
            .entries
            .get(&format!("{device_key}|t{threads}"))
            .cloned()
    }

    /// Store a measurement (written to a temporary file and renamed, so concurrent runs
    /// never leave a half-written cache). Callers decide first ([`cache_decision`]).
    pub fn put(&self, device_key: &str, bw: &Bandwidth) -> Result<(), String> {
        let mut file = self.load();
        file.entries
            .insert(format!("{device_key}|t{}", bw.threads), bw.clone());
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let tmp = self
            .path
            .with_extension(format!("json.{}.tmp", std::process::id()));
        let text = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())?;
        std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| format!("{}: {e}", self.path.display()))
    }

    /// Measure now and cache the result when [`cache_decision`] allows. Returns the ceiling
    /// to use (the new measurement, or the cached one when that is higher) and what happened.
    pub fn measure_and_store(
        &self,
        device_key: &str,
        threads: usize,
        buffer_bytes: u64,
    ) -> (Bandwidth, CacheDecision) {
        self.store(device_key, measure(threads, buffer_bytes))
    }

    /// [`BandwidthCache::measure_and_store`] for a measurement already taken.
    pub fn store(&self, device_key: &str, new: Bandwidth) -> (Bandwidth, CacheDecision) {
        let cached = self.get(device_key, new.threads);
        let decision = cache_decision(&new, cached.as_ref().map(|c| c.read_gbs));
        let best = match (&decision, cached) {
            (CacheDecision::Cache, _) => {
                // Failing to cache only means measuring again next time.
                let _ = self.put(device_key, &new);
                new
            }
            (_, Some(c)) if c.read_gbs >= new.read_gbs => c,
            _ => new,
        };
        (best, decision)
    }

    /// The cached measurement, or a new one (stored when the machine was quiet). Returns it
    /// and whether it came from the cache, else the cache decision.
    pub fn get_or_measure(
        &self,
        device_key: &str,
        threads: usize,
        buffer_bytes: u64,
    ) -> (Bandwidth, Option<CacheDecision>) {
        if let Some(bw) = self.get(device_key, threads) {
            return (bw, None);
        }
        let (bw, decision) = self.measure_and_store(device_key, threads, buffer_bytes);
        (bw, Some(decision))
    }
}

/// The key a machine's measurements are cached under.
pub fn device_key(env: &crate::schema::Environment) -> String {
    format!(
        "{} | {} | {} cores | {} bytes",
        env.device, env.cpu_model, env.cpu_cores, env.ram_bytes
    )
}

/// Roofline of token generation: (ceiling t/s, percent of it achieved) for `tg_tps` on a model
/// whose decode reads `bytes_per_token`, with `bandwidth_gbs` of read bandwidth.
pub fn roofline(tg_tps: f64, bytes_per_token: u64, bandwidth_gbs: f64) -> Option<(f64, f64)> {
    if bytes_per_token == 0
        || !bandwidth_gbs.is_finite()
        || bandwidth_gbs <= 0.0
        || !tg_tps.is_finite()
    {
        return None;
    }
    let ceiling = bandwidth_gbs * 1e9 / bytes_per_token as f64;
    Some((ceiling, tg_tps / ceiling * 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_kernels() {
        assert_eq!(parse_size("32768K"), Some(32 << 20));
        assert_eq!(parse_size("2M"), Some(2 << 20));
        assert_eq!(default_buffer_bytes(Some(32 << 20), 24 << 30), 512 << 20);
        assert_eq!(default_buffer_bytes(Some(256 << 20), 64 << 30), 4 << 30);
        // A 1 GiB board gets a quarter of its RAM.
        assert_eq!(default_buffer_bytes(Some(2 << 20), 1 << 30), 256 << 20);
        let words: Vec<u64> = (0..1003).collect();
        assert_eq!(sum_words(&words), 1002 * 1003 / 2);
        assert_eq!(
            parallel_read(&words, 3).iter().sum::<u64>(),
            1002 * 1003 / 2
        );
        let (mut a, b, c) = (vec![0.0; 10], vec![1.0; 10], vec![2.0; 10]);
        parallel_triad(&mut a, &b, &c, 3.0, 4);
        assert!(a.iter().all(|&x| x == 7.0));
    }

    fn probe(read: f64, rounds: &[f64], load: Option<f64>, cores: usize) -> Bandwidth {
        Bandwidth {
            read_gbs: read,
            triad_gbs: read,
            threads: cores,
            buffer_bytes: 1 << 20,
            measured_at: "2026-01-01T00:00:00Z".into(),
            kernel: "avx2".into(),
            rounds_gbs: rounds.to_vec(),
            load_average: load,
            others_cores: None,
            cores,
        }
    }

    #[test]
    fn a_small_measurement_is_positive_and_cached_when_quiet() {
        let bw = measure(2, 8 << 20);
        assert!(bw.read_gbs > 0.0 && bw.triad_gbs > 0.0, "{bw:?}");
        assert_eq!(bw.threads, 2);
        assert_eq!(bw.rounds_gbs.len(), ROUNDS);
        assert!(!bw.kernel.is_empty());
        let dir = tempfile::tempdir().unwrap();
        let cache = BandwidthCache::in_dir(dir.path());
        assert!(cache.get("dev", 2).is_none());
        cache.put("dev", &bw).unwrap();
        // JSON keeps the figures to about 1e-15 (not bit for bit).
        let stored = cache.get("dev", 2).expect("cached");
        assert!((stored.read_gbs - bw.read_gbs).abs() < 1e-9 * bw.read_gbs);
        assert_eq!(stored.kernel, bw.kernel);
        assert!(cache.get("dev", 4).is_none());
        let (again, decision) = cache.get_or_measure("dev", 2, 8 << 20);
        assert!(decision.is_none(), "cached");
        assert_eq!(again, stored);
        // A corrupt cache is measured again, not an error.
        std::fs::write(&cache.path, "{not json").unwrap();
        assert!(cache.get("dev", 2).is_none());
    }

    /// Right after a run's tests the 1-minute load is high from the run itself; what counts is
    /// what other processes did while the bandwidth was measured.
    #[test]
    fn the_cpu_others_used_decides_not_the_runs_own_load() {
        let mut after_a_run = probe(47.0, &[47.0, 46.8], Some(2.25), 2);
        after_a_run.others_cores = Some(0.02);
        assert_eq!(
            cache_decision(&after_a_run, Some(3.0)),
            CacheDecision::Cache
        );
        after_a_run.others_cores = Some(0.6);
        assert!(matches!(
            cache_decision(&after_a_run, Some(3.0)),
            CacheDecision::Refuse(r) if r.contains("other processes used 0.60 cores")
        ));
        // Linux tells, and the count is a small non-negative number.
        if cfg!(target_os = "linux") {
            let (a, b) = (cpu_ticks(), cpu_ticks());
            let others = others_cores(a, b, 0.01).expect("/proc/stat and /proc/self/stat");
            assert!(others >= 0.0, "{others}");
        }
    }

    /// The numbers of the report that led here: 24.2 GB/s measured while the machine was busy,
    /// 32.3 GB/s on the quiet machine.
    #[test]
    fn only_quiet_measurements_are_cached_and_the_ceiling_only_rises() {
        // Busy: a load average of 1.8 on 2 cores.
        let busy = probe(24.2, &[24.2, 23.9], Some(1.8), 2);
        assert!(
            matches!(cache_decision(&busy, None), CacheDecision::Refuse(r) if r.contains("load average 1.80"))
        );
        // Quiet load, but the two rounds disagree by 20%.
        let unsteady = probe(30.0, &[24.0, 30.0], Some(0.1), 2);
        assert!(
            matches!(cache_decision(&unsteady, None), CacheDecision::Refuse(r) if r.contains("disagree"))
        );
        // Quiet and steady: cached, unless a higher ceiling is cached already.
        let quiet = probe(32.3, &[32.3, 32.0], Some(0.2), 2);
        assert_eq!(cache_decision(&quiet, None), CacheDecision::Cache);
        assert_eq!(cache_decision(&quiet, Some(24.2)), CacheDecision::Cache);
        assert_eq!(
            cache_decision(&quiet, Some(33.0)),
            CacheDecision::KeepCached
        );
        // No load average (not Linux): the rounds decide.
        assert_eq!(
            cache_decision(&probe(32.3, &[32.3, 32.1], None, 2), None),
            CacheDecision::Cache
        );

        let dir = tempfile::tempdir().unwrap();
        let cache = BandwidthCache::in_dir(dir.path());
        let (used, decision) = cache.store("dev", busy.clone());
        assert!(matches!(decision, CacheDecision::Refuse(_)));
        assert_eq!(
            used.read_gbs, 24.2,
            "a busy measurement is still this run's best guess"
        );
        assert!(cache.get("dev", 2).is_none(), "but it is not cached");
        assert_eq!(cache.store("dev", quiet.clone()).1, CacheDecision::Cache);
        // A later busy or lower measurement leaves the quiet ceiling in place and in use.
        let (used, _) = cache.store("dev", busy);
        assert_eq!(used.read_gbs, 32.3);
        let (used, decision) = cache.store("dev", probe(31.0, &[31.0, 30.9], Some(0.0), 2));
        assert_eq!((used.read_gbs, decision), (32.3, CacheDecision::KeepCached));
        assert_eq!(cache.get("dev", 2).unwrap().read_gbs, 32.3);
    }

    #[test]
    fn above_100_percent_calls_for_a_new_measurement() {
        // 114–124% of a roofline from 24.2 GB/s: measure again.
        assert!(remeasure_needed(114.0));
        assert!(remeasure_needed(124.0));
        assert!(!remeasure_needed(100.0));
        assert!(!remeasure_needed(87.0));
        assert!(!remeasure_needed(f64::NAN));
    }

    #[test]
    fn roofline_of_a_model() {
        // 2 GB of weights on 20 GB/s: 10 t/s ceiling; 5 t/s is 50%.
        let (ceiling, pct) = roofline(5.0, 2_000_000_000, 20.0).unwrap();
        assert!((ceiling - 10.0).abs() < 1e-9);
        assert!((pct - 50.0).abs() < 1e-9);
        assert!(roofline(5.0, 0, 20.0).is_none());
        assert!(roofline(5.0, 10, 0.0).is_none());
    }
}
