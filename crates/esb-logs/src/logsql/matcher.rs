//! Whether a record matches a filter, with VictoriaLogs' semantics: word boundaries for
//! phrases and prefixes, missing fields as empty values, numbers compared as numbers.

use std::borrow::Cow;
use std::ops::Bound;

use super::ast::{Filter, LabelMatcher, LabelOp, StreamSelector};
use super::words::is_token_char;
use crate::record::Record;

impl Filter {
    /// Whether `r` is selected.
    pub fn matches(&self, r: &Record) -> bool {
        match self {
            Filter::All => true,
            Filter::And(fs) => fs.iter().all(|f| f.matches(r)),
            Filter::Or(fs) => fs.iter().any(|f| f.matches(r)),
            Filter::Not(f) => !f.matches(r),
            Filter::Phrase { field, phrase } => match_phrase(&value(r, field), phrase),
            Filter::Prefix { field, prefix } => match_prefix(&value(r, field), prefix),
            Filter::AnyCasePhrase { field, phrase } => {
                match_phrase(&value(r, field).to_lowercase(), phrase)
            }
            Filter::AnyCasePrefix { field, prefix } => {
                match_prefix(&value(r, field).to_lowercase(), prefix)
            }
            Filter::Substring { field, substring } => value(r, field).contains(substring.as_str()),
            Filter::Exact { field, value: v } => value(r, field) == v.as_str(),
            Filter::ExactPrefix { field, prefix } => value(r, field).starts_with(prefix.as_str()),
            Filter::In { field, values } => {
                let v = value(r, field);
                values.iter().any(|x| x.as_str() == v)
            }
            Filter::Regex { field, regex } => regex.is_match(&value(r, field)),
            Filter::Range {
                field,
                lower,
                upper,
            } => parse_record_number(&value(r, field))
                .is_some_and(|n| within(&n, lower.as_ref(), upper.as_ref())),
            Filter::StringRange {
                field,
                lower,
                upper,
            } => {
                let v = value(r, field);
                within(
                    v.as_ref(),
                    lower.as_ref().map(String::as_str),
                    upper.as_ref().map(String::as_str),
                )
            }
            Filter::Time { start, end } => {
                start.is_none_or(|s| r.time_ns >= s) && end.is_none_or(|e| r.time_ns < e)
            }
            Filter::Stream(sel) => sel.matches(r),
        }
    }
}

impl StreamSelector {
    pub fn matches(&self, r: &Record) -> bool {
        self.any_of
            .iter()
            .any(|group| group.iter().all(|m| m.matches(r)))
    }
}

impl LabelMatcher {
    pub fn matches(&self, r: &Record) -> bool {
        let v = r
            .stream
            .iter()
            .find(|(k, _)| *k == self.label)
            .map_or("", |(_, v)| v.as_str());
        match &self.op {
            LabelOp::Eq(x) => v == x,
            LabelOp::Ne(x) => v != x,
            LabelOp::Re(re) => re.is_match(v),
            LabelOp::NotRe(re) => !re.is_match(v),
            LabelOp::In(xs) => xs.iter().any(|x| x == v),
            LabelOp::NotIn(xs) => !xs.iter().any(|x| x == v),
        }
    }
}

/// A field's value, missing fields being empty (as VictoriaLogs treats them).
fn value<'a>(r: &'a Record, field: &str) -> Cow<'a, str> {
    r.field(field).unwrap_or(Cow::Borrowed(""))
}

/// Where `phrase` occurs in `s` with no word character glued to a word-character end.
fn phrase_pos(s: &str, phrase: &str, check_end: bool) -> Option<usize> {
    let starts_with_token = phrase.chars().next().is_some_and(is_token_char);
    let ends_with_token = check_end && phrase.chars().next_back().is_some_and(is_token_char);
    let mut pos = 0;
    while let Some(n) = s.get(pos..).and_then(|rest| rest.find(phrase)) {
        let at = pos + n;
        let glued_before =
            starts_with_token && s[..at].chars().next_back().is_some_and(is_token_char);
        let glued_after = ends_with_token
            && s[at + phrase.len()..]
                .chars()
                .next()
                .is_some_and(is_token_char);
        if !glued_before && !glued_after {
            return Some(at);
        }
        // Matches start on character boundaries, so step over the whole character.
        pos = at + s[at..].chars().next().map_or(1, char::len_utf8);
    }
    None
}

fn match_phrase(s: &str, phrase: &str) -> bool {
    if phrase.is_empty() {
        return s.is_empty();
    }
    phrase_pos(s, phrase, true).is_some()
}

fn match_prefix(s: &str, prefix: &str) -> bool {
    if prefix.is_empty() {
        return !s.is_empty();
    }
    phrase_pos(s, prefix, false).is_some()
}

/// A record value as a number, for comparisons: plain decimal notation only, so words
/// such as `inf` or `NaN` in a message do not compare as numbers.
fn parse_record_number(s: &str) -> Option<f64> {
    let first = s.chars().next()?;
    if !(first.is_ascii_digit() || matches!(first, '-' | '+' | '.')) {
        return None;
    }
    if s.bytes()
        .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E')
    {
        return None;
    }
    s.parse().ok()
}

fn within<T: PartialOrd + ?Sized>(v: &T, lower: Bound<&T>, upper: Bound<&T>) -> bool {
    let above = match lower {
        Bound::Included(l) => v >= l,
        Bound::Excluded(l) => v > l,
        Bound::Unbounded => true,
    };
    let below = match upper {
        Bound::Included(u) => v <= u,
        Bound::Excluded(u) => v < u,
        Bound::Unbounded => true,
    };
    above && below
}
