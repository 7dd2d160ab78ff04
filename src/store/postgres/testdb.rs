//! A database of a test's own on the PostgreSQL server named by `WARROOM_TEST_POSTGRES`
//! (e.g. `postgres://postgres@127.0.0.1:5432/test`): made fresh, dropped when the test ends.

use ::postgres::{Client, NoTls};

/// The server tests make their databases on.
pub(crate) const SERVER_VAR: &str = "WARROOM_TEST_POSTGRES";

pub(crate) struct TestDb {
    /// The test's database, as `warroom serve --store` takes it.
    pub url: String,
    name: String,
    admin: String,
}

/// `url` with its database replaced by `db`.
pub(crate) fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{authority}/{db}{query}")
}

impl TestDb {
    /// A fresh database; `None` (saying `test` was skipped) when no server is named.
    pub fn create(test: &str) -> Option<TestDb> {
        let Ok(admin) = std::env::var(SERVER_VAR) else {
            eprintln!("skipped {test}: {SERVER_VAR} is not set");
            return None;
        };
        let name = format!("warroom_t_{}", uuid::Uuid::new_v4().simple());
        let mut c = Client::connect(&admin, NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to {SERVER_VAR}: {e}"));
        c.batch_execute(&format!(
            "CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0"
        ))
        .unwrap_or_else(|e| panic!("cannot create the database {name}: {e}"));
        Some(TestDb {
            url: with_database(&admin, &name),
            name,
            admin,
        })
    }

    /// A plain connection to the test's database (to look at or change it behind the
    /// store's back).
    pub fn client(&self) -> Client {
        Client::connect(&self.url, NoTls).expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Connections still open (a store's thread not finished yet) are ended with it.
        let dropped = Client::connect(&self.admin, NoTls).and_then(|mut c| {
            c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
        });
        if let Err(e) = dropped {
            eprintln!("could not drop the test database {}: {e}", self.name);
        }
    }
}
