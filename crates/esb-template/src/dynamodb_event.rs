//! `Events` of `Type: DynamoDB` on a function: SAM's DynamoDB stream event source,
//! which SAM turns into an `AWS::Lambda::EventSourceMapping` from the table's stream
//! to the function. Read into [`DynamoDbEventSpec`]s with Lambda's defaults, and
//! checked as Lambda's `CreateEventSourceMapping` checks them (its errors' wording
//! kept, so they can be searched for), so a mapping that loads here does not fail at
//! deploy time.
//!
//! `Stream: !GetAtt Table.StreamArn` of a table of the template names the table
//! itself ([`DynamoDbStream::Table`]): the stream's real ARN is only known once the
//! engine creates it, and ESB needs the table, not a made-up ARN, to read it.

use crate::error::{ErrorKind, TemplateError};
use crate::event_props::{self, EventKind};
use crate::intrinsics::{Resolver, looks_like_call};
use crate::mapping_props::{boolean, filters, ranged, response_types};
use crate::model::{DynamoDbEventSpec, DynamoDbStream, StartingPosition};
use crate::props::{fields, required, text};
use crate::resource_refs::no_stream_hint;
use crate::resources::{Resource, SIMPLE_TABLE, TABLE};
use crate::spot::Spot;
use crate::table;
use crate::value::Value;
use crate::yaml_tree::{Entry, Node, NodeValue};

/// The properties SAM defines for a DynamoDB event.
const PROPERTIES: [&str; 16] = [
    "Stream",
    "StartingPosition",
    "StartingPositionTimestamp",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "ParallelizationFactor",
    "FunctionResponseTypes",
    "FilterCriteria",
    "DestinationConfig",
    "Enabled",
    "TumblingWindowInSeconds",
    "KmsKeyArn",
    "MetricsConfig",
];
/// Accepted and warned about: they change nothing a local stream does.
const NOT_ACTED_ON: [&str; 2] = ["KmsKeyArn", "MetricsConfig"];
const HINT: &str = "a DynamoDB event is {Type: DynamoDB, Properties: {Stream: !GetAtt MyTable.StreamArn, StartingPosition: LATEST, BatchSize: 100}}";
const STREAM_HINT: &str = "write Stream: !GetAtt MyTable.StreamArn (a table of this template with a StreamSpecification), or a stream ARN arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>";
const FILTER_HINT: &str = "FilterCriteria: {Filters: [{Pattern: '{\"eventName\": [\"INSERT\"]}'}]} (each Pattern a JSON object)";
const DESTINATION_HINT: &str = "DestinationConfig: {OnFailure: {Type: SQS, Destination: arn:aws:sqs:us-east-1:123456789012:failed}} (Type is SAM's, optional: SQS, SNS or S3)";

/// Reads the `Type: DynamoDB` entries of `Events` (a mapping: `api_event` checked).
pub fn read(
    r: &Resolver<'_>,
    events: Option<&Node>,
    base: &str,
) -> Result<Vec<DynamoDbEventSpec>, TemplateError> {
    let mut out = Vec::new();
    for e in events.map(Node::entries).unwrap_or_default() {
        if e.value.get("Type").and_then(Node::as_str) == Some("DynamoDB") {
            out.push(event(r, e, &format!("{base}.Events.{}", e.key))?);
        }
    }
    Ok(out)
}

