//! The execution environment: one runtime process, the Runtime API state machine it
//! walks through (AWS's state names), and the single invocation it may run at a time.
//!
//! The Invoke API side calls [`Sandbox::invoke`]; the Runtime API side calls
//! [`Sandbox::next`], [`Sandbox::respond`] and [`Sandbox::init_error`]. All shared state
//! sits behind one short-held mutex; nothing awaits while holding it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use nix::sys::signal::Signal;
use tokio::sync::{Notify, Semaphore, oneshot};

use crate::config::FunctionConfig;
use crate::failure::{Failure, RenderedFailure};
use crate::invocation_log::{LogSink, Report, Source};
use crate::log_capture::LogCapture;
use crate::runtime_api_error::RuntimeApiError;
use crate::runtime_process::{self, RuntimeProcess};

/// What the runtime receives from `/next`.
#[derive(Debug, Clone)]
pub struct Event {
    pub request_id: String,
    pub payload: Bytes,
    pub deadline_ms: u64,
    pub invoked_arn: String,
    pub trace_id: String,
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
    pub tenant_id: Option<String>,
}

/// An accepted invocation, already validated by the Invoke API.
#[derive(Debug, Clone, Default)]
pub struct InvokeRequest {
    pub payload: Bytes,
    pub qualifier: Option<String>,
    pub trace_id: Option<String>,
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
    pub tenant_id: Option<String>,
    /// `X-Amz-Log-Type: Tail`: wait for REPORT and return the log tail.
    pub want_log_tail: bool,
}

#[derive(Debug, Clone)]
pub struct InvokeResult {
    pub request_id: String,
    pub outcome: Result<Bytes, RenderedFailure>,
    pub log_tail: Option<Vec<u8>>,
}

/// Why an invocation was not even attempted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("invocation {0} is in progress; a worker runs one invocation at a time")]
    Busy(String),
    #[error("the execution environment is shutting down")]
    ShuttingDown,
}

/// The right to run one invocation (the environment's single slot).
pub struct Reservation(tokio::sync::OwnedSemaphorePermit);

/// The runtime's position in the Runtime API protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No runtime process.
    Stopped,
    /// Spawned, initialising, has not called `/next` yet.
    Started,
    /// Called `/next`: waiting for an event or processing one.
    Ready,
    /// Posted the answer to its event; will call `/next` again.
    ResponseSent,
    /// Posted `/init/error`.
    InitError,
}

impl Phase {
    /// AWS RIE's state names, used in `InvalidStateTransition` messages.
    fn aws_name(self) -> &'static str {
        match self {
            Phase::Stopped => "RuntimeStoppedState",
            Phase::Started => "RuntimeStartedState",
            Phase::Ready => "RuntimeReadyState",
            Phase::ResponseSent => "RuntimeResponseSentState",
            Phase::InitError => "RuntimeInitErrorState",
        }
    }
}

struct Live {
    pid: u32,
    spawned_at: Instant,
    capture: LogCapture,
}

struct InFlight {
    request_id: String,
    reply: oneshot::Sender<Result<Bytes, Failure>>,
    delivered: bool,
}

struct State {
    generation: u64,
    phase: Phase,
    runtime: Option<Live>,
    next_waiter: Option<oneshot::Sender<Event>>,
    pending: Option<Event>,
    in_flight: Option<InFlight>,
    /// A failed initialisation, reported by the next invocation.
    init_failure: Option<Failure>,
    /// Measured at the first `/next`; printed on the next REPORT.
    init_duration: Option<Duration>,
    peak_memory_kib: u64,
}

pub struct Sandbox {
    config: FunctionConfig,
    command: Vec<String>,
    runtime_api: String,
    sink: Arc<LogSink>,
    state: Mutex<State>,
    changed: Notify,
    slot: Arc<Semaphore>,
    /// Serialises START..REPORT blocks, so a finishing invocation's REPORT is printed
    /// before the next START even though its response went out first.
    log_order: Arc<tokio::sync::Mutex<()>>,
    in_flight_id: Mutex<Option<String>>,
    shutting_down: AtomicBool,
}

