//! A function's `EventInvokeConfig`: how its asynchronous invocations are retried,
//! how old they may grow, and where their outcomes go. Part of the plan; followed by
//! the delivery of queued events (`async_dispatch.rs`).

use std::time::Duration;

/// What a function's asynchronous invocations follow (`EventInvokeConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncConfig {
    pub max_retries: u32,
    pub max_age: Duration,
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
}

impl Default for AsyncConfig {
    fn default() -> Self {
        Self {
            max_retries: 2,
            max_age: Duration::from_secs(6 * 3600),
            on_success: None,
            on_failure: None,
        }
    }
}
