"""Function of the CloudWatch Logs end-to-end tests: the original ESB's
`lambda-connectivity` `test_cloudwatch` action, written as its users wrote it:
`boto3.client("logs")` with nothing of its own (the box gives it
AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, the CA bundle and credentials) creates a log group
and a stream and puts four events; it also prints a line, which lands in its own
`/aws/lambda/<function>` group."""
import json
import os
import time

import boto3


def handler(event, context):
    body = event.get("body") or "{}"
    request = json.loads(body) if isinstance(body, str) else body
    print(f"connectivity: {request.get('action')}")
    if request.get("action") != "test_cloudwatch":
        return {"statusCode": 200, "body": json.dumps({"message": "ok"})}
    logs = boto3.client("logs")
    group = request.get("log_group", "/lambda/hello-test")
    stream = f"test-stream-{time.time_ns()}"
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    messages = [
        "[INFO] Test log from Lambda via CloudWatch Logs API",
        "[DEBUG] This is a debug message",
        "[ERROR] This is an error message",
        "CloudWatch Logs E2E verification successful!",
    ]
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": now, "message": m} for m in messages],
    )
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(
            {
                "success": True,
                "action": "test_cloudwatch",
                "log_group": group,
                "log_stream": stream,
                "endpoint": os.environ.get("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"),
                "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
            }
        ),
    }
