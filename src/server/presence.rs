//! Who is in the room: every open connection, grouped by name, pushed to every session.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::ws::Utf8Bytes;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::model::IncidentRef;
use crate::protocol::{self, Presence, ServerMessage};

/// Everyone present, and its `presence` frame, encoded once by the first session that
/// sends it (a thousand consoles share one encoding instead of making a thousand).
#[derive(Default)]
pub struct PresenceList {
    pub list: Vec<Presence>,
    frame: OnceLock<Utf8Bytes>,
}

impl PresenceList {
    pub fn frame(&self) -> Utf8Bytes {
        self.frame
            .get_or_init(|| {
                Utf8Bytes::from(protocol::encode(&ServerMessage::Presence {
                    present: self.list.clone(),
                }))
            })
            .clone()
    }
}

#[derive(Default)]
struct Inner {
    next: u64,
    open: BTreeMap<u64, Conn>,
    /// Who is on the feed's other replicas (a shared log's), as they last said.
    remote: Vec<Presence>,
    /// This server's own connections, by name, and how often that changed.
    local: Vec<Presence>,
    local_version: u64,
}

struct Conn {
    name: String,
    since: DateTime<Utc>,
    viewing: Option<IncidentRef>,
}

/// The registry of open connections.
pub struct PresenceBoard {
    inner: Mutex<Inner>,
    tx: watch::Sender<Arc<PresenceList>>,
}

impl Default for PresenceBoard {
    fn default() -> Self {
        PresenceBoard {
            inner: Mutex::new(Inner::default()),
            tx: watch::Sender::new(Arc::default()),
        }
    }
}

/// Removes its connection from the board when dropped, on every way a session ends.
pub struct PresenceGuard<'a> {
    board: &'a PresenceBoard,
    id: u64,
}

impl Drop for PresenceGuard<'_> {
    fn drop(&mut self) {
        self.board.update(|inner| {
            inner.open.remove(&self.id);
        });
    }
}

impl PresenceGuard<'_> {
    /// Records which incident this connection is viewing.
    pub fn set_viewing(&self, incident: Option<IncidentRef>) {
        self.board.update(|inner| {
            if let Some(c) = inner.open.get_mut(&self.id) {
                c.viewing = incident;
            }
        });
    }
}

impl PresenceBoard {
    pub fn join(&self, name: &str, at: DateTime<Utc>) -> PresenceGuard<'_> {
        let mut id = 0;
        self.update(|inner| {
            id = inner.next;
            inner.next += 1;
            inner.open.insert(
                id,
                Conn {
                    name: name.to_string(),
                    since: at,
                    viewing: None,
                },
            );
        });
        PresenceGuard { board: self, id }
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<PresenceList>> {
        self.tx.subscribe()
    }

    pub fn current(&self) -> Arc<PresenceList> {
        self.tx.borrow().clone()
    }

    /// This server's own connections (what it tells the other replicas), and a number that
    /// changes whenever they do.
    pub fn local(&self) -> (u64, Vec<Presence>) {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (inner.local_version, inner.local.clone())
    }

    /// Who is on the other replicas: shown with this server's own.
    pub fn set_remote(&self, remote: Vec<Presence>) {
        self.update(|inner| inner.remote = remote);
    }

    fn update(&self, f: impl FnOnce(&mut Inner)) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut inner);
        let mut by_name: BTreeMap<String, Presence> = BTreeMap::new();
        for c in inner.open.values() {
            let p = by_name.entry(c.name.clone()).or_insert_with(|| Presence {
                name: c.name.clone(),
                since: c.since,
                connections: 0,
                viewing: Vec::new(),
            });
            p.connections += 1;
            p.since = p.since.min(c.since);
            if let Some(r) = c.viewing
                && !p.viewing.contains(&r)
            {
                p.viewing.push(r);
                p.viewing.sort();
            }
        }
        let local: Vec<Presence> = by_name.values().cloned().collect();
        if local != inner.local {
            inner.local = local;
            inner.local_version += 1;
        }
        for r in &inner.remote {
            let p = by_name.entry(r.name.clone()).or_insert_with(|| Presence {
                name: r.name.clone(),
                since: r.since,
                connections: 0,
                viewing: Vec::new(),
            });
            p.connections += r.connections;
            p.since = p.since.min(r.since);
            for v in &r.viewing {
                if !p.viewing.contains(v) {
                    p.viewing.push(*v);
                }
            }
            p.viewing.sort();
        }
        let list: Vec<Presence> = by_name.into_values().collect();
        // Sessions are woken only when what people see actually changed.
        self.tx.send_if_modified(|current| {
            if current.list == list {
                false
            } else {
                *current = Arc::new(PresenceList {
                    list,
                    frame: OnceLock::new(),
                });
                true
            }
        });
    }
}
