//! `esb logs`: the records of the box's log store, oldest first — every function's
//! output and platform lines (START, END, REPORT, timeouts) and the box's own
//! (gateway access and error logs), with their request ids; `-f` follows new ones
//! until Ctrl-C.
//!
//! Records come from the running box's VictoriaLogs API (`logs_url` in
//! `<state>/box.json`), queried with LogsQL. When no box runs, the embedded store on
//! disk (`<state>/logs/store`) is read directly (SQLite WAL lets a reader in beside a
//! writer), so the logs of a stopped or crashed box stay readable.
//!
//! Following polls for records at or after a cursor that trails the newest record
//! seen by [`LATE`], so a record that reaches the store a little after its time is
//! still shown; the records of that window are remembered (time, stream, message,
//! counted) so none is printed twice. New records are held back for [`HOLD`] and
//! printed in time order.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use esb_state::StateDir;

use crate::box_client::NotRunning;
use crate::project::ProjectArgs;

/// The `function` label of the box's own records (gateway access and error logs).
const BOX_FUNCTION: &str = "esb-gateway";
/// How often `-f` asks the store for new records.
const POLL: Duration = Duration::from_millis(500);
/// How late (ns) a record may reach the store, after the newest one seen, and still be
/// shown by `-f`.
const LATE: i64 = 5_000_000_000;
/// How long `-f` holds a new record back, so that records shipped a little apart
/// (a function's lines, the gateway's access line) are printed in time order.
const HOLD: Duration = Duration::from_secs(1);
/// Records per query while following; more are fetched page by page.
const PAGE: usize = 5_000;
/// Longest wait for one answer of the log store.
const QUERY_TIMEOUT: Duration = Duration::from_secs(60);
/// Consecutive failed polls before `-f` says the store does not answer.
const QUIET_FAILURES: u32 = 4;
/// Widest function column; longer names push the line to the right.
const MAX_FUNCTION_WIDTH: usize = 24;

#[derive(Args)]
#[command(after_help = "Examples:\n  \
    esb logs                          the last 100 records of every function and the box\n  \
    esb logs hello -f                 hello's records, then new ones as they come (Ctrl-C ends)\n  \
    esb logs --since 1h --tail 1000   up to 1000 records of the last hour\n  \
    esb logs --since 2026-11-29T08:00:00Z\n  \
    esb logs --query 'level:in(ERROR, FATAL)'\n  \
    esb logs --query 'aws_request_id:=8f5c0bd2-1c3e-4a7b-9f0e-3f1d2c4b5a69'\n  \
    esb logs esb-gateway              the box's own records (access and error logs)\n  \
    esb logs --json | jq -r ._msg\n\n\
Each line: TIME (UTC) FUNCTION LEVEL [REQUEST ID, first 8 characters] MESSAGE.\n\
--query takes LogsQL (docs/logs.md); the records' fields: level, aws_request_id,\n\
trace_id, worker, stream (stdout|stderr), type (function|platform|access|error).\n\
Without a running box, the logs kept on disk (.esb/logs/store) are read.\n\n\
Exit status: 0 success (Ctrl-C while following too), 1 a refused query or an\n\
unreachable store, 3 no box runs and no logs are on disk.")]
pub struct LogsArgs {
    /// Only this function's records (`esb-gateway`: the box's own).
    pub function: Option<String>,
    /// After the last records, print new ones as they arrive, until Ctrl-C.
    #[arg(long, short)]
    pub follow: bool,
    /// Only records from this far back (10m, 1h30m, 2d) or since this time
    /// (2026-11-29T08:00:00Z).
    #[arg(long, value_name = "DURATION|TIME")]
    pub since: Option<String>,
    /// How many of the latest records to print (0: none; with -f, only new ones).
    #[arg(long, short = 'n', value_name = "N", default_value_t = 100)]
    pub tail: usize,
    /// Print the store's JSON lines unchanged, one record per line (for jq).
    #[arg(long)]
    pub json: bool,
    /// A LogsQL filter the records must also match (`level:ERROR`, `timeout`,
    /// `aws_request_id:=ID`).
    #[arg(long, value_name = "LOGSQL")]
    pub query: Option<String>,
    #[command(flatten)]
    pub project: ProjectArgs,
}

