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
//!
//! Then the doc against a real feed on a loopback port: every field of every frame the feed
//! sends must be in the doc's field tables, and every field those tables list must be sent
//! (see `every_field_the_feed_sends_is_in_the_doc`); and behaviours the doc states in prose
//! (the command id, the nesting limit, close frames, the rate limit, reserved names, quoted
//! messages) are checked one by one.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use common::WAIT;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use warroom::clock::FakeClock;
use warroom::model::policy::Policy;
use warroom::model::{Command, Event};
use warroom::protocol::{ErrorCode, ServerMessage, decode_client};
use warroom::server::{Rules, RunningServer, ServerConfig, TokenTable};

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
    "set_service",
    "page",
    "resolve_checked",
    "complete_postmortem",
    "triage",
    "record_deploy",
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
    "service_changed",
    "paged",
    "page_acknowledged",
    "recovery_checked",
    "postmortem_completed",
    "triaged",
    "deploy_recorded",
    "alert_noted",
    "action_item_ticketed",
];

/// Every `type` of `protocol::ServerMessage`.
const SERVER_TYPES: &[&str] = &[
    "welcome", "policy", "snapshot", "incident", "result", "event", "synced", "ok", "error",
    "presence",
];

/// Every `type` of `protocol::ClientMessage`.
const CLIENT_TYPES: &[&str] = &["hello", "command", "focus", "query"];

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

// ---------------------------------------------------------------------------------------------
// The doc's field tables against the frames a real feed sends.
//
// The doc describes every object the feed sends with a table whose header is
// `| field | type | |`: one row per field, `name` in backticks, and a description that says
// "omitted" when the field may be left out (otherwise it is always present). A type with `→`
// (`object role → name`) is a map: its keys are data, not fields.
//
// `every_field_the_feed_sends_is_in_the_doc` drives a feed through a scenario that makes it
// send every frame type, event kind and optional field, collects every frame every connection
// received (and the `/healthz` body), and walks them against those tables: a field the feed
// sends that its table does not list fails, as does a field listed as always present that
// the feed left out, and a listed field the scenario never saw (the scenario must make the
// feed send it, or the doc must stop listing it). A new message or field in the protocol is
// one row in the doc, plus a line in `TABLES` / `NESTED` below when it is a new object.
// ---------------------------------------------------------------------------------------------

/// One row of a field table.
#[derive(Debug, Clone)]
struct FieldRow {
    name: String,
    ty: String,
    desc: String,
    line: usize,
}

impl FieldRow {
    /// The doc says when the feed leaves it out; otherwise it is always there.
    fn optional(&self) -> bool {
        self.desc.to_lowercase().contains("omitted")
    }

    /// `object K → V`: the keys are data (roles, names, milestones), not fields.
    fn is_map(&self) -> bool {
        self.ty.contains('→')
    }
}

/// A `| field | type | |` table of the doc.
#[derive(Debug, Clone)]
struct FieldTable {
    /// The headings above it, outermost first.
    path: Vec<String>,
    /// The paragraph right above it (joined into one line); empty when there is none.
    lead: String,
    line: usize,
    rows: Vec<FieldRow>,
}

impl FieldTable {
    fn heading(&self) -> &str {
        self.path.last().map(String::as_str).unwrap_or_default()
    }

    fn row(&self, name: &str) -> Option<&FieldRow> {
        self.rows.iter().find(|r| r.name == name)
    }

    fn place(&self) -> String {
        format!("{DOC}:{} (table under \"{}\")", self.line, self.heading())
    }
}

fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(|c| c.trim().to_string()).collect()
}

