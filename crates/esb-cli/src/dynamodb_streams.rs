//! The template's `Events: DynamoDB` as running stream mappings: each polls its table's
//! stream (on the embedded engine or an external one) and invokes its function through
//! the gateway; batches that exhaust their retries are described to the mapping's
//! on-failure destination. A template reload restarts only the mappings it changed
//! (their checkpoints carry them on where they were).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use esb_dynamodb::DynamoClient;
use esb_dynamodb::stream_mapping::{
    self, FailureDestination, Invoker, MappingSpec, Source, StartingPosition,
};
use esb_gateway::Gateway;
use esb_template::{DynamoDbEventSpec, DynamoDbStream, FunctionSpec};

/// The box's running stream mappings.
pub struct Mappings {
    client: DynamoClient,
    region: String,
    invoker: Arc<dyn Invoker>,
    failures: Arc<dyn FailureDestination>,
    checkpoints: std::path::PathBuf,
    running: Mutex<BTreeMap<(String, String), Running>>,
}

struct Running {
    /// As the template declared it, to tell a changed mapping on reload.
    declared: DynamoDbEventSpec,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Mappings {
    pub fn new(
        client: DynamoClient,
        region: &str,
        gateway: &Arc<Gateway>,
        s3: Option<S3Destination>,
        sqs: Option<esb_sqs::QueueService>,
        checkpoints: std::path::PathBuf,
    ) -> Self {
        Self {
            client,
            region: region.to_string(),
            invoker: Arc::new(crate::gateway_invoker::GatewayInvoker(Arc::clone(gateway))),
            failures: Arc::new(Destinations { s3, sqs }),
            checkpoints,
            running: Mutex::new(BTreeMap::new()),
        }
    }

    /// Runs the mappings `functions` declare: new ones start, changed ones restart,
    /// removed ones stop. Returns the mappings that could not start, with why.
    pub fn apply(&self, functions: &[FunctionSpec]) -> Vec<String> {
        let mut problems = Vec::new();
        let Ok(mut running) = self.running.lock() else {
            return vec!["stream mappings: internal lock poisoned".into()];
        };
        let mut wanted = BTreeMap::new();
        for f in functions {
            for e in &f.dynamodb_events {
                wanted.insert((f.name.clone(), e.logical_id.clone()), e.clone());
            }
        }
        running.retain(|key, r| {
            let keep = wanted.get(key) == Some(&r.declared);
            if !keep {
                let _ = r.stop.send(true);
            }
            keep
        });
        for (key, declared) in wanted {
            if running.contains_key(&key) {
                continue;
            }
            let (function, event) = &key;
            if let Some(w) = declared.tumbling_window_s {
                tracing::warn!(%function, event = %event, "TumblingWindowInSeconds ({w}) is not supported: batches are not aggregated into windows");
            }
            let spec = mapping_spec(function, &declared);
            let (stop, stopped) = tokio::sync::watch::channel(false);
            match stream_mapping::spawn(
                self.client.clone(),
                spec,
                self.region.clone(),
                Arc::clone(&self.invoker),
                Arc::clone(&self.failures),
                self.checkpoints.clone(),
                stopped,
            ) {
                Ok(_) => {
                    running.insert(key, Running { declared, stop });
                }
                Err(e) => problems.push(format!("{function} event {event}: {e}")),
            }
        }
        problems
    }

    /// Stops every mapping (a batch in flight is read again at the next start).
    pub fn stop(&self) {
        if let Ok(mut running) = self.running.lock() {
            for r in running.values() {
                let _ = r.stop.send(true);
            }
            running.clear();
        }
    }
}

/// The poller's spec of a template event.
fn mapping_spec(function: &str, e: &DynamoDbEventSpec) -> MappingSpec {
    let source = match &e.stream {
        DynamoDbStream::Table(name) => Source::Table(name.clone()),
        DynamoDbStream::Arn(arn) => Source::StreamArn(arn.clone()),
    };
    let start = match e.starting_position {
        esb_template::StartingPosition::TrimHorizon => StartingPosition::TrimHorizon,
        esb_template::StartingPosition::Latest => StartingPosition::Latest,
    };
    let mut spec = MappingSpec::new(function, &e.logical_id, source, start);
    spec.batch_size = usize::try_from(e.batch_size).unwrap_or(usize::MAX);
    spec.maximum_batching_window = Duration::from_secs(u64::from(e.maximum_batching_window_s));
    spec.maximum_retry_attempts = i64::from(e.maximum_retry_attempts);
    spec.maximum_record_age_s = i64::from(e.maximum_record_age_s);
    spec.bisect_batch_on_function_error = e.bisect_batch_on_function_error;
    spec.report_batch_item_failures = e.report_batch_item_failures;
    spec.filters = e.filters.clone();
    spec.on_failure = e.on_failure_destination.clone();
    spec.enabled = e.enabled;
    spec
}

/// The box's S3 service, where an `arn:aws:s3:::bucket` destination's records go.
pub struct S3Destination {
    url: String,
    credentials: esb_auth::BoxCredentials,
    region: String,
    http: reqwest::Client,
}

impl S3Destination {
    /// The S3 service at `url`, whose certificate chains to `ca` (PEM).
    pub fn new(
        url: &str,
        credentials: esb_auth::BoxCredentials,
        region: &str,
        ca: &[u8],
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca)?)
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            url: url.to_string(),
            credentials,
            region: region.to_string(),
            http,
        })
    }
}

