//! What the pollers of a running mapping share: its configuration and services, the
//! queue, the scaling signals, and how a poller learns it must stop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use esb_lambda::event_filter::FilterPattern;
use esb_lambda::source_invoke::Invoker;

use super::client::SqsClient;
use super::queue_api::QueueInfo;
use super::spec::MappingSpec;
use super::status::StatusHandle;

/// One mapping polling one queue.
pub(super) struct MappingCtx {
    pub client: SqsClient,
    pub spec: MappingSpec,
    /// The spec's filters, parsed once.
    pub filters: Vec<FilterPattern>,
    /// The queue's region: every record's `awsRegion`.
    pub region: String,
    pub queue_url: String,
    pub queue: QueueInfo,
    pub invoker: Arc<dyn Invoker>,
    pub status: StatusHandle,
    /// Pollers running now.
    pub pollers: AtomicUsize,
    /// A receive came back full since the scaler last looked: more pollers would help.
    pub busy: AtomicBool,
}

impl MappingCtx {
    /// The pollers a quiet mapping keeps.
    pub fn base_pollers(&self) -> usize {
        self.spec
            .timing
            .initial_pollers
            .clamp(1, self.spec.concurrency_limit())
    }

    /// Leaves the pool if it has more pollers than a quiet mapping keeps; true if this
    /// poller should end (the count already says it is gone).
    pub fn retire(&self) -> bool {
        let base = self.base_pollers();
        self.pollers
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n > base).then(|| n - 1)
            })
            .is_ok()
    }
}

pub(super) type Ctx = Arc<MappingCtx>;

pub(super) use esb_lambda::poller_stop::{is_stopped, or_stop, sleep, stopped};
