//! DynamoDB's request limits that the engine does not hold requests to, checked
//! before it sees them and answered with DynamoDB's error.
//!
//! What is checked, and why here (the engine, dynoxide-rs 3.2.0, already enforces the
//! rest in DynamoDB's words: expression and item sizes, batch sizes, value nesting,
//! overlapping projection paths, 50 tags on TagResource; see
//! docs/dynamodb-engine-differences.draft.md, category 1):
//! - Condition, filter and key-condition expressions nested past 300 `(`: answered
//!   here, whatever else the request holds, because the engine's parsers recurse once
//!   per `(` and an unbalanced run of them once overflowed its stack and aborted the
//!   box. This is the box's guard; the engine's large stacks are the second line.
//! - More than 300 operators, `IN` with more than 100 values, an operator or function
//!   whose first operand repeats (`a = a`), an unknown `attribute_type` type name.
//! - Document paths deeper than 32 levels (projection, update, condition) and
//!   projection paths that conflict (`a.b` with `a[0]`).
//! - Streams `Limit` outside 1..=1000 (GetRecords) or 1..=100 (ListStreams).
//! - Tag keys with the reserved `aws:` prefix; more than 50 tags on CreateTable (the
//!   engine refuses those, but only after creating the table).
//!
//! It runs on every request, so a request that cannot hold anything checked here costs
//! a substring search: the body is parsed only when it names a field that is checked.
//! It reads hostile input: no recursion on it, nothing that can panic, work bounded by
//! the body's length (and by DynamoDB's 4 KB limit per expression). When the body is
//! not JSON, or a field has the wrong type, it answers nothing: the engine refuses such
//! a request before reading any expression.

mod expression;
mod request;
mod reserved;

use crate::operations::Operation;
use expression::{ConditionKind, Verdict};
use request::{Action, Container, Field, Request};

/// A request DynamoDB would refuse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LimitError {
    #[error("{0}")]
    Validation(String),
}

impl LimitError {
    /// The `__type` DynamoDB answers with.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Validation(_) => "com.amazon.coral.validate#ValidationException",
        }
    }
}

/// The envelope DynamoDB (and the engine, which follows captures of it) puts around a
/// request-validation message: the expression errors of the single-item writes carry
/// it, those of reads, queries and transactions do not.
const ENVELOPE: &str = "1 validation error detected: ";

/// DynamoDB's limit on tags per resource, and the engine's wording for it.
const MAX_TAGS: usize = 50;
const TOO_MANY_TAGS: &str =
    "One or more parameter values were invalid: Too many tags: tag limit is 50";

/// Checks `body` (the request for `op`, as sent) against the limits.
pub fn check(op: Operation, body: &[u8]) -> Result<(), LimitError> {
    use Operation as O;
    // The key a body must name to hold anything checked for `op`. A JSON key can be
    // written with `\u` escapes, which the engine decodes: a body with any `\u` is read.
    let needle = match op {
        O::PutItem
        | O::DeleteItem
        | O::UpdateItem
        | O::GetItem
        | O::Query
        | O::Scan
        | O::BatchGetItem
        | O::TransactGetItems
        | O::TransactWriteItems
        | O::SearchVectors => "Expression\"",
        O::GetRecords | O::ListStreams => "\"Limit\"",
        O::CreateTable => "\"Tags\"",
        O::TagResource => "",
        _ => return Ok(()),
    };
    // The engine refuses a body that is not UTF-8 before reading it.
    let Ok(text) = std::str::from_utf8(body) else {
        return Ok(());
    };
    if !text.contains(needle) && !text.contains("\\u") {
        return Ok(());
    }
    let Some(request) = Request::read(text) else {
        return Ok(());
    };
    let top = |container| expressions(&[(&request.top, container)], "");
    match op {
        O::PutItem => expressions(&[(&request.top, Container::Put)], ENVELOPE),
        O::UpdateItem => expressions(&[(&request.top, Container::Update)], ENVELOPE),
        O::DeleteItem => expressions(&[(&request.top, Container::Delete)], ENVELOPE),
        O::GetItem => top(Container::Get),
        O::Query => top(Container::Query),
        O::Scan => top(Container::Scan),
        O::SearchVectors => top(Container::Search),
        O::BatchGetItem | O::TransactGetItems | O::TransactWriteItems => {
            let nested: Vec<(&Action, Container)> =
                request.nested.iter().map(|(c, a)| (a, *c)).collect();
            expressions(&nested, "")
        }
        O::GetRecords => limit(&request, 1000),
        O::ListStreams => limit(&request, 100),
        O::TagResource => tags(&request),
        O::CreateTable => {
            if request.tags.len() > MAX_TAGS {
                return Err(LimitError::Validation(TOO_MANY_TAGS.to_string()));
            }
            tags(&request)
        }
        _ => Ok(()),
    }
}

