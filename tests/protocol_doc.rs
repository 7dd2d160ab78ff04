//! Keeps `docs/protocol.md` true: every ```json block in it must decode as what its fence
//! line says it is, the transcripts' frames must decode in their direction, and every command
//! `op`, event `kind`, client and server message `type` and error `code` must have an example.
//!
//! Fence tags (the word after `json`):
//! - `client`: a frame a client sends; must pass `protocol::decode_client`.
//! - `server`: a frame the server sends; must deserialize as `protocol::ServerMessage` and
//!   re-encode to exactly the same JSON (so the example shows every field the server sends).
//! - `command`: a bare command object; must deserialize as `model::Command`.
//! - `event`: a bare event object; must deserialize as `model::Event` and re-encode exactly.
//! - `other`: only checked to be valid JSON (the `/healthz` body, for instance).
//!
//! A ```text block whose fence line says `transcript` has frames on lines starting with `→`
//! (client to server) and `←` (server to client); each one that starts with `{` is checked
//! like a `client` or `server` block.

use std::collections::BTreeSet;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use warroom::model::{Command, Event};
use warroom::protocol::{ErrorCode, ServerMessage, decode_client};

/// Every `op` of `model::Command`.
const OPS: &[&str] = &[
    "declare",
    "retitle",
    "set_severity",
    "set_status",
    "assign_role",
    "release_role",
    "add_entry",
    "correct_entry",
    "pin_entry",
    "set_milestone",
    "acknowledge",
    "resolve",
    "check_runbook_step",
    "edit_postmortem",
    "set_whys",
    "add_action_item",
    "update_action_item",
    "waive_postmortem",
    "accept_handoff",
    "restrict",
    "add_member",
    "remove_member",
];

/// Every `kind` of `model::EventKind`.
const EVENT_KINDS: &[&str] = &[
    "declared",
    "retitled",
    "severity_changed",
    "status_changed",
    "role_assigned",
    "role_released",
    "entry_added",
    "entry_corrected",
    "entry_pinned",
    "milestone_set",
    "acknowledged",
    "resolved",
    "escalation_started",
    "step_fired",
    "notification_result",
    "ack_expired",
    "alert_received",
    "cadence_set",
    "runbook_attached",
    "runbook_step_checked",
    "postmortem_edited",
    "whys_set",
    "action_item_added",
    "action_item_updated",
    "postmortem_waived",
    "restricted",
    "member_added",
    "member_removed",
    "withheld",
];

/// Every `type` of `protocol::ServerMessage`.
const SERVER_TYPES: &[&str] = &[
    "welcome", "policy", "snapshot", "event", "synced", "ok", "error", "presence",
];

/// Every `type` of `protocol::ClientMessage`.
const CLIENT_TYPES: &[&str] = &["hello", "command", "focus"];

/// Every `protocol::ErrorCode`.
const ERROR_CODES: &[&str] = &[
    "invalid",
    "not_found",
    "conflict",
    "bad_frame",
    "unknown_type",
    "missing_field",
    "frame_too_large",
    "expected_hello",
    "unauthorized",
    "forbidden",
    "unsupported_protocol",
    "unavailable",
    "rate_limited",
];

const DOC: &str = "docs/protocol.md";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Client,
    Server,
    Command,
    Event,
    Other,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Kind::Client => "client",
            Kind::Server => "server",
            Kind::Command => "command",
            Kind::Event => "event",
            Kind::Other => "other",
        }
    }
}

struct Block {
    /// 1-based line number of the opening fence.
    line: usize,
    kind: Kind,
    text: String,
}

/// What the examples showed, for the coverage checks.
#[derive(Default)]
struct Seen {
    ops: BTreeSet<String>,
    kinds: BTreeSet<String>,
    server_types: BTreeSet<String>,
    client_types: BTreeSet<String>,
    error_codes: BTreeSet<String>,
}

fn read_doc() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Splits the document into its fenced blocks: `(line of the fence, info string, body)`.
fn fenced_blocks(doc: &str) -> Result<Vec<(usize, String, String)>, String> {
    let mut out = Vec::new();
    let mut open: Option<(usize, String, String)> = None;
    for (i, line) in doc.lines().enumerate() {
        let n = i + 1;
        let trimmed = line.trim_start();
        match &mut open {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    open = Some((n, info.trim().to_string(), String::new()));
                }
            }
            Some((_, _, body)) => {
                if trimmed.trim_end() == "```" {
                    if let Some(block) = open.take() {
                        out.push(block);
                    }
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
            }
        }
    }
    match open {
        Some((n, _, _)) => Err(format!("{DOC}:{n}: code block is never closed")),
        None => Ok(out),
    }
}

