//! The box's state as `esb status` shows it: the document the gateway serves at
//! [`STATUS_PATH`] (signed like the Invoke API). One set of types for both ends: the
//! gateway serializes them, `esb status` deserializes them.
//!
//! Fields are declared in alphabetical order: serialized, the document is byte for
//! byte what it was when the gateway built it as a `serde_json::Value` (whose maps sort
//! their keys), so scripts reading `esb status --json` see no change.

use serde::{Deserialize, Serialize};

/// Where the gateway reports its state to `esb status`.
pub const STATUS_PATH: &str = "/esb/v1/status";

/// The document at [`STATUS_PATH`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Status {
    /// Every function the box serves, by name.
    pub functions: Vec<FunctionStatus>,
    /// The machines whose agents run the box's workers, by name (absent from the
    /// documents of older boxes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeStatus>,
    /// The Invoke API checks Signature V4 (`false`: `--open-invoke-api`).
    pub signed: bool,
}

/// One node of the box: where its agent is, how it is, what it offers and runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeStatus {
    /// Its agent's gRPC URL.
    pub address: String,
    /// Most workers its agent runs at once.
    pub capacity: u32,
    pub cpus: u32,
    /// Being removed (`esb node remove`): it gets no new workers.
    pub draining: bool,
    /// `up`, `joining`, `reconciling` or `down`.
    pub health: String,
    pub labels: std::collections::BTreeMap<String, String>,
    /// Times it was declared lost.
    pub losses: u64,
    /// Memory its workers may take, in MB.
    pub memory_mb: u64,
    /// `MemorySize` of the workers placed there, in MB.
    pub memory_used_mb: u64,
    pub name: String,
    /// Workers started there since the box started.
    pub placements: u64,
    /// `process` or `docker`.
    pub runtime: String,
    /// Its workers, per function.
    pub workers: std::collections::BTreeMap<String, usize>,
}

/// One function: its routes, URL, workers and invocation counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FunctionStatus {
    /// Invocations that ended in a function error.
    pub errors: u64,
    /// Invocations that reached a worker.
    pub invocations: u64,
    /// When it last ran, in milliseconds since the epoch; `null` before it first ran.
    pub last_invoke_ms: Option<i64>,
    pub name: String,
    /// What the user should know about how it runs, e.g. on another Python than its
    /// runtime names (`--nearest-python-base`); absent when there is nothing to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Workers kept initialised at all times (`ProvisionedConcurrencyConfig`).
    pub provisioned: usize,
    /// Its concurrency limit (`ReservedConcurrentExecutions`, else the box default).
    pub reserved_concurrency: usize,
    pub routes: Vec<RouteStatus>,
    /// Its function URL's path on the gateway (`/lambda-url/<name>/`), if it has one.
    pub url: Option<String>,
    pub workers: WorkerCounts,
}

/// An API route of the function.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteStatus {
    /// `GET`, ... or `ANY`.
    pub method: String,
    /// The resource path (`/items/{id}`) or `$default`.
    pub path: String,
}

/// A function's workers now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkerCounts {
    /// Running an invocation.
    pub busy: usize,
    /// Idle and frozen (resumed when next used).
    pub paused: usize,
    /// Idle and ready.
    pub warm: usize,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_document_is_byte_for_byte_what_the_json_values_made() {
        let typed = Status {
            nodes: Vec::new(),
            functions: vec![
                FunctionStatus {
                    errors: 1,
                    invocations: 7,
                    last_invoke_ms: Some(1_700_000_000_123),
                    name: "api".into(),
                    note: None,
                    provisioned: 1,
                    reserved_concurrency: 10,
                    routes: vec![RouteStatus {
                        method: "GET".into(),
                        path: "/items/{id}".into(),
                    }],
                    url: Some("/lambda-url/api/".into()),
                    workers: WorkerCounts {
                        busy: 2,
                        paused: 3,
                        warm: 4,
                    },
                },
                FunctionStatus {
                    name: "idle".into(),
                    ..FunctionStatus::default()
                },
            ],
            signed: true,
        };
        // How Gateway::status and FunctionPool::status built it before the types.
        let values = json!({
            "functions": [
                {
                    "name": "api",
                    "workers": {"busy": 2, "warm": 4, "paused": 3},
                    "reserved_concurrency": 10,
                    "provisioned": 1,
                    "invocations": 7,
                    "errors": 1,
                    "last_invoke_ms": 1_700_000_000_123_i64,
                    "routes": [{"method": "GET", "path": "/items/{id}"}],
                    "url": "/lambda-url/api/",
                },
                {
                    "name": "idle",
                    "workers": {"busy": 0, "warm": 0, "paused": 0},
                    "reserved_concurrency": 0,
                    "provisioned": 0,
                    "invocations": 0,
                    "errors": 0,
                    "last_invoke_ms": null,
                    "routes": [],
                    "url": null,
                },
            ],
            "signed": true,
        });
        assert_eq!(
            serde_json::to_string(&typed).expect("json"),
            serde_json::to_string(&values).expect("json")
        );
        assert_eq!(
            serde_json::to_string_pretty(&typed).expect("json"),
            serde_json::to_string_pretty(&values).expect("json")
        );
        assert_eq!(
            serde_json::from_value::<Status>(values).expect("status"),
            typed,
            "esb status reads what the gateway writes"
        );
    }

    #[test]
    fn a_note_is_written_only_when_there_is_one() {
        let f = FunctionStatus {
            name: "py".into(),
            note: Some("runtime python3.12 runs on the python3.11 base".into()),
            ..FunctionStatus::default()
        };
        let text = serde_json::to_string(&f).expect("json");
        assert!(
            text.contains(
                r#""name":"py","note":"runtime python3.12 runs on the python3.11 base","provisioned""#
            ),
            "{text}"
        );
        assert_eq!(
            serde_json::from_str::<FunctionStatus>(&text).expect("read back"),
            f
        );
    }
}
