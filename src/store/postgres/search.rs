//! The search of the PostgreSQL log's incidents, paged: the rows matching every filter,
//! newest first, read a few at a time and judged for their reader one by one.

use ::postgres::GenericClient;
use ::postgres::types::ToSql;

use super::index::{Db, int, ref_of, service_key};
use crate::model::access::Viewer;
use crate::protocol::Search;
use crate::store::rows::{Pager, nanos};
use crate::store::{SearchPage, StoreError, words};

/// Rows read per look while filling a search page at first (more on each further look).
const FIRST_LOOK: i64 = 16;
const LARGEST_LOOK: i64 = 4096;

/// The search, paged: the rows matching every filter, newest first, judged for `viewer`
/// one by one (see [`words::found`]) until the page is full. Rows are read a few at a time
/// (by reference, below the last one read), so a page costs what it shows.
pub(super) fn search(
    db: &mut Db<'_, impl GenericClient>,
    q: &Search,
    viewer: Viewer<'_>,
    limit: usize,
    max_bytes: usize,
) -> Result<SearchPage, StoreError> {
    let mut args: Vec<Box<dyn ToSql + Sync>> = vec![Box::new(0i64)];
    let mut sql =
        String::from("SELECT ref, restricted, members, summary FROM incidents WHERE ref < $1");
    let mut arg = |v: Box<dyn ToSql + Sync>| {
        args.push(v);
        format!("${}", args.len())
    };
    if let Some(t) = q.since {
        sql += &format!(" AND declared_at >= {}", arg(Box::new(nanos(t))));
    }
    if let Some(t) = q.until {
        sql += &format!(" AND declared_at < {}", arg(Box::new(nanos(t))));
    }
    // Content filters apply to every row: the pager skips the restricted incidents the
    // viewer may not see when the search filters on content.
    if let Some(s) = q.severity {
        sql += &format!(" AND severity = {}", arg(Box::new(i32::from(s.number()))));
    }
    if let Some(s) = &q.service {
        sql += &format!(" AND service_key = {}", arg(Box::new(service_key(s))));
    }
    if let Some(a) = q.active {
        sql += &format!(" AND active = {}", arg(Box::new(a)));
    }
    let wanted = words::wanted(q);
    for w in wanted {
        // Every word that begins with `w`, in byte order: from `w` up to (not including)
        // `w` followed by the last code point.
        let upto = format!("{w}\u{10FFFF}");
        let (from, upto) = (arg(Box::new(w)), arg(Box::new(upto)));
        sql += &format!(
            " AND EXISTS (SELECT 1 FROM words WHERE incident = incidents.ref \
             AND word >= {from} COLLATE \"C\" AND word < {upto} COLLATE \"C\")"
        );
    }
    let look = arg(Box::new(0i64));
    sql += &format!(" ORDER BY ref DESC LIMIT {look}");
    let last = args.len() - 1;

    let mut pager = Pager::new(q, viewer, limit, max_bytes);
    let mut below = q.before.map_or(i64::MAX, |r| i64::from(r.0));
    let mut size = FIRST_LOOK
        .max(int(limit as u64).saturating_add(1))
        .min(LARGEST_LOOK);
    loop {
        args[0] = Box::new(below);
        args[last] = Box::new(size);
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref()).collect();
        let found = db.c.query(sql.as_str(), &params)?;
        for row in &found {
            let n = ref_of(row, 0)?;
            below = i64::from(n);
            let more = pager.offer(
                n,
                row.try_get(1)?,
                || Ok(row.try_get(2)?),
                || Ok(row.try_get(3)?),
            )?;
            if !more {
                return Ok(pager.finish());
            }
        }
        if (found.len() as i64) < size {
            return Ok(pager.finish());
        }
        size = (size * 4).min(LARGEST_LOOK);
    }
}
