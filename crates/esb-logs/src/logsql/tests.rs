//! LogsQL end to end: queries parsed, then matched against records, their time bounds
//! and their errors checked as a user would see them.

use serde_json::{Map, Value};

use super::number::parse_number;
use super::time_args::{NS_PER_SEC, parse_duration};
use super::*;
use crate::record::Record;

const NOW: i64 = 1_700_000_000 * NS_PER_SEC;
const MIN: i64 = 60 * NS_PER_SEC;

fn rec(msg: &str) -> Record {
    Record {
        time_ns: NOW - 1,
        msg: msg.to_string(),
        stream: Vec::new(),
        fields: Map::new(),
    }
}

fn with_fields(msg: &str, fields: &[(&str, Value)]) -> Record {
    let mut r = rec(msg);
    for (k, v) in fields {
        r.fields.insert((*k).to_string(), v.clone());
    }
    r
}

fn with_stream(msg: &str, labels: &[(&str, &str)]) -> Record {
    let mut r = rec(msg);
    r.stream = labels
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    r.stream.sort();
    r
}

fn at(time_ns: i64) -> Record {
    Record {
        time_ns,
        ..rec("x")
    }
}

fn q(query: &str) -> Query {
    parse(query, NOW).unwrap_or_else(|e| panic!("{query:?} must parse: {e}"))
}

fn m(query: &str, r: &Record) -> bool {
    q(query).filter.matches(r)
}

fn err(query: &str) -> String {
    match parse(query, NOW) {
        Ok(parsed) => panic!("{query:?} must be rejected, got {parsed:?}"),
        Err(e) => e.to_string(),
    }
}

fn bounds(query: &str) -> (Option<i64>, Option<i64>) {
    q(query).filter.time_bounds()
}

/// Nanoseconds of an RFC 3339 time, for readable expectations.
fn ts(s: &str) -> i64 {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .expect("time");
    i64::try_from(t.unix_timestamp_nanos()).expect("in range")
}

#[test]
fn word_filter_matches_whole_case_sensitive_words() {
    for msg in [
        "error",
        "an error happened",
        "error: cannot open file",
        "x(error)",
        "ошибка error",
    ] {
        assert!(m("error", &rec(msg)), "{msg}");
    }
    for msg in [
        "ERROR",
        "multiple errors occurred",
        "fooerror",
        "error_x",
        "err",
    ] {
        assert!(!m("error", &rec(msg)), "{msg}");
    }
    assert!(m("тест", &rec("foo: (bar,\"тест\")!")));
}

#[test]
fn phrase_filter_needs_the_whole_phrase_at_word_boundaries() {
    let f = "\"ssh: login fail\"";
    assert!(m(f, &rec("ERROR: ssh: login fail for user \"foobar\"")));
    assert!(m(f, &rec("ssh: login fail!")));
    for msg in [
        "ssh login fail",
        "login fail: ssh error",
        "ssh: login failed",
        "SSH: login fail",
    ] {
        assert!(!m(f, &rec(msg)), "{msg}");
    }
    assert!(m("'\"foo\":\"bar\"'", &rec("x {\"foo\":\"bar\"} y")));
    assert!(m("\"and\"", &rec("this and that")));
    // Unquoted words glue with `-`, `.`, `/`, `:` into one phrase.
    assert!(m("foo-bar", &rec("x foo-bar y")));
    assert!(!m("foo-bar", &rec("x foo bar y")));
    assert!(m(
        "addr:127.0.0.1:8080",
        &with_fields("", &[("addr", "127.0.0.1:8080".into())])
    ));
    // Unquoted at the top level, the first `:` ends the field name, as in VictoriaLogs.
    assert!(
        matches!(q("127.0.0.1:8080").filter, Filter::Phrase { ref field, .. } if field == "127.0.0.1")
    );
}

#[test]
fn prefix_and_substring_filters() {
    assert!(m("err*", &rec("err: foobar")));
    assert!(m("err*", &rec("cannot open file: error occurred")));
    assert!(!m("err*", &rec("Error: foobar")));
    assert!(!m("err*", &rec("fooerror")));
    assert!(m("\"unexpected fail\"*", &rec("error:unexpected failure")));
    assert!(!m("\"unexpected fail\"*", &rec("unexpectedly failed")));
    assert!(m("*ampl*", &rec("Example message")));
    assert!(!m("*ampl*", &rec("EXAMPLE")));
    assert!(m(
        "level:err*",
        &with_fields("", &[("level", "error".into())])
    ));
}

