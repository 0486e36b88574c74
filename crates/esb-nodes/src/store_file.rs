//! The JSON files of `<state>/nodes/`, shared by `esb node add` and the running box:
//! every change happens under one advisory lock (`nodes/lock`) and lands by rename, so
//! neither sees the other's half-written file nor loses the other's change.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::NodesError;

/// Held while a read-modify-write of the folder's files runs; released on drop.
pub(crate) struct DirLock {
    _file: File,
}

/// Locks `dir` (created 0700 if missing) against other processes and other handles.
pub(crate) fn lock(dir: &Path) -> Result<DirLock, NodesError> {
    esb_state::create_private(dir).map_err(NodesError::io(dir))?;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join("lock");
    let file = std::fs::OpenOptions::new()
        .mode(0o600)
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(NodesError::io(&path))?;
    file.lock().map_err(NodesError::io(&path))?;
    Ok(DirLock { _file: file })
}

/// The file's value, or the default when it does not exist yet.
pub(crate) fn read_json<T: DeserializeOwned + Default>(path: &Path) -> Result<T, NodesError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| NodesError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(NodesError::io(path)(e)),
    }
}

/// Replaces `path` by rename from a synced temporary file (0600).
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), NodesError> {
    let text = serde_json::to_vec_pretty(value).map_err(|e| NodesError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    write_atomic(path, &text)
}

pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), NodesError> {
    let tmp = tmp_path(path);
    write_private(&tmp, bytes).map_err(NodesError::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(NodesError::io(path))
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

pub(crate) use esb_state::write_private;

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
