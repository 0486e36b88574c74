//! Standby containers: started and initialised in the background behind a function's
//! workers, one at a time and only when no request waits for a container start, and
//! promoted (renamed) when the function needs a new worker.

use super::*;

/// Standby containers: prepared behind a function's workers, promoted on demand.
impl Inner {
    /// Prepares standby containers for `spec` in the background, up to the number wanted.
    pub(super) fn refill(self: &Arc<Self>, spec: &FunctionSpec) {
        let hash = spec_hash(spec);
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let name = format!("esb-{}{STANDBY_MARK}{hash}-{suffix}", self.options.box_id);
        if self.shutting_down.load(Ordering::Relaxed)
            || !self.standby.begin(&hash, &name, self.options.standby)
        {
            return;
        }
        let inner = Arc::clone(self);
        let spec = spec.clone();
        tokio::spawn(async move {
            let prepared = match inner.preparing.acquire().await {
                Ok(_turn) => {
                    inner.starts.wait_quiet(QUIET).await;
                    inner.prepare_standby(&name, &spec).await
                }
                Err(e) => Err(Inner::control_err(&name, e)),
            };
            match prepared {
                Ok(standby) => {
                    let keep = !inner.shutting_down.load(Ordering::Relaxed);
                    // A standby finished after its function changed spec is stale at birth.
                    if let Some(stale) = inner.standby.finish(&hash, standby, keep) {
                        inner.remove(&stale.name).await;
                        inner.standby.abandon(&stale.name);
                    }
                }
                Err(e) => {
                    inner.standby.abandon(&name);
                    tracing::warn!("cannot prepare a standby worker of {}: {e}", spec.name);
                }
            }
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
}

impl Shelved for Standby {
    fn name(&self) -> &str {
        &self.name
    }
    fn function(&self) -> &str {
        &self.function
    }
}