#[test]
fn case_insensitive_filter() {
    for msg in [
        "unknown error happened",
        "ERROR: cannot read file",
        "An ErRoR occurred",
    ] {
        assert!(m("i(error)", &rec(msg)), "{msg}");
    }
    assert!(!m("i(error)", &rec("FooError")));
    assert!(!m("i(error)", &rec("too many Errors")));
    assert!(m("i(error*)", &rec("too many Errors")));
    assert!(m("i(\"Login FAIL\")", &rec("ssh: login fail")));
    assert!(m(
        "level:i(WARN)",
        &with_fields("", &[("level", "warn".into())])
    ));
    // Without parentheses `i` is an ordinary word.
    assert!(m("i", &rec("i am here")));
}

#[test]
fn exact_filters() {
    let r = rec("fatal error: cannot find /foo/bar");
    assert!(m("=\"fatal error: cannot find /foo/bar\"", &r));
    assert!(!m("=\"fatal error\"", &r));
    assert!(m("=\"fatal error\"*", &r));
    assert!(m("exact(\"fatal error\"*)", &r));
    assert!(m("!=\"fatal error\"", &r));
    let r = with_fields("x", &[("log.level", "error".into())]);
    assert!(m("log.level:=error", &r));
    assert!(m("log.level:=\"err\"*", &r));
    assert!(m("log.level:exact(error)", &r));
    assert!(!m("log.level:=err", &r));
    assert!(m("log.level:!=warn", &r));
    assert!(m("\"log.level\":=\"error\"", &r));
    assert!(m("log.level:in(warn, error)", &r));
    assert!(!m("log.level:in(warn, \"fatal\")", &r));
    assert!(m("log.level:in(*)", &r));
}

#[test]
fn field_filters_and_missing_fields() {
    let r = with_fields(
        "hello",
        &[
            ("level", "error".into()),
            ("code", 503.into()),
            ("empty", "".into()),
        ],
    );
    assert!(m("level:error", &r));
    assert!(m("level:\"error\"", &r));
    assert!(m("\"level\":error", &r));
    assert!(m("code:503", &r));
    assert!(m("_msg:hello", &r));
    assert!(m("host:\"\"", &r), "missing field is empty");
    assert!(m("empty:\"\"", &r));
    assert!(!m("level:\"\"", &r));
    assert!(m("level:*", &r));
    assert!(!m("empty:*", &r));
    assert!(!m("host:*", &r));
    assert!(m("*", &rec("")), "`*` selects even an empty message");
    assert!(m(
        "\"ip:remote\":\"1.2.3.45\"",
        &with_fields("", &[("ip:remote", "1.2.3.45".into())])
    ));
    assert!(m("level:(warn OR error)", &r));
    assert!(!m("level:(warn OR info)", &r));
    assert!(m("-host:error", &r));
}

#[test]
fn regexp_filters() {
    for msg in [
        "error: cannot read data",
        "2 warnings have been raised",
        "data transferring finished",
    ] {
        assert!(m("~\"err|warn\"", &rec(msg)), "{msg}");
    }
    assert!(!m("~\"err|warn\"", &rec("ERROR: cannot open file")));
    assert!(m("~\"(?i)(err|warn)\"", &rec("ERROR: cannot open file")));
    let r = with_fields("", &[("path", "/api/v1/users".into())]);
    assert!(m("path:~\"^/api/v[0-9]+/\"", &r));
    assert!(m("path:!~\"^/admin\"", &r));
    assert!(m("path:re(\"users$\")", &r));
    assert!(m("path:~\".+\"", &r));
    assert!(!m("host:~\".+\"", &r));
    assert!(matches!(q("~\".*\"").filter, Filter::All));
    assert!(err("~\"(unclosed\"").contains("invalid regular expression"));
    assert!(err("~-foo").contains("quotes"));
}

