//! How a query reads: which of the indexes to use (the word index's candidates read
//! directly, the time or stream indexes walked, or the time index alone), chosen from
//! the store's size and the query's limit.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use serde_json::Map;

use super::db::{Store, lock};
use super::error::StoreError;
use super::limits::DEFAULT_LIMIT;
use super::matches::{Matches, TopN};
use super::scan::Scan;
use crate::logsql::Query;
use crate::record::Record;

/// Most rows taken from the word index for one query: a filter whose words more rows
/// have than this is not selective, and walking the time index finds its matches sooner.
pub(super) const MAX_CANDIDATES: usize = 200_000;
/// How many rows the word index gives for the cost of evaluating one row while walking
/// the time index (measured: about 0.07 µs against 1 µs).
const CANDIDATES_PER_EVALUATION: f64 = 15.0;
/// Most streams walked side by side; a filter selecting more streams walks the time index.
const MAX_MERGED_STREAMS: usize = 64;
/// How many index entries a walk steps over for the cost of reading one row (a guess,
/// to choose between reading candidates directly and walking the time index).
const STEPS_PER_READ: u64 = 20;

/// How [`Store::run`] reads: as the indexes suggest, or (to compare them in tests)
/// reading the word index's candidates directly, walking the time or stream indexes
/// with them, or walking the time index without the word and stream indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Plan {
    Auto,
    #[cfg_attr(not(test), allow(dead_code))]
    Direct,
    #[cfg_attr(not(test), allow(dead_code))]
    Walk,
    #[cfg_attr(not(test), allow(dead_code))]
    Scan,
}

impl Store {
    pub(super) fn run(&self, query: &Query, plan: Plan) -> Result<Vec<Record>, StoreError> {
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
            matches: Matches::new(desc, stop_after, top),
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
        Ok(scan.matches.finish())
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
}
