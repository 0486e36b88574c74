//! Sends records to a VictoriaLogs `/insert/jsonline` endpoint (the box's, or an
//! external VictoriaLogs) in batches, without ever making the writer wait.
//!
//! `push` only enqueues. A collector task groups records into batches (by count or
//! age); a sender task posts them one at a time. When the sender is behind or the
//! endpoint is down, batches go to the on-disk [`Spool`] and are delivered, oldest
//! first, once it answers again. What cannot be kept (queue or spool full) is counted
//! and reported in the store as soon as delivery works again.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::record::Record;
use crate::spool::{Spool, SpoolError};

#[derive(Debug, Clone)]
pub struct ShipperConfig {
    /// The ingestion URL with its query (`…/insert/jsonline?_stream_fields=…`).
    pub url: String,
    /// Extra request headers (the box's log token, say).
    pub headers: Vec<(String, String)>,
    /// A CA certificate (PEM) to trust besides the public roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Where undeliverable batches wait, and how many bytes they may take.
    pub spool: Option<(PathBuf, u64)>,
    /// Stream labels of the shipper's own records (its drop reports).
    pub identity: Vec<(String, String)>,
    pub batch_records: usize,
    /// A batch is sent once it holds this many bytes (the store takes 64 MiB at most).
    pub batch_bytes: usize,
    pub flush_interval: Duration,
    /// Records waiting in memory before new ones are dropped (and counted).
    pub queue: usize,
    /// How often the shipper looks for its dead siblings' spools to adopt.
    pub adopt_every: Duration,
    /// Bytes of batches kept in memory when the spool cannot take them (no spool, or
    /// its disk is full): a passing full disk loses nothing.
    pub hold_bytes: usize,
}

impl ShipperConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            headers: Vec::new(),
            ca_pem: None,
            spool: None,
            identity: Vec::new(),
            batch_records: 1000,
            batch_bytes: 4 << 20,
            flush_interval: Duration::from_millis(200),
            queue: 20_000,
            adopt_every: Duration::from_secs(10),
            hold_bytes: 16 << 20,
        }
    }
}

/// The ingestion URL for `base` (`http://host:9428`, or a URL already ending in
/// `/insert/jsonline`), with the parameters ESB's records need.
pub fn jsonline_url(base: &str, stream_fields: &[&str]) -> String {
    let base = base.trim_end_matches('/');
    let base = base.strip_suffix("/insert/jsonline").unwrap_or(base);
    format!(
        "{base}/insert/jsonline?_stream_fields={}&_msg_field=_msg&_time_field=_time",
        stream_fields.join(",")
    )
}

