//! The embedded store: a SQLite catalogue (`catalogue.db`: buckets, object versions,
//! uploads, blob reference counts, the notification outbox) beside the blob files.
//!
//! Durability: the catalogue runs in WAL mode with `synchronous=FULL`, so a committed
//! transaction survives `kill -9` and power loss; bytes are synced before the row that
//! names them commits (see [`blobs`]). A write is acknowledged only after its commit.
//! Every change to what a key shows is one transaction, so nothing is half-visible.

pub mod blobs;
mod buckets;
mod handle;
mod listing;
mod objects;
mod outbox;
mod refs;
mod schema;
mod uploads;

pub use blobs::{BlobDir, PendingBlob, WriteError};
pub use buckets::{BucketUsage, Document, usage};
pub use handle::{BlobPin, Store, now_ms};
pub use listing::{ListPage, ListQuery, VersionPage};
pub use objects::{DeleteOutcome, PutOutcome, WriteCondition};
pub use outbox::OutboxEntry;
pub use uploads::CompletedPart;
