//! A function's environment as a container sees it. Inside a container, `127.0.0.1`
//! is the container itself, so URLs the box hands its functions (the gateway's
//! `AWS_ENDPOINT_URL_*`) are pointed at `host.docker.internal`, which the runtime maps
//! to the box network's gateway; host files the box hands over (`AWS_CA_BUNDLE`) are
//! bind-mounted read-only.

use std::collections::BTreeMap;
use std::path::Path;

/// The name containers reach the box's host by (Docker Desktop's name for it, too).
pub const HOST_ALIAS: &str = "host.docker.internal";
/// Where the box's CA certificate appears inside workers.
pub const CA_IN_CONTAINER: &str = "/etc/esb/ca.pem";

const LOOPBACK_HOSTS: [&str; 3] = ["127.0.0.1", "localhost", "[::1]"];

/// The container's variables and the bind mounts (`host:container:ro`) they need.
pub fn for_container(environment: &BTreeMap<String, String>) -> (Vec<String>, Vec<String>) {
    let mut binds = Vec::new();
    let vars = environment
        .iter()
        .map(|(k, v)| {
            let value = if k == "AWS_CA_BUNDLE" && Path::new(v).is_absolute() {
                binds.push(format!("{v}:{CA_IN_CONTAINER}:ro"));
                CA_IN_CONTAINER.to_string()
            } else {
                rewrite_loopback_url(v, HOST_ALIAS)
            };
            format!("{k}={value}")
        })
        .collect();
    (vars, binds)
}

/// `http(s)://127.0.0.1:8443/x` → `http(s)://<host>:8443/x` (`host` as written in a
/// URL: an IPv6 address in brackets); anything else unchanged. Containers use
/// [`HOST_ALIAS`], remote nodes the box's address (`crate::remote_env`).
pub fn rewrite_loopback_url(value: &str, host: &str) -> String {
    for scheme in ["http://", "https://"] {
        if let Some(rest) = value.strip_prefix(scheme) {
            for loopback in LOOPBACK_HOSTS {
                if let Some(tail) = rest.strip_prefix(loopback)
                    && (tail.is_empty() || tail.starts_with([':', '/']))
                {
                    return format!("{scheme}{host}{tail}");
                }
            }
        }
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_and_the_ca_bundle_are_translated_and_the_rest_is_kept() {
        let env = BTreeMap::from([
            (
                "AWS_ENDPOINT_URL_LAMBDA".into(),
                "https://127.0.0.1:8443".into(),
            ),
            ("API".into(), "http://localhost/x".into()),
            ("OTHER".into(), "http://127.0.0.10:1".into()),
            ("PLAIN".into(), "127.0.0.1".into()),
            ("AWS_CA_BUNDLE".into(), "/state/certs/ca.pem".into()),
        ]);
        let (vars, binds) = for_container(&env);
        assert!(vars.contains(&"AWS_ENDPOINT_URL_LAMBDA=https://host.docker.internal:8443".into()));
        assert!(vars.contains(&"API=http://host.docker.internal/x".into()));
        assert!(vars.contains(&"OTHER=http://127.0.0.10:1".into()));
        assert!(vars.contains(&"PLAIN=127.0.0.1".into()));
        assert!(vars.contains(&format!("AWS_CA_BUNDLE={CA_IN_CONTAINER}")));
        assert_eq!(
            binds,
            vec![format!("/state/certs/ca.pem:{CA_IN_CONTAINER}:ro")]
        );
    }
}
