//! The store's handle: its connections, blob folder and write transactions.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rusqlite::Connection;

use super::blobs::BlobDir;
use super::{refs, schema};
use crate::error::{StoreError, StoreResult};

/// A handle on the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    /// Every change goes through this one connection (SQLite has one writer anyway).
    writer: Mutex<Connection>,
    /// Reads run beside writes (WAL readers never block on the writer).
    reader: Mutex<Connection>,
    blobs: BlobDir,
    region: String,
    /// Signalled after every commit (the outbox dispatcher waits on it).
    changed: tokio::sync::Notify,
}

fn take<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A connection is left consistent by SQLite whatever a panicking holder did (an
    // open transaction rolls back on drop), so a poisoned lock is taken back.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Store {
    /// Opens (creating) the store in `dir`, and deletes blobs no row names (writes a
    /// killed box never committed, or objects deleted just before it died).
    pub fn open(dir: &Path, region: &str) -> StoreResult<Self> {
        std::fs::create_dir_all(dir)?;
        let db = dir.join("catalogue.db");
        let writer = schema::open(&db)?;
        let reader = schema::open(&db)?;
        let store = Self {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                reader: Mutex::new(reader),
                blobs: BlobDir::open(dir.join("blobs"))?,
                region: region.to_string(),
                changed: tokio::sync::Notify::new(),
            }),
        };
        store.sweep()?;
        Ok(store)
    }

    pub fn blobs(&self) -> &BlobDir {
        &self.inner.blobs
    }

    /// Resolves after the next commit (or at once if one happened since the last wait).
    pub async fn changed(&self) {
        self.inner.changed.notified().await;
    }

    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// Runs `f` on the reader connection off the async threads.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&take(&inner.reader)))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Runs `f` in one write transaction; blobs it frees are deleted after the commit.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>, &mut Vec<String>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut conn = take(&inner.writer);
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut freed = Vec::new();
            let out = f(&tx, &mut freed)?;
            tx.commit()?;
            drop(conn);
            inner.changed.notify_one();
            for id in freed {
                inner.blobs.remove(&id);
            }
            Ok(out)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Deletes blob files no catalogue row names.
    fn sweep(&self) -> StoreResult<()> {
        let conn = take(&self.inner.writer);
        let mut removed = 0usize;
        for id in self.inner.blobs.all_ids()? {
            if !refs::is_referenced(&conn, &id)? {
                self.inner.blobs.remove(&id);
                removed += 1;
            }
        }
        conn.execute("DELETE FROM blobs WHERE refs <= 0", [])?;
        if removed > 0 {
            tracing::info!(blobs = removed, "removed unreferenced object data");
        }
        Ok(())
    }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0),
    )
    .unwrap_or(i64::MAX)
}
