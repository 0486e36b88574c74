"""Calls the `ctx` function with the stock boto3 client (pointed at the box by
AWS_ENDPOINT_URL_LAMBDA / AWS_CA_BUNDLE) and returns both sides' view."""
import json
import os

import boto3

lambda_client = boto3.client("lambda")


def handler(event, context):
    answer = lambda_client.invoke(FunctionName="ctx", Payload=b"{}")
    return {
        "outer_trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "inner": json.loads(answer["Payload"].read()),
        "inner_status": answer["StatusCode"],
    }
