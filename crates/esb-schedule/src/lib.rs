//! The project's scheduled functions: every `Events: Schedule` (an EventBridge rule)
//! and `Events: ScheduleV2` (an EventBridge Scheduler schedule) of the template,
//! fired at their times as EventBridge fires them.
//!
//! - A run is fired once: each is recorded durably ([`ledger`]) before it is handed
//!   to the [`ScheduleTarget`], so neither a restart nor a hot reload
//!   ([`Scheduler::replace`]) fires the same scheduled time twice.
//! - Runs missed while the box was down are not replayed (EventBridge does not
//!   replay them either); `rate(...)` keeps its cadence across restarts, counted
//!   from when the schedule was first seen.
//! - A target that fails is retried per `RetryPolicy`, then the run goes to the
//!   `DeadLetterConfig` queue ([`delivery`]).
//!
//! ```no_run
//! # async fn run(target: std::sync::Arc<dyn esb_schedule::ScheduleTarget>, t: esb_template::Template) -> Result<(), esb_schedule::ScheduleError> {
//! let config = esb_schedule::SchedulerConfig {
//!     region: "us-east-1".into(),
//!     account: "123456789012".into(),
//!     state_dir: ".esb/schedules".into(),
//! };
//! let schedules = esb_schedule::schedules(&t.functions);
//! let scheduler = esb_schedule::Scheduler::start(config, target, schedules)?;
//! for s in scheduler.status() {
//!     println!("{} {} next {:?}", s.function, s.expression, s.next_run);
//! }
//! scheduler.stop().await;
//! # Ok(()) }
//! ```

pub mod clock;
pub mod delivery;
mod error;
pub mod ledger;
pub mod payload;
mod plan;
mod project;
mod scheduler;
mod target;

pub use clock::{Clock, SystemClock};
pub use error::ScheduleError;
pub use project::schedules;
pub use scheduler::{ScheduleStatus, Scheduler, SchedulerConfig};
pub use target::{DeliveryFailure, ScheduleTarget};
