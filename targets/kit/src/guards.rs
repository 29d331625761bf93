//! The checks every LLM target makes before handing tokens to its backend, written once: a
//! backend library given an empty batch, a token id past its vocabulary or more positions than
//! its context may crash, read out of bounds or silently wrap, so a target refuses them with
//! the same one-line errors and leaves its sequence as it was.

use crate::target::{TargetError, TargetResult};

/// A call of no tokens (`what`: `prefill`, `decoder call`).
pub fn nonempty(what: &str, tokens: &[u32]) -> TargetResult<()> {
    if tokens.is_empty() {
        return Err(TargetError::Backend(format!("{what} of zero tokens")));
    }
    Ok(())
}

/// A token id outside a vocabulary of `vocab` tokens.
pub fn in_vocabulary(tokens: &[u32], vocab: usize) -> TargetResult<()> {
    match tokens.iter().find(|&&t| t as usize >= vocab) {
        Some(bad) => Err(TargetError::Backend(format!(
            "token id {bad} is outside the vocabulary of {vocab}"
        ))),
        None => Ok(()),
    }
}

/// Appending `tokens` to a sequence of `pos` tokens, where `holder` (e.g. `candle's context
/// for /m/x.gguf`) holds `max_context`: checks the count, the context and the vocabulary and
/// returns the position after the append.
pub fn append(
    pos: usize,
    tokens: &[u32],
    max_context: usize,
    vocab: usize,
    holder: impl std::fmt::Display,
) -> TargetResult<usize> {
    let end = pos + tokens.len();
    if end > max_context {
        return Err(TargetError::Unsupported(format!(
            "sequence of {end} tokens: {holder} holds up to {max_context}"
        )));
    }
    in_vocabulary(tokens, vocab)?;
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_refuse_with_one_line_reasons() {
        let e = nonempty("prefill", &[]).unwrap_err().to_string();
        assert_eq!(e, "prefill of zero tokens");
        assert!(nonempty("prefill", &[1]).is_ok());
        let e = in_vocabulary(&[1, 32], 32).unwrap_err().to_string();
        assert_eq!(e, "token id 32 is outside the vocabulary of 32");
        assert_eq!(append(10, &[1, 2], 12, 32, "the context").unwrap(), 12);
        let e = append(10, &[1, 2, 3], 12, 32, "the context").unwrap_err();
        assert!(matches!(e, TargetError::Unsupported(_)));
        assert_eq!(
            e.to_string(),
            "not supported by this target: sequence of 13 tokens: the context holds up to 12"
        );
        assert!(matches!(
            append(0, &[99], 12, 32, "c"),
            Err(TargetError::Backend(_))
        ));
    }
}
