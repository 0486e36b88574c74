//! Network namespaces already attached to the box's bridge, kept ready so a worker
//! start does not wait for the CNI plugins: filled once the runtime is asked to
//! prepare (images or a function; an agent that only cleans up, as `esb down`'s,
//! makes none), taken by a start, refilled at once in the background (the plugins
//! run niced).

use super::*;

impl Inner {
    /// Keeps `ready_netns` namespaces attached, made in the background.
    pub(super) fn refill_netns(self: &Arc<Self>) {
        let want = self.options.ready_netns;
        let have = locked(&self.netns_ready).len() + locked(&self.netns_filling).len();
        if self.shutting_down.load(Ordering::Relaxed) || have >= want {
            return;
        }
        for _ in have..want {
            let name = self.netns_name();
            let path = netns::path_of(&name);
            locked(&self.netns_filling).insert(path.clone());
            let inner = Arc::clone(self);
            tokio::spawn(async move {
                match ReadyNetns::make(&inner.bridge, name).await {
                    Ok(ready) if !inner.shutting_down.load(Ordering::Relaxed) => {
                        locked(&inner.netns_ready).push(ready)
                    }
                    Ok(ready) => task::release_netns(&inner.bridge, &ready.path).await,
                    Err(e) => tracing::warn!("cannot prepare a worker network namespace: {e}"),
                }
                locked(&inner.netns_filling).remove(&path);
            });
        }
    }

    fn netns_name(&self) -> String {
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..12];
        format!("esb-{}-{suffix}", self.options.box_id)
    }

    /// A ready namespace, or one made now when none is.
    pub(super) async fn take_netns(self: &Arc<Self>) -> Result<ReadyNetns, String> {
        let ready = locked(&self.netns_ready).pop();
        let netns = match ready {
            Some(n) => n,
            None => ReadyNetns::make(&self.bridge, self.netns_name()).await?,
        };
        self.refill_netns();
        Ok(netns)
    }
}
