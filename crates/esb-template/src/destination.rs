//! Where a function's asynchronous invocations end up: `EventInvokeConfig`'s
//! `DestinationConfig` (OnSuccess / OnFailure) and the function's `DeadLetterQueue`.
//! SAM's `Type` picks the permission SAM grants the function; Lambda then routes by
//! the destination's ARN, and refuses a destination the function may not use, so a
//! `Type` that does not match the ARN's service fails the deploy and is refused here.
//! `Type: SQS` without `Destination` is a queue SAM creates for the function; ESB
//! creates it too.

use crate::arn::name_in_arn;
use crate::error::{ErrorKind, TemplateError};
use crate::intrinsics::Resolver;
use crate::model::{Destination, QueueSpec};
use crate::props::{fields, required, text};
use crate::queue;
use crate::spot::Spot;
use crate::value::Value;
use crate::yaml_tree::Position;

/// SAM's destination `Type`s and the ARN service each names.
const TYPES: [(&str, &str); 5] = [
    ("SQS", "sqs"),
    ("SNS", "sns"),
    ("EventBridge", "events"),
    ("Lambda", "lambda"),
    ("S3", "s3"),
];
/// The types for which SAM creates the resource when `Destination` is left out.
const GENERATED: [&str; 2] = ["SQS", "SNS"];
const HINT: &str = "DestinationConfig: {OnSuccess: {Type: SQS, Destination: !GetAtt Done.Arn}, OnFailure: {Type: Lambda, Destination: !GetAtt Failed.Arn}}";
const DLQ_HINT: &str = "DeadLetterQueue: {Type: SQS, TargetArn: !GetAtt DeadLetters.Arn} (or Type: SNS with a topic ARN)";

/// A function's `DestinationConfig`, read.
#[derive(Debug, Default)]
pub struct Destinations {
    pub on_success: Option<Destination>,
    pub on_failure: Option<Destination>,
    /// The queues SAM creates for `Type: SQS` without `Destination`, each with where
    /// it is asked for.
    pub generated_queues: Vec<(QueueSpec, Position, String)>,
}

/// `DestinationConfig` of the function `function_id`: the OnSuccess and OnFailure
/// destinations.
pub fn event_invoke(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
    function_id: &str,
) -> Result<Destinations, TemplateError> {
    fields(r, v, spot, &["OnSuccess", "OnFailure"], HINT)?;
    let mut out = Destinations::default();
    for when in ["OnSuccess", "OnFailure"] {
        let Some(d) = v.get(when) else { continue };
        let at = spot.key(when);
        let dest = match one(r, when, d, &at)? {
            One::Given(dest) => Some(dest),
            One::Generated => {
                let q = generated_queue(function_id, when);
                let arn = r.queue_arn_of(&q.name);
                out.generated_queues.push((q, at.at, at.path.clone()));
                Some(Destination::Queue(arn))
            }
            One::None => None,
        };
        if when == "OnSuccess" {
            out.on_success = dest;
        } else {
            out.on_failure = dest;
        }
    }
    Ok(out)
}

/// The queue SAM adds for a `Type: SQS` destination without `Destination`: an
/// `AWS::SQS::Queue` with no properties, logical id
/// `<function>EventInvokeConfig<OnSuccess|OnFailure>Queue`, named as ESB names any
/// queue without `QueueName`.
fn generated_queue(function_id: &str, when: &str) -> QueueSpec {
    let logical_id = format!("{function_id}EventInvokeConfig{when}Queue");
    QueueSpec {
        name: queue::generated_name(&logical_id, false),
        logical_id,
        fifo: false,
        attributes: Default::default(),
        tags: Vec::new(),
    }
}

/// What one destination names.
enum One {
    Given(Destination),
    /// `Type: SQS` without `Destination`: a queue SAM creates.
    Generated,
    /// `Type: SNS` without `Destination`: a topic SAM creates, which ESB has none of.
    None,
}