impl Sandbox {
    /// `command` empty means AWS's bootstrap lookup; `runtime_api` is exported as
    /// `AWS_LAMBDA_RUNTIME_API`.
    pub fn new(
        config: FunctionConfig,
        command: Vec<String>,
        runtime_api: String,
        sink: Arc<LogSink>,
    ) -> Arc<Self> {
        Arc::new(Self {
            config,
            command,
            runtime_api,
            sink,
            state: Mutex::new(State {
                generation: 0,
                phase: Phase::Stopped,
                runtime: None,
                next_waiter: None,
                pending: None,
                in_flight: None,
                init_failure: None,
                init_duration: None,
                peak_memory_kib: 0,
            }),
            changed: Notify::new(),
            slot: Arc::new(Semaphore::new(1)),
            log_order: Arc::new(tokio::sync::Mutex::new(())),
            in_flight_id: Mutex::new(None),
            shutting_down: AtomicBool::new(false),
        })
    }

    pub fn config(&self) -> &FunctionConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the runtime now (Lambda initialises an environment before its first
    /// invocation); a failure is kept and reported by that invocation.
    pub fn start(self: &Arc<Self>) {
        let mut st = self.lock();
        if st.phase == Phase::Stopped && st.init_failure.is_none() {
            self.spawn_locked(&mut st);
        }
    }

    /// Waits up to `within` until the runtime's initialisation has settled: it polled
    /// `/next` (ready for an event) or failed (the failure awaits the first invocation).
    /// Lets the agent freeze a standby worker only once its init is done.
    pub async fn wait_initialised(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let st = self.lock();
                let settled = match st.phase {
                    Phase::Started => false,
                    Phase::Stopped => st.init_failure.is_some(),
                    Phase::Ready | Phase::ResponseSent | Phase::InitError => true,
                };
                if settled {
                    return true;
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return false;
            }
        }
    }

