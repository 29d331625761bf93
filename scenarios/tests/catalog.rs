use edgebench_scenarios::{Catalog, CatalogError, Quant};

#[test]
fn builtin_catalog_parses_and_validates() {
    let c = Catalog::builtin();
    assert!(c.models.len() >= 8);
    for m in &c.models {
        m.validate().unwrap();
        assert!(m.source.starts_with("https://"), "{}", m.name);
    }
    for base in ["llama3-8b", "phi3-mini", "gemma-2b", "gemma-7b"] {
        let full = c.model(base).unwrap();
        let tiny = c.model(&format!("{base}-tiny")).unwrap();
        assert!(!full.tiny && tiny.tiny);
        assert_eq!(full.arch, tiny.arch);
        assert_eq!(full.tied_embeddings, tiny.tied_embeddings);
        assert_eq!(
            full.heads / full.kv_heads,
            tiny.heads / tiny.kv_heads,
            "{base} GQA ratio"
        );
        assert!((2..=4).contains(&tiny.layers));
        assert_eq!(tiny.hidden_size, 256);
    }
}

#[test]
fn published_parameter_counts() {
    let c = Catalog::builtin();
    for (name, published) in [
        ("llama3-8b", 8.03e9),
        ("phi3-mini", 3.82e9),
        ("gemma-2b", 2.51e9),
        ("gemma-7b", 8.54e9),
        ("llama2-7b", 6.74e9),
        ("llama2-13b", 13.02e9),
        ("llama3.2-3b", 3.21e9),
    ] {
        let n = c.model(name).unwrap().parameter_count() as f64;
        let rel = (n - published).abs() / published;
        assert!(rel < 0.005, "{name}: {n} vs {published}");
    }
}

#[test]
fn workloads_and_suites_resolve() {
    let c = Catalog::builtin();
    let w = c.workload("pp512+tg128").unwrap();
    assert_eq!((w.prompt, w.gen), (512, 128));
    assert_eq!(c.workload("pp4096").unwrap().prompt, 4096);
    assert_eq!(c.workload("tg16").unwrap().gen, 16);
    for s in &c.suites {
        for m in &s.models {
            c.model(m).unwrap();
        }
        for w in &s.workloads {
            c.workload(w).unwrap();
        }
        assert!(!s.quants.is_empty());
    }
    let quick = c.suite("quick").unwrap();
    assert_eq!(quick.quants, vec![Quant::Q4KM]);
    // The quick suite trades precision for time (±5%); the standard one keeps the defaults.
    assert_eq!(
        (quick.ci_percent, quick.max_reps, quick.max_time_s),
        (Some(5.0), Some(10), Some(20.0))
    );
    assert_eq!(c.suite("standard").unwrap().ci_percent, None);
    let standard = c.suite("standard").unwrap();
    assert_eq!(standard.models.len(), 4);
    assert_eq!(standard.quants.len(), 5);
    let tiny = c.suite("tiny").unwrap();
    assert_eq!(tiny.quants, Quant::ALL.to_vec());
    assert!(tiny.models.iter().all(|m| c.model(m).unwrap().tiny));
}

#[test]
fn whisper_sizes() {
    let c = Catalog::builtin();
    let get = |n: &str| c.whisper.iter().find(|w| w.name == n).unwrap();
    for (name, state, heads, layers) in [
        ("whisper-tiny", 384, 6, 4),
        ("whisper-base", 512, 8, 6),
        ("whisper-small", 768, 12, 12),
        ("whisper-medium", 1024, 16, 24),
    ] {
        for (n, vocab) in [(name.to_string(), 51865), (format!("{name}.en"), 51864)] {
            let w = get(&n);
            assert_eq!((w.n_mels, w.n_audio_ctx, w.n_text_ctx), (80, 1500, 448));
            assert_eq!(
                (w.n_audio_state, w.n_audio_head, w.n_audio_layer),
                (state, heads, layers)
            );
            assert_eq!(
                (w.n_text_state, w.n_text_head, w.n_text_layer),
                (state, heads, layers)
            );
            assert_eq!(w.n_vocab, vocab);
        }
    }
    assert!(get("whisper-tiny-test").tiny);
}

#[test]
fn unknown_names_list_known_ones() {
    let c = Catalog::builtin();
    match c.model("llama9") {
        Err(CatalogError::Unknown { name, known, .. }) => {
            assert_eq!(name, "llama9");
            assert!(known.contains(&"llama3-8b".to_string()));
        }
        other => panic!("{other:?}"),
    }
    let msg = c.workload("pp1").unwrap_err().to_string();
    assert!(msg.contains("pp512"), "{msg}");
    assert!(c.suite("nope").unwrap_err().to_string().contains("quick"));
    assert!(matches!(
        Quant::parse("q3_k"),
        Err(CatalogError::Unknown { .. })
    ));
    assert_eq!(Quant::parse("Q4_K_M").unwrap(), Quant::Q4KM);
}

#[test]
fn invalid_model_is_a_clear_error() {
    let bad = r#"
[[model]]
name = "x"
display_name = "X"
arch = "llama"
hidden_size = 300
layers = 1
heads = 1
kv_heads = 1
head_dim = 300
ffn_size = 512
vocab_size = 512
context_length = 64
rope_theta = 10000.0
rms_norm_eps = 1e-5
source = "test"
"#;
    let e = Catalog::parse("x.toml", bad).unwrap_err().to_string();
    assert!(e.contains("multiples of 256"), "{e}");
}
