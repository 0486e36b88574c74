//! `Events` of `Type: Schedule` and `Type: ScheduleV2` on a function: SAM's scheduled
//! event sources. `Schedule` becomes an EventBridge rule (`AWS::Events::Rule`, UTC
//! only), `ScheduleV2` an EventBridge Scheduler schedule (`AWS::Scheduler::Schedule`,
//! with a time zone, `at(...)`, start and end dates). Read into
//! [`ScheduleEventSpec`]s, each property checked as SAM, EventBridge and
//! CloudFormation check it, so a schedule that loads here would also deploy.
//!
//! Names are SAM's: a rule is named `Name`, else CloudFormation generates
//! `<stack>-<Function><Event>-<12 characters>`; a schedule is named `Name`, else SAM
//! names it `<Function><Event>` (the generated name when `OmitName: true`). The 12
//! characters derive from the stack and logical id, so restarts agree on the name.

use chrono::{DateTime, NaiveDateTime, Utc};
use sha2::{Digest, Sha256};

use crate::bucket_name;
use crate::error::{ErrorKind, TemplateError};
use crate::event_props::{self, EventKind};
use crate::intrinsics::Resolver;
use crate::props::{fields, text};
use crate::schedule_expression::{ScheduleExpression, parse_timezone};
use crate::schedule_spec::{
    ScheduleDeadLetter, ScheduleEventSpec, ScheduleKind, ScheduleRetryPolicy,
};
use crate::spot::Spot;
use crate::value::Value;
use crate::yaml_tree::{Entry, Node};

/// The properties SAM defines for `Schedule`.
const RULE_PROPERTIES: [&str; 8] = [
    "Schedule",
    "Input",
    "Enabled",
    "State",
    "Name",
    "Description",
    "DeadLetterConfig",
    "RetryPolicy",
];
/// The properties SAM defines for `ScheduleV2`.
const SCHEDULER_PROPERTIES: [&str; 16] = [
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "StartDate",
    "EndDate",
    "FlexibleTimeWindow",
    "Input",
    "Name",
    "OmitName",
    "State",
    "Description",
    "GroupName",
    "RetryPolicy",
    "DeadLetterConfig",
    "RoleArn",
    "KmsKeyArn",
    "PermissionsBoundary",
];
/// Accepted and warned about: IAM and encryption, which a local box does not have.
const NOT_ACTED_ON: [&str; 3] = ["RoleArn", "KmsKeyArn", "PermissionsBoundary"];
const RULE_HINT: &str = "a Schedule event is {Type: Schedule, Properties: {Schedule: 'rate(5 minutes)'}} (or cron(0 12 * * ? *))";
const SCHEDULER_HINT: &str = "a ScheduleV2 event is {Type: ScheduleV2, Properties: {ScheduleExpression: 'cron(0 9 ? * MON-FRI *)', ScheduleExpressionTimezone: Europe/London}}";
const RETRY_HINT: &str = "RetryPolicy: {MaximumRetryAttempts: 0..185 (default 185), MaximumEventAgeInSeconds: 60..86400 (default 86400)}";
const DLQ_HINT: &str = "DeadLetterConfig: {Arn: !GetAtt MyQueue.Arn} or {Type: SQS} (SAM then creates the queue; QueueLogicalId names it)";
const WINDOW_HINT: &str =
    "FlexibleTimeWindow: {Mode: 'OFF'} or {Mode: FLEXIBLE, MaximumWindowInMinutes: 1..1440}";
/// EventBridge's limits on names (rules, schedules, groups) and descriptions.
const MAX_NAME: usize = 64;
const MAX_DESCRIPTION: usize = 512;
/// EventBridge's limit on a rule target's `Input`.
const MAX_RULE_INPUT: usize = 8192;
/// SQS's limit on a queue name, for the queue SAM creates.
const MAX_QUEUE_NAME: usize = 80;
const UNIQUE_LEN: usize = 12;
const ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Reads the `Type: Schedule` and `Type: ScheduleV2` entries of `Events` (a mapping:
/// `api_event` checked) of the function `function_id`.
pub fn read(
    r: &Resolver<'_>,
    events: Option<&Node>,
    base: &str,
    function_id: &str,
) -> Result<Vec<ScheduleEventSpec>, TemplateError> {
    let mut out = Vec::new();
    for e in events.map(Node::entries).unwrap_or_default() {
        let kind = match e.value.get("Type").and_then(Node::as_str) {
            Some("Schedule") => ScheduleKind::Rule,
            Some("ScheduleV2") => ScheduleKind::Scheduler,
            _ => continue,
        };
        let path = format!("{base}.Events.{}", e.key);
        out.push(event(r, e, &path, kind, function_id)?);
    }
    Ok(out)
}

/// One event's properties, resolved, with where each is written.
struct Props<'n> {
    values: Vec<(String, Value, Spot<'n>)>,
}

impl<'n> Props<'n> {
    fn get(&self, key: &str) -> Option<(&Value, &Spot<'n>)> {
        self.values
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, s)| (v, s))
    }
}

