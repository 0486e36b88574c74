//! The box's SQS service: durable queues (standard and FIFO) on SQLite, served in both
//! of SQS's wire protocols. `store` owns the database thread (group commit),
//! `queue_store` and `message_store` its SQL, `engine` the [`Sqs`] handle the rest of
//! the box calls (long-poll wake-ups included), `operations` the API's semantics,
//! `front` the listener's envelope (protocol, Signature V4), `query_protocol` the
//! form/XML protocol over the same operations, `wire` the answers, and
//! `queue_attributes`, `message_attributes`, `names` and `tags` SQS's rules;
//! `move_tasks` redrives dead-letter queues, `permissions` keeps AddPermission's
//! statements. `forward` puts an external engine (`--sqs-endpoint`) behind the front,
//! and `queue_service` is the box's own work (template queues, dead letters) on
//! either engine. `queue_mapping` is SQS → Lambda: the poller (event source mapping),
//! which speaks the public API so it drives this service, or any other SQS, the same
//! way.

mod engine;
mod error;
pub mod forward;
mod front;
mod input;
mod message_attributes;
mod message_store;
mod move_tasks;
mod names;
mod operations;
mod permissions;
mod query_protocol;
mod queue_attributes;
pub mod queue_mapping;
mod queue_service;
mod queue_store;
mod store;
mod tags;
mod wire;

pub use engine::{QueueSummary, Sqs, SqsConfig};
pub use error::{ErrorKind, SqsError};
pub use front::{MAX_BODY_BYTES, SqsFront, serve};
pub use queue_attributes::MAX_MESSAGE_BYTES;
pub use queue_service::{QueueService, QueueServiceError};
#[cfg(test)]
mod tests;