#[test]
fn comparison_filters() {
    let r = with_fields(
        "",
        &[
            ("code", 503.into()),
            ("size", "20480".into()),
            ("user", "Alice".into()),
        ],
    );
    assert!(m("code:>=500", &r));
    assert!(m("code:>500", &r));
    assert!(!m("code:<500", &r));
    assert!(m("code:<=503", &r));
    assert!(!m("code:<503", &r));
    assert!(m("size:>10KiB", &r));
    assert!(!m("size:>20KiB", &r));
    assert!(m("size:<1_000_000", &r));
    assert!(m("user:<\"John\"", &r));
    assert!(!m("user:>\"John\"", &r));
    assert!(
        !m("user:>5", &r),
        "non-numbers never match numeric comparisons"
    );
    assert!(err("> 5").contains("field:>value"));
    assert!(m("code: > 5", &r), "with a field, whitespace is fine");
}

#[test]
fn stream_filters() {
    let r = with_stream("hi", &[("function", "echo"), ("job", "esb")]);
    assert!(m("_stream:{function=\"echo\"}", &r));
    assert!(m("{function=\"echo\",job=\"esb\"}", &r));
    assert!(m("{function=\"echo\", job=\"esb\"} hi", &r));
    assert!(!m("{function=\"echo\",job=\"other\"}", &r));
    assert!(m("{function!=\"other\"}", &r));
    assert!(m("{function=~\"ec.*\"}", &r));
    assert!(!m("{function=~\"ch\"}", &r), "stream regexps are anchored");
    assert!(m("{function!~\"x.*\"}", &r));
    assert!(m("{function=\"other\" or job=\"esb\"}", &r));
    assert!(m("{function in (\"a\", \"echo\")}", &r));
    assert!(!m("{function not_in (\"echo\")}", &r));
    assert!(m("{missing=\"\"}", &r));
    assert!(m("{}", &r));
    assert!(
        !m(
            "{function=\"echo\"}",
            &with_fields("hi", &[("function", "echo".into())])
        ),
        "fields are not stream labels"
    );
}

#[test]
fn required_stream_comes_from_top_level_and_only() {
    assert_eq!(
        q("error _stream:{function=\"echo\"} {job=\"esb\", x=~\"y\", function=\"echo\"}")
            .filter
            .required_stream(),
        vec![
            ("function".into(), "echo".into()),
            ("job".into(), "esb".into())
        ]
    );
    assert_eq!(
        q("{function=\"echo\"}").filter.required_stream(),
        vec![("function".into(), "echo".into())]
    );
    assert_eq!(
        q("(error {a=\"b\"}) c").filter.required_stream(),
        vec![("a".into(), "b".into())],
        "nested ANDs flatten"
    );
    for query in [
        "{a=\"b\"} OR error",
        "NOT {a=\"b\"}",
        "{a=\"b\" or a=\"c\"}",
        "{a!=\"b\"}",
        "{a=\"\"}",
        "a:b",
    ] {
        assert!(q(query).filter.required_stream().is_empty(), "{query}");
    }
}

#[test]
fn precedence_not_and_or() {
    // `NOT info OR debug` is `(NOT info) OR debug`.
    assert!(m("NOT info OR debug", &rec("info debug")));
    assert!(m("NOT info OR debug", &rec("other")));
    assert!(!m("NOT info OR debug", &rec("info")));
    assert!(!m("NOT (info OR debug)", &rec("info debug")));
    // `error -buggy_app OR foobar` is `(error AND NOT buggy_app) OR foobar`.
    let f = "error -buggy_app OR foobar";
    assert!(m(f, &rec("foobar")));
    assert!(m(f, &rec("error")));
    assert!(!m(f, &rec("error buggy_app")));
    assert!(m(f, &rec("error buggy_app foobar")));
    // AND binds tighter than OR.
    assert!(m("a OR b AND c", &rec("a")));
    assert!(!m("a OR b AND c", &rec("b")));
    assert!(!m("(a OR b) AND c", &rec("a")));
    assert!(m("(a OR b) AND c", &rec("b c")));
    // Keywords are case-insensitive; `!`, `-` and `NOT` are the same.
    for f in [
        "error and not warn",
        "error AND !warn",
        "error -warn",
        "error !warn",
        "error NOT(warn)",
    ] {
        assert!(m(f, &rec("error")), "{f}");
        assert!(!m(f, &rec("error warn")), "{f}");
    }
    assert!(m(
        "_time:5m error -(buggy_app OR foobar)",
        &rec("error here")
    ));
    assert!(m("NOT NOT error", &rec("error")));
    assert!(err("error AND").contains("end of query"));
    assert!(err("error OR or").contains("quote"));
}

