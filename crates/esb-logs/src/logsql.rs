//! LogsQL, the query language of VictoriaLogs: the subset people type every day, with
//! VictoriaLogs' semantics (<https://docs.victoriametrics.com/victorialogs/logsql/>), so
//! a query that works here works unchanged against a real VictoriaLogs and vice versa.
//!
//! # Supported LogsQL
//!
//! Filters. A filter without `field:` in front applies to the message (`_msg`); a field a
//! record lacks counts as an empty value. Field names and values may be quoted (`"…"` with
//! Go escapes such as `\"` and `\n`, `'…'`, or raw `` `…` ``), e.g. `"ip:remote":"1.2.3.4"`.
//!
//! - `*`: every record.
//! - Word: `error` matches when `error` appears as a whole word. Words are runs of
//!   letters, digits and `_`; anything else separates them. Case-sensitive.
//! - Phrase: `"connection refused"` matches the phrase with word boundaries at its ends.
//! - Prefix: `err*` (a word starting with `err`), `"unexpected fail"*` (a phrase prefix).
//! - Substring: `*ampl*` (anywhere, even inside a word).
//! - Case-insensitive: `i(error)`, `i("some phrase")`, `i(err*)`.
//! - Exact value: `=value`, `field:="some value"`; exact prefix `field:="err"*`;
//!   `exact(value)` and `exact(prefix*)`; `!=value` negates.
//! - One of several exact values: `field:in(error, "fatal error")`.
//! - Regular expression: `~"err|warn"`, `field:~"re"`, `re("re")`; `!~"re"` negates. RE2
//!   syntax (Rust `regex` crate), unanchored, case-sensitive unless `(?i)`.
//! - Empty or missing field: `field:""`. Any non-empty value: `field:*`.
//! - Comparison: `field:>N`, `>=`, `<`, `<=`. `N` is a number (`1.5`, `1_000`, `0xff`,
//!   `10KiB`, `2MB`, `5m` as nanoseconds); anything else compares as a string, byte by byte.
//! - A field in front of parentheses applies to every filter inside: `level:(error OR warn)`.
//! - Time, on `_time`:
//!   - `_time:5m`: the last 5 minutes, `[now-5m, now)`. Units: `ns`, `µs`, `ms`, `s`, `m`,
//!     `h`, `d`, `w`, `y` (365 days), fractions and sums allowed (`1.5h`, `1h30m`).
//!   - `_time:>5m` (older than 5 minutes), `_time:>=5m`, `_time:<5m`, `_time:<=5m`.
//!   - A whole period: `_time:2024Z`, `2024-01Z`, `2024-01-15Z`, `2024-01-15T10Z`,
//!     `2024-01-15T10:30Z`, `2024-01-15T10:30:15Z`.
//!   - `_time:>T`, `>=T`, `<T`, `<=T` for a time `T` (`<=` includes `T`'s whole period).
//!   - `_time:[T1, T2]`, `[T1, T2)`, `(T1, T2]`, `(T1, T2)`: `[`/`]` include the bound
//!     (a closing `]` includes `T2`'s whole period, so `[2024-01-01Z, 2024-01-31Z]` is all
//!     of January), `(`/`)` exclude it.
//!   - Times `T`: RFC 3339 (`2024-01-15T10:30:15.123Z`) or any of the period forms above,
//!     with `Z` or a `+hh:mm`/`-hh:mm` offset; `now`; `now-1h`; Unix timestamps in seconds,
//!     milliseconds, microseconds or nanoseconds (told apart by size, `1700000000.5`).
//!   - A trailing `offset 1h` shifts any of these into the past: `_time:5m offset 1h`.
//! - Stream: `_stream:{function="echo"}` or just `{function="echo",job="esb"}`. Label
//!   matchers `=`, `!=`, `=~"re"`, `!~"re"` (regexes anchored, as in Prometheus),
//!   `in ("a", "b")`, `not_in ("a")`; `,` means AND, `or` separates alternatives.
//!
//! Logic: whitespace or `AND` between filters means AND; `OR`; `NOT`, `!` or `-` in front
//! of a filter negates it (`!` before `=` and `~`, as in `!=x`); parentheses group.
//! `NOT` binds tighter than `AND`, which binds tighter than `OR`, so
//! `error -buggy OR foo` is `(error AND NOT buggy) OR foo`. Keywords are case-insensitive;
//! quote a word that is a keyword to search for it (`"and"`, `"in"`). Unquoted words may
//! contain `-`, `.`, `/`, `+` and `$` when no space separates them (`foo-bar`, `a.b/c`),
//! and `:` after `field:` (`addr:127.0.0.1:80`); before it, the first `:` ends the field
//! name, so quote such a value when searching `_msg` (`"127.0.0.1:80"`).
//!
//! Pipes after the filters:
//!
//! - `| limit N`, `| head N` (`N` defaults to 10).
//! - `| sort by (field)`, `| sort by (field desc)`, `| sort by (field) desc`, optionally
//!   ending in `limit N`; `order` is an alias of `sort`, and `by` may be left out.
//!   One field, one `sort` pipe per query.
//!
//! Also: `#` starts a comment that runs to the end of the line; a query may end in `;`.
//!
//! Rejected with an error naming what is not supported: the other filter functions
//! (`seq()`, `range()`, `contains_any()`, `len_range()`, …), `_stream_id`,
//! `_time:day_range`/`week_range`, `*:` and `foo*:` (filters on any field or on fields by
//! prefix), `options(…)`, subqueries, `offset`/`partition by`/`rank` in `sort`, and every
//! other pipe (`stats`, `fields`, …).
//!
//! Differences from VictoriaLogs: a time without `Z` or an offset is UTC here (VictoriaLogs
//! uses the server's local time zone). Limits against hostile queries: 64 KiB of query
//! text, filters nested 100 deep, 32 regular expressions of at most 1 MiB compiled each.

use std::borrow::Cow;
use std::ops::Bound;

use regex::{Regex, RegexBuilder};

use crate::Record;

/// Longest query accepted: long enough for any hand-written or generated query, short
/// enough that parsing and matching stay cheap.
pub const MAX_QUERY_LEN: usize = 64 * 1024;
/// Deepest nesting of filters (parentheses, `NOT`, `field:`): recursion stays far from
/// the stack's end on any thread.
pub const MAX_DEPTH: usize = 100;
/// Most regular expressions in one query, so that a 64 KiB query cannot ask for
/// thousands of large compiled automata.
pub const MAX_REGEXES: usize = 32;
/// Largest compiled regular expression (and lazy DFA cache) each, in bytes.
pub const MAX_REGEX_SIZE: usize = 1 << 20;

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

/// Why a query was rejected. Positions are byte offsets into the query, from 0.
#[derive(Debug, thiserror::Error)]
pub enum LogsqlError {
    #[error("the query is {len} bytes long; at most {max} bytes are allowed")]
    TooLong { len: usize, max: usize },
    #[error("at position {pos}: expected {expected}, found {found}")]
    Syntax {
        pos: usize,
        expected: String,
        found: String,
    },
    #[error("at position {pos}: unterminated string literal (missing closing {quote})")]
    UnterminatedString { pos: usize, quote: char },
    #[error("at position {pos}: invalid string literal: {reason}")]
    BadEscape { pos: usize, reason: String },
    #[error("at position {pos}: filters are nested more than {max} levels deep")]
    TooDeep { pos: usize, max: usize },
    #[error("at position {pos}: invalid regular expression {pattern:?}: {reason}")]
    BadRegex {
        pos: usize,
        pattern: String,
        reason: String,
    },
    #[error("at position {pos}: a query may contain at most {max} regular expressions")]
    TooManyRegexes { pos: usize, max: usize },
    #[error("at position {pos}: invalid time {value:?}: {reason}")]
    BadTime {
        pos: usize,
        value: String,
        reason: String,
    },
    #[error(
        "at position {pos}: invalid duration {value:?}; expected a number and a unit, \
         such as 5m, 1h30m or 1.5d (units: ns, µs, ms, s, m, h, d, w, y)"
    )]
    BadDuration { pos: usize, value: String },
    #[error("at position {pos}: invalid number {value:?}; expected {expected}")]
    BadNumber {
        pos: usize,
        value: String,
        expected: &'static str,
    },
    #[error(
        "at position {pos}: the `{name}` pipe is not supported; supported pipes: \
         limit (head), sort (order)"
    )]
    UnsupportedPipe { pos: usize, name: String },
    #[error("at position {pos}: {what} is not supported")]
    Unsupported { pos: usize, what: String },
}

type Result<T> = std::result::Result<T, LogsqlError>;