fn event(r: &Resolver<'_>, e: &Entry, path: &str) -> Result<DynamoDbEventSpec, TemplateError> {
    let props = event_props::checked(
        r,
        e,
        path,
        &EventKind {
            name: "DynamoDB",
            properties: &PROPERTIES,
            ignored: &NOT_ACTED_ON,
            ignored_because: "",
            hint: HINT,
        },
    )?;
    let base = format!("{path}.Properties");
    let missing = |key: &str, hint: &str| {
        r.error(
            props.key_pos,
            &base,
            ErrorKind::MissingProperty(key.into()),
            hint,
        )
    };
    let stream_entry = props
        .value
        .entry("Stream")
        .ok_or_else(|| missing("Stream", STREAM_HINT))?;
    let mut spec = DynamoDbEventSpec {
        logical_id: e.key.clone(),
        stream: stream(r, stream_entry, &format!("{base}.Stream"))?,
        starting_position: StartingPosition::Latest,
        batch_size: 100,
        maximum_batching_window_s: 0,
        maximum_retry_attempts: -1,
        maximum_record_age_s: -1,
        bisect_batch_on_function_error: false,
        parallelization_factor: 1,
        report_batch_item_failures: false,
        filters: Vec::new(),
        on_failure_destination: None,
        enabled: true,
        tumbling_window_s: None,
    };
    let mut starting_position = None;
    for p in props.value.entries() {
        let key = p.key.as_str();
        if key == "Stream" || NOT_ACTED_ON.contains(&key) {
            continue;
        }
        let spot = Spot::of(p, format!("{base}.{key}"));
        // AWS::NoValue: the default.
        let Some(v) = r.resolve(&p.value, &spot.path)? else {
            continue;
        };
        match key {
            "StartingPosition" => starting_position = Some(self::starting_position(r, &v, &spot)?),
            "StartingPositionTimestamp" => {
                return Err(r.error(
                    spot.at,
                    &spot.path,
                    ErrorKind::BadEventSource(
                        "StartingPositionTimestamp is only for StartingPosition AT_TIMESTAMP, which DynamoDB streams do not support".into(),
                    ),
                    "remove it; use StartingPosition TRIM_HORIZON or LATEST",
                ));
            }
            "BatchSize" => {
                spec.batch_size = ranged(
                    r,
                    &v,
                    &spot,
                    "batchSize",
                    1,
                    10000,
                    "BatchSize is 1 to 10000 records for a DynamoDB stream (default 100)",
                )?;
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
            }
            "MaximumRetryAttempts" => {
                spec.maximum_retry_attempts = ranged(
                    r,
                    &v,
                    &spot,
                    "maximumRetryAttempts",
                    -1,
                    10000,
                    "MaximumRetryAttempts is -1 (retry until the record expires, the default) or 0 to 10000",
                )?;
            }
            "MaximumRecordAgeInSeconds" => {
                let hint =
                    "MaximumRecordAgeInSeconds is -1 (no limit, the default) or 60 to 604800";
                let age: i32 =
                    ranged(r, &v, &spot, "maximumRecordAgeInSeconds", -1, 604_800, hint)?;
                if (0..60).contains(&age) {
                    return Err(r.error(
                        spot.at,
                        &spot.path,
                        ErrorKind::BadEventSource(format!(
                            "MaximumRecordAgeInSeconds must be -1 or between 60 and 604800, not {age}"
                        )),
                        hint,
                    ));
                }
                spec.maximum_record_age_s = age;
            }
            "BisectBatchOnFunctionError" => {
                spec.bisect_batch_on_function_error = boolean(r, &v, &spot, HINT)?;
            }
            "ParallelizationFactor" => {
                spec.parallelization_factor = ranged(
                    r,
                    &v,
                    &spot,
                    "parallelizationFactor",
                    1,
                    10,
                    "ParallelizationFactor is 1 to 10 batches per shard at once (default 1)",
                )?;
            }
            "FunctionResponseTypes" => {
                spec.report_batch_item_failures = response_types(r, &v, &spot)?;
            }
            "FilterCriteria" => spec.filters = filters(r, &v, &spot, FILTER_HINT)?,
            "DestinationConfig" => spec.on_failure_destination = destination(r, &v, &spot)?,
            "Enabled" => spec.enabled = boolean(r, &v, &spot, HINT)?,
            // TumblingWindowInSeconds, the last of PROPERTIES that ESB reads.
            _ => {
                spec.tumbling_window_s = Some(ranged(
                    r,
                    &v,
                    &spot,
                    "tumblingWindowInSeconds",
                    0,
                    900,
                    "TumblingWindowInSeconds is 0 to 900",
                )?);
                r.warn_once(
                    "DynamoDB event TumblingWindowInSeconds",
                    spot.at,
                    &spot.path,
                    "is kept but not acted on by ESB: batches are not aggregated into windows (the function gets no window state)".into(),
                );
            }
        }
    }
    spec.starting_position = starting_position.ok_or_else(|| {
        missing(
            "StartingPosition",
            "a DynamoDB stream event needs StartingPosition: TRIM_HORIZON (the oldest record) or LATEST (new records only)",
        )
    })?;
    Ok(spec)
}