#[test]
fn relative_time_filters() {
    assert_eq!(bounds("_time:5m"), (Some(NOW - 5 * MIN), Some(NOW)));
    assert_eq!(bounds("_time:1h30m"), (Some(NOW - 90 * MIN), Some(NOW)));
    assert_eq!(
        bounds("_time:2.5d15m42.345s").0,
        Some(NOW - (216_000 + 900 + 42) * NS_PER_SEC - 345_000_000)
    );
    assert_eq!(bounds("_time:500ms"), (Some(NOW - 500_000_000), Some(NOW)));
    assert_eq!(bounds("_time:1w").0, Some(NOW - 7 * 1440 * MIN));
    assert_eq!(bounds("_time:1y").0, Some(NOW - 365 * 1440 * MIN));
    assert_eq!(bounds("_time:>5m"), (None, Some(NOW - 5 * MIN)));
    assert_eq!(bounds("_time:>=5m"), (None, Some(NOW - 5 * MIN + 1)));
    assert_eq!(bounds("_time:<5m"), (Some(NOW - 5 * MIN + 1), Some(NOW)));
    assert_eq!(
        bounds("_time:5m offset 1h"),
        (Some(NOW - 65 * MIN), Some(NOW - 60 * MIN))
    );
    assert_eq!(bounds("_time:offset 1h"), (None, Some(NOW - 60 * MIN + 1)));
    assert_eq!(bounds("\"_time\":\"5m\""), (Some(NOW - 5 * MIN), Some(NOW)));
    let f = q("_time:5m").filter;
    assert!(f.matches(&at(NOW - 5 * MIN)));
    assert!(f.matches(&at(NOW - 1)));
    assert!(!f.matches(&at(NOW)));
    assert!(!f.matches(&at(NOW - 5 * MIN - 1)));
    assert!(err("_time:5x").contains("invalid duration"));
    assert!(err("_time:").contains("end of query"));
}

#[test]
fn absolute_time_filters() {
    let day = (
        Some(ts("2024-01-15T00:00:00Z")),
        Some(ts("2024-01-16T00:00:00Z")),
    );
    assert_eq!(bounds("_time:2024-01-15Z"), day);
    assert_eq!(bounds("_time:2024-01-15"), day, "no zone is UTC here");
    assert_eq!(
        bounds("_time:2024-02Z"),
        (
            Some(ts("2024-02-01T00:00:00Z")),
            Some(ts("2024-03-01T00:00:00Z"))
        )
    );
    assert_eq!(bounds("_time:2024-12Z").1, Some(ts("2025-01-01T00:00:00Z")));
    assert_eq!(
        bounds("_time:2024Z"),
        (
            Some(ts("2024-01-01T00:00:00Z")),
            Some(ts("2025-01-01T00:00:00Z"))
        )
    );
    assert_eq!(
        bounds("_time:2024-01-15T10Z").1,
        Some(ts("2024-01-15T11:00:00Z"))
    );
    assert_eq!(
        bounds("_time:2024-01-15T10:30Z").1,
        Some(ts("2024-01-15T10:31:00Z"))
    );
    assert_eq!(
        bounds("_time:2024-01-15T10:30:15Z").1,
        Some(ts("2024-01-15T10:30:16Z"))
    );
    assert_eq!(
        bounds("_time:2024-01-15T10:30:15.123Z").1,
        Some(ts("2024-01-15T10:30:15.124Z"))
    );
    assert_eq!(
        bounds("_time:2023-04-25+05:30"),
        (
            Some(ts("2023-04-24T18:30:00Z")),
            Some(ts("2023-04-25T18:30:00Z"))
        )
    );
    assert_eq!(
        bounds("_time:2023-02-07:00").0,
        Some(ts("2023-02-01T07:00:00Z"))
    );
    assert_eq!(
        bounds("_time:[2024-01-01T00:00:00Z, 2024-01-02T00:00:00Z)"),
        (
            Some(ts("2024-01-01T00:00:00Z")),
            Some(ts("2024-01-02T00:00:00Z"))
        )
    );
    assert_eq!(
        bounds("_time:[2023-04-01Z, 2023-04-30Z]"),
        bounds("_time:2023-04Z"),
        "an inclusive end covers its whole period"
    );
    assert_eq!(
        bounds("_time:(2024-01-01T00:00:00Z, 2024-01-02T00:00:00Z]"),
        (
            Some(ts("2024-01-01T00:00:00Z") + 1),
            Some(ts("2024-01-02T00:00:01Z"))
        )
    );
    assert_eq!(
        bounds("_time:>2024-01-01T00:00:00Z"),
        (Some(ts("2024-01-01T00:00:00Z") + 1), None)
    );
    assert_eq!(
        bounds("_time:>=2024-01-01Z"),
        (Some(ts("2024-01-01T00:00:00Z")), None)
    );
    assert_eq!(
        bounds("_time:<2024-01-01Z"),
        (None, Some(ts("2024-01-01T00:00:00Z")))
    );
    assert_eq!(
        bounds("_time:<=2024-01-01Z"),
        (None, Some(ts("2024-01-02T00:00:00Z")))
    );
    assert_eq!(
        bounds("_time:[now-1h, now]"),
        (Some(NOW - 60 * MIN), Some(NOW + 1))
    );
    assert_eq!(
        bounds("_time:[1700000000, 1700000060)"),
        (Some(NOW), Some(NOW + MIN))
    );
    assert_eq!(bounds("_time:[1700000000000, 1700000000.5]").0, Some(NOW));
    assert_eq!(
        bounds("_time:[2024-01-01Z, 2024-01-02Z) offset 1d"),
        (
            Some(ts("2023-12-31T00:00:00Z")),
            Some(ts("2024-01-01T00:00:00Z"))
        )
    );
    assert!(err("_time:2024-13-01Z").contains("invalid time"));
    assert!(err("_time:[2024-01-01Z, 2024-01-02Z").contains("`]` or `)`"));
    assert!(err("_time:[2024-01-01Z 2024-01-02Z]").contains("`,`"));
    assert!(err("_time:[garbage, now]").contains("invalid time"));
    assert!(err("_time:day_range[08:00, 18:00)").contains("not supported"));
}

