//! `edgebench choose`: which device for this model, at this speed, power and price. Ranks the
//! catalog's devices (and those of `--results`), each figure measured, published or predicted
//! (see `crate::choose`); `--check` tests claims against the bandwidth ceiling (exit 1 when one
//! is impossible); `--validate` prints the predictor's leave-one-out errors.

use crate::choose::claims::{self, Claim};
use crate::choose::cost::Work;
use crate::choose::fit::Fit;
use crate::choose::rank::{self, Figure, Question, Row};
use crate::choose::{observe, report, validate, Origin};
use anyhow::{bail, Context};
use clap::Args;
use comfy_table::{Cell, CellAlignment, ContentArrangement};
use edgebench_reports::chart::{self, ChoicePoint};
use edgebench_reports::matrix::CellKind;
use edgebench_scenarios::Catalog;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ChooseArgs {
    /// The model: an LLM scenario (`llama3-8b`, `phi3-mini`…) or a Whisper size
    /// (`whisper-small.en`)
    #[arg(short, long)]
    pub scenario: Option<String>,
    /// Quantization (default: q4_k_m for LLMs, f16 for Whisper)
    #[arg(short, long)]
    pub quant: Option<String>,
    /// Context the memory must hold (KV cache), tokens
    #[arg(long, default_value_t = 4096)]
    pub ctx: usize,
    /// Prompt tokens for the time to first token
    #[arg(long, default_value_t = 512)]
    pub prompt: usize,
    /// Leave out devices generating slower than this, t/s
    #[arg(long, value_name = "T/S")]
    pub min_tps: Option<f64>,
    /// Leave out devices drawing more than this, W (devices of unknown power too)
    #[arg(long, value_name = "W")]
    pub max_watts: Option<f64>,
    /// Leave out devices costing more than this, US dollars (devices of unknown price too)
    #[arg(long, value_name = "USD")]
    pub budget: Option<f64>,
    /// edgebench results (files or folders, merged reports too): measured figures of their
    /// devices, which also refine the fit
    #[arg(long, num_args = 1.., value_name = "DIR")]
    pub results: Vec<PathBuf>,
    /// Check a claim, `"DEVICE MODEL QUANT T/S"` (e.g. "m2 llama3-8b q4_k_m 40"), or a file of
    /// them (one a line); exit 1 when a claim exceeds the physical ceiling
    #[arg(long, value_name = "CLAIM|FILE")]
    pub check: Vec<String>,
    /// Print the predictor's leave-one-out validation table (median absolute % error per
    /// device family)
    #[arg(long)]
    pub validate: bool,
    /// Also write the ranking as a chart (t/s against t/s per watt): .svg or .png
    #[arg(long, value_name = "FILE")]
    pub chart: Option<PathBuf>,
    /// List every device left out, not only the first ten
    #[arg(long)]
    pub all: bool,
}

