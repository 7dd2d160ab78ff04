//! `:export md|json` from the console: the same export as `warroom export`, written to
//! `INC-N-<slug>.md|json` in the directory the console was started in. The state machine
//! only asks for it ([`Effect::Export`](super::app::Effect)); the event loop asks the feed
//! (which renders it from its store, in parts the client joins) and writes the file on a
//! background task, and the result comes back as a message.

use std::path::{Path, PathBuf};

use tokio::sync::oneshot;

use super::app::{App, Effect, Level};
use crate::client::QueryError;
use crate::model::IncidentRef;
use crate::protocol::QueryResult;
use crate::report::export::ExportFormat;

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

/// Waits for the feed's export (`answer`, from [`crate::client::Client::ask`]) and writes
/// it to `dir/file`; returns the full path, or what went wrong in words.
pub async fn write_export(
    answer: oneshot::Receiver<Result<QueryResult, QueryError>>,
    dir: &Path,
    file: &str,
) -> Result<PathBuf, String> {
    let text = match answer.await {
        Ok(Ok(QueryResult::Export { text, .. })) => text,
        Ok(Ok(_)) => return Err("the feed answered with something other than the export".into()),
        Ok(Err(e)) => return Err(e.message),
        Err(_) => return Err("the connection to the feed ended before it answered".into()),
    };
    let path = dir.join(file);
    tokio::fs::write(&path, text)
        .await
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

impl App {
    /// `:export md|json`: asks the event loop to write the file.
    /// The incident may be archived (not held here): the feed has it, or says it has not.
    pub(super) fn export(&mut self, r: IncidentRef, format: ExportFormat, fx: &mut Vec<Effect>) {
        if self.replica.state.withheld.contains(&r) {
            self.flash(Level::Error, self.not_here(r));
            return;
        }
        let title = self
            .replica
            .state
            .incident(r)
            .or_else(|| self.archive.rows.iter().find(|i| i.reference == r))
            .map(|i| i.title.clone())
            .unwrap_or_default();
        let file = file_name(r, &title, format);
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
