//! The Lambda wire vocabulary that both sides of an invocation speak: the gateway (the
//! box's Invoke API) and every worker's `esb rie`. A leaf crate, so that neither side
//! depends on the other for names, limits or error shapes.

pub mod body;
pub mod error;
pub mod headers;
pub mod limits;
pub mod payload;
pub mod trace_id;

pub use error::InvokeApiError;
