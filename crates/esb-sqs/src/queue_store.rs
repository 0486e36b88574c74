//! Queues in the store: their rows, attributes, tags and message counts.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::SqsError;
use crate::queue_attributes::Attributes;

/// A queue as stored.
#[derive(Debug, Clone)]
pub struct QueueRow {
    pub id: i64,
    pub name: String,
    pub fifo: bool,
    pub attributes: Attributes,
    pub tags: BTreeMap<String, String>,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub purged_ms: Option<i64>,
}

fn map_json(text: &str) -> BTreeMap<String, String> {
    serde_json::from_str(text).unwrap_or_default()
}

fn to_json(map: &BTreeMap<String, String>) -> String {
    serde_json::to_string(map).unwrap_or_else(|_| "{}".into())
}

pub fn get(conn: &Connection, name: &str) -> Result<Option<QueueRow>, SqsError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, fifo, attributes, tags, created_ms, modified_ms, purged_ms
         FROM queues WHERE name = ?1",
    )?;
    let row = stmt
        .query_row([name], |r| {
            Ok(QueueRow {
                id: r.get(0)?,
                name: r.get(1)?,
                fifo: r.get::<_, i64>(2)? != 0,
                attributes: map_json(&r.get::<_, String>(3)?),
                tags: map_json(&r.get::<_, String>(4)?),
                created_ms: r.get(5)?,
                modified_ms: r.get(6)?,
                purged_ms: r.get(7)?,
            })
        })
        .optional()?;
    Ok(row)
}

/// The queue named `name`, or SQS's `QueueDoesNotExist`.
pub fn require(conn: &Connection, name: &str) -> Result<QueueRow, SqsError> {
    get(conn, name)?.ok_or_else(SqsError::no_queue)
}

pub fn insert(
    conn: &Connection,
    name: &str,
    fifo: bool,
    attributes: &Attributes,
    tags: &BTreeMap<String, String>,
    now: i64,
) -> Result<(), SqsError> {
    conn.execute(
        "INSERT INTO queues (name, fifo, attributes, tags, created_ms, modified_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![name, fifo as i64, to_json(attributes), to_json(tags), now],
    )?;
    Ok(())
}

pub fn set_attributes(
    conn: &Connection,
    id: i64,
    attributes: &Attributes,
    now: i64,
) -> Result<(), SqsError> {
    conn.execute(
        "UPDATE queues SET attributes = ?2, modified_ms = ?3 WHERE id = ?1",
        params![id, to_json(attributes), now],
    )?;
    Ok(())
}

pub fn set_tags(
    conn: &Connection,
    id: i64,
    tags: &BTreeMap<String, String>,
) -> Result<(), SqsError> {
    conn.execute(
        "UPDATE queues SET tags = ?2 WHERE id = ?1",
        params![id, to_json(tags)],
    )?;
    Ok(())
}

pub fn set_purged(conn: &Connection, id: i64, now: i64) -> Result<(), SqsError> {
    conn.execute(
        "UPDATE queues SET purged_ms = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

/// Removes the queue and everything in it.
pub fn delete(conn: &Connection, id: i64) -> Result<(), SqsError> {
    for sql in [
        "DELETE FROM messages WHERE queue_id = ?1",
        "DELETE FROM dedup WHERE queue_id = ?1",
        "DELETE FROM receive_attempts WHERE queue_id = ?1",
        "DELETE FROM queues WHERE id = ?1",
    ] {
        conn.execute(sql, [id])?;
    }
    Ok(())
}

/// Every queue, by name.
pub fn all(conn: &Connection) -> Result<Vec<QueueRow>, SqsError> {
    let names: Vec<String> = conn
        .prepare_cached("SELECT name FROM queues ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        if let Some(q) = get(conn, &n)? {
            out.push(q);
        }
    }
    Ok(out)
}

/// Names starting with `prefix`, after `after`, in order; at most `limit`.
pub fn names(
    conn: &Connection,
    prefix: &str,
    after: &str,
    limit: usize,
) -> Result<Vec<String>, SqsError> {
    let mut stmt = conn.prepare_cached(
        "SELECT name FROM queues WHERE substr(name, 1, length(?1)) = ?1 AND name > ?2
         ORDER BY name LIMIT ?3",
    )?;
    let names = stmt
        .query_map(params![prefix, after, limit as i64], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(names)
}

/// Messages waiting (visible), in flight, and delayed (never received, not yet
/// visible), retention expiry aside.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub visible: i64,
    pub in_flight: i64,
    pub delayed: i64,
}

pub fn counts(conn: &Connection, id: i64, now: i64) -> Result<Counts, SqsError> {
    let mut stmt = conn.prepare_cached(
        "SELECT
            COALESCE(SUM(visible_ms <= ?2), 0),
            COALESCE(SUM(visible_ms > ?2 AND receive_count > 0), 0),
            COALESCE(SUM(visible_ms > ?2 AND receive_count = 0), 0)
         FROM messages WHERE queue_id = ?1 AND expires_ms > ?2",
    )?;
    Ok(stmt.query_row(params![id, now], |r| {
        Ok(Counts {
            visible: r.get(0)?,
            in_flight: r.get(1)?,
            delayed: r.get(2)?,
        })
    })?)
}

/// The next FIFO sequence number of the queue: 20 digits, increasing.
pub fn next_sequence(conn: &Connection, id: i64) -> Result<String, SqsError> {
    let n: i64 = conn
        .prepare_cached(
            "UPDATE queues SET sequence = sequence + 1 WHERE id = ?1 RETURNING sequence",
        )?
        .query_row([id], |r| r.get(0))?;
    Ok(format!("{:020}", 10_000_000_000_000_000_000u64 + n as u64))
}
