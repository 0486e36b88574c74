//! boto3 (the JSON protocol) against the real front: standard and FIFO queues, long
//! polling, dead-letter redrive, visibility timeouts, batches, MD5 digests.

#![allow(clippy::unwrap_used)]

mod support;

use support::Front;

#[tokio::test(flavor = "multi_thread")]
async fn standard_queue_roundtrip_with_attributes_and_digests() {
    let front = Front::start().await;
    front
        .python(
            r#"
url = sqs.create_queue(QueueName="orders", tags={"team": "a"})["QueueUrl"]
assert url == E + "/000000000000/orders", url
assert sqs.create_queue(QueueName="orders")["QueueUrl"] == url
assert sqs.get_queue_url(QueueName="orders")["QueueUrl"] == url
attrs = {
    "color": {"DataType": "String", "StringValue": "blue"},
    "n": {"DataType": "Number", "StringValue": "42"},
    "bin": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
    "c.x": {"DataType": "String.custom", "StringValue": "héllo"},
}
body = "hello ✓ \t\n world"
sent = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attrs,
                        MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-abc"}})
assert sent["MD5OfMessageBody"] == md5(body), sent
assert sent["MD5OfMessageAttributes"] == md5_attrs(attrs), sent
assert sent["MD5OfMessageSystemAttributes"] == md5_attrs({"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-abc"}})
a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
assert a["ApproximateNumberOfMessages"] == "1", a
assert a["QueueArn"] == "arn:aws:sqs:us-east-1:000000000000:orders"
for k in ["VisibilityTimeout", "MaximumMessageSize", "MessageRetentionPeriod", "DelaySeconds",
          "ReceiveMessageWaitTimeSeconds", "CreatedTimestamp", "LastModifiedTimestamp",
          "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed", "SqsManagedSseEnabled"]:
    assert k in a, k
got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"])["Messages"]
m = got[0]
assert m["Body"] == body and m["MD5OfBody"] == md5(body)
assert m["MessageId"] == sent["MessageId"]
assert m["MessageAttributes"]["bin"]["BinaryValue"] == b"\x00\x01\xff"
assert m["MD5OfMessageAttributes"] == md5_attrs(m["MessageAttributes"])
assert m["Attributes"]["ApproximateReceiveCount"] == "1"
assert m["Attributes"]["AWSTraceHeader"] == "Root=1-abc"
assert int(m["Attributes"]["SentTimestamp"]) > 1_600_000_000_000
assert "SenderId" in m["Attributes"] and "ApproximateFirstReceiveTimestamp" in m["Attributes"]
a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])["Attributes"]
assert a == {"ApproximateNumberOfMessagesNotVisible": "1"}, a
sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
assert "Messages" not in sqs.receive_message(QueueUrl=url)
# prefix selection of attributes
sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=attrs)
m = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["c.*"])["Messages"][0]
assert list(m["MessageAttributes"]) == ["c.x"], m
assert m["MD5OfMessageAttributes"] == md5_attrs(m["MessageAttributes"])
sqs.tag_queue(QueueUrl=url, Tags={"env": "dev"})
sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev"}
sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "45"})
assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]["VisibilityTimeout"] == "45"
assert sqs.list_queues(QueueNamePrefix="ord")["QueueUrls"] == [url]
assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix="zzz")
expect_error("QueueAlreadyExists", sqs.create_queue, QueueName="orders", Attributes={"VisibilityTimeout": "10"})
sqs.purge_queue(QueueUrl=url)
expect_error("AWS.SimpleQueueService.PurgeQueueInProgress", sqs.purge_queue, QueueUrl=url)
sqs.delete_queue(QueueUrl=url)
e = expect_error("AWS.SimpleQueueService.NonExistentQueue", sqs.send_message, QueueUrl=url, MessageBody="x")
assert e["ResponseMetadata"]["HTTPStatusCode"] == 400
assert e["ResponseMetadata"]["RequestId"]
# The exception class boto3 users catch.
try:
    sqs.get_queue_url(QueueName="orders")
    raise AssertionError("no error")
except sqs.exceptions.QueueDoesNotExist:
    pass
