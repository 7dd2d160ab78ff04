//! Reading parsed JSON with errors that name the path of the field at fault.

use chrono::{DateTime, Datelike, Utc};
use serde_json::{Map, Value};

use super::{IntakeError, clip};

/// Parses a webhook body as JSON (nested at most `protocol::MAX_JSON_DEPTH` levels).
pub(super) fn parse_body(body: &[u8]) -> Result<Value, IntakeError> {
    crate::protocol::parse_json(body)
        .map_err(|e| IntakeError::new("body", format!("not JSON: {e}")))
}

/// "a string", "an array", … for messages.
pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value quoted for a message: `'62.5x'` for strings, JSON otherwise; clipped.
pub(super) fn show(v: &Value) -> String {
    match v {
        Value::String(s) => quote(s),
        other => clip(&other.to_string(), 64),
    }
}

/// `'text'`, clipped so a huge value cannot make a huge message.
pub(super) fn quote(s: &str) -> String {
    format!("'{}'", clip(s, 64))
}

/// A scalar as text (`None` for null, arrays and objects).
pub(super) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An RFC 3339 time (also `2015-07-17T08:42:58.315+0000`, as PagerDuty's examples write it).
pub(super) fn time(field: &str, s: &str) -> Result<DateTime<Utc>, IntakeError> {
    let t = s.trim();
    DateTime::parse_from_rfc3339(t)
        .or_else(|_| DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| IntakeError::new(field, format!("{} is not an RFC 3339 time", quote(s))))
}

/// Go's zero time (`0001-01-01T00:00:00Z`), which Alertmanager sends for "not ended".
pub(super) fn is_zero_time(t: &DateTime<Utc>) -> bool {
    t.year() <= 1
}

/// A JSON object and the path it was found at.
#[derive(Debug, Clone)]
pub(super) struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    /// The body's top level, which must be an object.
    pub(super) fn root(v: &'a Value) -> Result<Self, IntakeError> {
        Self::at(String::new(), v).map_err(|_| {
            IntakeError::new("body", format!("expected a JSON object, got {}", kind(v)))
        })
    }

    /// `v`, found at `path`, as an object.
    pub(super) fn at(path: String, v: &'a Value) -> Result<Self, IntakeError> {
        match v {
            Value::Object(map) => Ok(Obj { path, map }),
            other => Err(IntakeError::new(
                path,
                format!("expected an object, got {}", kind(other)),
            )),
        }
    }

    pub(super) fn map(&self) -> &'a Map<String, Value> {
        self.map
    }

    /// The path of `key` inside this object.
    pub(super) fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn missing(&self, key: &str) -> IntakeError {
        IntakeError::new(self.path_of(key), "required but missing")
    }

    fn wrong(&self, key: &str, expected: &str, got: &Value) -> IntakeError {
        IntakeError::new(
            self.path_of(key),
            format!("expected {expected}, got {}", kind(got)),
        )
    }

    /// The value under `key`; `null` counts as absent.
    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// An optional string. Empty (after trimming) counts as absent.
    pub(super) fn str(&self, key: &str) -> Result<Option<&'a str>, IntakeError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim())),
            Some(other) => Err(self.wrong(key, "a string", other)),
        }
    }

    /// A required, non-empty string, trimmed.
    pub(super) fn req_str(&self, key: &str) -> Result<&'a str, IntakeError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Err(self.missing(key)),
            Some(Value::String(s)) if s.trim().is_empty() => {
                Err(IntakeError::new(self.path_of(key), "required but empty"))
            }
            _ => self.str(key)?.ok_or_else(|| self.missing(key)),
        }
    }

    /// An optional string, a number or a boolean, as text.
    pub(super) fn text(&self, key: &str) -> Result<Option<String>, IntakeError> {
        match self.get(key) {
            None => Ok(None),
            Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => {
                Ok(scalar_text(v).filter(|s| !s.trim().is_empty()))
            }
            Some(other) => Err(self.wrong(key, "a string or a number", other)),
        }
    }

    /// An optional object.
    pub(super) fn obj(&self, key: &str) -> Result<Option<Obj<'a>>, IntakeError> {
        match self.get(key) {
            None => Ok(None),
            Some(v @ Value::Object(_)) => Obj::at(self.path_of(key), v).map(Some),
            Some(other) => Err(self.wrong(key, "an object", other)),
        }
    }

    /// A required object.
    pub(super) fn req_obj(&self, key: &str) -> Result<Obj<'a>, IntakeError> {
        self.obj(key)?.ok_or_else(|| self.missing(key))
    }

    /// An optional array.
    pub(super) fn arr(&self, key: &str) -> Result<Option<&'a [Value]>, IntakeError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(self.wrong(key, "an array", other)),
        }
    }

    /// An optional time.
    pub(super) fn time(&self, key: &str) -> Result<Option<DateTime<Utc>>, IntakeError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => time(&self.path_of(key), s).map(Some),
            Some(other) => Err(self.wrong(key, "a string (an RFC 3339 time)", other)),
        }
    }
}
