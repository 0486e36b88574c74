//! ESB's gateway: the HTTPS front door of a box. Serves the Lambda Invoke API and the
//! template's API routes and function URLs, owns the per-function worker pools and
//! reaches workers directly; asks the agent for workers over gRPC (`esb.agent.v1`),
//! even when both run in one process.
//!
//! The modules form layers without cycles; each uses only its own layer and those
//! below it:
//!
//! 1. data — what is served and the state behind it: `gateway` (the state handlers
//!    share), `plan`, `routes`, `function_url`, `pool` (with `worker_provider`,
//!    `agent_client`, `breaker`), `maintainer`, `async_config`, `async_store`,
//!    `async_events`, `queue_sink`, `metrics`, `status`, `access_log`, `worker_client`, `certs`,
//!    `tls`, `cors`, and leaves (`clock`, `client_timeouts`, `query_string`). A route
//!    carries its access rules, so `auth`'s rule types and authorizers (`auth` itself,
//!    `jwt`, `id_token`, `lambda_authorizer`, `policy`) are data too: they use nothing
//!    above it.
//! 2. events — the payloads built for functions and their answers read back:
//!    `proxy_request`, `proxy_event` (payload 1.0), `http_event` (2.0, function URLs),
//!    `authorizer_event`, `api_response`.
//! 3. auth — a route's access rules applied to one request: `auth::route_auth`.
//! 4. handlers — what serves requests: `invoke_api`, `api_routes`, `async_dispatch`,
//!    `call`, `request_log`, `server`. Auth runs Lambda authorizers through a trait
//!    the handlers implement (`route_auth::RunAuthorizer`), not by calling them.

pub mod access_log;
pub mod agent_client;
pub mod api_response;
pub mod api_routes;
pub mod artifact_cache;
pub mod artifact_push;
pub mod async_config;
pub mod async_dispatch;
pub mod async_events;
pub mod async_store;
pub mod auth;
pub mod authorizer_event;
pub mod breaker;
pub mod call;
pub mod certs;
pub mod client_timeouts;
pub mod clock;
pub mod cors;
#[cfg(test)]
mod event_shape;
pub mod function_ref;
pub mod function_url;
pub mod gateway;
pub mod http_event;
pub mod invoke_api;
mod maintainer;
pub mod metrics;
pub mod nodes;
pub mod plan;
pub mod pool;
pub mod proxy_event;
pub mod proxy_request;
pub mod query_string;
pub mod queue_sink;
pub mod request_log;
pub mod routes;
pub mod server;
pub mod source_invoke;
pub mod status;
pub mod tls;
pub mod worker_client;
pub mod worker_provider;

pub use async_config::{AsyncConfig, Destination};
pub use client_timeouts::BODY_READ_TIMEOUT;
pub use clock::now_ms;
pub use gateway::{Gateway, GatewayConfig, GatewayError};
pub use plan::FunctionEntry;
pub use queue_sink::{QueueMessage, QueueSink};
pub use status::STATUS_PATH;