#[test]
fn time_bounds_of_and_or_not() {
    let (a, b) = (ts("2024-01-01T00:00:00Z"), ts("2024-01-02T00:00:00Z"));
    let (c, d) = (ts("2024-01-05T00:00:00Z"), ts("2024-01-06T00:00:00Z"));
    let one = "_time:[2024-01-01Z, 2024-01-02Z)";
    let two = "_time:[2024-01-05Z, 2024-01-06Z)";
    assert_eq!(bounds(&format!("{one} OR {two}")), (Some(a), Some(d)));
    assert_eq!(
        bounds(&format!("({one} OR {two}) error")),
        (Some(a), Some(d))
    );
    assert_eq!(
        bounds(&format!("{one} {two}")),
        (Some(c), Some(b)),
        "disjoint AND: empty range"
    );
    assert_eq!(
        bounds("_time:[2024-01-01Z, 2024-01-06Z) _time:>=2024-01-05Z"),
        (Some(c), Some(d))
    );
    assert_eq!(bounds(&format!("NOT {one}")), (None, None));
    assert_eq!(bounds(&format!("NOT NOT {one}")), (Some(a), Some(b)));
    assert_eq!(bounds(&format!("{one} OR error")), (None, None));
    assert_eq!(
        bounds(&format!("{one} OR _time:>2024-01-03Z")),
        (Some(a), None)
    );
    assert_eq!(bounds(&format!("* {one} | limit 5")), (Some(a), Some(b)));
    assert_eq!(bounds("error"), (None, None));
    let f = q(&format!("{one} OR {two}")).filter;
    assert!(f.matches(&at(a)));
    assert!(!f.matches(&at(ts("2024-01-03T00:00:00Z"))));
    assert!(
        q(&format!("NOT {one}"))
            .filter
            .matches(&at(ts("2024-01-03T00:00:00Z")))
    );
}

