//! What the cluster placed where: every worker it started and has not removed, with
//! its node, function and `MemorySize`, and the memory of workers being started. It is
//! the load placement counts (fresher than the agents' reports) and what a returning
//! node is reconciled against: a worker a node runs that is not here is stale.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

#[derive(Default)]
pub(crate) struct Placements {
    /// Workers by id.
    placed: Mutex<HashMap<String, Placed>>,
    /// `MemorySize` of workers being started, by node: counted before they exist.
    starting: Mutex<HashMap<String, u64>>,
}

#[derive(Debug, Clone)]
struct Placed {
    node: String,
    function: String,
    memory_mb: u64,
}

/// Poison-tolerant: every change is one insert or removal, never half done.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Placements {
    pub fn record(&self, worker_id: &str, node: &str, function: &str, memory_mb: u64) {
        lock(&self.placed).insert(
            worker_id.to_string(),
            Placed {
                node: node.to_string(),
                function: function.to_string(),
                memory_mb,
            },
        );
    }

    pub fn forget(&self, worker_id: &str) {
        lock(&self.placed).remove(worker_id);
    }

    /// Forgets every worker on `node` (lost, replaced or removed); how many.
    pub fn forget_node(&self, node: &str) -> usize {
        let mut placed = lock(&self.placed);
        let before = placed.len();
        placed.retain(|_, p| p.node != node);
        before - placed.len()
    }

    pub fn knows(&self, worker_id: &str) -> bool {
        lock(&self.placed).contains_key(worker_id)
    }

    pub fn workers_on(&self, node: &str) -> usize {
        lock(&self.placed)
            .values()
            .filter(|p| p.node == node)
            .count()
    }

    /// Counts `memory_mb` against `node` while a worker starts there.
    pub fn starting(&self, node: &str, memory_mb: u64) {
        *lock(&self.starting).entry(node.to_string()).or_default() += memory_mb;
    }

    pub fn started(&self, node: &str, memory_mb: u64) {
        if let Some(pending) = lock(&self.starting).get_mut(node) {
            *pending = pending.saturating_sub(memory_mb);
        }
    }

    /// `MemorySize` placed on each node, workers being started included.
    pub fn memory_used(&self) -> HashMap<String, u64> {
        let mut used = lock(&self.starting).clone();
        for p in lock(&self.placed).values() {
            *used.entry(p.node.clone()).or_default() += p.memory_mb;
        }
        used
    }

    pub fn workers_per_node(&self) -> HashMap<String, u32> {
        let mut count: HashMap<String, u32> = HashMap::new();
        for p in lock(&self.placed).values() {
            *count.entry(p.node.clone()).or_default() += 1;
        }
        count
    }

    /// Each node's workers per function.
    pub fn functions_per_node(&self) -> HashMap<String, BTreeMap<String, usize>> {
        let mut per: HashMap<String, BTreeMap<String, usize>> = HashMap::new();
        for p in lock(&self.placed).values() {
            *per.entry(p.node.clone())
                .or_default()
                .entry(p.function.clone())
                .or_default() += 1;
        }
        per
    }
}
