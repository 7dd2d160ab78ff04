//! Decoding a client's frame: the size limit, JSON no deeper than the limit, then the
//! fields, each refusal naming what is wrong (and the command's id when one could be read).

use super::{
    ClientMessage, DecodeError, ErrorCode, MAX_COMMAND_ID, MAX_FRAME_BYTES, MAX_JSON_DEPTH,
};

const CLIENT_TYPES: &[&str] = &["hello", "command", "focus", "query"];

/// Decodes one client text frame, naming precisely what is wrong when it cannot.
pub fn decode_client(text: &str) -> Result<ClientMessage, DecodeError> {
    let err = |id: Option<String>, code, message: String| DecodeError { id, code, message };
    if text.len() > MAX_FRAME_BYTES {
        return Err(err(
            None,
            ErrorCode::FrameTooLarge,
            format!(
                "frame is {} bytes; the limit is {MAX_FRAME_BYTES}",
                text.len()
            ),
        ));
    }
    let value = parse_json(text.as_bytes())
        .map_err(|e| err(None, ErrorCode::BadFrame, format!("malformed JSON: {e}")))?;
    let obj = value.as_object().ok_or_else(|| {
        err(
            None,
            ErrorCode::BadFrame,
            "a frame must be a JSON object with a \"type\" field".to_string(),
        )
    })?;
    let id = obj.get("id").and_then(|v| v.as_str()).map(str::to_string);
    // An `id` that is there but not a string can answer nothing: said as such, not as absent.
    let id_of_wrong_type = obj.get("id").filter(|v| !v.is_string()).map(json_kind);
    let ty = match obj.get("type") {
        None => {
            return Err(err(
                id,
                ErrorCode::MissingField,
                "missing field `type` (expected \"hello\", \"command\", \"focus\" or \"query\")"
                    .to_string(),
            ));
        }
        Some(serde_json::Value::String(t)) => t.clone(),
        Some(other) => {
            return Err(err(
                id,
                ErrorCode::BadFrame,
                format!("field `type` must be a string, got {other}"),
            ));
        }
    };
    if !CLIENT_TYPES.contains(&ty.as_str()) {
        return Err(err(
            id,
            ErrorCode::UnknownType,
            format!(
                "unknown message type '{ty}' (expected \"hello\", \"command\", \"focus\" or \"query\")"
            ),
        ));
    }
    // A command and a query are answered by their id: it must be one.
    if ty == "command" || ty == "query" {
        let what = ty.as_str();
        if !obj.contains_key(what) {
            return Err(err(
                id,
                ErrorCode::MissingField,
                format!("missing field `{what}`"),
            ));
        }
        if let Some(kind) = id_of_wrong_type {
            return Err(err(
                None,
                ErrorCode::Invalid,
                format!(
                    "{what} id must be a string (1 to {MAX_COMMAND_ID} bytes of printable \
                     characters), not {kind}"
                ),
            ));
        }
        match &id {
            None => {
                return Err(err(
                    None,
                    ErrorCode::MissingField,
                    format!("missing field `id`: every {what} needs a client-generated id"),
                ));
            }
            Some(i)
                if i.is_empty() || i.len() > MAX_COMMAND_ID || i.chars().any(char::is_control) =>
            {
                return Err(err(
                    None,
                    ErrorCode::Invalid,
                    format!(
                        "{what} id must be 1 to {MAX_COMMAND_ID} bytes of printable characters"
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    serde_json::from_value::<ClientMessage>(value).map_err(|e| {
        let msg = e.to_string();
        let code = if msg.starts_with("missing field") {
            ErrorCode::MissingField
        } else {
            ErrorCode::Invalid
        };
        let what = ty.as_str();
        err(id, code, format!("{what}: {msg}"))
    })
}

/// Parses JSON from a client, refusing input nested deeper than [`MAX_JSON_DEPTH`] with a
/// message that names the limit and where it was passed. (serde_json's own limit, which
/// this replaces, stops at 127 levels and says only "recursion limit exceeded".)
pub fn parse_json(text: &[u8]) -> Result<serde_json::Value, String> {
    if let Some(at) = deeper_than(text, MAX_JSON_DEPTH) {
        let before = &text[..at];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let column = at
            - before
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1)
            + 1;
        return Err(format!(
            "nested deeper than {MAX_JSON_DEPTH} levels (arrays and objects) at line {line} \
             column {column}"
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(text);
    // The scan above bounds how deep this parse can recurse.
    de.disable_recursion_limit();
    let value = serde::Deserialize::deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// The offset of the first `[` or `{` (outside strings) that opens level `max + 1`, if any.
/// On malformed input this may count more than a parser would reach, never fewer: the
/// parser stops at the first byte that does not fit, and up to there both read strings
/// and brackets the same way.
fn deeper_than(text: &[u8], max: usize) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, b) in text.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// "a number", "null", … for messages about a value of the wrong type.
fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_hello_and_command() {
        let m = decode_client(r#"{"type":"hello","name":"alice","last_seq":4}"#).unwrap();
        assert_eq!(
            m,
            ClientMessage::Hello {
                name: "alice".into(),
                token: None,
                last_seq: Some(4),
                feed_id: None,
                protocol: 1,
                watch: true,
            }
        );
        let m = decode_client(r#"{"type":"hello","name":"bot","protocol":2,"watch":false}"#);
        assert!(matches!(m, Ok(ClientMessage::Hello { watch: false, .. })));
        let m = decode_client(
            r#"{"type":"command","id":"c1","command":{"op":"declare","title":"db down","severity":1}}"#,
        )
        .unwrap();
        assert!(matches!(m, ClientMessage::Command { .. }));
    }

    #[test]
    fn names_what_is_wrong() {
        let e = decode_client("{nope").unwrap_err();
        assert_eq!(e.code, ErrorCode::BadFrame);
        assert!(e.message.starts_with("malformed JSON"), "{}", e.message);

        let e = decode_client(r#"{"type":"dance"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnknownType);
        assert!(e.message.contains("'dance'"));

        // An id that is there but not a string is not "missing".
        for (id, kind) in [
            ("5", "a number"),
            ("null", "null"),
            ("true", "a boolean"),
            ("[1]", "an array"),
            ("{}", "an object"),
        ] {
            let frame = format!(
                r#"{{"type":"command","id":{id},"command":{{"op":"resolve","incident":"INC-1"}}}}"#
            );
            let e = decode_client(&frame).unwrap_err();
            assert_eq!(
                (e.code, e.id.as_deref()),
                (ErrorCode::Invalid, None),
                "{id}"
            );
            assert!(
                e.message.contains("command id must be a string"),
                "{id}: {}",
                e.message
            );
            assert!(e.message.ends_with(&format!("not {kind}")), "{}", e.message);
        }

        let e = decode_client(r#"{"type":"command","id":"x"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingField);
        assert_eq!(e.id.as_deref(), Some("x"));

        let e =
            decode_client(r#"{"type":"command","id":"x","command":{"op":"declare","severity":1}}"#)
                .unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingField);
        assert!(e.message.contains("title"), "{}", e.message);

        let e = decode_client(
            r#"{"type":"command","id":"x","command":{"op":"set_severity","incident":"INC-1","severity":5}}"#,
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::Invalid);
        assert!(
            e.message.contains("severity 5 does not exist"),
            "{}",
            e.message
        );

        let e = decode_client(
            r#"{"type":"command","id":"x","command":{"op":"assign_role","incident":"INC-1","role":"chef","person":"a"}}"#,
        )
        .unwrap_err();
        assert!(e.message.contains("unknown role 'chef'"), "{}", e.message);

        let big = format!(
            r#"{{"type":"hello","name":"{}"}}"#,
            "a".repeat(MAX_FRAME_BYTES)
        );
        assert_eq!(
            decode_client(&big).unwrap_err().code,
            ErrorCode::FrameTooLarge
        );

        let deep = "[".repeat(10_000);
        assert_eq!(decode_client(&deep).unwrap_err().code, ErrorCode::BadFrame);
    }

    /// `levels` nested arrays around `1`.
    fn nested(levels: usize) -> String {
        format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
    }

    #[test]
    fn json_nests_up_to_the_limit_and_no_deeper() {
        assert!(parse_json(nested(MAX_JSON_DEPTH).as_bytes()).is_ok());
        let e = parse_json(nested(MAX_JSON_DEPTH + 1).as_bytes()).unwrap_err();
        assert_eq!(
            e,
            "nested deeper than 128 levels (arrays and objects) at line 1 column 129"
        );
        // Objects count as arrays do; brackets inside strings do not count.
        let objects = r#"{"a":"[[[{{","b":"#.repeat(MAX_JSON_DEPTH - 1)
            + "{}"
            + &"}".repeat(MAX_JSON_DEPTH - 1);
        assert!(parse_json(objects.as_bytes()).is_ok(), "{objects:.80}");
        let e = parse_json(format!("{{\"x\":\n{}", "{\"a\":".repeat(200)).as_bytes()).unwrap_err();
        assert!(e.ends_with("at line 2 column 636"), "{e}");
        // An escaped quote does not end a string.
        let tricky = format!(r#"["\"{}"]"#, "[".repeat(500));
        assert!(parse_json(tricky.as_bytes()).is_ok());
        // Still JSON: trailing bytes and bad syntax are refused as before.
        assert!(
            parse_json(b"[1] x")
                .unwrap_err()
                .contains("trailing characters")
        );
        assert!(parse_json(b"]]]]").is_err());
    }
}
