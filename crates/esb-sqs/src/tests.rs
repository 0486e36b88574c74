//! The engine's semantics through its operations (no HTTP): FIFO order and groups,
//! deduplication, redrive, visibility, receipts, batches, durability of state.

use serde_json::{Value, json};

use crate::engine::{Sqs, SqsConfig};
use crate::error::ErrorKind;
use crate::input::Input;
use crate::operations::{Context, call};

const ACCOUNT: &str = "000000000000";

fn open(dir: &std::path::Path) -> Sqs {
    Sqs::open(SqsConfig {
        dir: dir.to_path_buf(),
        region: "us-east-1".into(),
        account: ACCOUNT.into(),
    })
    .unwrap()
}

fn ctx() -> Context {
    Context {
        base_url: "http://localhost:9324".into(),
        sender_id: ACCOUNT.into(),
    }
}

async fn op(sqs: &Sqs, name: &str, input: Value) -> Result<Value, crate::SqsError> {
    let Value::Object(m) = input else { panic!() };
    call(sqs, name, Input(m), &ctx()).await
}

async fn ok(sqs: &Sqs, name: &str, input: Value) -> Value {
    op(sqs, name, input).await.unwrap()
}

async fn err(sqs: &Sqs, name: &str, input: Value) -> ErrorKind {
    op(sqs, name, input).await.unwrap_err().kind
}

fn url(name: &str) -> String {
    format!("http://localhost:9324/{ACCOUNT}/{name}")
}

