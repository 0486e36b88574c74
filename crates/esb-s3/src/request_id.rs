//! The id of the S3 request being served (`x-amz-request-id`), visible to everything
//! the request runs, so the notifications a write queues name the request that caused
//! it (`responseElements.x-amz-request-id`), as S3's do.

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Runs `f` as the request `id`.
pub async fn scope<F: std::future::Future>(id: String, f: F) -> F::Output {
    REQUEST_ID.scope(id, f).await
}

/// The request being served, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}
