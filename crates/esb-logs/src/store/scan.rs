//! The walks over the indexes: rows read in time order (oldest or newest first) from
//! the time index, one stream's index, or several streams' merged, each row evaluated
//! against the filter as it comes, until the query has enough.

use std::collections::{BinaryHeap, HashMap, HashSet};

use rusqlite::{Connection, Row, params};
use serde_json::{Map, Value};

use super::db::Store;
use super::error::StoreError;
use super::limits::MAX_SCANNED;
use super::matches::Matches;
use super::streams::parse_stream;
use crate::logsql::Filter;
use crate::record::Record;

// The walks, [oldest first, newest first]: each reads an index in order, never sorts
// (a test checks their query plans).
/// Rows of a time range.
pub(super) const WALK_ROWS: [&str; 2] = [
    "SELECT time_ns, stream, msg, fields FROM logs WHERE time_ns >= ?1 AND time_ns < ?2
     ORDER BY time_ns, id",
    "SELECT time_ns, stream, msg, fields FROM logs WHERE time_ns >= ?1 AND time_ns < ?2
     ORDER BY time_ns DESC, id DESC",
];
/// Rows of a time range of one stream.
pub(super) const WALK_STREAM_ROWS: [&str; 2] = [
    "SELECT time_ns, stream, msg, fields FROM logs
     WHERE stream = ?3 AND time_ns >= ?1 AND time_ns < ?2 ORDER BY time_ns, id",
    "SELECT time_ns, stream, msg, fields FROM logs
     WHERE stream = ?3 AND time_ns >= ?1 AND time_ns < ?2 ORDER BY time_ns DESC, id DESC",
];
/// Ids of a time range (the time index alone).
pub(super) const WALK_IDS: [&str; 2] = [
    "SELECT id, time_ns FROM logs WHERE time_ns >= ?1 AND time_ns < ?2 ORDER BY time_ns, id",
    "SELECT id, time_ns FROM logs WHERE time_ns >= ?1 AND time_ns < ?2
     ORDER BY time_ns DESC, id DESC",
];
/// Ids of a time range of one stream (the stream index alone).
pub(super) const WALK_STREAM_IDS: [&str; 2] = [
    "SELECT id, time_ns FROM logs WHERE stream = ?1 AND time_ns >= ?2 AND time_ns < ?3
     ORDER BY time_ns, id",
    "SELECT id, time_ns FROM logs WHERE stream = ?1 AND time_ns >= ?2 AND time_ns < ?3
     ORDER BY time_ns DESC, id DESC",
];

impl Store {
    /// Reads each candidate row, then hands the ones in `[start, end)` to `scan` in time
    /// order.
    pub(super) fn read_candidates(
        &self,
        conn: &Connection,
        ids: &[i64],
        start: i64,
        end: i64,
        scan: &mut Scan<'_>,
    ) -> Result<(), StoreError> {
        let mut stmt = conn
            .prepare_cached("SELECT time_ns, stream, msg, fields FROM logs WHERE id = ?1")
            .map_err(|e| self.error(e))?;
        let mut found: Vec<(i64, i64, Record)> = Vec::new();
        for &id in ids {
            let mut rows = stmt.query([id]).map_err(|e| self.error(e))?;
            let Some(row) = rows.next().map_err(|e| self.error(e))? else {
                continue;
            };
            let time_ns: i64 = row.get(0).map_err(|e| self.error(e))?;
            if time_ns < start || time_ns >= end {
                continue;
            }
            if let Some(r) = scan.evaluate(time_ns, row, 1).map_err(|e| self.error(e))? {
                found.push((time_ns, id, r));
            }
        }
        found.sort_by_key(|&(t, id, _)| (t, id));
        if scan.matches.desc {
            found.reverse();
        }
        for (t, _, r) in found {
            if !scan.matches.advance(t) {
                break;
            }
            scan.matches.push(r);
        }
        Ok(())
    }

