//! The payload and size limits AWS Lambda enforces, in one place.

/// Largest synchronous invoke request body Lambda accepts (6 MiB).
pub const MAX_SYNC_REQUEST_BYTES: usize = 6 * 1024 * 1024;

/// Largest asynchronous (`Event`) invoke request body Lambda accepts (256 KiB).
pub const MAX_ASYNC_REQUEST_BYTES: usize = 256 * 1024;

/// Largest response a runtime may post: 6 MiB plus 100 bytes, as AWS's RIE
/// (`interop.MaxPayloadSize`) and Lambda itself allow.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 + 100;

/// Size of the log tail returned in `X-Amz-Log-Result` for `X-Amz-Log-Type: Tail`.
pub const LOG_TAIL_BYTES: usize = 4 * 1024;

/// Largest decoded `X-Amz-Client-Context` Lambda accepts.
pub const MAX_CLIENT_CONTEXT_BYTES: usize = 3583;
