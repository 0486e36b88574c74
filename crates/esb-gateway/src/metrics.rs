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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NodeLabel {
    pub node: String,
}

type PerFunction<M> = Family<FunctionLabel, M>;
type PerNode<M> = Family<NodeLabel, M>;
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
    node_invocations: PerNode<Counter>,
    node_up: PerNode<Gauge>,
    node_workers: PerNode<Gauge>,
    node_memory: PerNode<Gauge>,
    node_memory_used: PerNode<Gauge>,
    node_placements: PerNode<Gauge>,
    node_losses: PerNode<Gauge>,
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
            node_invocations: Family::default(),
            node_up: Family::default(),
            node_workers: Family::default(),
            node_memory: Family::default(),
            node_memory_used: Family::default(),
            node_placements: Family::default(),
            node_losses: Family::default(),
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
            r.register(
                "node_invocations",
                "Invocations answered by workers on the node",
                m.node_invocations.clone(),
            );
            r.register(
                "node_up",
                "1 while the node is up and gets work, else 0",
                m.node_up.clone(),
            );
            r.register(
                "node_workers",
                "Workers on the node",
                m.node_workers.clone(),
            );
            r.register(
                "node_memory_bytes",
                "Memory the node gives workers",
                m.node_memory.clone(),
            );
            r.register(
                "node_memory_used_bytes",
                "MemorySize of the workers placed on the node",
                m.node_memory_used.clone(),
            );
            r.register(
                "node_placements",
                "Workers started on the node since the box started",
                m.node_placements.clone(),
            );
            r.register(
                "node_losses",
                "Times the node was declared lost",
                m.node_losses.clone(),
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
    /// One invocation answered by a worker on `node`.
    pub fn invoked(
        &self,
        function: &str,
        node: &str,
        took: Duration,
        function_error: bool,
        cold: bool,
    ) {
        self.node_invocations
            .get_or_create(&NodeLabel {
                node: node.to_string(),
            })
            .inc();
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
    pub fn render(&self, pools: &[PoolFigures], nodes: &[crate::status::NodeStatus]) -> String {
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        for n in nodes {
            let l = NodeLabel {
                node: n.name.clone(),
            };
            let up = n.health == crate::nodes::Health::Up.as_str() && !n.draining;
            self.node_up.get_or_create(&l).set(i64::from(up));
            let workers: usize = n.workers.values().sum();
            self.node_workers
                .get_or_create(&l)
                .set(gauge(workers as u64));
            self.node_memory
                .get_or_create(&l)
                .set(gauge(n.memory_mb.saturating_mul(1 << 20)));
            self.node_memory_used
                .get_or_create(&l)
                .set(gauge(n.memory_used_mb.saturating_mul(1 << 20)));
            self.node_placements
                .get_or_create(&l)
                .set(gauge(n.placements));
            self.node_losses.get_or_create(&l).set(gauge(n.losses));
        }
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