fn event(
    r: &Resolver<'_>,
    e: &Entry,
    path: &str,
    kind: ScheduleKind,
    function_id: &str,
) -> Result<ScheduleEventSpec, TemplateError> {
    let v2 = kind == ScheduleKind::Scheduler;
    let (allowed, hint, type_name): (&[&str], &str, &str) = if v2 {
        (&SCHEDULER_PROPERTIES, SCHEDULER_HINT, "ScheduleV2")
    } else {
        (&RULE_PROPERTIES, RULE_HINT, "Schedule")
    };
    let props = event_props::checked(
        r,
        e,
        path,
        &EventKind {
            name: type_name,
            properties: allowed,
            ignored: &NOT_ACTED_ON,
            ignored_because: " (no IAM or KMS locally)",
            hint,
        },
    )?;
    let base = format!("{path}.Properties");
    let mut resolved = Props { values: Vec::new() };
    for p in props.value.entries() {
        if NOT_ACTED_ON.contains(&p.key.as_str()) {
            continue;
        }
        let p_path = format!("{base}.{}", p.key);
        // AWS::NoValue: as if absent.
        if let Some(v) = r.resolve(&p.value, &p_path)? {
            resolved
                .values
                .push((p.key.clone(), v, Spot::of(p, p_path)));
        }
    }
    let expression_key = if v2 { "ScheduleExpression" } else { "Schedule" };
    let Some((v, spot)) = resolved.get(expression_key) else {
        return Err(r.error(
            props.key_pos,
            &base,
            ErrorKind::MissingProperty(expression_key.into()),
            hint,
        ));
    };
    let written = text(r, v, spot, hint)?;
    let expression = ScheduleExpression::parse(&written, v2).map_err(|why| {
        r.error(
            spot.at,
            &spot.path,
            ErrorKind::InvalidValue(why),
            "see EventBridge's cron and rate expressions: cron(minutes hours day-of-month month day-of-week year), one of day-of-month and day-of-week being ?, e.g. cron(0 12 * * ? *); rate(1 minute), rate(5 minutes)",
        )
    })?;

    let str_prop = |key: &str| -> Result<Option<(String, &Spot<'_>)>, TemplateError> {
        match resolved.get(key) {
            Some((v, spot)) => Ok(Some((text(r, v, spot, hint)?, spot))),
            None => Ok(None),
        }
    };
    let bool_prop = |key: &str| -> Result<Option<bool>, TemplateError> {
        match resolved.get(key) {
            Some((v, spot)) => v.as_bool().map(Some).ok_or_else(|| {
                r.error(
                    spot.at,
                    &spot.path,
                    ErrorKind::InvalidValue(format!(
                        "must be true or false, not {}",
                        v.as_text().unwrap_or_else(|| v.shape().to_string())
                    )),
                    hint,
                )
            }),
            None => Ok(None),
        }
    };
    let bad = |spot: &Spot<'_>, why: String, hint: &str| {
        r.error(spot.at, &spot.path, ErrorKind::InvalidValue(why), hint)
    };

    let timezone = match str_prop("ScheduleExpressionTimezone")? {
        Some((tz, spot)) => {
            parse_timezone(&tz).map_err(|why| bad(spot, why, hint))?;
            tz
        }
        None => "UTC".to_string(),
    };

    let input = match str_prop("Input")? {
        Some((input, spot)) => {
            if let Err(e) = serde_json::from_str::<serde_json::Value>(&input) {
                return Err(bad(
                    spot,
                    format!("must be JSON text, the event the function gets: {e}"),
                    "Input: '{\"key\": \"value\"}' (a string holding JSON)",
                ));
            }
            if !v2 && input.len() > MAX_RULE_INPUT {
                return Err(bad(
                    spot,
                    format!(
                        "is {} bytes; EventBridge allows {MAX_RULE_INPUT}",
                        input.len()
                    ),
                    "send less; the function can read the rest itself",
                ));
            }
            Some(input)
        }
        None => None,
    };

    let mut enabled = true;
    let states: &[&str] = if v2 {
        &["ENABLED", "DISABLED"]
    } else {
        &[
            "ENABLED",
            "DISABLED",
            "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
        ]
    };
    if let Some((state, spot)) = str_prop("State")? {
        if !states.contains(&state.as_str()) {
            return Err(bad(
                spot,
                format!("{state:?} is not one of {}", states.join(", ")),
                hint,
            ));
        }
        if resolved.get("Enabled").is_some() {
            return Err(r.error(
                spot.at,
                &spot.path,
                ErrorKind::BadEventSource(
                    "State and Enabled Properties cannot both be specified.".into(),
                ),
                "keep one: State: DISABLED or Enabled: false",
            ));
        }
        enabled = state != "DISABLED";
    }
    if let Some(on) = bool_prop("Enabled")? {
        enabled = on;
    }

    let check_name = |name: &str, spot: &Spot<'_>, what: &str| -> Result<(), TemplateError> {
        let valid = !name.is_empty()
            && name.len() <= MAX_NAME
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if valid {
            return Ok(());
        }
        Err(bad(
            spot,
            format!(
                "{name:?} is not a valid {what} name: 1 to {MAX_NAME} letters, digits, '.', '-' or '_'"
            ),
            "set Name to a shorter name of letters, digits, '.', '-' or '_'",
        ))
    };
    let sam_id = format!("{function_id}{}", e.key);
    let event_spot = Spot::bare(e.key_pos, path.to_string());
    let omit_name = bool_prop("OmitName")?.unwrap_or(false);
    let name = match str_prop("Name")? {
        Some((_, spot)) if omit_name => {
            return Err(r.error(
                spot.at,
                &spot.path,
                ErrorKind::BadEventSource("Name cannot be set when OmitName is True".into()),
                "drop Name or OmitName",
            ));
        }
        Some((name, spot)) => {
            check_name(&name, spot, if v2 { "schedule" } else { "rule" })?;
            name
        }
        None if v2 && !omit_name => {
            // SAM names the schedule after the event's logical id.
            check_name(&sam_id, &event_spot, "schedule")?;
            sam_id.clone()
        }
        None => generated_name(&r.pseudo.stack_name, &sam_id, MAX_NAME),
    };

    let group_name = if v2 {
        Some(match str_prop("GroupName")? {
            Some((group, spot)) => {
                check_name(&group, spot, "schedule group")?;
                group
            }
            None => "default".to_string(),
        })
    } else {
        None
    };

    let description = match str_prop("Description")? {
        Some((d, spot)) if d.chars().count() > MAX_DESCRIPTION => {
            return Err(bad(
                spot,
                format!("is longer than {MAX_DESCRIPTION} characters"),
                "shorten it",
            ));
        }
        Some((d, _)) => Some(d),
        None => None,
    };

    let start_date = date(r, str_prop("StartDate")?)?;
    let end_date = date(r, str_prop("EndDate")?)?;
    if let (Some(start), Some(end), Some((_, spot))) =
        (start_date, end_date, resolved.get("EndDate"))
        && end <= start
    {
        return Err(bad(
            spot,
            "The EndDate must be after the StartDate".into(),
            "EndDate is when the schedule stops: after StartDate",
        ));
    }

    let flexible_window_minutes = match resolved.get("FlexibleTimeWindow") {
        Some((v, spot)) => window(r, v, spot)?,
        None => None,
    };
    let retry_policy = match resolved.get("RetryPolicy") {
        Some((v, spot)) => retry(r, v, spot)?,
        None => ScheduleRetryPolicy::default(),
    };
    let dead_letter = match resolved.get("DeadLetterConfig") {
        Some((v, spot)) => Some(dead_letter(r, v, spot, &sam_id)?),
        None => None,
    };

    Ok(ScheduleEventSpec {
        logical_id: e.key.clone(),
        kind,
        expression,
        timezone,
        input,
        enabled,
        start_date,
        end_date,
        retry_policy,
        dead_letter,
        name,
        group_name,
        description,
        flexible_window_minutes,
    })
}

