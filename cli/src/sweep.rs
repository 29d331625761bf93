//! Parameter sweeps as llama-bench runs them: every run parameter takes a comma list or a range
//! (`-t 1-4`, `-p 128,512`, `--opt batch=256-2048*2`), and a run measures every combination,
//! each a test with its own result row (the values recorded in `TestRecord.parameters.options`).
//! Backend options all take one path (`--opt KEY=VALUES`); llama-bench's flags are aliases
//! onto it ([`llama_bench_aliases`]).
//!
//! Everything here is pure: parsing what was typed and expanding it, no side effects.

use std::collections::BTreeMap;

/// A list of numbers as typed: `1,2,4`, `1-4` (1,2,3,4), `1-8+3` (1,4,7), `128-1024*2`
/// (128,256,512,1024): llama-bench's `first[-last[(+|*)step]]`, comma-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numbers(pub Vec<usize>);

/// A comma list of words (`0,1`, `f16,q8_0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words(pub Vec<String>);

/// Parse a number list (see [`Numbers`]). Duplicates are dropped, order is kept.
pub fn numbers(s: &str) -> Result<Numbers, String> {
    const MAX: usize = 4096;
    let mut out: Vec<usize> = Vec::new();
    for part in s.split(',').map(str::trim) {
        let bad = || format!("'{part}' in '{s}' is not a number or a range like 1-4, 128-512*2");
        if part.is_empty() {
            return Err(format!("empty item in '{s}'"));
        }
        let num = |x: &str| x.trim().parse::<usize>().map_err(|_| bad());
        let (first, rest) = match part.split_once('-') {
            None => (num(part)?, None),
            Some((a, b)) => (num(a)?, Some(b)),
        };
        let Some(rest) = rest else {
            out.push(first);
            continue;
        };
        let (last, op, step) = match rest.find(['+', '*']) {
            None => (num(rest)?, '+', 1),
            Some(i) => (
                num(&rest[..i])?,
                rest.as_bytes()[i] as char,
                num(&rest[i + 1..])?,
            ),
        };
        if last < first {
            return Err(format!("range '{part}' ends before it starts"));
        }
        if (op == '+' && step == 0) || (op == '*' && (step < 2 || first == 0)) {
            return Err(format!("range '{part}' does not advance"));
        }
        let mut i = first;
        while i <= last {
            out.push(i);
            if out.len() > MAX {
                return Err(format!("'{s}' gives more than {MAX} values"));
            }
            i = if op == '+' { i + step } else { i * step };
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|v| seen.insert(*v));
    Ok(Numbers(out))
}

/// Parse a comma list of words (see [`Words`]). Duplicates are dropped, order is kept.
pub fn words(s: &str) -> Result<Words, String> {
    let mut out: Vec<String> = Vec::new();
    for part in s.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(format!("empty item in '{s}'"));
        }
        if !out.iter().any(|w| w == part) {
            out.push(part.to_string());
        }
    }
    Ok(Words(out))
}

