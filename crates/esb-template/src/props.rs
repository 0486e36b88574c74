//! Reading property values once resolved, the way CloudFormation's schema reads them:
//! mappings with a known set of fields, required fields, strings, lists and tags.
//! Shared by the resources whose nested properties are checked field by field
//! (buckets, tables), so every one reports a misspelt or missing field the same
//! way, at the place a [`Spot`] finds for it.

use crate::error::{ErrorKind, TemplateError};
use crate::intrinsics::Resolver;
use crate::resources::Resource;
use crate::spot::Spot;
use crate::value::Value;

/// AWS's limits on the tags of one resource (S3 and DynamoDB alike).
const MAX_TAGS: usize = 50;
const TAGS_HINT: &str = "Tags: [{Key: team, Value: data}]";

/// A property of `res` resolved, with the spot it is written at; `None` when absent
/// or `AWS::NoValue`.
pub fn property<'n>(
    r: &Resolver<'_>,
    res: &Resource<'n>,
    key: &str,
) -> Result<Option<(Value, Spot<'n>)>, TemplateError> {
    let Some((e, path)) = res.property(key) else {
        return Ok(None);
    };
    Ok(r.resolve(&e.value, &path)?
        .map(|v| (v, Spot::of(e, path.clone()))))
}

/// The fields of a mapping, refusing any not in `allowed` (CloudFormation refuses
/// them too).
pub fn fields<'v>(
    r: &Resolver<'_>,
    v: &'v Value,
    spot: &Spot<'_>,
    allowed: &[&str],
    hint: &str,
) -> Result<&'v [(String, Value)], TemplateError> {
    let Value::Map(entries) = v else {
        return Err(r.error(
            spot.at,
            &spot.path,
            ErrorKind::Structure(format!("must be a mapping, not {}", v.shape())),
            hint,
        ));
    };
    if let Some((k, _)) = entries.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        let at = spot.key(k);
        return Err(r.error(
            at.at,
            &at.path,
            ErrorKind::Structure(format!("is not one of {}", allowed.join(", "))),
            hint,
        ));
    }
    Ok(entries)
}

/// The value of `key` in a mapping, or an error at the mapping saying it is missing.
pub fn required<'v>(
    r: &Resolver<'_>,
    v: &'v Value,
    key: &str,
    spot: &Spot<'_>,
    hint: &str,
) -> Result<&'v Value, TemplateError> {
    v.get(key).ok_or_else(|| {
        r.error(
            spot.at,
            &spot.path,
            ErrorKind::MissingProperty(key.into()),
            hint,
        )
    })
}

/// A scalar as text (numbers and booleans written out, as CloudFormation passes them).
pub fn text(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
    hint: &str,
) -> Result<String, TemplateError> {
    v.as_text().ok_or_else(|| {
        r.error(
            spot.at,
            &spot.path,
            ErrorKind::InvalidValue(format!("must be a string, not {}", v.shape())),
            hint,
        )
    })
}

/// A list of scalars as text, each item located for errors.
pub fn list(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
    hint: &str,
) -> Result<Vec<String>, TemplateError> {
    match v {
        Value::List(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| text(r, item, &spot.index(i), hint))
            .collect(),
        other => Err(r.error(
            spot.at,
            &spot.path,
            ErrorKind::InvalidValue(format!("must be a list, not {}", other.shape())),
            hint,
        )),
    }
}

/// `Tags: [{Key, Value}]`, CloudFormation's list form: unique keys, none in the
/// `aws:` namespace. `service` names who limits them, in errors.
pub fn tag_list(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
    service: &str,
) -> Result<Vec<(String, String)>, TemplateError> {
    let Value::List(items) = v else {
        return Err(r.error(
            spot.at,
            &spot.path,
            ErrorKind::Structure(format!("must be a list, not {}", v.shape())),
            TAGS_HINT,
        ));
    };
    let mut out: Vec<(String, String)> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = spot.index(i);
        fields(r, item, &at, &["Key", "Value"], TAGS_HINT)?;
        let key = text(
            r,
            required(r, item, "Key", &at, TAGS_HINT)?,
            &at.key("Key"),
            TAGS_HINT,
        )?;
        let value = text(
            r,
            required(r, item, "Value", &at, TAGS_HINT)?,
            &at.key("Value"),
            TAGS_HINT,
        )?;
        add_tag(r, &mut out, key, value, &at, TAGS_HINT)?;
    }
    check_tag_count(r, &out, spot, service, TAGS_HINT)?;
    Ok(out)
}

/// `Tags: {Key: Value}`, SAM's mapping form (e.g. on a SimpleTable).
pub fn tag_map(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
    service: &str,
) -> Result<Vec<(String, String)>, TemplateError> {
    const HINT: &str = "Tags: {team: data}";
    let Value::Map(entries) = v else {
        return Err(r.error(
            spot.at,
            &spot.path,
            ErrorKind::Structure(format!("must be a mapping, not {}", v.shape())),
            HINT,
        ));
    };
    let mut out: Vec<(String, String)> = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let at = spot.key(key);
        let value = text(r, value, &at, HINT)?;
        add_tag(r, &mut out, key.clone(), value, &at, HINT)?;
    }
    check_tag_count(r, &out, spot, service, HINT)?;
    Ok(out)
}

/// Appends a tag, refusing what AWS refuses in one.
fn add_tag(
    r: &Resolver<'_>,
    out: &mut Vec<(String, String)>,
    key: String,
    value: String,
    at: &Spot<'_>,
    hint: &str,
) -> Result<(), TemplateError> {
    let problem = if key.is_empty() || key.chars().count() > 128 {
        Some("a tag key is 1 to 128 characters".to_string())
    } else if value.chars().count() > 256 {
        Some(format!("the value of {key} is longer than 256 characters"))
    } else if key.to_ascii_lowercase().starts_with("aws:") {
        Some(format!(
            "{key}: the aws: prefix is reserved for AWS's own tags"
        ))
    } else if out.iter().any(|(k, _)| *k == key) {
        Some(format!("{key} is tagged twice"))
    } else {
        None
    };
    if let Some(problem) = problem {
        return Err(r.error(at.at, &at.path, ErrorKind::InvalidValue(problem), hint));
    }
    out.push((key, value));
    Ok(())
}

fn check_tag_count(
    r: &Resolver<'_>,
    tags: &[(String, String)],
    spot: &Spot<'_>,
    service: &str,
    hint: &str,
) -> Result<(), TemplateError> {
    if tags.len() > MAX_TAGS {
        return Err(r.error(
            spot.at,
            &spot.path,
            ErrorKind::InvalidValue(format!("{} tags; {service} allows {MAX_TAGS}", tags.len())),
            hint,
        ));
    }
    Ok(())
}
