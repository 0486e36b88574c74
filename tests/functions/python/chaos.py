"""The original ESB's `lambda-chaos` fixture behind an API route: `{"action": "crash"}`
kills the runtime (`os._exit(1)`), `"raise"` raises an ordinary exception, `"delay"`
sleeps `seconds`; anything else answers 200."""
import json
import os
import time


def handler(event, context):
    # An API route's event carries the request in `body`; the Invoke API's is the request.
    params = event
    if "body" in event:
        try:
            params = json.loads(event["body"] or "{}")
        except ValueError:
            params = {}
    action = params.get("action", "hello")
    if action == "crash":
        print("crashing on purpose")
        os._exit(1)
    if action == "raise":
        raise ValueError("an ordinary handler error")
    if action == "delay":
        time.sleep(params.get("seconds", 5))
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": "Faulty Lambda is OK", "action": action}),
    }