#[derive(Debug, thiserror::Error)]
pub enum ShipperError {
    #[error("log shipping to {url}: {reason}")]
    Client { url: String, reason: String },
    #[error(transparent)]
    Spool(#[from] SpoolError),
}

/// What happened to the records pushed so far.
#[derive(Debug, Default)]
pub struct ShipperStats {
    pub delivered: AtomicU64,
    /// Lost: the queue or the spool was full, or the endpoint refused them for good.
    pub dropped: AtomicU64,
    /// Batches that went to the spool.
    pub spooled: AtomicU64,
    /// A full disk drops every batch: saying so once in a while is enough.
    drop_warning: crate::warn_every::WarnEvery,
}

pub struct Shipper {
    tx: mpsc::Sender<Item>,
    stats: Arc<ShipperStats>,
    /// Tells the collector to send what it has and stop.
    stop: tokio::sync::watch::Sender<bool>,
    /// Set once the sender has delivered or spooled everything and stopped.
    closing: Arc<AtomicBool>,
    finished: tokio::sync::watch::Receiver<bool>,
}

impl Shipper {
    /// Starts the collector and sender on the current tokio runtime.
    pub fn start(config: ShipperConfig) -> Result<Self, ShipperError> {
        let client_err = |reason: String| ShipperError::Client {
            url: config.url.clone(),
            reason,
        };
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3));
        if let Some(pem) = &config.ca_pem {
            let cert =
                reqwest::Certificate::from_pem(pem).map_err(|e| client_err(e.to_string()))?;
            builder = builder.add_root_certificate(cert);
        }
        let client = builder.build().map_err(|e| client_err(e.to_string()))?;
        let spool = match &config.spool {
            Some((dir, max)) => match Spool::open(dir, *max) {
                Ok(spool) => Some(spool),
                // Another live shipper owns it: a configuration error.
                Err(e @ SpoolError::InUse { .. }) => return Err(e.into()),
                // A full disk, say: ship without a spool until it can be opened.
                Err(e) => {
                    tracing::warn!("shipping logs without a spool for now: {e}");
                    None
                }
            },
            None => None,
        };
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let (batch_tx, batch_rx) = mpsc::channel::<Vec<u8>>(2);
        let stats = Arc::new(ShipperStats::default());
        let closing = Arc::new(AtomicBool::new(false));
        let spool = Arc::new(Mutex::new(spool));
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let (finished_tx, finished) = tokio::sync::watch::channel(false);
        let shipper = Self {
            tx,
            stats: Arc::clone(&stats),
            stop,
            closing: Arc::clone(&closing),
            finished,
        };
        let keeper = Keeper {
            spool,
            held: Arc::default(),
            hold_bytes: config.hold_bytes,
            stats: Arc::clone(&stats),
        };
        let sender = Sender {
            client,
            config: config.clone(),
            keeper: keeper.clone(),
            closing,
            reported_drops: 0,
        };
        tokio::spawn(collect(rx, stop_rx, batch_tx, config, keeper));
        tokio::spawn(async move {
            sender.run(batch_rx).await;
            let _ = finished_tx.send(true);
        });
        Ok(shipper)
    }

    /// Enqueues a record; never waits. A full queue drops it (counted).
    pub fn push(&self, record: Record) {
        if self.tx.try_send(Item::Record(record)).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Puts what was pushed so far on disk, in the spool, at once rather than at the
    /// next batch: what a worker calls as an invocation ends, so that its lines outlive
    /// a worker killed right after (a SIGKILL, an OOM kill, a container removed). Never
    /// waits; without a spool (or with a full queue) it only sends the batch now.
    pub fn checkpoint(&self) {
        let _ = self.tx.try_send(Item::Checkpoint);
    }

    pub fn stats(&self) -> &ShipperStats {
        &self.stats
    }

    /// Delivers what is queued, spooling what the endpoint does not take within
    /// `grace`; later pushes are dropped (counted). Waits at most `grace` (plus the
    /// spool writes).
    pub async fn close(&self, grace: Duration) {
        let _ = self.stop.send(true);
        let mut finished = self.finished.clone();
        if tokio::time::timeout(grace, finished.wait_for(|f| *f))
            .await
            .is_ok()
        {
            return;
        }
        // Out of time: the sender spools instead of retrying.
        self.closing.store(true, Ordering::SeqCst);
        let _ = tokio::time::timeout(Duration::from_secs(5), finished.wait_for(|f| *f)).await;
    }
}

/// What goes through the shipper's queue.
enum Item {
    Record(Record),
    /// Cut the batch now and keep it on disk.
    Checkpoint,
}

/// Groups records into batches; hands a batch to the sender, or spools it when the
/// sender is still busy with earlier ones (or at a checkpoint).
async fn collect(
    mut rx: mpsc::Receiver<Item>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    batches: mpsc::Sender<Vec<u8>>,
    config: ShipperConfig,
    keeper: Keeper,
) {
    let mut batch: Vec<u8> = Vec::new();
    let mut count = 0usize;
    let mut ticker = tokio::time::interval(config.flush_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let mut durable = false;
        let closed = tokio::select! {
            r = rx.recv() => match r {
                Some(Item::Record(record)) => {
                    encode(&record, &mut batch);
                    count += 1;
                    if count < config.batch_records && batch.len() < config.batch_bytes {
                        continue;
                    }
                    false
                }
                Some(Item::Checkpoint) => {
                    durable = true;
                    false
                }
                None => true,
            },
            _ = ticker.tick() => false,
            _ = stop.changed() => {
                // What was pushed before `close` goes out in the last batches.
                rx.close();
                while let Ok(item) = rx.try_recv() {
                    let Item::Record(record) = item else { continue };
                    encode(&record, &mut batch);
                    count += 1;
                    if count >= config.batch_records || batch.len() >= config.batch_bytes {
                        let records = std::mem::take(&mut count) as u64;
                        if batches.send(std::mem::take(&mut batch)).await.is_err() {
                            keeper.stats.dropped.fetch_add(records, Ordering::Relaxed);
                        }
                    }
                }
                true
            }
        };
        if count > 0 {
            let full = std::mem::take(&mut batch);
            let records = std::mem::take(&mut count) as u64;
            if closed {
                if batches.send(full).await.is_err() {
                    keeper.stats.dropped.fetch_add(records, Ordering::Relaxed);
                }
            } else if durable {
                if let Err(full) = keeper.spool(full)
                    && let Err(mpsc::error::TrySendError::Full(full)) = batches.try_send(full)
                {
                    keeper.keep_or_drop(full);
                }
            } else if let Err(mpsc::error::TrySendError::Full(full)) = batches.try_send(full) {
                keeper.keep_or_drop(full);
            }
        }
        if closed {
            return;
        }
    }
}

