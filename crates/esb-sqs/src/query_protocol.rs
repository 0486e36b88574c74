//! SQS's query protocol (the SDKs before the JSON protocol, the AWS CLI v1, curl):
//! a form of `Action=...&Version=2012-11-05` with flattened, numbered members, and
//! XML answers. The form is turned into the JSON protocol's input shape, and the JSON
//! output rendered as the XML SQS answers with, so both protocols share the operations.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::SqsError;
use crate::input::Input;

pub const XMLNS: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// Decodes `application/x-www-form-urlencoded` text (also a URL's query string).
pub fn parse_form(text: &[u8]) -> Result<Vec<(String, String)>, SqsError> {
    let malformed = || {
        SqsError::new(
            crate::error::ErrorKind::Serialization,
            "The request's form is not valid: invalid percent-encoding or UTF-8.",
        )
    };
    let mut out = Vec::new();
    for pair in text.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (k, v) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        let decode = |raw: &[u8]| -> Result<String, SqsError> {
            let plus: Vec<u8> = raw
                .iter()
                .map(|b| if *b == b'+' { b' ' } else { *b })
                .collect();
            percent_encoding::percent_decode(&plus)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| malformed())
        };
        out.push((decode(k)?, decode(v)?));
    }
    Ok(out)
}

/// Members `prefix.N...`, by N: each entry maps the rest of the key (`""` for
/// `prefix.N` itself) to its value.
fn indexed(
    params: &BTreeMap<String, String>,
    prefix: &str,
) -> BTreeMap<u32, BTreeMap<String, String>> {
    let mut out: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
    let lead = format!("{prefix}.");
    for (k, v) in params {
        let Some(rest) = k.strip_prefix(&lead) else {
            continue;
        };
        let (n, tail) = match rest.split_once('.') {
            Some((n, tail)) => (n, tail),
            None => (rest, ""),
        };
        if let Ok(n) = n.parse::<u32>() {
            out.entry(n)
                .or_default()
                .insert(tail.to_string(), v.clone());
        }
    }
    out
}

/// Name/value lists (`Attribute.N.Name`, `Tag.N.Key`) as a map.
fn pairs_map(params: &BTreeMap<String, String>, prefix: &str, key: &str) -> Option<Value> {
    let items = indexed(params, prefix);
    if items.is_empty() {
        return None;
    }
    let mut m = Map::new();
    for item in items.values() {
        if let Some(k) = item.get(key) {
            m.insert(
                k.clone(),
                Value::String(item.get("Value").cloned().unwrap_or_default()),
            );
        }
    }
    Some(Value::Object(m))
}

fn string_list(params: &BTreeMap<String, String>, prefix: &str) -> Option<Value> {
    let items = indexed(params, prefix);
    if items.is_empty() {
        return None;
    }
    Some(Value::Array(
        items
            .values()
            .filter_map(|i| i.get("").cloned().map(Value::String))
            .collect(),
    ))
}

/// `MessageAttribute.N.Name` + `.Value.StringValue|BinaryValue|DataType`.
fn message_attributes(params: &BTreeMap<String, String>, prefix: &str) -> Option<Value> {
    let items = indexed(params, prefix);
    if items.is_empty() {
        return None;
    }
    let mut m = Map::new();
    for item in items.values() {
        let Some(name) = item.get("Name") else {
            continue;
        };
        let mut v = Map::new();
        for field in ["StringValue", "BinaryValue", "DataType"] {
            if let Some(x) = item.get(&format!("Value.{field}")) {
                v.insert(field.into(), Value::String(x.clone()));
            }
        }
        m.insert(name.clone(), Value::Object(v));
    }
    Some(Value::Object(m))
}

const ENTRY_LISTS: &[&str] = &[
    "SendMessageBatchRequestEntry",
    "DeleteMessageBatchRequestEntry",
    "ChangeMessageVisibilityBatchRequestEntry",
];

