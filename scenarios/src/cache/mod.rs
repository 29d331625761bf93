//! The model cache: one file or folder per synthetic model, written once and reused. Each
//! format describes its models as an [`Artifact`] (key, planned bytes, write, inspect); the
//! cache ([`ensure`]) does the rest the same way for all of them: a `.partial` temp path renamed
//! into place, then a sidecar `<entry>.json` written last, so an entry counts as complete only
//! when its sidecar is there and matches.

mod artifact;
mod store;

pub use artifact::{Artifact, Label};
pub use store::{default_models_dir, ensure, sidecar_path, CachedModel};
