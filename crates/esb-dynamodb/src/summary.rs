//! What `esb status` shows of the tables: name, items, size, stream.

use serde_json::{Value, json};

use crate::client::{CallError, DynamoClient};
use crate::operations::Operation;

/// One table, as `esb status` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableSummary {
    pub name: String,
    /// DynamoDB's `ItemCount` (AWS refreshes it about every six hours; the embedded
    /// engine keeps it current).
    pub items: u64,
    pub bytes: u64,
    /// The stream's view type, when the table has a stream.
    pub stream: Option<String>,
}

/// Every table of the engine `client` talks to.
pub async fn tables(client: &DynamoClient) -> Result<Vec<TableSummary>, CallError> {
    let mut names = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let mut req = json!({});
        if let Some(s) = &start {
            req["ExclusiveStartTableName"] = json!(s);
        }
        let page = client.call(Operation::ListTables, &req).await?;
        names.extend(
            page["TableNames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string),
        );
        match page["LastEvaluatedTableName"].as_str() {
            Some(s) => start = Some(s.to_string()),
            None => break,
        }
    }
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let table = match client
            .call(Operation::DescribeTable, &json!({"TableName": name}))
            .await
        {
            Ok(t) => t,
            // Deleted between the two calls.
            Err(e) if e.is("ResourceNotFoundException") => continue,
            Err(e) => return Err(e),
        };
        let t = &table["Table"];
        let stream = t["StreamSpecification"]
            .as_object()
            .filter(|s| s.get("StreamEnabled").and_then(Value::as_bool) == Some(true))
            .and_then(|s| s.get("StreamViewType"))
            .and_then(Value::as_str)
            .map(str::to_string);
        out.push(TableSummary {
            name,
            items: t["ItemCount"].as_u64().unwrap_or(0),
            bytes: t["TableSizeBytes"].as_u64().unwrap_or(0),
            stream,
        });
    }
    Ok(out)
}