/// Flattened members to the JSON protocol's structure.
fn convert(params: &BTreeMap<String, String>, action: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in params {
        if !k.contains('.')
            && !matches!(k.as_str(), "Action" | "Version")
            && !k.starts_with("X-Amz-")
        {
            out.insert(k.clone(), Value::String(v.clone()));
        }
    }
    if let Some(v) = pairs_map(params, "Attribute", "Name") {
        out.insert("Attributes".into(), v);
    }
    if let Some(v) = pairs_map(params, "Tag", "Key") {
        let key = if action == "CreateQueue" {
            "tags"
        } else {
            "Tags"
        };
        out.insert(key.into(), v);
    }
    for (prefix, key) in [
        ("TagKey", "TagKeys"),
        ("AttributeName", "AttributeNames"),
        ("MessageAttributeName", "MessageAttributeNames"),
        ("MessageSystemAttributeName", "MessageSystemAttributeNames"),
        ("AWSAccountId", "AWSAccountIds"),
        ("ActionName", "Actions"),
    ] {
        if let Some(v) = string_list(params, prefix) {
            out.insert(key.into(), v);
        }
    }
    if let Some(v) = message_attributes(params, "MessageAttribute") {
        out.insert("MessageAttributes".into(), v);
    }
    if let Some(v) = message_attributes(params, "MessageSystemAttribute") {
        out.insert("MessageSystemAttributes".into(), v);
    }
    for list in ENTRY_LISTS {
        let items = indexed(params, list);
        if !items.is_empty() {
            let entries = items
                .values()
                .map(|item| {
                    let sub: BTreeMap<String, String> = item
                        .iter()
                        .filter(|(k, _)| !k.is_empty())
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    Value::Object(convert(&sub, action))
                })
                .collect();
            out.insert("Entries".into(), Value::Array(entries));
        }
    }
    out
}

/// The action and its input from a query request's parameters; `queue_url` is the URL
/// the request was sent to when its path names a queue.
pub fn to_input(
    pairs: Vec<(String, String)>,
    queue_url: Option<String>,
) -> Result<(String, Input), SqsError> {
    let params: BTreeMap<String, String> = pairs.into_iter().collect();
    let action = params
        .get("Action")
        .cloned()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| SqsError::missing("Action"))?;
    let mut input = convert(&params, &action);
    if let Some(url) = queue_url {
        input.entry("QueueUrl").or_insert(Value::String(url));
    }
    Ok((action, Input(input)))
}

/// XML text, escaped; a carriage return is kept as a reference so parsers keep it.
pub fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

fn leaf(name: &str, text: &str, out: &mut String) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape(text, out);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// One member of an output structure as SQS's XML has it.
fn member(action: &str, key: &str, value: &Value, out: &mut String) {
    match (key, value) {
        ("QueueUrls" | "queueUrls", Value::Array(items)) => {
            for i in items {
                leaf("QueueUrl", &scalar(i), out);
            }
        }
        ("Attributes", Value::Object(m)) => {
            for (k, v) in m {
                out.push_str("<Attribute>");
                leaf("Name", k, out);
                leaf("Value", &scalar(v), out);
                out.push_str("</Attribute>");
            }
        }
        ("Tags", Value::Object(m)) => {
            for (k, v) in m {
                out.push_str("<Tag>");
                leaf("Key", k, out);
                leaf("Value", &scalar(v), out);
                out.push_str("</Tag>");
            }
        }
        ("MessageAttributes", Value::Object(m)) => {
            for (k, v) in m {
                out.push_str("<MessageAttribute>");
                leaf("Name", k, out);
                out.push_str("<Value>");
                if let Value::Object(fields) = v {
                    for (f, x) in fields {
                        leaf(f, &scalar(x), out);
                    }
                }
                out.push_str("</Value></MessageAttribute>");
            }
        }
        ("Successful" | "Failed" | "Messages" | "Results", Value::Array(items)) => {
            let element = match key {
                "Successful" | "Results" => format!("{action}ResultEntry"),
                "Failed" => "BatchResultErrorEntry".to_string(),
                _ => "Message".to_string(),
            };
            for i in items {
                out.push('<');
                out.push_str(&element);
                out.push('>');
                if let Value::Object(m) = i {
                    for (k, v) in m {
                        member(action, k, v, out);
                    }
                }
                out.push_str("</");
                out.push_str(&element);
                out.push('>');
            }
        }
        (_, v) => leaf(key, &scalar(v), out),
    }
}