    /// Walks the rows of the time range (of one stream, if given) in time order.
    pub(super) fn walk_rows(
        &self,
        conn: &Connection,
        (start, end, desc): (i64, i64, bool),
        stream: Option<&str>,
        scan: &mut Scan<'_>,
    ) -> Result<(), StoreError> {
        let sql = match stream {
            Some(_) => WALK_STREAM_ROWS[usize::from(desc)],
            None => WALK_ROWS[usize::from(desc)],
        };
        let mut stmt = conn.prepare_cached(sql).map_err(|e| self.error(e))?;
        let mut rows = match stream {
            Some(s) => stmt.query(params![start, end, s]),
            None => stmt.query(params![start, end]),
        }
        .map_err(|e| self.error(e))?;
        while let Some(row) = rows.next().map_err(|e| self.error(e))? {
            let time_ns: i64 = row.get(0).map_err(|e| self.error(e))?;
            if !scan.step(time_ns) {
                break;
            }
            if let Some(r) = scan.evaluate(time_ns, row, 1).map_err(|e| self.error(e))? {
                scan.matches.push(r);
            }
        }
        Ok(())
    }

    /// Walks the time index, reading only the rows in `candidates`.
    pub(super) fn walk_index(
        &self,
        conn: &Connection,
        (start, end, desc): (i64, i64, bool),
        candidates: &HashSet<i64>,
        scan: &mut Scan<'_>,
    ) -> Result<(), StoreError> {
        let sql = WALK_IDS[usize::from(desc)];
        let mut stmt = conn.prepare_cached(sql).map_err(|e| self.error(e))?;
        let mut rows = stmt.query(params![start, end]).map_err(|e| self.error(e))?;
        let mut read = Reader::new(self, conn)?;
        while let Some(row) = rows.next().map_err(|e| self.error(e))? {
            let id: i64 = row.get(0).map_err(|e| self.error(e))?;
            let time_ns: i64 = row.get(1).map_err(|e| self.error(e))?;
            if !scan.step(time_ns) {
                break;
            }
            if candidates.contains(&id) {
                read.evaluate(id, time_ns, scan)?;
            }
        }
        Ok(())
    }

    /// Walks the time range of each of `streams` at once, merged into time order,
    /// reading only the rows in `candidates` if given.
    pub(super) fn walk_streams(
        &self,
        conn: &Connection,
        (start, end, desc): (i64, i64, bool),
        streams: &[String],
        candidates: Option<&HashSet<i64>>,
        scan: &mut Scan<'_>,
    ) -> Result<(), StoreError> {
        let sql = WALK_STREAM_IDS[usize::from(desc)];
        let mut stmts = streams
            .iter()
            .map(|_| conn.prepare(sql))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(e))?;
        let mut cursors = stmts
            .iter_mut()
            .zip(streams)
            .map(|(stmt, s)| stmt.query(params![s, start, end]))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(e))?;
        // The next row of each cursor, in a heap ordered by walk order.
        let mut heap = BinaryHeap::new();
        let next = |rows: &mut rusqlite::Rows<'_>| -> rusqlite::Result<Option<(i64, i64)>> {
            match rows.next()? {
                Some(row) => Ok(Some((row.get::<_, i64>(1)?, row.get::<_, i64>(0)?))),
                None => Ok(None),
            }
        };
        for (i, rows) in cursors.iter_mut().enumerate() {
            if let Some((t, id)) = next(rows).map_err(|e| self.error(e))? {
                heap.push(HeapEntry::new(t, id, i, desc));
            }
        }
        let mut read = Reader::new(self, conn)?;
        while let Some(top) = heap.pop() {
            let (time_ns, id, i) = (top.time_ns, top.id, top.cursor);
            if let Some(rows) = cursors.get_mut(i)
                && let Some((t, id)) = next(rows).map_err(|e| self.error(e))?
            {
                heap.push(HeapEntry::new(t, id, i, desc));
            }
            if !scan.step(time_ns) {
                break;
            }
            if candidates.is_none_or(|c| c.contains(&id)) {
                read.evaluate(id, time_ns, scan)?;
            }
        }
        Ok(())
    }
}

