//! A mapping's life: find its stream (for a table, the table's current one), list
//! the stream's shards, read each shard once its parent is finished, and follow the
//! table to a new stream when it is recreated.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::checkpoint::Checkpoints;
use super::context::{MappingCtx, StreamCtx, is_stopped, or_stop, sleep, stopped};
use super::shard::{self, ShardEnd};
use super::spec::{Source, StartingPosition};
use super::status::{self, MappingState};
use super::streams_api::{self, Shard, TableStream};

/// Why reading a stream ended.
enum StreamEnd {
    Shutdown,
    /// The stream is gone: look for one again after a while.
    Gone,
    /// The table has another stream now: read that one.
    Replaced,
}

/// Runs the mapping until `shutdown` says true.
pub(super) async fn run(ctx: Arc<MappingCtx>, mut shutdown: watch::Receiver<bool>) {
    let recheck = ctx.spec.timing.no_stream_recheck;
    let mut said = None;
    while !is_stopped(&shutdown) {
        let Some(found) = or_stop(&mut shutdown, find_stream(&ctx, &mut said)).await else {
            break;
        };
        let Some(stream_arn) = found else {
            if sleep(&mut shutdown, recheck).await {
                break;
            }
            continue;
        };
        // A stream found is a new situation, unless it is the one found gone.
        let gone = format!("gone {stream_arn}");
        if said.as_deref() != Some(gone.as_str()) {
            said = None;
        }
        status::update(&ctx.status, |s| {
            s.state = MappingState::Enabled;
            s.stream_arn = Some(stream_arn.clone());
        });
        match read_stream(&ctx, stream_arn.clone(), &mut shutdown).await {
            StreamEnd::Shutdown => break,
            StreamEnd::Replaced => {}
            StreamEnd::Gone => {
                if said.as_deref() != Some(gone.as_str()) {
                    tracing::warn!(service = "dynamodb", event = %ctx.spec.event_name, stream = %stream_arn, "the stream is gone; looking for one every {}s", recheck.as_secs());
                    said = Some(gone);
                }
                status::update(&ctx.status, |s| s.state = MappingState::NoStream);
                if sleep(&mut shutdown, recheck).await {
                    break;
                }
            }
        }
    }
    status::update(&ctx.status, |s| s.state = MappingState::Stopped);
}

/// The stream to read now, or `None` (said once per situation, not every recheck).
async fn find_stream(ctx: &MappingCtx, said: &mut Option<String>) -> Option<String> {
    let table = match &ctx.spec.source {
        Source::StreamArn(arn) => return Some(arn.clone()),
        Source::Table(table) => table,
    };
    let (situation, warning) = match streams_api::table_stream(&ctx.client, table).await {
        Ok(TableStream::Stream(arn)) => return Some(arn),
        Ok(TableStream::NoStream) => (
            "no stream",
            format!(
                "table {table} has no stream (StreamSpecification); checking again every {}s",
                ctx.spec.timing.no_stream_recheck.as_secs()
            ),
        ),
        Ok(TableStream::NoTable) => (
            "no table",
            format!(
                "table {table} does not exist; checking again every {}s",
                ctx.spec.timing.no_stream_recheck.as_secs()
            ),
        ),
        Err(e) => ("error", format!("cannot describe table {table}: {e}")),
    };
    status::update(&ctx.status, |s| {
        s.state = MappingState::NoStream;
        s.last_error = Some(warning.clone());
    });
    if said.as_deref() != Some(situation) {
        tracing::warn!(service = "dynamodb", function = %ctx.spec.function, event = %ctx.spec.event_name, "{warning}");
        *said = Some(situation.to_string());
    }
    None
}

