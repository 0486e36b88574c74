//! Pattern text to [`Pattern`]: the first character decides the kind, as in AWS (`{`
//! JSON, `[` space-delimited, a lone `%…%` a regex, anything else terms), and every
//! check AWS makes when a filter is created is made here, so matching cannot fail.

use super::ast::{
    CompareOp, Comparison, Delimited, FieldCondition, Glob, JsonCheck, JsonExpr, Pattern, Slot,
    Terms, Value,
};
use super::error::PatternError;
use super::lexer::{Token, is_name_char, lex, quoted};
use super::number::parse_number;
use super::regex_dialect::{self, MAX_REGEXES};

/// Parentheses may nest this deep in a JSON pattern: far more than a 1024-character
/// pattern needs, and few enough that neither parsing nor matching can exhaust the stack.
pub const MAX_DEPTH: usize = 32;

/// AWS: "You can only use up to one wildcard selector in a property selector".
const MAX_WILDCARDS_PER_SELECTOR: usize = 1;
/// AWS: "You can use up to three wildcard selectors in a filter pattern with compound
/// expressions".
const MAX_WILDCARDS_PER_PATTERN: usize = 3;

fn invalid(why: impl Into<String>) -> PatternError {
    PatternError::Invalid(why.into())
}

pub(super) fn parse(pattern: &str) -> Result<Pattern, PatternError> {
    let text = pattern.trim();
    if text.is_empty() {
        return Ok(Pattern::Everything);
    }
    if text.starts_with('{') {
        if !text.ends_with('}') {
            return Err(PatternError::UnclosedJson);
        }
        return Parser::new(text)?.json().map(Pattern::Json);
    }
    if text.starts_with('[') {
        if !text.ends_with(']') {
            return Err(PatternError::UnclosedDelimited);
        }
        return Parser::new(text)?.delimited().map(Pattern::Delimited);
    }
    if let Some(body) = text.strip_prefix('%').and_then(|t| t.strip_suffix('%')) {
        return regex_dialect::compile(body).map(Pattern::Regex);
    }
    terms(text).map(Pattern::Terms)
}

/// Characters an unquoted term may hold: AWS requires quotes around "terms that include
/// characters other than alphanumeric or underscore".
fn is_term_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

#[derive(Clone, Copy, PartialEq)]
enum TermKind {
    Plain,
    Optional,
    Excluded,
}

/// An unstructured pattern: words and `"phrases"`, each optionally marked `?` (one of)
/// or `-` (must not appear). A `-` or `?` right after a term starts the next term, so
/// `ORDER-ITEM` is `ORDER -ITEM`: unquoted, AWS finds nothing for `ORDER-ITEM-1` in
/// lines holding it, where a rejection would have said so.
fn terms(text: &str) -> Result<Terms, PatternError> {
    let mut found: Vec<(TermKind, String)> = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        let Some(first) = rest.chars().next() else {
            break;
        };
        let (kind, body) = match first {
            '?' => (TermKind::Optional, &rest[1..]),
            '-' => (TermKind::Excluded, &rest[1..]),
            _ => (TermKind::Plain, rest),
        };
        let (term, len) = match body.chars().next() {
            Some('"') => quoted(body)?,
            Some(c) if is_term_char(c) => {
                let len = body.find(|c| !is_term_char(c)).unwrap_or(body.len());
                (body[..len].to_string(), len)
            }
            _ => {
                // Name the run of characters that cannot make a term, with its prefix.
                let skip = rest.len() - body.len();
                let len = body
                    .find(|c: char| c.is_whitespace() || c == '"' || is_term_char(c))
                    .unwrap_or(body.len());
                let len = (skip + len).max(first.len_utf8());
                return Err(PatternError::InvalidCharacters(rest[..len].to_string()));
            }
        };
        found.push((kind, term));
        rest = &body[len..];
    }
    let all_optional = found.iter().all(|(k, _)| *k == TermKind::Optional);
    let mut out = Terms::default();
    for (kind, term) in found {
        match kind {
            TermKind::Excluded => out.excluded.push(term),
            TermKind::Optional if all_optional => out.any_of.push(term),
            // AWS: mixed with other terms, "the question mark ("?") is ignored".
            TermKind::Optional | TermKind::Plain => out.required.push(term),
        }
    }
    Ok(out)
}

/// Reads the tokens of a JSON or space-delimited pattern, counting what AWS limits.
struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    regexes: usize,
    wildcards: usize,
}

