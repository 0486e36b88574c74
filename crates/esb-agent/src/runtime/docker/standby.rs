//! Standby containers: started and initialised in the background behind a function's
//! workers, one at a time and only when no request waits for a container start, and
//! promoted (renamed) when the function needs a new worker.

use super::*;

/// Standby containers: prepared behind a function's workers, promoted on demand.
impl Inner {
    pub(super) fn take_standby(&self, spec_hash: &str) -> Option<Standby> {
        locked(&self.standby).get_mut(spec_hash)?.pop()
    }

    /// Records `spec_hash` as `function`'s current spec and hands back its standbys of
    /// another spec (its code or settings changed, as on a hot reload): nothing will
    /// promote them any more.
    pub(super) fn take_stale_standbys(&self, function: &str, spec_hash: &str) -> Vec<Standby> {
        locked(&self.current_spec).insert(function.to_string(), spec_hash.to_string());
        let mut all = locked(&self.standby);
        let mut stale = Vec::new();
        for (hash, list) in all.iter_mut() {
            if hash != spec_hash {
                let (gone, kept): (Vec<Standby>, Vec<Standby>) =
                    list.drain(..).partition(|s| s.function == function);
                stale.extend(gone);
                *list = kept;
            }
        }
        all.retain(|_, list| !list.is_empty());
        stale
    }

    /// Prepares standby containers for `spec` in the background, up to the number wanted.
    pub(super) fn refill(self: &Arc<Self>, spec: &FunctionSpec) {
        let hash = spec_hash(spec);
        let ready = locked(&self.standby).get(&hash).map_or(0, Vec::len);
        let preparing = locked(&self.filling)
            .iter()
            .filter(|n| n.contains(&hash))
            .count();
        if self.shutting_down.load(Ordering::Relaxed)
            || ready.saturating_add(preparing) >= self.options.standby
        {
            return;
        }
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let name = format!("esb-{}{STANDBY_MARK}{hash}-{suffix}", self.options.box_id);
        locked(&self.filling).insert(name.clone());
        let inner = Arc::clone(self);
        let spec = spec.clone();
        tokio::spawn(async move {
            let prepared = match inner.preparing.acquire().await {
                Ok(_turn) => {
                    inner.wait_quiet().await;
                    inner.prepare_standby(&name, &spec).await
                }
                Err(e) => Err(Inner::control_err(&name, e)),
            };
            // A standby finished after its function changed spec is stale at birth.
            let current = locked(&inner.current_spec)
                .get(&spec.name)
                .is_none_or(|h| *h == hash);
            let keep = !inner.shutting_down.load(Ordering::Relaxed) && current;
            match prepared {
                Ok(standby) if keep => {
                    locked(&inner.standby)
                        .entry(hash)
                        .or_default()
                        .push(standby);
                }
                Ok(_) => inner.remove(&name).await,
                Err(e) => tracing::warn!("cannot prepare a standby worker of {}: {e}", spec.name),
            }
            locked(&inner.filling).remove(&name);
        });
    }

    /// Starts the container and lets the runtime initialise, so the request that
    /// promotes it does not wait for init. It is not frozen: an idle runtime blocked on
    /// `/next` costs no CPU, and a frozen container would accept connections meant for
    /// a dead worker whose address it inherited and never answer them.
    pub(super) async fn prepare_standby(
        &self,
        name: &str,
        spec: &FunctionSpec,
    ) -> Result<Standby, RuntimeError> {
        let token = new_token();
        // Its own id (the worker it becomes keeps it in its logs and its log spool).
        let suffix = name.rsplit('-').next().unwrap_or(name);
        let id = format!("{}-standby-{suffix}", spec.name);
        let address = self.start_container(&id, name, spec, &token).await?;
        if http_status(&address, "/esb/v1/initialized", READY_TIMEOUT).await != Some(200) {
            tracing::debug!(container = name, "standby kept before its init settled");
        }
        Ok(Standby {
            name: name.to_string(),
            address,
            token,
            function: spec.name.clone(),
        })
    }

    /// Waits until no worker has been started for a request for [`STANDBY_QUIET`].
    pub(super) async fn wait_quiet(&self) {
        loop {
            let since = locked(&self.last_start).elapsed();
            if self.starting.load(Ordering::Relaxed) == 0 && since >= STANDBY_QUIET {
                return;
            }
            tokio::time::sleep(
                STANDBY_QUIET
                    .saturating_sub(since)
                    .max(Duration::from_millis(50)),
            )
            .await;
        }
    }

    /// Names of every container the runtime itself holds (standby or being prepared).
    pub(super) fn held(&self) -> HashSet<String> {
        let mut names: HashSet<String> = locked(&self.filling).clone();
        names.extend(
            locked(&self.standby)
                .values()
                .flatten()
                .map(|sb| sb.name.clone()),
        );
        names
    }
}
