//! Properties every event source mapping (`Events` of `Type: DynamoDB` or `SQS`)
//! shares, read as Lambda's `CreateEventSourceMapping` checks them, with the wording
//! of its errors kept so they can be searched for.

use crate::error::{ErrorKind, TemplateError};
use crate::intrinsics::Resolver;
use crate::props::{fields, required, text};
use crate::spot::Spot;
use crate::value::Value;

/// Lambda's default quota of filters per event source mapping.
const MAX_FILTERS: usize = 5;
/// Lambda's limit on one filter pattern.
const MAX_PATTERN_BYTES: usize = 4096;

/// A whole number within Lambda's `min..=max` for `field` (its API name), refused
/// with the wording of Lambda's ValidationException.
pub fn ranged<T: TryFrom<i64>>(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
    field: &str,
    min: i64,
    max: i64,
    hint: &str,
) -> Result<T, TemplateError> {
    let written = v.as_text().unwrap_or_else(|| v.shape().to_string());
    let n = match v {
        Value::Number(t) | Value::String(t) => t.parse::<i64>().ok(),
        _ => None,
    };
    let constraint = match n {
        None => {
            return Err(r.error(
                spot.at,
                &spot.path,
                ErrorKind::InvalidValue(format!("must be a whole number, not {written}")),
                hint,
            ));
        }
        Some(n) if n < min => format!("greater than or equal to {min}"),
        Some(n) if n > max => format!("less than or equal to {max}"),
        Some(n) => match T::try_from(n) {
            Ok(n) => return Ok(n),
            // Only if min..=max does not fit T: a mistake here, reported as a range.
            Err(_) => format!("between {min} and {max}"),
        },
    };
    Err(r.error(
        spot.at,
        &spot.path,
        ErrorKind::BadEventSource(format!(
            "Value '{written}' at '{field}' failed to satisfy constraint: Member must have value {constraint}"
        )),
        hint,
    ))
}

pub fn boolean(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
    hint: &str,
) -> Result<bool, TemplateError> {
    v.as_bool().ok_or_else(|| {
        r.error(
            spot.at,
            &spot.path,
            ErrorKind::InvalidValue(format!(
                "must be true or false, not {}",
                v.as_text().unwrap_or_else(|| v.shape().to_string())
            )),
            hint,
        )
    })
}

/// `FunctionResponseTypes`: empty, or `[ReportBatchItemFailures]`.
pub fn response_types(r: &Resolver<'_>, v: &Value, spot: &Spot<'_>) -> Result<bool, TemplateError> {
    let hint = "FunctionResponseTypes: [ReportBatchItemFailures]";
    let Some(types) = v.as_text_list() else {
        return Err(r.error(
            spot.at,
            &spot.path,
            ErrorKind::InvalidValue(format!("must be a list of strings, not {}", v.shape())),
            hint,
        ));
    };
    if types.iter().any(|t| t != "ReportBatchItemFailures") {
        return Err(r.error(
            spot.at,
            &spot.path,
            ErrorKind::BadEventSource(format!(
                "Value '[{}]' at 'functionResponseTypes' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [ReportBatchItemFailures]]",
                types.join(", ")
            )),
            hint,
        ));
    }
    Ok(!types.is_empty())
}

/// `FilterCriteria: {Filters: [{Pattern}]}`: each pattern a JSON object, 5 at most.
/// `hint` shows a pattern for the event source's records.
pub fn filters(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
    hint: &str,
) -> Result<Vec<String>, TemplateError> {
    fields(r, v, spot, &["Filters"], hint)?;
    let Some(filters) = v.get("Filters") else {
        return Ok(Vec::new());
    };
    let filters_spot = spot.key("Filters");
    let Value::List(items) = filters else {
        return Err(r.error(
            filters_spot.at,
            &filters_spot.path,
            ErrorKind::Structure(format!("must be a list, not {}", filters.shape())),
            hint,
        ));
    };
    if items.len() > MAX_FILTERS {
        return Err(r.error(
            filters_spot.at,
            &filters_spot.path,
            ErrorKind::BadEventSource(format!(
                "{} filters; Lambda allows {MAX_FILTERS} per event source mapping",
                items.len()
            )),
            "combine patterns: one pattern may list several values for a field",
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = filters_spot.index(i);
        fields(r, item, &at, &["Pattern"], hint)?;
        let pattern_spot = at.key("Pattern");
        let pattern = text(
            r,
            required(r, item, "Pattern", &at, hint)?,
            &pattern_spot,
            hint,
        )?;
        let problem = match serde_json::from_str::<serde_json::Value>(&pattern) {
            _ if pattern.len() > MAX_PATTERN_BYTES => Some(format!(
                "the pattern is longer than {MAX_PATTERN_BYTES} bytes"
            )),
            Ok(serde_json::Value::Object(_)) => None,
            Ok(_) => Some("a pattern is a JSON object".to_string()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(problem) = problem {
            return Err(r.error(
                pattern_spot.at,
                &pattern_spot.path,
                ErrorKind::BadEventSource(format!("Invalid filter pattern definition: {problem}")),
                hint,
            ));
        }
        out.push(pattern);
    }
    Ok(out)
}