fn json_blocks(blocks: &[(usize, String, String)], failures: &mut Vec<String>) -> Vec<Block> {
    let mut out = Vec::new();
    for (line, info, body) in blocks {
        let mut words = info.split_whitespace();
        if words.next() != Some("json") {
            continue;
        }
        let tag: Vec<&str> = words.collect();
        let kind = match tag.as_slice() {
            ["client"] => Kind::Client,
            ["server"] => Kind::Server,
            ["command"] => Kind::Command,
            ["event"] => Kind::Event,
            ["other"] => Kind::Other,
            _ => {
                failures.push(format!(
                    "{DOC}:{line}: ```json block tagged {:?}; say what it is: \
                     ```json client|server|command|event|other",
                    tag.join(" ")
                ));
                continue;
            }
        };
        out.push(Block {
            line: *line,
            kind,
            text: body.clone(),
        });
    }
    out
}

/// Decodes `text` as `T` and checks that encoding it again gives the same JSON value.
fn exact<T: DeserializeOwned + Serialize>(text: &str, value: &Value) -> Result<(), String> {
    let decoded: T = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let again = serde_json::to_value(&decoded).map_err(|e| e.to_string())?;
    let mut diffs = Vec::new();
    diff(value, &again, "", true, &mut diffs);
    if !diffs.is_empty() {
        return Err(format!(
            "decodes, but is not what the server sends: {}",
            diffs.join("; ")
        ));
    }
    Ok(())
}

/// Checks that every field of `doc` appears with the same value in `encoded` (which may hold
/// more: defaults the example left out).
fn subset(doc: &Value, encoded: &Value) -> Result<(), String> {
    let mut diffs = Vec::new();
    diff(doc, encoded, "", false, &mut diffs);
    if !diffs.is_empty() {
        return Err(format!("decodes, but {}", diffs.join("; ")));
    }
    Ok(())
}

/// Describes how `doc` (the example) differs from `encoded` (what the code makes of it).
/// With `both_ways`, fields the encoding has and the example lacks count too.
fn diff(doc: &Value, encoded: &Value, path: &str, both_ways: bool, out: &mut Vec<String>) {
    match (doc, encoded) {
        (Value::Object(d), Value::Object(e)) => {
            for (k, v) in d {
                let p = format!("{path}.{k}");
                match e.get(k) {
                    Some(ev) => diff(v, ev, &p, both_ways, out),
                    None => out.push(format!("{p} is not a field the code knows (misspelt?)")),
                }
            }
            if both_ways {
                for (k, v) in e {
                    if !d.contains_key(k) {
                        out.push(format!("{path}.{k} is missing (the server sends {v})"));
                    }
                }
            }
        }
        (Value::Array(d), Value::Array(e)) if d.len() == e.len() => {
            for (i, (dv, ev)) in d.iter().zip(e).enumerate() {
                diff(dv, ev, &format!("{path}[{i}]"), both_ways, out);
            }
        }
        _ if doc == encoded => {}
        _ => out.push(format!(
            "{} is {doc} here but {encoded} in canonical form",
            if path.is_empty() { "the value" } else { path }
        )),
    }
}

fn note_event(event: &Value, seen: &mut Seen) {
    if let Some(k) = event.get("kind").and_then(Value::as_str) {
        seen.kinds.insert(k.to_string());
    }
}

fn note_command(command: &Value, seen: &mut Seen) {
    if let Some(op) = command.get("op").and_then(Value::as_str) {
        seen.ops.insert(op.to_string());
    }
}

fn check_client(text: &str, value: &Value, seen: &mut Seen) -> Result<(), String> {
    let msg = decode_client(text.trim())
        .map_err(|e| format!("decode_client refuses it: {} ({:?})", e.message, e.code))?;
    let encoded = serde_json::to_value(&msg).map_err(|e| e.to_string())?;
    subset(value, &encoded)?;
    if let Some(t) = value.get("type").and_then(Value::as_str) {
        seen.client_types.insert(t.to_string());
    }
    if let Some(c) = value.get("command") {
        note_command(c, seen);
    }
    Ok(())
}

