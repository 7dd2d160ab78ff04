//! `warroom store copy --from DIR --to URL`: a feed's SQLite log into PostgreSQL.

use super::args::StoreAction;

/// Runs a `warroom store` command (blocking: call it off the async runtime's workers).
pub fn store(action: &StoreAction) -> anyhow::Result<()> {
    match action {
        StoreAction::Copy { from, to } => {
            let mut told = 0;
            let report = crate::store::copy_to_postgres(from, to, move |done, of| {
                // A line at every tenth of the log.
                let tenth = (done * 10).checked_div(of).unwrap_or(10);
                if tenth > told {
                    told = tenth;
                    eprintln!("copied {done} of {of} events");
                }
            })?;
            println!("{report}");
            Ok(())
        }
    }
}
