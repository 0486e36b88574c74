//! The box's CloudWatch Logs service as `esb up` / `esb gateway` run it: the Logs API
//! over the box's log store, on a listener of its own (HTTPS with the box's
//! certificate, or plain HTTP). It needs the embedded store: with `--logs-listen off`
//! there is nothing to serve.

use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use esb_cloudwatch_logs::{Catalog, LogsFront, Service};

use crate::service_port::{BoxContext, ServicePort};

/// The port `auto` tries first: beside VictoriaLogs' 9428, where the original ESB
/// pointed its functions' CloudWatch Logs.
const DEFAULT_PORT: u16 = 9429;

#[derive(Args, Clone, Debug)]
pub struct CloudWatchLogsArgs {
    /// Port of the box's CloudWatch Logs API (functions reach it through
    /// AWS_ENDPOINT_URL_CLOUDWATCH_LOGS): `auto` (9429, or a free port when that is
    /// taken), a number (`0`: any free one), or `off`.
    #[arg(long, env = "ESB_CLOUDWATCH_LOGS_PORT", default_value = "auto", value_parser = crate::service_port::parse)]
    pub cloudwatch_logs_port: ServicePort,
    /// Serve CloudWatch Logs over plain HTTP instead of HTTPS with the box's certificate.
    #[arg(
        long,
        env = "ESB_CLOUDWATCH_LOGS_PLAIN_HTTP",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub cloudwatch_logs_plain_http: bool,
}

/// The CloudWatch Logs service of a running box.
pub struct CloudWatchLogsService {
    /// What functions get as `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`.
    pub url: String,
    stop: tokio::sync::watch::Sender<bool>,
}

impl CloudWatchLogsService {
    /// Starts the listener (nothing when the service or the log store is off).
    pub async fn start(
        args: &CloudWatchLogsArgs,
        ctx: BoxContext<'_>,
        collector: Option<Arc<esb_logs::collector::Collector>>,
    ) -> Result<Option<Self>> {
        let Some((collector, store)) = collector.and_then(|c| {
            let store = c.store.clone()?;
            Some((c, store))
        }) else {
            if args.cloudwatch_logs_port != ServicePort::Off {
                eprintln!(
                    "esb: warning: the log store is off (--logs-listen off): no CloudWatch Logs API"
                );
            }
            return Ok(None);
        };
        let Some(listener) = crate::service_port::bind(
            args.cloudwatch_logs_port,
            DEFAULT_PORT,
            "CloudWatch Logs",
            "--cloudwatch-logs-port",
        )
        .await?
        else {
            return Ok(None);
        };
        let port = listener.local_addr()?.port();
        let scheme = if args.cloudwatch_logs_plain_http {
            "http"
        } else {
            "https"
        };
        let dir = ctx.state.cloudwatch_logs();
        let catalog = tokio::task::spawn_blocking(move || Catalog::open(&dir))
            .await
            .context("the CloudWatch Logs catalogue")??;
        let service = Service {
            store,
            catalog,
            collector,
            region: ctx.region.to_string(),
            account: ctx.account.to_string(),
        };
        let access = crate::service_port::access_hook(ctx.state, ctx.log_records, "logs");
        let front = LogsFront::new(service, ctx.credentials.clone(), Some(access));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let tls = (!args.cloudwatch_logs_plain_http).then_some(ctx.tls);
        let shutdown = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        tokio::spawn(esb_cloudwatch_logs::serve(
            listener, tls, ctx.limits, front, shutdown,
        ));
        Ok(Some(Self {
            url: format!("{scheme}://127.0.0.1:{port}"),
            stop,
        }))
    }

    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}
