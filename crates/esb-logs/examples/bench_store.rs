//! Benchmark (not a test) of the log store over its HTTP API, as `esb up` serves it:
//! ingestion rate of VictoriaLogs jsonline batches POSTed by concurrent clients into a
//! fresh store, then query latency over the records stored.
//!
//!     cargo run --release -p esb-logs --example bench_store -- [--records 1000000]
//!         [--batch 1000] [--clients 4] [--runs 20] [--machine TEXT] [--command TEXT]
//!
//! Progress goes to stderr; the results, as the "## Log store" section of
//! docs/benchmarks.md (`--machine`: its first line; `--command`: how it was run, as
//! Markdown), to stdout (scripts/bench-logs.sh puts them there).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use esb_logs::{Retention, Store};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("log store: {0}")]
    Store(#[from] esb_logs::store::StoreError),
    #[error("HTTP: {0}")]
    Http(String),
    #[error("{0}")]
    Usage(String),
}

type Result<T> = std::result::Result<T, BenchError>;

struct Options {
    records: usize,
    batch: usize,
    clients: usize,
    runs: usize,
    machine: String,
    command: String,
}

impl Options {
    fn parse() -> Result<Self> {
        let mut o = Options {
            records: 1_000_000,
            batch: 1000,
            clients: 4,
            runs: 20,
            machine: String::new(),
            command: "`cargo run --release -p esb-logs --example bench_store`".into(),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || {
                args.next()
                    .ok_or_else(|| BenchError::Usage(format!("{arg} needs a value")))
            };
            let number = |v: String| {
                v.replace('_', "")
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| BenchError::Usage(format!("{arg}: not a positive number: {v}")))
            };
            match arg.as_str() {
                "--records" => o.records = number(value()?)?,
                "--batch" => o.batch = number(value()?)?,
                "--clients" => o.clients = number(value()?)?,
                "--runs" => o.runs = number(value()?)?,
                "--machine" => o.machine = value()?,
                "--command" => o.command = value()?,
                other => return Err(BenchError::Usage(format!("unknown argument {other}"))),
            }
        }
        Ok(o)
    }
}

// ---------------------------------------------------------------------------------------
// Lambda-like records.

/// xorshift64*: deterministic, so every run stores the same records.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(1000) < p * 10
    }
}

const FUNCTIONS: [&str; 20] = [
    "orders-api",
    "payments",
    "thumbnailer",
    "auth-authorizer",
    "inventory-sync",
    "email-sender",
    "search-indexer",
    "cart",
    "checkout",
    "webhooks",
    "reports",
    "scheduler",
    "audit-log",
    "notifications",
    "pdf-render",
    "geo-lookup",
    "recommendations",
    "user-profile",
    "billing-cron",
    "image-moderation",
];

/// The dataset: jsonline bodies, and request and trace ids to look up.
struct Dataset {
    bodies: Vec<Vec<u8>>,
    request_ids: Vec<String>,
    trace_ids: Vec<String>,
}

