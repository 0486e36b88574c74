//! What `esb status` shows of a mapping, kept current by the pollers.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// The mapping's state, as Lambda names an event source mapping's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum MappingState {
    #[default]
    Creating,
    /// Polling the queue.
    Enabled,
    /// `Enabled: false` in the template: never started.
    Disabled,
    /// Stopped.
    Stopped,
}

/// One mapping's state for `esb status`.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingStatus {
    pub state: MappingState,
    pub queue_url: Option<String>,
    /// Pollers running now (each with at most one batch in flight).
    pub pollers: usize,
    /// When the queue was last received from (milliseconds since the epoch).
    pub last_poll_ms: Option<u64>,
    /// How the last batch ended ("OK", "FunctionError", "2 of 10 messages failed"...).
    pub last_batch_result: Option<String>,
    /// Batches the function took (invocations it could not be given are not counted).
    pub batches: u64,
    /// Messages the function handled (deleted after success).
    pub messages: u64,
    /// Messages deleted unsent because no filter matched them.
    pub filtered: u64,
    /// Messages left on the queue because the function failed them (retried after the
    /// visibility timeout, or moved to the dead-letter queue by the queue).
    pub failures: u64,
    /// The last error talking to the queue, if the last attempt failed.
    pub last_error: Option<String>,
}

/// Shared between the pollers (which write) and `esb status` (which reads).
pub type StatusHandle = Arc<Mutex<MappingStatus>>;

/// Changes the status; a poisoned lock is still a status worth updating.
pub(super) fn update(status: &StatusHandle, f: impl FnOnce(&mut MappingStatus)) {
    let mut guard = status.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut guard);
}

/// A copy of the status.
pub(super) fn read(status: &StatusHandle) -> MappingStatus {
    status.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Milliseconds since the epoch.
pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
