//! `Events` of `Type: S3` on a function: SAM's S3 event source. SAM appends each to
//! the bucket's `NotificationConfiguration.LambdaConfigurations`, which is why the
//! bucket must be an `AWS::S3::Bucket` of the same template: SAM refuses anything
//! else, and so does ESB.

use crate::error::{ErrorKind, TemplateError};
use crate::intrinsics::Resolver;
use crate::model::LambdaNotification;
use crate::resources::BUCKET;
use crate::s3_notification;
use crate::spot::Spot;
use crate::yaml_tree::{Entry, Node, Position};

const HINT: &str = "an S3 event is {Type: S3, Properties: {Bucket: !Ref MyBucket, Events: s3:ObjectCreated:*, Filter: {S3Key: {Rules: [{Name: suffix, Value: .jpg}]}}}}";
const BUCKET_HINT: &str = "S3 events must reference an S3 bucket in the same template: write Bucket: !Ref MyBucket, naming an AWS::S3::Bucket of this template";

/// A function's S3 event: the notification it adds to a bucket, and where it is
/// written.
#[derive(Debug)]
pub struct S3Event {
    /// Logical id of the bucket.
    pub bucket_id: String,
    pub notification: LambdaNotification,
    pub at: Position,
    pub path: String,
}

/// Reads the `Type: S3` entries of `Events`; `function_arn` is the function's own ARN
/// (what `!GetAtt Fn.Arn` gives). Other types are `api_event`'s.
pub fn read(
    r: &Resolver<'_>,
    events: Option<&Node>,
    base: &str,
    function_arn: &str,
) -> Result<Vec<S3Event>, TemplateError> {
    let mut out = Vec::new();
    for e in events.map(Node::entries).unwrap_or_default() {
        if e.value.get("Type").and_then(Node::as_str) == Some("S3") {
            out.push(event(
                r,
                e,
                &format!("{base}.Events.{}", e.key),
                function_arn,
            )?);
        }
    }
    Ok(out)
}

fn event(
    r: &Resolver<'_>,
    e: &Entry,
    path: &str,
    function_arn: &str,
) -> Result<S3Event, TemplateError> {
    let props = e
        .value
        .entry("Properties")
        .filter(|p| p.value.is_map())
        .ok_or_else(|| {
            r.error(
                e.key_pos,
                path,
                ErrorKind::MissingProperty("Properties".into()),
                HINT,
            )
        })?;
    let base = format!("{path}.Properties");
    if let Some(other) = props
        .value
        .entries()
        .iter()
        .find(|p| !["Bucket", "Events", "Filter"].contains(&p.key.as_str()))
    {
        return Err(r.error(
            other.key_pos,
            &format!("{base}.{}", other.key),
            ErrorKind::Structure("is not a property of S3 events (Bucket, Events, Filter)".into()),
            HINT,
        ));
    }
    let missing = |key: &str| {
        r.error(
            props.key_pos,
            &base,
            ErrorKind::MissingProperty(key.into()),
            HINT,
        )
    };
    let bucket = props
        .value
        .entry("Bucket")
        .ok_or_else(|| missing("Bucket"))?;
    let bucket_id = bucket_ref(r, bucket, &format!("{base}.Bucket"))?;

    let events = props
        .value
        .entry("Events")
        .ok_or_else(|| missing("Events"))?;
    let events_spot = Spot::of(events, format!("{base}.Events"));
    let events = match r.resolve(&events.value, &events_spot.path)? {
        Some(v) => s3_notification::event_types(r, &v, &events_spot)?,
        None => return Err(missing("Events")),
    };

    let (prefix, suffix) = match props.value.entry("Filter") {
        Some(f) => {
            let spot = Spot::of(f, format!("{base}.Filter"));
            match r.resolve(&f.value, &spot.path)? {
                Some(v) => s3_notification::key_filter(r, &v, &spot)?,
                None => (None, None),
            }
        }
        None => (None, None),
    };
    Ok(S3Event {
        bucket_id,
        notification: LambdaNotification {
            id: Some(e.key.clone()),
            function_arn: function_arn.to_string(),
            events,
            prefix,
            suffix,
        },
        at: e.key_pos,
        path: path.to_string(),
    })
}

