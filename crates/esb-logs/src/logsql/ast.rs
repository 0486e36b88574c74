//! The parsed form of a LogsQL query: the filter tree, the pipes' limit and sort, and
//! stream selectors. Plain data, shared by the parser that builds it, the matcher that
//! evaluates it and the store that reads its requirements.

use std::ops::Bound;

use regex::Regex;

/// A parsed query: which records, how many, in which order.
#[derive(Debug, Clone)]
pub struct Query {
    pub filter: Filter,
    /// From `| limit N` / `| head N` (the smallest, if several).
    pub limit: Option<usize>,
    pub sort: Option<Sort>,
}

/// `| sort by (field)`: the order the store returns records in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    pub field: String,
    pub desc: bool,
}

/// Which records a query selects. Field names are as written, with the message field
/// always spelled `_msg`; a missing field matches as an empty value.
#[derive(Debug, Clone)]
pub enum Filter {
    /// Every record (`*`).
    All,
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// The phrase (or word) occurs with word boundaries at its ends; an empty phrase
    /// matches only an empty value.
    Phrase {
        field: String,
        phrase: String,
    },
    /// A word or phrase starting with `prefix` occurs; an empty prefix matches any
    /// non-empty value.
    Prefix {
        field: String,
        prefix: String,
    },
    /// [`Filter::Phrase`] on the lowercased value (`phrase` is lowercase).
    AnyCasePhrase {
        field: String,
        phrase: String,
    },
    /// [`Filter::Prefix`] on the lowercased value (`prefix` is lowercase).
    AnyCasePrefix {
        field: String,
        prefix: String,
    },
    /// `substring` occurs anywhere.
    Substring {
        field: String,
        substring: String,
    },
    Exact {
        field: String,
        value: String,
    },
    ExactPrefix {
        field: String,
        prefix: String,
    },
    /// The value is exactly one of `values`.
    In {
        field: String,
        values: Vec<String>,
    },
    /// The regex matches somewhere in the value.
    Regex {
        field: String,
        regex: Regex,
    },
    /// The value is a number within the bounds.
    Range {
        field: String,
        lower: Bound<f64>,
        upper: Bound<f64>,
    },
    /// The value is within the bounds, comparing bytes.
    StringRange {
        field: String,
        lower: Bound<String>,
        upper: Bound<String>,
    },
    /// `_time` in `[start, end)`; `None` is unbounded.
    Time {
        start: Option<i64>,
        end: Option<i64>,
    },
    /// `_stream:{…}`.
    Stream(StreamSelector),
}

/// `{…}`: the record's stream matches every matcher of at least one group
/// (groups are separated by `or`).
#[derive(Debug, Clone)]
pub struct StreamSelector {
    pub any_of: Vec<Vec<LabelMatcher>>,
}

/// One `label op value` of a stream selector; a missing label counts as empty.
#[derive(Debug, Clone)]
pub struct LabelMatcher {
    pub label: String,
    pub op: LabelOp,
}

#[derive(Debug, Clone)]
pub enum LabelOp {
    Eq(String),
    Ne(String),
    /// `=~`: anchored at both ends, as Prometheus selectors are.
    Re(Regex),
    NotRe(Regex),
    In(Vec<String>),
    NotIn(Vec<String>),
}

/// The message field is `_msg`, however it was reached (no field, `_msg:`, `"":`).
pub(super) fn canon(field: &str) -> String {
    if field.is_empty() {
        "_msg".to_string()
    } else {
        field.to_string()
    }
}
