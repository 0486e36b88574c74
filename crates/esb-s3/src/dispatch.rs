//! Delivery of the notification outbox: each queued event is handed to Lambda's
//! asynchronous invoke (the box's durable queue, which retries and applies the
//! function's destinations) and leaves the outbox only once that accepted it.

use std::sync::Arc;
use std::time::Duration;

use crate::store::Store;

/// Where S3 events go: the box's asynchronous Lambda invoke.
#[async_trait::async_trait]
pub trait EventSink: Send + Sync + 'static {
    /// Durably accepts one asynchronous invocation (`InvocationType: Event`).
    async fn invoke_async(&self, function_arn: &str, payload: String) -> Result<(), String>;
}

/// Delivers outbox events until `shutdown` resolves.
pub async fn run(
    store: Store,
    sink: Arc<dyn EventSink>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut backoff = Duration::from_millis(100);
    loop {
        let batch = match store.outbox(100).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(service = "s3", "cannot read the notification outbox: {e}");
                Vec::new()
            }
        };
        let mut failed = false;
        for entry in &batch {
            match sink
                .invoke_async(&entry.function_arn, entry.payload.clone())
                .await
            {
                Ok(()) => {
                    if let Err(e) = store.delivered(entry.id).await {
                        tracing::error!(
                            service = "s3",
                            "cannot clear a delivered notification: {e}"
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(service = "s3", function = %entry.function_arn, "notification not accepted yet: {e}");
                    failed = true;
                    break;
                }
            }
        }
        let wait = if failed {
            backoff = (backoff * 2).min(Duration::from_secs(10));
            backoff
        } else {
            backoff = Duration::from_millis(100);
            if batch.len() == 100 {
                Duration::ZERO
            } else {
                Duration::from_secs(5)
            }
        };
        tokio::select! {
            () = &mut shutdown => return,
            () = store.changed(), if !failed => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}
