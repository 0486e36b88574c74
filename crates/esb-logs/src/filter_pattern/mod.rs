//! CloudWatch Logs filter patterns: the `filterPattern` of FilterLogEvents, metric
//! filters, subscription filters and Live Tail, with AWS's syntax and semantics
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html>),
//! so a pattern written for AWS selects the same events here. A pattern is parsed once
//! (rejected as AWS rejects it) and then matched against any number of messages.
//!
//! # Supported syntax
//!
//! The first character decides the kind of pattern.
//!
//! - Empty or whitespace: every event.
//! - Terms (anything else): `ERROR` matches messages that contain `ERROR` anywhere
//!   (case-sensitive: `ERRORCODE` too). Several terms must all appear (`ERROR
//!   ARGUMENTS`). `"INTERNAL SERVER ERROR"` is one phrase (`\"` and `\\` escape inside);
//!   `" "` matches everything. `-term` must not appear (`ERROR -ARGUMENTS`). `?term ?term`
//!   matches when any one appears; mixed with terms without `?` (including `-` terms),
//!   the `?` is ignored, as AWS documents. Unquoted terms are letters, digits and `_`
//!   only; anything else must be quoted (`Invalid character(s) in term ':'`). A `-` or
//!   `?` right after a term starts a new term (`ORDER-ITEM` is `ORDER -ITEM`, which is
//!   what AWS appears to do).
//! - Regex: a whole pattern `%regex%` matches when the regex matches anywhere.
//! - JSON, `{ … }`: a message that is not JSON never matches.
//!   - Selectors: `$.a.b`, `$.list[0]`, `$.coordinates[0][1]`, names of letters, digits,
//!     `-` and `_`; wildcards `$.list[*]` (any element) and `$.*` (any field), at most
//!     one per selector and three per pattern. A test matches when any selected value
//!     passes; objects, arrays and null never compare.
//!   - `= !=` with a string, quoted or not (`{ $.eventType = "UpdateTrail" }`,
//!     `{ $.sourceIPAddress != 123.123.* }`); unquoted strings hold letters, digits and
//!     `_ . * - +` only. `*` at either end is a wildcard (in quotes too), `*` elsewhere a
//!     plain character, `*` alone any value (`{ $.latency = * }`).
//!   - `= != < <= > >=` with a number: signed integers, decimals, exponents (`-1`,
//!     `55.5`, `10e-3`, `+1000`); string values that read as numbers compare as numbers;
//!     other strings are `!=` every number and never ordered.
//!   - `= !=` with `%regex%` (at most two regexes per pattern).
//!   - `IS TRUE`, `IS FALSE`, `IS NULL`, `NOT EXISTS` (a missing field, or a path
//!     through something that is not an object/array); `IS NOT` and `EXISTS` are
//!     rejected, as AWS does not support them.
//!   - `&&` binds tighter than `||`; parentheses group, nested at most [`MAX_DEPTH`].
//!   - A missing field fails every comparison, `!=` included.
//! - Space-delimited, `[ … ]`: comma-separated fields matched against the message's
//!   fields in order (`[ip, user, username, timestamp, request, status_code, bytes]`).
//!   Fields are separated by whitespace; `[…]` and `"…"` are one field each, compared
//!   without the brackets/quotes (what is inside is kept as written, `\"` included). The counts must be equal unless the pattern has one
//!   `...`, which stands for any number of fields (`[..., status_code, bytes]`). A field
//!   may carry conditions on itself with the operators and values above, joined by `&&`
//!   and `||` (`status_code = 404 || status_code = 410`, `request = *.html*`); an empty
//!   field (`[a,,b]`, a trailing `,`) names nothing. At most two regexes.
//!
//! Not supported, as in AWS: regex groups `( )`, `==`, `IS NOT`, `EXISTS`, single-quoted
//! strings. Not implemented: the values a space-delimited pattern extracts
//! (`$status_code`) for metric filters; bracket-notation selectors (`$.['a.b']`).
//!
//! Here: `FilterPattern`, the public surface; the pattern's data types are in `ast`, the
//! errors in `error`; `lexer` cuts JSON and space-delimited patterns into tokens,
//! `parser` builds the pattern (regexes checked by `regex_dialect`, numbers read by
//! `number`), and `matcher` decides whether a message matches, cutting it into fields
//! with `fields`.

mod ast;
mod error;
mod fields;
mod lexer;
mod matcher;
mod number;
mod parser;
mod regex_dialect;
#[cfg(test)]
mod tests;

pub use error::PatternError;
pub use parser::MAX_DEPTH;

/// A parsed filter pattern, ready to be matched against log messages.
#[derive(Debug, Clone)]
pub struct FilterPattern {
    pattern: ast::Pattern,
}

impl FilterPattern {
    /// Parses `pattern`; an empty or blank pattern matches every message.
    pub fn parse(pattern: &str) -> Result<FilterPattern, PatternError> {
        parser::parse(pattern).map(|pattern| FilterPattern { pattern })
    }

    /// Whether `message` (a log event's message) matches the pattern.
    pub fn matches(&self, message: &str) -> bool {
        matcher::matches(&self.pattern, message)
    }
}

impl std::str::FromStr for FilterPattern {
    type Err = PatternError;

    fn from_str(pattern: &str) -> Result<Self, Self::Err> {
        FilterPattern::parse(pattern)
    }
}
