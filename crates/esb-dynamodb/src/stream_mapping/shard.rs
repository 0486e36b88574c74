//! Reading one shard: records in order, gathered into batches (up to `BatchSize`,
//! `MaximumBatchingWindowInSeconds`, 6 MB), filtered, and handed to the function one
//! batch at a time. One batch in flight per shard keeps the order of each item's
//! changes, which a shard holds in order.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::batch::{self, Handled};
use super::context::{Backoff, StreamCtx, is_stopped, or_stop, sleep};
use super::event::{self, Entry, MAX_PAYLOAD_BYTES};
use super::spec::{Source, Timing};
use super::status;
use super::streams_api::{self, Position, TableStream};
use crate::client::CallError;

/// `GetRecords`' own limit on `Limit`.
const MAX_RECORDS_PER_READ: usize = 1000;

/// How reading a shard ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ShardEnd {
    /// A closed shard read to its end and handled: its children may start.
    Finished,
    /// Told to stop.
    Stopped,
    /// The stream is gone (its table deleted, its stream disabled).
    Gone,
    /// The table has another stream now (it was recreated).
    Replaced,
}

/// Records read but not yet handled.
#[derive(Default)]
struct Pending {
    entries: VecDeque<Entry>,
    /// How many of them the filters let through.
    matched: usize,
    /// The size of the event those would make.
    bytes: usize,
    /// When the oldest of those was read: the batching window runs from there.
    since: Option<Instant>,
}

impl Pending {
    fn push(&mut self, entry: Entry) {
        if entry.matched {
            self.bytes += event::added_bytes(&entry, self.matched);
            self.matched += 1;
            self.since.get_or_insert_with(Instant::now);
        }
        self.entries.push_back(entry);
    }

    fn clear(&mut self) {
        *self = Self::default();
    }

    fn wants_more(&self, batch_size: usize) -> bool {
        self.matched < batch_size && self.bytes < MAX_PAYLOAD_BYTES
    }

    /// Whether a batch goes now: it is full, its window is over, the shard has
    /// nothing more, or it has only filtered records (checkpointed at once).
    fn ready(&self, batch_size: usize, window: Duration, closed: bool) -> bool {
        !self.entries.is_empty()
            && (self.matched == 0
                || !self.wants_more(batch_size)
                || closed
                || self.since.is_none_or(|t| t.elapsed() >= window))
    }

    /// When the batching window of what is pending ends.
    fn window_left(&self, window: Duration) -> Option<Duration> {
        self.since.map(|t| window.saturating_sub(t.elapsed()))
    }

    /// Takes the next batch: up to `batch_size` records the filters let through and
    /// that fit in 6 MB, with the filtered records among and right after them.
    /// Returns those records and the sequence number to checkpoint once they are
    /// handled (the last record taken, filtered or not).
    fn take(&mut self, batch_size: usize) -> (Vec<Entry>, Option<String>) {
        let mut batch = Vec::new();
        let mut bytes = event::empty_payload_bytes();
        let mut last = None;
        while let Some(front) = self.entries.front() {
            if front.matched {
                let added = event::added_bytes(front, batch.len());
                if batch.len() >= batch_size
                    || (!batch.is_empty() && bytes + added > MAX_PAYLOAD_BYTES)
                {
                    break;
                }
                bytes += added;
            }
            let Some(entry) = self.entries.pop_front() else {
                break;
            };
            last = Some(entry.sequence_number.clone());
            if entry.matched {
                batch.push(entry);
            }
        }
        let since = self.since;
        let rest = std::mem::take(&mut self.entries);
        self.clear();
        for e in rest {
            self.push(e);
        }
        if self.matched > 0 {
            // What is left has waited since the batch it did not fit in.
            self.since = since;
        }
        (batch, last)
    }
}

