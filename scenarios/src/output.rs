//! What every synthetic writer shares: a writer that hashes and counts what goes through it
//! (reporting progress), and the report of a written model.

use anyhow::Context;
use sha2::{Digest, Sha256};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Counts and hashes what goes through it; `Seek` answers `stream_position` only (candle's
/// writer never seeks back).
pub(crate) struct HashingWriter<'a, W: Write> {
    pub(crate) inner: W,
    pub(crate) hasher: Sha256,
    pub(crate) pos: u64,
    pub(crate) total: u64,
    pub(crate) next_report: u64,
    pub(crate) progress: &'a mut dyn FnMut(u64, u64),
}

pub(crate) const REPORT_EVERY: u64 = 16 << 20;
const MAX_CHUNK: usize = 16 << 20;
const PARALLEL_CHUNK: usize = 1 << 20;

impl<W: Write + Send> Write for HashingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let buf = &buf[..buf.len().min(MAX_CHUNK)];
        let n = if buf.len() >= PARALLEL_CHUNK {
            // Hash on one core while the other copies into the file.
            let (hasher, inner) = (&mut self.hasher, &mut self.inner);
            let ((), written) = rayon::join(|| hasher.update(buf), || inner.write_all(buf));
            written?;
            buf.len()
        } else {
            let n = self.inner.write(buf)?;
            self.hasher.update(&buf[..n]);
            n
        };
        self.pos += n as u64;
        if self.pos >= self.next_report {
            (self.progress)(self.pos, self.total);
            self.next_report = self.pos + REPORT_EVERY;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> Seek for HashingWriter<'_, W> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        match pos {
            SeekFrom::Current(0) => Ok(self.pos),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "synthetic GGUF writer only streams forward",
            )),
        }
    }

    fn stream_position(&mut self) -> std::io::Result<u64> {
        Ok(self.pos)
    }
}

/// What a writer wrote: a file, or a folder.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthReport {
    pub path: PathBuf,
    pub bytes: u64,
    /// Lower-case hex sha256 of the file (for a folder, as its format defines it).
    pub sha256: String,
    pub seconds: f64,
}

impl<'a, W: Write> HashingWriter<'a, W> {
    /// Wrap `inner`; `progress(done, total)` is called every 16 MiB.
    pub(crate) fn new(inner: W, total: u64, progress: &'a mut dyn FnMut(u64, u64)) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            pos: 0,
            total,
            next_report: REPORT_EVERY,
            progress,
        }
    }
}

/// The sha256 (lower-case hex) and length of a file.
pub(crate) fn hash_file(path: &Path) -> anyhow::Result<(String, u64)> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok((hex::encode(hasher.finalize()), bytes))
}
