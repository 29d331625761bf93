//! The chooser's inputs from results files (published figures plus measured ones, and the
//! devices), and the devices × scenarios matrix a report shows.

use super::fit::Fit;
use super::{matrix, observe, Device, Origin};
use edgebench_harness::schema::TestRecord;
use edgebench_scenarios::Catalog;
use std::path::PathBuf;

/// The fit (published figures plus measured ones) and the devices: those only the results
/// know first, then the catalog's.
pub fn inputs(catalog: &Catalog, results: &[PathBuf]) -> anyhow::Result<(Fit, Vec<Device>)> {
    if results.is_empty() {
        return inputs_from_tests(catalog, &[]);
    }
    let loaded = edgebench_reports::load_results(results)?;
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    inputs_from_tests(catalog, &loaded.tests)
}

/// [`inputs`] from tests already read.
fn inputs_from_tests(
    catalog: &Catalog,
    tests: &[TestRecord],
) -> anyhow::Result<(Fit, Vec<Device>)> {
    let mut obs = observe::published(catalog)?;
    let mut devices: Vec<Device> = Vec::new();
    let (measured, seen) = observe::measured(catalog, tests);
    obs.extend(measured);
    devices.extend(seen.into_iter().filter(|d| !d.in_catalog));
    devices.extend(observe::catalog_devices());
    Ok((Fit::new(obs), devices))
}

/// The matrix and chart for a report (used by `edgebench report`).
pub fn report_matrix(
    tests: &[TestRecord],
) -> anyhow::Result<(
    edgebench_reports::matrix::Matrix,
    Option<edgebench_reports::chart::ChoiceChart>,
)> {
    let catalog = Catalog::builtin();
    let (fit, devices) = inputs_from_tests(&catalog, tests)?;
    // The report is about edge devices: boards and Apple chips, and whatever the results ran
    // on; NVIDIA GPUs only when measured.
    let measured: Vec<&str> = fit
        .observations
        .iter()
        .filter(|o| o.origin == Origin::Measured)
        .map(|o| o.device.as_str())
        .collect();
    let shown: Vec<Device> = devices
        .into_iter()
        .filter(|d| !d.in_catalog || d.family != "nvidia-gpu" || measured.contains(&d.id.as_str()))
        .collect();
    Ok(matrix::build(&catalog, &shown, &fit))
}
