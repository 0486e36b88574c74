//! The scheduler: one task that wakes when the next run is due (and at least every
//! few seconds, so a wall clock that jumps is noticed), records each due run in the
//! [`Ledger`] and hands it to a delivery task.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use esb_template::ScheduleEventSpec;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

use crate::clock::{Clock, SystemClock};
use crate::delivery::{Delivery, deliver};
use crate::error::ScheduleError;
use crate::ledger::{Ledger, Record};
use crate::payload::payload;
use crate::plan::{fingerprint, next_run};
use crate::target::ScheduleTarget;

/// The longest nap between looks at the clock.
const MAX_NAP: Duration = Duration::from_secs(5);

/// Where the scheduler runs and keeps its record.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// The `region` and `account` of scheduled events and ARNs.
    pub region: String,
    pub account: String,
    /// The directory of the scheduler's record (`schedules.json`); created if needed.
    pub state_dir: PathBuf,
}

/// One schedule, for `esb status` (which reads it from a file the box writes).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScheduleStatus {
    /// The function's name.
    pub function: String,
    /// The event's logical id.
    pub event: String,
    pub expression: String,
    pub timezone: String,
    pub enabled: bool,
    /// The next run, RFC 3339 UTC to the second; None when disabled or none is left.
    pub next_run: Option<String>,
}

/// Runs the enabled schedules of the project until [`Scheduler::stop`].
pub struct Scheduler {
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    config: SchedulerConfig,
    target: Arc<dyn ScheduleTarget>,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    wake: Notify,
    stopping: AtomicBool,
}

struct State {
    entries: Vec<Entry>,
    ledger: Ledger,
    deliveries: JoinSet<()>,
}

struct Entry {
    function: String,
    spec: ScheduleEventSpec,
    key: String,
    created_at: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
}

impl Scheduler {
    /// Starts running `schedules` (function name, event) on the system clock. Must
    /// be called within a tokio runtime.
    pub fn start(
        config: SchedulerConfig,
        target: Arc<dyn ScheduleTarget>,
        schedules: Vec<(String, ScheduleEventSpec)>,
    ) -> Result<Self, ScheduleError> {
        Self::start_with_clock(config, target, schedules, Arc::new(SystemClock))
    }

