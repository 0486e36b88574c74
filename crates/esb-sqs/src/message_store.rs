//! Messages in the store: sending (with FIFO deduplication), receiving (visibility,
//! FIFO group order, dead-letter redrive, retention), deleting and changing
//! visibility by receipt handle.

use base64::Engine;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{ErrorKind, SqsError};
use crate::message_attributes::{self, MessageAttributes};
use crate::queue_attributes::Settings;
use crate::queue_store::{self, QueueRow};

/// FIFO deduplication ids and receive attempt ids count for five minutes.
const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;
/// The longest a message may stay in flight, counted from its receive.
const MAX_IN_FLIGHT_MS: i64 = 43_200 * 1000;

/// A message to send, checked against SQS's rules for any queue.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub body: String,
    pub attributes: MessageAttributes,
    pub system: MessageAttributes,
    pub delay_seconds: Option<i64>,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
}

/// What SendMessage answers.
#[derive(Debug, Clone)]
pub struct Sent {
    pub message_id: String,
    pub md5_body: String,
    pub md5_attributes: Option<String>,
    pub md5_system: Option<String>,
    pub sequence_number: Option<String>,
}

/// The bytes a message counts against `MaximumMessageSize`.
pub fn message_size(m: &Outgoing) -> usize {
    m.body.len() + message_attributes::size(&m.attributes)
}

fn check_token(name: &str, value: &str) -> Result<(), SqsError> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c.is_ascii_punctuation());
    if ok {
        Ok(())
    } else {
        Err(SqsError::invalid(format!(
            "Value {value} for parameter {name} is invalid. Reason: {name} can only include alphanumeric and punctuation characters. 1 to 128 in length."
        )))
    }
}

/// Checks `m` against the queue it goes to.
pub fn check_for_queue(m: &Outgoing, s: &Settings) -> Result<(), SqsError> {
    let size = message_size(m);
    if size > s.max_message_size {
        return Err(SqsError::invalid(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {} bytes.",
            s.max_message_size
        )));
    }
    if let Some(d) = m.delay_seconds
        && !(0..=900).contains(&d)
    {
        return Err(SqsError::invalid(format!(
            "Value {d} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
        )));
    }
    if let Some(g) = &m.group_id {
        check_token("MessageGroupId", g)?;
    }
    if let Some(d) = &m.dedup_id {
        check_token("MessageDeduplicationId", d)?;
    }
    if s.fifo {
        if m.group_id.is_none() {
            return Err(SqsError::missing("MessageGroupId"));
        }
        if let Some(d) = m.delay_seconds.filter(|d| *d != 0) {
            return Err(SqsError::invalid(format!(
                "Value {d} for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type."
            )));
        }
        if m.dedup_id.is_none() && !s.content_based_dedup {
            return Err(SqsError::invalid(
                "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
            ));
        }
    } else if m.dedup_id.is_some() {
        return Err(SqsError::invalid(
            "The request include parameter MessageDeduplicationId that is not valid for this queue type",
        ));
    }
    Ok(())
}

