//! Answer "which device, for this model, at this speed, power and price": one row per device
//! and backend, every figure with its origin, ranked by generation t/s (Whisper: by real-time
//! factor), the rows that miss a constraint apart with the reason.

use super::cost::{Work, WHISPER_DECODER_STEPS, WHISPER_WINDOW_S};
use super::fit::Fit;
use super::{median, Device, Estimate, Metric, Observation, Origin};

/// What the user asks.
#[derive(Debug, Clone)]
pub struct Question {
    pub work: Work,
    /// Context the memory must hold (KV cache), tokens.
    pub ctx: usize,
    /// Prompt tokens for TTFT.
    pub prompt: usize,
    pub min_tps: Option<f64>,
    pub max_watts: Option<f64>,
    pub budget_usd: Option<f64>,
}

/// A figure and where it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub value: f64,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub origin: Origin,
    /// URL, run, or the prediction's basis.
    pub source: String,
    /// Setup of a measured or published figure.
    pub note: String,
    /// A measured figure some repetition of which throttled.
    pub throttled: bool,
}

impl Figure {
    fn from_estimate(e: &Estimate) -> Figure {
        Figure {
            value: e.value,
            low: e.low,
            high: e.high,
            origin: Origin::Predicted,
            source: e.basis.clone(),
            note: String::new(),
            throttled: false,
        }
    }

    /// `21.91`, `≈19.3 (17.2–20.1)`: measured and published plain, predicted marked.
    pub fn text(&self, decimals: usize) -> String {
        let v = |x: f64| format!("{x:.decimals$}");
        match (self.origin, self.low, self.high) {
            (Origin::Predicted, Some(lo), Some(hi)) => {
                format!("≈{} ({}–{})", v(self.value), v(lo), v(hi))
            }
            (Origin::Predicted, _, _) => format!("≈{}", v(self.value)),
            _ => v(self.value),
        }
    }
}

/// Will the model fit in the device's memory?
#[derive(Debug, Clone, PartialEq)]
pub enum Fits {
    Yes {
        needs: u64,
        has: u64,
    },
    No {
        needs: u64,
        has: u64,
    },
    /// The catalog does not say how much memory (Apple chips come with several).
    Unknown {
        needs: u64,
    },
}

impl Fits {
    pub fn text(&self) -> String {
        let g = |b: u64| b as f64 / (1u64 << 30) as f64;
        match self {
            Fits::Yes { needs, has } => format!("yes, {:.1} of {:.0} GiB", g(*needs), g(*has)),
            Fits::No { needs, has } => format!(
                "no, needs {:.1} GiB, has {:.0} ({:.1} short)",
                g(*needs),
                g(*has),
                g(needs - has)
            ),
            Fits::Unknown { needs } => format!("needs {:.1} GiB (RAM varies)", g(*needs)),
        }
    }
}

/// One device × backend answer.
#[derive(Debug, Clone)]
pub struct Row {
    pub device: Device,
    pub backend: String,
    pub fits: Fits,
    pub generation: Option<Figure>,
    pub prompt: Option<Figure>,
    /// Seconds to the first token for the question's prompt.
    pub ttft_s: Option<Figure>,
    /// Whisper: × real time (audio seconds ÷ compute seconds) for a 30 s window.
    pub rtf: Option<Figure>,
    /// Watts and what the number is.
    pub watts: Option<(f64, String)>,
    /// Why the row is not ranked (a constraint it misses), if so.
    pub excluded: Option<String>,
}

impl Row {
    /// The figure the ranking sorts by: generation t/s, or the real-time factor.
    pub fn headline(&self) -> Option<&Figure> {
        self.rtf.as_ref().or(self.generation.as_ref())
    }

    pub fn per_watt(&self) -> Option<f64> {
        Some(self.headline()?.value / self.watts.as_ref()?.0)
    }

    /// Headline per 100 US dollars of the device.
    pub fn per_100_usd(&self) -> Option<f64> {
        Some(self.headline()?.value / self.device.price_usd? * 100.0)
    }
}

/// Measured figures first, then published ones, of the question's model and quantization on
/// this device and backend: their median, as that origin.
fn observed(
    obs: &[Observation],
    device: &Device,
    backend: &str,
    work: &Work,
    metric: Metric,
) -> Option<Figure> {
    for origin in [Origin::Measured, Origin::Published] {
        let same: Vec<&Observation> = obs
            .iter()
            .filter(|o| {
                o.origin == origin
                    && o.metric == metric
                    && o.device == device.id
                    && o.backend == backend
                    && o.model == work.model()
                    && o.quant == work.quant()
            })
            .collect();
        let values: Vec<f64> = same.iter().map(|o| o.value).collect();
        if let Some(value) = median(&values) {
            let mut sources: Vec<&str> = same.iter().map(|o| o.source.as_str()).collect();
            sources.dedup();
            return Some(Figure {
                value,
                low: None,
                high: None,
                origin,
                source: sources.join("; "),
                note: same[0].note.clone(),
                throttled: same.iter().any(|o| o.throttled == Some(true)),
            });
        }
    }
    None
}

