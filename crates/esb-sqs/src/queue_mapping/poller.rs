//! The mapping: finds its queue, then runs pollers, each gathering a batch, invoking
//! the function with it and finishing it before gathering the next (so a poller has
//! at most one batch in flight, and a FIFO queue, which gives a message group to one
//! receiver at a time, is never reordered). Like Lambda, it starts with five pollers,
//! adds one per `scale_up_interval` while receives come back full, up to
//! `MaximumConcurrency` (or the box's cap), and lets pollers go when their long polls
//! come back empty or their batches fail.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::watch;
use tokio::task::JoinSet;

use esb_lambda::event_filter::FilterPattern;
use esb_lambda::source_invoke::Invoker;

use super::batch::{self, Handled};
use super::client::SqsClient;
use super::context::{Ctx, MappingCtx, is_stopped, or_stop, sleep, stopped};
use super::gather::{self, Gathered};
use super::queue_api::{self, QueueArn, QueueInfo};
use super::spec::MappingSpec;
use super::status::{self, MappingState, StatusHandle};

/// What a mapping starts with, before its queue is found.
pub(super) struct Setup {
    pub client: SqsClient,
    pub spec: MappingSpec,
    pub filters: Vec<FilterPattern>,
    pub arn: QueueArn,
    pub invoker: Arc<dyn Invoker>,
    pub status: StatusHandle,
}

/// Runs the mapping until `stop` says true.
pub(super) async fn run(setup: Setup, mut stop: watch::Receiver<bool>) {
    if let Some((queue_url, queue)) = find_queue(&setup, &mut stop).await {
        let ctx: Ctx = Arc::new(MappingCtx {
            client: setup.client,
            filters: setup.filters,
            region: setup.arn.region.clone(),
            queue_url: queue_url.clone(),
            queue,
            invoker: setup.invoker,
            status: setup.status.clone(),
            spec: setup.spec,
            pollers: AtomicUsize::new(0),
            busy: AtomicBool::new(false),
        });
        status::update(&ctx.status, |s| {
            s.state = MappingState::Enabled;
            s.queue_url = Some(queue_url);
        });
        scale(&ctx, &mut stop).await;
    }
    status::update(&setup.status, |s| {
        s.state = MappingState::Stopped;
        s.pollers = 0;
    });
}

/// The queue's URL and attributes, asked again every few seconds until the queue
/// exists (a template may map a queue created after the box starts); `None` if told
/// to stop first.
async fn find_queue(
    setup: &Setup,
    stop: &mut watch::Receiver<bool>,
) -> Option<(String, QueueInfo)> {
    let spec = &setup.spec;
    loop {
        let found = async {
            let url = match &spec.queue_url {
                Some(url) => url.clone(),
                None => queue_api::queue_url(&setup.client, &setup.arn).await?,
            };
            let info = queue_api::queue_info(&setup.client, &url).await?;
            Ok::<_, super::client::CallError>((url, info))
        };
        match or_stop(stop, found).await? {
            Ok(found) => return Some(found),
            Err(e) => {
                tracing::warn!(service = "sqs", event = %spec.event_name, queue = %spec.queue_arn, "cannot find the queue, retrying: {e}");
                status::update(&setup.status, |s| s.last_error = Some(e.to_string()));
            }
        }
        if sleep(stop, spec.timing.error_backoff).await {
            return None;
        }
    }
}

/// Keeps the pollers running, more of them while the queue is busy.
async fn scale(ctx: &Ctx, stop: &mut watch::Receiver<bool>) {
    let limit = ctx.spec.concurrency_limit();
    let mut pollers = JoinSet::new();
    for _ in 0..ctx.base_pollers() {
        start_poller(ctx, &mut pollers, stop);
    }
    let mut tick = tokio::time::interval(ctx.spec.timing.scale_up_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stopped(stop) => break,
            Some(ended) = pollers.join_next() => {
                if let Err(e) = ended {
                    // A poller that panicked is replaced; one that retired is not.
                    tracing::error!(service = "sqs", event = %ctx.spec.event_name, "a poller failed: {e}");
                    ctx.pollers.fetch_sub(1, Ordering::AcqRel);
                }
                while ctx.pollers.load(Ordering::Acquire) < ctx.base_pollers() {
                    start_poller(ctx, &mut pollers, stop);
                }
            }
            _ = tick.tick() => {
                if ctx.busy.swap(false, Ordering::AcqRel)
                    && ctx.pollers.load(Ordering::Acquire) < limit
                {
                    start_poller(ctx, &mut pollers, stop);
                }
            }
        }
        let running = ctx.pollers.load(Ordering::Acquire);
        status::update(&ctx.status, |s| s.pollers = running);
    }
    while pollers.join_next().await.is_some() {}
}

fn start_poller(ctx: &Ctx, pollers: &mut JoinSet<()>, stop: &watch::Receiver<bool>) {
    ctx.pollers.fetch_add(1, Ordering::AcqRel);
    pollers.spawn(poll(ctx.clone(), stop.clone()));
}

/// One poller: gather a batch, handle it, again.
async fn poll(ctx: Ctx, mut stop: watch::Receiver<bool>) {
    let mut carry = Vec::new();
    while !is_stopped(&stop) {
        match gather::next_batch(&ctx, &mut carry, &mut stop).await {
            Ok(Gathered::Stopped) => return,
            Ok(Gathered::Idle) => {
                if ctx.retire() {
                    return;
                }
            }
            Ok(Gathered::Batch(messages, received_at)) => {
                match batch::handle(&ctx, messages, received_at, &mut stop).await {
                    Handled::Stopped => return,
                    Handled::Done => {}
                    Handled::Failed => {
                        // Lambda backs off a failing function: no scaling up, and
                        // this poller goes if the mapping has more than it keeps.
                        ctx.busy.store(false, Ordering::Release);
                        if carry.is_empty() && ctx.retire() {
                            return;
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(service = "sqs", event = %ctx.spec.event_name, queue = %ctx.queue_url, "ReceiveMessage failed, retrying: {e}");
                status::update(&ctx.status, |s| {
                    s.last_error = Some(format!("ReceiveMessage: {e}"))
                });
                if sleep(&mut stop, ctx.spec.timing.error_backoff).await {
                    return;
                }
            }
        }
    }
}
