//! The SQS engine a box runs: its store, its region and account, and a `Notify` per
//! queue on which long polls wait for a send. This is what the front drives and what
//! the rest of the box (template queues, Lambda destinations, `esb status`) calls.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Notify;

use crate::error::SqsError;
use crate::message_store::{self, Outgoing, Sent};
use crate::names;
use crate::queue_attributes::{self, Attributes, Settings};
use crate::queue_store;
use crate::store::{Store, now_ms};

/// Where the engine keeps its database, and the identity its queues have.
#[derive(Debug, Clone)]
pub struct SqsConfig {
    pub dir: PathBuf,
    pub region: String,
    pub account: String,
}

/// One queue, as `esb status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSummary {
    pub name: String,
    /// `/<account>/<name>`: the queue URL's path, under whatever host reaches the box.
    pub url_path: String,
    pub arn: String,
    pub fifo: bool,
    pub visible: i64,
    pub in_flight: i64,
    pub delayed: i64,
}

/// The box's SQS engine; cheap to clone.
#[derive(Clone)]
pub struct Sqs {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    region: String,
    account: String,
    /// Long polls wait here for a send to their queue. One entry per queue that was
    /// polled, dropped with the queue.
    waiters: Mutex<HashMap<String, Arc<Notify>>>,
}

/// How CreateQueue treats a queue that exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Existing {
    /// CreateQueue: fine if the given attributes match, else `QueueNameExists`.
    MustMatch,
    /// A template's queue: takes the given attributes and tags.
    Update,
}

impl Sqs {
    /// Opens (creating) the store under `config.dir`.
    pub fn open(config: SqsConfig) -> Result<Self, SqsError> {
        let store = Store::open(&config.dir)?;
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                region: config.region,
                account: config.account,
                waiters: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn region(&self) -> &str {
        &self.inner.region
    }

    pub fn account(&self) -> &str {
        &self.inner.account
    }

    pub fn arn(&self, name: &str) -> String {
        names::arn(&self.inner.region, &self.inner.account, name)
    }

    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, SqsError> + Send + 'static,
    ) -> Result<T, SqsError> {
        self.inner.store.run(f).await
    }

