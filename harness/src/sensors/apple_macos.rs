//! macOS: Apple Silicon power and thermal pressure from `powermetrics`, which needs root.
//! (Without root, the IOReport "Energy Model" channels give the same energies, as macmon
//! reads them; that private-framework path is not implemented here.)

use super::{PowerMetrics, Sensor, SysRoot};

pub fn discover() -> Result<Box<dyn Sensor>, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(
            "powermetrics needs root: run edgebench with sudo to record CPU/GPU/ANE power and thermal pressure"
                .into(),
        );
    }
    let program = SysRoot::default()
        .command("powermetrics")
        .ok_or("no powermetrics in /usr/bin")?;
    let args = [
        "--samplers",
        "cpu_power,gpu_power,ane_power,thermal",
        "-i",
        "100",
    ];
    Ok(Box::new(PowerMetrics::spawn(&program, &args)?))
}
