//! The limits against the embedded engine (dynoxide-rs 3.2.0): what the engine already
//! answers in DynamoDB's words (the front adds nothing), what it lacks (the front
//! refuses), that the guard words a deep expression as the engine words the same fault
//! in a shallow one, and that the front refuses it without the engine.

use std::time::Duration;

use serde_json::{Value, json};

use super::{LimitError, check};
use crate::backend::{Backend, Embedded};
use crate::client::{CallError, DynamoClient};
use crate::engine::Engine;
use crate::front::DynamoFront;
use crate::operations::Operation;

const REGION: &str = "us-east-1";
const TABLE: &str = "tbl";

fn credentials() -> esb_auth::BoxCredentials {
    esb_auth::BoxCredentials {
        access_key_id: "AKIDTEST".into(),
        secret_access_key: "secret".into(),
    }
}

fn client(addr: std::net::SocketAddr) -> DynamoClient {
    DynamoClient::new(&format!("http://{addr}/"), credentials(), REGION, None).unwrap()
}

/// A running engine with table `tbl` (hash key `pk`, a stream) and a client of it.
struct Fixture {
    _dir: tempfile::TempDir,
    engine: Engine,
    client: DynamoClient,
}

impl Fixture {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        // The engine builds a runtime of its own: not from inside this one's threads.
        let engine = tokio::task::spawn_blocking(move || Engine::start(&db, Duration::ZERO))
            .await
            .unwrap()
            .unwrap();
        let client = client(engine.addr);
        let fixture = Self {
            _dir: dir,
            engine,
            client,
        };
        fixture
            .call(
                Operation::CreateTable,
                json!({
                    "TableName": TABLE,
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "BillingMode": "PAY_PER_REQUEST",
                    "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_IMAGE"},
                }),
            )
            .await
            .unwrap();
        fixture
    }

    async fn call(&self, op: Operation, body: Value) -> Result<Value, CallError> {
        self.client.call(op, &body).await
    }

    /// The engine's ValidationException message for `body`; `None` when it answers
    /// anything else.
    async fn validation(&self, op: Operation, body: &Value) -> Option<String> {
        match self.client.call(op, body).await {
            Err(CallError::Api {
                error_type,
                message,
                ..
            }) if error_type == "ValidationException" => Some(message),
            _ => None,
        }
    }
}

fn limit_message(op: Operation, body: &Value) -> Option<String> {
    match check(op, &serde_json::to_vec(body).unwrap()) {
        Err(LimitError::Validation(message)) => Some(message),
        Ok(()) => None,
    }
}

fn key() -> Value {
    json!({"pk": {"S": "a"}})
}

/// A request of `op` whose condition-like field holds `expression`.
fn with_expression(op: Operation, expression: &str) -> Value {
    let values = json!({":v": {"S": "a"}});
    match op {
        Operation::PutItem => {
            json!({"TableName": TABLE, "Item": key(), "ConditionExpression": expression, "ExpressionAttributeValues": values})
        }
        Operation::UpdateItem => {
            json!({"TableName": TABLE, "Key": key(), "UpdateExpression": "SET b = :v", "ConditionExpression": expression, "ExpressionAttributeValues": values})
        }
        Operation::DeleteItem => {
            json!({"TableName": TABLE, "Key": key(), "ConditionExpression": expression, "ExpressionAttributeValues": values})
        }
        Operation::Query => {
            json!({"TableName": TABLE, "KeyConditionExpression": expression, "ExpressionAttributeValues": values})
        }
        Operation::Scan => {
            json!({"TableName": TABLE, "FilterExpression": expression, "ExpressionAttributeValues": values})
        }
        Operation::TransactWriteItems => {
            json!({"TransactItems": [{"ConditionCheck": {"TableName": TABLE, "Key": key(), "ConditionExpression": expression, "ExpressionAttributeValues": values}}]})
        }
        _ => unreachable!("no condition on {}", op.name()),
    }
}

