//! The template's `Events: Schedule` / `ScheduleV2` as `esb up` runs them: the
//! scheduler (`esb-schedule`) fires each run as a durable asynchronous invocation
//! through the gateway, sends runs it could not hand over to their dead-letter queue,
//! and keeps `<state>/schedules/status.json` current for `esb status`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use esb_gateway::Gateway;
use esb_schedule::{DeliveryFailure, ScheduleStatus, ScheduleTarget, Scheduler, SchedulerConfig};
use esb_sqs::QueueService;

/// The file `esb status` reads the schedules from.
const STATUS_FILE: &str = "status.json";

/// The box's running schedules.
pub struct Schedules {
    scheduler: Arc<Scheduler>,
    status_writer: tokio::task::JoinHandle<()>,
}

impl Schedules {
    /// Starts the schedules of `functions`.
    pub fn start(
        state: &esb_state::StateDir,
        region: &str,
        account: &str,
        gateway: &Arc<Gateway>,
        sqs: Option<QueueService>,
        functions: &[esb_template::FunctionSpec],
    ) -> Result<Self> {
        let dir = state.schedules();
        let target = Arc::new(Target {
            gateway: Arc::clone(gateway),
            sqs,
        });
        let scheduler = Arc::new(
            Scheduler::start(
                SchedulerConfig {
                    region: region.to_string(),
                    account: account.to_string(),
                    state_dir: dir.clone(),
                },
                target,
                esb_schedule::schedules(functions),
            )
            .with_context(|| format!("cannot start the schedules (state in {})", dir.display()))?,
        );
        let status_writer = tokio::spawn(write_status(Arc::clone(&scheduler), dir));
        Ok(Self {
            scheduler,
            status_writer,
        })
    }

    /// Runs the schedules of a reloaded template (no run fires twice).
    pub fn apply(&self, functions: &[esb_template::FunctionSpec]) {
        if let Err(e) = self.scheduler.replace(esb_schedule::schedules(functions)) {
            eprintln!("esb: warning: the schedules run, but their record was not written: {e}");
        }
    }

    /// Stops firing (runs being delivered carry on until the box stops).
    pub async fn stop(&self) {
        self.status_writer.abort();
        self.scheduler.stop().await;
    }
}

/// Writes the schedules' status (next runs) whenever it changes, checked each second.
async fn write_status(scheduler: Arc<Scheduler>, dir: std::path::PathBuf) {
    let path = dir.join(STATUS_FILE);
    let mut last = String::new();
    loop {
        let lines = scheduler.status();
        let text = serde_json::to_string_pretty(&lines).unwrap_or_default();
        if text != last {
            let tmp = dir.join(format!("{STATUS_FILE}.tmp"));
            match std::fs::write(&tmp, &text).and_then(|()| std::fs::rename(&tmp, &path)) {
                Ok(()) => last = text,
                Err(e) => tracing::debug!("cannot write {}: {e}", path.display()),
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// What `esb status` shows of the schedules: what the running box last wrote.
pub fn read_status(state: &esb_state::StateDir) -> Vec<ScheduleStatus> {
    std::fs::read(state.schedules().join(STATUS_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Runs go to the gateway's durable asynchronous queue; dead letters to the box's SQS.
struct Target {
    gateway: Arc<Gateway>,
    sqs: Option<QueueService>,
}

#[async_trait::async_trait]
impl ScheduleTarget for Target {
    async fn fire(&self, function: &str, payload: String) -> Result<(), String> {
        esb_gateway::async_dispatch::accept_event(&self.gateway, function, payload)
            .map(|_| ())
            .map_err(|e| format!("{}: {}", e.error_type, e.message))
    }

    async fn dead_letter(
        &self,
        arn: &str,
        payload: String,
        failure: DeliveryFailure,
    ) -> Result<(), String> {
        let Some(sqs) = &self.sqs else {
            return Err(format!(
                "{arn}: the box's SQS service is off (--sqs-port off)"
            ));
        };
        let (code, message) = match failure.error.split_once(": ") {
            Some((code, message)) => (code.to_string(), message.to_string()),
            None => ("SDK_CLIENT_ERROR".to_string(), failure.error.clone()),
        };
        let attributes = vec![
            ("RULE_ARN".into(), "String".into(), failure.source_arn),
            ("TARGET_ARN".into(), "String".into(), failure.target_arn),
            ("ERROR_CODE".into(), "String".into(), code),
            ("ERROR_MESSAGE".into(), "String".into(), message),
            (
                "EXHAUSTED_RETRY_CONDITION".into(),
                "String".into(),
                "MaximumRetryAttempts".into(),
            ),
            (
                "RETRY_ATTEMPTS".into(),
                "String".into(),
                failure.retry_attempts.to_string(),
            ),
        ];
        sqs.send_with_attributes(arn, payload, attributes)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