/// How much memory `work` needs on `backend` at `ctx` tokens of context (the calibrated model
/// of `crate::memfit`; Whisper: weights plus the runtime allowance edgebench's planner uses).
pub fn memory_needed(work: &Work, backend: &str, ctx: usize) -> u64 {
    match work {
        Work::Llm { spec, quant } => {
            let model = crate::model::ModelSource::Synthetic {
                spec: spec.clone(),
                quant: *quant,
                seed: 0,
            };
            // Each target's own memory model (its worker asked once); engines edgebench does
            // not run, or whose worker is not built here, get the typical one.
            let memory =
                crate::targets::memory_model(backend).unwrap_or_else(crate::memfit::typical);
            crate::memfit::estimate(&model, Some(&memory), ctx).total()
        }
        Work::Whisper { spec, quant } => {
            super::cost::whisper_weight_bytes(spec, *quant) + crate::memfit::SPEECH_OVERHEAD_BYTES
        }
    }
}

/// The answer for `devices` (each with every backend the figures know for it).
pub fn answer(q: &Question, devices: &[Device], fit: &Fit) -> Vec<Row> {
    let whisper = q.work.is_whisper();
    let bytes = q.work.bytes_per_token();
    let flops = q.work.flops(q.prompt);
    let obs = &fit.observations;
    let mut rows = Vec::new();
    for d in devices {
        for backend in fit.backends_for(d, whisper) {
            let needs = memory_needed(&q.work, &backend, q.ctx);
            let fits = match d.ram_bytes {
                Some(has) if needs <= has => Fits::Yes { needs, has },
                Some(has) => Fits::No { needs, has },
                None => Fits::Unknown { needs },
            };
            let mut row = Row {
                device: d.clone(),
                backend: backend.clone(),
                fits,
                generation: None,
                prompt: None,
                ttft_s: None,
                rtf: None,
                watts: None,
                excluded: None,
            };
            if whisper {
                row.rtf = observed(obs, d, &backend, &q.work, Metric::Rtf).or_else(|| {
                    // Encoder by compute; decoder steps by bandwidth, with whisper.cpp's own
                    // bandwidth efficiency where known, else llama.cpp's (the same ggml
                    // kernels) on this family.
                    let enc =
                        observed(obs, d, &backend, &q.work, Metric::Encoder).or_else(|| {
                            fit.encoder_s(d, &backend, flops)
                                .map(|e| Figure::from_estimate(&e))
                        })?;
                    let step = fit
                        .generation(d, &backend, bytes)
                        .filter(|e| !e.basis.contains("borrowed"))
                        .or_else(|| fit.generation(d, "llamacpp", bytes))?;
                    let steps = WHISPER_DECODER_STEPS as f64;
                    let rtf = |enc_s: f64, tps: f64| WHISPER_WINDOW_S / (enc_s + steps / tps);
                    let low = match (enc.high.or(Some(enc.value)), step.low) {
                        (Some(e), Some(t)) => Some(rtf(e, t)),
                        _ => None,
                    };
                    let high = match (enc.low.or(Some(enc.value)), step.high) {
                        (Some(e), Some(t)) => Some(rtf(e, t)),
                        _ => None,
                    };
                    Some(Figure {
                        value: rtf(enc.value, step.value),
                        low,
                        high,
                        origin: Origin::Predicted,
                        source: format!(
                            "encoder {:.2} s ({}: {}) + {WHISPER_DECODER_STEPS} decoder steps at \
                             {:.0} steps/s ({})",
                            enc.value, enc.origin, enc.source, step.value, step.basis
                        ),
                        note: String::new(),
                        throttled: false,
                    })
                });
            } else {
                row.generation =
                    observed(obs, d, &backend, &q.work, Metric::Generation).or_else(|| {
                        fit.generation(d, &backend, bytes)
                            .map(|e| Figure::from_estimate(&e))
                    });
                row.prompt = observed(obs, d, &backend, &q.work, Metric::Prompt).or_else(|| {
                    fit.prompt(d, &backend, flops)
                        .map(|e| Figure::from_estimate(&e))
                });
                if let (Some(pp), Some(tg)) = (&row.prompt, &row.generation) {
                    let t = |pp: f64, tg: f64| q.prompt as f64 / pp + 1.0 / tg;
                    let origin = if pp.origin == Origin::Predicted || tg.origin == Origin::Predicted
                    {
                        Origin::Predicted
                    } else {
                        pp.origin.max(tg.origin)
                    };
                    row.ttft_s = Some(Figure {
                        value: t(pp.value, tg.value),
                        low: Some(t(pp.high.unwrap_or(pp.value), tg.high.unwrap_or(tg.value))),
                        high: Some(t(pp.low.unwrap_or(pp.value), tg.low.unwrap_or(tg.value))),
                        origin,
                        source: format!("{} prompt tokens ÷ prompt t/s + one token", q.prompt),
                        note: String::new(),
                        throttled: false,
                    });
                }
            }
            row.watts = power_of(obs, d, &backend, &q.work).or_else(|| d.power.clone());
            row.excluded = exclusion(q, &row);
            if row.headline().is_some() {
                rows.push(row);
            }
        }
    }
    rows.sort_by(|a, b| {
        let key = |r: &Row| r.headline().map_or(f64::NEG_INFINITY, |f| f.value);
        (a.excluded.is_some())
            .cmp(&b.excluded.is_some())
            .then(key(b).total_cmp(&key(a)))
            .then(a.device.name.cmp(&b.device.name))
    });
    rows
}

