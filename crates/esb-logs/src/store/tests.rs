//! The store's tests: each index and plan gives exactly what scanning every row gives,
//! on a corpus of awkward records; retention and older stores keep the indexes whole.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, params};
use serde_json::{Map, Value};

use super::db::{Store, lock};
use super::limits::{DEFAULT_LIMIT, Retention};
use super::matches::TopN;
use super::plan::{MAX_CANDIDATES, Plan};
use super::scan::{WALK_IDS, WALK_ROWS, WALK_STREAM_IDS, WALK_STREAM_ROWS};
use super::streams::parse_stream;
use crate::logsql::{self, Query};
use crate::record::Record;

fn record(time_ns: i64, function: &str, msg: &str) -> Record {
    Record {
        time_ns,
        msg: msg.into(),
        stream: vec![
            ("function".into(), function.into()),
            ("job".into(), "esb".into()),
        ],
        fields: serde_json::json!({"level": "info", "n": 3})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    }
}

#[test]
fn stream_labels_round_trip() {
    let r = record(1, "a \"quoted\", value", "m");
    assert_eq!(parse_stream(&r.stream_text()), r.stream);
    assert_eq!(parse_stream("{}"), vec![]);
}

#[test]
fn records_survive_reopening_and_queries_filter_them() {
    let dir = tempfile::tempdir().expect("dir");
    {
        let store = Store::open(dir.path(), Retention::default()).expect("open");
        let batch = vec![
            record(1_000, "echo", "hello world"),
            record(2_000, "echo", "an error here"),
            record(3_000, "other", "an error there"),
        ];
        assert_eq!(store.insert(&batch).expect("insert"), 3);
    }
    let store = Store::open(dir.path(), Retention::default()).expect("reopen");
    assert_eq!(store.count().expect("count"), 3);
    let q = crate::logsql::parse("error _stream:{function=\"echo\"}", 10_000).expect("query");
    let found = store.query(&q).expect("query");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].msg, "an error here");
    assert_eq!(found[0].field("level").as_deref(), Some("info"));
    let q = crate::logsql::parse("* | sort by (_time desc) | limit 2", 10_000).expect("query");
    let found = store.query(&q).expect("query");
    assert_eq!(
        found.iter().map(|r| r.time_ns).collect::<Vec<_>>(),
        vec![3_000, 2_000]
    );
}

#[test]
fn retention_drops_old_records() {
    let dir = tempfile::tempdir().expect("dir");
    let retention = Retention {
        max_age: Duration::from_secs(1),
        max_bytes: 1 << 30,
    };
    let store = Store::open(dir.path(), retention).expect("open");
    let now = 10_000_000_000;
    store
        .insert(&[
            record(now - 5_000_000_000, "f", "old"),
            record(now, "f", "new"),
        ])
        .expect("insert");
    assert_eq!(store.enforce_retention(now).expect("retention"), 1);
    assert_eq!(store.count().expect("count"), 1);
}

// ----- Pushdown: the indexes give exactly what scanning every row gives.

/// What the store answered before it had indexes: every row of the time range in
/// (time, insertion) order through the filter, then the sort and the limit.
fn scan_all(all: &[Record], q: &Query) -> Vec<Record> {
    let (start, end) = q.filter.time_bounds();
    let mut rows: Vec<(usize, &Record)> = all
        .iter()
        .enumerate()
        .filter(|(_, r)| start.is_none_or(|s| r.time_ns >= s) && end.is_none_or(|e| r.time_ns < e))
        .collect();
    rows.sort_by_key(|&(i, r)| (r.time_ns, i));
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    let mut out = Vec::new();
    for (_, r) in rows {
        if q.sort.is_none() && out.len() >= limit {
            break;
        }
        if q.filter.matches(r) {
            out.push(r.clone());
        }
    }
    if let Some(sort) = &q.sort {
        out.sort_by(|a, b| {
            let order = if sort.field == "_time" {
                a.time_ns.cmp(&b.time_ns)
            } else {
                a.field(&sort.field).cmp(&b.field(&sort.field))
            };
            if sort.desc { order.reverse() } else { order }
        });
        out.truncate(limit);
    }
    out
}

