//! The containerd runtime beyond the e2e scenarios (those run on it too, in
//! up_e2e.rs): tasks frozen through the cgroup freezer, the agent's metrics from the
//! task's cgroups, and a box that leaves nothing in containerd or on the host — no
//! container, task, snapshot, network namespace, bridge, mount or cgroup — after
//! `esb down`, even when it was SIGKILLed; two boxes sharing one containerd, containers
//! no worker names removed after the grace period, images pulled from a registry, a
//! hot-reloaded function's stale standby dropped, Docker's seccomp boundary. A real
//! containerd throughout (scripts/test.sh starts one when none runs), with the images
//! `esb build` made imported into it.

use std::time::Duration;

use crate::docker_runtime::{
    Project, Up, a_changed_function_drops_its_stale_standby_on,
    a_memory_hog_shows_in_the_agents_metrics, a_registry_feeds_an_agent_of, agent_on, docker_holds,
    e2e_image, echo, esb_down,
};
use crate::support;
use crate::support::containerd::{
    box_standbys, box_workers, container_info, ctr, leftovers, task_status, wait_gone,
};

/// An idle worker is frozen after `--pause-idle-after`, and the next request thaws that
/// same task rather than starting another.
#[test]
fn idle_workers_are_paused_and_resumed_on_demand() {
    let project = Project::new("ctr-pause");
    let state = project.state("state");
    let up = Up::start(
        &project,
        &state,
        &["--runtime", "containerd", "--pause-idle-after", "0.3"],
    );
    let first = up.invoke(&project.function, &echo());
    let said = || up.output.lock().map(|o| o.join("\n")).unwrap_or_default();
    assert_eq!(first, (200, echo()), "{}", said());
    let workers = box_workers(&state);
    assert_eq!(workers.len(), 1, "{workers:?}");
    support::wait_for(
        "the idle worker to be paused",
        Duration::from_secs(30),
        || task_status(&workers[0]) == "PAUSED",
    );
    // Answering is the proof of the thaw (a frozen task cannot); its status is not
    // asserted, since after 0.3 s idle it is rightly frozen again, which a loaded
    // machine can take longer than to list the tasks.
    assert_eq!(
        up.invoke(&project.function, &echo()),
        (200, echo()),
        "{}",
        said()
    );
    assert_eq!(
        box_workers(&state),
        workers,
        "the paused worker itself served the request"
    );
}

/// Before its first request, a function already has a task created and not started
/// (the gateway asked the agent to prepare it): the first request starts that very
/// task, and another is prepared behind it. `--standby-workers 0` prepares nothing.
#[test]
fn a_functions_first_worker_is_prepared_before_its_first_request() {
    let project = Project::new("ctr-prepared");
    let state = project.state("state");
    let up = Up::start(&project, &state, &["--runtime", "containerd"]);
    support::wait_for(
        "a prepared task before any request",
        Duration::from_secs(60),
        || box_standbys(&state).len() == 1,
    );
    let prepared = box_standbys(&state);
    assert!(box_workers(&state).is_empty());
    assert_eq!(up.invoke(&project.function, &echo()), (200, echo()));
    assert_eq!(
        box_workers(&state),
        prepared,
        "the prepared task became the worker"
    );
    support::wait_for("the next prepared task", Duration::from_secs(60), || {
        box_standbys(&state).len() == 1
    });
    assert_ne!(box_standbys(&state), prepared);
    drop(up);

    let state = project.state("bare");
    let up = Up::start(
        &project,
        &state,
        &["--runtime", "containerd", "--standby-workers", "0"],
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(box_standbys(&state).is_empty(), "nothing prepared");
    assert_eq!(up.invoke(&project.function, &echo()), (200, echo()));
    assert_eq!(box_workers(&state).len(), 1);
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        box_standbys(&state).is_empty(),
        "nothing prepared after it either"
    );
}

/// `esb down` stops a running box and nothing of it is left; a box SIGKILLed with a
/// worker, its standby and ready namespaces is cleaned up by `esb down` just as well.
#[test]
fn esb_down_leaves_nothing_behind() {
    let project = Project::new("ctr-down");
    let state = project.state("state");
    let mut up = Up::start(&project, &state, &["--runtime", "containerd"]);
    assert_eq!(up.invoke(&project.function, &echo()).0, 200);
    assert!(esb_down(&state).contains("stopped the box"));
    assert!(up.child.wait().expect("box exit").success());
    let left = leftovers(&state);
    assert!(left.is_empty(), "after esb down: {left:?}");

    let mut up = Up::start(&project, &state, &["--runtime", "containerd"]);
    assert_eq!(up.invoke(&project.function, &echo()).0, 200);
    support::wait_for(
        "the worker and its standby",
        Duration::from_secs(60),
        || box_workers(&state).len() == 1 && box_standbys(&state).len() == 1,
    );
    let _ = up.child.kill();
    let _ = up.child.wait();
    assert!(
        !leftovers(&state).is_empty(),
        "a killed box leaves its workers"
    );
    esb_down(&state);
    let left = leftovers(&state);
    assert!(left.is_empty(), "after a killed box and esb down: {left:?}");
}

