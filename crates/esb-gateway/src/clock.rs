//! Wall-clock time as the box records it: milliseconds since the Unix epoch, the unit
//! of asynchronous events' ages and of `esb status`'s last-invoke times.

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}
