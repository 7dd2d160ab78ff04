//! The fuzz targets' checks on stable Rust, for CI: every seed in `fuzz/corpus/<target>/` and a
//! few thousand deterministic mutations of them (fixed seeds) go through the frame decoder and
//! each webhook parser. Nothing may panic; errors must name what is wrong; a decoded frame
//! must survive a round trip. `cargo +nightly fuzz run …` explores much further (see
//! docs/fuzzing.md); an input it finds that fails belongs in the corpus.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use warroom::intake;
use warroom::protocol::{MAX_FRAME_BYTES, decode_client};

/// Mutations per target.
const MUTATIONS: usize = 3_000;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let seeds: Vec<_> = files
        .iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(p).unwrap(),
            )
        })
        .collect();
    assert!(seeds.len() >= 3, "{target}: a corpus of a few bodies");
    seeds
}

/// Bytes that matter to JSON and to the fields the parsers read.
const BYTES: &[u8] = b"{}[]\":,.-+0123456789eE\\ntfu \t\n\x00\x7f\xc3\xff";
/// Fragments that have broken JSON handling elsewhere.
const TOKENS: &[&str] = &[
    "null",
    "true",
    "[",
    "{",
    "]",
    "}",
    "\"",
    "\\u0000",
    "\"\\ud800\"",
    "1e999",
    "-0",
    "18446744073709551616",
    "-9223372036854775809",
    "0.000000000000000000000000001",
    "\"0001-01-01T00:00:00Z\"",
    "\"9999-12-31T23:59:59+14:00\"",
    "\"INC-18446744073709551615\"",
    "\"\u{202e}\u{200b}é\u{1F525}\"",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{}}}}}}",
];

fn mutate(rng: &mut fastrand::Rng, seed: &[u8], seeds: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..rng.usize(1..=4) {
        let at = rng.usize(0..=b.len());
        match rng.u8(0..8) {
            0 if !b.is_empty() => {
                let i = rng.usize(0..b.len());
                b[i] ^= 1 << rng.u8(0..8);
            }
            1 if !b.is_empty() => {
                let i = rng.usize(0..b.len());
                b[i] = BYTES[rng.usize(0..BYTES.len())];
            }
            2 => {
                let end = rng.usize(at..=b.len().min(at + 64));
                b.drain(at..end);
            }
            3 => {
                let end = rng.usize(at..=b.len().min(at + 64));
                let copy = b[at..end].to_vec();
                let to = rng.usize(0..=b.len());
                b.splice(to..to, copy);
            }
            4 => {
                let t = TOKENS[rng.usize(0..TOKENS.len())].as_bytes();
                b.splice(at..at, t.iter().copied());
            }
            5 => b.truncate(at),
            6 => {
                // Splice another seed's tail onto this one's head.
                let other = &seeds[rng.usize(0..seeds.len())].1;
                let from = rng.usize(0..=other.len());
                b.truncate(at);
                b.extend_from_slice(&other[from..]);
            }
            _ => {
                // Replace a string's contents with a token.
                let quotes: Vec<usize> = b
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c == b'"')
                    .map(|(i, _)| i)
                    .collect();
                if quotes.len() >= 2 {
                    let q = rng.usize(0..quotes.len() - 1);
                    let t = TOKENS[rng.usize(0..TOKENS.len())].as_bytes();
                    b.splice(quotes[q] + 1..quotes[q + 1], t.iter().copied());
                }
            }
        }
    }
    b
}

/// Runs `check` on every seed and on `MUTATIONS` mutations of them; a panic names the input.
/// Returns how many inputs `check` accepted.
fn run(target: &str, seed: u64, check: impl Fn(&[u8]) -> bool) -> usize {
    let seeds = corpus(target);
    let mut rng = fastrand::Rng::with_seed(seed);
    let inputs = seeds
        .iter()
        .map(|(name, b)| (name.clone(), b.clone()))
        .chain((0..MUTATIONS).map(|i| {
            let (name, b) = &seeds[rng.usize(0..seeds.len())];
            (
                format!("mutation {i} of {name}"),
                mutate(&mut rng, b, &seeds),
            )
        }));
    let mut accepted = 0;
    let mut accepted_seeds = 0;
    for (i, (name, input)) in inputs.enumerate() {
        match catch_unwind(AssertUnwindSafe(|| check(&input))) {
            Ok(true) => {
                accepted += 1;
                if i < seeds.len() {
                    accepted_seeds += 1;
                }
            }
            Ok(false) => {}
            Err(_) => panic!(
                "{target}: {name} panicked on {:?}",
                String::from_utf8_lossy(&input)
            ),
        }
    }
    assert!(accepted_seeds > 0, "{target}: no seed is accepted");
    accepted
}

#[test]
fn frame_decoder() {
    let accepted = run("frame_decoder", 0x5eed_0001, |data| {
        let Ok(text) = std::str::from_utf8(data) else {
            return false;
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
                true
            }
            Err(e) => {
                assert!(!e.message.is_empty());
                false
            }
        }
    });
    assert!(
        accepted > 100,
        "mutations still reach the decoder's far end: {accepted}"
    );
}

#[test]
fn alertmanager() {
    run(
        "alertmanager",
        0x5eed_0002,
        |data| match intake::parse_alertmanager(data) {
            Ok(_) => true,
            Err(e) => {
                assert!(!e.field.is_empty() && !e.message.is_empty(), "{e}");
                false
            }
        },
    );
}

#[test]
fn pagerduty_v3() {
    run("pagerduty_v3", 0x5eed_0003, |data| {
        let header = String::from_utf8_lossy(data);
        let _ = intake::verify_pagerduty_signature(b"secret", data, Some(&header));
        match intake::parse_pagerduty_v3(data) {
            Ok(_) => true,
            Err(e) => {
                assert!(!e.field.is_empty() && !e.message.is_empty(), "{e}");
                false
            }
        }
    });
}

#[test]
fn events_v2() {
    run("events_v2", 0x5eed_0004, |data| {
        let _ = intake::routing_key(data);
        match intake::parse_events_v2(data) {
            Ok(_) => true,
            Err(e) => {
                assert!(!e.field.is_empty() && !e.message.is_empty(), "{e}");
                false
            }
        }
    });
}
