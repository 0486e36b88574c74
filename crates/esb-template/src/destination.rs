//! Where a function's asynchronous invocations end up: `EventInvokeConfig`'s
//! `DestinationConfig` (OnSuccess / OnFailure) and the function's `DeadLetterQueue`.
//! SAM's `Type` picks the permission SAM grants the function; Lambda then routes by
//! the destination's ARN, and refuses a destination the function may not use, so a
//! `Type` that does not match the ARN's service fails the deploy and is refused here.

use crate::arn::name_in_arn;
use crate::error::{ErrorKind, TemplateError};
use crate::intrinsics::Resolver;
use crate::model::Destination;
use crate::props::{fields, required, text};
use crate::queue;
use crate::spot::Spot;
use crate::value::Value;

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

/// `DestinationConfig`: the OnSuccess and OnFailure destinations.
pub fn event_invoke(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
) -> Result<(Option<Destination>, Option<Destination>), TemplateError> {
    fields(r, v, spot, &["OnSuccess", "OnFailure"], HINT)?;
    let mut out = (None, None);
    for (when, slot) in [("OnSuccess", &mut out.0), ("OnFailure", &mut out.1)] {
        if let Some(d) = v.get(when) {
            *slot = one(r, when, d, &spot.key(when))?;
        }
    }
    Ok(out)
}

/// One destination; None when SAM would create it (`Type: SQS` or `SNS` without
/// `Destination`), which ESB does not do (warned).
fn one(
    r: &Resolver<'_>,
    when: &str,
    v: &Value,
    spot: &Spot<'_>,
) -> Result<Option<Destination>, TemplateError> {
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
        if GENERATED.contains(&kind.as_str()) {
            r.warn_once(
                &format!("generated {kind} destination"),
                spot.at,
                &spot.path,
                format!("SAM would create a {kind} destination here; ESB does not: declare one and set Destination to its ARN"),
            );
            return Ok(None);
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
    Ok(Some(match kind.as_str() {
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