#[tokio::test]
async fn the_guard_words_a_deep_fault_as_the_engine_words_it_shallow() {
    let f = Fixture::new().await;
    let deep = "(".repeat(2000);
    let ops = [
        Operation::PutItem,
        Operation::UpdateItem,
        Operation::DeleteItem,
        Operation::Query,
        Operation::Scan,
        Operation::TransactWriteItems,
    ];
    // (shallow, deep) pairs with the same fault.
    let cases = [
        ("(((pk = :v".to_string(), format!("{deep}pk = :v")),
        ("((((".to_string(), "(".repeat(4096)),
        ("((pk = :v !".to_string(), format!("{deep}pk = :v !")),
        ("((pk = :v) b".to_string(), format!("{deep}pk = :v) b")),
        ("((status = :v".to_string(), format!("{deep}status = :v")),
    ];
    for op in ops {
        for (shallow, deep) in &cases {
            let shallow_body = with_expression(op, shallow);
            // The front leaves the shallow one to the engine...
            assert_eq!(
                limit_message(op, &shallow_body),
                None,
                "{} {shallow}",
                op.name()
            );
            let engine = f.validation(op, &shallow_body).await;
            // ...and answers the deep one as the engine answers the shallow one.
            let front = limit_message(op, &with_expression(op, deep));
            assert!(front.is_some(), "{} let {deep:.20}... through", op.name());
            if op == Operation::Query && shallow.contains("status") {
                // The engine's key-condition parser reports a reserved word without the
                // field's name; the guard names it as a condition does.
                continue;
            }
            assert_eq!(front, engine, "{} {shallow}", op.name());
        }
    }
}

