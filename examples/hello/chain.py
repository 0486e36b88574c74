"""Calls the hello function through the stock AWS SDK: the box points boto3 at its
own gateway (AWS_ENDPOINT_URL_LAMBDA, AWS_CA_BUNDLE), no code change needed."""
import json
import os

import boto3

lambda_client = boto3.client("lambda")


def handler(event, context):
    answer = lambda_client.invoke(FunctionName="hello", Payload=json.dumps({"name": event.get("name", "chain")}))
    return {
        "via": context.function_name,
        "hello": json.loads(answer["Payload"].read()),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
    }
