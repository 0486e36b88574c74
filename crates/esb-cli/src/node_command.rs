//! `esb node add | tokens | revoke | list | remove`: join tokens of a box, made and
//! revoked through its state dir's files, so they work whether or not the box runs;
//! the nodes themselves (`list`, `remove`: drain, then forget) through the running box.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use esb_nodes::TokenStore;
use esb_state::StateDir;

use crate::node_labels::{parse_label, to_map};

#[derive(Args)]
pub struct NodeArgs {
    #[command(subcommand)]
    command: NodeCommand,
}

#[derive(Subcommand)]
enum NodeCommand {
    /// Make a one-time token a machine joins the box with, and print the command to run there.
    Add(AddArgs),
    /// The box's join tokens (never their secrets): unused, used, expired, revoked.
    Tokens(StateArgs),
    /// Revoke a join token by its id (`esb node tokens` lists them).
    Revoke(RevokeArgs),
    /// The box's nodes: health, address, capacity, workers per function.
    List(StateArgs),
    /// Drain a node (no new workers; idle ones removed, busy ones once their invocation
    /// ends) and remove it from the box. It must join again, with a new token, to return.
    Remove(RemoveArgs),
}

#[derive(Args)]
struct RemoveArgs {
    /// The node's name (`esb node list`).
    name: String,
    /// Seconds to wait for busy workers to finish before removing them anyway.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    #[command(flatten)]
    state: StateArgs,
}

#[derive(Args)]
struct StateArgs {
    /// State directory of the box.
    #[arg(long, env = "ESB_STATE_DIR", default_value = esb_state::DEFAULT_NAME)]
    state_dir: PathBuf,
}

#[derive(Args)]
struct AddArgs {
    /// The name the node gets (default: its own `--name`, or its hostname). A token that
    /// names a node also lets that node re-join under its name.
    #[arg(long)]
    name: Option<String>,
    /// A label the node gets, key=value (repeatable); these win over the node's own.
    #[arg(long = "label", value_parser = parse_label)]
    labels: Vec<(String, String)>,
    /// How long the token is valid: 90s, 30m, 1h, 2d.
    #[arg(long, default_value = "1h", value_parser = parse_ttl)]
    ttl: Duration,
    /// The box's URL as the node reaches it (default: the running box's, with this
    /// machine's first non-loopback address instead of a loopback one).
    #[arg(long)]
    box_url: Option<String>,
    #[command(flatten)]
    state: StateArgs,
}

#[derive(Args)]
struct RevokeArgs {
    /// The token's id (its second dot-separated part).
    id: String,
    #[command(flatten)]
    state: StateArgs,
}

/// `90s`, `30m`, `1h`, `2d`, or seconds.
fn parse_ttl(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?}: a number and s, m, h or d (1h)"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(format!("{text:?}: a number and s, m, h or d (1h)")),
    };
    if seconds == 0 {
        return Err("a token valid for no time cannot be used".into());
    }
    Ok(Duration::from_secs(seconds))
}

pub fn run(args: NodeArgs) -> Result<()> {
    match args.command {
        NodeCommand::Add(args) => add(args),
        NodeCommand::Tokens(args) => tokens(args),
        NodeCommand::Revoke(args) => revoke(args),
        NodeCommand::List(args) => list(args),
        NodeCommand::Remove(args) => remove(args),
    }
}

fn list(args: StateArgs) -> Result<()> {
    let client = crate::box_client::BoxClient::connect(&args.state_dir, Duration::from_secs(10))?;
    let status = client.status()?;
    crate::status_command::print_nodes(&status.nodes);
    Ok(())
}

fn remove(args: RemoveArgs) -> Result<()> {
    let client = crate::box_client::BoxClient::connect(
        &args.state.state_dir,
        Duration::from_secs(args.timeout + 30),
    )?;
    println!(
        "draining node {} (up to {} s for busy workers)...",
        args.name, args.timeout
    );
    let resp = client.send(
        reqwest::Method::POST,
        &format!(
            "{}?timeout={}",
            crate::box_nodes::remove_path(&args.name),
            args.timeout
        ),
        &[],
        Vec::new(),
    )?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().unwrap_or_default();
    if !status.is_success() {
        bail!(
            "cannot remove node {}: {}",
            args.name,
            body["message"].as_str().unwrap_or(status.as_str())
        );
    }
    match body["busy_at_deadline"].as_u64() {
        Some(busy) if busy > 0 => println!(
            "node {} removed; {busy} worker(s) were still busy at the deadline and were removed with it",
            args.name
        ),
        _ => println!("node {} drained and removed", args.name),
    }
    Ok(())
}