impl Parser {
    fn new(text: &str) -> Result<Self, PatternError> {
        Ok(Parser {
            tokens: lex(text)?,
            pos: 0,
            depth: 0,
            regexes: 0,
            wildcards: 0,
        })
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn eat(&mut self, want: &Token) -> bool {
        if self.peek() == Some(want) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, want: &Token, what: &str) -> Result<(), PatternError> {
        if self.eat(want) {
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    /// An error for the current token, saying what should have been there.
    fn unexpected(&self, expected: &str) -> PatternError {
        match self.peek() {
            Some(token) => invalid(format!("expected {expected}, found {}", token.describe())),
            None => invalid(format!("expected {expected} before the end of the pattern")),
        }
    }

    /// Steps back onto the token just read, so the error names it.
    fn reject_last(&mut self, expected: &str) -> PatternError {
        self.pos -= 1;
        self.unexpected(expected)
    }

    fn expect_end(&self) -> Result<(), PatternError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.unexpected("the end of the pattern")),
        }
    }

    // ---- JSON: `{ a && (b || c) }`, && binding tighter than || ----

    fn json(mut self) -> Result<JsonExpr, PatternError> {
        self.expect(&Token::LBrace, "'{'")?;
        let expr = self.json_or()?;
        self.expect(&Token::RBrace, "'&&', '||' or '}'")?;
        self.expect_end()?;
        Ok(expr)
    }

    fn json_or(&mut self) -> Result<JsonExpr, PatternError> {
        let mut any = vec![self.json_and()?];
        while self.eat(&Token::Or) {
            any.push(self.json_and()?);
        }
        Ok(one_or(any, JsonExpr::Any))
    }

    fn json_and(&mut self) -> Result<JsonExpr, PatternError> {
        let mut all = vec![self.json_primary()?];
        while self.eat(&Token::And) {
            all.push(self.json_primary()?);
        }
        Ok(one_or(all, JsonExpr::All))
    }

