//! Message attributes (user and system): SQS's rules for names, types and values, the
//! size they add to a message, and the MD5 digests SQS returns for them, which the SDKs
//! recompute and compare.

use std::collections::BTreeMap;

use base64::Engine;
use md5::{Digest, Md5};
use serde_json::{Map, Value, json};

use crate::error::SqsError;

/// At most this many user attributes per message.
pub const MAX_ATTRIBUTES: usize = 10;

/// One attribute's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    /// `String`, `Number` and their custom subtypes.
    Text(String),
    Binary(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAttribute {
    pub data_type: String,
    pub value: AttributeValue,
}

/// Attributes by name; a BTreeMap keeps them in the order the digest wants.
pub type MessageAttributes = BTreeMap<String, MessageAttribute>;

/// Whether every character is one SQS allows in a message:
/// `#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF`.
pub fn valid_text(s: &str) -> bool {
    s.chars().all(|c| {
        matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
    })
}

pub fn invalid_contents() -> SqsError {
    SqsError::new(
        crate::error::ErrorKind::InvalidMessageContents,
        "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
    )
}

/// Reads `MessageAttributes` (or `MessageSystemAttributes`) in the JSON protocol's
/// shape: `{name: {DataType, StringValue | BinaryValue (base64)}}`.
pub fn parse(value: Option<&Value>, system: bool) -> Result<MessageAttributes, SqsError> {
    let mut out = MessageAttributes::new();
    let Some(value) = value else {
        return Ok(out);
    };
    let map = value
        .as_object()
        .ok_or_else(|| SqsError::invalid("MessageAttributes must be a map."))?;
    if !system && map.len() > MAX_ATTRIBUTES {
        return Err(SqsError::invalid(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [{MAX_ATTRIBUTES}].",
            map.len()
        )));
    }
    for (name, attr) in map {
        if system {
            if name != "AWSTraceHeader" {
                return Err(SqsError::invalid(format!(
                    "Message system attribute name '{name}' is invalid."
                )));
            }
        } else {
            check_name(name)?;
        }
        out.insert(name.clone(), parse_one(name, attr)?);
    }
    if system
        && out
            .get("AWSTraceHeader")
            .is_some_and(|a| a.data_type != "String")
    {
        return Err(SqsError::invalid(
            "The message system attribute 'AWSTraceHeader' must be of type 'String'.",
        ));
    }
    Ok(out)
}

fn check_name(name: &str) -> Result<(), SqsError> {
    let lower = name.to_ascii_lowercase();
    let ok = !name.is_empty()
        && name.len() <= 256
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && !lower.starts_with("aws.")
        && !lower.starts_with("amazon.");
    if ok {
        Ok(())
    } else {
        Err(SqsError::invalid(format!(
            "Message (user) attribute name '{name}' is invalid. The attribute name can contain only A-Z, a-z, 0-9, underscore (_), hyphen (-), and period (.) characters, must not start or end with a period, must not contain successive periods, and must not start with AWS. or Amazon."
        )))
    }
}

