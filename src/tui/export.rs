//! `:export md|json` from the console: the same export as `warroom export`, written to
//! `INC-N-<slug>.md|json` in the directory the console was started in. The state machine
//! only asks for it ([`Effect::Export`](super::app::Effect)); the event loop fetches the
//! feed's log and writes the file on a background task, and the result comes back as a
//! message.

use std::path::{Path, PathBuf};

use super::app::{App, Effect, Level};
use crate::client::{ClientConfig, fetch_log};
use crate::model::IncidentRef;
use crate::report::export::{ExportFormat, export_text};

/// The title as a file-name part: lower-case letters and digits, dashes between words, at
/// most 40 characters.
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out: String = out.chars().take(40).collect();
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// `INC-3-checkout-returns-500s.md` (`INC-3.md` when the title has no usable letters).
pub fn file_name(incident: IncidentRef, title: &str, format: ExportFormat) -> String {
    let s = slug(title);
    if s.is_empty() {
        format!("{incident}.{}", format.ext())
    } else {
        format!("{incident}-{s}.{}", format.ext())
    }
}

/// Fetches the feed's log and writes the export of `incident` to `dir/file`; returns the
/// full path, or what went wrong in words.
pub async fn write_export(
    mut config: ClientConfig,
    incident: IncidentRef,
    format: ExportFormat,
    dir: &Path,
    file: &str,
) -> Result<PathBuf, String> {
    config.reconnect = false;
    config.outbox = None;
    let log = fetch_log(config)
        .await
        .map_err(|e| format!("cannot read the feed's log: {e:#}"))?;
    let text = export_text(&log, incident, format).map_err(|e| format!("{e:#}"))?;
    let path = dir.join(file);
    tokio::fs::write(&path, text)
        .await
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

impl App {
    /// `:export md|json`: asks the event loop to write the file.
    pub(super) fn export(&mut self, r: IncidentRef, format: ExportFormat, fx: &mut Vec<Effect>) {
        let Some(inc) = self.replica.state.incident(r) else {
            self.flash(Level::Error, self.not_here(r));
            return;
        };
        let file = file_name(r, &inc.title, format);
        self.flash(Level::Info, format!("exporting {r} to {file} …"));
        fx.push(Effect::Export {
            incident: r,
            format,
            file,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_from_titles() {
        assert_eq!(
            file_name(
                IncidentRef(3),
                "Checkout returns 500s!",
                ExportFormat::Markdown
            ),
            "INC-3-checkout-returns-500s.md"
        );
        assert_eq!(
            file_name(IncidentRef(1), "  ../../etc/passwd ", ExportFormat::Json),
            "INC-1-etc-passwd.json"
        );
        assert_eq!(
            file_name(IncidentRef(2), "ñ 🔥", ExportFormat::Json),
            "INC-2.json"
        );
        assert_eq!(slug(&"a ".repeat(60)).len(), 39);
    }
}
