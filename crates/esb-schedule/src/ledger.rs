//! The scheduler's durable record, one small JSON file: for each schedule (a
//! function's event), what it was when first seen (so an edited schedule is told
//! from an unchanged one), when `rate(...)` started counting, and the last scheduled
//! time fired. A run is recorded, and the file fsynced, before it is fired: a crash
//! between the two loses that run rather than firing it twice. The file is written
//! synchronously (a few hundred bytes, once per minute at most for all the runs due
//! together): a blocking write on a runtime thread is shorter than handing it off.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ScheduleError;

const FILE_NAME: &str = "schedules.json";

/// What is kept about one schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// What decides when it runs (expression, time zone, start date, kind); a
    /// different fingerprint is a new schedule, whose rate counts afresh.
    pub fingerprint: String,
    /// When the schedule (with this fingerprint) was first seen: a `rate(...)`
    /// without `StartDate` counts from here.
    pub created_at: DateTime<Utc>,
    /// The last scheduled time fired; nothing at or before it fires again.
    pub last_fired: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct LedgerFile {
    schedules: BTreeMap<String, Record>,
}

/// The record file under the directory the integrator gives.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    file: LedgerFile,
}

impl Ledger {
    /// Reads `dir/schedules.json` (an empty record when there is none yet).
    pub fn open(dir: &Path) -> Result<Self, ScheduleError> {
        let path = dir.join(FILE_NAME);
        let file = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ScheduleError::Read {
                path: path.clone(),
                error: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => LedgerFile::default(),
            Err(e) => {
                return Err(ScheduleError::Read {
                    path,
                    error: e.to_string(),
                });
            }
        };
        Ok(Self { path, file })
    }

    pub fn get(&self, key: &str) -> Option<&Record> {
        self.file.schedules.get(key)
    }

    /// Sets a schedule's record and writes the file.
    pub fn set(&mut self, key: &str, record: Record) -> Result<(), ScheduleError> {
        self.file.schedules.insert(key.to_string(), record);
        self.write()
    }

    /// Records, durably and in one write, that the runs scheduled at these times are
    /// being fired.
    pub fn fired(&mut self, runs: &[(&str, DateTime<Utc>)]) -> Result<(), ScheduleError> {
        for (key, at) in runs {
            if let Some(r) = self.file.schedules.get_mut(*key) {
                r.last_fired = Some(r.last_fired.map_or(*at, |l| l.max(*at)));
            }
        }
        self.write()
    }

    fn write(&self) -> Result<(), ScheduleError> {
        let fail = |e: String| ScheduleError::Write {
            path: self.path.clone(),
            error: e,
        };
        let bytes = serde_json::to_vec_pretty(&self.file).map_err(|e| fail(e.to_string()))?;
        write_atomically(&self.path, &bytes).map_err(|e| fail(e.to_string()))
    }
}

/// Writes `bytes` to `path` so that a crash leaves the old or the new content.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("the record has a directory"))?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{FILE_NAME}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_reopening() {
        let dir = tempfile::tempdir().expect("dir");
        let at = DateTime::parse_from_rfc3339("2026-03-01T00:01:00Z")
            .expect("t")
            .with_timezone(&Utc);
        let mut l = Ledger::open(dir.path()).expect("open");
        assert!(l.get("f/E").is_none());
        l.set(
            "f/E",
            Record {
                fingerprint: "x".into(),
                created_at: at,
                last_fired: None,
            },
        )
        .expect("set");
        l.fired(&[("f/E", at)]).expect("fired");
        let l = Ledger::open(dir.path()).expect("reopen");
        assert_eq!(l.get("f/E").and_then(|r| r.last_fired), Some(at));
        std::fs::write(dir.path().join(FILE_NAME), "{").expect("corrupt");
        assert!(matches!(
            Ledger::open(dir.path()),
            Err(ScheduleError::Read { .. })
        ));
    }
}
