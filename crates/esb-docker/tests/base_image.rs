//! The Python base image made from a Debian root filesystem (no registry needed), and a
//! Python function built on it with its requirements and a layer.

mod support;

use std::time::Instant;

use esb_docker::{FunctionSource, ImageError, Progress, build_function, import_base, labels};
use support::{Cleanup, docker, fake_esb, repo_root, rootfs, run, unique, write};

const PYTHON: &str = "/usr/bin/python3.11";

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_base_from_a_rootfs_runs_awslambdaric_and_boto3_and_python_functions_build_on_it() {
    let docker = docker().await;
    let rootfs = rootfs();
    let progress = Progress::lines();

    let started = Instant::now();
    let base = import_base(&docker, "python3.11", &rootfs, &progress)
        .await
        .expect("import the base");
    eprintln!("base import took {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(base, "esb/base:python3.11");
    let image = docker.inspect_image(&base).await.expect("inspect base");
    let base_id = image.id.clone().expect("id");
    let base_labels = image.config.and_then(|c| c.labels).unwrap_or_default();
    assert_eq!(
        base_labels.get(labels::PYTHON).map(String::as_str),
        Some(PYTHON)
    );
    assert_eq!(
        base_labels.get(labels::MANAGED).map(String::as_str),
        Some("true")
    );
    let (code, output) = run(
        &docker,
        &base,
        None,
        strings(&[
            PYTHON,
            "-c",
            "import awslambdaric, boto3; print('boto3', boto3.__version__)",
        ]),
    )
    .await;
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("boto3 1.40.45"), "{output}");

    // A Python function on that base: requirements installed by the host's pip, a layer
    // on PYTHONPATH, the handler's module importable from /var/task.
    let name = unique("EsbTestPython");
    let _cleanup = Cleanup {
        functions: vec![name.clone()],
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let code_dir = tmp.path().join("code");
    write(
        &code_dir.join("app.py"),
        "import six, layer_mod\n\ndef handler(event, context):\n    return 'ok'\n",
        0o644,
    );
    write(&code_dir.join("requirements.txt"), "six==1.17.0\n", 0o644);
    let src = FunctionSource {
        name: name.clone(),
        runtime: "python3.11".into(),
        handler: "app.handler".into(),
        code_dir,
        layers: vec![repo_root().join("tests/functions/layer")],
        base_policy: esb_docker::BasePolicy::Exact,
    };
    let esb = fake_esb(tmp.path());
    let started = Instant::now();
    let built = build_function(&docker, &src, &esb, &progress)
        .await
        .expect("build the python function");
    eprintln!(
        "python function build took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let image = docker
        .inspect_image(&built.reference)
        .await
        .expect("inspect");
    let config = image.config.expect("config");
    assert_eq!(
        config.cmd.unwrap_or_default(),
        [PYTHON, "-m", "awslambdaric", "app.handler"]
    );
    assert_eq!(
        config
            .labels
            .unwrap_or_default()
            .get(labels::BASE_ID)
            .cloned(),
        Some(base_id)
    );
    let env = config.env.unwrap_or_default();
    assert!(
        env.iter()
            .any(|e| e
                == "PYTHONPATH=/opt/python/lib/python3.11/site-packages:/opt/python:/var/runtime"),
        "{env:?}"
    );
    let (code, output) = run(
        &docker,
        &built.reference,
        Some(strings(&[PYTHON, "-c"])),
        strings(&[
            "import app, six, layer_mod, awslambdaric, boto3; print(app.handler(None, None))",
        ]),
    )
    .await;
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("ok"), "{output}");

    let again = build_function(&docker, &src, &esb, &progress)
        .await
        .expect("second build");
    assert!(!again.rebuilt, "up to date on the same base");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rootfs_without_the_runtimes_python_is_refused_before_any_import() {
    let docker = docker().await;
    let err = import_base(&docker, "python3.12", &rootfs(), &Progress::quiet())
        .await
        .expect_err("the rootfs has python3.11");
    assert!(matches!(err, ImageError::Rootfs { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("usr/bin/python3.12 is missing"), "{text}");
    assert!(text.contains("python3.11"), "{text}");
}