/// Reads `shard` of the stream until it is finished, the stream is gone, or `stop`.
pub(super) async fn run(
    ctx: Arc<StreamCtx>,
    shard: String,
    mut stop: watch::Receiver<bool>,
) -> ShardEnd {
    let spec = &ctx.mapping.spec;
    let timing = &spec.timing;
    let batch_size = spec.batch_size.max(1);
    let mut errors = Backoff::new(
        timing.retry_backoff,
        timing.retry_backoff_max.max(timing.poll_interval),
    );
    let mut pending = Pending::default();
    let mut iterator = match open(&ctx, &shard, &mut stop, timing).await {
        Ok(Some(it)) => Some(it),
        Ok(None) => return ShardEnd::Finished,
        Err(end) => return end,
    };
    loop {
        if is_stopped(&stop) {
            return ShardEnd::Stopped;
        }
        let mut read_full = false;
        if let Some(it) = iterator
            .as_deref()
            .filter(|_| pending.wants_more(batch_size))
        {
            let limit = (batch_size - pending.matched).clamp(1, MAX_RECORDS_PER_READ);
            let read = or_stop(
                &mut stop,
                streams_api::records(&ctx.mapping.client, it, limit),
            )
            .await;
            let Some(read) = read else {
                return ShardEnd::Stopped;
            };
            match read {
                Ok((records, next)) => {
                    errors.reset();
                    read_full = records.len() >= limit;
                    let newest = records.len();
                    for raw in records {
                        match Entry::new(
                            raw,
                            &ctx.stream_arn,
                            &ctx.mapping.region,
                            &ctx.mapping.filters,
                        ) {
                            Ok(entry) => pending.push(entry),
                            Err(why) => {
                                tracing::warn!(service = "dynamodb", event = %spec.event_name, %shard, "skipping a stream record: {why}")
                            }
                        }
                    }
                    let age = (newest > 0)
                        .then(|| pending.entries.back())
                        .flatten()
                        .map(|e| {
                            status::now_ms()
                                .saturating_sub(u64::try_from(e.created_s).unwrap_or(0) * 1000)
                        });
                    status::update(&ctx.mapping.status, |s| {
                        s.last_poll_ms = Some(status::now_ms());
                        s.last_error = None;
                        if let Some(age) = age {
                            s.iterator_age_ms = Some(age);
                        } else if pending.entries.is_empty() {
                            s.iterator_age_ms = Some(0);
                        }
                    });
                    iterator = next;
                }
                Err(e)
                    if e.is("ExpiredIteratorException") || e.is("TrimmedDataAccessException") =>
                {
                    // Read again from the checkpoint: what was pending is read again.
                    tracing::debug!(service = "dynamodb", %shard, "iterator no longer valid: {e}");
                    pending.clear();
                    iterator = match open(&ctx, &shard, &mut stop, timing).await {
                        Ok(Some(it)) => Some(it),
                        Ok(None) => return ShardEnd::Finished,
                        Err(end) => return end,
                    };
                    continue;
                }
                Err(e) if e.is("ResourceNotFoundException") => return ShardEnd::Gone,
                Err(e) => {
                    api_error(&ctx, &shard, "GetRecords", &e);
                    if sleep(&mut stop, errors.next_wait()).await {
                        return ShardEnd::Stopped;
                    }
                    continue;
                }
            }
        }
        if pending.ready(batch_size, spec.maximum_batching_window, iterator.is_none()) {
            if pending.matched > 0 && replaced(&ctx).await {
                return ShardEnd::Replaced;
            }
            let (records, last) = pending.take(batch_size);
            if batch::handle(&ctx, &shard, records, &mut stop).await == Handled::Stopped {
                return ShardEnd::Stopped;
            }
            if let Some(last) = last {
                batch::checkpoint(&ctx, &shard, &last).await;
            }
            continue;
        }
        if iterator.is_none() && pending.entries.is_empty() {
            return ShardEnd::Finished;
        }
        let mut wait = if read_full {
            Duration::ZERO
        } else {
            timing.poll_interval
        };
        if let Some(left) = pending.window_left(spec.maximum_batching_window) {
            wait = wait.min(left);
        }
        if sleep(&mut stop, wait).await {
            return ShardEnd::Stopped;
        }
    }
}

/// An iterator where the shard's checkpoint says to start: after the last handled
/// record, else at LATEST (the mapping's first start) or the trim horizon. A
/// checkpoint older than the stream's retention starts at the trim horizon (those
/// records are gone: nothing can deliver them).
async fn open(
    ctx: &StreamCtx,
    shard: &str,
    stop: &mut watch::Receiver<bool>,
    timing: &Timing,
) -> Result<Option<String>, ShardEnd> {
    let mut errors = Backoff::new(
        timing.retry_backoff,
        timing.retry_backoff_max.max(timing.poll_interval),
    );
    let saved = ctx.checkpoints.shard(shard).await;
    let mut position = match (saved.after, saved.latest) {
        (Some(seq), _) => Position::After(seq),
        (None, true) => Position::Latest,
        (None, false) => Position::TrimHorizon,
    };
    loop {
        if is_stopped(stop) {
            return Err(ShardEnd::Stopped);
        }
        let call =
            streams_api::shard_iterator(&ctx.mapping.client, &ctx.stream_arn, shard, &position);
        let Some(answer) = or_stop(stop, call).await else {
            return Err(ShardEnd::Stopped);
        };
        match answer {
            Ok(it) => return Ok(it),
            Err(e)
                if e.is("TrimmedDataAccessException") && matches!(position, Position::After(_)) =>
            {
                tracing::warn!(service = "dynamodb", event = %ctx.mapping.spec.event_name, %shard, "records after the checkpoint have expired from the stream; reading from its trim horizon");
                position = Position::TrimHorizon;
            }
            Err(e) if e.is("ResourceNotFoundException") => return Err(ShardEnd::Gone),
            Err(e) => {
                api_error(ctx, shard, "GetShardIterator", &e);
                if sleep(stop, errors.next_wait()).await {
                    return Err(ShardEnd::Stopped);
                }
            }
        }
    }
}