    /// [`Sqs::run`] for receives, deletes and visibility changes: answered once in the
    /// WAL, not waiting for the disk's flush (see `store.rs`).
    pub(crate) async fn run_relaxed<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, SqsError> + Send + 'static,
    ) -> Result<T, SqsError> {
        self.inner.store.run_relaxed(f).await
    }

    /// The queue's waiters.
    pub(crate) fn waiters(&self, name: &str) -> Arc<Notify> {
        let mut map = self
            .inner
            .waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(name.to_string()).or_default().clone()
    }

    /// Wakes the long polls of `name` (a message arrived or became visible).
    pub(crate) fn wake(&self, name: &str) {
        let map = self
            .inner
            .waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = map.get(name) {
            n.notify_waiters();
        }
    }

    /// A deleted queue's waiters are woken (to find it gone) and forgotten.
    pub(crate) fn forget(&self, name: &str) {
        let mut map = self
            .inner
            .waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = map.remove(name) {
            n.notify_waiters();
        }
    }

    /// Creates `name`, or handles an existing one as `existing` says.
    pub(crate) async fn create_queue(
        &self,
        name: String,
        given: Attributes,
        tags: BTreeMap<String, String>,
        existing: Existing,
    ) -> Result<(), SqsError> {
        let fifo = queue_attributes::wants_fifo(&given)?
            || (existing == Existing::Update && name.ends_with(".fifo"));
        names::check_queue_name(&name, fifo)?;
        let mut validated = queue_attributes::validate(&given, fifo, true)?;
        if fifo {
            validated.insert("FifoQueue".into(), "true".into());
        }
        if validated.contains_key("KmsMasterKeyId")
            && !validated.contains_key("SqsManagedSseEnabled")
        {
            // SSE-KMS replaces the SQS-managed encryption new queues get by default.
            validated.insert("SqsManagedSseEnabled".into(), "false".into());
        }
        crate::tags::check(&tags)?;
        let account = self.inner.account.clone();
        let source_arn = self.arn(&name);
        self.run(move |conn| {
            check_redrive(conn, &validated, fifo, &account, &source_arn)?;
            let now = now_ms();
            match queue_store::get(conn, &name)? {
                Some(q) if existing == Existing::MustMatch => {
                    for (k, v) in &validated {
                        let current = q.attributes.get(k).map_or("", String::as_str);
                        if current != v {
                            return Err(SqsError::new(
                                crate::error::ErrorKind::QueueNameExists,
                                format!(
                                    "A queue already exists with the same name and a different value for attribute {k}"
                                ),
                            ));
                        }
                    }
                    Ok(())
                }
                Some(q) => {
                    let mut attrs = q.attributes.clone();
                    attrs.extend(validated);
                    attrs.retain(|_, v| !v.is_empty());
                    queue_store::set_attributes(conn, q.id, &attrs, now)?;
                    let mut all_tags = q.tags.clone();
                    all_tags.extend(tags);
                    crate::tags::check(&all_tags)?;
                    queue_store::set_tags(conn, q.id, &all_tags)
                }
                None => {
                    let mut attrs = queue_attributes::defaults(fifo);
                    attrs.extend(validated);
                    attrs.retain(|_, v| !v.is_empty());
                    queue_store::insert(conn, &name, fifo, &attrs, &tags, now)
                }
            }
        })
        .await
    }

    /// Sends `m` to the queue `name`; wakes its long polls.
    pub(crate) async fn send_message(
        &self,
        name: &str,
        m: Outgoing,
        sender_id: String,
    ) -> Result<Sent, SqsError> {
        let account = self.inner.account.clone();
        let queue = name.to_string();
        let sent = self
            .run(move |conn| {
                let q = queue_store::require(conn, &queue)?;
                let s = Settings::of(&q.attributes, &account);
                message_store::check_for_queue(&m, &s)?;
                message_store::send(conn, &q, &s, &m, &sender_id, now_ms())
            })
            .await?;
        self.wake(name);
        Ok(sent)
    }

    /// For template queues: creates `name` if absent, else sets the given attributes
    /// and tags (differing values are no error). Returns the queue's ARN.
    pub async fn ensure_queue(
        &self,
        name: &str,
        attributes: BTreeMap<String, String>,
        tags: BTreeMap<String, String>,
    ) -> Result<String, SqsError> {
        self.create_queue(name.to_string(), attributes, tags, Existing::Update)
            .await?;
        Ok(self.arn(name))
    }

    /// For the box's own senders (Lambda destinations, dead-letter queues): sends `body`
    /// to the queue named by ARN, URL or name; returns the message id. A FIFO queue
    /// needs `group_id`; without content-based deduplication each send gets a fresh
    /// deduplication id.
    pub async fn send(
        &self,
        queue: &str,
        body: String,
        group_id: Option<String>,
    ) -> Result<String, SqsError> {
        self.send_message_of_box(queue, body, Vec::new(), group_id)
            .await
    }

    /// [`Sqs::send`] to a standard queue with message attributes: (name, data type
    /// `String`/`Number`, value), what Lambda and EventBridge put on dead letters.
    pub async fn send_with_attributes(
        &self,
        queue: &str,
        body: String,
        attributes: Vec<(String, String, String)>,
    ) -> Result<String, SqsError> {
        self.send_message_of_box(queue, body, attributes, None)
            .await
    }

    async fn send_message_of_box(
        &self,
        queue: &str,
        body: String,
        attributes: Vec<(String, String, String)>,
        group_id: Option<String>,
    ) -> Result<String, SqsError> {
        let name = names::queue_of_reference(queue, &self.inner.account)?.to_string();
        if body.is_empty() {
            return Err(SqsError::missing("MessageBody"));
        }
        if !crate::message_attributes::valid_text(&body) {
            return Err(crate::message_attributes::invalid_contents());
        }
        let dedup_id = name
            .ends_with(".fifo")
            .then(|| uuid::Uuid::new_v4().simple().to_string());
        let attributes = attributes
            .into_iter()
            .map(|(name, data_type, value)| {
                let value = crate::message_attributes::AttributeValue::Text(value);
                (
                    name,
                    crate::message_attributes::MessageAttribute { data_type, value },
                )
            })
            .collect();
        let m = Outgoing {
            body,
            attributes,
            system: Default::default(),
            delay_seconds: None,
            group_id,
            dedup_id,
        };
        let account = self.inner.account.clone();
        Ok(self.send_message(&name, m, account).await?.message_id)
    }

    /// Every queue with its message counts.
    pub async fn summary(&self) -> Result<Vec<QueueSummary>, SqsError> {
        let region = self.inner.region.clone();
        let account = self.inner.account.clone();
        self.run(move |conn| {
            let now = now_ms();
            let mut out = Vec::new();
            for q in queue_store::all(conn)? {
                let c = queue_store::counts(conn, q.id, now)?;
                out.push(QueueSummary {
                    url_path: format!("/{account}/{}", q.name),
                    arn: names::arn(&region, &account, &q.name),
                    fifo: q.fifo,
                    visible: c.visible,
                    in_flight: c.in_flight,
                    delayed: c.delayed,
                    name: q.name,
                });
            }
            Ok(out)
        })
        .await
    }
}

/// Whether a dead-letter queue's `RedriveAllowPolicy` lets `source_arn` use it.
fn allows(dlq: &Attributes, source_arn: &str) -> bool {
    let Some(policy) = dlq
        .get("RedriveAllowPolicy")
        .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
    else {
        return true;
    };
    match policy.get("redrivePermission").and_then(|p| p.as_str()) {
        Some("denyAll") => false,
        Some("byQueue") => policy
            .get("sourceQueueArns")
            .and_then(|a| a.as_array())
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(source_arn))),
        _ => true,
    }
}

/// A redrive policy's target must be a queue of this box, of the same type.
pub(crate) fn check_redrive(
    conn: &Connection,
    attrs: &Attributes,
    fifo: bool,
    account: &str,
    source_arn: &str,
) -> Result<(), SqsError> {
    let Some(target) = queue_attributes::redrive_target(attrs) else {
        return Ok(());
    };
    let policy = attrs.get("RedrivePolicy").map_or("", String::as_str);
    let reason = |why: &str| {
        SqsError::invalid(format!(
            "Value {policy} for parameter RedrivePolicy is invalid. Reason: {why}"
        ))
    };
    let dlq = match names::queue_of_arn_str(&target, account) {
        Some(name) => queue_store::get(conn, name)?,
        None => None,
    }
    .ok_or_else(|| reason("Dead-letter target does not exist."))?;
    if dlq.fifo != fifo {
        return Err(reason(if fifo {
            "Dead-letter target must be a FIFO queue."
        } else {
            "Dead-letter target must be a standard queue."
        }));
    }
    if !allows(&dlq.attributes, source_arn) {
        return Err(reason(
            "Dead-letter target's RedriveAllowPolicy does not allow this source queue.",
        ));
    }
    Ok(())
}
