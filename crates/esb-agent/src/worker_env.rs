//! The `ESB_*` variables of a worker's environment that the box and the agent set for
//! the worker's `esb rie` (which reads them in `esb_rie::config` and hides them from
//! the function), named once for every runtime.

/// Where the worker ships its log records; set by the box when it keeps logs.
pub const LOGS_URL_VAR: &str = "ESB_LOGS_URL";
/// The worker's spool of records the box has not taken yet.
pub const LOG_SPOOL_VAR: &str = "ESB_LOG_SPOOL";
/// The worker's id, its `worker` label in the log store.
pub const WORKER_ID_VAR: &str = "ESB_WORKER_ID";
/// The node a worker runs on, when not the box's own machine: its `node` field in the
/// log store (unset on the box's machine, so a box without nodes logs as before).
pub const NODE_VAR: &str = "ESB_NODE";
