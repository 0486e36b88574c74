//! What a template describes once resolved: the functions ESB runs. Plain data with
//! serde derives, so the model can cross a process boundary (e.g. gRPC) as JSON.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::Warning;
pub use crate::runtime::Runtime;

/// An `Events` entry of `Type: Api`: a REST API route to the function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiEvent {
    /// The event's key under `Events`.
    pub logical_id: String,
    /// e.g. `/items/{id}` or `/files/{proxy+}`; `$default` for an HTTP API's catch-all.
    pub path: String,
    /// Upper case; `ANY` for every method.
    pub method: String,
    /// Which kind of API serves the route, and the event it sends.
    pub api: ApiKind,
}

/// `Type: Api` (a REST API, payload 1.0) or `Type: HttpApi` (payload 2.0 unless the
/// event says `PayloadFormatVersion: "1.0"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApiKind {
    Rest,
    Http { payload_v2: bool },
}

/// The route key of an HTTP API's catch-all route.
pub const DEFAULT_ROUTE: &str = "$default";

/// One `AWS::Serverless::Function`, with `Globals.Function` applied and every value
/// resolved and checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionSpec {
    pub logical_id: String,
    /// `FunctionName`, or the logical id.
    pub name: String,
    /// The `CodeUri` directory, absolute.
    pub code_dir: PathBuf,
    /// `None` for `provided*` functions without a `Handler`.
    pub handler: Option<String>,
    pub runtime: Runtime,
    pub timeout_s: u32,
    pub memory_mb: u32,
    pub environment: BTreeMap<String, String>,
    /// Layer content directories, in the order Lambda stacks them.
    pub layers: Vec<PathBuf>,
    pub reserved_concurrency: Option<u32>,
    pub api_events: Vec<ApiEvent>,
    /// `FunctionUrlConfig`: the function has a URL, with this `AuthType`.
    pub function_url: Option<UrlAuth>,
    /// `ProvisionedConcurrencyConfig.ProvisionedConcurrentExecutions`: workers kept
    /// initialised at all times.
    pub provisioned_concurrency: u32,
    /// `EventInvokeConfig`: how asynchronous invocations are retried and where their
    /// outcome goes.
    pub event_invoke: EventInvoke,
}

/// `EventInvokeConfig`, with Lambda's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventInvoke {
    /// `MaximumRetryAttempts`: 0..=2, default 2.
    pub max_retries: u32,
    /// `MaximumEventAgeInSeconds`: 60..=21600, default 21600 (6 hours).
    pub max_age_s: u32,
    /// `DestinationConfig.OnSuccess` / `OnFailure` of `Type: Lambda`: function names.
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
}

impl Default for EventInvoke {
    fn default() -> Self {
        Self {
            max_retries: 2,
            max_age_s: 21600,
            on_success: None,
            on_failure: None,
        }
    }
}

/// A function URL's `AuthType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UrlAuth {
    /// `NONE`: anyone who can reach the URL may call it.
    None,
    /// `AWS_IAM`: callers sign requests with AWS Signature V4.
    AwsIam,
}

/// A loaded template: what to run, and what was accepted but is not acted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub functions: Vec<FunctionSpec>,
    /// `Globals.HttpApi.CorsConfiguration`.
    pub http_api_cors: Option<crate::cors::Cors>,
    /// One per distinct unsupported property, event type or resource type; the caller
    /// prints them.
    pub warnings: Vec<Warning>,
}
