//! How a poller of the box (DynamoDB stream mappings, SQS queue mappings) stops: a
//! `watch` channel that says `true`, or whose sender is gone. Every wait a poller makes
//! (a call to its source, a back-off) gives way to it, so stopping never waits for a
//! client's timeout.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

/// Resolves once `stop` says true (or its sender is gone: nobody can say go on).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Whether `stop` says true already.
pub fn is_stopped(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

/// Runs `call` unless told to stop first (`None`): a call to an engine that hangs
/// does not hold up shutdown for the client's timeout.
pub async fn or_stop<T>(
    stop: &mut watch::Receiver<bool>,
    call: impl Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        value = call => Some(value),
        () = stopped(stop) => None,
    }
}

/// Sleeps `duration` unless told to stop first; true if told to stop.
pub async fn sleep(stop: &mut watch::Receiver<bool>, duration: Duration) -> bool {
    if is_stopped(stop) {
        return true;
    }
    tokio::select! {
        () = stopped(stop) => true,
        () = tokio::time::sleep(duration) => false,
    }
}
