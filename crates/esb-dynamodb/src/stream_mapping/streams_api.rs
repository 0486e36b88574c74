//! The public DynamoDB and DynamoDB Streams calls a mapping makes, and nothing else:
//! the same poller then reads the embedded engine, ScyllaDB Alternator or AWS.

use serde_json::{Value, json};

use crate::client::{CallError, DynamoClient};
use crate::operations::Operation;

/// What `DescribeTable` says of a table's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TableStream {
    Stream(String),
    NoStream,
    NoTable,
}

/// One shard of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Shard {
    pub id: String,
    pub parent: Option<String>,
}

/// Where to start reading a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Position {
    After(String),
    TrimHorizon,
    Latest,
}

/// A table's current stream (`Table.LatestStreamArn`).
pub(super) async fn table_stream(
    client: &DynamoClient,
    table: &str,
) -> Result<TableStream, CallError> {
    match client
        .call(Operation::DescribeTable, &json!({ "TableName": table }))
        .await
    {
        Ok(answer) => Ok(answer
            .pointer("/Table/LatestStreamArn")
            .and_then(Value::as_str)
            .map_or(TableStream::NoStream, |arn| TableStream::Stream(arn.into()))),
        Err(e) if e.is("ResourceNotFoundException") => Ok(TableStream::NoTable),
        Err(e) => Err(e),
    }
}

/// Every shard of the stream, following `LastEvaluatedShardId` page by page.
pub(super) async fn shards(
    client: &DynamoClient,
    stream_arn: &str,
) -> Result<Vec<Shard>, CallError> {
    let mut shards = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let mut body = json!({ "StreamArn": stream_arn });
        if let Some(s) = &start {
            body["ExclusiveStartShardId"] = s.clone().into();
        }
        let answer = client.call(Operation::DescribeStream, &body).await?;
        let description = answer.get("StreamDescription");
        for shard in description
            .and_then(|d| d.get("Shards"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(id) = shard.get("ShardId").and_then(Value::as_str) {
                shards.push(Shard {
                    id: id.into(),
                    parent: shard
                        .get("ParentShardId")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                });
            }
        }
        let next = description
            .and_then(|d| d.get("LastEvaluatedShardId"))
            .and_then(Value::as_str)
            .map(str::to_string);
        match next {
            // An engine repeating itself would loop forever: stop there.
            Some(n) if start.as_deref() != Some(n.as_str()) => start = Some(n),
            _ => return Ok(shards),
        }
    }
}

/// An iterator for `shard` at `position`.
pub(super) async fn shard_iterator(
    client: &DynamoClient,
    stream_arn: &str,
    shard: &str,
    position: &Position,
) -> Result<Option<String>, CallError> {
    let mut body = json!({ "StreamArn": stream_arn, "ShardId": shard });
    match position {
        Position::After(seq) => {
            body["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER".into();
            body["SequenceNumber"] = seq.clone().into();
        }
        Position::TrimHorizon => body["ShardIteratorType"] = "TRIM_HORIZON".into(),
        Position::Latest => body["ShardIteratorType"] = "LATEST".into(),
    }
    let answer = client.call(Operation::GetShardIterator, &body).await?;
    Ok(answer
        .get("ShardIterator")
        .and_then(Value::as_str)
        .map(str::to_string))
}

/// Up to `limit` records from `iterator`, and the iterator to read on with (none: the
/// shard is closed and was read to its end).
pub(super) async fn records(
    client: &DynamoClient,
    iterator: &str,
    limit: usize,
) -> Result<(Vec<Value>, Option<String>), CallError> {
    let mut answer = client
        .call(
            Operation::GetRecords,
            &json!({ "ShardIterator": iterator, "Limit": limit }),
        )
        .await?;
    let records = match answer.get_mut("Records").map(Value::take) {
        Some(Value::Array(records)) => records,
        _ => Vec::new(),
    };
    let next = answer
        .get("NextShardIterator")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok((records, next))
}