fn check_server(text: &str, value: &Value, seen: &mut Seen) -> Result<(), String> {
    exact::<ServerMessage>(text, value)?;
    if let Some(t) = value.get("type").and_then(Value::as_str) {
        seen.server_types.insert(t.to_string());
    }
    if let Some(e) = value.get("event") {
        note_event(e, seen);
    }
    if let Some(c) = value.get("code").and_then(Value::as_str) {
        seen.error_codes.insert(c.to_string());
    }
    Ok(())
}

fn check_block(b: &Block, seen: &mut Seen) -> Result<(), String> {
    let value: Value = serde_json::from_str(&b.text).map_err(|e| format!("not valid JSON: {e}"))?;
    match b.kind {
        Kind::Client => check_client(&b.text, &value, seen),
        Kind::Server => check_server(&b.text, &value, seen),
        Kind::Command => {
            let cmd: Command = serde_json::from_str(&b.text)
                .map_err(|e| format!("does not decode as a command: {e}"))?;
            let encoded = serde_json::to_value(&cmd).map_err(|e| e.to_string())?;
            subset(&value, &encoded)?;
            note_command(&value, seen);
            Ok(())
        }
        Kind::Event => {
            exact::<Event>(&b.text, &value)
                .map_err(|e| format!("does not decode as an event: {e}"))?;
            note_event(&value, seen);
            Ok(())
        }
        Kind::Other => Ok(()),
    }
}

/// Checks the `→` / `←` lines of a transcript block.
fn check_transcript(line: usize, body: &str, seen: &mut Seen, failures: &mut Vec<String>) {
    for (i, l) in body.lines().enumerate() {
        let n = line + 1 + i;
        let l = l.trim();
        let (client, rest) = if let Some(r) = l.strip_prefix('→') {
            (true, r.trim())
        } else if let Some(r) = l.strip_prefix('←') {
            (false, r.trim())
        } else {
            continue;
        };
        if !rest.starts_with('{') {
            continue; // a remark such as "← (the connection closes: 1008)"
        }
        let result = serde_json::from_str::<Value>(rest)
            .map_err(|e| format!("not valid JSON: {e}"))
            .and_then(|v| {
                if client {
                    check_client(rest, &v, seen)
                } else {
                    check_server(rest, &v, seen)
                }
            });
        if let Err(e) = result {
            let dir = if client { "client" } else { "server" };
            failures.push(format!("{DOC}:{n}: transcript {dir} frame: {e}"));
        }
    }
}

