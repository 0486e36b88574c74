//! The containerd runtime's image store against the real containerd and Docker daemon:
//! an image `esb build` would leave in Docker is imported into a namespace of its own,
//! unpacked into overlayfs snapshots that survive containerd's garbage collector, found
//! again without importing, and pulled from a real registry when Docker is absent.
//! Needs root, containerd at /run/containerd/containerd.sock and Docker.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use containerd_client::services::v1::snapshots::{RemoveSnapshotRequest, ViewSnapshotRequest};
use containerd_client::services::v1::{CreateRequest, DeleteRequest};
use esb_agent::runtime::containerd::client::{Containerd, DEFAULT_SOCKET};
use esb_agent::runtime::containerd::image_store::{ImageError, ImageStore};
use sha2::{Digest, Sha256};

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn unique(what: &str) -> String {
    format!(
        "{what}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `ctr` in `namespace`, its output whether or not it succeeded.
fn ctr(namespace: &str, args: &[&str]) -> String {
    let output = Command::new("ctr")
        .args(["-n", namespace])
        .args(args)
        .stderr(Stdio::null())
        .output()
        .expect("run ctr");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A containerd namespace of the test's own, emptied and deleted when dropped.
struct Namespace {
    name: String,
}

impl Namespace {
    fn new(what: &str) -> Self {
        Self {
            name: unique(&format!("esb-test-{what}")),
        }
    }

    async fn connect(&self) -> Containerd {
        Containerd::connect(Path::new(DEFAULT_SOCKET), &self.name)
            .await
            .unwrap_or_else(|e| {
                panic!("these tests need containerd running at {DEFAULT_SOCKET} (start it: `containerd &`): {e}")
            })
    }

    fn snapshots(&self) -> String {
        ctr(
            &self.name,
            &["snapshots", "--snapshotter", "overlayfs", "ls"],
        )
    }

    /// Removes every snapshot, children before parents; a removal can fail while
    /// containerd collects garbage, so this repeats until none is left.
    fn remove_snapshots(&self) {
        let mut failures = Vec::new();
        for _ in 0..50 {
            let keys: Vec<String> = self
                .snapshots()
                .lines()
                .skip(1)
                .filter_map(|l| l.split_whitespace().next().map(str::to_string))
                .collect();
            if keys.is_empty() {
                return;
            }
            failures.clear();
            for key in keys {
                let output = Command::new("ctr")
                    .args(["-n", &self.name, "snapshots", "--snapshotter", "overlayfs"])
                    .args(["rm", &key])
                    .output()
                    .expect("run ctr");
                if !output.status.success() {
                    failures.push(String::from_utf8_lossy(&output.stderr).trim().to_string());
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("snapshots of {} left: {failures:?}", self.name);
    }

    fn list(&self, args: &[&str]) -> Vec<String> {
        ctr(&self.name, args)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let ns = self.name.clone();
        for image in self.list(&["images", "ls", "-q"]) {
            ctr(&ns, &["images", "rm", &image]);
        }
        for lease in self.list(&["leases", "ls", "-q"]) {
            ctr(&ns, &["leases", "rm", &lease]);
        }
        self.remove_snapshots();
        for digest in self.list(&["content", "ls", "-q"]) {
            ctr(&ns, &["content", "rm", &digest]);
        }
        ctr("default", &["namespaces", "rm", &ns]);
        if ctr("default", &["namespaces", "ls", "-q"])
            .lines()
            .any(|l| l.trim() == ns)
        {
            eprintln!("containerd namespace {ns} is left over");
        }
    }
}

/// A two-layer image built from scratch (no pulls: the test runs offline), removed
/// from Docker when dropped. The first layer holds a file of several MiB, so layers
/// travel in more than one write.
struct TestImage {
    reference: String,
    _dir: Arc<tempfile::TempDir>,
    first: String,
    big: Arc<Vec<u8>>,
    second: String,
}

impl TestImage {
    fn build() -> Self {
        Self::family(1).remove(0)
    }

    /// `count` images with the same first layer and second layers of their own.
    fn family(count: usize) -> Vec<Self> {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        let name = unique("esb/ctrimg");
        let first = format!("first layer of {name}\n");
        let mut seed: u32 = std::process::id();
        let big: Vec<u8> = (0..(3 << 20) + 17)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 24) as u8
            })
            .collect();
        std::fs::write(dir.path().join("a.txt"), &first).expect("a.txt");
        std::fs::write(dir.path().join("big.bin"), &big).expect("big.bin");
        std::fs::write(
            dir.path().join("Dockerfile"),
            "FROM scratch\nCOPY a.txt big.bin /\nCOPY b.txt /data/b.txt\n\
             ENV GREETING=hello\nWORKDIR /data\nUSER 1000\n\
             ENTRYPOINT [\"/bin/run\", \"x\"]\nCMD [\"arg1\"]\n",
        )
        .expect("Dockerfile");
        let big = Arc::new(big);
        let path = dir.path().to_string_lossy().into_owned();
        (0..count)
            .map(|_| {
                let reference = format!("{name}:{}", unique("h"));
                let second = format!("second layer of {reference}\n");
                std::fs::write(dir.path().join("b.txt"), &second).expect("b.txt");
                run("docker", &["build", "-q", "-t", &reference, &path]);
                Self {
                    reference,
                    _dir: dir.clone(),
                    first: first.clone(),
                    big: big.clone(),
                    second,
                }
            })
            .collect()
    }

    /// The top chain ID, computed from what Docker says the layers are.
    fn chain_id(&self) -> String {
        let layers = run(
            "docker",
            &[
                "image",
                "inspect",
                "-f",
                "{{range .RootFS.Layers}}{{.}} {{end}}",
                &self.reference,
            ],
        );
        let mut chain = String::new();
        for diff_id in layers.split_whitespace() {
            chain = if chain.is_empty() {
                diff_id.to_string()
            } else {
                let digest = Sha256::digest(format!("{chain} {diff_id}").as_bytes());
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                format!("sha256:{hex}")
            };
        }
        assert!(
            layers.split_whitespace().count() == 2,
            "two layers: {layers}"
        );
        chain
    }
}

impl Drop for TestImage {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rmi", "-f", &self.reference])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A file of committed snapshot `chain_id`, as text.
async fn read_from_snapshot(ns: &Namespace, chain_id: &str, file: &str) -> String {
    String::from_utf8(bytes_from_snapshot(ns, chain_id, file).await).expect("text")
}

/// A file of committed snapshot `chain_id`, read through a view's mounts. The view is
/// leased: containerd 1.6's collector would otherwise take it at once and leave its
/// parent with a dangling child it can never remove.
async fn bytes_from_snapshot(ns: &Namespace, chain_id: &str, file: &str) -> Vec<u8> {
    let containerd = ns.connect().await;
    let lease = unique("esb-test-view");
    containerd
        .leases()
        .create(containerd.request(CreateRequest {
            id: lease.clone(),
            ..Default::default()
        }))
        .await
        .expect("lease");
    let key = unique("esb-test-view");
    let view = containerd
        .snapshots()
        .view(containerd.leased(
            ViewSnapshotRequest {
                snapshotter: "overlayfs".into(),
                key: key.clone(),
                parent: chain_id.to_string(),
                ..Default::default()
            },
            &lease,
        ))
        .await;
    let mounts = view.expect("view").into_inner().mounts;
    containerd
        .snapshots()
        .remove(containerd.request(RemoveSnapshotRequest {
            snapshotter: "overlayfs".into(),
            key,
        }))
        .await
        .expect("remove the view");
    containerd
        .leases()
        .delete(containerd.request(DeleteRequest {
            id: lease,
            sync: false,
        }))
        .await
        .expect("delete the lease");
    let mut dirs: Vec<PathBuf> = Vec::new();
    for mount in &mounts {
        if mount.r#type == "bind" {
            dirs.push(PathBuf::from(&mount.source));
        }
        for option in &mount.options {
            if let Some(lower) = option.strip_prefix("lowerdir=") {
                dirs.extend(lower.split(':').map(PathBuf::from));
            }
        }
    }
    dirs.iter()
        .find_map(|dir| std::fs::read(dir.join(file)).ok())
        .unwrap_or_else(|| panic!("{file} in none of {dirs:?} ({mounts:?})"))
}

/// Runs containerd's garbage collector now (deleting a lease with --sync does).
fn collect_garbage(ns: &Namespace) {
    let lease = unique("esb-test-gc");
    ctr(&ns.name, &["leases", "create", &lease]);
    ctr(&ns.name, &["leases", "rm", "--sync", &lease]);
}

const NO_DOCKER: &str = "unix:///nonexistent/esb-test/docker.sock";

#[tokio::test(flavor = "multi_thread")]
async fn a_docker_image_is_imported_unpacked_kept_and_found_again() {
    let image = TestImage::build();
    let ns = Namespace::new("docker");
    let store = ImageStore::new(ns.connect().await, None, None);

    let imported = store.ensure(&image.reference).await.expect("import");
    assert_eq!(imported.reference, image.reference);
    assert_eq!(imported.chain_id, image.chain_id());
    assert_eq!(imported.config.entrypoint, ["/bin/run", "x"]);
    assert_eq!(imported.config.cmd, ["arg1"]);
    assert!(
        imported.config.env.iter().any(|e| e == "GREETING=hello"),
        "{:?}",
        imported.config.env
    );
    assert_eq!(imported.config.working_dir, "/data");
    assert_eq!(imported.config.user, "1000");
    assert!(
        ns.snapshots().contains(&imported.chain_id),
        "{}",
        ns.snapshots()
    );
    assert_eq!(
        read_from_snapshot(&ns, &imported.chain_id, "a.txt").await,
        image.first
    );
    assert_eq!(
        read_from_snapshot(&ns, &imported.chain_id, "data/b.txt").await,
        image.second
    );
    assert!(bytes_from_snapshot(&ns, &imported.chain_id, "big.bin").await == *image.big);
    assert_eq!(store.held().await, vec![image.reference.clone()]);
    assert!(
        ns.list(&["leases", "ls", "-q"]).is_empty(),
        "the import's lease is gone"
    );

    // Known: answered from memory.
    let started = Instant::now();
    let again = store.ensure(&image.reference).await.expect("again");
    assert!(Arc::ptr_eq(&imported, &again));
    assert!(started.elapsed() < Duration::from_millis(50));
    // Forgotten: looked up in containerd again, found as it is.
    store.forget(&image.reference);
    let looked_up = store.ensure(&image.reference).await.expect("looked up");
    assert!(!Arc::ptr_eq(&imported, &looked_up));
    assert_eq!(looked_up.chain_id, imported.chain_id);

    // The garbage collector keeps everything the image record references.
    collect_garbage(&ns);
    assert!(ns.snapshots().contains(&imported.chain_id));

    // Another agent (no Docker now) finds it in containerd as it is.
    let elsewhere = ImageStore::new(ns.connect().await, Some(NO_DOCKER.into()), None);
    let found = elsewhere.ensure(&image.reference).await.expect("found");
    assert_eq!(found.chain_id, imported.chain_id);
    assert_eq!(found.config, imported.config);

    // Snapshots gone (layers still in the content store): unpacked again, no Docker.
    ns.remove_snapshots();
    assert!(!ns.snapshots().contains(&imported.chain_id));
    let unpacked = ImageStore::new(ns.connect().await, Some(NO_DOCKER.into()), None)
        .ensure(&image.reference)
        .await
        .expect("unpacked again");
    assert_eq!(unpacked.chain_id, imported.chain_id);
    assert_eq!(
        read_from_snapshot(&ns, &unpacked.chain_id, "data/b.txt").await,
        image.second
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_ensures_of_one_image_import_it_once() {
    let image = TestImage::build();
    let ns = Namespace::new("concurrent");
    let store = Arc::new(ImageStore::new(ns.connect().await, None, None));
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            let reference = image.reference.clone();
            tokio::spawn(async move { store.ensure(&reference).await })
        })
        .collect();
    let mut images = Vec::new();
    for task in tasks {
        images.push(task.await.expect("task").expect("ensure"));
    }
    assert!(Arc::ptr_eq(&images[0], &images[1]), "one import, one image");
    assert_eq!(images[0].chain_id, image.chain_id());
    // One committed snapshot per layer, no extraction left behind.
    let snapshots = ns.snapshots();
    assert_eq!(snapshots.lines().skip(1).count(), 2, "{snapshots}");
    assert!(!snapshots.contains("esb-extract-"), "{snapshots}");
}

#[tokio::test(flavor = "multi_thread")]
async fn images_sharing_a_layer_unpack_side_by_side() {
    let family = TestImage::family(2);
    let ns = Namespace::new("shared");
    let store = Arc::new(ImageStore::new(ns.connect().await, None, None));
    let tasks: Vec<_> = family
        .iter()
        .map(|image| {
            let store = store.clone();
            let reference = image.reference.clone();
            tokio::spawn(async move { store.ensure(&reference).await })
        })
        .collect();
    for (task, image) in tasks.into_iter().zip(&family) {
        let ensured = task.await.expect("task").expect("ensure");
        assert_eq!(ensured.chain_id, image.chain_id());
        assert_eq!(
            read_from_snapshot(&ns, &ensured.chain_id, "data/b.txt").await,
            image.second
        );
        assert_eq!(
            read_from_snapshot(&ns, &ensured.chain_id, "a.txt").await,
            image.first
        );
    }
    // The shared layer once, each image's own layer on it.
    let snapshots = ns.snapshots();
    assert_eq!(snapshots.lines().skip(1).count(), 3, "{snapshots}");
    assert!(!snapshots.contains("esb-extract-"), "{snapshots}");
    let mut held = store.held().await;
    held.sort();
    let mut expected: Vec<String> = family.iter().map(|i| i.reference.clone()).collect();
    expected.sort();
    assert_eq!(held, expected);
}

/// A real Debian docker-registry on loopback, stopped when dropped.
struct Registry {
    child: std::process::Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = esb_test_ports::reserve();
        let addr = format!("127.0.0.1:{port}");
        let config = dir.path().join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
                dir.path().join("storage").display()
            ),
        )
        .expect("registry config");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry (Debian package docker-registry)");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "the registry did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
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
async fn without_docker_images_come_from_the_registry() {
    let image = TestImage::build();
    let registry = Registry::start();
    let remote = format!("{}/{}", registry.addr, image.reference);
    run("docker", &["tag", &image.reference, &remote]);
    let pushed = Command::new("docker")
        .args(["push", &remote])
        .output()
        .expect("docker push");
    run("docker", &["rmi", &remote]);
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );

    let ns = Namespace::new("registry");
    let store = ImageStore::new(
        ns.connect().await,
        Some(NO_DOCKER.into()),
        Some(registry.addr.clone()),
    );
    let pulled = store.ensure(&image.reference).await.expect("pull");
    assert_eq!(pulled.chain_id, image.chain_id());
    assert_eq!(pulled.config.entrypoint, ["/bin/run", "x"]);
    assert_eq!(pulled.config.cmd, ["arg1"]);
    assert_eq!(
        read_from_snapshot(&ns, &pulled.chain_id, "a.txt").await,
        image.first
    );
    collect_garbage(&ns);
    assert!(ns.snapshots().contains(&pulled.chain_id));
    assert_eq!(store.held().await, vec![image.reference.clone()]);

    // What nobody has: the error says where it looked and what to do.
    let missing = format!("{}-missing:0000", image.reference.replace(':', "-"));
    let err = store.ensure(&missing).await.expect_err("nobody has it");
    assert!(matches!(err, ImageError::Missing { .. }), "{err:?}");
    let text = err.to_string();
    for part in [
        missing.as_str(),
        "esb build",
        "--registry",
        NO_DOCKER,
        &registry.addr,
    ] {
        assert!(text.contains(part), "{part:?} in {text}");
    }
}
