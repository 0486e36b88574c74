//! What a log group is made of. A group created through the API holds the streams of
//! the catalogue, each one's events being the records labelled with the group, the
//! stream and the stream's incarnation. A function's group (`/aws/lambda/<function>`)
//! also holds what the box stored of the function itself: each worker's output (its
//! lines and START/END/REPORT) is one stream, named as Lambda names an execution
//! environment's (`2024/01/31/[$LATEST]<worker>`), discovered by reading the store.

use std::collections::HashMap;
use std::sync::Arc;

use esb_logs::{Record, Store};

use crate::catalog::{Catalog, GroupRow, StreamRow, WorkerRow};
use crate::error::ApiError;
use crate::reading::quote;

/// The `job` label of function output (esb_logs::lambda_line::FUNCTION_JOB).
const FUNCTION_JOB: &str = esb_logs::lambda_line::FUNCTION_JOB;
/// Records stored this long before the last read of a function's workers are read
/// again: lines a worker spooled while the store was busy arrive late.
const LATE_NS: i64 = 2 * 60 * 1_000_000_000;
/// A function's workers are looked for at most this often (`aws logs tail` polls).
const DISCOVERY_INTERVAL_NS: i64 = 1_000_000_000;
/// Most records one discovery of workers reads.
const DISCOVERY_LIMIT: usize = 200_000;

/// A group as a read sees it.
pub struct Group {
    pub name: String,
    pub row: Option<GroupRow>,
    /// For `/aws/lambda/<function>`: the function, its workers, and the time before
    /// which its records no longer belong to the group (DeleteLogGroup).
    pub function: Option<FunctionPart>,
    pub streams: Vec<StreamRow>,
}

pub struct FunctionPart {
    pub function: String,
    pub workers: Vec<WorkerRow>,
    pub hidden_before_ns: i64,
}

/// One stream of a group.
pub enum Stream<'a> {
    Api(&'a StreamRow),
    Worker(&'a WorkerRow),
}

impl Stream<'_> {
    pub fn name(&self) -> String {
        match self {
            Stream::Api(row) => row.name.clone(),
            Stream::Worker(w) => worker_stream_name(w),
        }
    }
}

impl Group {
    /// The group named `name`, or ResourceNotFoundException.
    pub fn load(store: &Arc<Store>, catalog: &Catalog, name: &str) -> Result<Self, ApiError> {
        let row = catalog.group(name).map_err(unavailable)?;
        let function = match crate::names::function_of_group(name) {
            Some(f) => Some(discover(store, catalog, f)?),
            None => None,
        };
        let implicit = function.as_ref().is_some_and(|f| !f.workers.is_empty());
        if row.is_none() && !implicit {
            return Err(ApiError::no_group());
        }
        let streams = catalog.streams(name).map_err(unavailable)?;
        Ok(Self {
            name: name.to_string(),
            row,
            function,
            streams,
        })
    }

    /// Creation time: the API's, or the function's first worker's.
    pub fn created_ms(&self) -> i64 {
        self.row.as_ref().map(|r| r.created_ms).unwrap_or_else(|| {
            self.function
                .as_ref()
                .and_then(|f| f.workers.iter().map(|w| w.first_ms).min())
                .unwrap_or(0)
        })
    }

    pub fn retention_days(&self) -> Option<i64> {
        self.row.as_ref().and_then(|r| r.retention_days)
    }

    /// The earliest time a read returns: the group's retention, and for a function's
    /// group, its last deletion.
    pub fn floor_ns(&self, now_ns: i64) -> i64 {
        let retention = self.retention_days().map_or(0, |d| {
            now_ns.saturating_sub(d.saturating_mul(86_400 * 1_000_000_000))
        });
        let hidden = self.function.as_ref().map_or(0, |f| f.hidden_before_ns);
        retention.max(hidden)
    }

    pub fn stream(&self, name: &str) -> Option<Stream<'_>> {
        if let Some(s) = self.streams.iter().find(|s| s.name == name) {
            return Some(Stream::Api(s));
        }
        let worker = worker_of_stream_name(name)?;
        self.function
            .as_ref()?
            .workers
            .iter()
            .find(|w| w.worker == worker && worker_stream_name(w) == name)
            .map(Stream::Worker)
    }

    /// Every stream: the API's, then the workers'.
    pub fn all_streams(&self) -> Vec<Stream<'_>> {
        let mut out: Vec<Stream<'_>> = self.streams.iter().map(Stream::Api).collect();
        if let Some(f) = &self.function {
            out.extend(f.workers.iter().map(Stream::Worker));
        }
        out
    }

    /// The LogsQL filter of the records of `streams` (all of the group's when `None`).
    pub fn filter(&self, streams: Option<&[Stream<'_>]>) -> String {
        let mut parts = Vec::new();
        match streams {
            None => {
                parts.push(format!("_stream:{{log_group={}}}", quote(&self.name)));
                if let Some(f) = &self.function {
                    parts.push(function_filter(&f.function));
                }
            }
            Some(streams) => {
                for s in streams {
                    parts.push(match s {
                        Stream::Api(row) => format!(
                            "_stream:{{log_group={},log_stream={}}}",
                            quote(&self.name),
                            quote(&row.name)
                        ),
                        Stream::Worker(w) => match &self.function {
                            Some(f) => format!(
                                "({} worker:={})",
                                function_filter(&f.function),
                                quote(&w.worker)
                            ),
                            None => continue,
                        },
                    });
                }
            }
        }
        if parts.is_empty() {
            // No stream at all: a filter nothing matches.
            return "_stream:{log_group=\"\"} log_group:=\"\"".into();
        }
        parts.join(" OR ")
    }

    /// The stream a record of this group belongs to, or `None` for a record of a
    /// deleted stream (another incarnation).
    pub fn stream_name_of(&self, r: &Record, incarnations: &HashMap<&str, &str>) -> Option<String> {
        if let Some(stream) = r.field("log_stream") {
            let current = incarnations.get(stream.as_ref())?;
            return (r.field("log_stream_id").as_deref() == Some(*current))
                .then(|| stream.into_owned());
        }
        let worker = r.field("worker")?;
        let known = self
            .function
            .as_ref()
            .and_then(|f| f.workers.iter().find(|w| w.worker == worker.as_ref()));
        Some(match known {
            Some(w) => worker_stream_name(w),
            None => stream_name(crate::reading::millis(r.time_ns), &worker),
        })
    }

    /// Each API stream's current incarnation, by name.
    pub fn incarnations(&self) -> HashMap<&str, &str> {
        self.streams
            .iter()
            .map(|s| (s.name.as_str(), s.incarnation.as_str()))
            .collect()
    }
}

