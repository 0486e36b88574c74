//! The event a scheduled function receives, as EventBridge sends it.

use chrono::{DateTime, Utc};
use esb_template::{ScheduleEventSpec, ScheduleKind};

/// `Input` verbatim when the event has one; otherwise, for a rule, EventBridge's
/// `Scheduled Event` from `aws.events` (`detail` an empty object), and for a
/// schedule, EventBridge Scheduler's default notification from `aws.scheduler`
/// (whose `detail` is the string `"{}"`, as Scheduler sends it). `time` is the
/// scheduled time, to the second.
pub fn payload(
    spec: &ScheduleEventSpec,
    scheduled: DateTime<Utc>,
    region: &str,
    account: &str,
) -> String {
    if let Some(input) = &spec.input {
        return input.clone();
    }
    let (source, detail) = match spec.kind {
        ScheduleKind::Rule => ("aws.events", "{}"),
        ScheduleKind::Scheduler => ("aws.scheduler", "\"{}\""),
    };
    let q = |s: &str| serde_json::Value::from(s).to_string();
    format!(
        "{{\"version\":\"0\",\"id\":{},\"detail-type\":\"Scheduled Event\",\"source\":\"{source}\",\"account\":{},\"time\":\"{}\",\"region\":{},\"resources\":[{}],\"detail\":{detail}}}",
        q(&uuid::Uuid::new_v4().to_string()),
        q(account),
        scheduled.format("%Y-%m-%dT%H:%M:%SZ"),
        q(region),
        q(&spec.arn(region, account)),
    )
}