fn rfc3339(ns: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn hex(rng: &mut Rng, digits: usize) -> String {
    let mut s = String::with_capacity(digits);
    while s.len() < digits {
        let _ = write!(s, "{:016x}", rng.next());
    }
    s.truncate(digits);
    s
}

/// `records` records over the two hours up to now, invocation after invocation of 20
/// functions (some busier than others): START, application lines (plain prints and
/// JSON logs, a few warnings and errors), END and REPORT, each with the fields a
/// worker adds.
fn dataset(records: usize, batch: usize, now_ns: i64) -> Dataset {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let span_ns: i64 = 2 * 3600 * 1_000_000_000;
    // 6 records per invocation on average (START, 1 to 5 lines, END, REPORT): the last
    // invocations start close to now.
    let invocations = (records / 6).max(1) as i64;
    let start_ns = now_ns - span_ns;
    let mut lines: Vec<Value> = Vec::with_capacity(records);
    let mut request_ids = Vec::new();
    let mut trace_ids = Vec::new();
    let mut i: i64 = 0;
    while lines.len() < records {
        // Zipf-like: the first functions are invoked most.
        let f = FUNCTIONS[(rng.below(20) * rng.below(20) / 19) as usize];
        let request_id = format!(
            "{}-{}-4{}-{}-{}",
            hex(&mut rng, 8),
            hex(&mut rng, 4),
            hex(&mut rng, 3),
            hex(&mut rng, 4),
            hex(&mut rng, 12)
        );
        let trace_id = format!("1-{}-{}", hex(&mut rng, 8), hex(&mut rng, 24));
        let worker = format!("{f}-{}", rng.below(4));
        if i % 5003 == 17 {
            request_ids.push(request_id.clone());
            trace_ids.push(trace_id.clone());
        }
        let mut t = start_ns + span_ns.saturating_mul(i) / invocations;
        let mut line = |msg: String,
                        level: Option<&str>,
                        kind: &str,
                        extra: Option<(&str, String)>,
                        t: i64| {
            let mut v = json!({
                "ts": rfc3339(t),
                "message": msg,
                "function": f,
                "job": "lambda",
                "aws_request_id": request_id,
                "trace_id": trace_id,
                "worker": worker,
                "stream": if level == Some("ERROR") { "stderr" } else { "stdout" },
                "type": kind,
            });
            if let Some(obj) = v.as_object_mut() {
                if let Some(level) = level {
                    obj.insert("level".into(), Value::String(level.into()));
                }
                if let Some((k, val)) = extra {
                    obj.insert(k.into(), Value::String(val));
                }
            }
            lines.push(v);
        };
        line(
            format!("START RequestId: {request_id} Version: $LATEST"),
            Some("INFO"),
            "platform",
            None,
            t,
        );
        for _ in 0..rng.below(5) + 1 {
            t += rng.below(20_000_000) as i64;
            let n = rng.below(100_000);
            if rng.percent(2) {
                line(
                    "ERROR connection refused: db.internal:5432 (attempt 3 of 3)".into(),
                    Some("ERROR"),
                    "function",
                    Some(("error_code", "ECONNREFUSED".into())),
                    t,
                );
            } else if rng.percent(4) {
                line(
                    format!(
                        "WARN payment provider slow, retrying after timeout ({n} ms budget left)"
                    ),
                    Some("WARN"),
                    "function",
                    None,
                    t,
                );
            } else if rng.percent(50) {
                line(
                    format!("order {n} accepted for customer c-{}", rng.below(5000)),
                    Some("INFO"),
                    "function",
                    Some(("order_id", n.to_string())),
                    t,
                );
            } else {
                line(
                    format!(
                        "Processing event for customer c-{} with {} items",
                        rng.below(5000),
                        rng.below(20)
                    ),
                    None,
                    "function",
                    None,
                    t,
                );
            }
        }
        let duration_ms =
            (rng.below(300_000) as f64 / 100.0) * if rng.percent(5) { 10.0 } else { 1.0 };
        t += (duration_ms * 1e6) as i64;
        line(
            format!("END RequestId: {request_id}"),
            Some("INFO"),
            "platform",
            None,
            t,
        );
        line(
            format!(
                "REPORT RequestId: {request_id}\tDuration: {duration_ms:.2} ms\tBilled Duration: {} ms\tMemory Size: 128 MB\tMax Memory Used: {} MB",
                duration_ms.ceil(),
                40 + rng.below(60)
            ),
            Some("INFO"),
            "platform",
            None,
            t,
        );
        i += 1;
    }
    lines.truncate(records);
    let bodies = lines
        .chunks(batch)
        .map(|chunk| {
            let mut body = Vec::with_capacity(chunk.len() * 400);
            for v in chunk {
                body.extend_from_slice(v.to_string().as_bytes());
                body.push(b'\n');
            }
            body
        })
        .collect();
    Dataset {
        bodies,
        request_ids,
        trace_ids,
    }
}

// ---------------------------------------------------------------------------------------
// A minimal HTTP/1.1 keep-alive client: the point is the server's time, not a client's.

struct Client {
    conn: BufReader<TcpStream>,
}

struct Response {
    status: u16,
    rejected: usize,
    body: Vec<u8>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            conn: BufReader::new(stream),
        })
    }

    async fn send(&mut self, method: &str, target: &str, body: &[u8]) -> Result<Response> {
        let mut request = format!(
            "{method} {target} HTTP/1.1\r\nhost: bench\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        self.conn.get_mut().write_all(&request).await?;
        let mut line = String::new();
        self.conn.read_line(&mut line).await?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| BenchError::Http(format!("bad status line {line:?}")))?;
        let (mut length, mut chunked, mut rejected) = (0usize, false, 0usize);
        loop {
            line.clear();
            if self.conn.read_line(&mut line).await? == 0 {
                return Err(BenchError::Http("connection closed".into()));
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse().unwrap_or(0),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "x-esb-rejected-lines" => rejected = value.parse().unwrap_or(0),
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.conn.read_line(&mut line).await?;
                let size = usize::from_str_radix(line.trim(), 16)
                    .map_err(|_| BenchError::Http(format!("bad chunk size {line:?}")))?;
                let start = body.len();
                body.resize(start + size + 2, 0);
                self.conn.read_exact(&mut body[start..]).await?;
                body.truncate(start + size);
                if size == 0 {
                    break;
                }
            }
        } else {
            body.resize(length, 0);
            self.conn.read_exact(&mut body).await?;
        }
        Ok(Response {
            status,
            rejected,
            body,
        })
    }
}

