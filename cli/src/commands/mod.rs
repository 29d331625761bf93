//! One module per subcommand.

pub mod check;
pub mod check_whisper;
pub mod choose;
pub mod compare;
pub mod device;
pub mod list;
pub mod models;
pub mod report;
pub mod run;