/// One destination.
fn one(r: &Resolver<'_>, when: &str, v: &Value, spot: &Spot<'_>) -> Result<One, TemplateError> {
    fields(r, v, spot, &["Type", "Destination"], HINT)?;
    let allowed: Vec<&str> = TYPES
        .iter()
        .map(|(t, _)| *t)
        .filter(|t| *t != "S3" || when == "OnFailure")
        .collect();
    let type_spot = spot.key("Type");
    let kind = match v.get("Type") {
        Some(t) => text(r, t, &type_spot, HINT)?,
        None => String::new(),
    };
    if !allowed.contains(&kind.as_str()) {
        let why = if kind.is_empty() {
            format!("{when} needs Type, one of {}", allowed.join(", "))
        } else if kind == "S3" {
            "S3 is a destination for OnFailure only".to_string()
        } else {
            format!("'Type: {kind}' must be one of [{}]", allowed.join(", "))
        };
        return Err(r.error(
            type_spot.at,
            &type_spot.path,
            ErrorKind::InvalidValue(why),
            HINT,
        ));
    }
    let dest_spot = spot.key("Destination");
    let Some(dest) = v.get("Destination") else {
        if kind == "SQS" {
            return Ok(One::Generated);
        }
        if GENERATED.contains(&kind.as_str()) {
            r.warn_once(
                &format!("generated {kind} destination"),
                spot.at,
                &spot.path,
                format!("SAM would create an {kind} topic here; ESB has no {kind} to deliver to"),
            );
            return Ok(One::None);
        }
        return Err(r.error(
            spot.at,
            &spot.path,
            ErrorKind::MissingProperty("Destination".into()),
            format!("Destination is required if Type is not [SQS, SNS]; {HINT}"),
        ));
    };
    let arn = text(r, dest, &dest_spot, HINT)?;
    let service = service_of(r, &arn, &dest_spot, HINT)?;
    let expected = TYPES
        .iter()
        .find(|(t, _)| *t == kind)
        .map_or("", |(_, s)| *s);
    if service != expected {
        return Err(r.error(
            dest_spot.at,
            &dest_spot.path,
            ErrorKind::InvalidValue(format!(
                "{arn} is not a {kind} ARN (arn:aws:{expected}:...): Lambda would refuse it, as SAM grants the function access to {kind} only"
            )),
            "make Type match the destination, e.g. Type: SQS with Destination: !GetAtt Queue.Arn, Type: Lambda with !GetAtt Function.Arn",
        ));
    }
    Ok(One::Given(match kind.as_str() {
        "Lambda" => Destination::Function(name_in_arn(&arn)),
        "SQS" => Destination::Queue(queue_arn(r, arn, &dest_spot, HINT)?),
        _ => Destination::Other { kind, arn },
    }))
}

/// `DeadLetterQueue: {Type: SQS | SNS, TargetArn}`: the target's ARN.
pub fn dead_letter(r: &Resolver<'_>, v: &Value, spot: &Spot<'_>) -> Result<String, TemplateError> {
    fields(r, v, spot, &["Type", "TargetArn"], DLQ_HINT)?;
    let type_spot = spot.key("Type");
    let kind = text(
        r,
        required(r, v, "Type", spot, DLQ_HINT)?,
        &type_spot,
        DLQ_HINT,
    )?;
    let expected = match kind.as_str() {
        "SQS" => "sqs",
        "SNS" => "sns",
        _ => {
            return Err(r.error(
                type_spot.at,
                &type_spot.path,
                ErrorKind::InvalidValue(format!("{kind:?} is not SQS or SNS")),
                DLQ_HINT,
            ));
        }
    };
    let arn_spot = spot.key("TargetArn");
    let arn = text(
        r,
        required(r, v, "TargetArn", spot, DLQ_HINT)?,
        &arn_spot,
        DLQ_HINT,
    )?;
    if service_of(r, &arn, &arn_spot, DLQ_HINT)? != expected {
        return Err(r.error(
            arn_spot.at,
            &arn_spot.path,
            ErrorKind::InvalidValue(format!(
                "{arn} is not an {kind} ARN (arn:aws:{expected}:...): Lambda would refuse it, as SAM grants the function access to {kind} only"
            )),
            DLQ_HINT,
        ));
    }
    if kind == "SQS" {
        return queue_arn(r, arn, &arn_spot, DLQ_HINT);
    }
    Ok(arn)
}

