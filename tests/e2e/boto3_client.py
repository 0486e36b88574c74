"""The stock boto3 Lambda client against an ESB box: prints what each call returned.
Usage: boto3_client.py <gateway url> <ca.pem>"""
import base64
import json
import sys

import boto3

client = boto3.client("lambda", endpoint_url=sys.argv[1], region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test", verify=sys.argv[2])
report = {}

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