print("ok")
"#,
        )
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fifo_order_groups_and_deduplication() {
    let front = Front::start().await;
    front
        .python(
            r#"
url = sqs.create_queue(QueueName="jobs.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
expect_error("InvalidParameterValue", sqs.send_message, QueueUrl=url, MessageBody="x", MessageGroupId="g")
expect_error("MissingParameter", sqs.send_message, QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
seqs = []
for i in range(5):
    r = sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId="g1" if i % 2 == 0 else "g2", MessageDeduplicationId=f"d{i}")
    seqs.append(r["SequenceNumber"])
assert seqs == sorted(seqs) and all(len(s) == 20 for s in seqs), seqs
dup = sqs.send_message(QueueUrl=url, MessageBody="other", MessageGroupId="g1", MessageDeduplicationId="d0")
got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"])["Messages"]
bodies = [m["Body"] for m in got]
assert bodies == ["m0", "m2", "m4", "m1", "m3"], bodies
assert got[0]["MessageId"] == dup["MessageId"]
assert got[0]["Attributes"]["MessageGroupId"] == "g1"
assert got[0]["Attributes"]["MessageDeduplicationId"] == "d0"
# Everything is in flight: nothing more, even for other receivers.
assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
# m1 back while m3 (same group, later) is still in flight: the group stays held.
sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=got[3]["ReceiptHandle"], VisibilityTimeout=0)
assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=got[4]["ReceiptHandle"], VisibilityTimeout=0)
again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
assert [m["Body"] for m in again] == ["m1", "m3"], again
# Same attempt id: the same messages and receipt handles.
q2 = sqs.create_queue(QueueName="attempts.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
sqs.send_message(QueueUrl=q2, MessageBody="a", MessageGroupId="g")
r1 = sqs.receive_message(QueueUrl=q2, ReceiveRequestAttemptId="try-1")["Messages"]
r2 = sqs.receive_message(QueueUrl=q2, ReceiveRequestAttemptId="try-1")["Messages"]
assert r1[0]["ReceiptHandle"] == r2[0]["ReceiptHandle"]
print("ok")
"#,
        )
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn long_poll_returns_as_soon_as_a_message_is_sent() {
    let front = Front::start().await;
    front
        .python(
            r#"
url = sqs.create_queue(QueueName="waiting")["QueueUrl"]
def later():
    time.sleep(1.0)
    boto3.client("sqs", endpoint_url=E, region_name="us-east-1").send_message(QueueUrl=url, MessageBody="now")
threading.Thread(target=later).start()
t = time.time()
got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=15)
took = time.time() - t
assert got["Messages"][0]["Body"] == "now", got
assert 0.8 < took < 5, took
t = time.time()
assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
assert 0.9 < time.time() - t < 3
print("ok")
"#,
        )
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_letter_redrive_and_visibility_timeout() {
    let front = Front::start().await;
    front
        .python(
            r#"
dlq = sqs.create_queue(QueueName="dead")["QueueUrl"]
arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "2"})
src = sqs.create_queue(QueueName="work", Attributes={"RedrivePolicy": policy, "VisibilityTimeout": "1"})["QueueUrl"]
stored = json.loads(sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"])
assert stored == {"deadLetterTargetArn": arn, "maxReceiveCount": 2}, stored
fifo_dlq = sqs.create_queue(QueueName="dead.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
bad = json.dumps({"deadLetterTargetArn": arn.replace("dead", "dead.fifo"), "maxReceiveCount": 2})
expect_error("InvalidParameterValue", sqs.create_queue, QueueName="work2", Attributes={"RedrivePolicy": bad})
sqs.send_message(QueueUrl=src, MessageBody="poison")
for n in (1, 2):
    m = sqs.receive_message(QueueUrl=src, WaitTimeSeconds=5, MessageSystemAttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert m["Attributes"]["ApproximateReceiveCount"] == str(n), m
    # not deleted: back after the 1 s visibility timeout
t = time.time()
assert "Messages" not in sqs.receive_message(QueueUrl=src, WaitTimeSeconds=3)
moved = sqs.receive_message(QueueUrl=dlq, MessageSystemAttributeNames=["All"])["Messages"][0]
assert moved["Body"] == "poison"
assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]
assert moved["Attributes"]["DeadLetterQueueSourceArn"] == arn.replace("dead", "work")
# Redrive back to the source queue.
sqs.change_message_visibility(QueueUrl=dlq, ReceiptHandle=moved["ReceiptHandle"], VisibilityTimeout=0)
expect_error("InvalidParameterValue", sqs.start_message_move_task, SourceArn=arn.replace("dead", "work"))
expect_error("ResourceNotFoundException", sqs.start_message_move_task, SourceArn=arn.replace("dead", "nope"))
handle = sqs.start_message_move_task(SourceArn=arn)["TaskHandle"]
tasks = sqs.list_message_move_tasks(SourceArn=arn)["Results"]
assert tasks[0]["Status"] == "COMPLETED" and tasks[0]["ApproximateNumberOfMessagesMoved"] == 1, tasks
back = sqs.receive_message(QueueUrl=src, MessageSystemAttributeNames=["All"])["Messages"][0]
assert back["Body"] == "poison" and back["Attributes"]["ApproximateReceiveCount"] == "1", back
expect_error("ResourceNotFoundException", sqs.cancel_message_move_task, TaskHandle=handle)
print("ok")
"#,
        )
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_report_each_entry() {
    let front = Front::start().await;
    front
        .python(
            r#"
url = sqs.create_queue(QueueName="batch")["QueueUrl"]
expect_error("AWS.SimpleQueueService.EmptyBatchRequest", sqs.send_message_batch, QueueUrl=url, Entries=[])
expect_error("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", sqs.send_message_batch, QueueUrl=url,
             Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(11)])
expect_error("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", sqs.send_message_batch, QueueUrl=url,
             Entries=[{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}])
expect_error("AWS.SimpleQueueService.InvalidBatchEntryId", sqs.send_message_batch, QueueUrl=url,
             Entries=[{"Id": "a:b", "MessageBody": "x"}])
big = "x" * 600_000
expect_error("AWS.SimpleQueueService.BatchRequestTooLong", sqs.send_message_batch, QueueUrl=url,
             Entries=[{"Id": "a", "MessageBody": big}, {"Id": "b", "MessageBody": big}])
attrs = {"k": {"DataType": "String", "StringValue": "v"}}
r = sqs.send_message_batch(QueueUrl=url, Entries=[
    {"Id": "ok1", "MessageBody": "one", "MessageAttributes": attrs},
    {"Id": "bad", "MessageBody": "\x01"},
    {"Id": "ok2", "MessageBody": "two", "DelaySeconds": 0},
])
assert [s["Id"] for s in r["Successful"]] == ["ok1", "ok2"], r
assert r["Successful"][0]["MD5OfMessageAttributes"] == md5_attrs(attrs)
assert r["Successful"][0]["MD5OfMessageBody"] == md5("one")
assert r["Failed"] == [{"Id": "bad", "SenderFault": True, "Code": "InvalidMessageContents", "Message": r["Failed"][0]["Message"]}], r
got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
assert len(got) == 2
entries = [{"Id": f"e{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
cv = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[dict(e, VisibilityTimeout=60) for e in entries]
                                         + [{"Id": "junk", "ReceiptHandle": "junk", "VisibilityTimeout": 5}])
assert len(cv["Successful"]) == 2 and cv["Failed"][0]["Code"] == "ReceiptHandleIsInvalid", cv
d = sqs.delete_message_batch(QueueUrl=url, Entries=entries + [{"Id": "junk", "ReceiptHandle": "junk"}])
assert sorted(s["Id"] for s in d["Successful"]) == ["e0", "e1"], d
assert d["Failed"][0]["Id"] == "junk" and d["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
assert a["ApproximateNumberOfMessages"] == "0" and a["ApproximateNumberOfMessagesNotVisible"] == "0", a
print("ok")
"#,
        )
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn visibility_timeout_returns_a_message_and_receipts_follow_sqs() {
    let front = Front::start().await;
    front
        .python(
            r#"
url = sqs.create_queue(QueueName="vis", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
sqs.send_message(QueueUrl=url, MessageBody="again")
first = sqs.receive_message(QueueUrl=url)["Messages"][0]
assert "Messages" not in sqs.receive_message(QueueUrl=url)
t = time.time()
second = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5, MessageSystemAttributeNames=["ApproximateReceiveCount"])["Messages"][0]
assert 0.5 < time.time() - t < 3
assert second["MessageId"] == first["MessageId"]
assert second["Attributes"]["ApproximateReceiveCount"] == "2"
assert second["ReceiptHandle"] != first["ReceiptHandle"]
# The first handle is stale: deleting with it succeeds but leaves the message.
sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=0)
expect_error("AWS.SimpleQueueService.MessageNotInflight", sqs.change_message_visibility,
             QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=10)
third = sqs.receive_message(QueueUrl=url, VisibilityTimeout=60)["Messages"][0]
sqs.delete_message(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"])
a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
assert a == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}, a
# Delayed messages are counted apart until due.
sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=2)
a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
assert a["ApproximateNumberOfMessagesDelayed"] == "1" and a["ApproximateNumberOfMessages"] == "0", a
assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"][0]["Body"] == "later"
print("ok")
"#,
        )
        .await;
}
