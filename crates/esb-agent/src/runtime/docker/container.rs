//! One worker container: its configuration (limits, labels, network, environment),
//! creation, start, readiness, logs and removal.

use super::*;
use crate::worker_env::{LOG_SPOOL_VAR, LOGS_URL_VAR, WORKER_ID_VAR};

/// Where the host's worker log spools appear inside a container.
const SPOOL_IN_CONTAINER: &str = "/var/esb/log-spool";

impl Inner {
    pub(super) fn container_name(&self, worker_id: &str) -> String {
        format!("esb-{}-{worker_id}", self.options.box_id)
    }

    pub(super) fn control_err(worker: &str, e: impl std::fmt::Display) -> RuntimeError {
        RuntimeError::Control {
            worker: worker.to_string(),
            detail: e.to_string(),
        }
    }

    /// Makes sure the image is local, pulling it from the registry when one is set.
    pub(super) async fn ensure_image(&self, id: &str, image: &str) -> Result<(), RuntimeError> {
        match self.docker.inspect_image(image).await {
            Ok(_) => return Ok(()),
            Err(e) if !is_not_found(&e) => return Err(Self::start_err(id, e)),
            Err(_) => {}
        }
        let Some(registry) = &self.options.registry else {
            return Err(Self::start_err(
                id,
                format!(
                    "image {image} is not on this machine: run `esb build`, or start the agent with --registry"
                ),
            ));
        };
        tracing::info!(%image, %registry, "pulling a missing function image");
        esb_docker::registry::pull_from(&self.docker, image, registry)
            .await
            .map_err(|e| Self::start_err(id, e))
    }

    pub(super) fn start_err(worker: &str, e: impl std::fmt::Display) -> RuntimeError {
        RuntimeError::Start {
            worker: worker.to_string(),
            detail: e.to_string(),
        }
    }

