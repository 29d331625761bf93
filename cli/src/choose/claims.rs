//! Claims checked against physics: a device cannot generate faster than its peak memory
//! bandwidth ÷ the bytes it must stream per token. A claim is `DEVICE MODEL QUANT TPS`
//! (`m2 llama3-8b q4_k_m 40`), one on the command line or one a line in a file (`#` starts a
//! comment; commas also separate; anything after the fourth field is kept as the claim's
//! source).

use super::fit::Fit;
use super::{Device, Estimate};
use edgebench_harness::devices::{self, DeviceSpec};

/// One claim as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub device: String,
    pub model: String,
    pub quant: String,
    pub tps: f64,
    /// Where the claim comes from (the rest of its line), if given.
    pub source: Option<String>,
    /// `file:line` or `--check`.
    pub at: String,
}

/// Parse one claim; the error names what is wrong.
pub fn parse(text: &str, at: &str) -> Result<Claim, String> {
    let fields: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|f| !f.is_empty())
        .collect();
    if fields.len() < 4 {
        return Err(format!(
            "{at}: a claim is DEVICE MODEL QUANT TPS (e.g. `m2 llama3-8b q4_k_m 40`), got `{}`",
            text.trim()
        ));
    }
    let tps: f64 = fields[3]
        .trim_end_matches("t/s")
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v > 0.0)
        .ok_or_else(|| format!("{at}: `{}` is not a positive t/s figure", fields[3]))?;
    Ok(Claim {
        device: fields[0].to_string(),
        model: fields[1].to_string(),
        quant: fields[2].to_string(),
        tps,
        source: (fields.len() > 4).then(|| fields[4..].join(" ")),
        at: at.to_string(),
    })
}

/// Every claim of a file (blank lines and `#` comments skipped).
pub fn parse_file(path: &std::path::Path) -> Result<Vec<Claim>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        out.push(parse(line, &format!("{}:{}", path.display(), i + 1))?);
    }
    if out.is_empty() {
        return Err(format!("{}: no claims in this file", path.display()));
    }
    Ok(out)
}

