//! The few daemon calls the image modules share: inspect-if-present, a classic build
//! whose streamed errors become ours, and best-effort removal of superseded images.

use bollard::errors::Error as BollardError;
use bollard::models::ImageInspect;
use bollard::query_parameters::{BuildImageOptions, RemoveImageOptionsBuilder};
use std::collections::VecDeque;

use bollard::{Docker, body_try_stream};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::error::ImageError;
use crate::progress::Task;

/// The image, or `None` when the daemon has no image by that name or id.
pub async fn image_if_exists(
    docker: &Docker,
    name: &str,
) -> Result<Option<ImageInspect>, ImageError> {
    match docker.inspect_image(name).await {
        Ok(image) => Ok(Some(image)),
        Err(BollardError::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(ImageError::docker(format!("inspect image {name}"))(e)),
    }
}

/// Runs a classic-builder build and returns the new image's id. Docker's step lines go
/// to the task's live line; an error in the stream fails the build with its message.
pub async fn build(
    docker: &Docker,
    options: BuildImageOptions,
    context: impl Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    reference: &str,
    task: &Task,
) -> Result<String, ImageError> {
    let mut stream = docker.build_image(options, None, Some(body_try_stream(context)));
    let mut last_lines: VecDeque<String> = VecDeque::new();
    let mut id = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(aux) = info.aux.and_then(|a| a.id) {
                    id = Some(aux);
                }
                for line in info.stream.iter().flat_map(|s| s.lines()) {
                    let line = line.trim();
                    if line.is_empty() {
                        continue;
                    }
                    // "Step 3/9 : COPY ..." says where the build is; the rest is noise.
                    if line.starts_with("Step ") {
                        task.detail(line);
                    }
                    if last_lines.len() == 5 {
                        last_lines.pop_front();
                    }
                    last_lines.push_back(line.to_string());
                }
            }
            Err(BollardError::DockerStreamError { error }) => {
                let mut detail = error;
                if !last_lines.is_empty() {
                    let after: Vec<String> = last_lines.into_iter().collect();
                    detail = format!("{detail} (after: {})", after.join(" | "));
                }
                return Err(ImageError::Build {
                    reference: reference.to_string(),
                    detail,
                });
            }
            Err(e) => return Err(ImageError::docker(format!("build {reference}"))(e)),
        }
    }
    match id {
        Some(id) => Ok(id),
        None => image_if_exists(docker, reference)
            .await?
            .and_then(|i| i.id)
            .ok_or_else(|| ImageError::Build {
                reference: reference.to_string(),
                detail: "the daemon reported no image".into(),
            }),
    }
}

/// Removes an image (by name or id) unless a container uses it or it is gone already;
/// never forces, so a running worker keeps its image.
pub async fn remove_if_unused(docker: &Docker, name: &str) {
    let options = RemoveImageOptionsBuilder::default().force(false).build();
    match docker.remove_image(name, Some(options), None).await {
        Ok(_) => tracing::debug!("removed superseded image {name}"),
        Err(e) => tracing::debug!("kept image {name}: {e}"),
    }
}
