//! The template's tables on the box's DynamoDB engine (embedded or external), as
//! CloudFormation would leave them: created when absent; on a template change, new
//! global secondary indexes added and removed ones dropped, the stream, TTL, billing
//! mode, deletion protection and tags brought to what the template says. A table is
//! never deleted (its items stay when it leaves the template) and a changed key schema
//! is reported, not acted on: CloudFormation would replace the table and its items.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use esb_dynamodb::{CallError, DynamoClient, Operation};
use esb_template::{SecondaryIndex, TableSpec};
use serde_json::{Value, json};

/// How long an external engine may take to make a new table or index ACTIVE.
const ACTIVE_WITHIN: Duration = Duration::from_secs(300);

/// What the template wrote for a table's `GetAtt StreamArn` (the label is only known
/// once the stream exists), and the stream's real ARN.
pub type StreamArns = std::collections::BTreeMap<String, String>;

/// Brings every table of the template to what it declares; the real ARNs of their
/// streams.
pub async fn provision(client: &DynamoClient, tables: &[TableSpec]) -> Result<StreamArns> {
    let mut streams = StreamArns::new();
    for t in tables {
        let context = || format!("table {} ({})", t.name, t.logical_id);
        provision_table(client, t).await.with_context(context)?;
        if t.stream_view_type.is_some()
            && let Some(table) = describe(client, &t.name).await.with_context(context)?
            && let (Some(arn), Some(stream)) = (
                table["TableArn"].as_str(),
                table["LatestStreamArn"].as_str(),
            )
        {
            streams.insert(format!("{arn}/stream/latest"), stream.to_string());
        }
    }
    Ok(streams)
}

async fn provision_table(client: &DynamoClient, t: &TableSpec) -> Result<()> {
    let current = match describe(client, &t.name).await? {
        Some(c) => c,
        None => {
            call(client, Operation::CreateTable, &create_request(t)).await?;
            crate::quiet::note!("esb: created table {}", t.name);
            wait_active(client, &t.name).await?
        }
    };
    if key_schema(&current["KeySchema"]) != key_schema(&json!(key_schema_json(&t.key_schema))) {
        eprintln!(
            "esb: warning: table {} has another key schema than the template's; it is kept as it is (CloudFormation would replace it and its items: delete it yourself, or `esb reset`)",
            t.name
        );
    }
    update_indexes(client, t, &current).await?;
    update_table_settings(client, t, &current).await?;
    update_ttl(client, t).await?;
    if !t.tags.is_empty() {
        let arn = current["TableArn"]
            .as_str()
            .ok_or_else(|| anyhow!("DescribeTable gave no TableArn"))?;
        let tags: Vec<Value> = t
            .tags
            .iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect();
        call(
            client,
            Operation::TagResource,
            &json!({"ResourceArn": arn, "Tags": tags}),
        )
        .await?;
    }
    Ok(())
}

/// The table's description; `None` when there is no such table.
async fn describe(client: &DynamoClient, name: &str) -> Result<Option<Value>> {
    match client
        .call(Operation::DescribeTable, &json!({"TableName": name}))
        .await
    {
        Ok(v) => Ok(Some(v["Table"].clone())),
        Err(e) if e.is("ResourceNotFoundException") => Ok(None),
        Err(e) => Err(e.into()),
    }
}

async fn call(client: &DynamoClient, op: Operation, body: &Value) -> Result<Value> {
    client
        .call(op, body)
        .await
        .map_err(|e: CallError| anyhow!("{} failed: {e}", op.name()))
}

