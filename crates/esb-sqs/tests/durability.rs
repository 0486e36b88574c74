//! Durability: the service runs as a child process, is killed with SIGKILL mid-way,
//! and restarted on the same directory. Every acknowledged send is still there, and
//! messages received but not deleted come back once their visibility timeout ends.

#![allow(clippy::unwrap_used)]

mod support;

#[test]
fn acknowledged_messages_survive_kill_9_and_in_flight_ones_reappear() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = support::spawn_serve(dir.path());
    let out = support::python(
        &first.endpoint,
        r#"
url = sqs.create_queue(QueueName="durable")["QueueUrl"]
f = sqs.create_queue(QueueName="durable.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
ids = [sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")["MessageId"] for i in range(20)]
for i in range(3):
    sqs.send_message(QueueUrl=f, MessageBody=f"f{i}", MessageGroupId="g")
got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=5, VisibilityTimeout=4)["Messages"]
assert len(got) == 5
sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
fm = sqs.receive_message(QueueUrl=f, MaxNumberOfMessages=1, VisibilityTimeout=4)["Messages"]
assert fm[0]["Body"] == "f0"
print(json.dumps({"deleted": got[0]["MessageId"], "sent": ids}))
"#,
    );
    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();
    let mut second = support::spawn_serve(dir.path());
    let script = format!(
        r#"
state = json.loads('{}')
url = E + "/000000000000/durable"
f = E + "/000000000000/durable.fifo"
a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
assert a["ApproximateNumberOfMessages"] == "15", a
assert a["ApproximateNumberOfMessagesNotVisible"] == "4", a
# FIFO: the group is still held by the message in flight.
assert "Messages" not in sqs.receive_message(QueueUrl=f)
time.sleep(4.5)
seen = {{}}
for _ in range(10):
    r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["ApproximateReceiveCount"])
    for m in r.get("Messages", []):
        seen[m["MessageId"]] = m["Attributes"]["ApproximateReceiveCount"]
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    if len(seen) == 19:
        break
expected = set(state["sent"]) - {{state["deleted"]}}
assert set(seen) == expected, (len(seen), len(expected))
assert sorted(seen.values()).count("2") == 4, seen
fm = sqs.receive_message(QueueUrl=f, MaxNumberOfMessages=10)["Messages"]
assert [m["Body"] for m in fm] == ["f0", "f1", "f2"], fm
print("ok")
"#,
        out.trim()
    );
    support::python(&second.endpoint, &script);
    second.child.kill().unwrap();
    second.child.wait().unwrap();
}
