//! Reports derived from the state: the post-mortem export, metrics and the handoff briefing. Pure: state in, text or data out.

pub mod export;
pub mod format;
pub mod handoff;
pub mod metrics;
