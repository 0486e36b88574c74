//! What a template describes once resolved: the functions ESB runs, the APIs routing
//! to them, the buckets whose events invoke them, the DynamoDB tables (whose
//! streams may invoke them too) and the SQS queues (which may too). Plain data with serde derives, so
//! the model can cross a process boundary (e.g. gRPC) as JSON.

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
    /// Logical id of the API serving the route (`RestApiId` / `ApiId` `!Ref`, else the
    /// implicit API).
    pub api_id: String,
    /// The event's `Auth`.
    pub auth: RouteAuth,
}

/// An event's `Auth`: what the route asks of callers beyond its API's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteAuth {
    /// `Auth.Authorizer`: a name of the API's authorizers, "AWS_IAM", or "NONE" (no
    /// authorizer even if the API has a default). None = the API's default.
    pub authorizer: Option<String>,
    /// `Auth.ApiKeyRequired` (REST); None = the API's default.
    pub api_key_required: Option<bool>,
    /// `Auth.AuthorizationScopes` (JWT); when the event names none, the
    /// `AuthorizationScopes` of the JWT authorizer that applies, as SAM fills them in.
    pub scopes: Vec<String>,
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

/// The REST API SAM creates for `Type: Api` events without `RestApiId`.
pub const IMPLICIT_REST_API: &str = "ServerlessRestApi";
/// The HTTP API SAM creates for `Type: HttpApi` events without `ApiId`.
pub const IMPLICIT_HTTP_API: &str = "ServerlessHttpApi";

/// `AWS::Serverless::Api` or `AWS::Serverless::HttpApi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApiType {
    Rest,
    Http,
}

/// An API serving routes: an `AWS::Serverless::Api` / `AWS::Serverless::HttpApi`
/// resource, or an implicit one, with `Globals.Api` / `Globals.HttpApi` applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiSpec {
    /// [`IMPLICIT_REST_API`] / [`IMPLICIT_HTTP_API`] for the implicit ones.
    pub logical_id: String,
    pub kind: ApiType,
    /// REST: `StageName` (required on an explicit API; `Prod` for the implicit one).
    /// HTTP: `StageName`, else `$default`.
    pub stage_name: String,
    /// HTTP: `CorsConfiguration`. REST: `Cors`, its quoted strings unquoted and split;
    /// there an empty `allow_methods` means the methods of the requested path (what
    /// SAM generates when `AllowMethods` is not given).
    pub cors: Option<crate::cors::Cors>,
    /// REST `BinaryMediaTypes`, `~1` unescaped to `/` (e.g. `image/png`, `*/*`).
    pub binary_media_types: Vec<String>,
    pub auth: ApiAuth,
}

/// An API's `Auth`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiAuth {
    /// `Auth.DefaultAuthorizer`: a name in `authorizers`, or "AWS_IAM".
    pub default_authorizer: Option<String>,
    /// REST `Auth.ApiKeyRequired` (default for every route of the API).
    pub api_key_required: bool,
    pub authorizers: BTreeMap<String, Authorizer>,
}

/// One of `Auth.Authorizers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Authorizer {
    /// HTTP API `JwtConfiguration`.
    Jwt {
        issuer: String,
        audience: Vec<String>,
        /// `IdentitySource`, default `$request.header.Authorization`.
        identity_source: String,
    },
    /// REST or HTTP Lambda authorizer.
    Lambda(LambdaAuthorizer),
}