/// `Bucket`: a `Ref` to an `AWS::S3::Bucket` of this template that exists.
fn bucket_ref(r: &Resolver<'_>, entry: &Entry, path: &str) -> Result<String, TemplateError> {
    let at = entry.value.pos;
    let target = match r.intrinsic(&entry.value, true, false, path)? {
        Some(call) if call.name == "Ref" => call.arg.as_str(),
        _ => None,
    };
    let Some(target) = target else {
        return Err(r.error(
            at,
            path,
            ErrorKind::BadNotification(format!("Bucket must be a Ref to an {BUCKET}")),
            BUCKET_HINT,
        ));
    };
    let Some(res) = r.resources.get(target) else {
        return Err(r.error(
            at,
            path,
            ErrorKind::UnknownRef(target.to_string()),
            BUCKET_HINT,
        ));
    };
    if res.type_name != BUCKET {
        return Err(r.error(
            at,
            path,
            ErrorKind::BadNotification(format!(
                "{target} is an {}, not an {BUCKET}",
                res.type_name
            )),
            BUCKET_HINT,
        ));
    }
    if !r.is_created(res)? {
        let cond = res.condition.map(|c| c.0).unwrap_or_default();
        return Err(r.error(
            at,
            path,
            ErrorKind::ResourceNotCreated(target.to_string(), cond.to_string()),
            format!("give this function the same Condition as {target}, or drop it"),
        ));
    }
    Ok(target.to_string())
}

#[cfg(test)]
mod tests {
    use crate::model::{LambdaNotification, Template};
    use crate::testing::load_with_function;
    use crate::{LoadOptions, TemplateError};

    const BUCKETS: &str = "  B:\n    Type: AWS::S3::Bucket\n    Properties: {BucketName: uploads}\n  Other:\n    Type: AWS::S3::Bucket\n  Table:\n    Type: AWS::DynamoDB::Table\n    Properties: {BillingMode: PAY_PER_REQUEST, KeySchema: [{AttributeName: id, KeyType: HASH}], AttributeDefinitions: [{AttributeName: id, AttributeType: S}]}\n  Maybe:\n    Type: AWS::S3::Bucket\n    Condition: Never\n";

    fn load(events: &str) -> Result<Template, TemplateError> {
        load_with_function(
            &format!("      Events:\n{events}"),
            BUCKETS,
            &LoadOptions::default(),
        )
    }

    #[test]
    fn events_are_added_to_their_buckets() {
        let t = load(
            "        Up:\n          Type: S3\n          Properties:\n            Bucket: !Ref B\n            Events: s3:ObjectCreated:*\n            Filter:\n              S3Key:\n                Rules:\n                  - {Name: prefix, Value: images/}\n                  - {Name: Suffix, Value: .jpg}\n        Gone:\n          Type: S3\n          Properties: {Bucket: {Ref: B}, Events: ['s3:ObjectRemoved:*', 's3:ObjectRestore:Completed']}\n        Get: {Type: Api, Properties: {Path: /, Method: get}}\n",
        )
        .expect("valid");
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:Fn".to_string();
        let b = t.buckets.iter().find(|b| b.logical_id == "B").expect("B");
        assert_eq!(
            b.lambda_notifications,
            [
                LambdaNotification {
                    id: Some("Up".into()),
                    function_arn: arn.clone(),
                    events: vec!["s3:ObjectCreated:*".into()],
                    prefix: Some("images/".into()),
                    suffix: Some(".jpg".into()),
                },
                LambdaNotification {
                    id: Some("Gone".into()),
                    function_arn: arn,
                    events: vec![
                        "s3:ObjectRemoved:*".into(),
                        "s3:ObjectRestore:Completed".into()
                    ],
                    prefix: None,
                    suffix: None,
                },
            ]
        );
        let other = t
            .buckets
            .iter()
            .find(|b| b.logical_id == "Other")
            .expect("Other");
        assert!(other.lambda_notifications.is_empty());
        assert_eq!(
            t.functions[0].api_events.len(),
            1,
            "the Api event is still read"
        );
        assert!(
            !t.warnings
                .iter()
                .any(|w| w.message.contains("event type S3")),
            "{:?}",
            t.warnings
        );
    }

