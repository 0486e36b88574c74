//! The catalogue's tables and the SQLite settings that make a commit durable.

use std::path::Path;

use rusqlite::Connection;

use crate::error::StoreResult;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    versioning TEXT NOT NULL DEFAULT '',
    tags TEXT,
    cors TEXT,
    notifications TEXT
);
-- Keys are BLOBs: SQLite compares them with memcmp, which is S3's order (UTF-8 bytes).
CREATE TABLE IF NOT EXISTS versions (
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    seq INTEGER NOT NULL,
    version_id TEXT NOT NULL,
    latest INTEGER NOT NULL,
    delete_marker INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified_ms INTEGER NOT NULL,
    meta TEXT NOT NULL,
    segments TEXT NOT NULL,
    PRIMARY KEY (bucket, key, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS current_objects ON versions (bucket, key) WHERE latest = 1;
CREATE UNIQUE INDEX IF NOT EXISTS version_ids ON versions (bucket, key, version_id);
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    initiated_ms INTEGER NOT NULL,
    meta TEXT NOT NULL,
    checksum_algorithm TEXT
);
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads (bucket, key, initiated_ms);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    blob TEXT,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified_ms INTEGER NOT NULL,
    checksums TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
-- How many rows (versions, parts) name each blob; a blob at zero is deleted.
CREATE TABLE IF NOT EXISTS blobs (
    id TEXT PRIMARY KEY,
    refs INTEGER NOT NULL
) WITHOUT ROWID;
-- Notifications committed with their writes, delivered (at least once) after.
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    function_arn TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";

/// Opens the catalogue: WAL (readers beside the writer), `synchronous=FULL` (a commit
/// is on disk before it returns, so an acknowledged write survives a crash), and a
/// busy timeout for the moments the reader and writer meet on a checkpoint.
pub fn open(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

/// Opens the catalogue of a store another process serves, for reading only.
pub fn open_read_only(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// The next value of the store-wide write counter (version order, event sequencer).
pub fn next_seq(tx: &Connection) -> StoreResult<i64> {
    Ok(tx.query_row(
        "INSERT INTO counters (name, value) VALUES ('seq', 1)
         ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
        [],
        |r| r.get(0),
    )?)
}
