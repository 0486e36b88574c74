//! `esb`: one binary for every ESB role.

mod agent_command;
mod api_access;
mod box_client;
mod box_credentials;
mod box_lock;
mod box_state;
mod build_command;
mod detach;
mod down_command;
mod gateway_command;
mod image_command;
mod invoke_command;
mod project;
mod rie_command;
mod signals;
mod status_command;
mod up_command;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "esb",
    version,
    about = "Edge Serverless Box: AWS-Lambda-compatible serverless platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runtime Interface Emulator: the entrypoint of every worker (Invoke API + Runtime API).
    Rie(rie_command::RieArgs),
    /// The whole box: serve a SAM template's functions over HTTPS (gateway + agent).
    Up(up_command::UpArgs),
    /// Gateway alone: HTTPS front door of a template, using an agent over gRPC.
    Gateway(gateway_command::GatewayArgs),
    /// Agent: owns this machine's workers; serves the gateway over gRPC.
    Agent(agent_command::AgentArgs),
    /// Stop the box of a state dir and remove every worker it has or left behind.
    Down(down_command::DownArgs),
    /// Build every function of the template as a Docker image (optionally push them).
    Build(build_command::BuildArgs),
    /// The running box: URLs, runtime, each function's routes, workers and invocations.
    Status(status_command::StatusArgs),
    /// Invoke a function of the running box and print its answer.
    Invoke(invoke_command::InvokeArgs),
    /// Images functions are built on (`esb image base`: a Python base from a rootfs).
    Image(image_command::ImageArgs),
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line with the whole chain of causes; no backtrace for users.
            eprintln!("esb: error: {e:#}");
            if e.downcast_ref::<box_client::NotRunning>().is_some() {
                ExitCode::from(3)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ESB_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    match cli.command {
        Command::Rie(args) => rie_command::run(args),
        Command::Up(args) => up_command::run(args),
        Command::Gateway(args) => gateway_command::run(args),
        Command::Agent(args) => agent_command::run(args),
        Command::Build(args) => build_command::run(args),
        Command::Down(args) => down_command::run(args),
        Command::Image(args) => image_command::run(args),
        Command::Status(args) => status_command::run(args),
        Command::Invoke(args) => invoke_command::run(args),
    }
}
