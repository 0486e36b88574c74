//! The embedded store: records in SQLite (WAL, synchronous commits) under the state dir,
//! indexed by time and stream. A batch is acknowledged only once its transaction has
//! committed, so an acknowledged record survives a crash. LogsQL filters the store
//! cannot express are evaluated on the rows its indexes narrow down.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};

use crate::logsql::Query;
use crate::record::Record;

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
    conn: Mutex<Connection>,
    path: PathBuf,
    retention: Retention,
}

/// Most rows a query looks at (a query without a limit is cut here, as a safety net).
pub const MAX_SCANNED: usize = 5_000_000;
/// Most records a query returns without `| limit`.
pub const DEFAULT_LIMIT: usize = 10_000;

impl Store {
    /// Opens (or creates) the store in `dir` (`dir/logs.sqlite`).
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
        let conn = Connection::open(&path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS logs (
                 id INTEGER PRIMARY KEY,
                 time_ns INTEGER NOT NULL,
                 stream TEXT NOT NULL,
                 msg TEXT NOT NULL,
                 fields TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS logs_time ON logs (time_ns);
             CREATE INDEX IF NOT EXISTS logs_stream_time ON logs (stream, time_ns);",
        )
        .map_err(err)?;
        Ok(Self {
            conn: Mutex::new(conn),
            path,
            retention,
        })
    }

    fn error(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores a batch in one transaction; when this returns Ok, every record is durable.
    pub fn insert(&self, records: &[Record]) -> Result<usize, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.error(e))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO logs (time_ns, stream, msg, fields) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(|e| self.error(e))?;
            for r in records {
                let fields = Value::Object(r.fields.clone()).to_string();
                stmt.execute(params![r.time_ns, r.stream_text(), r.msg, fields])
                    .map_err(|e| self.error(e))?;
            }
        }
        tx.commit().map_err(|e| self.error(e))?;
        Ok(records.len())
    }

    /// The records `query` selects, oldest first unless the query sorts otherwise.
    pub fn query(&self, query: &Query) -> Result<Vec<Record>, StoreError> {
        let (start, end) = query.filter.time_bounds();
        let stream = query.filter.required_stream();
        let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT time_ns, stream, msg, fields FROM logs
                 WHERE time_ns >= ?1 AND time_ns < ?2 ORDER BY time_ns, id",
            )
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map(
                params![start.unwrap_or(i64::MIN), end.unwrap_or(i64::MAX)],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                    ))
                },
            )
            .map_err(|e| self.error(e))?;
        let mut out = Vec::new();
        let sorting = query.sort.is_some();
        for (scanned, row) in rows.enumerate() {
            if scanned >= MAX_SCANNED || (!sorting && out.len() >= limit) {
                break;
            }
            let (time_ns, stream_text, msg, fields) = row.map_err(|e| self.error(e))?;
            let record = Record {
                time_ns,
                msg,
                stream: parse_stream(&stream_text),
                fields: serde_json::from_str::<Map<String, Value>>(&fields).unwrap_or_default(),
            };
            if stream
                .iter()
                .all(|(k, v)| record.stream.iter().any(|(a, b)| a == k && b == v))
                && query.filter.matches(&record)
            {
                out.push(record);
            }
        }
        if let Some(sort) = &query.sort {
            out.sort_by(|a, b| {
                let order = if sort.field == "_time" {
                    a.time_ns.cmp(&b.time_ns)
                } else {
                    a.field(&sort.field).cmp(&b.field(&sort.field))
                };
                if sort.desc { order.reverse() } else { order }
            });
            out.truncate(limit);
        }
        Ok(out)
    }

    /// Records stored.
    pub fn count(&self) -> Result<u64, StoreError> {
        self.lock()
            .query_row("SELECT COUNT(*) FROM logs", [], |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(|e| self.error(e))
    }

    /// Deletes records older than the retention age, then the oldest ones while the
    /// store is over its size; how many went.
    pub fn enforce_retention(&self, now_ns: i64) -> Result<usize, StoreError> {
        let conn = self.lock();
        let age = i64::try_from(self.retention.max_age.as_nanos()).unwrap_or(i64::MAX);
        let mut deleted = conn
            .execute(
                "DELETE FROM logs WHERE time_ns < ?1",
                params![now_ns.saturating_sub(age)],
            )
            .map_err(|e| self.error(e))?;
        loop {
            let bytes: i64 = conn
                .query_row(
                    "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size",
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| self.error(e))?;
            if u64::try_from(bytes).unwrap_or(0) <= self.retention.max_bytes {
                break;
            }
            let oldest: Option<i64> = conn
                .query_row(
                    "SELECT MAX(id) FROM (SELECT id FROM logs ORDER BY id LIMIT 10000)",
                    [],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.error(e))?
                .flatten();
            let Some(upto) = oldest else { break };
            deleted += conn
                .execute("DELETE FROM logs WHERE id <= ?1", params![upto])
                .map_err(|e| self.error(e))?;
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")
                .map_err(|e| self.error(e))?;
        }
        Ok(deleted)
    }
}

