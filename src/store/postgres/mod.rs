//! The shared PostgreSQL event log: the same two traits as SQLite, the same tables and the
//! same answers, for teams that run several feeds on one database (one of them appending).
//!
//! The traits are synchronous and the server calls them from its core thread and its
//! blocking pool; the `postgres` client runs a small async runtime of its own and must
//! never be used, nor dropped, on an async worker. So each [`PgStore`] owns a thread
//! (`warroom-pg`) that holds its connection: a call sends it a job and waits for the
//! answer. Any thread may call, and dropping the store just ends its thread. A connection
//! that broke (the database restarted) is made again at the next call.
//!
//! Each append is one statement, and so one transaction and one round trip (the function
//! `warroom_append`, see `schema`): the leader's lock checked, the events (with explicit
//! seqs: a second writer at the same positions is refused whole), the answers, the incident
//! rows and words, the checkpoint, the resume floor and the notification of the new head.
//! Appends are encoded by the caller; the thread only sends them, arrays unnested in the
//! database, whatever their size.

mod append;
mod copy;
mod index;
#[cfg(test)]
mod lead_tests;
mod schema;
mod search;
mod target;
#[cfg(test)]
pub(crate) mod testdb;
#[cfg(test)]
mod tests;

pub use copy::{CopyReport, copy_to_postgres};
pub use schema::SCHEMA_VERSION as PG_SCHEMA_VERSION;
pub use target::redact_url;

use std::sync::Arc;
use std::sync::mpsc;

use ::postgres::Client;

use super::{Append, EventStore, LogReader, SearchPage, StoreError};
use crate::model::access::Viewer;
use crate::model::{Event, Incident, IncidentRef, State};
use crate::protocol::{Answer, Search};
use index::{Batch, Db, Prepared};
use target::Target;

impl From<::postgres::Error> for StoreError {
    /// Where and doing what are filled in by [`PgStore::call`].
    fn from(e: ::postgres::Error) -> Self {
        StoreError::Postgres {
            at: String::new(),
            what: "",
            reason: target::describe(&e),
        }
    }
}

/// A connection to the log, made again when it broke.
struct Conn {
    target: Arc<Target>,
    client: Option<Client>,
    prepared: Prepared,
    /// This store has led (see [`EventStore::lead`]): every append checks the lead.
    fenced: bool,
    /// This connection holds the leader's lock (lost with the connection).
    holds_lock: bool,
    /// The resume floor this connection's last append wrote (`None`: not known); an append
    /// whose floor is the same does not write it again.
    floor_written: Option<u64>,
}

