//! Dead-letter queue redrive (StartMessageMoveTask, ListMessageMoveTasks,
//! CancelMessageMoveTask): messages of a dead-letter queue go back to the queues they
//! came from, or to a destination queue. The box moves them at once, in the task's
//! transaction, so a task is COMPLETED as soon as it is started.

use rusqlite::{Connection, params};
use serde_json::{Map, Value, json};

use crate::engine::Sqs;
use crate::error::{ErrorKind, SqsError};
use crate::input::Input;
use crate::names;
use crate::queue_attributes;
use crate::queue_store;
use crate::store::now_ms;

fn not_found() -> SqsError {
    SqsError::new(
        ErrorKind::ResourceNotFound,
        "The resource that you specified for the SourceArn parameter doesn't exist.",
    )
}

pub async fn start(sqs: &Sqs, input: &Input) -> Result<Value, SqsError> {
    let source_arn = input.required("SourceArn")?.to_string();
    let destination_arn = input.str("DestinationArn")?.map(str::to_string);
    let rate = input.int("MaxNumberOfMessagesPerSecond")?;
    if let Some(r) = rate.filter(|r| !(1..=500).contains(r)) {
        return Err(SqsError::invalid(format!(
            "Value {r} for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: must be between 1 and 500."
        )));
    }
    let account = sqs.account().to_string();
    let handle = uuid::Uuid::new_v4().to_string();
    let task = handle.clone();
    let woken = sqs
        .run(move |conn| {
            let source_name =
                names::queue_of_arn_str(&source_arn, &account).ok_or_else(not_found)?;
            let source = queue_store::get(conn, source_name)?.ok_or_else(not_found)?;
            let is_dlq = queue_store::all(conn)?.iter().any(|q| {
                queue_attributes::redrive_target(&q.attributes).as_deref()
                    == Some(source_arn.as_str())
            });
            if !is_dlq {
                return Err(SqsError::invalid(
                    "Source queue must be configured as a Dead Letter Queue.",
                ));
            }
            let destination = match &destination_arn {
                Some(arn) => {
                    let name = names::queue_of_arn_str(arn, &account).ok_or_else(|| {
                        SqsError::invalid("The destination queue does not exist.")
                    })?;
                    let q = queue_store::get(conn, name)?.ok_or_else(|| {
                        SqsError::invalid("The destination queue does not exist.")
                    })?;
                    Some(q)
                }
                None => None,
            };
            let (moved, to_move, woken) =
                move_all(conn, source.id, destination.as_ref(), &account)?;
            conn.execute(
                "INSERT INTO move_tasks (handle, source_arn, destination_arn, max_per_second,
                    status, moved, to_move, started_ms)
                 VALUES (?1, ?2, ?3, ?4, 'COMPLETED', ?5, ?6, ?7)",
                params![
                    task,
                    source_arn,
                    destination_arn,
                    rate,
                    moved,
                    to_move,
                    now_ms()
                ],
            )?;
            Ok(woken)
        })
        .await?;
    for name in woken {
        sqs.wake(&name);
    }
    Ok(json!({"TaskHandle": handle}))
}

/// Moves every message of the queue `source_id` that is not in flight to
/// `destination`, or back to the queue it was dead-lettered from; (moved, found,
/// queues that got messages).
fn move_all(
    conn: &Connection,
    source_id: i64,
    destination: Option<&queue_store::QueueRow>,
    account: &str,
) -> Result<(i64, i64, Vec<String>), SqsError> {
    let now = now_ms();
    let rows: Vec<(i64, Option<String>)> = conn
        .prepare_cached(
            "SELECT id, dead_letter_source FROM messages
             WHERE queue_id = ?1 AND visible_ms <= ?2 ORDER BY id",
        )?
        .query_map(params![source_id, now], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut moved = 0;
    let mut woken: Vec<String> = Vec::new();
    for (id, from) in &rows {
        let target = match destination {
            Some(d) => Some(d.clone()),
            None => match from
                .as_deref()
                .and_then(|a| names::queue_of_arn_str(a, account))
            {
                Some(name) => queue_store::get(conn, name)?,
                None => None,
            },
        };
        let Some(target) = target else {
            continue;
        };
        let sequence = if target.fifo {
            Some(queue_store::next_sequence(conn, target.id)?)
        } else {
            None
        };
        conn.prepare_cached(
            "UPDATE messages SET queue_id = ?2, visible_ms = ?3, receipt = NULL,
                receive_count = 0, first_receive_ms = NULL, dead_letter_source = NULL,
                sequence_number = COALESCE(?4, sequence_number)
             WHERE id = ?1",
        )?
        .execute(params![id, target.id, now, sequence])?;
        moved += 1;
        if !woken.contains(&target.name) {
            woken.push(target.name.clone());
        }
    }
    Ok((moved, rows.len() as i64, woken))
}

pub async fn list(sqs: &Sqs, input: &Input) -> Result<Value, SqsError> {
    let source_arn = input.required("SourceArn")?.to_string();
    let max = input.int("MaxResults")?.unwrap_or(1);
    if !(1..=10).contains(&max) {
        return Err(SqsError::invalid(format!(
            "Value {max} for parameter MaxResults is invalid. Reason: must be between 1 and 10."
        )));
    }
    let account = sqs.account().to_string();
    let rows = sqs
        .run(move |conn| {
            let name = names::queue_of_arn_str(&source_arn, &account).ok_or_else(not_found)?;
            queue_store::get(conn, name)?.ok_or_else(not_found)?;
            let mut stmt = conn.prepare_cached(
                "SELECT status, source_arn, destination_arn, max_per_second, moved, to_move,
                    started_ms
                 FROM move_tasks WHERE source_arn = ?1 ORDER BY started_ms DESC, rowid DESC
                 LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![source_arn, max], |r| {
                    let mut m = Map::new();
                    m.insert("Status".into(), Value::String(r.get(0)?));
                    m.insert("SourceArn".into(), Value::String(r.get(1)?));
                    if let Some(d) = r.get::<_, Option<String>>(2)? {
                        m.insert("DestinationArn".into(), Value::String(d));
                    }
                    if let Some(n) = r.get::<_, Option<i64>>(3)? {
                        m.insert("MaxNumberOfMessagesPerSecond".into(), n.into());
                    }
                    m.insert(
                        "ApproximateNumberOfMessagesMoved".into(),
                        r.get::<_, i64>(4)?.into(),
                    );
                    m.insert(
                        "ApproximateNumberOfMessagesToMove".into(),
                        r.get::<_, i64>(5)?.into(),
                    );
                    m.insert("StartedTimestamp".into(), r.get::<_, i64>(6)?.into());
                    Ok(Value::Object(m))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await?;
    Ok(json!({"Results": rows}))
}

pub async fn cancel(sqs: &Sqs, input: &Input) -> Result<Value, SqsError> {
    let handle = input.required("TaskHandle")?.to_string();
    let status: Option<String> = sqs
        .run(move |conn| {
            use rusqlite::OptionalExtension;
            Ok(conn
                .prepare_cached("SELECT status FROM move_tasks WHERE handle = ?1")?
                .query_row([handle], |r| r.get(0))
                .optional()?)
        })
        .await?;
    Err(match status {
        Some(_) => SqsError::new(
            ErrorKind::ResourceNotFound,
            "The task has completed: only a running task can be cancelled.",
        ),
        None => SqsError::new(
            ErrorKind::ResourceNotFound,
            "The resource that you specified for the TaskHandle parameter doesn't exist.",
        ),
    })
}