pub fn run(args: LogsArgs) -> Result<()> {
    let outcome = if args.follow {
        follow(args)
    } else {
        show(&args, &AtomicBool::new(false))
    };
    match outcome {
        // `esb logs | head`: the reader has all it wanted.
        Err(e) if e.downcast_ref::<OutputClosed>().is_some() => Ok(()),
        other => other,
    }
}

/// `-f`: everything runs on a thread while this one waits for Ctrl-C or SIGTERM, which
/// end the command at once with status 0, even in the middle of a slow query.
fn follow(args: LogsArgs) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the signal handler")?;
    let worker_stop = Arc::clone(&stop);
    let outcome = runtime.block_on(async move {
        let signal = crate::signals::shutdown_signal();
        tokio::pin!(signal);
        // Poll once so the handlers are installed before anything is printed.
        tokio::select! {
            biased;
            () = &mut signal => return None,
            () = std::future::ready(()) => {}
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let worker = std::thread::Builder::new()
            .name("esb-logs".into())
            .spawn(move || {
                let _ = tx.send(show(&args, &worker_stop));
            });
        if let Err(e) = worker {
            return Some(Err(anyhow!(e).context("cannot start following")));
        }
        tokio::select! {
            done = rx => Some(done.unwrap_or_else(|_| Err(anyhow!("following the logs failed")))),
            () = &mut signal => None,
        }
    });
    match outcome {
        Some(result) => result,
        None => {
            stop.store(true, Ordering::SeqCst);
            // A line being written is finished; a query in flight is abandoned.
            std::thread::sleep(Duration::from_millis(100));
            let _ = std::io::stdout().flush();
            Ok(())
        }
    }
}

/// The tail of the records, then (with `-f`) every new one until `stop`.
fn show(args: &LogsArgs, stop: &AtomicBool) -> Result<()> {
    let state_dir = StateDir::new(args.project.state_dir());
    let started = esb_logs::http::now_ns();
    let since = args
        .since
        .as_deref()
        .map(|s| parse_since(s, started))
        .transpose()?;
    let functions = template_functions(&args.project);
    if let (Some(name), Some(known)) = (&args.function, &functions)
        && name != BOX_FUNCTION
        && !known.contains(name)
    {
        let list = if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        };
        eprintln!(
            "esb: warning: the template {} defines no function {name:?}; its functions: \
             {list} ({BOX_FUNCTION}: the box's own records)",
            args.project.template.display()
        );
    }
    let base = base_filter(args.query.as_deref(), args.function.as_deref(), since);

    let found = locate(&state_dir);
    let store = state_dir.log_store();
    let source = match &found.location {
        Location::Api(url) => Source::api(url)?,
        Location::Disk => {
            if found.box_runs {
                eprintln!(
                    "esb: the box serves no log store API (--logs-listen off); reading {}",
                    store.display()
                );
            } else {
                eprintln!(
                    "esb: no box is running; reading the logs kept in {}",
                    store.display()
                );
            }
            Source::disk(&store)?
        }
        Location::Nowhere if found.box_runs => bail!(
            "the box of {} serves no log store API (--logs-listen off) and no logs are \
             kept in {}",
            state_dir.root().display(),
            store.display()
        ),
        Location::Nowhere => {
            return Err(anyhow!(NotRunning(state_dir.root().display().to_string()))
                .context(format!("no logs in {}", store.display())));
        }
    };

    let tail = if args.tail == 0 {
        Vec::new()
    } else {
        let query = format!("{base} | sort by (_time desc) | limit {}", args.tail);
        oldest_first(source.query(&query)?)
    };
    let printer = Printer::new(args.json, &tail, functions.as_deref(), since, started);
    let mut out = std::io::stdout();
    for line in &tail {
        printer.emit(&mut out, line)?;
    }
    if !args.follow {
        if tail.is_empty() && args.tail > 0 {
            eprintln!("esb: no records match");
        }
        return Ok(());
    }

    let mut follower = Follower::new(started, &tail, args.tail, since);
    let mut location = found.location;
    let mut source = Some(source);
    let mut failures = 0u32;
    let mut held = Held::default();
    loop {
        if pause(POLL, stop) {
            // Ctrl-C: what is held back is printed before the end.
            for line in held.release(true) {
                printer.emit(&mut out, &line)?;
            }
            return Ok(());
        }
        let now = locate(&state_dir);
        if now.location != location {
            match (&location, &now.location) {
                (Location::Api(_), Location::Disk | Location::Nowhere) => {
                    eprintln!("esb: the box stopped; waiting for it to start again (Ctrl-C ends)");
                }
                (_, Location::Api(url)) => eprintln!("esb: following the box's logs at {url}"),
                _ => {}
            }
            source = match &now.location {
                Location::Api(url) => Source::api(url).ok(),
                Location::Disk => Source::disk(&store).ok(),
                Location::Nowhere => None,
            };
            location = now.location;
            failures = 0;
        }
        if let Some(src) = &source {
            match follower.poll(src, &base, stop) {
                Ok(lines) => {
                    failures = 0;
                    held.add(lines);
                }
                Err(e @ QueryError::Refused(_)) => return Err(e.into()),
                Err(e) => {
                    failures += 1;
                    if failures == QUIET_FAILURES {
                        eprintln!("esb: {e}; still trying (Ctrl-C ends)");
                    }
                }
            }
        }
        for line in held.release(false) {
            printer.emit(&mut out, &line)?;
        }
    }
}

