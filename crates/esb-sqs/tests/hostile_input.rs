//! What clients that break the rules get: SQS's error names, never a panic or a hang.

#![allow(clippy::unwrap_used)]

mod support;

use support::Front;

#[tokio::test(flavor = "multi_thread")]
async fn limits_and_malformed_requests() {
    let front = Front::start().await;
    front
        .python(
            r#"
url = sqs.create_queue(QueueName="h")["QueueUrl"]
small = sqs.create_queue(QueueName="small", Attributes={"MaximumMessageSize": "262144"})["QueueUrl"]
sqs.send_message(QueueUrl=small, MessageBody="x" * 262144)
expect_error("InvalidParameterValue", sqs.send_message, QueueUrl=small, MessageBody="x" * 262145)
sqs.send_message(QueueUrl=url, MessageBody="x" * 1048576)
expect_error("InvalidParameterValue", sqs.send_message, QueueUrl=url, MessageBody="x" * 1048577)
# body + attributes count together
expect_error("InvalidParameterValue", sqs.send_message, QueueUrl=small, MessageBody="x" * 262140,
             MessageAttributes={"name": {"DataType": "String", "StringValue": "vv"}})
expect_error("MissingParameter", sqs.send_message, QueueUrl=url, MessageBody="")
for bad in ["\x00", "a\x08b", "\ufffe", "\x1f"]:
    expect_error("InvalidMessageContents", sqs.send_message, QueueUrl=url, MessageBody=bad)
expect_error("InvalidParameterValue", sqs.send_message, QueueUrl=url, MessageBody="x", DelaySeconds=901)
expect_error("InvalidParameterValue", sqs.send_message, QueueUrl=url, MessageBody="x",
             MessageAttributes={"AWS.reserved": {"DataType": "String", "StringValue": "v"}})
expect_error("InvalidParameterValue", sqs.send_message, QueueUrl=url, MessageBody="x",
             MessageAttributes={f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)})
expect_error("InvalidParameterValue", sqs.send_message, QueueUrl=url, MessageBody="x",
             MessageAttributes={"n": {"DataType": "Number", "StringValue": "twelve"}})
for name, value in [("VisibilityTimeout", "43201"), ("DelaySeconds", "-1"), ("MessageRetentionPeriod", "59"),
                    ("ReceiveMessageWaitTimeSeconds", "21"), ("MaximumMessageSize", "1023"), ("MaximumMessageSize", "abc")]:
    expect_error("InvalidAttributeValue", sqs.create_queue, QueueName="bad", Attributes={name: value})
expect_error("InvalidAttributeName", sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["Bogus"])
expect_error("InvalidAttributeName", sqs.set_queue_attributes, QueueUrl=url, Attributes={"ContentBasedDeduplication": "true"})
expect_error("InvalidParameterValue", sqs.create_queue, QueueName="x" * 81)
expect_error("InvalidParameterValue", sqs.create_queue, QueueName="a.fifo")
expect_error("InvalidParameterValue", sqs.receive_message, QueueUrl=url, MaxNumberOfMessages=11)
expect_error("InvalidParameterValue", sqs.receive_message, QueueUrl=url, WaitTimeSeconds=21)
expect_error("ReceiptHandleIsInvalid", sqs.delete_message, QueueUrl=url, ReceiptHandle="not-a-handle")
expect_error("ReceiptHandleIsInvalid", sqs.change_message_visibility, QueueUrl=url, ReceiptHandle="x", VisibilityTimeout=1)
# The JSON protocol, by hand.
st, h, body = json_call("ListQueues", b"{not json")
assert st == 400 and "SerializationException" in body, (st, body)
assert "x-amzn-query-error" not in {k.lower() for k in h}, h
st, h, body = json_call("SendMessage", b'{"QueueUrl": "' + url.encode() + b'", "MessageBody": "\xff\xfe"}')
assert st == 400, (st, body)
st, h, body = json_call("SendMessage", {"QueueUrl": url, "MessageBody": 5})
assert st == 400, (st, body)
st, h, body = json_call("Frobnicate", {})
assert st == 400 and "UnknownOperationException" in body, (st, body)
st, h, body = json_call("GetQueueUrl", {"QueueName": "nope"})
assert st == 400 and json.loads(body)["__type"] == "com.amazonaws.sqs#QueueDoesNotExist", body
assert h["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender", h
st, h, body = json_call("ListQueues", {}, creds=None)
assert st == 403 and h["x-amzn-query-error"].startswith("MissingAuthenticationToken"), (st, h, body)
st, h, body = json_call("ListQueues", {}, creds=Credentials("AKIAWRONG", "x"))
assert st == 403 and h["x-amzn-query-error"].startswith("InvalidClientTokenId"), (st, h, body)
# A body far over any message: refused without reading it all.
import http.client
c = http.client.HTTPConnection(E.split("//")[1])
c.putrequest("POST", "/")
c.putheader("Content-Type", "application/x-amz-json-1.0")
c.putheader("X-Amz-Target", "AmazonSQS.SendMessage")
c.putheader("Content-Length", str(5 * 1024 * 1024))
c.endheaders()
r = c.getresponse()
assert r.status == 413, r.status
assert json.loads(r.read())["__type"].endswith("RequestEntityTooLargeException")
st, h, body = query({"Action": "SendMessage", "QueueUrl": url, "MessageBody": "\x01"})
assert "<Code>InvalidMessageContents</Code>" in body, body
st, h, body = signed("POST", "/", b"Action=SendMessage&MessageBody=%FF%FE&QueueUrl=" + urllib.parse.quote(url, safe="").encode(),
                     {"Content-Type": "application/x-www-form-urlencoded"})
assert st == 400, (st, body)
# Still serving.
assert sqs.list_queues()["QueueUrls"]
print("ok")
"#,
        )
        .await;
}
