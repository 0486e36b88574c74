//! `esb status`: the running box of a state dir — where it serves, how it runs, and
//! each function's routes, workers and invocations.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use esb_gateway::status::Status;
use serde::Serialize;

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
    let status: Status = client.status()?;
    let s = &client.state;
    let state_dir = args.project.state_dir();
    let buckets = if s.s3_url.is_some() {
        esb_s3::store::usage(&esb_state::StateDir::new(&state_dir).s3()).unwrap_or_else(|e| {
            eprintln!("esb: cannot read the S3 store: {e}");
            Vec::new()
        })
    } else {
        Vec::new()
    };
    let tables = match &s.dynamodb_url {
        Some(url) => dynamodb_tables(&state_dir, url, &s.region).unwrap_or_else(|e| {
            eprintln!("esb: cannot list the DynamoDB tables: {e:#}");
            Vec::new()
        }),
        None => Vec::new(),
    };
    let queues = match &s.sqs_url {
        Some(url) => sqs_queues(&state_dir, url, &s.region).unwrap_or_else(|e| {
            eprintln!("esb: cannot list the SQS queues: {e:#}");
            Vec::new()
        }),
        None => Vec::new(),
    };
    let schedules = crate::schedules::read_status(&esb_state::StateDir::new(&state_dir));
    if args.json {
        let report = Report {
            serving: BoxSummary {
                logs_url: s.logs_url.as_deref(),
                pid: s.pid,
                region: &s.region,
                s3_url: s.s3_url.as_deref(),
                dynamodb_url: s.dynamodb_url.as_deref(),
                sqs_url: s.sqs_url.as_deref(),
                runtime: &s.runtime,
                started_at: &s.started_at,
                state_dir: &state_dir,
                template: &s.template,
                url: &s.url,
            },
            status: &status,
            buckets: &buckets,
            tables: &tables,
            queues: &queues,
            schedules: &schedules,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "box      {} (pid {}, {} workers, since {})",
        s.url, s.pid, s.runtime, s.started_at
    );
    println!("template {}", s.template.display());
    println!("disk     {}", crate::disk_watch::status_line(&state_dir));
    match &s.logs_url {
        Some(url) => println!("logs     {url} (VictoriaLogs API; `esb logs` reads it)"),
        None => println!("logs     none (--logs-listen off, no --logs-ship-url)"),
    }
    if let Some(url) = &s.s3_url {
        println!("s3       {url}");
    }
    if let Some(url) = &s.dynamodb_url {
        println!("dynamodb {url}");
    }
    if let Some(url) = &s.sqs_url {
        println!("sqs      {url}");
    }
    if let Some(url) = &s.cloudwatch_logs_url {
        println!("cloudwatch-logs {url}");
    }
    if !s.signed {
        println!("WARNING  the Invoke API is open (--open-invoke-api)");
    }
    println!(
        "\n{:<24} {:>5} {:>5} {:>6} {:>11} {:>7}  last invoke",
        "FUNCTION", "busy", "warm", "paused", "invocations", "errors"
    );
    for f in &status.functions {
        let last = f
            .last_invoke_ms
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
            f.name, f.workers.busy, f.workers.warm, f.workers.paused, f.invocations, f.errors,
        );
        for r in &f.routes {
            println!("  {} {}{}", r.method, s.url, r.path);
        }
        if let Some(url) = &f.url {
            println!("  URL {}{url}", s.url);
        }
        if let Some(note) = &f.note {
            println!("  WARNING {note}");
        }
    }
    print_nodes(&status.nodes);
    if !buckets.is_empty() {
        println!("\n{:<40} {:>9} {:>14}", "BUCKET", "objects", "bytes");
        for b in &buckets {
            println!("{:<40} {:>9} {:>14}", b.name, b.objects, b.bytes);
        }
    }
    if !tables.is_empty() {
        println!("\n{:<40} {:>9} {:>14}  stream", "TABLE", "items", "bytes");
        for t in &tables {
            println!(
                "{:<40} {:>9} {:>14}  {}",
                t.name,
                t.items,
                t.bytes,
                t.stream.as_deref().unwrap_or("off")
            );
        }
    }
    if !queues.is_empty() {
        println!(
            "\n{:<40} {:>9} {:>9} {:>9}",
            "QUEUE", "visible", "in flight", "delayed"
        );
        for q in &queues {
            println!(
                "{:<40} {:>9} {:>9} {:>9}",
                q.name, q.visible, q.in_flight, q.delayed
            );
        }
    }
    if !schedules.is_empty() {
        println!(
            "\n{:<24} {:<20} {:<32} next run",
            "FUNCTION", "SCHEDULE", "EXPRESSION"
        );
        for s in &schedules {
            let next = match (&s.next_run, s.enabled) {
                (_, false) => "disabled".to_string(),
                (Some(t), true) if s.timezone == "UTC" => t.clone(),
                (Some(t), true) => format!("{t} ({})", s.timezone),
                (None, true) => "none left".to_string(),
            };
            println!(
                "{:<24} {:<20} {:<32} {next}",
                s.function, s.event, s.expression
            );
        }
    }
    Ok(())
}