/// The order in which the engine reads an action's expressions (UpdateItem: the update
/// before the condition; Query: the key condition, the filter, the projection).
const FIELD_ORDER: [Field; 6] = [
    Field::KeyCondition,
    Field::Update,
    Field::Condition,
    Field::Filter,
    Field::Projection,
    Field::SearchCondition,
];

/// Holds every expression of `actions` that the engine reads (by where it sits) to the
/// limits. A guarded expression is refused first, whatever else the request holds;
/// then, if any expression is malformed, the engine answers (DynamoDB reports grammar
/// before limits); then the first refusal, in the engine's order.
fn expressions(actions: &[(&Action, Container)], envelope: &str) -> Result<(), LimitError> {
    let refuse = |field: Field, message: &str| {
        LimitError::Validation(format!("{envelope}Invalid {}: {message}", field.name()))
    };
    let mut malformed = false;
    let mut first: Option<LimitError> = None;
    for (action, container) in actions {
        let read = FIELD_ORDER.iter().filter(|f| container.reads(**f));
        let fields = read.flat_map(|f| action.expressions.iter().filter(move |(g, _)| g == f));
        for (field, text) in fields {
            let placeholders = &action.placeholders;
            let verdict = match field {
                Field::Condition | Field::Filter => {
                    expression::check_condition(text, ConditionKind::Condition, placeholders)
                }
                Field::KeyCondition => {
                    expression::check_condition(text, ConditionKind::KeyCondition, placeholders)
                }
                Field::SearchCondition => {
                    expression::check_condition(text, ConditionKind::GuardOnly, placeholders)
                }
                Field::Projection => expression::check_projection(text, placeholders),
                Field::Update => expression::check_update(text, placeholders),
            };
            match verdict {
                Verdict::Guard(message) => return Err(refuse(*field, &message)),
                Verdict::Refuse(message) => {
                    first.get_or_insert_with(|| refuse(*field, &message));
                }
                Verdict::Malformed => malformed = true,
                Verdict::Pass => {}
            }
        }
    }
    match first {
        Some(e) if !malformed => Err(e),
        _ => Ok(()),
    }
}

/// DynamoDB Streams' `Limit`: at least 1, at most `max` ([API] GetRecords "The upper
/// limit is 1000", ListStreams 100), in DynamoDB's constraint wording. The engine takes
/// 0 (an empty page) and caps what is above.
fn limit(request: &Request, max: i128) -> Result<(), LimitError> {
    for &n in &request.limits {
        let constraint = if n < 1 {
            "greater than or equal to 1".to_string()
        } else if n > max {
            format!("less than or equal to {max}")
        } else {
            continue;
        };
        return Err(LimitError::Validation(format!(
            "{ENVELOPE}Value '{n}' at 'limit' failed to satisfy constraint: Member must have value {constraint}"
        )));
    }
    Ok(())
}

/// The `aws:` prefix is AWS's own ("AWS-assigned tag names and values are
/// automatically assigned the aws: prefix, which you can't assign"; AWS's tagging
/// guidance forbids it in any case). The engine takes it. The exact AWS wording of this
/// refusal is not known here: the message follows the engine's other tag errors.
fn tags(request: &Request) -> Result<(), LimitError> {
    let reserved = |key: &str| key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"));
    if request.tags.iter().flatten().any(|key| reserved(key)) {
        return Err(LimitError::Validation(
            "One or more parameter values were invalid: Tag keys starting with 'aws:' are reserved for use by AWS"
                .to_string(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod tests;