/// Parses `query`. `now_ns`: the query's "now" (relative `_time` filters resolve against it).
pub fn parse(query: &str, now_ns: i64) -> Result<Query> {
    if query.len() > MAX_QUERY_LEN {
        return Err(LogsqlError::TooLong {
            len: query.len(),
            max: MAX_QUERY_LEN,
        });
    }
    let toks = lex(query)?;
    let mut p = Parser {
        src: query,
        toks,
        i: 0,
        now: now_ns,
        depth: 0,
        regexes: 0,
    };
    p.parse_query()
}

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

    /// The `_time` range the filter implies (for the store to use its time index):
    /// (start inclusive, end exclusive), None = unbounded. Correct for AND (intersection),
    /// OR (the bounds of the union) and NOT (unbounded: a negation can match any time).
    pub fn time_bounds(&self) -> (Option<i64>, Option<i64>) {
        match self {
            Filter::Time { start, end } => (*start, *end),
            Filter::And(fs) => {
                let mut bounds = (None, None);
                for f in fs {
                    let (s, e) = f.time_bounds();
                    bounds.0 = max_opt(bounds.0, s);
                    bounds.1 = min_opt(bounds.1, e);
                }
                bounds
            }
            Filter::Or(fs) => {
                let mut iter = fs.iter().map(Filter::time_bounds);
                let Some(mut bounds) = iter.next() else {
                    return (None, None);
                };
                for (s, e) in iter {
                    bounds.0 = bounds.0.zip(s).map(|(a, b)| a.min(b));
                    bounds.1 = bounds.1.zip(e).map(|(a, b)| a.max(b));
                }
                bounds
            }
            _ => (None, None),
        }
    }

    /// Stream label equalities every match must have (for the store to narrow by stream):
    /// from `_stream:{a="b"}` in a top-level AND only (a selector with `or`, or under
    /// `OR`/`NOT`, promises nothing). Sorted, without duplicates, empty values left out
    /// (`{a=""}` also matches streams without `a`).
    pub fn required_stream(&self) -> Vec<(String, String)> {
        let parts = match self {
            Filter::And(fs) => fs.as_slice(),
            other => std::slice::from_ref(other),
        };
        let mut out = Vec::new();
        for part in parts {
            if let Filter::Stream(sel) = part
                && let [group] = sel.any_of.as_slice()
            {
                for m in group {
                    if let LabelOp::Eq(v) = &m.op
                        && !v.is_empty()
                    {
                        out.push((m.label.clone(), v.clone()));
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Words a record must contain for the filter to match, for a word index to narrow
    /// the records down before [`Filter::matches`] decides (`None`: no word is required,
    /// every record is a candidate). Only what every match must have: the whole words of
    /// phrases, exact values and prefixes in AND (an `OR` requires something only if all
    /// its branches do; `NOT`, regexes, comparisons, `_time` and `_stream` require
    /// nothing). A word's case is as written; see [`Required::Word`].
    pub fn required_words(&self) -> Option<Required> {
        match self {
            Filter::And(fs) => Required::all(fs.iter().filter_map(Filter::required_words)),
            Filter::Or(fs) => Required::any(fs.iter().map(Filter::required_words)),
            // Each word of a phrase is whole in the value: word boundaries are checked
            // at both ends of the phrase, and inside it the words are delimited already.
            Filter::Phrase { field, phrase } | Filter::AnyCasePhrase { field, phrase } => {
                words_required(field, phrase, true, true)
            }
            Filter::Exact { field, value } => words_required(field, value, true, true),
            // The last word of a prefix may go on in the value.
            Filter::Prefix { field, prefix } | Filter::AnyCasePrefix { field, prefix } => {
                words_required(field, prefix, true, false)
            }
            Filter::ExactPrefix { field, prefix } => words_required(field, prefix, true, false),
            // A substring may start and end inside words.
            Filter::Substring { field, substring } => {
                words_required(field, substring, false, false)
            }
            Filter::In { field, values } => {
                Required::any(values.iter().map(|v| words_required(field, v, true, true)))
            }
            _ => None,
        }
    }

    /// Whether matching may read a field other than `_msg`, `_time` and `_stream` (a
    /// stream label or a field): if not, [`Filter::matches`] gives the same answer on a
    /// record whose `fields` are left empty.
    pub fn reads_fields(&self) -> bool {
        match self {
            Filter::All | Filter::Time { .. } | Filter::Stream(_) => false,
            Filter::And(fs) | Filter::Or(fs) => fs.iter().any(Filter::reads_fields),
            Filter::Not(f) => f.reads_fields(),
            Filter::Phrase { field, .. }
            | Filter::Prefix { field, .. }
            | Filter::AnyCasePhrase { field, .. }
            | Filter::AnyCasePrefix { field, .. }
            | Filter::Substring { field, .. }
            | Filter::Exact { field, .. }
            | Filter::ExactPrefix { field, .. }
            | Filter::In { field, .. }
            | Filter::Regex { field, .. }
            | Filter::Range { field, .. }
            | Filter::StringRange { field, .. } => {
                !matches!(field.as_str(), "_msg" | "" | "_time" | "_stream")
            }
        }
    }

    /// The stream selectors every match must satisfy: the `_stream:{…}` filters of a
    /// top-level AND (for the store to pick the streams to read).
    pub fn required_stream_selectors(&self) -> Vec<&StreamSelector> {
        let parts = match self {
            Filter::And(fs) => fs.as_slice(),
            other => std::slice::from_ref(other),
        };
        parts
            .iter()
            .filter_map(|f| match f {
                Filter::Stream(sel) => Some(sel),
                _ => None,
            })
            .collect()
    }
}

/// What [`Filter::required_words`] finds: words a record must contain to match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Required {
    /// `field` (`_msg`, a stream label or a field) has the word: some word of its value,
    /// or of its lowercased value (`str::to_lowercase`), lowercases to
    /// `word.to_lowercase()`. A word is a run of letters, digits and `_`, as [`words`]
    /// splits them. (Case folded so that `i(…)` filters can use the same index.)
    Word { field: String, word: String },
    /// Every one.
    All(Vec<Required>),
    /// At least one.
    Any(Vec<Required>),
}

impl Required {
    /// Every one of `parts` (nested `All` flattened); `None` if there is none.
    fn all(parts: impl IntoIterator<Item = Required>) -> Option<Required> {
        let mut out = Vec::new();
        for p in parts {
            match p {
                Required::All(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        match out.len() {
            0 => None,
            1 => out.pop(),
            _ => Some(Required::All(out)),
        }
    }

    /// At least one of `parts`; `None` if there is none or one of them requires nothing.
    fn any(parts: impl IntoIterator<Item = Option<Required>>) -> Option<Required> {
        let mut out = Vec::new();
        for p in parts {
            match p? {
                Required::Any(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        match out.len() {
            0 => None,
            1 => out.pop(),
            _ => Some(Required::Any(out)),
        }
    }
}

/// The words of `text`, as LogsQL delimits them (runs of letters, digits and `_`), with
/// their byte offsets.
pub fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = text.char_indices().peekable();
    std::iter::from_fn(move || {
        while rest.peek().is_some_and(|&(_, c)| !is_token_char(c)) {
            rest.next();
        }
        let &(start, _) = rest.peek()?;
        let mut end = text.len();
        while let Some(&(i, c)) = rest.peek() {
            if !is_token_char(c) {
                end = i;
                break;
            }
            rest.next();
        }
        Some((start, &text[start..end]))
    })
}

/// The words of `text` that are whole words of `field`'s value whenever the value holds
/// `text` (a word at the start of `text` only if `whole_start`, at its end only if
/// `whole_end`: a substring or a prefix may begin or end inside a word).
fn words_required(field: &str, text: &str, whole_start: bool, whole_end: bool) -> Option<Required> {
    if matches!(field, "_time" | "_stream") {
        return None;
    }
    Required::all(
        words(text)
            .filter(|&(start, word)| {
                (whole_start || start > 0) && (whole_end || start + word.len() < text.len())
            })
            .map(|(_, word)| Required::Word {
                field: canon(field),
                word: word.to_string(),
            }),
    )
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

// ---------------------------------------------------------------------------------------
// Matching helpers.

/// A field's value, missing fields being empty (as VictoriaLogs treats them).
fn value<'a>(r: &'a Record, field: &str) -> Cow<'a, str> {
    r.field(field).unwrap_or(Cow::Borrowed(""))
}

/// VictoriaLogs' word characters: everything else delimits words.
fn is_token_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_token_char)
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

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) | (None, x) => x,
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) | (None, x) => x,
    }
}

// ---------------------------------------------------------------------------------------
// Lexer: VictoriaLogs' tokens. Words (runs of word characters), quoted strings, `=~`,
// `!~`, `!=`, and every other character on its own. Whether whitespace preceded a token
// matters: `err*` is a prefix filter, `err *` two filters.

#[derive(Debug)]
struct Token {
    /// The token, unquoted.
    text: String,
    /// Byte range in the query.
    start: usize,
    end: usize,
    quoted: bool,
    space_before: bool,
}

fn lex(src: &str) -> Result<Vec<Token>> {
    let mut toks = Vec::new();
    let mut i = 0;
    loop {
        let mut space_before = false;
        while let Some(c) = src[i..].chars().next() {
            if c.is_whitespace() {
                i += c.len_utf8();
            } else if c == '#' {
                i = src[i..].find('\n').map_or(src.len(), |n| i + n + 1);
            } else {
                break;
            }
            space_before = true;
        }
        let rest = &src[i..];
        let Some(c) = rest.chars().next() else {
            let end = src.len();
            toks.push(Token {
                text: String::new(),
                start: end,
                end,
                quoted: false,
                space_before,
            });
            return Ok(toks);
        };
        let (len, text, quoted) = if is_token_char(c) {
            let len = rest
                .char_indices()
                .find(|&(_, c)| !is_token_char(c))
                .map_or(rest.len(), |(n, _)| n);
            (len, rest[..len].to_string(), false)
        } else {
            match c {
                '"' | '\'' => {
                    let len = quoted_len(rest, c as u8)
                        .ok_or(LogsqlError::UnterminatedString { pos: i, quote: c })?;
                    (len, unescape(&rest[1..len - 1], c, i)?, true)
                }
                '`' => {
                    let n = rest[1..]
                        .find('`')
                        .ok_or(LogsqlError::UnterminatedString { pos: i, quote: c })?;
                    (n + 2, rest[1..n + 1].replace('\r', ""), true)
                }
                '=' if rest.starts_with("=~") => (2, "=~".to_string(), false),
                '!' if rest.starts_with("!~") || rest.starts_with("!=") => {
                    (2, rest[..2].to_string(), false)
                }
                _ => (c.len_utf8(), c.to_string(), false),
            }
        };
        toks.push(Token {
            text,
            start: i,
            end: i + len,
            quoted,
            space_before,
        });
        i += len;
    }
}

/// Length of the quoted string at the start of `s`, quotes included; `None` if unterminated.
fn quoted_len(s: &str, quote: u8) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            c if c == quote => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Decodes Go-style escapes (`\n`, `\t`, `\\`, `\"` or `\'`, `\xHH`, `\ooo`, `\uHHHH`,
/// `\UHHHHHHHH`), as VictoriaLogs' Go parser does.
fn unescape(body: &str, quote: char, pos: usize) -> Result<String> {
    let bad = |reason: String| LogsqlError::BadEscape { pos, reason };
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let Some(e) = chars.next() else {
            return Err(bad("a lone `\\` at the end".into()));
        };
        let mut take_digits = |n: usize, radix: u32| -> Result<u32> {
            let digits: String = chars.by_ref().take(n).collect();
            if digits.chars().count() != n || !digits.chars().all(|c| c.is_digit(radix)) {
                return Err(bad(format!("`\\{e}` needs {n} digits")));
            }
            u32::from_str_radix(&digits, radix)
                .map_err(|_| bad(format!("`\\{e}{digits}` is not a valid escape")))
        };
        let simple = match e {
            'a' => Some(7),
            'b' => Some(8),
            'f' => Some(12),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(11),
            '\\' => Some(b'\\'),
            '"' | '\'' if e == quote => Some(e as u8),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        match e {
            'x' => out.push(
                u8::try_from(take_digits(2, 16)?).map_err(|_| bad("`\\x` out of range".into()))?,
            ),
            '0'..='7' => {
                let rest: String = chars.by_ref().take(2).collect();
                let v = u32::from_str_radix(&format!("{e}{rest}"), 8)
                    .ok()
                    .filter(|_| rest.len() == 2)
                    .and_then(|v| u8::try_from(v).ok())
                    .ok_or_else(|| bad(format!("`\\{e}{rest}` is not a valid octal escape")))?;
                out.push(v);
            }
            'u' | 'U' => {
                let v = take_digits(if e == 'u' { 4 } else { 8 }, 16)?;
                let ch = char::from_u32(v)
                    .ok_or_else(|| bad(format!("`\\{e}` escape {v:#x} is not a character")))?;
                let mut buf = [0; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            other => return Err(bad(format!("unknown escape `\\{other}`"))),
        }
    }
    String::from_utf8(out).map_err(|_| bad("escapes produce invalid UTF-8".into()))
}

// ---------------------------------------------------------------------------------------
// Parser: a recursive-descent port of VictoriaLogs' own (lib/logstorage/parser.go), so
// that precedence, implicit AND and the fine print of where whitespace matters agree.

/// Characters that may join words into one unquoted token (`foo-bar`, `10:30`, `a.b`).
const GLUE: [&str; 6] = ["+", "-", "/", ":", ".", "$"];

/// VictoriaLogs filter functions this module does not implement: with `(` after them they
/// are an error rather than silently a word search.
const UNSUPPORTED_FUNCS: [&str; 19] = [
    "contains_all",
    "contains_any",
    "contains_common_case",
    "eq_field",
    "equals_common_case",
    "ipv4_range",
    "ipv6_range",
    "json_array_contains_any",
    "le_field",
    "len_range",
    "lt_field",
    "pattern_match",
    "pattern_match_full",
    "pattern_match_prefix",
    "pattern_match_suffix",
    "range",
    "seq",
    "string_range",
    "value_type",
];

struct Parser<'q> {
    src: &'q str,
    /// Always ends with the end-of-query token (empty, unquoted).
    toks: Vec<Token>,
    i: usize,
    now: i64,
    depth: usize,
    regexes: usize,
}

impl Parser<'_> {
    fn cur(&self) -> &Token {
        &self.toks[self.i.min(self.toks.len() - 1)]
    }

    fn peek(&self, n: usize) -> &Token {
        &self.toks[(self.i + n).min(self.toks.len() - 1)]
    }

    fn pos(&self) -> usize {
        self.cur().start
    }

    fn advance(&mut self) {
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
    }

    fn raw(&self, t: &Token) -> &str {
        &self.src[t.start..t.end]
    }

    fn tok_is(t: &Token, kw: &str) -> bool {
        !t.quoted && t.text.eq_ignore_ascii_case(kw)
    }

    fn is(&self, kw: &str) -> bool {
        Self::tok_is(self.cur(), kw)
    }

    fn is_eof(&self) -> bool {
        self.is("")
    }

    /// Tokens that end a filter expression.
    fn is_trailer(&self) -> bool {
        self.is("|") || self.is(")") || self.is(";") || self.is_eof()
    }

    fn describe(&self, t: &Token) -> String {
        if Self::tok_is(t, "") {
            "end of query".to_string()
        } else {
            format!("`{}`", truncate(self.raw(t), 40))
        }
    }

    fn syntax(&self, expected: impl Into<String>) -> LogsqlError {
        LogsqlError::Syntax {
            pos: self.pos(),
            expected: expected.into(),
            found: self.describe(self.cur()),
        }
    }

    fn expect(&mut self, kw: &str, expected: &str) -> Result<()> {
        if !self.is(kw) {
            return Err(self.syntax(expected));
        }
        self.advance();
        Ok(())
    }

    fn unsupported(&self, pos: usize, what: impl Into<String>) -> LogsqlError {
        LogsqlError::Unsupported {
            pos,
            what: what.into(),
        }
    }

    fn compound_ok(t: &Token, stop: &[&str]) -> bool {
        !t.quoted
            && !t.text.is_empty()
            && !stop.iter().any(|s| t.text.eq_ignore_ascii_case(s))
            && (GLUE.contains(&t.text.as_str()) || is_word(&t.text))
    }

    /// A quoted string, or words and glue characters with no whitespace between them.
    fn compound(&mut self, stop: &[&str]) -> Result<String> {
        if self.cur().quoted {
            let s = self.cur().text.clone();
            self.advance();
            return Ok(s);
        }
        if !Self::compound_ok(self.cur(), stop) {
            return Err(self.syntax("a word or a quoted string"));
        }
        let pos = self.pos();
        let mut s = self.cur().text.clone();
        self.advance();
        while !self.cur().space_before && Self::compound_ok(self.cur(), stop) {
            s.push_str(&self.cur().text);
            self.advance();
        }
        if GLUE.contains(&s.as_str()) {
            return Err(LogsqlError::Syntax {
                pos,
                expected: "a word or a quoted string".into(),
                found: format!("a lone `{s}` (quote it to search for it)"),
            });
        }
        Ok(s)
    }

    fn parse_query(&mut self) -> Result<Query> {
        if self.is("options") && Self::tok_is(self.peek(1), "(") {
            return Err(self.unsupported(self.pos(), "`options(...)`"));
        }
        if self.is_trailer() {
            return Err(self.syntax("a filter (`*` selects every record)"));
        }
        let filter = simplify(self.parse_or("")?);
        let mut limit: Option<usize> = None;
        let mut sort: Option<Sort> = None;
        while self.is("|") {
            self.advance();
            let pos = self.pos();
            let name = self.cur().text.to_lowercase();
            match name.as_str() {
                _ if self.cur().quoted => {
                    return Err(LogsqlError::UnsupportedPipe {
                        pos,
                        name: self.cur().text.clone(),
                    });
                }
                "limit" | "head" => {
                    self.advance();
                    let n = if self.is_trailer() {
                        10
                    } else {
                        self.parse_count()?
                    };
                    limit = Some(limit.map_or(n, |l| l.min(n)));
                }
                "sort" | "order" => {
                    if sort.is_some() {
                        return Err(self.unsupported(pos, "more than one `sort` pipe"));
                    }
                    let (s, n) = self.parse_sort()?;
                    sort = Some(s);
                    if let Some(n) = n {
                        limit = Some(limit.map_or(n, |l| l.min(n)));
                    }
                }
                "" => return Err(self.syntax("a pipe after `|`")),
                _ => return Err(LogsqlError::UnsupportedPipe { pos, name }),
            }
        }
        if self.is(";") {
            self.advance();
        }
        if !self.is_eof() {
            return Err(self.syntax("end of query, or `|` before a pipe"));
        }
        Ok(Query {
            filter,
            limit,
            sort,
        })
    }

    /// `sort [by] (field [desc], …) [desc] [limit N]`, after the pipe's name.
    fn parse_sort(&mut self) -> Result<(Sort, Option<usize>)> {
        let pipe_pos = self.pos();
        self.advance();
        if self.is("by") {
            self.advance();
        }
        self.expect("(", "`(` and the field to sort by")?;
        let mut fields = Vec::new();
        while !self.is(")") {
            let field = self.compound(&[])?;
            let mut desc = false;
            if self.is("desc") {
                desc = true;
                self.advance();
            } else if self.is("asc") {
                self.advance();
            }
            fields.push(Sort {
                field: canon(&field),
                desc,
            });
            if self.is(",") {
                self.advance();
            } else if !self.is(")") {
                return Err(self.syntax("`,` or `)`"));
            }
        }
        self.advance();
        let mut sort = match fields.len() {
            0 => return Err(self.unsupported(pipe_pos, "`sort` without a field")),
            1 => fields.swap_remove(0),
            _ => return Err(self.unsupported(pipe_pos, "sorting by more than one field")),
        };
        if self.is("desc") {
            sort.desc = !sort.desc;
            self.advance();
        } else if self.is("asc") {
            self.advance();
        }
        let mut limit = None;
        loop {
            if self.is("limit") {
                self.advance();
                limit = Some(self.parse_count()?);
            } else if self.is("offset") || self.is("partition") || self.is("rank") {
                let what = format!("`{}` in the `sort` pipe", self.cur().text);
                return Err(self.unsupported(self.pos(), what));
            } else {
                return Ok((sort, limit));
            }
        }
    }

    fn parse_count(&mut self) -> Result<usize> {
        let pos = self.pos();
        let s = self.compound(&[])?;
        match parse_number(&s) {
            Some(n) if n.is_finite() && n >= 0.0 && n.fract() == 0.0 => Ok(n as usize),
            _ => Err(LogsqlError::BadNumber {
                pos,
                value: s,
                expected: "a non-negative whole number",
            }),
        }
    }

    fn parse_or(&mut self, field: &str) -> Result<Filter> {
        let mut fs = Vec::new();
        loop {
            fs.push(self.parse_and(field)?);
            if self.is_trailer() {
                return Ok(if fs.len() == 1 {
                    fs.swap_remove(0)
                } else {
                    Filter::Or(fs)
                });
            }
            // parse_and stops only before `or` or a trailer.
            self.advance();
        }
    }

    fn parse_and(&mut self, field: &str) -> Result<Filter> {
        let mut fs = Vec::new();
        loop {
            fs.push(self.parse_generic(field)?);
            if self.is("or") || self.is_trailer() {
                return Ok(if fs.len() == 1 {
                    fs.swap_remove(0)
                } else {
                    Filter::And(fs)
                });
            }
            if self.is("and") {
                self.advance();
            }
        }
    }

    fn parse_generic(&mut self, field: &str) -> Result<Filter> {
        self.depth += 1;
        let out = if self.depth > MAX_DEPTH {
            Err(LogsqlError::TooDeep {
                pos: self.pos(),
                max: MAX_DEPTH,
            })
        } else {
            self.parse_generic_inner(field)
        };
        self.depth -= 1;
        out
    }

    fn parse_generic_inner(&mut self, field: &str) -> Result<Filter> {
        if self.is_eof() {
            return Err(self.syntax("a filter"));
        }
        self.check_prev_adjacent()?;
        if self.cur().quoted {
            return self.parse_phrase(field);
        }
        let followed_by_paren = Self::tok_is(self.peek(1), "(");
        let text = self.cur().text.to_lowercase();
        match text.as_str() {
            "{" => self.parse_stream(field),
            "*" => self.parse_star(field),
            "(" => {
                self.advance();
                let f = self.parse_or(field)?;
                self.expect(")", "`)`")?;
                Ok(f)
            }
            ">" | "<" => self.parse_compare(field),
            "=" => self.parse_exact_op(field),
            "!=" => Ok(negate(self.parse_exact_op(field)?)),
            "~" => self.parse_regex_op(field),
            "!~" => Ok(negate(self.parse_regex_op(field)?)),
            "not" | "!" | "-" => {
                self.advance();
                Ok(negate(self.parse_generic(field)?))
            }
            "i" | "exact" if followed_by_paren => self.parse_func_maybe_prefix(field, &text),
            "re" if followed_by_paren => self.parse_re(field),
            "in" => self.parse_in(field),
            "_time" if field.is_empty() && Self::tok_is(self.peek(1), ":") => {
                self.advance();
                self.advance();
                self.parse_time()
            }
            "_stream" if field.is_empty() && Self::tok_is(self.peek(1), ":") => {
                self.advance();
                self.advance();
                self.parse_stream("_stream")
            }
            "_stream_id" if field.is_empty() && Self::tok_is(self.peek(1), ":") => {
                Err(self.unsupported(self.pos(), "the `_stream_id` filter"))
            }
            "and" | "or" => Err(self.syntax(format!(
                "a filter (quote `\"{text}\"` to search for the word)"
            ))),
            name if followed_by_paren && UNSUPPORTED_FUNCS.contains(&name) => {
                Err(self.unsupported(self.pos(), format!("the `{name}()` filter")))
            }
            _ => self.parse_phrase(field),
        }
    }

    /// A filter glued to the previous token (`foo"bar"`, `a)b`) is a typo, not an AND.
    fn check_prev_adjacent(&self) -> Result<()> {
        let t = self.cur();
        if t.space_before || self.i == 0 {
            return Ok(());
        }
        let prev = self.raw(&self.toks[self.i - 1]).to_lowercase();
        let ok = matches!(prev.as_str(), "|" | ":" | "(" | "!" | "-")
            || (self.is("(") && matches!(prev.as_str(), "not" | "and" | "or"));
        if ok {
            return Ok(());
        }
        Err(LogsqlError::Syntax {
            pos: t.start,
            expected: format!(
                "whitespace or `:` between `{}` and `{}`",
                truncate(&prev, 40),
                truncate(self.raw(t), 40)
            ),
            found: "none (quote the whole string if it is one value)".into(),
        })
    }

    /// A word or phrase, a prefix (`foo*`), or `field:` and the filter after it.
    fn parse_phrase(&mut self, field: &str) -> Result<Filter> {
        let stop: &[&str] = if field.is_empty() { &[":"] } else { &[] };
        let pos = self.pos();
        let phrase = self.compound(stop)?;
        if !self.cur().space_before && self.is("*") {
            self.advance();
            if field.is_empty() && self.is(":") {
                return Err(self.unsupported(pos, "filtering on fields by name prefix (`foo*:`)"));
            }
            return Ok(prefix_filter(field, phrase));
        }
        if field.is_empty() && self.is(":") {
            self.advance();
            return match phrase.as_str() {
                "_time" => self.parse_time(),
                "_stream" => self.parse_stream("_stream"),
                "_stream_id" => Err(self.unsupported(pos, "the `_stream_id` filter")),
                _ => self.parse_generic(&canon(&phrase)),
            };
        }
        Ok(Filter::Phrase {
            field: canon(field),
            phrase,
        })
    }

    /// `*`, `field:*`, or `*substring*`.
    fn parse_star(&mut self, field: &str) -> Result<Filter> {
        let pos = self.pos();
        self.advance();
        if field.is_empty() && self.is(":") {
            return Err(self.unsupported(pos, "filtering on any field (`*:`)"));
        }
        if self.cur().space_before || self.is_trailer() {
            return Ok(prefix_filter(field, String::new()));
        }
        let substring = self.compound(&[])?;
        if self.cur().space_before || !self.is("*") {
            return Err(self.syntax("`*` closing the `*substring*` filter"));
        }
        self.advance();
        if !self.cur().space_before && !self.is_trailer() {
            return Err(self.syntax("whitespace after the `*substring*` filter"));
        }
        Ok(Filter::Substring {
            field: canon(field),
            substring,
        })
    }

    /// `:` must separate a field from an operator; `foo = bar` is not `foo:=bar`.
    fn require_colon(&self, field: &str, op: &str) -> Result<()> {
        if self.cur().space_before && field.is_empty() {
            return Err(self.syntax(format!(
                "a value right after `{op}` (write `field:{op}value`)"
            )));
        }
        Ok(())
    }

    fn parse_compare(&mut self, field: &str) -> Result<Filter> {
        let greater = self.is(">");
        self.advance();
        let mut inclusive = false;
        if !self.cur().space_before && self.is("=") {
            inclusive = true;
            self.advance();
        }
        let op = match (greater, inclusive) {
            (true, false) => ">",
            (true, true) => ">=",
            (false, false) => "<",
            (false, true) => "<=",
        };
        self.require_colon(field, op)?;
        let arg = self.compound(&[])?;
        let field = canon(field);
        if let Some(n) = parse_number(&arg) {
            let b = if inclusive {
                Bound::Included(n)
            } else {
                Bound::Excluded(n)
            };
            let (lower, upper) = if greater {
                (b, Bound::Unbounded)
            } else {
                (Bound::Unbounded, b)
            };
            return Ok(Filter::Range {
                field,
                lower,
                upper,
            });
        }
        let b = if inclusive {
            Bound::Included(arg)
        } else {
            Bound::Excluded(arg)
        };
        let (lower, upper) = if greater {
            (b, Bound::Unbounded)
        } else {
            (Bound::Unbounded, b)
        };
        Ok(Filter::StringRange {
            field,
            lower,
            upper,
        })
    }

    fn parse_exact_op(&mut self, field: &str) -> Result<Filter> {
        let op = if self.is("=") { "=" } else { "!=" };
        self.advance();
        self.require_colon(field, op)?;
        let v = self.compound(&[])?;
        if !self.cur().space_before && self.is("*") {
            self.advance();
            return Ok(Filter::ExactPrefix {
                field: canon(field),
                prefix: v,
            });
        }
        Ok(Filter::Exact {
            field: canon(field),
            value: v,
        })
    }

    fn parse_regex_op(&mut self, field: &str) -> Result<Filter> {
        let op = if self.is("~") { "~" } else { "!~" };
        self.advance();
        if self.is("-") {
            return Err(self.syntax("a regular expression (put one starting with `-` in quotes)"));
        }
        self.require_colon(field, op)?;
        let pos = self.pos();
        let pattern = self.compound(&[])?;
        self.regex_filter(field, pattern, pos)
    }

    fn regex_filter(&mut self, field: &str, pattern: String, pos: usize) -> Result<Filter> {
        // As VictoriaLogs does for the regexps Grafana generates.
        match pattern.as_str() {
            "" | ".*" => return Ok(Filter::All),
            ".+" => return Ok(prefix_filter(field, String::new())),
            _ => {}
        }
        let regex = self.compile(&pattern, pos)?;
        Ok(Filter::Regex {
            field: canon(field),
            regex,
        })
    }

    fn compile(&mut self, pattern: &str, pos: usize) -> Result<Regex> {
        self.regexes += 1;
        if self.regexes > MAX_REGEXES {
            return Err(LogsqlError::TooManyRegexes {
                pos,
                max: MAX_REGEXES,
            });
        }
        RegexBuilder::new(pattern)
            .size_limit(MAX_REGEX_SIZE)
            .dfa_size_limit(MAX_REGEX_SIZE)
            .build()
            .map_err(|e| LogsqlError::BadRegex {
                pos,
                pattern: truncate(pattern, 100),
                reason: truncate(&e.to_string(), 300),
            })
    }

    /// `i(…)` and `exact(…)`: a word or phrase, optionally followed by `*`.
    fn parse_func_maybe_prefix(&mut self, field: &str, name: &str) -> Result<Filter> {
        self.advance();
        self.advance();
        let (arg, wildcard) = if self.is("*") {
            self.advance();
            (String::new(), true)
        } else {
            let arg = self.compound(&[])?;
            let wildcard = !self.cur().space_before && self.is("*");
            if wildcard {
                self.advance();
            }
            (arg, wildcard)
        };
        self.expect(")", &format!("`)` closing `{name}(`"))?;
        let field = canon(field);
        Ok(match (name, wildcard) {
            ("i", false) => Filter::AnyCasePhrase {
                field,
                phrase: arg.to_lowercase(),
            },
            ("i", true) => Filter::AnyCasePrefix {
                field,
                prefix: arg.to_lowercase(),
            },
            (_, false) => Filter::Exact { field, value: arg },
            (_, true) => Filter::ExactPrefix { field, prefix: arg },
        })
    }

    fn parse_re(&mut self, field: &str) -> Result<Filter> {
        self.advance();
        let args = self.parse_args("re")?;
        let [(pos, pattern)] = <[(usize, String); 1]>::try_from(args)
            .map_err(|_| self.unsupported(self.pos(), "`re()` with other than one argument"))?;
        if pattern == "*" {
            return Err(self.unsupported(pos, "`re(*)`"));
        }
        self.regex_filter(field, pattern, pos)
    }

    fn parse_in(&mut self, field: &str) -> Result<Filter> {
        self.advance();
        if !self.is("(") {
            return Err(self.syntax("`(` after `in` (quote `\"in\"` to search for the word)"));
        }
        let args = self.parse_args("in")?;
        if args.iter().any(|(_, a)| a == "*") {
            return Ok(Filter::All);
        }
        Ok(Filter::In {
            field: canon(field),
            values: args.into_iter().map(|(_, a)| a).collect(),
        })
    }

    /// `(a, "b", …)`: each a word, a quoted string or `*` (returned as `"*"`).
    fn parse_args(&mut self, name: &str) -> Result<Vec<(usize, String)>> {
        self.expect("(", &format!("`(` after `{name}`"))?;
        let mut args = Vec::new();
        while !self.is(")") {
            let pos = self.pos();
            if self.is("*") {
                self.advance();
                args.push((pos, "*".to_string()));
            } else {
                let arg = self.compound(&[]).map_err(|_| {
                    self.syntax(format!(
                        "a value in `{name}(...)` (subqueries are not supported)"
                    ))
                })?;
                args.push((pos, arg));
            }
            if self.is(",") {
                self.advance();
            } else if !self.is(")") {
                return Err(self.syntax(format!(
                    "`,` or `)` in `{name}(...)`{}",
                    if name == "in" {
                        " (subqueries are not supported)"
                    } else {
                        ""
                    }
                )));
            }
        }
        self.advance();
        Ok(args)
    }

    /// `{label="value", …}`, after `_stream:` if any.
    fn parse_stream(&mut self, field: &str) -> Result<Filter> {
        if !field.is_empty() && field != "_stream" {
            return Err(self.syntax(format!(
                "a filter on `{field}` (a `{{...}}` stream filter applies only to `_stream`)"
            )));
        }
        self.expect(
            "{",
            "`{` starting a stream filter such as `{function=\"echo\"}`",
        )?;
        let mut any_of = Vec::new();
        loop {
            let mut group = Vec::new();
            while !self.is("}") && !self.is("or") {
                group.push(self.parse_label_matcher()?);
                if self.is(",") {
                    self.advance();
                } else if !self.is("}") && !self.is("or") {
                    return Err(self.syntax("`,`, `or` or `}` in the stream filter"));
                }
            }
            any_of.push(group);
            if self.is("}") {
                self.advance();
                return Ok(Filter::Stream(StreamSelector { any_of }));
            }
            self.advance();
            if self.is("}") {
                return Err(self.syntax("a label matcher after `or`"));
            }
        }
    }

    fn parse_label_matcher(&mut self) -> Result<LabelMatcher> {
        let label = self
            .compound(&[])
            .map_err(|_| self.syntax("a label name in the stream filter"))?;
        let op = self.cur().text.to_lowercase();
        if self.cur().quoted || !matches!(op.as_str(), "=" | "!=" | "=~" | "!~" | "in" | "not_in") {
            return Err(self.syntax(format!(
                "`=`, `!=`, `=~`, `!~`, `in` or `not_in` after `{}`",
                truncate(&label, 40)
            )));
        }
        self.advance();
        let op = match op.as_str() {
            "in" | "not_in" => {
                let values: Vec<String> =
                    self.parse_args(&op)?.into_iter().map(|(_, v)| v).collect();
                if op == "in" {
                    LabelOp::In(values)
                } else {
                    LabelOp::NotIn(values)
                }
            }
            _ => {
                let pos = self.pos();
                let v = self.compound(&[])?;
                match op.as_str() {
                    "=" => LabelOp::Eq(v),
                    "!=" => LabelOp::Ne(v),
                    "=~" => LabelOp::Re(self.compile(&format!("^(?:{v})$"), pos)?),
                    _ => LabelOp::NotRe(self.compile(&format!("^(?:{v})$"), pos)?),
                }
            }
        };
        Ok(LabelMatcher { label, op })
    }

    // ----- `_time`: inclusive nanosecond bounds as VictoriaLogs computes them, turned
    // into the half-open [`Filter::Time`] at the end.

    fn parse_time(&mut self) -> Result<Filter> {
        if self.is("day_range") || self.is("week_range") {
            let what = format!("`_time:{}`", self.cur().text);
            return Err(self.unsupported(self.pos(), what));
        }
        let (mut min, mut max) = if self.is("offset") {
            (i64::MIN, self.now)
        } else {
            self.parse_time_range()?
        };
        if self.is("offset") {
            self.advance();
            let d = self.parse_duration()?;
            min = sub_ns(min, d);
            max = sub_ns(max, d);
        }
        Ok(Filter::Time {
            start: (min != i64::MIN).then_some(min),
            end: (max != i64::MAX).then(|| max + 1),
        })
    }

    fn is_likely_timestamp(&self) -> bool {
        self.is("now") || starts_with_year(&self.cur().text)
    }

    fn parse_time_range(&mut self) -> Result<(i64, i64)> {
        let now = self.now;
        if self.is(">") || self.is("<") {
            let greater = self.is(">");
            self.advance();
            let inclusive = self.is("=");
            if inclusive {
                self.advance();
            }
            if self.is_likely_timestamp() {
                let t = self.parse_time_value()?;
                return Ok(match (greater, inclusive) {
                    (true, false) => (t.start.saturating_add(1), i64::MAX),
                    (true, true) => (t.start, i64::MAX),
                    (false, false) => (i64::MIN, t.start.saturating_sub(1)),
                    (false, true) => (i64::MIN, t.end_incl),
                });
            }
            let d = self.parse_duration()?.saturating_abs();
            return Ok(match (greater, inclusive) {
                (true, false) => (i64::MIN, sub_ns(now, d.saturating_add(1))),
                (true, true) => (i64::MIN, sub_ns(now, d)),
                (false, false) => (sub_ns(now, d - 1), sub_ns(now, 1)),
                (false, true) => (sub_ns(now, d), sub_ns(now, 1)),
            });
        }
        if self.is("[") || self.is("(") {
            let start_inclusive = self.is("[");
            self.advance();
            let start = self.parse_time_value()?;
            self.expect(",", "`,` between the start and the end of the time range")?;
            let end = self.parse_time_value()?;
            let end_inclusive = self.is("]");
            if !end_inclusive && !self.is(")") {
                return Err(self.syntax("`]` or `)` closing the time range"));
            }
            self.advance();
            let min = if start_inclusive {
                start.start
            } else {
                start.start.saturating_add(1)
            };
            let max = if end_inclusive {
                end.end_incl
            } else {
                end.start.saturating_sub(1)
            };
            return Ok((min, max));
        }
        if self.is("=") {
            self.advance();
        }
        if self.is_likely_timestamp() {
            let t = self.parse_time_value()?;
            return Ok((t.start, t.end_incl));
        }
        let d = self.parse_duration()?.saturating_abs();
        Ok((sub_ns(now, d), sub_ns(now, 1)))
    }

    fn parse_time_value(&mut self) -> Result<TimePoint> {
        let pos = self.pos();
        let s = self.compound(&[])?;
        parse_time_text(&s, self.now).map_err(|reason| LogsqlError::BadTime {
            pos,
            value: truncate(&s, 100),
            reason,
        })
    }

    fn parse_duration(&mut self) -> Result<i64> {
        let pos = self.pos();
        let s = self.compound(&[])?;
        parse_duration(&s).ok_or_else(|| LogsqlError::BadDuration {
            pos,
            value: truncate(&s, 100),
        })
    }
}

/// The message field is `_msg`, however it was reached (no field, `_msg:`, `"":`).
fn canon(field: &str) -> String {
    if field.is_empty() {
        "_msg".to_string()
    } else {
        field.to_string()
    }
}

/// `NOT NOT x` is `x`, as in VictoriaLogs.
fn negate(f: Filter) -> Filter {
    match f {
        Filter::Not(inner) => *inner,
        other => Filter::Not(Box::new(other)),
    }
}

/// A prefix filter; the empty prefix on `_msg` (`*`) selects every record, even one with
/// an empty message, as VictoriaLogs turns it into a no-op.
fn prefix_filter(field: &str, prefix: String) -> Filter {
    let field = canon(field);
    if prefix.is_empty() && field == "_msg" {
        Filter::All
    } else {
        Filter::Prefix { field, prefix }
    }
}

/// Flattens nested ANDs and ORs and drops `*` from ANDs, so that [`Filter::required_stream`]
/// sees every top-level conjunct and `* _time:5m` keeps its time bounds.
fn simplify(f: Filter) -> Filter {
    match f {
        Filter::And(fs) => {
            let mut out = Vec::with_capacity(fs.len());
            for f in fs.into_iter().map(simplify) {
                match f {
                    Filter::All => {}
                    Filter::And(inner) => out.extend(inner),
                    other => out.push(other),
                }
            }
            match out.len() {
                0 => Filter::All,
                1 => out.swap_remove(0),
                _ => Filter::And(out),
            }
        }
        Filter::Or(fs) => {
            let mut out = Vec::with_capacity(fs.len());
            for f in fs.into_iter().map(simplify) {
                match f {
                    Filter::All => return Filter::All,
                    Filter::Or(inner) => out.extend(inner),
                    other => out.push(other),
                }
            }
            if out.len() == 1 {
                out.swap_remove(0)
            } else {
                Filter::Or(out)
            }
        }
        Filter::Not(inner) => negate(simplify(*inner)),
        other => other,
    }
}

fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// `a - b` where `i64::MIN` and `i64::MAX` stand for minus and plus infinity.
fn sub_ns(a: i64, b: i64) -> i64 {
    if (a == i64::MAX && b >= 0) || (a == i64::MIN && b <= 0) {
        return a;
    }
    a.saturating_sub(b)
}

/// A duration such as `5m`, `1h30m`, `1.5d` or `-2h`, in nanoseconds (saturating).
fn parse_duration(s: &str) -> Option<i64> {
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let num_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let num: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let (unit, unit_len) = if rest.starts_with("µs") {
            (1e3, "µs".len())
        } else if rest.starts_with("us") {
            (1e3, 2)
        } else if rest.starts_with("ms") {
            (1e6, 2)
        } else if rest.starts_with("ns") {
            (1.0, 2)
        } else {
            let unit = match rest.as_bytes().first()? {
                b's' => 1e9,
                b'm' => 60e9,
                b'h' => 3600e9,
                b'd' => 86_400e9,
                b'w' => 7.0 * 86_400e9,
                b'y' => 365.0 * 86_400e9,
                _ => return None,
            };
            (unit, 1)
        };
        rest = &rest[unit_len..];
        // `as` saturates, so absurd durations clamp instead of wrapping.
        total = total.saturating_add((num * unit) as i64);
    }
    Some(if negative { -total } else { total })
}

/// A number in a query: decimal (`_` allowed as a separator), `0x` hex, a size with a
/// `K`/`M`/`G`/`T` (powers of 1000) or `Ki`/`Mi`/`Gi`/`Ti` (powers of 1024) suffix and an
/// optional `B`, or a duration in nanoseconds.
fn parse_number(s: &str) -> Option<f64> {
    let t: String = s.chars().filter(|&c| c != '_').collect();
    if t.is_empty() {
        return None;
    }
    if let Ok(f) = t.parse::<f64>() {
        return Some(f);
    }
    let (sign, body) = match t.strip_prefix('-') {
        Some(b) => (-1.0, b),
        None => (1.0, t.strip_prefix('+').unwrap_or(&t)),
    };
    if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok().map(|n| sign * n as f64);
    }
    const SIZES: [(&str, f64); 17] = [
        ("KiB", 1024.0),
        ("MiB", 1_048_576.0),
        ("GiB", 1_073_741_824.0),
        ("TiB", 1_099_511_627_776.0),
        ("KB", 1e3),
        ("MB", 1e6),
        ("GB", 1e9),
        ("TB", 1e12),
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("K", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("B", 1.0),
    ];
    for (suffix, mult) in SIZES {
        if let Some(num) = body.strip_suffix(suffix)
            && let Ok(f) = num.parse::<f64>()
        {
            return Some(sign * f * mult);
        }
    }
    parse_duration(&t).map(|d| d as f64)
}

/// Whether a `_time` argument is a time rather than a duration (`2024…`, not `5m`).
fn starts_with_year(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 4
        && b[..4].iter().all(u8::is_ascii_digit)
        && matches!(b.get(4), None | Some(b'-' | b'+' | b'Z' | b'z'))
}

/// A time as written: when it starts, and the last nanosecond of the period it names
/// (`2024-01` runs to the end of January).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TimePoint {
    start: i64,
    end_incl: i64,
}

impl TimePoint {
    fn instant(t: i64) -> Self {
        TimePoint {
            start: t,
            end_incl: t,
        }
    }
}

const NS_PER_SEC: i64 = 1_000_000_000;

fn parse_time_text(s: &str, now: i64) -> std::result::Result<TimePoint, String> {
    if s == "now" {
        return Ok(TimePoint::instant(now));
    }
    let (body, offset_secs) = split_zone(s)?;
    let b = body.as_bytes();
    let relative = matches!((b.first(), b.last()), (Some(&f), Some(&l)) if l > b'9' || f == b'-');
    if relative || body.starts_with("now") {
        let d = body.strip_prefix("now").unwrap_or(body);
        let d = parse_duration(d)
            .ok_or_else(|| format!("{d:?} is neither a time nor a duration before now"))?;
        return Ok(TimePoint::instant(sub_ns(now, d.saturating_abs())));
    }
    if body.len() == 4 {
        return parse_calendar(body, offset_secs);
    }
    if !body.contains('-') {
        return parse_unix(body);
    }
    parse_calendar(body, offset_secs)
}

/// Splits off a `Z` or `±hh:mm` suffix: (the rest, offset east of UTC in seconds).
/// Without one the time is UTC.
fn split_zone(s: &str) -> std::result::Result<(&str, i32), String> {
    if s.len() > 6 && s.is_char_boundary(s.len() - 6) {
        let (body, tz) = s.split_at(s.len() - 6);
        let t = tz.as_bytes();
        if matches!(t[0], b'+' | b'-') && t[3] == b':' {
            let digits = |x: &str| {
                x.bytes()
                    .all(|c| c.is_ascii_digit())
                    .then(|| x.parse::<i32>().ok())
                    .flatten()
            };
            let (Some(h), Some(m)) = (digits(&tz[1..3]), digits(&tz[4..6])) else {
                return Err(format!("cannot parse the time zone offset {tz:?}"));
            };
            let secs = h * 3600 + m * 60;
            return Ok((body, if t[0] == b'+' { secs } else { -secs }));
        }
    }
    Ok((s.strip_suffix('Z').unwrap_or(s), 0))
}

/// `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, `YYYY-MM-DDThh`, `…Thh:mm`, `…Thh:mm:ss` and
/// `…Thh:mm:ss.fffffffff`, at `offset_secs` east of UTC.
fn parse_calendar(body: &str, offset_secs: i32) -> std::result::Result<TimePoint, String> {
    let bad = || {
        format!(
            "expected YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DDThh, YYYY-MM-DDThh:mm or RFC 3339, got {body:?}"
        )
    };
    let b = body.as_bytes();
    let num = |from: usize, len: usize| -> std::result::Result<u32, String> {
        let part = body.get(from..from + len).ok_or_else(bad)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        part.parse().map_err(|_| bad())
    };
    let sep = |at: usize, c: u8| {
        if b.get(at) == Some(&c) {
            Ok(())
        } else {
            Err(bad())
        }
    };
    let year = num(0, 4)? as i32;
    let (mut month, mut day, mut hour, mut minute, mut second, mut nanos) = (1, 1, 0, 0, 0, 0);
    // How long the named period is, as the step to its end.
    enum Step {
        Year,
        Month,
        Nanos(i64),
    }
    let step = match body.len() {
        4 => Step::Year,
        7 => Step::Month,
        10 => Step::Nanos(86_400 * NS_PER_SEC),
        13 => Step::Nanos(3600 * NS_PER_SEC),
        16 => Step::Nanos(60 * NS_PER_SEC),
        19 => Step::Nanos(NS_PER_SEC),
        n if n > 20 && b[19] == b'.' && n - 20 <= 9 => match n - 20 {
            3 => Step::Nanos(1_000_000),
            6 => Step::Nanos(1_000),
            _ => Step::Nanos(1),
        },
        _ => return Err(bad()),
    };
    if body.len() >= 7 {
        sep(4, b'-')?;
        month = num(5, 2)?;
    }
    if body.len() >= 10 {
        sep(7, b'-')?;
        day = num(8, 2)?;
    }
    if body.len() >= 13 {
        sep(10, b'T')?;
        hour = num(11, 2)?;
    }
    if body.len() >= 16 {
        sep(13, b':')?;
        minute = num(14, 2)?;
    }
    if body.len() >= 19 {
        sep(16, b':')?;
        second = num(17, 2)?;
    }
    if body.len() > 20 {
        let digits = body.len() - 20;
        nanos = num(20, digits)? * 10u32.pow(9 - digits as u32);
    }
    let start = nanos_at(year, month, day, hour, minute, second, nanos, offset_secs)?;
    let end_excl = match step {
        Step::Year => nanos_at(year + 1, 1, 1, 0, 0, 0, 0, offset_secs).unwrap_or(i64::MAX),
        Step::Month if month == 12 => {
            nanos_at(year + 1, 1, 1, 0, 0, 0, 0, offset_secs).unwrap_or(i64::MAX)
        }
        Step::Month => nanos_at(year, month + 1, 1, 0, 0, 0, 0, offset_secs).unwrap_or(i64::MAX),
        Step::Nanos(n) => start.saturating_add(n),
    };
    Ok(TimePoint {
        start,
        end_incl: end_excl.saturating_sub(1),
    })
}

#[allow(clippy::too_many_arguments)]
fn nanos_at(
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    offset_secs: i32,
) -> std::result::Result<i64, String> {
    let small = |v: u32| u8::try_from(v).map_err(|_| format!("{v} is out of range"));
    let month = time::Month::try_from(small(month)?).map_err(|e| e.to_string())?;
    let date =
        time::Date::from_calendar_date(year, month, small(day)?).map_err(|e| e.to_string())?;
    let clock = time::Time::from_hms_nano(small(hour)?, small(minute)?, small(second)?, nanos)
        .map_err(|e| e.to_string())?;
    let offset = time::UtcOffset::from_whole_seconds(offset_secs).map_err(|e| e.to_string())?;
    let t = time::PrimitiveDateTime::new(date, clock)
        .assume_offset(offset)
        .unix_timestamp_nanos();
    i64::try_from(t).map_err(|_| "the time is outside the years 1677-2262".to_string())
}

/// A Unix timestamp, `1700000000` or `1700000000.123`: seconds, milliseconds,
/// microseconds or nanoseconds depending on its size, as VictoriaLogs reads them.
fn parse_unix(s: &str) -> std::result::Result<TimePoint, String> {
    let bad = || format!("{s:?} is not a Unix timestamp or a date");
    let (int_part, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let n: i64 = int_part.parse().map_err(|_| bad())?;
    let (mult, max_frac) = if n.unsigned_abs() <= (i64::MAX / NS_PER_SEC) as u64 {
        (NS_PER_SEC, 9)
    } else if n.unsigned_abs() <= (i64::MAX / 1_000_000) as u64 {
        (1_000_000, 6)
    } else if n.unsigned_abs() <= (i64::MAX / 1_000) as u64 {
        (1_000, 3)
    } else {
        (1, 0)
    };
    let base = n.checked_mul(mult).ok_or_else(bad)?;
    let digits_only = !int_part.is_empty() && int_part.bytes().all(|c| c.is_ascii_digit());
    let Some(frac) = frac else {
        let unit = match int_part.len() {
            _ if !digits_only => 1,
            0..=10 => NS_PER_SEC,
            11..=13 => 1_000_000,
            14..=16 => 1_000,
            _ => 1,
        };
        return Ok(TimePoint {
            start: base,
            end_incl: base.saturating_add(unit - 1),
        });
    };
    if !frac.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let unit = match frac.len() {
        3 => 1_000_000,
        6 => 1_000,
        _ => 1,
    };
    let kept = &frac[..frac.len().min(max_frac)];
    let frac_ns = if kept.is_empty() {
        0
    } else {
        let v: i64 = kept.parse().map_err(|_| bad())?;
        v * (mult / 10i64.pow(kept.len() as u32))
    };
    let start = if int_part.starts_with('-') {
        base.checked_sub(frac_ns)
    } else {
        base.checked_add(frac_ns)
    }
    .ok_or_else(bad)?;
    Ok(TimePoint {
        start,
        end_incl: start.saturating_add(unit - 1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value};

    const NOW: i64 = 1_700_000_000 * NS_PER_SEC;
    const MIN: i64 = 60 * NS_PER_SEC;

    fn rec(msg: &str) -> Record {
        Record {
            time_ns: NOW - 1,
            msg: msg.to_string(),
            stream: Vec::new(),
            fields: Map::new(),
        }
    }

    fn with_fields(msg: &str, fields: &[(&str, Value)]) -> Record {
        let mut r = rec(msg);
        for (k, v) in fields {
            r.fields.insert((*k).to_string(), v.clone());
        }
        r
    }

    fn with_stream(msg: &str, labels: &[(&str, &str)]) -> Record {
        let mut r = rec(msg);
        r.stream = labels
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        r.stream.sort();
        r
    }

    fn at(time_ns: i64) -> Record {
        Record {
            time_ns,
            ..rec("x")
        }
    }

    fn q(query: &str) -> Query {
        parse(query, NOW).unwrap_or_else(|e| panic!("{query:?} must parse: {e}"))
    }

    fn m(query: &str, r: &Record) -> bool {
        q(query).filter.matches(r)
    }

    fn err(query: &str) -> String {
        match parse(query, NOW) {
            Ok(parsed) => panic!("{query:?} must be rejected, got {parsed:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn bounds(query: &str) -> (Option<i64>, Option<i64>) {
        q(query).filter.time_bounds()
    }

    /// Nanoseconds of an RFC 3339 time, for readable expectations.
    fn ts(s: &str) -> i64 {
        let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .expect("time");
        i64::try_from(t.unix_timestamp_nanos()).expect("in range")
    }

    #[test]
    fn word_filter_matches_whole_case_sensitive_words() {
        for msg in [
            "error",
            "an error happened",
            "error: cannot open file",
            "x(error)",
            "ошибка error",
        ] {
            assert!(m("error", &rec(msg)), "{msg}");
        }
        for msg in [
            "ERROR",
            "multiple errors occurred",
            "fooerror",
            "error_x",
            "err",
        ] {
            assert!(!m("error", &rec(msg)), "{msg}");
        }
        assert!(m("тест", &rec("foo: (bar,\"тест\")!")));
    }

    #[test]
    fn phrase_filter_needs_the_whole_phrase_at_word_boundaries() {
        let f = "\"ssh: login fail\"";
        assert!(m(f, &rec("ERROR: ssh: login fail for user \"foobar\"")));
        assert!(m(f, &rec("ssh: login fail!")));
        for msg in [
            "ssh login fail",
            "login fail: ssh error",
            "ssh: login failed",
            "SSH: login fail",
        ] {
            assert!(!m(f, &rec(msg)), "{msg}");
        }
        assert!(m("'\"foo\":\"bar\"'", &rec("x {\"foo\":\"bar\"} y")));
        assert!(m("\"and\"", &rec("this and that")));
        // Unquoted words glue with `-`, `.`, `/`, `:` into one phrase.
        assert!(m("foo-bar", &rec("x foo-bar y")));
        assert!(!m("foo-bar", &rec("x foo bar y")));
        assert!(m(
            "addr:127.0.0.1:8080",
            &with_fields("", &[("addr", "127.0.0.1:8080".into())])
        ));
        // Unquoted at the top level, the first `:` ends the field name, as in VictoriaLogs.
        assert!(
            matches!(q("127.0.0.1:8080").filter, Filter::Phrase { ref field, .. } if field == "127.0.0.1")
        );
    }

    #[test]
    fn prefix_and_substring_filters() {
        assert!(m("err*", &rec("err: foobar")));
        assert!(m("err*", &rec("cannot open file: error occurred")));
        assert!(!m("err*", &rec("Error: foobar")));
        assert!(!m("err*", &rec("fooerror")));
        assert!(m("\"unexpected fail\"*", &rec("error:unexpected failure")));
        assert!(!m("\"unexpected fail\"*", &rec("unexpectedly failed")));
        assert!(m("*ampl*", &rec("Example message")));
        assert!(!m("*ampl*", &rec("EXAMPLE")));
        assert!(m(
            "level:err*",
            &with_fields("", &[("level", "error".into())])
        ));
    }

    #[test]
    fn case_insensitive_filter() {
        for msg in [
            "unknown error happened",
            "ERROR: cannot read file",
            "An ErRoR occurred",
        ] {
            assert!(m("i(error)", &rec(msg)), "{msg}");
        }
        assert!(!m("i(error)", &rec("FooError")));
        assert!(!m("i(error)", &rec("too many Errors")));
        assert!(m("i(error*)", &rec("too many Errors")));
        assert!(m("i(\"Login FAIL\")", &rec("ssh: login fail")));
        assert!(m(
            "level:i(WARN)",
            &with_fields("", &[("level", "warn".into())])
        ));
        // Without parentheses `i` is an ordinary word.
        assert!(m("i", &rec("i am here")));
    }

    #[test]
    fn exact_filters() {
        let r = rec("fatal error: cannot find /foo/bar");
        assert!(m("=\"fatal error: cannot find /foo/bar\"", &r));
        assert!(!m("=\"fatal error\"", &r));
        assert!(m("=\"fatal error\"*", &r));
        assert!(m("exact(\"fatal error\"*)", &r));
        assert!(m("!=\"fatal error\"", &r));
        let r = with_fields("x", &[("log.level", "error".into())]);
        assert!(m("log.level:=error", &r));
        assert!(m("log.level:=\"err\"*", &r));
        assert!(m("log.level:exact(error)", &r));
        assert!(!m("log.level:=err", &r));
        assert!(m("log.level:!=warn", &r));
        assert!(m("\"log.level\":=\"error\"", &r));
        assert!(m("log.level:in(warn, error)", &r));
        assert!(!m("log.level:in(warn, \"fatal\")", &r));
        assert!(m("log.level:in(*)", &r));
    }

    #[test]
    fn field_filters_and_missing_fields() {
        let r = with_fields(
            "hello",
            &[
                ("level", "error".into()),
                ("code", 503.into()),
                ("empty", "".into()),
            ],
        );
        assert!(m("level:error", &r));
        assert!(m("level:\"error\"", &r));
        assert!(m("\"level\":error", &r));
        assert!(m("code:503", &r));
        assert!(m("_msg:hello", &r));
        assert!(m("host:\"\"", &r), "missing field is empty");
        assert!(m("empty:\"\"", &r));
        assert!(!m("level:\"\"", &r));
        assert!(m("level:*", &r));
        assert!(!m("empty:*", &r));
        assert!(!m("host:*", &r));
        assert!(m("*", &rec("")), "`*` selects even an empty message");
        assert!(m(
            "\"ip:remote\":\"1.2.3.45\"",
            &with_fields("", &[("ip:remote", "1.2.3.45".into())])
        ));
        assert!(m("level:(warn OR error)", &r));
        assert!(!m("level:(warn OR info)", &r));
        assert!(m("-host:error", &r));
    }

    #[test]
    fn regexp_filters() {
        for msg in [
            "error: cannot read data",
            "2 warnings have been raised",
            "data transferring finished",
        ] {
            assert!(m("~\"err|warn\"", &rec(msg)), "{msg}");
        }
        assert!(!m("~\"err|warn\"", &rec("ERROR: cannot open file")));
        assert!(m("~\"(?i)(err|warn)\"", &rec("ERROR: cannot open file")));
        let r = with_fields("", &[("path", "/api/v1/users".into())]);
        assert!(m("path:~\"^/api/v[0-9]+/\"", &r));
        assert!(m("path:!~\"^/admin\"", &r));
        assert!(m("path:re(\"users$\")", &r));
        assert!(m("path:~\".+\"", &r));
        assert!(!m("host:~\".+\"", &r));
        assert!(matches!(q("~\".*\"").filter, Filter::All));
        assert!(err("~\"(unclosed\"").contains("invalid regular expression"));
        assert!(err("~-foo").contains("quotes"));
    }

    #[test]
    fn comparison_filters() {
        let r = with_fields(
            "",
            &[
                ("code", 503.into()),
                ("size", "20480".into()),
                ("user", "Alice".into()),
            ],
        );
        assert!(m("code:>=500", &r));
        assert!(m("code:>500", &r));
        assert!(!m("code:<500", &r));
        assert!(m("code:<=503", &r));
        assert!(!m("code:<503", &r));
        assert!(m("size:>10KiB", &r));
        assert!(!m("size:>20KiB", &r));
        assert!(m("size:<1_000_000", &r));
        assert!(m("user:<\"John\"", &r));
        assert!(!m("user:>\"John\"", &r));
        assert!(
            !m("user:>5", &r),
            "non-numbers never match numeric comparisons"
        );
        assert!(err("> 5").contains("field:>value"));
        assert!(m("code: > 5", &r), "with a field, whitespace is fine");
    }

    #[test]
    fn stream_filters() {
        let r = with_stream("hi", &[("function", "echo"), ("job", "esb")]);
        assert!(m("_stream:{function=\"echo\"}", &r));
        assert!(m("{function=\"echo\",job=\"esb\"}", &r));
        assert!(m("{function=\"echo\", job=\"esb\"} hi", &r));
        assert!(!m("{function=\"echo\",job=\"other\"}", &r));
        assert!(m("{function!=\"other\"}", &r));
        assert!(m("{function=~\"ec.*\"}", &r));
        assert!(!m("{function=~\"ch\"}", &r), "stream regexps are anchored");
        assert!(m("{function!~\"x.*\"}", &r));
        assert!(m("{function=\"other\" or job=\"esb\"}", &r));
        assert!(m("{function in (\"a\", \"echo\")}", &r));
        assert!(!m("{function not_in (\"echo\")}", &r));
        assert!(m("{missing=\"\"}", &r));
        assert!(m("{}", &r));
        assert!(
            !m(
                "{function=\"echo\"}",
                &with_fields("hi", &[("function", "echo".into())])
            ),
            "fields are not stream labels"
        );
    }

    #[test]
    fn required_stream_comes_from_top_level_and_only() {
        assert_eq!(
            q("error _stream:{function=\"echo\"} {job=\"esb\", x=~\"y\", function=\"echo\"}")
                .filter
                .required_stream(),
            vec![
                ("function".into(), "echo".into()),
                ("job".into(), "esb".into())
            ]
        );
        assert_eq!(
            q("{function=\"echo\"}").filter.required_stream(),
            vec![("function".into(), "echo".into())]
        );
        assert_eq!(
            q("(error {a=\"b\"}) c").filter.required_stream(),
            vec![("a".into(), "b".into())],
            "nested ANDs flatten"
        );
        for query in [
            "{a=\"b\"} OR error",
            "NOT {a=\"b\"}",
            "{a=\"b\" or a=\"c\"}",
            "{a!=\"b\"}",
            "{a=\"\"}",
            "a:b",
        ] {
            assert!(q(query).filter.required_stream().is_empty(), "{query}");
        }
    }

    #[test]
    fn precedence_not_and_or() {
        // `NOT info OR debug` is `(NOT info) OR debug`.
        assert!(m("NOT info OR debug", &rec("info debug")));
        assert!(m("NOT info OR debug", &rec("other")));
        assert!(!m("NOT info OR debug", &rec("info")));
        assert!(!m("NOT (info OR debug)", &rec("info debug")));
        // `error -buggy_app OR foobar` is `(error AND NOT buggy_app) OR foobar`.
        let f = "error -buggy_app OR foobar";
        assert!(m(f, &rec("foobar")));
        assert!(m(f, &rec("error")));
        assert!(!m(f, &rec("error buggy_app")));
        assert!(m(f, &rec("error buggy_app foobar")));
        // AND binds tighter than OR.
        assert!(m("a OR b AND c", &rec("a")));
        assert!(!m("a OR b AND c", &rec("b")));
        assert!(!m("(a OR b) AND c", &rec("a")));
        assert!(m("(a OR b) AND c", &rec("b c")));
        // Keywords are case-insensitive; `!`, `-` and `NOT` are the same.
        for f in [
            "error and not warn",
            "error AND !warn",
            "error -warn",
            "error !warn",
            "error NOT(warn)",
        ] {
            assert!(m(f, &rec("error")), "{f}");
            assert!(!m(f, &rec("error warn")), "{f}");
        }
        assert!(m(
            "_time:5m error -(buggy_app OR foobar)",
            &rec("error here")
        ));
        assert!(m("NOT NOT error", &rec("error")));
        assert!(err("error AND").contains("end of query"));
        assert!(err("error OR or").contains("quote"));
    }

    #[test]
    fn relative_time_filters() {
        assert_eq!(bounds("_time:5m"), (Some(NOW - 5 * MIN), Some(NOW)));
        assert_eq!(bounds("_time:1h30m"), (Some(NOW - 90 * MIN), Some(NOW)));
        assert_eq!(
            bounds("_time:2.5d15m42.345s").0,
            Some(NOW - (216_000 + 900 + 42) * NS_PER_SEC - 345_000_000)
        );
        assert_eq!(bounds("_time:500ms"), (Some(NOW - 500_000_000), Some(NOW)));
        assert_eq!(bounds("_time:1w").0, Some(NOW - 7 * 1440 * MIN));
        assert_eq!(bounds("_time:1y").0, Some(NOW - 365 * 1440 * MIN));
        assert_eq!(bounds("_time:>5m"), (None, Some(NOW - 5 * MIN)));
        assert_eq!(bounds("_time:>=5m"), (None, Some(NOW - 5 * MIN + 1)));
        assert_eq!(bounds("_time:<5m"), (Some(NOW - 5 * MIN + 1), Some(NOW)));
        assert_eq!(
            bounds("_time:5m offset 1h"),
            (Some(NOW - 65 * MIN), Some(NOW - 60 * MIN))
        );
        assert_eq!(bounds("_time:offset 1h"), (None, Some(NOW - 60 * MIN + 1)));
        assert_eq!(bounds("\"_time\":\"5m\""), (Some(NOW - 5 * MIN), Some(NOW)));
        let f = q("_time:5m").filter;
        assert!(f.matches(&at(NOW - 5 * MIN)));
        assert!(f.matches(&at(NOW - 1)));
        assert!(!f.matches(&at(NOW)));
        assert!(!f.matches(&at(NOW - 5 * MIN - 1)));
        assert!(err("_time:5x").contains("invalid duration"));
        assert!(err("_time:").contains("end of query"));
    }

    #[test]
    fn absolute_time_filters() {
        let day = (
            Some(ts("2024-01-15T00:00:00Z")),
            Some(ts("2024-01-16T00:00:00Z")),
        );
        assert_eq!(bounds("_time:2024-01-15Z"), day);
        assert_eq!(bounds("_time:2024-01-15"), day, "no zone is UTC here");
        assert_eq!(
            bounds("_time:2024-02Z"),
            (
                Some(ts("2024-02-01T00:00:00Z")),
                Some(ts("2024-03-01T00:00:00Z"))
            )
        );
        assert_eq!(bounds("_time:2024-12Z").1, Some(ts("2025-01-01T00:00:00Z")));
        assert_eq!(
            bounds("_time:2024Z"),
            (
                Some(ts("2024-01-01T00:00:00Z")),
                Some(ts("2025-01-01T00:00:00Z"))
            )
        );
        assert_eq!(
            bounds("_time:2024-01-15T10Z").1,
            Some(ts("2024-01-15T11:00:00Z"))
        );
        assert_eq!(
            bounds("_time:2024-01-15T10:30Z").1,
            Some(ts("2024-01-15T10:31:00Z"))
        );
        assert_eq!(
            bounds("_time:2024-01-15T10:30:15Z").1,
            Some(ts("2024-01-15T10:30:16Z"))
        );
        assert_eq!(
            bounds("_time:2024-01-15T10:30:15.123Z").1,
            Some(ts("2024-01-15T10:30:15.124Z"))
        );
        assert_eq!(
            bounds("_time:2023-04-25+05:30"),
            (
                Some(ts("2023-04-24T18:30:00Z")),
                Some(ts("2023-04-25T18:30:00Z"))
            )
        );
        assert_eq!(
            bounds("_time:2023-02-07:00").0,
            Some(ts("2023-02-01T07:00:00Z"))
        );
        assert_eq!(
            bounds("_time:[2024-01-01T00:00:00Z, 2024-01-02T00:00:00Z)"),
            (
                Some(ts("2024-01-01T00:00:00Z")),
                Some(ts("2024-01-02T00:00:00Z"))
            )
        );
        assert_eq!(
            bounds("_time:[2023-04-01Z, 2023-04-30Z]"),
            bounds("_time:2023-04Z"),
            "an inclusive end covers its whole period"
        );
        assert_eq!(
            bounds("_time:(2024-01-01T00:00:00Z, 2024-01-02T00:00:00Z]"),
            (
                Some(ts("2024-01-01T00:00:00Z") + 1),
                Some(ts("2024-01-02T00:00:01Z"))
            )
        );
        assert_eq!(
            bounds("_time:>2024-01-01T00:00:00Z"),
            (Some(ts("2024-01-01T00:00:00Z") + 1), None)
        );
        assert_eq!(
            bounds("_time:>=2024-01-01Z"),
            (Some(ts("2024-01-01T00:00:00Z")), None)
        );
        assert_eq!(
            bounds("_time:<2024-01-01Z"),
            (None, Some(ts("2024-01-01T00:00:00Z")))
        );
        assert_eq!(
            bounds("_time:<=2024-01-01Z"),
            (None, Some(ts("2024-01-02T00:00:00Z")))
        );
        assert_eq!(
            bounds("_time:[now-1h, now]"),
            (Some(NOW - 60 * MIN), Some(NOW + 1))
        );
        assert_eq!(
            bounds("_time:[1700000000, 1700000060)"),
            (Some(NOW), Some(NOW + MIN))
        );
        assert_eq!(bounds("_time:[1700000000000, 1700000000.5]").0, Some(NOW));
        assert_eq!(
            bounds("_time:[2024-01-01Z, 2024-01-02Z) offset 1d"),
            (
                Some(ts("2023-12-31T00:00:00Z")),
                Some(ts("2024-01-01T00:00:00Z"))
            )
        );
        assert!(err("_time:2024-13-01Z").contains("invalid time"));
        assert!(err("_time:[2024-01-01Z, 2024-01-02Z").contains("`]` or `)`"));
        assert!(err("_time:[2024-01-01Z 2024-01-02Z]").contains("`,`"));
        assert!(err("_time:[garbage, now]").contains("invalid time"));
        assert!(err("_time:day_range[08:00, 18:00)").contains("not supported"));
    }

    #[test]
    fn time_bounds_of_and_or_not() {
        let (a, b) = (ts("2024-01-01T00:00:00Z"), ts("2024-01-02T00:00:00Z"));
        let (c, d) = (ts("2024-01-05T00:00:00Z"), ts("2024-01-06T00:00:00Z"));
        let one = "_time:[2024-01-01Z, 2024-01-02Z)";
        let two = "_time:[2024-01-05Z, 2024-01-06Z)";
        assert_eq!(bounds(&format!("{one} OR {two}")), (Some(a), Some(d)));
        assert_eq!(
            bounds(&format!("({one} OR {two}) error")),
            (Some(a), Some(d))
        );
        assert_eq!(
            bounds(&format!("{one} {two}")),
            (Some(c), Some(b)),
            "disjoint AND: empty range"
        );
        assert_eq!(
            bounds("_time:[2024-01-01Z, 2024-01-06Z) _time:>=2024-01-05Z"),
            (Some(c), Some(d))
        );
        assert_eq!(bounds(&format!("NOT {one}")), (None, None));
        assert_eq!(bounds(&format!("NOT NOT {one}")), (Some(a), Some(b)));
        assert_eq!(bounds(&format!("{one} OR error")), (None, None));
        assert_eq!(
            bounds(&format!("{one} OR _time:>2024-01-03Z")),
            (Some(a), None)
        );
        assert_eq!(bounds(&format!("* {one} | limit 5")), (Some(a), Some(b)));
        assert_eq!(bounds("error"), (None, None));
        let f = q(&format!("{one} OR {two}")).filter;
        assert!(f.matches(&at(a)));
        assert!(!f.matches(&at(ts("2024-01-03T00:00:00Z"))));
        assert!(
            q(&format!("NOT {one}"))
                .filter
                .matches(&at(ts("2024-01-03T00:00:00Z")))
        );
    }

    #[test]
    fn pipes() {
        let p = q("error | limit 10");
        assert_eq!((p.limit, p.sort), (Some(10), None));
        assert_eq!(q("error | head").limit, Some(10));
        assert_eq!(q("error | head 5").limit, Some(5));
        assert_eq!(q("* | limit 1_000").limit, Some(1000));
        assert_eq!(q("* | limit 5 | limit 3 | head 4").limit, Some(3));
        assert_eq!(q("*|limit 2").limit, Some(2));
        let p = q("_time:5m error | sort by (_time desc) | limit 10");
        assert_eq!(
            p.sort,
            Some(Sort {
                field: "_time".into(),
                desc: true
            })
        );
        assert_eq!(p.limit, Some(10));
        assert_eq!(
            q("* | sort by (_time) desc").sort,
            Some(Sort {
                field: "_time".into(),
                desc: true
            })
        );
        assert_eq!(
            q("* | sort by (_time desc) desc").sort,
            Some(Sort {
                field: "_time".into(),
                desc: false
            })
        );
        assert_eq!(
            q("* | sort (level)").sort,
            Some(Sort {
                field: "level".into(),
                desc: false
            })
        );
        let p = q("* | order by (request_duration desc) limit 3");
        assert_eq!(
            p.sort,
            Some(Sort {
                field: "request_duration".into(),
                desc: true
            })
        );
        assert_eq!(p.limit, Some(3));
        assert_eq!(
            q("error # errors only\n  | limit 5 # five\n").limit,
            Some(5)
        );
        assert_eq!(q("error;").limit, None);
        let e = err("_time:5m | stats count() errors");
        assert!(e.contains("`stats` pipe is not supported"), "{e}");
        assert!(err("* | fields _time, _msg").contains("`fields`"));
        assert!(err("* | sort by (a, b)").contains("more than one field"));
        assert!(err("* | sort by (a) | sort by (b)").contains("more than one `sort`"));
        assert!(err("* | sort by (a) offset 10").contains("offset"));
        assert!(err("* | limit -1").contains("non-negative"));
        assert!(err("* | limit 1.5").contains("non-negative"));
        assert!(err("* | limit 5 extra").contains("end of query"));
        assert!(err("* |").contains("a pipe"));
    }

    #[test]
    fn string_literals() {
        assert!(m("\"a\\\"b\"", &rec("x a\"b y")));
        assert!(m("'it\\'s'", &rec("it's here")));
        assert!(m("`C:\\dir`", &rec("in C:\\dir now")));
        assert!(m("\"\\x41\\u00e9\\101\"", &rec("AéA")));
        assert!(m("\"tab\\there\"", &rec("tab\there")));
        assert!(err("\"\\xff\"").contains("UTF-8"));
        assert!(err("\"\\q\"").contains("unknown escape"));
        assert!(err("'\\\"'").contains("unknown escape"));
        assert!(err("\"\\u12\"").contains("digits"));
    }

    #[test]
    fn hostile_inputs_give_errors() {
        for (query, want) in [
            ("", "expected a filter"),
            ("   # only a comment", "expected a filter"),
            ("\"unterminated", "unterminated"),
            ("'unterminated", "unterminated"),
            ("`unterminated", "unterminated"),
            ("error \"abc\\\"", "unterminated"),
            ("(foo", "expected `)`"),
            ("foo)", "end of query"),
            ("foo\"bar\"", "whitespace"),
            ("a:", "end of query"),
            (":a", "expected a word"),
            ("-", "end of query"),
            ("foo:-", "end of query"),
            ("a :", "end of query"),
            ("=", "end of query"),
            ("a = b", "field:=value"),
            ("i(foo", "`)` closing `i(`"),
            ("in foo", "`(` after `in`"),
            ("x:in(a b)", "`,` or `)`"),
            ("x:in(_time:5m | fields x)", "subqueries"),
            ("{a=\"b\"", "`,`, `or` or `}`"),
            ("{a \"b\"}", "`=`"),
            ("_stream:foo", "`{`"),
            ("foo:{a=\"b\"}", "applies only to `_stream`"),
            ("seq(a, b)", "`seq()` filter is not supported"),
            ("_stream_id:0000007b", "`_stream_id`"),
            ("foo*:bar", "not supported"),
            ("*:bar", "not supported"),
            ("*foo", "closing the `*substring*`"),
            ("options(concurrency=2) error", "options"),
            ("| limit 5", "expected a filter"),
            (
                "error | limit 5 | nosuchpipe",
                "`nosuchpipe` pipe is not supported",
            ),
            ("\u{0}\u{1}\u{7f}", "expected"),
            ("~\"(a{1000}){1000}\"", "invalid regular expression"),
        ] {
            let e = err(query);
            assert!(e.contains(want), "{query:?}: {e:?} lacks {want:?}");
        }
        assert!(
            err("(foo").contains("position 4"),
            "errors name the position"
        );

        let deep = format!("{}a{}", "(".repeat(1000), ")".repeat(1000));
        assert!(err(&deep).contains("nested more than"));
        assert!(err(&"!".repeat(10_000)).contains("nested more than"));
        assert!(err(&format!("{}a", "-".repeat(500))).contains("nested more than"));
        assert!(err(&"not (".repeat(1000)).contains("nested more than"));
        let just_deep_enough = format!(
            "{}a{}",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        assert!(m(&just_deep_enough, &rec("a")));

        assert!(err(&"a ".repeat(40_000)).contains("at most 65536 bytes"));
        let regexes = vec!["~\"a\""; MAX_REGEXES + 1].join(" ");
        assert!(err(&regexes).contains("at most 32 regular expressions"));
        assert!(
            err(&format!("~`{}`", "\\w{100}".repeat(100))).contains("invalid regular expression")
        );
        assert!(err("_time:1.2.3m").contains("invalid duration"));
        assert_eq!(bounds("_time:99999999999999999999999y").1, Some(NOW));
        assert!(err("_time:9999-12-31Z").contains("1677-2262"));
        assert!(err("_time:[99999999999999999999, now]").contains("invalid time"));
        // Saturating arithmetic instead of overflow.
        assert_eq!(bounds("_time:1000000y").1, Some(NOW));
        assert!(parse("_time:<0s", i64::MIN).is_ok());
        assert!(parse("_time:>1000000y offset -1000000y", i64::MAX).is_ok());
    }

    /// Deterministic pseudo-random queries: parsing (and matching whatever parses) never panics.
    #[test]
    fn random_queries_never_panic() {
        const PIECES: [&str; 60] = [
            "(",
            ")",
            "\"",
            "'",
            "`",
            "\\",
            "*",
            ":",
            "=",
            "!",
            "~",
            "-",
            "|",
            "{",
            "}",
            "[",
            "]",
            ",",
            " ",
            " ",
            "_time",
            "_stream",
            "_msg",
            "and",
            "OR",
            "not",
            "i",
            "in",
            "limit",
            "sort",
            "by",
            "desc",
            "5m",
            "2024-01-01Z",
            "now",
            "foo",
            "é",
            "#",
            "\n",
            ">",
            "<",
            "0x1f",
            "1e9",
            "offset",
            "head",
            "re",
            "exact",
            ";",
            ".",
            "+05:30",
            "\\x",
            "\\u",
            "1700000000.5",
            "seq",
            "µs",
            "1_0",
            "KiB",
            "=~",
            "!~",
            "!=",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let records = [
            with_stream("foo error é", &[("function", "foo")]),
            with_fields("", &[("foo", "5".into()), ("_time", "x".into())]),
            at(NOW - 1),
        ];
        let mut parsed = 0;
        for i in 0..20_000 {
            let len = (next() % 24) as usize;
            let query: String = if i % 4 == 0 {
                let bytes: Vec<u8> = (0..len * 2).map(|_| next() as u8).collect();
                String::from_utf8_lossy(&bytes).into_owned()
            } else {
                (0..len)
                    .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                    .collect()
            };
            for now in [NOW, i64::MIN, i64::MAX] {
                if let Ok(p) = parse(&query, now) {
                    parsed += 1;
                    let _ = p.filter.time_bounds();
                    let _ = p.filter.required_stream();
                    for r in &records {
                        let _ = p.filter.matches(r);
                    }
                }
            }
        }
        assert!(
            parsed > 1000,
            "the generator should also produce valid queries ({parsed})"
        );
    }

    #[test]
    fn duration_and_number_parsing() {
        assert_eq!(parse_duration("5m"), Some(5 * MIN));
        assert_eq!(
            parse_duration("1h33m55s"),
            Some((3600 + 33 * 60 + 55) * NS_PER_SEC)
        );
        assert_eq!(parse_duration("1.5µs"), Some(1500));
        assert_eq!(parse_duration("123ns"), Some(123));
        assert_eq!(parse_duration("-2h"), Some(-2 * 60 * MIN));
        for bad in ["", "5", "m", "5x", "1..5s", "-", "5m-"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(parse_number("10KiB"), Some(10240.0));
        assert_eq!(parse_number("2MB"), Some(2e6));
        assert_eq!(parse_number("0xff"), Some(255.0));
        assert_eq!(parse_number("1_234.5"), Some(1234.5));
        assert_eq!(parse_number("-3"), Some(-3.0));
        assert_eq!(parse_number("John"), None);
    }
}
