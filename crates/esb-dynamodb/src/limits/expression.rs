//! DynamoDB's expression language, read far enough to hold an expression to the limits
//! the engine does not check, and to keep the engine from parsing what would overflow
//! its stack.
//!
//! Everything here is a loop over a token vector: no recursion on input, no indexing
//! that can panic, and work bounded by the 4 KB expression limit (a longer expression
//! is passed on untouched: the engine refuses it by its size before parsing it).
//!
//! The tokenizer and the grammar mirror the engine's (dynoxide-rs 3.2.0,
//! `expressions::tokenizer` and `expressions::condition`) token for token, for two
//! reasons: an expression the engine would refuse as malformed is left to the engine,
//! so that its own (DynamoDB's) wording answers it; and when the front must answer a
//! malformed expression itself (one nested too deep to hand on), it words the syntax
//! error exactly as the engine words the same error in a shallow expression.

use std::collections::HashMap;

use super::reserved::is_reserved;

/// Longest expression DynamoDB reads (bytes, as sent). A longer one is not read here:
/// the engine refuses it by its size before parsing it.
pub(super) const MAX_EXPRESSION_BYTES: usize = 4096;
/// Deepest `(` nesting handed to the engine. No valid expression nests deeper than its
/// operator count allows (a level without an operator is a redundant parenthesis, which
/// DynamoDB refuses), and more than 300 operators are refused anyway, so nothing
/// DynamoDB accepts is lost. The engine's condition parsers recurse once per `(` and
/// its threads overflowed at about 1,720 levels.
pub(super) const MAX_PAREN_DEPTH: usize = 300;
/// DynamoDB's limit on the operators and functions of one expression (Developer Guide,
/// Constraints: "The maximum number of operators or functions allowed in any expression
/// is 300").
pub(super) const MAX_OPERATORS: usize = 300;
/// DynamoDB's limit on the values of one `IN` list.
pub(super) const MAX_IN_OPERANDS: usize = 100;
/// DynamoDB's limit on the levels of one document path ("DynamoDB supports nested
/// attributes up to 32 levels deep").
pub(super) const MAX_PATH_DEPTH: usize = 32;

/// The type names `attribute_type` takes, in the order DynamoDB's message lists them.
const TYPE_NAMES: [&str; 10] = ["B", "NULL", "SS", "BOOL", "L", "BS", "N", "NS", "S", "M"];

/// What a request's `ExpressionAttributeNames` and `ExpressionAttributeValues` define.
#[derive(Debug, Default)]
pub(super) struct Placeholders {
    /// `#name` to the attribute name it stands for.
    pub names: HashMap<String, String>,
    /// `:value` to what the front needs of its value.
    pub values: HashMap<String, Placeholder>,
}

/// What the front knows of one expression attribute value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Placeholder {
    /// `{"S": text}` and nothing else.
    S(String),
    /// Any other value (or something that is not a value at all: the engine says so).
    Other,
}

/// What the front makes of one expression.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Nothing for the front to refuse: the engine reads it.
    Pass,
    /// The expression breaks the grammar (or uses a reserved word, an unknown function):
    /// the engine refuses it in DynamoDB's words, which come before any limit.
    Malformed,
    /// DynamoDB refuses it with this reason (the message without `Invalid <Field>: `).
    Refuse(String),
    /// Refused with this reason whatever else the request holds: the engine must never
    /// parse this expression.
    Guard(String),
}

/// Which rules a condition-like expression is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ConditionKind {
    /// ConditionExpression and FilterExpression: every rule.
    Condition,
    /// KeyConditionExpression: the parenthesis guard and the operator limit. Its own
    /// rules (one condition per key, values on the right) are the engine's.
    KeyCondition,
    /// The engine's own SearchConditionExpression (not DynamoDB's): the guard only.
    GuardOnly,
}

// ---------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------

/// The kinds of token, as the engine's tokenizer makes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// An attribute name or a function name.
    Ident,
    /// `#name`.
    Name,
    /// `:value`.
    Value,
    /// The digits right after a `[`.
    Number,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    And,
    Or,
    Not,
    Between,
    In,
    Set,
    Remove,
    Add,
    Delete,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Dot,
    Comma,
}

/// A token: its kind and its byte range in the expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