/// Every field table of the doc, outside code blocks.
fn field_tables(doc: &str) -> Result<Vec<FieldTable>, Vec<String>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut paragraph: Vec<String> = Vec::new();
    let mut last_paragraph = String::new();
    let mut in_code = false;
    let mut table: Option<FieldTable> = None;
    let mut in_other_table = false;
    for (i, line) in doc.lines().enumerate() {
        let n = i + 1;
        let t = line.trim();
        if t.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        if t.starts_with('|') {
            if let Some(tab) = &mut table {
                let c = cells(t);
                if c.iter().all(|c| c.chars().all(|ch| ch == '-' || ch == ':')) {
                    continue; // the separator
                }
                let name = c[0].strip_prefix('`').and_then(|s| s.strip_suffix('`'));
                match name {
                    Some(name)
                        if c.len() == 3
                            && !name.is_empty()
                            && name.starts_with(|ch: char| ch.is_ascii_lowercase())
                            && name.chars().all(|ch| {
                                ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'
                            }) =>
                    {
                        tab.rows.push(FieldRow {
                            name: name.to_string(),
                            ty: c[1].clone(),
                            desc: c[2].clone(),
                            line: n,
                        });
                    }
                    _ => errors.push(format!(
                        "{DOC}:{n}: a field table row must be | `name` | type | description |: {t}"
                    )),
                }
            } else if !in_other_table {
                if cells(t).first().map(String::as_str) == Some("field") {
                    table = Some(FieldTable {
                        path: path.iter().map(|(_, h)| h.clone()).collect(),
                        lead: std::mem::take(&mut last_paragraph),
                        line: n,
                        rows: Vec::new(),
                    });
                } else {
                    in_other_table = true;
                }
            }
            continue;
        }
        if let Some(tab) = table.take() {
            out.push(tab);
        }
        in_other_table = false;
        let hashes = t.chars().take_while(|c| *c == '#').count();
        if hashes > 0 && t[hashes..].starts_with(' ') {
            path.retain(|(level, _)| *level < hashes);
            path.push((hashes, t[hashes..].trim().to_string()));
            paragraph.clear();
            last_paragraph.clear();
        } else if t.is_empty() {
            if !paragraph.is_empty() {
                last_paragraph = paragraph.join(" ");
                paragraph.clear();
            }
        } else {
            paragraph.push(t.to_string());
            last_paragraph.clear();
        }
    }
    if let Some(tab) = table.take() {
        out.push(tab);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Where the doc describes each object the feed sends: this test's name for it, the heading
/// of the doc section its table is in, and how the paragraph above the table starts (empty:
/// the section's only field table). Each event kind's own fields are the first field table
/// in the section headed with the kind, under "Events"; the envelope is `event`.
const TABLES: &[(&str, &str, &str)] = &[
    ("healthz", "Transport", "`GET /healthz`"),
    ("welcome", "`welcome`", ""),
    ("policy", "`policy`", "What a client may read"),
    (
        "public policy",
        "`policy`",
        "The policy, as the feed pages by it",
    ),
    ("policy services", "`policy`", "Its services:"),
    ("escalation policy", "`policy`", "An escalation policy:"),
    ("policy step", "`policy`", "A policy step"),
    ("policy oncall", "`policy`", "Its on-call:"),
    ("schedule", "`policy`", "A schedule"),
    ("override", "`policy`", "An override:"),
    ("runbook name", "`policy`", "A runbook name:"),
    ("snapshot", "`snapshot`", ""),
    ("incident frame", "`incident`", ""),
    ("result", "`result`", "The answer to a"),
    ("result kind", "`result`", "A result, by its"),
    ("result incident", "The `incident` result", ""),
    ("result entries", "The `entries` result", ""),
    ("result incidents", "The `incidents` result", ""),
    ("result export", "The `export` result", ""),
    (
        "result metrics",
        "The `metrics` result",
        "The answer to `metrics`",
    ),
    ("metrics", "The `metrics` result", "The figures (schema"),
    ("result events", "The `events` result", ""),
    ("severity metrics", "The `metrics` result", "Per severity"),
    ("durations", "The `metrics` result", "One of MTTD"),
    (
        "targeted",
        "The `metrics` result",
        "Durations against a target",
    ),
    ("week", "The `metrics` result", "A week"),
    (
        "postmortem rates",
        "The `metrics` result",
        "Post-mortem completion",
    ),
    (
        "postmortem deadline",
        "The `metrics` result",
        "The post-mortem deadline",
    ),
    ("rate", "The `metrics` result", "A rate"),
    (
        "action item rate",
        "The `metrics` result",
        "Action-item completion",
    ),
    ("pages", "The `metrics` result", "Pages"),
    (
        "detection",
        "The `metrics` result",
        "Who found the incidents",
    ),
    ("event frame", "`event`", ""),
    ("synced", "`synced`", ""),
    ("ok", "`ok`", ""),
    ("error", "`error`", ""),
    ("presence", "`presence`", ""),
    ("presence entry", "Presence", ""),
    ("event", "Events", "An event is one JSON object"),
    ("plan", "`escalation_started`", "A plan:"),
    ("step", "`escalation_started`", "A step of a plan:"),
    ("runbook", "`runbook_attached`", "A runbook:"),
    (
        "runbook section",
        "`runbook_attached`",
        "A section of a runbook:",
    ),
    (
        "state",
        "The snapshot state",
        "`state` in a `snapshot` frame",
    ),
    ("incident", "The snapshot state", "An incident:"),
    ("tenure", "The snapshot state", "A tenure"),
    ("page on demand", "The snapshot state", "A page on demand"),
    ("postmortem", "The snapshot state", "A post-mortem:"),
    ("why", "The snapshot state", "A why"),
    ("action item", "The snapshot state", "An action item:"),
    ("ticket", "The snapshot state", "A ticket:"),
    ("entry", "The snapshot state", "An entry:"),
    ("briefing", "The snapshot state", "A briefing"),
    ("escalation run", "The snapshot state", "An escalation run:"),
    ("fired step", "The snapshot state", "A fired step:"),
    ("stop", "The snapshot state", "A stop:"),
    ("feed notes", "The snapshot state", "Feed notes:"),
    ("deploy", "The snapshot state", "A deploy:"),
    ("noted alert", "The snapshot state", "A noted alert"),
];

/// Which table describes the objects in a field: (table, field, table of its objects). For
/// an array, its elements; for a map, its values. An event kind's table is named by the kind
/// in backticks.
const NESTED: &[(&str, &str, &str)] = &[
    ("policy", "policy", "public policy"),
    ("public policy", "services", "policy services"),
    ("public policy", "escalation", "escalation policy"),
    ("escalation policy", "steps", "policy step"),
    ("public policy", "oncall", "policy oncall"),
    ("public policy", "schedules", "schedule"),
    ("schedule", "override", "override"),
    ("public policy", "runbooks", "runbook name"),
    ("snapshot", "state", "state"),
    ("incident frame", "incident", "incident"),
    ("result", "result", "result kind"),
    ("result incident", "incident", "incident"),
    ("result entries", "entries", "entry"),
    ("result incidents", "incidents", "incident"),
    ("result metrics", "metrics", "metrics"),
    ("result events", "events", "event"),
    ("metrics", "severities", "severity metrics"),
    ("severity metrics", "mttd", "durations"),
    ("severity metrics", "mtta", "durations"),
    ("severity metrics", "mttm", "durations"),
    ("severity metrics", "mttr", "durations"),
    ("severity metrics", "mttr_from_impact", "durations"),
    ("severity metrics", "mtta_target", "targeted"),
    ("targeted", "durations", "durations"),
    ("targeted", "within", "rate"),
    ("metrics", "mttd_critical", "targeted"),
    ("metrics", "weeks", "week"),
    ("metrics", "postmortems", "postmortem rates"),
    ("postmortem rates", "sev1", "rate"),
    ("postmortem rates", "sev2", "rate"),
    ("postmortem rates", "overall", "rate"),
    ("postmortem rates", "deadline", "postmortem deadline"),
    ("postmortem deadline", "rate", "rate"),
    ("metrics", "action_items", "action item rate"),
    ("action item rate", "rate", "rate"),
    ("metrics", "pages", "pages"),
    ("metrics", "detection", "detection"),
    ("detection", "customer_share", "rate"),
    ("detection", "monitoring_share", "rate"),
    ("event frame", "event", "event"),
    ("presence", "present", "presence entry"),
    ("state", "incidents", "incident"),
    ("state", "feed", "feed notes"),
    ("feed notes", "deploys", "deploy"),
    ("feed notes", "noted", "noted alert"),
    ("incident", "role_history", "tenure"),
    ("incident", "pages", "page on demand"),
    ("incident", "entries", "entry"),
    ("entry", "briefing", "briefing"),
    ("incident", "escalation", "escalation run"),
    ("incident", "runbook", "runbook"),
    ("incident", "postmortem", "postmortem"),
    ("postmortem", "whys", "why"),
    ("postmortem", "action_items", "action item"),
    ("action item", "ticket", "ticket"),
    ("escalation run", "plan", "plan"),
    ("escalation run", "fired", "fired step"),
    ("escalation run", "stopped", "stop"),
    ("plan", "steps", "step"),
    ("runbook", "sections", "runbook section"),
    ("`escalation_started`", "plan", "plan"),
    ("`runbook_attached`", "runbook", "runbook"),
    ("`whys_set`", "whys", "why"),
    ("`entry_added`", "briefing", "briefing"),
];

/// Frames by `type`: the table of each server message.
fn message_table(ty: &str) -> Option<&'static str> {
    Some(match ty {
        "welcome" => "welcome",
        "policy" => "policy",
        "snapshot" => "snapshot",
        "incident" => "incident frame",
        "result" => "result",
        "event" => "event frame",
        "synced" => "synced",
        "ok" => "ok",
        "error" => "error",
        "presence" => "presence",
        _ => return None,
    })
}

/// The doc's field tables by this test's names.
struct Schema {
    tables: std::collections::BTreeMap<String, FieldTable>,
}

impl Schema {
    fn from_doc(doc: &str) -> Result<Schema, Vec<String>> {
        let all = field_tables(doc)?;
        let mut errors = Vec::new();
        let mut tables = std::collections::BTreeMap::new();
        let mut bound = BTreeSet::new();
        for (name, heading, lead) in TABLES {
            let found: Vec<(usize, &FieldTable)> = all
                .iter()
                .enumerate()
                .filter(|(_, t)| t.heading() == *heading && t.lead.starts_with(lead))
                .collect();
            match found.as_slice() {
                [(i, t)] => {
                    bound.insert(*i);
                    tables.insert(name.to_string(), (*t).clone());
                }
                [] => errors.push(format!(
                    "{DOC}: no field table for {name}: expected one under the heading {heading} \
                     after a paragraph starting {lead:?}"
                )),
                many => errors.push(format!(
                    "{DOC}: {} field tables could be the one for {name} (under {heading}, after \
                     {lead:?}): lines {:?}",
                    many.len(),
                    many.iter().map(|(_, t)| t.line).collect::<Vec<_>>()
                )),
            }
        }
        for kind in EVENT_KINDS {
            let heading = format!("`{kind}`");
            let first = all
                .iter()
                .enumerate()
                .find(|(_, t)| t.heading() == heading && t.path.iter().any(|h| h == "Events"));
            if let Some((i, t)) = first {
                if !bound.contains(&i) {
                    bound.insert(i);
                    tables.insert(heading, t.clone());
                }
            } else if !doc.contains(&format!("### {heading}")) {
                errors.push(format!("{DOC}: no section ### {heading} under Events"));
            }
        }
        // Every table of what the feed sends is checked here: one this test does not know
        // of would describe fields nothing checks.
        for (i, t) in all.iter().enumerate() {
            let client_side = t
                .path
                .iter()
                .any(|h| h == "Client messages" || h == "Commands");
            if !client_side && !bound.contains(&i) {
                errors.push(format!(
                    "{}: a field table this test does not check: add it to TABLES (and NESTED) \
                     in tests/protocol_doc.rs",
                    t.place()
                ));
            }
        }
        if errors.is_empty() {
            Ok(Schema { tables })
        } else {
            Err(errors)
        }
    }

    fn table(&self, name: &str) -> &FieldTable {
        &self.tables[name]
    }
}

/// Walks frames against the schema, remembering what it saw and what did not match.
struct Walker<'a> {
    schema: &'a Schema,
    /// (table, field) pairs seen in some frame.
    seen: BTreeSet<(String, String)>,
    kinds: BTreeSet<String>,
    types: BTreeSet<String>,
    /// The `kind`s of query results seen.
    results: BTreeSet<String>,
    /// Problem → one place it showed (a problem is reported once, however often it shows).
    problems: std::collections::BTreeMap<String, String>,
}