    fn spawn_locked(self: &Arc<Self>, st: &mut State) {
        let command = if self.command.is_empty() {
            runtime_process::default_command()
        } else {
            Ok(self.command.clone())
        };
        let env = self.config.runtime_env(&self.runtime_api);
        let spawned =
            command.and_then(|c| runtime_process::spawn(&c, &env, &self.config.task_root));
        let RuntimeProcess {
            pid,
            mut child,
            stdout,
            stderr,
        } = match spawned {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("{e}");
                st.init_failure = Some(Failure::InvalidEntrypoint {
                    message: e.to_string(),
                });
                return;
            }
        };
        st.generation += 1;
        st.phase = Phase::Started;
        st.runtime = Some(Live {
            pid,
            spawned_at: Instant::now(),
            capture: LogCapture::start(stdout, stderr, Arc::clone(&self.sink)),
        });
        let generation = st.generation;
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let description = match child.wait().await {
                Ok(status) => runtime_process::describe_exit(status),
                Err(e) => format!("wait failed: {e}"),
            };
            this.on_exit(generation, description);
        });
        self.changed.notify_waiters();
    }

    /// The runtime process ended on its own.
    fn on_exit(self: &Arc<Self>, generation: u64, description: String) {
        let mut st = self.lock();
        if st.generation != generation {
            return; // we killed it ourselves and already moved on
        }
        tracing::info!("runtime exited: {description}");
        let was_initialising = matches!(st.phase, Phase::Started | Phase::InitError);
        st.runtime = None;
        st.phase = Phase::Stopped;
        st.next_waiter = None;
        let exit = Failure::Exit { description };
        if was_initialising {
            let failure = st.init_failure.take().unwrap_or(exit);
            match st.in_flight.take() {
                Some(f) => {
                    st.pending = None;
                    let _ = f.reply.send(Err(failure));
                }
                None => st.init_failure = Some(failure),
            }
        } else if st.in_flight.as_ref().is_some_and(|f| f.delivered) {
            st.pending = None;
            if let Some(f) = st.in_flight.take() {
                let _ = f.reply.send(Err(exit));
            }
        } else if st.in_flight.is_some() && !self.shutting_down.load(Ordering::SeqCst) {
            // The runtime died between answering and polling again: the waiting event
            // never reached function code, so a fresh runtime can take it safely.
            self.spawn_locked(&mut st);
        }
        drop(st);
        self.changed.notify_waiters();
    }

    /// Kills the runtime's process group; the next invocation starts a fresh one.
    fn reset_locked(&self, st: &mut State) {
        if let Some(live) = st.runtime.take() {
            st.peak_memory_kib = st
                .peak_memory_kib
                .max(runtime_process::peak_memory_kib(live.pid));
            runtime_process::signal_group(live.pid, Signal::SIGKILL);
        }
        st.generation += 1;
        st.phase = Phase::Stopped;
        st.next_waiter = None;
        st.pending = None;
        self.changed.notify_waiters();
    }

    /// Claims the environment for one invocation, or says why it cannot run now.
    pub fn reserve(&self) -> Result<Reservation, Rejection> {
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err(Rejection::ShuttingDown);
        }
        match Arc::clone(&self.slot).try_acquire_owned() {
            Ok(permit) => Ok(Reservation(permit)),
            Err(_) => {
                let current = self
                    .in_flight_id
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone()
                    .unwrap_or_default();
                Err(Rejection::Busy(current))
            }
        }
    }

    /// Runs one invocation to its end: response, function error, init error, exit or timeout.
    pub async fn invoke(
        self: &Arc<Self>,
        reservation: Reservation,
        req: InvokeRequest,
    ) -> InvokeResult {
        let permit = reservation.0;
        let log_guard = Arc::clone(&self.log_order).lock_owned().await;
        let request_id = uuid::Uuid::new_v4().to_string();
        *self
            .in_flight_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(request_id.clone());
        // The trace is fixed now, so every line of the invocation carries it.
        let mut req = req;
        if req.trace_id.is_none() {
            req.trace_id = Some(esb_lambda::trace_id::new_trace_header());
        }
        self.sink
            .begin(&request_id, &self.config.version, req.trace_id.as_deref());
        let (result, handler_time) = self.run(&request_id, &req).await;
        let outcome = result.map_err(|f| f.render(&request_id));
        // The worker is free as soon as the answer is known; `log_guard` keeps the next
        // START behind this invocation's REPORT.
        *self
            .in_flight_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        drop(permit);
        let finish = Finish {
            sandbox: Arc::clone(self),
            request_id: request_id.clone(),
            handler_time,
            status: outcome
                .as_ref()
                .err()
                .map(|f| (f.status.to_string(), Some(f.error_type.clone()))),
            _log_guard: log_guard,
        };
        if req.want_log_tail {
            let tail = finish.run().await;
            return InvokeResult {
                request_id,
                outcome,
                log_tail: Some(tail),
            };
        }
        // The caller gets its answer now; END/REPORT follow off the request path.
        tokio::spawn(finish.run());
        InvokeResult {
            request_id,
            outcome,
            log_tail: None,
        }
    }

    /// Brings the runtime to `/next`, hands it the event and waits for its answer.
    async fn run(
        self: &Arc<Self>,
        request_id: &str,
        req: &InvokeRequest,
    ) -> (Result<Bytes, Failure>, Duration) {
        let timeout = self.config.timeout;
        let init_deadline = tokio::time::Instant::now() + timeout;
        let reply = loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut st = self.lock();
                if let Some(failure) = st.init_failure.take() {
                    self.reset_locked(&mut st);
                    return (Err(failure), Duration::ZERO);
                }
                match st.phase {
                    Phase::Stopped if self.shutting_down.load(Ordering::SeqCst) => {
                        return (Err(Failure::Shutdown), Duration::ZERO);
                    }
                    Phase::Stopped => {
                        self.spawn_locked(&mut st);
                        continue;
                    }
                    Phase::Started | Phase::InitError => {}
                    Phase::Ready | Phase::ResponseSent => {
                        break self.deliver_locked(&mut st, request_id, req);
                    }
                }
            }
            if tokio::time::timeout_at(init_deadline, notified)
                .await
                .is_err()
            {
                let mut st = self.lock();
                self.reset_locked(&mut st);
                return (Err(Failure::Timeout { after: timeout }), timeout);
            }
        };
        let delivered_at = Instant::now();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut reply = reply;
        let result = match tokio::time::timeout_at(deadline, &mut reply).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Failure::Exit {
                description: "the runtime was reset".into(),
            }),
            Err(_) => {
                let mut st = self.lock();
                // The answer may have raced the timer: keep it if it arrived.
                match reply.try_recv() {
                    Ok(result) => result,
                    Err(_) => {
                        st.in_flight = None;
                        self.reset_locked(&mut st);
                        drop(st);
                        self.sink.line(
                            Source::Platform,
                            format!(
                                "{} {request_id} Task timed out after {:.2} seconds",
                                now_rfc3339_millis(),
                                timeout.as_secs_f64()
                            )
                            .as_bytes(),
                        );
                        Err(Failure::Timeout { after: timeout })
                    }
                }
            }
        };
        (result, delivered_at.elapsed())
    }

    fn deliver_locked(
        &self,
        st: &mut State,
        request_id: &str,
        req: &InvokeRequest,
    ) -> oneshot::Receiver<Result<Bytes, Failure>> {
        let (tx, rx) = oneshot::channel();
        let event = Event {
            request_id: request_id.to_string(),
            payload: req.payload.clone(),
            deadline_ms: epoch_ms()
                + u64::try_from(self.config.timeout.as_millis()).unwrap_or(u64::MAX),
            invoked_arn: self.config.invoked_arn(req.qualifier.as_deref()),
            trace_id: req
                .trace_id
                .clone()
                .unwrap_or_else(esb_lambda::trace_id::new_trace_header),
            client_context: req.client_context.clone(),
            cognito_identity: req.cognito_identity.clone(),
            tenant_id: req.tenant_id.clone(),
        };
        // A parked `/next` takes the event now; otherwise the runtime picks it up on its
        // next poll (it is between answering and polling again, or still initialising).
        let undelivered = match st.next_waiter.take() {
            Some(waiter) => waiter.send(event).err(),
            None => Some(event),
        };
        let delivered = undelivered.is_none();
        st.pending = undelivered;
        st.in_flight = Some(InFlight {
            request_id: request_id.to_string(),
            reply: tx,
            delivered,
        });
        rx
    }

    /// `GET /runtime/invocation/next`: the runtime is ready for (another) event.
    pub async fn next(&self) -> Result<Event, RuntimeApiError> {
        let rx = {
            let mut st = self.lock();
            match st.phase {
                Phase::Started => {
                    if let Some((elapsed, pid)) =
                        st.runtime.as_ref().map(|l| (l.spawned_at.elapsed(), l.pid))
                    {
                        st.init_duration = Some(elapsed);
                        // Sampled here too, so a runtime that later crashes still has a figure.
                        st.peak_memory_kib = st
                            .peak_memory_kib
                            .max(runtime_process::peak_memory_kib(pid));
                    }
                }
                Phase::ResponseSent => {}
                // A runtime re-polling after its previous `/next` connection dropped.
                Phase::Ready
                    if st.next_waiter.as_ref().is_some_and(|w| w.is_closed())
                        && !st.in_flight.as_ref().is_some_and(|f| f.delivered) => {}
                other => {
                    return Err(RuntimeApiError::invalid_transition(
                        other.aws_name(),
                        "Ready",
                    ));
                }
            }
            st.phase = Phase::Ready;
            self.changed.notify_waiters();
            if let Some(event) = st.pending.take() {
                if let Some(f) = st.in_flight.as_mut() {
                    f.delivered = true;
                }
                return Ok(event);
            }
            let (tx, rx) = oneshot::channel();
            st.next_waiter = Some(tx);
            rx
        };
        rx.await.map_err(|_| RuntimeApiError {
            status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            error_type: "InternalServerError",
            message: "The execution environment was reset while waiting for an event".into(),
        })
    }

    /// `POST /runtime/invocation/{id}/response` (`Ok`) or `/error` (`Err`).
    pub fn respond(
        &self,
        request_id: &str,
        result: Result<Bytes, Failure>,
    ) -> Result<(), RuntimeApiError> {
        let target = match &result {
            Ok(_) | Err(Failure::ResponseTooLarge) => "InvocationResponse",
            Err(_) => "InvocationErrorResponse",
        };
        let mut st = self.lock();
        if st.phase != Phase::Ready {
            return Err(RuntimeApiError::invalid_transition(
                st.phase.aws_name(),
                target,
            ));
        }
        let matches = st
            .in_flight
            .as_ref()
            .is_some_and(|f| f.delivered && f.request_id == request_id);
        if !matches {
            return Err(RuntimeApiError::invalid_request_id());
        }
        st.phase = Phase::ResponseSent;
        if let Some(f) = st.in_flight.take() {
            let _ = f.reply.send(result);
        }
        Ok(())
    }

    /// `POST /runtime/init/error`.
    pub fn init_error(&self, body: Bytes, error_type: String) -> Result<(), RuntimeApiError> {
        let mut st = self.lock();
        if st.phase != Phase::Started {
            return Err(RuntimeApiError::invalid_transition(
                st.phase.aws_name(),
                "InitError",
            ));
        }
        st.phase = Phase::InitError;
        let failure = Failure::Init { body, error_type };
        match st.in_flight.take() {
            // An invocation was waiting for this runtime: it gets the error now.
            Some(f) => {
                st.pending = None;
                let _ = f.reply.send(Err(failure));
                self.reset_locked(&mut st);
            }
            None => st.init_failure = Some(failure),
        }
        drop(st);
        self.changed.notify_waiters();
        Ok(())
    }

    /// SIGTERM handling: refuse new work, let the invocation in flight finish within
    /// `grace` (or fail it), then stop the runtime (SIGTERM, then SIGKILL).
    pub async fn shutdown(&self, grace: Duration) {
        self.shutting_down.store(true, Ordering::SeqCst);
        let finished = tokio::time::timeout(grace, self.slot.acquire())
            .await
            .is_ok();
        if !finished {
            if let Some(f) = self.lock().in_flight.take() {
                tracing::warn!(request_id = %f.request_id, "failing the invocation in flight: shutting down");
                let _ = f.reply.send(Err(Failure::Shutdown));
            }
            let _ = tokio::time::timeout(Duration::from_secs(2), self.slot.acquire()).await;
        }
        // Let the last invocation's END/REPORT go out.
        let _ = tokio::time::timeout(Duration::from_secs(2), self.log_order.lock()).await;
        let pid = self.lock().runtime.as_ref().map(|l| l.pid);
        if let Some(pid) = pid {
            runtime_process::signal_group(pid, Signal::SIGTERM);
            let stopped = async {
                while self.lock().runtime.is_some() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            };
            if tokio::time::timeout(Duration::from_millis(500), stopped)
                .await
                .is_err()
            {
                let mut st = self.lock();
                self.reset_locked(&mut st);
            }
        }
    }
}