/// One query's evaluation: which rows match, collected in the order asked for.
pub(super) struct Scan<'q> {
    pub(super) filter: &'q Filter,
    /// Whether the filter looks at fields (if not, their JSON is parsed for matches only).
    pub(super) reads_fields: bool,
    /// The `_stream` texts that may match (`None`: any).
    pub(super) allowed: Option<HashSet<String>>,
    /// Labels of the streams seen, by `_stream` text.
    pub(super) labels: HashMap<String, Vec<(String, String)>>,
    /// The row being evaluated (its buffers reused from row to row), and its `_stream`.
    pub(super) row: Record,
    pub(super) row_stream: String,
    pub(super) matches: Matches,
    pub(super) scanned: usize,
}

impl Scan<'_> {
    /// The walk reached a row at `time_ns`: false when it should stop.
    fn step(&mut self, time_ns: i64) -> bool {
        self.scanned += 1;
        self.scanned <= MAX_SCANNED && self.matches.advance(time_ns)
    }

    /// The record in `row` (`stream`, `msg`, `fields` from column `first` on) if it
    /// matches.
    fn evaluate(
        &mut self,
        time_ns: i64,
        row: &Row<'_>,
        first: usize,
    ) -> rusqlite::Result<Option<Record>> {
        let stream_text = row.get_ref(first)?.as_str()?;
        if self
            .allowed
            .as_ref()
            .is_some_and(|a| !a.contains(stream_text))
        {
            return Ok(None);
        }
        if self.row_stream != stream_text {
            let labels = self
                .labels
                .entry(stream_text.to_string())
                .or_insert_with(|| parse_stream(stream_text));
            self.row.stream.clone_from(labels);
            stream_text.clone_into(&mut self.row_stream);
        }
        let fields_json = row.get_ref(first + 2)?.as_str()?;
        let parse_fields =
            || serde_json::from_str::<Map<String, Value>>(fields_json).unwrap_or_default();
        self.row.time_ns = time_ns;
        row.get_ref(first + 1)?
            .as_str()?
            .clone_into(&mut self.row.msg);
        if self.reads_fields {
            self.row.fields = parse_fields();
        }
        if !self.filter.matches(&self.row) {
            return Ok(None);
        }
        let mut record = self.row.clone();
        if !self.reads_fields {
            record.fields = parse_fields();
        }
        Ok(Some(record))
    }
}

/// Reads rows by id for the walks over indexes.
struct Reader<'c> {
    store: &'c Store,
    stmt: rusqlite::CachedStatement<'c>,
}

impl<'c> Reader<'c> {
    fn new(store: &'c Store, conn: &'c Connection) -> Result<Self, StoreError> {
        let stmt = conn
            .prepare_cached("SELECT stream, msg, fields FROM logs WHERE id = ?1")
            .map_err(|e| store.error(e))?;
        Ok(Self { store, stmt })
    }

    fn evaluate(&mut self, id: i64, time_ns: i64, scan: &mut Scan<'_>) -> Result<(), StoreError> {
        let err = |e| self.store.error(e);
        let mut rows = self.stmt.query([id]).map_err(err)?;
        if let Some(row) = rows.next().map_err(err)?
            && let Some(r) = scan.evaluate(time_ns, row, 0).map_err(err)?
        {
            scan.matches.push(r);
        }
        Ok(())
    }
}

/// A stream cursor's next row, ordered so that the heap pops rows in walk order.
#[derive(PartialEq, Eq)]
struct HeapEntry {
    /// (time, id), negated for an ascending walk (the heap pops the largest).
    key: (i64, i64),
    time_ns: i64,
    id: i64,
    cursor: usize,
}

impl HeapEntry {
    fn new(time_ns: i64, id: i64, cursor: usize, desc: bool) -> Self {
        let key = if desc {
            (time_ns, id)
        } else {
            // !x reverses the order of i64 without overflow.
            (!time_ns, !id)
        };
        Self {
            key,
            time_ns,
            id,
            cursor,
        }
    }
}

impl Ord for HeapEntry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key
            .cmp(&other.key)
            .then(self.cursor.cmp(&other.cursor))
    }
}

impl PartialOrd for HeapEntry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
