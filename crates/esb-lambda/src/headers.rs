//! Header names of the Lambda Invoke API and of ESB's worker contract, spelled once.
//! Lowercase, as HTTP/2 and `http::HeaderName` want them; HTTP/1 peers match them
//! case-insensitively (ESB's servers still write them in AWS's canonical case).

/// Set on a 200 answer when the function failed: `Unhandled` (or `Handled`).
pub const FUNCTION_ERROR: &str = "x-amz-function-error";
/// `RequestResponse` (default), `Event` or `DryRun`.
pub const INVOCATION_TYPE: &str = "x-amz-invocation-type";
/// `Tail` asks for the last 4 KB of the invocation's log in [`LOG_RESULT`].
pub const LOG_TYPE: &str = "x-amz-log-type";
/// Base64 of the log tail, answered for `X-Amz-Log-Type: Tail`.
pub const LOG_RESULT: &str = "x-amz-log-result";
/// Base64 JSON handed to the runtime as the client context.
pub const CLIENT_CONTEXT: &str = "x-amz-client-context";
/// The version that ran (`$LATEST`).
pub const EXECUTED_VERSION: &str = "x-amz-executed-version";
/// The request id of every answer.
pub const REQUEST_ID: &str = "x-amzn-requestid";
/// The X-Ray trace header carried from caller to function and on to its callees.
pub const TRACE_ID: &str = "x-amzn-trace-id";
/// The error name of an error answer (`ResourceNotFoundException`, ...).
pub const ERROR_TYPE: &str = "x-amzn-errortype";

/// Names the worker the gateway means: a worker holding another token refuses the
/// invocation (421), so an event never runs on a worker that merely inherited the
/// address of a dead one.
pub const WORKER_TOKEN: &str = "x-esb-worker-token";
/// The environment variable that gives a worker's `esb rie` its token (hidden from the
/// language runtime).
pub const WORKER_TOKEN_VAR: &str = "ESB_WORKER_TOKEN";