/// `StartDate` / `EndDate`: a timestamp, UTC unless it says otherwise
/// (`2026-01-01T00:00:00Z`, `2026-01-01T09:00:00+01:00`, `2026-01-01T00:00:00`).
fn date(
    r: &Resolver<'_>,
    prop: Option<(String, &Spot<'_>)>,
) -> Result<Option<DateTime<Utc>>, TemplateError> {
    let Some((written, spot)) = prop else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(&written) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(&written, format) {
            return Ok(Some(t.and_utc()));
        }
        if let Ok(d) = chrono::NaiveDate::parse_from_str(&written, format)
            && let Some(t) = d.and_hms_opt(0, 0, 0)
        {
            return Ok(Some(t.and_utc()));
        }
    }
    Err(r.error(
        spot.at,
        &spot.path,
        ErrorKind::InvalidValue(format!("{written:?} is not a date and time")),
        "write an ISO 8601 time in UTC, e.g. 2026-01-01T00:00:00Z",
    ))
}

/// A whole number within `min..=max`, refused in the words of EventBridge's
/// ValidationException.
fn whole(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
    min: u32,
    max: u32,
    hint: &str,
) -> Result<u32, TemplateError> {
    let written = v.as_text().unwrap_or_else(|| v.shape().to_string());
    let n = match v {
        Value::Number(t) | Value::String(t) => t.parse::<i64>().ok(),
        _ => None,
    };
    let constraint = match n {
        Some(n) if n < i64::from(min) => format!("greater than or equal to {min}"),
        Some(n) if n > i64::from(max) => format!("less than or equal to {max}"),
        Some(n) => {
            return u32::try_from(n).map_err(|e| {
                r.error(
                    spot.at,
                    &spot.path,
                    ErrorKind::InvalidValue(e.to_string()),
                    hint,
                )
            });
        }
        None => {
            return Err(r.error(
                spot.at,
                &spot.path,
                ErrorKind::InvalidValue(format!("must be a whole number, not {written}")),
                hint,
            ));
        }
    };
    Err(r.error(
        spot.at,
        &spot.path,
        ErrorKind::BadEventSource(format!(
            "Value '{written}' failed to satisfy constraint: Member must have value {constraint}"
        )),
        hint,
    ))
}

