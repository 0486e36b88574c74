//! `esb image`: the images ESB builds functions on. `esb image base` makes
//! `esb/base:python3.X` from a Debian root filesystem, for machines that cannot pull
//! AWS's Lambda images.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use esb_docker::Progress;

#[derive(Args)]
pub struct ImageArgs {
    #[command(subcommand)]
    command: ImageCommand,
}

#[derive(Subcommand)]
enum ImageCommand {
    /// Make esb/base:python3.X from a root filesystem (replaces an existing one).
    Base(BaseArgs),
}

#[derive(Args)]
struct BaseArgs {
    /// The Python runtime the base serves (python3.11 for Debian bookworm).
    #[arg(long)]
    runtime: String,
    /// Root filesystem, e.g. from
    /// `debootstrap --variant=minbase --include=python3-minimal,python3-pip bookworm DIR`.
    #[arg(long, value_name = "DIR")]
    rootfs: PathBuf,
    /// Docker daemon (default: DOCKER_HOST, else unix:///var/run/docker.sock).
    #[arg(long, value_name = "URL", env = "ESB_DOCKER_HOST")]
    docker_host: Option<String>,
}

pub fn run(args: ImageArgs) -> Result<()> {
    let ImageCommand::Base(base) = args.command;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let docker =
            esb_docker::connect(base.docker_host.as_deref(), Duration::from_secs(10)).await?;
        let name =
            esb_docker::import_base(&docker, &base.runtime, &base.rootfs, &Progress::stderr())
                .await?;
        println!("{name}");
        Ok(())
    })
}