pub fn run(args: ChooseArgs) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::builtin();
    let (fit, devices) = report::inputs(&catalog, &args.results)?;
    if args.validate {
        print_validation(&fit);
        return Ok(ExitCode::SUCCESS);
    }
    if !args.check.is_empty() {
        return check_claims(&catalog, &fit, &args.check);
    }
    let Some(scenario) = &args.scenario else {
        bail!("say what to choose for: --scenario MODEL (or --check CLAIM, or --validate)");
    };
    let whisper_model = catalog.whisper_model(scenario).is_ok();
    let quant = args
        .quant
        .clone()
        .unwrap_or_else(|| if whisper_model { "f16" } else { "q4_k_m" }.to_string());
    let work = Work::resolve(&catalog, scenario, &quant)?;
    let q = Question {
        work,
        ctx: args.ctx,
        prompt: args.prompt,
        min_tps: args.min_tps,
        max_watts: args.max_watts,
        budget_usd: args.budget,
    };
    let rows = rank::answer(&q, &devices, &fit);
    print_answer(&q, &rows, args.all);
    if let Some(path) = &args.chart {
        write_chart(&q, &rows, path)?;
        eprintln!("Chart: {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Numbered references to the figures' sources, for footnotes.
#[derive(Default)]
struct Sources {
    list: Vec<String>,
}

impl Sources {
    fn refer(&mut self, f: &Figure) -> usize {
        let text = match f.origin {
            Origin::Predicted => format!("predicted: {}", f.source),
            o if f.note.is_empty() => format!("{o}: {}", f.source),
            o => format!("{o}: {} ({})", f.source, f.note),
        };
        match self.list.iter().position(|s| *s == text) {
            Some(i) => i + 1,
            None => {
                self.list.push(text);
                self.list.len()
            }
        }
    }
}

fn figure_text(f: &Option<Figure>, decimals: usize) -> String {
    match f {
        None => "–".into(),
        Some(f) => {
            let mut t = f.text(decimals);
            if f.origin == Origin::Published {
                t.push('†');
            }
            if f.throttled {
                t.push_str(" ⚠");
            }
            t
        }
    }
}

fn print_answer(q: &Question, rows: &[Row], all: bool) {
    let whisper = q.work.is_whisper();
    let bytes = q.work.bytes_per_token();
    if whisper {
        println!(
            "{} {}: {:.3} TFLOPs an encoder pass over 30 s, {:.0} MB streamed a decoder step.",
            q.work.model(),
            q.work.quant(),
            q.work.flops(0) / 1e12,
            bytes / 1e6
        );
    } else {
        println!(
            "{} {}: {:.2} GB streamed per generated token, {:.1} GFLOPs per prompt token \
             ({}-token prompt); memory for {} tokens of context.",
            q.work.model(),
            q.work.quant(),
            bytes / 1e9,
            q.work.flops(q.prompt) / 1e9,
            q.prompt,
            q.ctx
        );
    }
    let mut limits = Vec::new();
    if let Some(v) = q.min_tps {
        limits.push(format!("at least {v} t/s"));
    }
    if let Some(v) = q.max_watts {
        limits.push(format!("at most {v} W"));
    }
    if let Some(v) = q.budget_usd {
        limits.push(format!("at most ${v}"));
    }
    if !limits.is_empty() {
        println!("Asked: {}.", limits.join(", "));
    }
    println!();
    let mut sources = Sources::default();
    let mut t = comfy_table::Table::new();
    t.load_preset("     ─             ")
        .force_no_tty()
        .set_content_arrangement(ContentArrangement::Disabled);
    let mut header = vec!["#", "device", "backend", "fits in memory"];
    if whisper {
        header.extend(["× real time", "W", "× per W", "× per $100", "sources"]);
    } else {
        header.extend([
            "gen t/s",
            "prompt t/s",
            "TTFT s",
            "W",
            "t/s per W",
            "t/s per $100",
            "sources",
        ]);
    }
    t.set_header(header);
    let ranked: Vec<&Row> = rows.iter().filter(|r| r.excluded.is_none()).collect();
    for (i, r) in ranked.iter().enumerate() {
        let mut refs: Vec<String> = Vec::new();
        let mut refer = |f: &Option<Figure>, what: &str| {
            if let Some(f) = f {
                refs.push(format!("{what} [{}]", sources.refer(f)));
            }
        };
        let watts = r
            .watts
            .as_ref()
            .map_or("–".to_string(), |(w, what)| format!("{w:.0} ({what})"));
        let per = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.2}"));
        let mut cells = vec![
            Cell::new(i + 1),
            Cell::new(&r.device.name),
            Cell::new(&r.backend),
            Cell::new(r.fits.text()),
        ];
        if whisper {
            refer(&r.rtf, "RTF");
            cells.push(Cell::new(figure_text(&r.rtf, 1)).set_alignment(CellAlignment::Right));
        } else {
            refer(&r.generation, "gen");
            refer(&r.prompt, "prompt");
            cells
                .push(Cell::new(figure_text(&r.generation, 1)).set_alignment(CellAlignment::Right));
            cells.push(Cell::new(figure_text(&r.prompt, 0)).set_alignment(CellAlignment::Right));
            cells.push(
                Cell::new(r.ttft_s.as_ref().map_or("–".into(), |f| f.text(2)))
                    .set_alignment(CellAlignment::Right),
            );
        }
        cells.push(Cell::new(watts));
        cells.push(Cell::new(per(r.per_watt())).set_alignment(CellAlignment::Right));
        cells.push(Cell::new(per(r.per_100_usd())).set_alignment(CellAlignment::Right));
        cells.push(Cell::new(refs.join(" ")));
        t.add_row(cells);
    }
    if ranked.is_empty() {
        println!("No device meets every constraint.");
    } else {
        println!("{}", t.trim_fmt());
    }
    let left_out: Vec<&Row> = rows.iter().filter(|r| r.excluded.is_some()).collect();
    if !left_out.is_empty() {
        println!("\nLeft out ({}):", left_out.len());
        let shown = if all { left_out.len() } else { 10 };
        for r in left_out.iter().take(shown) {
            let speed = r.headline().map_or(String::new(), |f| {
                format!(", {}", figure_text(&Some(f.clone()), 1))
            });
            println!(
                "  {} ({}{speed}): {}",
                r.device.name,
                r.backend,
                r.excluded.as_deref().unwrap_or("")
            );
        }
        if left_out.len() > shown {
            println!("  … and {} more (--all lists them)", left_out.len() - shown);
        }
    }
    println!(
        "\nFigures: measured plain, † published, ≈ predicted with its 10–90% interval, ⚠ \
         throttled while measured. Sources:"
    );
    for (i, s) in sources.list.iter().enumerate() {
        println!("  [{}] {s}", i + 1);
    }
}

fn write_chart(q: &Question, rows: &[Row], path: &std::path::Path) -> anyhow::Result<()> {
    let points: Vec<ChoicePoint> = rows
        .iter()
        .filter(|r| r.excluded.is_none())
        .filter_map(|r| {
            let f = r.headline()?;
            Some(ChoicePoint {
                label: format!("{} ({})", r.device.name, r.backend),
                speed: f.value,
                per_watt: r.per_watt()?,
                kind: match f.origin {
                    Origin::Measured => CellKind::Measured,
                    Origin::Published => CellKind::Published,
                    Origin::Predicted => CellKind::Predicted,
                },
            })
        })
        .collect();
    let unit = if q.work.is_whisper() {
        "× real time"
    } else {
        "generation t/s"
    };
    let title = format!(
        "{} {}: speed and speed per watt",
        q.work.model(),
        q.work.quant()
    );
    let Some(c) = chart::choice(&title, unit, points) else {
        bail!("no ranked device has both a speed and a power to chart");
    };
    let bytes = if path.extension().is_some_and(|e| e == "png") {
        chart::render_png(&c)?
    } else {
        chart::render_svg(&c)?.into_bytes()
    };
    std::fs::write(path, bytes).with_context(|| format!("{}", path.display()))
}

fn print_validation(fit: &Fit) {
    let rows = validate::leave_one_out(fit);
    println!(
        "Leave-one-out: each figure predicted from all the others ({} figures).\n",
        fit.observations.len()
    );
    print!("{}", validate::markdown(&rows));
    println!(
        "\nA figure whose backend has no other figure on its family borrows the backend's \
         efficiency on other families (generation); prompt and encoder figures need the \
         device's own prompt figures or the family's compute efficiency and the catalog's peak \
         compute, else they count as not predicted."
    );
}

fn check_claims(catalog: &Catalog, fit: &Fit, args: &[String]) -> anyhow::Result<ExitCode> {
    let mut claims: Vec<Claim> = Vec::new();
    for a in args {
        let path = std::path::Path::new(a);
        if path.is_file() {
            claims.extend(claims::parse_file(path).map_err(anyhow::Error::msg)?);
        } else {
            claims.push(claims::parse(a, "--check").map_err(anyhow::Error::msg)?);
        }
    }
    let mut impossible = 0;
    for c in claims {
        let spec = claims::find_device(&c.device).map_err(|e| anyhow::anyhow!("{}: {e}", c.at))?;
        let work = Work::resolve(catalog, &c.model, &c.quant)
            .with_context(|| format!("{}: {} {}", c.at, c.model, c.quant))?;
        if work.is_whisper() {
            bail!(
                "{}: claims are generation t/s of an LLM; {} is Whisper",
                c.at,
                c.model
            );
        }
        let device = observe::device(spec);
        let at = c.at.clone();
        let Some(v) = claims::check(c, device, work.bytes_per_token(), fit) else {
            println!(
                "{at}: {} has no peak bandwidth in the catalog: cannot check",
                spec.name
            );
            continue;
        };
        if v.impossible {
            impossible += 1;
        }
        println!("{}\n", v.explain());
    }
    if impossible > 0 {
        println!("{impossible} claim(s) exceed the physical ceiling.");
        Ok(ExitCode::from(1))
    } else {
        println!("Every claim is within the physical ceiling.");
        Ok(ExitCode::SUCCESS)
    }
}
