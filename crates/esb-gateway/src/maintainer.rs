//! The pools' maintainer: a background task that keeps each pool of the served plan
//! in shape between requests — provisioned workers started (dead ones replaced), idle
//! workers paused, long-idle ones removed (scale to zero), and idle workers the agent
//! no longer lists as alive forgotten. It follows the plan as it is swapped and stops
//! with the gateway.

use std::sync::Weak;
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::nodes::Cluster;
use crate::plan::Plan;

/// How often idle workers are checked for life (the agent's list of live workers).
const DEAD_WORKER_SWEEP: Duration = Duration::from_secs(5);

/// Maintains the pools of `plan` (checking a few times per `pause_after` or
/// `idle_timeout`, at least every second) for as long as the plan holder lives.
pub fn spawn(
    plan: Weak<ArcSwap<Plan>>,
    cluster: Cluster,
    pause_after: Option<Duration>,
    idle_timeout: Option<Duration>,
) {
    let period = pause_after
        .into_iter()
        .chain(idle_timeout)
        .min()
        .map_or(Duration::from_secs(1), |a| a / 4)
        .clamp(Duration::from_millis(50), Duration::from_secs(1));
    tokio::spawn(async move {
        let mut last_sweep = tokio::time::Instant::now();
        loop {
            // The gateway holds the plan: once it is gone, so is the maintainer.
            let Some(served) = plan.upgrade() else {
                return;
            };
            let plan = served.load_full();
            drop(served);
            if last_sweep.elapsed() >= DEAD_WORKER_SWEEP {
                last_sweep = tokio::time::Instant::now();
                if let Ok(live) = cluster.live_workers().await {
                    for pool in plan.pools.values() {
                        let gone = pool.forget_dead(&live, last_sweep);
                        if gone > 0 {
                            tracing::warn!(function = %pool.name(), workers = gone, "idle workers died; the pool forgot them");
                        }
                    }
                }
            }
            for pool in plan.pools.values() {
                pool.keep_prepared().await;
                pool.keep_provisioned().await;
                if let Some(timeout) = idle_timeout {
                    pool.remove_idle(timeout).await;
                }
                if let Some(after) = pause_after {
                    pool.pause_idle(after).await;
                }
            }
            drop(plan);
            tokio::time::sleep(period).await;
        }
    });
}
