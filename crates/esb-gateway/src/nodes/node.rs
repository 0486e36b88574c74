//! One node of the box: its agent's client, what its last heartbeat said, and its
//! health. A node is `Up` only after it answered and its stale workers were removed;
//! it is `Down` once it has not answered for [`DOWN_AFTER`], and each loss bumps its
//! epoch, which invocations in flight there watch to fail at once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use esb_proto::agent::AgentInfo;
use tokio::sync::watch;
use tokio::time::Instant;
use tonic::transport::ClientTlsConfig;

use crate::agent_client::{AgentClient, AgentError};

/// The name of the box's own node, on the gateway's machine.
pub const LOCAL_NODE: &str = "local";

/// A node that has not answered a heartbeat for this long is lost.
pub const DOWN_AFTER: Duration = Duration::from_secs(2);

/// How to reach a node's agent.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub name: String,
    /// `http://127.0.0.1:<port>` for the box's own agent, `https://<ip>:<port>` for a
    /// joined node (mutual TLS).
    pub url: String,
    pub labels: BTreeMap<String, String>,
    /// The gateway's client certificate and the box CA, for a joined node.
    pub tls: Option<ClientTlsConfig>,
    /// On the gateway's machine: it starts up (it was just started beside the
    /// gateway, or is the agent `esb gateway --agent` names) and sees the box's files.
    pub local: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not heard from since it was added.
    Joining,
    /// Answering, stale workers removed: it gets work.
    Up,
    /// Answering again after a loss; its stale workers are being removed.
    Reconciling,
    /// Stopped answering: its workers left the pools.
    Down,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Joining => "joining",
            Health::Up => "up",
            Health::Reconciling => "reconciling",
            Health::Down => "down",
        }
    }
}

pub(crate) struct Node {
    pub name: String,
    pub url: String,
    pub labels: BTreeMap<String, String>,
    pub local: bool,
    pub client: AgentClient,
    state: Mutex<NodeState>,
    pub draining: AtomicBool,
    /// Removed from the box: its heartbeat ends.
    pub removed: AtomicBool,
    /// Bumped each time the node is lost.
    epoch: watch::Sender<u64>,
    pub placements: AtomicU64,
    pub losses: AtomicU64,
}

struct NodeState {
    health: Health,
    last_ok: Option<Instant>,
    info: AgentInfo,
}

impl Node {
    pub fn new(config: NodeConfig) -> Result<Self, AgentError> {
        let client = match config.tls {
            Some(tls) => AgentClient::with_tls(&config.url, tls)?,
            None => AgentClient::new(&config.url)?,
        };
        Ok(Self {
            name: config.name,
            url: config.url,
            labels: config.labels,
            local: config.local,
            client,
            state: Mutex::new(NodeState {
                health: if config.local {
                    Health::Up
                } else {
                    Health::Joining
                },
                last_ok: config.local.then(Instant::now),
                info: AgentInfo::default(),
            }),
            draining: AtomicBool::new(false),
            removed: AtomicBool::new(false),
            epoch: watch::Sender::new(0),
            placements: AtomicU64::new(0),
            losses: AtomicU64::new(0),
        })
    }

    /// Poison-tolerant: every change is one assignment, never half done.
    fn state(&self) -> MutexGuard<'_, NodeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn health(&self) -> Health {
        self.state().health
    }

    pub fn set_health(&self, health: Health) {
        self.state().health = health;
    }

    /// Gets new workers: up and not draining.
    pub fn accepting(&self) -> bool {
        self.health() == Health::Up && !self.draining.load(Ordering::Relaxed)
    }

    pub fn info(&self) -> AgentInfo {
        self.state().info.clone()
    }

    /// A heartbeat answered; the health before it.
    pub fn answered(&self, info: AgentInfo) -> Health {
        let mut s = self.state();
        s.last_ok = Some(Instant::now());
        s.info = info;
        s.health
    }

    /// Whether the node has been silent for [`DOWN_AFTER`] while up: it is lost.
    pub fn silent_too_long(&self) -> bool {
        let s = self.state();
        s.health == Health::Up && s.last_ok.is_none_or(|t| t.elapsed() >= DOWN_AFTER)
    }

    /// Marks the node lost (once): invocations in flight there fail now.
    pub fn lose(&self) -> bool {
        {
            let mut s = self.state();
            if s.health == Health::Down {
                return false;
            }
            s.health = Health::Down;
        }
        self.losses.fetch_add(1, Ordering::Relaxed);
        self.epoch.send_modify(|e| *e += 1);
        true
    }

    /// Resolves at the node's next loss.
    pub fn next_loss(&self) -> impl std::future::Future<Output = ()> + Send + use<> {
        let mut rx = self.epoch.subscribe();
        let seen = *rx.borrow_and_update();
        // Lost before we looked (between the lease and the call): at once.
        let already = self.health() == Health::Down;
        async move {
            if already {
                return;
            }
            while rx.changed().await.is_ok() {
                if *rx.borrow() != seen {
                    return;
                }
            }
            // The node was dropped (removed from the box): so is any worker on it.
        }
    }
}