impl<'a> Walker<'a> {
    fn new(schema: &'a Schema) -> Self {
        Walker {
            schema,
            seen: BTreeSet::new(),
            kinds: BTreeSet::new(),
            types: BTreeSet::new(),
            results: BTreeSet::new(),
            problems: Default::default(),
        }
    }

    fn problem(&mut self, what: String, at: &str) {
        self.problems.entry(what).or_insert_with(|| at.to_string());
    }

    /// A frame the feed sent on the WebSocket.
    fn frame(&mut self, frame: &Value) {
        let ty = frame.get("type").and_then(Value::as_str).unwrap_or("?");
        match message_table(ty) {
            Some(table) => {
                self.types.insert(ty.to_string());
                self.object(frame, &[table.to_string()], ty);
            }
            None => self.problem(
                format!("a frame of type {ty:?}, which the doc does not describe"),
                &frame.to_string(),
            ),
        }
    }

    /// An object described by `tables` together (an event: the envelope and its kind's).
    fn object(&mut self, v: &Value, tables: &[String], path: &str) {
        let Some(obj) = v.as_object() else {
            self.problem(
                format!(
                    "{} is described as an object, but the feed sent {v}",
                    tables[0]
                ),
                path,
            );
            return;
        };
        let mut tables = tables.to_vec();
        if tables == ["event"] {
            let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("?");
            self.kinds.insert(kind.to_string());
            let own = format!("`{kind}`");
            if self.schema.tables.contains_key(&own) {
                tables.push(own);
            }
        }
        // A query's answer: its `kind`'s own table.
        if tables == ["result kind"] {
            let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("?");
            self.results.insert(kind.to_string());
            let own = format!("result {kind}");
            if self.schema.tables.contains_key(&own) {
                tables.push(own);
            } else {
                self.problem(
                    format!("a result of kind {kind:?}, which the doc does not describe"),
                    path,
                );
            }
        }
        for (key, value) in obj {
            let owner = tables
                .iter()
                .find(|t| self.schema.table(t).row(key).is_some())
                .cloned();
            let Some(owner) = owner else {
                let t = self.schema.table(&tables[tables.len() - 1]);
                let shown: String = value.to_string().chars().take(60).collect();
                self.problem(
                    format!(
                        "the feed sends `{key}` in {} (e.g. {shown}), but {} does not list it",
                        tables.join(" + "),
                        t.place()
                    ),
                    path,
                );
                continue;
            };
            self.seen.insert((owner.clone(), key.clone()));
            let row = self.schema.table(&owner).row(key).cloned().expect("found");
            self.value(value, &owner, &row, &format!("{path}.{key}"));
        }
        for t in &tables {
            let table = self.schema.table(t);
            let missing: Vec<FieldRow> = table
                .rows
                .iter()
                .filter(|r| !r.optional() && !obj.contains_key(&r.name))
                .cloned()
                .collect();
            for r in missing {
                self.problem(
                    format!(
                        "{DOC}:{}: `{}` ({t}) is listed as always present (its description does \
                         not say when it is omitted), but the feed left it out",
                        r.line, r.name
                    ),
                    path,
                );
            }
        }
    }

    /// The value of a field: objects in it must have their own table.
    fn value(&mut self, v: &Value, owner: &str, row: &FieldRow, path: &str) {
        let nested = || {
            NESTED
                .iter()
                .find(|(t, f, _)| *t == owner && *f == row.name)
                .map(|(_, _, child)| child.to_string())
        };
        let inner = |w: &mut Self, v: &Value, path: &str| match v {
            Value::Object(_) => match nested() {
                Some(child) => w.object(v, &[child], path),
                None => w.problem(
                    format!(
                        "`{}` ({owner}) holds objects, and no table describes them: add one to \
                         the doc, and to NESTED in tests/protocol_doc.rs",
                        row.name
                    ),
                    path,
                ),
            },
            Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => w
                .problem(
                    format!(
                        "`{}` ({owner}) holds arrays of arrays of arrays or objects, which no \
                         table can describe",
                        row.name
                    ),
                    path,
                ),
            _ => {}
        };
        match v {
            Value::Object(map) if row.is_map() => {
                for (k, item) in map {
                    inner(self, item, &format!("{path}[{k:?}]"));
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    match item {
                        // Pairs such as `[channel, delivered]` are values, not objects.
                        Value::Array(pair) if pair.iter().all(|x| !x.is_object()) => {}
                        _ => inner(self, item, &format!("{path}[{i}]")),
                    }
                }
            }
            _ => inner(self, v, path),
        }
    }

    /// Rows of the walked tables no frame showed.
    fn never_seen(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, table) in &self.schema.tables {
            for r in &table.rows {
                if !self.seen.contains(&(name.clone(), r.name.clone())) {
                    out.push(format!(
                        "{DOC}:{}: `{}` ({name}) never appeared in what the feed sent during the \
                         test: make the scenario drive the feed to send it, or, if the feed \
                         never does, take it out of the doc",
                        r.line, r.name
                    ));
                }
            }
        }
        out
    }
}

#[test]
fn the_field_tables_of_the_doc_are_all_found() {
    let doc = read_doc();
    let schema = Schema::from_doc(&doc).unwrap_or_else(|e| panic!("{}", e.join("\n")));
    // Each event kind has its own section; all but four have fields.
    let without_fields: Vec<&str> = EVENT_KINDS
        .iter()
        .copied()
        .filter(|k| !schema.tables.contains_key(&format!("`{k}`")))
        .collect();
    assert_eq!(
        without_fields,
        [
            "acknowledged",
            "resolved",
            "withheld",
            "postmortem_completed"
        ]
    );
    assert!(
        schema
            .table("incident")
            .row("postmortem")
            .unwrap()
            .optional()
    );
    assert!(!schema.table("incident").row("roles").unwrap().optional());
    assert!(schema.table("incident").row("roles").unwrap().is_map());
}

#[test]
fn the_walker_catches_unlisted_and_missing_fields() {
    let doc = read_doc();
    let schema = Schema::from_doc(&doc).unwrap_or_else(|e| panic!("{}", e.join("\n")));
    let mut w = Walker::new(&schema);
    w.frame(&serde_json::json!({"type": "synced", "seq": 3}));
    assert!(w.problems.is_empty(), "{:?}", w.problems);
    w.frame(&serde_json::json!({"type": "synced", "seq": 3, "extra": 1}));
    w.frame(&serde_json::json!({"type": "ok", "seqs": [1]}));
    w.frame(&serde_json::json!({"type": "event", "event": {"seq": 1, "at": "x", "actor": "a", "kind": "retitled", "incident": "INC-1", "title": "t", "old_title": "u"}}));
    w.frame(&serde_json::json!({"type": "snapshot", "state": {"seq": 1, "incidents": [], "partial": true, "novel": {"a": 1}}}));
    let problems: Vec<&String> = w.problems.keys().collect();
    assert_eq!(problems.len(), 4, "{problems:#?}");
    assert!(problems.iter().any(|p| p.contains("`extra`")));
    assert!(problems.iter().any(|p| p.contains("`id` (ok)")));
    assert!(problems.iter().any(|p| p.contains("`old_title`")));
    assert!(problems.iter().any(|p| p.contains("`novel`")));
}

