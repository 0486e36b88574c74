//! When a schedule runs next, from its expression, dates and (for `rate(...)`) the
//! time it counts from.

use chrono::{DateTime, Duration, Utc};
use esb_template::{ScheduleEventSpec, ScheduleKind};

/// What decides a schedule's times: a change to any of it makes a new schedule.
pub fn fingerprint(spec: &ScheduleEventSpec) -> String {
    format!(
        "{:?} {} {} {}",
        spec.kind,
        spec.expression,
        spec.timezone,
        spec.start_date.map(|d| d.to_rfc3339()).unwrap_or_default()
    )
}

/// The first run of `spec` strictly after `from`; `None` when disabled or none is
/// left. A `rate(...)` runs at `anchor + k * period`, the anchor being `StartDate`
/// or else `created_at`: a schedule (EventBridge Scheduler) runs at the anchor
/// itself ("starts invoking its target immediately"), a rule one period after it.
/// `cron` runs no earlier than `StartDate`, and nothing runs at or after `EndDate`.
pub fn next_run(
    spec: &ScheduleEventSpec,
    created_at: DateTime<Utc>,
    from: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if !spec.enabled {
        return None;
    }
    let next = match spec.expression.rate() {
        Some(period) => {
            let anchor = spec.start_date.unwrap_or(created_at);
            let first = i64::from(spec.kind == ScheduleKind::Rule);
            let k = if from < anchor {
                first
            } else {
                let elapsed = (from - anchor).num_milliseconds();
                (elapsed / period.num_milliseconds().max(1) + 1).max(first)
            };
            anchor.checked_add_signed(period.checked_mul(i32::try_from(k).ok()?)?)?
        }
        None => {
            // Scheduler ignores StartDate for a one-time at(...).
            let from = match spec.start_date {
                Some(start) if !spec.expression.as_str().starts_with("at(") => {
                    from.max(start - Duration::milliseconds(1))
                }
                _ => from,
            };
            spec.expression.next_after(from, spec.tz())?
        }
    };
    match spec.end_date {
        Some(end) if next >= end => None,
        _ => Some(next),
    }
}
