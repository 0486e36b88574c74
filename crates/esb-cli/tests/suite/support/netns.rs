//! Machines for the multi-node tests, made on this one: each node is a network
//! namespace the test creates, joined to the host by a veth pair on a private /24 of
//! its own (`10.213.<n>.0/24`: the host side `.1`, the node `.2`). A node can be
//! killed (every process in it, as a machine losing power), partitioned (its link
//! taken down, as a cable pulled) and healed. Everything it made is removed on drop.

use std::process::Command;
use std::time::Duration;

/// The /16 the nodes' subnets come from: private, unused on the machines ESB is tested on.
const SUBNET_PREFIX: &str = "10.213";

pub struct NetNode {
    pub ns: String,
    host_if: String,
    peer_if: String,
    /// The box's address as the node sees it.
    pub host_ip: String,
    /// The node's address.
    pub node_ip: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn must(args: &[&str]) {
    if let Err(e) = ip(args) {
        panic!("cannot set up a test node (the multi-node tests need root and iproute2): {e}");
    }
}

impl NetNode {
    /// Node `n` (1..=250) of this test process; `n` picks the subnet, so tests running
    /// at once must use different numbers.
    pub fn create(n: u8) -> Self {
        let tag = format!("{}n{n}", std::process::id() % 100_000);
        let node = Self {
            ns: format!("esbt{tag}"),
            host_if: format!("esbh{tag}"),
            peer_if: format!("esbp{tag}"),
            host_ip: format!("{SUBNET_PREFIX}.{n}.1"),
            node_ip: format!("{SUBNET_PREFIX}.{n}.2"),
        };
        // Left by an earlier run of a process with the same id.
        let _ = ip(&["netns", "del", &node.ns]);
        let _ = ip(&["link", "del", &node.host_if]);
        let peer = node.peer_if.clone();
        must(&["netns", "add", &node.ns]);
        must(&[
            "link",
            "add",
            &node.host_if,
            "type",
            "veth",
            "peer",
            "name",
            &peer,
        ]);
        must(&["link", "set", &peer, "netns", &node.ns]);
        must(&[
            "addr",
            "add",
            &format!("{}/24", node.host_ip),
            "dev",
            &node.host_if,
        ]);
        must(&["link", "set", &node.host_if, "up"]);
        for args in [
            vec!["addr", "add", &format!("{}/24", node.node_ip), "dev", &peer],
            vec!["link", "set", &peer, "up"],
            vec!["link", "set", "lo", "up"],
        ] {
            let mut full = vec!["-n", node.ns.as_str()];
            full.extend(args.iter().copied());
            must(&full);
        }
        node
    }

    /// `program args...` run inside the node.
    pub fn command(&self, program: &std::path::Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns]).arg(program);
        c
    }

    /// The pids of every process in the node.
    pub fn pids(&self) -> Vec<u32> {
        Command::new("ip")
            .args(["netns", "pids", &self.ns])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The machine dies: SIGKILL to everything in it, at once.
    pub fn kill_all(&self) {
        for pid in self.pids() {
            // SAFETY: kill(2) with a pid from the namespace's list; no memory involved.
            unsafe {
                libc::kill(pid as i32, libc::SIGKILL);
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !self.pids().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The cable is pulled at the node's end: what the box sends is dropped without an
    /// answer (its route stays), nothing comes back; processes keep running.
    pub fn partition(&self) {
        must(&["-n", &self.ns, "link", "set", &self.peer_if, "down"]);
    }

    pub fn heal(&self) {
        must(&["-n", &self.ns, "link", "set", &self.peer_if, "up"]);
    }
}

impl Drop for NetNode {
    fn drop(&mut self) {
        self.kill_all();
        let _ = ip(&["netns", "del", &self.ns]);
        let _ = ip(&["link", "del", &self.host_if]);
    }
}