/// A Lambda authorizer, with API Gateway's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LambdaAuthorizer {
    /// The authorizer function's name (`FunctionName` or logical id): a function of
    /// this template.
    pub function: String,
    /// REST: `FunctionPayloadType: REQUEST` (the default, TOKEN, is false). HTTP: always
    /// true.
    pub request: bool,
    /// REST TOKEN: `Identity.Header` (default `Authorization`); REQUEST and HTTP:
    /// `Identity.Headers`.
    pub identity_headers: Vec<String>,
    /// `Identity.QueryStrings`.
    pub identity_query_strings: Vec<String>,
    /// REST TOKEN `Identity.ValidationExpression`.
    pub validation_expression: Option<String>,
    /// `Identity.ReauthorizeEvery`: 0..=3600; REST default 300, HTTP default 0.
    pub ttl_s: u32,
    /// HTTP: `AuthorizerPayloadFormatVersion: "2.0"`. REST: false.
    pub payload_v2: bool,
    /// HTTP: `EnableSimpleResponses` (payload 2.0 only).
    pub simple_responses: bool,
}

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
    /// `Events` of `Type: DynamoDB`: the table streams that invoke the function, in
    /// the order written. Unlike S3 events (which SAM writes into the bucket), each
    /// is an event source mapping of its own, polled on the function's behalf, so it
    /// stays with the function.
    pub dynamodb_events: Vec<DynamoDbEventSpec>,
    /// `Events` of `Type: SQS`: the queues polled on the function's behalf, in the
    /// order written.
    pub sqs_events: Vec<SqsEventSpec>,
    /// `DeadLetterQueue.TargetArn` (the function's own, else `Globals.Function`'s): the
    /// SQS queue or SNS topic an asynchronous event goes to once its retries are spent
    /// and no `OnFailure` destination took it.
    pub dead_letter_target: Option<String>,
    /// `Events` of `Type: Schedule` (EventBridge rules) and `Type: ScheduleV2`
    /// (EventBridge Scheduler), in the order written.
    pub schedule_events: Vec<crate::schedule_spec::ScheduleEventSpec>,
    /// `Metadata.Esb.NodeLabels` / `AvoidNodeLabels`: which of a box's nodes may run
    /// the function's workers. Defaulted when absent from JSON, so a spec written by an
    /// older ESB still reads (it placed nothing).
    #[serde(default)]
    pub placement: NodePlacement,
}

/// Where a function's workers may run when a box spans several machines ("nodes"),
/// by the labels (`key=value`) the nodes carry. Written as ESB metadata on the
/// function resource rather than as a property, because CloudFormation refuses
/// unknown properties and the same template must still deploy to AWS. Empty (the
/// default) places the function on any node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodePlacement {
    /// `NodeLabels`: a node must carry every one of these labels, with these values
    /// (e.g. the only machines with a GPU).
    pub require: BTreeMap<String, String>,
    /// `AvoidNodeLabels`: a node carrying any one of these labels, with its value, is
    /// never used (e.g. machines in a DMZ).
    pub avoid: BTreeMap<String, String>,
}

impl NodePlacement {
    /// Whether a node with `labels` may run the function.
    pub fn allows(&self, labels: &BTreeMap<String, String>) -> bool {
        self.require.iter().all(|(k, v)| labels.get(k) == Some(v))
            && !self.avoid.iter().any(|(k, v)| labels.get(k) == Some(v))
    }
}

/// `EventInvokeConfig`, with Lambda's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventInvoke {
    /// `MaximumRetryAttempts`: 0..=2, default 2.
    pub max_retries: u32,
    /// `MaximumEventAgeInSeconds`: 60..=21600, default 21600 (6 hours).
    pub max_age_s: u32,
    /// `DestinationConfig.OnSuccess` / `OnFailure`.
    pub on_success: Option<Destination>,
    pub on_failure: Option<Destination>,
}

/// Where an asynchronous invocation's outcome goes (`EventInvokeConfig`'s
/// `DestinationConfig`). Lambda routes by the ARN's service; SAM's `Type` only
/// chooses the permissions it grants, so the ARN decides the variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Destination {
    /// A function: its name (from `arn:aws:lambda:<region>:<account>:function:<name>`).
    Function(String),
    /// An SQS queue: its ARN, `arn:aws:sqs:<region>:<account>:<name>`.
    Queue(String),
    /// An SNS topic, EventBridge bus or S3 bucket (OnFailure only), which ESB does not
    /// deliver to: `kind` is SAM's `Type` (SNS, EventBridge, S3), `arn` as resolved.
    Other { kind: String, arn: String },
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

/// An `AWS::S3::Bucket` resource that exists (its `Condition`, if any, is true).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketSpec {
    pub logical_id: String,
    /// `BucketName` (checked against S3's rules), else the name CloudFormation would
    /// generate: `<stack name>-<logical id>-<12 characters>`, lower-cased and at most 63
    /// characters, the 12 characters derived from the stack name and logical id so the
    /// same template names the same bucket on every start.
    pub name: String,
    /// `VersioningConfiguration.Status`: "Enabled" or "Suspended"; None when absent.
    pub versioning: Option<String>,
    /// `CorsConfiguration.CorsRules`, in order.
    pub cors_rules: Vec<BucketCorsRule>,
    /// `Tags` (Key/Value list), in order.
    pub tags: Vec<(String, String)>,
    /// `NotificationConfiguration.LambdaConfigurations`, then each function's
    /// `Events` of `Type: S3` on this bucket (SAM appends them to the bucket), in the
    /// order of the functions and their events.
    pub lambda_notifications: Vec<LambdaNotification>,
}

