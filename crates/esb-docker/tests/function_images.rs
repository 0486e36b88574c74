//! Function images against the real daemon: the layout and metadata the docker worker
//! runtime relies on, "up to date" when nothing changed, a new tag when something did.

mod support;

use std::collections::HashMap;

use esb_docker::bollard::query_parameters::RemoveImageOptionsBuilder;
use esb_docker::{FunctionSource, Progress, build_function, image_reference, labels};
use support::{Cleanup, Container, docker, fake_esb, unique, write};

#[tokio::test(flavor = "multi_thread")]
async fn a_provided_function_image_follows_the_conventions_and_rebuilds_only_on_change() {
    let docker = docker().await;
    let name = unique("EsbTestProvided");
    let _cleanup = Cleanup {
        functions: vec![name.clone()],
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let code = tmp.path().join("code");
    write(&code.join("bootstrap"), "#!/bin/sh\necho hi\n", 0o755);
    write(&code.join("data/file.txt"), "data", 0o640);
    write(&code.join(".esb/state"), "never packed", 0o644);
    let layer1 = tmp.path().join("layer1");
    let layer2 = tmp.path().join("layer2");
    write(&layer1.join("bin/tool"), "v1", 0o755);
    write(&layer1.join("lib/libx.so"), "x", 0o644);
    write(&layer2.join("bin/tool"), "v2", 0o755);
    let esb = fake_esb(tmp.path());
    let src = FunctionSource {
        name: name.clone(),
        runtime: "provided.al2023".into(),
        handler: String::new(),
        code_dir: code.clone(),
        layers: vec![layer1, layer2],
        base_policy: esb_docker::BasePolicy::Exact,
    };
    let progress = Progress::lines();

    let expected = image_reference(&src, &esb).expect("reference");
    let repository = format!("esb/{}", name.to_lowercase());
    assert!(
        expected.starts_with(&format!("{repository}:")),
        "{expected}"
    );

    let built = build_function(&docker, &src, &esb, &progress)
        .await
        .expect("first build");
    assert_eq!(built.reference, expected);
    assert!(built.rebuilt);

    let image = docker.inspect_image(&expected).await.expect("inspect");
    let tags = image.repo_tags.clone().unwrap_or_default();
    assert!(tags.contains(&format!("{repository}:latest")), "{tags:?}");
    let config = image.config.expect("config");
    let image_labels = config.labels.unwrap_or_default();
    let hash = expected.rsplit_once(':').expect("tag").1;
    for (key, value) in [
        (labels::MANAGED, "true"),
        (labels::FUNCTION, name.as_str()),
        (labels::CONTENT_HASH, hash),
        (labels::BASE_ID, "scratch"),
    ] {
        assert_eq!(
            image_labels.get(key).map(String::as_str),
            Some(value),
            "{key}"
        );
    }
    assert_eq!(
        config.entrypoint.unwrap_or_default(),
        [
            "/var/runtime/esb",
            "rie",
            "--listen",
            "0.0.0.0:8080",
            "--runtime-api",
            "127.0.0.1:9001",
            "--"
        ]
    );
    assert_eq!(config.cmd.unwrap_or_default(), ["/var/task/bootstrap"]);
    assert_eq!(config.working_dir.as_deref(), Some("/var/task"));
    let env: HashMap<String, String> = config
        .env
        .unwrap_or_default()
        .iter()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (key, value) in [
        ("LAMBDA_TASK_ROOT", "/var/task"),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
        ("PATH", "/opt/bin:/usr/local/bin:/usr/bin:/bin"),
        (
            "LD_LIBRARY_PATH",
            "/opt/lib:/lib64:/usr/lib64:/var/runtime/lib:/var/task/lib",
        ),
    ] {
        assert_eq!(env.get(key).map(String::as_str), Some(value), "{key}");
    }
    assert!(!env.contains_key("PYTHONPATH"), "{env:?}");

    let container = Container::create(&docker, &expected).await;
    let task = container.files("/var/task").await;
    let find = |files: &[(String, u32, Vec<u8>)], path: &str| {
        files
            .iter()
            .find(|(p, _, _)| p == path)
            .cloned()
            .unwrap_or_else(|| panic!("{path} missing from {files:?}"))
    };
    let (_, mode, data) = find(&task, "task/bootstrap");
    assert_eq!(
        (mode & 0o7777, data.as_slice()),
        (0o755, &b"#!/bin/sh\necho hi\n"[..])
    );
    let (_, mode, data) = find(&task, "task/data/file.txt");
    assert_eq!((mode & 0o7777, data.as_slice()), (0o640, &b"data"[..]));
    assert!(
        !task.iter().any(|(p, _, _)| p.contains(".esb")),
        "ESB's state dir is never packed: {task:?}"
    );
    let opt = container.files("/opt").await;
    assert_eq!(find(&opt, "opt/bin/tool").2, b"v2", "the later layer wins");
    assert_eq!(find(&opt, "opt/lib/libx.so").2, b"x");
    let (_, mode, data) = find(&container.files("/var/runtime/esb").await, "esb");
    assert_eq!(mode & 0o7777, 0o755);
    assert_eq!(data, std::fs::read(&esb).expect("read esb"));
    let (_, mode, _) = find(&container.files("/tmp").await, "tmp");
    assert_eq!(mode & 0o7777, 0o1777, "/tmp is world-writable and sticky");
    container.remove().await;

    let again = build_function(&docker, &src, &esb, &progress)
        .await
        .expect("second build");
    assert_eq!(
        again,
        esb_docker::Built {
            reference: expected.clone(),
            rebuilt: false,
            stand_in: None,
        },
        "nothing changed: up to date"
    );

    write(&code.join("data/file.txt"), "changed", 0o640);
    let changed = build_function(&docker, &src, &esb, &progress)
        .await
        .expect("build after a change");
    assert!(changed.rebuilt);
    assert_ne!(changed.reference, expected);
    assert_eq!(
        changed.reference,
        image_reference(&src, &esb).expect("reference")
    );
    let latest = docker
        .inspect_image(&format!("{repository}:latest"))
        .await
        .expect("latest");
    let new = docker.inspect_image(&changed.reference).await.expect("new");
    assert_eq!(latest.id, new.id, ":latest follows the newest build");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provided_function_without_bootstrap_fails_with_the_reason() {
    let docker = docker().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let code = tmp.path().join("code");
    write(&code.join("main.sh"), "", 0o755);
    let src = FunctionSource {
        name: unique("EsbTestNoBootstrap"),
        runtime: "provided".into(),
        handler: String::new(),
        code_dir: code,
        layers: vec![],
        base_policy: esb_docker::BasePolicy::Exact,
    };
    let err = build_function(&docker, &src, &fake_esb(tmp.path()), &Progress::quiet())
        .await
        .expect_err("no bootstrap");
    assert!(err.to_string().contains("no bootstrap"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn build_all_reports_each_function_in_order_and_builds_the_rest_when_one_fails() {
    let docker = docker().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let good = tmp.path().join("good");
    write(&good.join("bootstrap"), "#!/bin/sh\n", 0o755);
    let bad = tmp.path().join("bad");
    write(&bad.join("README"), "no bootstrap here", 0o644);
    let names = [unique("EsbTestAllGood"), unique("EsbTestAllBad")];
    let _cleanup = Cleanup {
        functions: names.to_vec(),
    };
    let sources: Vec<FunctionSource> = names
        .iter()
        .zip([&good, &bad])
        .map(|(name, dir)| FunctionSource {
            name: name.clone(),
            runtime: "provided.al2023".into(),
            handler: String::new(),
            code_dir: dir.clone(),
            layers: vec![],
            base_policy: esb_docker::BasePolicy::Exact,
        })
        .collect();
    let results =
        esb_docker::build_all(&docker, &sources, &fake_esb(tmp.path()), &Progress::lines()).await;
    assert_eq!(results.len(), 2);
    let built = results[0].as_ref().expect("the good function builds");
    assert!(built.rebuilt);
    assert!(
        matches!(results[1], Err(esb_docker::ImageError::NoBootstrap { .. })),
        "{:?}",
        results[1]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_esb_binary_image_is_made_again_when_it_was_removed() {
    let docker = docker().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let code = tmp.path().join("code");
    write(&code.join("bootstrap"), "#!/bin/sh\n", 0o755);
    // A binary of its own, so no other test shares its runtime image.
    let esb = tmp.path().join("esb");
    std::fs::write(&esb, unique("esb binary")).expect("write esb");
    let names = [unique("EsbTestRuntimeA"), unique("EsbTestRuntimeB")];
    let _cleanup = Cleanup {
        functions: names.to_vec(),
    };
    let source = |name: &str| FunctionSource {
        name: name.to_string(),
        runtime: "provided".into(),
        handler: String::new(),
        code_dir: code.clone(),
        layers: vec![],
        base_policy: esb_docker::BasePolicy::Exact,
    };
    let progress = Progress::quiet();
    build_function(&docker, &source(&names[0]), &esb, &progress)
        .await
        .expect("first build");
    let runtime_images = runtime_images_of(&docker, &esb).await;
    assert_eq!(runtime_images.len(), 1, "{runtime_images:?}");
    // `noprune`: pruning the untagged parents would delete intermediate
    // images that concurrent builds of sibling tests share as build cache
    // ("unknown parent image ID").
    let options = RemoveImageOptionsBuilder::default()
        .force(true)
        .noprune(true)
        .build();
    docker
        .remove_image(&runtime_images[0], Some(options), None)
        .await
        .expect("remove the runtime image");

    build_function(&docker, &source(&names[1]), &esb, &progress)
        .await
        .expect("a build after the runtime image went");
    let again = runtime_images_of(&docker, &esb).await;
    assert_eq!(again.len(), 1, "made again: {again:?}");
    let options = RemoveImageOptionsBuilder::default()
        .force(true)
        .noprune(true)
        .build();
    let _ = docker.remove_image(&again[0], Some(options), None).await;
}

/// Tags `esb/runtime:<16 hex of sha256(binary)>` present for this binary.
async fn runtime_images_of(
    docker: &esb_docker::bollard::Docker,
    esb: &std::path::Path,
) -> Vec<String> {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(std::fs::read(esb).expect("read esb"));
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let name = format!("esb/runtime:{}", &hex[..16]);
    match docker.inspect_image(&name).await {
        Ok(_) => vec![name],
        Err(_) => vec![],
    }
}