/// The service of `arn:<partition>:<service>:...`, or an error saying it is no ARN.
fn service_of<'a>(
    r: &Resolver<'_>,
    arn: &'a str,
    spot: &Spot<'_>,
    hint: &str,
) -> Result<&'a str, TemplateError> {
    let mut parts = arn.splitn(6, ':');
    match (parts.next(), parts.next(), parts.next(), parts.nth(2)) {
        (Some("arn"), Some(partition), Some(service), Some(_))
            if partition.starts_with("aws") && !service.is_empty() =>
        {
            Ok(service)
        }
        _ => Err(r.error(
            spot.at,
            &spot.path,
            ErrorKind::InvalidValue(format!(
                "{arn:?} is not an ARN (write !GetAtt Resource.Arn; !Ref gives a name or URL)"
            )),
            hint,
        )),
    }
}

/// An `arn:aws:sqs:...` that must name a queue.
fn queue_arn(
    r: &Resolver<'_>,
    arn: String,
    spot: &Spot<'_>,
    hint: &str,
) -> Result<String, TemplateError> {
    if queue::parse_arn(&arn).is_none() {
        return Err(r.error(
            spot.at,
            &spot.path,
            ErrorKind::InvalidValue(format!("{arn:?} is not an SQS queue ARN")),
            hint,
        ));
    }
    Ok(arn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventInvoke, Template};
    use crate::testing::load_with_function;
    use crate::{LoadOptions, TemplateError};

    /// A queue `Done`, a function `Sink` and a topic `Topic` to point at.
    const TARGETS: &str = "  Done:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: done}\n  Sink:\n    Type: AWS::Serverless::Function\n    Properties: {FunctionName: sink, CodeUri: ../code/python, Handler: app.handler, Runtime: python3.12}\n  Topic:\n    Type: AWS::SNS::Topic\n";

    /// `Fn` with `props` (lines at property indentation, 6 spaces; the first at
    /// line 11) and `globals` (lines at Globals.Function indentation, 4 spaces).
    fn load(props: &str, globals: &str) -> Result<Template, TemplateError> {
        let t = load_with_function(props, TARGETS, &LoadOptions::default());
        if globals.is_empty() {
            return t;
        }
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/valid/unit.yaml");
        let source = format!(
            "Globals:\n  Function:\n{globals}Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: ../code/python\n      Handler: app.handler\n      Runtime: python3.12\n{props}{TARGETS}"
        );
        crate::load_str(&source, &path, &LoadOptions::default())
    }

    /// `EventInvokeConfig.DestinationConfig` of `Fn` written as `config` (a flow
    /// mapping; at line 12).
    fn destinations(config: &str) -> Result<Template, TemplateError> {
        load(
            &format!("      EventInvokeConfig:\n        DestinationConfig: {config}\n"),
            "",
        )
    }

    fn invoke(t: &Template) -> &EventInvoke {
        &t.functions[0].event_invoke
    }

    #[test]
    fn destinations_by_type() {
        let t = destinations(
            "{OnSuccess: {Type: SQS, Destination: !GetAtt Done.Arn}, OnFailure: {Type: Lambda, Destination: !GetAtt Sink.Arn}}",
        )
        .expect("valid");
        assert_eq!(
            invoke(&t).on_success,
            Some(Destination::Queue(
                "arn:aws:sqs:us-east-1:123456789012:done".into()
            ))
        );
        assert_eq!(
            invoke(&t).on_failure,
            Some(Destination::Function("sink".into()))
        );
        assert!(t.warnings.iter().all(|w| !w.path.contains("Destination")));

        let t = destinations(
            "{OnSuccess: {Type: SNS, Destination: !Ref Topic}, OnFailure: {Type: S3, Destination: 'arn:aws:s3:::failed-events'}}",
        );
        // `Ref` to a topic gives its logical id here (topics are not run): not an ARN.
        let e = t.expect_err("topic ref").to_string();
        assert!(
            e.contains(
                "unit.yaml:12:52: Resources.Fn.Properties.EventInvokeConfig.DestinationConfig.OnSuccess.Destination: \"Topic\" is not an ARN"
            ),
            "{e}"
        );
        let t = destinations(
            "{OnSuccess: {Type: EventBridge, Destination: 'arn:aws:events:us-east-1:123456789012:event-bus/default'}, OnFailure: {Type: S3, Destination: 'arn:aws:s3:::failed-events'}}",
        )
        .expect("valid");
        assert_eq!(
            invoke(&t).on_success,
            Some(Destination::Other {
                kind: "EventBridge".into(),
                arn: "arn:aws:events:us-east-1:123456789012:event-bus/default".into()
            })
        );
        assert_eq!(
            invoke(&t).on_failure,
            Some(Destination::Other {
                kind: "S3".into(),
                arn: "arn:aws:s3:::failed-events".into()
            })
        );
        let t = destinations(
            "{OnFailure: {Type: SNS, Destination: 'arn:aws:sns:us-east-1:123456789012:alerts'}}",
        )
        .expect("valid");
        assert_eq!(invoke(&t).on_success, None);
        assert_eq!(
            invoke(&t).on_failure,
            Some(Destination::Other {
                kind: "SNS".into(),
                arn: "arn:aws:sns:us-east-1:123456789012:alerts".into()
            })
        );
    }

    #[test]
    fn queues_and_topics_sam_would_create() {
        let t = destinations("{OnSuccess: {Type: SNS}, OnFailure: {Type: SQS}}").expect("valid");
        let name = "FnEventInvokeConfigOnFailureQueue";
        assert_eq!(
            invoke(&t).on_failure,
            Some(Destination::Queue(format!(
                "arn:aws:sqs:us-east-1:123456789012:{name}"
            )))
        );
        assert_eq!(invoke(&t).on_success, None);
        let q = t.queues.last().expect("the generated queue");
        assert_eq!(
            (q.logical_id.as_str(), q.name.as_str(), q.fifo),
            (name, name, false)
        );
        assert!(q.attributes.is_empty() && q.tags.is_empty());
        let w: Vec<String> = t.warnings.iter().map(ToString::to_string).collect();
        assert!(
            w.iter().any(|w| w.ends_with("unit.yaml:12:29: Resources.Fn.Properties.EventInvokeConfig.DestinationConfig.OnSuccess: SAM would create an SNS topic here; ESB has no SNS to deliver to")),
            "{w:#?}"
        );

        // Globals.Function gives each function its own queue.
        let t = load(
            "",
            "    EventInvokeConfig: {DestinationConfig: {OnSuccess: {Type: SQS}}}\n",
        )
        .expect("valid");
        let generated: Vec<&str> = t
            .queues
            .iter()
            .map(|q| q.name.as_str())
            .filter(|n| n.contains("EventInvokeConfig"))
            .collect();
        assert_eq!(
            generated,
            [
                "FnEventInvokeConfigOnSuccessQueue",
                "SinkEventInvokeConfigOnSuccessQueue"
            ]
        );

        let e = load_with_function(
            "      EventInvokeConfig: {DestinationConfig: {OnFailure: {Type: SQS}}}\n",
            "  Taken:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: FnEventInvokeConfigOnFailureQueue}\n",
            &LoadOptions::default(),
        )
        .expect_err("same name")
        .to_string();
        assert!(
            e.contains("unit.yaml:11:47: Resources.Fn.Properties.EventInvokeConfig.DestinationConfig.OnFailure: queue name \"FnEventInvokeConfigOnFailureQueue\" is also used by Taken (hint: SAM creates queue FnEventInvokeConfigOnFailureQueue for this destination"),
            "{e}"
        );
    }

    #[test]
    fn destinations_lambda_or_sam_refuse() {
        let at = "Resources.Fn.Properties.EventInvokeConfig.DestinationConfig";
        for (config, want) in [
            (
                "{OnFailure: {Destination: !GetAtt Sink.Arn}}",
                format!("{at}.OnFailure.Type: OnFailure needs Type, one of SQS, SNS, EventBridge, Lambda, S3"),
            ),
            (
                "{OnSuccess: {Type: Function, Destination: !GetAtt Sink.Arn}}",
                format!("{at}.OnSuccess.Type: 'Type: Function' must be one of [SQS, SNS, EventBridge, Lambda]"),
            ),
            (
                "{OnSuccess: {Type: S3, Destination: 'arn:aws:s3:::b'}}",
                "S3 is a destination for OnFailure only".into(),
            ),
            (
                "{OnFailure: {Type: Lambda}}",
                format!("{at}.OnFailure: Destination is missing (hint: Destination is required if Type is not [SQS, SNS]"),
            ),
            (
                "{OnFailure: {Type: Lambda, Destination: !Ref Sink}}",
                format!("{at}.OnFailure.Destination: \"sink\" is not an ARN"),
            ),
            (
                "{OnFailure: {Type: SQS, Destination: !GetAtt Sink.Arn}}",
                "arn:aws:lambda:us-east-1:123456789012:function:sink is not a SQS ARN (arn:aws:sqs:...): Lambda would refuse it".into(),
            ),
            (
                "{OnFailure: {Type: SQS, Destination: 'arn:aws:sqs:us-east-1:123456789012:a:b'}}",
                "\"arn:aws:sqs:us-east-1:123456789012:a:b\" is not an SQS queue ARN".into(),
            ),
            (
                "{OnFailure: {Type: SQS, Destination: !GetAtt Done.Arn, Extra: 1}}",
                format!("{at}.OnFailure.Extra: is not one of Type, Destination"),
            ),
            (
                "{OnError: {Type: SQS, Destination: !GetAtt Done.Arn}}",
                format!("{at}.OnError: is not one of OnSuccess, OnFailure"),
            ),
            (
                "[a]",
                format!("{at}: must be a mapping, not a list"),
            ),
        ] {
            let e = destinations(config).expect_err(config).to_string();
            assert!(e.contains(&want), "{config}: {e}");
        }
    }

    #[test]
    fn dead_letter_queues() {
        let t = load(
            "      DeadLetterQueue: {Type: SQS, TargetArn: !GetAtt Done.Arn}\n",
            "",
        )
        .expect("valid");
        assert_eq!(
            t.functions[0].dead_letter_target.as_deref(),
            Some("arn:aws:sqs:us-east-1:123456789012:done")
        );
        assert!(t.functions[1].dead_letter_target.is_none(), "Sink has none");
        assert!(t.warnings.iter().all(|w| !w.path.contains("DeadLetter")));

        // Globals.Function applies to every function; a function's own wins.
        let t = load(
            "      DeadLetterQueue: {Type: SNS, TargetArn: 'arn:aws:sns:us-east-1:123456789012:alerts'}\n",
            "    DeadLetterQueue:\n      Type: SQS\n      TargetArn: !GetAtt Done.Arn\n",
        )
        .expect("valid");
        let targets: Vec<Option<&str>> = t
            .functions
            .iter()
            .map(|f| f.dead_letter_target.as_deref())
            .collect();
        assert_eq!(
            targets,
            [
                Some("arn:aws:sns:us-east-1:123456789012:alerts"),
                Some("arn:aws:sqs:us-east-1:123456789012:done")
            ]
        );
    }

    #[test]
    fn dead_letter_queues_lambda_refuses() {
        let at = "unit.yaml:11:7: Resources.Fn.Properties.DeadLetterQueue";
        for (dlq, want) in [
            (
                "{Type: SQS}",
                format!("{at}: TargetArn is missing (hint: DeadLetterQueue: {{Type: SQS, TargetArn: !GetAtt DeadLetters.Arn}}"),
            ),
            (
                "{TargetArn: !GetAtt Done.Arn}",
                format!("{at}: Type is missing"),
            ),
            (
                "{Type: Lambda, TargetArn: !GetAtt Sink.Arn}",
                "DeadLetterQueue.Type: \"Lambda\" is not SQS or SNS".into(),
            ),
            (
                "{Type: SNS, TargetArn: !GetAtt Done.Arn}",
                "DeadLetterQueue.TargetArn: arn:aws:sqs:us-east-1:123456789012:done is not an SNS ARN (arn:aws:sns:...)".into(),
            ),
            (
                "{Type: SQS, TargetArn: !Ref Done}",
                "DeadLetterQueue.TargetArn: \"https://sqs.us-east-1.amazonaws.com/123456789012/done\" is not an ARN (write !GetAtt Resource.Arn; !Ref gives a name or URL)".into(),
            ),
            (
                "{Type: SQS, TargetArn: !GetAtt Done.Arn, Other: x}",
                "DeadLetterQueue.Other: is not one of Type, TargetArn".into(),
            ),
        ] {
            let e = load(&format!("      DeadLetterQueue: {dlq}\n"), "")
                .expect_err(dlq)
                .to_string();
            assert!(e.contains(&want), "{dlq}: {e}");
        }
    }
}