/// A character the tokenizer cannot read, and its byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Unreadable {
    pub start: usize,
    pub end: usize,
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The whitespace the engine skips: ASCII only (vertical tab included, as Rust's
/// `char::is_whitespace` has it). DynamoDB reads any other character outside a name,
/// a no-break space included, as a token it cannot read.
fn is_space(b: u8) -> bool {
    b.is_ascii() && char::from(b).is_whitespace()
}

/// The end of the run of name bytes starting at `from`.
fn name_end(bytes: &[u8], from: usize) -> usize {
    from + bytes.get(from..).map_or(0, |rest| {
        rest.iter().take_while(|b| is_name_byte(**b)).count()
    })
}

/// The token starting at `at`, which is not whitespace and is inside `src` (a
/// `[`'s number is read by [`tokenize`], as the engine reads it).
fn lex(src: &str, at: usize) -> Result<Token, Unreadable> {
    let bytes = src.as_bytes();
    let token = |kind, end| {
        Ok(Token {
            kind,
            start: at,
            end,
        })
    };
    let next = bytes.get(at + 1).copied();
    match bytes.get(at).copied() {
        Some(b @ (b'#' | b':')) => {
            let end = name_end(bytes, at + 1);
            if end == at + 1 {
                return Err(Unreadable {
                    start: at,
                    end: at + 1,
                });
            }
            token(if b == b'#' { Kind::Name } else { Kind::Value }, end)
        }
        Some(b'<') => match next {
            Some(b'>') => token(Kind::Ne, at + 2),
            Some(b'=') => token(Kind::Le, at + 2),
            _ => token(Kind::Lt, at + 1),
        },
        Some(b'>') => match next {
            Some(b'=') => token(Kind::Ge, at + 2),
            _ => token(Kind::Gt, at + 1),
        },
        Some(b'=') => token(Kind::Eq, at + 1),
        Some(b'+') => token(Kind::Plus, at + 1),
        Some(b'-') => token(Kind::Minus, at + 1),
        Some(b'(') => token(Kind::LParen, at + 1),
        Some(b')') => token(Kind::RParen, at + 1),
        Some(b'[') => token(Kind::LBracket, at + 1),
        Some(b']') => token(Kind::RBracket, at + 1),
        Some(b'.') => token(Kind::Dot, at + 1),
        Some(b',') => token(Kind::Comma, at + 1),
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {
            let end = name_end(bytes, at);
            token(keyword(src.get(at..end).unwrap_or("")), end)
        }
        _ => {
            let len = src
                .get(at..)
                .and_then(|rest| rest.chars().next())
                .map_or(1, char::len_utf8);
            Err(Unreadable {
                start: at,
                end: at + len,
            })
        }
    }
}

/// The keyword `word` is (case-insensitive), or an identifier.
fn keyword(word: &str) -> Kind {
    const KEYWORDS: [(&str, Kind); 9] = [
        ("AND", Kind::And),
        ("OR", Kind::Or),
        ("NOT", Kind::Not),
        ("BETWEEN", Kind::Between),
        ("IN", Kind::In),
        ("SET", Kind::Set),
        ("REMOVE", Kind::Remove),
        ("ADD", Kind::Add),
        ("DELETE", Kind::Delete),
    ];
    KEYWORDS
        .iter()
        .find(|(k, _)| word.eq_ignore_ascii_case(k))
        .map_or(Kind::Ident, |(_, kind)| *kind)
}

/// The tokens of `src`; on a character it cannot read, the tokens before it and the
/// character.
pub(super) fn tokenize(src: &str) -> Result<Vec<Token>, (Vec<Token>, Unreadable)> {
    let bytes = src.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if is_space(b) {
            i += 1;
            continue;
        }
        let token = match lex(src, i) {
            Ok(t) => t,
            Err(bad) => return Err((tokens, bad)),
        };
        tokens.push(token);
        i = token.end;
        if token.kind == Kind::LBracket {
            // A list index is read right after its `[`; one starting with 0 is the 0
            // alone, as DynamoDB reads it (`l[00]` leaves a second 0 it refuses).
            let digits = if bytes.get(i) == Some(&b'0') {
                1
            } else {
                bytes.get(i..).map_or(0, |rest| {
                    rest.iter().take_while(|b| b.is_ascii_digit()).count()
                })
            };
            if digits > 0 {
                tokens.push(Token {
                    kind: Kind::Number,
                    start: i,
                    end: i + digits,
                });
                i += digits;
            }
        }
    }
    Ok(tokens)
}

// ---------------------------------------------------------------------------------
// Syntax errors, worded as the engine words them
// ---------------------------------------------------------------------------------

/// `Syntax error; token: "x", near: "a x b"` for the span at `index` of `spans` (or
/// `<EOF>` past the last one): `near` runs from the start of the span before to the
/// end of the span after, with the expression's own spacing. The engine's
/// `syntax_error_at`, which follows DynamoDB's captured answers.
fn syntax_error(src: &str, spans: &[(usize, usize)], index: usize) -> String {
    let text = |a: usize, b: usize| src.get(a..b).unwrap_or("");
    let Some(&(start, end)) = spans.get(index) else {
        let near = spans.last().map_or(src, |&(a, b)| text(a, b));
        return format!(r#"Syntax error; token: "<EOF>", near: "{near}""#);
    };
    let from = index
        .checked_sub(1)
        .and_then(|i| spans.get(i))
        .map_or(start, |&(a, _)| a);
    let to = spans.get(index + 1).map_or(end, |&(_, b)| b);
    format!(
        r#"Syntax error; token: "{}", near: "{}""#,
        text(start, end),
        text(from, to)
    )
}

/// The syntax error at token `index` of `tokens`.
fn token_syntax_error(src: &str, tokens: &[Token], index: usize) -> String {
    let spans: Vec<(usize, usize)> = tokens.iter().map(|t| (t.start, t.end)).collect();
    syntax_error(src, &spans, index)
}

/// The syntax error for a character the tokenizer cannot read: it counts as a token of
/// its own, between the tokens before it and the next token (or unreadable character).
fn unreadable_error(src: &str, before: &[Token], bad: Unreadable) -> String {
    let mut spans: Vec<(usize, usize)> = before.iter().map(|t| (t.start, t.end)).collect();
    let index = spans.len();
    spans.push((bad.start, bad.end));
    let bytes = src.as_bytes();
    let mut next = bad.end;
    while bytes.get(next).is_some_and(|b| is_space(*b)) {
        next += 1;
    }
    if next < bytes.len() {
        spans.push(match lex(src, next) {
            Ok(t) => (t.start, t.end),
            Err(u) => (u.start, u.end),
        });
    }
    syntax_error(src, &spans, index)
}

// ---------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------

/// A document path: the tokens `start..end` of the expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Path {
    start: usize,
    end: usize,
}

