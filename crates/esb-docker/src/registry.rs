//! Moving function images between machines through a registry: `esb build --push`
//! sends `<registry>/esb/<name>:<hash>` (and `:latest`); an agent on another machine
//! pulls the exact reference the gateway names and tags it back as `esb/<name>:<hash>`.
//! The registry-prefixed tags are dropped locally so `docker images` shows each
//! image once. Docker lets loopback registries (127.0.0.0/8) speak plain HTTP.

use bollard::Docker;
use bollard::query_parameters::{
    CreateImageOptionsBuilder, PushImageOptionsBuilder, RemoveImageOptionsBuilder,
    TagImageOptionsBuilder,
};
use futures_util::StreamExt;

use crate::error::ImageError;
use crate::reference::split;

/// `host:port` without scheme or trailing slash.
fn registry_host(registry: &str) -> Result<&str, ImageError> {
    let host = registry.trim_end_matches('/');
    if host.is_empty() || host.contains("://") || host.contains(char::is_whitespace) {
        return Err(ImageError::BadReference(format!(
            "{registry} (a registry is HOST:PORT, e.g. 127.0.0.1:5010)"
        )));
    }
    Ok(host)
}

/// Pushes `reference` (`esb/<name>:<hash>`) to `registry` as the same name, plus its
/// `:latest`; returns the pushed `<registry>/<reference>`.
pub async fn push(docker: &Docker, reference: &str, registry: &str) -> Result<String, ImageError> {
    let (repo, tag) = split(reference)?;
    let remote_repo = format!("{}/{repo}", registry_host(registry)?);
    for remote_tag in [tag, "latest"] {
        let remote = format!("{remote_repo}:{remote_tag}");
        let options = TagImageOptionsBuilder::default()
            .repo(&remote_repo)
            .tag(remote_tag)
            .build();
        docker
            .tag_image(reference, Some(options))
            .await
            .map_err(ImageError::docker(format!("tag {reference} as {remote}")))?;
        let options = PushImageOptionsBuilder::default().tag(remote_tag).build();
        let mut stream = docker.push_image(&remote_repo, Some(options), None);
        let mut failure = None;
        while let Some(item) = stream.next().await {
            if let Err(e) = item {
                failure = Some(e);
                break;
            }
        }
        untag(docker, &remote).await;
        if let Some(e) = failure {
            return Err(ImageError::Registry {
                action: format!("pushing {remote}"),
                detail: e.to_string(),
            });
        }
    }
    Ok(format!("{remote_repo}:{tag}"))
}

/// Pulls `<registry>/<reference>` and tags it locally as `reference`.
pub async fn pull_from(docker: &Docker, reference: &str, registry: &str) -> Result<(), ImageError> {
    let (repo, tag) = split(reference)?;
    let remote_repo = format!("{}/{repo}", registry_host(registry)?);
    let remote = format!("{remote_repo}:{tag}");
    let options = CreateImageOptionsBuilder::default()
        .from_image(&remote_repo)
        .tag(tag)
        .build();
    let mut stream = docker.create_image(Some(options), None, None);
    while let Some(item) = stream.next().await {
        item.map_err(|e| ImageError::Registry {
            action: format!("pulling {remote}"),
            detail: e.to_string(),
        })?;
    }
    let options = TagImageOptionsBuilder::default()
        .repo(repo)
        .tag(tag)
        .build();
    docker
        .tag_image(&remote, Some(options))
        .await
        .map_err(ImageError::docker(format!("tag {remote} as {reference}")))?;
    untag(docker, &remote).await;
    Ok(())
}

/// Drops one tag; the image stays under its other names.
async fn untag(docker: &Docker, name: &str) {
    let options = RemoveImageOptionsBuilder::default().noprune(true).build();
    if let Err(e) = docker.remove_image(name, Some(options), None).await {
        tracing::debug!("cannot untag {name}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_are_host_and_port() {
        assert_eq!(
            registry_host("127.0.0.1:5010/").expect("ok"),
            "127.0.0.1:5010"
        );
        assert!(registry_host("http://127.0.0.1:5010").is_err());
        assert!(registry_host("").is_err());
    }
}