async fn receive(sqs: &Sqs, q: &str, max: u32, extra: Value) -> Vec<Value> {
    let mut input = json!({"QueueUrl": url(q), "MaxNumberOfMessages": max, "MessageSystemAttributeNames": ["All"]});
    if let (Value::Object(a), Value::Object(b)) = (&mut input, extra) {
        a.extend(b);
    }
    ok(sqs, "ReceiveMessage", input).await["Messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn create_is_idempotent_only_with_the_same_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let sqs = open(dir.path());
    let out = ok(
        &sqs,
        "CreateQueue",
        json!({"QueueName": "q", "Attributes": {"VisibilityTimeout": "10"}}),
    )
    .await;
    assert_eq!(out["QueueUrl"], url("q"));
    ok(
        &sqs,
        "CreateQueue",
        json!({"QueueName": "q", "Attributes": {"VisibilityTimeout": "10"}}),
    )
    .await;
    ok(&sqs, "CreateQueue", json!({"QueueName": "q"})).await;
    assert_eq!(
        err(
            &sqs,
            "CreateQueue",
            json!({"QueueName": "q", "Attributes": {"VisibilityTimeout": "11"}})
        )
        .await,
        ErrorKind::QueueNameExists
    );
    assert_eq!(
        err(&sqs, "CreateQueue", json!({"QueueName": "bad name"})).await,
        ErrorKind::InvalidParameterValue
    );
    assert_eq!(
        err(
            &sqs,
            "CreateQueue",
            json!({"QueueName": "f", "Attributes": {"FifoQueue": "true"}})
        )
        .await,
        ErrorKind::InvalidParameterValue
    );
    assert_eq!(
        err(&sqs, "GetQueueUrl", json!({"QueueName": "nope"})).await,
        ErrorKind::QueueDoesNotExist
    );
    let attrs = ok(
        &sqs,
        "GetQueueAttributes",
        json!({"QueueUrl": url("q"), "AttributeNames": ["All"]}),
    )
    .await;
    assert_eq!(attrs["Attributes"]["VisibilityTimeout"], "10");
    assert_eq!(
        attrs["Attributes"]["QueueArn"],
        format!("arn:aws:sqs:us-east-1:{ACCOUNT}:q")
    );
    assert_eq!(attrs["Attributes"]["ApproximateNumberOfMessages"], "0");
}

#[tokio::test]
async fn fifo_keeps_group_order_and_holds_a_group_while_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let sqs = open(dir.path());
    ok(&sqs, "CreateQueue", json!({"QueueName": "f.fifo", "Attributes": {"FifoQueue": "true", "ContentBasedDeduplication": "true"}})).await;
    for (g, b) in [
        ("a", "a1"),
        ("b", "b1"),
        ("a", "a2"),
        ("b", "b2"),
        ("a", "a3"),
    ] {
        ok(
            &sqs,
            "SendMessage",
            json!({"QueueUrl": url("f.fifo"), "MessageBody": b, "MessageGroupId": g}),
        )
        .await;
    }
    let first = receive(&sqs, "f.fifo", 2, json!({})).await;
    let bodies: Vec<&str> = first.iter().map(|m| m["Body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["a1", "a2"]);
    // Group a is held while a1/a2 are in flight: only b comes.
    let second = receive(&sqs, "f.fifo", 10, json!({})).await;
    let bodies: Vec<&str> = second.iter().map(|m| m["Body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["b1", "b2"]);
    assert!(receive(&sqs, "f.fifo", 10, json!({})).await.is_empty());
    for m in &first {
        ok(
            &sqs,
            "DeleteMessage",
            json!({"QueueUrl": url("f.fifo"), "ReceiptHandle": m["ReceiptHandle"]}),
        )
        .await;
    }
    let third = receive(&sqs, "f.fifo", 10, json!({})).await;
    assert_eq!(third[0]["Body"], "a3");
    let seq = |m: &Value| {
        m["Attributes"]["SequenceNumber"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(seq(&third[0]).len(), 20);
    assert!(seq(&first[0]) < seq(&first[1]));
}

#[tokio::test]
async fn fifo_deduplicates_within_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let sqs = open(dir.path());
    ok(
        &sqs,
        "CreateQueue",
        json!({"QueueName": "d.fifo", "Attributes": {"FifoQueue": "true"}}),
    )
    .await;
    assert_eq!(
        err(
            &sqs,
            "SendMessage",
            json!({"QueueUrl": url("d.fifo"), "MessageBody": "x", "MessageGroupId": "g"})
        )
        .await,
        ErrorKind::InvalidParameterValue
    );
    assert_eq!(
        err(
            &sqs,
            "SendMessage",
            json!({"QueueUrl": url("d.fifo"), "MessageBody": "x", "MessageDeduplicationId": "1"})
        )
        .await,
        ErrorKind::MissingParameter
    );
    assert_eq!(
        err(&sqs, "SendMessage", json!({"QueueUrl": url("d.fifo"), "MessageBody": "x", "MessageGroupId": "g", "MessageDeduplicationId": "1", "DelaySeconds": 5})).await,
        ErrorKind::InvalidParameterValue
    );
    let a = ok(&sqs, "SendMessage", json!({"QueueUrl": url("d.fifo"), "MessageBody": "x", "MessageGroupId": "g", "MessageDeduplicationId": "1"})).await;
    let b = ok(&sqs, "SendMessage", json!({"QueueUrl": url("d.fifo"), "MessageBody": "y", "MessageGroupId": "g", "MessageDeduplicationId": "1"})).await;
    assert_eq!(a["MessageId"], b["MessageId"]);
    assert_eq!(a["SequenceNumber"], b["SequenceNumber"]);
    let got = receive(&sqs, "d.fifo", 10, json!({})).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["Body"], "x");
}

#[tokio::test]
async fn content_based_deduplication_hashes_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let sqs = open(dir.path());
    ok(&sqs, "CreateQueue", json!({"QueueName": "c.fifo", "Attributes": {"FifoQueue": "true", "ContentBasedDeduplication": "true"}})).await;
    let a = ok(
        &sqs,
        "SendMessage",
        json!({"QueueUrl": url("c.fifo"), "MessageBody": "same", "MessageGroupId": "g"}),
    )
    .await;
    let b = ok(
        &sqs,
        "SendMessage",
        json!({"QueueUrl": url("c.fifo"), "MessageBody": "same", "MessageGroupId": "h"}),
    )
    .await;
    let c = ok(
        &sqs,
        "SendMessage",
        json!({"QueueUrl": url("c.fifo"), "MessageBody": "other", "MessageGroupId": "g"}),
    )
    .await;
    assert_eq!(a["MessageId"], b["MessageId"]);
    assert_ne!(a["MessageId"], c["MessageId"]);
}

#[tokio::test]
async fn redrive_moves_a_message_after_max_receives() {
    let dir = tempfile::tempdir().unwrap();
    let sqs = open(dir.path());
    ok(&sqs, "CreateQueue", json!({"QueueName": "dlq"})).await;
    let policy = json!({"deadLetterTargetArn": format!("arn:aws:sqs:us-east-1:{ACCOUNT}:dlq"), "maxReceiveCount": 2}).to_string();
    assert_eq!(
        err(&sqs, "CreateQueue", json!({"QueueName": "src", "Attributes": {"RedrivePolicy": policy.replace("dlq", "missing")}})).await,
        ErrorKind::InvalidParameterValue
    );
    ok(
        &sqs,
        "CreateQueue",
        json!({"QueueName": "src", "Attributes": {"RedrivePolicy": policy}}),
    )
    .await;
    ok(
        &sqs,
        "SendMessage",
        json!({"QueueUrl": url("src"), "MessageBody": "poison"}),
    )
    .await;
    for n in 1..=2 {
        let got = receive(&sqs, "src", 1, json!({"VisibilityTimeout": 0})).await;
        assert_eq!(
            got[0]["Attributes"]["ApproximateReceiveCount"],
            n.to_string()
        );
    }
    assert!(
        receive(&sqs, "src", 1, json!({"VisibilityTimeout": 0}))
            .await
            .is_empty()
    );
    let moved = receive(&sqs, "dlq", 1, json!({})).await;
    assert_eq!(moved[0]["Body"], "poison");
    assert_eq!(
        moved[0]["Attributes"]["DeadLetterQueueSourceArn"],
        format!("arn:aws:sqs:us-east-1:{ACCOUNT}:src")
    );
    assert_eq!(moved[0]["Attributes"]["ApproximateReceiveCount"], "3");
    ok(&sqs, "CreateQueue", json!({"QueueName": "closed", "Attributes": {"RedriveAllowPolicy": r#"{"redrivePermission":"denyAll"}"#}})).await;
    let to_closed = json!({"deadLetterTargetArn": format!("arn:aws:sqs:us-east-1:{ACCOUNT}:closed"), "maxReceiveCount": 2}).to_string();
    assert_eq!(
        err(
            &sqs,
            "SetQueueAttributes",
            json!({"QueueUrl": url("src"), "Attributes": {"RedrivePolicy": to_closed}})
        )
        .await,
        ErrorKind::InvalidParameterValue
    );
    let sources = ok(
        &sqs,
        "ListDeadLetterSourceQueues",
        json!({"QueueUrl": url("dlq")}),
    )
    .await;
    assert_eq!(sources["queueUrls"], json!([url("src")]));
}

#[tokio::test]
async fn receipts_visibility_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let sqs = open(dir.path());
    ok(&sqs, "CreateQueue", json!({"QueueName": "v"})).await;
    ok(
        &sqs,
        "SendMessage",
        json!({"QueueUrl": url("v"), "MessageBody": "m"}),
    )
    .await;
    let first = receive(&sqs, "v", 1, json!({"VisibilityTimeout": 0})).await;
    let old = first[0]["ReceiptHandle"].clone();
    assert_eq!(
        err(
            &sqs,
            "ChangeMessageVisibility",
            json!({"QueueUrl": url("v"), "ReceiptHandle": old, "VisibilityTimeout": 10})
        )
        .await,
        ErrorKind::MessageNotInflight
    );
    let second = receive(&sqs, "v", 1, json!({"VisibilityTimeout": 30})).await;
    assert_ne!(second[0]["ReceiptHandle"], old);
    // An older handle: accepted, but the message stays.
    ok(
        &sqs,
        "DeleteMessage",
        json!({"QueueUrl": url("v"), "ReceiptHandle": old}),
    )
    .await;
    ok(&sqs, "ChangeMessageVisibility", json!({"QueueUrl": url("v"), "ReceiptHandle": second[0]["ReceiptHandle"], "VisibilityTimeout": 0})).await;
    let third = receive(&sqs, "v", 1, json!({})).await;
    assert_eq!(third[0]["Attributes"]["ApproximateReceiveCount"], "3");
    ok(
        &sqs,
        "DeleteMessage",
        json!({"QueueUrl": url("v"), "ReceiptHandle": third[0]["ReceiptHandle"]}),
    )
    .await;
    assert!(receive(&sqs, "v", 1, json!({})).await.is_empty());
    assert_eq!(
        err(
            &sqs,
            "DeleteMessage",
            json!({"QueueUrl": url("v"), "ReceiptHandle": "garbage"})
        )
        .await,
        ErrorKind::ReceiptHandleIsInvalid
    );
}

#[tokio::test]
async fn batches_check_their_entries() {
    let dir = tempfile::tempdir().unwrap();
    let sqs = open(dir.path());
    ok(&sqs, "CreateQueue", json!({"QueueName": "b"})).await;
    let q = url("b");
    assert_eq!(
        err(
            &sqs,
            "SendMessageBatch",
            json!({"QueueUrl": q, "Entries": []})
        )
        .await,
        ErrorKind::EmptyBatchRequest
    );
    let eleven: Vec<Value> = (0..11)
        .map(|i| json!({"Id": format!("m{i}"), "MessageBody": "x"}))
        .collect();
    assert_eq!(
        err(
            &sqs,
            "SendMessageBatch",
            json!({"QueueUrl": q, "Entries": eleven})
        )
        .await,
        ErrorKind::TooManyEntriesInBatchRequest
    );
    assert_eq!(
        err(&sqs, "SendMessageBatch", json!({"QueueUrl": q, "Entries": [{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}]})).await,
        ErrorKind::BatchEntryIdsNotDistinct
    );
    assert_eq!(
        err(
            &sqs,
            "SendMessageBatch",
            json!({"QueueUrl": q, "Entries": [{"Id": "a b", "MessageBody": "x"}]})
        )
        .await,
        ErrorKind::InvalidBatchEntryId
    );
    let big = "x".repeat(600_000);
    assert_eq!(
        err(&sqs, "SendMessageBatch", json!({"QueueUrl": q, "Entries": [{"Id": "a", "MessageBody": big}, {"Id": "b", "MessageBody": big}]})).await,
        ErrorKind::BatchRequestTooLong
    );
    let out = ok(&sqs, "SendMessageBatch", json!({"QueueUrl": q, "Entries": [{"Id": "a", "MessageBody": "x"}, {"Id": "b", "MessageBody": "\u{1}"}, {"Id": "c", "MessageBody": "z", "DelaySeconds": 1000}]})).await;
    assert_eq!(out["Successful"].as_array().unwrap().len(), 1);
    assert_eq!(out["Failed"][0]["Id"], "b");
    assert_eq!(out["Failed"][0]["Code"], "InvalidMessageContents");
    assert_eq!(out["Failed"][1]["Code"], "InvalidParameterValue");
}

#[tokio::test]
async fn long_poll_returns_when_a_message_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let sqs = open(dir.path());
    ok(&sqs, "CreateQueue", json!({"QueueName": "lp"})).await;
    let sender = sqs.clone();
    let started = std::time::Instant::now();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        sender.send("lp", "hi".into(), None).await.unwrap();
    });
    let got = receive(&sqs, "lp", 1, json!({"WaitTimeSeconds": 10})).await;
    assert_eq!(got[0]["Body"], "hi");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}

#[tokio::test]
async fn delayed_messages_wake_a_long_poll_when_due() {
    let dir = tempfile::tempdir().unwrap();
    let sqs = open(dir.path());
    ok(&sqs, "CreateQueue", json!({"QueueName": "dl"})).await;
    ok(
        &sqs,
        "SendMessage",
        json!({"QueueUrl": url("dl"), "MessageBody": "later", "DelaySeconds": 1}),
    )
    .await;
    let attrs = ok(
        &sqs,
        "GetQueueAttributes",
        json!({"QueueUrl": url("dl"), "AttributeNames": ["ApproximateNumberOfMessagesDelayed"]}),
    )
    .await;
    assert_eq!(
        attrs["Attributes"]["ApproximateNumberOfMessagesDelayed"],
        "1"
    );
    let started = std::time::Instant::now();
    let got = receive(&sqs, "dl", 1, json!({"WaitTimeSeconds": 5})).await;
    assert_eq!(got[0]["Body"], "later");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}

#[tokio::test]
async fn state_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let sqs = open(dir.path());
        ok(
            &sqs,
            "CreateQueue",
            json!({"QueueName": "keep", "tags": {"team": "x"}}),
        )
        .await;
        ok(
            &sqs,
            "SendMessage",
            json!({"QueueUrl": url("keep"), "MessageBody": "1"}),
        )
        .await;
        ok(
            &sqs,
            "SendMessage",
            json!({"QueueUrl": url("keep"), "MessageBody": "2"}),
        )
        .await;
        receive(&sqs, "keep", 1, json!({"VisibilityTimeout": 1})).await;
    }
    let sqs = open(dir.path());
    let summary = sqs.summary().await.unwrap();
    assert_eq!(summary[0].name, "keep");
    assert_eq!((summary[0].visible, summary[0].in_flight), (1, 1));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(receive(&sqs, "keep", 10, json!({})).await.len(), 2);
    let tags = ok(&sqs, "ListQueueTags", json!({"QueueUrl": url("keep")})).await;
    assert_eq!(tags["Tags"]["team"], "x");
}

#[tokio::test]
async fn ensure_queue_updates_and_send_takes_arns() {
    let dir = tempfile::tempdir().unwrap();
    let sqs = open(dir.path());
    let arn = sqs
        .ensure_queue(
            "t",
            [("VisibilityTimeout".to_string(), "5".to_string())].into(),
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(arn, format!("arn:aws:sqs:us-east-1:{ACCOUNT}:t"));
    sqs.ensure_queue(
        "t",
        [("VisibilityTimeout".to_string(), "7".to_string())].into(),
        Default::default(),
    )
    .await
    .unwrap();
    sqs.send(&arn, "a".into(), None).await.unwrap();
    sqs.ensure_queue("t.fifo", Default::default(), Default::default())
        .await
        .unwrap();
    sqs.send("t.fifo", "b".into(), Some("g".into()))
        .await
        .unwrap();
    assert_eq!(
        sqs.send("t.fifo", "c".into(), None).await.unwrap_err().kind,
        ErrorKind::MissingParameter
    );
    let attrs = ok(&sqs, "GetQueueAttributes", json!({"QueueUrl": url("t"), "AttributeNames": ["VisibilityTimeout", "ApproximateNumberOfMessages"]})).await;
    assert_eq!(
        attrs["Attributes"],
        json!({"VisibilityTimeout": "7", "ApproximateNumberOfMessages": "1"})
    );
}

#[tokio::test]
async fn purge_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let sqs = open(dir.path());
    for n in ["a1", "a2", "b1"] {
        ok(&sqs, "CreateQueue", json!({"QueueName": n})).await;
    }
    let page = ok(
        &sqs,
        "ListQueues",
        json!({"QueueNamePrefix": "a", "MaxResults": 1}),
    )
    .await;
    assert_eq!(page["QueueUrls"], json!([url("a1")]));
    let next = ok(
        &sqs,
        "ListQueues",
        json!({"QueueNamePrefix": "a", "MaxResults": 1, "NextToken": page["NextToken"]}),
    )
    .await;
    assert_eq!(next["QueueUrls"], json!([url("a2")]));
    assert!(next.get("NextToken").is_none());
    ok(
        &sqs,
        "SendMessage",
        json!({"QueueUrl": url("a1"), "MessageBody": "x"}),
    )
    .await;
    ok(&sqs, "PurgeQueue", json!({"QueueUrl": url("a1")})).await;
    assert_eq!(
        err(&sqs, "PurgeQueue", json!({"QueueUrl": url("a1")})).await,
        ErrorKind::PurgeQueueInProgress
    );
    assert!(receive(&sqs, "a1", 1, json!({})).await.is_empty());
    ok(&sqs, "DeleteQueue", json!({"QueueUrl": url("a1")})).await;
    assert_eq!(
        err(
            &sqs,
            "SendMessage",
            json!({"QueueUrl": url("a1"), "MessageBody": "x"})
        )
        .await,
        ErrorKind::QueueDoesNotExist
    );
}

#[tokio::test]
async fn messages_expire_after_the_retention_period() {
    use crate::message_store::{self, Outgoing, ReceiveRequest};
    use crate::queue_attributes::Settings;
    use crate::queue_store;
    let dir = tempfile::tempdir().unwrap();
    let sqs = open(dir.path());
    ok(
        &sqs,
        "CreateQueue",
        json!({"QueueName": "r", "Attributes": {"MessageRetentionPeriod": "60"}}),
    )
    .await;
    let received = sqs
        .run(|conn| {
            let q = queue_store::require(conn, "r")?;
            let s = Settings::of(&q.attributes, ACCOUNT);
            let m = Outgoing {
                body: "old".into(),
                attributes: Default::default(),
                system: Default::default(),
                delay_seconds: None,
                group_id: None,
                dedup_id: None,
            };
            message_store::send(conn, &q, &s, &m, ACCOUNT, 1_000)?;
            let req = ReceiveRequest {
                max: 10,
                visibility: 30,
                attempt_id: None,
                source_arn: String::new(),
            };
            let before = message_store::receive(conn, &q, &s, &req, 1_000 + 59_000)?;
            let after = message_store::receive(conn, &q, &s, &req, 1_000 + 60_000 + 30_000)?;
            Ok((before.messages.len(), after.messages.len()))
        })
        .await
        .unwrap();
    assert_eq!(received, (1, 0));
}

#[tokio::test]
async fn permissions_are_policy_statements() {
    let dir = tempfile::tempdir().unwrap();
    let sqs = open(dir.path());
    ok(&sqs, "CreateQueue", json!({"QueueName": "p"})).await;
    ok(&sqs, "AddPermission", json!({"QueueUrl": url("p"), "Label": "l1", "AWSAccountIds": ["111111111111"], "Actions": ["SendMessage"]})).await;
    assert_eq!(
        err(&sqs, "AddPermission", json!({"QueueUrl": url("p"), "Label": "l1", "AWSAccountIds": ["1"], "Actions": ["SendMessage"]})).await,
        ErrorKind::InvalidParameterValue
    );
    let attrs = ok(
        &sqs,
        "GetQueueAttributes",
        json!({"QueueUrl": url("p"), "AttributeNames": ["Policy"]}),
    )
    .await;
    let policy: Value =
        serde_json::from_str(attrs["Attributes"]["Policy"].as_str().unwrap()).unwrap();
    assert_eq!(policy["Statement"][0]["Sid"], "l1");
    assert_eq!(policy["Statement"][0]["Action"], json!(["SQS:SendMessage"]));
    assert_eq!(
        policy["Statement"][0]["Principal"]["AWS"],
        json!(["arn:aws:iam::111111111111:root"])
    );
    ok(
        &sqs,
        "RemovePermission",
        json!({"QueueUrl": url("p"), "Label": "l1"}),
    )
    .await;
    assert_eq!(
        err(
            &sqs,
            "RemovePermission",
            json!({"QueueUrl": url("p"), "Label": "l1"})
        )
        .await,
        ErrorKind::InvalidParameterValue
    );
    let attrs = ok(
        &sqs,
        "GetQueueAttributes",
        json!({"QueueUrl": url("p"), "AttributeNames": ["All"]}),
    )
    .await;
    assert!(attrs["Attributes"].get("Policy").is_none());
}
