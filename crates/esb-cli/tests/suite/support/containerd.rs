//! The containerd side of a box, seen with containerd's own CLI (`ctr`), for the tests
//! of the containerd runtime: its workers, and everything a box may leave behind
//! (containers, tasks, snapshots, network namespaces, the bridge, cgroups).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The namespace boxes use unless told otherwise.
pub const NAMESPACE: &str = "esb";

pub fn ctr(args: &[&str]) -> String {
    let out = Command::new("ctr")
        .args(["-n", NAMESPACE])
        .args(args)
        .output()
        .expect("run ctr");
    assert!(
        out.status.success(),
        "ctr {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn box_id(state: &Path) -> Option<String> {
    std::fs::read_to_string(state.join("box-id"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Every container of the box (standbys included).
pub fn all_containers(state: &Path) -> Vec<String> {
    let Some(id) = box_id(state) else {
        return Vec::new();
    };
    ctr(&[
        "containers",
        "ls",
        "-q",
        &format!("labels.\"esb.box\"=={id}"),
    ])
    .split_whitespace()
    .map(str::to_string)
    .collect()
}

/// The box's tasks and their status (RUNNING, PAUSED, CREATED...).
fn box_tasks(state: &Path) -> Vec<(String, String)> {
    let ours = all_containers(state);
    ctr(&["task", "ls"])
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut cols = l.split_whitespace();
            let (id, status) = (cols.next()?, cols.nth(1)?);
            ours.iter()
                .any(|c| c == id)
                .then(|| (id.to_string(), status.to_string()))
        })
        .collect()
}

/// The box's worker containers: those whose task was started (a standby is created
/// but not started until it becomes a worker, keeping its container id).
pub fn box_workers(state: &Path) -> Vec<String> {
    box_tasks(state)
        .into_iter()
        .filter(|(_, status)| status != "CREATED")
        .map(|(id, _)| id)
        .collect()
}

/// The box's standbys: tasks created and not started.
pub fn box_standbys(state: &Path) -> Vec<String> {
    box_tasks(state)
        .into_iter()
        .filter(|(_, status)| status == "CREATED")
        .map(|(id, _)| id)
        .collect()
}

pub fn kill(container: &str) {
    let _ = Command::new("ctr")
        .args(["-n", NAMESPACE, "task", "kill", "-s", "SIGKILL", container])
        .output();
}

/// `ctr containers info`: the container's record (labels, OCI spec...) as JSON.
pub fn container_info(container: &str) -> serde_json::Value {
    serde_json::from_str(&ctr(&["containers", "info", container])).unwrap_or_default()
}

/// The status `ctr task ls` gives the container's task (RUNNING, PAUSED, STOPPED...).
pub fn task_status(container: &str) -> String {
    ctr(&["task", "ls"])
        .lines()
        .find(|l| l.split_whitespace().next() == Some(container))
        .and_then(|l| l.split_whitespace().nth(2).map(str::to_string))
        .unwrap_or_default()
}

pub fn wait_gone(ids: &[String], within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let listed = ctr(&["containers", "ls", "-q"]);
        let left: Vec<&str> = listed
            .split_whitespace()
            .filter(|c| ids.iter().any(|id| id == c))
            .collect();
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "containers {left:?} outlived their box"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What the box left in containerd and on the host: containers, snapshots, network
/// namespaces, its bridge and its claim on its subnet, its cgroups, mounts of its
/// containers.
pub fn leftovers(state: &Path) -> Vec<String> {
    let Some(id) = box_id(state) else {
        return Vec::new();
    };
    let prefix = format!("esb-{id}-");
    let mut left: Vec<String> = all_containers(state)
        .into_iter()
        .map(|c| format!("container {c}"))
        .collect();
    left.extend(
        ctr(&["snapshots", "--snapshotter", "overlayfs", "ls"])
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|k| k.starts_with(&prefix))
            .map(|k| format!("snapshot {k}")),
    );
    if let Ok(entries) = std::fs::read_dir("/run/esb/netns") {
        left.extend(
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix))
                .map(|n| format!("netns {n}")),
        );
    }
    let mut bridge = format!("esb{id}");
    bridge.truncate(15);
    if Path::new("/sys/class/net").join(&bridge).exists() {
        left.push(format!("bridge {bridge}"));
    }
    // The masquerading rules the CNI bridge plugin adds per worker.
    if let Ok(out) = Command::new("iptables").args(["-t", "nat", "-S"]).output() {
        left.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.contains(&format!("name: \"{bridge}\"")))
                .map(|l| format!("iptables {l}")),
        );
    }
    // The host-wide claim on the box's subnet.
    if let Ok(subnet) = std::fs::read_to_string(state.join("containerd/subnet")) {
        let claim = Path::new("/run/esb/subnets").join(subnet.trim().replace('/', "_"));
        if std::fs::read_to_string(&claim).is_ok_and(|owner| owner == id) {
            left.push(format!("subnet claim {}", claim.display()));
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    left.extend(
        mounts
            .lines()
            .filter(|l| l.contains(&prefix))
            .map(|l| format!("mount {l}")),
    );
    for controller in ["", "memory", "pids", "cpu", "freezer"] {
        let dir = Path::new("/sys/fs/cgroup")
            .join(controller)
            .join(format!("esb-{id}"));
        if dir.is_dir() {
            left.push(format!("cgroup {}", dir.display()));
        }
    }
    left
}

/// Removes what a failed test left of the box (tests call it when dropped).
pub fn remove_box_objects(state: &Path) {
    for c in all_containers(state) {
        kill(&c);
        let _ = Command::new("ctr")
            .args(["-n", NAMESPACE, "task", "rm", "-f", &c])
            .output();
        let _ = Command::new("ctr")
            .args(["-n", NAMESPACE, "containers", "rm", &c])
            .output();
    }
}