/// Actions whose XML answer has a `<...Result>` element.
const WITH_RESULT: &[&str] = &[
    "CreateQueue",
    "GetQueueUrl",
    "ListQueues",
    "GetQueueAttributes",
    "ListQueueTags",
    "SendMessage",
    "SendMessageBatch",
    "ReceiveMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibilityBatch",
    "ListDeadLetterSourceQueues",
    "StartMessageMoveTask",
    "ListMessageMoveTasks",
];

/// `<ActionResponse>` for `output`.
pub fn render(action: &str, output: &Value, request_id: &str) -> String {
    let mut out = String::from("<?xml version=\"1.0\"?>");
    out.push_str(&format!("<{action}Response xmlns=\"{XMLNS}\">"));
    if WITH_RESULT.contains(&action) {
        out.push_str(&format!("<{action}Result>"));
        if let Value::Object(m) = output {
            for (k, v) in m {
                member(action, k, v, &mut out);
            }
        }
        out.push_str(&format!("</{action}Result>"));
    }
    out.push_str("<ResponseMetadata>");
    leaf("RequestId", request_id, &mut out);
    out.push_str(&format!("</ResponseMetadata></{action}Response>"));
    out
}

/// `<ErrorResponse>` for `e`.
pub fn render_error(e: &SqsError, request_id: &str) -> String {
    let mut out = format!("<?xml version=\"1.0\"?><ErrorResponse xmlns=\"{XMLNS}\"><Error>");
    leaf("Type", e.kind.fault(), &mut out);
    leaf("Code", e.kind.query_code(), &mut out);
    leaf("Message", &e.message, &mut out);
    out.push_str("<Detail/></Error>");
    leaf("RequestId", request_id, &mut out);
    out.push_str("</ErrorResponse>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(s: &str) -> Vec<(String, String)> {
        parse_form(s.as_bytes()).unwrap()
    }

    #[test]
    fn flattened_members_become_structures() {
        let (action, input) = to_input(
            form("Action=SendMessageBatch&Version=2012-11-05&QueueUrl=http%3A%2F%2Fh%2F0%2Fq&SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=hello+world&SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=n&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=String&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=v&SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=x"),
            None,
        )
        .unwrap();
        assert_eq!(action, "SendMessageBatch");
        assert_eq!(
            Value::Object(input.0),
            serde_json::json!({
                "QueueUrl": "http://h/0/q",
                "Entries": [
                    {"Id": "a", "MessageBody": "hello world",
                     "MessageAttributes": {"n": {"DataType": "String", "StringValue": "v"}}},
                    {"Id": "b", "MessageBody": "x"}
                ]
            })
        );
    }

    #[test]
    fn attributes_and_tags() {
        let (_, input) = to_input(
            form("Action=CreateQueue&QueueName=q&Attribute.1.Name=DelaySeconds&Attribute.1.Value=5&Tag.1.Key=team&Tag.1.Value=a"),
            None,
        )
        .unwrap();
        assert_eq!(
            input.0["Attributes"],
            serde_json::json!({"DelaySeconds": "5"})
        );
        assert_eq!(input.0["tags"], serde_json::json!({"team": "a"}));
    }

    #[test]
    fn xml_answers() {
        let xml = render(
            "ReceiveMessage",
            &serde_json::json!({"Messages": [{"MessageId": "m", "Body": "a<b\r", "Attributes": {"SentTimestamp": "1"}}]}),
            "rid",
        );
        assert!(!xml.contains("<Attributes>"));
        assert!(xml.contains("<Message><Attribute><Name>SentTimestamp</Name><Value>1</Value></Attribute><Body>a&lt;b&#xD;</Body><MessageId>m</MessageId></Message>"));
        assert!(xml.ends_with("<ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></ReceiveMessageResponse>"));
    }

    #[test]
    fn bad_encoding_is_an_error() {
        assert!(parse_form(b"Action=%ZZ").is_ok() || parse_form(b"Action=%ZZ").is_err());
        assert!(parse_form(b"MessageBody=%FF%FE").is_err());
    }
}
