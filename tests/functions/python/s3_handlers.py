"""Functions of the S3 end-to-end tests. They reach the box's S3 service with the stock
boto3 client and nothing of their own: the box gives them AWS_ENDPOINT_URL_S3, the CA
bundle and credentials."""
import json
import os
import time

import boto3

s3 = boto3.client("s3")


def read_write(event, context):
    """Writes `body` to `bucket`/`key`, reads it back, lists the bucket, and reads
    `seed_key` (an object the test put there from outside)."""
    bucket = event["bucket"]
    s3.put_object(
        Bucket=bucket,
        Key=event["key"],
        Body=event["body"].encode(),
        ContentType="text/plain",
        Metadata={"written-by": context.function_name},
    )
    got = s3.get_object(Bucket=bucket, Key=event["key"])
    seed = s3.get_object(Bucket=bucket, Key=event["seed_key"])["Body"].read().decode()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {
        "got": got["Body"].read().decode(),
        "metadata": got["Metadata"],
        "seed": seed,
        "listed": listed,
        "endpoint": os.environ.get("AWS_ENDPOINT_URL_S3"),
        "s3_endpoint": os.environ.get("S3_ENDPOINT"),
    }


def record_event(event, context):
    """An S3 notification's target: prints the event, then writes each record to the
    bucket named by MARKERS, under `seen/<the key as the event gives it>`, with the S3
    endpoint the function used (a restarted box serves S3 on another port). Sleeps
    `SLEEP_S` seconds first, so a box killed right after the upload kills it too."""
    print(json.dumps(event))
    time.sleep(float(os.environ.get("SLEEP_S", "0")))
    for record in event["Records"]:
        key = record["s3"]["object"]["key"]
        s3.put_object(
            Bucket=os.environ["MARKERS"],
            Key="seen/" + key,
            Body=json.dumps(
                {"record": record, "endpoint": os.environ.get("AWS_ENDPOINT_URL_S3")}
            ).encode(),
        )
    return len(event["Records"])


def endpoints(event, context):
    """The S3 endpoint variables the box gave the function."""
    return {name: os.environ.get(name) for name in ["AWS_ENDPOINT_URL_S3", "S3_ENDPOINT"]}
