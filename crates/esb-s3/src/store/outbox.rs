//! The notification outbox: events are rows committed in the same transaction as the
//! write that caused them, and leave only once handed to Lambda's durable async queue,
//! so an acknowledged write's notification is delivered at least once even if the box
//! is killed right after the 200.

use rusqlite::{Connection, params};

use super::handle::Store;
use crate::error::StoreResult;
use crate::model::Bucket;
use crate::notify::{ObjectEvent, event_payload};

/// The principal S3 events name for writes made through the box.
const PRINCIPAL: &str = "ESB";

/// One event waiting for delivery.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    pub id: i64,
    pub function_arn: String,
    pub payload: String,
}

/// Queues the event for every target of `bucket` it matches.
pub(super) fn queue(
    tx: &Connection,
    bucket: &Bucket,
    region: &str,
    event: &ObjectEvent<'_>,
) -> StoreResult<()> {
    for target in bucket
        .notifications
        .iter()
        .filter(|t| t.matches(event.name, event.key))
    {
        let payload = event_payload(event, target, region, PRINCIPAL);
        tx.execute(
            "INSERT INTO outbox (function_arn, payload) VALUES (?1, ?2)",
            params![target.function_arn, payload.to_string()],
        )?;
    }
    Ok(())
}

impl Store {
    /// Queues the events of a write made elsewhere (an external engine, through the
    /// box) against this store's notification configuration of `bucket`.
    pub async fn queue_event(
        &self,
        bucket: String,
        key: String,
        name: &'static str,
        size: Option<u64>,
        etag: Option<String>,
        version_id: Option<String>,
    ) -> StoreResult<()> {
        let region = self.region().to_string();
        let request_id = crate::request_id::current();
        self.write(move |tx, _| {
            let b = super::buckets::get(tx, &bucket)?;
            let seq = super::schema::next_seq(tx)?;
            queue(
                tx,
                &b,
                &region,
                &ObjectEvent {
                    name,
                    bucket: &bucket,
                    key: &key,
                    size,
                    etag: etag.as_deref(),
                    version_id: version_id.as_deref(),
                    sequencer: seq,
                    time_ms: super::handle::now_ms(),
                    request_id: request_id.as_deref(),
                },
            )
        })
        .await
    }

    /// The oldest undelivered events.
    pub async fn outbox(&self, limit: usize) -> StoreResult<Vec<OutboxEntry>> {
        self.read(move |c| {
            let mut stmt =
                c.prepare("SELECT id, function_arn, payload FROM outbox ORDER BY id LIMIT ?1")?;
            let rows = stmt.query_map(params![i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                Ok(OutboxEntry {
                    id: r.get(0)?,
                    function_arn: r.get(1)?,
                    payload: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// The event has been handed over: forget it.
    pub async fn delivered(&self, id: i64) -> StoreResult<()> {
        self.write(move |tx, _| {
            tx.execute("DELETE FROM outbox WHERE id = ?1", params![id])?;
            Ok(())
        })
        .await
    }
}
