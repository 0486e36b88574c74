//! The schedules of a loaded template, in the form the scheduler takes.

use esb_template::{FunctionSpec, ScheduleEventSpec};

/// Every `Schedule` and `ScheduleV2` event of `functions`, with its function's name,
/// in template order.
pub fn schedules(functions: &[FunctionSpec]) -> Vec<(String, ScheduleEventSpec)> {
    functions
        .iter()
        .flat_map(|f| {
            f.schedule_events
                .iter()
                .map(|e| (f.name.clone(), e.clone()))
        })
        .collect()
}
