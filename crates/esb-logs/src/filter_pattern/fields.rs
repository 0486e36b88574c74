//! A log line cut into fields the way space-delimited patterns see it: fields are
//! separated by whitespace, and a field that starts with `[` or `"` runs to the matching
//! `]` or `"` (AWS: "Characters between brackets ("[]") and double quotation marks ("")
//! are considered single fields"), its value without them, as AWS extracts
//! `10/Oct/2000:13:25:15 -0700` from `[10/Oct/2000:13:25:15 -0700]`.

/// The fields of `message`. An opening `[` or `"` that is never closed is an ordinary
/// character. Right after a closing `]` or `"` the next field begins, space or not.
pub(super) fn split_fields(message: &str) -> Vec<&str> {
    let bytes = message.as_bytes();
    let mut fields = Vec::new();
    let mut i = 0;
    loop {
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let Some(&first) = bytes.get(i) else {
            return fields;
        };
        let close = match first {
            b'[' => closing_bracket(bytes, i),
            b'"' => closing_quote(bytes, i),
            _ => None,
        };
        // Every index used to slice is that of an ASCII byte, so always a char boundary.
        if let Some(end) = close {
            fields.push(&message[i + 1..end]);
            i = end + 1;
        } else {
            let start = i;
            while bytes.get(i).is_some_and(|b| !b.is_ascii_whitespace()) {
                i += 1;
            }
            fields.push(&message[start..i]);
        }
    }
}

/// The `]` that closes the `[` at `open`, counting nested brackets.
fn closing_bracket(bytes: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'[' => depth += 1,
            b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The `"` that closes the one at `open`; `\"` does not close it.
fn closing_quote(bytes: &[u8], open: usize) -> Option<usize> {
    let mut i = open + 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}