/// Waits until the table and its indexes are ACTIVE (at once on the embedded engine;
/// AWS takes seconds to minutes).
async fn wait_active(client: &DynamoClient, name: &str) -> Result<Value> {
    let started = Instant::now();
    loop {
        let table = describe(client, name)
            .await?
            .ok_or_else(|| anyhow!("the table disappeared while being created"))?;
        let indexes_active = table["GlobalSecondaryIndexes"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|i| i["IndexStatus"].as_str().is_none_or(|s| s == "ACTIVE"));
        if table["TableStatus"].as_str() == Some("ACTIVE") && indexes_active {
            return Ok(table);
        }
        if started.elapsed() > ACTIVE_WITHIN {
            bail!(
                "not ACTIVE after {} s (status {})",
                ACTIVE_WITHIN.as_secs(),
                table["TableStatus"]
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn key_schema_json(keys: &[esb_template::KeySchemaElement]) -> Vec<Value> {
    keys.iter()
        .map(|k| json!({"AttributeName": k.attribute_name, "KeyType": k.key_type.as_str()}))
        .collect()
}

/// A key schema as comparable (name, type) pairs.
fn key_schema(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|k| {
            (
                k["AttributeName"].as_str().unwrap_or_default().to_string(),
                k["KeyType"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn throughput_json(t: &esb_template::Throughput) -> Value {
    json!({
        "ReadCapacityUnits": t.read_capacity_units,
        "WriteCapacityUnits": t.write_capacity_units,
    })
}

fn index_json(i: &SecondaryIndex) -> Value {
    let mut projection = json!({"ProjectionType": i.projection.projection_type.as_str()});
    if !i.projection.non_key_attributes.is_empty() {
        projection["NonKeyAttributes"] = json!(i.projection.non_key_attributes);
    }
    let mut index = json!({
        "IndexName": i.index_name,
        "KeySchema": key_schema_json(&i.key_schema),
        "Projection": projection,
    });
    if let Some(t) = &i.provisioned_throughput {
        index["ProvisionedThroughput"] = throughput_json(t);
    }
    index
}

fn attribute_definitions(t: &TableSpec) -> Vec<Value> {
    t.attribute_definitions
        .iter()
        .map(|a| json!({"AttributeName": a.attribute_name, "AttributeType": a.attribute_type.as_str()}))
        .collect()
}

fn stream_json(t: &TableSpec) -> Value {
    match t.stream_view_type {
        Some(v) => json!({"StreamEnabled": true, "StreamViewType": v.as_str()}),
        None => json!({"StreamEnabled": false}),
    }
}

/// The `CreateTable` request of a template table.
fn create_request(t: &TableSpec) -> Value {
    let mut req = json!({
        "TableName": t.name,
        "KeySchema": key_schema_json(&t.key_schema),
        "AttributeDefinitions": attribute_definitions(t),
        "BillingMode": t.billing_mode.as_str(),
    });
    if let Some(p) = &t.provisioned_throughput {
        req["ProvisionedThroughput"] = throughput_json(p);
    }
    if !t.global_secondary_indexes.is_empty() {
        req["GlobalSecondaryIndexes"] =
            Value::Array(t.global_secondary_indexes.iter().map(index_json).collect());
    }
    if !t.local_secondary_indexes.is_empty() {
        req["LocalSecondaryIndexes"] =
            Value::Array(t.local_secondary_indexes.iter().map(index_json).collect());
    }
    if t.stream_view_type.is_some() {
        req["StreamSpecification"] = stream_json(t);
    }
    if t.deletion_protection {
        req["DeletionProtectionEnabled"] = json!(true);
    }
    if let Some(class) = &t.table_class {
        req["TableClass"] = json!(class);
    }
    req
}

/// Adds the template's new global indexes and drops those it no longer declares, one
/// per `UpdateTable` as DynamoDB requires, each waited for.
async fn update_indexes(client: &DynamoClient, t: &TableSpec, current: &Value) -> Result<()> {
    let existing: Vec<String> = current["GlobalSecondaryIndexes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["IndexName"].as_str().map(str::to_string))
        .collect();
    for index in &t.global_secondary_indexes {
        if existing.contains(&index.index_name) {
            continue;
        }
        call(
            client,
            Operation::UpdateTable,
            &json!({
                "TableName": t.name,
                "AttributeDefinitions": attribute_definitions(t),
                "GlobalSecondaryIndexUpdates": [{"Create": index_json(index)}],
            }),
        )
        .await?;
        crate::quiet::note!("esb: table {}: added index {}", t.name, index.index_name);
        wait_active(client, &t.name).await?;
    }
    for name in existing {
        if t.global_secondary_indexes
            .iter()
            .any(|i| i.index_name == name)
        {
            continue;
        }
        call(
            client,
            Operation::UpdateTable,
            &json!({
                "TableName": t.name,
                "GlobalSecondaryIndexUpdates": [{"Delete": {"IndexName": name}}],
            }),
        )
        .await?;
        crate::quiet::note!("esb: table {}: removed index {name}", t.name);
        wait_active(client, &t.name).await?;
    }
    Ok(())
}

/// Billing mode, stream and deletion protection, when they differ.
async fn update_table_settings(
    client: &DynamoClient,
    t: &TableSpec,
    current: &Value,
) -> Result<()> {
    let billing = current["BillingModeSummary"]["BillingMode"]
        .as_str()
        .unwrap_or("PROVISIONED");
    if billing != t.billing_mode.as_str() {
        let mut req = json!({"TableName": t.name, "BillingMode": t.billing_mode.as_str()});
        if let Some(p) = &t.provisioned_throughput {
            req["ProvisionedThroughput"] = throughput_json(p);
        }
        call(client, Operation::UpdateTable, &req).await?;
        wait_active(client, &t.name).await?;
    }
    let stream = &current["StreamSpecification"];
    let enabled = stream["StreamEnabled"].as_bool() == Some(true);
    let view = stream["StreamViewType"].as_str();
    let wanted = t.stream_view_type.map(|v| v.as_str());
    if (enabled, view) != (wanted.is_some(), wanted) {
        if enabled {
            // A stream's view type cannot change in place: DynamoDB wants it disabled
            // first, and the new stream gets a new ARN.
            call(
                client,
                Operation::UpdateTable,
                &json!({"TableName": t.name, "StreamSpecification": {"StreamEnabled": false}}),
            )
            .await?;
            wait_active(client, &t.name).await?;
        }
        if wanted.is_some() {
            call(
                client,
                Operation::UpdateTable,
                &json!({"TableName": t.name, "StreamSpecification": stream_json(t)}),
            )
            .await?;
            wait_active(client, &t.name).await?;
        }
    }
    let protected = current["DeletionProtectionEnabled"].as_bool() == Some(true);
    if protected != t.deletion_protection {
        call(
            client,
            Operation::UpdateTable,
            &json!({"TableName": t.name, "DeletionProtectionEnabled": t.deletion_protection}),
        )
        .await?;
    }
    Ok(())
}

/// `TimeToLiveSpecification`, when it differs from the table's.
async fn update_ttl(client: &DynamoClient, t: &TableSpec) -> Result<()> {
    let current = call(
        client,
        Operation::DescribeTimeToLive,
        &json!({"TableName": t.name}),
    )
    .await?;
    let d = &current["TimeToLiveDescription"];
    let on = matches!(d["TimeToLiveStatus"].as_str(), Some("ENABLED" | "ENABLING"));
    let attribute = d["AttributeName"].as_str();
    let change = match &t.ttl {
        Some(ttl) if ttl.enabled => {
            (!on || attribute != Some(ttl.attribute_name.as_str())).then_some((true, ttl))
        }
        Some(ttl) => on.then_some((false, ttl)),
        None => None,
    };
    if let Some((enabled, ttl)) = change {
        if enabled && on {
            // Another attribute: DynamoDB changes it only by turning TTL off first.
            call(
                client,
                Operation::UpdateTimeToLive,
                &json!({"TableName": t.name, "TimeToLiveSpecification": {
                    "AttributeName": attribute.unwrap_or_default(), "Enabled": false}}),
            )
            .await?;
        }
        call(
            client,
            Operation::UpdateTimeToLive,
            &json!({"TableName": t.name, "TimeToLiveSpecification": {
                "AttributeName": ttl.attribute_name, "Enabled": enabled}}),
        )
        .await?;
    }
    Ok(())
}
