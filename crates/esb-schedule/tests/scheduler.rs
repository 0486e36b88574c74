//! The scheduler run on tokio's paused time: hours of schedule in milliseconds, with a
//! wall clock that follows tokio's and can be moved (a box down for ten minutes, a
//! clock set back).
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use esb_schedule::{Clock, DeliveryFailure, ScheduleTarget, Scheduler, SchedulerConfig};
use esb_template::{
    ScheduleDeadLetter, ScheduleEventSpec, ScheduleExpression, ScheduleKind, ScheduleRetryPolicy,
};

const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "123456789012";

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Wall-clock time that advances with tokio's (paused) clock, plus a settable jump.
struct PausedClock {
    base: DateTime<Utc>,
    start: tokio::time::Instant,
    jump: Mutex<chrono::Duration>,
}

impl PausedClock {
    fn at(base: &str) -> Arc<Self> {
        Arc::new(Self {
            base: utc(base),
            start: tokio::time::Instant::now(),
            jump: Mutex::new(chrono::Duration::zero()),
        })
    }

    fn jump(&self, by: chrono::Duration) {
        *self.jump.lock().unwrap() += by;
    }
}

impl Clock for PausedClock {
    fn now(&self) -> DateTime<Utc> {
        self.base
            + chrono::Duration::from_std(self.start.elapsed()).unwrap()
            + *self.jump.lock().unwrap()
    }
}

/// Records what it is given; fails every `fire` when `failing`.
#[derive(Default)]
struct Recorder {
    failing: bool,
    fired: Mutex<Vec<(String, serde_json::Value)>>,
    attempts: Mutex<u32>,
    dead: Mutex<Vec<(String, String, DeliveryFailure)>>,
}

impl Recorder {
    fn fired(&self) -> Vec<(String, serde_json::Value)> {
        self.fired.lock().unwrap().clone()
    }