/// New records not printed yet.
#[derive(Default)]
struct Held {
    lines: Vec<(Line, Instant)>,
}

impl Held {
    fn add(&mut self, lines: Vec<Line>) {
        let now = Instant::now();
        self.lines.extend(lines.into_iter().map(|l| (l, now)));
    }

    /// The records due (all of them with `all`), oldest first: those at least [`HOLD`]
    /// old, and those held that long (a clock ahead of this one).
    fn release(&mut self, all: bool) -> Vec<Line> {
        let hold_ns = i64::try_from(HOLD.as_nanos()).unwrap_or(i64::MAX);
        let due_before = esb_logs::http::now_ns().saturating_sub(hold_ns);
        let (mut due, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.lines)
            .into_iter()
            .partition(|(line, since)| {
                all || since.elapsed() >= HOLD || line.time_ns.is_none_or(|t| t <= due_before)
            });
        self.lines = kept;
        due.sort_by_key(|(line, _)| line.time_ns);
        due.into_iter().map(|(line, _)| line).collect()
    }
}

/// `_time:>=` the start `--since` names: a duration back from now, or a time.
fn parse_since(text: &str, now_ns: i64) -> Result<i64> {
    let invalid = || {
        format!(
            "invalid --since {text:?}: expected a duration back from now (10m, 1h30m, 2d) or \
             a time (2026-11-29T08:00:00Z)"
        )
    };
    let text = text.trim();
    // One LogsQL time value, nothing that would turn it into more of a query.
    if text.is_empty()
        || text
            .chars()
            .any(|c| c.is_whitespace() || "()[]{}|,;#\"'`".contains(c))
    {
        bail!(invalid());
    }
    let query = esb_logs::logsql::parse(&format!("_time:{text}"), now_ns).with_context(invalid)?;
    match query.filter {
        esb_logs::logsql::Filter::Time {
            start: Some(start), ..
        } => Ok(start),
        _ => bail!(invalid()),
    }
}

/// The functions of the template, as found the usual way; `None` when it cannot be
/// read (the name check is then skipped).
fn template_functions(project: &ProjectArgs) -> Option<Vec<String>> {
    let opts = esb_template::LoadOptions {
        parameter_overrides: project.parameter_overrides.clone(),
        region: project.region.clone(),
        stack_name: crate::project::stack_name(&project.template),
        ..esb_template::LoadOptions::default()
    };
    let template = esb_template::load(&project.template, &opts).ok()?;
    Some(template.functions.iter().map(|f| f.name.clone()).collect())
}

