//! The embedded store: records in SQLite (WAL, synchronous commits) under the state dir.
//! A batch is acknowledged only once its transaction has committed, so an acknowledged
//! record survives a crash.
//!
//! Indexes, and how a query uses them (every record they select is still checked with
//! [`Filter::matches`], so an index only ever narrows, never decides):
//!
//! - `logs_time` (`time_ns`): the `_time` range, walked oldest or newest first, stopping
//!   as soon as `| limit N` records have matched (`| sort by (_time desc)` included).
//! - `logs_stream_time` (`stream`, `time_ns`) and the table of known streams: the
//!   `_stream:{…}` filters pick the streams first; their rows are walked (merged in time
//!   order) instead of everyone's.
//! - `log_words`, an FTS5 index of words: every word of the message, of each stream label
//!   and of each field, as one term per (field, lowercased word), hashed. It answers
//!   which rows hold the words a filter requires ([`Filter::required_words`]: words,
//!   phrases, `field:value`, exact values, prefixes' whole words, `in(…)`, AND and OR of
//!   those). Hashing the terms keeps FTS5's own tokenizer out of LogsQL's word rules.
//!   Contentless, with deletes (retention removes rows from it too).
//!
//! Anything else (regexes, `NOT`, comparisons, substrings within words) is evaluated on
//! the rows the indexes above leave, walking the time index.
//!
//! A store written before `log_words` and the stream table existed is indexed when it is
//! opened (once; `log_meta` remembers up to which row the word index is complete, so rows
//! added by an older version are indexed at the next open).

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde_json::{Map, Value};

use crate::logsql::{self, Filter, Query, Required};
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
/// Most rows taken from the word index for one query: a filter whose words more rows
/// have than this is not selective, and walking the time index finds its matches sooner.
const MAX_CANDIDATES: usize = 200_000;
/// How many rows the word index gives for the cost of evaluating one row while walking
/// the time index (measured: about 0.07 µs against 1 µs).
const CANDIDATES_PER_EVALUATION: f64 = 15.0;
/// Most streams walked side by side; a filter selecting more streams walks the time index.
const MAX_MERGED_STREAMS: usize = 64;
/// Most terms in one word-index lookup.
const MAX_TERMS: usize = 64;
/// How many index entries a walk steps over for the cost of reading one row (a guess,
/// to choose between reading candidates directly and walking the time index).
const STEPS_PER_READ: u64 = 20;
/// Rows (re)indexed per transaction when an older store is opened.
const BACKFILL_CHUNK: i64 = 10_000;

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