#[test]
fn pipes() {
    let p = q("error | limit 10");
    assert_eq!((p.limit, p.sort), (Some(10), None));
    assert_eq!(q("error | head").limit, Some(10));
    assert_eq!(q("error | head 5").limit, Some(5));
    assert_eq!(q("* | limit 1_000").limit, Some(1000));
    assert_eq!(q("* | limit 5 | limit 3 | head 4").limit, Some(3));
    assert_eq!(q("*|limit 2").limit, Some(2));
    let p = q("_time:5m error | sort by (_time desc) | limit 10");
    assert_eq!(
        p.sort,
        Some(Sort {
            field: "_time".into(),
            desc: true
        })
    );
    assert_eq!(p.limit, Some(10));
    assert_eq!(
        q("* | sort by (_time) desc").sort,
        Some(Sort {
            field: "_time".into(),
            desc: true
        })
    );
    assert_eq!(
        q("* | sort by (_time desc) desc").sort,
        Some(Sort {
            field: "_time".into(),
            desc: false
        })
    );
    assert_eq!(
        q("* | sort (level)").sort,
        Some(Sort {
            field: "level".into(),
            desc: false
        })
    );
    let p = q("* | order by (request_duration desc) limit 3");
    assert_eq!(
        p.sort,
        Some(Sort {
            field: "request_duration".into(),
            desc: true
        })
    );
    assert_eq!(p.limit, Some(3));
    assert_eq!(
        q("error # errors only\n  | limit 5 # five\n").limit,
        Some(5)
    );
    assert_eq!(q("error;").limit, None);
    let e = err("_time:5m | stats count() errors");
    assert!(e.contains("`stats` pipe is not supported"), "{e}");
    assert!(err("* | fields _time, _msg").contains("`fields`"));
    assert!(err("* | sort by (a, b)").contains("more than one field"));
    assert!(err("* | sort by (a) | sort by (b)").contains("more than one `sort`"));
    assert!(err("* | sort by (a) offset 10").contains("offset"));
    assert!(err("* | limit -1").contains("non-negative"));
    assert!(err("* | limit 1.5").contains("non-negative"));
    assert!(err("* | limit 5 extra").contains("end of query"));
    assert!(err("* |").contains("a pipe"));
}

#[test]
fn string_literals() {
    assert!(m("\"a\\\"b\"", &rec("x a\"b y")));
    assert!(m("'it\\'s'", &rec("it's here")));
    assert!(m("`C:\\dir`", &rec("in C:\\dir now")));
    assert!(m("\"\\x41\\u00e9\\101\"", &rec("AéA")));
    assert!(m("\"tab\\there\"", &rec("tab\there")));
    assert!(err("\"\\xff\"").contains("UTF-8"));
    assert!(err("\"\\q\"").contains("unknown escape"));
    assert!(err("'\\\"'").contains("unknown escape"));
    assert!(err("\"\\u12\"").contains("digits"));
}

#[test]
fn hostile_inputs_give_errors() {
    for (query, want) in [
        ("", "expected a filter"),
        ("   # only a comment", "expected a filter"),
        ("\"unterminated", "unterminated"),
        ("'unterminated", "unterminated"),
        ("`unterminated", "unterminated"),
        ("error \"abc\\\"", "unterminated"),
        ("(foo", "expected `)`"),
        ("foo)", "end of query"),
        ("foo\"bar\"", "whitespace"),
        ("a:", "end of query"),
        (":a", "expected a word"),
        ("-", "end of query"),
        ("foo:-", "end of query"),
        ("a :", "end of query"),
        ("=", "end of query"),
        ("a = b", "field:=value"),
        ("i(foo", "`)` closing `i(`"),
        ("in foo", "`(` after `in`"),
        ("x:in(a b)", "`,` or `)`"),
        ("x:in(_time:5m | fields x)", "subqueries"),
        ("{a=\"b\"", "`,`, `or` or `}`"),
        ("{a \"b\"}", "`=`"),
        ("_stream:foo", "`{`"),
        ("foo:{a=\"b\"}", "applies only to `_stream`"),
        ("seq(a, b)", "`seq()` filter is not supported"),
        ("_stream_id:0000007b", "`_stream_id`"),
        ("foo*:bar", "not supported"),
        ("*:bar", "not supported"),
        ("*foo", "closing the `*substring*`"),
        ("options(concurrency=2) error", "options"),
        ("| limit 5", "expected a filter"),
        (
            "error | limit 5 | nosuchpipe",
            "`nosuchpipe` pipe is not supported",
        ),
        ("\u{0}\u{1}\u{7f}", "expected"),
        ("~\"(a{1000}){1000}\"", "invalid regular expression"),
    ] {
        let e = err(query);
        assert!(e.contains(want), "{query:?}: {e:?} lacks {want:?}");
    }
    assert!(
        err("(foo").contains("position 4"),
        "errors name the position"
    );

    let deep = format!("{}a{}", "(".repeat(1000), ")".repeat(1000));
    assert!(err(&deep).contains("nested more than"));
    assert!(err(&"!".repeat(10_000)).contains("nested more than"));
    assert!(err(&format!("{}a", "-".repeat(500))).contains("nested more than"));
    assert!(err(&"not (".repeat(1000)).contains("nested more than"));
    let just_deep_enough = format!(
        "{}a{}",
        "(".repeat(MAX_DEPTH - 1),
        ")".repeat(MAX_DEPTH - 1)
    );
    assert!(m(&just_deep_enough, &rec("a")));

    assert!(err(&"a ".repeat(40_000)).contains("at most 65536 bytes"));
    let regexes = vec!["~\"a\""; MAX_REGEXES + 1].join(" ");
    assert!(err(&regexes).contains("at most 32 regular expressions"));
    assert!(err(&format!("~`{}`", "\\w{100}".repeat(100))).contains("invalid regular expression"));
    assert!(err("_time:1.2.3m").contains("invalid duration"));
    assert_eq!(bounds("_time:99999999999999999999999y").1, Some(NOW));
    assert!(err("_time:9999-12-31Z").contains("1677-2262"));
    assert!(err("_time:[99999999999999999999, now]").contains("invalid time"));
    // Saturating arithmetic instead of overflow.
    assert_eq!(bounds("_time:1000000y").1, Some(NOW));
    assert!(parse("_time:<0s", i64::MIN).is_ok());
    assert!(parse("_time:>1000000y offset -1000000y", i64::MAX).is_ok());
}