    pub(super) fn container_config(
        &self,
        id: &str,
        spec: &FunctionSpec,
        token: &str,
    ) -> ContainerCreateBody {
        let (mut env, mut binds) = container_env::for_container(&spec.environment);
        if let Some(spool) = &self.options.log_spool
            && spec.environment.contains_key(LOGS_URL_VAR)
        {
            binds.push(format!("{}:{SPOOL_IN_CONTAINER}", spool.display()));
            env.push(format!("{LOG_SPOOL_VAR}={SPOOL_IN_CONTAINER}/{id}"));
        }
        env.extend([
            format!("{}={token}", esb_lambda::headers::WORKER_TOKEN_VAR),
            format!("{WORKER_ID_VAR}={id}"),
            format!("AWS_LAMBDA_FUNCTION_NAME={}", spec.name),
            format!("AWS_LAMBDA_FUNCTION_TIMEOUT={}", spec.timeout_s),
            format!("AWS_LAMBDA_FUNCTION_MEMORY_SIZE={}", spec.memory_mb),
            format!("_HANDLER={}", spec.handler),
        ]);
        let memory = i64::from(spec.memory_mb) * 1024 * 1024;
        let port = format!("{RIE_PORT}/tcp");
        ContainerCreateBody {
            image: Some(spec.image.clone()),
            env: Some(env),
            labels: Some(HashMap::from([
                (labels::MANAGED.to_string(), "true".to_string()),
                (labels::BOX.to_string(), self.options.box_id.clone()),
                (labels::FUNCTION.to_string(), spec.name.clone()),
                (labels::WORKER.to_string(), id.to_string()),
            ])),
            exposed_ports: self.publish.then(|| vec![port.clone()]),
            host_config: Some(HostConfig {
                memory: Some(memory),
                memory_swap: Some(memory),
                cpu_shares: Some((i64::from(spec.memory_mb) * 1024 / MB_PER_VCPU).max(2)),
                pids_limit: Some(PIDS_LIMIT),
                readonly_rootfs: Some(true),
                // Function output is in the box's log store; the daemon's copy is for
                // `docker logs` only and must not fill an edge box's disk.
                log_config: Some(esb_docker::bollard::models::HostConfigLogConfig {
                    typ: Some("json-file".into()),
                    config: Some(HashMap::from([
                        ("max-size".to_string(), "10m".to_string()),
                        ("max-file".to_string(), "2".to_string()),
                    ])),
                }),
                tmpfs: Some(HashMap::from([(
                    "/tmp".to_string(),
                    format!("rw,nosuid,nodev,size={TMP_SIZE},mode=1777"),
                )])),
                network_mode: Some(self.network.name.clone()),
                extra_hosts: Some(vec![format!("{HOST_ALIAS}:{}", self.network.gateway)]),
                binds: (!binds.is_empty()).then_some(binds),
                port_bindings: self.publish.then(|| {
                    HashMap::from([(
                        port,
                        Some(vec![PortBinding {
                            host_ip: Some(self.options.publish_ip.to_string()),
                            host_port: Some(String::new()),
                        }]),
                    )])
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// The worker's Invoke API address once the container runs.
    pub(super) async fn address(&self, name: &str) -> Result<String, String> {
        let info = self
            .docker
            .inspect_container(name, None)
            .await
            .map_err(|e| e.to_string())?;
        let settings = info.network_settings.unwrap_or_default();
        if self.publish {
            let port = settings
                .ports
                .and_then(|p| p.get(&format!("{RIE_PORT}/tcp")).cloned().flatten())
                .and_then(|b| b.into_iter().find_map(|b| b.host_port))
                .ok_or("Docker published no port for the worker")?;
            let port: u16 = port
                .parse()
                .map_err(|_| format!("Docker published port {port:?}"))?;
            return Ok(std::net::SocketAddr::new(self.options.publish_ip, port).to_string());
        }
        let ip = settings
            .networks
            .and_then(|n| n.get(&self.network.name).cloned())
            .and_then(|e| e.ip_address)
            .filter(|ip| !ip.is_empty())
            .ok_or("the container has no address on the box network")?;
        Ok(format!("{ip}:{RIE_PORT}"))
    }

    /// Waits until `esb rie` in the container answers HTTP (a published port accepts
    /// connections before the container listens, so a TCP connect proves nothing).
    pub(super) async fn wait_ready(
        &self,
        id: &str,
        name: &str,
        address: &str,
    ) -> Result<(), RuntimeError> {
        let alive = || self.running(name);
        match http_probe::wait_ready(address, READY_TIMEOUT, alive).await {
            Ok(()) => Ok(()),
            Err(e) => Err(Self::start_err(
                id,
                format!("{e}: {}", self.log_tail(name).await),
            )),
        }
    }

    pub(super) async fn running(&self, name: &str) -> bool {
        self.docker
            .inspect_container(name, None)
            .await
            .ok()
            .and_then(|c| c.state)
            .is_some_and(|s| s.running == Some(true))
    }

    /// The last lines the container wrote, for start errors.
    pub(super) async fn log_tail(&self, name: &str) -> String {
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            tail: "20".into(),
            ..Default::default()
        };
        let mut logs = self.docker.logs(name, Some(options));
        let mut text = String::new();
        while let Some(Ok(chunk)) = logs.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        if text.trim().is_empty() {
            "(no output)".into()
        } else {
            format!("its last output:\n{}", text.trim_end())
        }
    }

    pub(super) async fn remove(&self, name: &str) {
        let options = RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        match self.docker.remove_container(name, Some(options)).await {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => tracing::warn!("cannot remove container {name}: {e}"),
        }
    }

    /// Creates and starts container `name` for worker `id`; returns its address once
    /// `esb rie` answers.
    pub(super) async fn start_container(
        &self,
        id: &str,
        name: &str,
        spec: &FunctionSpec,
        token: &str,
    ) -> Result<String, RuntimeError> {
        let result = self.try_start_container(id, name, spec, token).await;
        if result.is_err() {
            self.remove(name).await;
        }
        result
    }

    pub(super) async fn try_start_container(
        &self,
        id: &str,
        name: &str,
        spec: &FunctionSpec,
        token: &str,
    ) -> Result<String, RuntimeError> {
        let name = name.to_string();
        let t0 = Instant::now();
        let options = CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        };
        self.docker
            .create_container(Some(options), self.container_config(id, spec, token))
            .await
            .map_err(|e| Self::start_err(id, e))?;
        for network in &self.options.extra_networks {
            let request = NetworkConnectRequest {
                container: name.clone(),
                endpoint_config: None,
            };
            self.docker
                .connect_network(network, request)
                .await
                .map_err(|e| Self::start_err(id, format!("cannot join network {network}: {e}")))?;
        }
        let created = t0.elapsed();
        self.docker
            .start_container(&name, None)
            .await
            .map_err(|e| Self::start_err(id, e))?;
        let started = t0.elapsed();
        let address = self
            .address(&name)
            .await
            .map_err(|e| Self::start_err(id, e))?;
        self.wait_ready(id, &name, &address).await?;
        tracing::debug!(
            worker = id,
            create_ms = created.as_millis(),
            start_ms = (started - created).as_millis(),
            ready_ms = (t0.elapsed() - started).as_millis(),
            "container started"
        );
        Ok(address)
    }
}
