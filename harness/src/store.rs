//! The results file: JSONL, one [`Record`] a line, appended and flushed as each is produced,
//! so a crash or Ctrl-C leaves a valid file holding everything measured so far.

use crate::schema::Record;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub struct ResultsWriter {
    path: PathBuf,
    file: BufWriter<File>,
}

impl ResultsWriter {
    /// Open `path` for appending, creating it and its parent folders.
    pub fn append(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("{}: cannot create folder: {e}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| anyhow::anyhow!("{}: cannot open for appending: {e}", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            file: BufWriter::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one record as one line and push it to the OS before returning.
    pub fn write(&mut self, record: &Record) -> anyhow::Result<()> {
        let line = serde_json::to_string(record)?;
        let io = |e: std::io::Error| {
            anyhow::anyhow!("{}: cannot write results: {e}", self.path.display())
        };
        writeln!(self.file, "{line}").map_err(io)?;
        self.file.flush().map_err(io)?;
        Ok(())
    }
}
