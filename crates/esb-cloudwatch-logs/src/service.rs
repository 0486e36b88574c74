//! The operations: each reads its parameters, the catalogue and the store, and answers
//! as CloudWatch Logs does. Catalogue and store calls are synchronous SQLite, so every
//! operation runs on the blocking pool; PutLogEvents then writes through the box's
//! collector (stored and committed before the answer, shipped on like any record).

use std::collections::BTreeMap;
use std::sync::Arc;

use esb_logs::collector::Collector;
use esb_logs::{Record, Store};
use serde_json::{Map, Value, json};

use crate::catalog::Catalog;
use crate::error::ApiError;
use crate::groups::{Group, Stream, unavailable, worker_stream_name};
use crate::names::{check_limit, check_stream};
use crate::params::Params;
use crate::reading::{Position, backward, event_id, forward, millis};

/// Who called, as far as the request tells.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The function whose worker signed the request (its session token).
    pub function: Option<String>,
    /// The X-Ray trace root of the invocation that made the call.
    pub trace_id: Option<String>,
}

/// Retention periods CloudWatch Logs accepts, in days.
const RETENTION_DAYS: [i64; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];
/// GetLogEvents' answer stops at 1 MB of events.
const MAX_ANSWER_BYTES: usize = 1_048_576;
/// Records FilterLogEvents looks at per call before it answers with a token.
const FILTER_SCAN_BUDGET: usize = 100_000;
const FILTER_PAGE: usize = 2_000;

pub struct Service {
    pub store: Arc<Store>,
    pub catalog: Catalog,
    pub collector: Arc<Collector>,
    pub region: String,
    pub account: String,
}