/// One of a bucket's `CorsConfiguration.CorsRules`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketCorsRule {
    /// `Id`.
    pub id: Option<String>,
    /// `AllowedOrigins`: origins, or `*`, with at most one `*` wildcard each.
    pub allowed_origins: Vec<String>,
    /// `AllowedMethods`: GET, PUT, HEAD, POST or DELETE.
    pub allowed_methods: Vec<String>,
    /// `AllowedHeaders`: header names a preflight may ask for (`*` wildcards).
    pub allowed_headers: Vec<String>,
    /// `ExposedHeaders`: response headers browsers may read.
    pub exposed_headers: Vec<String>,
    /// `MaxAge`: how long browsers may cache the preflight answer, in seconds.
    pub max_age_s: Option<i32>,
}

/// A function S3 invokes when something happens to objects of a bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LambdaNotification {
    /// The logical id of the function's `Type: S3` event; None for a bucket's own
    /// `LambdaConfigurations`, which have no id in CloudFormation.
    pub id: Option<String>,
    /// The target function's ARN as the template resolves it (`!GetAtt Fn.Arn` gives
    /// `arn:aws:lambda:<region>:<account>:function:<name>`).
    pub function_arn: String,
    /// S3 event types, e.g. `s3:ObjectCreated:*` or `s3:ObjectRemoved:Delete`.
    pub events: Vec<String>,
    /// `Filter.S3Key.Rules`: the `prefix` and `suffix` object keys must have.
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

/// An `AWS::DynamoDB::Table` or `AWS::Serverless::SimpleTable` that exists, checked
/// as DynamoDB checks a `CreateTable` (a SimpleTable as the table SAM makes of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSpec {
    pub logical_id: String,
    /// `TableName`, else the name CloudFormation would generate:
    /// `<stack name>-<logical id>-<12 upper-case letters and digits>`, at most 255
    /// characters, the 12 characters derived from the stack name and logical id so the
    /// same template names the same table (and finds its items) on every start.
    pub name: String,
    /// `KeySchema` (SimpleTable: `PrimaryKey`): the HASH key, then the RANGE key if any.
    pub key_schema: Vec<KeySchemaElement>,
    /// `AttributeDefinitions`: exactly the attributes the table's and its indexes' key
    /// schemas use (DynamoDB refuses others).
    pub attribute_definitions: Vec<AttributeDefinition>,
    /// `BillingMode`; CloudFormation's default is PROVISIONED. A SimpleTable is
    /// PROVISIONED when it has `ProvisionedThroughput`, else PAY_PER_REQUEST.
    pub billing_mode: BillingMode,
    /// `ProvisionedThroughput`: present exactly when `billing_mode` is PROVISIONED.
    pub provisioned_throughput: Option<Throughput>,
    /// `GlobalSecondaryIndexes` (at most 20), each with its own throughput when the
    /// table is PROVISIONED.
    pub global_secondary_indexes: Vec<SecondaryIndex>,
    /// `LocalSecondaryIndexes` (at most 5): the table's HASH key with another RANGE
    /// key; they have no throughput of their own.
    pub local_secondary_indexes: Vec<SecondaryIndex>,
    /// `StreamSpecification.StreamViewType`: the table has a stream (what
    /// `Fn::GetAtt Table.StreamArn` and `Events: DynamoDB` need).
    pub stream_view_type: Option<StreamViewType>,
    /// `TimeToLiveSpecification`; None when absent or disabled without an attribute.
    pub ttl: Option<TimeToLive>,
    /// `Tags` in order (a Key/Value list on a table, a mapping on a SimpleTable).
    pub tags: Vec<(String, String)>,
    /// `DeletionProtectionEnabled`, default false.
    pub deletion_protection: bool,
    /// `TableClass`: STANDARD or STANDARD_INFREQUENT_ACCESS; None when absent
    /// (DynamoDB's default, STANDARD).
    pub table_class: Option<String>,
}

/// One element of a key schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySchemaElement {
    pub attribute_name: String,
    pub key_type: KeyType,
}

/// `KeyType`: the partition (HASH) or sort (RANGE) key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KeyType {
    Hash,
    Range,
}

/// One of `AttributeDefinitions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeDefinition {
    pub attribute_name: String,
    pub attribute_type: AttributeType,
}

/// `AttributeType` of a key attribute: string (`S`), number (`N`) or binary (`B`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttributeType {
    #[serde(rename = "S")]
    String,
    #[serde(rename = "N")]
    Number,
    #[serde(rename = "B")]
    Binary,
}

