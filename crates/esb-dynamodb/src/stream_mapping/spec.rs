//! What one event source mapping is: the template's `DynamoDB` event of a function,
//! with Lambda's parameters and defaults, checked as `CreateEventSourceMapping` checks
//! them so a template that AWS would refuse is refused here too, at load time.

use std::time::Duration;

use esb_lambda::event_filter::FilterPattern;

/// Lambda's limit on `BatchSize` for DynamoDB streams.
const MAX_BATCH_SIZE: usize = 10_000;
/// Lambda's limit on `MaximumBatchingWindowInSeconds`.
const MAX_BATCHING_WINDOW: Duration = Duration::from_secs(300);
/// Lambda's limit on `MaximumRetryAttempts` (-1 is infinite).
const MAX_RETRY_ATTEMPTS: i64 = 10_000;
/// Lambda's bounds on `MaximumRecordAgeInSeconds` (-1 is infinite).
const MIN_RECORD_AGE_S: i64 = 60;
const MAX_RECORD_AGE_S: i64 = 604_800;

/// Where the records come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A table: its current stream (`Table.LatestStreamArn`), followed when the table
    /// is recreated or its stream re-enabled (a template's `!GetAtt T.StreamArn`).
    Table(String),
    /// One stream, by ARN.
    StreamArn(String),
}

/// Where a mapping starts reading a stream it has no checkpoint for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartingPosition {
    /// The oldest record still in the stream.
    TrimHorizon,
    /// Only records written after the mapping first started.
    Latest,
}

/// The poller's clock: Lambda's cadence by default; tests shorten it so a retry test
/// takes milliseconds, not seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// How often an idle shard is polled (Lambda: four times a second).
    pub poll_interval: Duration,
    /// First wait before retrying a failed batch; doubles up to `retry_backoff_max`.
    pub retry_backoff: Duration,
    /// Longest wait between two attempts of one batch. Lambda retries stream batches
    /// promptly, so this stays a few seconds.
    pub retry_backoff_max: Duration,
    /// How often the shard list (and, for a table, its current stream) is read again:
    /// new shards, a recreated table.
    pub discovery_interval: Duration,
    /// How often a table without a stream (or a stream that is gone) is looked at again.
    pub no_stream_recheck: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(250),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(3),
            discovery_interval: Duration::from_secs(5),
            no_stream_recheck: Duration::from_secs(3),
        }
    }
}

