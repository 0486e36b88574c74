//! A function's environment as a worker on a remote node sees it. The box wrote the
//! spec for its own machine: its URLs (`AWS_ENDPOINT_URL*`, `ESB_LOGS_URL`) name
//! `127.0.0.1`, and `AWS_CA_BUNDLE` is a path on the box. On a node those point at the
//! box's address and at the node's own copy of the box's CA, so a function behaves the
//! same wherever it runs; `ESB_NODE` names the node in the worker's log records.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;

use crate::container_env::rewrite_loopback_url;
use crate::worker_env::NODE_VAR;

/// The box a remote node serves (learnt when the node joined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteBox {
    /// The box's address as the node reaches it (`10.213.1.1`, a name, or an IPv6 address).
    pub box_host: String,
    /// The node's copy of the box's CA certificate.
    pub ca_path: PathBuf,
    /// The node's name in the box (its workers' `ESB_NODE`).
    pub node_name: String,
    /// The address workers listen on, which the box's gateway reaches.
    pub worker_ip: IpAddr,
    /// The node's certificate and key: process workers serve the gateway with them,
    /// over mutual TLS (the box CA, `ca_path`, vouches for the gateway).
    pub worker_tls: Option<(PathBuf, PathBuf)>,
}

impl RemoteBox {
    /// `box_host` as written in a URL.
    fn url_host(&self) -> String {
        match self.box_host.parse::<Ipv6Addr>() {
            Ok(v6) => format!("[{v6}]"),
            Err(_) => self.box_host.clone(),
        }
    }
}

/// `env` with loopback URLs pointing at the box, `AWS_CA_BUNDLE` at the node's copy of
/// the box CA, and `ESB_NODE` set to the node's name.
pub fn for_remote(env: &BTreeMap<String, String>, remote: &RemoteBox) -> BTreeMap<String, String> {
    let host = remote.url_host();
    let mut out: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| {
            let value = if k == "AWS_CA_BUNDLE" {
                remote.ca_path.display().to_string()
            } else {
                rewrite_loopback_url(v, &host)
            };
            (k.clone(), value)
        })
        .collect();
    out.insert(NODE_VAR.to_string(), remote.node_name.clone());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(host: &str) -> RemoteBox {
        RemoteBox {
            box_host: host.into(),
            ca_path: "/var/lib/esb-node/box-ca.pem".into(),
            node_name: "edge-2".into(),
            worker_ip: "10.213.1.2".parse().expect("ip"),
            worker_tls: None,
        }
    }

    fn env() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("AWS_ENDPOINT_URL".into(), "https://127.0.0.1:8443".into()),
            (
                "AWS_ENDPOINT_URL_SQS".into(),
                "https://localhost:8443/sqs".into(),
            ),
            (
                "ESB_LOGS_URL".into(),
                "https://127.0.0.1:8443/esb/logs".into(),
            ),
            ("AWS_CA_BUNDLE".into(), "/home/me/.esb/certs/ca.pem".into()),
            ("TABLE".into(), "orders".into()),
            ("OTHER".into(), "http://127.0.0.10:1".into()),
        ])
    }

    #[test]
    fn box_urls_point_at_the_box_and_the_ca_at_the_nodes_copy() {
        let out = for_remote(&env(), &remote("10.213.1.1"));
        let get = |k: &str| out.get(k).map(String::as_str);
        assert_eq!(get("AWS_ENDPOINT_URL"), Some("https://10.213.1.1:8443"));
        assert_eq!(
            get("AWS_ENDPOINT_URL_SQS"),
            Some("https://10.213.1.1:8443/sqs")
        );
        assert_eq!(
            get("ESB_LOGS_URL"),
            Some("https://10.213.1.1:8443/esb/logs")
        );
        assert_eq!(get("AWS_CA_BUNDLE"), Some("/var/lib/esb-node/box-ca.pem"));
        assert_eq!(get("TABLE"), Some("orders"));
        assert_eq!(get("OTHER"), Some("http://127.0.0.10:1"));
        assert_eq!(get("ESB_NODE"), Some("edge-2"));
    }

    #[test]
    fn an_ipv6_box_is_bracketed_in_urls() {
        let out = for_remote(&env(), &remote("fd00::1"));
        assert_eq!(
            out.get("AWS_ENDPOINT_URL").map(String::as_str),
            Some("https://[fd00::1]:8443")
        );
    }

    #[test]
    fn a_container_on_a_node_reaches_the_box_not_its_own_host() {
        // The docker runtime translates what the agent hands it: nothing is left for
        // it to turn into host.docker.internal, and the node's CA is what it mounts.
        let (vars, binds) =
            crate::container_env::for_container(&for_remote(&env(), &remote("10.213.1.1")));
        assert!(vars.contains(&"AWS_ENDPOINT_URL=https://10.213.1.1:8443".to_string()));
        assert!(
            !vars
                .iter()
                .any(|v| v.contains(crate::container_env::HOST_ALIAS))
        );
        assert_eq!(
            binds,
            vec![format!(
                "/var/lib/esb-node/box-ca.pem:{}:ro",
                crate::container_env::CA_IN_CONTAINER
            )]
        );
    }
}
