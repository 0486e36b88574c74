import base64, hashlib, json, os, struct, threading, time, urllib.error, urllib.parse, urllib.request
import boto3, botocore
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

E = os.environ["SQS_ENDPOINT"]
ACCOUNT = "000000000000"
sqs = boto3.client("sqs", endpoint_url=E, region_name="us-east-1",
                   config=Config(retries={"max_attempts": 1}, read_timeout=60))
CREDS = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])


def md5_attrs(attrs):
    """MD5 of message attributes as the AWS SDKs compute it (Java/Go/.NET check it)."""
    h = hashlib.md5()
    def put(b):
        h.update(struct.pack("!I", len(b)))
        h.update(b)
    for name in sorted(attrs):
        a = attrs[name]
        put(name.encode())
        put(a["DataType"].encode())
        if "StringValue" in a:
            h.update(b"\x01"); put(a["StringValue"].encode())
        else:
            v = a["BinaryValue"]
            h.update(b"\x02"); put(v if isinstance(v, bytes) else base64.b64decode(v))
    return h.hexdigest()


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def expect_error(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except botocore.exceptions.ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {e.response}"
        return e.response
    raise AssertionError(f"expected {code}, got success")


def signed(method, path="/", body=b"", headers=None, creds=CREDS, query_string=""):
    """A request signed as the SDKs sign it; (status, headers, body text)."""
    url = E + path + (("?" + query_string) if query_string else "")
    req = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    if creds is not None:
        SigV4Auth(creds, "sqs", "us-east-1").add_auth(req)
    prepared = req.prepare()
    r = urllib.request.Request(url, data=body if method != "GET" else None, method=method,
                               headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(r) as resp:
            return resp.status, dict(resp.headers), resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode("utf-8", "replace")


def query(params, path="/", creds=CREDS):
    """A query-protocol call (form POST), as pre-JSON SDKs make it."""
    body = urllib.parse.urlencode(dict(params, Version="2012-11-05")).encode()
    return signed("POST", path, body,
                  {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, creds)


def json_call(target, body, creds=CREDS):
    return signed("POST", "/", body if isinstance(body, bytes) else json.dumps(body).encode(),
                  {"Content-Type": "application/x-amz-json-1.0",
                   "X-Amz-Target": "AmazonSQS." + target}, creds)
