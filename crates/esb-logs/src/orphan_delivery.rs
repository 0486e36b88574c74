//! The box's part of the spool rule: a writer's spool is delivered as soon as it is
//! orphaned (its worker died, was killed or removed; its previous box was killed),
//! whoever notices first. Live shippers adopt orphans beside them, but a worker may
//! start before an older one has finished dying and an idle box may have no live
//! shipper sending anything: so the box, which owns the store, also looks every
//! second and commits what it finds straight into the store.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::collector::{AcceptError, Collector, batch_records};
use crate::spool::claim_orphans;

/// Commits every orphaned spool under `root` (batches encoded for `query`, the
/// writers' ingestion query) through `collector`, oldest batch first; how many batches
/// were delivered. A batch the store cannot take now stays for the next look.
pub async fn deliver_orphans(
    collector: &Collector,
    root: &Path,
    query: Option<&str>,
) -> Result<usize, AcceptError> {
    let dir = root.to_path_buf();
    let orphans = tokio::task::spawn_blocking(move || claim_orphans(&dir, None))
        .await
        .map_err(|e| AcceptError::Stopped(e.to_string()))?;
    let mut delivered = 0;
    for mut orphan in orphans {
        for seq in orphan.batches() {
            let body = match orphan.read(seq) {
                Ok(body) => body,
                Err(e) => {
                    // Unreadable for good (it cannot block the rest for ever).
                    tracing::warn!("{e}");
                    orphan.remove(seq);
                    continue;
                }
            };
            let (records, _) = batch_records(&body, query);
            // On failure the claim is dropped and the spool waits, intact, for later.
            collector.accept(records).await?;
            orphan.remove(seq);
            delivered += 1;
        }
        orphan.close();
    }
    Ok(delivered)
}

/// Looks for orphaned spools under `root` every `every`, for as long as the task runs.
pub fn watch(
    collector: Arc<Collector>,
    root: PathBuf,
    query: Option<String>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            ticker.tick().await;
            match deliver_orphans(&collector, &root, query.as_deref()).await {
                Ok(0) => failing = false,
                Ok(n) => {
                    failing = false;
                    tracing::info!("delivered {n} log batches left by stopped writers");
                }
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!("log batches left by stopped writers wait: {e}");
                }
                Err(_) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::Spool;
    use crate::store::{Retention, Store};

    fn age(lock: &Path) {
        let old = std::time::SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(lock)
            .and_then(|f| f.set_modified(old))
            .expect("age the lock");
    }

    #[tokio::test]
    async fn a_spool_is_committed_once_its_writer_is_gone_and_not_before() {
        let dir = tempfile::tempdir().expect("dir");
        let store =
            Arc::new(Store::open(&dir.path().join("store"), Retention::default()).expect("store"));
        let collector = Collector::new(Some(Arc::clone(&store)), None, String::new());
        let root = dir.path().join("spool");
        let query = "_stream_fields=function,job&_msg_field=_msg&_time_field=_time";
        let line = |msg: &str| {
            format!(
                "{{\"_time\":\"2026-01-01T00:00:00Z\",\"_msg\":\"{msg}\",\"function\":\"f\",\"job\":\"lambda\"}}\n"
            )
        };
        let mut writer = Spool::open(&root.join("w1"), 1 << 20).expect("spool");
        writer.push(line("first").as_bytes()).expect("push");
        writer.push(line("second").as_bytes()).expect("push");
        age(&root.join("w1").join(".lock"));
        let found = deliver_orphans(&collector, &root, Some(query)).await;
        assert_eq!(found.expect("looked"), 0, "its writer still holds it");

        drop(writer); // the worker dies
        let delivered = deliver_orphans(&collector, &root, Some(query)).await;
        assert_eq!(delivered.expect("delivered"), 2);
        assert!(
            !root.join("w1").exists(),
            "the orphan is gone once delivered"
        );
        let q = crate::logsql::parse("function:f", crate::http::now_ns()).expect("query");
        let msgs: Vec<String> = store
            .query(&q)
            .expect("read")
            .into_iter()
            .map(|r| r.msg)
            .collect();
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert!(msgs.contains(&"first".to_string()) && msgs.contains(&"second".to_string()));
        let again = deliver_orphans(&collector, &root, Some(query)).await;
        assert_eq!(again.expect("nothing left"), 0);
    }
}
