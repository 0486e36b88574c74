//! Numbers as a query writes them: decimals, hex, sizes (`10KiB`, `2MB`) and durations.

use super::time_args::parse_duration;

/// A number in a query: decimal (`_` allowed as a separator), `0x` hex, a size with a
/// `K`/`M`/`G`/`T` (powers of 1000) or `Ki`/`Mi`/`Gi`/`Ti` (powers of 1024) suffix and an
/// optional `B`, or a duration in nanoseconds.
pub(super) fn parse_number(s: &str) -> Option<f64> {
    let t: String = s.chars().filter(|&c| c != '_').collect();
    if t.is_empty() {
        return None;
    }
    if let Ok(f) = t.parse::<f64>() {
        return Some(f);
    }
    let (sign, body) = match t.strip_prefix('-') {
        Some(b) => (-1.0, b),
        None => (1.0, t.strip_prefix('+').unwrap_or(&t)),
    };
    if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok().map(|n| sign * n as f64);
    }
    const SIZES: [(&str, f64); 17] = [
        ("KiB", 1024.0),
        ("MiB", 1_048_576.0),
        ("GiB", 1_073_741_824.0),
        ("TiB", 1_099_511_627_776.0),
        ("KB", 1e3),
        ("MB", 1e6),
        ("GB", 1e9),
        ("TB", 1e12),
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("K", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("B", 1.0),
    ];
    for (suffix, mult) in SIZES {
        if let Some(num) = body.strip_suffix(suffix)
            && let Ok(f) = num.parse::<f64>()
        {
            return Some(sign * f * mult);
        }
    }
    parse_duration(&t).map(|d| d as f64)
}
