//! `esb rie`: wiring of command-line flags and signals to the `esb-rie` library.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use esb_rie::{FunctionConfig, LogFormat, RieOptions};

#[derive(Args)]
#[command(
    after_help = "Function settings come from the environment, as with AWS's RIE: \
AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_VERSION, AWS_LAMBDA_FUNCTION_MEMORY_SIZE, \
AWS_LAMBDA_FUNCTION_TIMEOUT, _HANDLER, AWS_REGION, AWS_ACCOUNT_ID, LAMBDA_TASK_ROOT."
)]
pub struct RieArgs {
    /// Address of the Invoke API.
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Address of the Runtime API (exported to the runtime as AWS_LAMBDA_RUNTIME_API).
    #[arg(long, default_value = "127.0.0.1:9001")]
    runtime_api: SocketAddr,
    /// Handler (`_HANDLER`); defaults to the environment, then the command's last argument.
    #[arg(long)]
    handler: Option<String>,
    /// How function logs are written to stdout.
    #[arg(long, value_enum, default_value_t = LogFormatArg::Text)]
    log_format: LogFormatArg,
    /// Seconds SIGTERM waits for the invocation in flight before failing it.
    #[arg(long, default_value_t = 5.0)]
    shutdown_grace: f64,
    /// Shut down when this process exits (set by the agent: no worker outlives its box).
    #[arg(long)]
    lifeline_pid: Option<u32>,
    /// The runtime to start, e.g. `python -m awslambdaric app.handler`; defaults to
    /// /var/task/bootstrap, /opt/bootstrap or /var/runtime/bootstrap.
    #[arg(last = true)]
    command: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

pub fn run(args: RieArgs) -> Result<()> {
    let mut env: BTreeMap<String, String> = std::env::vars().collect();
    let handler = args.handler.clone().or_else(|| {
        (args.command.len() > 1)
            .then(|| args.command.last().cloned())
            .flatten()
    });
    if let Some(h) = handler
        && !env.contains_key("_HANDLER")
    {
        env.insert("_HANDLER".into(), h);
    }
    if !(0.0..=900.0).contains(&args.shutdown_grace) {
        anyhow::bail!("--shutdown-grace must be between 0 and 900 seconds");
    }
    let function = FunctionConfig::from_env(&env).context("invalid function configuration")?;
    let opts = RieOptions {
        listen: args.listen,
        runtime_api: args.runtime_api,
        command: args.command,
        function,
        log_format: match args.log_format {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        },
        shutdown_grace: Duration::from_secs_f64(args.shutdown_grace),
        lifeline_pid: args.lifeline_pid,
    };
    // One thread serves both APIs: an invocation is a handful of tiny hops, and a
    // worker must stay light when hundreds share a machine.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        esb_rie::run(opts, crate::signals::shutdown_signal())
            .await
            .context("esb rie failed")
    })
}