/// Measured power of this device and backend (any model), else a power the sources published
/// with their figures.
fn power_of(obs: &[Observation], d: &Device, backend: &str, work: &Work) -> Option<(f64, String)> {
    for (origin, what) in [
        (Origin::Measured, "measured"),
        (Origin::Published, "published with the figures"),
    ] {
        let mine: Vec<f64> = obs
            .iter()
            .filter(|o| o.device == d.id && o.origin == origin && o.backend == backend)
            .filter(|o| o.model == work.model() || origin == Origin::Published)
            .filter_map(|o| o.power_w)
            .collect();
        if let Some(w) = median(&mine) {
            return Some((w, what.to_string()));
        }
    }
    None
}

fn exclusion(q: &Question, row: &Row) -> Option<String> {
    if let Fits::No { .. } = row.fits {
        let text = row.fits.text();
        return Some(format!(
            "does not fit: {}",
            text.strip_prefix("no, ").unwrap_or(&text)
        ));
    }
    if let (Some(min), false) = (q.min_tps, q.work.is_whisper()) {
        match &row.generation {
            Some(g) if g.value < min => {
                return Some(format!("{:.1} t/s is below --min-tps {min}", g.value))
            }
            _ => {}
        }
    }
    if let Some(max) = q.max_watts {
        match &row.watts {
            Some((w, _)) if *w > max => {
                return Some(format!("{w:.0} W is above --max-watts {max}"))
            }
            None => return Some("power not known".into()),
            _ => {}
        }
    }
    if let Some(budget) = q.budget_usd {
        match row.device.price_usd {
            Some(p) if p > budget => return Some(format!("${p:.0} is above --budget {budget}")),
            None => return Some("price not known".into()),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::choose::fit::tests::{dev, gen};
    use edgebench_scenarios::Catalog;

    fn question(min_tps: Option<f64>, max_watts: Option<f64>) -> Question {
        Question {
            work: Work::resolve(&Catalog::builtin(), "llama3-8b", "q4_k_m").unwrap(),
            ctx: 4096,
            prompt: 512,
            min_tps,
            max_watts,
            budget_usd: None,
        }
    }

    #[test]
    fn ranks_by_generation_with_origins_and_constraints() {
        let q = question(Some(5.0), Some(20.0));
        let bytes = q.work.bytes_per_token();
        let slow = dev("slow", "fam", 20.0, None);
        let fast = dev("fast", "fam", 200.0, None);
        let mut hot = dev("hot", "fam", 400.0, None);
        hot.power = Some((60.0, "TDP".into()));
        let mut small = dev("small", "fam", 400.0, None);
        small.ram_bytes = Some(2 << 30);
        // The fast device has its own published figure of this very model: shown as such.
        let mut own = gen(&fast, "llamacpp", 30.0, bytes);
        own.model = "llama3-8b".into();
        own.quant = "q4_k_m".into();
        let fit = Fit::new(vec![gen(&slow, "llamacpp", 2.0, bytes), own]);
        let rows = answer(&q, &[slow, fast, hot, small], &fit);
        let order: Vec<(&str, bool)> = rows
            .iter()
            .map(|r| (r.device.id.as_str(), r.excluded.is_some()))
            .collect();
        assert_eq!(
            order,
            vec![
                ("fast", false),
                ("hot", true),
                ("small", true),
                ("slow", true)
            ]
        );
        let fast = &rows[0];
        let g = fast.generation.as_ref().unwrap();
        assert_eq!((g.origin, g.value), (Origin::Published, 30.0));
        assert!(rows[1].excluded.as_deref().unwrap().contains("--max-watts"));
        assert!(rows[2]
            .excluded
            .as_deref()
            .unwrap()
            .starts_with("does not fit"));
        assert!(rows[3].excluded.as_deref().unwrap().contains("--min-tps"));
        // The others are predicted: the family's efficiency (0.43 and 0.69; median 0.56).
        let hot_g = rows[1].generation.as_ref().unwrap();
        assert_eq!(hot_g.origin, Origin::Predicted);
        assert!(hot_g.text(1).starts_with('≈'));
    }
}