    fn json_primary(&mut self) -> Result<JsonExpr, PatternError> {
        if self.eat(&Token::LParen) {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(invalid(format!(
                    "parentheses are nested more than {MAX_DEPTH} levels deep"
                )));
            }
            let expr = self.json_or()?;
            self.expect(&Token::RParen, "'&&', '||' or ')'")?;
            self.depth -= 1;
            return Ok(expr);
        }
        let Some(Token::Selector(selector, raw)) = self.peek().cloned() else {
            return Err(self.unexpected("a property selector such as $.name"));
        };
        self.pos += 1;
        let wildcards = selector.wildcards();
        if wildcards > MAX_WILDCARDS_PER_SELECTOR {
            return Err(invalid(format!(
                "{raw} has more than one wildcard selector; a property selector may use one"
            )));
        }
        self.wildcards += wildcards;
        if self.wildcards > MAX_WILDCARDS_PER_PATTERN {
            return Err(invalid(format!(
                "a filter pattern may use at most {MAX_WILDCARDS_PER_PATTERN} wildcard selectors"
            )));
        }
        let check = match self.next() {
            Some(Token::Op(op)) => JsonCheck::Compare(self.comparison(op)?),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("IS") => match self.next() {
                Some(Token::Word(v)) if v.eq_ignore_ascii_case("TRUE") => JsonCheck::IsTrue,
                Some(Token::Word(v)) if v.eq_ignore_ascii_case("FALSE") => JsonCheck::IsFalse,
                Some(Token::Word(v)) if v.eq_ignore_ascii_case("NULL") => JsonCheck::IsNull,
                Some(Token::Word(v)) if v.eq_ignore_ascii_case("NOT") => {
                    return Err(invalid("IS NOT is not supported (use != or NOT EXISTS)"));
                }
                _ => {
                    return Err(self.reject_last("TRUE, FALSE or NULL after IS"));
                }
            },
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("NOT") => match self.next() {
                Some(Token::Word(v)) if v.eq_ignore_ascii_case("EXISTS") => JsonCheck::NotExists,
                _ => {
                    return Err(self.reject_last("EXISTS after NOT"));
                }
            },
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("EXISTS") => {
                return Err(invalid("EXISTS is not supported (use NOT EXISTS, or = *)"));
            }
            _ => {
                return Err(
                    self.reject_last(&format!("a comparison, IS or NOT EXISTS after {raw}"))
                );
            }
        };
        Ok(JsonExpr::Test(selector, check))
    }

    // ---- Space-delimited: `[ip, ..., status_code = 4* && status_code != 403, bytes]` ----

    fn delimited(mut self) -> Result<Delimited, PatternError> {
        self.expect(&Token::LBracket, "'['")?;
        let mut head = Vec::new();
        let mut tail: Option<Vec<Slot>> = None;
        loop {
            if matches!(self.peek(), Some(Token::Word(w)) if w == "...") {
                self.pos += 1;
                if tail.is_some() {
                    return Err(invalid("a space-delimited pattern may hold one '...'"));
                }
                tail = Some(Vec::new());
            } else {
                let slot = self.slot()?;
                match &mut tail {
                    Some(tail) => tail.push(slot),
                    None => head.push(slot),
                }
            }
            if self.eat(&Token::RBracket) {
                break;
            }
            self.expect(&Token::Comma, "',' or ']'")?;
        }
        self.expect_end()?;
        Ok(Delimited { head, tail })
    }

    /// One field: empty (`[a,,b]`, and AWS's trailing `,` in `[..., status_code=4*,]`),
    /// a bare name, or comparisons joined by `&&`/`||` that all name this field.
    fn slot(&mut self) -> Result<Slot, PatternError> {
        if matches!(self.peek(), Some(Token::Comma | Token::RBracket)) {
            return Ok(Slot { condition: None });
        }
        let name = self.field_name()?;
        if !matches!(self.peek(), Some(Token::Op(_))) {
            return Ok(Slot { condition: None });
        }
        // Step back: the name starts the first comparison.
        self.pos -= 1;
        let mut any = Vec::new();
        loop {
            let mut all = vec![self.field_comparison(&name)?];
            while self.eat(&Token::And) {
                all.push(self.field_comparison(&name)?);
            }
            any.push(one_or(all, FieldCondition::All));
            if !self.eat(&Token::Or) {
                break;
            }
        }
        Ok(Slot {
            condition: Some(one_or(any, FieldCondition::Any)),
        })
    }

    /// `name op value`, where `name` must be the slot's own field: a condition on another
    /// field (`status_code = 4* && bytes > 1000`) is rejected by AWS too.
    fn field_comparison(&mut self, slot: &str) -> Result<FieldCondition, PatternError> {
        let field = self.field_name()?;
        // AWS's own example writes `[w1=ERROR || W1=WARNING, w2]`.
        if !field.eq_ignore_ascii_case(slot) {
            return Err(invalid(format!(
                "the conditions on field '{slot}' may only name '{slot}', not '{field}'"
            )));
        }
        match self.next() {
            Some(Token::Op(op)) => Ok(FieldCondition::Compare(self.comparison(op)?)),
            _ => Err(self.reject_last(&format!("an operator after '{field}'"))),
        }
    }

    fn field_name(&mut self) -> Result<String, PatternError> {
        match self.next() {
            Some(Token::Word(w)) if !w.is_empty() && w.chars().all(is_name_char) => Ok(w),
            Some(Token::Word(w)) => Err(PatternError::InvalidCharacters(w)),
            Some(Token::Selector(_, raw)) => Err(PatternError::InvalidCharacters(raw)),
            Some(Token::LParen) => Err(PatternError::InvalidCharacters("(".into())),
            _ => Err(self.reject_last("a field name")),
        }
    }

    // ---- Values, shared by both ----

    /// The value after an operator. `<`, `<=`, `>` and `>=` need a number; `=` and `!=`
    /// also take strings (quoted or not, `*` at either end a wildcard), `*` alone (any
    /// value) and `%regex%`.
    fn comparison(&mut self, op: CompareOp) -> Result<Comparison, PatternError> {
        let value = match self.next() {
            Some(Token::Word(w)) => match parse_number(&w) {
                Some(n) => Value::Number(n),
                None => text_value(w),
            },
            Some(Token::Quoted(s)) => text_value(s),
            Some(Token::Regex(body)) => {
                self.regexes += 1;
                if self.regexes > MAX_REGEXES {
                    return Err(invalid(format!(
                        "a filter pattern may hold at most {MAX_REGEXES} regular expressions"
                    )));
                }
                Value::Regex(regex_dialect::compile(&body)?)
            }
            _ => {
                return Err(self.reject_last("a value after the operator"));
            }
        };
        if op.is_ordering() && !matches!(value, Value::Number(_)) {
            return Err(self.reject_last("a number after <, <=, > or >="));
        }
        Ok(Comparison { op, value })
    }
}

/// `*` alone is any value; otherwise a `*` at either end is a wildcard.
fn text_value(text: String) -> Value {
    if text == "*" {
        return Value::Anything;
    }
    let any_prefix = text.starts_with('*');
    let rest = text.strip_prefix('*').unwrap_or(&text);
    let any_suffix = rest.ends_with('*');
    let core = rest.strip_suffix('*').unwrap_or(rest);
    Value::Text(Glob {
        text: core.to_string(),
        any_prefix,
        any_suffix,
    })
}

/// The single item itself, or several joined by `many` (`&&` or `||`).
fn one_or<T>(mut items: Vec<T>, many: fn(Vec<T>) -> T) -> T {
    if items.len() == 1 {
        items.remove(0)
    } else {
        many(items)
    }
}