/// `Stream`: `!GetAtt T.StreamArn` of a table of this template becomes the table;
/// a stream ARN written out stays an ARN (warned about when it names no table of the
/// template, as ESB has no other tables).
fn stream(r: &Resolver<'_>, entry: &Entry, path: &str) -> Result<DynamoDbStream, TemplateError> {
    let at = entry.key_pos;
    if let Some(call) = r.intrinsic(&entry.value, true, false, path)?
        && call.name == "GetAtt"
        && let Some((id, attr)) = getatt_target(call.arg)
        && attr == "StreamArn"
        && let Some(res) = r.resources.get(id)
        && [TABLE, SIMPLE_TABLE].contains(&res.type_name)
    {
        return table_stream(r, res, entry, path);
    }
    let Some(value) = r.resolve(&entry.value, path)? else {
        return Err(r.error(
            entry.key_pos,
            path,
            ErrorKind::MissingProperty("Stream".into()),
            STREAM_HINT,
        ));
    };
    let arn = value.as_text().ok_or_else(|| {
        r.error(
            at,
            path,
            ErrorKind::InvalidValue(format!("must be a stream ARN, not {}", value.shape())),
            STREAM_HINT,
        )
    })?;
    let Some(parts) = parse_stream_arn(&arn) else {
        return Err(r.error(
            at,
            path,
            ErrorKind::BadEventSource(format!("{arn:?} is not a DynamoDB stream ARN")),
            STREAM_HINT,
        ));
    };
    let template_table = template_table_named(r, parts.table)?;
    // Computed (an !If, a !Sub of ${T.StreamArn}...) to what resource_refs gives for
    // a template table's stream: that table.
    if looks_like_call(&entry.value)
        && let Some(res) = template_table
        && parts.label == "latest"
        && parts.region == r.pseudo.region
        && parts.account == r.pseudo.account_id
    {
        return table_stream(r, res, entry, path);
    }
    if template_table.is_none() {
        r.warn_once(
            &format!("DynamoDB stream {arn}"),
            at,
            path,
            format!(
                "table {} is not a table of this template; ESB cannot deliver its records",
                parts.table
            ),
        );
    }
    Ok(DynamoDbStream::Arn(arn))
}

/// The table `res` as an event's stream: it must exist and have a stream, or
/// CloudFormation fails to resolve its `StreamArn`.
fn table_stream(
    r: &Resolver<'_>,
    res: &Resource<'_>,
    entry: &Entry,
    path: &str,
) -> Result<DynamoDbStream, TemplateError> {
    let at = entry.key_pos;
    if !r.is_created(res)? {
        let cond = res.condition.map(|c| c.0).unwrap_or_default();
        return Err(r.error(
            at,
            path,
            ErrorKind::ResourceNotCreated(res.id.to_string(), cond.to_string()),
            format!(
                "give this function the same Condition as {}, or drop it",
                res.id
            ),
        ));
    }
    if !r.table_has_stream(res)? {
        return Err(r.error(
            at,
            path,
            ErrorKind::BadEventSource(format!(
                "{} ({}) has no stream to read: it has no StreamSpecification",
                res.id, res.type_name
            )),
            no_stream_hint(res),
        ));
    }
    Ok(DynamoDbStream::Table(r.table_name(res)?))
}

/// `Resource.Attribute` or `[Resource, Attribute]` written out.
fn getatt_target(arg: &Node) -> Option<(&str, &str)> {
    match &arg.value {
        NodeValue::Scalar { text, .. } => text.split_once('.'),
        NodeValue::Seq(items) => match items.as_slice() {
            [res, attr] if attr.tag.is_none() => Some((res.as_str()?, attr.as_str()?)),
            _ => None,
        },
        NodeValue::Map(_) => None,
    }
}

/// The table of this template that exists and is named `name`, if any.
fn template_table_named<'r, 'a>(
    r: &'r Resolver<'a>,
    name: &str,
) -> Result<Option<&'r Resource<'a>>, TemplateError> {
    for res in &r.resources.list {
        if [TABLE, SIMPLE_TABLE].contains(&res.type_name)
            && r.is_created(res)?
            && r.table_name(res)? == name
        {
            return Ok(Some(res));
        }
    }
    Ok(None)
}

/// The parts of `arn:<partition>:dynamodb:<region>:<account>:table/<name>/stream/<label>`.
#[derive(Debug, PartialEq)]
struct StreamArn<'a> {
    region: &'a str,
    account: &'a str,
    table: &'a str,
    label: &'a str,
}

