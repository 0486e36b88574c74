//! Percent-decoding the way API Gateway REST APIs apply it to what they hand a function.
//!
//! API Gateway decodes path parameters (`%2F` inside one segment stays part of that
//! value, `+` stays a plus) and query strings (form decoding: `+` is a space), but passes
//! the request `path` on still encoded. Requests come from any client, so decoding never
//! fails: a malformed escape is kept as written and bytes that are not UTF-8 become
//! U+FFFD, rather than turning a request API Gateway would accept into an error.

/// Decodes `%XX` escapes in one path segment (or path remainder). `+` is left alone.
pub fn decode_path(raw: &str) -> String {
    decode(raw, false)
}

/// Decodes one query-string key or value: `+` is a space, then `%XX` escapes.
pub fn decode_query_component(raw: &str) -> String {
    decode(raw, true)
}

/// Splits a raw query string into decoded `(key, value)` pairs, in order.
///
/// Empty pieces (`a=1&&b=2`) and pieces with an empty key (`=x`) are dropped; a key with
/// no `=` gets an empty value, as API Gateway does for `?flag`.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|piece| !piece.is_empty())
        .filter_map(|piece| {
            let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
            let key = decode_query_component(key);
            (!key.is_empty()).then(|| (key, decode_query_component(value)))
        })
        .collect()
}

fn decode(raw: &str, plus_is_space: bool) -> String {
    let bytes = raw.as_bytes();
    let needs_decoding = bytes.contains(&b'%') || (plus_is_space && bytes.contains(&b'+'));
    if !needs_decoding {
        return raw.to_string();
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let escape = bytes
                    .get(i + 1)
                    .and_then(|&h| hex_value(h))
                    .zip(bytes.get(i + 2).and_then(|&l| hex_value(l)));
                if let Some((high, low)) = escape {
                    out.push((high << 4) | low);
                    i += 3;
                } else {
                    out.push(b'%');
                    i += 1;
                }
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_decoding_keeps_plus_and_decodes_escapes() {
        assert_eq!(decode_path("a%20b+c"), "a b+c");
        assert_eq!(decode_path("a%2Fb"), "a/b");
        assert_eq!(decode_path("caf%C3%A9"), "café");
        assert_eq!(decode_path("plain"), "plain");
    }

    #[test]
    fn malformed_escapes_are_kept_as_written() {
        assert_eq!(decode_path("100%"), "100%");
        assert_eq!(decode_path("%zz"), "%zz");
        assert_eq!(decode_path("%4"), "%4");
        assert_eq!(decode_path("%%41"), "%A");
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        assert_eq!(decode_path("%FF%FEok"), "\u{FFFD}\u{FFFD}ok");
        assert_eq!(decode_path("%C3"), "\u{FFFD}");
    }

    #[test]
    fn query_components_decode_plus_as_space() {
        assert_eq!(decode_query_component("-+createdAt"), "- createdAt");
        assert_eq!(decode_query_component("a%2Bb"), "a+b");
    }

    #[test]
    fn query_parsing_keeps_order_repeats_and_bare_keys() {
        assert_eq!(
            parse_query("b=2&a=1&&b=3&flag&=orphan&e="),
            vec![
                ("b".to_string(), "2".to_string()),
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "3".to_string()),
                ("flag".to_string(), String::new()),
                ("e".to_string(), String::new()),
            ]
        );
        assert_eq!(
            parse_query("q=a=b"),
            vec![("q".to_string(), "a=b".to_string())]
        );
        assert!(parse_query("").is_empty());
        assert!(parse_query("&&").is_empty());
    }
}
