//! `intake::parse_alertmanager` on any body: alerts or an error naming a field, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = warroom::intake::parse_alertmanager(data) {
        assert!(!e.field.is_empty() && !e.message.is_empty());
    }
});