/// On-failure destinations: S3 buckets and SQS queues of the box. SNS is not in the
/// box: its records are logged (at WARN, with the whole record) instead.
struct Destinations {
    s3: Option<S3Destination>,
    sqs: Option<esb_sqs::QueueService>,
}

#[async_trait::async_trait]
impl FailureDestination for Destinations {
    async fn send(&self, destination_arn: &str, record: serde_json::Value) -> Result<(), String> {
        if let Some(bucket) = destination_arn.strip_prefix("arn:aws:s3:::") {
            let Some(s3) = &self.s3 else {
                return Err(format!(
                    "{destination_arn}: the box's S3 service is off (--s3-port off)"
                ));
            };
            return put_record(s3, bucket, &record).await;
        }
        if destination_arn.starts_with("arn:aws:sqs:") {
            let Some(sqs) = &self.sqs else {
                return Err(format!(
                    "{destination_arn}: the box's SQS service is off (--sqs-port off)"
                ));
            };
            return sqs
                .send(destination_arn, record.to_string(), None)
                .await
                .map(|_| ())
                .map_err(|e| format!("{destination_arn}: {e}"));
        }
        tracing::warn!(
            destination = %destination_arn,
            record = %record,
            "stream batch discarded; SNS destinations are not served by the box, so its record is logged here"
        );
        Ok(())
    }
}

/// Writes an invocation record where Lambda writes it in an S3 destination:
/// `aws/lambda/<mapping>/<shard>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>`.
async fn put_record(
    s3: &S3Destination,
    bucket: &str,
    record: &serde_json::Value,
) -> Result<(), String> {
    let now = time::OffsetDateTime::now_utc();
    let shard = record["DDBStreamBatchInfo"]["shardId"]
        .as_str()
        .unwrap_or("shard");
    let mapping = record["requestContext"]["functionArn"]
        .as_str()
        .unwrap_or("mapping")
        .rsplit(':')
        .next()
        .unwrap_or("mapping");
    let key = format!(
        "aws/lambda/{mapping}/{shard}/{:04}/{:02}/{:02}/{:04}-{:02}-{:02}T{:02}.{:02}.{:02}-{}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        uuid::Uuid::new_v4()
    );
    let url = format!("{}/{bucket}/{key}", s3.url.trim_end_matches('/'));
    let body = serde_json::to_vec(record).map_err(|e| e.to_string())?;
    let parsed = reqwest::Url::parse(&url).map_err(|e| e.to_string())?;
    let host = match (parsed.host_str(), parsed.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        (None, _) => return Err(format!("{url}: no host")),
    };
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::HOST,
        http::HeaderValue::from_str(&host).map_err(|e| e.to_string())?,
    );
    let signed = esb_auth::sign_headers_unsigned_payload(
        &s3.credentials,
        &s3.region,
        "s3",
        &esb_auth::SignedRequest {
            method: "PUT",
            uri: &url,
            headers: &headers,
            body: &[],
        },
        SystemTime::now(),
    )
    .map_err(|e| e.to_string())?;
    let mut req = s3.http.put(&url).body(body);
    for (name, value) in signed {
        req = req.header(name, value);
    }
    let resp = req.send().await.map_err(|e| format!("{url}: {e}"))?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!(
            "{url}: {} {}",
            resp.status(),
            resp.text().await.unwrap_or_default()
        ))
    }
}
