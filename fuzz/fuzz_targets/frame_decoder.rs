//! `protocol::decode_client` on any text: it answers every frame with a message or a
//! `DecodeError`, never panics, and what it accepts survives a round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warroom::protocol::{MAX_FRAME_BYTES, decode_client};

fuzz_target!(|data: &[u8]| {
    // The transport hands the decoder only valid UTF-8 (anything else closes with 1007).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match decode_client(text) {
        Ok(msg) => {
            let again = serde_json::to_string(&msg).expect("a decoded frame encodes");
            if again.len() <= MAX_FRAME_BYTES {
                assert_eq!(
                    decode_client(&again).as_ref(),
                    Ok(&msg),
                    "re-decoding {again}"
                );
            }
        }
        Err(e) => assert!(!e.message.is_empty()),
    }
});