/// All the values of repeated flags (`-t 1,2 -t 4`), in order, without duplicates.
pub fn flatten<T: Clone + PartialEq>(lists: impl IntoIterator<Item = Vec<T>>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for v in lists.into_iter().flatten() {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// One option swept over values: `("batch", ["256", "512"])`.
pub type Dimension = (String, Vec<String>);

/// Every combination of the dimensions' values, the first dimension varying slowest (as
/// llama-bench orders its tests). No dimensions give one empty combination.
pub fn combinations(dims: &[Dimension]) -> Vec<BTreeMap<String, String>> {
    let mut out = vec![BTreeMap::new()];
    for (key, values) in dims {
        if values.is_empty() {
            continue;
        }
        out = out
            .into_iter()
            .flat_map(|combo| {
                values.iter().map(move |v| {
                    let mut c = combo.clone();
                    c.insert(key.clone(), v.clone());
                    c
                })
            })
            .collect();
    }
    out
}

/// The combinations a target sees: only the options it reads (`accepted`), each distinct
/// combination once, in order. A target that reads none of the swept options runs once.
pub fn for_target(
    combos: &[BTreeMap<String, String>],
    accepted: &[&str],
) -> Vec<BTreeMap<String, String>> {
    let mut out: Vec<BTreeMap<String, String>> = Vec::new();
    for combo in combos {
        let kept: BTreeMap<String, String> = combo
            .iter()
            .filter(|(k, _)| accepted.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !out.contains(&kept) {
            out.push(kept);
        }
    }
    if out.is_empty() {
        out.push(BTreeMap::new());
    }
    out
}

/// Options as shown in the plan and test ids: `batch=256,ubatch=128`.
pub fn describe(options: &BTreeMap<String, String>) -> String {
    options
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Parse `--opt KEY=VALUE[,VALUE…]`: the key, then its values; a numeric range among them
/// (`256-2048*2`, see [`numbers`]) is expanded, anything else is kept as typed (`-1`, `auto`).
/// Whether a value is one the target takes is the target's to say (its description).
pub fn option_values(s: &str) -> Result<Dimension, String> {
    let (key, list) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not KEY=VALUE[,VALUE…] (e.g. batch=256,512)"))?;
    let key = key.trim();
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return Err(format!("'{key}' in '{s}' is not an option name"));
    }
    let mut values: Vec<String> = Vec::new();
    for item in words(list)?.0 {
        let expanded = match numbers(&item) {
            Ok(Numbers(ns)) if item.contains('-') => ns.iter().map(|n| n.to_string()).collect(),
            _ => vec![item],
        };
        for v in expanded {
            if !values.contains(&v) {
                values.push(v);
            }
        }
    }
    Ok((key.to_string(), values))
}

/// Repeated `--opt` flags as one dimension per key, in the order keys were first given.
pub fn merge_dimensions(given: &[Dimension]) -> Vec<Dimension> {
    let mut out: Vec<Dimension> = Vec::new();
    for (key, values) in given {
        match out.iter_mut().find(|(k, _)| k == key) {
            Some((_, vs)) => {
                for v in values {
                    if !vs.contains(v) {
                        vs.push(v.clone());
                    }
                }
            }
            None => out.push((key.clone(), values.clone())),
        }
    }
    out
}

/// llama-bench's flags (`-b 256`, `-fa 0,1`, `-ngl 99`…, also `--flash-attn=1`) as the one
/// generic option flag, `--opt KEY=VALUES`, and `-pg` as `--pg`: clap cannot declare
/// multi-letter short flags, and every backend option takes the same path to its target.
pub fn llama_bench_aliases<I: IntoIterator<Item = std::ffi::OsString>>(
    args: I,
) -> Vec<std::ffi::OsString> {
    /// Flag → option key.
    const OPTIONS: [(&str, &str); 14] = [
        ("-b", "batch"),
        ("--batch-size", "batch"),
        ("-ub", "ubatch"),
        ("--ubatch-size", "ubatch"),
        ("--ctx-size", "ctx"),
        ("-fa", "flash_attn"),
        ("--flash-attn", "flash_attn"),
        ("-ctk", "cache_type_k"),
        ("--cache-type-k", "cache_type_k"),
        ("-ctv", "cache_type_v"),
        ("--cache-type-v", "cache_type_v"),
        ("-ngl", "n_gpu_layers"),
        ("--n-gpu-layers", "n_gpu_layers"),
        ("--ep", "ep"),
    ];
    let mut out = Vec::new();
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy().into_owned();
        if text == "-pg" {
            out.push("--pg".into());
            continue;
        }
        let (flag, inline) = match text.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (text.clone(), None),
        };
        let Some((_, key)) = OPTIONS.iter().find(|(f, _)| *f == flag) else {
            out.push(arg);
            continue;
        };
        let value = match inline {
            Some(v) => Some(v),
            None => args.next().map(|v| v.to_string_lossy().into_owned()),
        };
        match value {
            Some(v) => {
                out.push("--opt".into());
                out.push(format!("{key}={v}").into());
            }
            None => out.push(arg),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Vec<usize> {
        numbers(s).unwrap().0
    }

    #[test]
    fn number_lists_and_ranges() {
        assert_eq!(n("512"), [512]);
        assert_eq!(n("128,512"), [128, 512]);
        assert_eq!(n("1-4"), [1, 2, 3, 4]);
        assert_eq!(n("1-8+3"), [1, 4, 7]);
        assert_eq!(n("128-1024*2"), [128, 256, 512, 1024]);
        assert_eq!(n("128-1000*2"), [128, 256, 512]);
        assert_eq!(n("2, 1-3 ,16"), [2, 1, 3, 16]);
        assert_eq!(n("4-4"), [4]);
    }

    #[test]
    fn bad_number_lists_say_what_is_wrong() {
        for (s, needle) in [
            ("", "empty item"),
            ("1,,2", "empty item"),
            ("x", "'x'"),
            ("1-", "'1-'"),
            ("4-1", "ends before it starts"),
            ("1-8+0", "does not advance"),
            ("1-8*1", "does not advance"),
            ("0-8*2", "does not advance"),
            ("1-100000", "more than 4096"),
            ("-1", "'-1'"),
        ] {
            let err = numbers(s).unwrap_err();
            assert!(err.contains(needle), "{s}: {err}");
        }
    }

    #[test]
    fn word_lists() {
        assert_eq!(words("f16, q8_0,f16").unwrap().0, ["f16", "q8_0"]);
        assert!(words("0,").is_err());
    }

    #[test]
    fn flatten_keeps_first_occurrences() {
        assert_eq!(flatten([vec![1, 2], vec![2, 4]]), [1, 2, 4]);
    }

    fn combo(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn dims(d: &[(&str, &[&str])]) -> Vec<Dimension> {
        d.iter()
            .map(|(k, vs)| (k.to_string(), vs.iter().map(|v| v.to_string()).collect()))
            .collect()
    }

    #[test]
    fn every_combination_once_first_dimension_slowest() {
        let c = combinations(&dims(&[
            ("batch", &["256", "512"]),
            ("flash_attn", &["0", "1"]),
            ("ubatch", &["128"]),
        ]));
        assert_eq!(
            c,
            [
                combo(&[("batch", "256"), ("flash_attn", "0"), ("ubatch", "128")]),
                combo(&[("batch", "256"), ("flash_attn", "1"), ("ubatch", "128")]),
                combo(&[("batch", "512"), ("flash_attn", "0"), ("ubatch", "128")]),
                combo(&[("batch", "512"), ("flash_attn", "1"), ("ubatch", "128")]),
            ]
        );
        assert_eq!(combinations(&[]), [BTreeMap::new()]);
        assert_eq!(
            combinations(&dims(&[("batch", &[])])),
            [BTreeMap::new()],
            "an empty dimension is no dimension"
        );
    }

    #[test]
    fn a_target_sees_only_the_options_it_reads() {
        let c = combinations(&dims(&[("batch", &["256", "512"]), ("device", &["cpu"])]));
        assert_eq!(
            for_target(&c, &["batch", "ubatch"]),
            [combo(&[("batch", "256")]), combo(&[("batch", "512")])]
        );
        assert_eq!(for_target(&c, &[]), [BTreeMap::new()]);
        assert_eq!(for_target(&[], &["batch"]), [BTreeMap::new()]);
    }

    #[test]
    fn llama_bench_flags_become_generic_options() {
        let args = [
            "edgebench",
            "run",
            "-ub",
            "128",
            "-ngl",
            "-1",
            "-fa",
            "0,1",
            "--batch-size=256",
            "-t",
            "2",
            "-pg",
            "8,4",
        ];
        let out = llama_bench_aliases(args.iter().map(std::ffi::OsString::from));
        assert_eq!(
            out,
            [
                "edgebench",
                "run",
                "--opt",
                "ubatch=128",
                "--opt",
                "n_gpu_layers=-1",
                "--opt",
                "flash_attn=0,1",
                "--opt",
                "batch=256",
                "-t",
                "2",
                "--pg",
                "8,4"
            ]
        );
        assert_eq!(
            describe(&combo(&[("ubatch", "128"), ("batch", "512")])),
            "batch=512,ubatch=128"
        );
    }

    #[test]
    fn option_values_expand_ranges_and_keep_words() {
        assert_eq!(
            option_values("batch=256-1024*2,64").unwrap(),
            (
                "batch".to_string(),
                vec!["256".into(), "512".into(), "1024".into(), "64".into()]
            )
        );
        assert_eq!(
            option_values("n_gpu_layers=-1,all").unwrap().1,
            ["-1", "all"]
        );
        assert!(option_values("batch").unwrap_err().contains("KEY=VALUE"));
        assert!(option_values("=1").is_err());
        assert!(option_values("batch=1,,2").is_err());
        let merged = merge_dimensions(&[
            option_values("fa=0").unwrap(),
            option_values("batch=8").unwrap(),
            option_values("fa=1,0").unwrap(),
        ]);
        assert_eq!(merged, dims(&[("fa", &["0", "1"]), ("batch", &["8"])]));
    }
}
