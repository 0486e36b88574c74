//! Node labels as written on the command line: `key=value`, the rules the template's
//! `Metadata.Esb` node labels follow (a key of letters, digits, `._/-`, at most 63
//! characters; a value of at most 63), as `esb up --node-label`, `esb node add` and
//! `esb agent --join` take them.

use std::collections::BTreeMap;

/// Parses `key=value`.
pub fn parse_label(s: &str) -> Result<(String, String), String> {
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not a label: write key=value"))?;
    let key_ok = key.len() <= 63
        && key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-'));
    if !key_ok {
        return Err(format!(
            "label key `{key}`: letters, digits and ._/- only, starting with a letter or digit, at most 63 characters"
        ));
    }
    if value.len() > 63 {
        return Err(format!(
            "label `{key}`: the value is longer than 63 characters"
        ));
    }
    Ok((key.to_string(), value.to_string()))
}

pub fn to_map(labels: &[(String, String)]) -> BTreeMap<String, String> {
    labels.iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_the_templates_rules() {
        assert_eq!(parse_label("pool=edge"), Ok(("pool".into(), "edge".into())));
        assert_eq!(parse_label("zone="), Ok(("zone".into(), String::new())));
        assert!(parse_label("pool").is_err());
        assert!(parse_label("-x=1").is_err());
        assert!(parse_label("a b=1").is_err());
        assert!(parse_label(&format!("k={}", "v".repeat(64))).is_err());
    }
}
