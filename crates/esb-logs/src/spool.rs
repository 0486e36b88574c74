//! Batches that could not be delivered yet, kept on disk (bounded) until they are.
//!
//! One directory per shipper, held by an exclusive lock on `.lock` for as long as its
//! shipper lives. A directory whose lock nobody holds belongs to a shipper that died
//! (a worker killed or removed): a live shipper beside it adopts its files, so what a
//! dead worker could not deliver is delivered by the next one.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("log spool {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("log spool {path} is used by another running shipper")]
    InUse { path: PathBuf },
    #[error("log spool {path} is full ({max_bytes} bytes)")]
    Full { path: PathBuf, max_bytes: u64 },
}

const LOCK_FILE: &str = ".lock";
const EXTENSION: &str = "jsonl";
/// How old an unlocked spool must be before it counts as a dead shipper's.
const ADOPT_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    /// Spooled batches, oldest first: (sequence number, size).
    files: VecDeque<(u64, u64)>,
    bytes: u64,
    next_seq: u64,
    _lock: File,
}

impl Spool {
    /// Opens `dir` (created if missing), taking over any batches already in it.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Self, SpoolError> {
        let io = |source| SpoolError::Io {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let lock = File::create(dir.join(LOCK_FILE)).map_err(io)?;
        if lock.try_lock().is_err() {
            return Err(SpoolError::InUse {
                path: dir.to_path_buf(),
            });
        }
        let mut spool = Self {
            dir: dir.to_path_buf(),
            max_bytes,
            files: VecDeque::new(),
            bytes: 0,
            next_seq: 0,
            _lock: lock,
        };
        let mut found = batch_files(dir).map_err(io)?;
        found.sort();
        for (seq, size) in found {
            spool.files.push_back((seq, size));
            spool.bytes += size;
            spool.next_seq = spool.next_seq.max(seq + 1);
        }
        Ok(spool)
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}.{EXTENSION}"))
    }

    /// Keeps one batch; `Full` when it would take the spool over its bound. Written
    /// without fsync: the spool outlives the process and the store's absence, and a
    /// worker's event loop must not wait for the disk.
    pub fn push(&mut self, batch: &[u8]) -> Result<(), SpoolError> {
        let size = batch.len() as u64;
        if self.bytes + size > self.max_bytes {
            return Err(SpoolError::Full {
                path: self.dir.clone(),
                max_bytes: self.max_bytes,
            });
        }
        let seq = self.next_seq;
        let path = self.path(seq);
        let tmp = path.with_extension("tmp");
        let written = File::create(&tmp)
            .and_then(|mut f| f.write_all(batch))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(source) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(SpoolError::Io { path, source });
        }
        self.next_seq += 1;
        self.files.push_back((seq, size));
        self.bytes += size;
        Ok(())
    }

    /// The oldest batches, as many as fit in `max_bytes` together (at least one), to be
    /// sent as one: the sequence numbers read and their bodies one after the other. An
    /// unreadable batch is reported and forgotten (it would block the spool for ever).
    pub fn oldest(&mut self, max_bytes: u64) -> Option<(Vec<u64>, Vec<u8>)> {
        let mut seqs = Vec::new();
        let mut body = Vec::new();
        let mut planned = 0;
        let heads: Vec<u64> = self
            .files
            .iter()
            .enumerate()
            .take_while(|(i, (_, len))| {
                planned += len;
                *i == 0 || planned <= max_bytes
            })
            .map(|(_, (seq, _))| *seq)
            .collect();
        for seq in heads {
            let path = self.path(seq);
            match std::fs::read(&path) {
                Ok(b) => {
                    body.extend_from_slice(&b);
                    seqs.push(seq);
                }
                Err(source) => {
                    tracing::warn!("{}", SpoolError::Io { path, source });
                    self.remove(seq);
                }
            }
        }
        (!seqs.is_empty()).then_some((seqs, body))
    }

    /// Forgets a batch once it was delivered (or refused for good).
    pub fn remove(&mut self, seq: u64) {
        if let Some(pos) = self.files.iter().position(|(s, _)| *s == seq)
            && let Some((_, size)) = self.files.remove(pos)
        {
            self.bytes -= size;
            let _ = std::fs::remove_file(self.path(seq));
        }
    }

    /// Moves the batches of every unlocked sibling directory (a dead shipper's) into
    /// this spool, as far as it has room; how many batches were adopted.
    pub fn adopt_orphans(&mut self) -> usize {
        let Some(root) = self.dir.parent().map(Path::to_path_buf) else {
            return 0;
        };
        let mut adopted = 0;
        for mut orphan in claim_orphans(&root, Some(&self.dir)) {
            for (seq, size) in orphan.batches.clone() {
                if self.bytes + size > self.max_bytes {
                    break;
                }
                let to = self.path(self.next_seq);
                if std::fs::rename(orphan.path(seq), &to).is_ok() {
                    orphan.batches.retain(|(s, _)| *s != seq);
                    self.files.push_back((self.next_seq, size));
                    self.next_seq += 1;
                    self.bytes += size;
                    adopted += 1;
                }
            }
            orphan.close();
        }
        adopted
    }
}