const T0: i64 = 1_700_000_000_000_000_000;

/// Lambda-like records with awkward text, times out of insertion order and ties.
fn corpus() -> Vec<Record> {
    let msgs = [
        "START RequestId: 6f1c2a9e-0b7d-4c55-9a3e-1d2b3c4d5e6f Version: $LATEST",
        "END RequestId: 6f1c2a9e-0b7d-4c55-9a3e-1d2b3c4d5e6f",
        "REPORT RequestId: 6f1c2a9e Duration: 12.5 ms Billed Duration: 13 ms",
        "connection refused by upstream",
        "Connection Refused",
        "foo-bar happened",
        "foo bar happened",
        "foobar",
        "error: disk full",
        "ERROR disk full",
        "an error_code=42 here",
        "Ünïcödé straße İstanbul ΣΑΣ naïve café",
        "日本語のログ メッセージ",
        "emoji 🎉 party",
        "a.b/c+d$e path",
        "127.0.0.1:8080 listening",
        "",
        "   ",
        "timeout after 30s",
        "Task timed out after 3.00 seconds",
        "x",
        "ΣΑΣ",
        "σας",
        "İ",
        "i̇",
    ];
    let functions = ["echo", "orders", "billing", "Ünï"];
    let levels = ["info", "INFO", "warn", "error", "debug"];
    let mut out = Vec::new();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..600usize {
        let n = next();
        let msg = msgs[(n % msgs.len() as u64) as usize];
        let function = functions[((n >> 8) % functions.len() as u64) as usize];
        let level = levels[((n >> 16) % levels.len() as u64) as usize];
        let mut fields = Map::new();
        fields.insert("level".into(), Value::String(level.into()));
        fields.insert(
            "aws_request_id".into(),
            Value::String(format!("req-{:04x}-{}", i / 4, (n >> 24) % 3)),
        );
        if n % 3 == 0 {
            fields.insert("trace_id".into(), Value::String(format!("1-{:08x}", i / 7)));
        }
        if n % 5 == 0 {
            fields.insert("worker".into(), Value::from((n >> 30) % 4));
        }
        if n % 7 == 0 {
            fields.insert("ok".into(), Value::Bool(n % 2 == 0));
            fields.insert("gone".into(), Value::Null);
        }
        if n % 11 == 0 {
            fields.insert("type".into(), Value::String("foo-bar Ünï".into()));
        }
        // Times: mostly increasing, some ties, some late arrivals.
        let time_ns = T0 + (i as i64 / 3) * 1_000_000_000 - ((n >> 40) % 4) as i64 * 2_000_000_000;
        let mut stream = vec![
            ("function".to_string(), function.to_string()),
            (
                "job".to_string(),
                if n % 13 == 0 { "box" } else { "esb" }.to_string(),
            ),
        ];
        stream.sort();
        out.push(Record {
            time_ns,
            msg: msg.to_string(),
            stream,
            fields,
        });
    }
    out
}

