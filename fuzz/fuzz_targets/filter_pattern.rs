//! CloudWatch Logs filter patterns (`filterPattern` of FilterLogEvents): terms,
//! `%regex%`, JSON and space-delimited patterns. Input: the pattern `%%` messages, one
//! per line. Invariants: parsing is deterministic (the same answer through `FromStr`),
//! matching never panics.
#![no_main]

use esb_fuzz::parts;
use esb_logs::filter_pattern::FilterPattern;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 2);
    let Ok(pattern) = std::str::from_utf8(p[0]) else {
        return;
    };
    let parsed = FilterPattern::parse(pattern);
    let again: Result<FilterPattern, _> = pattern.parse();
    assert_eq!(format!("{parsed:?}"), format!("{again:?}"));
    match parsed {
        Ok(fp) => {
            for message in String::from_utf8_lossy(p[1]).lines() {
                let first = fp.matches(message);
                assert_eq!(first, fp.matches(message));
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
