//! Where the box's log records go. Workers post their batches to the gateway's ingest
//! route (`esb_logs::collector`) with a token only the box's workers get; the box's own
//! records (access log, warnings and errors) take the same route through the box's
//! shipper. The collector writes to the embedded store and/or hands records to the
//! external VictoriaLogs shipper (`--logs-ship-url`), whose spool keeps what that
//! VictoriaLogs cannot take yet.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result};
use esb_gateway::FunctionEntry;
use esb_logs::Shipper;
use esb_logs::collector::Collector;
use esb_state::StateDir;

/// Stream fields of every record ESB ships (VictoriaLogs' `_stream_fields`): ESB's
/// and the original ESB's `container_name`, so both kinds of query work wherever the
/// records go.
const STREAM_FIELDS: [&str; 3] = ["function", "job", esb_logs::lambda_line::CONTAINER_NAME];
/// Most bytes the external shipper's spool keeps while VictoriaLogs is away.
const EXTERNAL_SPOOL_BYTES: u64 = 1 << 30;
/// Most bytes the box's own records keep while its ingest route cannot take them.
const BOX_SPOOL_BYTES: u64 = 256 << 20;
/// How soon a stopped writer's spool reaches the store.
const ORPHAN_LOOK_EVERY: Duration = Duration::from_secs(1);

pub struct Pipeline {
    pub collector: Arc<Collector>,
    /// The box's own records.
    pub box_records: Arc<Shipper>,
    /// Delivers the spools that stopped writers left.
    orphans: tokio::task::JoinHandle<()>,
    /// What workers need to ship: the ingest URL and the token.
    worker_url: String,
    token: String,
}

/// Starts the pipeline; `None` when the box keeps no logs (no store, no external).
pub fn start(
    state_dir: &StateDir,
    store: Option<Arc<esb_logs::Store>>,
    ship_url: Option<&str>,
    gateway_url: &str,
    ca: &Path,
    credentials: &esb_auth::BoxCredentials,
) -> Result<Option<Pipeline>> {
    if store.is_none() && ship_url.is_none() {
        return Ok(None);
    }
    let external = match ship_url {
        Some(url) => {
            let mut config =
                esb_logs::ShipperConfig::new(esb_logs::shipper::jsonline_url(url, &STREAM_FIELDS));
            config.spool = Some((state_dir.external_box_log_spool(), EXTERNAL_SPOOL_BYTES));
            config.identity = esb_logs::collector::box_stream();
            Some(Shipper::start(config).context("log shipping to VictoriaLogs")?)
        }
        None => None,
    };
    // The same after a restart: workers adopted from the previous run keep shipping.
    let token = credentials.derived_secret("esb log ingestion token");
    let worker_url = esb_logs::shipper::jsonline_url(
        &format!("{gateway_url}{}", esb_logs::collector::INGEST_PATH),
        &STREAM_FIELDS,
    );
    let mut own = esb_logs::ShipperConfig::new(worker_url.clone());
    own.headers = vec![(esb_logs::collector::TOKEN_HEADER.to_string(), token.clone())];
    own.ca_pem = Some(std::fs::read(ca).with_context(|| format!("cannot read {}", ca.display()))?);
    // Beside the workers' spools, one per run: what a killed run left is an orphan.
    let run = uuid::Uuid::new_v4().simple().to_string();
    own.spool = Some((state_dir.box_log_spool(&run[..8]), BOX_SPOOL_BYTES));
    own.identity = esb_logs::collector::box_stream();
    let box_records = Arc::new(Shipper::start(own).context("the box's log records")?);
    let _ = BOX_RECORDS.set(Arc::clone(&box_records));
    let collector = Arc::new(Collector::new(store, external, token.clone()));
    let orphans = esb_logs::orphan_delivery::watch(
        Arc::clone(&collector),
        state_dir.log_spool(),
        worker_url.split_once('?').map(|(_, q)| q.to_string()),
        ORPHAN_LOOK_EVERY,
    );
    Ok(Some(Pipeline {
        collector,
        box_records,
        orphans,
        worker_url,
        token,
    }))
}

impl Pipeline {
    /// Tells each function's workers where to ship their records.
    pub fn configure_workers(&self, entries: &mut [FunctionEntry]) {
        for e in entries {
            e.spec.environment.insert(
                esb_agent::worker_env::LOGS_URL_VAR.to_string(),
                self.worker_url.clone(),
            );
            e.spec
                .environment
                .insert("ESB_LOGS_TOKEN".to_string(), self.token.clone());
        }
    }

    /// Delivers what is queued (spooling the rest) before the box stops.
    pub async fn close(&self) {
        self.orphans.abort();
        self.box_records.close(Duration::from_secs(2)).await;
        if let Some(external) = &self.collector.external {
            external.close(Duration::from_secs(3)).await;
        }
    }
}

/// The box's shipper, for the tracing layer (set once the box serves).
static BOX_RECORDS: OnceLock<Arc<Shipper>> = OnceLock::new();

/// A tracing layer: the box's warnings and errors also become records in the store.
pub struct BoxErrors;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for BoxErrors {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let meta = event.metadata();
        // The shipper's own complaints would feed on themselves.
        if *meta.level() > tracing::Level::WARN || meta.target().starts_with("esb_logs") {
            return;
        }
        let Some(shipper) = BOX_RECORDS.get() else {
            return;
        };
        let mut visitor = Message::default();
        event.record(&mut visitor);
        let mut fields = visitor.fields;
        let level = if *meta.level() == tracing::Level::ERROR {
            "ERROR"
        } else {
            "WARN"
        };
        fields.insert("level".into(), level.into());
        fields.insert("type".into(), "error".into());
        fields.insert("target".into(), meta.target().into());
        // The original ESB's name for where a line was logged from.
        fields.insert("logger".into(), meta.target().into());
        shipper.push(esb_logs::Record {
            time_ns: esb_logs::http::now_ns(),
            msg: visitor.message,
            stream: esb_logs::collector::box_stream(),
            fields,
        });
    }
}

#[derive(Default)]
struct Message {
    message: String,
    fields: serde_json::Map<String, serde_json::Value>,
}

impl Message {
    fn put(&mut self, name: &str, text: String) {
        match name {
            "message" => self.message = text,
            // `function`, `job` and `container_name` name the record's stream (the box's own).
            "function" | "job" | esb_logs::lambda_line::CONTAINER_NAME => {
                self.fields
                    .insert(format!("log.{name}"), serde_json::Value::String(text));
            }
            _ => {
                self.fields
                    .insert(name.to_string(), serde_json::Value::String(text));
            }
        }
    }
}

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.put(field.name(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.put(field.name(), value.to_string());
    }
}
