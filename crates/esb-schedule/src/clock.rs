//! Wall-clock time, injectable so tests can run hours of schedule in paused tokio
//! time. Schedules are wall-clock (UTC) by nature; the scheduler naps at most a few
//! seconds at a time so that a clock that jumps is noticed.

use chrono::{DateTime, Utc};

/// The current UTC time.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