/// A function's output in the store (not what it wrote through the API).
fn function_filter(function: &str) -> String {
    format!(
        "(_stream:{{function={},job={}}} log_group:\"\")",
        quote(function),
        quote(FUNCTION_JOB)
    )
}

/// Reads the store for workers of `function` not seen yet, and returns them all.
fn discover(
    store: &Arc<Store>,
    catalog: &Catalog,
    function: &str,
) -> Result<FunctionPart, ApiError> {
    let (scanned, hidden) = catalog.function_marks(function).map_err(unavailable)?;
    let now = esb_logs::http::now_ns();
    if now.saturating_sub(scanned) >= DISCOVERY_INTERVAL_NS {
        note_new_workers(
            store,
            catalog,
            function,
            scanned.saturating_sub(LATE_NS).max(hidden),
            now,
        )?;
    }
    Ok(FunctionPart {
        function: function.to_string(),
        workers: catalog.workers(function).map_err(unavailable)?,
        hidden_before_ns: hidden,
    })
}

/// Records in the catalogue the workers of `function` whose lines since `from` show.
fn note_new_workers(
    store: &Arc<Store>,
    catalog: &Catalog,
    function: &str,
    from: i64,
    now: i64,
) -> Result<(), ApiError> {
    // Every worker's invocations leave START/END/REPORT lines: reading those (found
    // through the word index) is enough to know the workers and their times.
    let filter = format!("{} type:=platform", function_filter(function));
    let records = crate::reading::forward(
        store,
        &filter,
        crate::reading::Position::at(from),
        None,
        DISCOVERY_LIMIT,
    )?;
    let mut seen: HashMap<String, WorkerRow> = HashMap::new();
    for r in &records {
        let Some(worker) = r.field("worker") else {
            continue;
        };
        let ms = crate::reading::millis(r.time_ns);
        seen.entry(worker.to_string())
            .and_modify(|w| {
                w.first_ms = w.first_ms.min(ms);
                w.last_ms = w.last_ms.max(ms);
            })
            .or_insert_with(|| WorkerRow {
                worker: worker.to_string(),
                first_ms: ms,
                last_ms: ms,
            });
    }
    // A read cut at the limit has read up to its last record, not up to now.
    let upto = if records.len() >= DISCOVERY_LIMIT {
        records.last().map_or(now, |r| r.time_ns)
    } else {
        now
    };
    let seen: Vec<WorkerRow> = seen.into_values().collect();
    catalog
        .note_workers(function, &seen, upto)
        .map_err(unavailable)
}

/// The functions the store holds output of.
pub fn functions_in_store(store: &Store) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = store
        .stream_labels()
        .map_err(|e| ApiError::unavailable(e.to_string()))?
        .into_iter()
        .filter(|labels| {
            labels.iter().any(|(k, v)| k == "job" && v == FUNCTION_JOB)
                && !labels.iter().any(|(k, _)| k == "log_group")
        })
        .filter_map(|labels| {
            labels
                .into_iter()
                .find(|(k, _)| k == "function")
                .map(|(_, v)| v)
        })
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

pub fn worker_stream_name(w: &WorkerRow) -> String {
    stream_name(w.first_ms, &w.worker)
}

/// `2024/01/31/[$LATEST]<worker>`: the day the worker started (UTC).
fn stream_name(first_ms: i64, worker: &str) -> String {
    let day = time::OffsetDateTime::from_unix_timestamp(first_ms.div_euclid(1000))
        .map(|t| format!("{:04}/{:02}/{:02}", t.year(), u8::from(t.month()), t.day()))
        .unwrap_or_else(|_| "1970/01/01".into());
    format!("{day}/[$LATEST]{worker}")
}

fn worker_of_stream_name(name: &str) -> Option<&str> {
    name.split_once("[$LATEST]").map(|(_, w)| w)
}

pub fn unavailable(e: crate::catalog::CatalogError) -> ApiError {
    ApiError::unavailable(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_streams_are_named_as_lambda_names_environments() {
        let w = WorkerRow {
            worker: "echo-1a2b".into(),
            first_ms: 1_706_659_200_000, // 2024-01-31T00:00:00Z
            last_ms: 1_706_659_200_000,
        };
        assert_eq!(worker_stream_name(&w), "2024/01/31/[$LATEST]echo-1a2b");
        assert_eq!(
            worker_of_stream_name("2024/01/31/[$LATEST]echo-1a2b"),
            Some("echo-1a2b")
        );
        assert_eq!(worker_of_stream_name("custom"), None);
    }
}
