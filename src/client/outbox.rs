//! The on-disk outbox: a command is written here (and fsynced) before it is sent, and
//! removed when the server has answered it. Whatever a responder typed survives a lost
//! connection and a killed console, and reaches the feed exactly once thanks to its id.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::Command;

/// One command waiting for its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Queued {
    pub id: String,
    pub command: Command,
    /// Order of queueing, so commands are replayed in the order they were given.
    pub order: u64,
    /// The feed it was written for, when known: a command about INC-3 means nothing on
    /// another feed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed_id: Option<String>,
}

/// Where queued commands wait. `None` keeps them in memory only (scripts, tests).
#[derive(Debug, Clone)]
pub struct Outbox {
    dir: Option<PathBuf>,
    next_order: u64,
}

impl Outbox {
    pub fn in_memory() -> Self {
        Outbox {
            dir: None,
            next_order: 0,
        }
    }

    /// Opens the outbox in `dir` and returns it with the commands still waiting there.
    /// Unreadable files are set aside (renamed `*.bad`) with a warning, never fatal.
    pub fn open(dir: &Path) -> std::io::Result<(Self, Vec<Queued>)> {
        // Queued notes can be a restricted incident's: the outbox is its owner's only, like
        // the feed's own log.
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        fs::create_dir_all(dir)?;
        let mut waiting = Vec::new();
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let parsed = fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str::<Queued>(&t).map_err(|e| e.to_string()));
            match parsed {
                Ok(q) => waiting.push(q),
                Err(e) => {
                    tracing::warn!(
                        "outbox file {} is unreadable ({e}); set aside",
                        path.display()
                    );
                    let _ = fs::rename(&path, path.with_extension("bad"));
                }
            }
        }
        waiting.sort_by_key(|q| q.order);
        let next_order = waiting.last().map_or(0, |q| q.order + 1);
        Ok((
            Outbox {
                dir: Some(dir.to_path_buf()),
                next_order,
            },
            waiting,
        ))
    }

    fn file(&self, id: &str) -> Option<PathBuf> {
        // Ids come from this client (UUIDs), but keep the file name safe whatever they are.
        let safe: String = id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.as_ref().map(|d| d.join(format!("{safe}.json")))
    }

    /// Records a command durably before it is sent.
    pub fn push(
        &mut self,
        id: &str,
        command: &Command,
        feed_id: Option<&str>,
    ) -> std::io::Result<Queued> {
        let q = Queued {
            id: id.to_string(),
            command: command.clone(),
            order: self.next_order,
            feed_id: feed_id.map(str::to_string),
        };
        self.next_order += 1;
        if let Some(path) = self.file(id) {
            let tmp = path.with_extension("tmp");
            let mut options = fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut f = options.open(&tmp)?;
            f.write_all(
                serde_json::to_string(&q)
                    .map_err(std::io::Error::other)?
                    .as_bytes(),
            )?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            if let Some(d) = &self.dir {
                // Make the rename itself durable.
                if let Ok(dirf) = fs::File::open(d) {
                    let _ = dirf.sync_all();
                }
            }
        }
        Ok(q)
    }

    /// Keeps a command that must not be sent (it was written for another feed) out of the
    /// queue without deleting what was typed: renamed `*.other-feed`. Returns where it is.
    pub fn set_aside(&mut self, id: &str) -> Option<PathBuf> {
        let path = self.file(id)?;
        let aside = path.with_extension("other-feed");
        match fs::rename(&path, &aside) {
            Ok(()) => Some(aside),
            Err(e) => {
                tracing::warn!("setting aside {}: {e}", path.display());
                None
            }
        }
    }

    /// Forgets a command once the server has answered it.
    pub fn remove(&mut self, id: &str) {
        if let Some(path) = self.file(id)
            && let Err(e) = fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(
                "removing answered command from outbox {}: {e}",
                path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::IncidentRef;

    #[test]
    fn survives_reopen_in_order_and_sets_aside_junk() {
        let dir = tempfile::tempdir().unwrap();
        let (mut ob, w) = Outbox::open(dir.path()).unwrap();
        assert!(w.is_empty());
        let c = |t: &str| Command::AddEntry {
            incident: IncidentRef(1),
            entry_kind: crate::model::EntryKind::Note,
            text: t.into(),
            occurred_at: None,
            next_update_secs: None,
            public: false,
            briefing: None,
        };
        ob.push("b-2", &c("first"), None).unwrap();
        ob.push("a-1", &c("second"), Some("feed-a")).unwrap();
        ob.push("c-3", &c("third"), None).unwrap();
        ob.remove("c-3");
        std::fs::write(dir.path().join("junk.json"), "{not json").unwrap();
        let (_, w) = Outbox::open(dir.path()).unwrap();
        let ids: Vec<&str> = w.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(ids, ["b-2", "a-1"]);
        assert!(dir.path().join("junk.bad").exists());
    }

    #[cfg(unix)]
    #[test]
    fn queued_commands_are_their_owners_only() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("outbox").join("feed-ann");
        let (mut ob, _) = Outbox::open(&dir).unwrap();
        let c = Command::Acknowledge {
            incident: IncidentRef(1),
        };
        ob.push("x-1", &c, None).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("x-1.json")), 0o600);
    }
}
