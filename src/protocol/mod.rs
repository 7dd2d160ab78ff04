//! Protocol v2: the JSON text frames exchanged over the `/feed` WebSocket. Documented for
//! other implementers in `docs/protocol.md`; change both together.
//!
//! v2 (over v1): a join carries the live work (the board), not the history; an incident's
//! timeline comes in pages when asked (`query` → `result`); the archive, exports and metrics
//! are queries answered by the feed. No frame passes [`HARD_FRAME_BYTES`] either way.
//!
//! The parts: `client` (the frames a client sends), `query` (queries and their results),
//! `server` (the frames the server sends), `error` (error codes and command answers),
//! `decode` (reading a client's frame, with errors that name what is wrong).

mod client;
mod decode;
mod error;
mod query;
mod server;

pub use client::ClientMessage;
pub use decode::{decode_client, parse_json};
pub use error::{Answer, DecodeError, ErrorCode, not_allowed};
pub use query::{Query, QueryResult, Search};
pub use server::{Access, Presence, ServerMessage, SyncMode, encode};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 2;
/// Largest frame the server reads and answers with an error instead of processing (bytes).
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Largest frame the transport accepts at all; a larger one closes the connection (1009).
pub const HARD_FRAME_BYTES: usize = 1024 * 1024;
/// Longest client-generated command id.
pub const MAX_COMMAND_ID: usize = 128;
/// Deepest nesting of arrays and objects in JSON a client sends (a frame, a webhook body):
/// `{}` is one level, `{"a":[1]}` two. Deeper input is refused before it is parsed.
pub const MAX_JSON_DEPTH: usize = 128;