/// A function trying what Docker's seccomp profile refuses a container: a user
/// namespace (no capability stops that one), the kernel keyring, io_uring; and what
/// every function does: a thread, a child process.
const SYSCALLS: &str = r#"import ctypes, errno, os, subprocess, threading

libc = ctypes.CDLL(None, use_errno=True)
KEYCTL = {"x86_64": 250, "aarch64": 219}[os.uname().machine]
IO_URING_SETUP = 425


def outcome(result):
    return errno.errorcode.get(ctypes.get_errno(), "?") if result == -1 else "allowed"


def handler(event, context):
    out = {
        "unshare_user": outcome(libc.unshare(0x10000000)),
        "keyctl": outcome(libc.syscall(KEYCTL, 0, -3, 0)),
        "io_uring_setup": outcome(libc.syscall(IO_URING_SETUP, 1, None)),
    }
    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()
    out["thread"] = "ok"
    out["subprocess"] = subprocess.run(["/bin/true"]).returncode
    return out
"#;

/// Workers get Docker's seccomp boundary: those calls fail with `EPERM`, while threads
/// (glibc's `clone3`, told "no such call", falls back to `clone`) and child processes
/// work as ever.
#[test]
fn workers_get_dockers_seccomp_boundary() {
    let project = Project::python_code("ctr-seccomp", "python3.11", SYSCALLS);
    let state = project.state("state");
    let up = Up::start(&project, &state, &["--runtime", "containerd"]);
    let (status, out) = up.invoke(&project.function, &serde_json::json!({}));
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        out,
        serde_json::json!({
            "unshare_user": "EPERM",
            "keyctl": "EPERM",
            "io_uring_setup": "EPERM",
            "thread": "ok",
            "subprocess": 0,
        })
    );
}

/// Two boxes on one containerd share its namespace: each has a bridge and subnet of its
/// own, sees and stops only its own tasks, and one stopping leaves nothing of it while
/// the other's worker goes on serving.
#[test]
fn two_boxes_share_one_containerd_without_touching_each_other() {
    let project = Project::new("ctr-twoboxes");
    let (state_a, state_b) = (project.state("a"), project.state("b"));
    let mut a = Up::start(&project, &state_a, &["--runtime", "containerd"]);
    let b = Up::start(&project, &state_b, &["--runtime", "containerd"]);
    assert_eq!(a.invoke(&project.function, &echo()), (200, echo()));
    assert_eq!(b.invoke(&project.function, &echo()), (200, echo()));
    let (wa, wb) = (box_workers(&state_a), box_workers(&state_b));
    assert_eq!((wa.len(), wb.len()), (1, 1), "{wa:?} {wb:?}");
    assert_ne!(wa, wb);
    let subnet = |state: &std::path::Path| {
        std::fs::read_to_string(state.join("containerd/subnet")).expect("the box's subnet")
    };
    assert_ne!(subnet(&state_a), subnet(&state_b));
    a.stop();
    let left = leftovers(&state_a);
    assert!(left.is_empty(), "box a stopped: {left:?}");
    assert_eq!(box_workers(&state_b), wb, "box b keeps its worker");
    assert_eq!(b.invoke(&project.function, &echo()), (200, echo()));
}

/// A container of this box that no worker record names (the agent died between making
/// it and recording it) is removed after the grace period; another box's is left alone.
#[test]
fn orphaned_containers_are_removed_and_other_boxes_are_not_touched() {
    let project = Project::new("ctr-orphans");
    let state = project.state("state");
    let mut agent = agent_on(
        "containerd",
        &state,
        support::free_addr(),
        &["--orphan-grace", "2"],
    );
    support::wait_for("the agent's box id", Duration::from_secs(60), || {
        std::fs::read_to_string(state.join("box-id")).is_ok()
    });
    let box_id = std::fs::read_to_string(state.join("box-id")).expect("box id");
    let rootfs = project.state("rootfs");
    std::fs::create_dir_all(&rootfs).expect("rootfs");
    let rootfs = rootfs.display().to_string();
    let create = |box_label: &str| {
        let id = format!("esb-{box_label}-ghost-{}", std::process::id());
        let label = format!("esb.box={box_label}");
        ctr(&[
            "containers",
            "create",
            "--rootfs",
            "--label",
            &label,
            "--label",
            "esb.managed=true",
            "--label",
            "esb.worker=ghost",
            &rootfs,
            &id,
        ]);
        id
    };
    let orphan = create(box_id.trim());
    let foreign = create("another-box");
    wait_gone(std::slice::from_ref(&orphan), Duration::from_secs(60));
    let listed = ctr(&["containers", "ls", "-q"]);
    assert!(
        listed.split_whitespace().any(|c| c == foreign),
        "another box's container stays: {listed}"
    );
    ctr(&["containers", "rm", &foreign]);
    assert!(support::terminate(&mut agent, Duration::from_secs(30)).success());
}