/// `{a="1",b="2"}` back into labels.
fn parse_stream(text: &str) -> Vec<(String, String)> {
    let inner = text.trim().trim_start_matches('{').trim_end_matches('}');
    let mut out = Vec::new();
    let mut rest = inner;
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().trim_start_matches(',').trim().to_string();
        let mut de = serde_json::Deserializer::from_str(after).into_iter::<String>();
        match de.next() {
            Some(Ok(value)) => {
                out.push((key, value));
                rest = &after[de.byte_offset()..];
            }
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(time_ns: i64, function: &str, msg: &str) -> Record {
        Record {
            time_ns,
            msg: msg.into(),
            stream: vec![
                ("function".into(), function.into()),
                ("job".into(), "esb".into()),
            ],
            fields: serde_json::json!({"level": "info", "n": 3})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        }
    }

    #[test]
    fn stream_labels_round_trip() {
        let r = record(1, "a \"quoted\", value", "m");
        assert_eq!(parse_stream(&r.stream_text()), r.stream);
        assert_eq!(parse_stream("{}"), vec![]);
    }

    #[test]
    fn records_survive_reopening_and_queries_filter_them() {
        let dir = tempfile::tempdir().expect("dir");
        {
            let store = Store::open(dir.path(), Retention::default()).expect("open");
            let batch = vec![
                record(1_000, "echo", "hello world"),
                record(2_000, "echo", "an error here"),
                record(3_000, "other", "an error there"),
            ];
            assert_eq!(store.insert(&batch).expect("insert"), 3);
        }
        let store = Store::open(dir.path(), Retention::default()).expect("reopen");
        assert_eq!(store.count().expect("count"), 3);
        let q = crate::logsql::parse("error _stream:{function=\"echo\"}", 10_000).expect("query");
        let found = store.query(&q).expect("query");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].msg, "an error here");
        assert_eq!(found[0].field("level").as_deref(), Some("info"));
        let q = crate::logsql::parse("* | sort by (_time desc) | limit 2", 10_000).expect("query");
        let found = store.query(&q).expect("query");
        assert_eq!(
            found.iter().map(|r| r.time_ns).collect::<Vec<_>>(),
            vec![3_000, 2_000]
        );
    }

    #[test]
    fn retention_drops_old_records() {
        let dir = tempfile::tempdir().expect("dir");
        let retention = Retention {
            max_age: Duration::from_secs(1),
            max_bytes: 1 << 30,
        };
        let store = Store::open(dir.path(), retention).expect("open");
        let now = 10_000_000_000;
        store
            .insert(&[
                record(now - 5_000_000_000, "f", "old"),
                record(now, "f", "new"),
            ])
            .expect("insert");
        assert_eq!(store.enforce_retention(now).expect("retention"), 1);
        assert_eq!(store.count().expect("count"), 1);
    }
}
