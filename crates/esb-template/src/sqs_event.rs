//! `Events` of `Type: SQS` on a function: SAM's SQS event source, which SAM turns
//! into an `AWS::Lambda::EventSourceMapping` from the queue to the function. Read
//! into [`SqsEventSpec`]s with Lambda's defaults, and checked as Lambda's
//! `CreateEventSourceMapping` checks them (its errors' wording kept, so they can be
//! searched for): batch sizes by queue type, the batching window, the queue's
//! visibility timeout against the function's timeout.

use crate::error::{ErrorKind, TemplateError};
use crate::event_props::{self, EventKind};
use crate::intrinsics::Resolver;
use crate::mapping_props::{boolean, filters, ranged, response_types};
use crate::model::{QueueSpec, SqsEventSpec};
use crate::props::fields;
use crate::queue::{self, DEFAULT_VISIBILITY_TIMEOUT};
use crate::spot::Spot;
use crate::value::Value;
use crate::yaml_tree::{Entry, Node};

/// The properties SAM defines for an SQS event.
const PROPERTIES: [&str; 10] = [
    "Queue",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "FunctionResponseTypes",
    "ScalingConfig",
    "FilterCriteria",
    "Enabled",
    "KmsKeyArn",
    "MetricsConfig",
    "ProvisionedPollerConfig",
];
/// Accepted and warned about: they change nothing a local queue does.
const NOT_ACTED_ON: [&str; 3] = ["KmsKeyArn", "MetricsConfig", "ProvisionedPollerConfig"];
/// Lambda's default `BatchSize` for SQS, and the most it takes without a batching
/// window (and from a FIFO queue).
const DEFAULT_BATCH: u32 = 10;
const HINT: &str =
    "an SQS event is {Type: SQS, Properties: {Queue: !GetAtt MyQueue.Arn, BatchSize: 10}}";
const QUEUE_HINT: &str = "write Queue: !GetAtt MyQueue.Arn (an AWS::SQS::Queue of this template), or a queue ARN arn:aws:sqs:<region>:<account>:<name>";
const FILTER_HINT: &str = "FilterCriteria: {Filters: [{Pattern: '{\"body\": {\"kind\": [\"order\"]}}'}]} (each Pattern a JSON object)";
const SCALING_HINT: &str = "ScalingConfig: {MaximumConcurrency: 2..1000}";

/// Reads the `Type: SQS` entries of `Events` (a mapping: `api_event` checked), on
/// the template's `queues`, for a function that runs up to `timeout_s` seconds.
pub fn read(
    r: &Resolver<'_>,
    events: Option<&Node>,
    base: &str,
    queues: &[QueueSpec],
    timeout_s: u32,
) -> Result<Vec<SqsEventSpec>, TemplateError> {
    let mut out = Vec::new();
    for e in events.map(Node::entries).unwrap_or_default() {
        if e.value.get("Type").and_then(Node::as_str) == Some("SQS") {
            let path = format!("{base}.Events.{}", e.key);
            out.push(event(r, e, &path, queues, timeout_s)?);
        }
    }
    Ok(out)
}