/// The LogsQL filter of the records asked for (without pipes).
fn base_filter(query: Option<&str>, function: Option<&str>, since: Option<i64>) -> String {
    let mut parts = Vec::new();
    if let Some(q) = query.filter(|q| !q.trim().is_empty()) {
        // Parenthesised so that its OR binds inside; a newline ends a `#` comment.
        let end = if q.contains('#') { "\n)" } else { ")" };
        parts.push(format!("({q}{end}"));
    }
    if let Some(f) = function {
        parts.push(format!("_stream:{{function={}}}", quote(f)));
    }
    if let Some(ns) = since {
        parts.push(format!("_time:>={}", rfc3339(ns)));
    }
    if parts.is_empty() {
        "*".into()
    } else {
        parts.join(" ")
    }
}

/// A LogsQL string literal (Go escapes, which JSON's are a subset of).
fn quote(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

fn rfc3339(ns: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

/// Where the records of a state dir are.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Location {
    /// The running box's log store API.
    Api(String),
    /// The embedded store on disk.
    Disk,
    Nowhere,
}

struct Found {
    location: Location,
    box_runs: bool,
}

fn locate(state_dir: &StateDir) -> Found {
    let running = crate::box_state::read(state_dir);
    let box_runs = running.is_some();
    let location = match running.and_then(|s| s.logs_url) {
        Some(url) => Location::Api(url.trim_end_matches('/').to_string()),
        None if state_dir.log_store().join("logs.sqlite").is_file() => Location::Disk,
        None => Location::Nowhere,
    };
    Found { location, box_runs }
}

/// An open log store.
enum Source {
    Api {
        url: String,
        http: reqwest::blocking::Client,
    },
    Disk(Box<esb_logs::Store>),
}

#[derive(Debug, thiserror::Error)]
enum QueryError {
    #[error("the log store at {url} does not answer: {reason}")]
    Unreachable { url: String, reason: String },
    /// The query is wrong (HTTP 400): following it again cannot help.
    #[error("the log store refused the query: {0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
}

impl Source {
    fn api(url: &str) -> Result<Self> {
        let mut builder = reqwest::blocking::Client::builder().timeout(QUERY_TIMEOUT);
        let loopback = ["http://127.", "http://localhost", "http://[::1]"];
        if loopback.iter().any(|p| url.starts_with(p)) {
            builder = builder.no_proxy();
        }
        let http = builder.build().context("cannot build an HTTP client")?;
        Ok(Self::Api {
            url: url.to_string(),
            http,
        })
    }

    fn disk(dir: &Path) -> Result<Self> {
        let store = esb_logs::Store::open(dir, esb_logs::Retention::default())
            .with_context(|| format!("cannot open the log store in {}", dir.display()))?;
        Ok(Self::Disk(Box::new(store)))
    }

    /// The records `query` selects, in the order the store answers them.
    fn query(&self, query: &str) -> Result<Vec<Line>, QueryError> {
        match self {
            Self::Api { url, http } => {
                let unreachable = |e: reqwest::Error| QueryError::Unreachable {
                    url: url.clone(),
                    reason: causes(&e),
                };
                let resp = http
                    .post(format!("{url}/select/logsql/query"))
                    .form(&[("query", query)])
                    .send()
                    .map_err(unreachable)?;
                let status = resp.status();
                let body = resp.text().map_err(unreachable)?;
                if status == reqwest::StatusCode::BAD_REQUEST {
                    return Err(QueryError::Refused(body.trim().to_string()));
                }
                if !status.is_success() {
                    return Err(QueryError::Failed(format!(
                        "the log store at {url} answered {status}: {}",
                        body.trim()
                    )));
                }
                Ok(body
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(Line::from_json)
                    .collect())
            }
            Self::Disk(store) => {
                let parsed =
                    esb_logs::logsql::parse(query, esb_logs::http::now_ns()).map_err(|e| {
                        QueryError::Refused(format!("cannot parse query [{query}]: {e}"))
                    })?;
                let records = store
                    .query(&parsed)
                    .map_err(|e| QueryError::Failed(e.to_string()))?;
                Ok(records.iter().map(Line::from_record).collect())
            }
        }
    }
}

/// An error and its causes on one line.
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// The store answers newest first for a tail; records of the same time stay in the
/// order they were stored.
fn oldest_first(mut lines: Vec<Line>) -> Vec<Line> {
    lines.reverse();
    let mut start = 0;
    while start < lines.len() {
        let mut end = start + 1;
        while end < lines.len() && lines[end].time_ns == lines[start].time_ns {
            end += 1;
        }
        if let Some(run) = lines.get_mut(start..end) {
            run.reverse();
        }
        start = end;
    }
    lines
}

/// One record: the store's JSON line as it came, and its fields.
struct Line {
    raw: String,
    fields: Map<String, Value>,
    time_ns: Option<i64>,
}

/// What tells two records apart while following: time, stream, message.
type Key = (i64, String, String);

impl Line {
    fn from_json(raw: &str) -> Self {
        let fields = serde_json::from_str::<Map<String, Value>>(raw).unwrap_or_default();
        let time_ns = fields
            .get("_time")
            .and_then(Value::as_str)
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
            .and_then(|t| i64::try_from(t.unix_timestamp_nanos()).ok());
        Self {
            raw: raw.to_string(),
            fields,
            time_ns,
        }
    }

    fn from_record(r: &esb_logs::Record) -> Self {
        let json = esb_logs::http::to_json(r);
        Self {
            raw: json.to_string(),
            fields: match json {
                Value::Object(map) => map,
                _ => Map::new(),
            },
            time_ns: Some(r.time_ns),
        }
    }

    fn text(&self, name: &str) -> Option<String> {
        match self.fields.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// The `function` label (a field in the answer, else read from `_stream`).
    fn function(&self) -> Option<String> {
        self.text("function")
            .or_else(|| stream_label(&self.text("_stream")?, "function"))
    }

    fn key(&self) -> Option<Key> {
        Some((
            self.time_ns?,
            self.text("_stream").unwrap_or_default(),
            self.text("_msg").unwrap_or_default(),
        ))
    }
}

/// A label of a `_stream` value such as `{function="echo",job="lambda"}`.
fn stream_label(stream: &str, label: &str) -> Option<String> {
    let inner = stream.trim().strip_prefix('{')?;
    let mut rest = inner;
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        let (name, after) = rest.split_once('=')?;
        let mut values = serde_json::Deserializer::from_str(after).into_iter::<String>();
        let value = values.next()?.ok()?;
        if name.trim() == label {
            return Some(value);
        }
        rest = after.get(values.byte_offset()..)?;
    }
}

/// How records are printed.
struct Printer {
    json: bool,
    colour: bool,
    dates: bool,
    width: usize,
}

const RESET: &str = "\u{1b}[0m";
const DIM: &str = "\u{1b}[2m";
const RED: &str = "\u{1b}[31m";
const YELLOW: &str = "\u{1b}[33m";
const CYAN: &str = "\u{1b}[36m";

/// Standard output has been closed by its reader (`esb logs | head`).
#[derive(Debug, thiserror::Error)]
#[error("standard output is closed")]
struct OutputClosed;

impl Printer {
    fn new(
        json: bool,
        tail: &[Line],
        functions: Option<&[String]>,
        since: Option<i64>,
        now_ns: i64,
    ) -> Self {
        let colour = std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let day = |ns: i64| {
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
                .ok()
                .map(OffsetDateTime::date)
        };
        // Dates are printed when the records may span days.
        let today = day(now_ns);
        let dates = since.is_some_and(|s| day(s) != today)
            || tail
                .first()
                .and_then(|l| l.time_ns)
                .is_some_and(|ns| day(ns) != today);
        let width = functions
            .into_iter()
            .flatten()
            .map(String::len)
            .chain(tail.iter().filter_map(|l| l.function().map(|f| f.len())))
            .max()
            .unwrap_or(0)
            .clamp(4, MAX_FUNCTION_WIDTH);
        Self {
            json,
            colour,
            dates,
            width,
        }
    }

    fn emit(&self, out: &mut impl Write, line: &Line) -> Result<()> {
        let mut text = if self.json {
            line.raw.clone()
        } else {
            self.format(line)
        };
        text.push('\n');
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(OutputClosed.into()),
            other => other.context("cannot write to standard output"),
        }
    }

    /// `TIME FUNCTION LEVEL [REQUEST] MESSAGE`.
    fn format(&self, line: &Line) -> String {
        let time = match line
            .time_ns
            .and_then(|ns| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns)).ok())
        {
            Some(t) if self.dates => format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.millisecond()
            ),
            Some(t) => format!(
                "{:02}:{:02}:{:02}.{:03}",
                t.hour(),
                t.minute(),
                t.second(),
                t.millisecond()
            ),
            None => line.text("_time").unwrap_or_else(|| "-".into()),
        };
        let function = line.function().unwrap_or_else(|| "-".into());
        let level = line
            .text("level")
            .map(|l| l.to_ascii_uppercase())
            .unwrap_or_default();
        let request = line
            .text("aws_request_id")
            .filter(|r| !r.is_empty())
            .map(|r| format!("{} ", r.chars().take(8).collect::<String>()))
            .unwrap_or_default();
        // Lambda's runtimes end the lines of one record with \r (a stack trace, say).
        let msg = line
            .text("_msg")
            .unwrap_or_default()
            .replace("\r\n", "\n")
            .replace('\r', "\n");
        let msg = msg.strip_suffix('\n').unwrap_or(&msg);
        let width = self.width;
        if !self.colour {
            return format!("{time} {function:<width$} {level:<5} {request}{msg}");
        }
        if line.text("type").as_deref() == Some("platform") {
            return format!("{DIM}{time} {function:<width$} {level:<5} {request}{msg}{RESET}");
        }
        let level_colour = match level.as_str() {
            "ERROR" | "FATAL" | "CRITICAL" => RED,
            "WARN" | "WARNING" => YELLOW,
            "DEBUG" | "TRACE" => DIM,
            _ => "",
        };
        let level = if level_colour.is_empty() {
            format!("{level:<5}")
        } else {
            format!("{level_colour}{level:<5}{RESET}")
        };
        format!("{time} {CYAN}{function:<width$}{RESET} {level} {request}{msg}")
    }
}

