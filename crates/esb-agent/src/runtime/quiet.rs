//! Starts that requests wait for, counted, so background preparation (standbys, ready
//! network namespaces) waits for a quiet moment instead of competing with them for
//! the machine's few cores.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Background preparation waits until no start has run for this long.
pub const QUIET: Duration = Duration::from_millis(500);

pub struct Starts {
    running: AtomicUsize,
    last: Mutex<Instant>,
}

impl Default for Starts {
    fn default() -> Self {
        Self {
            running: AtomicUsize::new(0),
            last: Mutex::new(Instant::now()),
        }
    }
}

impl Starts {
    /// Runs `start`, counted as a start a request waits for.
    pub async fn track<T>(&self, start: impl std::future::Future<Output = T>) -> T {
        self.running.fetch_add(1, Ordering::Relaxed);
        let out = start.await;
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
        self.running.fetch_sub(1, Ordering::Relaxed);
        out
    }

    /// Waits until no start runs, for at most `within`.
    pub async fn wait_none(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while self.running.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until no start has run for `quiet`.
    pub async fn wait_quiet(&self, quiet: Duration) {
        loop {
            let since = self
                .last
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .elapsed();
            if self.running.load(Ordering::Relaxed) == 0 && since >= quiet {
                return;
            }
            let left = quiet.saturating_sub(since);
            tokio::time::sleep(left.max(Duration::from_millis(50))).await;
        }
    }
}
