//! The box's bridge for containerd workers, run through the standard CNI plugins
//! (Debian's `containernetworking-plugins`): `bridge` with `host-local` addresses makes
//! a veth pair from each worker's namespace to the box's bridge, `loopback` brings up
//! `lo` inside it. The bridge's address is how workers reach the box's host, as the
//! Docker network's gateway is for docker workers. The subnet is `--network-subnet`,
//! or a free /24 of 10.89.0.0/16 chosen once per box, claimed host-wide while the box
//! runs (`subnet_claim.rs`) and kept in the state dir; 172.50.0.0/16 is never used.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use super::subnet_claim::SubnetClaims;
use crate::docker_network::{NetworkError, check_subnet};

/// Where distributions put the CNI plugins (Debian first, then upstream's default).
const PLUGIN_DIRS: [&str; 2] = ["/usr/lib/cni", "/opt/cni/bin"];
const CNI_VERSION: &str = "1.0.0";

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error(transparent)]
    Subnet(#[from] NetworkError),
    #[error(
        "the CNI plugins bridge and host-local are not in {0}: install Debian's containernetworking-plugins, or name their directory with --cni-bin-dir"
    )]
    NoPlugins(String),
    #[error("no free /24 in 10.89.0.0/16 for the box's bridge: choose one with --network-subnet")]
    NoFreeSubnet,
    #[error("CNI {plugin} {command}: {detail}")]
    Plugin {
        plugin: String,
        command: String,
        detail: String,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

#[derive(Debug, Clone)]
pub struct Bridge {
    /// The Linux bridge's name (`esb<box id>`, at most 15 bytes).
    pub name: String,
    pub subnet: String,
    /// The bridge's own address: the box's host as workers see it.
    pub gateway: Ipv4Addr,
    box_id: String,
    /// Whether the subnet was chosen here (and so claimed), not configured.
    chosen: bool,
    plugins: PathBuf,
    ipam_dir: PathBuf,
}

impl Bridge {
    /// The box's bridge settings; `subnet` as configured, else the one chosen before
    /// (kept in `<dir>/subnet`) unless another box claimed it since, else a free one.
    /// The CNI plugins are in `plugin_dir`, else where distributions put them.
    pub fn new(
        box_id: &str,
        subnet: Option<&str>,
        dir: &Path,
        plugin_dir: Option<&Path>,
    ) -> Result<Self, BridgeError> {
        let candidates: Vec<PathBuf> = match plugin_dir {
            Some(d) => vec![d.to_path_buf()],
            None => PLUGIN_DIRS.iter().map(PathBuf::from).collect(),
        };
        let plugins = candidates
            .iter()
            .find(|d| d.join("bridge").is_file() && d.join("host-local").is_file())
            .cloned()
            .ok_or_else(|| {
                let looked: Vec<String> =
                    candidates.iter().map(|d| d.display().to_string()).collect();
                BridgeError::NoPlugins(looked.join(", "))
            })?;
        std::fs::create_dir_all(dir)?;
        let configured = subnet.is_some();
        let kept = dir.join("subnet");
        let claims = SubnetClaims::host();
        let subnet = match subnet {
            Some(s) => s.to_string(),
            None => match std::fs::read_to_string(&kept) {
                Ok(s) if check_subnet(s.trim()).is_ok() && claims.claim(s.trim(), box_id) => {
                    s.trim().to_string()
                }
                _ => {
                    let s = free_subnet(box_id, &routed_networks(), |s| claims.claim(s, box_id))?;
                    std::fs::write(&kept, &s)?;
                    s
                }
            },
        };
        check_subnet(&subnet)?;
        let gateway = first_host(&subnet).ok_or_else(|| NetworkError::BadSubnet(subnet.clone()))?;
        let mut name = format!("esb{box_id}");
        name.truncate(15);
        Ok(Self {
            name,
            chosen: !configured,
            subnet,
            gateway,
            box_id: box_id.to_string(),
            plugins,
            ipam_dir: dir.join("ipam"),
        })
    }

    fn bridge_config(&self) -> Value {
        json!({
            "cniVersion": CNI_VERSION,
            "name": self.name,
            "type": "bridge",
            "bridge": self.name,
            "isGateway": true,
            "ipMasq": true,
            "ipam": {
                "type": "host-local",
                "ranges": [[{"subnet": self.subnet, "gateway": self.gateway.to_string()}]],
                "routes": [{"dst": "0.0.0.0/0"}],
                "dataDir": self.ipam_dir,
            }
        })
    }

    fn loopback_config() -> Value {
        json!({"cniVersion": CNI_VERSION, "name": "lo", "type": "loopback"})
    }

    /// Attaches namespace `netns` (a worker-to-be named `id`) to the bridge and brings
    /// up its loopback; returns its address.
    pub async fn attach(&self, id: &str, netns: &Path) -> Result<Ipv4Addr, BridgeError> {
        self.run("loopback", "ADD", id, netns, "lo", &Self::loopback_config())
            .await?;
        let result = self
            .run("bridge", "ADD", id, netns, "eth0", &self.bridge_config())
            .await?;
        result["ips"]
            .as_array()
            .and_then(|ips| ips.first())
            .and_then(|ip| ip["address"].as_str())
            .and_then(|a| a.split('/').next())
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| BridgeError::Plugin {
                plugin: "bridge".into(),
                command: "ADD".into(),
                detail: format!("no address in its result: {result}"),
            })
    }

    /// Releases what [`Self::attach`] took (the address, the veth, masquerading rules);
    /// harmless when already released.
    pub async fn detach(&self, id: &str, netns: &Path) {
        if let Err(e) = self
            .run("bridge", "DEL", id, netns, "eth0", &self.bridge_config())
            .await
        {
            tracing::warn!("cannot release the network of {id}: {e}");
        }
    }

    /// Removes the bridge itself (once no worker is attached), and gives its subnet
    /// back to the host.
    pub async fn remove(&self) {
        let removed = tokio::process::Command::new("ip")
            .args(["link", "delete", &self.name, "type", "bridge"])
            .stderr(Stdio::null())
            .status()
            .await;
        if let Err(e) = removed {
            tracing::debug!("cannot remove bridge {}: {e}", self.name);
        }
        if self.chosen {
            SubnetClaims::host().release(&self.subnet, &self.box_id);
        }
    }

    async fn run(
        &self,
        plugin: &str,
        command: &str,
        id: &str,
        netns: &Path,
        ifname: &str,
        config: &Value,
    ) -> Result<Value, BridgeError> {
        let err = |detail: String| BridgeError::Plugin {
            plugin: plugin.into(),
            command: command.into(),
            detail,
        };
        let mut child = tokio::process::Command::new(self.plugins.join(plugin));
        child
            .env_clear()
            .env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", id)
            .env("CNI_NETNS", netns)
            .env("CNI_IFNAME", ifname)
            .env("CNI_PATH", &self.plugins)
            // iptables for masquerading.
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // Namespaces are mostly made in the background, beside worker starts that
        // requests wait for: the plugins (and the iptables they run) yield the CPU.
        // SAFETY: setpriority(2) is async-signal-safe and touches only the child.
        unsafe {
            child.pre_exec(|| {
                libc::setpriority(libc::PRIO_PROCESS, 0, 10);
                Ok(())
            });
        }
        let mut child = child.spawn().map_err(|e| err(e.to_string()))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(config.to_string().as_bytes())
                .await
                .map_err(|e| err(e.to_string()))?;
        }
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| err(e.to_string()))?;
        let result: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if !out.status.success() {
            let msg = result["msg"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| String::from_utf8_lossy(&out.stderr).trim().to_string());
            return Err(err(msg));
        }
        Ok(result)
    }
}

