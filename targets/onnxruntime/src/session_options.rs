//! The session options of a GenAI decoder session: one list, applied to the session builder and
//! reported in [`TargetInfo::extra`](edgebench_target_kit::target::TargetInfo) (`session_options`),
//! so a result says what ran and an option cannot silently vanish.
//!
//! They are what onnxruntime-genai sets on a CPU decoder session (`Model::CreateSessionOptions
//! FromConfig` in its `src/models/model.cpp`): the intra-op thread count (GenAI's default is
//! half the hardware threads, at most 16, unless genai_config.json sets
//! `intra_op_num_threads`; edgebench passes `-t`), and ONNX Runtime's defaults for everything
//! else: sequential execution, all graph optimizations, memory pattern and CPU arena on, no
//! thread affinity, and intra-op threads that spin while waiting for work. The spinning
//! defaults are written out as config entries so that they show in every result: on a machine
//! whose cores are busy with other work, spinning threads make every step wait for a
//! descheduled thread (measured on a loaded 2-vCPU machine, `-t 2`: about twice as slow as
//! `session.intra_op.allow_spinning=0`), and GenAI behaves the same way.

use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};

/// What edgebench sets on a decoder session; everything else is ONNX Runtime's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOptions {
    pub intra_op_threads: usize,
    pub inter_op_threads: usize,
    /// Session config entries (`AddSessionConfigEntry`), in the order they are applied.
    pub config_entries: Vec<(&'static str, &'static str)>,
}

impl SessionOptions {
    /// The options of a decoder session with `threads` intra-op threads (at least 1).
    pub fn decoder(threads: usize) -> Self {
        Self {
            intra_op_threads: threads.max(1),
            // Sequential execution (ONNX Runtime's and GenAI's): no inter-op pool runs nodes.
            inter_op_threads: 1,
            config_entries: vec![
                ("session.intra_op.allow_spinning", "1"),
                ("session.inter_op.allow_spinning", "1"),
            ],
        }
    }

    /// One line for results: `intra_op_num_threads=2, inter_op_num_threads=1, …`.
    pub fn describe(&self) -> String {
        let mut parts = vec![
            format!("intra_op_num_threads={}", self.intra_op_threads),
            format!("inter_op_num_threads={}", self.inter_op_threads),
            "graph_optimization_level=all".to_string(),
        ];
        parts.extend(self.config_entries.iter().map(|(k, v)| format!("{k}={v}")));
        parts.join(", ")
    }

    /// Set these options on `builder`; an error is ONNX Runtime's message.
    pub fn apply(&self, builder: SessionBuilder) -> Result<SessionBuilder, String> {
        let e = |e: ort::Error<SessionBuilder>| e.to_string();
        let mut b = builder
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(e)?
            .with_intra_threads(self.intra_op_threads)
            .map_err(e)?
            .with_inter_threads(self.inter_op_threads)
            .map_err(e)?;
        for (k, v) in &self.config_entries {
            b = b.with_config_entry(k, v).map_err(e)?;
        }
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_names_every_option() {
        let o = SessionOptions::decoder(0);
        assert_eq!(o.intra_op_threads, 1, "at least one thread");
        let d = SessionOptions::decoder(4).describe();
        assert!(d.starts_with("intra_op_num_threads=4, inter_op_num_threads=1, "));
        for (k, v) in &o.config_entries {
            assert!(d.contains(&format!("{k}={v}")), "{d}");
        }
    }
}
