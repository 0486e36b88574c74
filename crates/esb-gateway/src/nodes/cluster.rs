//! The box's nodes as one provider of workers. A new worker is placed on the node that
//! fits best ([`placement`](super::placement)); a pause, resume or removal goes to the
//! node the worker names. Each node has a heartbeat ([`heartbeat`](super::heartbeat)):
//! a node that stops answering is declared lost within seconds, its workers are no
//! longer handed out, and invocations in flight there fail at once; a node that
//! answers again has its stale workers removed before it gets work.
//!
//! The pools stay the gateway's, one per function for the whole box, so reserved and
//! provisioned concurrency hold across nodes, not per node.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use esb_proto::agent::{FunctionSpec, Worker};

use super::heartbeat;
use super::node::{Health, LOCAL_NODE, Node, NodeConfig};
use super::placement::{Candidate, NoNode, Want, place};
use super::placements::Placements;
use crate::agent_client::AgentError;
use crate::artifact_cache::ArtifactCache;
use crate::status::NodeStatus;

/// How long a new worker waits for a node that is joining or reconciling before the
/// request fails for want of one (a box just started, its nodes not heard from yet).
const WAIT_FOR_A_NODE: Duration = Duration::from_secs(5);

/// Labels a function asks of its node (`Metadata.Esb` in the template).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSelector {
    pub require: BTreeMap<String, String>,
    pub avoid: BTreeMap<String, String>,
}

#[derive(Clone, Default)]
pub struct Cluster {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    nodes: RwLock<BTreeMap<String, Arc<Node>>>,
    /// What the cluster placed where (the heartbeats reconcile nodes against it).
    placements: Arc<Placements>,
    /// Node selectors by function name.
    selectors: RwLock<HashMap<String, NodeSelector>>,
    /// The function directories packed for remote process nodes, by hash.
    artifacts: ArtifactCache,
}

impl Cluster {
    /// A cluster of one agent on this machine (`esb gateway --agent`, tests).
    pub fn single(url: &str) -> Result<Self, AgentError> {
        let cluster = Self::default();
        cluster.add_node(NodeConfig {
            name: LOCAL_NODE.to_string(),
            url: url.to_string(),
            labels: BTreeMap::new(),
            tls: None,
            local: true,
        })?;
        Ok(cluster)
    }

    /// Adds a node, or replaces the one of the same name (a node that joined again):
    /// the replaced node's workers leave the pools as if it was lost.
    pub fn add_node(&self, config: NodeConfig) -> Result<(), AgentError> {
        let node = Arc::new(Node::new(config)?);
        let old = self
            .write_nodes()
            .insert(node.name.clone(), Arc::clone(&node));
        if let Some(old) = old {
            old.removed.store(true, Ordering::Relaxed);
            if old.lose() {
                self.inner.placements.forget_node(&old.name);
            }
        }
        heartbeat::spawn(Arc::downgrade(&self.inner.placements), node);
        Ok(())
    }