/// `BillingMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BillingMode {
    Provisioned,
    PayPerRequest,
}

/// `ProvisionedThroughput`: capacity units per second, each at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throughput {
    pub read_capacity_units: u64,
    pub write_capacity_units: u64,
}

/// A global or local secondary index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondaryIndex {
    pub index_name: String,
    pub key_schema: Vec<KeySchemaElement>,
    pub projection: Projection,
    /// A global index's `ProvisionedThroughput` on a PROVISIONED table; always None
    /// for a local index.
    pub provisioned_throughput: Option<Throughput>,
}

/// An index's `Projection`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Projection {
    pub projection_type: ProjectionType,
    /// `NonKeyAttributes`: only with INCLUDE.
    pub non_key_attributes: Vec<String>,
}

/// `ProjectionType`: which attributes an index copies from the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProjectionType {
    All,
    KeysOnly,
    Include,
}

/// `StreamSpecification.StreamViewType`: what each stream record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StreamViewType {
    NewImage,
    OldImage,
    NewAndOldImages,
    KeysOnly,
}

/// `TimeToLiveSpecification`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeToLive {
    /// The attribute holding each item's expiry (epoch seconds).
    pub attribute_name: String,
    pub enabled: bool,
}

/// An `Events` entry of `Type: DynamoDB`: an event source mapping from a table's
/// stream to the function, with Lambda's defaults filled in and its limits checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DynamoDbEventSpec {
    /// The event's key under `Events`.
    pub logical_id: String,
    pub stream: DynamoDbStream,
    pub starting_position: StartingPosition,
    /// `BatchSize`: 1..=10000, default 100.
    pub batch_size: u32,
    /// `MaximumBatchingWindowInSeconds`: 0..=300, default 0.
    pub maximum_batching_window_s: u32,
    /// `MaximumRetryAttempts`: -1 (retry until the record expires, the default) or
    /// 0..=10000.
    pub maximum_retry_attempts: i32,
    /// `MaximumRecordAgeInSeconds`: -1 (no limit, the default) or 60..=604800.
    pub maximum_record_age_s: i32,
    /// `BisectBatchOnFunctionError`, default false.
    pub bisect_batch_on_function_error: bool,
    /// `ParallelizationFactor`: batches per shard processed at once, 1..=10, default 1.
    pub parallelization_factor: u32,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`: the function may report
    /// which records failed instead of failing the whole batch.
    pub report_batch_item_failures: bool,
    /// `FilterCriteria.Filters[].Pattern`: at most 5 JSON event patterns; a record is
    /// delivered when any matches (all records when there are none).
    pub filters: Vec<String>,
    /// `DestinationConfig.OnFailure.Destination`: where records that exhausted their
    /// retries are described (an SQS queue, SNS topic or S3 bucket ARN).
    pub on_failure_destination: Option<String>,
    /// `Enabled`, default true.
    pub enabled: bool,
    /// `TumblingWindowInSeconds`: 0..=900. Kept as written; ESB does not aggregate
    /// batches into windows (the function gets no window state), and warns.
    pub tumbling_window_s: Option<u32>,
}

/// The stream a `Type: DynamoDB` event reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DynamoDbStream {
    /// `Stream: !GetAtt T.StreamArn` of a table of this template (which has a
    /// `StreamSpecification`): the table's name, as in [`TableSpec::name`]. The
    /// stream's real ARN carries a label only known once the stream exists, so the
    /// event names the table, not an ARN.
    Table(String),
    /// A stream ARN written out, kept as written:
    /// `arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>`.
    Arn(String),
}

/// `StartingPosition` of a DynamoDB stream event (`AT_TIMESTAMP` is Kinesis's only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StartingPosition {
    /// The oldest record still in the stream (24 hours back at most).
    TrimHorizon,
    /// Only records written after the mapping starts.
    Latest,
}

/// An `AWS::SQS::Queue` that exists (its `Condition`, if any, is true), checked as
/// SQS checks the `CreateQueue` CloudFormation sends; or the queue SAM creates for a
/// function's `Type: SQS` destination without `Destination`
/// (`<function>EventInvokeConfig<OnSuccess|OnFailure>Queue`, no properties).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSpec {
    pub logical_id: String,
    /// `QueueName`, else the logical id (with `.fifo` for a FIFO queue): see
    /// `queue::generated_name` for why not CloudFormation's random name.
    pub name: String,
    /// `FifoQueue: true` (the name then ends in `.fifo`).
    pub fifo: bool,
    /// The `CreateQueue` attributes, in SQS's API spelling and text form: only those
    /// the template sets (SQS applies its defaults to the rest), plus `FifoQueue` for a
    /// FIFO queue. `RedrivePolicy` and `RedriveAllowPolicy` are JSON text with the
    /// ARNs resolved, e.g. `{"deadLetterTargetArn":"arn:aws:sqs:...:dlq","maxReceiveCount":5}`.
    pub attributes: BTreeMap<String, String>,
    /// `Tags` (Key/Value list), in order.
    pub tags: Vec<(String, String)>,
}

/// An `Events` entry of `Type: SQS`: an event source mapping from a queue to the
/// function, with Lambda's defaults filled in and its limits checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqsEventSpec {
    /// The event's key under `Events`.
    pub logical_id: String,
    /// `Queue`, the queue's ARN as resolved (`arn:aws:sqs:<region>:<account>:<name>`).
    pub queue_arn: String,
    /// The name of the template's queue the ARN names ([`QueueSpec::name`]); None for
    /// a queue declared elsewhere (warned about).
    pub queue: Option<String>,
    /// Whether the queue is FIFO (a template queue's `FifoQueue`, else a `.fifo` name).
    pub fifo: bool,
    /// `BatchSize`: default 10; 1..=10000 (standard), 1..=10 (FIFO); above 10 only
    /// with a batching window.
    pub batch_size: u32,
    /// `MaximumBatchingWindowInSeconds`: 0..=300, default 0; not for FIFO queues.
    pub maximum_batching_window_s: u32,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`: the function may report
    /// which messages failed instead of failing the whole batch.
    pub report_batch_item_failures: bool,
    /// `ScalingConfig.MaximumConcurrency`: 2..=1000 concurrent invocations at most;
    /// None for Lambda's default (no limit but the function's).
    pub maximum_concurrency: Option<u32>,
    /// `FilterCriteria.Filters[].Pattern`: at most 5 JSON event patterns; a message
    /// is delivered when any matches (all messages when there are none).
    pub filters: Vec<String>,
    /// `Enabled`, default true.
    pub enabled: bool,
}

