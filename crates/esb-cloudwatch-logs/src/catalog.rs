//! What CloudWatch Logs knows beyond the records themselves, in a small SQLite file of
//! its own beside the log store (WAL, synchronous commits, like the store): the log
//! groups and streams created through the API (creation times, retention, tags, first
//! and last event times), and for the function groups, the workers seen in the store
//! (each worker's output is one log stream, as each execution environment is in
//! Lambda) and how far the store has been read for them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS groups (
        name TEXT PRIMARY KEY,
        created_ms INTEGER NOT NULL,
        retention_days INTEGER,
        tags TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE IF NOT EXISTS streams (
        grp TEXT NOT NULL,
        name TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        incarnation TEXT NOT NULL,
        first_event_ms INTEGER,
        last_event_ms INTEGER,
        last_ingestion_ms INTEGER,
        PRIMARY KEY (grp, name)
    );
    CREATE TABLE IF NOT EXISTS workers (
        function TEXT NOT NULL,
        worker TEXT NOT NULL,
        first_ms INTEGER NOT NULL,
        last_ms INTEGER NOT NULL,
        PRIMARY KEY (function, worker)
    );
    CREATE TABLE IF NOT EXISTS functions (
        function TEXT PRIMARY KEY,
        scanned_upto_ns INTEGER NOT NULL DEFAULT 0,
        hidden_before_ns INTEGER NOT NULL DEFAULT 0
    );";

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot create {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("CloudWatch Logs catalogue {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

#[derive(Debug, Clone)]
pub struct GroupRow {
    pub name: String,
    pub created_ms: i64,
    pub retention_days: Option<i64>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct StreamRow {
    pub name: String,
    pub created_ms: i64,
    /// Changes each time the stream is created: events of a deleted stream of the same
    /// name carry another one and are not read.
    pub incarnation: String,
    pub first_event_ms: Option<i64>,
    pub last_event_ms: Option<i64>,
    pub last_ingestion_ms: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct WorkerRow {
    pub worker: String,
    pub first_ms: i64,
    pub last_ms: i64,
}

pub struct Catalog {
    conn: Mutex<Connection>,
    path: PathBuf,
}

type Result<T> = std::result::Result<T, CatalogError>;

impl Catalog {
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join("catalog.sqlite3");
        std::fs::create_dir_all(dir).map_err(|source| CatalogError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        let err = |source| CatalogError::Sqlite {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;",
        )
        .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(Self {
            conn: Mutex::new(conn),
            path,
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn err(&self, source: rusqlite::Error) -> CatalogError {
        CatalogError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    pub fn group(&self, name: &str) -> Result<Option<GroupRow>> {
        self.conn()
            .query_row(
                "SELECT name, created_ms, retention_days, tags FROM groups WHERE name = ?1",
                [name],
                group_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn groups(&self) -> Result<Vec<GroupRow>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT name, created_ms, retention_days, tags FROM groups ORDER BY name")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], group_row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>();
        rows.map_err(|e| self.err(e))
    }

    /// False when the group exists already.
    pub fn create_group(
        &self,
        name: &str,
        now_ms: i64,
        tags: &BTreeMap<String, String>,
    ) -> Result<bool> {
        let tags = serde_json::to_string(tags).unwrap_or_else(|_| "{}".into());
        self.conn()
            .execute(
                "INSERT OR IGNORE INTO groups (name, created_ms, tags) VALUES (?1, ?2, ?3)",
                params![name, now_ms, tags],
            )
            .map(|n| n == 1)
            .map_err(|e| self.err(e))
    }

    /// Removes the group and its streams; false when there was none.
    pub fn delete_group(&self, name: &str) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        tx.execute("DELETE FROM streams WHERE grp = ?1", [name])
            .map_err(|e| self.err(e))?;
        let n = tx
            .execute("DELETE FROM groups WHERE name = ?1", [name])
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(n == 1)
    }

    pub fn set_retention(&self, name: &str, days: Option<i64>) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE groups SET retention_days = ?2 WHERE name = ?1",
                params![name, days],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    pub fn set_tags(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        let tags = serde_json::to_string(tags).unwrap_or_else(|_| "{}".into());
        self.conn()
            .execute(
                "UPDATE groups SET tags = ?2 WHERE name = ?1",
                params![name, tags],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    pub fn stream(&self, group: &str, name: &str) -> Result<Option<StreamRow>> {
        self.conn()
            .query_row(
                "SELECT name, created_ms, incarnation, first_event_ms, last_event_ms,
                        last_ingestion_ms
                 FROM streams WHERE grp = ?1 AND name = ?2",
                [group, name],
                stream_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn streams(&self, group: &str) -> Result<Vec<StreamRow>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT name, created_ms, incarnation, first_event_ms, last_event_ms,
                        last_ingestion_ms
                 FROM streams WHERE grp = ?1 ORDER BY name",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([group], stream_row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>();
        rows.map_err(|e| self.err(e))
    }

    /// False when the stream exists already.
    pub fn create_stream(&self, group: &str, name: &str, now_ms: i64) -> Result<bool> {
        let incarnation = uuid::Uuid::new_v4().simple().to_string();
        self.conn()
            .execute(
                "INSERT OR IGNORE INTO streams (grp, name, created_ms, incarnation)
                 VALUES (?1, ?2, ?3, ?4)",
                params![group, name, now_ms, incarnation],
            )
            .map(|n| n == 1)
            .map_err(|e| self.err(e))
    }

    pub fn delete_stream(&self, group: &str, name: &str) -> Result<bool> {
        self.conn()
            .execute(
                "DELETE FROM streams WHERE grp = ?1 AND name = ?2",
                [group, name],
            )
            .map(|n| n == 1)
            .map_err(|e| self.err(e))
    }

    /// Events from `first_ms` to `last_ms` were stored in the stream at `ingestion_ms`.
    pub fn note_events(
        &self,
        group: &str,
        name: &str,
        first_ms: i64,
        last_ms: i64,
        ingestion_ms: i64,
    ) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE streams SET
                    first_event_ms = MIN(COALESCE(first_event_ms, ?3), ?3),
                    last_event_ms = MAX(COALESCE(last_event_ms, ?4), ?4),
                    last_ingestion_ms = ?5
                 WHERE grp = ?1 AND name = ?2",
                params![group, name, first_ms, last_ms, ingestion_ms],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    pub fn workers(&self, function: &str) -> Result<Vec<WorkerRow>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT worker, first_ms, last_ms FROM workers WHERE function = ?1
                 ORDER BY worker",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([function], |r| {
                Ok(WorkerRow {
                    worker: r.get(0)?,
                    first_ms: r.get(1)?,
                    last_ms: r.get(2)?,
                })
            })
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>();
        rows.map_err(|e| self.err(e))
    }

    /// `(scanned_upto_ns, hidden_before_ns)` of a function's group.
    pub fn function_marks(&self, function: &str) -> Result<(i64, i64)> {
        self.conn()
            .query_row(
                "SELECT scanned_upto_ns, hidden_before_ns FROM functions WHERE function = ?1",
                [function],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(|e| self.err(e))
    }

    /// Records what a read of the store up to `upto_ns` found of `function`'s workers.
    pub fn note_workers(&self, function: &str, seen: &[WorkerRow], upto_ns: i64) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        {
            let mut upsert = tx
                .prepare(
                    "INSERT INTO workers (function, worker, first_ms, last_ms)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (function, worker) DO UPDATE SET
                        first_ms = MIN(first_ms, excluded.first_ms),
                        last_ms = MAX(last_ms, excluded.last_ms)",
                )
                .map_err(|e| self.err(e))?;
            for w in seen {
                upsert
                    .execute(params![function, w.worker, w.first_ms, w.last_ms])
                    .map_err(|e| self.err(e))?;
            }
            tx.execute(
                "INSERT INTO functions (function, scanned_upto_ns) VALUES (?1, ?2)
                 ON CONFLICT (function) DO UPDATE SET
                    scanned_upto_ns = MAX(scanned_upto_ns, excluded.scanned_upto_ns)",
                params![function, upto_ns],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// DeleteLogGroup of a function's group: its records so far are no longer read, its
    /// workers forgotten; what the function writes next starts the group again.
    pub fn hide_function(&self, function: &str, before_ns: i64) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        tx.execute("DELETE FROM workers WHERE function = ?1", [function])
            .map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO functions (function, scanned_upto_ns, hidden_before_ns)
             VALUES (?1, ?2, ?2)
             ON CONFLICT (function) DO UPDATE SET
                scanned_upto_ns = excluded.scanned_upto_ns,
                hidden_before_ns = excluded.hidden_before_ns",
            params![function, before_ns],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }
}

fn group_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<GroupRow> {
    let tags: String = r.get(3)?;
    Ok(GroupRow {
        name: r.get(0)?,
        created_ms: r.get(1)?,
        retention_days: r.get(2)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
    })
}

fn stream_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StreamRow> {
    Ok(StreamRow {
        name: r.get(0)?,
        created_ms: r.get(1)?,
        incarnation: r.get(2)?,
        first_event_ms: r.get(3)?,
        last_event_ms: r.get(4)?,
        last_ingestion_ms: r.get(5)?,
    })
}