impl Conn {
    /// The connection (made again if it broke) and its prepared statements.
    fn parts(&mut self) -> Result<(&mut Client, &mut Prepared), StoreError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = None;
            self.holds_lock = false;
            self.floor_written = None;
            self.prepared.clear();
            self.client = Some(self.target.connect()?);
        }
        match self.client.as_mut() {
            Some(c) => Ok((c, &mut self.prepared)),
            None => Err(StoreError::ReaderStopped("no connection".into())),
        }
    }

    /// After an error: drops the connection if it is broken (the database restarted, or
    /// ended it), so the next use makes a new one. Says whether it did.
    fn forget_if_broken(&mut self) -> bool {
        let broken = self.client.as_mut().is_none_or(|c| {
            c.is_closed() || c.is_valid(std::time::Duration::from_secs(5)).is_err()
        });
        if broken {
            self.client = None;
        }
        broken
    }

    /// Runs `f` outside any transaction; once more on a new connection if the one it ran
    /// on turns out broken (a read is safe to repeat).
    fn read<T>(
        &mut self,
        f: impl Fn(&mut Db<'_, Client>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let (client, prepared) = self.parts()?;
        match f(&mut Db::new(client, prepared)) {
            Err(_) if self.forget_if_broken() => {
                let (client, prepared) = self.parts()?;
                f(&mut Db::new(client, prepared))
            }
            done => done,
        }
    }

    /// Runs `f` in one transaction, committed when it returns `Ok`. Not repeated: whether
    /// a commit cut short landed is for the caller to find out (the core reads the log
    /// again).
    fn write<T>(
        &mut self,
        f: impl FnOnce(&mut Db<'_, ::postgres::Transaction<'_>>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.floor_written = None;
        let (client, prepared) = self.parts()?;
        let done = client
            .transaction()
            .map_err(StoreError::from)
            .and_then(|mut tx| {
                let out = f(&mut Db::new(&mut tx, prepared))?;
                tx.commit()?;
                Ok(out)
            });
        if done.is_err() {
            self.forget_if_broken();
        }
        done
    }
}

type Job = Box<dyn FnOnce(&mut Conn) + Send>;

/// The event log in a PostgreSQL database.
pub struct PgStore {
    jobs: mpsc::Sender<Job>,
    target: Arc<Target>,
}

impl PgStore {
    /// Connects to the log at `url` for writing: its tables are made, or migrated, first
    /// (see `schema`); a log of a newer schema is refused.
    pub fn open(url: &str) -> Result<PgStore, StoreError> {
        let store = PgStore::connect(Arc::new(Target::parse(url)?))?;
        let at = store.target.shown.clone();
        store.call("preparing its tables", move |conn| {
            let (client, _) = conn.parts()?;
            schema::prepare(client, &at)
        })?;
        Ok(store)
    }

    /// A store on a connection of its own (its thread started, the connection made).
    fn connect(target: Arc<Target>) -> Result<PgStore, StoreError> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready_tx, ready) = mpsc::sync_channel(1);
        let mut conn = Conn {
            target: target.clone(),
            client: None,
            prepared: Prepared::new(),
            fenced: false,
            holds_lock: false,
            floor_written: None,
        };
        std::thread::Builder::new()
            .name("warroom-pg".into())
            .spawn(move || {
                let connected = conn.parts().map(|_| ());
                let ok = connected.is_ok();
                let _ = ready_tx.send(connected);
                if ok {
                    for job in inbox {
                        job(&mut conn);
                    }
                }
            })
            .map_err(|e| StoreError::ReaderStopped(format!("cannot start a thread: {e}")))?;
        ready
            .recv()
            .map_err(|_| StoreError::ReaderStopped("the connection's thread stopped".into()))??;
        Ok(PgStore { jobs, target })
    }

    /// The log's address, without its password.
    pub fn shown(&self) -> &str {
        &self.target.shown
    }

    /// Runs `job` on the connection's thread and waits for it. An error of PostgreSQL's
    /// is told with the log's address and `what` the store was doing.
    fn call<T: Send + 'static>(
        &self,
        what: &'static str,
        job: impl FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let stopped =
            || StoreError::ReaderStopped("the PostgreSQL connection's thread stopped".into());
        self.jobs
            .send(Box::new(move |conn: &mut Conn| {
                let _ = tx.send(job(conn));
            }))
            .map_err(|_| stopped())?;
        rx.recv().map_err(|_| stopped())?.map_err(|e| match e {
            StoreError::Postgres {
                at,
                what: w,
                reason,
            } if at.is_empty() => StoreError::Postgres {
                at: self.target.shown.clone(),
                what: if w.is_empty() { what } else { w },
                reason,
            },
            other => other,
        })
    }

    fn read<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl Fn(&mut Db<'_, Client>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.call(what, move |conn| conn.read(f))
    }
}

impl PgStore {
    /// How the cluster's own connections reach the same database.
    pub fn connector(&self) -> Connect {
        let target = self.target.clone();
        Arc::new(move || target.connect())
    }
}

