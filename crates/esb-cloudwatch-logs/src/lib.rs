//! The box's CloudWatch Logs service (`Logs_20140328`, the JSON protocol), over the
//! box's log store: log groups and streams created through the API are kept in a small
//! catalogue (`catalog`), their events are records of the store like every other line
//! (written through the box's collector, so they are durable, searchable with LogsQL
//! and shipped on), and each function's own output is its `/aws/lambda/<function>`
//! group, one stream per worker (`groups`). `front` is the listener's protocol
//! envelope (target, Signature V4, JSON errors), `service` the operations, `params`
//! reads their members, `put_events` holds PutLogEvents' batch rules, `reading` walks
//! the store in timestamp order for GetLogEvents and FilterLogEvents (whose filter
//! patterns are `esb_logs::filter_pattern`), `names` the model's constraints.

mod catalog;
mod error;
mod front;
mod groups;
mod names;
mod params;
mod put_events;
mod reading;
mod service;
#[cfg(test)]
mod tests;

pub use catalog::{Catalog, CatalogError};
pub use error::ApiError;
pub use front::{LogsFront, MAX_BODY_BYTES, serve};
pub use service::{Caller, Service};
