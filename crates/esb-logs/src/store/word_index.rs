//! The word index. Each (field, word) is one term: a 60-bit hash of the field name and
//! the lowercased word, written as 12 base-32 characters that FTS5's `ascii` tokenizer
//! keeps whole. Collisions only add candidates, which the filter then rejects.
//!
//! Here: the terms a record is indexed under, the FTS5 queries for what a filter
//! requires, and bringing the index up to date when an older store is opened.

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde_json::Value;

use super::db::Store;
use super::error::StoreError;
use super::schema::WORDS_UPTO;
use super::streams::{parse_stream, streams_changed};
use crate::logsql::{self, Required};
use crate::record::Record;

/// Most terms in one word-index lookup.
const MAX_TERMS: usize = 64;
/// Rows (re)indexed per transaction when an older store is opened.
const BACKFILL_CHUNK: i64 = 10_000;

impl Store {
    /// The ids of the rows holding the words `required` asks for, ascending, or `None`
    /// when more than `cap` do.
    pub(super) fn candidates(
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
}

pub(super) fn set_words_upto(tx: &Transaction<'_>, id: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT OR REPLACE INTO log_meta (key, value) VALUES (?1, ?2)")?
        .execute(params![WORDS_UPTO, id])?;
    Ok(())
}

/// Brings `log_words` and `log_streams` up to date with `logs`: indexes the rows of a
/// store written by a version without them, or the rows an older version added since.
pub(super) fn catch_up_word_index(conn: &mut Connection) -> rusqlite::Result<()> {
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

/// The text `log_words` indexes for `r`: the terms of every word of the message, the
/// stream labels and the fields (as [`Record::field`] reads them), each once.
pub(super) fn index_text(r: &Record) -> String {
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
