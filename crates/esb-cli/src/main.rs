//! `esb`: one binary for every ESB role.

mod agent_command;
mod agent_join;
mod api_access;
mod box_client;
mod box_lock;
mod box_nodes;
mod box_state;
mod build_command;
mod cloudwatch_logs_service;
mod config_command;
mod config_file;
mod detach;
mod disk_watch;
mod down_command;
mod dynamodb_service;
mod dynamodb_streams;
mod dynamodb_tables;
mod edge_limits;
mod gateway_command;
mod gateway_invoker;
mod generate_event_command;
mod image_command;
mod init_command;
mod invoke_command;
mod log_pipeline;
mod log_store;
mod logs;
mod metrics_listener;
mod node_command;
mod node_labels;
mod project;
mod quiet;
mod reset_command;
mod rie_command;
mod s3_service;
mod schedules;
mod service_port;
mod signals;
mod sqs_service;
mod status_command;
mod up_command;
mod validate_command;
mod watch;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "esb",
    version,
    about = "Edge Serverless Box: AWS-Lambda-compatible serverless platform",
    after_help = "Examples:\n  esb init hello && cd hello && esb up\n  esb up --detach --wait && esb invoke hello --event event.json\n  esb logs hello -f\n\n\
Exit codes: 0 done; 1 failed (for `esb invoke`: the function failed or the request was \
refused, with Lambda's error type); 2 bad command line; 3 no box runs for the state dir \
(`esb status`, `esb invoke`, `esb logs` with no store on disk)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Only warnings and errors: no banner, no status notes, no info log lines.
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Debug detail in the box's log lines (ESB_LOG=<filter> sets any tracing filter).
    #[arg(long, short, global = true)]
    verbose: bool,
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
    /// Machines joining the box: join tokens (`esb node add`, `tokens`, `revoke`).
    Node(node_command::NodeArgs),
    /// Stop the box of a state dir and remove every worker it has or left behind.
    Down(down_command::DownArgs),
    /// `esb down --volumes`, then `esb up` again with the same settings.
    Reset(reset_command::ResetArgs),
    /// Build every function of the template as a Docker image (optionally push them).
    Build(build_command::BuildArgs),
    /// `esb up --watch`: serve, and hot-reload functions whose code changes.
    Watch(up_command::UpArgs),
    /// The running box: URLs, runtime, each function's routes, workers and invocations.
    Status(status_command::StatusArgs),
    /// Invoke a function of the running box and print its answer.
    Invoke(invoke_command::InvokeArgs),
    /// Function and box logs with request ids, from the box's log store (-f follows).
    Logs(logs::LogsArgs),
    /// Images functions are built on (`esb image base`: a Python base from a rootfs).
    Image(image_command::ImageArgs),
    /// Write a sample project (template, functions, README) that `esb up` serves at once.
    Init(init_command::InitArgs),
    /// Check a template and print what ESB would run: functions, routes, APIs, warnings.
    Validate(validate_command::ValidateArgs),
    /// Print a sample event (API Gateway, HTTP API, function URL, S3, SQS, schedule).
    GenerateEvent(generate_event_command::GenerateEventArgs),
    /// Print the settings `esb up` would use and where each came from (flag, ESB_*
    /// variable, esb.toml line, default).
    Config(config_command::ConfigArgs),
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
    // Flags, ESB_* variables, esb.toml and the discovered template, in that order.
    let (cli, matches, origins) = config_file::parse::<Cli>()?;
    quiet::set(cli.quiet);
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        // A serving box's warnings and errors also go to its log store.
        .with(log_pipeline::BoxErrors)
        .with(
            tracing_subscriber::EnvFilter::try_from_env("ESB_LOG").unwrap_or_else(|_| {
                // s3s reports every client error of an S3 request (a 404, a bad
                // signature) at ERROR, dynoxide every DynamoDB error answer (a failed
                // condition) at WARN; the services log their own failures.
                match (cli.quiet, cli.verbose) {
                    (true, _) => "warn,s3s=off,dynoxide=error",
                    (_, true) => "debug,s3s=info,dynoxide=info",
                    _ => "info,s3s=off,dynoxide=error",
                }
                .into()
            }),
        )
        .init();
    match cli.command {
        Command::Rie(args) => rie_command::run(args),
        Command::Up(args) => up_command::run(args),
        Command::Gateway(args) => gateway_command::run(args),
        Command::Agent(args) => agent_command::run(args),
        Command::Build(args) => build_command::run(args),
        Command::Node(args) => node_command::run(args),
        Command::Down(args) => down_command::run(args),
        Command::Reset(args) => reset_command::run(args),
        Command::Image(args) => image_command::run(args),
        Command::Init(args) => init_command::run(args),
        Command::Validate(args) => validate_command::run(args),
        Command::GenerateEvent(args) => generate_event_command::run(args),
        Command::Watch(args) => up_command::run(up_command::UpArgs {
            watch: true,
            ..args
        }),
        Command::Status(args) => status_command::run(args),
        Command::Invoke(args) => invoke_command::run(args),
        Command::Logs(args) => logs::run(args),
        Command::Config(args) => config_command::run(&args, &matches, &origins),
    }
}
