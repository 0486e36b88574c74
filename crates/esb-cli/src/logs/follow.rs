//! `esb logs -f`: after the tail, every new record until Ctrl-C.
//!
//! Following polls for records at or after a cursor that trails the newest record
//! seen by [`LATE`], so a record that reaches the store a little after its time is
//! still shown; the records of that window are remembered (time, stream, message,
//! counted) so none is printed twice. New records are held back for [`HOLD`] and
//! printed in time order. When the box stops or starts again, following moves to
//! where the records now are.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use esb_state::StateDir;

use super::client::{Location, QueryError, Source, locate};
use super::line::{Key, Line};
use super::printer::Printer;
use super::query::rfc3339;

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
/// Consecutive failed polls before `-f` says the store does not answer.
const QUIET_FAILURES: u32 = 4;

/// `-f`: `work` runs on a thread while this one waits for Ctrl-C or SIGTERM, which
/// end the command at once with status 0, even in the middle of a slow query; `work`
/// is told through its flag.
pub(super) fn until_signal(
    work: impl FnOnce(&AtomicBool) -> Result<()> + Send + 'static,
) -> Result<()> {
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
                let _ = tx.send(work(&worker_stop));
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
pub(super) struct Follower {
    /// Every poll asks for records at or after this time.
    cursor: i64,
    /// Records at or after `cursor` already printed (identical ones counted).
    seen: HashMap<Key, usize>,
}

impl Follower {
    /// After the tail: `asked` records were asked for at `started`, `tail` came back.
    pub(super) fn new(started: i64, tail: &[Line], asked: usize, since: Option<i64>) -> Self {
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

    /// Prints the new records of `source` (at `location`) until `stop`, following them
    /// to wherever they are when the box stops or starts again.
    pub(super) fn run(
        mut self,
        state_dir: &StateDir,
        mut location: Location,
        source: Source,
        base: &str,
        printer: &Printer,
        stop: &AtomicBool,
    ) -> Result<()> {
        let store = state_dir.log_store();
        let mut out = std::io::stdout();
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
            let now = locate(state_dir);
            if now.location != location {
                match (&location, &now.location) {
                    (Location::Api(_), Location::Disk | Location::Nowhere) => {
                        eprintln!(
                            "esb: the box stopped; waiting for it to start again (Ctrl-C ends)"
                        );
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
                match self.poll(src, base, stop) {
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
