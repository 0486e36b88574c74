//! `esb status`: the running box of a state dir — where it serves, how it runs, and
//! each function's routes, workers and invocations.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::Value;

use crate::box_client::BoxClient;
use crate::project::ProjectArgs;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  esb status\n  esb status --json | jq '.functions[].invocations'\n\nExit status: 0 a box runs, 3 none runs, 1 other errors."
)]
pub struct StatusArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: StatusArgs) -> Result<()> {
    let client = BoxClient::connect(&args.project.state_dir(), Duration::from_secs(10))?;
    let resp = client.send(
        reqwest::Method::GET,
        esb_gateway::STATUS_PATH,
        &[],
        Vec::new(),
    )?;
    if !resp.status().is_success() {
        bail!("the box refused the status request: {}", resp.status());
    }
    let mut status: Value = resp.json().context("the box's status is not JSON")?;
    let s = &client.state;
    status["box"] = serde_json::json!({
        "url": s.url, "pid": s.pid, "runtime": s.runtime, "region": s.region,
        "template": s.template, "started_at": s.started_at,
        "state_dir": args.project.state_dir(), "logs_url": s.logs_url,
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(());
    }
    println!(
        "box      {} (pid {}, {} workers, since {})",
        s.url, s.pid, s.runtime, s.started_at
    );
    println!("template {}", s.template.display());
    match &s.logs_url {
        Some(url) => println!("logs     {url} (VictoriaLogs API; `esb logs` reads it)"),
        None => println!("logs     none (--logs-listen off, no --logs-ship-url)"),
    }
    if !s.signed {
        println!("WARNING  the Invoke API is open (--open-invoke-api)");
    }
    println!(
        "\n{:<24} {:>5} {:>5} {:>6} {:>11} {:>7}  last invoke",
        "FUNCTION", "busy", "warm", "paused", "invocations", "errors"
    );
    for f in status["functions"].as_array().into_iter().flatten() {
        let last = f["last_invoke_ms"]
            .as_i64()
            .and_then(|ms| {
                time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
            })
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<24} {:>5} {:>5} {:>6} {:>11} {:>7}  {last}",
            f["name"].as_str().unwrap_or("?"),
            count(&f["workers"]["busy"]),
            count(&f["workers"]["warm"]),
            count(&f["workers"]["paused"]),
            count(&f["invocations"]),
            count(&f["errors"]),
        );
        for r in f["routes"].as_array().into_iter().flatten() {
            println!(
                "  {} {}{}",
                r["method"].as_str().unwrap_or(""),
                s.url,
                r["path"].as_str().unwrap_or("")
            );
        }
        if let Some(url) = f["url"].as_str() {
            println!("  URL {}{url}", s.url);
        }
    }
    Ok(())
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}
