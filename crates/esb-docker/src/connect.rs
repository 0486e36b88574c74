//! Reaching the Docker daemon: `DOCKER_HOST` or the local socket, API version negotiated
//! down to what the daemon speaks (Debian's 20.10 speaks 1.41), and an error that says
//! where ESB looked and what to do when nothing answers.

use std::time::Duration;

use bollard::Docker;

/// Where ESB looks when `DOCKER_HOST` is unset.
pub const DEFAULT_SOCKET: &str = "unix:///var/run/docker.sock";

#[derive(Debug, thiserror::Error)]
#[error(
    "no Docker daemon answers at {endpoint}: {detail}. Start one (`systemctl start docker`, \
or `dockerd &`), point DOCKER_HOST at it, or use --runtime process"
)]
pub struct DockerUnavailable {
    pub endpoint: String,
    pub detail: String,
}

/// Connects and pings within `timeout`; `host` overrides `DOCKER_HOST`.
pub async fn connect(host: Option<&str>, timeout: Duration) -> Result<Docker, DockerUnavailable> {
    let endpoint = host
        .map(str::to_string)
        .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| DEFAULT_SOCKET.to_string());
    let unavailable = |detail: String| DockerUnavailable {
        endpoint: endpoint.clone(),
        detail,
    };
    let docker = Docker::connect_with_host(&endpoint).map_err(|e| unavailable(e.to_string()))?;
    let negotiated = tokio::time::timeout(timeout, docker.negotiate_version())
        .await
        .map_err(|_| unavailable(format!("no answer within {} s", timeout.as_secs_f32())))?
        .map_err(|e| unavailable(e.to_string()))?;
    Ok(negotiated.with_timeout(Duration::from_secs(300)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_absent_daemon_names_the_endpoint_and_the_fix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = format!("unix://{}/docker.sock", dir.path().display());
        let err = connect(Some(&socket), Duration::from_secs(2))
            .await
            .expect_err("nothing listens there");
        let text = err.to_string();
        assert!(text.contains(&socket), "{text}");
        assert!(text.contains("--runtime process"), "{text}");
    }
}
