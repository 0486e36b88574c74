//! ESB's DynamoDB service. The embedded engine is dynoxide (items, expressions,
//! indexes, transactions, PartiQL, streams and TTL on SQLite); ESB owns everything
//! around it: the listener and its TLS, Signature V4 with the box's key pair,
//! DynamoDB's request limits, a stack that hostile input cannot overflow, TTL expiry in
//! the background, the template's tables, and DynamoDB Streams to Lambda. With an
//! external engine (ScyllaDB Alternator, AWS DynamoDB) configured, the front forwards
//! to it instead, re-signed.

pub mod backend;
pub mod client;
pub mod corrections;
pub mod engine;
pub mod external;
pub mod forward_error;
pub mod front;
pub mod limits;
pub mod operations;
pub mod stream_mapping;
pub mod summary;
pub mod wire;

pub use backend::Backend;
pub use client::{CallError, DynamoClient};
pub use engine::Engine;
pub use front::DynamoFront;
pub use operations::Operation;