const QUERIES: &[&str] = &[
    "*",
    "* | limit 7",
    "* | sort by (_time desc) | limit 10",
    "* | sort by (_time) | limit 10",
    "* | sort by (_time desc)",
    "* | sort by (level desc) | limit 20",
    "* | sort by (aws_request_id) | limit 15",
    "error",
    "ERROR",
    "error | limit 3",
    "error | sort by (_time desc) | limit 3",
    "i(error)",
    "i(error) | sort by (_time desc) | limit 5",
    "\"connection refused\"",
    "i(\"connection refused\")",
    "foo-bar",
    "\"foo-bar\"",
    "foo",
    "bar",
    "foobar",
    "foo*",
    "fo*",
    "\"foo b\"*",
    "*oo-ba*",
    "*disk*",
    "\"disk full\" OR timeout",
    "error OR timeout | limit 4",
    "error -disk",
    "NOT error",
    "!foo-bar",
    "error AND NOT level:error",
    "level:error",
    "level:ERROR",
    "level:error | sort by (_time desc) | limit 5",
    "level:=error",
    "level:=INFO",
    "level:in(error, warn) | limit 30",
    "level:in(error, \"\")",
    "level:(error OR warn)",
    "level:i(info)",
    "level:inf*",
    "level:=\"in\"*",
    "level:\"\"",
    "trace_id:\"\"",
    "trace_id:*",
    "aws_request_id:\"req-0003-1\"",
    "aws_request_id:req-0003-1",
    "aws_request_id:=req-0003-1",
    "aws_request_id:req-0003",
    "aws_request_id:req-0003 | sort by (_time desc) | limit 2",
    "trace_id:1-00000004",
    "worker:2",
    "worker:>1",
    "ok:true",
    "gone:\"\"",
    "type:foo-bar",
    "type:i(ünï)",
    "type:Ünï",
    "function:echo",
    "function:Ünï",
    "function:i(ünï)",
    "_stream:{function=\"echo\"}",
    "_stream:{function=\"echo\"} | sort by (_time desc) | limit 10",
    "_stream:{function=\"echo\"} error | limit 5",
    "_stream:{function=\"echo\" or function=\"billing\"} | limit 25",
    "_stream:{function=\"echo\" or function=\"billing\"} | sort by (_time desc) | limit 25",
    "_stream:{function=\"echo\" or function=\"billing\"} level:error",
    "_stream:{function!=\"echo\"} timeout",
    "_stream:{function=~\"e.*\"} foo",
    "_stream:{function=\"nope\"}",
    "_stream:{job=\"box\"}",
    "{function=\"orders\",job=\"esb\"} | limit 3",
    "_stream:{function=\"echo\"} OR error",
    "NOT _stream:{function=\"echo\"} | limit 12",
    "~\"err|warn\"",
    "~\"[Ee]rror\" | sort by (_time desc) | limit 4",
    "level:~\"^e\"",
    "!~\"a\"",
    "re(\"time.*out\")",
    "straße",
    "STRASSE",
    "i(straße)",
    "Ünïcödé",
    "ünïcödé",
    "i(ÜNÏCÖDÉ)",
    "İstanbul",
    "i(\"i̇stanbul\")",
    "i(istanbul)",
    "ΣΑΣ",
    "i(σας)",
    "σας",
    "i(σας) | limit 2",
    "İ",
    "i(\"i̇\")",
    "\"i̇\"",
    "i",
    "日本語のログ",
    "メッセージ",
    "\"🎉\"",
    "\"🎉 party\"",
    "emoji",
    "a.b/c+d$e",
    "\"127.0.0.1:8080\"",
    "\"0.1\"",
    "8080",
    "$LATEST",
    "LATEST",
    "\"\"",
    "=\"\"",
    "x",
    "=x",
    "exact(x)",
    "exact(\"Task timed\"*)",
    "in(x, foobar)",
    "error_code",
    "\"error_code=42\"",
    "\"=42 \"",
    "\"RequestId: 6f1c2a9e\"",
    "6f1c2a9e-0b7d",
    "RequestId:6f1c2a9e",
    "_msg:6f1c2a9e",
    "Duration:>10",
    "_time:[1700000010, 1700000100)",
    "_time:[1700000010, 1700000100) error",
    "_time:[1700000010, 1700000100) * | sort by (_time desc) | limit 7",
    "_time:>2023-11-14T22:15:50Z level:warn | limit 5",
    "_time:<2023-11-14T22:14:10Z OR foo",
    "(_time:<2023-11-14T22:13:50Z OR _time:>2023-11-14T22:16:20Z) error",
    "_time:[1700000010, 1700000100) _stream:{function=\"echo\"} | sort by (_time desc) | limit 3",
    "* | limit 0",
    "error | sort by (_time desc) | limit 0",
];

