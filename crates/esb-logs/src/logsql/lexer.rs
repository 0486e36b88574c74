//! VictoriaLogs' tokens. Words (runs of word characters), quoted strings, `=~`, `!~`,
//! `!=`, and every other character on its own. Whether whitespace preceded a token
//! matters: `err*` is a prefix filter, `err *` two filters.

use super::error::{LogsqlError, Result};
use super::words::is_token_char;

#[derive(Debug)]
pub(super) struct Token {
    /// The token, unquoted.
    pub(super) text: String,
    /// Byte range in the query.
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) quoted: bool,
    pub(super) space_before: bool,
}

pub(super) fn lex(src: &str) -> Result<Vec<Token>> {
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
