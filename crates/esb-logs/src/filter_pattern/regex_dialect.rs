//! CloudWatch's regular expressions (`%…%`): only the characters AWS documents are
//! accepted, so a pattern that works here is one AWS accepts too; the `regex` crate
//! runs them. Matching is unanchored, as AWS's `%AUTHORIZED%` matches `UNAUTHORIZED`.

use regex::{Regex, RegexBuilder};

use super::error::PatternError;

/// AWS: "There is a limit of 2 regex for each filter pattern when creating a delimited
/// or JSON filter pattern".
pub(super) const MAX_REGEXES: usize = 2;

/// Compiled size cap: AWS's 1024-character patterns never need more, and a hostile
/// `a{1000}{1000}` fails here instead of taking memory and time.
const MAX_COMPILED_SIZE: usize = 1 << 20;

/// Besides letters and digits, AWS allows the symbols `: _ # = @ / ; , -` and the
/// operators `^ $ ? [ ] { } | \ * + .`; not `(` or `)` (no groups), not multi-byte
/// characters. A space is accepted too: AWS's CDK builds regexes with spaces.
fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || ":_#=@/;,-^$?[]{}|\\*+. ".contains(c)
}

/// Checks and compiles the text between the `%` signs.
pub(super) fn compile(body: &str) -> Result<Regex, PatternError> {
    if body.is_empty() || !body.chars().all(allowed) {
        return Err(PatternError::InvalidCharacters(format!("%{body}%")));
    }
    RegexBuilder::new(body)
        .size_limit(MAX_COMPILED_SIZE)
        .dfa_size_limit(MAX_COMPILED_SIZE)
        .build()
        .map_err(|_| PatternError::Invalid(format!("the regular expression %{body}% is not valid")))
}