/// `RetryPolicy`.
fn retry(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
) -> Result<ScheduleRetryPolicy, TemplateError> {
    let mut out = ScheduleRetryPolicy::default();
    for (key, value) in fields(
        r,
        v,
        spot,
        &["MaximumEventAgeInSeconds", "MaximumRetryAttempts"],
        RETRY_HINT,
    )? {
        let at = spot.key(key);
        if key == "MaximumEventAgeInSeconds" {
            out.maximum_event_age_s = whole(r, value, &at, 60, 86_400, RETRY_HINT)?;
        } else {
            out.maximum_retry_attempts = whole(r, value, &at, 0, 185, RETRY_HINT)?;
        }
    }
    Ok(out)
}

/// `FlexibleTimeWindow`: `Mode: OFF`, or `FLEXIBLE` with `MaximumWindowInMinutes`.
fn window(r: &Resolver<'_>, v: &Value, spot: &Spot<'_>) -> Result<Option<u32>, TemplateError> {
    fields(r, v, spot, &["Mode", "MaximumWindowInMinutes"], WINDOW_HINT)?;
    let mode_spot = spot.key("Mode");
    let mode = match v.get("Mode") {
        Some(m) => text(r, m, &mode_spot, WINDOW_HINT)?,
        None => {
            return Err(r.error(
                spot.at,
                &spot.path,
                ErrorKind::MissingProperty("Mode".into()),
                WINDOW_HINT,
            ));
        }
    };
    let minutes = match v.get("MaximumWindowInMinutes") {
        Some(m) => Some(whole(
            r,
            m,
            &spot.key("MaximumWindowInMinutes"),
            1,
            1440,
            WINDOW_HINT,
        )?),
        None => None,
    };
    match (mode.as_str(), minutes) {
        ("OFF", _) => Ok(None),
        ("FLEXIBLE", Some(m)) => Ok(Some(m)),
        ("FLEXIBLE", None) => Err(r.error(
            spot.at,
            &spot.path,
            ErrorKind::MissingProperty("MaximumWindowInMinutes".into()),
            WINDOW_HINT,
        )),
        (other, _) => Err(r.error(
            mode_spot.at,
            &mode_spot.path,
            ErrorKind::InvalidValue(format!("{other:?} is not OFF or FLEXIBLE")),
            WINDOW_HINT,
        )),
    }
}