fn parse_one(name: &str, attr: &Value) -> Result<MessageAttribute, SqsError> {
    let field = |k: &str| attr.get(k).filter(|v| !v.is_null());
    let data_type = field("DataType").and_then(Value::as_str).unwrap_or("");
    if data_type.is_empty() {
        return Err(SqsError::invalid(format!(
            "The message attribute '{name}' must contain non-empty message attribute type."
        )));
    }
    let base = data_type.split('.').next().unwrap_or("");
    let custom = &data_type[base.len()..];
    if !matches!(base, "String" | "Number" | "Binary")
        || data_type.len() > 256
        || (!custom.is_empty() && custom.len() < 2)
    {
        return Err(SqsError::invalid(format!(
            "The type of message (user) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
        )));
    }
    if field("StringListValues").is_some() || field("BinaryListValues").is_some() {
        return Err(SqsError::invalid(
            "Message attribute list values in SendMessage operation are not supported.",
        ));
    }
    let empty = || {
        SqsError::invalid(format!(
            "The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{base}'."
        ))
    };
    let value = if base == "Binary" {
        let encoded = field("BinaryValue").and_then(Value::as_str).unwrap_or("");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| {
                SqsError::invalid(format!(
                    "The message attribute '{name}' has an invalid binary value (not base64)."
                ))
            })?;
        if bytes.is_empty() {
            return Err(empty());
        }
        AttributeValue::Binary(bytes)
    } else {
        let text = field("StringValue").and_then(Value::as_str).unwrap_or("");
        if text.is_empty() {
            return Err(empty());
        }
        if !valid_text(text) {
            return Err(invalid_contents());
        }
        if base == "Number" && !is_number(text) {
            return Err(SqsError::invalid(format!(
                "Could not cast message attribute '{name}' value to number."
            )));
        }
        AttributeValue::Text(text.to_string())
    };
    Ok(MessageAttribute {
        data_type: data_type.to_string(),
        value,
    })
}