/// Where the batches the sender cannot take yet are kept: on disk in the spool, or in
/// memory (bounded) when the spool cannot take them.
#[derive(Clone)]
struct Keeper {
    spool: Arc<Mutex<Option<Spool>>>,
    /// Batches the spool could not take, oldest first, and their bytes.
    held: Arc<Mutex<(VecDeque<Vec<u8>>, usize)>>,
    hold_bytes: usize,
    stats: Arc<ShipperStats>,
}

impl Keeper {
    /// Spools a batch; hands it back when there is no spool or no room.
    fn spool(&self, batch: Vec<u8>) -> Result<(), Vec<u8>> {
        let mut guard = self.spool.lock().unwrap_or_else(|p| p.into_inner());
        let Some(spool) = guard.as_mut() else {
            return Err(batch);
        };
        match spool.push(&batch) {
            Ok(()) => {
                self.stats.spooled.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                if self.stats.drop_warning.now(Duration::from_secs(10)) {
                    tracing::warn!("cannot spool log records: {e}");
                }
                Err(batch)
            }
        }
    }

    /// Spools a batch, or holds it in memory while there is room; drops it (counted)
    /// when neither can keep it.
    fn keep_or_drop(&self, batch: Vec<u8>) {
        let Err(batch) = self.spool(batch) else {
            return;
        };
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if held.1 + batch.len() <= self.hold_bytes {
            held.1 += batch.len();
            held.0.push_back(batch);
        } else {
            drop(held);
            self.drop_batch(
                line_count(&batch),
                "neither the spool nor memory can keep it",
            );
        }
    }

    /// The oldest batch held in memory, taken out.
    fn take_held(&self) -> Option<Vec<u8>> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let batch = held.0.pop_front()?;
        held.1 -= batch.len();
        Some(batch)
    }

    /// Puts a held batch that could not be sent back in front.
    fn hold_again(&self, batch: Vec<u8>) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.1 += batch.len();
        held.0.push_front(batch);
    }

    fn drop_batch(&self, records: u64, why: &str) {
        let dropped = self.stats.dropped.fetch_add(records, Ordering::Relaxed) + records;
        if self.stats.drop_warning.now(Duration::from_secs(10)) {
            tracing::warn!("log records dropped ({dropped} so far): {why}");
        }
    }
}

