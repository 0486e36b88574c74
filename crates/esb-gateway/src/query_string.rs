//! Query strings as API Gateway reads them: `&`-separated pairs whose names and values
//! are form-encoded (`+` is a space, `%2B` a plus).

use percent_encoding::percent_decode_str;

/// The decoded name/value pairs of a raw query string, in order; `a` alone is `a=`.
pub fn pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

/// A form-encoded query component, decoded.
pub fn form_decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}
