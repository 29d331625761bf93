//! Memory bandwidth of this machine, measured once and cached: the denominator of the roofline.
//!
//! Token generation reads every weight once per token, so a model of `W` bytes cannot decode
//! faster than `bandwidth ÷ W` tokens/s on a machine that streams `bandwidth` bytes/s. The
//! kernels follow McCalpin's STREAM (https://www.cs.virginia.edu/stream/): a buffer far larger
//! than the last-level cache (at least 16 × L3 and 512 MiB, at most a quarter of RAM), split
//! into one contiguous chunk per thread, with the thread count the run uses; the best of
//! several passes after a warm-up pass counts (STREAM's convention).
//! - **read**: sum every 64-bit word (8 independent accumulators, so the compiler vectorises
//!   it); what decode does with weights, and what the roofline uses.
//! - **triad**: `a[i] = b[i] + s·c[i]`, counted as STREAM counts it (24 bytes an element,
//!   without the write-allocate traffic).
//!
//! Results are cached in `<cache dir>/bandwidth.json` per device (name, CPU, cores, RAM) and
//! thread count, so only the first run on a machine pays for them (about a second).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::time::Instant;

/// One measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bandwidth {
    /// Best read bandwidth, GB/s (10⁹ bytes/s).
    pub read_gbs: f64,
    /// Best triad bandwidth, GB/s.
    pub triad_gbs: f64,
    pub threads: usize,
    pub buffer_bytes: u64,
    /// RFC 3339 time of the measurement.
    pub measured_at: String,
}

/// Passes of each kernel; the first is a warm-up and does not count.
const PASSES: usize = 10;

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

/// Measure read and triad bandwidth with `threads` threads over `buffer_bytes`.
pub fn measure(threads: usize, buffer_bytes: u64) -> Bandwidth {
    let threads = threads.max(1);
    let words = (buffer_bytes / 8) as usize;
    let read_gbs = {
        let mut buf = vec![0u64; words];
        // First touch by the threads that read, so memory is local to them (NUMA).
        parallel_chunks(&mut buf, threads, |_, chunk| {
            for (i, w) in chunk.iter_mut().enumerate() {
                *w = i as u64;
            }
        });
        best_of(PASSES, words as f64 * 8.0, || {
            let sums = parallel_read(&buf, threads);
            std::hint::black_box(sums);
        })
    };
    let triad_gbs = {
        let n = words / 3;
        let (mut a, b, c) = (vec![0.0f64; n], vec![1.0f64; n], vec![2.0f64; n]);
        best_of(PASSES, n as f64 * 24.0, || {
            parallel_triad(&mut a, &b, &c, 3.0, threads);
            std::hint::black_box(&a);
        })
    };
    Bandwidth {
        read_gbs,
        triad_gbs,
        threads,
        buffer_bytes: words as u64 * 8,
        measured_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
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

fn sum_words(words: &[u64]) -> u64 {
    let mut acc = [0u64; 8];
    let blocks = words.chunks_exact(8);
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
    /// never leave a half-written cache).
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

    /// The cached measurement, or a new one (stored). Returns it and whether it was cached.
    pub fn get_or_measure(
        &self,
        device_key: &str,
        threads: usize,
        buffer_bytes: u64,
    ) -> (Bandwidth, bool) {
        if let Some(bw) = self.get(device_key, threads) {
            return (bw, true);
        }
        let bw = measure(threads, buffer_bytes);
        // Failing to cache only means measuring again next time.
        let _ = self.put(device_key, &bw);
        (bw, false)
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

    #[test]
    fn a_small_measurement_is_positive_and_cached() {
        let bw = measure(2, 8 << 20);
        assert!(bw.read_gbs > 0.0 && bw.triad_gbs > 0.0, "{bw:?}");
        assert_eq!(bw.threads, 2);
        let dir = tempfile::tempdir().unwrap();
        let cache = BandwidthCache::in_dir(dir.path());
        assert!(cache.get("dev", 2).is_none());
        cache.put("dev", &bw).unwrap();
        assert_eq!(cache.get("dev", 2), Some(bw.clone()));
        assert!(cache.get("dev", 4).is_none());
        let (again, cached) = cache.get_or_measure("dev", 2, 8 << 20);
        assert!(cached);
        assert_eq!(again, bw);
        // A corrupt cache is measured again, not an error.
        std::fs::write(&cache.path, "{not json").unwrap();
        assert!(cache.get("dev", 2).is_none());
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