/// The database at `url`, its tables made or migrated first as a feed opening it would: a
/// way to connect to it, for what is kept there beside the log (the feed's tokens), and its
/// address without the password. Blocking: call it off the async runtime's workers.
pub fn prepare_database(url: &str) -> Result<(Connect, String), StoreError> {
    let target = Arc::new(Target::parse(url)?);
    let shown = target.shown.clone();
    let mut client = target.connect()?;
    schema::prepare(&mut client, &shown).map_err(|e| match e {
        StoreError::Postgres { at, what, reason } if at.is_empty() => StoreError::Postgres {
            at: shown.clone(),
            what: if what.is_empty() {
                "preparing its tables"
            } else {
                what
            },
            reason,
        },
        other => other,
    })?;
    let connect: Connect = Arc::new(move || target.connect());
    Ok((connect, shown))
}

/// Reads the log by `seq` on a connection of the caller's own (a replica's notification
/// connection: it reads what a notification announced without handing over to another
/// thread first), with its statement prepared once per connection.
#[derive(Default)]
pub struct LogTail {
    prepared: Prepared,
}

impl LogTail {
    /// The events after `after`, at most `limit`, in the log's order, as
    /// [`LogReader::read_since`] reads them. A new connection must be given with `fresh`.
    pub fn read_since(
        &mut self,
        client: &mut Client,
        fresh: bool,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        if fresh {
            self.prepared.clear();
        }
        index::read_since(&mut Db::new(client, &mut self.prepared), after, limit)
    }
}

/// Makes a new connection to a store's database (TLS as its address asks), for what
/// replicas say to each other beside the log.
pub type Connect = Arc<dyn Fn() -> Result<Client, StoreError> + Send + Sync + 'static>;

/// The advisory lock the leader's appending connection holds (per database).
pub const LEADER_LOCK: i64 = 0x7761_7272_6c65_6164;

/// A frozen leader's session is ended by the database after this long without a word, and
/// its lock freed; the leader's keepalive (every tick) keeps a live one's.
const SESSION_TIMEOUT: &str = "10s";

impl EventStore for PgStore {
    fn append(&mut self, batch: &Append<'_>) -> Result<(), StoreError> {
        let batch = Batch::of(batch)?;
        self.call("appending", move |conn| {
            if conn.fenced {
                // A connection made again has lost the lock the old one held.
                conn.parts()?;
                if !conn.holds_lock {
                    return Err(StoreError::NotLeader(
                        "its connection to the database was lost, and the lead with it".into(),
                    ));
                }
            }
            let lead = conn.fenced.then_some(LEADER_LOCK);
            let floor =
                (conn.floor_written != Some(batch.resume_floor)).then_some(batch.resume_floor);
            let (client, prepared) = conn.parts()?;
            let done = append::append(&mut Db::new(client, prepared), lead, floor, &batch);
            match done {
                Ok(_) => conn.floor_written = Some(batch.resume_floor),
                Err(_) => {
                    conn.floor_written = None;
                    conn.forget_if_broken();
                }
            }
            done.map(|_| ())
        })
    }

    fn shared(&self) -> bool {
        true
    }

    fn refuses_answered_twice(&self) -> bool {
        true
    }

    fn lead(&mut self) -> Result<Option<u64>, StoreError> {
        self.call("taking the lead", |conn| {
            conn.fenced = true;
            conn.parts()?;
            if !conn.holds_lock {
                let (client, _) = conn.parts()?;
                client.batch_execute(&format!(
                    "SET idle_session_timeout = '{SESSION_TIMEOUT}'; \
                     SET idle_in_transaction_session_timeout = '{SESSION_TIMEOUT}'"
                ))?;
                // Held twice: an append checks the lead by giving one back and taking it
                // again (see `schema`, version 7), so the lock is never let go meanwhile.
                let got: bool = client
                    .query_one(
                        "SELECT pg_try_advisory_lock($1) AND pg_try_advisory_lock($1)",
                        &[&LEADER_LOCK],
                    )?
                    .try_get(0)?;
                if !got {
                    return Ok(None);
                }
                conn.holds_lock = true;
            }
            conn.floor_written = None;
            let (client, _) = conn.parts()?;
            let epoch: String = client
                .query_one(
                    "INSERT INTO meta (key, value) VALUES ('leader_epoch', '1') \
                     ON CONFLICT (key) DO UPDATE SET value = (meta.value::BIGINT + 1)::TEXT \
                     RETURNING value",
                    &[],
                )?
                .try_get(0)?;
            Ok(Some(epoch.parse().unwrap_or(0)))
        })
    }