fn fill(store: &Store, all: &[Record]) {
    for batch in all.chunks(97) {
        store.insert(batch).expect("insert");
    }
}

#[test]
fn every_plan_gives_what_the_scan_gives() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(dir.path(), Retention::default()).expect("open");
    let all = corpus();
    fill(&store, &all);
    let mut nonempty = 0;
    for text in QUERIES {
        let q = crate::logsql::parse(text, T0 + 1_000 * 1_000_000_000)
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        let want = scan_all(&all, &q);
        if !want.is_empty() {
            nonempty += 1;
        }
        for plan in [Plan::Auto, Plan::Direct, Plan::Walk, Plan::Scan] {
            let got = store.run(&q, plan).expect("query");
            assert_eq!(
                got.len(),
                want.len(),
                "{text} ({plan:?}): {} records, the scan finds {}",
                got.len(),
                want.len()
            );
            assert!(got == want, "{text} ({plan:?}): not the scan's records");
        }
    }
    assert!(
        nonempty * 10 > QUERIES.len() * 8,
        "{nonempty} of {}",
        QUERIES.len()
    );
}

#[test]
fn walks_read_indexes_in_order_without_sorting() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(dir.path(), Retention::default()).expect("open");
    fill(&store, &corpus());
    let conn = lock(&store.reader);
    for (sql, index) in [
        (WALK_ROWS, "logs_time"),
        (WALK_STREAM_ROWS, "logs_stream_time"),
        (WALK_IDS, "COVERING INDEX logs_time"),
        (WALK_STREAM_IDS, "COVERING INDEX logs_stream_time"),
    ]
    .into_iter()
    .flat_map(|(pair, index)| pair.map(|sql| (sql, index)))
    {
        let args = std::iter::repeat_n(0, sql.matches('?').count());
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("explain")
            .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
            .expect("plan")
            .collect::<Result<_, _>>()
            .expect("plan");
        let plan = plan.join("; ");
        assert!(plan.contains(index), "{sql}: {plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{sql}: {plan}");
    }
}

#[test]
fn streams_another_process_adds_are_queried() {
    let dir = tempfile::tempdir().expect("dir");
    let reader = Store::open(dir.path(), Retention::default()).expect("open");
    let writer = Store::open(dir.path(), Retention::default()).expect("open again");
    let q = |text: &str| crate::logsql::parse(text, 10_000).expect("query");
    writer.insert(&[record(1_000, "a", "one")]).expect("insert");
    assert_eq!(
        reader.query(&q("{function=\"a\"}")).expect("query").len(),
        1
    );
    writer
        .insert(&[record(2_000, "b", "two"), record(3_000, "a", "three")])
        .expect("insert");
    let found = reader.query(&q("{function=~\"a|b\"}")).expect("query");
    assert_eq!(
        found.iter().map(|r| r.msg.as_str()).collect::<Vec<_>>(),
        ["one", "two", "three"]
    );
    assert_eq!(
        reader
            .query(&q("{function=\"b\"} two"))
            .expect("query")
            .len(),
        1
    );
}

#[test]
fn top_n_keeps_what_a_stable_sort_keeps() {
    let all: Vec<Record> = (0..20).flat_map(|_| corpus()).collect();
    for (field, desc, limit) in [
        ("level", false, 7),
        ("level", true, 3000),
        ("aws_request_id", true, 1),
        ("worker", false, 100),
        ("nope", true, 5),
    ] {
        let sort = logsql::Sort {
            field: field.into(),
            desc,
        };
        let mut top = TopN::new(&sort, limit);
        for r in &all {
            top.push(r.clone());
        }
        let mut want = all.clone();
        want.sort_by(|a, b| {
            let order = a.field(field).cmp(&b.field(field));
            if desc { order.reverse() } else { order }
        });
        want.truncate(limit);
        assert!(top.finish() == want, "{field} {desc} {limit}");
    }
}

