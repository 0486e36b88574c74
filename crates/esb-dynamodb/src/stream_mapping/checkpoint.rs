//! Where each shard of a mapping's stream was read up to: one JSON file per mapping,
//! naming the stream it is about, so a recreated table's new stream starts fresh.
//!
//! A checkpoint moves only after a batch was fully handled (the function succeeded,
//! or the batch went to the on-failure destination): a box killed mid-batch reads
//! the batch again on restart. Delivery is at least once, never skipping.
//!
//! Writes are atomic and durable: a temporary file, fsynced, renamed over the old one,
//! then the directory fsynced, so a crash leaves the old or the new file, never a torn
//! one, and an acknowledged checkpoint survives power loss.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

/// Why a checkpoint could not be written.
#[derive(Debug, thiserror::Error)]
#[error("checkpoint {path}: {error}")]
pub struct CheckpointError {
    path: PathBuf,
    error: String,
}

/// One shard's progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ShardCheckpoint {
    /// The last sequence number handled; reading resumes after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Nothing handled yet and the shard starts at LATEST (it was there when the
    /// mapping first started with `StartingPosition: LATEST`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub latest: bool,
    /// Read to its end (a closed shard): its children may start.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub finished: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CheckpointFile {
    stream_arn: String,
    shards: BTreeMap<String, ShardCheckpoint>,
}

/// A mapping's checkpoints for one stream.
pub(super) struct Checkpoints {
    path: PathBuf,
    file: Mutex<CheckpointFile>,
}

impl Checkpoints {
    /// The checkpoints at `path` for `stream_arn`, and whether this is the mapping's
    /// first start (no file at all: `LATEST` applies). A file about another stream
    /// (the table was recreated) is replaced: the new stream starts from its trim
    /// horizon, as no record of it was ever handled.
    pub async fn open(path: PathBuf, stream_arn: &str) -> (Self, bool) {
        let read = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || std::fs::read(&path))
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e)))
        };
        let (file, first) = match read {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, true),
            Err(e) => {
                // Unreadable is not "never started": starting over at the trim horizon
                // re-delivers (at least once) where LATEST could skip records.
                tracing::error!(service = "dynamodb", path = %path.display(), "cannot read a stream checkpoint, reading the stream from its trim horizon: {e}");
                (None, false)
            }
            Ok(bytes) => match serde_json::from_slice::<CheckpointFile>(&bytes) {
                Ok(f) => (Some(f), false),
                Err(e) => {
                    tracing::error!(service = "dynamodb", path = %path.display(), "a stream checkpoint is not valid JSON, reading the stream from its trim horizon: {e}");
                    (None, false)
                }
            },
        };
        let file = match file {
            Some(f) if f.stream_arn == stream_arn => f,
            Some(f) => {
                tracing::info!(service = "dynamodb", old = %f.stream_arn, new = %stream_arn, "the table has a new stream: reading it from its trim horizon");
                CheckpointFile {
                    stream_arn: stream_arn.into(),
                    shards: BTreeMap::new(),
                }
            }
            None => CheckpointFile {
                stream_arn: stream_arn.into(),
                shards: BTreeMap::new(),
            },
        };
        (
            Self {
                path,
                file: Mutex::new(file),
            },
            first,
        )
    }

    /// The shard's progress (default: nothing handled, not LATEST).
    pub async fn shard(&self, shard: &str) -> ShardCheckpoint {
        self.file
            .lock()
            .await
            .shards
            .get(shard)
            .cloned()
            .unwrap_or_default()
    }

    /// Records that `shard` was handled up to `sequence_number`, durably.
    pub async fn advance(&self, shard: &str, sequence_number: &str) -> Result<(), CheckpointError> {
        self.change(|f| {
            let s = f.shards.entry(shard.to_string()).or_default();
            s.after = Some(sequence_number.to_string());
            s.latest = false;
        })
        .await
    }

    /// Records that `shard` was read to its end, durably.
    pub async fn finish(&self, shard: &str) -> Result<(), CheckpointError> {
        self.change(|f| f.shards.entry(shard.to_string()).or_default().finished = true)
            .await
    }

    /// The mapping's first start: `shards` (those there now) start at LATEST, and the
    /// file exists from now on, so a restart is not a first start.
    pub async fn start_at_latest(&self, shards: &[String]) -> Result<(), CheckpointError> {
        self.change(|f| {
            for s in shards {
                let c = f.shards.entry(s.clone()).or_default();
                if c.after.is_none() {
                    c.latest = true;
                }
            }
        })
        .await
    }

    /// Writes the file as it is (the first start with TRIM_HORIZON).
    pub async fn save(&self) -> Result<(), CheckpointError> {
        self.change(|_| {}).await
    }

    /// Forgets shards the stream no longer lists (trimmed away): the file does not
    /// grow with every shard a long-lived stream ever had.
    pub async fn forget_all_but(&self, listed: &[String]) -> Result<(), CheckpointError> {
        let stale = {
            let f = self.file.lock().await;
            f.shards.keys().any(|k| !listed.contains(k))
        };
        if !stale {
            return Ok(());
        }
        self.change(|f| f.shards.retain(|k, _| listed.contains(k)))
            .await
    }

    /// Applies `f` and writes the result; the lock is held through the write so
    /// writes land in the order they were made.
    async fn change(&self, f: impl FnOnce(&mut CheckpointFile)) -> Result<(), CheckpointError> {
        let mut file = self.file.lock().await;
        f(&mut file);
        let bytes = serde_json::to_vec_pretty(&*file).map_err(|e| CheckpointError {
            path: self.path.clone(),
            error: e.to_string(),
        })?;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|r| r)
            .map_err(|e| CheckpointError {
                path: self.path.clone(),
                error: e.to_string(),
            })
    }
}

/// Writes `bytes` to `path` so that a crash leaves the old or the new content.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("a checkpoint path has a directory"))?;
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("a checkpoint path has a file name"))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn checkpoints_survive_reopening_and_a_new_stream_starts_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        let (c, first) = Checkpoints::open(path.clone(), "arn:1").await;
        assert!(first);
        c.start_at_latest(&["s0".into()]).await.unwrap();
        c.advance("s1", "0042").await.unwrap();
        c.finish("s1").await.unwrap();
        drop(c);

        let (c, first) = Checkpoints::open(path.clone(), "arn:1").await;
        assert!(!first);
        assert_eq!(
            c.shard("s0").await,
            ShardCheckpoint {
                after: None,
                latest: true,
                finished: false
            }
        );
        assert_eq!(c.shard("s1").await.after.as_deref(), Some("0042"));
        assert!(c.shard("s1").await.finished);
        c.forget_all_but(&["s1".into()]).await.unwrap();
        assert_eq!(c.shard("s0").await, ShardCheckpoint::default());
        drop(c);

        let (c, first) = Checkpoints::open(path.clone(), "arn:2").await;
        assert!(
            !first,
            "a recreated table's stream is not the mapping's first start"
        );
        assert_eq!(c.shard("s1").await, ShardCheckpoint::default());
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("m.json")]);
    }

    #[tokio::test]
    async fn an_unreadable_checkpoint_is_not_a_first_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        std::fs::write(&path, b"{torn").unwrap();
        let (c, first) = Checkpoints::open(path, "arn:1").await;
        assert!(!first);
        assert_eq!(c.shard("s").await, ShardCheckpoint::default());
    }
}
