//! The embedded store: records in SQLite (WAL, synchronous commits) under the state dir.
//! A batch is acknowledged only once its transaction has committed, so an acknowledged
//! record survives a crash.
//!
//! Indexes, and how a query uses them (every record they select is still checked with
//! [`Filter::matches`](crate::logsql::Filter::matches), so an index only ever narrows,
//! never decides):
//!
//! - `logs_time` (`time_ns`): the `_time` range, walked oldest or newest first, stopping
//!   as soon as `| limit N` records have matched (`| sort by (_time desc)` included).
//! - `logs_stream_time` (`stream`, `time_ns`) and the table of known streams: the
//!   `_stream:{…}` filters pick the streams first; their rows are walked (merged in time
//!   order) instead of everyone's.
//! - `log_words`, an FTS5 index of words: every word of the message, of each stream label
//!   and of each field, as one term per (field, lowercased word), hashed. It answers
//!   which rows hold the words a filter requires
//!   ([`Filter::required_words`](crate::logsql::Filter::required_words): words, phrases,
//!   `field:value`, exact values, prefixes' whole words, `in(…)`, AND and OR of those).
//!   Hashing the terms keeps FTS5's own tokenizer out of LogsQL's word rules.
//!   Contentless, with deletes (retention removes rows from it too).
//!
//! Anything else (regexes, `NOT`, comparisons, substrings within words) is evaluated on
//! the rows the indexes above leave, walking the time index.
//!
//! A store written before `log_words` and the stream table existed is indexed when it is
//! opened (once; `log_meta` remembers up to which row the word index is complete, so rows
//! added by an older version are indexed at the next open).
//!
//! Here: the store itself (opening, inserting, counting, retention) and its schema. A
//! query's plan is chosen in `plan`, its walks over the indexes are in `scan`, the
//! matches it keeps in `matches`; the word index is `word_index`, the table of known
//! streams `streams`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, params};

use crate::logsql::Query;
use crate::record::Record;

mod matches;
mod plan;
mod scan;
mod streams;
#[cfg(test)]
mod tests;
mod word_index;

use plan::Plan;
use streams::{Streams, streams_changed};
use word_index::{catch_up_word_index, index_text, set_words_upto};

/// How long records are kept, and how much space they may take.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub max_age: Duration,
    pub max_bytes: u64,
}

impl Default for Retention {
    /// VictoriaLogs keeps 7 days by default; 1 GiB suits an edge box.
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(7 * 24 * 3600),
            max_bytes: 1 << 30,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("log store {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot create {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub struct Store {
    /// Inserts and retention.
    writer: Mutex<Connection>,
    /// Queries: WAL lets them read while a batch is being written.
    reader: Mutex<Connection>,
    /// `log_streams`, as of the last query that needed it.
    streams: Mutex<Streams>,
    /// Records stored, kept up to date by inserts and retention (to choose query plans).
    rows: AtomicU64,
    path: PathBuf,
    retention: Retention,
}

/// Most rows a query looks at (a query without a limit is cut here, as a safety net).
pub const MAX_SCANNED: usize = 5_000_000;
/// Most records a query returns without `| limit`.
pub const DEFAULT_LIMIT: usize = 10_000;

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS logs (
        id INTEGER PRIMARY KEY,
        time_ns INTEGER NOT NULL,
        stream TEXT NOT NULL,
        msg TEXT NOT NULL,
        fields TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS logs_time ON logs (time_ns);
    CREATE INDEX IF NOT EXISTS logs_stream_time ON logs (stream, time_ns);
    CREATE TABLE IF NOT EXISTS log_streams (stream TEXT PRIMARY KEY) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS log_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)
        WITHOUT ROWID;
    CREATE VIRTUAL TABLE IF NOT EXISTS log_words USING fts5(
        words, content='', contentless_delete=1, detail=none, tokenize='ascii'
    );";

/// `log_meta` key: every row with an id up to this one is in `log_words`.
const WORDS_UPTO: &str = "words_upto";
/// `log_meta` key: changes whenever `log_streams` does.
const STREAMS_GENERATION: &str = "streams_generation";

impl Store {
    /// Opens (or creates) the store in `dir` (`dir/logs.sqlite`), indexing the rows an
    /// older version stored.
    pub fn open(dir: &Path, retention: Retention) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join("logs.sqlite");
        let err = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let mut writer = Connection::open(&path).map_err(err)?;
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 PRAGMA cache_size = -32768;",
            )
            .map_err(err)?;
        writer.execute_batch(SCHEMA).map_err(err)?;
        catch_up_word_index(&mut writer).map_err(err)?;
        let rows = writer
            .query_row("SELECT COUNT(*) FROM logs", [], |r| r.get::<_, i64>(0))
            .map_err(err)?;
        let reader = Connection::open(&path).map_err(err)?;
        reader
            .execute_batch("PRAGMA cache_size = -32768;")
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

    fn error(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