/// Stores `m` in `q` (already checked), or, for a FIFO duplicate within five
/// minutes, answers as the original send did.
pub fn send(
    conn: &Connection,
    q: &QueueRow,
    s: &Settings,
    m: &Outgoing,
    sender_id: &str,
    now: i64,
) -> Result<Sent, SqsError> {
    let md5_body = message_attributes::md5_hex(m.body.as_bytes());
    let md5_attributes = (!m.attributes.is_empty()).then(|| message_attributes::md5(&m.attributes));
    let md5_system = (!m.system.is_empty()).then(|| message_attributes::md5(&m.system));
    let mut dedup_key = None;
    if s.fifo {
        let dedup = match &m.dedup_id {
            Some(d) => d.clone(),
            None => {
                use sha2::Digest;
                hex::encode(sha2::Sha256::digest(m.body.as_bytes()))
            }
        };
        let key = if s.dedup_per_group {
            format!("{}\u{0}{dedup}", m.group_id.as_deref().unwrap_or(""))
        } else {
            dedup
        };
        let earlier: Option<(String, Option<String>)> = conn
            .prepare_cached(
                "SELECT message_id, sequence_number FROM dedup
                 WHERE queue_id = ?1 AND key = ?2 AND expires_ms > ?3",
            )?
            .query_row(params![q.id, key, now], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((message_id, sequence_number)) = earlier {
            return Ok(Sent {
                message_id,
                md5_body,
                md5_attributes,
                md5_system,
                sequence_number,
            });
        }
        dedup_key = Some(key);
    }
    let message_id = uuid::Uuid::new_v4().to_string();
    let sequence_number = if s.fifo {
        Some(queue_store::next_sequence(conn, q.id)?)
    } else {
        None
    };
    let delay = m.delay_seconds.unwrap_or(s.delay_seconds);
    let attributes =
        (!m.attributes.is_empty()).then(|| message_attributes::to_json(&m.attributes).to_string());
    let trace = m.system.get("AWSTraceHeader").and_then(|a| match &a.value {
        message_attributes::AttributeValue::Text(t) => Some(t.clone()),
        message_attributes::AttributeValue::Binary(_) => None,
    });
    conn.prepare_cached(
        "INSERT INTO messages (queue_id, message_id, body, md5_body, attributes, md5_attributes,
            trace_header, sender_id, sent_ms, visible_ms, expires_ms, group_id, dedup_id,
            sequence_number)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        q.id,
        message_id,
        m.body,
        md5_body,
        attributes,
        md5_attributes,
        trace,
        sender_id,
        now,
        now + delay * 1000,
        now + s.retention_seconds * 1000,
        m.group_id,
        m.dedup_id,
        sequence_number,
    ])?;
    if let Some(key) = dedup_key {
        conn.prepare_cached("DELETE FROM dedup WHERE queue_id = ?1 AND expires_ms <= ?2")?
            .execute(params![q.id, now])?;
        conn.prepare_cached(
            "INSERT OR REPLACE INTO dedup (queue_id, key, message_id, sequence_number, expires_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            q.id,
            key,
            message_id,
            sequence_number,
            now + DEDUP_WINDOW_MS
        ])?;
    }
    Ok(Sent {
        message_id,
        md5_body,
        md5_attributes,
        md5_system,
        sequence_number,
    })
}

/// A message as a receive hands it out.
#[derive(Debug, Clone)]
pub struct Received {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub md5_body: String,
    pub attributes: Option<String>,
    pub trace_header: Option<String>,
    pub sender_id: String,
    pub sent_ms: i64,
    pub receive_count: i64,
    pub first_receive_ms: i64,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
    pub sequence_number: Option<String>,
    /// The ARN of the queue a dead-lettered message came from.
    pub dead_letter_source: Option<String>,
}

/// What one receive pass found.
#[derive(Debug, Default)]
pub struct ReceiveOutcome {
    pub messages: Vec<Received>,
    /// When the next message of the queue becomes visible (long polls sleep until
    /// then at most).
    pub next_visible_ms: Option<i64>,
    /// Dead-letter queues that got messages (their waiters are woken).
    pub moved_to: Vec<String>,
}

struct Candidate {
    row_id: i64,
    group_id: Option<String>,
    receive_count: i64,
}

/// A receipt handle: the queue, the message's row and the nonce of this receive.
pub fn receipt_handle(queue_id: i64, row_id: i64, nonce: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("esb1:{queue_id}:{row_id}:{nonce}"))
}

pub fn parse_receipt(handle: &str) -> Result<(i64, i64, String), SqsError> {
    let invalid = || {
        SqsError::new(
            ErrorKind::ReceiptHandleIsInvalid,
            format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(handle.trim())
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let mut parts = text.split(':');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("esb1"), Some(q), Some(r), Some(n), None) if !n.is_empty() => Ok((
            q.parse().map_err(|_| invalid())?,
            r.parse().map_err(|_| invalid())?,
            n.to_string(),
        )),
        _ => Err(invalid()),
    }
}

