//! The table of known streams (`log_streams`): kept by inserts and retention, read by
//! queries whose `_stream:{…}` filters pick the streams to walk before any row is read.

use std::sync::MutexGuard;

use rusqlite::{Connection, OptionalExtension, Transaction};
use serde_json::Map;

use super::db::{Store, Streams, lock};
use super::error::StoreError;
use super::schema::STREAMS_GENERATION;
use crate::logsql::Filter;
use crate::record::Record;

impl Store {
    /// The streams whose records may match (every `_stream:{…}` of a top-level AND
    /// holds), or `None` for all of them.
    pub(super) fn streams_to_read(
        &self,
        conn: &Connection,
        filter: &Filter,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let selectors = filter.required_stream_selectors();
        if selectors.is_empty() {
            return Ok(None);
        }
        let streams = self.known_streams(conn)?;
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

    /// The labels of every stream that has records (for listings such as CloudWatch
    /// Logs' log groups, which are derived from them).
    pub fn stream_labels(&self) -> Result<Vec<Vec<(String, String)>>, StoreError> {
        let conn = lock(&self.reader);
        Ok(self
            .known_streams(&conn)?
            .labels
            .values()
            .cloned()
            .collect())
    }

    /// `log_streams` as last read, read again when another writer changed it since.
    fn known_streams(&self, conn: &Connection) -> Result<MutexGuard<'_, Streams>, StoreError> {
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
        Ok(streams)
    }

    /// Drops the streams that no longer have records.
    pub(super) fn forget_empty_streams(&self, conn: &mut Connection) -> Result<(), StoreError> {
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

/// Tells every reader (of this process or another) to reload `log_streams`.
pub(super) fn streams_changed(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO log_meta (key, value) VALUES (?1, 1)
         ON CONFLICT (key) DO UPDATE SET value = value + 1",
    )?
    .execute([STREAMS_GENERATION])?;
    Ok(())
}

/// `{a="1",b="2"}` back into labels.
pub(super) fn parse_stream(text: &str) -> Vec<(String, String)> {
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
