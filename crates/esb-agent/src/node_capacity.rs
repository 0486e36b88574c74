//! What a node offers its workers, as the gateway's placement counts it: the node's
//! name in the box, its CPUs and the memory workers may take (their `MemorySize`
//! summed). Reported in `AgentInfo` with every heartbeat.

/// The box's own agent, on the gateway's machine.
pub const LOCAL_NODE: &str = "local";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCapacity {
    pub name: String,
    pub cpus: u32,
    pub memory_mb: u64,
}

impl NodeCapacity {
    /// This machine: its CPUs and its memory (`/proc/meminfo`'s `MemTotal`), unless
    /// `memory_mb` says how much workers may take.
    pub fn detect(name: &str, memory_mb: Option<u64>) -> Self {
        let cpus = std::thread::available_parallelism()
            .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
            .unwrap_or(1);
        let memory_mb = memory_mb.unwrap_or_else(|| {
            std::fs::read_to_string("/proc/meminfo")
                .ok()
                .and_then(|m| mem_total_mb(&m))
                .unwrap_or(1024)
        });
        Self {
            name: name.to_string(),
            cpus,
            memory_mb,
        }
    }
}

/// `MemTotal:       24588096 kB` → MB.
fn mem_total_mb(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_read_from_meminfo_unless_given() {
        assert_eq!(
            mem_total_mb("MemFree: 1 kB\nMemTotal:       24588096 kB\n"),
            Some(24011)
        );
        assert_eq!(mem_total_mb("nothing here"), None);
        let given = NodeCapacity::detect("n1", Some(512));
        assert_eq!((given.name.as_str(), given.memory_mb), ("n1", 512));
        assert!(given.cpus >= 1);
        assert!(NodeCapacity::detect("n1", None).memory_mb > 0);
    }
}
