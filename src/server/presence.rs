//! Who is in the room: every open connection, grouped by name, published to every session.
//!
//! A crowd costs each connection a constant: a join, a leave or a focus is a small change to
//! the board (no list is rebuilt for it); the list is built and encoded at most once every
//! [`PRESENCE_INTERVAL`] (longer on a crowded feed), once for everyone, and sessions send
//! those shared bytes. It names
//! at most [`MAX_LISTED`] people and counts the rest, so a frame stays small however many
//! are connected (ten thousand names would be a megabyte to every console on every change).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::model::IncidentRef;
use crate::protocol::{self, Presence, ServerMessage};

/// Shortest time between two presence lists: a change in between waits, and changes that
/// wait together go out as one list.
pub const PRESENCE_INTERVAL: Duration = Duration::from_millis(500);

/// Connections per [`PRESENCE_INTERVAL`]: with more, the interval grows in proportion, so
/// presence costs the feed about the same frames a second however many are connected (every
/// list goes to every connection; in a storm of joins each one changes it).
const CONNECTIONS_PER_INTERVAL: usize = 1000;

/// Most people a presence frame names (the first by name); `others` counts the rest.
pub const MAX_LISTED: usize = 40;

/// The people present as published, and its `presence` frame, encoded once for every
/// session that sends it.
pub struct PresenceList {
    /// The first [`MAX_LISTED`] people by name.
    pub list: Vec<Presence>,
    /// How many more are present.
    pub others: u32,
    frame: Utf8Bytes,
}

impl Default for PresenceList {
    fn default() -> Self {
        PresenceList::new(Vec::new(), 0)
    }
}

impl PresenceList {
    fn new(list: Vec<Presence>, others: u32) -> PresenceList {
        let frame = Utf8Bytes::from(protocol::encode(&ServerMessage::Presence {
            present: list.clone(),
            others,
        }));
        PresenceList {
            list,
            others,
            frame,
        }
    }

    /// The `presence` frame, as a reader who may see every incident receives it.
    pub fn frame(&self) -> Utf8Bytes {
        self.frame.clone()
    }

    /// Whether anyone listed is viewing an incident (only then may a reader's copy differ).
    pub fn anyone_viewing(&self) -> bool {
        self.list.iter().any(|p| !p.viewing.is_empty())
    }
}

#[derive(Default)]
struct Inner {
    next: u64,
    open: HashMap<u64, Conn>,
    /// This server's own connections by name.
    names: BTreeMap<String, Vec<u64>>,
    /// Who is on the feed's other replicas (a shared log's), as they last said.
    remote: Vec<Presence>,
    /// Counts the changes to this server's own connections.
    local_version: u64,
    /// A change not yet published.
    dirty: bool,
    /// The publisher has been asked to publish when the interval allows.
    scheduled: bool,
    published_at: Option<Instant>,
}

struct Conn {
    name: String,
    since: DateTime<Utc>,
    viewing: Option<IncidentRef>,
}

/// The registry of open connections.
pub struct PresenceBoard {
    /// [`PRESENCE_INTERVAL`], but in tests.
    interval: Duration,
    inner: Mutex<Inner>,
    tx: watch::Sender<Arc<PresenceList>>,
    /// Wakes [`PresenceBoard::publish_later`] for a change that must wait its turn.
    wake: Notify,
}