/// A DynamoDB stream ARN's parts; `None` for anything else. The label (a timestamp
/// such as `2024-05-01T12:00:00.000`) may hold colons, so the ARN is split into six
/// fields at most.
fn parse_stream_arn(arn: &str) -> Option<StreamArn<'_>> {
    let mut parts = arn.splitn(6, ':');
    let (prefix, partition, service) = (parts.next()?, parts.next()?, parts.next()?);
    let (region, account, resource) = (parts.next()?, parts.next()?, parts.next()?);
    let (table, label) = resource.strip_prefix("table/")?.split_once("/stream/")?;
    let valid = prefix == "arn"
        && partition.starts_with("aws")
        && service == "dynamodb"
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && table::check_name(table).is_ok()
        && !label.is_empty()
        && !label.contains('/');
    valid.then_some(StreamArn {
        region,
        account,
        table,
        label,
    })
}

/// `StartingPosition`: TRIM_HORIZON or LATEST (AT_TIMESTAMP is Kinesis's only).
fn starting_position(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
) -> Result<StartingPosition, TemplateError> {
    const POSITION_HINT: &str = "StartingPosition: TRIM_HORIZON (the oldest record in the stream) or LATEST (new records only)";
    let position = text(r, v, spot, POSITION_HINT)?;
    if let Some(p) = StartingPosition::parse(&position) {
        return Ok(p);
    }
    let why = if position == "AT_TIMESTAMP" {
        "Unsupported starting position for DynamoDB streams: AT_TIMESTAMP (it is for Kinesis streams)".to_string()
    } else {
        format!(
            "Value '{position}' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [TRIM_HORIZON, LATEST, AT_TIMESTAMP]"
        )
    };
    Err(r.error(
        spot.at,
        &spot.path,
        ErrorKind::BadEventSource(why),
        POSITION_HINT,
    ))
}