    #[test]
    fn a_skipped_function_adds_nothing() {
        let t = load_with_function(
            "",
            &format!(
                "{BUCKETS}  Off:\n    Type: AWS::Serverless::Function\n    Condition: Never\n    Properties:\n      Events:\n        Up: {{Type: S3, Properties: {{Bucket: !Ref B, Events: 's3:ObjectCreated:*'}}}}\n"
            ),
            &LoadOptions::default(),
        )
        .expect("valid");
        assert!(t.buckets.iter().all(|b| b.lambda_notifications.is_empty()));
    }

    #[test]
    fn the_bucket_must_be_a_ref_to_a_bucket_of_the_template() {
        for (props, want) in [
            (
                "{Bucket: uploads, Events: 's3:ObjectCreated:*'}",
                "unit.yaml:15:32: Resources.Fn.Properties.Events.Up.Properties.Bucket: Bucket must be a Ref to an AWS::S3::Bucket (hint: S3 events must reference an S3 bucket in the same template",
            ),
            (
                "{Bucket: !GetAtt B.Arn, Events: 's3:ObjectCreated:*'}",
                "Bucket must be a Ref to an AWS::S3::Bucket",
            ),
            (
                "{Bucket: !Ref Table, Events: 's3:ObjectCreated:*'}",
                "Table is an AWS::DynamoDB::Table, not an AWS::S3::Bucket",
            ),
            (
                "{Bucket: !Ref Nope, Events: 's3:ObjectCreated:*'}",
                "Ref to unknown \"Nope\"",
            ),
            (
                "{Bucket: !Ref Maybe, Events: 's3:ObjectCreated:*'}",
                "Maybe is not created: its Condition Never is false (hint: give this function the same Condition as Maybe",
            ),
            (
                "{Bucket: !Ref B}",
                "Events.Up.Properties: Events is missing",
            ),
            (
                "{Bucket: !Ref B, Events: 's3:ObjectCreated:Upload'}",
                "Events.Up.Properties.Events: \"s3:ObjectCreated:Upload\" is not an S3 event type",
            ),
            (
                "{Bucket: !Ref B, Events: ['s3:ObjectCreated:*', s3:Object:Put]}",
                "Properties.Events[1]: \"s3:Object:Put\" is not an S3 event type",
            ),
            (
                "{Bucket: !Ref B, Events: []}",
                "Properties.Events: names no event type",
            ),
            (
                "{Bucket: !Ref B, Events: 's3:ObjectCreated:*', Filter: {S3Key: {Rules: [{Name: suffix}]}}}",
                "Filter.S3Key.Rules[0]: Value is missing",
            ),
            (
                "{Bucket: !Ref B, Events: 's3:ObjectCreated:*', Queue: q}",
                "Properties.Queue: is not a property of S3 events",
            ),
        ] {
            let e = load(&format!(
                "        Other: {{Type: SQS, Properties: {{Queue: q}}}}\n        Up:\n          Type: S3\n          Properties: {props}\n"
            ))
            .expect_err(props)
            .to_string();
            assert!(e.contains(want), "{props}: {e}");
        }
        let e = load("        Up: {Type: S3}\n")
            .expect_err("no properties")
            .to_string();
        assert!(e.contains("Events.Up: Properties is missing"), "{e}");
    }

    #[test]
    fn a_function_naming_its_trigger_bucket_is_a_cycle_as_on_aws() {
        let e = load_with_function(
            "      Environment: {Variables: {BUCKET: !Ref B}}\n      Events:\n        Up: {Type: S3, Properties: {Bucket: !Ref B, Events: 's3:ObjectCreated:*'}}\n",
            BUCKETS,
            &LoadOptions::default(),
        )
        .expect_err("cycle")
        .to_string();
        assert!(
            e.contains("resources depend on each other: Fn -> B -> Fn (hint: CloudFormation cannot create these: a bucket whose notifications (or a function's S3 event) invoke a function depends on that function"),
            "{e}"
        );
        let ok = load_with_function(
            "      Environment: {Variables: {BUCKET: !Ref Other}}\n      Events:\n        Up: {Type: S3, Properties: {Bucket: !Ref B, Events: 's3:ObjectCreated:*'}}\n",
            BUCKETS,
            &LoadOptions::default(),
        );
        assert!(ok.is_ok(), "another bucket is no cycle: {ok:?}");
    }
}
