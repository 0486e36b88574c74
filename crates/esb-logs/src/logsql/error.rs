//! Why a query was rejected: every error the lexer and the parser report, with the
//! byte position in the query it is about.

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

pub(super) type Result<T> = std::result::Result<T, LogsqlError>;
