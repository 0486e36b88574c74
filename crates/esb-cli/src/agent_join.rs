//! `esb agent --join`: the credentials an agent on another machine serves the box
//! with. Joins when it has none or is given a token it has not used yet (a re-join);
//! otherwise the stored ones are used, so a restart needs no token.

use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use clap::Args;
use esb_nodes::NodeCredentials;
use esb_state::StateDir;

use crate::node_labels::to_map;

/// `esb agent`'s flags for joining a box.
#[derive(Args)]
pub struct JoinArgs {
    /// Join the box at this URL (`esb node add` on the box prints the command), then
    /// serve it over mutual TLS. Once joined, the agent serves with the stored
    /// credentials (`<state>/node/`) without it.
    #[arg(long = "join", env = "ESB_JOIN", value_name = "BOX_URL")]
    pub join: Option<String>,
    /// The one-time join token `esb node add` printed (a new one re-joins).
    #[arg(long, env = "ESB_JOIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// This node's name in the box (default: the hostname; a token may assign one).
    #[arg(long, env = "ESB_NODE_NAME")]
    pub name: Option<String>,
    /// A label of this node, key=value (repeatable), for placement.
    #[arg(
        long = "label",
        env = "ESB_NODE_LABELS",
        value_delimiter = ',',
        value_parser = crate::node_labels::parse_label
    )]
    pub labels: Vec<(String, String)>,
    /// host:port the box reaches this agent at (default: --listen).
    #[arg(long, env = "ESB_ADVERTISE")]
    pub advertise: Option<String>,
}

/// The credentials to serve with: `None` for a plain loopback agent. `listen` is the
/// agent's `--listen`, the address the box reaches it at unless `--advertise` says.
pub async fn credentials(
    args: &JoinArgs,
    listen: SocketAddr,
    state: &StateDir,
) -> Result<Option<NodeCredentials>> {
    let dir = state.node();
    let stored = NodeCredentials::load(&dir)
        .with_context(|| format!("cannot read this node's credentials in {}", dir.display()))?;
    let (url, token) = match (&args.join, &args.token) {
        (None, None) => return Ok(stored),
        (None, Some(_)) => bail!("--token needs --join <box url> (`esb node add` prints both)"),
        (Some(_), None) => match stored {
            Some(creds) => return Ok(Some(creds)),
            None => bail!(
                "--join needs --token on the first join (`esb node add` on the box prints one)"
            ),
        },
        (Some(url), Some(token)) => (url, token),
    };
    let token_id = esb_nodes::join_token::token_id(token);
    if let Some(creds) = stored
        && token_id.as_deref() == Some(creds.joined.token_id.as_str())
    {
        // The same command line again (a restart): that token is spent already.
        return Ok(Some(creds));
    }
    let name = match &args.name {
        Some(name) => name.clone(),
        None => hostname(),
    };
    if !esb_nodes::valid_node_name(&name) {
        bail!(
            "node name {name:?}: lowercase letters, digits and '-', at most 63, not starting with '-'; pass --name"
        );
    }
    let address = match &args.advertise {
        Some(address) => address.clone(),
        None if listen.ip().is_unspecified() => bail!(
            "--listen {} is every address: pass --advertise <ip:port> (where the box reaches this agent)",
            listen
        ),
        None => listen.to_string(),
    };
    esb_state::create_private(state.root())
        .with_context(|| format!("cannot create {}", state.root().display()))?;
    let creds = esb_nodes::join(url, token, &name, &address, to_map(&args.labels), &dir)
        .await
        .with_context(|| format!("cannot join the box at {url}"))?;
    tracing::info!(
        node = %creds.joined.node_name,
        box_url = %creds.joined.box_url,
        %address,
        "joined the box"
    );
    Ok(Some(creds))
}

/// This machine's name as a node name: lowercased, first label.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .and_then(|h| h.trim().split('.').next().map(str::to_ascii_lowercase))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_string())
}
