//! Accepted asynchronous (`Event`) invocations, tracked from their 202 to their end:
//! a stopping box waits for them (bounded) and names every one it could not finish, so
//! no accepted event disappears silently.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

#[derive(Default)]
pub struct AsyncEvents {
    /// Event id → function name and when it was accepted.
    pending: Mutex<HashMap<String, (String, Instant)>>,
    changed: Notify,
}

impl AsyncEvents {
    /// Every change is one insert or remove, so a lock poisoned by a panic elsewhere
    /// still guards a consistent map: take it rather than lose track of an event.
    fn pending(&self) -> MutexGuard<'_, HashMap<String, (String, Instant)>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn accepted(&self, id: &str, function: &str) {
        self.pending()
            .insert(id.to_string(), (function.to_string(), Instant::now()));
    }

    pub fn finished(&self, id: &str) {
        self.pending().remove(id);
        self.changed.notify_waiters();
    }

    /// Pending events of `function` and the age of the oldest.
    pub fn pending_for(&self, function: &str) -> (usize, Duration) {
        let pending = self.pending();
        let ages = pending
            .values()
            .filter(|(f, _)| f == function)
            .map(|(_, t)| t.elapsed());
        ages.fold((0, Duration::ZERO), |(n, oldest), age| {
            (n + 1, oldest.max(age))
        })
    }

    fn remaining(&self) -> Vec<(String, String)> {
        self.pending()
            .iter()
            .map(|(k, (f, _))| (k.clone(), f.clone()))
            .collect()
    }

    /// Waits up to `within` for every accepted event to finish; returns those that did not.
    pub async fn drain(&self, within: Duration) -> Vec<(String, String)> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let left = self.remaining();
            if left.is_empty() || tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.remaining();
            }
        }
    }
}
