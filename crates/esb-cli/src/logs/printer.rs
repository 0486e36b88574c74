//! How `esb logs` prints records: `TIME FUNCTION LEVEL [REQUEST] MESSAGE`, coloured on
//! a terminal (unless `NO_COLOR`), or the store's JSON lines unchanged (`--json`).

use std::io::{IsTerminal, Write};

use anyhow::{Context, Result};
use time::OffsetDateTime;

use super::line::Line;

/// Widest function column; longer names push the line to the right.
const MAX_FUNCTION_WIDTH: usize = 24;

/// How records are printed.
pub(super) struct Printer {
    json: bool,
    colour: bool,
    dates: bool,
    width: usize,
}

const RESET: &str = "\u{1b}[0m";
const DIM: &str = "\u{1b}[2m";
const RED: &str = "\u{1b}[31m";
const YELLOW: &str = "\u{1b}[33m";
const CYAN: &str = "\u{1b}[36m";

/// Standard output has been closed by its reader (`esb logs | head`).
#[derive(Debug, thiserror::Error)]
#[error("standard output is closed")]
pub(super) struct OutputClosed;

impl Printer {
    pub(super) fn new(
        json: bool,
        tail: &[Line],
        functions: Option<&[String]>,
        since: Option<i64>,
        now_ns: i64,
    ) -> Self {
        let colour = std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let day = |ns: i64| {
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
                .ok()
                .map(OffsetDateTime::date)
        };
        // Dates are printed when the records may span days.
        let today = day(now_ns);
        let dates = since.is_some_and(|s| day(s) != today)
            || tail
                .first()
                .and_then(|l| l.time_ns)
                .is_some_and(|ns| day(ns) != today);
        let width = functions
            .into_iter()
            .flatten()
            .map(String::len)
            .chain(tail.iter().filter_map(|l| l.function().map(|f| f.len())))
            .max()
            .unwrap_or(0)
            .clamp(4, MAX_FUNCTION_WIDTH);
        Self {
            json,
            colour,
            dates,
            width,
        }
    }

    pub(super) fn emit(&self, out: &mut impl Write, line: &Line) -> Result<()> {
        let mut text = if self.json {
            line.raw.clone()
        } else {
            self.format(line)
        };
        text.push('\n');
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(OutputClosed.into()),
            other => other.context("cannot write to standard output"),
        }
    }

    /// `TIME FUNCTION LEVEL [REQUEST] MESSAGE`.
    fn format(&self, line: &Line) -> String {
        let time = match line
            .time_ns
            .and_then(|ns| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns)).ok())
        {
            Some(t) if self.dates => format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.millisecond()
            ),
            Some(t) => format!(
                "{:02}:{:02}:{:02}.{:03}",
                t.hour(),
                t.minute(),
                t.second(),
                t.millisecond()
            ),
            None => line.text("_time").unwrap_or_else(|| "-".into()),
        };
        let function = line.function().unwrap_or_else(|| "-".into());
        let level = line
            .text("level")
            .map(|l| l.to_ascii_uppercase())
            .unwrap_or_default();
        let request = line
            .text("aws_request_id")
            .filter(|r| !r.is_empty())
            .map(|r| format!("{} ", r.chars().take(8).collect::<String>()))
            .unwrap_or_default();
        // Lambda's runtimes end the lines of one record with \r (a stack trace, say).
        let msg = line
            .text("_msg")
            .unwrap_or_default()
            .replace("\r\n", "\n")
            .replace('\r', "\n");
        let msg = msg.strip_suffix('\n').unwrap_or(&msg);
        let width = self.width;
        if !self.colour {
            return format!("{time} {function:<width$} {level:<5} {request}{msg}");
        }
        if line.text("type").as_deref() == Some("platform") {
            return format!("{DIM}{time} {function:<width$} {level:<5} {request}{msg}{RESET}");
        }
        let level_colour = match level.as_str() {
            "ERROR" | "FATAL" | "CRITICAL" => RED,
            "WARN" | "WARNING" => YELLOW,
            "DEBUG" | "TRACE" => DIM,
            _ => "",
        };
        let level = if level_colour.is_empty() {
            format!("{level:<5}")
        } else {
            format!("{level_colour}{level:<5}{RESET}")
        };
        format!("{time} {CYAN}{function:<width$}{RESET} {level} {request}{msg}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::line::sample as line;

    #[test]
    fn printed_lines_have_time_function_level_request_and_message() {
        let p = Printer {
            json: false,
            colour: false,
            dates: false,
            width: 6,
        };
        let l = Line::from_json(
            &serde_json::json!({
                "_time": "2026-11-29T08:00:01.234567891Z",
                "_stream": "{function=\"echo\",job=\"lambda\"}",
                "_msg": "hello\nworld",
                "level": "info",
                "aws_request_id": "1234567890abcdef",
            })
            .to_string(),
        );
        assert_eq!(
            p.format(&l),
            "08:00:01.234 echo   INFO  12345678 hello\nworld"
        );
        let trace = line(
            "2026-11-29T08:00:01Z",
            "{function=\"echo\"}",
            "[ERROR] boom\rTraceback:\r  line 1\n",
        );
        assert_eq!(
            p.format(&trace),
            "08:00:01.000 echo         [ERROR] boom\nTraceback:\n  line 1"
        );
    }
}
