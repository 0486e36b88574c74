//! Push to and pull from a real registry (Debian's `docker-registry`, plain HTTP on a
//! free loopback port, which Docker allows without TLS).

mod support;

use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use esb_docker::bollard::query_parameters::RemoveImageOptionsBuilder;
use esb_docker::{FunctionSource, ImageError, Progress, build_function, labels, pull_from, push};
use support::{Cleanup, docker, fake_esb, unique, write};

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// `docker-registry serve` on a free loopback port, killed when dropped.
struct Registry {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        assert!(
            std::path::Path::new(REGISTRY_BIN).exists(),
            "{REGISTRY_BIN} is missing: scripts/test-deps.sh installs Debian's docker-registry"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let addr = esb_test_ports::reserve_addr();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
                dir.path().join("data").display()
            ),
        )
        .expect("write config");
        // Its request log is noisy (404s are how Docker probes): kept in a file, shown
        // only if it does not start.
        let log = dir.path().join("registry.log");
        let mut child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start docker-registry");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(addr).is_err() {
            let exited = child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "docker-registry did not listen on {addr} within 60 s ({exited:?}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Registry {
            child,
            addr,
            _dir: dir,
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_pushed_to_a_registry_comes_back_under_its_own_name() {
    let docker = docker().await;
    let registry = Registry::start();
    let registry_addr = registry.addr.to_string();
    let name = unique("EsbTestRegistry");
    let _cleanup = Cleanup {
        functions: vec![name.clone()],
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let code = tmp.path().join("code");
    write(&code.join("bootstrap"), "#!/bin/sh\n", 0o755);
    let src = FunctionSource {
        name: name.clone(),
        runtime: "provided.al2".into(),
        handler: String::new(),
        code_dir: code,
        layers: vec![],
        base_policy: esb_docker::BasePolicy::Exact,
    };
    let built = build_function(&docker, &src, &fake_esb(tmp.path()), &Progress::quiet())
        .await
        .expect("build");
    let reference = built.reference;

    let pushed = push(&docker, &reference, &registry_addr)
        .await
        .expect("push");
    assert_eq!(pushed, format!("{registry_addr}/{reference}"));

    // Gone locally (both tags), as on a machine that never built it.
    let (repo, _) = reference.rsplit_once(':').expect("tag");
    for tag in [reference.clone(), format!("{repo}:latest")] {
        let options = RemoveImageOptionsBuilder::default()
            .force(true)
            .noprune(true)
            .build();
        docker
            .remove_image(&tag, Some(options), None)
            .await
            .expect("remove the local image");
    }
    assert!(docker.inspect_image(&reference).await.is_err());

    pull_from(&docker, &reference, &registry_addr)
        .await
        .expect("pull");
    let image = docker
        .inspect_image(&reference)
        .await
        .expect("the pulled image has its own name");
    let image_labels = image.config.and_then(|c| c.labels).unwrap_or_default();
    assert_eq!(image_labels.get(labels::FUNCTION), Some(&name));
    let tags = image.repo_tags.unwrap_or_default();
    assert!(
        tags.iter().all(|t| !t.starts_with(&registry_addr)),
        "no registry-prefixed tag is left behind: {tags:?}"
    );

    let nobody = esb_test_ports::reserve_addr().to_string();
    let err = push(&docker, &reference, &nobody)
        .await
        .expect_err("no registry there");
    assert!(matches!(err, ImageError::Registry { .. }), "{err:?}");
    assert!(err.to_string().contains(&nobody), "{err}");

    let missing = format!("{repo}:0000000000000000");
    let err = pull_from(&docker, &missing, &registry_addr)
        .await
        .expect_err("never pushed");
    assert!(matches!(err, ImageError::Registry { .. }), "{err:?}");
    assert!(err.to_string().contains(&missing), "{err}");
}
