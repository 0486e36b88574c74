//! Each node's heartbeat: its agent's `GetInfo` every [`BEAT_EVERY`], which also
//! refreshes what placement knows of it (memory, images). A node silent for
//! [`DOWN_AFTER`](super::node::DOWN_AFTER) is lost; a node that answers after a loss
//! (or for the first time) has every worker the cluster did not place removed — they
//! are stale, their pools forgot them — before it is up again.

use std::sync::Arc;
use std::time::Duration;

use std::sync::Weak;

use super::node::{DOWN_AFTER, Health, Node};
use super::placements::Placements;

const BEAT_EVERY: Duration = Duration::from_millis(500);
/// How long one heartbeat or probe may take before it counts as unanswered.
pub(crate) const PROBE_DEADLINE: Duration = Duration::from_millis(1500);

/// Beats for `node` until it is removed or the cluster (which holds `placements`) is gone.
pub(crate) fn spawn(placements: Weak<Placements>, node: Arc<Node>) {
    tokio::spawn(async move {
        loop {
            if node.removed.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            let Some(live) = placements.upgrade() else {
                return;
            };
            beat(&live, &node).await;
            drop(live);
            tokio::time::sleep(BEAT_EVERY).await;
        }
    });
}

async fn beat(placements: &Placements, node: &Arc<Node>) {
    match node.client.info(PROBE_DEADLINE).await {
        Ok(info) => match node.answered(info) {
            Health::Joining | Health::Down => reconcile(placements, node).await,
            Health::Up | Health::Reconciling => {}
        },
        Err(e) => {
            // The box's own agent is not lost: it is the gateway's own machine (or
            // process), and a slow answer there is load, not a lost node.
            if !node.local && node.silent_too_long() {
                declare_lost(
                    placements,
                    node,
                    &format!("no answer for {} s ({e})", DOWN_AFTER.as_secs()),
                );
            }
        }
    }
}

/// Marks `node` lost: its workers leave the pools (they are no longer handed out and
/// the cluster forgets them), invocations in flight there fail now.
pub(crate) fn declare_lost(placements: &Placements, node: &Node, why: &str) {
    if node.lose() {
        let workers = placements.forget_node(&node.name);
        tracing::warn!(node = %node.name, workers, "node lost: {why}; its workers leave the pools");
    }
}

/// Removes the workers `node` runs that the cluster did not place (left from before
/// a loss, or from a previous box), then lets it take work.
async fn reconcile(placements: &Placements, node: &Arc<Node>) {
    let was = node.health();
    node.set_health(Health::Reconciling);
    let stale: Vec<String> = match node.client.live_workers().await {
        Ok(ids) => ids.into_iter().filter(|id| !placements.knows(id)).collect(),
        Err(e) => {
            tracing::warn!(node = %node.name, "cannot list the node's workers; it stays out: {e}");
            node.set_health(was);
            return;
        }
    };
    for id in &stale {
        if let Err(e) = node.client.destroy(id).await {
            tracing::warn!(node = %node.name, "cannot remove stale worker {id}; it stays out: {e}");
            node.set_health(was);
            return;
        }
    }
    node.set_health(Health::Up);
    tracing::info!(node = %node.name, stale_workers_removed = stale.len(), "node up");
}