    /// The `time` of each payload fired (scheduled events only).
    fn times(&self) -> Vec<String> {
        self.fired()
            .iter()
            .map(|(_, p)| p["time"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

#[async_trait]
impl ScheduleTarget for Recorder {
    async fn fire(&self, function: &str, payload: String) -> Result<(), String> {
        *self.attempts.lock().unwrap() += 1;
        if self.failing {
            return Err("Rate Exceeded.".into());
        }
        let json = serde_json::from_str(&payload).unwrap();
        self.fired
            .lock()
            .unwrap()
            .push((function.to_string(), json));
        Ok(())
    }

    async fn dead_letter(
        &self,
        arn: &str,
        payload: String,
        failure: DeliveryFailure,
    ) -> Result<(), String> {
        self.dead
            .lock()
            .unwrap()
            .push((arn.to_string(), payload, failure));
        Ok(())
    }
}

fn spec(id: &str, expression: &str, kind: ScheduleKind) -> ScheduleEventSpec {
    ScheduleEventSpec {
        logical_id: id.into(),
        kind,
        expression: ScheduleExpression::parse(expression, true).unwrap(),
        timezone: "UTC".into(),
        input: None,
        enabled: true,
        start_date: None,
        end_date: None,
        retry_policy: ScheduleRetryPolicy::default(),
        dead_letter: None,
        name: format!("Fn{id}"),
        group_name: (kind == ScheduleKind::Scheduler).then(|| "default".into()),
        description: None,
        flexible_window_minutes: None,
    }
}

fn config(dir: &tempfile::TempDir) -> SchedulerConfig {
    SchedulerConfig {
        region: REGION.into(),
        account: ACCOUNT.into(),
        state_dir: dir.path().join("schedules"),
    }
}

fn start(
    dir: &tempfile::TempDir,
    target: &Arc<Recorder>,
    clock: &Arc<PausedClock>,
    specs: Vec<ScheduleEventSpec>,
) -> Scheduler {
    let schedules = specs
        .into_iter()
        .map(|s| ("tick-fn".to_string(), s))
        .collect();
    Scheduler::start_with_clock(config(dir), target.clone(), schedules, clock.clone()).unwrap()
}

async fn pass(seconds: u64) {
    tokio::time::sleep(Duration::from_secs(seconds)).await;
}

#[tokio::test(start_paused = true)]
async fn a_rate_rule_fires_every_minute_with_the_scheduled_event() {
    let dir = tempfile::tempdir().unwrap();
    let target = Arc::new(Recorder::default());
    let clock = PausedClock::at("2026-03-01T00:00:10Z");
    let s = start(
        &dir,
        &target,
        &clock,
        vec![spec("Tick", "rate(1 minute)", ScheduleKind::Rule)],
    );
    assert_eq!(
        s.status()[0].next_run.as_deref(),
        Some("2026-03-01T00:01:10Z")
    );
    pass(59).await;
    assert!(
        target.fired().is_empty(),
        "a rule's rate counts a period first"
    );
    pass(126).await;
    assert_eq!(
        target.times(),
        [
            "2026-03-01T00:01:10Z",
            "2026-03-01T00:02:10Z",
            "2026-03-01T00:03:10Z"
        ]
    );
    let (function, event) = &target.fired()[0];
    assert_eq!(function, "tick-fn");
    assert_eq!(event["version"], "0");
    assert_eq!(event["detail-type"], "Scheduled Event");
    assert_eq!(event["source"], "aws.events");
    assert_eq!(event["account"], ACCOUNT);
    assert_eq!(event["region"], REGION);
    assert_eq!(
        event["resources"],
        serde_json::json!(["arn:aws:events:eu-west-1:123456789012:rule/FnTick"])
    );
    assert_eq!(event["detail"], serde_json::json!({}));
    let ids: std::collections::BTreeSet<String> = target
        .fired()
        .iter()
        .map(|(_, e)| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3, "each run has its own id");
    assert_eq!(
        s.status()[0].next_run.as_deref(),
        Some("2026-03-01T00:04:10Z")
    );
    s.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_scheduler_rate_starts_at_once_and_sends_input_or_its_notification() {
    let dir = tempfile::tempdir().unwrap();
    let target = Arc::new(Recorder::default());
    let clock = PausedClock::at("2026-03-01T00:00:10Z");
    let with_input = ScheduleEventSpec {
        input: Some("{\"job\":\"nightly\"}".into()),
        ..spec("Job", "rate(1 hour)", ScheduleKind::Scheduler)
    };
    let s = start(
        &dir,
        &target,
        &clock,
        vec![
            spec("Tick", "rate(1 minute)", ScheduleKind::Scheduler),
            with_input,
        ],
    );
    pass(61).await;
    let fired = target.fired();
    assert_eq!(fired.len(), 3, "{fired:?}");
    // The two first runs are delivered concurrently: in either order.
    let (inputs, notifications): (Vec<_>, Vec<_>) = fired
        .iter()
        .map(|(_, e)| e.clone())
        .partition(|e| e.get("job").is_some());
    assert_eq!(inputs, [serde_json::json!({"job": "nightly"})]);
    let notification = &notifications[0];
    assert_eq!(notification["time"], "2026-03-01T00:00:10Z");
    assert_eq!(notification["source"], "aws.scheduler");
    assert_eq!(notification["detail-type"], "Scheduled Event");
    assert_eq!(
        notification["detail"], "{}",
        "Scheduler's detail is a string"
    );
    assert_eq!(
        notification["resources"],
        serde_json::json!(["arn:aws:scheduler:eu-west-1:123456789012:schedule/default/FnTick"])
    );
    assert_eq!(notifications[1]["time"], "2026-03-01T00:01:10Z");
    s.stop().await;
}

#[tokio::test(start_paused = true)]
async fn missed_runs_are_not_replayed_and_the_cadence_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let target = Arc::new(Recorder::default());
    let clock = PausedClock::at("2026-03-01T00:00:10Z");
    let tick = || vec![spec("Tick", "rate(1 minute)", ScheduleKind::Rule)];
    let s = start(&dir, &target, &clock, tick());
    pass(65).await;
    s.stop().await;
    assert_eq!(target.times(), ["2026-03-01T00:01:10Z"]);
    // Down for ten minutes.
    clock.jump(chrono::Duration::minutes(10));
    let s = start(&dir, &target, &clock, tick());
    assert_eq!(
        s.status()[0].next_run.as_deref(),
        Some("2026-03-01T00:12:10Z"),
        "the rate still counts from its creation"
    );
    pass(60).await;
    assert_eq!(
        target.times(),
        ["2026-03-01T00:01:10Z", "2026-03-01T00:12:10Z"],
        "the runs of the ten minutes down are not replayed"
    );
    s.stop().await;
}

#[tokio::test(start_paused = true)]
async fn no_scheduled_time_fires_twice_across_restarts_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let target = Arc::new(Recorder::default());
    let clock = PausedClock::at("2026-03-01T00:00:30Z");
    let every_minute = || spec("Tick", "cron(* * * * ? *)", ScheduleKind::Rule);
    let s = start(&dir, &target, &clock, vec![every_minute()]);
    pass(31).await;
    s.stop().await;
    assert_eq!(target.times(), ["2026-03-01T00:01:00Z"]);
    // Restarted with the clock set back before the run it already fired.
    clock.jump(chrono::Duration::seconds(-45));
    let s = start(&dir, &target, &clock, vec![every_minute()]);
    assert_eq!(
        s.status()[0].next_run.as_deref(),
        Some("2026-03-01T00:02:00Z")
    );
    pass(110).await;
    assert_eq!(
        target.times(),
        ["2026-03-01T00:01:00Z", "2026-03-01T00:02:00Z"]
    );
    // Reloaded unchanged: the same next run, nothing fired.
    let before = s.status();
    s.replace(vec![("tick-fn".into(), every_minute())]).unwrap();
    assert_eq!(s.status(), before);
    // Reloaded edited, right after 00:02:00 fired: that time is not fired again.
    s.replace(vec![(
        "tick-fn".into(),
        spec("Tick", "cron(0/2 * * * ? *)", ScheduleKind::Rule),
    )])
    .unwrap();
    assert_eq!(
        s.status()[0].next_run.as_deref(),
        Some("2026-03-01T00:04:00Z")
    );
    pass(130).await;
    assert_eq!(
        target.times(),
        [
            "2026-03-01T00:01:00Z",
            "2026-03-01T00:02:00Z",
            "2026-03-01T00:04:00Z"
        ]
    );
    s.stop().await;
}

#[tokio::test(start_paused = true)]
async fn disabled_and_finished_schedules_do_not_fire() {
    let dir = tempfile::tempdir().unwrap();
    let target = Arc::new(Recorder::default());
    let clock = PausedClock::at("2026-03-01T00:00:00Z");
    let off = ScheduleEventSpec {
        enabled: false,
        ..spec("Off", "rate(1 minute)", ScheduleKind::Scheduler)
    };
    let ended = ScheduleEventSpec {
        end_date: Some(utc("2026-03-01T00:00:00Z")),
        ..spec("Ended", "cron(* * * * ? *)", ScheduleKind::Scheduler)
    };
    let later = ScheduleEventSpec {
        start_date: Some(utc("2026-03-02T00:00:00Z")),
        ..spec("Later", "cron(0 * * * ? *)", ScheduleKind::Scheduler)
    };
    let past = spec("Past", "at(2026-02-01T00:00:00)", ScheduleKind::Scheduler);
    let s = start(&dir, &target, &clock, vec![off, ended, later, past]);
    let status = s.status();
    assert!(!status[0].enabled);
    assert_eq!(status[0].next_run, None);
    assert_eq!(status[1].next_run, None);
    assert_eq!(status[2].next_run.as_deref(), Some("2026-03-02T00:00:00Z"));
    assert_eq!(status[3].next_run, None);
    pass(600).await;
    assert!(target.fired().is_empty());
    // Enabled by a reload: runs from then on, in the cadence it was created with.
    clock.jump(chrono::Duration::seconds(30));
    s.replace(vec![(
        "tick-fn".into(),
        spec("Off", "rate(1 minute)", ScheduleKind::Scheduler),
    )])
    .unwrap();
    assert_eq!(
        s.status()[0].next_run.as_deref(),
        Some("2026-03-01T00:11:00Z")
    );
    pass(61).await;
    assert_eq!(target.times(), ["2026-03-01T00:11:00Z"]);
    s.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_failing_target_is_retried_then_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let target = Arc::new(Recorder {
        failing: true,
        ..Recorder::default()
    });
    let clock = PausedClock::at("2026-03-01T00:00:00Z");
    let dlq = "arn:aws:sqs:eu-west-1:123456789012:failed";
    let once = ScheduleEventSpec {
        retry_policy: ScheduleRetryPolicy {
            maximum_retry_attempts: 2,
            maximum_event_age_s: 86_400,
        },
        dead_letter: Some(ScheduleDeadLetter {
            arn: dlq.into(),
            sam_queue: None,
        }),
        ..spec("Once", "at(2026-03-01T00:01:00)", ScheduleKind::Scheduler)
    };
    // Its age limit, 60 s, ends the retries first: 1+2+4+8+16 s of back-off, then
    // the next (32 s) would pass it.
    let aged = ScheduleEventSpec {
        retry_policy: ScheduleRetryPolicy {
            maximum_retry_attempts: 185,
            maximum_event_age_s: 60,
        },
        ..once.clone()
    };
    let s = start(&dir, &target, &clock, vec![once]);
    pass(120).await;
    assert_eq!(
        *target.attempts.lock().unwrap(),
        3,
        "the first try and 2 retries"
    );
    let dead = target.dead.lock().unwrap().clone();
    assert_eq!(dead.len(), 1);
    let (arn, payload, failure) = &dead[0];
    assert_eq!(arn, dlq);
    let event: serde_json::Value = serde_json::from_str(payload).unwrap();
    assert_eq!(event["time"], "2026-03-01T00:01:00Z");
    assert_eq!(failure.error, "Rate Exceeded.");
    assert_eq!(failure.retry_attempts, 2);
    assert_eq!(
        failure.source_arn,
        "arn:aws:scheduler:eu-west-1:123456789012:schedule/default/FnOnce"
    );
    assert_eq!(
        failure.target_arn,
        "arn:aws:lambda:eu-west-1:123456789012:function:tick-fn"
    );
    s.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let target = Arc::new(Recorder {
        failing: true,
        ..Recorder::default()
    });
    let clock = PausedClock::at("2026-03-01T00:00:00Z");
    let s = start(&dir, &target, &clock, vec![aged]);
    pass(300).await;
    assert_eq!(*target.attempts.lock().unwrap(), 6);
    assert_eq!(target.dead.lock().unwrap()[0].2.retry_attempts, 5);
    s.stop().await;
}

#[tokio::test(start_paused = true)]
async fn cron_in_a_time_zone_runs_at_local_time() {
    let dir = tempfile::tempdir().unwrap();
    let target = Arc::new(Recorder::default());
    // Saturday before New York springs forward (2026-03-08).
    let clock = PausedClock::at("2026-03-07T00:00:00Z");
    let nine = ScheduleEventSpec {
        timezone: "America/New_York".into(),
        ..spec("Nine", "cron(0 9 * * ? *)", ScheduleKind::Scheduler)
    };
    let s = start(&dir, &target, &clock, vec![nine]);
    let status = s.status();
    assert_eq!(status[0].timezone, "America/New_York");
    assert_eq!(status[0].next_run.as_deref(), Some("2026-03-07T14:00:00Z"));
    pass(2 * 86_400).await;
    assert_eq!(
        target.times(),
        ["2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z"]
    );
    s.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_templates_schedules_fire_their_functions() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    let template = "Transform: AWS::Serverless-2016-10-31\nResources:\n  Reports:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: reports\n      CodeUri: src\n      Handler: app.handler\n      Runtime: python3.12\n      Events:\n        Minutely:\n          Type: Schedule\n          Properties: {Schedule: rate(1 minute), Input: '{\"kind\": \"minutely\"}'}\n        Morning:\n          Type: ScheduleV2\n          Properties:\n            ScheduleExpression: cron(0 8 ? * MON-FRI *)\n            ScheduleExpressionTimezone: Europe/London\n        Off:\n          Type: Schedule\n          Properties: {Schedule: rate(1 minute), Enabled: false}\n";
    let path = dir.path().join("template.yaml");
    let t = esb_template::load_str(template, &path, &Default::default()).unwrap();
    let target = Arc::new(Recorder::default());
    // Friday 2026-03-06, 07:59 in London (GMT).
    let clock = PausedClock::at("2026-03-06T07:59:30Z");
    let s = Scheduler::start_with_clock(
        config(&dir),
        target.clone(),
        esb_schedule::schedules(&t.functions),
        clock.clone(),
    )
    .unwrap();
    let status = s.status();
    assert_eq!(
        status
            .iter()
            .map(|s| (s.event.as_str(), s.next_run.as_deref()))
            .collect::<Vec<_>>(),
        [
            ("Minutely", Some("2026-03-06T08:00:30Z")),
            ("Morning", Some("2026-03-06T08:00:00Z")),
            ("Off", None)
        ]
    );
    pass(61).await;
    let fired = target.fired();
    assert_eq!(fired.len(), 2, "{fired:?}");
    assert!(fired.iter().all(|(f, _)| f == "reports"));
    assert_eq!(fired[0].1["source"], "aws.scheduler");
    assert_eq!(
        fired[0].1["resources"][0],
        "arn:aws:scheduler:eu-west-1:123456789012:schedule/default/ReportsMorning"
    );
    assert_eq!(fired[1].1, serde_json::json!({"kind": "minutely"}));
    s.stop().await;
}

/// Checks, when a run reaches it, that the run is already on disk.
struct RecordChecker {
    record: std::path::PathBuf,
    seen: Mutex<Vec<bool>>,
}

#[async_trait]
impl ScheduleTarget for RecordChecker {
    async fn fire(&self, _function: &str, payload: String) -> Result<(), String> {
        let event: serde_json::Value = serde_json::from_str(&payload).unwrap();
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&self.record).unwrap()).unwrap();
        let last = record["schedules"]["tick-fn/Tick"]["last_fired"]
            .as_str()
            .map(utc);
        let time = event["time"].as_str().map(utc);
        self.seen
            .lock()
            .unwrap()
            .push(last.is_some() && last == time);
        Ok(())
    }

    async fn dead_letter(&self, _: &str, _: String, _: DeliveryFailure) -> Result<(), String> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn each_run_is_on_disk_before_it_is_fired() {
    let dir = tempfile::tempdir().unwrap();
    let target = Arc::new(RecordChecker {
        record: dir.path().join("schedules").join("schedules.json"),
        seen: Mutex::new(Vec::new()),
    });
    let clock = PausedClock::at("2026-03-01T00:00:30Z");
    let s = Scheduler::start_with_clock(
        config(&dir),
        target.clone(),
        vec![(
            "tick-fn".into(),
            spec("Tick", "cron(* * * * ? *)", ScheduleKind::Rule),
        )],
        clock.clone(),
    )
    .unwrap();
    pass(185).await;
    assert_eq!(*target.seen.lock().unwrap(), [true, true, true]);
    s.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_clock_that_jumps_ahead_fires_the_pending_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let target = Arc::new(Recorder::default());
    let clock = PausedClock::at("2026-03-01T00:00:30Z");
    let s = start(
        &dir,
        &target,
        &clock,
        vec![spec("Tick", "cron(* * * * ? *)", ScheduleKind::Rule)],
    );
    pass(1).await;
    clock.jump(chrono::Duration::minutes(10));
    pass(6).await;
    assert_eq!(
        target.times(),
        ["2026-03-01T00:01:00Z"],
        "the ten minutes jumped over are not each fired"
    );
    assert_eq!(
        s.status()[0].next_run.as_deref(),
        Some("2026-03-01T00:11:00Z")
    );
    s.stop().await;
}

#[tokio::test]
async fn on_the_system_clock_a_new_scheduler_rate_fires_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let target = Arc::new(Recorder::default());
    let s = Scheduler::start(
        config(&dir),
        target.clone(),
        vec![(
            "tick-fn".into(),
            spec("Tick", "rate(1 minute)", ScheduleKind::Scheduler),
        )],
    )
    .unwrap();
    let started = Utc::now();
    tokio::time::timeout(Duration::from_secs(10), async {
        while target.fired().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    let time = utc(target.fired()[0].1["time"].as_str().unwrap());
    assert!(
        (time - started).num_seconds().abs() <= 1,
        "{time} vs {started}"
    );
    let next = utc(s.status()[0].next_run.as_deref().unwrap());
    assert_eq!((next - time).num_seconds(), 60);
    s.stop().await;
}