/// `a.b.c.d/n` → `a.b.c.(d+1)`.
fn first_host(cidr: &str) -> Option<Ipv4Addr> {
    let (addr, _) = cidr.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    Some(Ipv4Addr::from(u32::from(addr).checked_add(1)?))
}

/// Networks (address, prefix length) this host routes somewhere already.
fn routed_networks() -> Vec<(u32, u32)> {
    let Ok(table) = std::fs::read_to_string("/proc/net/route") else {
        return Vec::new();
    };
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            // The kernel prints the network-order words as native integers.
            let (dest, mask) = (
                u32::from_be_bytes(dest.to_ne_bytes()),
                u32::from_be_bytes(mask.to_ne_bytes()),
            );
            (mask != 0).then_some((dest, mask.count_ones()))
        })
        .collect()
}

/// The first /24 of 10.89.0.0/16, starting at one the box id picks, that no route
/// covers or falls inside and that `claim` gets for the box.
fn free_subnet(
    box_id: &str,
    routed: &[(u32, u32)],
    claim: impl Fn(&str) -> bool,
) -> Result<String, BridgeError> {
    let start = box_id
        .bytes()
        .fold(0u8, |h, b| h.wrapping_mul(31).wrapping_add(b));
    (0..=255u8)
        .map(|i| start.wrapping_add(i))
        .map(|third| u32::from(Ipv4Addr::new(10, 89, third, 0)))
        .filter(|&net| {
            routed.iter().all(|&(dest, len)| {
                let overlap = len.min(24);
                let mask = if overlap == 0 {
                    0
                } else {
                    u32::MAX << (32 - overlap)
                };
                (net & mask) != (dest & mask)
            })
        })
        .map(|net| format!("{}/24", Ipv4Addr::from(net)))
        .find(|subnet| claim(subnet))
        .ok_or(BridgeError::NoFreeSubnet)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_subnet_avoids_routed_networks() {
        let routed = free_subnet("abc", &[], |_| true).expect("free");
        let net = u32::from(
            routed
                .trim_end_matches("/24")
                .parse::<Ipv4Addr>()
                .expect("ip"),
        );
        // That very /24 routed, then all of 10.89.0.0/16, then 10.0.0.0/8.
        let other = free_subnet("abc", &[(net, 24)], |_| true).expect("another");
        assert_ne!(other, routed);
        let all = (u32::from(Ipv4Addr::new(10, 89, 0, 0)), 16);
        assert!(matches!(
            free_subnet("abc", &[all], |_| true),
            Err(BridgeError::NoFreeSubnet)
        ));
        let ten = (u32::from(Ipv4Addr::new(10, 0, 0, 0)), 8);
        assert!(matches!(
            free_subnet("abc", &[ten], |_| true),
            Err(BridgeError::NoFreeSubnet)
        ));
        // Claimed by another box: the next one.
        let unclaimed = free_subnet("abc", &[], |s| s != routed).expect("unclaimed");
        assert_ne!(unclaimed, routed);
        assert_eq!(
            first_host("10.89.3.0/24"),
            Some(Ipv4Addr::new(10, 89, 3, 1))
        );
    }
}