impl Service {
    /// Runs `operation` (the part of `X-Amz-Target` after `Logs_20140328.`).
    pub async fn call(
        self: &Arc<Self>,
        operation: &str,
        params: Params,
        caller: Caller,
    ) -> Result<Value, ApiError> {
        if operation == "PutLogEvents" {
            return self.put_log_events(params, caller).await;
        }
        let operation = operation.to_string();
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || this.call_blocking(&operation, &params))
            .await
            .map_err(|e| ApiError::unavailable(e.to_string()))?
    }

    fn call_blocking(&self, operation: &str, p: &Params) -> Result<Value, ApiError> {
        match operation {
            "CreateLogGroup" => self.create_log_group(p),
            "CreateLogStream" => self.create_log_stream(p),
            "DeleteLogGroup" => self.delete_log_group(p),
            "DeleteLogStream" => self.delete_log_stream(p),
            "DescribeLogGroups" => self.describe_log_groups(p),
            "DescribeLogStreams" => self.describe_log_streams(p),
            "GetLogEvents" => self.get_log_events(p),
            "FilterLogEvents" => self.filter_log_events(p),
            "PutRetentionPolicy" => self.put_retention_policy(p),
            "DeleteRetentionPolicy" => self.delete_retention_policy(p),
            "TagLogGroup" => self.tag(&p.group()?, p.tags("tags")?.unwrap_or_default()),
            "UntagLogGroup" => self.untag(&p.group()?, p.strings("tags")?.unwrap_or_default()),
            "ListTagsLogGroup" => self.list_tags(&p.group()?),
            "TagResource" => self.tag(
                &self.group_of_arn(p.str("resourceArn")?)?,
                p.tags("tags")?.unwrap_or_default(),
            ),
            "UntagResource" => self.untag(
                &self.group_of_arn(p.str("resourceArn")?)?,
                p.strings("tagKeys")?.unwrap_or_default(),
            ),
            "ListTagsForResource" => self.list_tags(&self.group_of_arn(p.str("resourceArn")?)?),
            _ => Err(ApiError::unknown_operation()),
        }
    }

    fn group_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:logs:{}:{}:log-group:{name}",
            self.region, self.account
        )
    }

    fn group_of_arn(&self, arn: &str) -> Result<String, ApiError> {
        let name = crate::names::group_from_identifier(arn);
        if name == arn {
            return Err(ApiError::invalid(format!("Invalid resource ARN: {arn}")));
        }
        Ok(name.to_string())
    }

    fn load(&self, name: &str) -> Result<Group, ApiError> {
        Group::load(&self.store, &self.catalog, name)
    }

    /// The catalogue row of a group that may so far exist only as a function's output.
    fn materialise(&self, group: &Group) -> Result<(), ApiError> {
        if group.row.is_none() {
            self.catalog
                .create_group(&group.name, group.created_ms(), &BTreeMap::new())
                .map_err(unavailable)?;
        }
        Ok(())
    }

    fn create_log_group(&self, p: &Params) -> Result<Value, ApiError> {
        let name = p.str("logGroupName")?;
        crate::names::check_group(name, "logGroupName")?;
        let tags = p.tags("tags")?.unwrap_or_default();
        if self.load(name).is_ok()
            || !self
                .catalog
                .create_group(name, now_ms(), &tags)
                .map_err(unavailable)?
        {
            return Err(ApiError::exists("The specified log group already exists"));
        }
        Ok(json!({}))
    }

    fn create_log_stream(&self, p: &Params) -> Result<Value, ApiError> {
        let group = self.load(&p.group()?)?;
        let name = p.str("logStreamName")?;
        check_stream(name, "logStreamName")?;
        if group.stream(name).is_some() {
            return Err(ApiError::exists("The specified log stream already exists"));
        }
        self.materialise(&group)?;
        if !self
            .catalog
            .create_stream(&group.name, name, now_ms())
            .map_err(unavailable)?
        {
            return Err(ApiError::exists("The specified log stream already exists"));
        }
        Ok(json!({}))
    }

    fn delete_log_group(&self, p: &Params) -> Result<Value, ApiError> {
        let group = self.load(&p.group()?)?;
        self.catalog
            .delete_group(&group.name)
            .map_err(unavailable)?;
        if let Some(f) = &group.function {
            self.catalog
                .hide_function(&f.function, esb_logs::http::now_ns())
                .map_err(unavailable)?;
        }
        Ok(json!({}))
    }

    fn delete_log_stream(&self, p: &Params) -> Result<Value, ApiError> {
        let group = self.load(&p.group()?)?;
        let name = p.str("logStreamName")?;
        check_stream(name, "logStreamName")?;
        match group.stream(name) {
            Some(Stream::Api(_)) => {
                self.catalog
                    .delete_stream(&group.name, name)
                    .map_err(unavailable)?;
                Ok(json!({}))
            }
            Some(Stream::Worker(_)) => Err(ApiError::invalid(
                "A function's own log streams are kept by the box (esb logs; retention); delete the log group instead.",
            )),
            None => Err(ApiError::no_stream()),
        }
    }

    fn describe_log_groups(&self, p: &Params) -> Result<Value, ApiError> {
        let prefix = p.str_opt("logGroupNamePrefix")?;
        let pattern = p.str_opt("logGroupNamePattern")?;
        if prefix.is_some() && pattern.is_some() {
            return Err(ApiError::invalid(
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
            ));
        }
        let limit = check_limit(p.i64_opt("limit")?, 50, 50)?;
        let after = p.str_opt("nextToken")?;
        let identifiers = p.strings("logGroupIdentifiers")?;
        let mut names: Vec<String> = self
            .catalog
            .groups()
            .map_err(unavailable)?
            .into_iter()
            .map(|g| g.name)
            .collect();
        names.extend(
            crate::groups::functions_in_store(&self.store)?
                .into_iter()
                .map(|f| format!("{}{f}", crate::names::FUNCTION_GROUP_PREFIX)),
        );
        names.sort();
        names.dedup();
        let pattern = pattern.map(str::to_lowercase);
        let mut groups = Vec::new();
        let mut next = None;
        for name in names {
            if prefix.is_some_and(|p| !name.starts_with(p))
                || pattern
                    .as_deref()
                    .is_some_and(|p| !name.to_lowercase().contains(p))
                || identifiers.as_ref().is_some_and(|ids| {
                    !ids.iter()
                        .any(|id| crate::names::group_from_identifier(id) == name)
                })
                || after.is_some_and(|a| name.as_str() <= a)
            {
                continue;
            }
            // A function's group whose output was all deleted does not exist.
            let Ok(group) = self.load(&name) else {
                continue;
            };
            if groups.len() == limit {
                next = groups
                    .last()
                    .and_then(|g: &Value| g["logGroupName"].as_str())
                    .map(str::to_string);
                break;
            }
            groups.push(self.group_json(&group));
        }
        let mut out = json!({ "logGroups": groups });
        if let Some(n) = next {
            out["nextToken"] = json!(n);
        }
        Ok(out)
    }

    fn group_json(&self, g: &Group) -> Value {
        let arn = self.group_arn(&g.name);
        let mut v = json!({
            "logGroupName": g.name,
            "creationTime": g.created_ms(),
            "metricFilterCount": 0,
            "arn": format!("{arn}:*"),
            "logGroupArn": arn,
            "storedBytes": 0,
            "logGroupClass": "STANDARD",
        });
        if let Some(days) = g.retention_days() {
            v["retentionInDays"] = json!(days);
        }
        v
    }

    fn describe_log_streams(&self, p: &Params) -> Result<Value, ApiError> {
        let group = self.load(&p.group()?)?;
        let prefix = p.str_opt("logStreamNamePrefix")?;
        let by_time = match p.str_opt("orderBy")? {
            None | Some("LogStreamName") => false,
            Some("LastEventTime") => true,
            Some(other) => {
                return Err(ApiError::constraint(
                    other,
                    "orderBy",
                    "Member must satisfy enum value set: [LogStreamName, LastEventTime]",
                ));
            }
        };
        if by_time && prefix.is_some() {
            return Err(ApiError::invalid(
                "Cannot order by LastEventTime with a logStreamNamePrefix.",
            ));
        }
        let descending = p.bool_opt("descending")?.unwrap_or(false);
        let limit = check_limit(p.i64_opt("limit")?, 50, 50)?;
        let skip: usize = match p.str_opt("nextToken")? {
            Some(t) => t
                .strip_prefix("s/")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| ApiError::invalid("The specified nextToken is invalid."))?,
            None => 0,
        };
        let arn = self.group_arn(&group.name);
        let mut streams: Vec<(String, Option<i64>, Value)> = group
            .all_streams()
            .into_iter()
            .map(|s| {
                let (name, v) = match s {
                    Stream::Api(row) => {
                        let mut v = json!({
                            "logStreamName": row.name,
                            "creationTime": row.created_ms,
                            "storedBytes": 0,
                        });
                        if let Some(t) = row.first_event_ms {
                            v["firstEventTimestamp"] = json!(t);
                        }
                        if let Some(t) = row.last_event_ms {
                            v["lastEventTimestamp"] = json!(t);
                        }
                        if let Some(t) = row.last_ingestion_ms {
                            v["lastIngestionTime"] = json!(t);
                        }
                        (row.name.clone(), v)
                    }
                    Stream::Worker(w) => {
                        let name = worker_stream_name(w);
                        let v = json!({
                            "logStreamName": name,
                            "creationTime": w.first_ms,
                            "firstEventTimestamp": w.first_ms,
                            "lastEventTimestamp": w.last_ms,
                            "lastIngestionTime": w.last_ms,
                            "storedBytes": 0,
                        });
                        (name, v)
                    }
                };
                let last = v["lastEventTimestamp"].as_i64();
                (name, last, v)
            })
            .filter(|(name, _, _)| prefix.is_none_or(|p| name.starts_with(p)))
            .collect();
        if by_time {
            streams.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        } else {
            streams.sort_by(|a, b| a.0.cmp(&b.0));
        }
        if descending {
            streams.reverse();
        }
        let total = streams.len();
        let page: Vec<Value> = streams
            .into_iter()
            .skip(skip)
            .take(limit)
            .map(|(name, _, mut v)| {
                v["arn"] = json!(format!("{arn}:log-stream:{name}"));
                v
            })
            .collect();
        let mut out = json!({ "logStreams": page });
        if skip + limit < total {
            out["nextToken"] = json!(format!("s/{}", skip + limit));
        }
        Ok(out)
    }

    async fn put_log_events(
        self: &Arc<Self>,
        p: Params,
        caller: Caller,
    ) -> Result<Value, ApiError> {
        let this = Arc::clone(self);
        let (group, stream, incarnation, accepted) = tokio::task::spawn_blocking(move || {
            let group = this.load(&p.group()?)?;
            let stream = p.str("logStreamName")?.to_string();
            check_stream(&stream, "logStreamName")?;
            let incarnation = match group.stream(&stream) {
                Some(Stream::Api(row)) => row.incarnation.clone(),
                Some(Stream::Worker(_)) => {
                    return Err(ApiError::invalid(
                        "A function's own log streams are written by its workers; create a log stream of your own.",
                    ));
                }
                None => return Err(ApiError::no_stream()),
            };
            let events = crate::put_events::read(p.array("logEvents")?)?;
            let accepted = crate::put_events::check(events, now_ms(), group.retention_days())?;
            Ok::<_, ApiError>((group.name, stream, incarnation, accepted))
        })
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))??;
        let ingestion = now_ms();
        let records: Vec<Record> = accepted
            .events
            .iter()
            .map(|e| record(&group, &stream, &incarnation, e, ingestion, &caller))
            .collect();
        if let (Some(first), Some(last)) = (accepted.events.first(), accepted.events.last()) {
            let (first, last) = (first.timestamp_ms, last.timestamp_ms);
            self.collector
                .accept(records)
                .await
                .map_err(|e| ApiError::unavailable(e.to_string()))?;
            let this = Arc::clone(self);
            let (g, s) = (group.clone(), stream.clone());
            tokio::task::spawn_blocking(move || {
                this.catalog.note_events(&g, &s, first, last, ingestion)
            })
            .await
            .map_err(|e| ApiError::unavailable(e.to_string()))?
            .map_err(unavailable)?;
        }
        let mut out = json!({ "nextSequenceToken": format!("{:056}", ingestion) });
        if let Some(info) = accepted.rejected_info() {
            out["rejectedLogEventsInfo"] = info;
        }
        Ok(out)
    }

    fn get_log_events(&self, p: &Params) -> Result<Value, ApiError> {
        let group = self.load(&p.group()?)?;
        let name = p.str("logStreamName")?;
        check_stream(name, "logStreamName")?;
        let Some(stream) = group.stream(name) else {
            return Err(ApiError::no_stream());
        };
        let limit = check_limit(p.i64_opt("limit")?, 10_000, 10_000)?;
        let now = esb_logs::http::now_ns();
        let floor = group.floor_ns(now);
        let start = p
            .i64_opt("startTime")?
            .map_or(floor, |t| ms_to_ns(t).max(floor));
        let end = p.i64_opt("endTime")?.map(ms_to_ns);
        let filter = group.filter(Some(std::slice::from_ref(&stream)));
        let token = p.str_opt("nextToken")?;
        let parsed = token.map(Position::from_token).transpose()?;
        let head = p.bool_opt("startFromHead")?.unwrap_or(false);
        let incarnations = group.incarnations();
        let records = match parsed {
            Some(('f', pos)) => forward(&self.store, &filter, pos, end, limit)?,
            Some(('b', pos)) => backward(&self.store, &filter, start, pos.time_ns, limit)?,
            Some(_) => return Err(ApiError::invalid("The specified nextToken is invalid.")),
            None if head => forward(&self.store, &filter, Position::at(start), end, limit)?,
            None => backward(
                &self.store,
                &filter,
                start,
                end.map_or(i64::MAX, |e| e - 1),
                limit,
            )?,
        };
        // Tokens: past the last event forward, before the first backward; with
        // nothing found, the token given (as AWS answers at the end of a stream).
        let mut pos = match parsed {
            Some(('f', pos)) => pos,
            _ => Position::at(start),
        };
        let mut kept: Vec<&Record> = Vec::new();
        let mut bytes = 0;
        for r in &records {
            if group.stream_name_of(r, &incarnations).is_some() {
                bytes += r.msg.len() + crate::put_events::EVENT_OVERHEAD;
                if bytes > MAX_ANSWER_BYTES && !kept.is_empty() {
                    break;
                }
                kept.push(r);
            }
            pos = pos.after(r);
        }
        let events: Vec<Value> = kept.iter().map(|r| event_json(r, None)).collect();
        let next_forward = match (kept.is_empty(), token) {
            (true, Some(t)) if t.starts_with("f/") => t.to_string(),
            _ => pos.token('f'),
        };
        let next_backward = match kept.first() {
            Some(first) => Position::at(first.time_ns - 1).token('b'),
            None => token.filter(|t| t.starts_with("b/")).map_or_else(
                || Position::at(start.saturating_sub(1)).token('b'),
                str::to_string,
            ),
        };
        Ok(json!({
            "events": events,
            "nextForwardToken": next_forward,
            "nextBackwardToken": next_backward,
        }))
    }

    fn filter_log_events(&self, p: &Params) -> Result<Value, ApiError> {
        let group = self.load(&p.group()?)?;
        let names = p.strings("logStreamNames")?;
        let prefix = p.str_opt("logStreamNamePrefix")?;
        if names.is_some() && prefix.is_some() {
            return Err(ApiError::invalid(
                "Cannot specify both logStreamNames and logStreamNamePrefix.",
            ));
        }
        let pattern = esb_logs::filter_pattern::FilterPattern::parse(
            p.str_opt("filterPattern")?.unwrap_or(""),
        )
        .map_err(|e| ApiError::invalid(e.to_string()))?;
        let limit = check_limit(p.i64_opt("limit")?, 10_000, 10_000)?;
        let now = esb_logs::http::now_ns();
        let floor = group.floor_ns(now);
        let start = p
            .i64_opt("startTime")?
            .map_or(floor, |t| ms_to_ns(t).max(floor));
        let end = p.i64_opt("endTime")?.map(ms_to_ns);
        let chosen: Option<Vec<Stream<'_>>> = match (&names, prefix) {
            (Some(names), _) => Some(names.iter().filter_map(|n| group.stream(n)).collect()),
            (None, Some(prefix)) => Some(
                group
                    .all_streams()
                    .into_iter()
                    .filter(|s| s.name().starts_with(prefix))
                    .collect(),
            ),
            (None, None) => None,
        };
        let filter = group.filter(chosen.as_deref());
        let mut pos = match p.str_opt("nextToken")? {
            Some(t) => match Position::from_token(t)? {
                ('n', pos) => pos,
                _ => return Err(ApiError::invalid("The specified nextToken is invalid.")),
            },
            None => Position::at(start),
        };
        let incarnations = group.incarnations();
        let mut events = Vec::new();
        let mut scanned = 0;
        let mut more = true;
        'pages: while scanned < FILTER_SCAN_BUDGET {
            let page = forward(&self.store, &filter, pos, end, FILTER_PAGE)?;
            let full = page.len() == FILTER_PAGE;
            for r in &page {
                pos = pos.after(r);
                scanned += 1;
                let Some(stream) = group.stream_name_of(r, &incarnations) else {
                    continue;
                };
                if pattern.matches(&r.msg) {
                    events.push(event_json(r, Some(&stream)));
                    if events.len() == limit {
                        break 'pages;
                    }
                }
            }
            if !full {
                more = false;
                break;
            }
        }
        let mut out = json!({ "events": events, "searchedLogStreams": [] });
        if more {
            out["nextToken"] = json!(pos.token('n'));
        }
        Ok(out)
    }

    fn put_retention_policy(&self, p: &Params) -> Result<Value, ApiError> {
        let group = self.load(&p.group()?)?;
        let days = p
            .i64_opt("retentionInDays")?
            .ok_or_else(|| crate::params::missing("retentionInDays"))?;
        if !RETENTION_DAYS.contains(&days) {
            return Err(ApiError::constraint(
                &days.to_string(),
                "retentionInDays",
                "Member must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]",
            ));
        }
        self.materialise(&group)?;
        self.catalog
            .set_retention(&group.name, Some(days))
            .map_err(unavailable)?;
        Ok(json!({}))
    }

    fn delete_retention_policy(&self, p: &Params) -> Result<Value, ApiError> {
        let group = self.load(&p.group()?)?;
        self.materialise(&group)?;
        self.catalog
            .set_retention(&group.name, None)
            .map_err(unavailable)?;
        Ok(json!({}))
    }

    fn tag(&self, name: &str, tags: BTreeMap<String, String>) -> Result<Value, ApiError> {
        let group = self.load(name)?;
        if let Some(key) = tags.keys().find(|k| k.starts_with("aws:")) {
            return Err(ApiError::invalid(format!(
                "Tag keys cannot start with the reserved prefix 'aws:' ({key})"
            )));
        }
        self.materialise(&group)?;
        let mut all = group.row.map(|r| r.tags).unwrap_or_default();
        all.extend(tags);
        if all.len() > 50 {
            return Err(ApiError::invalid("A log group can have at most 50 tags."));
        }
        self.catalog.set_tags(name, &all).map_err(unavailable)?;
        Ok(json!({}))
    }

    fn untag(&self, name: &str, keys: Vec<String>) -> Result<Value, ApiError> {
        let group = self.load(name)?;
        let mut all = group.row.map(|r| r.tags).unwrap_or_default();
        for k in keys {
            all.remove(&k);
        }
        self.catalog.set_tags(name, &all).map_err(unavailable)?;
        Ok(json!({}))
    }

    fn list_tags(&self, name: &str) -> Result<Value, ApiError> {
        let group = self.load(name)?;
        let tags: Map<String, Value> = group
            .row
            .map(|r| r.tags)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        Ok(json!({ "tags": tags }))
    }
}