/// SQS's numbers: up to 38 significant digits, between 10^-128 and 10^+126.
fn is_number(s: &str) -> bool {
    let t = s.trim();
    let Ok(v) = t.parse::<f64>() else {
        return false;
    };
    let digits = t
        .split(['e', 'E'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>();
    let significant = digits.trim_start_matches('0').len();
    v.is_finite()
        && significant <= 38
        && (v == 0.0 || (v.abs() >= 1e-128 && v.abs() <= 1e126))
        && !t.eq_ignore_ascii_case("nan")
        && !t.to_ascii_lowercase().contains("inf")
}

/// The bytes the attributes add to a message's size: each name, type and value.
pub fn size(attrs: &MessageAttributes) -> usize {
    attrs
        .iter()
        .map(|(name, a)| {
            name.len()
                + a.data_type.len()
                + match &a.value {
                    AttributeValue::Text(s) => s.len(),
                    AttributeValue::Binary(b) => b.len(),
                }
        })
        .sum()
}

/// MD5 of the attributes as SQS computes it: for each name in order, the name, the
/// type and the value, each as a 4-byte big-endian length and the bytes, with a
/// transport byte (1 text, 2 binary) before the value.
pub fn md5(attrs: &MessageAttributes) -> String {
    fn put(h: &mut Md5, bytes: &[u8]) {
        h.update((bytes.len() as u32).to_be_bytes());
        h.update(bytes);
    }
    let mut h = Md5::new();
    for (name, a) in attrs {
        put(&mut h, name.as_bytes());
        put(&mut h, a.data_type.as_bytes());
        match &a.value {
            AttributeValue::Text(s) => {
                h.update([1u8]);
                put(&mut h, s.as_bytes());
            }
            AttributeValue::Binary(b) => {
                h.update([2u8]);
                put(&mut h, b);
            }
        }
    }
    hex::encode(h.finalize())
}

/// MD5 of a body, hex.
pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// The attributes in the JSON protocol's shape (binary values base64).
pub fn to_json(attrs: &MessageAttributes) -> Value {
    let mut out = Map::new();
    for (name, a) in attrs {
        let v = match &a.value {
            AttributeValue::Text(s) => json!({"DataType": a.data_type, "StringValue": s}),
            AttributeValue::Binary(b) => json!({
                "DataType": a.data_type,
                "BinaryValue": base64::engine::general_purpose::STANDARD.encode(b),
            }),
        };
        out.insert(name.clone(), v);
    }
    Value::Object(out)
}

/// Which user attributes a receive asked for: `All`, `.*`, names and `prefix.*`.
pub fn select(attrs: &MessageAttributes, wanted: &[String]) -> MessageAttributes {
    attrs
        .iter()
        .filter(|(name, _)| {
            wanted.iter().any(|w| {
                w == "All"
                    || w == ".*"
                    || w == *name
                    || w.strip_suffix(".*")
                        .is_some_and(|prefix| name.starts_with(&format!("{prefix}.")))
            })
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_the_sdks() {
        let attrs = parse(
            Some(&json!({
                "color": {"DataType": "String", "StringValue": "blue"},
                "n": {"DataType": "Number", "StringValue": "42"},
                "bin": {"DataType": "Binary", "BinaryValue": "AAEC"},
            })),
            false,
        )
        .unwrap();
        // Values computed by moto's implementation of the SDKs' algorithm.
        assert_eq!(md5(&attrs), "b6a34b82a6afbd982e636240f09f7bea");
        let custom = parse(
            Some(&json!({"a.b": {"DataType": "String.custom", "StringValue": "héllo"}})),
            false,
        )
        .unwrap();
        assert_eq!(md5(&custom), "9bb919bf34666eb189de60c1d45ddb61");
        assert_eq!(md5_hex(b"hello"), "5d41402abc4b2a76b9719d911017c592");
    }

    #[test]
    fn rules_for_names_types_and_values() {
        let bad = |v: Value| parse(Some(&v), false).unwrap_err().kind;
        use crate::error::ErrorKind::*;
        assert_eq!(
            bad(json!({"AWS.x": {"DataType": "String", "StringValue": "v"}})),
            InvalidParameterValue
        );
        assert_eq!(
            bad(json!({".x": {"DataType": "String", "StringValue": "v"}})),
            InvalidParameterValue
        );
        assert_eq!(
            bad(json!({"a..b": {"DataType": "String", "StringValue": "v"}})),
            InvalidParameterValue
        );
        assert_eq!(
            bad(json!({"x": {"DataType": "Text", "StringValue": "v"}})),
            InvalidParameterValue
        );
        assert_eq!(
            bad(json!({"x": {"DataType": "String", "StringValue": ""}})),
            InvalidParameterValue
        );
        assert_eq!(
            bad(json!({"x": {"DataType": "Number", "StringValue": "abc"}})),
            InvalidParameterValue
        );
        assert_eq!(
            bad(json!({"x": {"StringValue": "v"}})),
            InvalidParameterValue
        );
        assert_eq!(
            bad(json!({"x": {"DataType": "String", "StringValue": "\u{1}"}})),
            InvalidMessageContents
        );
        let eleven: Map<String, Value> = (0..11)
            .map(|i| {
                (
                    format!("a{i}"),
                    json!({"DataType": "String", "StringValue": "v"}),
                )
            })
            .collect();
        assert_eq!(bad(Value::Object(eleven)), InvalidParameterValue);
        assert!(
            parse(
                Some(&json!({"x": {"DataType": "Number.int", "StringValue": "-1.5e3"}})),
                false
            )
            .is_ok()
        );
    }

    #[test]
    fn valid_characters() {
        assert!(valid_text(
            "tab\tnl\ncr\r ok \u{D7FF}\u{E000}\u{FFFD}\u{10000}"
        ));
        assert!(!valid_text("\u{0}"));
        assert!(!valid_text("\u{1F}"));
        assert!(!valid_text("\u{FFFE}"));
    }

    #[test]
    fn selection_by_name_prefix_and_all() {
        let attrs = parse(
            Some(&json!({
                "a.one": {"DataType": "String", "StringValue": "1"},
                "a.two": {"DataType": "String", "StringValue": "2"},
                "b": {"DataType": "String", "StringValue": "3"},
            })),
            false,
        )
        .unwrap();
        assert_eq!(select(&attrs, &["All".into()]).len(), 3);
        assert_eq!(select(&attrs, &["a.*".into()]).len(), 2);
        assert_eq!(select(&attrs, &["b".into()]).len(), 1);
        assert_eq!(select(&attrs, &["c".into()]).len(), 0);
    }
}
