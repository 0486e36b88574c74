//! Saying a recurring failure once in a while: a full disk fails every write, and one
//! warning per write would bury everything else the box says.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct WarnEvery {
    last: Mutex<Option<Instant>>,
}

impl WarnEvery {
    /// Whether to warn now: at most once per `period`.
    pub fn now(&self, period: Duration) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| t.elapsed() < period) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_once_per_period() {
        let w = WarnEvery::default();
        assert!(w.now(Duration::from_secs(60)));
        assert!(!w.now(Duration::from_secs(60)));
        assert!(w.now(Duration::ZERO));
    }
}
