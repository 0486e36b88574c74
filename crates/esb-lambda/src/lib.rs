//! The Lambda wire vocabulary that both sides of an invocation speak: the gateway (the
//! box's Invoke API) and every worker's `esb rie`. A leaf crate, so that neither side
//! depends on the other for names, limits or error shapes. Also what every event source
//! poller of the box shares: Lambda's event filtering and the invoker traits.

pub mod body;
pub mod error;
pub mod event_filter;
pub mod headers;
pub mod limits;
pub mod payload;
pub mod poller_stop;
pub mod source_invoke;
pub mod trace_id;

pub use error::InvokeApiError;
