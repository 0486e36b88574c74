//! DynamoDB Streams → Lambda event source mappings, with Lambda's semantics: records
//! of each shard in order, one batch in flight per shard, child shards after their
//! parents, batching (`BatchSize`, `MaximumBatchingWindowInSeconds`, 6 MB), event
//! filtering, retries with bisection and partial batch responses, on-failure
//! destinations, and durable checkpoints (at least once, nothing skipped).
//!
//! The poller speaks only the public DynamoDB Streams API through [`DynamoClient`]
//! (`DescribeTable`, `DescribeStream`, `GetShardIterator`, `GetRecords`), so the same
//! code reads the embedded engine, ScyllaDB Alternator and AWS.
//!
//! Layers, each using only those above it: `spec`, `filter`, `invoke`, `status`
//! (what a mapping is and what it talks to); `event`, `checkpoint`, `streams_api`,
//! `context` (records, progress, the stream calls, shared state); `batch` (one batch
//! to the end), `shard` (one shard), `poller` (the mapping).

mod batch;
mod checkpoint;
mod context;
mod event;
mod poller;
mod shard;
mod spec;
mod status;
mod streams_api;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// Lambda's event filtering and the invoker traits, shared with the box's other
/// pollers (esb-lambda), re-exported where the stream mapping's users find them.
pub use esb_lambda::event_filter as filter;
pub use esb_lambda::event_filter::{FilterPattern, PatternError};
pub use esb_lambda::source_invoke::{FailureDestination, InvokeOutcome, Invoker};

pub use checkpoint::CheckpointError;
pub use spec::{MappingError, MappingSpec, Source, StartingPosition, Timing};
pub use status::{MappingState, MappingStatus, StatusHandle};

use crate::client::DynamoClient;

/// A started mapping.
pub struct MappingHandle {
    /// Ends after `shutdown` says true (promptly: a batch in flight is abandoned
    /// unacknowledged and read again at the next start).
    pub task: tokio::task::JoinHandle<()>,
    /// What `esb status` shows.
    pub status: StatusHandle,
}

/// Starts `spec` (a disabled mapping is not started: its task ends at once, its state
/// says `Disabled`). `checkpoints` is the directory of the box's stream checkpoints;
/// the mapping keeps one file there. An invalid spec (see [`MappingSpec::validate`])
/// is refused here too, so nothing is read with a filter that means something else.
pub fn spawn(
    client: DynamoClient,
    spec: MappingSpec,
    region: String,
    invoker: Arc<dyn Invoker>,
    failures: Arc<dyn FailureDestination>,
    checkpoints: PathBuf,
    shutdown: watch::Receiver<bool>,
) -> Result<MappingHandle, MappingError> {
    spec.validate()?;
    let filters = spec.compile_filters()?;
    let status: StatusHandle = Arc::new(Mutex::new(MappingStatus::default()));
    if !spec.enabled {
        status::update(&status, |s| s.state = MappingState::Disabled);
        return Ok(MappingHandle {
            task: tokio::spawn(async {}),
            status,
        });
    }
    let ctx = Arc::new(context::MappingCtx {
        client,
        checkpoint_path: checkpoints.join(spec.checkpoint_name()),
        spec,
        filters,
        region,
        invoker,
        failures,
        status: status.clone(),
    });
    Ok(MappingHandle {
        task: tokio::spawn(poller::run(ctx, shutdown)),
        status,
    })
}