/// `DestinationConfig: {OnFailure: {Destination, Type}}`: CloudFormation's shape, or
/// SAM's with `Type` (SQS, SNS or S3). Streams have no OnSuccess destination.
fn destination(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
) -> Result<Option<String>, TemplateError> {
    fields(r, v, spot, &["OnFailure"], DESTINATION_HINT)?;
    let Some(on_failure) = v.get("OnFailure") else {
        return Ok(None);
    };
    let at = spot.key("OnFailure");
    fields(
        r,
        on_failure,
        &at,
        &["Destination", "Type"],
        DESTINATION_HINT,
    )?;
    if let Some(kind) = on_failure.get("Type") {
        let type_spot = at.key("Type");
        let kind = text(r, kind, &type_spot, DESTINATION_HINT)?;
        if !["SQS", "SNS", "S3"].contains(&kind.as_str()) {
            return Err(r.error(
                type_spot.at,
                &type_spot.path,
                ErrorKind::InvalidValue(format!("{kind:?} is not SQS, SNS or S3")),
                DESTINATION_HINT,
            ));
        }
    }
    let dest_spot = at.key("Destination");
    let arn = text(
        r,
        required(r, on_failure, "Destination", &at, DESTINATION_HINT)?,
        &dest_spot,
        DESTINATION_HINT,
    )?;
    if !(arn.starts_with("arn:") && arn.split(':').count() >= 6) {
        return Err(r.error(
            dest_spot.at,
            &dest_spot.path,
            ErrorKind::BadEventSource(format!(
                "Value '{arn}' at 'destinationConfig.onFailure.destination' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}})?:(\\d{{12}})?:(.*)"
            )),
            DESTINATION_HINT,
        ));
    }
    Ok(Some(arn))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Template;
    use crate::testing::load_with_function;
    use crate::{LoadOptions, TemplateError};

    /// `Orders` (named orders) has a stream; `Quiet` and `Simple` have none; `Maybe`
    /// is never created.
    const TABLES: &str = "  Orders:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      TableName: orders\n      BillingMode: PAY_PER_REQUEST\n      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]\n      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}\n  Quiet:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      BillingMode: PAY_PER_REQUEST\n      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]\n  Simple:\n    Type: AWS::Serverless::SimpleTable\n  Maybe:\n    Type: AWS::DynamoDB::Table\n    Condition: Never\n    Properties:\n      BillingMode: PAY_PER_REQUEST\n      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]\n      StreamSpecification: {StreamViewType: KEYS_ONLY}\n  Bucket:\n    Type: AWS::S3::Bucket\n";

    /// The function `Fn` with `events` (lines at event indentation, 8 spaces).
    fn load(events: &str) -> Result<Template, TemplateError> {
        load_with_function(
            &format!("      Events:\n{events}"),
            TABLES,
            &LoadOptions::default(),
        )
    }

    /// An event `E` on `Orders`' stream from LATEST, with `extra` (one line at
    /// property indentation, 12 spaces; written at line 17).
    fn one_more(extra: &str) -> String {
        format!(
            "        E:\n          Type: DynamoDB\n          Properties:\n            Stream: !GetAtt Orders.StreamArn\n            StartingPosition: LATEST\n            {extra}\n"
        )
    }

    fn defaults(id: &str, stream: DynamoDbStream) -> DynamoDbEventSpec {
        DynamoDbEventSpec {
            logical_id: id.into(),
            stream,
            starting_position: StartingPosition::Latest,
            batch_size: 100,
            maximum_batching_window_s: 0,
            maximum_retry_attempts: -1,
            maximum_record_age_s: -1,
            bisect_batch_on_function_error: false,
            parallelization_factor: 1,
            report_batch_item_failures: false,
            filters: Vec::new(),
            on_failure_destination: None,
            enabled: true,
            tumbling_window_s: None,
        }
    }

    #[test]
    fn lambdas_defaults() {
        let t = load(
            "        Changes:\n          Type: DynamoDB\n          Properties:\n            Stream: !GetAtt Orders.StreamArn\n            StartingPosition: LATEST\n            BatchSize: !If [Never, 5, !Ref AWS::NoValue]\n",
        )
        .expect("valid");
        assert_eq!(
            t.functions[0].dynamodb_events,
            [defaults("Changes", DynamoDbStream::Table("orders".into()))]
        );
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
        let t =
            load("        Get: {Type: Api, Properties: {Path: /, Method: get}}\n").expect("valid");
        assert!(t.functions[0].dynamodb_events.is_empty());
    }

    #[test]
    fn every_property() {
        let t = load(
            "        All:\n          Type: DynamoDB\n          Properties:\n            Stream: !GetAtt [Orders, StreamArn]\n            StartingPosition: TRIM_HORIZON\n            BatchSize: 500\n            MaximumBatchingWindowInSeconds: 10\n            MaximumRetryAttempts: 3\n            MaximumRecordAgeInSeconds: '3600'\n            BisectBatchOnFunctionError: true\n            ParallelizationFactor: 2\n            FunctionResponseTypes: [ReportBatchItemFailures]\n            FilterCriteria:\n              Filters:\n                - Pattern: '{\"eventName\": [\"INSERT\"]}'\n                - Pattern: !Sub '{\"dynamodb\": {\"NewImage\": {\"region\": {\"S\": [\"${AWS::Region}\"]}}}}'\n            DestinationConfig: {OnFailure: {Type: SQS, Destination: 'arn:aws:sqs:us-east-1:123456789012:failed'}}\n            Enabled: false\n            TumblingWindowInSeconds: 60\n        Cfn:\n          Type: DynamoDB\n          Properties:\n            Stream: !If [Never, 'arn:aws:dynamodb:us-east-1:123456789012:table/x/stream/y', !GetAtt Orders.StreamArn]\n            StartingPosition: LATEST\n            DestinationConfig: {OnFailure: {Destination: 'arn:aws:sns:us-east-1:123456789012:failed'}}\n            MaximumRetryAttempts: -1\n            MaximumRecordAgeInSeconds: 60\n        Sub:\n          Type: DynamoDB\n          Properties: {Stream: !Sub '${Orders.StreamArn}', StartingPosition: LATEST}\n        Literal:\n          Type: DynamoDB\n          Properties:\n            Stream: 'arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2024-05-01T12:00:00.000'\n            StartingPosition: LATEST\n            KmsKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/k'\n        Elsewhere:\n          Type: DynamoDB\n          Properties:\n            Stream: 'arn:aws:dynamodb:eu-west-1:123456789012:table/legacy/stream/2024-05-01T12:00:00.000'\n            StartingPosition: LATEST\n        Get: {Type: Api, Properties: {Path: /, Method: get}}\n",
        )
        .expect("valid");
        let f = &t.functions[0];
        let orders = || DynamoDbStream::Table("orders".into());
        assert_eq!(
            f.dynamodb_events,
            [
                DynamoDbEventSpec {
                    logical_id: "All".into(),
                    stream: orders(),
                    starting_position: StartingPosition::TrimHorizon,
                    batch_size: 500,
                    maximum_batching_window_s: 10,
                    maximum_retry_attempts: 3,
                    maximum_record_age_s: 3600,
                    bisect_batch_on_function_error: true,
                    parallelization_factor: 2,
                    report_batch_item_failures: true,
                    filters: vec![
                        r#"{"eventName": ["INSERT"]}"#.into(),
                        r#"{"dynamodb": {"NewImage": {"region": {"S": ["us-east-1"]}}}}"#.into(),
                    ],
                    on_failure_destination: Some(
                        "arn:aws:sqs:us-east-1:123456789012:failed".into()
                    ),
                    enabled: false,
                    tumbling_window_s: Some(60),
                },
                DynamoDbEventSpec {
                    on_failure_destination: Some(
                        "arn:aws:sns:us-east-1:123456789012:failed".into()
                    ),
                    maximum_record_age_s: 60,
                    ..defaults("Cfn", orders())
                },
                defaults("Sub", orders()),
                defaults(
                    "Literal",
                    DynamoDbStream::Arn(
                        "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2024-05-01T12:00:00.000"
                            .into()
                    )
                ),
                defaults(
                    "Elsewhere",
                    DynamoDbStream::Arn(
                        "arn:aws:dynamodb:eu-west-1:123456789012:table/legacy/stream/2024-05-01T12:00:00.000"
                            .into()
                    )
                ),
            ]
        );
        assert_eq!(f.api_events.len(), 1, "the Api event is still read");
        let w: Vec<String> = t.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(w.len(), 3, "{w:#?}");
        assert!(
            w[0].ends_with("unit.yaml:30:13: Resources.Fn.Properties.Events.All.Properties.TumblingWindowInSeconds: is kept but not acted on by ESB: batches are not aggregated into windows (the function gets no window state)"),
            "{w:#?}"
        );
        assert!(
            w[1].ends_with("Events.Literal.Properties.KmsKeyArn: is not acted on by ESB; ignored"),
            "{w:#?}"
        );
        assert!(
            w[2].ends_with("Events.Elsewhere.Properties.Stream: table legacy is not a table of this template; ESB cannot deliver its records"),
            "{w:#?}"
        );
    }

    #[test]
    fn the_stream_must_be_one_esb_can_read() {
        for (stream, want) in [
            (
                "!GetAtt Quiet.StreamArn",
                "unit.yaml:15:13: Resources.Fn.Properties.Events.E.Properties.Stream: Quiet (AWS::DynamoDB::Table) has no stream to read: it has no StreamSpecification (hint: add StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES} to Quiet",
            ),
            (
                "!GetAtt Simple.StreamArn",
                "Simple (AWS::Serverless::SimpleTable) has no stream to read: it has no StreamSpecification (hint: a SimpleTable has no stream; make Simple an AWS::DynamoDB::Table",
            ),
            (
                "!GetAtt Maybe.StreamArn",
                "Events.E.Properties.Stream: Maybe is not created: its Condition Never is false (hint: give this function the same Condition as Maybe, or drop it)",
            ),
            (
                "!Sub '${Quiet.StreamArn}'",
                "Events.E.Properties.Stream: Quiet (AWS::DynamoDB::Table) has no stream, so no StreamArn",
            ),
            (
                "!GetAtt Orders.Arn",
                "Stream: \"arn:aws:dynamodb:us-east-1:123456789012:table/orders\" is not a DynamoDB stream ARN (hint: write Stream: !GetAtt MyTable.StreamArn",
            ),
            (
                "!Ref Orders",
                "Stream: \"orders\" is not a DynamoDB stream ARN",
            ),
            (
                "'arn:aws:kinesis:us-east-1:123456789012:stream/clicks'",
                "is not a DynamoDB stream ARN",
            ),
            (
                "!GetAtt Orders.Nope",
                "Orders (AWS::DynamoDB::Table) has no attribute \"Nope\" that ESB can resolve (hint: available: Arn, StreamArn)",
            ),
            ("[a, b]", "Stream: must be a stream ARN, not a list"),
        ] {
            let e = load(&format!(
                "        E:\n          Type: DynamoDB\n          Properties:\n            Stream: {stream}\n            StartingPosition: LATEST\n"
            ))
            .expect_err(stream)
            .to_string();
            assert!(e.contains(want), "{stream}: {e}");
        }
        for (events, want) in [
            (
                "        E:\n          Type: DynamoDB\n          Properties: {StartingPosition: LATEST}\n",
                "unit.yaml:14:11: Resources.Fn.Properties.Events.E.Properties: Stream is missing",
            ),
            (
                "        E: {Type: DynamoDB}\n",
                "Resources.Fn.Properties.Events.E: Properties is missing",
            ),
        ] {
            let e = load(events).expect_err(events).to_string();
            assert!(e.contains(want), "{events}: {e}");
        }
    }

    #[test]
    fn starting_positions() {
        for (position, want) in [
            (
                "",
                "unit.yaml:14:11: Resources.Fn.Properties.Events.E.Properties: StartingPosition is missing (hint: a DynamoDB stream event needs StartingPosition: TRIM_HORIZON",
            ),
            (
                "            StartingPosition: AT_TIMESTAMP\n",
                "unit.yaml:16:13: Resources.Fn.Properties.Events.E.Properties.StartingPosition: Unsupported starting position for DynamoDB streams: AT_TIMESTAMP",
            ),
            (
                "            StartingPosition: EARLIEST\n",
                "StartingPosition: Value 'EARLIEST' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [TRIM_HORIZON, LATEST, AT_TIMESTAMP]",
            ),
            (
                "            StartingPosition: AT_TIMESTAMP\n            StartingPositionTimestamp: 1700000000\n",
                "Unsupported starting position for DynamoDB streams: AT_TIMESTAMP",
            ),
            (
                "            StartingPosition: LATEST\n            StartingPositionTimestamp: 1700000000\n",
                "StartingPositionTimestamp: StartingPositionTimestamp is only for StartingPosition AT_TIMESTAMP, which DynamoDB streams do not support",
            ),
        ] {
            let e = load(&format!(
                "        E:\n          Type: DynamoDB\n          Properties:\n            Stream: !GetAtt Orders.StreamArn\n{position}"
            ))
            .expect_err(position)
            .to_string();
            assert!(e.contains(want), "{position}: {e}");
        }
    }

    #[test]
    fn what_lambda_refuses() {
        let at = "unit.yaml:17:13: Resources.Fn.Properties.Events.E.Properties.";
        for (extra, want) in [
            (
                "BatchSize: 0",
                format!("{at}BatchSize: Value '0' at 'batchSize' failed to satisfy constraint: Member must have value greater than or equal to 1 (hint: BatchSize is 1 to 10000"),
            ),
            (
                "BatchSize: 10001",
                "Value '10001' at 'batchSize' failed to satisfy constraint: Member must have value less than or equal to 10000".into(),
            ),
            ("BatchSize: 1.5", format!("{at}BatchSize: must be a whole number, not 1.5")),
            ("BatchSize: [1]", "BatchSize: must be a whole number, not a list".into()),
            (
                "MaximumBatchingWindowInSeconds: 301",
                "Value '301' at 'maximumBatchingWindowInSeconds' failed to satisfy constraint: Member must have value less than or equal to 300".into(),
            ),
            (
                "MaximumRetryAttempts: -2",
                "Value '-2' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value greater than or equal to -1".into(),
            ),
            (
                "MaximumRetryAttempts: 10001",
                "Value '10001' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 10000".into(),
            ),
            (
                "MaximumRecordAgeInSeconds: 30",
                format!("{at}MaximumRecordAgeInSeconds: MaximumRecordAgeInSeconds must be -1 or between 60 and 604800, not 30"),
            ),
            (
                "MaximumRecordAgeInSeconds: 604801",
                "Value '604801' at 'maximumRecordAgeInSeconds' failed to satisfy constraint: Member must have value less than or equal to 604800".into(),
            ),
            (
                "ParallelizationFactor: 0",
                "Value '0' at 'parallelizationFactor' failed to satisfy constraint: Member must have value greater than or equal to 1".into(),
            ),
            (
                "ParallelizationFactor: 11",
                "Value '11' at 'parallelizationFactor' failed to satisfy constraint: Member must have value less than or equal to 10".into(),
            ),
            (
                "TumblingWindowInSeconds: 901",
                "Value '901' at 'tumblingWindowInSeconds' failed to satisfy constraint: Member must have value less than or equal to 900".into(),
            ),
            (
                "FunctionResponseTypes: [ReportItemFailures]",
                "Value '[ReportItemFailures]' at 'functionResponseTypes' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [ReportBatchItemFailures]]".into(),
            ),
            (
                "FilterCriteria: {Filters: [{Pattern: 'not json'}]}",
                "unit.yaml:17:41: Resources.Fn.Properties.Events.E.Properties.FilterCriteria.Filters[0].Pattern: Invalid filter pattern definition: expected ident".into(),
            ),
            (
                "FilterCriteria: {Filters: [{Pattern: '[1]'}]}",
                "Invalid filter pattern definition: a pattern is a JSON object".into(),
            ),
            (
                "FilterCriteria: {Filters: [{Pattern: {eventName: [INSERT]}}]}",
                "Filters[0].Pattern: must be a string, not a mapping".into(),
            ),
            (
                "FilterCriteria: {Filters: [{Pattern: '{}'}, {Pattern: '{}'}, {Pattern: '{}'}, {Pattern: '{}'}, {Pattern: '{}'}, {Pattern: '{}'}]}",
                "FilterCriteria.Filters: 6 filters; Lambda allows 5 per event source mapping".into(),
            ),
            (
                "FilterCriteria: {Filter: []}",
                "FilterCriteria.Filter: is not one of Filters".into(),
            ),
            (
                "DestinationConfig: {OnFailure: {Destination: failed-queue}}",
                "DestinationConfig.OnFailure.Destination: Value 'failed-queue' at 'destinationConfig.onFailure.destination' failed to satisfy constraint: Member must satisfy regular expression pattern".into(),
            ),
            (
                "DestinationConfig: {OnFailure: {Type: Lambda, Destination: 'arn:aws:lambda:us-east-1:123456789012:function:f'}}",
                "DestinationConfig.OnFailure.Type: \"Lambda\" is not SQS, SNS or S3".into(),
            ),
            (
                "DestinationConfig: {OnFailure: {Type: SQS}}",
                "DestinationConfig.OnFailure: Destination is missing".into(),
            ),
            (
                "DestinationConfig: {OnSuccess: {Destination: 'arn:aws:sqs:us-east-1:123456789012:q'}}",
                "DestinationConfig.OnSuccess: is not one of OnFailure".into(),
            ),
            ("Enabled: sometimes", "Enabled: must be true or false, not sometimes".into()),
            (
                "BisectBatchOnFunctionError: 1",
                "BisectBatchOnFunctionError: must be true or false, not 1".into(),
            ),
            (
                "Queue: q",
                format!("{at}Queue: is not a property of DynamoDB events (Stream, StartingPosition,"),
            ),
        ] {
            let e = load(&one_more(extra)).expect_err(extra).to_string();
            assert!(e.contains(&want), "{extra}: {e}");
        }
    }

    #[test]
    fn a_skipped_function_reads_no_events() {
        let t = load_with_function(
            "",
            &format!(
                "{TABLES}  Off:\n    Type: AWS::Serverless::Function\n    Condition: Never\n    Properties:\n      Events:\n        E: {{Type: DynamoDB, Properties: {{Stream: !GetAtt Quiet.StreamArn}}}}\n"
            ),
            &LoadOptions::default(),
        )
        .expect("valid");
        assert!(t.functions.iter().all(|f| f.dynamodb_events.is_empty()));
    }

    #[test]
    fn a_function_may_name_the_table_whose_stream_invokes_it() {
        // The event source mapping depends on both; the function does not depend on
        // the table through its event, so this is no cycle on AWS either.
        let t = load_with_function(
            "      Environment: {Variables: {TABLE: !Ref Orders, STREAM: !GetAtt Orders.StreamArn}}\n      Events:\n        E: {Type: DynamoDB, Properties: {Stream: !GetAtt Orders.StreamArn, StartingPosition: LATEST}}\n",
            TABLES,
            &LoadOptions::default(),
        )
        .expect("valid");
        let f = &t.functions[0];
        assert_eq!(f.environment["TABLE"], "orders");
        assert_eq!(
            f.environment["STREAM"],
            "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/latest"
        );
        assert_eq!(
            f.dynamodb_events[0].stream,
            DynamoDbStream::Table("orders".into())
        );
    }

    #[test]
    fn stream_arns() {
        assert_eq!(
            parse_stream_arn(
                "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2024-05-01T12:00:00.000"
            ),
            Some(StreamArn {
                region: "eu-west-1",
                account: "123456789012",
                table: "Orders",
                label: "2024-05-01T12:00:00.000",
            })
        );
        for bad in [
            "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders",
            "arn:aws:kinesis:eu-west-1:123456789012:stream/Orders",
            "arn:aws:dynamodb:eu-west-1:1234:table/Orders/stream/x",
            "arn:aws:dynamodb::123456789012:table/Orders/stream/x",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/O/stream/x",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/",
            "Orders",
        ] {
            assert_eq!(parse_stream_arn(bad), None, "{bad}");
        }
    }
}
