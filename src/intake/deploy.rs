//! The deploy webhook's body (`POST /webhook/deploy`): what a deploy pipeline sends when it
//! ships a service. Fields other than these are ignored, so a pipeline may send its own.
//!
//! ```json
//! {"service": "checkout", "version": "v2.14.1", "environment": "production",
//!  "by": "deploy-bot", "note": "feature flag new-cart on"}
//! ```

use super::IntakeError;
use super::json::{Obj, parse_body, quote};
use crate::model::feed;
use crate::model::validate;

/// A deploy as the webhook gave it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployNotice {
    pub service: String,
    pub version: String,
    pub environment: Option<String>,
    /// Who deployed, when the body says (else the poster is named by its token).
    pub by: Option<String>,
    pub note: Option<String>,
}

/// Parses and checks a deploy webhook body.
pub fn parse_deploy(body: &[u8]) -> Result<DeployNotice, IntakeError> {
    let value = parse_body(body)?;
    let root = Obj::root(&value)?;
    let text = |key: &str, v: &str, max: usize| {
        validate::text(key, v, max, false).map_err(|r| IntakeError::new(key, r.message))
    };
    let service = text("service", root.req_str("service")?, validate::MAX_NAME)?;
    let version = text("version", root.req_str("version")?, feed::MAX_VERSION)?;
    let environment = root
        .str("environment")?
        .map(|e| text("environment", e, feed::MAX_ENVIRONMENT))
        .transpose()?;
    let note = root
        .str("note")?
        .map(|n| text("note", n, feed::MAX_DEPLOY_NOTE))
        .transpose()?;
    let by = match root.str("by")? {
        Some(b) => Some(
            crate::model::validate_name(b)
                .map_err(|r| IntakeError::new("by", format!("{}: {}", quote(b), r.message)))?,
        ),
        None => None,
    };
    Ok(DeployNotice {
        service,
        version,
        environment,
        by,
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deploy_body_is_read_and_extra_fields_are_ignored() {
        let d = parse_deploy(
            br#"{"service":" checkout ","version":"v2.14.1","environment":"production",
                "by":"deploy-bot","note":"new cart","commit":"abc123"}"#,
        )
        .unwrap();
        assert_eq!(d.service, "checkout");
        assert_eq!(d.version, "v2.14.1");
        assert_eq!(d.environment.as_deref(), Some("production"));
        assert_eq!(d.by.as_deref(), Some("deploy-bot"));
        assert_eq!(d.note.as_deref(), Some("new cart"));
    }

    #[test]
    fn a_bad_deploy_body_names_the_field_at_fault() {
        for (body, field) in [
            (&br#"{"version":"v1"}"#[..], "service"),
            (br#"{"service":"api"}"#, "version"),
            (br#"{"service":"api","version":7}"#, "version"),
            (br#"{"service":"api","version":"v1","by":"warroom"}"#, "by"),
            (br#"{"service":"a\u0007b","version":"v1"}"#, "service"),
            (br#"[1]"#, "body"),
            (b"not json", "body"),
        ] {
            let e = parse_deploy(body).unwrap_err();
            assert_eq!(e.field, field, "{}: {e}", String::from_utf8_lossy(body));
        }
        let long = format!(r#"{{"service":"api","version":"{}"}}"#, "9".repeat(65));
        assert!(
            parse_deploy(long.as_bytes())
                .unwrap_err()
                .message
                .contains("limit is 64")
        );
    }
}