/// The NODE table: each node's health, where its agent is, what it offers and what
/// runs there.
pub fn print_nodes(nodes: &[esb_gateway::status::NodeStatus]) {
    if nodes.is_empty() {
        return;
    }
    println!(
        "\n{:<16} {:<12} {:<8} {:<28} {:>4} {:>16}  workers",
        "NODE", "health", "runtime", "address", "cpus", "memory MB"
    );
    for n in nodes {
        let health = if n.draining {
            format!("{} draining", n.health)
        } else {
            n.health.clone()
        };
        let workers: Vec<String> = n.workers.iter().map(|(f, c)| format!("{f}×{c}")).collect();
        println!(
            "{:<16} {:<12} {:<8} {:<28} {:>4} {:>16}  {}",
            n.name,
            health,
            n.runtime,
            n.address,
            n.cpus,
            format!("{}/{}", n.memory_used_mb, n.memory_mb),
            if workers.is_empty() {
                "-".to_string()
            } else {
                workers.join(" ")
            },
        );
        if !n.labels.is_empty() {
            let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!("  labels {}", labels.join(" "));
        }
    }
}

/// One queue as `esb status` shows it.
#[derive(Debug, serde::Serialize)]
struct QueueLine {
    name: String,
    url: String,
    visible: u64,
    in_flight: u64,
    delayed: u64,
}

/// The box's queues and their counts, asked of its SQS listener.
fn sqs_queues(state_dir: &std::path::Path, url: &str, region: &str) -> Result<Vec<QueueLine>> {
    let state = esb_state::StateDir::new(state_dir);
    let credentials = esb_auth::load_or_issue(&state.credentials())?;
    let ca = std::fs::read(state.certs().join("ca.pem"))
        .context("cannot read the box's CA certificate")?;
    let client = esb_sqs::queue_mapping::SqsClient::new(url, credentials, region, Some(&ca))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut lines = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut req = serde_json::json!({"MaxResults": 1000});
            if let Some(t) = &token {
                req["NextToken"] = t.clone().into();
            }
            let page = client
                .call("ListQueues", &req)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for queue_url in page["QueueUrls"].as_array().into_iter().flatten() {
                let Some(queue_url) = queue_url.as_str() else {
                    continue;
                };
                let attrs = client
                    .call(
                        "GetQueueAttributes",
                        &serde_json::json!({"QueueUrl": queue_url, "AttributeNames": [
                            "ApproximateNumberOfMessages",
                            "ApproximateNumberOfMessagesNotVisible",
                            "ApproximateNumberOfMessagesDelayed"]}),
                    )
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let count = |name: &str| {
                    attrs["Attributes"][name]
                        .as_str()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0)
                };
                lines.push(QueueLine {
                    name: queue_url
                        .rsplit('/')
                        .next()
                        .unwrap_or(queue_url)
                        .to_string(),
                    url: queue_url.to_string(),
                    visible: count("ApproximateNumberOfMessages"),
                    in_flight: count("ApproximateNumberOfMessagesNotVisible"),
                    delayed: count("ApproximateNumberOfMessagesDelayed"),
                });
            }
            token = page["NextToken"].as_str().map(str::to_string);
            if token.is_none() {
                return Ok(lines);
            }
        }
    })
}