/// Sleeps for `d` unless `stop` is set first; whether it was.
fn pause(d: Duration, stop: &AtomicBool) -> bool {
    let end = Instant::now() + d;
    loop {
        if stop.load(Ordering::SeqCst) {
            return true;
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// What `-f` has printed of the window it looks at again on every poll.
struct Follower {
    /// Every poll asks for records at or after this time.
    cursor: i64,
    /// Records at or after `cursor` already printed (identical ones counted).
    seen: HashMap<Key, usize>,
}

impl Follower {
    /// After the tail: `asked` records were asked for at `started`, `tail` came back.
    fn new(started: i64, tail: &[Line], asked: usize, since: Option<i64>) -> Self {
        let mut cursor = started.saturating_sub(LATE);
        if tail.len() >= asked {
            // A full tail: anything older than its first record was left out on purpose.
            let first = tail.first().and_then(|l| l.time_ns).unwrap_or(started);
            cursor = cursor.max(first);
        }
        if let Some(s) = since {
            cursor = cursor.max(s);
        }
        let mut seen = HashMap::new();
        for key in tail.iter().filter_map(Line::key) {
            if key.0 >= cursor {
                *seen.entry(key).or_insert(0) += 1;
            }
        }
        Self { cursor, seen }
    }

    /// The records that arrived since the last poll, oldest first.
    fn poll(
        &mut self,
        source: &Source,
        base: &str,
        stop: &AtomicBool,
    ) -> Result<Vec<Line>, QueryError> {
        let mut fresh = Vec::new();
        let mut from = self.cursor;
        loop {
            let query = format!(
                "{base} _time:>={} | sort by (_time) | limit {PAGE}",
                rfc3339(from)
            );
            let lines = source.query(&query)?;
            let full = lines.len() >= PAGE;
            let mut counts: HashMap<Key, usize> = HashMap::new();
            let mut last = from;
            for line in lines {
                let Some(key) = line.key() else { continue };
                last = last.max(key.0);
                let count = counts.entry(key.clone()).or_insert(0);
                *count += 1;
                let seen = self.seen.entry(key).or_insert(0);
                if *count > *seen {
                    *seen = *count;
                    fresh.push(line);
                }
            }
            if !full || stop.load(Ordering::SeqCst) {
                break;
            }
            // The next page; a page of one instant only moves on past it.
            from = if last > from { last } else { from + 1 };
        }
        if let Some(newest) = self.seen.keys().map(|k| k.0).max() {
            self.cursor = self.cursor.max(newest.saturating_sub(LATE));
        }
        let cursor = self.cursor;
        self.seen.retain(|k, _| k.0 >= cursor);
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(time: &str, stream: &str, msg: &str) -> Line {
        Line::from_json(
            &serde_json::json!({"_time": time, "_stream": stream, "_msg": msg}).to_string(),
        )
    }

    #[test]
    fn filters_are_anded_and_quoted() {
        assert_eq!(base_filter(None, None, None), "*");
        assert_eq!(
            base_filter(Some("a OR b"), Some("we\"ird"), Some(0)),
            "(a OR b) _stream:{function=\"we\\\"ird\"} _time:>=1970-01-01T00:00:00Z"
        );
        let q = base_filter(Some("x # comment"), Some("echo"), None);
        assert!(esb_logs::logsql::parse(&q, 0).is_ok(), "{q}");
    }

    #[test]
    fn since_takes_durations_and_times() {
        let now = 1_800_000_000_000_000_000;
        assert_eq!(parse_since("10m", now).ok(), Some(now - 600_000_000_000));
        assert_eq!(
            parse_since("2026-11-29T08:00:00Z", now).ok(),
            Some(1_795_939_200_000_000_000)
        );
        for bad in ["", "soon", "10m OR *", "1h)"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn stream_labels_are_read() {
        let s = r#"{function="a \"b\"",job="lambda"}"#;
        assert_eq!(stream_label(s, "function").as_deref(), Some("a \"b\""));
        assert_eq!(stream_label(s, "job").as_deref(), Some("lambda"));
        assert_eq!(stream_label(s, "x"), None);
    }

    #[test]
    fn tail_is_oldest_first_keeping_ties_in_store_order() {
        let lines = vec![
            line("2026-01-01T00:00:02Z", "{}", "c"),
            line("2026-01-01T00:00:01Z", "{}", "a"),
            line("2026-01-01T00:00:01Z", "{}", "b"),
        ];
        let msgs: Vec<String> = oldest_first(lines)
            .iter()
            .filter_map(|l| l.text("_msg"))
            .collect();
        assert_eq!(msgs, ["a", "b", "c"]);
    }

    #[test]
    fn printed_lines_have_time_function_level_request_and_message() {
        let p = Printer {
            json: false,
            colour: false,
            dates: false,
            width: 6,
        };
        let l = Line::from_json(
            &serde_json::json!({
                "_time": "2026-11-29T08:00:01.234567891Z",
                "_stream": "{function=\"echo\",job=\"lambda\"}",
                "_msg": "hello\nworld",
                "level": "info",
                "aws_request_id": "1234567890abcdef",
            })
            .to_string(),
        );
        assert_eq!(
            p.format(&l),
            "08:00:01.234 echo   INFO  12345678 hello\nworld"
        );
        let trace = line(
            "2026-11-29T08:00:01Z",
            "{function=\"echo\"}",
            "[ERROR] boom\rTraceback:\r  line 1\n",
        );
        assert_eq!(
            p.format(&trace),
            "08:00:01.000 echo         [ERROR] boom\nTraceback:\n  line 1"
        );
    }
}
