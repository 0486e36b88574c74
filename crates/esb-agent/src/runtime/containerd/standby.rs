//! Standby tasks: after a function's first worker, one more of its spec is kept
//! created but not started — snapshot, namespace, cgroups and mounts made by runc,
//! nothing of the function running — so its next new worker only starts a process.
//! They are prepared in the background, one at a time.

use super::*;

impl Inner {
    /// Prepares standbys of `spec` in the background, up to the number wanted.
    pub(super) fn refill(self: &Arc<Self>, spec: &FunctionSpec) {
        let hash = spec_hash(spec);
        let suffix = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
        let container = format!("esb-{}{STANDBY_MARK}{hash}-{suffix}", self.options.box_id);
        if self.shutting_down.load(Ordering::Relaxed)
            || !self.standby.begin(&hash, &container, self.options.standby)
        {
            return;
        }
        let inner = Arc::clone(self);
        let spec = spec.clone();
        tokio::spawn(async move {
            let prepared = match inner.preparing.acquire().await {
                Ok(_turn) => {
                    inner.starts.wait_quiet(QUIET).await;
                    inner.prepare_standby(&container, &suffix, &spec).await
                }
                Err(e) => Err(Inner::control_err(&container, e)),
            };
            match prepared {
                Ok(standby) => {
                    let keep = !inner.shutting_down.load(Ordering::Relaxed);
                    if let Some(stale) = inner.standby.finish(&hash, standby, keep) {
                        inner.remove(&stale.container).await;
                        inner.standby.abandon(&stale.container);
                    }
                }
                Err(e) => {
                    inner.standby.abandon(&container);
                    tracing::warn!("cannot prepare a standby worker of {}: {e}", spec.name);
                }
            }
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
}

impl Shelved for Standby {
    fn name(&self) -> &str {
        &self.container
    }
    fn function(&self) -> &str {
        &self.function
    }
}
