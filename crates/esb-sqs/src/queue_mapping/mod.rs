//! SQS queue → Lambda event source mappings, with Lambda's semantics: batches of up to
//! `BatchSize` messages gathered for up to `MaximumBatchingWindowInSeconds` (never over
//! 6 MB), event filtering (messages no filter matches are deleted), synchronous
//! invocation, deletion on success, redelivery after the visibility timeout on failure
//! (the queue's redrive policy moving them to its dead-letter queue), partial batch
//! responses (`ReportBatchItemFailures`), backoff on throttling, FIFO order, and
//! pollers scaled like Lambda's up to `ScalingConfig.MaximumConcurrency`.
//!
//! The poller speaks only SQS's public JSON API through [`SqsClient`] (`GetQueueUrl`,
//! `GetQueueAttributes`, `ReceiveMessage`, `DeleteMessageBatch`,
//! `ChangeMessageVisibilityBatch`), so the same code reads the box's SQS, moto,
//! ElasticMQ and AWS.
//!
//! Layers, each using only those above it: `client`, `spec`, `status`, `queue_api`,
//! `event` (what a mapping is and what it talks to); `context` (shared state); `gather`
//! (one batch's messages), `batch` (one batch to the end), `poller` (the mapping).

mod batch;
mod client;
mod context;
mod event;
mod gather;
mod poller;
mod queue_api;
mod spec;
mod status;

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

pub use client::{BOX_CALL, CallError, SqsClient};
pub use esb_lambda::source_invoke::{InvokeOutcome, Invoker};
pub use queue_api::QueueArn;
pub use spec::{MappingError, MappingSpec, Timing};
pub use status::{MappingState, MappingStatus, StatusHandle};

/// A started mapping. Dropping it does not stop it: call [`MappingHandle::stop`].
pub struct MappingHandle {
    task: tokio::task::JoinHandle<()>,
    status: StatusHandle,
    stop: watch::Sender<bool>,
}

impl MappingHandle {
    /// Tells the mapping to stop: its pollers end promptly, a batch in flight is
    /// abandoned (its messages return to the queue after their visibility timeout).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Stops the mapping and waits until its pollers have ended.
    pub async fn stopped(self) {
        self.stop();
        let _ = self.task.await;
    }

    /// What `esb status` shows of the mapping now.
    pub fn status(&self) -> MappingStatus {
        status::read(&self.status)
    }

    /// The status the pollers keep current, for whoever reports it.
    pub fn status_handle(&self) -> StatusHandle {
        self.status.clone()
    }
}

/// Starts `spec`, polling through `client` and invoking through `invoker` (on the
/// current tokio runtime). A disabled mapping does not poll: its state says
/// `Disabled`. An invalid spec (see [`MappingSpec::validate`]) is refused.
pub fn start(
    spec: MappingSpec,
    client: SqsClient,
    invoker: Arc<dyn Invoker>,
) -> Result<MappingHandle, MappingError> {
    spec.validate()?;
    let filters = spec.compile_filters()?;
    let arn = QueueArn::parse(&spec.queue_arn).ok_or_else(|| {
        MappingError::InvalidParameterValue(format!("Invalid queue ARN: {}", spec.queue_arn))
    })?;
    let status: StatusHandle = Arc::new(Mutex::new(MappingStatus::default()));
    let (stop, stopped) = watch::channel(false);
    if !spec.enabled {
        status::update(&status, |s| s.state = MappingState::Disabled);
        return Ok(MappingHandle {
            task: tokio::spawn(async {}),
            status,
            stop,
        });
    }
    let setup = poller::Setup {
        client,
        spec,
        filters,
        arn,
        invoker,
        status: status.clone(),
    };
    Ok(MappingHandle {
        task: tokio::spawn(poller::run(setup, stopped)),
        status,
        stop,
    })
}