/// Whether the mapping's table has another stream than the one being read, checked
/// before each batch goes out. An engine may name a stream's shards by table alone:
/// dynoxide reads "table/T/stream/<old label>" as table T, so after T is recreated the
/// old stream's iterators return the new table's records. Those were read before this
/// check, so if they came from a new table, the check sees its new stream, and they
/// are left to the new stream's reader instead of going out under the old ARN (and
/// again under the new one). One `DescribeTable` per batch, for table sources only.
async fn replaced(ctx: &StreamCtx) -> bool {
    let Source::Table(table) = &ctx.mapping.spec.source else {
        return false;
    };
    matches!(
        streams_api::table_stream(&ctx.mapping.client, table).await,
        Ok(TableStream::Stream(arn)) if arn != ctx.stream_arn
    )
}

fn api_error(ctx: &StreamCtx, shard: &str, op: &str, e: &CallError) {
    tracing::warn!(service = "dynamodb", event = %ctx.mapping.spec.event_name, %shard, "{op} failed, retrying: {e}");
    status::update(&ctx.mapping.status, |s| {
        s.last_error = Some(format!("{op}: {e}"))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: &str, matched: bool, bytes: usize) -> Entry {
        Entry {
            json: "x".repeat(bytes),
            sequence_number: seq.into(),
            created_s: 0,
            matched,
        }
    }

    #[test]
    fn a_batch_takes_matched_records_and_checkpoints_past_filtered_ones() {
        let mut p = Pending::default();
        for (seq, matched) in [
            ("1", false),
            ("2", true),
            ("3", false),
            ("4", true),
            ("5", true),
            ("6", false),
        ] {
            p.push(entry(seq, matched, 10));
        }
        assert_eq!(p.matched, 3);
        let (batch, last) = p.take(2);
        let seqs: Vec<_> = batch.iter().map(|e| e.sequence_number.as_str()).collect();
        assert_eq!(seqs, ["2", "4"]);
        assert_eq!(
            last.as_deref(),
            Some("4"),
            "the checkpoint stops before the next batch's record"
        );
        let (batch, last) = p.take(2);
        assert_eq!(batch.len(), 1);
        assert_eq!(last.as_deref(), Some("6"));
        assert!(p.entries.is_empty());
        assert_eq!((p.matched, p.bytes), (0, 0));
    }

    #[test]
    fn only_filtered_records_are_ready_at_once() {
        let mut p = Pending::default();
        p.push(entry("1", false, 10));
        assert!(p.ready(100, Duration::from_secs(60), false));
        let (batch, last) = p.take(100);
        assert!(batch.is_empty());
        assert_eq!(last.as_deref(), Some("1"));
    }

    #[test]
    fn the_window_holds_a_batch_until_full() {
        let mut p = Pending::default();
        p.push(entry("1", true, 10));
        assert!(!p.ready(2, Duration::from_secs(60), false));
        assert!(
            p.ready(2, Duration::from_secs(60), true),
            "a closed shard has nothing more to wait for"
        );
        assert!(p.ready(2, Duration::ZERO, false));
        p.push(entry("2", true, 10));
        assert!(p.ready(2, Duration::from_secs(60), false));
    }

    #[test]
    fn a_batch_is_cut_at_six_megabytes() {
        let mut p = Pending::default();
        let big = MAX_PAYLOAD_BYTES / 3;
        for seq in ["1", "2", "3", "4"] {
            p.push(entry(seq, true, big));
        }
        assert!(!p.wants_more(100));
        let (batch, _) = p.take(100);
        assert_eq!(batch.len(), 2);
        assert!(event::payload(&batch).len() <= MAX_PAYLOAD_BYTES);
        assert_eq!(p.matched, 2);
    }
}
