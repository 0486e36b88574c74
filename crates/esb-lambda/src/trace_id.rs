//! X-Ray trace header generation: Lambda hands every invocation a trace id, even when
//! the caller sent none, and runtimes expose it as `_X_AMZN_TRACE_ID`.

use std::time::{SystemTime, UNIX_EPOCH};

/// A fresh, unsampled X-Ray trace header (`Root=1-<epoch hex>-<96 bit hex>;Parent=...;Sampled=0`).
pub fn new_trace_header() -> String {
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let root = uuid::Uuid::new_v4().simple().to_string();
    let parent = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{epoch:08x}-{};Parent={};Sampled=0",
        &root[..24],
        &parent[..16]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_header_has_xray_shape() {
        let h = new_trace_header();
        let parts: Vec<&str> = h.split(';').collect();
        assert_eq!(parts.len(), 3, "{h}");
        let root = parts[0].strip_prefix("Root=1-").expect("root prefix");
        let (epoch, id) = root.split_once('-').expect("epoch-id");
        assert_eq!(epoch.len(), 8);
        assert_eq!(id.len(), 24);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(parts[1].len(), "Parent=".len() + 16);
        assert_eq!(parts[2], "Sampled=0");
        assert_ne!(new_trace_header(), h, "trace ids must be unique");
    }
}
