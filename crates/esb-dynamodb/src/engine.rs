//! The embedded engine: dynoxide's own DynamoDB server (its request dispatch, validation
//! and error wording are what its conformance record was measured on) on a loopback
//! port of its own, inside a runtime of its own.
//!
//! Why a runtime of its own:
//! - dynoxide runs every operation synchronously on the thread that received it (one
//!   mutexed SQLite connection): on the box's runtime a slow scan would stall the
//!   gateway. Here it stalls only other DynamoDB requests, as it would in dynoxide.
//! - its expression parsers recurse: a deeply nested request once overflowed a 2 MiB
//!   tokio stack and aborted the whole process. The front refuses what DynamoDB
//!   refuses before the engine sees it (crate::limits), and these threads have stacks
//!   large enough for anything that passes (reserved, not resident: a page is only
//!   committed when touched).
//!
//! Durability: dynoxide opens SQLite in WAL mode and leaves `synchronous` at the bundled
//! library's default, FULL: a write is in the WAL and fsynced before it is answered, so
//! an acknowledged write survives `kill -9` and power loss. (Its bulk-load mode turns
//! syncing off; ESB never enables it.)

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dynoxide::Database;

/// Stack of each engine thread. See the module doc.
const ENGINE_STACK_BYTES: usize = 256 * 1024 * 1024;
/// Threads serving the engine: one request runs while another is read or answered.
const ENGINE_THREADS: usize = 2;

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot create {0}: {1}")]
    Dir(PathBuf, std::io::Error),
    #[error("cannot open the DynamoDB database {0}: {1}")]
    Open(PathBuf, String),
    #[error("cannot start the DynamoDB engine: {0}")]
    Start(String),
}

/// A running embedded engine.
pub struct Engine {
    /// Where the engine listens (loopback only; the front is the way in).
    pub addr: SocketAddr,
    runtime: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Engine {
    /// The database file inside the service's state directory.
    fn database_path(dir: &Path) -> PathBuf {
        dir.join("dynamodb.sqlite")
    }

    /// Opens (or creates) the database in `dir` and starts serving it, with TTL
    /// expiry every `ttl_sweep` (zero: never).
    pub fn start(dir: &Path, ttl_sweep: Duration) -> Result<Self, EngineError> {
        std::fs::create_dir_all(dir).map_err(|e| EngineError::Dir(dir.to_path_buf(), e))?;
        let path = Self::database_path(dir);
        let db = Database::new(&path.to_string_lossy())
            .map_err(|e| EngineError::Open(path.clone(), e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(ENGINE_THREADS)
            .max_blocking_threads(ENGINE_THREADS)
            .thread_stack_size(ENGINE_STACK_BYTES)
            .thread_name("esb-dynamodb")
            .enable_all()
            .build()
            .map_err(|e| EngineError::Start(e.to_string()))?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0)))
            .map_err(|e| EngineError::Start(format!("cannot listen on loopback: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| EngineError::Start(e.to_string()))?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let swept = db.clone();
        let thread = std::thread::Builder::new()
            .name("esb-dynamodb".into())
            .stack_size(ENGINE_STACK_BYTES)
            .spawn(move || {
                runtime.block_on(async move {
                    if !ttl_sweep.is_zero() {
                        tokio::spawn(sweep_ttl(swept, ttl_sweep));
                    }
                    let shutdown = async move {
                        let _ = stopped.await;
                    };
                    if let Err(e) =
                        dynoxide::server::serve_with_shutdown(listener, db, shutdown).await
                    {
                        tracing::error!(service = "dynamodb", "engine stopped: {e}");
                    }
                });
                // Requests still running finish on their own; do not wait for them.
                runtime.shutdown_timeout(Duration::from_secs(1));
            })
            .map_err(|e| EngineError::Start(e.to_string()))?;
        Ok(Self {
            addr,
            runtime: handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The engine's runtime. The box's DynamoDB listener runs here too: a request and
    /// the engine's work on it then share threads, instead of each hop waking a thread
    /// of another runtime (measured: a third of a millisecond per request on 2 cores).
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // Joining from inside a runtime would block one of its threads: let the
            // engine's thread end by itself there.
            if tokio::runtime::Handle::try_current().is_err() {
                let _ = thread.join();
            }
        }
    }
}

/// Deletes expired items (streamed as `REMOVE` by the service identity, as DynamoDB
/// does) every `every`. dynoxide sweeps a page at a time and lets requests in between.
async fn sweep_ttl(db: Database, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let db = db.clone();
        match tokio::task::spawn_blocking(move || db.sweep_ttl()).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::debug!(service = "dynamodb", "TTL expired {n} items"),
            Ok(Err(e)) => tracing::warn!(service = "dynamodb", "TTL sweep failed: {e}"),
            Err(e) => tracing::warn!(service = "dynamodb", "TTL sweep failed: {e}"),
        }
    }
}
