//! Feeds on PostgreSQL in the integration tests. `WARROOM_TEST_POSTGRES` names a server to
//! make databases on (`postgres://postgres@127.0.0.1:5432/test`); with
//! `WARROOM_TEST_STORE=postgres` as well, every feed these helpers start keeps its log in a
//! database of its own instead of SQLite: one per data directory, so a feed restarted on
//! the same directory finds its log again. A database is dropped once its directory is
//! gone (looked at whenever a feed starts, and for what earlier runs left, at the first).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use postgres::{Client, NoTls};

pub const SERVER_VAR: &str = "WARROOM_TEST_POSTGRES";
pub const STORE_VAR: &str = "WARROOM_TEST_STORE";

/// Runs `f` on a thread of its own: the blocking client must not run on an async worker.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(f)
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// `url` with its database replaced by `db`.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{authority}/{db}{query}")
}

/// A database of a test's own, dropped with it.
pub struct TestDb {
    pub url: String,
    pub name: String,
    admin: String,
}

impl TestDb {
    /// A fresh database named `prefix_…`, noted with `comment`; `None` (saying `test` was
    /// skipped) when no server is named.
    pub fn create(test: &str, prefix: &str, comment: &str) -> Option<TestDb> {
        let Ok(admin) = std::env::var(SERVER_VAR) else {
            eprintln!("skipped {test}: {SERVER_VAR} is not set");
            return None;
        };
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        off_runtime(|| {
            let mut c = Client::connect(&admin, NoTls)
                .unwrap_or_else(|e| panic!("cannot connect to {SERVER_VAR}: {e}"));
            c.batch_execute(&format!(
                "CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0"
            ))
            .and_then(|()| {
                c.batch_execute(&format!(
                    "COMMENT ON DATABASE {name} IS '{}'",
                    comment.replace('\'', "''")
                ))
            })
            .unwrap_or_else(|e| panic!("cannot create the database {name}: {e:?}"));
        });
        Some(TestDb {
            url: with_database(&admin, &name),
            name,
            admin,
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin, name) = (&self.admin, &self.name);
        off_runtime(|| {
            let dropped = Client::connect(admin, NoTls).and_then(|mut c| {
                c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            });
            if let Err(e) = dropped {
                eprintln!("could not drop the test database {name}: {e}");
            }
        });
    }
}

/// A feed's database, kept while `watch` (its data directory, or the nearest directory
/// above it that existed when it started: the test's own temporary one) is there.
struct Feed {
    watch: PathBuf,
    db: TestDb,
}

/// Databases of feeds started by this test binary, by data directory.
static FEEDS: Mutex<Option<HashMap<PathBuf, Feed>>> = Mutex::new(None);

/// Drops what earlier runs left: feed databases whose data directory is gone.
fn sweep_leftovers(admin: &str) {
    off_runtime(|| {
        let Ok(mut c) = Client::connect(admin, NoTls) else {
            return;
        };
        let Ok(rows) = c.query(
            "SELECT datname, COALESCE(shobj_description(oid, 'pg_database'), '') \
             FROM pg_database WHERE datname LIKE 'warroom_feed_%'",
            &[],
        ) else {
            return;
        };
        for row in rows {
            let (name, dir): (String, String) = (row.get(0), row.get(1));
            if !dir.is_empty() && !Path::new(&dir).exists() {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    });
}

/// The database a feed on `data` keeps its log in, when the tests run feeds on PostgreSQL
/// (`WARROOM_TEST_STORE=postgres`); `None` otherwise (SQLite in `data`).
pub fn store_for(data: &Path) -> Option<String> {
    match std::env::var(STORE_VAR).as_deref() {
        Ok("postgres") => {}
        Ok("sqlite") | Ok("") | Err(_) => return None,
        Ok(other) => panic!("{STORE_VAR}={other}: use postgres or sqlite"),
    }
    let admin = std::env::var(SERVER_VAR)
        .unwrap_or_else(|_| panic!("{STORE_VAR}=postgres needs {SERVER_VAR}"));
    let mut feeds = FEEDS.lock().unwrap_or_else(|p| p.into_inner());
    let feeds = feeds.get_or_insert_with(|| {
        sweep_leftovers(&admin);
        HashMap::new()
    });
    // Tests that finished took their directories with them.
    feeds.retain(|_, f| f.watch.exists());
    let dir = data.to_path_buf();
    if let Some(f) = feeds.get(&dir) {
        return Some(f.db.url.clone());
    }
    let watch = dir
        .ancestors()
        .find(|d| d.exists())
        .unwrap_or(&dir)
        .to_path_buf();
    let db = TestDb::create("a feed", "warroom_feed", &watch.display().to_string())?;
    let url = db.url.clone();
    feeds.insert(dir, Feed { watch, db });
    Some(url)
}
