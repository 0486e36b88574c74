//! The store's schema: its tables and indexes (created when the store is opened), and
//! the keys of `log_meta`.

pub(super) const SCHEMA: &str = "
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
pub(super) const WORDS_UPTO: &str = "words_upto";
/// `log_meta` key: changes whenever `log_streams` does.
pub(super) const STREAMS_GENERATION: &str = "streams_generation";
