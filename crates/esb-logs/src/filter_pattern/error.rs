//! Why a filter pattern was rejected. The texts follow CloudWatch Logs' own
//! InvalidParameterException messages where AWS has one, so an API layer can hand them
//! to clients unchanged.

/// A filter pattern CloudWatch Logs would reject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Characters the syntax does not allow where they stand, such as `:` in an unquoted
    /// term or `"` after `$.`; names the offending text as AWS does.
    #[error("Invalid character(s) in term '{0}'")]
    InvalidCharacters(String),
    /// A JSON pattern (one starting with `{`) that does not end with `}`.
    #[error("If a filter pattern starts with '{{' it must end with '}}'")]
    UnclosedJson,
    /// A space-delimited pattern (one starting with `[`) that does not end with `]`.
    #[error("If a filter pattern starts with '[' it must end with ']'")]
    UnclosedDelimited,
    /// Any other malformed pattern; the text says what is wrong.
    #[error("Invalid filter pattern: {0}")]
    Invalid(String),
}
