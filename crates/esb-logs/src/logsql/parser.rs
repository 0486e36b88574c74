//! The parser: a recursive-descent port of VictoriaLogs' own (lib/logstorage/parser.go),
//! so that precedence, implicit AND and the fine print of where whitespace matters agree.
//! It also enforces the limits against hostile queries.

use std::ops::Bound;

use regex::{Regex, RegexBuilder};

use super::ast::{Filter, LabelMatcher, LabelOp, Query, Sort, StreamSelector, canon};
use super::error::{LogsqlError, Result};
use super::lexer::{Token, lex};
use super::number::parse_number;
use super::time_args::{TimePoint, parse_duration, parse_time_text, starts_with_year, sub_ns};
use super::words::is_word;

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