// ---------------------------------------------------------------------------------------

fn pct(sorted: &[Duration], p: usize) -> f64 {
    sorted
        .get((sorted.len() * p / 100).min(sorted.len().saturating_sub(1)))
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

struct QueryResult {
    name: &'static str,
    example: String,
    records: usize,
    p50: f64,
    p90: f64,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("bench_store: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<()> {
    let o = Options::parse()?;
    let now_ns = esb_logs::http::now_ns();
    eprintln!("generating {} records...", o.records);
    let data = dataset(o.records, o.batch, now_ns);
    let dir = tempfile::tempdir()?;
    let store = Arc::new(Store::open(dir.path(), Retention::default())?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = esb_logs::http::router(Arc::clone(&store));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("server: {e}");
        }
    });

    // (a) Ingestion.
    eprintln!(
        "ingesting {} batches of {} with {} clients...",
        data.bodies.len(),
        o.batch,
        o.clients
    );
    let bodies = Arc::new(data.bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let target = "/insert/jsonline?_stream_fields=function,job&_msg_field=message&_time_field=ts";
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..o.clients {
        let (bodies, next) = (Arc::clone(&bodies), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(addr).await?;
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else {
                    return Ok::<_, BenchError>(latencies);
                };
                let t = Instant::now();
                let resp = client.send("POST", target, body).await?;
                latencies.push(t.elapsed());
                if resp.status != 200 || resp.rejected != 0 {
                    return Err(BenchError::Http(format!(
                        "insert: status {}, {} lines rejected: {}",
                        resp.status,
                        resp.rejected,
                        String::from_utf8_lossy(&resp.body)
                    )));
                }
            }
        }));
    }
    let mut batch_latencies = Vec::new();
    for t in tasks {
        batch_latencies.extend(
            t.await
                .map_err(|e| BenchError::Http(format!("client: {e}")))??,
        );
    }
    let ingest = started.elapsed();
    batch_latencies.sort();
    let stored = store.count()?;
    if stored != o.records as u64 {
        return Err(BenchError::Http(format!(
            "{stored} records stored, {} sent",
            o.records
        )));
    }
    let rate = o.records as f64 / ingest.as_secs_f64();
    let size = dir_bytes(dir.path());
    eprintln!(
        "ingested {} records in {:.1} s: {rate:.0} records/s; store {:.0} MB",
        o.records,
        ingest.as_secs_f64(),
        size as f64 / 1e6
    );

    // (b) Queries. Relative times (`_time:5m`) resolve against the query's now; the
    // newest record is at most a few seconds older than the start of the run.
    let mut client = Client::connect(addr).await?;
    type Make<'a> = Box<dyn Fn(usize) -> String + 'a>;
    let ids = &data.request_ids;
    let traces = &data.trace_ids;
    let pick =
        |list: &[String], i: usize| list.get(i % list.len().max(1)).cloned().unwrap_or_default();
    let queries: Vec<(&'static str, Make<'_>, usize)> = vec![
        (
            "request id lookup",
            Box::new(move |i| format!("aws_request_id:\"{}\"", pick(ids, i))),
            o.runs,
        ),
        (
            "trace id lookup",
            Box::new(move |i| format!("trace_id:\"{}\"", pick(traces, i))),
            o.runs,
        ),
        (
            "request id anywhere (word search)",
            Box::new(move |i| pick(ids, i + 7)),
            o.runs,
        ),
        (
            "word search (1% of records), first 10000",
            Box::new(|_| "refused".to_string()),
            o.runs,
        ),
        (
            "phrase search, limit",
            Box::new(|_| "\"connection refused\" | limit 100".to_string()),
            o.runs,
        ),
        (
            "stream, last 5 minutes",
            Box::new(|_| "_stream:{function=\"payments\"} _time:5m | limit 100".to_string()),
            o.runs,
        ),
        (
            "newest 100 (`esb logs --tail 100`)",
            Box::new(|_| "* | sort by (_time desc) | limit 100".to_string()),
            o.runs,
        ),
        (
            "level filter, newest 100",
            Box::new(|_| "level:ERROR | sort by (_time desc) | limit 100".to_string()),
            o.runs,
        ),
        (
            "level filter, limit",
            Box::new(|_| "level:WARN | limit 100".to_string()),
            o.runs,
        ),
        (
            "level and stream, newest 100",
            Box::new(|_| {
                "_stream:{function=\"checkout\"} level:ERROR | sort by (_time desc) | limit 100"
                    .to_string()
            }),
            o.runs,
        ),
        (
            "regex, limit",
            Box::new(|_| "~\"Duration: [0-9]{4}\\\\.\" | limit 100".to_string()),
            o.runs,
        ),
        (
            "regex matching nothing (reads every record)",
            Box::new(|_| "~\"no such [0-9]+ thing\"".to_string()),
            o.runs.min(5),
        ),
    ];
    let mut results = Vec::new();
    for (name, make, runs) in &queries {
        let mut samples = Vec::new();
        let mut records = 0;
        // One warm-up run, then the measured ones.
        for i in 0..=*runs {
            let query = make(i);
            let target = format!(
                "/select/logsql/query?query={}",
                utf8_percent_encode(&query, NON_ALPHANUMERIC)
            );
            let t = Instant::now();
            let resp = client.send("GET", &target, b"").await?;
            let took = t.elapsed();
            if resp.status != 200 {
                return Err(BenchError::Http(format!(
                    "{query}: status {}: {}",
                    resp.status,
                    String::from_utf8_lossy(&resp.body)
                )));
            }
            if i > 0 {
                samples.push(took);
                records = resp
                    .body
                    .split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .count();
            }
        }
        samples.sort();
        let r = QueryResult {
            name,
            example: make(1),
            records,
            p50: pct(&samples, 50),
            p90: pct(&samples, 90),
        };
        eprintln!(
            "{:<45} {:>6} records  p50 {:>8.2} ms  p90 {:>8.2} ms   {}",
            r.name, r.records, r.p50, r.p90, r.example
        );
        results.push(r);
    }

    // The section for docs/benchmarks.md.
    let mut out = String::new();
    let _ = writeln!(out, "## Log store\n");
    if !o.machine.is_empty() {
        let _ = writeln!(out, "{}", o.machine);
    }
    let _ = writeln!(
        out,
        "{} Lambda-like records (START, END and REPORT lines, plain and JSON application lines, \
         about 1% errors; 20 functions as stream label `function`, plus `job`; fields `level`, \
         `aws_request_id`, `trace_id`, `worker`, `stream`, `type`), spread over two hours, \
         POSTed as VictoriaLogs jsonline batches of {} lines by {} concurrent keep-alive clients \
         to `esb_logs::http::router` on a loopback port, into a fresh store (WAL, \
         synchronous=FULL, each batch acknowledged once committed). Then each query {} times \
         (after one warm-up) with GET /select/logsql/query, the answer read in full. \
         Clients, server and SQLite share the machine.",
        o.records, o.batch, o.clients, o.runs
    );
    let _ = writeln!(out, "Command: {}\n", o.command);
    let _ = writeln!(
        out,
        "| ingestion | records/s | seconds | batch p50 ms | batch p99 ms | store size MB | bytes/record |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        out,
        "| {} records over HTTP | {:.0} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} |\n",
        o.records,
        rate,
        ingest.as_secs_f64(),
        pct(&batch_latencies, 50),
        pct(&batch_latencies, 99),
        size as f64 / 1e6,
        size as f64 / o.records as f64
    );
    let _ = writeln!(
        out,
        "| query | example | records returned | p50 ms | p90 ms |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|");
    for r in &results {
        let example = r.example.replace('|', "\\|");
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {:.2} | {:.2} |",
            r.name, example, r.records, r.p50, r.p90
        );
    }
    print!("{out}");
    Ok(())
}
