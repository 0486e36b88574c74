//! What one SQS event source mapping is: the template's `SQS` event of a function, with
//! Lambda's parameters and defaults, checked as `CreateEventSourceMapping` checks them
//! so a template that AWS would refuse is refused here too, at load time.

use std::time::Duration;

use esb_lambda::event_filter::FilterPattern;

use super::queue_api::QueueArn;

/// Lambda's limit on `BatchSize` for a standard queue (a FIFO queue's is 10).
const MAX_BATCH_SIZE: usize = 10_000;
/// Lambda's limit on `BatchSize` for a FIFO queue, and on a standard queue's without a
/// batching window.
const MAX_FIFO_BATCH_SIZE: usize = 10;
/// Lambda's limit on `MaximumBatchingWindowInSeconds`.
const MAX_BATCHING_WINDOW: Duration = Duration::from_secs(300);
/// Lambda's bounds on `ScalingConfig.MaximumConcurrency`.
const MIN_MAXIMUM_CONCURRENCY: usize = 2;
const MAX_MAXIMUM_CONCURRENCY: usize = 1000;

/// The poller's clock and scale: Lambda's by default; tests shorten it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// Pollers a mapping starts with, and scales back to when the queue is quiet
    /// (Lambda: five).
    pub initial_pollers: usize,
    /// How often one more poller may start while receives return full batches
    /// (Lambda: up to 300 more a minute).
    pub scale_up_interval: Duration,
    /// First wait before invoking again a batch the function could not be given
    /// (throttled, no worker); doubles up to `not_run_backoff_max`.
    pub not_run_backoff: Duration,
    pub not_run_backoff_max: Duration,
    /// Wait after a failed SQS call (the queue is gone, the service is down).
    pub error_backoff: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            initial_pollers: 5,
            scale_up_interval: Duration::from_millis(200),
            not_run_backoff: Duration::from_secs(1),
            not_run_backoff_max: Duration::from_secs(20),
            error_backoff: Duration::from_secs(5),
        }
    }
}

