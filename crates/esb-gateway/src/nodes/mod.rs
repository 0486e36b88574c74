//! The box's nodes: the machines whose agents run its workers — the box's own agent
//! (`local`) and agents that joined from other machines. [`Cluster`] places new
//! workers on them and routes each worker's pause, resume and removal to its node;
//! a heartbeat per node finds lost nodes within seconds and reconciles returning ones.

mod cluster;
mod heartbeat;
mod node;
pub mod placement;
mod placements;

pub use cluster::{Cluster, NodeSelector};
pub use node::{Health, LOCAL_NODE, NodeConfig};