/// One level of a document path, names resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Element<'a> {
    Attribute(&'a str),
    /// The index as written (the tokenizer allows no leading zeros, so equal text is
    /// an equal index).
    Index(&'a str),
}

/// Why a parse stopped.
#[derive(Debug)]
enum Fail {
    /// A syntax error at this token index (the token count: at the end).
    At(usize),
    /// The engine's own message (reserved word, unknown function, index out of range).
    Says(String),
}

/// A cursor over the tokens, with what every grammar here shares.
struct Cursor<'a> {
    src: &'a str,
    tokens: &'a [Token],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<Kind> {
        self.peek_at(0)
    }

    fn peek_at(&self, offset: usize) -> Option<Kind> {
        self.tokens.get(self.pos + offset).map(|t| t.kind)
    }

    fn text(&self, index: usize) -> &'a str {
        let src: &'a str = self.src;
        self.tokens
            .get(index)
            .and_then(|t| src.get(t.start..t.end))
            .unwrap_or("")
    }

    fn expect(&mut self, kind: Kind) -> Result<(), Fail> {
        if self.peek() == Some(kind) {
            self.pos += 1;
            Ok(())
        } else {
            Err(Fail::At(self.pos))
        }
    }

    /// A path: a name, then `.name` and `[n]` levels. The engine's `parse_raw_path`:
    /// a bare reserved word and an index past `usize` are its own errors.
    fn path(&mut self) -> Result<Path, Fail> {
        let start = self.pos;
        self.path_name()?;
        loop {
            match self.peek() {
                Some(Kind::Dot) => {
                    self.pos += 1;
                    self.path_name()?;
                }
                Some(Kind::LBracket) => {
                    self.pos += 1;
                    if self.peek() != Some(Kind::Number) {
                        return Err(Fail::At(self.pos));
                    }
                    let n = self.text(self.pos);
                    if n.parse::<usize>().is_err() {
                        return Err(Fail::Says(format!("Invalid index: {n}")));
                    }
                    self.pos += 1;
                    self.expect(Kind::RBracket)?;
                }
                _ => break,
            }
        }
        Ok(Path {
            start,
            end: self.pos,
        })
    }

    fn path_name(&mut self) -> Result<(), Fail> {
        match self.peek() {
            Some(Kind::Ident) => {
                let name = self.text(self.pos);
                if is_reserved(name) {
                    return Err(Fail::Says(format!(
                        "Attribute name is a reserved keyword; reserved keyword: {name}"
                    )));
                }
            }
            Some(Kind::Name) => {}
            _ => return Err(Fail::At(self.pos)),
        }
        self.pos += 1;
        Ok(())
    }

    /// The levels of `path`, `#name`s resolved through `names` (left as written when
    /// undefined: the caller has stopped at an undefined name before it compares).
    fn elements(&self, path: Path, names: &'a HashMap<String, String>) -> Vec<Element<'a>> {
        let src: &'a str = self.src;
        self.tokens
            .get(path.start..path.end)
            .unwrap_or(&[])
            .iter()
            .filter_map(|t| {
                let text = src.get(t.start..t.end).unwrap_or("");
                match t.kind {
                    Kind::Ident => Some(Element::Attribute(text)),
                    Kind::Name => Some(Element::Attribute(
                        names.get(text).map_or(text, String::as_str),
                    )),
                    Kind::Number => Some(Element::Index(text)),
                    _ => None,
                }
            })
            .collect()
    }

    /// Whether `path` names a `#name` the request does not define.
    fn undefined_name(&self, path: Path, names: &HashMap<String, String>) -> bool {
        self.tokens
            .get(path.start..path.end)
            .unwrap_or(&[])
            .iter()
            .any(|t| {
                t.kind == Kind::Name
                    && !names.contains_key(self.src.get(t.start..t.end).unwrap_or(""))
            })
    }

    /// How many levels `path` has.
    fn depth(&self, path: Path) -> usize {
        self.tokens
            .get(path.start..path.end)
            .unwrap_or(&[])
            .iter()
            .filter(|t| matches!(t.kind, Kind::Ident | Kind::Name | Kind::Number))
            .count()
    }
}

