//! LogsQL: the query parser, then the matcher and what the store's indexes read of a
//! query. Input: `query` `%%` `_msg` `%%` a JSON object of fields `%%` stream labels
//! as `a=b` lines. Invariants: parsing is deterministic; a record the filter matches
//! lies within the filter's time bounds and carries its required stream labels (the
//! indexes may change speed, never answers).
#![no_main]

use esb_fuzz::parts;
use esb_logs::Record;
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_700_000_000_000_000_000;

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 4);
    let Ok(query) = std::str::from_utf8(p[0]) else {
        return;
    };
    let parsed = esb_logs::logsql::parse(query, NOW);
    let again = esb_logs::logsql::parse(query, NOW);
    assert_eq!(format!("{parsed:?}"), format!("{again:?}"));
    let Ok(q) = parsed else {
        return;
    };
    let fields = serde_json::from_slice::<serde_json::Value>(p[2])
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let mut stream: Vec<(String, String)> = String::from_utf8_lossy(p[3])
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    stream.sort();
    stream.dedup_by(|a, b| a.0 == b.0);
    let time_ns = fields
        .get("_time")
        .and_then(esb_logs::jsonline::parse_time)
        .unwrap_or(NOW - 1_000_000_000);
    let record = Record {
        time_ns,
        msg: String::from_utf8_lossy(p[1]).into_owned(),
        stream,
        fields,
    };
    let _ = q.filter.reads_fields();
    let _ = q.filter.required_words();
    if q.filter.matches(&record) {
        let (start, end) = q.filter.time_bounds();
        if let Some(s) = start {
            assert!(record.time_ns >= s, "match before the time bound {s}");
        }
        if let Some(e) = end {
            assert!(record.time_ns < e, "match at or after the time bound {e}");
        }
        for label in q.filter.required_stream() {
            assert!(
                record.stream.contains(&label),
                "match without the required stream label {label:?}"
            );
        }
    }
});