/// What a receive asks for.
#[derive(Debug, Clone)]
pub struct ReceiveRequest {
    pub max: usize,
    /// Seconds the messages stay in flight.
    pub visibility: i64,
    pub attempt_id: Option<String>,
    /// The queue's ARN, which dead-lettered messages carry.
    pub source_arn: String,
}

/// Takes up to `max` visible messages of `q`, in flight for `visibility` seconds.
/// Messages received `maxReceiveCount` times already go to the dead-letter queue
/// instead; expired ones are dropped.
pub fn receive(
    conn: &Connection,
    q: &QueueRow,
    s: &Settings,
    req: &ReceiveRequest,
    now: i64,
) -> Result<ReceiveOutcome, SqsError> {
    let (max, visibility, attempt_id) = (req.max, req.visibility, req.attempt_id.as_deref());
    let mut out = ReceiveOutcome::default();
    conn.prepare_cached("DELETE FROM messages WHERE queue_id = ?1 AND expires_ms <= ?2")?
        .execute(params![q.id, now])?;
    if let (true, Some(attempt)) = (s.fifo, attempt_id)
        && let Some(again) = repeat_attempt(conn, q, attempt, now)?
    {
        out.messages = again;
        return Ok(out);
    }
    let dlq = match &s.redrive {
        Some((name, max_receives)) => queue_store::get(conn, name)?
            .filter(|d| d.fifo == s.fifo)
            .map(|d| (d, *max_receives)),
        None => None,
    };
    let chosen = if s.fifo {
        fifo_candidates(conn, q.id, max, now)?
    } else {
        let mut stmt = conn.prepare_cached(
            "SELECT id, group_id, receive_count FROM messages
             WHERE queue_id = ?1 AND visible_ms <= ?2 ORDER BY visible_ms, id LIMIT ?3",
        )?;
        // A few more than asked: some may go to the dead-letter queue.
        stmt.query_map(params![q.id, now, (max * 2) as i64], |r| {
            Ok(Candidate {
                row_id: r.get(0)?,
                group_id: r.get(1)?,
                receive_count: r.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?
    };
    for c in chosen {
        if out.messages.len() >= max {
            break;
        }
        if let Some((dlq, max_receives)) = &dlq
            && c.receive_count >= *max_receives
        {
            move_to(conn, c.row_id, dlq, &req.source_arn, now)?;
            if !out.moved_to.contains(&dlq.name) {
                out.moved_to.push(dlq.name.clone());
            }
            continue;
        }
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let m = conn
            .prepare_cached(
                "UPDATE messages SET receive_count = receive_count + 1,
                    first_receive_ms = COALESCE(first_receive_ms, ?2),
                    visible_ms = ?3, receipt = ?4
                 WHERE id = ?1
                 RETURNING message_id, body, md5_body, attributes, trace_header, sender_id,
                    sent_ms, receive_count, first_receive_ms, group_id, dedup_id,
                    sequence_number, dead_letter_source",
            )?
            .query_row(
                params![c.row_id, now, now + visibility * 1000, nonce],
                |r| {
                    Ok(Received {
                        message_id: r.get(0)?,
                        receipt_handle: receipt_handle(q.id, c.row_id, &nonce),
                        body: r.get(1)?,
                        md5_body: r.get(2)?,
                        attributes: r.get(3)?,
                        trace_header: r.get(4)?,
                        sender_id: r.get(5)?,
                        sent_ms: r.get(6)?,
                        receive_count: r.get(7)?,
                        first_receive_ms: r.get(8)?,
                        group_id: r.get(9)?,
                        dedup_id: r.get(10)?,
                        sequence_number: r.get(11)?,
                        dead_letter_source: r.get(12)?,
                    })
                },
            )?;
        out.messages.push(m);
    }
    if let (true, Some(attempt), false) = (s.fifo, attempt_id, out.messages.is_empty()) {
        let handles: Vec<String> = out
            .messages
            .iter()
            .map(|m| m.receipt_handle.clone())
            .collect();
        conn.prepare_cached(
            "INSERT OR REPLACE INTO receive_attempts (queue_id, attempt_id, messages, expires_ms)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            q.id,
            attempt,
            serde_json::to_string(&handles).unwrap_or_default(),
            now + DEDUP_WINDOW_MS
        ])?;
    }
    if out.messages.is_empty() {
        out.next_visible_ms = conn
            .prepare_cached(
                "SELECT MIN(visible_ms) FROM messages WHERE queue_id = ?1 AND visible_ms > ?2",
            )?
            .query_row(params![q.id, now], |r| r.get(0))?;
    }
    Ok(out)
}

/// FIFO: the messages of groups with nothing in flight, a whole group first, in
/// sending order within each group.
fn fifo_candidates(
    conn: &Connection,
    queue_id: i64,
    max: usize,
    now: i64,
) -> Result<Vec<Candidate>, SqsError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, group_id, receive_count FROM messages
         WHERE queue_id = ?1 AND visible_ms <= ?2 AND group_id NOT IN (
             SELECT group_id FROM messages
             WHERE queue_id = ?1 AND visible_ms > ?2 AND group_id IS NOT NULL)
         ORDER BY id LIMIT ?3",
    )?;
    let rows: Vec<Candidate> = stmt
        .query_map(params![queue_id, now, (max * 20) as i64], |r| {
            Ok(Candidate {
                row_id: r.get(0)?,
                group_id: r.get(1)?,
                receive_count: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut groups: Vec<Option<String>> = Vec::new();
    for c in &rows {
        if !groups.contains(&c.group_id) {
            groups.push(c.group_id.clone());
        }
    }
    let mut out = Vec::new();
    for g in groups {
        for c in rows.iter().filter(|c| c.group_id == g) {
            out.push(Candidate {
                row_id: c.row_id,
                group_id: c.group_id.clone(),
                receive_count: c.receive_count,
            });
        }
    }
    Ok(out)
}

/// A FIFO receive retried with the same `ReceiveRequestAttemptId` within five minutes
/// gets the same messages and receipt handles, while they are still in flight.
fn repeat_attempt(
    conn: &Connection,
    q: &QueueRow,
    attempt: &str,
    now: i64,
) -> Result<Option<Vec<Received>>, SqsError> {
    conn.prepare_cached("DELETE FROM receive_attempts WHERE queue_id = ?1 AND expires_ms <= ?2")?
        .execute(params![q.id, now])?;
    let stored: Option<String> = conn
        .prepare_cached(
            "SELECT messages FROM receive_attempts WHERE queue_id = ?1 AND attempt_id = ?2",
        )?
        .query_row(params![q.id, attempt], |r| r.get(0))
        .optional()?;
    let Some(stored) = stored else {
        return Ok(None);
    };
    let handles: Vec<String> = serde_json::from_str(&stored).unwrap_or_default();
    let mut out = Vec::new();
    for h in handles {
        let Ok((_, row_id, nonce)) = parse_receipt(&h) else {
            continue;
        };
        let m = conn
            .prepare_cached(
                "SELECT message_id, body, md5_body, attributes, trace_header, sender_id,
                    sent_ms, receive_count, first_receive_ms, group_id, dedup_id,
                    sequence_number, dead_letter_source
                 FROM messages WHERE id = ?1 AND receipt = ?2 AND visible_ms > ?3",
            )?
            .query_row(params![row_id, nonce, now], |r| {
                Ok(Received {
                    message_id: r.get(0)?,
                    receipt_handle: h.clone(),
                    body: r.get(1)?,
                    md5_body: r.get(2)?,
                    attributes: r.get(3)?,
                    trace_header: r.get(4)?,
                    sender_id: r.get(5)?,
                    sent_ms: r.get(6)?,
                    receive_count: r.get(7)?,
                    first_receive_ms: r.get::<_, Option<i64>>(8)?.unwrap_or(now),
                    group_id: r.get(9)?,
                    dedup_id: r.get(10)?,
                    sequence_number: r.get(11)?,
                    dead_letter_source: r.get(12)?,
                })
            })
            .optional()?;
        out.extend(m);
    }
    Ok((!out.is_empty()).then_some(out))
}

/// Moves a message to the dead-letter queue `dlq`, visible there at once; it keeps
/// its id, body, attributes, sent time and receive count.
fn move_to(
    conn: &Connection,
    row_id: i64,
    dlq: &QueueRow,
    source_arn: &str,
    now: i64,
) -> Result<(), SqsError> {
    let s = Settings::of(&dlq.attributes, "");
    let sequence = if dlq.fifo {
        Some(queue_store::next_sequence(conn, dlq.id)?)
    } else {
        None
    };
    conn.prepare_cached(
        "UPDATE messages SET queue_id = ?2, visible_ms = ?3, receipt = NULL,
            expires_ms = sent_ms + ?4, sequence_number = COALESCE(?5, sequence_number),
            dead_letter_source = ?6
         WHERE id = ?1",
    )?
    .execute(params![
        row_id,
        dlq.id,
        now,
        s.retention_seconds * 1000,
        sequence,
        source_arn
    ])?;
    Ok(())
}

/// DeleteMessage: deletes the message if `handle` is its latest receipt; an older
/// handle of a message, or one already deleted, succeeds without effect, as in SQS.
pub fn delete(conn: &Connection, q: &QueueRow, handle: &str) -> Result<(), SqsError> {
    let (queue_id, row_id, nonce) = parse_receipt(handle)?;
    if queue_id != q.id {
        return Err(SqsError::new(
            ErrorKind::ReceiptHandleIsInvalid,
            format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
        ));
    }
    conn.prepare_cached("DELETE FROM messages WHERE id = ?1 AND queue_id = ?2 AND receipt = ?3")?
        .execute(params![row_id, q.id, nonce])?;
    Ok(())
}

/// ChangeMessageVisibility: only for a message in flight under `handle`.
pub fn change_visibility(
    conn: &Connection,
    q: &QueueRow,
    handle: &str,
    visibility: i64,
    now: i64,
) -> Result<(), SqsError> {
    let (queue_id, row_id, nonce) = parse_receipt(handle)?;
    if queue_id != q.id {
        return Err(SqsError::new(
            ErrorKind::ReceiptHandleIsInvalid,
            format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
        ));
    }
    let found: Option<(Option<String>, i64, Option<i64>)> = conn
        .prepare_cached(
            "SELECT receipt, visible_ms, first_receive_ms FROM messages
             WHERE id = ?1 AND queue_id = ?2",
        )?
        .query_row(params![row_id, q.id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    match found {
        Some((Some(receipt), visible_ms, first)) if receipt == nonce => {
            if visible_ms <= now {
                return Err(SqsError::new(
                    ErrorKind::MessageNotInflight,
                    "Message is not in flight.",
                ));
            }
            // A message stays in flight at most 12 hours after it was received.
            if now + visibility * 1000 > first.unwrap_or(now) + MAX_IN_FLIGHT_MS {
                return Err(SqsError::invalid(format!(
                    "Value {visibility} for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [43200 seconds]"
                )));
            }
            conn.prepare_cached("UPDATE messages SET visible_ms = ?2 WHERE id = ?1")?
                .execute(params![row_id, now + visibility * 1000])?;
            Ok(())
        }
        Some((_, visible_ms, _)) if visible_ms <= now => Err(SqsError::new(
            ErrorKind::MessageNotInflight,
            "Message is not in flight.",
        )),
        _ => Err(SqsError::invalid(format!(
            "Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change."
        ))),
    }
}

pub fn purge(conn: &Connection, q: &QueueRow) -> Result<(), SqsError> {
    conn.execute("DELETE FROM messages WHERE queue_id = ?1", [q.id])?;
    conn.execute("DELETE FROM receive_attempts WHERE queue_id = ?1", [q.id])?;
    Ok(())
}
