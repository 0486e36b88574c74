//! DynamoDB Streams → Lambda event source mappings, with Lambda's semantics.

pub mod filter;
