//! The box's nodes as `esb up` and `esb gateway` start them: the agent on this
//! machine (`local`, when there is one) and every node that joined the box (recorded
//! in `<state>/nodes/nodes.json`), reached over mutual TLS.

use anyhow::{Context, Result};
use esb_gateway::nodes::{Cluster, LOCAL_NODE, NodeConfig};

/// The cluster of `local_url`'s agent, labelled `labels`.
pub fn cluster(local_url: &str, labels: &[(String, String)]) -> Result<Cluster> {
    let cluster = Cluster::default();
    cluster
        .add_node(NodeConfig {
            name: LOCAL_NODE.to_string(),
            url: local_url.to_string(),
            labels: labels.iter().cloned().collect(),
            tls: None,
            local: true,
        })
        .with_context(|| format!("invalid agent URL {local_url}"))?;
    Ok(cluster)
}
