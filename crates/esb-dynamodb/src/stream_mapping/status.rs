//! What `esb status` shows of a mapping, kept current by the poller.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// The mapping's state, as Lambda names an event source mapping's (plus ESB's own
/// waiting states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum MappingState {
    #[default]
    Creating,
    /// Reading the stream.
    Enabled,
    /// `Enabled: false` in the template: never started.
    Disabled,
    /// The table has no stream (or the stream is gone): looked at again every few
    /// seconds, since the user may enable it.
    NoStream,
    /// Shut down.
    Stopped,
}

/// One mapping's state for `esb status`.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingStatus {
    pub state: MappingState,
    pub stream_arn: Option<String>,
    /// When a shard was last read (milliseconds since the epoch).
    pub last_poll_ms: Option<u64>,
    /// How the last batch ended ("OK", "FunctionError (retry 2)", "sent to ...").
    pub last_batch_result: Option<String>,
    /// Records the function handled (filtered records are not counted).
    pub records_processed: u64,
    /// Age of the newest record read (`IteratorAgeMilliseconds`): how far behind the
    /// mapping is.
    pub iterator_age_ms: Option<u64>,
    /// The last error talking to the stream, if the last attempt failed.
    pub last_error: Option<String>,
}

/// Shared between the poller (which writes) and `esb status` (which reads).
pub type StatusHandle = Arc<Mutex<MappingStatus>>;

/// Changes the status; a poisoned lock is still a status worth updating.
pub(super) fn update(status: &StatusHandle, f: impl FnOnce(&mut MappingStatus)) {
    let mut guard = status.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut guard);
}

/// Milliseconds since the epoch.
pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
