//! What a function's `Events` of `Type: Schedule` (an EventBridge rule) and
//! `Type: ScheduleV2` (an EventBridge Scheduler schedule) become once read: when the
//! function runs, with what payload, and where runs that cannot be delivered go.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::schedule_expression::ScheduleExpression;

/// EventBridge's default retry policy, for rules and schedules alike: 185 retries
/// within 24 hours.
pub const DEFAULT_MAXIMUM_RETRY_ATTEMPTS: u32 = 185;
pub const DEFAULT_MAXIMUM_EVENT_AGE_S: u32 = 86_400;

/// A `Schedule` or `ScheduleV2` event, with EventBridge's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleEventSpec {
    /// The event's key under `Events`.
    pub logical_id: String,
    pub kind: ScheduleKind,
    /// `Schedule` (rules) / `ScheduleExpression` (schedules), checked as EventBridge
    /// checks it.
    pub expression: ScheduleExpression,
    /// `ScheduleExpressionTimezone` (an IANA name); `UTC` for rules, which have none.
    pub timezone: String,
    /// `Input`: JSON text sent as the event instead of EventBridge's own.
    pub input: Option<String>,
    /// `Enabled` / `State`: false when `DISABLED`.
    pub enabled: bool,
    /// `StartDate` / `EndDate` (schedules): no run before / after them.
    pub start_date: Option<DateTime<Utc>>,
    pub end_date: Option<DateTime<Utc>>,
    pub retry_policy: ScheduleRetryPolicy,
    /// `DeadLetterConfig`: where a run goes once its retries are spent.
    pub dead_letter: Option<ScheduleDeadLetter>,
    /// The rule's or schedule's name: `Name`, else the one SAM or CloudFormation
    /// gives it (SAM's defaults: see `schedule_event.rs`).
    pub name: String,
    /// `GroupName` of a schedule (`default` when absent); None for rules.
    pub group_name: Option<String>,
    /// `Description`.
    pub description: Option<String>,
    /// `FlexibleTimeWindow.MaximumWindowInMinutes` when `Mode: FLEXIBLE`. ESB runs at
    /// the start of the window, which is within it.
    pub flexible_window_minutes: Option<u32>,
}

/// Which EventBridge feature SAM makes of the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScheduleKind {
    /// `Type: Schedule`: an `AWS::Events::Rule`, always UTC; sends the
    /// `Scheduled Event` of `aws.events`.
    Rule,
    /// `Type: ScheduleV2`: an `AWS::Scheduler::Schedule`, in a time zone, with
    /// `at(...)`, start and end dates.
    Scheduler,
}

/// `RetryPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleRetryPolicy {
    /// `MaximumEventAgeInSeconds`: 60..=86400, default 86400.
    pub maximum_event_age_s: u32,
    /// `MaximumRetryAttempts`: 0..=185, default 185.
    pub maximum_retry_attempts: u32,
}

impl Default for ScheduleRetryPolicy {
    fn default() -> Self {
        Self {
            maximum_event_age_s: DEFAULT_MAXIMUM_EVENT_AGE_S,
            maximum_retry_attempts: DEFAULT_MAXIMUM_RETRY_ATTEMPTS,
        }
    }
}

/// `DeadLetterConfig`: an SQS queue's ARN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleDeadLetter {
    /// `Arn` as resolved, or, for `Type: SQS`, the ARN of the queue SAM creates.
    pub arn: String,
    /// `Type: SQS`: the logical id of the queue SAM creates for it (`QueueLogicalId`,
    /// else `<Function><Event>Queue`), named in `arn` after it as ESB names queues
    /// without `QueueName`; whoever runs the queues creates it.
    pub sam_queue: Option<String>,
}

impl ScheduleEventSpec {
    /// The time zone the expression is evaluated in.
    pub fn tz(&self) -> Tz {
        self.timezone.parse().unwrap_or(Tz::UTC)
    }

    /// The rule's ARN (`arn:aws:events:<region>:<account>:rule/<name>`) or the
    /// schedule's (`arn:aws:scheduler:<region>:<account>:schedule/<group>/<name>`).
    pub fn arn(&self, region: &str, account: &str) -> String {
        match self.kind {
            ScheduleKind::Rule => format!("arn:aws:events:{region}:{account}:rule/{}", self.name),
            ScheduleKind::Scheduler => format!(
                "arn:aws:scheduler:{region}:{account}:schedule/{}/{}",
                self.group_name.as_deref().unwrap_or("default"),
                self.name
            ),
        }
    }
}
