//! The [`Store`] type itself: its connections, the table of known streams as last read,
//! the row count, its file and its retention; and what every part of the store uses
//! with them (locking, errors naming the store's file). What a store does is in the
//! modules that use this one: `ops` (opening, inserting, querying, counting,
//! retention), `plan` and `scan` (a query's reading), `streams` and `word_index`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

use super::error::StoreError;
use super::limits::Retention;

pub struct Store {
    /// Inserts and retention.
    pub(super) writer: Mutex<Connection>,
    /// Queries: WAL lets them read while a batch is being written.
    pub(super) reader: Mutex<Connection>,
    /// `log_streams`, as of the last query that needed it.
    pub(super) streams: Mutex<Streams>,
    /// Records stored, kept up to date by inserts and retention (to choose query plans).
    pub(super) rows: AtomicU64,
    pub(super) path: PathBuf,
    pub(super) retention: Retention,
}

/// The streams that have records (`log_streams`): `_stream` text and labels, as of
/// `generation` (`log_meta`'s [`STREAMS_GENERATION`](super::schema::STREAMS_GENERATION)).
#[derive(Default)]
pub(super) struct Streams {
    pub(super) labels: HashMap<String, Vec<(String, String)>>,
    pub(super) generation: Option<i64>,
}

impl Store {
    /// The error for a SQLite failure on this store (naming its file).
    pub(super) fn error(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }
}

/// Locks `m`, also when a thread panicked while holding it.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