// The walks, [oldest first, newest first]: each reads an index in order, never sorts
// (a test checks their query plans).
/// Rows of a time range.
const WALK_ROWS: [&str; 2] = [
    "SELECT time_ns, stream, msg, fields FROM logs WHERE time_ns >= ?1 AND time_ns < ?2
     ORDER BY time_ns, id",
    "SELECT time_ns, stream, msg, fields FROM logs WHERE time_ns >= ?1 AND time_ns < ?2
     ORDER BY time_ns DESC, id DESC",
];
/// Rows of a time range of one stream.
const WALK_STREAM_ROWS: [&str; 2] = [
    "SELECT time_ns, stream, msg, fields FROM logs
     WHERE stream = ?3 AND time_ns >= ?1 AND time_ns < ?2 ORDER BY time_ns, id",
    "SELECT time_ns, stream, msg, fields FROM logs
     WHERE stream = ?3 AND time_ns >= ?1 AND time_ns < ?2 ORDER BY time_ns DESC, id DESC",
];
/// Ids of a time range (the time index alone).
const WALK_IDS: [&str; 2] = [
    "SELECT id, time_ns FROM logs WHERE time_ns >= ?1 AND time_ns < ?2 ORDER BY time_ns, id",
    "SELECT id, time_ns FROM logs WHERE time_ns >= ?1 AND time_ns < ?2
     ORDER BY time_ns DESC, id DESC",
];
/// Ids of a time range of one stream (the stream index alone).
const WALK_STREAM_IDS: [&str; 2] = [
    "SELECT id, time_ns FROM logs WHERE stream = ?1 AND time_ns >= ?2 AND time_ns < ?3
     ORDER BY time_ns, id",
    "SELECT id, time_ns FROM logs WHERE stream = ?1 AND time_ns >= ?2 AND time_ns < ?3
     ORDER BY time_ns DESC, id DESC",
];

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

    fn run(&self, query: &Query, plan: Plan) -> Result<Vec<Record>, StoreError> {
        let (start, end) = query.filter.time_bounds();
        let (start, end) = (start.unwrap_or(i64::MIN), end.unwrap_or(i64::MAX));
        let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
        if start >= end || limit == 0 {
            return Ok(Vec::new());
        }
        // Records come out in time order (newest first for `sort by (_time desc)`);
        // a sort on another field needs every match first.
        let (desc, stop_after, top) = match &query.sort {
            None => (false, Some(limit), None),
            Some(s) if s.field == "_time" => (s.desc, Some(limit), None),
            Some(s) => (false, None, Some(TopN::new(s, limit))),
        };
        let mut reader = lock(&self.reader);
        // One read transaction: the streams, the word index and the rows as of one commit.
        let conn = reader.transaction().map_err(|e| self.error(e))?;
        let streams = match plan {
            Plan::Scan => None,
            _ => self.streams_to_read(&conn, &query.filter)?,
        };
        if streams.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        let mut scan = Scan {
            filter: &query.filter,
            reads_fields: query.filter.reads_fields(),
            allowed: streams
                .as_ref()
                .map(|s| s.iter().cloned().collect::<HashSet<_>>()),
            labels: HashMap::new(),
            row: Record {
                time_ns: 0,
                msg: String::new(),
                stream: Vec::new(),
                fields: Map::new(),
            },
            row_stream: String::new(),
            collector: Collector::new(desc, stop_after, top),
            scanned: 0,
        };
        let candidates = match query.filter.required_words() {
            Some(required) if plan != Plan::Scan => {
                self.candidates(&conn, &required, self.candidate_cap(stop_after))?
            }
            _ => None,
        };
        let direct = |n| match plan {
            Plan::Auto => self.read_directly(n, stop_after),
            Plan::Direct => true,
            Plan::Scan | Plan::Walk => false,
        };
        match candidates {
            Some(ids) if direct(ids.len()) => {
                self.read_candidates(&conn, &ids, start, end, &mut scan)?;
            }
            candidates => {
                let set = candidates.map(|ids| ids.into_iter().collect::<HashSet<i64>>());
                let range = (start, end, desc);
                match streams.as_deref() {
                    Some(list) if list.len() <= MAX_MERGED_STREAMS => {
                        if let [one] = list
                            && set.is_none()
                        {
                            self.walk_rows(&conn, range, Some(one), &mut scan)?;
                        } else {
                            self.walk_streams(&conn, range, list, set.as_ref(), &mut scan)?;
                        }
                    }
                    _ => match &set {
                        Some(set) => self.walk_index(&conn, range, set, &mut scan)?,
                        None => self.walk_rows(&conn, range, None, &mut scan)?,
                    },
                }
            }
        }
        Ok(scan.collector.finish())
    }

    /// The streams whose records may match (every `_stream:{…}` of a top-level AND
    /// holds), or `None` for all of them.
    fn streams_to_read(
        &self,
        conn: &Connection,
        filter: &Filter,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let selectors = filter.required_stream_selectors();
        if selectors.is_empty() {
            return Ok(None);
        }
        let err = |e| self.error(e);
        let mut streams = lock(&self.streams);
        let generation: i64 = conn
            .prepare_cached("SELECT value FROM log_meta WHERE key = ?1")
            .map_err(err)?
            .query_row([STREAMS_GENERATION], |r| r.get(0))
            .optional()
            .map_err(err)?
            .unwrap_or(0);
        if streams.generation != Some(generation) {
            let mut stmt = conn
                .prepare_cached("SELECT stream FROM log_streams")
                .map_err(err)?;
            let texts = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(err)?;
            streams.labels = texts
                .into_iter()
                .map(|t| {
                    let labels = parse_stream(&t);
                    (t, labels)
                })
                .collect();
            streams.generation = Some(generation);
        }
        let mut probe = Record {
            time_ns: 0,
            msg: String::new(),
            stream: Vec::new(),
            fields: Map::new(),
        };
        let mut out = Vec::new();
        for (text, labels) in &streams.labels {
            probe.stream.clone_from(labels);
            if selectors.iter().all(|s| s.matches(&probe)) {
                out.push(text.clone());
            }
        }
        Ok((out.len() < streams.labels.len()).then_some(out))
    }

    /// How many candidates are worth taking from the word index. With a limit, walking
    /// the time index without them evaluates about `limit × rows / n` rows before the
    /// limit is reached; taking `n` candidates pays off while it costs less than that:
    /// `n < sqrt(CANDIDATES_PER_EVALUATION × limit × rows)`.
    fn candidate_cap(&self, stop_after: Option<usize>) -> usize {
        let Some(limit) = stop_after else {
            return MAX_CANDIDATES;
        };
        let rows = self.rows.load(Ordering::Relaxed) as f64;
        let worth = (CANDIDATES_PER_EVALUATION * limit as f64 * rows).sqrt();
        (worth as usize).clamp(10_000, MAX_CANDIDATES)
    }

    /// The ids of the rows holding the words `required` asks for, ascending, or `None`
    /// when more than `cap` do.
    fn candidates(
        &self,
        conn: &Connection,
        required: &Required,
        cap: usize,
    ) -> Result<Option<Vec<i64>>, StoreError> {
        let mut budget = MAX_TERMS;
        let Some(expr) = match_expression(required, &mut budget) else {
            return Ok(None);
        };
        let mut stmt = conn
            .prepare_cached("SELECT rowid FROM log_words WHERE log_words MATCH ?1")
            .map_err(|e| self.error(e))?;
        let mut rows = stmt.query([expr]).map_err(|e| self.error(e))?;
        let mut ids = Vec::new();
        while let Some(row) = rows.next().map_err(|e| self.error(e))? {
            if ids.len() == cap {
                return Ok(None);
            }
            ids.push(row.get::<_, i64>(0).map_err(|e| self.error(e))?);
        }
        Ok(Some(ids))
    }

    /// Whether reading `candidates` rows one by one costs less than walking the time
    /// index until `stop_after` of them are found.
    fn read_directly(&self, candidates: usize, stop_after: Option<usize>) -> bool {
        let candidates = candidates as u64;
        let rows = self.rows.load(Ordering::Relaxed).max(1);
        let walk = match stop_after {
            Some(limit) => {
                let limit = limit as u64;
                let steps = rows.min(limit.saturating_mul(rows) / candidates.max(1));
                steps / STEPS_PER_READ + limit.min(candidates)
            }
            None => rows / STEPS_PER_READ + candidates,
        };
        candidates <= walk
    }

    /// Reads each candidate row, then hands the ones in `[start, end)` to `scan` in time
    /// order.
    fn read_candidates(
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
        if scan.collector.desc {
            found.reverse();
        }
        for (t, _, r) in found {
            if !scan.collector.advance(t) {
                break;
            }
            scan.collector.push(r);
        }
        Ok(())
    }

    /// Walks the rows of the time range (of one stream, if given) in time order.
    fn walk_rows(
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
                scan.collector.push(r);
            }
        }
        Ok(())
    }

    /// Walks the time index, reading only the rows in `candidates`.
    fn walk_index(
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
    fn walk_streams(
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
            self.rows.fetch_sub(
                (n as u64).min(self.rows.load(Ordering::Relaxed)),
                Ordering::Relaxed,
            );
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
            self.rows.fetch_sub(
                (n as u64).min(self.rows.load(Ordering::Relaxed)),
                Ordering::Relaxed,
            );
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

    /// Drops the streams that no longer have records.
    fn forget_empty_streams(&self, conn: &mut Connection) -> Result<(), StoreError> {
        let tx = conn.transaction().map_err(|e| self.error(e))?;
        let mut gone = Vec::new();
        {
            let mut list = tx
                .prepare("SELECT stream FROM log_streams")
                .map_err(|e| self.error(e))?;
            let mut exists = tx
                .prepare("SELECT EXISTS (SELECT 1 FROM logs WHERE stream = ?1)")
                .map_err(|e| self.error(e))?;
            let texts = list
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(|e| self.error(e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.error(e))?;
            for t in texts {
                let present: bool = exists
                    .query_row([&t], |r| r.get(0))
                    .map_err(|e| self.error(e))?;
                if !present {
                    gone.push(t);
                }
            }
            let mut delete = tx
                .prepare("DELETE FROM log_streams WHERE stream = ?1")
                .map_err(|e| self.error(e))?;
            for t in &gone {
                delete.execute([t]).map_err(|e| self.error(e))?;
            }
        }
        if !gone.is_empty() {
            streams_changed(&tx).map_err(|e| self.error(e))?;
        }
        tx.commit().map_err(|e| self.error(e))?;
        Ok(())
    }
}

/// The streams that have records (`log_streams`): `_stream` text and labels, as of
/// `generation` (`log_meta`'s [`STREAMS_GENERATION`]).
#[derive(Default)]
struct Streams {
    labels: HashMap<String, Vec<(String, String)>>,
    generation: Option<i64>,
}

/// How [`Store::run`] reads: as the indexes suggest, or (to compare them in tests)
/// reading the word index's candidates directly, walking the time or stream indexes
/// with them, or walking the time index without the word and stream indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Auto,
    #[cfg_attr(not(test), allow(dead_code))]
    Direct,
    #[cfg_attr(not(test), allow(dead_code))]
    Walk,
    #[cfg_attr(not(test), allow(dead_code))]
    Scan,
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

/// Tells every reader (of this process or another) to reload `log_streams`.
fn streams_changed(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO log_meta (key, value) VALUES (?1, 1)
         ON CONFLICT (key) DO UPDATE SET value = value + 1",
    )?
    .execute([STREAMS_GENERATION])?;
    Ok(())
}

fn set_words_upto(tx: &Transaction<'_>, id: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT OR REPLACE INTO log_meta (key, value) VALUES (?1, ?2)")?
        .execute(params![WORDS_UPTO, id])?;
    Ok(())
}

/// Brings `log_words` and `log_streams` up to date with `logs`: indexes the rows of a
/// store written by a version without them, or the rows an older version added since.
fn catch_up_word_index(conn: &mut Connection) -> rusqlite::Result<()> {
    let upto: Option<i64> = conn
        .query_row(
            "SELECT value FROM log_meta WHERE key = ?1",
            [WORDS_UPTO],
            |r| r.get(0),
        )
        .optional()?;
    let max_id: i64 = conn.query_row("SELECT COALESCE(MAX(id), 0) FROM logs", [], |r| r.get(0))?;
    let mut from = match upto {
        Some(u) if u == max_id => return Ok(()),
        Some(u) if u < max_id => u,
        // Never indexed, or rows went that this version did not delete: start over.
        _ => {
            conn.execute_batch("INSERT INTO log_words (log_words) VALUES ('delete-all');")?;
            0
        }
    };
    if max_id > from {
        tracing::info!(
            rows_after = from,
            upto = max_id,
            "indexing the log store's words"
        );
    }
    loop {
        let tx = conn.transaction()?;
        let mut last = None;
        {
            let mut select = tx.prepare(
                "SELECT id, time_ns, stream, msg, fields FROM logs WHERE id > ?1
                 ORDER BY id LIMIT ?2",
            )?;
            let mut insert_words =
                tx.prepare("INSERT OR REPLACE INTO log_words (rowid, words) VALUES (?1, ?2)")?;
            let mut insert_stream =
                tx.prepare("INSERT OR IGNORE INTO log_streams (stream) VALUES (?1)")?;
            let mut rows = select.query(params![from, BACKFILL_CHUNK])?;
            let mut seen = HashSet::new();
            while let Some(row) = rows.next()? {
                let id: i64 = row.get(0)?;
                let stream: String = row.get(2)?;
                let record = Record {
                    time_ns: row.get(1)?,
                    msg: row.get(3)?,
                    stream: parse_stream(&stream),
                    fields: serde_json::from_str(&row.get::<_, String>(4)?).unwrap_or_default(),
                };
                insert_words.execute(params![id, index_text(&record)])?;
                if seen.insert(stream.clone()) {
                    insert_stream.execute([&stream])?;
                }
                last = Some(id);
            }
        }
        let done = last.is_none();
        let upto = last.unwrap_or(max_id.max(from));
        set_words_upto(&tx, upto)?;
        if !done {
            streams_changed(&tx)?;
        }
        tx.commit()?;
        if done {
            return Ok(());
        }
        from = upto;
    }
}

/// One query's evaluation: which rows match, collected in the order asked for.
struct Scan<'q> {
    filter: &'q Filter,
    /// Whether the filter looks at fields (if not, their JSON is parsed for matches only).
    reads_fields: bool,
    /// The `_stream` texts that may match (`None`: any).
    allowed: Option<HashSet<String>>,
    /// Labels of the streams seen, by `_stream` text.
    labels: HashMap<String, Vec<(String, String)>>,
    /// The row being evaluated (its buffers reused from row to row), and its `_stream`.
    row: Record,
    row_stream: String,
    collector: Collector,
    scanned: usize,
}