    fn read_nodes(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Node>>> {
        self.inner
            .nodes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write_nodes(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<Node>>> {
        self.inner
            .nodes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn node(&self, name: &str) -> Option<Arc<Node>> {
        self.read_nodes().get(name).cloned()
    }

    /// Which labels each function asks of its node (replaced whole with the plan).
    pub fn set_selectors(&self, selectors: HashMap<String, NodeSelector>) {
        *self
            .inner
            .selectors
            .write()
            .unwrap_or_else(PoisonError::into_inner) = selectors;
    }

    pub async fn ensure(
        &self,
        spec: &FunctionSpec,
        reuse: Option<&Worker>,
    ) -> Result<Worker, AgentError> {
        if let Some(old) = reuse {
            match self.node(&old.node).filter(|n| n.accepting()) {
                Some(node) => {
                    let worker = self.start_on(&node, spec, &old.id).await?;
                    if worker.id != old.id {
                        // It had died: the agent started another.
                        self.forget(&old.id);
                        return Ok(self.record(&node, spec, worker));
                    }
                    return Ok(Worker {
                        node: node.name.clone(),
                        ..worker
                    });
                }
                None => self.forget(&old.id),
            }
        }
        let mut tried: HashSet<String> = HashSet::new();
        // Why the last node tried could not start it: more telling than "no node is
        // up" once every node was tried.
        let mut last_refusal: Option<AgentError> = None;
        let deadline = tokio::time::Instant::now() + WAIT_FOR_A_NODE;
        let code_hash = self.code_hash(spec).await;
        loop {
            let node = match self.choose(spec, code_hash.as_deref(), &tried) {
                Ok(node) => node,
                Err(NoNode::NoneUp)
                    if self.some_node_coming() && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                Err(e) => return Err(last_refusal.unwrap_or(AgentError::NoNode(e))),
            };
            let memory = u64::from(spec.memory_mb);
            self.inner.placements.starting(&node.name, memory);
            let started = self.start_on(&node, spec, "").await;
            self.inner.placements.started(&node.name, memory);
            match started {
                Ok(worker) => {
                    node.placements.fetch_add(1, Ordering::Relaxed);
                    return Ok(self.record(&node, spec, worker));
                }
                // That node cannot take it now: another may.
                Err(e) if e.is_unreachable() || e.is_full() => {
                    tracing::warn!(node = %node.name, function = %spec.name, "cannot start a worker there; trying another node: {e}");
                    tried.insert(node.name.clone());
                    last_refusal = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Asks `node` for a worker: a remote process node runs the function's code from
    /// artifacts the box pushes it (the box's paths mean nothing there); the box's own
    /// node and docker nodes (which run the function's image) need none.
    /// Asks the node a new worker of `spec` would be placed on now to ready one (see
    /// `PrepareWorker`); best effort, and only for nodes that run images.
    pub async fn prepare(&self, spec: &FunctionSpec) {
        let Ok(node) = self.choose(spec, None, &HashSet::new()) else {
            return;
        };
        if spec.image.is_empty() || !(node.local || node.info().runtime == "docker") {
            return;
        }
        if let Err(e) = node.client.prepare(spec).await {
            tracing::debug!(node = %node.name, function = %spec.name, "cannot prepare a worker: {e}");
        }
    }

    async fn start_on(
        &self,
        node: &Node,
        spec: &FunctionSpec,
        worker_id: &str,
    ) -> Result<Worker, AgentError> {
        if node.local || node.info().runtime == "docker" {
            node.client.ensure(spec, worker_id).await
        } else {
            crate::artifact_push::ensure_with_artifacts(
                &node.client,
                spec,
                worker_id,
                &self.inner.artifacts,
            )
            .await
        }
    }

    /// The hash of the function's code, when a remote process node could run it: a
    /// node that already holds it is preferred.
    async fn code_hash(&self, spec: &FunctionSpec) -> Option<String> {
        let remote_process = self
            .read_nodes()
            .values()
            .any(|n| !n.local && n.info().runtime != "docker");
        if !remote_process {
            return None;
        }
        self.inner
            .artifacts
            .hash(std::path::Path::new(&spec.code_dir))
            .await
            .ok()
    }

    /// Whether a node may soon take work: joining, or reconciling after a loss.
    fn some_node_coming(&self) -> bool {
        self.read_nodes()
            .values()
            .any(|n| matches!(n.health(), Health::Joining | Health::Reconciling))
    }

    fn choose(
        &self,
        spec: &FunctionSpec,
        code_hash: Option<&str>,
        tried: &HashSet<String>,
    ) -> Result<Arc<Node>, NoNode> {
        let nodes: Vec<Arc<Node>> = self
            .read_nodes()
            .values()
            .filter(|n| !tried.contains(&n.name))
            .cloned()
            .collect();
        let infos: Vec<_> = nodes.iter().map(|n| n.info()).collect();
        let used = self.inner.placements.memory_used();
        let workers = self.inner.placements.workers_per_node();
        let candidates: Vec<Candidate<'_>> = nodes
            .iter()
            .zip(&infos)
            .map(|(n, info)| Candidate {
                name: &n.name,
                labels: &n.labels,
                accepting: n.accepting(),
                memory_mb: if info.memory_mb == 0 {
                    // Not reported yet (the box's own agent before its first beat).
                    u64::MAX
                } else {
                    info.memory_mb
                },
                memory_used_mb: used.get(&n.name).copied().unwrap_or(0),
                capacity: if info.capacity == 0 {
                    u32::MAX
                } else {
                    info.capacity
                },
                workers: workers.get(&n.name).copied().unwrap_or(0),
                holds_image: info.images.iter().any(|held| {
                    (!spec.image.is_empty() && *held == spec.image)
                        || Some(held.as_str()) == code_hash
                }),
            })
            .collect();
        let selectors = self
            .inner
            .selectors
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let selector = selectors.get(&spec.name);
        let want = Want {
            memory_mb: u64::from(spec.memory_mb),
            require: selector.map(|s| &s.require),
            avoid: selector.map(|s| &s.avoid),
        };
        place(&candidates, &want).map(|i| Arc::clone(&nodes[i]))
    }

    fn record(&self, node: &Node, spec: &FunctionSpec, worker: Worker) -> Worker {
        self.inner.placements.record(
            &worker.id,
            &node.name,
            &spec.name,
            u64::from(spec.memory_mb),
        );
        Worker {
            node: node.name.clone(),
            ..worker
        }
    }

    fn forget(&self, worker_id: &str) {
        self.inner.placements.forget(worker_id);
    }

    /// Workers placed on `node` and not removed yet.
    pub fn workers_on(&self, node: &str) -> usize {
        self.inner.placements.workers_on(node)
    }

    pub async fn pause(&self, worker: &Worker) -> Result<(), AgentError> {
        let node = self.node_of(worker)?;
        node.client.pause(&worker.id).await
    }

    /// Removes a worker. On a node that is lost or gone it is only forgotten: the
    /// node's reconciliation removes it when (if) the node answers again.
    pub async fn destroy(&self, worker: &Worker) -> Result<(), AgentError> {
        self.forget(&worker.id);
        match self.node(&worker.node) {
            Some(node) if node.health() != Health::Down => node.client.destroy(&worker.id).await,
            _ => Ok(()),
        }
    }

    fn node_of(&self, worker: &Worker) -> Result<Arc<Node>, AgentError> {
        self.node(&worker.node)
            .ok_or_else(|| AgentError::NoNode(NoNode::Gone(worker.node.clone())))
    }

    pub fn usable(&self, worker: &Worker) -> bool {
        self.node(&worker.node).is_some_and(|n| n.accepting())
    }

    pub fn lost(&self, worker: &Worker) -> impl std::future::Future<Output = ()> + Send + use<> {
        let loss = self.node(&worker.node).map(|n| n.next_loss());
        async move {
            // Without a node (gone from the box), the worker is gone: at once.
            if let Some(loss) = loss {
                loss.await;
            }
        }
    }

    /// Asks the worker's node now whether it is alive; declares it lost if not (a
    /// node on another machine only).
    pub async fn node_lost(&self, worker: &Worker) -> bool {
        let Some(node) = self.node(&worker.node) else {
            return true;
        };
        // The box's own node is never lost (see the heartbeat): a worker of it that
        // stopped answering is that worker's failure.
        if node.local {
            return false;
        }
        if node.health() == Health::Down {
            return true;
        }
        match node.client.info(heartbeat::PROBE_DEADLINE).await {
            Ok(_) => false,
            Err(e) => {
                heartbeat::declare_lost(
                    &self.inner.placements,
                    &node,
                    &format!("a worker stopped answering and so did its agent ({e})"),
                );
                true
            }
        }
    }

    /// The ids of every live worker on the nodes that are up; an error when an up
    /// node could not say (its idle workers must not be judged dead on that).
    pub async fn live_workers(&self) -> Result<HashSet<String>, AgentError> {
        let nodes: Vec<Arc<Node>> = self.read_nodes().values().cloned().collect();
        let mut live = HashSet::new();
        for node in nodes {
            if node.health() != Health::Up {
                continue;
            }
            live.extend(node.client.live_workers().await?);
        }
        Ok(live)
    }

    /// Stops giving `name` new workers; false when there is no such node.
    pub fn set_draining(&self, name: &str) -> bool {
        self.node(name)
            .map(|n| n.draining.store(true, Ordering::Relaxed))
            .is_some()
    }

    /// Removes a node from the box: its heartbeat ends, its remaining workers are
    /// removed if it answers, and it gets no more work.
    pub async fn remove_node(&self, name: &str) -> bool {
        let removed = self.write_nodes().remove(name);
        let Some(node) = removed else {
            return false;
        };
        node.removed.store(true, Ordering::Relaxed);
        node.draining.store(true, Ordering::Relaxed);
        if node.health() != Health::Down
            && let Ok(ids) = node.client.live_workers().await
        {
            for id in ids {
                let _ = node.client.destroy(&id).await;
            }
        }
        self.inner.placements.forget_node(name);
        true
    }

    /// What `esb status` shows of each node.
    pub fn status(&self) -> Vec<NodeStatus> {
        let mut per_function = self.inner.placements.functions_per_node();
        let used = self.inner.placements.memory_used();
        self.read_nodes()
            .values()
            .map(|n| {
                let info = n.info();
                NodeStatus {
                    address: n.url.clone(),
                    capacity: info.capacity,
                    cpus: info.cpus,
                    draining: n.draining.load(Ordering::Relaxed),
                    health: n.health().as_str().to_string(),
                    labels: n.labels.clone(),
                    losses: n.losses.load(Ordering::Relaxed),
                    memory_mb: info.memory_mb,
                    memory_used_mb: used.get(&n.name).copied().unwrap_or(0),
                    name: n.name.clone(),
                    placements: n.placements.load(Ordering::Relaxed),
                    runtime: info.runtime,
                    workers: per_function.remove(&n.name).unwrap_or_default(),
                }
            })
            .collect()
    }
}
