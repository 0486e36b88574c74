//! What a [`Store`] does for its users: opening (and indexing what an older version
//! stored), inserting, querying, counting and retention.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{Connection, params};

use super::db::{Store, Streams, lock};
use super::error::StoreError;
use super::limits::Retention;
use super::plan::Plan;
use super::schema::SCHEMA;
use super::streams::streams_changed;
use super::word_index::{catch_up_word_index, index_text, set_words_upto};
use crate::logsql::Query;
use crate::record::Record;

/// The store's database inside its directory.
const DATABASE_FILE: &str = "logs.sqlite";

impl Store {
    /// Whether a store was ever created in `dir` (without opening or creating one).
    pub fn exists_in(dir: &Path) -> bool {
        dir.join(DATABASE_FILE).is_file()
    }

    /// Opens (or creates) the store in `dir` (`dir/logs.sqlite`), indexing the rows an
    /// older version stored.
    pub fn open(dir: &Path, retention: Retention) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(DATABASE_FILE);
        let err = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let mut writer = Connection::open(&path).map_err(err)?;
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 PRAGMA cache_size = -8192;",
            )
            .map_err(err)?;
        writer.execute_batch(SCHEMA).map_err(err)?;
        catch_up_word_index(&mut writer).map_err(err)?;
        let rows = writer
            .query_row("SELECT COUNT(*) FROM logs", [], |r| r.get::<_, i64>(0))
            .map_err(err)?;
        // Page caches of 8 MiB (writes: the tails of the indexes) and 16 MiB (queries):
        // the box keeps them for its life, and every service it runs fits in 64 MB.
        let reader = Connection::open(&path).map_err(err)?;
        reader
            .execute_batch("PRAGMA cache_size = -16384;")
            .map_err(err)?;
        Ok(Self {
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
            streams: Mutex::new(Streams::default()),
            rows: AtomicU64::new(u64::try_from(rows).unwrap_or(0)),
            path,
            retention,
        })
    }

    /// Keeps the row count right after `n` rows were deleted.
    fn forget_rows(&self, n: usize) {
        let n = n as u64;
        let _ = self
            .rows
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |rows| {
                Some(rows.saturating_sub(n))
            });
    }

    /// Stores a batch in one transaction; when this returns Ok, every record is durable.
    pub fn insert(&self, records: &[Record]) -> Result<usize, StoreError> {
        // Everything that needs no lock first, so that concurrent batches prepare in
        // parallel while one is being written.
        let rows: Vec<(String, String, String)> = records
            .iter()
            .map(|r| {
                let fields = serde_json::to_string(&r.fields).unwrap_or_else(|_| "{}".into());
                (r.stream_text(), fields, index_text(r))
            })
            .collect();
        let mut conn = lock(&self.writer);
        let tx = conn.transaction().map_err(|e| self.error(e))?;
        {
            let mut insert_log = tx
                .prepare_cached(
                    "INSERT INTO logs (time_ns, stream, msg, fields) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(|e| self.error(e))?;
            let mut insert_words = tx
                .prepare_cached("INSERT INTO log_words (rowid, words) VALUES (?1, ?2)")
                .map_err(|e| self.error(e))?;
            let mut last_id = None;
            for (r, (stream, fields, words)) in records.iter().zip(&rows) {
                let id = insert_log
                    .insert(params![r.time_ns, stream, r.msg, fields])
                    .map_err(|e| self.error(e))?;
                insert_words
                    .execute(params![id, words])
                    .map_err(|e| self.error(e))?;
                last_id = Some(id);
            }
            let mut insert_stream = tx
                .prepare_cached("INSERT OR IGNORE INTO log_streams (stream) VALUES (?1)")
                .map_err(|e| self.error(e))?;
            let mut added = 0;
            let distinct: HashSet<&str> = rows.iter().map(|(s, _, _)| s.as_str()).collect();
            for s in distinct {
                added += insert_stream.execute([s]).map_err(|e| self.error(e))?;
            }
            if added > 0 {
                streams_changed(&tx).map_err(|e| self.error(e))?;
            }
            if let Some(id) = last_id {
                set_words_upto(&tx, id).map_err(|e| self.error(e))?;
            }
        }
        tx.commit().map_err(|e| self.error(e))?;
        self.rows.fetch_add(records.len() as u64, Ordering::Relaxed);
        Ok(records.len())
    }

    /// The records `query` selects, oldest first unless the query sorts otherwise.
    pub fn query(&self, query: &Query) -> Result<Vec<Record>, StoreError> {
        self.run(query, Plan::Auto)
    }

    /// Records stored.
    pub fn count(&self) -> Result<u64, StoreError> {
        lock(&self.reader)
            .query_row("SELECT COUNT(*) FROM logs", [], |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(|e| self.error(e))
    }

    /// Deletes records older than the retention age, then the oldest ones while the
    /// store is over its size; how many went.
    pub fn enforce_retention(&self, now_ns: i64) -> Result<usize, StoreError> {
        let mut conn = lock(&self.writer);
        let age = i64::try_from(self.retention.max_age.as_nanos()).unwrap_or(i64::MAX);
        let cutoff = now_ns.saturating_sub(age);
        let mut deleted = 0;
        loop {
            let n = delete_where(
                &mut conn,
                "SELECT id FROM logs WHERE time_ns < ?1 ORDER BY time_ns LIMIT ?2",
                params![cutoff, 50_000],
            )
            .map_err(|e| self.error(e))?;
            self.forget_rows(n);
            deleted += n;
            if n == 0 {
                break;
            }
        }
        loop {
            let bytes: i64 = conn
                .query_row(
                    "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size",
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| self.error(e))?;
            let bytes = u64::try_from(bytes).unwrap_or(0);
            if bytes <= self.retention.max_bytes {
                break;
            }
            // The share of the rows that takes the excess, and a tenth more, at least
            // 10000: one or two rounds rather than one per 10000 rows.
            let rows = self.rows.load(Ordering::Relaxed);
            let excess = bytes - self.retention.max_bytes;
            let share = u128::from(excess) * u128::from(rows) * 11 / (u128::from(bytes) * 10);
            let batch = i64::try_from(share).unwrap_or(i64::MAX).max(10_000);
            let n = delete_where(
                &mut conn,
                "SELECT id FROM logs ORDER BY id LIMIT ?1",
                params![batch],
            )
            .map_err(|e| self.error(e))?;
            self.forget_rows(n);
            deleted += n;
            if n == 0 {
                break;
            }
            // Merging the word index drops the deleted rows from it; VACUUM then
            // returns the free pages.
            conn.execute_batch(
                "INSERT INTO log_words (log_words) VALUES ('optimize');
                 PRAGMA wal_checkpoint(TRUNCATE); VACUUM;",
            )
            .map_err(|e| self.error(e))?;
        }
        if deleted > 0 {
            self.forget_empty_streams(&mut conn)?;
        }
        Ok(deleted)
    }
}

/// Deletes, in one transaction, the rows whose ids `select` (with `args`) returns, from
/// `logs` and from the word index; how many.
fn delete_where(
    conn: &mut Connection,
    select: &str,
    args: impl rusqlite::Params,
) -> rusqlite::Result<usize> {
    let tx = conn.transaction()?;
    let ids = {
        let mut stmt = tx.prepare(select)?;
        stmt.query_map(args, |r| r.get::<_, i64>(0))?
            .collect::<Result<Vec<_>, _>>()?
    };
    {
        let mut words = tx.prepare_cached("DELETE FROM log_words WHERE rowid = ?1")?;
        let mut logs = tx.prepare_cached("DELETE FROM logs WHERE id = ?1")?;
        for id in &ids {
            words.execute([id])?;
            logs.execute([id])?;
        }
    }
    tx.commit()?;
    Ok(ids.len())
}
