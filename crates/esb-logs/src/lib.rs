//! ESB's central log store: every function's and the box's log records in one
//! searchable store, with VictoriaLogs' HTTP API (jsonline ingestion, LogsQL queries),
//! and the pipeline that brings them there (worker lines → records → batches → store,
//! spooled on disk while the store cannot take them).

pub mod collector;
pub mod filter_pattern;
pub mod http;
pub mod jsonline;
pub mod lambda_line;
pub mod logsql;
pub mod orphan_delivery;
pub mod record;
pub mod shipper;
pub mod spool;
pub mod store;
pub mod warn_every;

pub use record::Record;
pub use shipper::{Shipper, ShipperConfig};
pub use store::{Retention, Store};
