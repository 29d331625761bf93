//! candle target (in progress)