/// A path as DynamoDB prints it in a message: `[a, b, [0]]`.
fn print_path(elements: &[Element<'_>]) -> String {
    let parts: Vec<String> = elements
        .iter()
        .map(|e| match e {
            Element::Attribute(a) => (*a).to_string(),
            Element::Index(i) => format!("[{i}]"),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

fn nesting_message(depth: usize) -> String {
    format!("The document path has too many nesting levels; nesting levels: {depth}")
}

/// How two paths of one projection (or two update targets) clash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clash {
    /// One is the other or lies inside it.
    Overlap,
    /// One reads a level as a map, the other as a list.
    Conflict,
}

fn clash(a: &[Element<'_>], b: &[Element<'_>]) -> Option<Clash> {
    for (x, y) in a.iter().zip(b) {
        match (x, y) {
            _ if x == y => {}
            (Element::Attribute(_), Element::Attribute(_))
            | (Element::Index(_), Element::Index(_)) => return None,
            _ => return Some(Clash::Conflict),
        }
    }
    Some(Clash::Overlap)
}

/// The first two paths (in the order written, pair by pair as the engine walks them)
/// that clash, with how. Only paths that share their first level can clash, so the
/// pairs are taken within those groups: a long list of unrelated paths costs a sort,
/// not a comparison of every pair.
fn first_clash(paths: &[Vec<Element<'_>>]) -> Option<(usize, usize, Clash)> {
    let mut order: Vec<usize> = (0..paths.len()).collect();
    order.sort_by_key(|&i| (paths.get(i).and_then(|p| p.first().copied()), i));
    let mut best: Option<(usize, usize, Clash)> = None;
    for group in order.chunk_by(|&i, &j| {
        paths.get(i).and_then(|p| p.first()) == paths.get(j).and_then(|p| p.first())
    }) {
        for (n, &i) in group.iter().enumerate() {
            if best.is_some_and(|(bi, _, _)| bi < i) {
                break;
            }
            for &j in group.iter().skip(n + 1) {
                let (Some(a), Some(b)) = (paths.get(i), paths.get(j)) else {
                    continue;
                };
                if let Some(kind) = clash(a, b) {
                    if best.is_none_or(|(bi, bj, _)| (i, j) < (bi, bj)) {
                        best = Some((i, j, kind));
                    }
                    break;
                }
            }
        }
    }
    best
}

// ---------------------------------------------------------------------------------
// Condition, filter and key-condition expressions
// ---------------------------------------------------------------------------------

/// The deepest `(` nesting of `src`, counted on its bytes (a `)` never takes it below
/// zero). It bounds how deep the engine's parsers would recurse, whatever else the
/// expression holds.
pub(super) fn paren_depth(src: &str) -> usize {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    for b in src.bytes() {
        match b {
            b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The engine's redundant-parentheses rule: a group whose whole content is one group,
/// such as `((a = :v))`. The engine checks it before parsing.
fn has_redundant_parens(tokens: &[Token]) -> bool {
    let mut partner: Vec<Option<usize>> = vec![None; tokens.len()];
    let mut open = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        match t.kind {
            Kind::LParen => open.push(i),
            Kind::RParen => {
                if let Some(o) = open.pop()
                    && let Some(slot) = partner.get_mut(o)
                {
                    *slot = Some(i);
                }
            }
            _ => {}
        }
    }
    // Redundant when the token after a `(` is a `(` whose partner closes right before
    // the outer one's (only a `(` has a partner).
    (0..tokens.len()).any(|i| {
        let outer = partner.get(i).copied().flatten();
        let inner = partner.get(i + 1).copied().flatten();
        matches!((outer, inner), (Some(o), Some(n)) if n + 1 == o)
    })
}

/// An operand of a comparison or a function.
#[derive(Debug, Clone, Copy)]
enum Operand {
    Path(Path),
    /// `size(path)`.
    Size,
    /// A `:value`, by token index.
    Value(usize),
}

/// The grammar of a condition: the engine's `parse_or` / `parse_and` / `parse_not` /
/// `parse_primary`, as one loop. Only a group recurses in the engine; here a group is a
/// counter.
struct ConditionParser<'a> {
    cursor: Cursor<'a>,
    placeholders: &'a Placeholders,
    /// Whether the rules after the grammar apply (not to a key condition).
    semantics: bool,
    operators: usize,
    /// The first finding after the grammar, in the order the expression is read: an
    /// undefined placeholder (`Pass`: the engine names it) or a refusal.
    first: Option<Verdict>,
}

impl<'a> ConditionParser<'a> {
    fn operator(&mut self) {
        self.operators = self.operators.saturating_add(1);
    }

    fn note(&mut self, finding: Verdict) {
        if self.first.is_none() {
            self.first = Some(finding);
        }
    }

    fn noting(&self) -> bool {
        self.semantics && self.first.is_none()
    }

    fn run(&mut self) -> Result<(), Fail> {
        let mut open = 0usize;
        loop {
            // A unit: NOTs, then a group or a comparison or a function.
            while self.cursor.peek() == Some(Kind::Not) {
                self.cursor.pos += 1;
                self.operator();
            }
            if self.cursor.peek() == Some(Kind::LParen) {
                self.cursor.pos += 1;
                open += 1;
                continue;
            }
            self.atom()?;
            // After a unit: AND/OR another, close groups, or the end.
            loop {
                match self.cursor.peek() {
                    Some(Kind::And | Kind::Or) => {
                        self.cursor.pos += 1;
                        self.operator();
                        break;
                    }
                    Some(Kind::RParen) if open > 0 => {
                        self.cursor.pos += 1;
                        open -= 1;
                    }
                    None if open == 0 => return Ok(()),
                    _ => return Err(Fail::At(self.cursor.pos)),
                }
            }
        }
    }

    fn atom(&mut self) -> Result<(), Fail> {
        let c = &self.cursor;
        if c.peek() == Some(Kind::Ident) && c.peek_at(1) == Some(Kind::LParen) {
            let name = c.text(c.pos);
            let known = [
                "attribute_exists",
                "attribute_not_exists",
                "attribute_type",
                "begins_with",
                "contains",
                "size",
            ]
            .into_iter()
            .find(|f| name.eq_ignore_ascii_case(f));
            match known {
                // An operand-level function: read below, as the left operand.
                Some("size") => {}
                Some(function) => return self.function(function),
                _ => {
                    return Err(Fail::Says(format!(
                        "Invalid function name; function: {name}"
                    )));
                }
            }
        }
        let left = self.operand()?;
        match self.cursor.peek() {
            Some(Kind::Eq | Kind::Ne | Kind::Lt | Kind::Le | Kind::Gt | Kind::Ge) => {
                let op = self.cursor.text(self.cursor.pos);
                self.cursor.pos += 1;
                self.operator();
                let right = self.operand()?;
                self.distinct(op, left, right);
            }
            Some(Kind::Between) => {
                self.cursor.pos += 1;
                self.operator();
                self.operand()?;
                self.cursor.expect(Kind::And)?;
                self.operand()?;
            }
            Some(Kind::In) => {
                self.cursor.pos += 1;
                self.operator();
                self.cursor.expect(Kind::LParen)?;
                self.operand()?;
                let mut count = 1usize;
                while self.cursor.peek() == Some(Kind::Comma) {
                    self.cursor.pos += 1;
                    self.operand()?;
                    count += 1;
                }
                self.cursor.expect(Kind::RParen)?;
                if count > MAX_IN_OPERANDS && self.noting() {
                    self.note(Verdict::Refuse(format!(
                        "The IN operator is provided with too many operands; number of operands: {count}"
                    )));
                }
            }
            _ => return Err(Fail::At(self.cursor.pos)),
        }
        Ok(())
    }

    /// A condition function, its name already matched (and lower case).
    fn function(&mut self, name: &'static str) -> Result<(), Fail> {
        self.cursor.pos += 2;
        self.operator();
        match name {
            "attribute_exists" | "attribute_not_exists" => {
                let path = self.cursor.path()?;
                self.path_findings(path);
                self.close()
            }
            "attribute_type" => {
                let path = self.cursor.path()?;
                self.path_findings(path);
                self.cursor.expect(Kind::Comma)?;
                let type_name = self.operand()?;
                self.close()?;
                self.distinct(name, Operand::Path(path), type_name);
                self.type_name(type_name);
                Ok(())
            }
            _ => {
                let first = self.operand()?;
                self.cursor.expect(Kind::Comma)?;
                let second = self.operand()?;
                self.close()?;
                self.distinct(name, first, second);
                Ok(())
            }
        }
    }

    /// A function's `)`; a trailing comma fails at the `)`, where DynamoDB expects one
    /// more operand.
    fn close(&mut self) -> Result<(), Fail> {
        if self.cursor.peek() == Some(Kind::Comma) && self.cursor.peek_at(1) == Some(Kind::RParen) {
            self.cursor.pos += 1;
            return Err(Fail::At(self.cursor.pos));
        }
        self.cursor.expect(Kind::RParen)
    }

    fn operand(&mut self) -> Result<Operand, Fail> {
        let c = &self.cursor;
        match c.peek() {
            Some(Kind::Ident) if c.text(c.pos).eq_ignore_ascii_case("size") => {
                self.cursor.pos += 1;
                self.cursor.expect(Kind::LParen)?;
                self.operator();
                let path = self.cursor.path()?;
                self.path_findings(path);
                self.close()?;
                Ok(Operand::Size)
            }
            Some(Kind::Value) => {
                let index = c.pos;
                if self.noting() && !self.placeholders.values.contains_key(c.text(index)) {
                    self.note(Verdict::Pass);
                }
                self.cursor.pos += 1;
                Ok(Operand::Value(index))
            }
            Some(Kind::Ident | Kind::Name) => {
                let path = self.cursor.path()?;
                self.path_findings(path);
                Ok(Operand::Path(path))
            }
            _ => Err(Fail::At(c.pos)),
        }
    }

    /// A path's names must be defined (else the engine says which is not), then its
    /// depth within DynamoDB's limit.
    fn path_findings(&mut self, path: Path) {
        if !self.noting() {
            return;
        }
        if self.cursor.undefined_name(path, &self.placeholders.names) {
            self.note(Verdict::Pass);
        } else {
            let depth = self.cursor.depth(path);
            if depth > MAX_PATH_DEPTH {
                self.note(Verdict::Refuse(nesting_message(depth)));
            }
        }
    }

    /// DynamoDB refuses an operator or function whose first operand is the same path as
    /// its other one (`a = a`, `contains(#n, n)` with `#n` = `n`).
    fn distinct(&mut self, op: &str, first: Operand, other: Operand) {
        if !self.noting() {
            return;
        }
        let (Operand::Path(a), Operand::Path(b)) = (first, other) else {
            return;
        };
        let names = &self.placeholders.names;
        let a = self.cursor.elements(a, names);
        if a == self.cursor.elements(b, names) {
            let message = format!(
                "The first operand must be distinct from the remaining operands for this operator or function; operator: {op}, first operand: {}",
                print_path(&a)
            );
            self.note(Verdict::Refuse(message));
        }
    }

    /// `attribute_type`'s type must be one DynamoDB knows.
    fn type_name(&mut self, operand: Operand) {
        if !self.noting() {
            return;
        }
        let Operand::Value(index) = operand else {
            return;
        };
        if let Some(Placeholder::S(name)) = self.placeholders.values.get(self.cursor.text(index))
            && !TYPE_NAMES.contains(&name.as_str())
        {
            let message = format!(
                "Invalid attribute type name found; type: {name}, valid types: {{{}}}",
                TYPE_NAMES.join(",")
            );
            self.note(Verdict::Refuse(message));
        }
    }
}

/// Holds a condition-like expression (`ConditionExpression`, `FilterExpression`,
/// `KeyConditionExpression`) to the limits, in DynamoDB's order: the grammar first
/// (left to the engine), then the operator count, then, in the order the expression
/// reads, undefined placeholders (left to the engine), path depth, `IN` sizes,
/// repeated operands and `attribute_type` names.
///
/// An expression nested past [`MAX_PAREN_DEPTH`] is answered here whatever it holds,
/// with the message the engine gives the same fault in a shallow expression, so the
/// engine never parses it.
pub(super) fn check_condition(
    src: &str,
    kind: ConditionKind,
    placeholders: &Placeholders,
) -> Verdict {
    if src.len() > MAX_EXPRESSION_BYTES {
        return Verdict::Pass;
    }
    let deep = paren_depth(src) > MAX_PAREN_DEPTH;
    let fault = |message: String| {
        if deep {
            Verdict::Guard(message)
        } else {
            Verdict::Malformed
        }
    };
    // The engine's order: the tokenizer, the redundant-parentheses rule, the grammar.
    let tokens = match tokenize(src) {
        Ok(tokens) => tokens,
        Err((before, bad)) => return fault(unreadable_error(src, &before, bad)),
    };
    if has_redundant_parens(&tokens) {
        return fault("The expression has redundant parentheses;".to_string());
    }
    let mut parser = ConditionParser {
        cursor: Cursor {
            src,
            tokens: &tokens,
            pos: 0,
        },
        placeholders,
        semantics: kind == ConditionKind::Condition,
        operators: 0,
        first: None,
    };
    if let Err(fail) = parser.run() {
        return fault(match fail {
            Fail::At(index) => token_syntax_error(src, &tokens, index),
            Fail::Says(message) => message,
        });
    }
    if parser.operators > MAX_OPERATORS && kind != ConditionKind::GuardOnly {
        // DynamoDB stops counting at the first operator past the limit.
        let message = format!(
            "The expression contains too many operators; operator count: {}",
            MAX_OPERATORS + 1
        );
        return if deep {
            Verdict::Guard(message)
        } else {
            Verdict::Refuse(message)
        };
    }
    match parser.first {
        Some(Verdict::Refuse(message)) => Verdict::Refuse(message),
        // Nested past the bound yet valid, within the operator limit and without a
        // redundant group: the nesting is a function's or an IN list's parentheses,
        // which the engine reads without recursing. Safe to hand on.
        _ => Verdict::Pass,
    }
}

// ---------------------------------------------------------------------------------
// Projection expressions
// ---------------------------------------------------------------------------------

/// Holds a ProjectionExpression to the limits the engine lacks: path depth, and two
/// paths that conflict (one reads a level as a map, the other as a list). Overlapping
/// paths the engine refuses itself, in DynamoDB's words: when the first clashing pair
/// overlaps, the engine answers.
pub(super) fn check_projection(src: &str, placeholders: &Placeholders) -> Verdict {
    if src.len() > MAX_EXPRESSION_BYTES {
        return Verdict::Pass;
    }
    let Ok(tokens) = tokenize(src) else {
        return Verdict::Malformed;
    };
    let mut cursor = Cursor {
        src,
        tokens: &tokens,
        pos: 0,
    };
    let mut paths = Vec::new();
    loop {
        match cursor.path() {
            Ok(path) => paths.push(path),
            Err(_) => return Verdict::Malformed,
        }
        if cursor.peek() != Some(Kind::Comma) {
            break;
        }
        cursor.pos += 1;
    }
    if cursor.peek().is_some() {
        return Verdict::Malformed;
    }
    // Each path in turn: its names defined (else the engine says which is not), then
    // its depth.
    for &path in &paths {
        if cursor.undefined_name(path, &placeholders.names) {
            return Verdict::Pass;
        }
        let depth = cursor.depth(path);
        if depth > MAX_PATH_DEPTH {
            return Verdict::Refuse(nesting_message(depth));
        }
    }
    // Only a path with a list index can conflict with another.
    if !tokens.iter().any(|t| t.kind == Kind::Number) {
        return Verdict::Pass;
    }
    let resolved: Vec<Vec<Element<'_>>> = paths
        .iter()
        .map(|&p| cursor.elements(p, &placeholders.names))
        .collect();
    match first_clash(&resolved) {
        Some((i, j, Clash::Conflict)) => Verdict::Refuse(format!(
            "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: {}, path two: {}",
            print_path(resolved.get(i).map_or(&[][..], Vec::as_slice)),
            print_path(resolved.get(j).map_or(&[][..], Vec::as_slice)),
        )),
        _ => Verdict::Pass,
    }
}

// ---------------------------------------------------------------------------------
// Update expressions
// ---------------------------------------------------------------------------------

/// What an update's SET operand is waiting for, on the explicit stack that replaces
/// the engine's recursion (`if_not_exists`, `list_append` and groups nest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    /// After a value's first operand: `+`/`-` and a second one, or the value is done.
    ValueTail,
    /// After a value's second operand: the value is done.
    ValueEnd,
    /// A group's value is done: its `)`.
    GroupClose,
    /// `if_not_exists`'s default is done: its `)`.
    IfNotExistsClose,
    /// `list_append`'s first operand is done: `,` and the second.
    ListAppendComma,
    /// `list_append`'s second operand is done: its `)`.
    ListAppendClose,
}

/// The engine's update grammar (`update::parse`), as a loop: each of SET, REMOVE, ADD
/// and DELETE once, with their actions.
struct UpdateParser<'a> {
    cursor: Cursor<'a>,
    /// The paths an action writes, in order.
    targets: Vec<Path>,
    /// Every path, targets and operands, in order.
    paths: Vec<Path>,
    /// Every `:value`, by token index.
    values: Vec<usize>,
}

impl UpdateParser<'_> {
    fn run(&mut self) -> Result<(), Fail> {
        if self.cursor.peek().is_none() {
            return Err(Fail::At(0));
        }
        let mut seen = [false; 4];
        while let Some(kind) = self.cursor.peek() {
            let clause = match kind {
                Kind::Set => 0,
                Kind::Remove => 1,
                Kind::Add => 2,
                Kind::Delete => 3,
                _ => return Err(Fail::At(self.cursor.pos)),
            };
            if let Some(s) = seen.get_mut(clause) {
                if *s {
                    return Err(Fail::At(self.cursor.pos));
                }
                *s = true;
            }
            self.cursor.pos += 1;
            loop {
                self.target()?;
                match clause {
                    0 => {
                        self.cursor.expect(Kind::Eq)?;
                        self.set_value()?;
                    }
                    2 | 3 => self.value()?,
                    _ => {}
                }
                if self.cursor.peek() != Some(Kind::Comma) {
                    break;
                }
                self.cursor.pos += 1;
            }
        }
        Ok(())
    }

    fn target(&mut self) -> Result<(), Fail> {
        let path = self.cursor.path()?;
        self.targets.push(path);
        self.paths.push(path);
        Ok(())
    }

    fn value(&mut self) -> Result<(), Fail> {
        if self.cursor.peek() != Some(Kind::Value) {
            return Err(Fail::At(self.cursor.pos));
        }
        self.values.push(self.cursor.pos);
        self.cursor.pos += 1;
        Ok(())
    }

    /// A SET action's value, nesting on `stack` rather than the call stack.
    fn set_value(&mut self) -> Result<(), Fail> {
        let mut stack = vec![Pending::ValueTail];
        loop {
            // Read the start of an operand; a nested one pushes what follows it.
            if self.operand_start(&mut stack)? {
                continue;
            }
            // The operand is complete: unwind what was waiting for it.
            loop {
                let Some(pending) = stack.pop() else {
                    return Ok(());
                };
                match pending {
                    Pending::ValueTail => {
                        if matches!(self.cursor.peek(), Some(Kind::Plus | Kind::Minus)) {
                            self.cursor.pos += 1;
                            stack.push(Pending::ValueEnd);
                            break;
                        }
                        // The value is complete: a group around it closes next.
                        if self.close_group(&mut stack)? {
                            continue;
                        }
                        return Ok(());
                    }
                    Pending::ValueEnd => {
                        if self.close_group(&mut stack)? {
                            continue;
                        }
                        return Ok(());
                    }
                    Pending::IfNotExistsClose | Pending::ListAppendClose => {
                        self.cursor.expect(Kind::RParen)?;
                    }
                    Pending::ListAppendComma => {
                        self.cursor.expect(Kind::Comma)?;
                        stack.push(Pending::ListAppendClose);
                        break;
                    }
                    Pending::GroupClose => return Err(Fail::At(self.cursor.pos)),
                }
            }
        }
    }

    /// After a complete value: the `)` of the group it is in, if it is in one (then
    /// the group is a complete operand: `true`). At the top, the action is done.
    fn close_group(&mut self, stack: &mut Vec<Pending>) -> Result<bool, Fail> {
        match stack.last() {
            Some(Pending::GroupClose) => {
                stack.pop();
                self.cursor.expect(Kind::RParen)?;
                Ok(true)
            }
            None => Ok(false),
            Some(_) => Err(Fail::At(self.cursor.pos)),
        }
    }

    /// Reads an operand's start. `true` when it opened a nesting (pushed on `stack`)
    /// and another operand starts next; `false` when the operand is complete.
    fn operand_start(&mut self, stack: &mut Vec<Pending>) -> Result<bool, Fail> {
        let c = &self.cursor;
        match c.peek() {
            Some(Kind::Ident) => {
                let name = c.text(c.pos);
                let call = c.peek_at(1) == Some(Kind::LParen);
                if name.eq_ignore_ascii_case("if_not_exists") {
                    self.cursor.pos += 1;
                    self.cursor.expect(Kind::LParen)?;
                    let c = &self.cursor;
                    let function_first = c.peek() == Some(Kind::Ident)
                        && ["if_not_exists", "list_append"]
                            .iter()
                            .any(|f| c.text(c.pos).eq_ignore_ascii_case(f));
                    if c.peek() == Some(Kind::Value) || function_first {
                        return Err(Fail::Says("requires a document path".into()));
                    }
                    let path = self.cursor.path()?;
                    self.paths.push(path);
                    self.cursor.expect(Kind::Comma)?;
                    stack.push(Pending::IfNotExistsClose);
                    Ok(true)
                } else if name.eq_ignore_ascii_case("list_append") {
                    self.cursor.pos += 1;
                    self.cursor.expect(Kind::LParen)?;
                    stack.push(Pending::ListAppendComma);
                    Ok(true)
                } else if call {
                    Err(Fail::Says(format!(
                        "Invalid function name; function: {name}"
                    )))
                } else {
                    let path = self.cursor.path()?;
                    self.paths.push(path);
                    Ok(false)
                }
            }
            Some(Kind::LParen) => {
                self.cursor.pos += 1;
                stack.push(Pending::GroupClose);
                stack.push(Pending::ValueTail);
                Ok(true)
            }
            Some(Kind::Value) => {
                self.value()?;
                Ok(false)
            }
            Some(Kind::Name) => {
                let path = self.cursor.path()?;
                self.paths.push(path);
                Ok(false)
            }
            _ => Err(Fail::At(c.pos)),
        }
    }
}

/// Holds an UpdateExpression to DynamoDB's path depth, which the engine does not check
/// (it fails such an update only against the item, in other words). Only a well-formed
/// expression whose placeholders are all defined and whose targets do not clash gets
/// here: the engine answers those faults first, as DynamoDB does.
pub(super) fn check_update(src: &str, placeholders: &Placeholders) -> Verdict {
    if src.len() > MAX_EXPRESSION_BYTES {
        return Verdict::Pass;
    }
    let Ok(tokens) = tokenize(src) else {
        return Verdict::Malformed;
    };
    let mut parser = UpdateParser {
        cursor: Cursor {
            src,
            tokens: &tokens,
            pos: 0,
        },
        targets: Vec::new(),
        paths: Vec::new(),
        values: Vec::new(),
    };
    if parser.run().is_err() {
        return Verdict::Malformed;
    }
    let cursor = &parser.cursor;
    let names = &placeholders.names;
    if parser
        .paths
        .iter()
        .any(|&p| cursor.undefined_name(p, names))
        || parser
            .values
            .iter()
            .any(|&v| !placeholders.values.contains_key(cursor.text(v)))
    {
        return Verdict::Pass;
    }
    let targets: Vec<Vec<Element<'_>>> = parser
        .targets
        .iter()
        .map(|&p| cursor.elements(p, names))
        .collect();
    if first_clash(&targets).is_some() {
        return Verdict::Pass;
    }
    parser
        .paths
        .iter()
        .map(|&p| cursor.depth(p))
        .find(|&depth| depth > MAX_PATH_DEPTH)
        .map_or(Verdict::Pass, |depth| {
            Verdict::Refuse(nesting_message(depth))
        })
}
