//! Filter patterns end to end: every example of AWS's "Filter pattern syntax" pages with
//! the events they list as matching or not, the errors AWS is known to give, and hostile
//! patterns and messages that must be rejected or not matched, never panic.

use super::*;

fn pattern(p: &str) -> FilterPattern {
    FilterPattern::parse(p).unwrap_or_else(|e| panic!("{p:?} should parse: {e}"))
}

/// Which of `events` match, numbered from 1 as AWS's pages number them.
fn matching(p: &str, events: &[&str]) -> Vec<usize> {
    let pattern = pattern(p);
    (1..=events.len())
        .filter(|&n| pattern.matches(events[n - 1]))
        .collect()
}

fn is_match(p: &str, message: &str) -> bool {
    pattern(p).matches(message)
}

fn error(p: &str) -> PatternError {
    FilterPattern::parse(p).expect_err(p)
}

fn invalid_chars(p: &str) -> String {
    match error(p) {
        PatternError::InvalidCharacters(term) => term,
        other => panic!("{p:?}: expected Invalid character(s) in term, got {other:?}"),
    }
}

fn assert_invalid(p: &str) {
    assert!(
        matches!(error(p), PatternError::Invalid(_)),
        "{p:?}: expected Invalid filter pattern, got {:?}",
        error(p)
    );
}

// ---- Unstructured terms: AWS's "Using filter patterns to match terms in log events" ----

/// The events AWS's current examples are shown against.
const REQUESTS: [&str; 4] = [
    "[ERROR 400] BAD REQUEST",
    "[ERROR 401] UNAUTHORIZED REQUEST",
    "[ERROR 419] MISSING ARGUMENTS",
    "[ERROR 420] INVALID ARGUMENTS",
];

#[test]
fn doc_match_a_single_term() {
    assert_eq!(matching("ERROR", &REQUESTS), [1, 2, 3, 4]);
    // The older page's events: a term matches inside a word.
    assert_eq!(
        matching(
            "ERROR",
            &[
                "[ERROR] A fatal exception has occurred",
                "Exiting with ERRORCODE: -1"
            ]
        ),
        [1, 2]
    );
}