/// The END/REPORT half of an invocation, run after (or, for `Tail`, before) the
/// caller gets its answer.
struct Finish {
    sandbox: Arc<Sandbox>,
    request_id: String,
    handler_time: Duration,
    status: Option<(String, Option<String>)>,
    _log_guard: tokio::sync::OwnedMutexGuard<()>,
}

impl Finish {
    async fn run(self) -> Vec<u8> {
        let sb = &self.sandbox;
        let capture = sb
            .lock()
            .runtime
            .as_ref()
            .map(|l| (l.pid, l.capture.clone()));
        if let Some((_, capture)) = &capture {
            capture.settle().await;
        }
        let (peak_kib, init_duration) = {
            let mut st = sb.lock();
            if let Some((pid, _)) = capture {
                st.peak_memory_kib = st
                    .peak_memory_kib
                    .max(runtime_process::peak_memory_kib(pid));
            }
            (st.peak_memory_kib, st.init_duration.take())
        };
        let report = Report {
            duration: self.handler_time,
            memory_size_mb: sb.config.memory_mb,
            max_memory_used_mb: peak_kib.div_ceil(1024),
            init_duration,
            status: self.status.clone(),
        };
        sb.sink.finish(&self.request_id, &report)
    }
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

fn now_rfc3339_millis() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}
