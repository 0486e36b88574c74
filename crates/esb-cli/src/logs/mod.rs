//! `esb logs`: the records of the box's log store, oldest first — every function's
//! output and platform lines (START, END, REPORT, timeouts) and the box's own
//! (gateway access and error logs), with their request ids; `-f` follows new ones
//! until Ctrl-C.
//!
//! The command decides what to ask (`query.rs`) and where (`client.rs`), prints the
//! latest records (`printer.rs`) and, with `-f`, hands on to `follow.rs`.

mod client;
mod follow;
mod line;
mod printer;
mod query;

use std::sync::atomic::AtomicBool;

use anyhow::{Result, anyhow, bail};
use clap::Args;
use esb_logs::collector::BOX_FUNCTION;
use esb_state::StateDir;

use crate::box_client::NotRunning;
use crate::project::ProjectArgs;
use client::{Location, Source};
use follow::Follower;
use line::Line;
use printer::{OutputClosed, Printer};

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
        follow::until_signal(move |stop| show(&args, stop))
    } else {
        show(&args, &AtomicBool::new(false))
    };
    match outcome {
        // `esb logs | head`: the reader has all it wanted.
        Err(e) if e.downcast_ref::<OutputClosed>().is_some() => Ok(()),
        other => other,
    }
}

/// The tail of the records, then (with `-f`) every new one until `stop`.
fn show(args: &LogsArgs, stop: &AtomicBool) -> Result<()> {
    let state_dir = StateDir::new(args.project.state_dir());
    let started = esb_logs::http::now_ns();
    let since = args
        .since
        .as_deref()
        .map(|s| query::parse_since(s, started))
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
    let base = query::base_filter(args.query.as_deref(), args.function.as_deref(), since);

    let found = client::locate(&state_dir);
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

    Follower::new(started, &tail, args.tail, since).run(
        &state_dir,
        found.location,
        source,
        &base,
        &printer,
        stop,
    )
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

#[cfg(test)]
mod tests {
    use super::line::sample as line;
    use super::*;

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
}