/// The box's tables, read through its DynamoDB listener (so an external engine's too).
fn dynamodb_tables(
    state_dir: &Path,
    url: &str,
    region: &str,
) -> Result<Vec<esb_dynamodb::summary::TableSummary>> {
    let layout = esb_state::StateDir::new(state_dir);
    let credentials = esb_auth::load_or_issue(&layout.credentials())?;
    let ca = std::fs::read(esb_gateway::certs::CertPaths::under(&layout).ca)
        .context("cannot read the box CA")?;
    let client = esb_dynamodb::DynamoClient::new(url, credentials, region, Some(&ca))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(esb_dynamodb::summary::tables(&client))?)
}

/// `esb status --json`: the gateway's document and, under `box`, where and how the
/// box runs.
#[derive(Serialize)]
struct Report<'a> {
    #[serde(rename = "box")]
    serving: BoxSummary<'a>,
    #[serde(flatten)]
    status: &'a Status,
    /// The embedded S3 store's buckets (absent when there are none).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    buckets: &'a [esb_s3::store::BucketUsage],
    /// The DynamoDB service's tables (absent when there are none).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    tables: &'a [esb_dynamodb::summary::TableSummary],
    /// The SQS service's queues (absent when there are none).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    queues: &'a [QueueLine],
    /// The template's schedules and their next runs (absent when there are none).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    schedules: &'a [esb_schedule::ScheduleStatus],
}

/// Fields in alphabetical order, as `esb status --json` has always printed them.
#[derive(Serialize)]
struct BoxSummary<'a> {
    logs_url: Option<&'a str>,
    pid: u32,
    region: &'a str,
    runtime: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    s3_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dynamodb_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sqs_url: Option<&'a str>,
    started_at: &'a str,
    state_dir: &'a Path,
    template: &'a Path,
    url: &'a str,
}

#[cfg(test)]
mod tests {
    use esb_gateway::status::{FunctionStatus, WorkerCounts};
    use serde_json::json;

    use super::*;

    #[test]
    fn json_output_is_the_document_with_the_box_added_as_before() {
        let status = Status {
            nodes: Vec::new(),
            functions: vec![FunctionStatus {
                name: "echo".into(),
                invocations: 2,
                workers: WorkerCounts {
                    busy: 0,
                    paused: 1,
                    warm: 1,
                },
                ..FunctionStatus::default()
            }],
            signed: true,
        };
        let (dir, template) = (Path::new("/p/.esb"), Path::new("/p/template.yaml"));
        let report = Report {
            serving: BoxSummary {
                logs_url: None,
                pid: 42,
                region: "us-east-1",
                runtime: "process",
                started_at: "2026-01-01T00:00:00Z",
                state_dir: dir,
                template,
                url: "https://127.0.0.1:8443",
                s3_url: None,
                dynamodb_url: None,
                sqs_url: None,
            },
            status: &status,
            buckets: &[],
            tables: &[],
            queues: &[],
            schedules: &[],
        };
        // What `esb status --json` printed when it patched the document as a Value.
        let mut before = serde_json::to_value(&status).expect("value");
        before["box"] = json!({
            "url": "https://127.0.0.1:8443", "pid": 42, "runtime": "process",
            "region": "us-east-1", "template": template,
            "started_at": "2026-01-01T00:00:00Z", "state_dir": dir, "logs_url": null,
        });
        assert_eq!(
            serde_json::to_string_pretty(&report).expect("report"),
            serde_json::to_string_pretty(&before).expect("before")
        );
    }
}
