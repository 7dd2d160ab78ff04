//! `intake::parse_pagerduty_v3` (and the signature check) on any body: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = warroom::intake::parse_pagerduty_v3(data) {
        assert!(!e.field.is_empty() && !e.message.is_empty());
    }
    // The body as its own signature header: a malformed header is refused, not a panic.
    let header = String::from_utf8_lossy(data);
    let _ = warroom::intake::verify_pagerduty_signature(b"secret", data, Some(&header));
});