impl Scan<'_> {
    /// The walk reached a row at `time_ns`: false when it should stop.
    fn step(&mut self, time_ns: i64) -> bool {
        self.scanned += 1;
        self.scanned <= MAX_SCANNED && self.collector.advance(time_ns)
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
            scan.collector.push(r);
        }
        Ok(())
    }
}

/// Collects matches arriving in walk order: oldest first, or newest first for a
/// descending time sort, where records of the same time still come oldest row first
/// (as a stable sort of the ascending order gives them). With a sort on another field,
/// keeps the first records in that order.
struct Collector {
    desc: bool,
    stop_after: Option<usize>,
    out: Vec<Record>,
    /// Descending: the matches at `group_time`, in walk order.
    group: Vec<Record>,
    group_time: Option<i64>,
    top: Option<TopN>,
}

impl Collector {
    fn new(desc: bool, stop_after: Option<usize>, top: Option<TopN>) -> Self {
        Self {
            desc,
            stop_after,
            out: Vec::new(),
            group: Vec::new(),
            group_time: None,
            top,
        }
    }

    /// The walk reached a row at `time_ns`: false when enough records are collected.
    fn advance(&mut self, time_ns: i64) -> bool {
        if self.desc && self.group_time != Some(time_ns) {
            self.flush();
            self.group_time = Some(time_ns);
        }
        self.stop_after.is_none_or(|n| self.out.len() < n)
    }

