//! Error of catalog lookups and parsing.

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("unknown {kind} '{name}' (known: {})", known.join(", "))]
    Unknown {
        kind: &'static str,
        name: String,
        known: Vec<String>,
    },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
}