fn add(args: AddArgs) -> Result<()> {
    let state = StateDir::new(&args.state.state_dir);
    if let Some(name) = &args.name
        && !esb_nodes::valid_node_name(name)
    {
        bail!(
            "--name {name:?}: lowercase letters, digits and '-', at most 63, not starting with '-'"
        );
    }
    ensure_ca(&state)?;
    let url = box_url(&state, args.box_url.as_deref())?;
    let token = TokenStore::open(&state)
        .create(args.name.clone(), to_map(&args.labels), args.ttl)
        .context("cannot make a join token")?;
    let id = token.split('.').nth(1).unwrap_or_default();
    println!(
        "Join token {id} (one use, valid {}):\n  {token}\n\nOn the node, run:\n  esb agent --join {url} --token {token} --listen <node-ip>:50051",
        human(args.ttl)
    );
    if crate::box_state::read(&state).is_none() {
        eprintln!(
            "esb: note: no box runs on {} now; the node can join once it does",
            state.root().display()
        );
    }
    Ok(())
}

/// `1h`, `1h30m`, `45m`, `20s`: whole units, the largest two.
fn human(ttl: Duration) -> String {
    let s = ttl.as_secs();
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h{m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d{h}h"),
    }
}

/// A token carries the CA's fingerprint, so the CA must exist: made here as the box
/// would make it, unless a running box holds a CA whose key an older ESB discarded.
fn ensure_ca(state: &StateDir) -> Result<()> {
    let paths = esb_gateway::certs::CertPaths::under(state);
    if paths.ca.is_file() && paths.ca_key.is_file() {
        return Ok(());
    }
    if crate::box_state::read(state).is_some() {
        bail!(
            "the box running on {} has no CA key (started by an older ESB); restart it, then make the token",
            state.root().display()
        );
    }
    esb_state::create_private(state.root())
        .with_context(|| format!("cannot create {}", state.root().display()))?;
    esb_gateway::certs::ensure(state).context("cannot create the box's CA")?;
    Ok(())
}

/// The URL the node reaches the box at.
fn box_url(state: &StateDir, flag: Option<&str>) -> Result<String> {
    if let Some(url) = flag {
        if !url.starts_with("https://") {
            bail!("--box-url {url}: the box's gateway URL, https://host:port");
        }
        return Ok(url.trim_end_matches('/').to_string());
    }
    let running = crate::box_state::read(state);
    if let Some(url) = running.as_ref().map(|s| s.url.trim_end_matches('/'))
        && let Ok(uri) = url.parse::<http::Uri>()
        && let Some(host) = uri.host()
        && !is_loopback(host)
    {
        return Ok(url.to_string());
    }
    let port = running.map_or(8443, |s| s.port);
    let host = match esb_nodes::local_ips().into_iter().next() {
        Some(IpAddr::V6(ip)) => format!("[{ip}]"),
        Some(ip) => ip.to_string(),
        None => {
            eprintln!(
                "esb: warning: this machine has no non-loopback address; pass --box-url with the address nodes reach the box at"
            );
            "127.0.0.1".to_string()
        }
    };
    Ok(format!("https://{host}:{port}"))
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || bare
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
}

fn tokens(args: StateArgs) -> Result<()> {
    let state = StateDir::new(&args.state_dir);
    let tokens = TokenStore::open(&state)
        .list()
        .context("cannot read the join tokens")?;
    if tokens.is_empty() {
        println!("no join tokens (make one with `esb node add`)");
        return Ok(());
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    println!("{:<10} {:<20} {:<22} LABELS", "ID", "NAME", "STATE");
    for t in tokens {
        let state = match (&t.used_by, t.revoked) {
            (Some(node), _) => format!("used by {node}"),
            (None, true) => "revoked".to_string(),
            (None, false) if t.expires_at_ms <= now => "expired".to_string(),
            (None, false) => format!(
                "valid {} more",
                human(Duration::from_secs(
                    (((t.expires_at_ms - now) / 1000).max(1)) as u64
                ))
            ),
        };
        let labels: Vec<String> = t.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "{:<10} {:<20} {:<22} {}",
            t.id,
            t.name.as_deref().unwrap_or("-"),
            state,
            labels.join(",")
        );
    }
    Ok(())
}

fn revoke(args: RevokeArgs) -> Result<()> {
    let state = StateDir::new(&args.state.state_dir);
    if !TokenStore::open(&state)
        .revoke(&args.id)
        .context("cannot revoke the token")?
    {
        bail!("no join token {} (see `esb node tokens`)", args.id);
    }
    println!("revoked join token {}", args.id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_take_a_unit() {
        assert_eq!(parse_ttl("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_ttl("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_ttl("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_ttl("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_ttl("120"), Ok(Duration::from_secs(120)));
        assert!(parse_ttl("0h").is_err());
        assert!(parse_ttl("1w").is_err());
        assert!(parse_ttl("h").is_err());
        assert_eq!(human(Duration::from_secs(1799)), "29m");
        assert_eq!(human(Duration::from_secs(5400)), "1h30m");
        assert_eq!(human(Duration::from_secs(172_800)), "2d");
    }
}