    fn push(&mut self, r: Record) {
        if let Some(top) = &mut self.top {
            top.push(r);
        } else if self.desc {
            self.group.push(r);
        } else {
            self.out.push(r);
        }
    }

    fn flush(&mut self) {
        self.out.extend(self.group.drain(..).rev());
    }

    fn finish(mut self) -> Vec<Record> {
        if let Some(top) = self.top.take() {
            return top.finish();
        }
        self.flush();
        if let Some(n) = self.stop_after {
            self.out.truncate(n);
        }
        self.out
    }
}

/// A record kept by [`TopN`]: the field's value, the arrival number, the record.
type Ranked = (Option<String>, usize, Record);

/// The first `limit` records by one field, as a stable sort of the records in the order
/// they arrive (oldest first) would give them, keeping at most twice `limit` at a time.
struct TopN {
    field: String,
    desc: bool,
    limit: usize,
    items: Vec<Ranked>,
    arrived: usize,
}

impl TopN {
    fn new(sort: &logsql::Sort, limit: usize) -> Self {
        Self {
            field: sort.field.clone(),
            desc: sort.desc,
            limit,
            items: Vec::new(),
            arrived: 0,
        }
    }

    fn order(desc: bool) -> impl Fn(&Ranked, &Ranked) -> std::cmp::Ordering {
        move |a, b| {
            let by_value = if desc { b.0.cmp(&a.0) } else { a.0.cmp(&b.0) };
            by_value.then(a.1.cmp(&b.1))
        }
    }

    fn push(&mut self, r: Record) {
        let key = r.field(&self.field).map(std::borrow::Cow::into_owned);
        self.items.push((key, self.arrived, r));
        self.arrived += 1;
        if self.items.len() >= self.limit.saturating_mul(2).max(1024) {
            self.items
                .select_nth_unstable_by(self.limit, Self::order(self.desc));
            self.items.truncate(self.limit);
        }
    }