// ---------------------------------------------------------------------------------------------
// A real feed on a loopback port.
// ---------------------------------------------------------------------------------------------

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What came from the feed: a text frame, a close frame (its code and reason; `None`: an
/// empty one), or the end of the connection without a close frame.
#[derive(Debug)]
enum Got {
    Frame(Value),
    Closed(Option<(u16, String)>),
    Ended(String),
}

/// A connection that keeps every frame it received.
struct Conn {
    ws: Ws,
    name: String,
    next_id: u64,
    frames: Vec<Value>,
    /// The highest seq this connection holds (events, snapshots, synced).
    held: u64,
}

impl Conn {
    async fn connect(url: &str, name: &str) -> Conn {
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect timed out")
            .expect("connect failed");
        Conn {
            ws,
            name: name.to_string(),
            next_id: 0,
            frames: Vec::new(),
            held: 0,
        }
    }

    /// Connects, sends `hello` and reads up to `synced`.
    async fn open(url: &str, hello: Value) -> Conn {
        let name = hello["name"].as_str().unwrap_or("?").to_string();
        let mut c = Conn::connect(url, &name).await;
        c.send(&hello).await;
        c.until("synced", |f| f["type"] == "synced").await;
        c
    }

    async fn send(&mut self, v: &Value) {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    async fn got(&mut self) -> Got {
        loop {
            let next = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("{}: nothing from the feed within {WAIT:?}", self.name));
            match next {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    let seq = match v["type"].as_str() {
                        Some("event") => v["event"]["seq"].as_u64(),
                        Some("snapshot") => v["state"]["seq"].as_u64(),
                        Some("synced") => v["seq"].as_u64(),
                        _ => None,
                    };
                    self.held = self.held.max(seq.unwrap_or(0));
                    self.frames.push(v.clone());
                    return Got::Frame(v);
                }
                Some(Ok(Message::Close(c))) => {
                    return Got::Closed(c.map(|c| (u16::from(c.code), c.reason.to_string())));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Got::Ended(e.to_string()),
                None => return Got::Ended("the stream ended".into()),
            }
        }
    }

    /// Reads until a frame that `pred` accepts, and returns it.
    async fn until(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            match self.got().await {
                Got::Frame(f) if pred(&f) => return f,
                Got::Frame(_) => {}
                end => panic!("{}: {end:?} before {what}", self.name),
            }
        }
    }

    async fn command(&mut self, cmd: Value) -> Value {
        self.next_id += 1;
        let id = format!("{}-{}", self.name, self.next_id);
        self.send(&json!({"type": "command", "id": id, "command": cmd}))
            .await;
        self.until(&format!("the answer to {id}"), |f| {
            (f["type"] == "ok" || f["type"] == "error") && f["id"] == id
        })
        .await
    }

    /// Sends a query; returns its answers (a result, an export's parts, or an error).
    async fn query(&mut self, id: &str, q: Value) -> Vec<Value> {
        self.send(&json!({"type": "query", "id": id, "query": q}))
            .await;
        let mut out = Vec::new();
        loop {
            let f = self
                .until(&format!("the answer to {id}"), |f| f["id"] == id)
                .await;
            let done = f["type"] == "error"
                || f["result"]["kind"] != "export"
                || f["result"]["last"] == true;
            out.push(f);
            if done {
                return out;
            }
        }
    }

    /// Sends commands together, each of which must be accepted; returns the highest seq.
    async fn all_ok(&mut self, cmds: Vec<Value>) -> u64 {
        let mut ids = BTreeSet::new();
        for cmd in cmds {
            self.next_id += 1;
            let id = format!("{}-{}", self.name, self.next_id);
            self.send(&json!({"type": "command", "id": id, "command": cmd}))
                .await;
            ids.insert(id);
        }
        let mut head = 0;
        while !ids.is_empty() {
            let f = self
                .until("the answers", |f| f["type"] == "ok" || f["type"] == "error")
                .await;
            assert_eq!(f["type"], "ok", "{}: {f}", self.name);
            ids.remove(f["id"].as_str().unwrap());
            head = head.max(common::seqs(&f).into_iter().max().unwrap_or(0));
        }
        head
    }

    /// Sends a command that must be accepted; returns its seqs.
    async fn ok(&mut self, cmd: Value) -> Vec<u64> {
        let answer = self.command(cmd.clone()).await;
        assert_eq!(
            answer["type"], "ok",
            "{}: {cmd} was answered {answer}",
            self.name
        );
        common::seqs(&answer)
    }

    /// Reads until this connection holds `seq`.
    async fn caught_up(&mut self, seq: u64) {
        while self.held < seq {
            if let end @ (Got::Closed(_) | Got::Ended(_)) = self.got().await {
                panic!("{}: {end:?} before reaching {seq}", self.name);
            }
        }
    }

    /// Closes the connection and returns every frame it received.
    async fn finish(mut self) -> Vec<Value> {
        let _ = self.ws.close(None).await;
        while let Got::Frame(_) = self.got().await {}
        self.frames
    }
}

/// One HTTP/1.1 request on a fresh connection; the status and the body.
async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (mut rd, mut wr) = tcp.split();
    let mut got = Vec::new();
    let exchange = async {
        let _ = wr.write_all(request.as_bytes()).await;
        let _ = rd.read_to_end(&mut got).await;
    };
    tokio::time::timeout(WAIT, exchange)
        .await
        .expect("no HTTP answer");
    let text = String::from_utf8_lossy(&got).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    // The JSON object, were the body chunked.
    let body = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) if a < b => &body[a..=b],
        _ => body,
    };
    (status, body.to_string())
}

/// The doc as one line: quotes in prose may be broken across lines.
fn flat(doc: &str) -> String {
    doc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Panics unless the doc quotes `message` word for word.
fn doc_quotes(doc: &str, message: &str, what: &str) {
    assert!(
        flat(doc).contains(&flat(message)),
        "{DOC} should quote what the feed answers {what}, word for word: {message:?}"
    );
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap()
}

fn at(minutes: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::minutes(minutes)
}

/// A policy under which the scenario's feed does everything it can by itself: cadences,
/// runbooks, a run with a step that reaches someone with a channel, one whose target has
/// nobody (skipped, no `expected`), an acknowledgement timeout. It also has every part the
/// `policy` message can carry (SEV4's policy, the service map, the override and the
/// secondary change nobody's pages here).
const SCENARIO_POLICY: &str = r#"
[services]
critical = ["payments"]
high = ["search"]

[escalation.sev4]
steps = [{ after = "0m", ticket = "triage" }]
round = "1d"

[escalation.sev1]
steps = [
  { after = "0m", page = "oncall.primary" },
  { after = "5m", page = "nobody-yet" },
  { after = "10m", notify = "team-lead", business_hours = true },
]
ack_timeout = "10m"

[cadence]
sev1 = "15m"
sev3 = "60m"

[targets]
team-lead = "marco"
nobody-yet = "empty.primary"

[oncall]
default_schedule = "platform"
services = { search = "platform" }

[[schedule]]
name = "platform"
start = "2026-11-23"
primary = ["ana"]
secondary = ["ana"]

[[schedule.override]]
layer = "primary"
person = "ana"
from = "2026-11-26 00:00"
until = "2026-11-27 00:00"

[[schedule]]
name = "empty"
start = "2026-11-23"
primary = []
working_hours = "mon-fri 08:00-18:00"

[bridge]
sev1 = "https://meet.example.com/warroom-{incident}"

[stakeholders]
sev1 = ["ana"]

# Public updates are POSTed here (nothing listens: the delivery's outcome is recorded).
[status_page]
url = "http://127.0.0.1:9/status"

[[rule]]
outcome = "informational"
latency_p99_ms_gte = 5000
why = "p99 latency {latency_p99_ms} ms: informational only"

[people.ana]
channels = ["pager"]

[people.bob]
channels = ["pager"]

[channel.pager]
command = ["true"]
"#;

const ALICE: &str = "alice-token-0123456789abcdef";
const BOB: &str = "bob-token-0123456789abcdef01";
const CAROL: &str = "carol-token-0123456789abcdef";
const VERA: &str = "vera-token-0123456789abcdef0";

fn hello(name: &str, token: &str) -> Value {
    json!({"type": "hello", "protocol": 2, "name": name, "token": token})
}

fn kind_is(f: &Value, kind: &str) -> bool {
    f["type"] == "event" && f["event"]["kind"] == kind
}

/// An Alertmanager notification of one firing `SLOBurnRateHigh` alert.
fn slo_alert() -> Value {
    json!({
        "version": "4",
        "groupKey": "{}:{alertname=\"SLOBurnRateHigh\"}",
        "status": "firing",
        "receiver": "warroom",
        "groupLabels": {"alertname": "SLOBurnRateHigh"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "SLOBurnRateHigh", "service": "search", "burn_rate": "14.4", "burn_window": "5m"},
            "annotations": {"summary": "Search error budget burning 14.4x"},
            "startsAt": "2026-11-26T02:18:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": "5fd1a1b2c3d4e5f6"
        }]
    })
}

