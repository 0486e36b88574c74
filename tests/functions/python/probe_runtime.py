"""A raw Runtime API client that misuses the API on purpose and reports what the
emulator answered, so the same misuse can be compared between AWS's RIE and esb rie.

Invocation 1 answers {"answered": true, "during": {...}}; invocation 2 answers
{"after": {...}} (what happened after invocation 1 was answered); invocation 3 posts
a response over the limit; invocation 4 answers {"oversized": {...}}; then it echoes.
"""
import json
import os
import urllib.error
import urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"


def call(method, path, body=b"", headers=None):
    req = urllib.request.Request(API + path, data=body if method == "POST" else None,
                                 method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def record(status, _headers, body):
    try:
        error_type = json.loads(body).get("errorType")
    except ValueError:
        error_type = None
    return {"status": status, "errorType": error_type}


def next_event():
    status, headers, body = call("GET", "/invocation/next")
    assert status == 200, (status, body)
    return headers["Lambda-Runtime-Aws-Request-Id"], body


rid, _ = next_event()
during = {
    "wrong_id": record(*call("POST", "/invocation/not-a-real-id/response", b'"x"')),
    "wrong_id_error": record(*call("POST", "/invocation/not-a-real-id/error", b"{}")),
    "init_error_after_init": record(*call("POST", "/init/error", b"{}")),
}
call("POST", f"/invocation/{rid}/response", json.dumps({"answered": True, "during": during}).encode())
after = {
    "twice": record(*call("POST", f"/invocation/{rid}/response", b'"again"')),
    "error_after_response": record(*call("POST", f"/invocation/{rid}/error", b"{}")),
}
rid, _ = next_event()
call("POST", f"/invocation/{rid}/response", json.dumps({"after": after}).encode())
# Invocation 3 gets an oversized answer; invocation 4 reports what the runtime was told.
rid, _ = next_event()
oversized = record(*call("POST", f"/invocation/{rid}/response", b'"' + b"x" * (6 * 1024 * 1024 + 200) + b'"'))
rid, _ = next_event()
call("POST", f"/invocation/{rid}/response", json.dumps({"oversized": oversized}).encode())
while True:
    rid, body = next_event()
    call("POST", f"/invocation/{rid}/response", body)
