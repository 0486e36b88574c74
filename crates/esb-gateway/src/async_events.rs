//! Accepted asynchronous (`Event`) invocations, tracked from their 202 to their end:
//! a stopping box waits for them (bounded) and names every one it could not finish, so
//! no accepted event disappears silently.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

#[derive(Default)]
pub struct AsyncEvents {
    /// Event id → function name and when it was accepted.
    pending: Mutex<HashMap<String, (String, Instant)>>,
    changed: Notify,
}

impl AsyncEvents {
    pub fn accepted(&self, id: &str, function: &str) {
        if let Ok(mut p) = self.pending.lock() {
            p.insert(id.to_string(), (function.to_string(), Instant::now()));
        }
    }

    pub fn finished(&self, id: &str) {
        if let Ok(mut p) = self.pending.lock() {
            p.remove(id);
        }
        self.changed.notify_waiters();
    }

    /// Pending events of `function` and the age of the oldest.
    pub fn pending_for(&self, function: &str) -> (usize, Duration) {
        self.pending
            .lock()
            .map(|p| {
                let ages = p
                    .values()
                    .filter(|(f, _)| f == function)
                    .map(|(_, t)| t.elapsed());
                ages.fold((0, Duration::ZERO), |(n, oldest), age| {
                    (n + 1, oldest.max(age))
                })
            })
            .unwrap_or_default()
    }

    fn remaining(&self) -> Vec<(String, String)> {
        self.pending
            .lock()
            .map(|p| p.iter().map(|(k, (f, _))| (k.clone(), f.clone())).collect())
            .unwrap_or_default()
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
