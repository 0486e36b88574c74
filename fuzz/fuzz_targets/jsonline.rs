//! VictoriaLogs jsonline ingestion (`/insert/jsonline`, what shippers POST to the box).
//! Input: the query string `%%` the body. Invariants: every line is a record or a
//! rejection (never both, never more than the lines); a rejection names its line.
#![no_main]

use esb_fuzz::parts;
use esb_logs::jsonline::{Params, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 2);
    let query = std::str::from_utf8(p[0]).ok();
    let params = Params::from_query(query);
    let lines = p[1].split(|b| *b == b'\n').count();
    let (records, rejected) = parse(p[1], &params, 1_700_000_000_000_000_000);
    assert!(records.len() + rejected.len() <= lines);
    for r in &rejected {
        assert!(r.line <= lines, "rejected line {} of {lines}", r.line);
        assert!(!r.reason.is_empty());
    }
    for r in &records {
        let _ = r.stream_text();
        let _ = r.time_text();
    }
});