#[test]
fn doc_match_multiple_terms() {
    assert_eq!(matching("ERROR ARGUMENTS", &REQUESTS), [3, 4]);
    let events = [
        "[ERROR] Caught IllegalArgumentException",
        "[ERROR] Unhandled Exception",
        "[ERROR] request failed",
    ];
    assert_eq!(matching("ERROR Exception", &events), [1, 2]);
    assert_eq!(matching(r#""ERROR" "Exception""#, &events), [1, 2]);
    let events = [
        "[WARN] Failed to process the request",
        "[ERROR] Unable to continue: Failed to process the request",
        "[ERROR] request failed",
    ];
    assert_eq!(matching("Failed to process the request", &events), [1, 2]);
}

#[test]
fn doc_match_single_and_multiple_terms_with_question_marks() {
    assert_eq!(matching("?ERROR ?ARGUMENTS", &REQUESTS), [1, 2, 3, 4]);
    assert!(!is_match("?ERROR ?ARGUMENTS", "[INFO 200] OK"));
    assert!(is_match("?ERROR ?ARGUMENTS", "[INFO 200] ARGUMENTS"));
}

#[test]
fn doc_match_exact_phrases() {
    let events = [
        "[ERROR 500] INTERNAL SERVER ERROR",
        "[ERROR 500] INTERNAL ERROR SERVER",
        "internal server error",
    ];
    assert_eq!(matching(r#""INTERNAL SERVER ERROR""#, &events), [1]);
}

#[test]
fn doc_include_and_exclude_terms() {
    assert_eq!(matching("ERROR -ARGUMENTS", &REQUESTS), [1, 2]);
    // The older page: `"ERROR" -"Exiting"` drops the second event.
    let events = [
        "[ERROR] A fatal exception has occurred",
        "Exiting with ERRORCODE: -1",
    ];
    assert_eq!(matching(r#""ERROR" -"Exiting""#, &events), [1]);
    // Lightsail's GetContainerLog page: `-ERROR` returns every other event.
    assert_eq!(
        matching("-ERROR", &["ERROR x", "INFO y", "error z"]),
        [2, 3]
    );
    assert_eq!(
        matching("?ERROR ?Exception", &["ERROR", "Exception", "INFO"]),
        [1, 2]
    );
}

#[test]
fn doc_match_everything() {
    for p in [r#"" ""#, r#""""#, "", "   ", "\n\t"] {
        assert_eq!(matching(p, &REQUESTS), [1, 2, 3, 4], "{p:?}");
        assert!(is_match(p, ""), "{p:?}");
    }
}

#[test]
fn doc_or_pattern_matching_table() {
    let events = ["ERROR WARN message", "ERROR message", "WARN message"];
    assert_eq!(matching("ERROR", &events), [1, 2]);
    assert_eq!(matching("?ERROR ?WARN", &events), [1, 2, 3]);
    assert_eq!(matching("ERROR WARN", &events), [1]);
    assert_eq!(matching("ERROR -WARN", &events), [2]);
}

#[test]
fn terms_are_case_sensitive_substrings() {
    let events = ["error: x", "Error: x", "ERRORNEOUS", "rpc ERROR"];
    assert_eq!(matching("ERROR", &events), [3, 4]);
    assert_eq!(matching("error", &events), [1]);
}

#[test]
fn question_marks_mixed_with_other_terms_are_ignored() {
    // AWS: "If you combine "?" with other filter patterns, the question mark ("?") is
    // ignored." The `?` terms are then required like the others.
    let events = ["ERROR WARN", "ERROR", "WARN", "ERROR WARN INFO"];
    assert_eq!(matching("?ERROR ?WARN -INFO", &events), [1]);
    assert_eq!(matching("?ERROR WARN", &events), [1, 4]);
    assert_eq!(matching(r#"?"ERROR" "WARN""#, &events), [1, 4]);
}

#[test]
fn quoted_phrases_take_escapes_and_any_character() {
    assert!(is_match(r#""say \"hi\"""#, r#"they say "hi" twice"#));
    assert!(is_match(r#""C:\\temp""#, r"open C:\temp failed"));
    assert!(is_match(
        r#""ERROR][grpc""#,
        "2025-03-28 [ERROR][grpc] failed"
    ));
    assert!(!is_match(r#""ERROR][grpc""#, "[ERROR] [grpc]"));
    assert!(is_match(r#""Status: timeout""#, "Status: timeout after 3s"));
    assert!(is_match(r#""café ☕""#, "un café ☕ svp"));
    // A backslash before anything else is itself.
    assert!(is_match(r#""a\nb""#, r"a\nb"));
}

#[test]
fn a_minus_or_question_mark_after_a_term_starts_the_next_term() {
    // `ORDER-ITEM-1` unquoted finds nothing on AWS; it reads as `ORDER -ITEM -1`.
    assert!(!is_match("ORDER-ITEM-1", "thread ORDER-ITEM-1 done"));
    assert!(is_match("ORDER-ITEM-1", "ORDER placed"));
    assert!(is_match(r#""ORDER-ITEM-1""#, "thread ORDER-ITEM-1 done"));
    assert_eq!(matching(r#""a""b""#, &["ab", "a", "b"]), [1]);
}

#[test]
fn unquoted_terms_with_other_characters_are_rejected_as_aws_does() {
    // The characters AWS named in its InvalidParameterException for these patterns.
    assert_eq!(invalid_chars("?Status: timeout"), ":");
    assert_eq!(
        invalid_chars("PlayerSpawnedInWorld (reason: JoinMultiplayer"),
        "("
    );
    assert_eq!(invalid_chars(r#"level\":\"error"#), r"\");
    assert_eq!(invalid_chars("`ERROR`"), "`");
    assert_eq!(invalid_chars("error, warning"), ",");
    assert_eq!(invalid_chars("email@someemail.com"), "@");
    assert_eq!(invalid_chars("ERROR - Exiting"), "-");
    assert_eq!(invalid_chars("ERROR ?"), "?");
    assert_eq!(invalid_chars("?-x"), "?-");
    assert_eq!(invalid_chars("ERROR *"), "*");
    assert_eq!(invalid_chars("50% off"), "%");
    assert_eq!(invalid_chars("1.5"), ".");
    assert_eq!(invalid_chars("café"), "é");
    assert_eq!(invalid_chars("}"), "}");
    assert_invalid(r#"ERROR "not closed"#);
    assert_invalid(r#""ends in a backslash\"#);
    assert_eq!(
        error("a:b").to_string(),
        "Invalid character(s) in term ':'",
        "the text AWS returns"
    );
}

// ---- Regular expressions: AWS's "Supported regular expressions (regex) syntax" ----

#[test]
fn doc_regex_authorized() {
    let events = [
        "[ERROR 400] BAD REQUEST",
        "[ERROR 401] UNAUTHORIZED REQUEST",
        "[SUCCESS 200] AUTHORIZED REQUEST",
    ];
    assert_eq!(matching("%AUTHORIZED%", &events), [2, 3]);
    assert_eq!(matching("  %AUTHORIZED%  ", &events), [2, 3]);
}

#[test]
fn doc_regex_operators() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("%^[hc]at%", &["hat", "cat", "cats"], &["that", "bat"]),
        ("%[hc]at$%", &["hat", "that"], &["hats", "cab"]),
        ("%colou?r%", &["color", "colour"], &["colouur", "colr"]),
        ("%[abc]%", &["a", "xbx"], &["xyz"]),
        ("%[a-z]%", &["A1b"], &["ABC9"]),
        ("%[abcx-z]%", &["y", "c"], &["d", "w"]),
        ("%a{3,5}%", &["aaa", "baaaab"], &["aa", "a a a"]),
        ("%gra|ey%", &["gray", "grey"], &["gry"]),
        (r"%10\.10\.0\.1%", &["host 10.10.0.1 up"], &["10a10b0c1"]),
        ("%ab*c%", &["ac", "abc", "abbbc"], &["adc"]),
        ("%ab+c%", &["abc", "abbbc"], &["ac"]),
        ("%c.t%", &["cat", "cot"], &["ct"]),
        (r"%\d{3}%", &["code 404"], &["code 40"]),
        (
            r"%user=\w+@example\.com%",
            &["user=jo@example.com ok"],
            &["user=@example.com"],
        ),
        // AWS's advice for characters it does not allow: hexadecimal escapes.
        (r"%\x28x\x29%", &["f(x)"], &["fx"]),
    ];
    for (p, yes, no) in cases {
        for m in *yes {
            assert!(is_match(p, m), "{p} should match {m:?}");
        }
        for m in *no {
            assert!(!is_match(p, m), "{p} should not match {m:?}");
        }
    }
}

#[test]
fn regexes_outside_aws_dialect_are_rejected() {
    assert_eq!(invalid_chars("%something!%"), "%something!%");
    assert_eq!(invalid_chars("%(alpha|beta)%"), "%(alpha|beta)%");
    assert_eq!(invalid_chars(r"%\(x\)%"), r"%\(x\)%");
    assert_eq!(invalid_chars("%マルチバイト%"), "%マルチバイト%");
    assert_eq!(invalid_chars("%%"), "%%");
    assert_eq!(invalid_chars("%ERROR% %WARN%"), "%ERROR% %WARN%");
    assert_invalid("%[unclosed%");
    assert_invalid("%a{2,1}%");
    assert_invalid("%a{1000}{1000}{1000}%");
    // A regex is a pattern on its own among unstructured terms ("standalone").
    assert_eq!(invalid_chars("ERROR %4..%"), "%");
    assert_eq!(invalid_chars("%AUTHORIZED"), "%");
}

// ---- JSON: AWS's "Using filter patterns to match terms in JSON log events" ----

/// AWS's example event, on one line as the page says to test it.
const TRAIL: &str = r#"{"eventType": "UpdateTrail", "sourceIPAddress": "111.111.111.111", "arrayKey": ["value", "another value"], "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}], "SomeObject": null, "ThisFlag": true}"#;

#[test]
fn doc_json_example_filters_match_the_example_event() {
    for p in [
        r#"{ $.eventType = "UpdateTrail" }"#,
        "{ $.sourceIPAddress != 123.123.* }",
        r#"{ $.arrayKey[0] = "value" }"#,
        "{ $.objectList[1].id = 2 }",
        "{ $.SomeObject IS NULL }",
        "{ $.SomeOtherObject NOT EXISTS }",
        "{ $.ThisFlag IS TRUE }",
        // The current page's regex and wildcard-selector examples.
        "{ $.eventType = %Trail% }",
        "{ $.arrayKey[*] = %val.{2}% }",
        r"{ $.* = %111\.111\.111\.1[0-9]{1,2}% }",
        // The dimensions example's filter.
        r#"{ $.eventType = "*" && $.sourceIPAddress != 123.123.* }"#,
    ] {
        assert!(is_match(p, TRAIL), "{p} should match");
    }
}

#[test]
fn doc_json_example_filters_turned_around_do_not_match() {
    for p in [
        r#"{ $.eventType = "DeleteTrail" }"#,
        "{ $.sourceIPAddress != 111.111.* }",
        r#"{ $.arrayKey[0] = "another value" }"#,
        r#"{ $.arrayKey[5] = "value" }"#,
        "{ $.objectList[0].id = 2 }",
        "{ $.SomeObject IS TRUE }",
        "{ $.eventType IS NULL }",
        "{ $.eventType NOT EXISTS }",
        "{ $.ThisFlag IS FALSE }",
        "{ $.eventType = %^Trail% }",
        r"{ $.* = %222\.222% }",
        // "If arrayKey is not an array this will be false."
        r#"{ $.eventType[0] = "UpdateTrail" }"#,
    ] {
        assert!(!is_match(p, TRAIL), "{p} should not match");
    }
    assert!(is_match(r#"{ $.arrayKey[1] = "another value" }"#, TRAIL));
    assert!(is_match(r#"{ $.arrayKey[*] = "another value" }"#, TRAIL));
}

#[test]
fn doc_json_compound_conditions() {
    let users = r#"{"user": {"id": 1, "email": "John.Stiles@example.com"}, "users": [{"id": 2, "email": "John.Doe@example.com"}, {"id": 3, "email": "Jane.Doe@example.com"}], "actions": ["GET", "PUT", "DELETE"], "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]]}"#;
    let cases = [
        (
            r#"{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }"#,
            true,
        ),
        (
            r#"{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }"#,
            false,
        ),
        (
            r#"{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch && $.actions[2] = nomatch }"#,
            true,
        ),
        (
            r#"{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) && $.actions[2] = nomatch }"#,
            false,
        ),
        // The current page quotes the values; the answers are the same.
        (
            r#"{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch" && $.actions[2] = "nonmatch" }"#,
            true,
        ),
        (
            "{ $.coordinates[1][2] = 6 && $.coordinates[2][0] < 8 }",
            true,
        ),
    ];
    for (p, expected) in cases {
        assert_eq!(is_match(p, users), expected, "{p}");
    }
}

#[test]
fn doc_json_or_pattern_matching() {
    let events = [r#"{"foo": "bar"}"#, r#"{"foo": "baz"}"#];
    assert_eq!(matching("{$.foo = bar}", &events), [1]);
    assert_eq!(matching("{$.foo = baz }", &events), [2]);
    assert_eq!(matching("{$.foo = bar || $.foo = baz }", &events), [1, 2]);
}

#[test]
fn doc_json_selectors_at_arrays_or_objects_never_compare() {
    // "both {$.users = 1} and {$.users != 1} will fail to match".
    let event = r#"{"users": [1, 2, 3], "user": {"id": 1}}"#;
    for p in [
        "{$.users = 1}",
        "{$.users != 1}",
        "{$.user != 1}",
        "{$.user = *}",
    ] {
        assert!(!is_match(p, event), "{p}");
    }
}

#[test]
fn doc_json_numeric_comparisons() {
    let cases: &[(&str, &str, bool)] = &[
        ("{ $.latency >= 500 }", r#"{"latency": 500}"#, true),
        ("{ $.latency >= 500 }", r#"{"latency": 499.9}"#, false),
        ("{ $.numbers[0] < 10e3 }", r#"{"numbers": [9999]}"#, true),
        ("{ $.numbers[0] < 10e3 }", r#"{"numbers": [10000]}"#, false),
        ("{ $.numbers[0] < 10e-3 }", r#"{"numbers": [0.001]}"#, true),
        ("{ $.numbers[0] < 10e-3 }", r#"{"numbers": [0.01]}"#, false),
        (
            "{ $.processes[4].averageRuntime <= 55.5 }",
            r#"{"processes": [{}, {}, {}, {}, {"averageRuntime": 55.5}]}"#,
            true,
        ),
        ("{ $.errorCode = 400 }", r#"{"errorCode": 400}"#, true),
        ("{ $.errorCode = 400}", r#"{"errorCode": 400.0}"#, true),
        ("{ $.errorCode != 500 }", r#"{"errorCode": 400}"#, true),
        ("{ $.errorCode != 500 }", r#"{"errorCode": 500}"#, false),
        ("{ $.latency > +1000 }", r#"{"latency": 1001}"#, true),
        ("{ $.latency > +1000 }", r#"{"latency": 1000}"#, false),
        ("{ $.bandwidth > 75 }", r#"{"bandwidth": 76}"#, true),
        ("{ $.latency < 50 }", r#"{"latency": 49}"#, true),
        ("{ $.refreshRate >= 60 }", r#"{"refreshRate": 60}"#, true),
        ("{ $.responseTime <= 5 }", r#"{"responseTime": 6}"#, false),
        ("{ $.number[0] = 1e-3 }", r#"{"number": [0.001]}"#, true),
        ("{ $.number[0] != 1e+3 }", r#"{"number": [1000]}"#, false),
        ("{ $.number[0] != 1e+3 }", r#"{"number": [999]}"#, true),
        ("{ $.delta > -1.5 }", r#"{"delta": -1}"#, true),
        ("{ $.delta < -1.5 }", r#"{"delta": -1}"#, false),
        ("{ $.delta=-1 }", r#"{"delta": -1}"#, true),
    ];
    for (p, event, expected) in cases {
        assert_eq!(is_match(p, event), *expected, "{p} on {event}");
    }
}

#[test]
fn doc_json_string_wildcards() {
    // "*Event will match PutEvent and GetEvent. Event* will match EventId and EventName.
    // Ev*ent will only match the actual string Ev*ent."
    let cases: &[(&str, &str, bool)] = &[
        ("{ $.e = *Event }", r#"{"e": "PutEvent"}"#, true),
        ("{ $.e = *Event }", r#"{"e": "Events"}"#, false),
        ("{ $.e = Event* }", r#"{"e": "EventId"}"#, true),
        ("{ $.e = Event* }", r#"{"e": "GetEvent"}"#, false),
        (r#"{ $.e = "*ven*" }"#, r#"{"e": "GetEventName"}"#, true),
        ("{ $.e = Ev*ent }", r#"{"e": "Event"}"#, false),
        ("{ $.e = Ev*ent }", r#"{"e": "Ev*ent"}"#, true),
        (
            r#"{ $.eventType = "Update*" }"#,
            r#"{"eventType": "UpdateTrail"}"#,
            true,
        ),
        ("{ $.host = web-* }", r#"{"host": "web-prod-1"}"#, true),
        ("{ $.host != web-* }", r#"{"host": "api-prod-1"}"#, true),
        // AWS's metric-value example: `*` alone is any value, not null, not missing.
        (
            "{ $.latency = * }",
            r#"{"latency": 50, "requestType": "GET"}"#,
            true,
        ),
        ("{ $.latency = * }", r#"{"latency": "high"}"#, true),
        ("{ $.latency = * }", r#"{"latency": null}"#, false),
        ("{ $.latency = * }", r#"{"other": 1}"#, false),
        ("{ $.latency != * }", r#"{"latency": 1}"#, false),
    ];
    for (p, event, expected) in cases {
        assert_eq!(is_match(p, event), *expected, "{p} on {event}");
    }
}

#[test]
fn json_values_compare_as_numbers_when_they_read_as_numbers() {
    let cases: &[(&str, &str, bool)] = &[
        ("{ $.code = 404 }", r#"{"code": "404"}"#, true),
        ("{ $.code > 400 }", r#"{"code": "404"}"#, true),
        ("{ $.code != 404 }", r#"{"code": "abc"}"#, true),
        ("{ $.code = 404 }", r#"{"code": "abc"}"#, false),
        ("{ $.code > 1 }", r#"{"code": "abc"}"#, false),
        (r#"{ $.code = "404" }"#, r#"{"code": 404}"#, true),
        (r"{ $.code = %4\d\d% }", r#"{"code": 404}"#, true),
        ("{ $.code != %^5% }", r#"{"code": 404}"#, true),
        ("{ $.ok = true }", r#"{"ok": true}"#, true),
        ("{ $.ok IS TRUE }", r#"{"ok": "true"}"#, false),
        ("{ $.ok IS FALSE }", r#"{"ok": false}"#, true),
        ("{ $.ok > 0 }", r#"{"ok": true}"#, false),
        // A missing field fails every comparison, `!=` too.
        ("{ $.code != 404 }", r#"{"other": 1}"#, false),
        ("{ $.code != x }", r#"{"other": 1}"#, false),
    ];
    for (p, event, expected) in cases {
        assert_eq!(is_match(p, event), *expected, "{p} on {event}");
    }
}

#[test]
fn json_selectors() {
    let event = r#"{"detail-type": "Scheduled Event", "a_b": {"c-1": [[10, {"d": "x"}]]}, "list": [{"id": 1}, {"id": 2}], "obj": {"k1": 5, "k2": "v"}}"#;
    let cases: &[(&str, bool)] = &[
        (r#"{ $.detail-type = "Scheduled Event" }"#, true),
        ("{ $.a_b.c-1[0][0] = 10 }", true),
        ("{ $.a_b.c-1[0][1].d = x }", true),
        ("{ $.a_b.c-1[0][2] NOT EXISTS }", true),
        ("{ $.a_b.c-1.d NOT EXISTS }", true),
        ("{ $.list[*].id = 2 }", true),
        ("{ $.list[*].id = 3 }", false),
        ("{ $.obj.* = v }", true),
        ("{ $.obj.* > 4 }", true),
        ("{ $.obj.* > 5 }", false),
        ("{ $.obj[*] = 5 }", false),
        ("{ $.list.* = 1 }", false),
        ("{ $.nothing[*] NOT EXISTS }", true),
        ("{ $.list[*] NOT EXISTS }", false),
        ("{ $.obj.k1 is not exists }", false),
    ];
    for (p, expected) in cases {
        let p = p.replace("is not exists", "NOT EXISTS");
        assert_eq!(is_match(&p, event), *expected, "{p}");
    }
    // Keywords are read in any case.
    assert!(is_match("{ $.SomeObject is null }", TRAIL));
    assert!(is_match("{ $.missing not exists }", TRAIL));
}

#[test]
fn a_json_pattern_never_matches_a_message_that_is_not_json() {
    for message in [
        "ERROR plain text",
        "",
        "{not json}",
        r#"{"a": 1"#,
        "{} trailing",
    ] {
        assert!(!is_match("{ $.a NOT EXISTS }", message), "{message:?}");
        assert!(!is_match("{ $.a = * }", message), "{message:?}");
    }
    // JSON that is not an object has no fields.
    for message in ["{}", "[1, 2]", r#""text""#, "42", "null", "  {\"b\": 1}\n"] {
        assert!(is_match("{ $.a NOT EXISTS }", message), "{message:?}");
    }
}

#[test]
fn json_errors() {
    // AWS's own message for this one.
    assert_eq!(
        error("{ $.a = 1").to_string(),
        "If a filter pattern starts with '{' it must end with '}'"
    );
    assert_eq!(error("{ $.a = 1 } trailing"), PatternError::UnclosedJson);
    assert_eq!(error("{"), PatternError::UnclosedJson);
    // AWS: `Invalid character(s) in term '$."'`.
    assert_eq!(invalid_chars(r#"{ $."sc-status" = 5* }"#), r#"$.""#);
    assert_eq!(invalid_chars("{ $.a = foo@bar }"), "@");
    assert_eq!(invalid_chars(r#"{ $.a = \"x }"#), r"\");
    assert_eq!(invalid_chars("{ $[0] = 1 }"), "$[");
    assert_eq!(invalid_chars("{ $ = 1 }"), "$");
    assert_eq!(invalid_chars("{ $.a[x] = 1 }"), "$.a[x");
    assert_eq!(invalid_chars("{ $.a. = 1 }"), "$.a.");
    assert_eq!(invalid_chars("{ $.naïve = 1 }"), "$.naï");
    assert_eq!(invalid_chars("{ $.a = 1 & $.b = 2 }"), "&");
    assert_eq!(invalid_chars("{ $.a = 1 | $.b = 2 }"), "|");
    assert_eq!(invalid_chars("{ $.a ! 1 }"), "!");
    assert_eq!(invalid_chars("{ $.a = 1 ; }"), ";");
    for p in [
        "{ }",
        "{ a = 1 }",
        "{ $.a }",
        "{ $.a = }",
        "{ $.a == 1 }",
        "{ $.a > abc }",
        r#"{ $.a < "5" }"#,
        "{ $.a >= * }",
        "{ $.a > %5% }",
        "{ $.a IS NOT NULL }",
        "{ $.a IS MAYBE }",
        "{ $.a IS }",
        "{ $.a EXISTS }",
        "{ $.a NOT NULL }",
        "{ $.a = 1 && }",
        "{ $.a = 1 || || $.b = 2 }",
        "{ ($.a = 1 }",
        "{ $.a = 1) }",
        "{ $.a = 1 }}",
        "{ { $.a = 1 } }",
        "{ $.a = 1 $.b = 2 }",
        "{ $.a = 1, $.b = 2 }",
        r#"{ $.a = "not closed }"#,
        "{ $.a = %not closed }",
        "{ $.x[99999999999999999999] = 1 }",
        // AWS's wildcard quotas: one per selector, three per pattern.
        "{ $.*.inner[*] = 1 }",
        "{ $.a[*] = 1 && $.* = 2 && $.b[*] = 3 && $.c[*] = 4 }",
        // At most two regexes.
        "{ $.a = %r1% && $.b = %r2% && $.c = %r3% }",
    ] {
        assert_invalid(p);
    }
    pattern("{ $.a[*] = 1 && $.* = 2 && $.b[*] = 3 }");
    pattern(r#"{ $.a = %r1% && $.b = %r2% && $.c = "50%" }"#);
}

// ---- Space-delimited: AWS's "Using filter patterns to match terms in space-delimited
// log events" ----

/// The current page's example event.
const APACHE: &str =
    r#"127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#;

#[test]
fn doc_space_delimited_example_filters() {
    for p in [
        "[ip, user, username, timestamp, request, status_code, bytes]",
        "[ip, user, username, timestamp, request =*.html*, status_code = 4*, bytes]",
        "[..., request =*.html*, status_code = 4*, bytes]",
        "[ip, user, username, timestamp, request =*.html*, status_code = 404 || status_code = 410, bytes]",
        "[ip, server, username, timestamp, request, status_code, bytes > 1000]",
        // The extracted values show `[…]` and `"…"` fields without their brackets.
        r#"[ip, user = Prod, username = frank, timestamp = "10/Oct/2000:13:25:15 -0700", request = "GET /index.html HTTP/1.0", status_code = 404, bytes = 1534]"#,
        r"[ip, user, username, timestamp, request = %\.html%, status_code = %4[0-9]{2}%, bytes]",
    ] {
        assert!(is_match(p, APACHE), "{p} should match");
    }
    for p in [
        "[ip, user, username, timestamp, request =*.html*, status_code = 500, bytes]",
        "[ip, user, username, timestamp, request =*.gif*, status_code = 4*, bytes]",
        "[ip, user, username, timestamp, request, status_code = 403 || status_code = 410, bytes]",
        "[ip, user, username, timestamp, request, status_code, bytes > 2000]",
        "[..., status_code = 4*]",
        // More slots than fields, or fewer without an ellipsis.
        "[ip, user, username, timestamp, request, status_code, bytes, extra]",
        "[ip, user, username, timestamp, request, status_code]",
    ] {
        assert!(!is_match(p, APACHE), "{p} should not match");
    }
}

#[test]
fn doc_space_delimited_older_examples() {
    let events = [
        r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534"#,
        r#"127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324"#,
        r#"127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 200 4355"#,
    ];
    let cases: &[(&str, &[usize])] = &[
        (
            "[ip, user, username, timestamp, request, status_code, bytes]",
            &[1, 2, 3],
        ),
        ("[..., status_code, bytes]", &[1, 2, 3]),
        ("[ip, user, ..., status_code, bytes]", &[1, 2, 3]),
        ("[ip, user, ...]", &[1, 2, 3]),
        (
            "[ip, user, username, timestamp, request, status_code, bytes > 1000]",
            &[1, 2, 3],
        ),
        (
            "[ip, user, username, timestamp, request, status_code = 200, bytes]",
            &[1, 3],
        ),
        (
            "[ip, user, username, timestamp, request, status_code = 4*, bytes]",
            &[],
        ),
        (
            "[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]",
            &[],
        ),
        (
            "[ip, user, username, timestamp, request, status_code = 403 || status_code = 404, bytes]",
            &[],
        ),
        (
            "[ip, user, username, timestamp, request, status_code = 2* && status_code != 201, bytes > 4000]",
            &[3],
        ),
    ];
    for (p, expected) in cases {
        assert_eq!(matching(p, &events), *expected, "{p}");
    }
    // The older page's extraction example: its trailing `,` is a seventh, unnamed field.
    let event =
        r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#;
    assert!(is_match("[..., request=*.html*, status_code=4*,]", event));
}

#[test]
fn doc_space_delimited_word_order() {
    let events = ["ERROR WARN message", "ERROR message", "WARN message"];
    assert_eq!(matching("[w1=ERROR, w2]", &events), [2]);
    assert_eq!(matching("[w1=ERROR || w1=WARN, w2]", &events), [2, 3]);
    // The page says this matches event 1, whose first word is ERROR; no reading of the
    // pattern can do that, and with two slots it takes two-word events whose first word
    // is neither.
    assert_eq!(
        matching("[w1!=ERROR&&w1!=WARN, w2]", &events),
        Vec::<usize>::new()
    );
    assert!(is_match("[w1!=ERROR && w1!=WARN, w2]", "INFO message"));
    // The page writes the second name in capitals.
    let events = ["ERROR x", "WARNING x", "INFO x"];
    assert_eq!(matching("[w1=ERROR || W1=WARNING, w2]", &events), [1, 2]);
}

#[test]
fn message_fields_split_like_aws() {
    let cases: &[(&str, &str, bool)] = &[
        // Runs of spaces and tabs separate; a trailing newline is not a field.
        ("[a = x, b = y]", "x  \t y\n", true),
        ("[a, b]", "   x y   ", true),
        // Nested brackets stay one field; quotes may hold escaped quotes, kept as written.
        ("[a = \"x [y] z\", b]", "[x [y] z] end", true),
        (r#"[a = "*b\\\"c*", d]"#, r#""a b\"c d" end"#, true),
        // An unclosed `[` or `"` is an ordinary character.
        ("[a = \"[x\", b]", "[x y", true),
        ("[a = \"\\\"x\", b]", "\"x y", true),
        // After a closing bracket or quote, the next field starts.
        ("[a = x, b = y]", "[x]y", true),
        ("[a, b, c]", r#""x""y"[z]"#, true),
        // An empty message has no fields.
        ("[...]", "", true),
        ("[a]", "", false),
        ("[]", "x", true),
        ("[a, ..., z]", "x z", true),
        ("[a, ..., z]", "x", false),
        ("[a,,c = 3]", "1 2 3", true),
    ];
    for (p, message, expected) in cases {
        assert_eq!(is_match(p, message), *expected, "{p} on {message:?}");
    }
}

#[test]
fn space_delimited_values() {
    let cases: &[(&str, &str, bool)] = &[
        ("[a > 1000]", "1534", true),
        ("[a > 1000]", "abc", false),
        ("[a != 5]", "abc", true),
        ("[a = 1534]", "1534.0", true),
        ("[a = 1534]", "+1.534e3", true),
        ("[a < -2]", "-3", true),
        ("[a = *]", "anything", true),
        ("[a = \"x y\"]", "\"x y\"", true),
        ("[a = -]", "-", true),
        ("[a = 4*]", "404", true),
        ("[a = *4]", "404", true),
        ("[a = *0*]", "404", true),
        ("[a = 4*4]", "404", false),
        ("[a = %^4.4$%]", "404", true),
        ("[a != %^5%]", "404", true),
        ("[a = 1 || a = 2 && a = 3]", "1", true),
        ("[a = 1 || a = 2 && a = 3]", "2", false),
    ];
    for (p, message, expected) in cases {
        assert_eq!(is_match(p, message), *expected, "{p} on {message:?}");
    }
}

#[test]
fn space_delimited_errors() {
    // The fields AWS named in its InvalidParameterException for these patterns.
    assert_eq!(invalid_chars("[...fields, status=FAILED]"), "...fields");
    assert_eq!(
        invalid_chars("[time, request_id, event_type, ...message]"),
        "...message"
    );
    assert_eq!(
        error("[a, b").to_string(),
        "If a filter pattern starts with '[' it must end with ']'"
    );
    assert_eq!(error("[a, b] c"), PatternError::UnclosedDelimited);
    assert_eq!(invalid_chars("[(a = 1)]"), "(");
    assert_eq!(invalid_chars("[$.a = 1]"), "$.a");
    assert_eq!(invalid_chars("[a.b]"), "a.b");
    assert_eq!(invalid_chars("[a = b@c]"), "@");
    assert_eq!(invalid_chars("[a:b]"), ":");
    for p in [
        // AWS's older page showed this one; the console answers "Invalid filter pattern":
        // a field's conditions are about that field only.
        "[ip, user, username, timestamp, request, status_code = 4* && bytes > 1000]",
        "[..., a, ...]",
        "[a > x]",
        "[a = ]",
        "[a == 1]",
        "[a && a = 1]",
        "[a = 1 &&]",
        "[a = 1 b]",
        "[a [b]]",
        "[a = %x%, b = %y%, c = %z%]",
        "[a = \"open]",
        "[a = %open]",
    ] {
        assert_invalid(p);
    }
    pattern("[a = %x%, b = %y%, c = \"%z%\"]");
}

// ---- The API and hostile input ----

#[test]
fn parse_once_match_many() {
    let p: FilterPattern = "ERROR -DEBUG".parse().expect("parses");
    let hits = ["ERROR a", "ERROR DEBUG", "INFO"]
        .iter()
        .filter(|m| p.matches(m))
        .count();
    assert_eq!(hits, 1);
    let copy = p.clone();
    assert!(copy.matches("ERROR b"));
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let nested = |depth: usize| format!("{{ {}$.a = 1{} }}", "(".repeat(depth), ")".repeat(depth));
    assert!(is_match(&nested(MAX_DEPTH), r#"{"a": 1}"#));
    assert_invalid(&nested(MAX_DEPTH + 1));
    assert_invalid(&nested(100_000));
    assert_invalid(&format!("{{ {} }}", "(".repeat(100_000)));
    // Long flat chains are not nesting.
    let chain = vec!["$.a = 1"; 5_000].join(" && ");
    assert!(is_match(&format!("{{ {chain} }}"), r#"{"a": 1}"#));
    let chain = vec!["a = 1"; 5_000].join(" || ");
    assert!(is_match(&format!("[{chain}]"), "1"));
    // Deeply nested messages are not JSON to serde (its recursion limit): no match.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(!is_match("{ $.a NOT EXISTS }", &deep));
    let deep = format!("{}1{}", r#"{"a":"#.repeat(50_000), "}".repeat(50_000));
    assert!(!is_match("{ $.a = * }", &deep));
    assert!(is_match("[...]", &deep));
}

/// A small deterministic generator, so the hostile-input test needs no dependency and
/// fails the same way every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

#[test]
fn hostile_patterns_and_messages_never_panic() {
    const PIECES: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        "(",
        ")",
        "$",
        "$.",
        "$.a",
        "$.a.b",
        "[0]",
        "[*]",
        ".*",
        "$.*",
        "[99999999999999999999999]",
        "=",
        "!=",
        "!",
        "<",
        "<=",
        ">",
        ">=",
        "==",
        "&&",
        "||",
        "&",
        "|",
        ",",
        "...",
        "\"",
        "\"x y\"",
        "\\",
        "\\\"",
        "%",
        "%a.c%",
        "%(x)%",
        "%[%",
        "%a{99999}%",
        "ERROR",
        "-",
        "?",
        "*",
        "4*",
        "*x*",
        "IS",
        "NOT",
        "EXISTS",
        "TRUE",
        "FALSE",
        "NULL",
        "1e3",
        "-1.5",
        "+7",
        "1e999",
        " ",
        "  ",
        "\t",
        "\n",
        "é",
        "☕",
        "\u{0}",
        "a",
        "w1",
        "_",
        ":",
        "@",
        "'",
        "`",
    ];
    const MESSAGES: &[&str] = &[
        "",
        " ",
        "ERROR x",
        TRAIL,
        APACHE,
        r#"{"a": {"b": [1, "x", null, true, {"c": []}]}, "w1": "ERROR"}"#,
        r#"{"a": 1e308, "b": -0, "c": "1e999", "d": "\u0000"}"#,
        "[unclosed \"quote [nested [deep]] \\\" end",
        "\"\"\"[[[]]]\\\\\\",
        "é ☕ \u{0} \u{feff}",
        "[1, 2, 3]",
    ];
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut parsed = 0;
    let mut matched = 0;
    for round in 0..20_000 {
        let mut p = String::new();
        for _ in 0..rng.below(24) {
            if rng.below(8) == 0 {
                p.push(char::from_u32(rng.below(0x3000) as u32).unwrap_or('?'));
            } else {
                p.push_str(rng.pick(PIECES));
            }
        }
        // Give the structured parsers a fair share of inputs.
        match round % 3 {
            0 => p = format!("{{{p}}}"),
            1 => p = format!("[{p}]"),
            _ => {}
        }
        let Ok(pattern) = FilterPattern::parse(&p) else {
            continue;
        };
        parsed += 1;
        let mut random = String::new();
        for _ in 0..rng.below(16) {
            random.push_str(rng.pick(PIECES));
        }
        for message in MESSAGES
            .iter()
            .copied()
            .chain([random.as_str(), p.as_str()])
        {
            if pattern.matches(message) {
                matched += 1;
            }
        }
    }
    assert!(
        parsed > 500,
        "the generator should reach the matcher ({parsed} parsed)"
    );
    assert!(matched > 100, "and some of those should match ({matched})");
}

#[test]
fn error_texts() {
    assert_eq!(
        PatternError::InvalidCharacters("(".into()).to_string(),
        "Invalid character(s) in term '('"
    );
    assert_eq!(
        PatternError::UnclosedJson.to_string(),
        "If a filter pattern starts with '{' it must end with '}'"
    );
    assert_eq!(
        PatternError::UnclosedDelimited.to_string(),
        "If a filter pattern starts with '[' it must end with ']'"
    );
    assert_eq!(
        error("{ $.a IS NOT NULL }").to_string(),
        "Invalid filter pattern: IS NOT is not supported (use != or NOT EXISTS)"
    );
}
