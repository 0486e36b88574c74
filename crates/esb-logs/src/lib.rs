//! ESB's central log store: every function's and the box's log records in one
//! searchable store, with VictoriaLogs' HTTP API (jsonline ingestion, LogsQL queries).

pub mod http;
pub mod jsonline;
pub mod logsql;
pub mod record;
pub mod store;

pub use record::Record;
pub use store::{Retention, Store};