/// A catalog device by id (`apple-m2`), by id without the maker (`m2`, `rpi5-8gb`,
/// `jetson-orin-nano-8gb`), or by name, case-insensitively; the error lists close ids.
pub fn find_device(name: &str) -> Result<&'static DeviceSpec, String> {
    let n = name.trim().to_ascii_lowercase();
    let catalog = devices::catalog();
    let exact = catalog.iter().find(|d| {
        d.id == n
            || d.name.to_ascii_lowercase() == n
            || d.id.strip_prefix("apple-") == Some(n.as_str())
            || d.id.strip_prefix("nvidia-") == Some(n.as_str())
    });
    if let Some(d) = exact {
        return Ok(d);
    }
    // `rpi5` → the first (smallest) Pi 5; every size has the same SoC and bandwidth.
    let prefixed: Vec<&DeviceSpec> = catalog
        .iter()
        .filter(|d| {
            d.id.starts_with(&n)
                || d.id
                    .strip_prefix("apple-")
                    .is_some_and(|i| i.starts_with(&n))
        })
        .collect();
    match prefixed.first() {
        Some(d)
            if prefixed
                .iter()
                .all(|x| x.peak_bandwidth_gbs == d.peak_bandwidth_gbs) =>
        {
            Ok(*d)
        }
        _ => Err(format!(
            "unknown device `{name}`{} (`edgebench device --catalog` lists them)",
            if prefixed.is_empty() {
                String::new()
            } else {
                format!(
                    ": say which of {}",
                    prefixed
                        .iter()
                        .map(|d| d.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        )),
    }
}

/// A claim against the physical ceiling.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub claim: Claim,
    pub device: Device,
    pub bytes_per_token: f64,
    /// Peak bandwidth ÷ bytes per token.
    pub ceiling_tps: f64,
    /// The claim exceeds the ceiling: physically impossible.
    pub impossible: bool,
    /// What the fitted efficiencies expect on this device (llama.cpp), for comparison.
    pub expected: Option<Estimate>,
}

impl Verdict {
    /// The arithmetic, in one paragraph.
    pub fn explain(&self) -> String {
        let c = &self.claim;
        let bw = self.device.bandwidth_gbs.unwrap_or(0.0);
        let mut out = format!(
            "{} {} {} at {} t/s ({}): {} peaks at {bw} GB/s; {} {} streams {:.2} GB a token; \
             ceiling = {bw} GB/s ÷ {:.2} GB = {:.1} t/s. The claim is {:.0}% of the ceiling: {}.",
            c.device,
            c.model,
            c.quant,
            c.tps,
            c.at,
            self.device.name,
            c.model,
            c.quant,
            self.bytes_per_token / 1e9,
            self.bytes_per_token / 1e9,
            self.ceiling_tps,
            100.0 * c.tps / self.ceiling_tps,
            if self.impossible {
                "IMPOSSIBLE (faster than the memory can deliver the weights)"
            } else {
                "possible"
            }
        );
        if let Some(e) = &self.expected {
            let range = match (e.low, e.high) {
                (Some(lo), Some(hi)) => format!(" ({lo:.1}–{hi:.1})"),
                _ => String::new(),
            };
            out.push_str(&format!(
                " Expected with llama.cpp: {:.1} t/s{range}, from {}.",
                e.value, e.basis
            ));
        }
        if let Some(s) = &c.source {
            out.push_str(&format!(" Claimed by: {s}."));
        }
        out
    }
}

/// Check `claim` on `device` for a model streaming `bytes_per_token`.
pub fn check(claim: Claim, device: Device, bytes_per_token: f64, fit: &Fit) -> Option<Verdict> {
    let bw = device.bandwidth_gbs?;
    let ceiling_tps = bw * 1e9 / bytes_per_token;
    let expected = fit.generation(&device, "llamacpp", bytes_per_token);
    Some(Verdict {
        impossible: claim.tps > ceiling_tps,
        claim,
        device,
        bytes_per_token,
        ceiling_tps,
        expected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::choose::observe;

    #[test]
    fn parses_claims_and_says_what_is_wrong() {
        let c = parse("m2 llama3-8b q4_k_m 40 some blog", "--check").unwrap();
        assert_eq!(c.tps, 40.0);
        assert_eq!(c.source.as_deref(), Some("some blog"));
        assert_eq!(parse("m2,llama3-8b,q4_k_m,40t/s", "x").unwrap().tps, 40.0);
        assert!(parse("m2 llama3-8b 40", "x")
            .unwrap_err()
            .contains("DEVICE MODEL QUANT TPS"));
        assert!(parse("m2 llama3-8b q4_k_m fast", "f:3")
            .unwrap_err()
            .starts_with("f:3:"));
    }

    #[test]
    fn finds_devices_by_short_names() {
        assert_eq!(find_device("m2").unwrap().id, "apple-m2");
        assert_eq!(find_device("Apple M2 Pro").unwrap().id, "apple-m2-pro");
        assert_eq!(find_device("rpi5").unwrap().id, "rpi5-2gb");
        assert_eq!(find_device("rtx-4090").unwrap().id, "nvidia-rtx-4090");
        // Orin Nano 8GB with and without Super mode differ in bandwidth: ambiguous.
        let e = find_device("jetson-orin-nano-8gb").unwrap();
        assert_eq!(e.id, "jetson-orin-nano-8gb");
        assert!(find_device("jetson-orin")
            .unwrap_err()
            .contains("say which"));
        assert!(find_device("pentium")
            .unwrap_err()
            .contains("unknown device"));
    }

    #[test]
    fn forty_tps_of_llama3_8b_on_an_m2_is_impossible() {
        let claim = parse("m2 llama3-8b q4_k_m 40", "--check").unwrap();
        let dev = observe::device(find_device("m2").unwrap());
        let bytes = 4.63e9;
        let v = check(claim, dev, bytes, &Fit::default()).unwrap();
        assert!(v.impossible);
        assert!((v.ceiling_tps - 21.6).abs() < 0.1, "{v:?}");
        assert!(v.explain().contains("IMPOSSIBLE"), "{}", v.explain());
        let ok = parse("m2 llama3-8b q4_k_m 15", "--check").unwrap();
        let dev = observe::device(find_device("m2").unwrap());
        assert!(!check(ok, dev, bytes, &Fit::default()).unwrap().impossible);
    }
}
