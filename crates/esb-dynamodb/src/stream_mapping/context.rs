//! What the parts of a running mapping share: its configuration and services, the
//! stream being read, and how a part learns it must stop.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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

pub(super) use esb_lambda::poller_stop::{is_stopped, or_stop, sleep, stopped};

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
