//! `esb down`: stops the box of a state dir and removes every worker it has or left
//! behind — processes, containers, standbys and the box's Docker network — whether the
//! box is running (it is asked to stop, as Ctrl-C would) or was killed.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use esb_state::StateDir;

use crate::agent_command::{RuntimeArgs, RuntimeKind};
use crate::project::ProjectArgs;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  esb down              # stop the box of this folder, remove its workers\n  esb down --volumes    # and its data: queued events, logs, S3 buckets, tables, queues\n\nExit status: 0 nothing of the box is left running; 1 something could not be removed."
)]
pub struct DownArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    /// Also remove the box's data: queued and failed asynchronous events and logs
    /// (its key pair, certificates and runtimes stay, so clients keep working).
    #[arg(long)]
    pub volumes: bool,
}

/// How long a running box may take to finish accepted events and stop.
const STOP_WAIT: Duration = Duration::from_secs(120);

pub fn run(args: DownArgs) -> Result<()> {
    let state_dir = StateDir::new(args.project.state_dir());
    if !state_dir.root().is_dir() {
        println!(
            "esb: no box state in {}: nothing to stop",
            state_dir.root().display()
        );
        return Ok(());
    }
    if let Some(pid) = crate::box_lock::running(&state_dir) {
        stop(pid)?;
        println!("esb: stopped the box (pid {pid})");
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let mut kinds = vec![RuntimeKind::Process];
        // A box id is made by the container runtimes only.
        let containers_were_used = state_dir.box_id().is_file();
        if containers_were_used {
            match esb_docker::connect(args.runtime.docker_host.as_deref(), Duration::from_secs(3))
                .await
            {
                Ok(_) => kinds.push(RuntimeKind::Docker),
                Err(e) => eprintln!("esb: warning: cannot remove this box's containers: {e}"),
            }
            // containerd workers: only for a box that used containerd (its runtime
            // keeps `<state>/containerd/`), where containerd answers.
            if state_dir.root().join("containerd").is_dir()
                && esb_agent::runtime::containerd::client::Containerd::connect(
                    &args.runtime.containerd_socket,
                    &args.runtime.containerd_namespace,
                )
                .await
                .is_ok()
            {
                kinds.push(RuntimeKind::Containerd);
            }
        }
        for kind in kinds {
            // An agent that adopts nothing removes what it finds, then everything else.
            let agent = crate::agent_command::build_agent(
                &state_dir,
                0,
                &args.runtime,
                kind,
                true,
                false,
                crate::agent_command::AgentNode::local(None),
            )
            .await;
            match agent {
                Ok(agent) => agent.destroy_all().await,
                // containerd answers but this box never ran there (no CNI plugins, say).
                Err(e) if kind == RuntimeKind::Containerd => {
                    eprintln!("esb: warning: cannot look for this box's containerd workers: {e:#}")
                }
                Err(e) => return Err(e),
            }
        }
        println!("esb: the box of {} is down", state_dir.root().display());
        if args.volumes {
            // The box's data: queued and failed asynchronous events, logs, S3 objects,
            // DynamoDB tables, SQS queues, the schedules' record of fired runs.
            let data = [
                state_dir.async_events(),
                state_dir.logs(),
                state_dir.s3(),
                state_dir.dynamodb(),
                state_dir.sqs(),
                state_dir.schedules(),
            ];
            for dir in data.iter().filter(|d| d.exists()) {
                std::fs::remove_dir_all(dir)
                    .with_context(|| format!("cannot remove {}", dir.display()))?;
                println!("esb: removed {}", dir.display());
            }
        }
        Ok(())
    })
}

/// Whether `pid` exists and is not a zombie waiting for its parent.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

/// Asks the box to stop (SIGTERM) and waits for it.
fn stop(pid: u32) -> Result<()> {
    let target = nix::unistd::Pid::from_raw(i32::try_from(pid).context("invalid pid")?);
    nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGTERM)
        .with_context(|| format!("cannot signal the box (pid {pid})"))?;
    let deadline = Instant::now() + STOP_WAIT;
    while alive(pid) {
        if Instant::now() > deadline {
            bail!(
                "the box (pid {pid}) did not stop within {} s",
                STOP_WAIT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
