//! The durable store: one SQLite database (WAL, `synchronous=FULL`) owned by a thread
//! of its own. Requests hand it jobs; it runs every job waiting at the time in one
//! transaction, each under a savepoint (a failing job undoes only its own writes), and
//! answers them only once that transaction is committed. So a send is on disk before
//! its 200, and eight concurrent clients share one fsync instead of queuing for eight.
//!
//! Receives, deletes and visibility changes are committed without waiting for the
//! disk's flush ([`Store::run_relaxed`]): the write is in the WAL before the answer, so
//! a `kill -9` of the box loses none of them; only a power loss (or kernel crash) can,
//! and then a message is delivered again, which SQS's at-least-once delivery allows.
//! A batch with any durable job is flushed whole.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::error::SqsError;

/// What a job leaves to do once the transaction's fate is known.
type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A job: runs against the connection, says whether its writes stand.
type Work = Box<dyn FnOnce(&Connection) -> (bool, Reply) + Send>;

struct Job {
    work: Work,
    /// Its commit must reach the disk before it is answered.
    durable: bool,
}

/// Jobs waiting beyond this many make senders wait: memory stays bounded under load.
const QUEUE_DEPTH: usize = 1024;
/// At most this many jobs share one transaction.
const BATCH: usize = 64;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS queues (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    fifo INTEGER NOT NULL,
    attributes TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL,
    purged_ms INTEGER,
    sequence INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_id INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    md5_body TEXT NOT NULL,
    attributes TEXT,
    md5_attributes TEXT,
    trace_header TEXT,
    sender_id TEXT NOT NULL,
    sent_ms INTEGER NOT NULL,
    visible_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive_ms INTEGER,
    receipt TEXT,
    group_id TEXT,
    dedup_id TEXT,
    sequence_number TEXT,
    dead_letter_source TEXT
);
CREATE INDEX IF NOT EXISTS messages_visible ON messages(queue_id, visible_ms, id);
CREATE INDEX IF NOT EXISTS messages_expiry ON messages(queue_id, expires_ms);
CREATE INDEX IF NOT EXISTS messages_group ON messages(queue_id, group_id, id);
CREATE TABLE IF NOT EXISTS dedup (
    queue_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sequence_number TEXT,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (queue_id, key)
);
CREATE INDEX IF NOT EXISTS dedup_expiry ON dedup(queue_id, expires_ms);
CREATE TABLE IF NOT EXISTS move_tasks (
    handle TEXT PRIMARY KEY,
    source_arn TEXT NOT NULL,
    destination_arn TEXT,
    max_per_second INTEGER,
    status TEXT NOT NULL,
    moved INTEGER NOT NULL,
    to_move INTEGER NOT NULL,
    started_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS receive_attempts (
    queue_id INTEGER NOT NULL,
    attempt_id TEXT NOT NULL,
    messages TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (queue_id, attempt_id)
);
";

/// Milliseconds since the epoch: visibility deadlines are wall-clock instants, so they
/// hold across a restart.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[derive(Clone)]
pub struct Store {
    jobs: mpsc::Sender<Job>,
}

impl Store {
    /// Opens (creating) `<dir>/sqs.db` and starts its thread.
    pub fn open(dir: &Path) -> Result<Self, SqsError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| SqsError::internal(format!("cannot create {}: {e}", dir.display())))?;
        let conn = Connection::open(dir.join("sqs.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "cache_size", -4096)?;
        // Checkpoints run on a thread of their own (below), not inside a request's
        // commit, where their fsync of the database would be that request's delay.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let alive = std::sync::Arc::new(());
        let watched = std::sync::Arc::downgrade(&alive);
        std::thread::Builder::new()
            .name("esb-sqs-store".into())
            .spawn(move || {
                let _alive = alive;
                run(conn, rx)
            })
            .map_err(|e| SqsError::internal(format!("cannot start the store thread: {e}")))?;
        let path = dir.join("sqs.db");
        std::thread::Builder::new()
            .name("esb-sqs-checkpoint".into())
            .spawn(move || checkpoints(&path, &watched))
            .map_err(|e| SqsError::internal(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Self { jobs: tx })
    }

    /// Runs `f` in the store's next transaction; its result once that is committed
    /// and flushed to the disk. An `Err` from `f` undoes its writes.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, SqsError> + Send + 'static,
    ) -> Result<T, SqsError> {
        self.submit(f, true).await
    }

    /// [`Store::run`] for writes whose loss in a power failure only redelivers a
    /// message (receives, deletes, visibility changes): answered once committed to
    /// the WAL, without waiting for the flush.
    pub async fn run_relaxed<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, SqsError> + Send + 'static,
    ) -> Result<T, SqsError> {
        self.submit(f, false).await
    }

    async fn submit<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, SqsError> + Send + 'static,
        durable: bool,
    ) -> Result<T, SqsError> {
        let (tx, rx) = oneshot::channel();
        let work: Work = Box::new(move |conn| {
            let result = f(conn);
            let ok = result.is_ok();
            let reply: Reply = Box::new(move |committed| {
                let _ = tx.send(match committed {
                    Ok(()) => result,
                    Err(e) => Err(SqsError::internal(e)),
                });
            });
            (ok, reply)
        });
        self.jobs
            .send(Job { work, durable })
            .await
            .map_err(|_| SqsError::internal("the store has stopped"))?;
        rx.await
            .map_err(|_| SqsError::internal("the store has stopped"))?
    }
}

