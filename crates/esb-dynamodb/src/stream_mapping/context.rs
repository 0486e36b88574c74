//! What the parts of a running mapping share: its configuration and services, the
//! stream being read, and how a part learns it must stop.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::checkpoint::Checkpoints;
use super::spec::MappingSpec;
use super::status::StatusHandle;
use crate::client::DynamoClient;
use esb_lambda::event_filter::FilterPattern;
use esb_lambda::source_invoke::{FailureDestination, Invoker};

/// One mapping, for its whole life.
pub(super) struct MappingCtx {
    pub client: DynamoClient,
    pub spec: MappingSpec,
    /// The spec's filters, parsed once.
    pub filters: Vec<FilterPattern>,
    pub region: String,
    pub invoker: Arc<dyn Invoker>,
    pub failures: Arc<dyn FailureDestination>,
    pub checkpoint_path: PathBuf,
    pub status: StatusHandle,
}

/// One mapping reading one stream.
pub(super) struct StreamCtx {
    pub mapping: Arc<MappingCtx>,
    pub stream_arn: String,
    /// The function's ARN, as on-failure records name it.
    pub function_arn: String,
    pub checkpoints: Checkpoints,
}

impl StreamCtx {
    /// `spec.function` if it is an ARN; else the ARN Lambda would give it in the
    /// mapping's region and the stream's account.
    pub fn function_arn(spec: &MappingSpec, region: &str, stream_arn: &str) -> String {
        if spec.function.starts_with("arn:") {
            return spec.function.clone();
        }
        let account = stream_arn
            .split(':')
            .nth(4)
            .filter(|a| !a.is_empty())
            .unwrap_or("000000000000");
        format!(
            "arn:aws:lambda:{region}:{account}:function:{}",
            spec.function
        )
    }
}

/// Resolves once `stop` says true (or its sender is gone: nobody can say go on).
pub(super) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Whether `stop` says true already.
pub(super) fn is_stopped(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

/// Runs `call` unless told to stop first (`None`): a call to an engine that hangs
/// does not hold up shutdown for the client's timeout.
pub(super) async fn or_stop<T>(
    stop: &mut watch::Receiver<bool>,
    call: impl Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        value = call => Some(value),
        () = stopped(stop) => None,
    }
}

/// Sleeps `duration` unless told to stop first; true if told to stop.
pub(super) async fn sleep(stop: &mut watch::Receiver<bool>, duration: Duration) -> bool {
    if is_stopped(stop) {
        return true;
    }
    tokio::select! {
        () = stopped(stop) => true,
        () = tokio::time::sleep(duration) => false,
    }
}

/// An exponential backoff: `initial`, doubling, at most `max`.
pub(super) struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            next: initial,
        }
    }

    /// The wait before the next attempt.
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max.max(self.initial));
        wait
    }

    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}