#[test]
fn word_index_finds_words_where_fts_tokenizers_would_not() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(dir.path(), Retention::default()).expect("open");
    let all = corpus();
    fill(&store, &all);
    let conn = lock(&store.reader);
    for (text, at_least) in [
        ("foo-bar", 1),
        ("\"foo-bar\"", 1),
        ("ΣΑΣ", 1),
        ("i(σας)", 1),
        ("σας", 1),
        ("i(istanbul)", 0),
        ("İstanbul", 1),
        ("日本語のログ", 1),
        ("aws_request_id:req-0003-1", 1),
        ("level:=error", 1),
        ("a.b/c+d$e", 1),
    ] {
        let q = crate::logsql::parse(text, T0).expect("query");
        let required = q.filter.required_words().expect("words required");
        let ids = store
            .candidates(&conn, &required, MAX_CANDIDATES)
            .expect("candidates")
            .expect("selective");
        let want = scan_all(&all, &q).len();
        assert!(
            ids.len() >= want,
            "{text}: {} candidates, {want} matches",
            ids.len()
        );
        assert!(want >= at_least, "{text}: {want} matches");
        assert!(
            ids.len() < all.len() / 2,
            "{text}: {} candidates",
            ids.len()
        );
    }
}

#[test]
fn a_store_from_before_the_word_index_is_indexed_when_opened() {
    let dir = tempfile::tempdir().expect("dir");
    let all = corpus();
    {
        // The schema and writes of the first version.
        let conn = Connection::open(dir.path().join("logs.sqlite")).expect("db");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE logs (id INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL,
                 stream TEXT NOT NULL, msg TEXT NOT NULL, fields TEXT NOT NULL);
             CREATE INDEX logs_time ON logs (time_ns);
             CREATE INDEX logs_stream_time ON logs (stream, time_ns);",
        )
        .expect("schema");
        for r in &all {
            conn.execute(
                "INSERT INTO logs (time_ns, stream, msg, fields) VALUES (?1, ?2, ?3, ?4)",
                params![
                    r.time_ns,
                    r.stream_text(),
                    r.msg,
                    Value::Object(r.fields.clone()).to_string()
                ],
            )
            .expect("insert");
        }
    }
    let check = |store: &Store| {
        for text in QUERIES {
            let q = crate::logsql::parse(text, T0 + 1_000 * 1_000_000_000).expect("query");
            let want = scan_all(&all, &q);
            for plan in [Plan::Direct, Plan::Walk] {
                assert!(
                    store.run(&q, plan).expect("query") == want,
                    "{text} ({plan:?})"
                );
            }
        }
    };
    {
        let store = Store::open(dir.path(), Retention::default()).expect("open");
        assert_eq!(store.count().expect("count"), all.len() as u64);
        check(&store);
    }
    // Rows an older version adds later are indexed at the next open.
    let more = corpus()
        .into_iter()
        .map(|mut r| {
            r.time_ns += 10_000_000_000_000;
            r
        })
        .collect::<Vec<_>>();
    {
        let conn = Connection::open(dir.path().join("logs.sqlite")).expect("db");
        for r in &more {
            conn.execute(
                "INSERT INTO logs (time_ns, stream, msg, fields) VALUES (?1, ?2, ?3, ?4)",
                params![
                    r.time_ns,
                    r.stream_text(),
                    r.msg,
                    Value::Object(r.fields.clone()).to_string()
                ],
            )
            .expect("insert");
        }
    }
    let store = Store::open(dir.path(), Retention::default()).expect("reopen");
    let both: Vec<Record> = all.iter().chain(&more).cloned().collect();
    for text in [
        "foo-bar",
        "level:error | sort by (_time desc) | limit 5",
        "aws_request_id:req-0003-1",
    ] {
        let q = crate::logsql::parse(text, T0).expect("query");
        assert!(
            store.run(&q, Plan::Direct).expect("query") == scan_all(&both, &q),
            "{text}"
        );
    }
}

