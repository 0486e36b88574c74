//! What can stop the scheduler from starting or from recording a run.

use std::path::PathBuf;

/// The scheduler's record of fired runs could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("cannot read the schedule record {path}: {error}")]
    Read { path: PathBuf, error: String },
    #[error("cannot write the schedule record {path}: {error}")]
    Write { path: PathBuf, error: String },
}