/// With no Docker image to import, a containerd agent started with `--registry` pulls
/// the image `esb build --push` put there straight into containerd (Docker never gets
/// it back) and serves the function from it.
#[test]
fn images_travel_through_a_registry() {
    let reference = a_registry_feeds_an_agent_of("containerd");
    let held = ctr(&["images", "ls", "-q"]);
    assert!(
        held.lines().any(|i| i == reference),
        "{reference} in {held}"
    );
    assert!(!docker_holds(&reference), "not through Docker");
    ctr(&["images", "rm", &reference]);
}

/// A hot-reloaded function's standby task of the old spec goes, and one of the new spec
/// takes its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_function_drops_its_stale_standby() {
    let standbys = |state: &std::path::Path| {
        box_standbys(state)
            .into_iter()
            .map(|c| {
                let worker = container_info(&c)["Labels"]["esb.worker"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                (c, worker)
            })
            .collect()
    };
    let environment = |container: &str| {
        let info = container_info(container);
        let env = info["Spec"]["process"]["env"].as_array().cloned();
        env.unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    a_changed_function_drops_its_stale_standby_on("containerd", standbys, environment).await;
}

/// The agent's GetMetrics reads a task's memory (current, peak, limit), CPU time and
/// OOM kills from its cgroups, and `MemorySize` is a hard limit without swap; the
/// agent leaves nothing behind when it stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_reports_task_memory_cpu_and_oom_kills() {
    let image = tokio::task::spawn_blocking(|| e2e_image("hog"))
        .await
        .expect("build");
    let project = Project::new("ctr-metrics");
    let state = project.state("state");
    let addr = support::free_addr();
    let mut agent = agent_on("containerd", &state, addr, &["--standby-workers", "0"]);
    a_memory_hog_shows_in_the_agents_metrics(addr, image).await;
    assert!(support::terminate(&mut agent, Duration::from_secs(30)).success());
    let left = leftovers(&state);
    assert!(left.is_empty(), "{left:?}");
}

/// No containerd at the configured socket: `--runtime containerd` fails saying where
/// it looked and what to do, before anything starts.
#[test]
fn an_absent_containerd_is_explained() {
    let project = Project::new("ctr-absent");
    let socket = project.state("no-containerd.sock");
    refused_naming(
        project
            .esb_up(&project.state("state"), support::free_addr().port())
            .args(["--runtime", "containerd", "--containerd-socket"])
            .arg(&socket),
        &socket,
        "--containerd-socket",
    );
}

/// `esb up` exits 1, its error naming `path` and the `flag` that changes it.
fn refused_naming(up: &mut std::process::Command, path: &std::path::Path, flag: &str) {
    let out = up.output().expect("esb up");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&path.display().to_string()) && err.contains(flag),
        "{err}"
    );
}

/// The CNI plugins come from `--cni-bin-dir` when given (k3s keeps its own): a box
/// serves with plugins from there, and a directory without them (here through the
/// original ESB's `CNI_BIN_DIR`) stops `esb up` naming the directory and the flag.
#[test]
fn the_cni_plugins_can_come_from_a_directory_of_the_users() {
    let project = Project::new("ctr-cni-dir");
    let empty = project.state("no-plugins");
    std::fs::create_dir_all(&empty).expect("dir");
    refused_naming(
        project
            .esb_up(&project.state("state-a"), support::free_addr().port())
            .args(["--runtime", "containerd"])
            .env("CNI_BIN_DIR", &empty),
        &empty,
        "--cni-bin-dir",
    );

    let plugins = project.state("plugins");
    std::fs::create_dir_all(&plugins).expect("dir");
    for plugin in ["bridge", "host-local", "loopback"] {
        let installed = ["/usr/lib/cni", "/opt/cni/bin"]
            .iter()
            .map(|d| std::path::Path::new(d).join(plugin))
            .find(|p| p.is_file())
            .expect("the CNI plugins (scripts/test-deps.sh installs them)");
        // A wrapper that leaves a mark, so the test sees these very plugins ran.
        let wrapper = plugins.join(plugin);
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\ntouch {}/ran-{plugin}\nexec {} \"$@\"\n",
                plugins.display(),
                installed.display()
            ),
        )
        .expect("wrapper");
        std::fs::set_permissions(
            &wrapper,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
    }
    let state = project.state("state-b");
    let plugin_dir = plugins.display().to_string();
    let up = Up::start(
        &project,
        &state,
        &["--runtime", "containerd", "--cni-bin-dir", &plugin_dir],
    );
    assert_eq!(up.invoke(&project.function, &echo()), (200, echo()));
    assert!(plugins.join("ran-bridge").exists() && plugins.join("ran-loopback").exists());
}