#[test]
fn retention_removes_records_from_every_index() {
    let dir = tempfile::tempdir().expect("dir");
    let retention = Retention {
        max_age: Duration::from_secs(100),
        max_bytes: 1 << 30,
    };
    let store = Store::open(dir.path(), retention).expect("open");
    let all = corpus();
    fill(&store, &all);
    let now = T0 + 200 * 1_000_000_000;
    let kept: Vec<Record> = all
        .iter()
        .filter(|r| r.time_ns >= now - 100 * 1_000_000_000)
        .cloned()
        .collect();
    let deleted = store.enforce_retention(now).expect("retention");
    assert_eq!(deleted, all.len() - kept.len());
    assert!(deleted > 0 && !kept.is_empty());
    assert_eq!(store.count().expect("count"), kept.len() as u64);
    {
        let conn = lock(&store.reader);
        let q = crate::logsql::parse("level:error", T0).expect("query");
        let required = q.filter.required_words().expect("words");
        let ids = store
            .candidates(&conn, &required, MAX_CANDIDATES)
            .expect("candidates")
            .expect("selective");
        let live: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM logs WHERE fields LIKE '%\"error\"%'",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(ids.len() as i64, live, "deleted rows left the word index");
    }
    for text in QUERIES {
        let q = crate::logsql::parse(text, now).expect("query");
        assert!(
            store.query(&q).expect("query") == scan_all(&kept, &q),
            "{text}"
        );
    }
    // Everything old: the stream table forgets streams without records.
    let later = now + 1_000 * 1_000_000_000;
    store.enforce_retention(later).expect("retention");
    assert_eq!(store.count().expect("count"), 0);
    let q = crate::logsql::parse("_stream:{function=\"echo\"}", later).expect("query");
    assert!(store.query(&q).expect("query").is_empty());
    assert!(lock(&store.streams).labels.is_empty());
    let q = crate::logsql::parse("_stream:{function=\"echo\"}", later).expect("query");
    assert!(store.query(&q).expect("query").is_empty());
    // The store still works, and reopens consistent.
    fill(&store, &all[..50]);
    drop(store);
    let store = Store::open(dir.path(), retention).expect("reopen");
    let q = crate::logsql::parse("error", T0).expect("query");
    assert!(store.run(&q, Plan::Direct).expect("query") == scan_all(&all[..50], &q));
}

#[test]
fn size_retention_drops_the_oldest_rows() {
    let dir = tempfile::tempdir().expect("dir");
    let big = Retention {
        max_age: Duration::from_secs(1 << 40),
        max_bytes: 1 << 40,
    };
    let all: Vec<Record> = (0..20).flat_map(|_| corpus()).collect();
    {
        let store = Store::open(dir.path(), big).expect("open");
        fill(&store, &all);
    }
    let size = |dir: &Path| {
        let conn = Connection::open(dir.join("logs.sqlite")).expect("db");
        conn.query_row(
            "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size",
            [],
            |r| r.get::<_, i64>(0),
        )
        .expect("size")
    };
    let full = u64::try_from(size(dir.path())).expect("size");
    let half = Retention {
        max_bytes: full / 2,
        ..big
    };
    let store = Store::open(dir.path(), half).expect("open");
    let deleted = store.enforce_retention(T0).expect("retention");
    let left = store.count().expect("count");
    assert!(deleted > 0 && left > 0, "{deleted} deleted, {left} left");
    assert_eq!(deleted as u64 + left, all.len() as u64);
    drop(store);
    assert!(u64::try_from(size(dir.path())).expect("size") <= full / 2);
    // The newest rows are the ones kept, in every index.
    let store = Store::open(dir.path(), half).expect("reopen");
    let kept = &all[all.len() - left as usize..];
    for text in [
        "error",
        "level:warn | limit 50",
        "* | sort by (_time desc) | limit 20",
    ] {
        let q = crate::logsql::parse(text, T0).expect("query");
        assert!(
            store.run(&q, Plan::Direct).expect("query") == scan_all(kept, &q),
            "{text}"
        );
    }
}
