"""The soak's functions (scripts/soak.py, tests/projects/soak): each prints what the
driver later looks for in the log store, tagged with the unique id of its request."""
import json
import sys

import boto3

_lambda = None


def echo(event, context):
    return event


def lines(event, context):
    """Prints `k` lines tagged with the event's id: all of them must reach the store
    once the invocation was answered."""
    tag = event["id"]
    for i in range(int(event.get("k", 20))):
        print(f"soakline {tag} {i}")
    return {"id": tag}


def mark(event, context):
    """The asynchronous target: one line naming the accepted event's id."""
    print(f"soakasync {event['id']}")
    return {"id": event["id"]}


def chain(event, context):
    """Calls `soak-echo` through the stock boto3 client (the box's endpoint and key)."""
    global _lambda
    if _lambda is None:
        _lambda = boto3.client("lambda")
    answer = _lambda.invoke(FunctionName="soak-echo", Payload=json.dumps(event).encode())
    return {"inner": json.loads(answer["Payload"].read()), "status": answer["StatusCode"]}


def api(event, context):
    return {"statusCode": 200, "body": json.dumps({"id": (event.get("pathParameters") or {}).get("id")})}


def flood(event, context):
    """Writes `mb` MiB of 1 KiB lines as fast as it can, tagged with the event's id."""
    tag = event["id"]
    pad = "f" * (1024 - len(tag) - 30)
    out = sys.stdout
    n = int(event.get("mb", 20)) * 1024
    for i in range(n):
        out.write(f"soakflood {tag} {i:07d} {pad}\n")
    out.flush()
    return {"id": tag, "lines": n}