/// A loaded template: what to run, and what was accepted but is not acted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub functions: Vec<FunctionSpec>,
    /// `Globals.HttpApi.CorsConfiguration`.
    pub http_api_cors: Option<crate::cors::Cors>,
    /// Every explicit API, then each implicit API that has at least one route.
    pub apis: Vec<ApiSpec>,
    /// Every `AWS::S3::Bucket` that exists, in template order.
    pub buckets: Vec<BucketSpec>,
    /// Every `AWS::DynamoDB::Table` and `AWS::Serverless::SimpleTable` that exists,
    /// in template order.
    pub tables: Vec<TableSpec>,
    /// Every `AWS::SQS::Queue` that exists, in template order, then the queues SAM
    /// creates for functions' `Type: SQS` destinations without `Destination`.
    pub queues: Vec<QueueSpec>,
    /// One per distinct unsupported property, event type or resource type; the caller
    /// prints them.
    pub warnings: Vec<Warning>,
}

/// `as_str`, `parse` and `NAMES` in the AWS APIs' own spelling (what serde writes too),
/// so the loader reads exactly what CloudFormation accepts and an engine can pass
/// the values on unchanged.
macro_rules! aws_names {
    ($t:ty { $($v:ident = $s:literal),+ $(,)? }) => {
        impl $t {
            /// Every spelling, in order, for hints.
            pub const NAMES: &[&str] = &[$($s),+];

            /// The name as the AWS API spells it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$v => $s),+
                }
            }

            /// The value an AWS spelling names (case-sensitive, as AWS reads it).
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($s => Some(Self::$v),)+
                    _ => None,
                }
            }
        }
    };
}

aws_names!(KeyType { Hash = "HASH", Range = "RANGE" });
aws_names!(AttributeType { String = "S", Number = "N", Binary = "B" });
aws_names!(BillingMode { Provisioned = "PROVISIONED", PayPerRequest = "PAY_PER_REQUEST" });
aws_names!(ProjectionType { All = "ALL", KeysOnly = "KEYS_ONLY", Include = "INCLUDE" });
aws_names!(StreamViewType {
    NewImage = "NEW_IMAGE",
    OldImage = "OLD_IMAGE",
    NewAndOldImages = "NEW_AND_OLD_IMAGES",
    KeysOnly = "KEYS_ONLY",
});
aws_names!(StartingPosition { TrimHorizon = "TRIM_HORIZON", Latest = "LATEST" });
