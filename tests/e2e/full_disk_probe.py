"""One call of each kind a box serves, with the stock AWS clients, for the full-disk
test: prints {call: {"ok": ..., "status": ..., "code": ..., "message": ...}} as JSON.
Usage: full_disk_probe.py <tag>, with GATEWAY_URL, S3_URL, DYNAMODB_URL, the box's CA
(AWS_CA_BUNDLE) and credentials (AWS_SHARED_CREDENTIALS_FILE) in the environment."""
import json
import os
import ssl
import sys
import urllib.request

import boto3
import botocore.config
import botocore.exceptions

tag = sys.argv[1]
config = botocore.config.Config(retries={"max_attempts": 1}, read_timeout=30, connect_timeout=10)


def client(service, url_var):
    return boto3.client(service, endpoint_url=os.environ[url_var], config=config)


lam = client("lambda", "GATEWAY_URL")
s3 = client("s3", "S3_URL")
ddb = client("dynamodb", "DYNAMODB_URL")
out = {}


def call(name, fn):
    try:
        out[name] = {"ok": True, "value": fn()}
    except botocore.exceptions.ClientError as e:
        out[name] = {"ok": False, "status": e.response["ResponseMetadata"]["HTTPStatusCode"],
                     "code": e.response["Error"]["Code"], "message": e.response["Error"].get("Message", "")}
    except Exception as e:  # a transport failure: what the test must never see
        out[name] = {"ok": False, "status": 0, "code": type(e).__name__, "message": str(e)}


def route():
    ctx = ssl.create_default_context(cafile=os.environ["AWS_CA_BUNDLE"])
    with urllib.request.urlopen(os.environ["GATEWAY_URL"] + "/echo", context=ctx, timeout=30) as r:
        return r.status


call("sync", lambda: json.loads(lam.invoke(FunctionName="echo", Payload=json.dumps({"tag": tag}))["Payload"].read()))
call("cold", lambda: json.loads(lam.invoke(FunctionName="cold", Payload=json.dumps({"tag": tag}))["Payload"].read()))
call("route", route)
call("async", lambda: lam.invoke(FunctionName="echo", InvocationType="Event", Payload=json.dumps({"tag": tag}))["StatusCode"])
call("s3_put", lambda: s3.put_object(Bucket="full-disk", Key=tag, Body=tag.encode() * 1000)["ETag"])
call("s3_get", lambda: s3.get_object(Bucket="full-disk", Key="before")["Body"].read().decode()[:6])
call("ddb_put", lambda: ddb.put_item(TableName="full-disk", Item={"id": {"S": tag}})["ResponseMetadata"]["HTTPStatusCode"])
call("ddb_get", lambda: ddb.get_item(TableName="full-disk", Key={"id": {"S": "before"}})["Item"]["id"]["S"])
print(json.dumps(out))