/// An event as GetLogEvents (no stream) and FilterLogEvents (with it) answer it.
fn event_json(r: &Record, stream: Option<&str>) -> Value {
    let timestamp = millis(r.time_ns);
    let ingestion = r
        .field("ingestion_time")
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or(timestamp);
    let mut v = json!({
        "timestamp": timestamp,
        "message": r.msg,
        "ingestionTime": ingestion,
    });
    if let Some(stream) = stream {
        v["logStreamName"] = json!(stream);
        v["eventId"] = json!(event_id(r));
    }
    v
}

/// Each event's sub-millisecond part keeps a batch's order and keeps two events of
/// the same millisecond apart (so a position in the store is never ambiguous).
static SEQUENCE: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// The record of one event written to `group`/`stream`.
fn record(
    group: &str,
    stream: &str,
    incarnation: &str,
    e: &crate::put_events::InputEvent,
    ingestion_ms: i64,
    caller: &Caller,
) -> Record {
    let seq = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 1_000_000;
    let mut labels = vec![
        ("log_group".to_string(), group.to_string()),
        ("log_stream".to_string(), stream.to_string()),
    ];
    match &caller.function {
        Some(f) => {
            // (The collector adds the original ESB's `container_name` beside it.)
            labels.push(("function".into(), f.clone()));
            labels.push(("job".into(), esb_logs::lambda_line::FUNCTION_JOB.into()));
        }
        None => labels.push(("job".into(), "cloudwatch-logs".into())),
    }
    labels.sort();
    let mut fields = Map::new();
    let level = esb_logs::lambda_line::level_in_text(&e.message).unwrap_or("INFO");
    fields.insert("level".into(), json!(level));
    // The original ESB's value for events written through the Logs API: its
    // dashboards and tests select them by it.
    fields.insert("logger".into(), json!("boto3.mock"));
    fields.insert("log_stream_id".into(), json!(incarnation));
    fields.insert("ingestion_time".into(), json!(ingestion_ms.to_string()));
    if let Some(t) = &caller.trace_id {
        fields.insert("trace_id".into(), json!(t));
    }
    Record {
        time_ns: ms_to_ns(e.timestamp_ms).saturating_add(seq),
        msg: e.message.clone(),
        stream: labels,
        fields,
    }
}

fn ms_to_ns(ms: i64) -> i64 {
    ms.saturating_mul(1_000_000)
}

fn now_ms() -> i64 {
    millis(esb_logs::http::now_ns())
}
