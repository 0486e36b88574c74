"""The stock boto3 Lambda client against an ESB box: prints what each call returned.
Usage: boto3_client.py <gateway url> <ca.pem>"""
import base64
import json
import sys

import boto3
import botocore.config
import botocore.exceptions

# Credentials come from the environment as for any AWS client
# (AWS_SHARED_CREDENTIALS_FILE=<state>/credentials): the box's issued pair.
client = boto3.client("lambda", endpoint_url=sys.argv[1], region_name="us-east-1", verify=sys.argv[2])
report = {}


def refused(**creds):
    """What the box says to a client signing with other credentials."""
    other = boto3.client("lambda", endpoint_url=sys.argv[1], region_name="us-east-1", verify=sys.argv[2],
                         config=botocore.config.Config(retries={"max_attempts": 1}), **creds)
    try:
        other.invoke(FunctionName="echo", Payload=b"{}")
        return "accepted"
    except botocore.exceptions.ClientError as e:
        return {"status": e.response["ResponseMetadata"]["HTTPStatusCode"], "code": e.response["Error"]["Code"]}


key = client._request_signer._credentials.access_key
report["wrong_secret"] = refused(aws_access_key_id=key, aws_secret_access_key="not-the-secret")
report["unknown_key"] = refused(aws_access_key_id="AKIAUNKNOWN", aws_secret_access_key="x")

r = client.invoke(FunctionName="echo", Payload=json.dumps({"k": "v"}))
report["success"] = {"status": r["StatusCode"], "error": r.get("FunctionError"), "payload": json.loads(r["Payload"].read()),
                     "version": r.get("ExecutedVersion")}

r = client.invoke(FunctionName="arn:aws:lambda:us-east-1:123456789012:function:fails", Payload=b"{}")
report["function_error"] = {"status": r["StatusCode"], "error": r.get("FunctionError"), "payload": json.loads(r["Payload"].read())}

r = client.invoke(FunctionName="logs", LogType="Tail", Payload=b"{}")
report["tail"] = {"status": r["StatusCode"], "log": base64.b64decode(r["LogResult"]).decode()}

r = client.invoke(FunctionName="echo", InvocationType="Event", Payload=b'{"async": true}')
report["event"] = {"status": r["StatusCode"]}

r = client.invoke(FunctionName="echo", InvocationType="DryRun")
report["dry_run"] = {"status": r["StatusCode"]}

try:
    client.invoke(FunctionName="does-not-exist", Payload=b"{}")
    report["unknown"] = "no error"
except client.exceptions.ResourceNotFoundException as e:
    report["unknown"] = str(e)

print(json.dumps(report))
