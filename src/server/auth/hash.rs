//! Tokens as the feed handles them: made from the OS's randomness, kept only as SHA-256
//! hashes, and compared in constant time so a wrong guess learns nothing from the timing.

use sha2::{Digest, Sha256};

pub(super) type Hash = [u8; 32];

pub(super) fn sha256(token: &str) -> Hash {
    Sha256::digest(token.as_bytes()).into()
}

/// Compares without stopping at the first differing byte.
pub(in crate::server) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A fresh token: 244 random bits (two v4 UUIDs, from the OS's CSPRNG), hex, `wr_` first.
pub fn new_token() -> String {
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    format!(
        "wr_{}{}",
        hex::encode(a.as_bytes()),
        hex::encode(b.as_bytes())
    )
}
