//! `esb invoke`: one invocation of a function of the running box through its Invoke
//! API, signed with the box's key; prints the payload, and fails (exit 1) with the
//! error when the function fails.

use std::io::Read;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine;
use clap::Args;

use crate::box_client::BoxClient;
use crate::project::ProjectArgs;
use esb_lambda::headers::{
    ERROR_TYPE, FUNCTION_ERROR, INVOCATION_TYPE, LOG_RESULT, LOG_TYPE, REQUEST_ID,
};

#[derive(Args)]
#[command(
    after_help = "Examples:\n  esb invoke hello\n  esb invoke hello --event event.json --log\n  echo '{\"name\":\"edge\"}' | esb invoke hello --event -\n  esb generate-event apigateway aws-proxy | esb invoke api --event -\n  esb invoke worker --async --event job.json\n\nExit status: 0 success, 1 function error or refused request, 3 no box runs."
)]
pub struct InvokeArgs {
    /// The function's name (or ARN).
    pub function: String,
    /// The event: a JSON file, or - for standard input (default: {}).
    #[arg(long, short)]
    pub event: Option<String>,
    /// Queue the event (InvocationType Event): answered 202 at once.
    #[arg(long = "async")]
    pub asynchronous: bool,
    /// Print the last 4 KB of the invocation's log (LogType Tail) on standard error.
    #[arg(long)]
    pub log: bool,
    #[command(flatten)]
    pub project: ProjectArgs,
}

pub fn run(args: InvokeArgs) -> Result<()> {
    let event = match args.event.as_deref() {
        None => b"{}".to_vec(),
        Some("-") => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("cannot read the event from standard input")?;
            buf
        }
        Some(path) => std::fs::read(path).with_context(|| format!("cannot read {path}"))?,
    };
    let client = BoxClient::connect(&args.project.state_dir(), Duration::from_secs(960))?;
    let mut headers = vec![(
        INVOCATION_TYPE,
        if args.asynchronous {
            "Event"
        } else {
            "RequestResponse"
        },
    )];
    if args.log {
        headers.push((LOG_TYPE, "Tail"));
    }
    let path = format!(
        "/2015-03-31/functions/{}/invocations",
        percent_encode(&args.function)
    );
    let resp = client.send(reqwest::Method::POST, &path, &headers, event)?;
    let status = resp.status();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (function_error, log, request_id, error_type) = (
        header(FUNCTION_ERROR),
        header(LOG_RESULT),
        header(REQUEST_ID),
        header(ERROR_TYPE),
    );
    let body = resp.text().unwrap_or_default();
    if let Some(log) = log.and_then(|l| base64::engine::general_purpose::STANDARD.decode(l).ok()) {
        eprint!("{}", String::from_utf8_lossy(&log));
    }
    if !status.is_success() {
        // Lambda's errors: the type in a header, the message in the body.
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or(body);
        bail!(
            "{} ({status}): {message}",
            error_type.as_deref().unwrap_or("error")
        );
    }
    if args.asynchronous {
        println!(
            "queued (request id {})",
            request_id.as_deref().unwrap_or("?")
        );
        return Ok(());
    }
    println!("{body}");
    if let Some(kind) = function_error {
        bail!("the function failed ({kind})");
    }
    Ok(())
}

/// A function name or ARN as one path segment.
fn percent_encode(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string()
}