impl Default for PresenceBoard {
    fn default() -> Self {
        PresenceBoard {
            interval: PRESENCE_INTERVAL,
            inner: Mutex::new(Inner::default()),
            tx: watch::Sender::new(Arc::default()),
            wake: Notify::new(),
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
            let Some(conn) = inner.open.remove(&self.id) else {
                return;
            };
            if let Some(ids) = inner.names.get_mut(&conn.name) {
                ids.retain(|i| *i != self.id);
                if ids.is_empty() {
                    inner.names.remove(&conn.name);
                }
            }
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
            inner.names.entry(name.to_string()).or_default().push(id);
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
        let inner = self.lock();
        (inner.local_version, local_people(&inner))
    }

    /// Who is on the other replicas: shown with this server's own.
    pub fn set_remote(&self, remote: Vec<Presence>) {
        let mut inner = self.lock();
        if inner.remote != remote {
            inner.remote = remote;
            self.changed(&mut inner);
        }
    }

    /// Publishes the changes that had to wait for the interval, until `stop` says so.
    pub async fn publish_later(&self, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let due = {
                let inner = self.lock();
                inner.published_at.map(|t| t + self.interval_for(&inner))
            };
            if let Some(due) = due {
                tokio::select! {
                    _ = tokio::time::sleep_until(due) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
            self.publish_waiting();
        }
    }

    /// Publishes the changes that waited for the interval (it has passed).
    fn publish_waiting(&self) {
        let mut inner = self.lock();
        inner.scheduled = false;
        if inner.dirty {
            self.publish(&mut inner, Instant::now());
        }
    }

    /// The interval between two lists: longer on a crowded feed.
    fn interval_for(&self, inner: &Inner) -> Duration {
        let steps = (inner.open.len() / CONNECTIONS_PER_INTERVAL).max(1);
        self.interval * u32::try_from(steps).unwrap_or(u32::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut Inner)) {
        let mut inner = self.lock();
        f(&mut inner);
        inner.local_version += 1;
        self.changed(&mut inner);
    }

    /// A change: published now if the last list is old enough, else by the publisher when
    /// it is.
    fn changed(&self, inner: &mut Inner) {
        inner.dirty = true;
        if inner.scheduled {
            return;
        }
        let now = Instant::now();
        if inner
            .published_at
            .is_none_or(|t| now >= t + self.interval_for(inner))
        {
            self.publish(inner, now);
        } else {
            inner.scheduled = true;
            self.wake.notify_one();
        }
    }

    fn publish(&self, inner: &mut Inner, now: Instant) {
        inner.dirty = false;
        inner.published_at = Some(now);
        let mut by_name: BTreeMap<String, Presence> = local_people(inner)
            .into_iter()
            .map(|p| (p.name.clone(), p))
            .collect();
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
        let others = by_name.len().saturating_sub(MAX_LISTED) as u32;
        let list: Vec<Presence> = by_name.into_values().take(MAX_LISTED).collect();
        // Sessions are woken only when what people see actually changed.
        self.tx.send_if_modified(|current| {
            if current.list == list && current.others == others {
                false
            } else {
                *current = Arc::new(PresenceList::new(list, others));
                true
            }
        });
    }
}

/// This server's own connections, one entry per name, sorted by name.
fn local_people(inner: &Inner) -> Vec<Presence> {
    inner
        .names
        .iter()
        .map(|(name, ids)| {
            let mut p = Presence {
                name: name.clone(),
                since: DateTime::<Utc>::MAX_UTC,
                connections: 0,
                viewing: Vec::new(),
            };
            for c in ids.iter().filter_map(|id| inner.open.get(id)) {
                p.connections += 1;
                p.since = p.since.min(c.since);
                if let Some(r) = c.viewing
                    && !p.viewing.contains(&r)
                {
                    p.viewing.push(r);
                }
            }
            p.viewing.sort();
            p
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &PresenceList) -> Vec<(String, u32)> {
        list.list
            .iter()
            .map(|p| (p.name.clone(), p.connections))
            .collect()
    }

    fn board(interval: Duration) -> PresenceBoard {
        PresenceBoard {
            interval,
            ..PresenceBoard::default()
        }
    }

    #[tokio::test]
    async fn changes_wait_for_the_interval_and_go_out_together() {
        // An interval no test outlives: what waits is published by `publish_waiting`, as
        // the publisher does once the interval has passed.
        let board = board(Duration::from_secs(3600));
        let at = DateTime::UNIX_EPOCH;
        let mut rx = board.subscribe();
        let a = board.join("alice", at);
        // The first change goes out at once.
        assert!(rx.has_changed().unwrap());
        assert_eq!(names(&rx.borrow_and_update()), [("alice".into(), 1)]);
        let _b = board.join("bob", at);
        let _a2 = board.join("alice", at);
        a.set_viewing(Some(IncidentRef(3)));
        assert!(!rx.has_changed().unwrap(), "published within the interval");
        board.publish_waiting();
        assert!(rx.has_changed().unwrap());
        let list = rx.borrow_and_update().clone();
        assert_eq!(names(&list), [("alice".into(), 2), ("bob".into(), 1)]);
        assert_eq!(list.list[0].viewing, [IncidentRef(3)]);
        assert!(list.frame().as_str().starts_with(r#"{"type":"presence""#));
        // The same bytes for every session: encoded once.
        assert_eq!(
            list.frame().as_str().as_ptr(),
            list.frame().as_str().as_ptr()
        );
        drop(a);
        board.publish_waiting();
        let list = rx.borrow_and_update().clone();
        assert_eq!(names(&list), [("alice".into(), 1), ("bob".into(), 1)]);
        assert!(list.list[0].viewing.is_empty());
        // Nothing changed: nothing is published, nobody is woken.
        board.publish_waiting();
        assert!(!rx.has_changed().unwrap());
    }

    #[tokio::test]
    async fn a_crowd_is_listed_up_to_the_cap_and_counted_beyond() {
        let board = board(Duration::ZERO);
        let at = DateTime::UNIX_EPOCH;
        let mut guards: Vec<_> = (0..MAX_LISTED + 25)
            .map(|i| board.join(&format!("reader-{i:03}"), at))
            .collect();
        let list = board.current();
        assert_eq!(list.list.len(), MAX_LISTED);
        assert_eq!(list.others, 25);
        assert_eq!(list.list[0].name, "reader-000");
        assert!(list.frame().as_str().ends_with(r#""others":25}"#));
        guards.pop();
        assert_eq!(board.current().others, 24);
        let (_, local) = board.local();
        assert_eq!(local.len(), MAX_LISTED + 24, "replicas are told everyone");
        // Others' people count too, once per name.
        let mut remote = local[..2].to_vec();
        remote.push(Presence {
            name: "zoe".into(),
            since: at,
            connections: 1,
            viewing: vec![],
        });
        board.set_remote(remote);
        let list = board.current();
        assert_eq!(list.others, 25);
        assert_eq!(list.list[0].connections, 2);
    }
}
