//! Reports derived from the state: the post-mortem export, metrics and the handoff briefing.
//! Pure: state in, text or data out. `format` is how every screen, report and command
//! writes durations, times, names and text from the feed.

pub mod export;
pub mod format;
pub mod handoff;
pub mod metrics;
