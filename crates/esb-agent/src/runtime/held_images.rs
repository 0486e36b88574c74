//! The function images a runtime holds, as placement asks for them with every
//! heartbeat: answered at once from the last listing, which is refreshed in the
//! background when stale, so a heartbeat never waits on a busy Docker daemon or
//! containerd (one slow listing once kept the box's own node from coming up).

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a listing is reused.
const FRESH_FOR: Duration = Duration::from_secs(10);

#[derive(Default)]
pub struct HeldImages {
    /// When the last refresh began, and what the last listing found.
    cached: Arc<Mutex<(Option<Instant>, Vec<String>)>>,
}

impl HeldImages {
    /// The last listing; starts `list` in the background when it is stale (one
    /// refresh at a time). `list` gives `None` when it could not list.
    pub fn get<F>(&self, list: F) -> Vec<String>
    where
        F: Future<Output = Option<Vec<String>>> + Send + 'static,
    {
        let (listed, stale) = {
            let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
            let stale = cached.0.is_none_or(|at| at.elapsed() >= FRESH_FOR);
            if stale {
                cached.0 = Some(Instant::now());
            }
            (cached.1.clone(), stale)
        };
        if stale {
            let cached = Arc::clone(&self.cached);
            tokio::spawn(async move {
                if let Some(images) = list.await {
                    cached.lock().unwrap_or_else(PoisonError::into_inner).1 = images;
                }
            });
        }
        listed
    }
}
