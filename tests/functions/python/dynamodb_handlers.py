"""Functions of the DynamoDB end-to-end tests: the original ESB's `lambda-dynamo` flow
(POST /api/dynamo: put_get, get, put, update, delete on `e2e-test-table`), written
twice. `resource_api` uses `boto3.resource("dynamodb")` and nothing of its own: the box
gives it AWS_ENDPOINT_URL_DYNAMODB, the CA bundle and credentials. `seed_client` is the
seed's own shape: `boto3.client("dynamodb", endpoint_url=os.environ["DYNAMODB_ENDPOINT"])`
with the template's DYNAMODB_ENDPOINT, the original ESB's address, which the box rewrites
to its own service."""
import json
import os
import time
import uuid

import boto3

TABLE = os.environ.get("TABLE_NAME", "e2e-test-table")
ENDPOINTS = ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS", "DYNAMODB_ENDPOINT"]


def _response(status, body):
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body, default=str),
    }


def _request(event):
    body = event.get("body") or "{}"
    return json.loads(body) if isinstance(body, str) else body


def _endpoints():
    return {name: os.environ.get(name) for name in ENDPOINTS}


def resource_api(event, context):
    """The flow with the resource API (plain Python values in, plain values out)."""
    table = boto3.resource("dynamodb").Table(TABLE)
    request = _request(event)
    action = request.get("action", "put_get")
    item_id = request.get("id")
    try:
        if action == "put_get":
            item_id = item_id or str(uuid.uuid4())
            table.put_item(
                Item={
                    "id": item_id,
                    "message": request.get("message", "Hello from Lambda"),
                    "timestamp": int(time.time()),
                }
            )
            got = table.get_item(Key={"id": item_id}, ConsistentRead=True).get("Item")
            return _response(
                200,
                {"success": True, "item_id": item_id, "retrieved_item": got, "endpoints": _endpoints()},
            )
        if not item_id:
            return _response(400, {"success": False, "error": "id is required"})
        if action == "get":
            got = table.get_item(Key={"id": item_id}, ConsistentRead=True).get("Item")
            return _response(200, {"success": True, "item": got, "found": got is not None})
        if action == "put":
            table.put_item(Item={"id": item_id, "message": request.get("message", ""), "timestamp": int(time.time())})
            return _response(200, {"success": True, "item_id": item_id})
        if action == "update":
            updated = table.update_item(
                Key={"id": item_id},
                UpdateExpression="SET message = :m, #ts = :t",
                ExpressionAttributeNames={"#ts": "timestamp"},
                ExpressionAttributeValues={":m": request.get("message", "Updated message"), ":t": int(time.time())},
                ReturnValues="ALL_NEW",
            )["Attributes"]
            return _response(200, {"success": True, "item": updated})
        if action == "delete":
            table.delete_item(Key={"id": item_id})
            return _response(200, {"success": True, "deleted": True})
        return _response(400, {"success": False, "error": f"unknown action {action}"})
    except Exception as e:  # the seed answers every failure with a 500
        return _response(500, {"success": False, "error": repr(e)})


def seed_client(event, context):
    """The flow as the seed's function wrote it: the low-level client on DYNAMODB_ENDPOINT,
    typed attribute values (`retrieved_item.id.S`)."""
    client = boto3.client("dynamodb", endpoint_url=os.environ["DYNAMODB_ENDPOINT"])
    request = _request(event)
    action = request.get("action", "put_get")
    item_id = request.get("id")
    try:
        if action == "put_get":
            item_id = item_id or str(uuid.uuid4())
            client.put_item(
                TableName=TABLE,
                Item={
                    "id": {"S": item_id},
                    "message": {"S": request.get("message", "Hello from Lambda")},
                    "timestamp": {"N": str(int(time.time()))},
                },
            )
            got = client.get_item(TableName=TABLE, Key={"id": {"S": item_id}}).get("Item")
            return _response(
                200,
                {"success": True, "item_id": item_id, "retrieved_item": got, "endpoints": _endpoints()},
            )
        if not item_id:
            return _response(400, {"success": False, "error": "id is required"})
        if action == "get":
            got = client.get_item(TableName=TABLE, Key={"id": {"S": item_id}}).get("Item")
            return _response(200, {"success": True, "item": got, "found": got is not None})
        if action == "update":
            client.update_item(
                TableName=TABLE,
                Key={"id": {"S": item_id}},
                UpdateExpression="SET message = :m, #ts = :t",
                ExpressionAttributeNames={"#ts": "timestamp"},
                ExpressionAttributeValues={
                    ":m": {"S": request.get("message", "Updated message")},
                    ":t": {"N": str(int(time.time()))},
                },
            )
            return _response(200, {"success": True})
        if action == "delete":
            client.delete_item(TableName=TABLE, Key={"id": {"S": item_id}})
            return _response(200, {"success": True, "deleted": True})
        return _response(400, {"success": False, "error": f"unknown action {action}"})
    except Exception as e:
        return _response(500, {"success": False, "error": repr(e)})
