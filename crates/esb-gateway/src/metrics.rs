//! `GET /metrics`: Prometheus text (OpenMetrics) mirroring CloudWatch's Lambda metrics
//! per function — Invocations, Errors, Throttles, Duration, ConcurrentExecutions — plus
//! cold starts, warm idle workers and the accepted asynchronous events still pending.
//! Built on `prometheus-client`, the Prometheus project's Rust client.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FunctionLabel {
    pub function: String,
}

type PerFunction<M> = Family<FunctionLabel, M>;
type HistogramFamily = Family<FunctionLabel, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Mutex<Registry>,
    invocations: PerFunction<Counter>,
    errors: PerFunction<Counter>,
    throttles: PerFunction<Counter>,
    cold_starts: PerFunction<Counter>,
    duration: HistogramFamily,
    concurrent: PerFunction<Gauge>,
    idle: PerFunction<Gauge>,
    async_pending: PerFunction<Gauge>,
    async_oldest: PerFunction<Gauge<f64, std::sync::atomic::AtomicU64>>,
}

/// What a scrape reads from the pools and the async events at that moment.
pub struct PoolFigures {
    pub function: String,
    pub busy: usize,
    pub idle: usize,
    pub async_pending: usize,
    pub async_oldest: Duration,
}

fn duration_histogram() -> Histogram {
    // 1 ms .. ~65 s, doubling: Lambda durations span that range.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Default for Metrics {
    fn default() -> Self {
        let m = Self {
            registry: Mutex::new(Registry::with_prefix("esb_lambda")),
            invocations: Family::default(),
            errors: Family::default(),
            throttles: Family::default(),
            cold_starts: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
            concurrent: Family::default(),
            idle: Family::default(),
            async_pending: Family::default(),
            async_oldest: Family::default(),
        };
        if let Ok(mut r) = m.registry.lock() {
            r.register(
                "invocations",
                "Invocations of the function (CloudWatch Invocations)",
                m.invocations.clone(),
            );
            r.register(
                "errors",
                "Invocations that ended in a function error (CloudWatch Errors)",
                m.errors.clone(),
            );
            r.register(
                "throttles",
                "Requests refused at the concurrency limit (CloudWatch Throttles)",
                m.throttles.clone(),
            );
            r.register(
                "cold_starts",
                "Invocations that needed a new worker",
                m.cold_starts.clone(),
            );
            r.register(
                "duration_seconds",
                "Time from sending the event to the worker to its answer (CloudWatch Duration)",
                m.duration.clone(),
            );
            r.register(
                "concurrent_executions",
                "Invocations in flight (CloudWatch ConcurrentExecutions)",
                m.concurrent.clone(),
            );
            r.register(
                "idle_workers",
                "Warm workers waiting for an invocation",
                m.idle.clone(),
            );
            r.register(
                "async_events_pending",
                "Accepted Event invocations not finished yet",
                m.async_pending.clone(),
            );
            r.register(
                "async_event_oldest_age_seconds",
                "Age of the oldest pending Event invocation (CloudWatch AsyncEventAge)",
                m.async_oldest.clone(),
            );
        }
        m
    }
}

fn label(function: &str) -> FunctionLabel {
    FunctionLabel {
        function: function.to_string(),
    }
}

impl Metrics {
    /// One invocation answered by a worker.
    pub fn invoked(&self, function: &str, took: Duration, function_error: bool, cold: bool) {
        let l = label(function);
        self.invocations.get_or_create(&l).inc();
        self.duration.get_or_create(&l).observe(took.as_secs_f64());
        if function_error {
            self.errors.get_or_create(&l).inc();
        }
        if cold {
            self.cold_starts.get_or_create(&l).inc();
        }
    }

    pub fn throttled(&self, function: &str) {
        self.throttles.get_or_create(&label(function)).inc();
    }

    /// The text a scrape gets, with the gauges read now.
    pub fn render(&self, pools: &[PoolFigures]) -> String {
        for p in pools {
            let l = label(&p.function);
            self.concurrent
                .get_or_create(&l)
                .set(i64::try_from(p.busy).unwrap_or(i64::MAX));
            self.idle
                .get_or_create(&l)
                .set(i64::try_from(p.idle).unwrap_or(i64::MAX));
            self.async_pending
                .get_or_create(&l)
                .set(i64::try_from(p.async_pending).unwrap_or(i64::MAX));
            self.async_oldest
                .get_or_create(&l)
                .set(p.async_oldest.as_secs_f64());
        }
        let mut text = String::new();
        if let Ok(r) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut text, &r);
        }
        text
    }
}