/// `DeadLetterConfig`: `Arn` (an SQS queue's), or SAM's `Type: SQS` with an optional
/// `QueueLogicalId`, never both (SAM's rules and wording).
fn dead_letter(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
    sam_id: &str,
) -> Result<ScheduleDeadLetter, TemplateError> {
    fields(r, v, spot, &["Arn", "Type", "QueueLogicalId"], DLQ_HINT)?;
    let refuse = |why: &str| {
        r.error(
            spot.at,
            &spot.path,
            ErrorKind::BadEventSource(why.into()),
            DLQ_HINT,
        )
    };
    match (v.get("Arn"), v.get("Type")) {
        (Some(_), Some(_)) => Err(refuse(
            "You can either define 'Arn' or 'Type' property of DeadLetterConfig",
        )),
        (None, None) => Err(refuse(
            "No 'Arn' or 'Type' property provided for DeadLetterConfig",
        )),
        (Some(arn), None) => {
            let at = spot.key("Arn");
            let arn = text(r, arn, &at, DLQ_HINT)?;
            let parts: Vec<&str> = arn.split(':').collect();
            let sqs = parts.len() == 6
                && parts[0] == "arn"
                && parts[1].starts_with("aws")
                && parts[2] == "sqs"
                && !parts[5].is_empty();
            if !sqs {
                return Err(r.error(
                    at.at,
                    &at.path,
                    ErrorKind::BadEventSource(format!(
                        "{arn:?} is not an SQS queue ARN (arn:aws:sqs:<region>:<account>:<queue>); EventBridge dead-letter queues are SQS queues"
                    )),
                    DLQ_HINT,
                ));
            }
            Ok(ScheduleDeadLetter {
                arn,
                sam_queue: None,
            })
        }
        (None, Some(kind)) => {
            let kind = text(r, kind, &spot.key("Type"), DLQ_HINT)?;
            if kind != "SQS" {
                return Err(refuse(
                    "The only valid value for 'Type' property of DeadLetterConfig is 'SQS'",
                ));
            }
            let queue_id = match v.get("QueueLogicalId") {
                Some(q) => text(r, q, &spot.key("QueueLogicalId"), DLQ_HINT)?,
                None => format!("{sam_id}Queue"),
            };
            // Named as ESB names a template's queues without QueueName: the logical
            // id, so the queue keeps its name (and messages) across restarts.
            let name: String = queue_id.chars().take(MAX_QUEUE_NAME).collect();
            Ok(ScheduleDeadLetter {
                arn: format!(
                    "arn:aws:sqs:{}:{}:{name}",
                    r.pseudo.region, r.pseudo.account_id
                ),
                sam_queue: Some(queue_id),
            })
        }
    }
}

