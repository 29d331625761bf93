//! The catalog: lenient TOML data (`scenarios/catalog/*.toml`, embedded at build time, plus a
//! user's own files) resolved into strict specs. LLM entries are in [`llm`], Whisper entries in
//! [`whisper`]; this module loads, merges and looks them up.

mod error;
mod llm;
mod whisper;

pub use error::CatalogError;
pub use llm::{Arch, ModelSpec, Quant, Suite, WorkloadSpec};
pub use whisper::{WhisperFormat, WhisperQuant, WhisperSpec, WhisperSuite, WhisperWorkload};

use serde::{Deserialize, Serialize};
use std::path::Path;

/// The whole catalog.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    #[serde(default, rename = "model")]
    pub models: Vec<ModelSpec>,
    #[serde(default, rename = "workload")]
    pub workloads: Vec<WorkloadSpec>,
    #[serde(default, rename = "suite")]
    pub suites: Vec<Suite>,
    #[serde(default, rename = "whisper")]
    pub whisper: Vec<WhisperSpec>,
    #[serde(default, rename = "whisper_workload")]
    pub whisper_workloads: Vec<WhisperWorkload>,
    #[serde(default, rename = "whisper_suite")]
    pub whisper_suites: Vec<WhisperSuite>,
}

const BUILTIN: &[(&str, &str)] = &[
    (
        "catalog/models.toml",
        include_str!("../../catalog/models.toml"),
    ),
    (
        "catalog/workloads.toml",
        include_str!("../../catalog/workloads.toml"),
    ),
    (
        "catalog/whisper.toml",
        include_str!("../../catalog/whisper.toml"),
    ),
];

impl Catalog {
    /// The catalog shipped in `scenarios/catalog/`.
    pub fn builtin() -> Catalog {
        let mut catalog = Catalog::default();
        for (file, text) in BUILTIN {
            let part = Catalog::parse(file, text)
                .unwrap_or_else(|e| panic!("built-in catalog is invalid: {e}"));
            catalog.merge(part);
        }
        catalog
    }

    /// The built-in catalog plus every `*.toml` in `dir` (a user's own scenarios).
    pub fn builtin_and_dir(dir: &Path) -> Result<Catalog, CatalogError> {
        let mut catalog = Catalog::builtin();
        let entries = std::fs::read_dir(dir).map_err(|e| CatalogError::Invalid {
            file: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let mut files: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|e| CatalogError::Invalid {
                file: file.display().to_string(),
                message: e.to_string(),
            })?;
            catalog.merge(Catalog::parse(&file.display().to_string(), &text)?);
        }
        Ok(catalog)
    }

    /// Parse one TOML catalog file and validate it.
    pub fn parse(file: &str, text: &str) -> Result<Catalog, CatalogError> {
        let catalog: Catalog = toml::from_str(text).map_err(|e| CatalogError::Invalid {
            file: file.to_string(),
            message: e.to_string().lines().next().unwrap_or_default().to_string(),
        })?;
        for m in &catalog.models {
            m.validate().map_err(|message| CatalogError::Invalid {
                file: file.to_string(),
                message,
            })?;
        }
        for w in &catalog.whisper {
            w.validate().map_err(|message| CatalogError::Invalid {
                file: file.to_string(),
                message,
            })?;
        }
        Ok(catalog)
    }

    fn merge(&mut self, other: Catalog) {
        // Later definitions replace earlier ones of the same name.
        for m in other.models {
            self.models.retain(|x| x.name != m.name);
            self.models.push(m);
        }
        for w in other.workloads {
            self.workloads.retain(|x| x.name != w.name);
            self.workloads.push(w);
        }
        for s in other.suites {
            self.suites.retain(|x| x.name != s.name);
            self.suites.push(s);
        }
        for w in other.whisper {
            self.whisper.retain(|x| x.name != w.name);
            self.whisper.push(w);
        }
        for w in other.whisper_workloads {
            self.whisper_workloads.retain(|x| x.name != w.name);
            self.whisper_workloads.push(w);
        }
        for s in other.whisper_suites {
            self.whisper_suites.retain(|x| x.name != s.name);
            self.whisper_suites.push(s);
        }
    }

    pub fn model(&self, name: &str) -> Result<&ModelSpec, CatalogError> {
        self.models
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| CatalogError::Unknown {
                kind: "scenario model",
                name: name.to_string(),
                known: self.models.iter().map(|m| m.name.clone()).collect(),
            })
    }

    pub fn workload(&self, name: &str) -> Result<&WorkloadSpec, CatalogError> {
        self.workloads
            .iter()
            .find(|w| w.name == name)
            .ok_or_else(|| CatalogError::Unknown {
                kind: "workload",
                name: name.to_string(),
                known: self.workloads.iter().map(|w| w.name.clone()).collect(),
            })
    }

    pub fn suite(&self, name: &str) -> Result<&Suite, CatalogError> {
        self.suites
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| CatalogError::Unknown {
                kind: "suite",
                name: name.to_string(),
                known: self.suites.iter().map(|s| s.name.clone()).collect(),
            })
    }

    pub fn whisper_model(&self, name: &str) -> Result<&WhisperSpec, CatalogError> {
        self.whisper
            .iter()
            .find(|w| w.name == name)
            .ok_or_else(|| CatalogError::Unknown {
                kind: "Whisper model",
                name: name.to_string(),
                known: self.whisper.iter().map(|w| w.name.clone()).collect(),
            })
    }

    /// A catalog workload, or `decode-tN` for any N.
    pub fn whisper_workload(&self, name: &str) -> Result<WhisperWorkload, CatalogError> {
        if let Some(w) = self.whisper_workloads.iter().find(|w| w.name == name) {
            return Ok(w.clone());
        }
        if let Some(n) = name
            .strip_prefix("decode-t")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n > 0)
        {
            return Ok(WhisperWorkload {
                name: name.to_string(),
                mel: false,
                encode: false,
                decode: n,
                description: format!("{n} single-token decoder steps with the KV cache"),
            });
        }
        let mut known: Vec<String> = self
            .whisper_workloads
            .iter()
            .map(|w| w.name.clone())
            .collect();
        known.push("decode-tN".into());
        Err(CatalogError::Unknown {
            kind: "Whisper workload",
            name: name.to_string(),
            known,
        })
    }

    pub fn whisper_suite(&self, name: &str) -> Result<&WhisperSuite, CatalogError> {
        self.whisper_suites
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| CatalogError::Unknown {
                kind: "Whisper suite",
                name: name.to_string(),
                known: self.whisper_suites.iter().map(|s| s.name.clone()).collect(),
            })
    }
}
