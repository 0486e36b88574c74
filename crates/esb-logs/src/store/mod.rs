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
//! Here: only the modules and what they export. The [`Store`] type is in `db`, what it
//! does for its users (opening, inserting, querying, counting, retention) in `ops`, its
//! tables in `schema`; its error and limits in `error` and `limits`. A query's plan is
//! chosen in `plan`, its walks over the indexes are in `scan`, the matches it keeps in
//! `matches`; the word index is `word_index`, the table of known streams `streams`.

mod db;
mod error;
mod limits;
mod matches;
mod ops;
mod plan;
mod scan;
mod schema;
mod streams;
#[cfg(test)]
mod tests;
mod word_index;

pub use db::Store;
pub use error::StoreError;
pub use limits::{DEFAULT_LIMIT, MAX_SCANNED, Retention};
