"""Python handlers for the RIE tests, run as `python -m awslambdaric handlers.<name>`."""
import os
import sys
import time

_invocations = 0
# Names this runtime process: a pid does not (every container starts at small pids).
INSTANCE = os.urandom(8).hex()


def echo(event, context):
    return event


def error(event, context):
    raise ValueError("boom from handler")


def sleep(event, context):
    time.sleep(event.get("seconds", 10))
    return "late"


def exit(event, context):
    print("exiting on purpose")
    os._exit(3)


def context(event, context):
    cc = context.client_context
    names = ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
             "AWS_LAMBDA_FUNCTION_TIMEOUT", "_HANDLER", "LAMBDA_TASK_ROOT", "AWS_REGION", "AWS_DEFAULT_REGION",
             "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_INITIALIZATION_TYPE", "TZ",
             "AWS_LAMBDA_RUNTIME_API", "ESB_TEST_MARKER", "ESB_WORKER_TOKEN"]
    return {
        "aws_request_id": context.aws_request_id,
        "invoked_function_arn": context.invoked_function_arn,
        "function_name": context.function_name,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "client_context": None if cc is None else {"custom": cc.custom, "env": cc.env},
        "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
        "pid": os.getpid(),
        "instance": INSTANCE,
        "cwd": os.getcwd(),
        "env": {name: os.environ.get(name) for name in names},
    }


def log(event, context):
    print(f"log line 1 for {context.aws_request_id}")
    print(f"stderr line for {context.aws_request_id}", file=sys.stderr)
    return "logged"


def chatty(event, context):
    for i in range(event["lines"]):
        print(f"chatty line {i} " + "-" * 40)
    return "done"


def big_response(event, context):
    return "x" * event["size"]


def memory(event, context):
    block = bytearray(event["mb"] * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    return "ok"


def api(event, context):
    """An API Gateway proxy-integration handler that shows the event it got."""
    import json
    return {
        "statusCode": 200,
        "headers": {"X-Handler": "api"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": json.dumps({"event": event}),
    }


def binary(event, context):
    import base64
    return {"statusCode": 200, "headers": {"Content-Type": "application/octet-stream"},
            "body": base64.b64encode(bytes(range(256))).decode(), "isBase64Encoded": True}


def malformed(event, context):
    return "not a proxy response"


def uses_layer(event, context):
    import layer_mod
    return layer_mod.MESSAGE


def http_api(event, context):
    """An HTTP API (payload 2.0) handler: shows its event, sets two cookies."""
    import json
    return {
        "statusCode": 201,
        "headers": {"X-Handler": "http_api"},
        "cookies": ["a=1; Path=/", "b=2"],
        "body": json.dumps({"event": event}),
    }


def shortcut(event, context):
    """Payload 2.0's shortcut: no statusCode, so the JSON itself is a 200 body."""
    return {"via": "shortcut", "path": event.get("rawPath")}


AUTHORIZER_CALLS = 0


def authorizer(event, context):
    """A Lambda authorizer for every API Gateway flavour. The token (or X-Tenant header)
    decides: allow / deny / unauthorized / boom; `calls` shows whether API Gateway's
    cache answered instead of this function."""
    global AUTHORIZER_CALLS
    AUTHORIZER_CALLS += 1
    if event.get("type") == "TOKEN":
        who = event["authorizationToken"].removeprefix("Bearer ")
        arn = event["methodArn"]
    else:
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        who = headers.get("x-tenant", "")
        arn = event.get("methodArn") or event.get("routeArn")
    if who == "unauthorized":
        raise Exception("Unauthorized")
    if who == "boom":
        raise ValueError("the authorizer itself failed")
    ctx = {"tenant": who, "calls": AUTHORIZER_CALLS, "premium": True, "eventType": event.get("type")}
    if event.get("version") == "2.0" and "routeArn" in event:
        return {"isAuthorized": who != "deny", "context": ctx}
    # Allow every route of the API and stage, as authorizers commonly do (and as the
    # cache then reuses for other routes).
    api_stage = "/".join(arn.split("/")[:2])
    return {
        "principalId": f"user-{who}",
        "policyDocument": {"Version": "2012-10-17", "Statement": [{
            "Action": "execute-api:Invoke",
            "Effect": "Deny" if who == "deny" else "Allow",
            "Resource": f"{api_stage}/*",
        }]},
        "context": ctx,
    }
