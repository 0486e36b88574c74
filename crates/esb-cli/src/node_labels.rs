//! `--label key=value`, as `esb node add` and `esb agent --join` take it.

use std::collections::BTreeMap;

/// One `key=value` (clap value parser).
pub fn parse_label(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("{text:?} is not key=value")),
    }
}

pub fn to_map(labels: &[(String, String)]) -> BTreeMap<String, String> {
    labels.iter().cloned().collect()
}