/// One record as a jsonline object, appended with its newline.
pub fn encode(record: &Record, out: &mut Vec<u8>) {
    let mut obj = serde_json::Map::new();
    obj.insert("_time".into(), Value::String(record.time_text()));
    obj.insert("_msg".into(), Value::String(record.msg.clone()));
    for (k, v) in &record.stream {
        obj.insert(k.clone(), Value::String(v.clone()));
    }
    for (k, v) in &record.fields {
        obj.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if serde_json::to_writer(&mut *out, &Value::Object(obj)).is_ok() {
        out.push(b'\n');
    }
}

enum Posted {
    Delivered,
    /// The endpoint refused the batch (4xx): retrying cannot help.
    Refused(String),
    Failed(String),
}

struct Sender {
    client: reqwest::Client,
    config: ShipperConfig,
    keeper: Keeper,
    closing: Arc<AtomicBool>,
    reported_drops: u64,
}

impl Sender {
    async fn run(mut self, mut batches: mpsc::Receiver<Vec<u8>>) {
        let mut backoff = Duration::from_millis(100);
        let mut next_adoption = tokio::time::Instant::now();
        loop {
            if tokio::time::Instant::now() >= next_adoption {
                self.adopt_orphans();
                next_adoption = tokio::time::Instant::now() + self.config.adopt_every;
            }
            // Kept batches are older than anything in the queue: they go first.
            if !self.closing.load(Ordering::SeqCst)
                && let Some((seqs, body)) = self.oldest_kept()
            {
                match self.post(&body).await {
                    Posted::Delivered => {
                        self.keeper
                            .stats
                            .delivered
                            .fetch_add(line_count(&body), Ordering::Relaxed);
                        self.forget(&seqs);
                        backoff = Duration::from_millis(100);
                        self.report_drops().await;
                    }
                    Posted::Refused(why) => {
                        tracing::warn!("spooled log batch refused: {why}");
                        self.keeper
                            .stats
                            .dropped
                            .fetch_add(line_count(&body), Ordering::Relaxed);
                        self.forget(&seqs);
                    }
                    Posted::Failed(why) => {
                        tracing::debug!("log store unreachable: {why}");
                        if seqs.is_empty() {
                            self.keeper.hold_again(body);
                        }
                        // New batches keep spooling meanwhile (the collector sees us busy).
                        let wait = tokio::time::sleep(backoff);
                        tokio::pin!(wait);
                        tokio::select! {
                            () = &mut wait => {}
                            b = batches.recv() => match b {
                                Some(b) => self.keeper.keep_or_drop(b),
                                None => self.closing.store(true, Ordering::SeqCst),
                            },
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
                continue;
            }
            // Idle or not, kept batches go out within a flush interval (one POST for
            // all the checkpoints of that time) and orphans are looked for on time.
            let body = tokio::select! {
                b = batches.recv() => b,
                () = tokio::time::sleep(self.config.flush_interval) => continue,
                () = tokio::time::sleep_until(next_adoption) => continue,
            };
            let Some(body) = body else {
                // Stopping: what memory holds goes to the spool, or is lost (counted).
                while let Some(held) = self.keeper.take_held() {
                    if let Err(held) = self.keeper.spool(held) {
                        self.keeper.drop_batch(
                            line_count(&held),
                            "the shipper stopped before the store took it",
                        );
                    }
                }
                return;
            };
            if self.closing.load(Ordering::SeqCst) {
                self.keeper.keep_or_drop(body);
                continue;
            }
            match self.post(&body).await {
                Posted::Delivered => {
                    self.keeper
                        .stats
                        .delivered
                        .fetch_add(line_count(&body), Ordering::Relaxed);
                    backoff = Duration::from_millis(100);
                    self.report_drops().await;
                }
                Posted::Refused(why) => {
                    tracing::warn!("log batch refused: {why}");
                    self.keeper
                        .stats
                        .dropped
                        .fetch_add(line_count(&body), Ordering::Relaxed);
                }
                Posted::Failed(why) => {
                    tracing::debug!("log store unreachable, spooling: {why}");
                    self.keeper.keep_or_drop(body);
                }
            }
        }
    }

    fn adopt_orphans(&self) {
        let mut guard = self.keeper.spool.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none()
            && let Some((dir, max)) = &self.config.spool
        {
            *guard = Spool::open(dir, *max).ok();
        }
        if let Some(spool) = guard.as_mut() {
            let n = spool.adopt_orphans();
            if n > 0 {
                tracing::info!("adopted {n} log batches left by stopped workers");
            }
        }
    }

    /// The oldest kept batches, sent as one: the spooled ones (their sequence numbers
    /// and body), else one held in memory (no sequence numbers; taken out).
    fn oldest_kept(&self) -> Option<(Vec<u64>, Vec<u8>)> {
        let spooled = {
            let mut guard = self.keeper.spool.lock().unwrap_or_else(|p| p.into_inner());
            guard
                .as_mut()
                .and_then(|s| s.oldest(self.config.batch_bytes as u64))
        };
        spooled.or_else(|| self.keeper.take_held().map(|b| (Vec::new(), b)))
    }

    fn forget(&self, seqs: &[u64]) {
        let mut guard = self.keeper.spool.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(spool) = guard.as_mut() {
            for seq in seqs {
                spool.remove(*seq);
            }
        }
    }

    async fn post(&self, body: &[u8]) -> Posted {
        let mut req = self
            .client
            .post(&self.config.url)
            .header("content-type", "application/stream+json")
            .body(body.to_vec());
        if self.closing.load(Ordering::SeqCst) {
            req = req.timeout(Duration::from_secs(1));
        }
        for (k, v) in &self.config.headers {
            req = req.header(k, v);
        }
        match req.send().await {
            Ok(resp) if resp.status().is_success() => Posted::Delivered,
            Ok(resp) if resp.status().is_client_error() && resp.status().as_u16() != 429 => {
                let status = resp.status();
                let text = resp.text().await.unwrap_or_default();
                Posted::Refused(format!("{status}: {}", text.trim()))
            }
            Ok(resp) => Posted::Failed(format!("HTTP {}", resp.status())),
            Err(e) => Posted::Failed(e.to_string()),
        }
    }

    /// Once delivery works, says in the store itself how many records were lost.
    async fn report_drops(&mut self) {
        let dropped = self.keeper.stats.dropped.load(Ordering::Relaxed);
        if dropped <= self.reported_drops {
            return;
        }
        let lost = dropped - self.reported_drops;
        let mut body = Vec::new();
        let mut fields = serde_json::Map::new();
        fields.insert("level".into(), Value::String("WARN".into()));
        fields.insert("type".into(), Value::String("platform".into()));
        fields.insert(
            "esb.dropped_records".into(),
            Value::String(lost.to_string()),
        );
        encode(
            &Record {
                time_ns: crate::http::now_ns(),
                msg: format!(
                    "esb: {lost} log records could not be kept (log queue or spool full, or no space left on its disk) and were dropped"
                ),
                stream: self.config.identity.clone(),
                fields,
            },
            &mut body,
        );
        if matches!(self.post(&body).await, Posted::Delivered) {
            self.reported_drops = dropped;
        }
    }
}

fn line_count(body: &[u8]) -> u64 {
    body.iter().filter(|b| **b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::RawQuery;
    use std::sync::Mutex as StdMutex;

    type Received = Arc<StdMutex<Vec<(String, String, Vec<u8>)>>>;

    /// A receiver on `port` (0: any) recording (query, content-type, body) per request.
    async fn receiver(port: u16, got: Received) -> std::net::SocketAddr {
        let app = axum::Router::new().route(
            "/insert/jsonline",
            axum::routing::post(
                move |RawQuery(q): RawQuery,
                      headers: axum::http::HeaderMap,
                      body: axum::body::Bytes| {
                    let got = Arc::clone(&got);
                    async move {
                        let ct = headers
                            .get("content-type")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string();
                        if let Ok(mut g) = got.lock() {
                            g.push((q.unwrap_or_default(), ct, body.to_vec()));
                        }
                        ""
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    fn record(i: usize) -> Record {
        Record {
            time_ns: 1_700_000_000_000_000_000 + i as i64,
            msg: format!("line {i}"),
            stream: vec![
                ("function".into(), "f".into()),
                ("job".into(), "lambda".into()),
            ],
            fields: serde_json::json!({"level": "INFO", "aws_request_id": "r-1"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        }
    }

    fn lines(got: &Received) -> Vec<Value> {
        got.lock()
            .map(|g| {
                g.iter()
                    .flat_map(|(_, _, body)| {
                        body.split(|b| *b == b'\n')
                            .filter(|l| !l.is_empty())
                            .filter_map(|l| serde_json::from_slice(l).ok())
                            .collect::<Vec<Value>>()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn batches_use_victorialogs_jsonline_wire_format() {
        let got: Received = Arc::default();
        let addr = receiver(0, Arc::clone(&got)).await;
        let mut config = ShipperConfig::new(jsonline_url(
            &format!("http://{addr}"),
            &["function", "job"],
        ));
        config.flush_interval = Duration::from_millis(20);
        let shipper = Shipper::start(config).expect("start");
        for i in 0..2500 {
            shipper.push(record(i));
        }
        shipper.close(Duration::from_secs(10)).await;
        let requests = got.lock().map(|g| g.clone()).unwrap_or_default();
        assert!(
            requests.len() >= 3,
            "batches of at most 1000: {}",
            requests.len()
        );
        for (query, content_type, body) in &requests {
            assert_eq!(
                query,
                "_stream_fields=function,job&_msg_field=_msg&_time_field=_time"
            );
            assert_eq!(content_type, "application/stream+json");
            assert!(body.ends_with(b"\n"));
        }
        let all = lines(&got);
        assert_eq!(all.len(), 2500);
        assert_eq!(all[0]["_msg"], "line 0");
        assert_eq!(all[0]["_time"], "2023-11-14T22:13:20Z");
        assert_eq!(all[1]["_time"], "2023-11-14T22:13:20.000000001Z");
        assert_eq!(all[0]["function"], "f");
        assert_eq!(all[0]["job"], "lambda");
        assert_eq!(all[0]["aws_request_id"], "r-1");
        assert_eq!(shipper.stats().delivered.load(Ordering::Relaxed), 2500);
        assert_eq!(shipper.stats().dropped.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn an_absent_endpoint_spools_and_everything_arrives_once_it_answers() {
        let port = esb_test_ports::reserve();
        let dir = tempfile::tempdir().expect("dir");
        let mut config = ShipperConfig::new(jsonline_url(
            &format!("http://127.0.0.1:{port}"),
            &["function", "job"],
        ));
        config.flush_interval = Duration::from_millis(10);
        config.batch_records = 100;
        config.spool = Some((dir.path().join("w"), 64 << 20));
        let shipper = Shipper::start(config).expect("start");
        for i in 0..1000 {
            shipper.push(record(i));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(shipper.stats().spooled.load(Ordering::Relaxed) > 0);
        let got: Received = Arc::default();
        receiver(port, Arc::clone(&got)).await;
        for i in 1000..1200 {
            shipper.push(record(i));
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while lines(&got).len() < 1200 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut seen: Vec<String> = lines(&got)
            .iter()
            .filter_map(|v| v["_msg"].as_str().map(str::to_string))
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 1200, "every record delivered exactly once");
        assert_eq!(lines(&got).len(), 1200);
        assert_eq!(shipper.stats().dropped.load(Ordering::Relaxed), 0);
        shipper.close(Duration::from_secs(5)).await;
    }

    #[tokio::test]
    async fn an_idle_shipper_delivers_a_sibling_spool_orphaned_after_it_started() {
        let got: Received = Arc::default();
        let addr = receiver(0, Arc::clone(&got)).await;
        let dir = tempfile::tempdir().expect("dir");
        let mut config = ShipperConfig::new(jsonline_url(
            &format!("http://{addr}"),
            &["function", "job"],
        ));
        config.spool = Some((dir.path().join("me"), 1 << 20));
        config.adopt_every = Duration::from_millis(100);
        let shipper = Shipper::start(config).expect("start");
        // A sibling that dies after this shipper started, while nothing is being sent.
        let mut sibling = Spool::open(&dir.path().join("dying"), 1 << 20).expect("spool");
        let mut batch = Vec::new();
        encode(&record(7), &mut batch);
        sibling.push(&batch).expect("push");
        let old = std::time::SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(dir.path().join("dying").join(".lock"))
            .and_then(|f| f.set_modified(old))
            .expect("age");
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(lines(&got).is_empty(), "not while its writer lives");
        drop(sibling);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while lines(&got).is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let delivered = lines(&got);
        assert_eq!(delivered.len(), 1, "{delivered:?}");
        assert_eq!(delivered[0]["_msg"], "line 7");
        shipper.close(Duration::from_secs(5)).await;
    }

    #[tokio::test]
    async fn a_checkpoint_puts_what_was_pushed_on_disk_at_once() {
        // An endpoint that takes its time: what is being sent is only in memory.
        let app = axum::Router::new().route(
            "/insert/jsonline",
            axum::routing::post(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                ""
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        let dir = tempfile::tempdir().expect("dir");
        let mut config = ShipperConfig::new(jsonline_url(
            &format!("http://{addr}"),
            &["function", "job"],
        ));
        config.flush_interval = Duration::from_secs(600);
        config.spool = Some((dir.path().join("w"), 1 << 20));
        let shipper = Shipper::start(config).expect("start");
        for i in 0..3 {
            shipper.push(record(i));
        }
        shipper.checkpoint();
        let spooled = || -> Vec<String> {
            std::fs::read_dir(dir.path().join("w"))
                .map(|d| {
                    d.flatten()
                        .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
                        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                        .flat_map(|t| t.lines().map(str::to_string).collect::<Vec<_>>())
                        .collect()
                })
                .unwrap_or_default()
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while spooled().len() < 3 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let lines = spooled();
        assert_eq!(
            lines.len(),
            3,
            "on disk while the endpoint takes them: {lines:?}"
        );
        assert!(lines[2].contains("line 2"));
    }

    #[tokio::test]
    async fn without_a_usable_spool_batches_wait_in_memory_and_all_arrive() {
        // A spool whose folder cannot be made (a full disk behaves the same way).
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("file"), b"").expect("file");
        let port = esb_test_ports::reserve();
        let mut config = ShipperConfig::new(jsonline_url(
            &format!("http://127.0.0.1:{port}"),
            &["function", "job"],
        ));
        config.flush_interval = Duration::from_millis(10);
        config.batch_records = 100;
        config.spool = Some((dir.path().join("file").join("w"), 64 << 20));
        let shipper = Shipper::start(config).expect("start without its spool");
        for i in 0..1000 {
            shipper.push(record(i));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let got: Received = Arc::default();
        receiver(port, Arc::clone(&got)).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while lines(&got).len() < 1000 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(lines(&got).len(), 1000, "every record, once");
        assert_eq!(shipper.stats().dropped.load(Ordering::Relaxed), 0);
        shipper.close(Duration::from_secs(5)).await;
    }

    #[tokio::test]
    async fn a_full_spool_drops_counts_and_reports_the_loss() {
        let port = esb_test_ports::reserve();
        let dir = tempfile::tempdir().expect("dir");
        let mut config = ShipperConfig::new(jsonline_url(
            &format!("http://127.0.0.1:{port}"),
            &["function", "job"],
        ));
        config.flush_interval = Duration::from_millis(10);
        config.batch_records = 10;
        config.spool = Some((dir.path().join("w"), 4096));
        config.hold_bytes = 0;
        config.identity = vec![
            ("function".into(), "f".into()),
            ("job".into(), "lambda".into()),
        ];
        let shipper = Shipper::start(config).expect("start");
        for i in 0..500 {
            shipper.push(record(i));
            if i % 10 == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        // With the endpoint away, each record ends up spooled or dropped; wait for the
        // collector to have handled them all (never a fixed sleep: CI may be loaded).
        let stats = shipper.stats();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while stats.dropped.load(Ordering::Relaxed) == 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            stats.dropped.load(Ordering::Relaxed) > 0,
            "a 4 KiB spool cannot hold 500 records"
        );
        let got: Received = Arc::default();
        receiver(port, Arc::clone(&got)).await;
        // Then everything kept is delivered, and the loss is reported in the store.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let accounted = || {
            stats.delivered.load(Ordering::Relaxed) + stats.dropped.load(Ordering::Relaxed) == 500
        };
        let report = loop {
            let found = lines(&got)
                .into_iter()
                .find(|v| v.get("esb.dropped_records").is_some());
            if (found.is_some() && accounted()) || tokio::time::Instant::now() > deadline {
                break found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let report = report.expect("a drop report reaches the store");
        assert_eq!(report["level"], "WARN");
        assert_eq!(report["function"], "f");
        assert!(
            accounted(),
            "every record is delivered or counted: {stats:?}"
        );
        let received = lines(&got)
            .iter()
            .filter(|v| v.get("esb.dropped_records").is_none())
            .count() as u64;
        assert_eq!(received, stats.delivered.load(Ordering::Relaxed));
        shipper.close(Duration::from_secs(5)).await;
    }
}
