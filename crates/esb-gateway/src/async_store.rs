//! The durable queue of accepted asynchronous (`Event`) invocations: each event is a
//! file under `<state>/async/queue/`, written and synced before the 202 answer and
//! removed only when the event has run or has been handed to its failure destination.
//! A gateway killed at any moment finds its accepted events again at the next start
//! (Lambda's own delivery is at least once, and so is this). Events that exhaust their
//! retries or age without a destination land in `<state>/async/failed/`.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One accepted event and its delivery so far.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueuedEvent {
    pub id: String,
    pub function: String,
    /// The JSON payload (validated when accepted).
    pub payload: String,
    pub trace_id: Option<String>,
    pub accepted_at_ms: i64,
    /// Invocations that ended in a function error so far.
    pub attempts: u32,
}

#[derive(Debug)]
pub struct AsyncStore {
    queue: PathBuf,
    failed: PathBuf,
}

impl AsyncStore {
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        let store = Self {
            queue: dir.join("queue"),
            failed: dir.join("failed"),
        };
        std::fs::create_dir_all(&store.queue)?;
        std::fs::create_dir_all(&store.failed)?;
        Ok(store)
    }

    /// Writes the event durably (temp file, fsync, rename, fsync of the folder).
    pub fn save(&self, event: &QueuedEvent) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(event).map_err(std::io::Error::other)?;
        write_durably(&self.queue, &format!("{}.json", event.id), &bytes)
    }

    /// The event has run (or been handed to its destination): forget it.
    pub fn remove(&self, id: &str) {
        let path = self.queue.join(format!("{id}.json"));
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::error!("cannot remove delivered event {}: {e}", path.display());
        }
    }

    /// Records a failed event (its destination record) in the dead-letter folder, then
    /// removes it from the queue.
    pub fn dead_letter(&self, id: &str, record: &serde_json::Value) -> std::io::Result<PathBuf> {
        let name = format!("{id}.json");
        write_durably(&self.failed, &name, record.to_string().as_bytes())?;
        self.remove(id);
        Ok(self.failed.join(name))
    }

    /// Every queued event (at start: what a previous gateway accepted and did not
    /// finish), oldest first; unreadable files are reported and left in place.
    pub fn load(&self) -> Vec<QueuedEvent> {
        let Ok(entries) = std::fs::read_dir(&self.queue) else {
            return Vec::new();
        };
        let mut events: Vec<QueuedEvent> = entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| {
                let parsed = std::fs::read(e.path())
                    .map_err(|err| err.to_string())
                    .and_then(|b| serde_json::from_slice(&b).map_err(|err| err.to_string()));
                parsed
                    .map_err(|err| {
                        tracing::error!("queued event {} unreadable: {err}", e.path().display())
                    })
                    .ok()
            })
            .collect();
        events.sort_by_key(|e| e.accepted_at_ms);
        events
    }
}

fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_until_removed_and_failures_are_kept() {
        let dir = tempfile::tempdir().expect("dir");
        let store = AsyncStore::open(dir.path()).expect("open");
        let event = |id: &str, at| QueuedEvent {
            id: id.into(),
            function: "f".into(),
            payload: "{}".into(),
            trace_id: None,
            accepted_at_ms: at,
            attempts: 0,
        };
        store.save(&event("b", 2)).expect("save");
        store.save(&event("a", 1)).expect("save");
        std::fs::write(dir.path().join("queue/broken.json"), "{").expect("junk");
        let again = AsyncStore::open(dir.path()).expect("reopen");
        let ids: Vec<String> = again.load().into_iter().map(|e| e.id).collect();
        assert_eq!(
            ids,
            ["a", "b"],
            "oldest first; the unreadable file is skipped"
        );
        again.remove("a");
        let kept = again
            .dead_letter("b", &serde_json::json!({"condition": "RetriesExhausted"}))
            .expect("dead letter");
        assert!(kept.is_file());
        assert!(again.load().is_empty());
    }
}
