//! Numbers the way filter patterns write them, used for both sides of a numeric
//! comparison so `1534`, `+1534` and `1.534e3` compare equal wherever they appear.

/// AWS's number grammar: an integer or a decimal with an optional `+`/`-` sign,
/// optionally followed by `e`/`E` and a signed integer (`10e-3`, `-55.5`, `+1000`).
/// Anything else (`.5`, `0x10`, `inf`, `4*`) is not a number but a string.
pub(super) fn parse_number(text: &str) -> Option<f64> {
    let b = text.as_bytes();
    let mut i = 0;
    let sign = |i: &mut usize| {
        if matches!(b.get(*i), Some(b'+' | b'-')) {
            *i += 1;
        }
    };
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    sign(&mut i);
    if !digits(&mut i) {
        return None;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        sign(&mut i);
        if !digits(&mut i) {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    text.parse().ok()
}