    fn finish(mut self) -> Vec<Record> {
        self.items.sort_by(Self::order(self.desc));
        self.items.truncate(self.limit);
        self.items.into_iter().map(|(_, _, r)| r).collect()
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

// ---------------------------------------------------------------------------------------
// The word index. Each (field, word) is one term: a 60-bit hash of the field name and
// the lowercased word, written as 12 base-32 characters that FTS5's `ascii` tokenizer
// keeps whole. Collisions only add candidates, which the filter then rejects.

/// The text `log_words` indexes for `r`: the terms of every word of the message, the
/// stream labels and the fields (as [`Record::field`] reads them), each once.
fn index_text(r: &Record) -> String {
    let mut terms = Vec::with_capacity(32);
    add_terms(&mut terms, "_msg", &r.msg);
    for (k, v) in &r.stream {
        add_terms(&mut terms, k, v);
    }
    for (k, v) in &r.fields {
        match v {
            Value::String(s) => add_terms(&mut terms, k, s),
            Value::Null => {}
            other => add_terms(&mut terms, k, &other.to_string()),
        }
    }
    terms.sort_unstable();
    terms.dedup();
    let mut out = String::with_capacity(terms.len() * 13);
    for t in terms {
        if !out.is_empty() {
            out.push(' ');
        }
        push_term(&mut out, t);
    }
    out
}

/// The terms of `text`'s words in `field`, as [`Required::Word`] promises them: every
/// word, and every word of the lowercased text (the same words when it is ASCII).
fn add_terms(terms: &mut Vec<u64>, field: &str, text: &str) {
    terms.extend(logsql::words(text).map(|(_, w)| term(field, w)));
    if !text.is_ascii() {
        let lower = text.to_lowercase();
        terms.extend(logsql::words(&lower).map(|(_, w)| term(field, w)));
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

fn fnv(mut h: u64, bytes: impl IntoIterator<Item = u8>) -> u64 {
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// `word` (lowercased) in `field`, hashed (FNV-1a and a final mix: stable across
/// versions, as the index is kept on disk).
fn term(field: &str, word: &str) -> u64 {
    let h = fnv(fnv(FNV_OFFSET, field.bytes()), [0xff]);
    let h = if word.is_ascii() {
        fnv(h, word.bytes().map(|b| b.to_ascii_lowercase()))
    } else {
        fnv(h, word.to_lowercase().bytes())
    };
    // splitmix64's finalizer, so that every bit depends on every byte.
    let mut x = h;
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn push_term(out: &mut String, term: u64) {
    const DIGITS: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    for i in (0..12).rev() {
        out.push(char::from(DIGITS[((term >> (4 + 5 * i)) & 31) as usize]));
    }
}

/// An FTS5 query for `required`, with at most `budget` terms (an AND may leave some
/// out, as it then only requires less; an OR must keep all of its branches).
fn match_expression(required: &Required, budget: &mut usize) -> Option<String> {
    match required {
        Required::Word { field, word } => {
            if *budget == 0 {
                return None;
            }
            *budget -= 1;
            let mut out = String::from("\"");
            push_term(&mut out, term(field, word));
            out.push('"');
            Some(out)
        }
        Required::All(parts) => {
            let parts: Vec<String> = parts
                .iter()
                .filter_map(|p| match_expression(p, budget))
                .collect();
            (!parts.is_empty()).then(|| format!("({})", parts.join(" AND ")))
        }
        Required::Any(parts) => {
            let parts = parts
                .iter()
                .map(|p| match_expression(p, budget))
                .collect::<Option<Vec<String>>>()?;
            Some(format!("({})", parts.join(" OR ")))
        }
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

    // ----- Pushdown: the indexes give exactly what scanning every row gives.

    /// What the store answered before it had indexes: every row of the time range in
    /// (time, insertion) order through the filter, then the sort and the limit.
    fn scan_all(all: &[Record], q: &Query) -> Vec<Record> {
        let (start, end) = q.filter.time_bounds();
        let mut rows: Vec<(usize, &Record)> = all
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                start.is_none_or(|s| r.time_ns >= s) && end.is_none_or(|e| r.time_ns < e)
            })
            .collect();
        rows.sort_by_key(|&(i, r)| (r.time_ns, i));
        let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
        let mut out = Vec::new();
        for (_, r) in rows {
            if q.sort.is_none() && out.len() >= limit {
                break;
            }
            if q.filter.matches(r) {
                out.push(r.clone());
            }
        }
        if let Some(sort) = &q.sort {
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
        out
    }

    const T0: i64 = 1_700_000_000_000_000_000;

    /// Lambda-like records with awkward text, times out of insertion order and ties.
    fn corpus() -> Vec<Record> {
        let msgs = [
            "START RequestId: 6f1c2a9e-0b7d-4c55-9a3e-1d2b3c4d5e6f Version: $LATEST",
            "END RequestId: 6f1c2a9e-0b7d-4c55-9a3e-1d2b3c4d5e6f",
            "REPORT RequestId: 6f1c2a9e Duration: 12.5 ms Billed Duration: 13 ms",
            "connection refused by upstream",
            "Connection Refused",
            "foo-bar happened",
            "foo bar happened",
            "foobar",
            "error: disk full",
            "ERROR disk full",
            "an error_code=42 here",
            "Ünïcödé straße İstanbul ΣΑΣ naïve café",
            "日本語のログ メッセージ",
            "emoji 🎉 party",
            "a.b/c+d$e path",
            "127.0.0.1:8080 listening",
            "",
            "   ",
            "timeout after 30s",
            "Task timed out after 3.00 seconds",
            "x",
            "ΣΑΣ",
            "σας",
            "İ",
            "i̇",
        ];
        let functions = ["echo", "orders", "billing", "Ünï"];
        let levels = ["info", "INFO", "warn", "error", "debug"];
        let mut out = Vec::new();
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for i in 0..600usize {
            let n = next();
            let msg = msgs[(n % msgs.len() as u64) as usize];
            let function = functions[((n >> 8) % functions.len() as u64) as usize];
            let level = levels[((n >> 16) % levels.len() as u64) as usize];
            let mut fields = Map::new();
            fields.insert("level".into(), Value::String(level.into()));
            fields.insert(
                "aws_request_id".into(),
                Value::String(format!("req-{:04x}-{}", i / 4, (n >> 24) % 3)),
            );
            if n % 3 == 0 {
                fields.insert("trace_id".into(), Value::String(format!("1-{:08x}", i / 7)));
            }
            if n % 5 == 0 {
                fields.insert("worker".into(), Value::from((n >> 30) % 4));
            }
            if n % 7 == 0 {
                fields.insert("ok".into(), Value::Bool(n % 2 == 0));
                fields.insert("gone".into(), Value::Null);
            }
            if n % 11 == 0 {
                fields.insert("type".into(), Value::String("foo-bar Ünï".into()));
            }
            // Times: mostly increasing, some ties, some late arrivals.
            let time_ns =
                T0 + (i as i64 / 3) * 1_000_000_000 - ((n >> 40) % 4) as i64 * 2_000_000_000;
            let mut stream = vec![
                ("function".to_string(), function.to_string()),
                (
                    "job".to_string(),
                    if n % 13 == 0 { "box" } else { "esb" }.to_string(),
                ),
            ];
            stream.sort();
            out.push(Record {
                time_ns,
                msg: msg.to_string(),
                stream,
                fields,
            });
        }
        out
    }

    const QUERIES: &[&str] = &[
        "*",
        "* | limit 7",
        "* | sort by (_time desc) | limit 10",
        "* | sort by (_time) | limit 10",
        "* | sort by (_time desc)",
        "* | sort by (level desc) | limit 20",
        "* | sort by (aws_request_id) | limit 15",
        "error",
        "ERROR",
        "error | limit 3",
        "error | sort by (_time desc) | limit 3",
        "i(error)",
        "i(error) | sort by (_time desc) | limit 5",
        "\"connection refused\"",
        "i(\"connection refused\")",
        "foo-bar",
        "\"foo-bar\"",
        "foo",
        "bar",
        "foobar",
        "foo*",
        "fo*",
        "\"foo b\"*",
        "*oo-ba*",
        "*disk*",
        "\"disk full\" OR timeout",
        "error OR timeout | limit 4",
        "error -disk",
        "NOT error",
        "!foo-bar",
        "error AND NOT level:error",
        "level:error",
        "level:ERROR",
        "level:error | sort by (_time desc) | limit 5",
        "level:=error",
        "level:=INFO",
        "level:in(error, warn) | limit 30",
        "level:in(error, \"\")",
        "level:(error OR warn)",
        "level:i(info)",
        "level:inf*",
        "level:=\"in\"*",
        "level:\"\"",
        "trace_id:\"\"",
        "trace_id:*",
        "aws_request_id:\"req-0003-1\"",
        "aws_request_id:req-0003-1",
        "aws_request_id:=req-0003-1",
        "aws_request_id:req-0003",
        "aws_request_id:req-0003 | sort by (_time desc) | limit 2",
        "trace_id:1-00000004",
        "worker:2",
        "worker:>1",
        "ok:true",
        "gone:\"\"",
        "type:foo-bar",
        "type:i(ünï)",
        "type:Ünï",
        "function:echo",
        "function:Ünï",
        "function:i(ünï)",
        "_stream:{function=\"echo\"}",
        "_stream:{function=\"echo\"} | sort by (_time desc) | limit 10",
        "_stream:{function=\"echo\"} error | limit 5",
        "_stream:{function=\"echo\" or function=\"billing\"} | limit 25",
        "_stream:{function=\"echo\" or function=\"billing\"} | sort by (_time desc) | limit 25",
        "_stream:{function=\"echo\" or function=\"billing\"} level:error",
        "_stream:{function!=\"echo\"} timeout",
        "_stream:{function=~\"e.*\"} foo",
        "_stream:{function=\"nope\"}",
        "_stream:{job=\"box\"}",
        "{function=\"orders\",job=\"esb\"} | limit 3",
        "_stream:{function=\"echo\"} OR error",
        "NOT _stream:{function=\"echo\"} | limit 12",
        "~\"err|warn\"",
        "~\"[Ee]rror\" | sort by (_time desc) | limit 4",
        "level:~\"^e\"",
        "!~\"a\"",
        "re(\"time.*out\")",
        "straße",
        "STRASSE",
        "i(straße)",
        "Ünïcödé",
        "ünïcödé",
        "i(ÜNÏCÖDÉ)",
        "İstanbul",
        "i(\"i̇stanbul\")",
        "i(istanbul)",
        "ΣΑΣ",
        "i(σας)",
        "σας",
        "i(σας) | limit 2",
        "İ",
        "i(\"i̇\")",
        "\"i̇\"",
        "i",
        "日本語のログ",
        "メッセージ",
        "\"🎉\"",
        "\"🎉 party\"",
        "emoji",
        "a.b/c+d$e",
        "\"127.0.0.1:8080\"",
        "\"0.1\"",
        "8080",
        "$LATEST",
        "LATEST",
        "\"\"",
        "=\"\"",
        "x",
        "=x",
        "exact(x)",
        "exact(\"Task timed\"*)",
        "in(x, foobar)",
        "error_code",
        "\"error_code=42\"",
        "\"=42 \"",
        "\"RequestId: 6f1c2a9e\"",
        "6f1c2a9e-0b7d",
        "RequestId:6f1c2a9e",
        "_msg:6f1c2a9e",
        "Duration:>10",
        "_time:[1700000010, 1700000100)",
        "_time:[1700000010, 1700000100) error",
        "_time:[1700000010, 1700000100) * | sort by (_time desc) | limit 7",
        "_time:>2023-11-14T22:15:50Z level:warn | limit 5",
        "_time:<2023-11-14T22:14:10Z OR foo",
        "(_time:<2023-11-14T22:13:50Z OR _time:>2023-11-14T22:16:20Z) error",
        "_time:[1700000010, 1700000100) _stream:{function=\"echo\"} | sort by (_time desc) | limit 3",
        "* | limit 0",
        "error | sort by (_time desc) | limit 0",
    ];

    fn fill(store: &Store, all: &[Record]) {
        for batch in all.chunks(97) {
            store.insert(batch).expect("insert");
        }
    }

    #[test]
    fn every_plan_gives_what_the_scan_gives() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path(), Retention::default()).expect("open");
        let all = corpus();
        fill(&store, &all);
        let mut nonempty = 0;
        for text in QUERIES {
            let q = crate::logsql::parse(text, T0 + 1_000 * 1_000_000_000)
                .unwrap_or_else(|e| panic!("{text}: {e}"));
            let want = scan_all(&all, &q);
            if !want.is_empty() {
                nonempty += 1;
            }
            for plan in [Plan::Auto, Plan::Direct, Plan::Walk, Plan::Scan] {
                let got = store.run(&q, plan).expect("query");
                assert_eq!(
                    got.len(),
                    want.len(),
                    "{text} ({plan:?}): {} records, the scan finds {}",
                    got.len(),
                    want.len()
                );
                assert!(got == want, "{text} ({plan:?}): not the scan's records");
            }
        }
        assert!(
            nonempty * 10 > QUERIES.len() * 8,
            "{nonempty} of {}",
            QUERIES.len()
        );
    }

    #[test]
    fn walks_read_indexes_in_order_without_sorting() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path(), Retention::default()).expect("open");
        fill(&store, &corpus());
        let conn = lock(&store.reader);
        for (sql, index) in [
            (WALK_ROWS, "logs_time"),
            (WALK_STREAM_ROWS, "logs_stream_time"),
            (WALK_IDS, "COVERING INDEX logs_time"),
            (WALK_STREAM_IDS, "COVERING INDEX logs_stream_time"),
        ]
        .into_iter()
        .flat_map(|(pair, index)| pair.map(|sql| (sql, index)))
        {
            let args = std::iter::repeat_n(0, sql.matches('?').count());
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("explain")
                .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
                .expect("plan")
                .collect::<Result<_, _>>()
                .expect("plan");
            let plan = plan.join("; ");
            assert!(plan.contains(index), "{sql}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{sql}: {plan}");
        }
    }

    #[test]
    fn streams_another_process_adds_are_queried() {
        let dir = tempfile::tempdir().expect("dir");
        let reader = Store::open(dir.path(), Retention::default()).expect("open");
        let writer = Store::open(dir.path(), Retention::default()).expect("open again");
        let q = |text: &str| crate::logsql::parse(text, 10_000).expect("query");
        writer.insert(&[record(1_000, "a", "one")]).expect("insert");
        assert_eq!(
            reader.query(&q("{function=\"a\"}")).expect("query").len(),
            1
        );
        writer
            .insert(&[record(2_000, "b", "two"), record(3_000, "a", "three")])
            .expect("insert");
        let found = reader.query(&q("{function=~\"a|b\"}")).expect("query");
        assert_eq!(
            found.iter().map(|r| r.msg.as_str()).collect::<Vec<_>>(),
            ["one", "two", "three"]
        );
        assert_eq!(
            reader
                .query(&q("{function=\"b\"} two"))
                .expect("query")
                .len(),
            1
        );
    }

    #[test]
    fn top_n_keeps_what_a_stable_sort_keeps() {
        let all: Vec<Record> = (0..20).flat_map(|_| corpus()).collect();
        for (field, desc, limit) in [
            ("level", false, 7),
            ("level", true, 3000),
            ("aws_request_id", true, 1),
            ("worker", false, 100),
            ("nope", true, 5),
        ] {
            let sort = logsql::Sort {
                field: field.into(),
                desc,
            };
            let mut top = TopN::new(&sort, limit);
            for r in &all {
                top.push(r.clone());
            }
            let mut want = all.clone();
            want.sort_by(|a, b| {
                let order = a.field(field).cmp(&b.field(field));
                if desc { order.reverse() } else { order }
            });
            want.truncate(limit);
            assert!(top.finish() == want, "{field} {desc} {limit}");
        }
    }

    #[test]
    fn word_index_finds_words_where_fts_tokenizers_would_not() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path(), Retention::default()).expect("open");
        let all = corpus();
        fill(&store, &all);
        let conn = lock(&store.reader);
        for (text, at_least) in [
            ("foo-bar", 1),
            ("\"foo-bar\"", 1),
            ("ΣΑΣ", 1),
            ("i(σας)", 1),
            ("σας", 1),
            ("i(istanbul)", 0),
            ("İstanbul", 1),
            ("日本語のログ", 1),
            ("aws_request_id:req-0003-1", 1),
            ("level:=error", 1),
            ("a.b/c+d$e", 1),
        ] {
            let q = crate::logsql::parse(text, T0).expect("query");
            let required = q.filter.required_words().expect("words required");
            let ids = store
                .candidates(&conn, &required, MAX_CANDIDATES)
                .expect("candidates")
                .expect("selective");
            let want = scan_all(&all, &q).len();
            assert!(
                ids.len() >= want,
                "{text}: {} candidates, {want} matches",
                ids.len()
            );
            assert!(want >= at_least, "{text}: {want} matches");
            assert!(
                ids.len() < all.len() / 2,
                "{text}: {} candidates",
                ids.len()
            );
        }
    }