/// One SQS queue → Lambda event source mapping.
#[derive(Debug, Clone)]
pub struct MappingSpec {
    /// The function to invoke: a name or an ARN.
    pub function: String,
    /// The template's event id, for logs and `esb status`.
    pub event_name: String,
    /// `Queue`: the queue's ARN (`eventSourceARN` of every record).
    pub queue_arn: String,
    /// The queue's URL if known; else asked of the service (`GetQueueUrl`) by the
    /// ARN's name and account.
    pub queue_url: Option<String>,
    /// Messages per invocation at most (Lambda's default: 10).
    pub batch_size: usize,
    /// How long to gather messages before invoking with fewer than `batch_size`
    /// (zero: invoke as soon as a receive returns anything).
    pub maximum_batching_window: Duration,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`.
    pub report_batch_item_failures: bool,
    /// `ScalingConfig.MaximumConcurrency`: invocations of this mapping at once at most.
    pub maximum_concurrency: Option<usize>,
    /// The box's own bound on this mapping's concurrent invocations (the function's
    /// reserved concurrency, a box limit); Lambda's mapping limit by default.
    pub concurrency_cap: usize,
    /// `FilterCriteria.Filters[].Pattern`: a message is sent if any pattern matches it;
    /// one no pattern matches is deleted without invoking.
    pub filters: Vec<String>,
    pub enabled: bool,
    pub timing: Timing,
}

impl MappingSpec {
    /// A mapping with Lambda's defaults for everything the template did not say.
    pub fn new(
        function: impl Into<String>,
        event_name: impl Into<String>,
        queue_arn: impl Into<String>,
    ) -> Self {
        Self {
            function: function.into(),
            event_name: event_name.into(),
            queue_arn: queue_arn.into(),
            queue_url: None,
            batch_size: 10,
            maximum_batching_window: Duration::ZERO,
            report_batch_item_failures: false,
            maximum_concurrency: None,
            concurrency_cap: MAX_MAXIMUM_CONCURRENCY,
            filters: Vec::new(),
            enabled: true,
            timing: Timing::default(),
        }
    }

    /// Checks the mapping as Lambda's `CreateEventSourceMapping` would, with its error
    /// names, so a bad template fails when it is loaded rather than when a message
    /// arrives.
    pub fn validate(&self) -> Result<(), MappingError> {
        self.compile_filters().map(|_| ())?;
        let Some(arn) = QueueArn::parse(&self.queue_arn) else {
            return Err(MappingError::InvalidParameterValue(format!(
                "Invalid event source ARN: '{}' is not an SQS queue ARN (arn:aws:sqs:<region>:<account>:<queue>).",
                self.queue_arn
            )));
        };
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
        if arn.is_fifo() {
            if self.batch_size > MAX_FIFO_BATCH_SIZE {
                return Err(MappingError::InvalidParameterValue(format!(
                    "BatchSize must be less than or equal to {MAX_FIFO_BATCH_SIZE} for FIFO queues, but was {}.",
                    self.batch_size
                )));
            }
            if !self.maximum_batching_window.is_zero() {
                return Err(MappingError::InvalidParameterValue(
                    "Batching window is not supported for FIFO queues.".into(),
                ));
            }
        } else if self.batch_size > MAX_FIFO_BATCH_SIZE && self.maximum_batching_window.is_zero() {
            return Err(MappingError::InvalidParameterValue(format!(
                "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than {MAX_FIFO_BATCH_SIZE}"
            )));
        }
        if let Some(max) = self.maximum_concurrency
            && !(MIN_MAXIMUM_CONCURRENCY..=MAX_MAXIMUM_CONCURRENCY).contains(&max)
        {
            let bound = if max < MIN_MAXIMUM_CONCURRENCY {
                format!("greater than or equal to {MIN_MAXIMUM_CONCURRENCY}")
            } else {
                format!("less than or equal to {MAX_MAXIMUM_CONCURRENCY}")
            };
            return Err(MappingError::Validation(format!(
                "1 validation error detected: Value '{max}' at 'scalingConfig.maximumConcurrency' failed to satisfy constraint: Member must have value {bound}"
            )));
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

    /// Invocations of this mapping at once at most: `MaximumConcurrency` if set, never
    /// above the box's cap, at least one.
    pub(super) fn concurrency_limit(&self) -> usize {
        self.maximum_concurrency
            .unwrap_or(usize::MAX)
            .min(self.concurrency_cap)
            .max(1)
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

    const QUEUE: &str = "arn:aws:sqs:eu-west-1:123456789012:jobs";
    const FIFO: &str = "arn:aws:sqs:eu-west-1:123456789012:jobs.fifo";

    #[test]
    fn lambdas_defaults_are_valid() {
        let s = MappingSpec::new("fn", "Queue", QUEUE);
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(s.batch_size, 10);
        assert_eq!(s.concurrency_limit(), 1000);
        assert_eq!(MappingSpec::new("fn", "Queue", FIFO).validate(), Ok(()));
    }

    #[test]
    fn batch_sizes_over_ten_need_a_window_and_a_standard_queue() {
        let mut s = MappingSpec::new("fn", "Queue", QUEUE);
        s.batch_size = 100;
        assert!(matches!(
            s.validate(),
            Err(MappingError::InvalidParameterValue(_))
        ));
        s.maximum_batching_window = Duration::from_secs(1);
        assert_eq!(s.validate(), Ok(()));
        s.batch_size = 10_001;
        assert!(matches!(s.validate(), Err(MappingError::Validation(_))));
        s.batch_size = 0;
        assert!(matches!(s.validate(), Err(MappingError::Validation(_))));
        let mut f = MappingSpec::new("fn", "Queue", FIFO);
        f.batch_size = 11;
        f.maximum_batching_window = Duration::from_secs(1);
        assert!(matches!(
            f.validate(),
            Err(MappingError::InvalidParameterValue(_))
        ));
        f.batch_size = 10;
        assert!(matches!(
            f.validate(),
            Err(MappingError::InvalidParameterValue(_))
        ));
    }

    #[test]
    fn out_of_range_parameters_are_refused() {
        let mut s = MappingSpec::new("fn", "Queue", QUEUE);
        s.maximum_concurrency = Some(1);
        assert!(matches!(s.validate(), Err(MappingError::Validation(_))));
        s.maximum_concurrency = Some(1001);
        assert!(matches!(s.validate(), Err(MappingError::Validation(_))));
        s.maximum_concurrency = Some(3);
        s.concurrency_cap = 2;
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(s.concurrency_limit(), 2);
        s.maximum_batching_window = Duration::from_secs(301);
        assert!(matches!(s.validate(), Err(MappingError::Validation(_))));
        let s = MappingSpec::new("fn", "Queue", "arn:aws:sns:eu-west-1:1:t");
        assert!(matches!(
            s.validate(),
            Err(MappingError::InvalidParameterValue(_))
        ));
        let mut s = MappingSpec::new("fn", "Queue", QUEUE);
        s.filters = vec![r#"{"body":{"a":"x"}}"#.into()];
        let err = s
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("FilterCriteria.Filters[0]"), "{err}");
    }
}
