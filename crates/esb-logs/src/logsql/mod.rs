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
//!
//! Here: the public surface. The query's data types are in `ast`, the errors in `error`;
//! `lexer` cuts the query into tokens and `parser` builds the filter from them (reading
//! `_time` arguments with `time_args` and numbers with `number`); `matcher` decides
//! whether a record matches, `requirements` tells what every match must have (for the
//! store's indexes), and `words` holds LogsQL's notion of a word, which all of them share.

mod ast;
mod error;
mod lexer;
mod matcher;
mod number;
mod parser;
mod requirements;
#[cfg(test)]
mod tests;
mod time_args;
mod words;

pub use ast::{Filter, LabelMatcher, LabelOp, Query, Sort, StreamSelector};
pub use error::LogsqlError;
pub use parser::{MAX_DEPTH, MAX_QUERY_LEN, MAX_REGEX_SIZE, MAX_REGEXES, parse};
pub use requirements::Required;
pub use words::words;
