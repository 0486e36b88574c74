"""hello: answers GET /hello?name=... (REST API) and GET /hello/{name} (HTTP API).

It asks the greeter function for the greeting with the stock AWS SDK: inside ESB,
boto3 reaches the box by itself (AWS_ENDPOINT_URL_LAMBDA, AWS_CA_BUNDLE and the box's
credentials are in the environment), as it would reach Lambda on AWS.
"""
import json
import os

import boto3

lambda_client = boto3.client("lambda")
GREETER = os.environ.get("GREETER_FUNCTION", "greeter")


def handler(event, context):
    event = event or {}
    name = (
        (event.get("pathParameters") or {}).get("name")
        or (event.get("queryStringParameters") or {}).get("name")
        or event.get("name")
        or "world"
    )
    answer = lambda_client.invoke(FunctionName=GREETER, Payload=json.dumps({"name": name}))
    greeting = json.loads(answer["Payload"].read())
    if "FunctionError" in answer:
        raise RuntimeError(f"{GREETER} failed: {greeting}")
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(
            {
                "message": greeting["message"],
                "via": [context.function_name, greeting["function"]],
                # REST APIs send payload 1.0 (httpMethod), HTTP APIs 2.0 (version).
                "api": "HTTP" if event.get("version") == "2.0" else "REST",
                "requestId": context.aws_request_id,
            }
        ),
    }