fn event(
    r: &Resolver<'_>,
    e: &Entry,
    path: &str,
    queues: &[QueueSpec],
    timeout_s: u32,
) -> Result<SqsEventSpec, TemplateError> {
    let props = event_props::checked(
        r,
        e,
        path,
        &EventKind {
            name: "SQS",
            properties: &PROPERTIES,
            ignored: &NOT_ACTED_ON,
            ignored_because: "",
            hint: HINT,
        },
    )?;
    let base = format!("{path}.Properties");
    let queue_entry = props.value.entry("Queue").ok_or_else(|| {
        r.error(
            props.key_pos,
            &base,
            ErrorKind::MissingProperty("Queue".into()),
            QUEUE_HINT,
        )
    })?;
    let queue_spot = Spot::of(queue_entry, format!("{base}.Queue"));
    let (queue_arn, template_queue, fifo) = self::queue(r, queue_entry, &queue_spot, queues)?;
    if let Some(q) = template_queue {
        let visibility = q
            .attributes
            .get("VisibilityTimeout")
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(DEFAULT_VISIBILITY_TIMEOUT);
        if visibility < timeout_s {
            return Err(r.error(
                queue_spot.at,
                &queue_spot.path,
                ErrorKind::BadEventSource(format!(
                    "Queue visibility timeout: {visibility} seconds is less than Function timeout: {timeout_s} seconds"
                )),
                format!(
                    "set VisibilityTimeout on {} to at least the function's Timeout (AWS advises six times it), or lower the Timeout",
                    q.logical_id
                ),
            ));
        }
    }
    let mut spec = SqsEventSpec {
        logical_id: e.key.clone(),
        queue_arn,
        queue: template_queue.map(|q| q.name.clone()),
        fifo,
        batch_size: DEFAULT_BATCH,
        maximum_batching_window_s: 0,
        report_batch_item_failures: false,
        maximum_concurrency: None,
        filters: Vec::new(),
        enabled: true,
    };
    let mut batch_spot = None;
    let mut window_spot = None;
    for p in props.value.entries() {
        let key = p.key.as_str();
        if key == "Queue" || NOT_ACTED_ON.contains(&key) {
            continue;
        }
        let spot = Spot::of(p, format!("{base}.{key}"));
        // AWS::NoValue: the default.
        let Some(v) = r.resolve(&p.value, &spot.path)? else {
            continue;
        };
        match key {
            "BatchSize" => {
                spec.batch_size = ranged(
                    r,
                    &v,
                    &spot,
                    "batchSize",
                    1,
                    10000,
                    "BatchSize is 1 to 10000 messages for a standard queue (above 10 with MaximumBatchingWindowInSeconds of 1 or more), 1 to 10 for a FIFO queue (default 10)",
                )?;
                batch_spot = Some(spot);
            }
            "MaximumBatchingWindowInSeconds" => {
                spec.maximum_batching_window_s = ranged(
                    r,
                    &v,
                    &spot,
                    "maximumBatchingWindowInSeconds",
                    0,
                    300,
                    "MaximumBatchingWindowInSeconds is 0 to 300 (default 0: no wait)",
                )?;
                window_spot = Some(spot);
            }
            "FunctionResponseTypes" => {
                spec.report_batch_item_failures = response_types(r, &v, &spot)?;
            }
            "ScalingConfig" => spec.maximum_concurrency = scaling(r, &v, &spot)?,
            "FilterCriteria" => spec.filters = filters(r, &v, &spot, FILTER_HINT)?,
            // Enabled, the last of PROPERTIES that ESB reads.
            _ => spec.enabled = boolean(r, &v, &spot, HINT)?,
        }
    }
    check_batching(
        r,
        &spec,
        batch_spot.as_ref().unwrap_or(&queue_spot),
        window_spot.as_ref().unwrap_or(&queue_spot),
    )?;
    Ok(spec)
}

/// `Queue`: the ARN as resolved, the template queue it names (in this template's
/// region and account), and whether the queue is FIFO.
fn queue<'q>(
    r: &Resolver<'_>,
    entry: &Entry,
    spot: &Spot<'_>,
    queues: &'q [QueueSpec],
) -> Result<(String, Option<&'q QueueSpec>, bool), TemplateError> {
    let Some(value) = r.resolve(&entry.value, &spot.path)? else {
        return Err(r.error(
            spot.at,
            &spot.path,
            ErrorKind::MissingProperty("Queue".into()),
            QUEUE_HINT,
        ));
    };
    let arn = value.as_text().ok_or_else(|| {
        r.error(
            spot.at,
            &spot.path,
            ErrorKind::InvalidValue(format!("must be a queue ARN, not {}", value.shape())),
            QUEUE_HINT,
        )
    })?;
    let Some(parts) = queue::parse_arn(&arn) else {
        let hint = if arn.starts_with("http://") || arn.starts_with("https://") {
            "this is a queue URL (what !Ref gives); Queue takes the ARN: write Queue: !GetAtt MyQueue.Arn"
        } else {
            QUEUE_HINT
        };
        return Err(r.error(
            spot.at,
            &spot.path,
            ErrorKind::BadEventSource(format!("{arn:?} is not an SQS queue ARN")),
            hint,
        ));
    };
    let here = parts.region == r.pseudo.region && parts.account == r.pseudo.account_id;
    let template_queue = queues.iter().find(|q| here && q.name == parts.name);
    let fifo = match template_queue {
        Some(q) => q.fifo,
        None => {
            r.warn_once(
                &format!("SQS queue {arn}"),
                spot.at,
                &spot.path,
                format!(
                    "queue {} is not a queue of this template; ESB polls it only if it exists in ESB's SQS",
                    parts.name
                ),
            );
            parts.name.ends_with(".fifo")
        }
    };
    Ok((arn, template_queue, fifo))
}

