//! Where the records of a state dir are and how they are read. Records come from the
//! running box's VictoriaLogs API (`logs_url` in `<state>/box.json`), queried with
//! LogsQL. When no box runs, the embedded store on disk (`<state>/logs/store`) is read
//! directly (SQLite WAL lets a reader in beside a writer), so the logs of a stopped or
//! crashed box stay readable.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use esb_state::StateDir;

use super::line::Line;

/// Longest wait for one answer of the log store.
const QUERY_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the records of a state dir are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Location {
    /// The running box's log store API.
    Api(String),
    /// The embedded store on disk.
    Disk,
    Nowhere,
}

/// Where the records are now, and whether a box runs (which messages say).
pub(super) struct Found {
    pub(super) location: Location,
    pub(super) box_runs: bool,
}

/// Looks for the records of `state_dir`: the running box's API, else the store on disk.
pub(super) fn locate(state_dir: &StateDir) -> Found {
    let running = crate::box_state::read(state_dir);
    let box_runs = running.is_some();
    let location = match running.and_then(|s| s.logs_url) {
        Some(url) => Location::Api(url.trim_end_matches('/').to_string()),
        None if esb_logs::Store::exists_in(&state_dir.log_store()) => Location::Disk,
        None => Location::Nowhere,
    };
    Found { location, box_runs }
}

/// An open log store.
pub(super) enum Source {
    Api {
        url: String,
        http: reqwest::blocking::Client,
    },
    Disk(Box<esb_logs::Store>),
}

#[derive(Debug, thiserror::Error)]
pub(super) enum QueryError {
    #[error("the log store at {url} does not answer: {reason}")]
    Unreachable { url: String, reason: String },
    /// The query is wrong (HTTP 400): following it again cannot help.
    #[error("the log store refused the query: {0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
}

impl Source {
    pub(super) fn api(url: &str) -> Result<Self> {
        let mut builder = reqwest::blocking::Client::builder().timeout(QUERY_TIMEOUT);
        let loopback = ["http://127.", "http://localhost", "http://[::1]"];
        if loopback.iter().any(|p| url.starts_with(p)) {
            builder = builder.no_proxy();
        }
        let http = builder.build().context("cannot build an HTTP client")?;
        Ok(Self::Api {
            url: url.to_string(),
            http,
        })
    }

    pub(super) fn disk(dir: &Path) -> Result<Self> {
        let store = esb_logs::Store::open(dir, esb_logs::Retention::default())
            .with_context(|| format!("cannot open the log store in {}", dir.display()))?;
        Ok(Self::Disk(Box::new(store)))
    }

    /// The records `query` selects, in the order the store answers them.
    pub(super) fn query(&self, query: &str) -> Result<Vec<Line>, QueryError> {
        match self {
            Self::Api { url, http } => {
                let unreachable = |e: reqwest::Error| QueryError::Unreachable {
                    url: url.clone(),
                    reason: causes(&e),
                };
                let resp = http
                    .post(format!("{url}/select/logsql/query"))
                    .form(&[("query", query)])
                    .send()
                    .map_err(unreachable)?;
                let status = resp.status();
                let body = resp.text().map_err(unreachable)?;
                if status == reqwest::StatusCode::BAD_REQUEST {
                    return Err(QueryError::Refused(body.trim().to_string()));
                }
                if !status.is_success() {
                    return Err(QueryError::Failed(format!(
                        "the log store at {url} answered {status}: {}",
                        body.trim()
                    )));
                }
                Ok(body
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(Line::from_json)
                    .collect())
            }
            Self::Disk(store) => {
                let parsed =
                    esb_logs::logsql::parse(query, esb_logs::http::now_ns()).map_err(|e| {
                        QueryError::Refused(format!("cannot parse query [{query}]: {e}"))
                    })?;
                let records = store
                    .query(&parsed)
                    .map_err(|e| QueryError::Failed(e.to_string()))?;
                Ok(records.iter().map(Line::from_record).collect())
            }
        }
    }
}

/// An error and its causes on one line.
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}
