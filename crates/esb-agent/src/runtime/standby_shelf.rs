//! The bookkeeping of standby workers both container runtimes keep ready per function
//! spec (docker: started, initialised containers; containerd: created, unstarted
//! tasks): which are ready, which are being prepared, and which spec of each function
//! is current, so a standby of a function's older spec is never handed out.
//!
//! Each change is one whole insert, removal or assignment, so a lock poisoned by a
//! panic elsewhere still guards consistent data: it is taken rather than the change
//! skipped (a skipped one would leak a standby or forget one being prepared).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// In the names of standby containers (`esb-<box>-standby-<spec hash>-<n>`).
pub const STANDBY_MARK: &str = "-standby-";

/// A standby as the shelf needs to know it.
pub trait Shelved {
    /// Its container's name or id.
    fn name(&self) -> &str;
    /// The function it was prepared for.
    fn function(&self) -> &str;
}

pub struct StandbyShelf<T> {
    /// Ready standbys by spec hash.
    ready: Mutex<HashMap<String, Vec<T>>>,
    /// Names of standbys being prepared (they contain their spec hash).
    filling: Mutex<HashSet<String>>,
    /// Each function's current spec hash.
    current: Mutex<HashMap<String, String>>,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<T: Shelved> Default for StandbyShelf<T> {
    fn default() -> Self {
        Self {
            ready: Mutex::new(HashMap::new()),
            filling: Mutex::new(HashSet::new()),
            current: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Shelved> StandbyShelf<T> {
    pub fn take(&self, spec_hash: &str) -> Option<T> {
        locked(&self.ready).get_mut(spec_hash)?.pop()
    }

    /// Records `spec_hash` as `function`'s current spec and hands back its standbys of
    /// another spec (its code or settings changed): nothing will use them any more.
    pub fn take_stale(&self, function: &str, spec_hash: &str) -> Vec<T> {
        locked(&self.current).insert(function.to_string(), spec_hash.to_string());
        let mut all = locked(&self.ready);
        let mut stale = Vec::new();
        for (hash, list) in all.iter_mut() {
            if hash != spec_hash {
                let (gone, kept): (Vec<T>, Vec<T>) =
                    list.drain(..).partition(|s| s.function() == function);
                stale.extend(gone);
                *list = kept;
            }
        }
        all.retain(|_, list| !list.is_empty());
        stale
    }

    /// Starts preparing standby `name` of `spec_hash` when fewer than `wanted` are
    /// ready or being prepared; whether it should be prepared.
    pub fn begin(&self, spec_hash: &str, name: &str, wanted: usize) -> bool {
        let ready = locked(&self.ready).get(spec_hash).map_or(0, Vec::len);
        let mut filling = locked(&self.filling);
        let preparing = filling.iter().filter(|n| n.contains(spec_hash)).count();
        if ready.saturating_add(preparing) >= wanted {
            return false;
        }
        filling.insert(name.to_string());
        true
    }

    /// Ends the preparation [`Self::begin`] started. A standby is shelved when `keep`
    /// and its spec is still its function's current one; otherwise it is handed back
    /// for removal, still counted as being prepared until [`Self::abandon`] says it is
    /// gone (a runtime shutting down waits for it before removing its network).
    pub fn finish(&self, spec_hash: &str, standby: T, keep: bool) -> Option<T> {
        let current = locked(&self.current)
            .get(standby.function())
            .is_none_or(|h| h == spec_hash);
        if !(keep && current) {
            return Some(standby);
        }
        let name = standby.name().to_string();
        locked(&self.ready)
            .entry(spec_hash.to_string())
            .or_default()
            .push(standby);
        locked(&self.filling).remove(&name);
        None
    }

    /// Ends a preparation that failed, or whose standby was handed back and removed.
    pub fn abandon(&self, name: &str) {
        locked(&self.filling).remove(name);
    }

    pub fn preparing(&self) -> bool {
        !locked(&self.filling).is_empty()
    }

    /// Names of every standby held: ready or being prepared.
    pub fn held(&self) -> HashSet<String> {
        let mut names = locked(&self.filling).clone();
        names.extend(
            locked(&self.ready)
                .values()
                .flatten()
                .map(|s| s.name().to_string()),
        );
        names
    }

    /// Every ready standby, taken off the shelf.
    pub fn drain(&self) -> Vec<T> {
        locked(&self.ready).drain().flat_map(|(_, v)| v).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Sb(&'static str, &'static str);

    impl Shelved for Sb {
        fn name(&self) -> &str {
            self.0
        }
        fn function(&self) -> &str {
            self.1
        }
    }

    #[test]
    fn standbys_of_an_older_spec_are_never_handed_out() {
        let shelf = StandbyShelf::default();
        assert!(shelf.begin("h1", "sb-h1-a", 1));
        assert!(!shelf.begin("h1", "sb-h1-b", 1), "one is enough");
        assert!(shelf.held().contains("sb-h1-a"));
        assert!(shelf.finish("h1", Sb("sb-h1-a", "f"), true).is_none());
        assert!(!shelf.preparing());
        // The function's spec changes: the old standby is stale, and one finished
        // for the old spec afterwards is handed back.
        let stale = shelf.take_stale("f", "h2");
        assert_eq!(stale.iter().map(|s| s.0).collect::<Vec<_>>(), ["sb-h1-a"]);
        assert!(shelf.take("h1").is_none());
        assert!(shelf.begin("h1", "sb-h1-c", 1));
        assert!(shelf.finish("h1", Sb("sb-h1-c", "f"), true).is_some());
        assert!(shelf.preparing(), "until the stale one is removed");
        shelf.abandon("sb-h1-c");
        assert!(shelf.begin("h2", "sb-h2-a", 1));
        assert!(shelf.finish("h2", Sb("sb-h2-a", "f"), true).is_none());
        assert_eq!(shelf.take("h2").map(|s| s.0), Some("sb-h2-a"));
        assert!(shelf.begin("h2", "sb-h2-b", 1));
        shelf.abandon("sb-h2-b");
        assert!(shelf.held().is_empty() && shelf.drain().is_empty());
    }
}