    #[test]
    fn a_store_from_before_the_word_index_is_indexed_when_opened() {
        let dir = tempfile::tempdir().expect("dir");
        let all = corpus();
        {
            // The schema and writes of the first version.
            let conn = Connection::open(dir.path().join("logs.sqlite")).expect("db");
            conn.execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE logs (id INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL,
                     stream TEXT NOT NULL, msg TEXT NOT NULL, fields TEXT NOT NULL);
                 CREATE INDEX logs_time ON logs (time_ns);
                 CREATE INDEX logs_stream_time ON logs (stream, time_ns);",
            )
            .expect("schema");
            for r in &all {
                conn.execute(
                    "INSERT INTO logs (time_ns, stream, msg, fields) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        r.time_ns,
                        r.stream_text(),
                        r.msg,
                        Value::Object(r.fields.clone()).to_string()
                    ],
                )
                .expect("insert");
            }
        }
        let check = |store: &Store| {
            for text in QUERIES {
                let q = crate::logsql::parse(text, T0 + 1_000 * 1_000_000_000).expect("query");
                let want = scan_all(&all, &q);
                for plan in [Plan::Direct, Plan::Walk] {
                    assert!(
                        store.run(&q, plan).expect("query") == want,
                        "{text} ({plan:?})"
                    );
                }
            }
        };
        {
            let store = Store::open(dir.path(), Retention::default()).expect("open");
            assert_eq!(store.count().expect("count"), all.len() as u64);
            check(&store);
        }
        // Rows an older version adds later are indexed at the next open.
        let more = corpus()
            .into_iter()
            .map(|mut r| {
                r.time_ns += 10_000_000_000_000;
                r
            })
            .collect::<Vec<_>>();
        {
            let conn = Connection::open(dir.path().join("logs.sqlite")).expect("db");
            for r in &more {
                conn.execute(
                    "INSERT INTO logs (time_ns, stream, msg, fields) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        r.time_ns,
                        r.stream_text(),
                        r.msg,
                        Value::Object(r.fields.clone()).to_string()
                    ],
                )
                .expect("insert");
            }
        }
        let store = Store::open(dir.path(), Retention::default()).expect("reopen");
        let both: Vec<Record> = all.iter().chain(&more).cloned().collect();
        for text in [
            "foo-bar",
            "level:error | sort by (_time desc) | limit 5",
            "aws_request_id:req-0003-1",
        ] {
            let q = crate::logsql::parse(text, T0).expect("query");
            assert!(
                store.run(&q, Plan::Direct).expect("query") == scan_all(&both, &q),
                "{text}"
            );
        }
    }

    #[test]
    fn retention_removes_records_from_every_index() {
        let dir = tempfile::tempdir().expect("dir");
        let retention = Retention {
            max_age: Duration::from_secs(100),
            max_bytes: 1 << 30,
        };
        let store = Store::open(dir.path(), retention).expect("open");
        let all = corpus();
        fill(&store, &all);
        let now = T0 + 200 * 1_000_000_000;
        let kept: Vec<Record> = all
            .iter()
            .filter(|r| r.time_ns >= now - 100 * 1_000_000_000)
            .cloned()
            .collect();
        let deleted = store.enforce_retention(now).expect("retention");
        assert_eq!(deleted, all.len() - kept.len());
        assert!(deleted > 0 && !kept.is_empty());
        assert_eq!(store.count().expect("count"), kept.len() as u64);
        {
            let conn = lock(&store.reader);
            let q = crate::logsql::parse("level:error", T0).expect("query");
            let required = q.filter.required_words().expect("words");
            let ids = store
                .candidates(&conn, &required, MAX_CANDIDATES)
                .expect("candidates")
                .expect("selective");
            let live: i64 = conn
                .query_row(
                    "SELECT COUNT(*) FROM logs WHERE fields LIKE '%\"error\"%'",
                    [],
                    |r| r.get(0),
                )
                .expect("count");
            assert_eq!(ids.len() as i64, live, "deleted rows left the word index");
        }
        for text in QUERIES {
            let q = crate::logsql::parse(text, now).expect("query");
            assert!(
                store.query(&q).expect("query") == scan_all(&kept, &q),
                "{text}"
            );
        }
        // Everything old: the stream table forgets streams without records.
        let later = now + 1_000 * 1_000_000_000;
        store.enforce_retention(later).expect("retention");
        assert_eq!(store.count().expect("count"), 0);
        let q = crate::logsql::parse("_stream:{function=\"echo\"}", later).expect("query");
        assert!(store.query(&q).expect("query").is_empty());
        assert!(lock(&store.streams).labels.is_empty());
        let q = crate::logsql::parse("_stream:{function=\"echo\"}", later).expect("query");
        assert!(store.query(&q).expect("query").is_empty());
        // The store still works, and reopens consistent.
        fill(&store, &all[..50]);
        drop(store);
        let store = Store::open(dir.path(), retention).expect("reopen");
        let q = crate::logsql::parse("error", T0).expect("query");
        assert!(store.run(&q, Plan::Direct).expect("query") == scan_all(&all[..50], &q));
    }

    #[test]
    fn size_retention_drops_the_oldest_rows() {
        let dir = tempfile::tempdir().expect("dir");
        let big = Retention {
            max_age: Duration::from_secs(1 << 40),
            max_bytes: 1 << 40,
        };
        let all: Vec<Record> = (0..20).flat_map(|_| corpus()).collect();
        {
            let store = Store::open(dir.path(), big).expect("open");
            fill(&store, &all);
        }
        let size = |dir: &Path| {
            let conn = Connection::open(dir.join("logs.sqlite")).expect("db");
            conn.query_row(
                "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size",
                [],
                |r| r.get::<_, i64>(0),
            )
            .expect("size")
        };
        let full = u64::try_from(size(dir.path())).expect("size");
        let half = Retention {
            max_bytes: full / 2,
            ..big
        };
        let store = Store::open(dir.path(), half).expect("open");
        let deleted = store.enforce_retention(T0).expect("retention");
        let left = store.count().expect("count");
        assert!(deleted > 0 && left > 0, "{deleted} deleted, {left} left");
        assert_eq!(deleted as u64 + left, all.len() as u64);
        drop(store);
        assert!(u64::try_from(size(dir.path())).expect("size") <= full / 2);
        // The newest rows are the ones kept, in every index.
        let store = Store::open(dir.path(), half).expect("reopen");
        let kept = &all[all.len() - left as usize..];
        for text in [
            "error",
            "level:warn | limit 50",
            "* | sort by (_time desc) | limit 20",
        ] {
            let q = crate::logsql::parse(text, T0).expect("query");
            assert!(
                store.run(&q, Plan::Direct).expect("query") == scan_all(kept, &q),
                "{text}"
            );
        }
    }
}
