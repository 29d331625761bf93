//! genai_config.json as published for Phi-3-mini-4k-instruct-onnx (CPU int4 folder).

use edgebench_scenarios::onnx::genai_config::{GenaiConfig, GenaiModel};
use std::path::Path;

const FOLDER: &str = "tests/fixtures/phi3-mini-4k-instruct-cpu-int4-rtn-block-32-acc-level-4";

#[test]
fn phi3_mini_4k_config_resolves_names_and_shapes() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join(FOLDER);
    let path = folder.join("genai_config.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let m = GenaiConfig::parse(&path, &text)
        .unwrap()
        .resolve(&folder)
        .unwrap();
    assert_eq!(m.model_type, "phi3");
    assert_eq!(
        m.model_path,
        folder.join("phi3-mini-4k-instruct-cpu-int4-rtn-block-32-acc-level-4.onnx")
    );
    assert_eq!((m.layers, m.heads, m.kv_heads), (32, 32, 32));
    assert_eq!(
        (m.head_size, m.hidden_size, m.vocab_size),
        (96, 3072, 32064)
    );
    assert_eq!((m.context_length, m.max_length), (4096, 4096));
    assert!(m.past_present_share_buffer);
    assert_eq!(m.input_ids, "input_ids");
    assert_eq!(m.attention_mask.as_deref(), Some("attention_mask"));
    assert_eq!(m.position_ids, None);
    assert_eq!(m.logits, "logits");
    assert_eq!(m.past.len(), 32);
    assert_eq!(
        m.past[31],
        (
            "past_key_values.31.key".into(),
            "past_key_values.31.value".into()
        )
    );
    assert_eq!(
        m.present[0],
        ("present.0.key".into(), "present.0.value".into())
    );

    // The folder holds only the config: opening it names the missing model file.
    let e = GenaiModel::open(&folder).unwrap_err().to_string();
    assert!(
        e.contains("phi3-mini-4k-instruct-cpu-int4-rtn-block-32-acc-level-4.onnx: missing"),
        "{e}"
    );
}

#[test]
fn bad_configs_name_the_file_and_field() {
    let path = Path::new("x/genai_config.json");
    let e = GenaiConfig::parse(path, "{\"model\": {}}")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("x/genai_config.json: not a valid GenAI config"),
        "{e}"
    );
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(FOLDER)
            .join("genai_config.json"),
    )
    .unwrap()
    .replace("past_key_values.%d.key", "past_key_values.key");
    let e = GenaiConfig::parse(path, &text)
        .unwrap()
        .resolve(Path::new("x"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("decoder.inputs.past_key_names") && e.contains("%d"),
        "{e}"
    );
}
