//! Which execution provider ran each node, from ONNX Runtime's profiling trace.
//!
//! ONNX Runtime assigns each node to a provider when the session is created and silently falls
//! back to the CPU for nodes an accelerator cannot run. The profiler (Chrome trace format, one
//! `"cat": "Node"` event per kernel run with `args.provider`) is the runtime's own record of
//! that assignment, so the target profiles one probe run per session and stores the counts.

use std::collections::BTreeMap;

/// Distinct nodes per provider, from the JSON of one profiling file.
pub fn nodes_per_provider(trace: &str) -> Result<BTreeMap<String, usize>, String> {
    let events: serde_json::Value =
        serde_json::from_str(trace).map_err(|e| format!("unreadable profile: {e}"))?;
    let events = events
        .as_array()
        .ok_or_else(|| "unreadable profile: not a list of events".to_string())?;
    let mut nodes: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for e in events {
        if e.get("cat").and_then(|c| c.as_str()) != Some("Node") {
            continue;
        }
        let (Some(name), Some(provider)) = (
            e.get("name").and_then(|n| n.as_str()),
            e.pointer("/args/provider").and_then(|p| p.as_str()),
        ) else {
            continue;
        };
        let node = name
            .trim_end_matches("_kernel_time")
            .trim_end_matches("_fence_before")
            .trim_end_matches("_fence_after");
        nodes
            .entry(provider.to_string())
            .or_default()
            .insert(node.to_string());
    }
    Ok(nodes.into_iter().map(|(p, n)| (p, n.len())).collect())
}

/// `CPUExecutionProvider: 42 nodes, CUDAExecutionProvider: 310 nodes`.
pub fn describe(counts: &BTreeMap<String, usize>) -> String {
    counts
        .iter()
        .map(|(p, n)| format!("{p}: {n} nodes"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_nodes_once_per_provider() {
        let trace = r#"[
          {"cat":"Session","name":"model_run","args":{}},
          {"cat":"Node","name":"/lm_head/MatMul_Q4_fence_before","args":{"op_name":"MatMulNBits"}},
          {"cat":"Node","name":"/lm_head/MatMul_Q4_kernel_time","args":{"op_name":"MatMulNBits","provider":"CPUExecutionProvider"}},
          {"cat":"Node","name":"/lm_head/MatMul_Q4_kernel_time","args":{"op_name":"MatMulNBits","provider":"CPUExecutionProvider"}},
          {"cat":"Node","name":"/model/layers.0/attn/GroupQueryAttention_kernel_time","args":{"provider":"CUDAExecutionProvider"}}
        ]"#;
        let counts = nodes_per_provider(trace).unwrap();
        assert_eq!(counts["CPUExecutionProvider"], 1);
        assert_eq!(counts["CUDAExecutionProvider"], 1);
        assert_eq!(
            describe(&counts),
            "CPUExecutionProvider: 1 nodes, CUDAExecutionProvider: 1 nodes"
        );
        assert!(nodes_per_provider("{").is_err());
    }
}