/// One DynamoDB stream → Lambda event source mapping.
#[derive(Debug, Clone)]
pub struct MappingSpec {
    /// The function to invoke: a name or an ARN. Its ARN (given, or built from the
    /// region and the stream's account) is what on-failure records name.
    pub function: String,
    /// The template's event id, for logs and the checkpoint's file name.
    pub event_name: String,
    pub source: Source,
    pub starting_position: StartingPosition,
    /// Records per invocation at most (Lambda's default: 100).
    pub batch_size: usize,
    /// How long to gather records before invoking with fewer than `batch_size`
    /// (zero: invoke with what one read returned).
    pub maximum_batching_window: Duration,
    /// Retries of a batch the function failed (-1: until the records expire).
    pub maximum_retry_attempts: i64,
    /// Records older than this are no longer sent to the function (-1: no limit).
    pub maximum_record_age_s: i64,
    /// Split a batch the function failed in two and retry each half.
    pub bisect_batch_on_function_error: bool,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`.
    pub report_batch_item_failures: bool,
    /// `FilterCriteria.Filters[].Pattern`: a record is sent if any pattern matches it.
    pub filters: Vec<String>,
    /// `DestinationConfig.OnFailure.Destination`: where discarded batches are described.
    pub on_failure: Option<String>,
    pub enabled: bool,
    pub timing: Timing,
}

impl MappingSpec {
    /// A mapping with Lambda's defaults for everything the template did not say.
    pub fn new(
        function: impl Into<String>,
        event_name: impl Into<String>,
        source: Source,
        starting_position: StartingPosition,
    ) -> Self {
        Self {
            function: function.into(),
            event_name: event_name.into(),
            source,
            starting_position,
            batch_size: 100,
            maximum_batching_window: Duration::ZERO,
            maximum_retry_attempts: -1,
            maximum_record_age_s: -1,
            bisect_batch_on_function_error: false,
            report_batch_item_failures: false,
            filters: Vec::new(),
            on_failure: None,
            enabled: true,
            timing: Timing::default(),
        }
    }

    /// Checks the mapping as Lambda's `CreateEventSourceMapping` would, with its
    /// error names and wording, so a bad template fails when it is loaded rather than
    /// when a record arrives.
    pub fn validate(&self) -> Result<(), MappingError> {
        self.compile_filters().map(|_| ())?;
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) {
            let bound = if self.batch_size < 1 {
                "greater than or equal to 1".to_string()
            } else {
                format!("less than or equal to {MAX_BATCH_SIZE}")
            };
            return Err(MappingError::Validation(format!(
                "1 validation error detected: Value '{}' at 'batchSize' failed to satisfy constraint: Member must have value {bound}",
                self.batch_size
            )));
        }
        if self.maximum_batching_window > MAX_BATCHING_WINDOW {
            return Err(MappingError::Validation(format!(
                "1 validation error detected: Value '{}' at 'maximumBatchingWindowInSeconds' failed to satisfy constraint: Member must have value less than or equal to {}",
                self.maximum_batching_window.as_secs(),
                MAX_BATCHING_WINDOW.as_secs()
            )));
        }
        if !(-1..=MAX_RETRY_ATTEMPTS).contains(&self.maximum_retry_attempts) {
            let bound = if self.maximum_retry_attempts < -1 {
                "greater than or equal to -1".to_string()
            } else {
                format!("less than or equal to {MAX_RETRY_ATTEMPTS}")
            };
            return Err(MappingError::Validation(format!(
                "1 validation error detected: Value '{}' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value {bound}",
                self.maximum_retry_attempts
            )));
        }
        let age = self.maximum_record_age_s;
        if age != -1 && !(MIN_RECORD_AGE_S..=MAX_RECORD_AGE_S).contains(&age) {
            return Err(MappingError::InvalidParameterValue(format!(
                "MaximumRecordAgeInSeconds must be -1 or between {MIN_RECORD_AGE_S} and {MAX_RECORD_AGE_S}, but was {age}."
            )));
        }
        if let Some(arn) = &self.on_failure {
            let service = arn.split(':').nth(2).unwrap_or("");
            if !arn.starts_with("arn:") || !matches!(service, "sqs" | "sns" | "s3") {
                return Err(MappingError::InvalidParameterValue(format!(
                    "The provided destination config DestinationConfig(onSuccess=null, onFailure=OnFailure(destination={arn})) is invalid: an on-failure destination of a DynamoDB stream is an SQS queue, an SNS topic or an S3 bucket ARN."
                )));
            }
        }
        if self.function.trim().is_empty() {
            return Err(MappingError::InvalidParameterValue(
                "FunctionName must not be empty.".into(),
            ));
        }
        Ok(())
    }

    /// The filters, parsed; an invalid one is refused with Lambda's message.
    pub(super) fn compile_filters(&self) -> Result<Vec<FilterPattern>, MappingError> {
        esb_lambda::event_filter::parse_filters(&self.filters)
            .map_err(MappingError::InvalidParameterValue)
    }

    /// The name of this mapping's checkpoint file: the function and the event, made
    /// safe as a file name (an ARN has colons).
    pub(super) fn checkpoint_name(&self) -> String {
        let safe = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        };
        format!("{}.{}.json", safe(&self.function), safe(&self.event_name))
    }
}

/// A mapping Lambda would refuse, named as Lambda names the error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("InvalidParameterValueException: {0}")]
    InvalidParameterValue(String),
    #[error("ValidationException: {0}")]
    Validation(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> MappingSpec {
        MappingSpec::new(
            "fn",
            "Stream",
            Source::Table("t".into()),
            StartingPosition::TrimHorizon,
        )
    }

    #[test]
    fn lambdas_defaults_are_valid() {
        assert_eq!(spec().validate(), Ok(()));
        assert_eq!(spec().batch_size, 100);
    }

    #[test]
    fn an_invalid_filter_is_refused_as_lambda_refuses_it() {
        let mut s = spec();
        s.filters = vec![
            r#"{"eventName":["INSERT"]}"#.into(),
            r#"{"eventName":"INSERT"}"#.into(),
        ];
        let err = s
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with(
                "InvalidParameterValueException: Invalid filter pattern definition. (FilterCriteria.Filters[1]"
            ),
            "{err}"
        );
        s.filters = vec!["not json".into()];
        assert!(matches!(
            s.validate(),
            Err(MappingError::InvalidParameterValue(_))
        ));
    }

    #[test]
    fn out_of_range_parameters_are_refused() {
        let mut s = spec();
        s.batch_size = 0;
        assert!(matches!(s.validate(), Err(MappingError::Validation(_))));
        s.batch_size = 10_001;
        assert!(matches!(s.validate(), Err(MappingError::Validation(_))));
        let mut s = spec();
        s.maximum_retry_attempts = -2;
        assert!(matches!(s.validate(), Err(MappingError::Validation(_))));
        let mut s = spec();
        s.maximum_record_age_s = 10;
        assert!(matches!(
            s.validate(),
            Err(MappingError::InvalidParameterValue(_))
        ));
        let mut s = spec();
        s.maximum_batching_window = Duration::from_secs(301);
        assert!(matches!(s.validate(), Err(MappingError::Validation(_))));
        let mut s = spec();
        s.on_failure = Some("arn:aws:lambda:us-east-1:1:function:f".into());
        assert!(matches!(
            s.validate(),
            Err(MappingError::InvalidParameterValue(_))
        ));
        s.on_failure = Some("arn:aws:sqs:us-east-1:000000000000:dlq".into());
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn checkpoint_names_are_file_names() {
        let mut s = spec();
        s.function = "arn:aws:lambda:us-east-1:1:function:f".into();
        assert_eq!(
            s.checkpoint_name(),
            "arn_aws_lambda_us-east-1_1_function_f.Stream.json"
        );
    }
}