/// Reads `stream_arn` until shutdown, until it is gone, or until its table has
/// another stream.
async fn read_stream(
    ctx: &Arc<MappingCtx>,
    stream_arn: String,
    shutdown: &mut watch::Receiver<bool>,
) -> StreamEnd {
    let (checkpoints, first_start) =
        Checkpoints::open(ctx.checkpoint_path.clone(), &stream_arn).await;
    let stream = Arc::new(StreamCtx {
        function_arn: StreamCtx::function_arn(&ctx.spec, &ctx.region, &stream_arn),
        mapping: ctx.clone(),
        stream_arn,
        checkpoints,
    });
    // The shards' own stop: shutdown, or this stream being left.
    let (stop, stop_rx) = watch::channel(false);
    let mut shards: JoinSet<ShardEnd> = JoinSet::new();
    let mut running: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut pending_first_start = first_start;
    let mut tick = tokio::time::interval(ctx.spec.timing.discovery_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let end = loop {
        tokio::select! {
            () = stopped(shutdown) => break StreamEnd::Shutdown,
            Some(joined) = shards.join_next_with_id(), if !shards.is_empty() => {
                let (id, end) = match joined {
                    Ok((id, end)) => (id, end),
                    Err(e) => {
                        tracing::error!(service = "dynamodb", event = %ctx.spec.event_name, "a shard reader failed: {e}");
                        (e.id(), ShardEnd::Stopped)
                    }
                };
                let shard = running.remove(&id).unwrap_or_default();
                match end {
                    ShardEnd::Finished => {
                        if let Err(e) = stream.checkpoints.finish(&shard).await {
                            tracing::error!(service = "dynamodb", event = %ctx.spec.event_name, "{e}");
                        }
                    }
                    ShardEnd::Gone => break StreamEnd::Gone,
                    ShardEnd::Replaced => break StreamEnd::Replaced,
                    // Told to stop, or failed: the next discovery starts it again.
                    ShardEnd::Stopped => {}
                }
            }
            _ = tick.tick() => {}
        }
        let current = match &ctx.spec.source {
            Source::Table(table) => {
                match or_stop(shutdown, streams_api::table_stream(&ctx.client, table)).await {
                    Some(current) => Some(current),
                    None => break StreamEnd::Shutdown,
                }
            }
            Source::StreamArn(_) => None,
        };
        if let Some(Ok(TableStream::Stream(arn))) = current
            && arn != stream.stream_arn
        {
            tracing::info!(service = "dynamodb", event = %ctx.spec.event_name, old = %stream.stream_arn, new = %arn, "the table has a new stream");
            break StreamEnd::Replaced;
        }
        let Some(listed) = or_stop(
            shutdown,
            streams_api::shards(&ctx.client, &stream.stream_arn),
        )
        .await
        else {
            break StreamEnd::Shutdown;
        };
        let listed = match listed {
            Ok(listed) => listed,
            Err(e) if e.is("ResourceNotFoundException") => break StreamEnd::Gone,
            Err(e) => {
                tracing::warn!(service = "dynamodb", event = %ctx.spec.event_name, "DescribeStream failed, retrying: {e}");
                status::update(&ctx.status, |s| {
                    s.last_error = Some(format!("DescribeStream: {e}"))
                });
                continue;
            }
        };
        if pending_first_start {
            let saved = match ctx.spec.starting_position {
                StartingPosition::Latest => {
                    let ids: Vec<String> = listed.iter().map(|s| s.id.clone()).collect();
                    stream.checkpoints.start_at_latest(&ids).await
                }
                StartingPosition::TrimHorizon => stream.checkpoints.save().await,
            };
            match saved {
                Ok(()) => pending_first_start = false,
                Err(e) => {
                    // LATEST must be where the mapping was first started, not where a
                    // later start happens to be: do not read before it is recorded.
                    tracing::error!(service = "dynamodb", event = %ctx.spec.event_name, "{e}");
                    continue;
                }
            }
        }
        let active: HashSet<String> = running.values().cloned().collect();
        let mut start = Vec::new();
        for shard in &listed {
            if active.contains(&shard.id) || !parent_done(&stream, shard, &listed).await {
                continue;
            }
            if !stream.checkpoints.shard(&shard.id).await.finished {
                start.push(shard.id.clone());
            }
        }
        for id in start {
            let handle = shards.spawn(shard::run(stream.clone(), id.clone(), stop_rx.clone()));
            running.insert(handle.id(), id);
        }
        let ids: Vec<String> = listed.into_iter().map(|s| s.id).collect();
        if let Err(e) = stream.checkpoints.forget_all_but(&ids).await {
            tracing::error!(service = "dynamodb", event = %ctx.spec.event_name, "{e}");
        }
    };
    let _ = stop.send(true);
    while shards.join_next().await.is_some() {}
    end
}

/// Whether `shard` may be read: it has no parent, its parent was read to its end,
/// or its parent is no longer in the stream (trimmed away after 24 hours).
async fn parent_done(stream: &StreamCtx, shard: &Shard, listed: &[Shard]) -> bool {
    let Some(parent) = &shard.parent else {
        return true;
    };
    !listed.iter().any(|s| &s.id == parent) || stream.checkpoints.shard(parent).await.finished
}