    fn leading(&mut self) -> Result<bool, StoreError> {
        self.call("checking the lead", |conn| {
            if !conn.holds_lock || conn.client.as_ref().is_none_or(Client::is_closed) {
                conn.holds_lock = false;
                return Ok(false);
            }
            let (client, _) = conn.parts()?;
            if client.simple_query("SELECT 1").is_err() {
                conn.holds_lock = false;
                return Ok(false);
            }
            Ok(conn.holds_lock)
        })
    }

    fn answer(&self, actor: &str, id: &str) -> Result<Option<Answer>, StoreError> {
        let (actor, id) = (actor.to_string(), id.to_string());
        self.read("reading a command's answer", move |db| {
            index::answer(db, &actor, &id)
        })
    }

    fn answers(&self, keys: &[(String, String)]) -> Result<Vec<Option<Answer>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let (actors, ids): (Vec<String>, Vec<String>) = keys.iter().cloned().unzip();
        self.read("reading commands' answers", move |db| {
            index::answers(db, &actors, &ids)
        })
    }

    fn open_reader(&self) -> Result<Box<dyn LogReader>, StoreError> {
        Ok(Box::new(PgStore::connect(self.target.clone())?))
    }

    fn rebuild_indexes(&mut self) -> Result<(), StoreError> {
        self.call("rebuilding its indexes", |conn| {
            conn.write(|db| super::rows::rebuild(db))
        })
    }
}

impl LogReader for PgStore {
    fn feed_id(&self) -> Result<String, StoreError> {
        self.read("reading the feed id", index::feed_id)
    }

    fn head(&self) -> Result<u64, StoreError> {
        self.read("reading its head", index::head)
    }

    fn read_since(&self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        self.read("reading events", move |db| {
            index::read_since(db, after, limit)
        })
    }

    fn incident_events(&self, incident: IncidentRef, upto: u64) -> Result<Vec<Event>, StoreError> {
        self.read("reading an incident's events", move |db| {
            index::incident_events(db, incident, upto)
        })
    }

    fn last_seq_of(&self, incident: IncidentRef) -> Result<Option<u64>, StoreError> {
        self.read("reading an incident's last event", move |db| {
            index::last_seq_of(db, incident)
        })
    }

    fn latest_checkpoint(&self) -> Result<Option<State>, StoreError> {
        self.read("reading the latest checkpoint", |db| {
            index::latest_checkpoint(db)
        })
    }

    fn live_refs(
        &self,
        updated_after: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<IncidentRef>, StoreError> {
        self.read("reading the live incidents", move |db| {
            index::live_refs(db, updated_after)
        })
    }

    fn search(
        &self,
        query: &Search,
        viewer: Viewer<'_>,
        limit: usize,
        max_bytes: usize,
    ) -> Result<SearchPage, StoreError> {
        let (query, name, sees_all) = (query.clone(), viewer.name.to_string(), viewer.sees_all);
        self.read("searching", move |db| {
            let viewer = Viewer {
                name: &name,
                sees_all,
            };
            search::search(db, &query, viewer, limit, max_bytes)
        })
    }

    fn summaries(&self) -> Result<Vec<Incident>, StoreError> {
        self.read("reading the summaries", index::summaries)
    }

    fn fired_steps(&self) -> Result<Vec<Event>, StoreError> {
        self.read("reading the fired steps", index::fired_steps)
    }

    fn resume_floor(&self) -> Result<u64, StoreError> {
        self.read("reading the resume floor", index::resume_floor)
    }
}