/// A dead shipper's spool, locked by whoever claimed it (so no one else delivers it
/// too) until it is dropped.
pub struct Orphan {
    dir: PathBuf,
    /// Its batches, oldest first: (sequence number, size).
    batches: Vec<(u64, u64)>,
    _lock: File,
}

impl Orphan {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}.{EXTENSION}"))
    }

    /// Sequence numbers of the batches not delivered yet, oldest first.
    pub fn batches(&self) -> Vec<u64> {
        self.batches.iter().map(|(seq, _)| *seq).collect()
    }

    pub fn read(&self, seq: u64) -> Result<Vec<u8>, SpoolError> {
        let path = self.path(seq);
        std::fs::read(&path).map_err(|source| SpoolError::Io { path, source })
    }

    /// Forgets a batch once delivered (or unreadable for good).
    pub fn remove(&mut self, seq: u64) {
        self.batches.retain(|(s, _)| *s != seq);
        let _ = std::fs::remove_file(self.path(seq));
    }

    /// Removes the directory once every batch is gone (half-written `.tmp` files were
    /// never accepted into the spool); what is left waits for the next claim.
    pub fn close(self) {
        if self.batches.is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Claims every spool directory under `root` (but `except`) whose shipper is gone:
/// its lock is free and older than [`ADOPT_GRACE`] (a spool being created has no lock
/// file yet, or one not locked yet).
pub fn claim_orphans(root: &Path, except: Option<&Path>) -> Vec<Orphan> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut claimed = Vec::new();
    for entry in entries.flatten() {
        let dir = entry.path();
        if Some(dir.as_path()) == except || !dir.is_dir() {
            continue;
        }
        let Ok(lock) = File::open(dir.join(LOCK_FILE)) else {
            continue;
        };
        let age = lock
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .unwrap_or_default();
        if age < ADOPT_GRACE || lock.try_lock().is_err() {
            continue; // its shipper is alive, or may be
        }
        let mut batches = batch_files(&dir).unwrap_or_default();
        batches.sort();
        claimed.push(Orphan {
            dir,
            batches,
            _lock: lock,
        });
    }
    claimed
}

/// `(sequence, size)` of the batch files in `dir`.
fn batch_files(dir: &Path) -> std::io::Result<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)?.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some(EXTENSION) {
            continue;
        }
        let Some(seq) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        out.push((seq, size));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_survive_reopening_in_order_and_the_bound_holds() {
        let root = tempfile::tempdir().expect("dir");
        let dir = root.path().join("w1");
        {
            let mut s = Spool::open(&dir, 10).expect("open");
            s.push(b"one\n").expect("push");
            s.push(b"two\n").expect("push");
            assert!(matches!(s.push(b"three\n"), Err(SpoolError::Full { .. })));
            assert!(matches!(
                Spool::open(&dir, 10),
                Err(SpoolError::InUse { .. })
            ));
        }
        let mut s = Spool::open(&dir, 10).expect("reopen");
        let (seqs, body) = s.oldest(1).expect("one");
        assert_eq!(body, b"one\n");
        s.remove(seqs[0]);
        assert_eq!(s.oldest(1).expect("two").1, b"two\n");
        assert_eq!(s.bytes(), 4);
        s.push(b"three\n").expect("room again");
        assert_eq!(s.oldest(100).expect("both").1, b"two\nthree\n");
    }

    #[test]
    fn a_live_spool_adopts_the_batches_of_dead_ones_only() {
        let root = tempfile::tempdir().expect("dir");
        {
            let mut dead = Spool::open(&root.path().join("dead"), 1000).expect("open");
            dead.push(b"orphan\n").expect("push");
        }
        let mut alive = Spool::open(&root.path().join("alive"), 1000).expect("open");
        alive.push(b"theirs\n").expect("push");
        let mut me = Spool::open(&root.path().join("me"), 1000).expect("open");
        assert_eq!(me.adopt_orphans(), 0, "too young to be an orphan");
        let old = std::time::SystemTime::now() - 2 * ADOPT_GRACE;
        for d in ["dead", "alive"] {
            File::options()
                .write(true)
                .open(root.path().join(d).join(LOCK_FILE))
                .and_then(|f| f.set_modified(old))
                .expect("age");
        }
        assert_eq!(me.adopt_orphans(), 1);
        assert_eq!(me.oldest(1 << 20).expect("adopted").1, b"orphan\n");
        assert!(!root.path().join("dead").exists());
        assert!(!alive.is_empty());
        assert_eq!(me.adopt_orphans(), 0);
    }
}