/// CloudFormation's name for a resource without one: `<stack>-<logical id>-<12
/// upper-case letters and digits>` within `max` characters, the 12 derived from the
/// stack and logical id so every start agrees.
fn generated_name(stack_name: &str, logical_id: &str, max: usize) -> String {
    let digest = Sha256::digest(format!("{stack_name}:{logical_id}").as_bytes());
    let unique: String = digest
        .iter()
        .take(UNIQUE_LEN)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    let clean = |part: &str| {
        part.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '-') {
                    c
                } else {
                    '-'
                }
            })
            .collect::<String>()
            .trim_matches('-')
            .to_string()
    };
    let (stack, id) = (clean(stack_name), clean(logical_id));
    let (stack, id) = bucket_name::fit(&stack, &id, max - UNIQUE_LEN - 1);
    [stack, id, unique.as_str()]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<&str>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Template;
    use crate::testing::load_with_function;
    use crate::{LoadOptions, TemplateError};

    /// The function `Fn` with `events` (lines at event indentation, 8 spaces).
    fn load(events: &str) -> Result<Template, TemplateError> {
        load_with_function(
            &format!("      Events:\n{events}"),
            "",
            &LoadOptions::default(),
        )
    }

    /// A ScheduleV2 event `E` with `extra` (one line at property indentation, 12
    /// spaces; written at line 16).
    fn v2(extra: &str) -> String {
        format!(
            "        E:\n          Type: ScheduleV2\n          Properties:\n            ScheduleExpression: rate(5 minutes)\n            {extra}\n"
        )
    }

    /// A Schedule event `E` with `extra`, likewise.
    fn v1(extra: &str) -> String {
        format!(
            "        E:\n          Type: Schedule\n          Properties:\n            Schedule: rate(5 minutes)\n            {extra}\n"
        )
    }

    #[test]
    fn rule_defaults_and_names() {
        let t = load(
            "        Tick:\n          Type: Schedule\n          Properties:\n            Schedule: cron(0 12 * * ? *)\n        Get: {Type: Api, Properties: {Path: /, Method: get}}\n",
        )
        .expect("valid");
        let s = &t.functions[0].schedule_events;
        assert_eq!(s.len(), 1);
        let e = &s[0];
        assert_eq!(e.logical_id, "Tick");
        assert_eq!(e.kind, ScheduleKind::Rule);
        assert_eq!(e.expression.as_str(), "cron(0 12 * * ? *)");
        assert_eq!(e.timezone, "UTC");
        assert!(e.enabled);
        assert_eq!(e.input, None);
        assert_eq!(e.retry_policy, ScheduleRetryPolicy::default());
        assert_eq!(e.retry_policy.maximum_retry_attempts, 185);
        assert_eq!(e.retry_policy.maximum_event_age_s, 86_400);
        assert_eq!(e.group_name, None);
        // CloudFormation's generated name for the rule SAM calls FnTick.
        assert!(e.name.starts_with("esb-FnTick-"), "{}", e.name);
        assert_eq!(e.name.len(), "esb-FnTick-".len() + 12);
        assert_eq!(
            e.arn("us-east-1", "123456789012"),
            format!("arn:aws:events:us-east-1:123456789012:rule/{}", e.name)
        );
        assert_eq!(t.functions[0].api_events.len(), 1);
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
        let again = load(
            "        Tick:\n          Type: Schedule\n          Properties:\n            Schedule: cron(0 12 * * ? *)\n",
        )
        .expect("valid");
        assert_eq!(again.functions[0].schedule_events[0].name, e.name, "stable");
    }

    #[test]
    fn every_rule_property() {
        let t = load(&v1(
            "Input: '{\"job\": \"nightly\"}'\n            Enabled: false\n            Name: nightly-rule\n            Description: Nightly\n            RetryPolicy: {MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 600}\n            DeadLetterConfig: {Arn: 'arn:aws:sqs:us-east-1:123456789012:dlq'}",
        ))
        .expect("valid");
        let e = &t.functions[0].schedule_events[0];
        assert_eq!(e.input.as_deref(), Some("{\"job\": \"nightly\"}"));
        assert!(!e.enabled);
        assert_eq!(e.name, "nightly-rule");
        assert_eq!(e.description.as_deref(), Some("Nightly"));
        assert_eq!(
            e.retry_policy,
            ScheduleRetryPolicy {
                maximum_event_age_s: 600,
                maximum_retry_attempts: 3
            }
        );
        assert_eq!(
            e.dead_letter,
            Some(ScheduleDeadLetter {
                arn: "arn:aws:sqs:us-east-1:123456789012:dlq".into(),
                sam_queue: None
            })
        );
        let t = load(&v1("State: DISABLED")).expect("valid");
        assert!(!t.functions[0].schedule_events[0].enabled);
        let t = load(&v1("State: ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")).expect("valid");
        assert!(t.functions[0].schedule_events[0].enabled);
    }

    #[test]
    fn every_scheduler_property() {
        let t = load(&v2(
            "ScheduleExpressionTimezone: America/New_York\n            StartDate: '2026-01-01T00:00:00Z'\n            EndDate: '2027-01-01T00:00:00'\n            FlexibleTimeWindow: {Mode: FLEXIBLE, MaximumWindowInMinutes: 15}\n            Input: '{}'\n            State: DISABLED\n            GroupName: jobs\n            RetryPolicy: {MaximumRetryAttempts: 0}\n            DeadLetterConfig: {Type: SQS}\n            RoleArn: 'arn:aws:iam::123456789012:role/r'",
        ))
        .expect("valid");
        let e = &t.functions[0].schedule_events[0];
        assert_eq!(e.kind, ScheduleKind::Scheduler);
        assert_eq!(e.timezone, "America/New_York");
        assert_eq!(e.tz(), chrono_tz::America::New_York);
        assert_eq!(
            e.start_date.map(|d| d.to_rfc3339()),
            Some("2026-01-01T00:00:00+00:00".into())
        );
        assert_eq!(
            e.end_date.map(|d| d.to_rfc3339()),
            Some("2027-01-01T00:00:00+00:00".into())
        );
        assert_eq!(e.flexible_window_minutes, Some(15));
        assert_eq!(e.input.as_deref(), Some("{}"));
        assert!(!e.enabled);
        // SAM names the schedule after the event's logical id.
        assert_eq!(e.name, "FnE");
        assert_eq!(e.group_name.as_deref(), Some("jobs"));
        assert_eq!(
            e.arn("us-east-1", "123456789012"),
            "arn:aws:scheduler:us-east-1:123456789012:schedule/jobs/FnE"
        );
        assert_eq!(e.retry_policy.maximum_retry_attempts, 0);
        assert_eq!(e.retry_policy.maximum_event_age_s, 86_400);
        let dlq = e.dead_letter.as_ref().expect("dlq");
        assert_eq!(dlq.sam_queue.as_deref(), Some("FnEQueue"));
        assert_eq!(dlq.arn, "arn:aws:sqs:us-east-1:123456789012:FnEQueue");
        let w: Vec<String> = t.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("Events.E.Properties.RoleArn: is not acted on by ESB"),
            "{w:?}"
        );

        let t = load(&v2("OmitName: true")).expect("valid");
        let e = &t.functions[0].schedule_events[0];
        assert!(e.name.starts_with("esb-FnE-"), "{}", e.name);
        assert_eq!(e.group_name.as_deref(), Some("default"));
        let t = load(&v2("Name: !Sub '${AWS::StackName}-tick'")).expect("valid");
        assert_eq!(t.functions[0].schedule_events[0].name, "esb-tick");
        let t = load(&v2("DeadLetterConfig: {Type: SQS, QueueLogicalId: Failed}")).expect("valid");
        let dlq = t.functions[0].schedule_events[0]
            .dead_letter
            .clone()
            .expect("dlq");
        assert_eq!(dlq.sam_queue.as_deref(), Some("Failed"));
        assert_eq!(dlq.arn, "arn:aws:sqs:us-east-1:123456789012:Failed");
        let t = load(
            "        At:\n          Type: ScheduleV2\n          Properties: {ScheduleExpression: 'at(2026-07-04T09:00:00)', ScheduleExpressionTimezone: Europe/Paris}\n",
        )
        .expect("valid");
        assert_eq!(
            t.functions[0].schedule_events[0].expression.as_str(),
            "at(2026-07-04T09:00:00)"
        );
    }

    #[test]
    fn what_eventbridge_and_sam_refuse() {
        let at = "unit.yaml:16:13: Resources.Fn.Properties.Events.E.Properties.";
        for (event, want) in [
            (v1("Input: '{'"), format!("{at}Input: must be JSON text")),
            (v1("Enabled: maybe"), format!("{at}Enabled: must be true or false, not maybe")),
            (
                v1("State: DISABLED\n            Enabled: true"),
                format!("{at}State: State and Enabled Properties cannot both be specified."),
            ),
            (v1("State: PAUSED"), format!("{at}State: \"PAUSED\" is not one of ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")),
            (v2("State: ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"), "is not one of ENABLED, DISABLED".into()),
            (v1("Name: 'my rule'"), format!("{at}Name: \"my rule\" is not a valid rule name")),
            (v1(&format!("Name: {}", "r".repeat(65))), "is not a valid rule name".into()),
            (v2("Name: x\n            OmitName: true"), format!("{at}Name: Name cannot be set when OmitName is True")),
            (v1("ScheduleExpressionTimezone: UTC"), format!("{at}ScheduleExpressionTimezone: is not a property of Schedule events")),
            (v2("Enabled: true"), format!("{at}Enabled: is not a property of ScheduleV2 events")),
            (v2("ScheduleExpressionTimezone: Mars/Base"), format!("{at}ScheduleExpressionTimezone: \"Mars/Base\" is not an IANA time zone name")),
            (v2("StartDate: tomorrow"), format!("{at}StartDate: \"tomorrow\" is not a date and time")),
            (v2("StartDate: '2026-02-01T00:00:00Z'\n            EndDate: '2026-01-01T00:00:00Z'"), "EndDate: The EndDate must be after the StartDate".into()),
            (v2("RetryPolicy: {MaximumRetryAttempts: 186}"), "unit.yaml:16:27: Resources.Fn.Properties.Events.E.Properties.RetryPolicy.MaximumRetryAttempts: Value '186' failed to satisfy constraint: Member must have value less than or equal to 185".into()),
            (v2("RetryPolicy: {MaximumEventAgeInSeconds: 59}"), "Value '59' failed to satisfy constraint: Member must have value greater than or equal to 60".into()),
            (v2("RetryPolicy: {MaximumEventAgeInSeconds: 86401}"), "less than or equal to 86400".into()),
            (v2("RetryPolicy: {Retries: 1}"), "RetryPolicy.Retries: is not one of MaximumEventAgeInSeconds, MaximumRetryAttempts".into()),
            (v2("FlexibleTimeWindow: {Mode: FLEXIBLE}"), "FlexibleTimeWindow: MaximumWindowInMinutes is missing".into()),
            (v2("FlexibleTimeWindow: {Mode: SOMETIMES}"), "FlexibleTimeWindow.Mode: \"SOMETIMES\" is not OFF or FLEXIBLE".into()),
            (v2("FlexibleTimeWindow: {Mode: FLEXIBLE, MaximumWindowInMinutes: 1441}"), "less than or equal to 1440".into()),
            (v2("DeadLetterConfig: {Type: SQS, Arn: 'arn:aws:sqs:us-east-1:123456789012:q'}"), "You can either define 'Arn' or 'Type' property of DeadLetterConfig".into()),
            (v2("DeadLetterConfig: {}"), "No 'Arn' or 'Type' property provided for DeadLetterConfig".into()),
            (v2("DeadLetterConfig: {Type: SNS}"), "The only valid value for 'Type' property of DeadLetterConfig is 'SQS'".into()),
            (v2("DeadLetterConfig: {Arn: 'arn:aws:sns:us-east-1:123456789012:t'}"), "DeadLetterConfig.Arn: \"arn:aws:sns:us-east-1:123456789012:t\" is not an SQS queue ARN".into()),
            (v2(&format!("GroupName: {}", "g".repeat(65))), "is not a valid schedule group name".into()),
        ] {
            let e = load(&event).expect_err(&event).to_string();
            assert!(e.contains(&want), "{event}: {e}");
        }
        for (event, want) in [
            (
                "        E:\n          Type: Schedule\n          Properties:\n            Schedule: rate(1 minutes)\n",
                "unit.yaml:15:13: Resources.Fn.Properties.Events.E.Properties.Schedule: rate(1 minutes): write the unit singular for 1 and plural otherwise",
            ),
            (
                "        E:\n          Type: Schedule\n          Properties:\n            Schedule: cron(0 12 * * * *)\n",
                "Properties.Schedule: day-of-month (*) and day-of-week (*) cannot both be given",
            ),
            (
                "        E:\n          Type: Schedule\n          Properties:\n            Schedule: at(2026-01-01T00:00:00)\n",
                "at(...) is for ScheduleV2",
            ),
            (
                "        E:\n          Type: ScheduleV2\n          Properties:\n            ScheduleExpressionTimezone: UTC\n",
                "unit.yaml:14:11: Resources.Fn.Properties.Events.E.Properties: ScheduleExpression is missing",
            ),
            (
                "        E: {Type: Schedule}\n",
                "Resources.Fn.Properties.Events.E: Properties is missing",
            ),
            (
                "        AVeryLongEventNameThatMakesTheScheduleNameLongerThanSixtyFourCharacters:\n          Type: ScheduleV2\n          Properties: {ScheduleExpression: rate(1 hour)}\n",
                "is not a valid schedule name",
            ),
        ] {
            let e = load(event).expect_err(event).to_string();
            assert!(e.contains(want), "{event}: {e}");
        }
    }

    #[test]
    fn generated_names_fit() {
        let n = generated_name(&"s".repeat(100), &"L".repeat(100), MAX_NAME);
        assert_eq!(n.len(), MAX_NAME);
        assert_eq!(generated_name("my stack", "FnE", 64).split('-').count(), 4);
    }
}
