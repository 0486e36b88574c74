//! A circuit breaker per function over failures of its execution environments: no
//! worker could be started, a worker vanished, or its runtime died mid-invocation
//! (`Runtime.ExitError`, an OOM kill; `call.rs` tells them apart). After `threshold` in
//! a row the circuit opens and requests fail fast instead of each waiting on a broken
//! agent or starting the same crash again; after the cool-down one request probes
//! (half-open); its success closes the circuit, its failure opens it again. Errors the
//! handler raised, timeouts and throttles are answers, not failures, and never trip it.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    pub threshold: u32,
    pub cooldown: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            threshold: 5,
            cooldown: Duration::from_secs(10),
        }
    }
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

#[derive(Debug)]
pub struct Breaker {
    settings: BreakerSettings,
    state: Mutex<State>,
}

/// The circuit is open: retry after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open {
    pub retry_after: Duration,
}

impl Breaker {
    pub fn new(settings: BreakerSettings) -> Self {
        Self {
            settings,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// The state is one small value replaced whole, so a lock poisoned by a panic
    /// elsewhere still guards a valid state: take it instead of skipping the rule.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a request may go ahead now (in half-open state, only the one probe).
    pub fn allow(&self) -> Result<(), Open> {
        let mut state = self.state();
        match *state {
            State::Closed { .. } => Ok(()),
            State::Open { until } => {
                let now = Instant::now();
                if now >= until {
                    *state = State::HalfOpen { probing: true };
                    Ok(())
                } else {
                    Err(Open {
                        retry_after: until - now,
                    })
                }
            }
            State::HalfOpen { probing: true } => Err(Open {
                retry_after: Duration::from_secs(1),
            }),
            State::HalfOpen { probing: false } => {
                *state = State::HalfOpen { probing: true };
                Ok(())
            }
        }
    }

    /// A worker answered (anything but a dead runtime): the path works.
    pub fn succeeded(&self) {
        *self.state() = State::Closed { failures: 0 };
    }

    /// The request ended without testing the path (throttled): a probe slot is freed.
    pub fn released(&self) {
        let mut state = self.state();
        if matches!(*state, State::HalfOpen { probing: true }) {
            *state = State::HalfOpen { probing: false };
        }
    }

    /// No worker could serve the request, or its runtime died. Returns true when this
    /// opened the circuit.
    pub fn failed(&self) -> bool {
        let mut state = self.state();
        let open = State::Open {
            until: Instant::now() + self.settings.cooldown,
        };
        match *state {
            State::Closed { failures } if failures + 1 >= self.settings.threshold => {
                *state = open;
                true
            }
            State::Closed { failures } => {
                *state = State::Closed {
                    failures: failures + 1,
                };
                false
            }
            State::HalfOpen { .. } | State::Open { .. } => {
                *state = open;
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_probes_after_the_cooldown_and_closes_on_success() {
        let b = Breaker::new(BreakerSettings {
            threshold: 3,
            cooldown: Duration::from_millis(50),
        });
        assert!(!b.failed() && !b.failed());
        b.succeeded();
        assert!(!b.failed() && !b.failed(), "a success resets the count");
        assert!(b.failed(), "the third failure in a row opens it");
        assert!(b.allow().is_err(), "open: fail fast");
        std::thread::sleep(Duration::from_millis(60));
        assert!(b.allow().is_ok(), "half-open: one probe");
        assert!(b.allow().is_err(), "only one probe at a time");
        assert!(b.failed(), "a failed probe opens it again");
        std::thread::sleep(Duration::from_millis(60));
        assert!(b.allow().is_ok());
        b.succeeded();
        assert!(b.allow().is_ok() && b.allow().is_ok(), "closed again");
    }
}