#[tokio::test]
async fn what_the_engine_lacks_the_front_refuses() {
    let f = Fixture::new().await;
    f.call(
        Operation::PutItem,
        json!({"TableName": TABLE, "Item": {"pk": {"S": "a"}, "a": {"S": "x"}}}),
    )
    .await
    .unwrap();
    let values = json!({":v": {"S": "x"}, ":t": {"S": "XX"}});
    let put = |condition: String| json!({"TableName": TABLE, "Item": key(), "ConditionExpression": condition, "ExpressionAttributeValues": values});
    let deep_path = format!("a{}", ".b".repeat(32));
    let cases: Vec<(Operation, Value, &str)> = vec![
        (
            Operation::PutItem,
            put(format!("{} OR a = :t", vec!["a = :v"; 151].join(" OR "))),
            "1 validation error detected: Invalid ConditionExpression: The expression contains too many operators; operator count: 301",
        ),
        (
            Operation::PutItem,
            put(format!("a IN ({}) OR a = :t", vec![":v"; 101].join(","))),
            "1 validation error detected: Invalid ConditionExpression: The IN operator is provided with too many operands; number of operands: 101",
        ),
        (
            Operation::PutItem,
            put("a = a OR a = :v OR a = :t".into()),
            "1 validation error detected: Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]",
        ),
        (
            Operation::PutItem,
            put("attribute_type(a, :t) OR a = :v".into()),
            "1 validation error detected: Invalid ConditionExpression: Invalid attribute type name found; type: XX, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
        ),
        (
            Operation::PutItem,
            put(format!(
                "attribute_not_exists({deep_path}) OR a = :v OR a = :t"
            )),
            "1 validation error detected: Invalid ConditionExpression: The document path has too many nesting levels; nesting levels: 33",
        ),
        (
            Operation::GetItem,
            json!({"TableName": TABLE, "Key": key(), "ProjectionExpression": "a.b, a[0]"}),
            "Invalid ProjectionExpression: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a, [0]]",
        ),
        (
            Operation::Scan,
            json!({"TableName": TABLE, "ProjectionExpression": deep_path}),
            "Invalid ProjectionExpression: The document path has too many nesting levels; nesting levels: 33",
        ),
        (
            Operation::UpdateItem,
            json!({"TableName": TABLE, "Key": key(), "UpdateExpression": format!("SET {deep_path} = :v"), "ExpressionAttributeValues": {":v": {"S": "x"}}}),
            "1 validation error detected: Invalid UpdateExpression: The document path has too many nesting levels; nesting levels: 33",
        ),
        (
            Operation::ListStreams,
            json!({"Limit": 0}),
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
        ),
        (
            Operation::ListStreams,
            json!({"Limit": 101}),
            "1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100",
        ),
        (
            Operation::TagResource,
            json!({"ResourceArn": format!("arn:aws:dynamodb:dynoxide:000000000000:table/{TABLE}"), "Tags": [{"Key": "aws:owner", "Value": "me"}]}),
            "One or more parameter values were invalid: Tag keys starting with 'aws:' are reserved for use by AWS",
        ),
    ];
    for (op, body, refusal) in cases {
        // The engine evaluates (or runs) each of these; at most it fails against the
        // item, never with the refusal DynamoDB gives.
        let engine = f.validation(op, &body).await;
        assert_ne!(
            engine.as_deref(),
            Some(refusal),
            "{}: the engine has it now",
            op.name()
        );
        if let Some(message) = &engine {
            // The one the engine refuses, UpdateItem, it refuses by the item: the path
            // does not fit it.
            assert_eq!(
                message,
                "The document path provided in the update expression is invalid for update",
                "{}",
                op.name()
            );
        }
        assert_eq!(
            limit_message(op, &body).as_deref(),
            Some(refusal),
            "{}",
            op.name()
        );
    }

    // GetRecords' Limit: the engine takes 0 (an empty page) and 1001 (capped).
    let streams = f.call(Operation::ListStreams, json!({})).await.unwrap();
    let arn = streams["Streams"][0]["StreamArn"]
        .as_str()
        .unwrap()
        .to_string();
    let stream = f
        .call(Operation::DescribeStream, json!({"StreamArn": arn}))
        .await
        .unwrap();
    let shard = stream["StreamDescription"]["Shards"][0]["ShardId"]
        .as_str()
        .unwrap();
    let iterator = f
        .call(
            Operation::GetShardIterator,
            json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .await
        .unwrap();
    let iterator = iterator["ShardIterator"].as_str().unwrap();
    for (limit, constraint) in [
        (0, "greater than or equal to 1"),
        (1001, "less than or equal to 1000"),
    ] {
        let body = json!({"ShardIterator": iterator, "Limit": limit});
        assert!(f.call(Operation::GetRecords, body.clone()).await.is_ok());
        assert_eq!(
            limit_message(Operation::GetRecords, &body),
            Some(format!(
                "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value {constraint}"
            ))
        );
    }

    // CreateTable with 51 tags: the engine refuses, but only after creating the table.
    let tags: Vec<Value> = (0..51)
        .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
        .collect();
    let create = json!({
        "TableName": "tagged",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
        "Tags": tags,
    });
    let too_many = "One or more parameter values were invalid: Too many tags: tag limit is 50";
    assert_eq!(
        f.validation(Operation::CreateTable, &create)
            .await
            .as_deref(),
        Some(too_many)
    );
    assert!(
        f.call(Operation::DescribeTable, json!({"TableName": "tagged"}))
            .await
            .is_ok()
    );
    assert_eq!(
        limit_message(Operation::CreateTable, &create).as_deref(),
        Some(too_many)
    );
}

#[tokio::test]
async fn what_the_engine_has_the_front_leaves_to_it() {
    let f = Fixture::new().await;
    let arn = format!("arn:aws:dynamodb:dynoxide:000000000000:table/{TABLE}");
    let tags: Vec<Value> = (0..51)
        .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
        .collect();
    let cases: Vec<(Operation, Value, &str)> = vec![
        (
            Operation::GetItem,
            json!({"TableName": TABLE, "Key": key(), "ProjectionExpression": "a, a.b"}),
            "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]",
        ),
        (
            Operation::BatchGetItem,
            json!({"RequestItems": {TABLE: {"Keys": [key()], "ProjectionExpression": "l[0], l"}}}),
            "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [l, [0]], path two: [l]",
        ),
        (
            Operation::PutItem,
            json!({"TableName": TABLE, "Item": key(), "ConditionExpression": format!("a = :v AND {}", "(".repeat(4096))}),
            "1 validation error detected: Invalid ConditionExpression: Expression size has exceeded the maximum allowed size;",
        ),
        (
            Operation::PutItem,
            json!({"TableName": TABLE, "Item": key(), "ConditionExpression": "((a = :v))", "ExpressionAttributeValues": {":v": {"S": "x"}}}),
            "1 validation error detected: Invalid ConditionExpression: The expression has redundant parentheses;",
        ),
        (
            Operation::TagResource,
            json!({"ResourceArn": arn, "Tags": tags}),
            "One or more parameter values were invalid: Too many tags: tag limit is 50",
        ),
    ];
    for (op, body, message) in cases {
        assert_eq!(limit_message(op, &body), None, "{}", op.name());
        assert_eq!(
            f.validation(op, &body).await.as_deref(),
            Some(message),
            "{}",
            op.name()
        );
    }
    // `contains(a, a)`: the engine refuses it too; the front, first, in the same words.
    let scan = json!({"TableName": TABLE, "FilterExpression": "contains(a, a)"});
    let engine = f.validation(Operation::Scan, &scan).await;
    assert!(engine.is_some());
    assert_eq!(limit_message(Operation::Scan, &scan), engine);
}

/// A front on a loopback port in front of `backend`, and a client of it.
async fn front(backend: Backend) -> DynamoClient {
    let front = DynamoFront::new(backend, credentials(), REGION, None, None);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(crate::front::serve(
        listener,
        None,
        esb_listener::Limits::default(),
        front,
        std::future::pending(),
    ));
    client(addr)
}

#[tokio::test]
async fn the_front_refuses_a_deep_expression_without_the_engine() {
    // A backend no one listens on: a request that reached it would be a 500.
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = nobody.local_addr().unwrap();
    drop(nobody);
    let backend = Backend::Embedded(Box::new(
        Embedded::new(addr, REGION, "000000000000").unwrap(),
    ));
    let client = front(backend).await;
    let deep = with_expression(Operation::PutItem, &"(".repeat(4096));
    match client.call(Operation::PutItem, &deep).await {
        Err(CallError::Api {
            status,
            error_type,
            message,
        }) => {
            assert_eq!((status, error_type.as_str()), (400, "ValidationException"));
            assert_eq!(
                message,
                r#"1 validation error detected: Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "(""#
            );
        }
        other => panic!("{other:?}"),
    }
    match client
        .call(
            Operation::PutItem,
            &with_expression(Operation::PutItem, "pk = :v"),
        )
        .await
    {
        Err(CallError::Api { status, .. }) => assert_eq!(status, 500),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_front_answers_the_limits_and_the_engine_the_rest() {
    let f = Fixture::new().await;
    let backend = Backend::Embedded(Box::new(
        Embedded::new(f.engine.addr, REGION, "000000000000").unwrap(),
    ));
    let client = front(backend).await;
    let deep = with_expression(Operation::Scan, &"(".repeat(4096));
    assert!(matches!(
        client.call(Operation::Scan, &deep).await,
        Err(CallError::Api { status: 400, .. })
    ));
    let same = json!({"TableName": TABLE, "Item": key(), "ConditionExpression": "a = a"});
    match client.call(Operation::PutItem, &same).await {
        Err(CallError::Api { message, .. }) => assert_eq!(
            message,
            "1 validation error detected: Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]"
        ),
        other => panic!("{other:?}"),
    }
    let fine = json!({"TableName": TABLE, "Item": key(), "ConditionExpression": "attribute_not_exists(pk)"});
    client.call(Operation::PutItem, &fine).await.unwrap();
    let answer = client
        .call(
            Operation::GetItem,
            &json!({"TableName": TABLE, "Key": key()}),
        )
        .await
        .unwrap();
    assert_eq!(answer["Item"], key());
}
