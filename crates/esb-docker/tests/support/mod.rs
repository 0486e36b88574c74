//! Shared by the image tests: the real daemon (a clear failure when absent), unique
//! function names so tests run beside others, and cleanup of what a test built.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use esb_docker::bollard::Docker;
use esb_docker::bollard::query_parameters::{
    CreateContainerOptions, DownloadFromContainerOptions, ListContainersOptionsBuilder,
    ListImagesOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
};
use esb_docker::labels;
use futures_util::StreamExt;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/esb-docker sits two levels below the repository root")
        .to_path_buf()
}

/// The daemon the tests build with; scripts/test.sh starts one.
pub async fn docker() -> Docker {
    match esb_docker::connect(None, Duration::from_secs(30)).await {
        Ok(d) => d,
        Err(e) => panic!("these tests need a Docker daemon (scripts/test.sh starts one): {e}"),
    }
}

/// `prefix-<8 random hex>`: a function name no other test uses.
pub fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..8])
}

/// The Debian root filesystem with python3.11 (ESB_TEST_ROOTFS overrides).
pub fn rootfs() -> PathBuf {
    let path = std::env::var_os("ESB_TEST_ROOTFS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".esb-test/rootfs-python"));
    assert!(
        path.join("usr/bin/python3.11").exists(),
        "no python3.11 root filesystem at {} (scripts/test-deps.sh makes it with debootstrap; \
         ESB_TEST_ROOTFS points elsewhere)",
        path.display()
    );
    path
}

/// A stand-in for the `esb` binary: the image tests check where it lands, not run it.
pub fn fake_esb(dir: &Path) -> PathBuf {
    let path = dir.join("esb");
    std::fs::write(&path, b"#!/bin/false\nstand-in for the esb binary\n").expect("write esb");
    path
}

pub fn write(path: &Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Removes every image of the given functions (by label) when dropped, pass or fail.
pub struct Cleanup {
    pub functions: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let functions = std::mem::take(&mut self.functions);
        // Drop cannot await: a thread with its own runtime does the removal.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Runtime::new() else {
                return;
            };
            rt.block_on(async move {
                let docker = docker().await;
                for f in functions {
                    remove_function_images(&docker, &f).await;
                }
            });
        })
        .join();
    }
}

/// Removes the function's containers (a failed test may leave one) and images.
pub async fn remove_function_images(docker: &Docker, function: &str) {
    let filters = HashMap::from([(
        "label".to_string(),
        vec![format!("{}={function}", labels::FUNCTION)],
    )]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    for container in docker
        .list_containers(Some(options))
        .await
        .unwrap_or_default()
    {
        if let Some(id) = container.id {
            let options = RemoveContainerOptionsBuilder::default().force(true).build();
            let _ = docker.remove_container(&id, Some(options)).await;
        }
    }
    let options = ListImagesOptionsBuilder::default()
        .filters(&filters)
        .build();
    let Ok(images) = docker.list_images(Some(options)).await else {
        return;
    };
    for image in images {
        let options = RemoveImageOptionsBuilder::default()
            .force(true)
            .noprune(true)
            .build();
        let _ = docker.remove_image(&image.id, Some(options), None).await;
    }
}

/// A created (never started) container of `image`, for reading files out of it.
pub struct Container<'a> {
    pub docker: &'a Docker,
    pub id: String,
}

impl<'a> Container<'a> {
    pub async fn create(docker: &'a Docker, image: &str) -> Container<'a> {
        let body = esb_docker::bollard::models::ContainerCreateBody {
            image: Some(image.to_string()),
            ..Default::default()
        };
        let created = docker
            .create_container(None::<CreateContainerOptions>, body)
            .await
            .expect("create container");
        Container {
            docker,
            id: created.id,
        }
    }

    /// `(path, mode, bytes)` of everything under `path`, as `docker cp` gives it.
    pub async fn files(&self, path: &str) -> Vec<(String, u32, Vec<u8>)> {
        let options = DownloadFromContainerOptions {
            path: path.to_string(),
        };
        let mut stream = self.docker.download_from_container(&self.id, Some(options));
        let mut tar_bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            tar_bytes.extend_from_slice(&chunk.expect("archive chunk"));
        }
        let mut archive = tar::Archive::new(tar_bytes.as_slice());
        let mut out = Vec::new();
        for entry in archive.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            let path = entry.path().expect("path").display().to_string();
            let path = path.trim_end_matches('/').to_string();
            let mode = entry.header().mode().expect("mode");
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).expect("data");
            out.push((path, mode, data));
        }
        out
    }

    pub async fn remove(self) {
        let options = RemoveContainerOptionsBuilder::default().force(true).build();
        let _ = self.docker.remove_container(&self.id, Some(options)).await;
    }
}

/// Runs `image` with its entrypoint (or `entrypoint`) and `cmd` to completion; returns
/// the exit code and everything it printed.
pub async fn run(
    docker: &Docker,
    image: &str,
    entrypoint: Option<Vec<String>>,
    cmd: Vec<String>,
) -> (i64, String) {
    use esb_docker::bollard::errors::Error;
    use esb_docker::bollard::query_parameters::{LogsOptionsBuilder, WaitContainerOptions};
    let body = esb_docker::bollard::models::ContainerCreateBody {
        image: Some(image.to_string()),
        entrypoint,
        cmd: Some(cmd),
        ..Default::default()
    };
    let created = docker
        .create_container(None::<CreateContainerOptions>, body)
        .await
        .expect("create container");
    let container = Container {
        docker,
        id: created.id,
    };
    docker
        .start_container(&container.id, None)
        .await
        .expect("start container");
    let wait = async {
        let mut stream = docker.wait_container(&container.id, None::<WaitContainerOptions>);
        match stream.next().await {
            Some(Ok(r)) => r.status_code,
            Some(Err(Error::DockerContainerWaitError { code, .. })) => code,
            other => panic!("waiting for the container: {other:?}"),
        }
    };
    // Generous: a loaded two-core machine can take long to start Python.
    let code = tokio::time::timeout(Duration::from_secs(300), wait)
        .await
        .expect("the container ends within 300 s");
    let options = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .build();
    let mut logs = docker.logs(&container.id, Some(options));
    let mut output = String::new();
    while let Some(Ok(chunk)) = logs.next().await {
        output.push_str(&chunk.to_string());
    }
    container.remove().await;
    (code, output)
}