/// A PagerDuty v3 webhook about one incident.
fn pagerduty(event_type: &str, agent: Option<&str>) -> Value {
    json!({
        "event": {
            "id": format!("01DEN1HF5DPRNXXSOQ5T4JEH{}", event_type.len()),
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": "2026-11-26T02:19:00.000Z",
            "agent": agent.map(|a| json!({"id": "PLH1HKV", "summary": a, "type": "user_reference"})),
            "data": {
                "id": "PGR0VU2",
                "type": "incident",
                "number": 2,
                "status": if event_type == "incident.triggered" { "triggered" } else { "acknowledged" },
                "incident_key": "d3640fbd41094207a1c11e58e46b1662",
                "created_at": "2026-11-26T02:19:00Z",
                "title": "Login failures on auth",
                "service": {"id": "PF9KMXH", "summary": "auth", "type": "service_reference"},
                "priority": {"id": "PSO75BM", "summary": "P2", "type": "priority_reference"},
                "urgency": "high"
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_field_the_feed_sends_is_in_the_doc() {
    let doc = read_doc();
    let schema = Schema::from_doc(&doc).unwrap_or_else(|e| panic!("{}", e.join("\n")));

    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FakeClock::new(t0()));
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
    cfg.clock = clock.clone();
    // A tracker that opens every ticket it is sent.
    let (tracker, _) = common::hooks::receiver_answering(|_, body| {
        let r = format!("OPS-{}", body["item"]);
        let url = format!("https://tracker.example.com/browse/{r}");
        (
            axum::http::StatusCode::CREATED,
            json!({"reference": r, "url": url}).to_string(),
        )
    })
    .await;
    let policy = format!("{SCENARIO_POLICY}\n[tracker]\nurl = \"{tracker}\"\n");
    cfg.rules = Arc::new(Rules {
        policy: Policy::parse(&policy).unwrap_or_else(|e| panic!("{e:?}")),
        runbooks: warroom::server::default_rules().runbooks,
    });
    cfg.tick_every = Duration::from_secs(3600); // only the test's ticks move the engine
    cfg.limits.commands_per_second = 100_000;
    cfg.limits.command_burst = 100_000;
    cfg.tokens = Some(
        TokenTable::parse(&format!(
            "alice {ALICE} admin\nbob {BOB} responder\ncarol {CAROL} responder\nvera {VERA} viewer\n"
        ))
        .unwrap(),
    );
    let server = warroom::server::start(cfg).await.unwrap();
    let url = server.url();
    let mut alice = Conn::open(&url, hello("alice", ALICE)).await;
    let mut bob = Conn::open(&url, hello("bob", BOB)).await;
    let mut carol = Conn::open(&url, hello("carol", CAROL)).await;
    let mut vera = Conn::open(&url, hello("vera", VERA)).await;
    alice
        .send(&json!({"type": "focus", "incident": "INC-1"}))
        .await;

    // INC-1: the engine's cadence, runbook and escalation run, a page delivered by a
    // channel, a step skipped for want of anyone on call, an acknowledgement that lapses.
    alice
        .ok(json!({"op": "declare", "title": "Checkout returns 500s", "severity": 1, "service": "payments"}))
        .await;
    alice
        .until("the first page's delivery", |f| {
            kind_is(f, "notification_result")
        })
        .await;
    clock.set(at(5));
    server.tick().await.unwrap();
    clock.set(at(6));
    bob.ok(json!({"op": "acknowledge", "incident": "INC-1"}))
        .await;
    clock.set(at(17));
    server.tick().await.unwrap();
    alice
        .until("the second page's delivery", |f| {
            kind_is(f, "notification_result")
        })
        .await;

    // People work it, then write it up and close it.
    clock.set(at(18));
    let inc = |extra: Value| {
        let mut c = json!({"incident": "INC-1"});
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };
    alice
        .ok(inc(
            json!({"op": "retitle", "title": "Checkout 500s after deploy 4471"}),
        ))
        .await;
    alice
        .ok(inc(json!({"op": "triage", "detected_by": "customer", "impact_growing": true, "workaround": false})))
        .await;

    alice
        .ok(inc(
            json!({"op": "assign_role", "role": "incident_commander", "person": "me"}),
        ))
        .await;
    alice
        .ok(inc(
            json!({"op": "assign_role", "role": "tech_lead", "person": "bob"}),
        ))
        .await;
    alice
        .ok(inc(
            json!({"op": "assign_role", "role": "tech_lead", "person": "carol"}),
        ))
        .await;
    alice
        .ok(inc(json!({"op": "release_role", "role": "tech_lead"})))
        .await;
    let hypothesis = bob
        .ok(inc(json!({"op": "add_entry", "entry_kind": "hypothesis", "text": "Pool exhausted since deploy 4471"})))
        .await[0];
    let update = carol
        .ok(inc(json!({"op": "add_entry", "entry_kind": "status_update", "text": "Some customers cannot pay.", "next_update_secs": 600, "public": true, "briefing": {"impact": "some customers cannot pay", "eta": "an hour", "at_risk": "none"}})))
        .await[0];
    carol
        .ok(inc(json!({"op": "correct_entry", "entry": update, "text": "Some customers cannot pay; rollback under way."})))
        .await;
    bob.ok(inc(json!({"op": "pin_entry", "entry": hypothesis})))
        .await;
    alice
        .ok(inc(json!({"op": "set_milestone", "milestone": "impact_started", "occurred_at": "2026-11-26T01:52:00Z"})))
        .await;
    bob.ok(inc(json!({"op": "acknowledge"}))).await;
    // A page on demand, acknowledged by the person paged.
    alice
        .ok(inc(
            json!({"op": "page", "target": "bob", "message": "DB pool looks exhausted"}),
        ))
        .await;
    alice
        .until("the page's delivery", |f| kind_is(f, "notification_result"))
        .await;
    bob.ok(inc(json!({"op": "acknowledge"}))).await;
    bob.ok(inc(json!({"op": "set_status", "status": "identified"})))
        .await;
    bob.ok(inc(json!({"op": "check_runbook_step", "item": 1})))
        .await;
    // A runbook begun stays when the service changes.
    alice
        .ok(inc(json!({"op": "set_service", "service": "checkout-api"})))
        .await;
    alice
        .ok(inc(json!({"op": "set_severity", "severity": 2})))
        .await;
    alice
        .ok(inc(json!({"op": "resolve_checked", "verified": true})))
        .await;
    alice
        .ok(inc(json!({"op": "edit_postmortem", "section": "summary", "text": "Deploy 4471 halved the pool."})))
        .await;
    alice
        .ok(inc(json!({"op": "set_whys", "whys": [{"why": "Why 500s?", "because": "No connections left."}]})))
        .await;
    let item = alice
        .ok(inc(json!({"op": "add_action_item", "text": "Alert on pool use", "owner": "bob", "due": "2026-12-03"})))
        .await[0];
    let second = alice
        .ok(inc(
            json!({"op": "add_action_item", "text": "Load-test the pool", "owner": "me", "due": "2026-12-10"}),
        ))
        .await[0];
    // Both become tickets (the tracker's answers may come before the commands' own).
    for it in [item, second] {
        while !alice
            .frames
            .iter()
            .any(|f| kind_is(f, "action_item_ticketed") && f["event"]["item"] == it)
        {
            if let end @ (Got::Closed(_) | Got::Ended(_)) = alice.got().await {
                panic!("alice: {end:?} before item {it}'s ticket");
            }
        }
    }
    bob.ok(inc(
        json!({"op": "update_action_item", "item": item, "done": true}),
    ))
    .await;
    alice.ok(inc(json!({"op": "complete_postmortem"}))).await;
    alice
        .ok(inc(json!({"op": "set_status", "status": "closed"})))
        .await;

    // INC-2: restricted after it was declared; carol let in (a live snapshot) and out
    // again (withheld stand-ins); vera, a viewer and no member, gets stand-ins throughout.
    bob.ok(json!({"op": "declare", "title": "Odd admin logins", "severity": 3}))
        .await;
    bob.ok(json!({"op": "restrict", "incident": "INC-2"})).await;
    alice
        .ok(json!({"op": "add_member", "incident": "INC-2", "person": "carol"}))
        .await;
    carol
        .until("the snapshot that lets her in", |f| f["type"] == "snapshot")
        .await;
    bob.ok(json!({"op": "assign_role", "incident": "INC-2", "role": "scribe", "person": "carol"}))
        .await;
    let refused = bob
        .command(
            json!({"op": "assign_role", "incident": "INC-2", "role": "scribe", "person": "dave"}),
        )
        .await;
    assert_eq!(refused["code"], "conflict", "{refused}");
    alice
        .ok(json!({"op": "remove_member", "incident": "INC-2", "person": "carol"}))
        .await;
    bob.ok(json!({"op": "waive_postmortem", "incident": "INC-2", "reason": "a false alarm"}))
        .await;

    // INC-3 from Alertmanager, INC-4 from PagerDuty, acknowledged there by a person.
    clock.set(at(20));
    let (status, answer) = http(
        server.addr,
        "POST",
        "/webhook/alertmanager",
        &slo_alert().to_string(),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    for (event, agent) in [
        ("incident.triggered", None),
        ("incident.acknowledged", Some("Priya Raman")),
    ] {
        let body = pagerduty(event, agent).to_string();
        let (status, answer) = http(server.addr, "POST", "/webhook/pagerduty", &body).await;
        assert_eq!(status, 202, "{answer}");
    }
    // A deploy, and an alert the policy calls informational: feed-level events, in every
    // board from here on.
    bob.ok(
        json!({"op": "record_deploy", "service": "search", "version": "v88",
        "environment": "production", "note": "index rebuild"}),
    )
    .await;
    let slow = json!({"routing_key": "r", "event_action": "trigger", "dedup_key": "search-p99",
        "payload": {"summary": "Search p99 at 6s", "source": "prometheus", "severity": "warning",
            "custom_details": {"service": "search", "latency_p99_ms": 6000}}});
    let (status, answer) = http(server.addr, "POST", "/v2/enqueue", &slow.to_string()).await;
    assert_eq!(status, 202, "{answer}");
    assert!(answer.contains("informational"), "{answer}");
    // Shift change: carol takes over from bob (the `ok` names no incident).
    carol
        .ok(json!({"op": "accept_handoff", "from": "bob"}))
        .await;
    // A command id that is not a string: an error without `id`.
    bob.send(
        &json!({"type": "command", "id": 5, "command": {"op": "resolve", "incident": "INC-3"}}),
    )
    .await;
    bob.until("the answer to an id of the wrong type", |f| {
        f["type"] == "error" && f.get("id").is_none()
    })
    .await;

    // INC-5 to INC-8: long key entries, so the board no longer fits one frame (`more`) and
    // its summaries leave entries out (`elided`). Sent fifty at a time, everyone reading
    // along.
    let long = "x".repeat(3_990);
    let key_kinds = ["hypothesis", "decision", "ruled_out", "status_update"];
    for n in 5..=8 {
        alice
            .ok(json!({"op": "declare", "title": format!("Bulk import {n}"), "severity": 3}))
            .await;
        for chunk in 0..2 {
            let cmds = (0..50)
                .map(|i| {
                    json!({"op": "add_entry", "incident": format!("INC-{n}"),
                        "entry_kind": key_kinds[i % 4], "text": format!("{chunk}-{i} {long}")})
                })
                .collect();
            let head = alice.all_ok(cmds).await;
            for c in [&mut bob, &mut carol] {
                c.caught_up(head).await;
            }
            vera.caught_up(head).await;
        }
    }
    // INC-9, resolved: it leaves the live work a week later.
    alice
        .ok(json!({"op": "declare", "title": "Cache stampede", "severity": 3, "service": "search"}))
        .await;
    alice
        .ok(json!({"op": "resolve", "incident": "INC-9"}))
        .await;

    // Queries: a room and an older page of it, the archive, an export, the metrics; and
    // those a reader may not have, or that name nothing.
    alice
        .query("q-open", json!({"op": "open", "incident": "INC-1"}))
        .await;
    let page = alice
        .query(
            "q-timeline",
            json!({"op": "timeline", "incident": "INC-5", "before": 10_000, "limit": 3}),
        )
        .await;
    assert_eq!(page[0]["result"]["more"], true, "{}", page[0]);
    let found = alice
        .query(
            "q-search",
            json!({"op": "search", "text": "bulk", "limit": 1}),
        )
        .await;
    assert!(found[0]["result"].get("next").is_some(), "{}", found[0]);
    let parts = alice
        .query(
            "q-export",
            json!({"op": "export", "incident": "INC-1", "format": "md"}),
        )
        .await;
    assert_eq!(parts.last().unwrap()["result"]["last"], true);
    alice.query("q-metrics", json!({"op": "metrics"})).await;
    let withheld = vera
        .query(
            "q-withheld",
            json!({"op": "search", "before": "INC-3", "limit": 1}),
        )
        .await;
    assert_eq!(
        withheld[0]["result"]["withheld"],
        json!(["INC-2"]),
        "{}",
        withheld[0]
    );
    // The log from its start, as vera may have it (INC-2's events withheld), in pages.
    let log = vera
        .query("q-log", json!({"op": "log", "after": 0, "limit": 5}))
        .await;
    assert_eq!(log[0]["result"]["more"], true, "{}", log[0]);
    let log = vera
        .query("q-log-2", json!({"op": "log", "after": 5}))
        .await;
    let kinds: Vec<&str> = log[0]["result"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"withheld"), "{}", log[0]);
    let refused = vera
        .query("q-refused", json!({"op": "open", "incident": "INC-2"}))
        .await;
    assert_eq!(refused[0]["code"], "forbidden", "{}", refused[0]);
    doc_quotes(
        &doc,
        &refused[0]["message"]
            .as_str()
            .unwrap()
            .replace("INC-2", "INC-3"),
        "an open of a restricted incident (INC-3 in the doc)",
    );
    let missing = alice
        .query("q-missing", json!({"op": "open", "incident": "INC-99"}))
        .await;
    assert_eq!(missing[0]["code"], "not_found", "{}", missing[0]);

    // A week and a day later INC-1 and INC-9 are archived; a note brings INC-9 back, and
    // every reader gets it in an `incident` frame before the note.
    clock.set(at(20) + chrono::Duration::days(8));
    server.tick().await.unwrap();
    alice
        .ok(json!({"op": "add_entry", "incident": "INC-9", "text": "stampede again"}))
        .await;
    bob.until("INC-9 coming back", |f| f["type"] == "incident")
        .await;

    let (status, health) = http(server.addr, "GET", "/healthz", "").await;
    assert_eq!(status, 200, "{health}");
    let health: Value = serde_json::from_str(&health).unwrap();
    let head = health["seq"].as_u64().unwrap();

    // Everyone reads to the end; then fresh boards, and resumes (in events mode from a
    // recent position, as the board from 0, before INC-9 came back), as an admin
    // (everything) and as readers who may not see INC-2.
    let mut frames = Vec::new();
    for mut c in [alice, bob, carol, vera] {
        c.caught_up(head).await;
        frames.extend(c.finish().await);
    }
    for h in [
        hello("alice", ALICE),
        hello("carol", CAROL),
        json!({"type": "hello", "protocol": 2, "name": "alice", "token": ALICE, "last_seq": 0}),
        json!({"type": "hello", "protocol": 2, "name": "vera", "token": VERA, "last_seq": 0}),
        json!({"type": "hello", "protocol": 2, "name": "alice", "token": ALICE, "last_seq": head - 3}),
        json!({"type": "hello", "protocol": 2, "name": "vera", "token": VERA, "last_seq": head - 3}),
    ] {
        let c = Conn::open(&url, h).await;
        frames.extend(c.finish().await);
    }
    server.shutdown().await.unwrap();

    // A crowd on a feed of its own: over 40 people, so a presence frame names the first 40
    // and counts the rest (`others`).
    let crowd_dir = tempfile::tempdir().unwrap();
    let crowd_feed = warroom::server::start(ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        crowd_dir.path().to_path_buf(),
    ))
    .await
    .unwrap();
    let mut crowd = Vec::new();
    for i in 0..42 {
        let h = json!({"type": "hello", "protocol": 2, "name": format!("person-{i:02}")});
        crowd.push(Conn::open(&crowd_feed.url(), h).await);
    }
    crowd[0]
        .until("a presence counting others", |f| {
            f["type"] == "presence" && f["others"] == 2
        })
        .await;
    for c in crowd {
        frames.extend(c.finish().await);
    }
    crowd_feed.shutdown().await.unwrap();

    let mut walker = Walker::new(&schema);
    walker.object(&health, &["healthz".to_string()], "GET /healthz");
    for f in &frames {
        walker.frame(f);
    }
    let mut failures: Vec<String> = walker
        .problems
        .iter()
        .map(|(what, at)| format!("{what}\n    at {at}"))
        .collect();
    failures.extend(walker.never_seen());
    let missing: Vec<&str> = EVENT_KINDS
        .iter()
        .copied()
        .filter(|k| !walker.kinds.contains(*k))
        .collect();
    if !missing.is_empty() {
        failures.push(format!(
            "the scenario never made the feed send the event kind(s) {}: extend it, so that \
             their fields are checked too",
            missing.join(", ")
        ));
    }
    let missing: Vec<&str> = [
        "incident",
        "entries",
        "incidents",
        "export",
        "metrics",
        "events",
    ]
    .into_iter()
    .filter(|k| !walker.results.contains(*k))
    .collect();
    if !missing.is_empty() {
        failures.push(format!(
            "the scenario never made the feed answer a query with the result kind(s) {}",
            missing.join(", ")
        ));
    }
    let missing: Vec<&str> = SERVER_TYPES
        .iter()
        .copied()
        .filter(|t| !walker.types.contains(*t))
        .collect();
    if !missing.is_empty() {
        failures.push(format!(
            "the scenario never made the feed send the frame type(s) {}: extend it",
            missing.join(", ")
        ));
    }
    assert!(
        failures.is_empty(),
        "{} difference(s) between {DOC} and what the feed sent ({} frames):\n\n{}",
        failures.len(),
        frames.len(),
        failures.join("\n\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Behaviours the doc states, against the feed (issue 11, point 4).
// ---------------------------------------------------------------------------------------------

/// A feed without tokens, on a policy that adds no events of its own.
async fn plain_feed(dir: &std::path::Path) -> RunningServer {
    common::start_server(dir).await
}

/// A command whose `id` is there but not a string is `invalid` (it is not missing), and the
/// answer has no `id`; the doc quotes the message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_id_that_is_not_a_string_is_invalid_not_missing() {
    let doc = read_doc();
    let dir = tempfile::tempdir().unwrap();
    let server = plain_feed(dir.path()).await;
    let mut c = Conn::open(
        &server.url(),
        json!({"type": "hello", "protocol": 2, "name": "alice"}),
    )
    .await;
    for (id, kind) in [
        (json!(5), "a number"),
        (json!(null), "null"),
        (json!(true), "a boolean"),
        (json!([1]), "an array"),
        (json!({}), "an object"),
    ] {
        c.send(&json!({"type": "command", "id": id, "command": {"op": "acknowledge", "incident": "INC-1"}}))
            .await;
        let e = c
            .until("the answer", |f| f["type"] == "error" || f["type"] == "ok")
            .await;
        assert_eq!(e["code"], "invalid", "id {id}: {e}");
        assert!(e.get("id").is_none(), "id {id}: {e}");
        let message = e["message"].as_str().unwrap();
        assert_eq!(
            message,
            format!(
                "command id must be a string (1 to 128 bytes of printable characters), not {kind}"
            ),
            "id {id}"
        );
        if id == json!(5) {
            doc_quotes(&doc, message, "a command whose id is 5");
        }
    }
    // Without any id it is missing, as before.
    c.send(&json!({"type": "command", "command": {"op": "acknowledge", "incident": "INC-1"}}))
        .await;
    let e = c.until("the answer", |f| f["type"] == "error").await;
    assert_eq!(e["code"], "missing_field", "{e}");
    server.shutdown().await.unwrap();
}

/// `levels` nested arrays around `1`.
fn nested(levels: usize) -> String {
    format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
}

/// The doc's nesting limit is exact: 128 levels are JSON the feed reads, in a frame and in a
/// webhook body; 129 are refused, with the message the doc quotes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_nests_128_levels_and_not_129() {
    let doc = read_doc();
    let limit = warroom::protocol::MAX_JSON_DEPTH;
    assert_eq!(limit, 128);
    assert!(
        flat(&doc).contains(&format!(
            "| JSON nesting, in a frame or a webhook body | {limit} levels of arrays and objects"
        )),
        "{DOC}'s Limits table should give the nesting limit, {limit} levels"
    );
    let dir = tempfile::tempdir().unwrap();
    let server = plain_feed(dir.path()).await;
    let mut c = Conn::open(
        &server.url(),
        json!({"type": "hello", "protocol": 2, "name": "alice"}),
    )
    .await;
    // The frame's object is level 1 and the command level 2: a title nested 126 deep is at
    // level 128 (read, and refused as a title), 127 deep at 129 (not read).
    let frame = |title_levels: usize| {
        format!(
            r#"{{"type":"command","id":"deep","command":{{"op":"declare","severity":1,"title":{}}}}}"#,
            nested(title_levels)
        )
    };
    c.ws.send(Message::Text(frame(limit - 2).into()))
        .await
        .unwrap();
    let e = c.until("the answer", |f| f["type"] == "error").await;
    assert_eq!(
        (&e["code"], &e["id"]),
        (&json!("invalid"), &json!("deep")),
        "{e}"
    );
    c.ws.send(Message::Text(frame(limit - 1).into()))
        .await
        .unwrap();
    let e = c.until("the answer", |f| f["type"] == "error").await;
    assert_eq!(e["code"], "bad_frame", "{e}");
    assert!(e.get("id").is_none(), "{e}");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.starts_with("malformed JSON: nested deeper than 128 levels (arrays and objects)"),
        "{message}"
    );
    // The doc's example: 129 arrays.
    c.ws.send(Message::Text(nested(limit + 1).into()))
        .await
        .unwrap();
    let e = c.until("the answer", |f| f["type"] == "error").await;
    doc_quotes(&doc, e["message"].as_str().unwrap(), "129 nested arrays");
    c.ws.send(Message::Text(nested(limit).into()))
        .await
        .unwrap();
    let e = c.until("the answer", |f| f["type"] == "error").await;
    assert!(
        !e["message"].as_str().unwrap().contains("nested"),
        "128 levels are JSON, only not a frame: {e}"
    );

    // A webhook body: 128 levels are read (and refused for what they say), 129 are not read.
    for path in ["/webhook/alertmanager", "/webhook/pagerduty", "/v2/enqueue"] {
        let body = |levels: usize| {
            format!(
                r#"{{"version":"4","groupKey":"g","alerts":[{{"labels":{}}}]}}"#,
                nested(levels - 3)
            )
        };
        let (status, answer) = http(server.addr, "POST", path, &body(limit)).await;
        assert_eq!(status, 400, "{path}: {answer}");
        assert!(!answer.contains("nested deeper"), "{path}: {answer}");
        let (status, answer) = http(server.addr, "POST", path, &body(limit + 1)).await;
        assert_eq!(status, 400, "{path}: {answer}");
        assert!(
            answer.contains("nested deeper than 128 levels (arrays and objects)"),
            "{path}: {answer}"
        );
    }
    server.shutdown().await.unwrap();
}

/// RFC 6455 §5.5.1: a close frame is answered with a close frame (the client's code and
/// reason), before `hello` and after, and then the connection ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_frame_is_answered_with_a_close_frame() {
    let dir = tempfile::tempdir().unwrap();
    let server = plain_feed(dir.path()).await;
    /// A close frame's code and reason; `None`: an empty close frame.
    type Close = Option<(u16, &'static str)>;
    let cases: [(bool, Close, Close); 5] = [
        // (after hello, what the client sends, what the feed must answer)
        (true, Some((1000, "bye")), Some((1000, "bye"))),
        (true, None, None),
        (
            false,
            Some((4000, "changed my mind")),
            Some((4000, "changed my mind")),
        ),
        (true, Some((1001, "")), Some((1001, ""))),
        // 1005 may not be sent in a close frame: a protocol violation.
        (true, Some((1005, "")), Some((1002, "Protocol violation"))),
    ];
    for (joined, sent, expected) in cases {
        let mut c = if joined {
            Conn::open(
                &server.url(),
                json!({"type": "hello", "protocol": 2, "name": "alice"}),
            )
            .await
        } else {
            Conn::connect(&server.url(), "alice").await
        };
        let frame = sent.map(|(code, reason)| CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        });
        c.ws.send(Message::Close(frame)).await.unwrap();
        let answer = loop {
            match c.got().await {
                Got::Frame(_) => continue, // presence, sent before the close arrived
                Got::Closed(answer) => break answer,
                Got::Ended(e) => panic!(
                    "after hello: {joined}; sent {sent:?}: the connection ended without a \
                     close frame ({e})"
                ),
            }
        };
        let expected = expected.map(|(code, reason)| (code, reason.to_string()));
        assert_eq!(
            answer, expected,
            "after hello: {joined}; sent {sent:?}: the feed's close frame"
        );
        // Then the feed closes the connection.
        let end = tokio::time::timeout(WAIT, c.ws.next()).await.unwrap();
        assert!(
            end.is_none(),
            "sent {sent:?}: after the close frames, the stream should end: {end:?}"
        );
    }
    server.shutdown().await.unwrap();
}

/// Frames sent together are counted as the feed reads them: the first `burst` pass, then one
/// more per token the time spent on them brought back, and the others are refused. The doc's
/// section on the rate limit says so with the feed's numbers, and quotes the refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_sent_together_are_limited_as_the_doc_says() {
    let doc = read_doc();
    let limits = warroom::server::Limits::default();
    let (rate, burst) = (
        u128::from(limits.commands_per_second),
        limits.command_burst as usize,
    );
    let every_ms = 1000 / rate;
    for claim in [
        format!("Each connection has a bucket of {burst} tokens"),
        format!("{rate} a second (one every {every_ms} ms), up to {burst}"),
        format!(
            "the first {burst} pass; after them, one more passes for each {every_ms} ms the feed has spent on them so far"
        ),
    ] {
        assert!(
            flat(&doc).contains(&claim),
            "{DOC} (The rate limit) should say: {claim:?}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let server = plain_feed(dir.path()).await;
    let mut bob = Conn::open(
        &server.url(),
        json!({"type": "hello", "protocol": 2, "name": "bob"}),
    )
    .await;
    bob.ok(common::declare("Checkout 500s", 2)).await;
    // A fresh connection, its bucket full: 230 notes in one write.
    let mut alice = Conn::open(
        &server.url(),
        json!({"type": "hello", "protocol": 2, "name": "alice"}),
    )
    .await;
    let n = 230;
    let started = Instant::now();
    for i in 0..n {
        let frame = json!({"type": "command", "id": format!("n{i}"), "command": common::note("INC-1", &format!("note {i}"))});
        alice
            .ws
            .feed(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
    }
    alice.ws.flush().await.unwrap();
    let mut answers = std::collections::BTreeMap::new();
    while answers.len() < n {
        let f = alice
            .until("the answers", |f| f["type"] == "ok" || f["type"] == "error")
            .await;
        let id = f["id"].as_str().expect("every answer carries its id");
        let i: usize = id[1..].parse().unwrap();
        answers.insert(i, f);
    }
    let elapsed = started.elapsed();
    let passed = answers.values().filter(|a| a["type"] == "ok").count();
    for (i, a) in &answers {
        if *i < burst {
            assert_eq!(a["type"], "ok", "the first {burst} pass: {a}");
        } else if a["type"] != "ok" {
            assert_eq!(a["code"], "rate_limited", "the others are refused: {a}");
        }
    }
    // Tokens came back only while the feed was answering, which took less than `elapsed`.
    let most = burst + (elapsed.as_millis() / every_ms) as usize + 1;
    assert!(
        (burst..=most).contains(&passed),
        "{passed} passed; the doc says {burst}, plus one per {every_ms} ms of the {elapsed:?} \
         the feed took at most"
    );
    // On a machine slow enough that every note earned its token while the feed answered,
    // none is refused; otherwise the refusal says what the doc quotes.
    match answers.values().find(|a| a["type"] == "error") {
        Some(refused) => doc_quotes(
            &doc,
            refused["message"].as_str().unwrap(),
            "a command over the rate",
        ),
        None => assert!(
            most >= n,
            "230 at once in {elapsed:?}: some must be refused"
        ),
    }
    server.shutdown().await.unwrap();
}

/// Only a member can be given a role on a restricted incident; the doc quotes the refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_for_a_non_member_is_refused_as_the_doc_says() {
    let doc = read_doc();
    let dir = tempfile::tempdir().unwrap();
    let server = plain_feed(dir.path()).await;
    let mut alice = Conn::open(
        &server.url(),
        json!({"type": "hello", "protocol": 2, "name": "alice"}),
    )
    .await;
    alice.ok(common::declare("Checkout 500s", 2)).await;
    alice.ok(common::declare("Search slow", 3)).await;
    alice
        .ok(json!({"op": "declare", "title": "Access keys leaked", "severity": 1, "restricted": true}))
        .await;
    let e = alice
        .command(
            json!({"op": "assign_role", "incident": "INC-3", "role": "scribe", "person": "bob"}),
        )
        .await;
    assert_eq!(e["code"], "conflict", "{e}");
    doc_quotes(
        &doc,
        e["message"].as_str().unwrap(),
        "an assign_role to a non-member of a restricted incident",
    );
    // Once bob is a member, he may.
    alice
        .ok(json!({"op": "add_member", "incident": "INC-3", "person": "bob"}))
        .await;
    alice
        .ok(json!({"op": "assign_role", "incident": "INC-3", "role": "scribe", "person": "bob"}))
        .await;
    server.shutdown().await.unwrap();
}

/// The names of what the feed records by itself are reserved, as the `hello` table says, and
/// the doc says nothing else anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reserved_names_are_refused_as_the_doc_says() {
    let doc = read_doc();
    let tables = field_tables(&doc).unwrap_or_else(|e| panic!("{}", e.join("\n")));
    let name = tables
        .iter()
        .find(|t| t.heading() == "`hello`")
        .and_then(|t| t.row("name"))
        .expect("the hello table has a name row");
    for reserved in warroom::model::RESERVED_NAMES {
        assert!(
            name.desc.contains(&format!("`{reserved}`")),
            "{DOC}:{}: the hello name row should list `{reserved}` as reserved",
            name.line
        );
    }
    assert!(name.desc.contains("reserved"), "{}", name.desc);
    for denial in ["does not reserve", "not reserved"] {
        assert!(
            !flat(&doc).contains(denial),
            "{DOC} says the feed {denial:?} its own names, but it does"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let server = plain_feed(dir.path()).await;
    for who in ["warroom", "Alertmanager", "pagerduty", "EVENTS-API"] {
        let mut c = Conn::connect(&server.url(), who).await;
        c.send(&json!({"type": "hello", "protocol": 2, "name": who}))
            .await;
        let e = c.until("the answer", |f| f["type"] == "error").await;
        assert_eq!(e["code"], "invalid", "{who}: {e}");
        match c.got().await {
            Got::Closed(Some((1008, reason))) => assert_eq!(reason, "invalid hello", "{who}"),
            other => panic!("{who}: expected close 1008 invalid hello, got {other:?}"),
        }
    }
    // Any other name joins.
    Conn::open(
        &server.url(),
        json!({"type": "hello", "protocol": 2, "name": "warroom-fan"}),
    )
    .await
    .finish()
    .await;
    server.shutdown().await.unwrap();
}