/// How often the WAL is copied back into the database.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Copies the WAL's committed pages into the database (a passive checkpoint: it never
/// waits for the store thread, which keeps committing meanwhile) until the store
/// thread has ended.
fn checkpoints(path: &Path, store_alive: &std::sync::Weak<()>) {
    let conn = match Connection::open(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(
                service = "sqs",
                "no checkpoint connection ({e}); the WAL grows"
            );
            return;
        }
    };
    while store_alive.strong_count() > 0 {
        std::thread::sleep(CHECKPOINT_EVERY);
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::debug!(service = "sqs", "checkpoint: {e}");
        }
    }
}

fn run(conn: Connection, mut rx: mpsc::Receiver<Job>) {
    let mut flushing = true; // `synchronous=FULL`, as opened
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let durable = batch.iter().any(|j| j.durable);
        if durable != flushing {
            let mode = if durable { "FULL" } else { "NORMAL" };
            match conn.pragma_update(None, "synchronous", mode) {
                Ok(()) => flushing = durable,
                Err(e) => tracing::error!(service = "sqs", "cannot set synchronous={mode}: {e}"),
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            // Dropping the jobs drops their reply channels: each caller gets an error.
            tracing::error!(service = "sqs", "cannot begin a transaction: {e}");
            continue;
        }
        let mut replies = Vec::with_capacity(batch.len());
        for job in batch {
            let _ = conn.execute_batch("SAVEPOINT job");
            let (ok, reply) = (job.work)(&conn);
            let end = if ok {
                "RELEASE job"
            } else {
                "ROLLBACK TO job; RELEASE job"
            };
            if let Err(e) = conn.execute_batch(end) {
                tracing::error!(service = "sqs", "savepoint: {e}");
            }
            replies.push(reply);
        }
        let committed = conn.execute_batch("COMMIT").map_err(|e| {
            tracing::error!(service = "sqs", "commit failed: {e}");
            let _ = conn.execute_batch("ROLLBACK");
            e.to_string()
        });
        for reply in replies {
            reply(committed.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_job_undoes_only_its_own_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let insert = |name: &'static str, fail: bool| {
            let store = store.clone();
            async move {
                store
                    .run(move |conn| {
                        conn.execute(
                            "INSERT INTO queues (name, fifo, attributes, tags, created_ms, modified_ms)
                             VALUES (?1, 0, '{}', '{}', 0, 0)",
                            [name],
                        )?;
                        if fail {
                            return Err(SqsError::invalid("no"));
                        }
                        Ok(())
                    })
                    .await
            }
        };
        let (a, b, c) = tokio::join!(insert("a", false), insert("b", true), insert("c", false));
        assert!(a.is_ok() && b.is_err() && c.is_ok());
        drop(store);
        let conn = Connection::open(dir.path().join("sqs.db")).unwrap();
        let names: Vec<String> = conn
            .prepare("SELECT name FROM queues ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(names, ["a", "c"]);
    }

    /// The WAL is checkpointed in the background (requests never run one): after a
    /// pause, the next writes reuse it instead of growing it.
    #[tokio::test]
    async fn the_wal_is_reused_after_background_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let write = |from: usize| {
            let store = store.clone();
            async move {
                for i in from..from + 300 {
                    let name = format!("queue-{i}-{}", "x".repeat(200));
                    store
                        .run(move |conn| {
                            conn.execute(
                                "INSERT INTO queues (name, fifo, attributes, tags, created_ms, modified_ms)
                                 VALUES (?1, 0, '{}', '{}', 0, 0)",
                                [name],
                            )?;
                            Ok(())
                        })
                        .await
                        .unwrap();
                }
            }
        };
        let wal = || {
            std::fs::metadata(dir.path().join("sqs.db-wal"))
                .unwrap()
                .len()
        };
        write(0).await;
        let first = wal();
        tokio::time::sleep(CHECKPOINT_EVERY * 3).await;
        write(300).await;
        assert!(
            wal() < first + first / 2,
            "the WAL grew from {first} to {} bytes: not checkpointed",
            wal()
        );
    }
}