/// The variant names serde lists when asked for one that does not exist.
fn variants_of(error: String) -> BTreeSet<String> {
    // "unknown variant `x`, expected one of `a`, `b`, …" (or "expected `a` or `b`").
    let after = error
        .split_once(", expected ")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    after
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_lists_below_match_the_source() {
    let ops = serde_json::from_str::<Command>(r#"{"op":"no_such_op"}"#)
        .err()
        .map(|e| variants_of(e.to_string()))
        .unwrap_or_default();
    assert_eq!(ops, names(OPS), "Command ops changed: update OPS and {DOC}");

    let kinds = serde_json::from_str::<Event>(
        r#"{"seq":1,"at":"2025-01-01T00:00:00Z","actor":"a","kind":"no_such_kind"}"#,
    )
    .err()
    .map(|e| variants_of(e.to_string()))
    .unwrap_or_default();
    assert_eq!(
        kinds,
        names(EVENT_KINDS),
        "event kinds changed: update EVENT_KINDS and {DOC}"
    );

    let types = serde_json::from_str::<ServerMessage>(r#"{"type":"no_such_type"}"#)
        .err()
        .map(|e| variants_of(e.to_string()))
        .unwrap_or_default();
    assert_eq!(
        types,
        names(SERVER_TYPES),
        "server message types changed: update SERVER_TYPES and {DOC}"
    );

    let client = decode_client(r#"{"type":"no_such_type"}"#)
        .err()
        .map(|e| e.message)
        .unwrap_or_default();
    for t in CLIENT_TYPES {
        assert!(
            client.contains(&format!("\"{t}\"")),
            "client message types changed ({client}): update CLIENT_TYPES and {DOC}"
        );
    }

    let codes = serde_json::from_str::<ErrorCode>(r#""no_such_code""#)
        .err()
        .map(|e| variants_of(e.to_string()))
        .unwrap_or_default();
    assert_eq!(
        codes,
        names(ERROR_CODES),
        "error codes changed: update ERROR_CODES and {DOC}"
    );
}

#[test]
fn every_json_example_in_the_protocol_doc_decodes_as_what_it_says() {
    let doc = read_doc();
    let mut failures = Vec::new();
    let blocks = match fenced_blocks(&doc) {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };
    let json = json_blocks(&blocks, &mut failures);
    assert!(
        json.len() >= 30,
        "{DOC} has only {} ```json blocks; did the fences change?",
        json.len()
    );
    let mut seen = Seen::default();
    for b in &json {
        if let Err(e) = check_block(b, &mut seen) {
            failures.push(format!(
                "{DOC}:{}: ```json {} block: {e}",
                b.line,
                b.kind.tag()
            ));
        }
    }
    let mut transcripts = 0;
    for (line, info, body) in &blocks {
        if info.split_whitespace().any(|w| w == "transcript") {
            transcripts += 1;
            check_transcript(*line, body, &mut seen, &mut failures);
        }
    }
    if transcripts == 0 {
        failures.push(format!("{DOC}: no ```text transcript block"));
    }

    let missing = |what: &str, all: &[&str], got: &BTreeSet<String>, failures: &mut Vec<String>| {
        let absent: Vec<&str> = all.iter().copied().filter(|x| !got.contains(*x)).collect();
        if !absent.is_empty() {
            failures.push(format!(
                "{DOC}: no example shows {what} {}",
                absent.join(", ")
            ));
        }
    };
    missing("the command op(s)", OPS, &seen.ops, &mut failures);
    missing("the event kind(s)", EVENT_KINDS, &seen.kinds, &mut failures);
    missing(
        "the server message type(s)",
        SERVER_TYPES,
        &seen.server_types,
        &mut failures,
    );
    missing(
        "the client message type(s)",
        CLIENT_TYPES,
        &seen.client_types,
        &mut failures,
    );
    missing(
        "an error frame with the code(s)",
        ERROR_CODES,
        &seen.error_codes,
        &mut failures,
    );
    for code in ERROR_CODES {
        if !doc.contains(&format!("| `{code}` |")) {
            failures.push(format!(
                "{DOC}: the error code `{code}` has no row in the error code table"
            ));
        }
    }

    assert!(
        failures.is_empty(),
        "{} problem(s) in {DOC}:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn the_checker_catches_wrong_examples() {
    let doc = "text\n```json server\n{\"type\":\"synced\",\"seq\":1}\n```\n\n```json client\n{\"type\":\"command\",\"command\":{\"op\":\"resolve\",\"incident\":\"INC-1\"}}\n```\n```json\n{}\n```\n";
    let blocks = fenced_blocks(doc).expect("closed blocks");
    let mut failures = Vec::new();
    let json = json_blocks(&blocks, &mut failures);
    assert_eq!(
        failures.len(),
        1,
        "an untagged block is reported: {failures:?}"
    );
    assert!(failures[0].contains(":9:"), "{}", failures[0]);
    let mut seen = Seen::default();
    assert_eq!(json[0].line, 2);
    assert!(check_block(&json[0], &mut seen).is_ok());
    let e = check_block(&json[1], &mut seen).expect_err("a command without an id");
    assert!(e.contains("missing field `id`"), "{e}");

    // A misspelt optional field decodes (the server's frames are lenient) but does not
    // re-encode the same.
    let b = Block {
        line: 1,
        kind: Kind::Server,
        text: r#"{"type":"ok","id":"c1","seqs":[1],"incidnet":"INC-1"}"#.into(),
    };
    assert!(check_block(&b, &mut seen).is_err());
    // A non-canonical value in a client frame.
    let b = Block {
        line: 1,
        kind: Kind::Client,
        text: r#"{"type":"focus","incident":"inc-1"}"#.into(),
    };
    let e = check_block(&b, &mut seen).expect_err("non-canonical reference");
    assert!(e.contains("canonical"), "{e}");
    assert!(fenced_blocks("```json other\n{}\n").is_err());
}
