//! The query protocol (form POSTs and GETs with `Action=`, XML answers), as SDKs
//! before the JSON protocol speak it, signed with botocore's own SigV4 signer.

#![allow(clippy::unwrap_used)]

mod support;

use support::Front;

#[tokio::test(flavor = "multi_thread")]
async fn query_protocol_roundtrip() {
    let front = Front::start().await;
    front
        .python(
            r#"
import xml.etree.ElementTree as ET
NS = {"s": "http://queue.amazonaws.com/doc/2012-11-05/"}
st, h, body = query({"Action": "CreateQueue", "QueueName": "legacy", "Attribute.1.Name": "VisibilityTimeout",
                     "Attribute.1.Value": "20", "Tag.1.Key": "team", "Tag.1.Value": "a"})
assert st == 200, body
root = ET.fromstring(body)
assert root.tag == "{http://queue.amazonaws.com/doc/2012-11-05/}CreateQueueResponse", body
url = root.find("s:CreateQueueResult/s:QueueUrl", NS).text
assert url == E + "/000000000000/legacy", url
assert root.find("s:ResponseMetadata/s:RequestId", NS).text
assert h.get("x-amzn-RequestId") or h.get("X-Amzn-Requestid") or h.get("x-amzn-requestid")
# Sent to the queue's URL path, no QueueUrl parameter.
text = "a < b & 'c' \r\n ✓"
st, h, body = query({"Action": "SendMessage", "MessageBody": text,
                     "MessageAttribute.1.Name": "k", "MessageAttribute.1.Value.DataType": "String",
                     "MessageAttribute.1.Value.StringValue": "v",
                     "MessageAttribute.2.Name": "b", "MessageAttribute.2.Value.DataType": "Binary",
                     "MessageAttribute.2.Value.BinaryValue": base64.b64encode(b"\x00\x01").decode()},
                    path="/000000000000/legacy")
assert st == 200, body
r = ET.fromstring(body).find("s:SendMessageResult", NS)
assert r.find("s:MD5OfMessageBody", NS).text == md5(text)
assert r.find("s:MD5OfMessageAttributes", NS).text == md5_attrs({
    "k": {"DataType": "String", "StringValue": "v"}, "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
st, h, body = query({"Action": "ReceiveMessage", "QueueUrl": url, "AttributeName.1": "All",
                     "MessageAttributeName.1": "All", "MaxNumberOfMessages": "5"})
assert st == 200, body
msg = ET.fromstring(body).find("s:ReceiveMessageResult/s:Message", NS)
assert msg.find("s:Body", NS).text == text, repr(msg.find("s:Body", NS).text)
attrs = {a.find("s:Name", NS).text: a.find("s:Value", NS).text for a in msg.findall("s:Attribute", NS)}
assert attrs["ApproximateReceiveCount"] == "1", attrs
mattrs = {a.find("s:Name", NS).text: a.find("s:Value/s:DataType", NS).text for a in msg.findall("s:MessageAttribute", NS)}
assert mattrs == {"k": "String", "b": "Binary"}, mattrs
handle = msg.find("s:ReceiptHandle", NS).text
st, h, body = query({"Action": "GetQueueAttributes", "QueueUrl": url, "AttributeName.1": "All"})
got = {a.find("s:Name", NS).text: a.find("s:Value", NS).text
       for a in ET.fromstring(body).findall("s:GetQueueAttributesResult/s:Attribute", NS)}
assert got["VisibilityTimeout"] == "20" and got["ApproximateNumberOfMessagesNotVisible"] == "1", got
st, h, body = query({"Action": "DeleteMessage", "QueueUrl": url, "ReceiptHandle": handle})
assert st == 200 and "DeleteMessageResponse" in body, body
st, h, body = query({"Action": "ListQueueTags", "QueueUrl": url})
assert "<Tag><Key>team</Key><Value>a</Value></Tag>" in body, body
st, h, body = query({"Action": "SendMessageBatch", "QueueUrl": url,
                     "SendMessageBatchRequestEntry.1.Id": "a", "SendMessageBatchRequestEntry.1.MessageBody": "one",
                     "SendMessageBatchRequestEntry.2.Id": "b", "SendMessageBatchRequestEntry.2.MessageBody": "two"})
entries = ET.fromstring(body).findall("s:SendMessageBatchResult/s:SendMessageBatchResultEntry", NS)
assert [e.find("s:Id", NS).text for e in entries] == ["a", "b"], body
st, h, body = query({"Action": "ListQueues"})
assert [u.text for u in ET.fromstring(body).findall("s:ListQueuesResult/s:QueueUrl", NS)] == [url], body
# A signed GET with the parameters in the query string.
qs = urllib.parse.urlencode({"Action": "GetQueueUrl", "QueueName": "legacy", "Version": "2012-11-05"})
st, h, body = signed("GET", "/", query_string=qs)
assert st == 200 and url in body, body
# Errors: XML with Type, Code, Message.
st, h, body = query({"Action": "SendMessage", "QueueUrl": E + "/000000000000/missing", "MessageBody": "x"})
assert st == 400, st
err = ET.fromstring(body).find("s:Error", NS)
assert err.find("s:Type", NS).text == "Sender"
assert err.find("s:Code", NS).text == "AWS.SimpleQueueService.NonExistentQueue", body
st, h, body = query({"Action": "Frobnicate"})
assert st == 400 and "<Code>InvalidAction</Code>" in body, body
st, h, body = query({"Action": "CreateQueue", "QueueName": "x", "Attribute.1.Name": "DelaySeconds", "Attribute.1.Value": "901"})
assert "<Code>InvalidAttributeValue</Code>" in body, body
st, h, body = query({"Action": "SendMessage", "QueueUrl": url})
assert "<Code>MissingParameter</Code>" in body, body
st, h, body = query({"Action": "ListQueues"}, creds=Credentials("AKIAWRONG", "x"))
assert st == 403 and "<Code>InvalidClientTokenId</Code>" in body, body
st, h, body = query({"Action": "ListQueues"}, creds=Credentials(CREDS.access_key, "wrong"))
assert st == 403 and "<Code>SignatureDoesNotMatch</Code>" in body, body
st, h, body = query({"Action": "ListQueues"}, creds=None)
assert st == 403 and "<Code>MissingAuthenticationToken</Code>" in body, body
print("ok")
"#,
        )
        .await;
}
