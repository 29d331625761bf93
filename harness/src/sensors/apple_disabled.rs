//! The twin of `apple_macos.rs` on other systems: Apple power and thermal pressure come from
//! macOS's `powermetrics`, so there is nothing to read here.

use super::Sensor;

pub fn discover() -> Result<Box<dyn Sensor>, String> {
    Err("Apple powermetrics: macOS only".into())
}
