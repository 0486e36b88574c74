//! What only the containerd runtime has (the e2e scenarios run on it too, in
//! up_e2e.rs): tasks frozen through the cgroup freezer, the agent's metrics from the
//! task's cgroups, and a box that leaves nothing in containerd or on the host — no
//! container, task, snapshot, network namespace, bridge, mount or cgroup — after
//! `esb down`, even when it was SIGKILLed. A real containerd throughout (scripts/test.sh
//! starts one when none runs), with the images `esb build` made imported into it.

use std::time::Duration;

use crate::docker_runtime::{
    Project, Up, a_memory_hog_shows_in_the_agents_metrics, e2e_image, echo, esb_down,
};
use crate::support;
use crate::support::containerd::{box_standbys, box_workers, leftovers, task_status};

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
    assert_eq!(up.invoke(&project.function, &echo()), (200, echo()));
    assert_eq!(task_status(&workers[0]), "RUNNING");
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
    let mut agent = support::esb_command()
        .args([
            "agent",
            "--runtime",
            "containerd",
            "--remove-workers-on-exit",
        ])
        .args(["--standby-workers", "0", "--listen", &addr.to_string()])
        .arg("--state-dir")
        .arg(&state)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("esb agent");
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
    let out = support::esb_command()
        .arg("up")
        .arg("--template")
        .arg(project.template())
        .arg("--state-dir")
        .arg(project.state("state"))
        .args(["--port", &support::free_addr().port().to_string()])
        .args(["--runtime", "containerd", "--containerd-socket"])
        .arg(&socket)
        .output()
        .expect("esb up");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&socket.display().to_string()) && err.contains("--containerd-socket"),
        "{err}"
    );
}
