//! Presence across replicas: each one writes who is connected to it into `presence` (when
//! that changes, and every few seconds so the others know it is alive) and reads what the
//! others wrote every second; a replica silent for longer than [`STALE`] is taken to be gone,
//! its people with it. A thread of its own owns the connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Connect;
use crate::protocol::Presence;
use crate::server::App;

/// How often a replica looks for changes of its own and reads the others'.
const STEP: Duration = Duration::from_millis(250);
/// A replica says it is alive at least this often.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// Others' presence is read at least this often.
const READ_EVERY: Duration = Duration::from_secs(1);
/// A replica not heard from for this long is gone (in seconds, as the database counts).
const STALE: &str = "15 seconds";

/// Starts the presence thread for `replica`; it removes the replica's row and stops when
/// the server shuts down.
pub fn spawn_presence(connect: Connect, replica: String, app: Arc<App>) {
    let spawned = std::thread::Builder::new()
        .name("warroom-presence".into())
        .spawn(move || run(connect, replica, app));
    if let Err(e) = spawned {
        tracing::error!("cannot start the presence thread: {e}");
    }
}

fn run(connect: Connect, replica: String, app: Arc<App>) {
    let mut db: Option<::postgres::Client> = None;
    let mut written: Option<u64> = None;
    let mut last_write = Instant::now();
    let mut last_read = Instant::now() - READ_EVERY;
    loop {
        if *app.shutdown.borrow() {
            if let Some(c) = db.as_mut() {
                let _ = c.execute("DELETE FROM presence WHERE replica = $1", &[&replica]);
            }
            return;
        }
        if db.as_ref().is_none_or(::postgres::Client::is_closed) {
            written = None;
            db = match connect() {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::debug!("presence across replicas: {e}");
                    std::thread::sleep(READ_EVERY);
                    continue;
                }
            };
        }
        let Some(c) = db.as_mut() else { continue };
        let (version, local) = app.presence.local();
        if written != Some(version) || last_write.elapsed() >= HEARTBEAT {
            let body = serde_json::to_string(&local).unwrap_or_default();
            let wrote = c.execute(
                "INSERT INTO presence (replica, body, updated_at) VALUES ($1, $2, now()) \
                 ON CONFLICT (replica) DO UPDATE SET body = EXCLUDED.body, updated_at = now()",
                &[&replica, &body],
            );
            match wrote {
                Ok(_) => {
                    written = Some(version);
                    last_write = Instant::now();
                }
                Err(e) => tracing::debug!("writing this replica's presence: {e}"),
            }
        }
        if last_read.elapsed() >= READ_EVERY {
            let rows = c.query(
                &format!(
                    "SELECT body FROM presence WHERE replica <> $1 \
                     AND updated_at > now() - interval '{STALE}'"
                ),
                &[&replica],
            );
            match rows {
                Ok(rows) => {
                    let mut remote: Vec<Presence> = Vec::new();
                    for r in rows {
                        let Ok(body) = r.try_get::<_, String>(0) else {
                            continue;
                        };
                        if let Ok(list) = serde_json::from_str::<Vec<Presence>>(&body) {
                            remote.extend(list);
                        }
                    }
                    app.presence.set_remote(remote);
                    last_read = Instant::now();
                }
                Err(e) => tracing::debug!("reading the other replicas' presence: {e}"),
            }
        }
        std::thread::sleep(STEP);
    }
}
