//! ESB's SQS service, and SQS queues to Lambda (event source mappings).

pub mod queue_mapping;
