"""chain: calls the hello function (Rust) through boto3 and answers GET /chain.

Inside ESB, boto3 reaches the box by itself (AWS_ENDPOINT_URL_LAMBDA, AWS_CA_BUNDLE and
the box's credentials are in the environment), as it would reach Lambda on AWS.
"""
import json
import os

import boto3

lambda_client = boto3.client("lambda")
HELLO = os.environ.get("HELLO_FUNCTION", "hello")


def handler(event, context):
    name = ((event or {}).get("queryStringParameters") or {}).get("name", "chain")
    answer = lambda_client.invoke(FunctionName=HELLO, Payload=json.dumps({"name": name}))
    hello = json.loads(answer["Payload"].read())
    if "FunctionError" in answer:
        raise RuntimeError(f"{HELLO} failed: {hello}")
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"via": context.function_name, "hello": hello}),
    }