/// `ScalingConfig: {MaximumConcurrency}`.
fn scaling(r: &Resolver<'_>, v: &Value, spot: &Spot<'_>) -> Result<Option<u32>, TemplateError> {
    fields(r, v, spot, &["MaximumConcurrency"], SCALING_HINT)?;
    match v.get("MaximumConcurrency") {
        None => Ok(None),
        Some(n) => ranged(
            r,
            n,
            &spot.key("MaximumConcurrency"),
            "scalingConfig.maximumConcurrency",
            2,
            1000,
            SCALING_HINT,
        )
        .map(Some),
    }
}

/// Lambda's rules tying the batch size, the batching window and the queue's type.
fn check_batching(
    r: &Resolver<'_>,
    spec: &SqsEventSpec,
    batch: &Spot<'_>,
    window: &Spot<'_>,
) -> Result<(), TemplateError> {
    let fail = |spot: &Spot<'_>, why: &str, hint: &str| {
        Err(r.error(
            spot.at,
            &spot.path,
            ErrorKind::BadEventSource(why.into()),
            hint,
        ))
    };
    if spec.fifo && spec.maximum_batching_window_s > 0 {
        return fail(
            window,
            "Batching window is not supported for FIFO queues",
            "remove MaximumBatchingWindowInSeconds: Lambda reads a FIFO queue without a batching window",
        );
    }
    if spec.fifo && spec.batch_size > DEFAULT_BATCH {
        return fail(
            batch,
            &format!(
                "Batch size for FIFO queues must be between 1 and {DEFAULT_BATCH}, not {}",
                spec.batch_size
            ),
            "BatchSize is 1 to 10 for a FIFO queue",
        );
    }
    if spec.batch_size > DEFAULT_BATCH && spec.maximum_batching_window_s == 0 {
        return fail(
            batch,
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
            "add MaximumBatchingWindowInSeconds: 1 (or more, up to 300), or lower BatchSize to 10",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Template;
    use crate::testing::load_with_function;
    use crate::{LoadOptions, TemplateError};

    /// `Jobs` (named jobs), `Ordered` (FIFO), `Slow` (a 120 s visibility timeout)
    /// and `Maybe` (never created).
    const QUEUES: &str = "  Jobs:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: jobs}\n  Ordered:\n    Type: AWS::SQS::Queue\n    Properties: {FifoQueue: true}\n  Slow:\n    Type: AWS::SQS::Queue\n    Properties: {VisibilityTimeout: 120}\n  Maybe:\n    Type: AWS::SQS::Queue\n    Condition: Never\n";

    /// The function `Fn` with `events` (lines at event indentation, 8 spaces; the
    /// first at line 12).
    fn load(events: &str) -> Result<Template, TemplateError> {
        load_with_function(
            &format!("      Events:\n{events}"),
            QUEUES,
            &LoadOptions::default(),
        )
    }

    /// An event `E` on `queue` with `extra` (one line at property indentation, 12
    /// spaces; written at line 16).
    fn on(queue: &str, extra: &str) -> String {
        format!(
            "        E:\n          Type: SQS\n          Properties:\n            Queue: {queue}\n            {extra}\n"
        )
    }

    fn error(queue: &str, extra: &str) -> String {
        load(&on(queue, extra))
            .expect_err(&format!("{queue} {extra}"))
            .to_string()
    }

    fn defaults(id: &str, queue: &str) -> SqsEventSpec {
        SqsEventSpec {
            logical_id: id.into(),
            queue_arn: format!("arn:aws:sqs:us-east-1:123456789012:{queue}"),
            queue: Some(queue.into()),
            fifo: false,
            batch_size: 10,
            maximum_batching_window_s: 0,
            report_batch_item_failures: false,
            maximum_concurrency: None,
            filters: Vec::new(),
            enabled: true,
        }
    }

    #[test]
    fn lambdas_defaults() {
        let t = load(
            "        Work:\n          Type: SQS\n          Properties:\n            Queue: !GetAtt Jobs.Arn\n            BatchSize: !If [Never, 5, !Ref AWS::NoValue]\n        Get: {Type: Api, Properties: {Path: /, Method: get}}\n",
        )
        .expect("valid");
        let f = &t.functions[0];
        assert_eq!(f.sqs_events, [defaults("Work", "jobs")]);
        assert_eq!(f.api_events.len(), 1, "the Api event is still read");
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    }

    #[test]
    fn every_property() {
        let t = load(
            "        All:\n          Type: SQS\n          Properties:\n            Queue: !GetAtt [Jobs, Arn]\n            BatchSize: 10000\n            MaximumBatchingWindowInSeconds: '300'\n            FunctionResponseTypes: [ReportBatchItemFailures]\n            ScalingConfig: {MaximumConcurrency: 1000}\n            FilterCriteria:\n              Filters:\n                - Pattern: '{\"body\": {\"kind\": [\"order\"]}}'\n                - Pattern: '{\"attributes\": {\"ApproximateReceiveCount\": [\"1\"]}}'\n            Enabled: false\n            KmsKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/k'\n            MetricsConfig: {Metrics: [EventCount]}\n        Fifo:\n          Type: SQS\n          Properties: {Queue: !GetAtt Ordered.Arn, BatchSize: 1, ScalingConfig: {MaximumConcurrency: 2}}\n        Sub:\n          Type: SQS\n          Properties: {Queue: !Sub 'arn:aws:sqs:${AWS::Region}:${AWS::AccountId}:jobs'}\n        Elsewhere:\n          Type: SQS\n          Properties: {Queue: 'arn:aws:sqs:eu-west-1:123456789012:legacy.fifo'}\n",
        )
        .expect("valid");
        assert_eq!(
            t.functions[0].sqs_events,
            [
                SqsEventSpec {
                    batch_size: 10000,
                    maximum_batching_window_s: 300,
                    report_batch_item_failures: true,
                    maximum_concurrency: Some(1000),
                    filters: vec![
                        r#"{"body": {"kind": ["order"]}}"#.into(),
                        r#"{"attributes": {"ApproximateReceiveCount": ["1"]}}"#.into(),
                    ],
                    enabled: false,
                    ..defaults("All", "jobs")
                },
                SqsEventSpec {
                    fifo: true,
                    batch_size: 1,
                    maximum_concurrency: Some(2),
                    ..defaults("Fifo", "Ordered.fifo")
                },
                defaults("Sub", "jobs"),
                SqsEventSpec {
                    queue_arn: "arn:aws:sqs:eu-west-1:123456789012:legacy.fifo".into(),
                    queue: None,
                    fifo: true,
                    ..defaults("Elsewhere", "")
                },
            ]
        );
        let w: Vec<String> = t.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(w.len(), 3, "{w:#?}");
        assert!(
            w[0].ends_with("unit.yaml:25:13: Resources.Fn.Properties.Events.All.Properties.KmsKeyArn: is not acted on by ESB; ignored"),
            "{w:#?}"
        );
        assert!(
            w[1].ends_with("Events.All.Properties.MetricsConfig: is not acted on by ESB; ignored"),
            "{w:#?}"
        );
        assert!(
            w[2].ends_with("Events.Elsewhere.Properties.Queue: queue legacy.fifo is not a queue of this template; ESB polls it only if it exists in ESB's SQS"),
            "{w:#?}"
        );
    }

    #[test]
    fn the_queue_must_be_an_arn_of_a_queue_that_exists() {
        let at = "unit.yaml:15:13: Resources.Fn.Properties.Events.E.Properties.Queue: ";
        for (queue, want) in [
            (
                "!Ref Jobs",
                format!(
                    "{at}\"https://sqs.us-east-1.amazonaws.com/123456789012/jobs\" is not an SQS queue ARN (hint: this is a queue URL (what !Ref gives); Queue takes the ARN: write Queue: !GetAtt MyQueue.Arn)"
                ),
            ),
            (
                "jobs",
                format!(
                    "{at}\"jobs\" is not an SQS queue ARN (hint: write Queue: !GetAtt MyQueue.Arn"
                ),
            ),
            ("[a]", format!("{at}must be a queue ARN, not a list")),
            (
                "!GetAtt Maybe.Arn",
                "Maybe is not created: its Condition Never is false".into(),
            ),
            (
                "!GetAtt Jobs.QueueName",
                format!("{at}\"jobs\" is not an SQS queue ARN"),
            ),
        ] {
            let e = error(queue, "Enabled: true");
            assert!(e.contains(&want), "{queue}: {e}");
        }
        for (events, want) in [
            (
                "        E:\n          Type: SQS\n          Properties: {BatchSize: 1}\n",
                "unit.yaml:14:11: Resources.Fn.Properties.Events.E.Properties: Queue is missing",
            ),
            (
                "        E: {Type: SQS}\n",
                "Resources.Fn.Properties.Events.E: Properties is missing",
            ),
        ] {
            let e = load(events).expect_err(events).to_string();
            assert!(e.contains(want), "{events}: {e}");
        }
    }

    #[test]
    fn the_queue_must_outlast_the_function() {
        let e = load_with_function(
            &format!(
                "      Timeout: 31\n      Events:\n{}",
                on("!GetAtt Jobs.Arn", "Enabled: true")
            ),
            QUEUES,
            &LoadOptions::default(),
        )
        .expect_err("visibility")
        .to_string();
        assert!(
            e.contains("unit.yaml:16:13: Resources.Fn.Properties.Events.E.Properties.Queue: Queue visibility timeout: 30 seconds is less than Function timeout: 31 seconds (hint: set VisibilityTimeout on Jobs to at least the function's Timeout"),
            "{e}"
        );
        let t = load_with_function(
            &format!(
                "      Timeout: 120\n      Events:\n{}",
                on("!GetAtt Slow.Arn", "Enabled: true")
            ),
            QUEUES,
            &LoadOptions::default(),
        )
        .expect("a 120 s timeout fits a 120 s visibility timeout");
        assert_eq!(t.functions[0].sqs_events[0].queue.as_deref(), Some("Slow"));
    }

    #[test]
    fn what_lambda_refuses() {
        let at = "unit.yaml:16:13: Resources.Fn.Properties.Events.E.Properties.";
        for (queue, extra, want) in [
            (
                "!GetAtt Jobs.Arn",
                "BatchSize: 0",
                format!("{at}BatchSize: Value '0' at 'batchSize' failed to satisfy constraint: Member must have value greater than or equal to 1"),
            ),
            (
                "!GetAtt Jobs.Arn",
                "BatchSize: 10001",
                "Value '10001' at 'batchSize' failed to satisfy constraint: Member must have value less than or equal to 10000".into(),
            ),
            (
                "!GetAtt Jobs.Arn",
                "BatchSize: 11",
                format!("{at}BatchSize: Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10 (hint: add MaximumBatchingWindowInSeconds: 1"),
            ),
            (
                "!GetAtt Jobs.Arn",
                "{BatchSize: 11, MaximumBatchingWindowInSeconds: 0}",
                "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10".into(),
            ),
            (
                "!GetAtt Ordered.Arn",
                "BatchSize: 11",
                format!("{at}BatchSize: Batch size for FIFO queues must be between 1 and 10, not 11"),
            ),
            (
                "!GetAtt Ordered.Arn",
                "MaximumBatchingWindowInSeconds: 1",
                format!("{at}MaximumBatchingWindowInSeconds: Batching window is not supported for FIFO queues"),
            ),
            (
                "'arn:aws:sqs:us-east-1:123456789012:other.fifo'",
                "MaximumBatchingWindowInSeconds: 5",
                "Batching window is not supported for FIFO queues".into(),
            ),
            (
                "!GetAtt Jobs.Arn",
                "MaximumBatchingWindowInSeconds: 301",
                "Value '301' at 'maximumBatchingWindowInSeconds' failed to satisfy constraint: Member must have value less than or equal to 300".into(),
            ),
            (
                "!GetAtt Jobs.Arn",
                "ScalingConfig: {MaximumConcurrency: 1}",
                "Value '1' at 'scalingConfig.maximumConcurrency' failed to satisfy constraint: Member must have value greater than or equal to 2".into(),
            ),
            (
                "!GetAtt Jobs.Arn",
                "ScalingConfig: {MaximumConcurrency: 1001}",
                "Member must have value less than or equal to 1000".into(),
            ),
            (
                "!GetAtt Jobs.Arn",
                "ScalingConfig: {Maximum: 5}",
                "ScalingConfig.Maximum: is not one of MaximumConcurrency".into(),
            ),
            (
                "!GetAtt Jobs.Arn",
                "FunctionResponseTypes: [ReportItemFailures]",
                "Value '[ReportItemFailures]' at 'functionResponseTypes' failed to satisfy constraint".into(),
            ),
            (
                "!GetAtt Jobs.Arn",
                "FilterCriteria: {Filters: [{Pattern: '{}'}, {Pattern: '{}'}, {Pattern: '{}'}, {Pattern: '{}'}, {Pattern: '{}'}, {Pattern: '{}'}]}",
                "FilterCriteria.Filters: 6 filters; Lambda allows 5 per event source mapping".into(),
            ),
            (
                "!GetAtt Jobs.Arn",
                "FilterCriteria: {Filters: [{Pattern: 'body = x'}]}",
                "FilterCriteria.Filters[0].Pattern: Invalid filter pattern definition".into(),
            ),
            (
                "!GetAtt Jobs.Arn",
                "Enabled: sometimes",
                "Enabled: must be true or false, not sometimes".into(),
            ),
            (
                "!GetAtt Jobs.Arn",
                "StartingPosition: LATEST",
                format!("{at}StartingPosition: is not a property of SQS events (Queue, BatchSize,"),
            ),
        ] {
            // A flow mapping in `extra` is several properties on one line.
            let extra = match extra.strip_prefix('{') {
                Some(rest) => rest
                    .trim_end_matches('}')
                    .replace(", ", "\n            "),
                None => extra.to_string(),
            };
            let e = error(queue, &extra);
            assert!(e.contains(&want), "{extra}: {e}");
        }
        let t = load(&on("!GetAtt Jobs.Arn", "FilterCriteria: {Filters: [{Pattern: '{}'}, {Pattern: '{}'}, {Pattern: '{}'}, {Pattern: '{}'}, {Pattern: '{}'}]}"))
            .expect("five filters");
        assert_eq!(t.functions[0].sqs_events[0].filters.len(), 5);
    }

    #[test]
    fn a_skipped_function_reads_no_events() {
        let t = load_with_function(
            "",
            &format!(
                "{QUEUES}  Off:\n    Type: AWS::Serverless::Function\n    Condition: Never\n    Properties:\n      Events:\n        E: {{Type: SQS, Properties: {{Queue: !GetAtt Maybe.Arn}}}}\n"
            ),
            &LoadOptions::default(),
        )
        .expect("valid");
        assert!(t.functions.iter().all(|f| f.sqs_events.is_empty()));
    }
}
