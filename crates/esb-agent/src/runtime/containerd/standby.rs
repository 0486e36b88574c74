//! Standby tasks: after a function's first worker, one more of its spec is kept
//! created but not started — snapshot, namespace, cgroups and mounts made by runc,
//! nothing of the function running — so its next new worker only starts a process.
//! They are prepared in the background, one at a time.

use super::*;

impl Inner {
    pub(super) fn take_standby(&self, spec_hash: &str) -> Option<Standby> {
        locked(&self.standby).get_mut(spec_hash)?.pop()
    }

    /// Records `spec_hash` as `function`'s current spec and hands back its standbys of
    /// another spec (its code or settings changed): nothing will start them any more.
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

    /// Prepares standbys of `spec` in the background, up to the number wanted.
    pub(super) fn refill(self: &Arc<Self>, spec: &FunctionSpec) {
        let hash = spec_hash(spec);
        let ready = locked(&self.standby).get(&hash).map_or(0, Vec::len);
        let preparing = locked(&self.standby_filling)
            .iter()
            .filter(|n| n.contains(&hash))
            .count();
        if self.shutting_down.load(Ordering::Relaxed)
            || ready.saturating_add(preparing) >= self.options.standby
        {
            return;
        }
        let suffix = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
        let container = format!("esb-{}{STANDBY_MARK}{hash}-{suffix}", self.options.box_id);
        locked(&self.standby_filling).insert(container.clone());
        let inner = Arc::clone(self);
        let spec = spec.clone();
        tokio::spawn(async move {
            let prepared = match inner.preparing.acquire().await {
                Ok(_turn) => {
                    inner.wait_quiet().await;
                    inner.prepare_standby(&container, &suffix, &spec).await
                }
                Err(e) => Err(Inner::control_err(&container, e)),
            };
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
                Ok(_) => inner.remove(&container).await,
                Err(e) => tracing::warn!("cannot prepare a standby worker of {}: {e}", spec.name),
            }
            locked(&inner.standby_filling).remove(&container);
        });
    }

    async fn prepare_standby(
        self: &Arc<Self>,
        container: &str,
        suffix: &str,
        spec: &FunctionSpec,
    ) -> Result<Standby, RuntimeError> {
        let worker_id = format!("{}-standby-{suffix}", spec.name);
        let image = self
            .images
            .ensure(&spec.image)
            .await
            .map_err(|e| Inner::start_err(&worker_id, e))?;
        let token = new_token();
        let mut phases = Phases::default();
        let address = self
            .create_task(&worker_id, container, spec, &image, &token, &mut phases)
            .await?;
        Ok(Standby {
            container: container.to_string(),
            worker_id,
            address,
            token,
            function: spec.name.clone(),
        })
    }

    /// Container ids the runtime itself holds (standby or being prepared).
    pub(super) fn held(&self) -> HashSet<String> {
        let mut ids: HashSet<String> = locked(&self.standby_filling).clone();
        ids.extend(
            locked(&self.standby)
                .values()
                .flatten()
                .map(|sb| sb.container.clone()),
        );
        ids
    }
}
