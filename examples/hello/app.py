"""The example project's greeting function."""
import os


def handler(event, context):
    name = (event or {}).get("name", "world")
    print(f"greeting {name}")
    return {
        "message": f"Hello, {name}!",
        "requestId": context.aws_request_id,
        "function": context.invoked_function_arn,
        "remainingMs": context.get_remaining_time_in_millis(),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
    }
