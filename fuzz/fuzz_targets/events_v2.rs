//! `intake::parse_events_v2` and `intake::routing_key` on any body: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = warroom::intake::parse_events_v2(data) {
        assert!(!e.field.is_empty() && !e.message.is_empty());
    }
    let _ = warroom::intake::routing_key(data);
});
