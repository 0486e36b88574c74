"""Writes every kind of log line a function writes: plain prints, a JSON line, a
multi-line print, stderr, and the logging module (text or, with
AWS_LAMBDA_LOG_FORMAT=JSON, Lambda's JSON format). The log tests find each by request id."""
import json
import logging
import os
import sys

import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def handler(event, context):
    tag = event.get("tag", "t")
    for i in range(int(event.get("n", 3))):
        print(f"plain {tag} {i}")
    print(json.dumps({"level": "warning", "message": f"json {tag}", "tag": tag}))
    print(f"multi {tag} a\nmulti {tag} b\nmulti {tag} c")
    sys.stderr.write(f"err {tag}\n")
    logger.info(f"info {tag}")
    logger.warning(f"logged {tag}")
    return {"tag": tag}


def relay(event, context):
    """Calls `chatty` through the stock SDK: both share the caller's trace."""
    print(f"relaying {event.get('tag')}")
    client = boto3.client("lambda")
    answer = client.invoke(FunctionName="chatty", Payload=json.dumps(event))
    return {"trace": os.environ.get("_X_AMZN_TRACE_ID"), "inner": json.loads(answer["Payload"].read())}


def hostile(event, context):
    """Lines a log pipeline must survive: 1 MiB without a break, invalid UTF-8, broken
    and absurdly nested JSON."""
    out = sys.stdout.buffer
    out.write(b"x" * (1 << 20) + b"\n")
    out.write(b"bad \xff\xfe bytes\n")
    out.write(b"{" * 10000 + b"\n")
    nested = "end"
    for _ in range(300):
        nested = {"n": nested}
    sys.setrecursionlimit(10000)
    out.write(json.dumps(nested).encode() + b"\n")
    out.flush()
    return {"ok": True}
