//! Starting a worker on a remote node, whose disk does not have the box's function
//! directories: the spec names the code and layers by artifact hash, and what the node
//! lacks is pushed before asking again.

use std::path::PathBuf;

use esb_proto::agent::{FunctionSpec, Worker};

use crate::agent_client::{AgentClient, AgentError};
use crate::artifact_cache::ArtifactCache;

/// `agent.ensure(spec, worker_id)` for an agent on a remote node: fills
/// `code_hash`/`layer_hashes` from `cache` and, if the node lacks some of them, pushes
/// those and asks once more.
pub async fn ensure_with_artifacts(
    agent: &AgentClient,
    spec: &FunctionSpec,
    worker_id: &str,
    cache: &ArtifactCache,
) -> Result<Worker, AgentError> {
    let dirs: Vec<PathBuf> = std::iter::once(&spec.code_dir)
        .chain(&spec.layers)
        .map(PathBuf::from)
        .collect();
    let mut hashes = Vec::with_capacity(dirs.len());
    for dir in &dirs {
        hashes.push(cache.hash(dir).await?);
    }
    let mut spec = with_hashes(spec, &hashes);
    let missing = match agent.ensure(&spec, worker_id).await {
        Err(e) if !e.missing_artifacts().is_empty() => e.missing_artifacts(),
        done => return done,
    };
    let mut pushed: Vec<String> = Vec::new();
    for (dir, hash) in dirs.iter().zip(hashes.iter_mut()) {
        if !missing.contains(hash) {
            continue;
        }
        let packed = cache.pack(dir).await?;
        // The directory may have changed since it was hashed: the spec names what is sent.
        *hash = packed.hash.clone();
        if pushed.contains(&packed.hash) {
            continue;
        }
        let existed = agent.push_artifact(&packed.hash, packed.bytes).await?;
        tracing::debug!(dir = %dir.display(), hash = %packed.hash, existed, "pushed an artifact to a node");
        pushed.push(packed.hash);
    }
    spec = with_hashes(&spec, &hashes);
    agent.ensure(&spec, worker_id).await
}

fn with_hashes(spec: &FunctionSpec, hashes: &[String]) -> FunctionSpec {
    let mut spec = spec.clone();
    if let Some((code, layers)) = hashes.split_first() {
        spec.code_hash = code.clone();
        spec.layer_hashes = layers.to_vec();
    }
    spec
}