    /// [`Scheduler::start`] with another clock (tests use tokio's paused time).
    pub fn start_with_clock(
        config: SchedulerConfig,
        target: Arc<dyn ScheduleTarget>,
        schedules: Vec<(String, ScheduleEventSpec)>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ScheduleError> {
        let ledger = Ledger::open(&config.state_dir)?;
        let shared = Arc::new(Shared {
            config,
            target,
            clock,
            state: Mutex::new(State {
                entries: Vec::new(),
                ledger,
                deliveries: JoinSet::new(),
            }),
            wake: Notify::new(),
            stopping: AtomicBool::new(false),
        });
        shared.replace(schedules)?;
        let task = tokio::spawn(run(shared.clone()));
        Ok(Self {
            shared,
            task: Mutex::new(Some(task)),
        })
    }

    /// Swaps in the schedules of a reloaded template. An unchanged schedule keeps its
    /// next run; an edited one (expression, time zone, start date) starts afresh; no
    /// scheduled time already fired fires again. Runs being delivered carry on. An
    /// error means the record could not be written: the schedules still run.
    pub fn replace(
        &self,
        schedules: Vec<(String, ScheduleEventSpec)>,
    ) -> Result<(), ScheduleError> {
        self.shared.replace(schedules)
    }

    /// Every schedule, in the order given, with its next run.
    pub fn status(&self) -> Vec<ScheduleStatus> {
        let state = self.shared.lock();
        state
            .entries
            .iter()
            .map(|e| ScheduleStatus {
                function: e.function.clone(),
                event: e.spec.logical_id.clone(),
                expression: e.spec.expression.to_string(),
                timezone: e.spec.timezone.clone(),
                enabled: e.spec.enabled,
                next_run: e.next.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            })
            .collect()
    }

    /// Stops firing and abandons runs still being retried.
    pub async fn stop(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
        let mut deliveries = std::mem::take(&mut self.shared.lock().deliveries);
        deliveries.shutdown().await;
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        if let Some(task) = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
        self.shared.lock().deliveries.abort_all();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn replace(&self, schedules: Vec<(String, ScheduleEventSpec)>) -> Result<(), ScheduleError> {
        let now = self.clock.now();
        let mut first_error = None;
        let mut state = self.lock();
        let mut entries = Vec::with_capacity(schedules.len());
        for (function, spec) in schedules {
            let key = format!("{function}/{}", spec.logical_id);
            let fp = fingerprint(&spec);
            let record = state.ledger.get(&key).cloned();
            let last_fired = record.as_ref().and_then(|r| r.last_fired);
            let (created_at, fresh) = match &record {
                Some(r) if r.fingerprint == fp => (r.created_at, false),
                _ => (now, true),
            };
            if fresh {
                let record = Record {
                    fingerprint: fp,
                    created_at,
                    last_fired,
                };
                if let Err(e) = state.ledger.set(&key, record) {
                    first_error.get_or_insert(e);
                }
            }
            let kept = state
                .entries
                .iter()
                .find(|e| e.key == key && e.spec == spec && !fresh)
                .map(|e| e.next);
            let next = kept.unwrap_or_else(|| {
                // A new schedule may run right now (a Scheduler rate starts at once).
                let from = if fresh {
                    now - chrono::Duration::milliseconds(1)
                } else {
                    now
                };
                let from = last_fired.map_or(from, |l| from.max(l));
                next_run(&spec, created_at, from)
            });
            entries.push(Entry {
                function,
                spec,
                key,
                created_at,
                next,
            });
        }
        state.entries = entries;
        drop(state);
        self.wake.notify_one();
        first_error.map_or(Ok(()), Err)
    }

    /// Fires what is due; returns how long to nap.
    fn tick(&self) -> Duration {
        let now = self.clock.now();
        let mut state = self.lock();
        while state.deliveries.try_join_next().is_some() {}
        let State {
            entries,
            ledger,
            deliveries,
        } = &mut *state;
        let mut due = Vec::new();
        for (i, e) in entries.iter_mut().enumerate() {
            if let Some(at) = e.next.filter(|t| *t <= now) {
                due.push((i, at));
                // Missed runs are not replayed: the next is the first after now.
                e.next = next_run(&e.spec, e.created_at, now.max(at));
            }
        }
        if due.is_empty() {
            return nap(entries, now);
        }
        let runs: Vec<(&str, DateTime<Utc>)> = due
            .iter()
            .map(|(i, at)| (entries[*i].key.as_str(), *at))
            .collect();
        if let Err(error) = ledger.fired(&runs) {
            // Not fired: a run that cannot be recorded might be fired twice.
            tracing::error!(%error, runs = due.len(), "scheduled runs skipped: cannot record them");
            return nap(entries, now);
        }
        for (i, due) in due {
            let e = &entries[i];
            let (region, account) = (&self.config.region, &self.config.account);
            tracing::info!(function = %e.function, event = %e.spec.logical_id, scheduled = %due, "scheduled run");
            deliveries.spawn(deliver(Delivery {
                target: self.target.clone(),
                clock: self.clock.clone(),
                function: e.function.clone(),
                payload: payload(&e.spec, due, region, account),
                scheduled: due,
                retry_policy: e.spec.retry_policy,
                dead_letter: e.spec.dead_letter.as_ref().map(|d| d.arn.clone()),
                source_arn: e.spec.arn(region, account),
                target_arn: format!("arn:aws:lambda:{region}:{account}:function:{}", e.function),
            }));
        }
        nap(entries, now)
    }
}

/// Until the soonest next run, [`MAX_NAP`] at most.
fn nap(entries: &[Entry], now: DateTime<Utc>) -> Duration {
    let soonest = entries.iter().filter_map(|e| e.next).min();
    soonest.map_or(MAX_NAP, |t| {
        (t - now).to_std().unwrap_or(Duration::ZERO).min(MAX_NAP)
    })
}

async fn run(shared: Arc<Shared>) {
    while !shared.stopping.load(Ordering::SeqCst) {
        let nap = shared.tick();
        tokio::select! {
            () = tokio::time::sleep(nap) => {}
            () = shared.wake.notified() => {}
        }
    }
}
