//! Tokens of the structured patterns, JSON (`{ … }`) and space-delimited (`[ … ]`).
//! Selectors (`$.a[0].b`), quoted strings and `%regex%` are read whole here, so a `]`
//! or `,` inside them never ends a field and a `{` inside a regex never opens anything.

use super::ast::{CompareOp, Selector, Step};
use super::error::PatternError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    LParen,
    RParen,
    Comma,
    And,
    Or,
    Op(CompareOp),
    /// A property selector and its text as written (for error messages).
    Selector(Selector, String),
    /// A `"…"` string, unescaped.
    Quoted(String),
    /// The text between `%` signs, not yet checked.
    Regex(String),
    /// An unquoted run of letters, digits and `_ . * - +`: a field name, a keyword
    /// (`IS`, `NOT`, …), a value (`4*`, `123.123.*`, `-1e3`) or `...`.
    Word(String),
}

impl Token {
    /// How an error message names the token.
    pub(super) fn describe(&self) -> String {
        match self {
            Token::LBrace => "'{'".into(),
            Token::RBrace => "'}'".into(),
            Token::LBracket => "'['".into(),
            Token::RBracket => "']'".into(),
            Token::LParen => "'('".into(),
            Token::RParen => "')'".into(),
            Token::Comma => "','".into(),
            Token::And => "'&&'".into(),
            Token::Or => "'||'".into(),
            Token::Op(op) => format!("'{}'", op_text(*op)),
            Token::Selector(_, raw) => format!("'{raw}'"),
            Token::Quoted(s) => format!("'\"{s}\"'"),
            Token::Regex(s) => format!("'%{s}%'"),
            Token::Word(w) => format!("'{w}'"),
        }
    }
}

fn op_text(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "=",
        CompareOp::Ne => "!=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '*' | '-' | '+')
}

/// Characters of a property name: AWS allows letters, digits, `-` and `_`.
pub(super) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-')
}

/// Where a token can begin; anything else is an invalid character.
fn starts_token(c: char) -> bool {
    is_word_char(c) || "{}[](),&|=!<>\"%$".contains(c)
}

pub(super) fn lex(src: &str) -> Result<Vec<Token>, PatternError> {
    let mut tokens = Vec::new();
    let mut rest = src.trim_start();
    while let Some(c) = rest.chars().next() {
        let (token, len) = match c {
            '{' => (Token::LBrace, 1),
            '}' => (Token::RBrace, 1),
            '[' => (Token::LBracket, 1),
            ']' => (Token::RBracket, 1),
            '(' => (Token::LParen, 1),
            ')' => (Token::RParen, 1),
            ',' => (Token::Comma, 1),
            '&' if rest.starts_with("&&") => (Token::And, 2),
            '|' if rest.starts_with("||") => (Token::Or, 2),
            '!' if rest.starts_with("!=") => (Token::Op(CompareOp::Ne), 2),
            '<' if rest.starts_with("<=") => (Token::Op(CompareOp::Le), 2),
            '>' if rest.starts_with(">=") => (Token::Op(CompareOp::Ge), 2),
            '<' => (Token::Op(CompareOp::Lt), 1),
            '>' => (Token::Op(CompareOp::Gt), 1),
            '=' => (Token::Op(CompareOp::Eq), 1),
            '"' => {
                let (text, len) = quoted(rest)?;
                (Token::Quoted(text), len)
            }
            '%' => {
                let end = rest[1..].find('%').ok_or_else(|| {
                    PatternError::Invalid("a regular expression is not closed with '%'".into())
                })?;
                (Token::Regex(rest[1..1 + end].to_string()), end + 2)
            }
            '$' => selector(rest)?,
            c if is_word_char(c) => {
                let len = rest.find(|c| !is_word_char(c)).unwrap_or(rest.len());
                (Token::Word(rest[..len].to_string()), len)
            }
            _ => {
                // The run of characters that cannot start anything, as AWS names it.
                let first = c.len_utf8();
                let len = rest[first..]
                    .find(|c: char| c.is_whitespace() || starts_token(c))
                    .map_or(rest.len(), |n| first + n);
                return Err(PatternError::InvalidCharacters(rest[..len].to_string()));
            }
        };
        tokens.push(token);
        rest = rest[len..].trim_start();
    }
    Ok(tokens)
}

/// Reads a `"…"` string at the start of `src`: `\"` is a quote and `\\` a backslash;
/// any other backslash stays as written. Returns the text and the bytes consumed.
pub(super) fn quoted(src: &str) -> Result<(String, usize), PatternError> {
    let mut text = String::new();
    let mut chars = src.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((text, i + 1)),
            '\\' => match chars.next() {
                Some((_, e @ ('"' | '\\'))) => text.push(e),
                Some((_, other)) => {
                    text.push('\\');
                    text.push(other);
                }
                None => break,
            },
            c => text.push(c),
        }
    }
    Err(PatternError::Invalid(
        "a quoted string is not closed with '\"'".into(),
    ))
}

/// Reads a property selector at the start of `src` (which starts with `$`). An error
/// names the selector up to and including the character that broke it, as AWS does
/// (`$."detail-type"` is rejected with `'$."'`).
fn selector(src: &str) -> Result<(Token, usize), PatternError> {
    let bad = |at: usize| {
        let end = match src[at..].chars().next() {
            Some(c) if !c.is_whitespace() => at + c.len_utf8(),
            _ => at,
        };
        PatternError::InvalidCharacters(src[..end].to_string())
    };
    let mut steps = Vec::new();
    let mut i = 1;
    loop {
        let rest = &src[i..];
        if let Some(after) = rest.strip_prefix('.') {
            i += 1;
            if after.starts_with('*') {
                steps.push(Step::AnyKey);
                i += 1;
                continue;
            }
            let len = after.find(|c| !is_name_char(c)).unwrap_or(after.len());
            if len == 0 {
                return Err(bad(i));
            }
            steps.push(Step::Key(after[..len].to_string()));
            i += len;
        } else if let Some(after) = rest.strip_prefix('[') {
            // AWS: array elements "must follow a property".
            if steps.is_empty() {
                return Err(bad(i));
            }
            i += 1;
            if after.starts_with("*]") {
                steps.push(Step::AnyIndex);
                i += 2;
                continue;
            }
            let len = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            if len == 0 || !after[len..].starts_with(']') {
                return Err(bad(i + len));
            }
            let index = after[..len].parse().map_err(|_| {
                PatternError::Invalid(format!("the array index {} is too large", &after[..len]))
            })?;
            steps.push(Step::Index(index));
            i += len + 1;
        } else if steps.is_empty() {
            return Err(bad(i));
        } else {
            break;
        }
    }
    // A character that can follow nothing belongs to the selector's error (`$.naïve`).
    if src[i..]
        .chars()
        .next()
        .is_some_and(|c| !c.is_whitespace() && !starts_token(c))
    {
        return Err(bad(i));
    }
    let raw = src[..i].to_string();
    Ok((Token::Selector(Selector { steps }, raw), i))
}