/// Deterministic pseudo-random queries: parsing (and matching whatever parses) never panics.
#[test]
fn random_queries_never_panic() {
    const PIECES: [&str; 60] = [
        "(",
        ")",
        "\"",
        "'",
        "`",
        "\\",
        "*",
        ":",
        "=",
        "!",
        "~",
        "-",
        "|",
        "{",
        "}",
        "[",
        "]",
        ",",
        " ",
        " ",
        "_time",
        "_stream",
        "_msg",
        "and",
        "OR",
        "not",
        "i",
        "in",
        "limit",
        "sort",
        "by",
        "desc",
        "5m",
        "2024-01-01Z",
        "now",
        "foo",
        "é",
        "#",
        "\n",
        ">",
        "<",
        "0x1f",
        "1e9",
        "offset",
        "head",
        "re",
        "exact",
        ";",
        ".",
        "+05:30",
        "\\x",
        "\\u",
        "1700000000.5",
        "seq",
        "µs",
        "1_0",
        "KiB",
        "=~",
        "!~",
        "!=",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let records = [
        with_stream("foo error é", &[("function", "foo")]),
        with_fields("", &[("foo", "5".into()), ("_time", "x".into())]),
        at(NOW - 1),
    ];
    let mut parsed = 0;
    for i in 0..20_000 {
        let len = (next() % 24) as usize;
        let query: String = if i % 4 == 0 {
            let bytes: Vec<u8> = (0..len * 2).map(|_| next() as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            (0..len)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect()
        };
        for now in [NOW, i64::MIN, i64::MAX] {
            if let Ok(p) = parse(&query, now) {
                parsed += 1;
                let _ = p.filter.time_bounds();
                let _ = p.filter.required_stream();
                for r in &records {
                    let _ = p.filter.matches(r);
                }
            }
        }
    }
    assert!(
        parsed > 1000,
        "the generator should also produce valid queries ({parsed})"
    );
}

#[test]
fn duration_and_number_parsing() {
    assert_eq!(parse_duration("5m"), Some(5 * MIN));
    assert_eq!(
        parse_duration("1h33m55s"),
        Some((3600 + 33 * 60 + 55) * NS_PER_SEC)
    );
    assert_eq!(parse_duration("1.5µs"), Some(1500));
    assert_eq!(parse_duration("123ns"), Some(123));
    assert_eq!(parse_duration("-2h"), Some(-2 * 60 * MIN));
    for bad in ["", "5", "m", "5x", "1..5s", "-", "5m-"] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
    assert_eq!(parse_number("10KiB"), Some(10240.0));
    assert_eq!(parse_number("2MB"), Some(2e6));
    assert_eq!(parse_number("0xff"), Some(255.0));
    assert_eq!(parse_number("1_234.5"), Some(1234.5));
    assert_eq!(parse_number("-3"), Some(-3.0));
    assert_eq!(parse_number("John"), None);
}
