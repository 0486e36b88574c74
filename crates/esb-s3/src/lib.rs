//! ESB's S3 service: the S3 REST protocol (s3s: XML, SigV4 header and presigned auth,
//! aws-chunked bodies) in front of a durable store of ESB's own (a SQLite catalogue and
//! synced blob files), notifications to Lambda through an outbox, and, with an external
//! engine configured, a forwarder that re-signs requests for it.

pub mod auth;
pub mod cors;
pub mod dispatch;
pub mod error;
pub mod forward;
pub mod host;
pub mod key_encoding;
pub mod model;
pub mod notify;
pub mod request_id;
pub mod store;

pub use error::{StoreError, StoreResult};
pub use store::Store;
pub mod server;
pub mod service;
pub use dispatch::EventSink;
pub use server::S3Front;
pub use service::EsbS3;
