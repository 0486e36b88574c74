//! Differential suite: the same functions and requests against AWS's RIE (the oracle)
//! and `esb rie`, driving real runtime clients (awslambdaric and the `lambda_runtime`
//! crate). Where the two must differ (real Lambda's behaviour), the test asserts both
//! sides of the difference explicitly.

use serde_json::json;

use crate::support::{self, BOTH, Emulator, Spec, without_request_id};

#[test]
fn success_echo_is_identical() {
    let event = json!({"name": "esb", "n": 42, "nested": {"list": [1, 2.5, null, true]}});
    for kind in BOTH {
        let rie = Spec::python("handlers.echo").start(kind);
        let a = rie.invoke_json(event.clone());
        assert_eq!(a.status, 200, "{kind:?}");
        assert_eq!(a.json(), event, "{kind:?}");
        assert_eq!(a.function_error(), None, "{kind:?}");
    }
}

#[test]
fn large_unicode_and_binaryish_payloads_round_trip_identically() {
    let big = "x".repeat(5 * 1024 * 1024);
    let cases = [
        json!({"big": big}),
        json!({"text": "こんにちは 🌏 ñandú — \"quoted\" \\ back"}),
        json!({"bytes": "\u{0000}\u{0001}\u{001f}\u{007f}\u{0080}\u{00ff}\u{fffd}", "tab": "\t\r\n"}),
    ];
    let mut answers = Vec::new();
    for kind in BOTH {
        let rie = Spec::python("handlers.echo").start(kind);
        let bodies: Vec<Vec<u8>> = cases
            .iter()
            .map(|c| {
                let a = rie.invoke_json(c.clone());
                assert_eq!(a.status, 200, "{kind:?}");
                assert_eq!(&a.json(), c, "{kind:?}: payload changed on the way");
                a.body
            })
            .collect();
        answers.push(bodies);
    }
    assert_eq!(
        answers[0], answers[1],
        "byte-identical bodies from both emulators"
    );
}

#[test]
fn function_error_same_body_and_esb_flags_it_like_lambda() {
    let mut docs = Vec::new();
    for kind in BOTH {
        let rie = Spec::python("handlers.error").start(kind);
        let a = rie.invoke("{}");
        assert_eq!(a.status, 200, "{kind:?}");
        let doc = a.json();
        assert_eq!(doc["errorType"], "ValueError");
        assert_eq!(doc["errorMessage"], "boom from handler");
        match kind {
            // AWS RIE issue #20: no X-Amz-Function-Error.
            Emulator::Aws => assert_eq!(a.function_error(), None),
            Emulator::Esb => {
                assert_eq!(a.function_error(), Some("Unhandled"));
                assert_eq!(doc["requestId"].as_str(), a.header("x-amzn-requestid"));
            }
        }
        docs.push(without_request_id(doc));
    }
    assert_eq!(docs[0], docs[1]);
}

#[test]
fn init_error_is_reported_as_lambda_reports_it() {
    let mut docs = Vec::new();
    for kind in BOTH {
        let rie = Spec::python("init_error.handler").start(kind);
        for attempt in 0..2 {
            let a = rie.invoke("{}");
            let doc = a.json();
            assert_eq!(
                doc["errorType"], "RuntimeError",
                "{kind:?} attempt {attempt}"
            );
            assert_eq!(doc["errorMessage"], "init boom");
            match kind {
                Emulator::Aws => assert_eq!(a.status, 502),
                // Real Lambda: 200 with FunctionError Unhandled, init retried per invoke.
                Emulator::Esb => {
                    assert_eq!(a.status, 200);
                    assert_eq!(a.function_error(), Some("Unhandled"));
                }
            }
            docs.push(without_request_id(doc));
        }
    }
    assert_eq!(docs[0], docs[2], "same init error document from both");
}

#[test]
fn timeout_kills_the_runtime_and_next_invoke_reinitialises() {
    for kind in BOTH {
        let rie = Spec::python("handlers.sleep").timeout(1).start(kind);
        let a = rie.invoke_json(json!({"seconds": 30}));
        assert_eq!(a.status, 200, "{kind:?}");
        match kind {
            // AWS RIE issue #21: a bare text body, no function-error header.
            Emulator::Aws => {
                assert_eq!(a.text(), "Task timed out after 1.00 seconds");
                assert_eq!(a.function_error(), None);
            }
            Emulator::Esb => {
                assert_eq!(a.function_error(), Some("Unhandled"));
                let doc = a.json();
                assert_eq!(doc["errorType"], "Sandbox.Timedout");
                let id = a.header("x-amzn-requestid").expect("request id");
                assert_eq!(
                    doc["errorMessage"],
                    format!("RequestId: {id} Error: Task timed out after 1.00 seconds")
                );
                let report = rie.report_for(id);
                assert!(report.contains("\tStatus: timeout"), "{report}");
            }
        }
        // The environment recovers: a fresh runtime answers the next invocation.
        let b = rie.invoke_json(json!({"seconds": 0}));
        assert_eq!((b.status, b.json()), (200, json!("late")), "{kind:?}");
        if kind == Emulator::Esb {
            let id = b.header("x-amzn-requestid").expect("request id");
            let report = rie.report_for(id);
            assert!(
                report.contains("Init Duration:"),
                "re-initialised: {report}"
            );
        }
    }
}

#[test]
fn runtime_exit_mid_invocation_is_an_exit_error_never_an_empty_body() {
    let mut messages = Vec::new();
    for kind in BOTH {
        let rie = Spec::python("handlers.exit").start(kind);
        let a = rie.invoke("{}");
        let doc = a.json();
        assert_eq!(doc["errorType"], "Runtime.ExitError", "{kind:?}");
        let message = doc["errorMessage"].as_str().expect("message").to_string();
        assert!(
            message.ends_with("Error: Runtime exited with error: exit status 3"),
            "{message}"
        );
        match kind {
            Emulator::Aws => assert_eq!(a.status, 502),
            Emulator::Esb => {
                assert_eq!(a.status, 200);
                assert_eq!(a.function_error(), Some("Unhandled"));
                let id = a.header("x-amzn-requestid").expect("request id");
                assert!(
                    message.starts_with(&format!("RequestId: {id} ")),
                    "{message}"
                );
            }
        }
        messages.push(message.split_once(" Error:").map(|(_, m)| m.to_string()));
        // A fresh runtime serves the next invocation (which exits again, the same way).
        let b = rie.invoke("{}");
        assert_eq!(
            b.json()["errorType"],
            "Runtime.ExitError",
            "{kind:?} after restart"
        );
    }
    assert_eq!(messages[0], messages[1]);
}

#[test]
fn client_context_and_trace_id_reach_the_function() {
    let cc = json!({"custom": {"tenant": "acme", "n": 1}, "env": {"locale": "ja_JP"}});
    let encoded = base64_encode(cc.to_string().as_bytes());
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let mut seen = Vec::new();
    for kind in BOTH {
        let rie = Spec::python("handlers.context").start(kind);
        let a = rie.invoke_with(
            "{}",
            &[
                ("X-Amz-Client-Context", &encoded),
                ("X-Amzn-Trace-Id", trace),
            ],
        );
        assert_eq!(a.status, 200, "{kind:?}");
        let ctx = a.json();
        assert_eq!(
            ctx["client_context"]["custom"], cc["custom"],
            "{kind:?}: {ctx}"
        );
        assert_eq!(ctx["client_context"]["env"], cc["env"], "{kind:?}: {ctx}");
        match kind {
            // AWS's RIE drops the caller's trace header; Lambda hands it to the runtime.
            Emulator::Aws => assert_eq!(ctx["trace_id"], serde_json::Value::Null),
            Emulator::Esb => assert_eq!(ctx["trace_id"], trace),
        }
        seen.push(ctx["client_context"].clone());
    }
    assert_eq!(seen[0], seen[1]);
}

#[test]
fn esb_always_gives_a_trace_id_and_a_real_deadline() {
    let rie = Spec::python("handlers.context")
        .timeout(7)
        .start(Emulator::Esb);
    let ctx = rie.invoke("{}").json();
    let trace = ctx["trace_id"]
        .as_str()
        .expect("a trace id even when the caller sent none");
    assert!(trace.starts_with("Root=1-"), "{trace}");
    let remaining = ctx["remaining_ms"].as_i64().expect("remaining time");
    assert!(
        (5000..=7000).contains(&remaining),
        "deadline is now + 7 s: {remaining}"
    );
}

/// Used alone, `esb rie` is a drop-in for AWS's emulator: the same default identity in
/// the context, and the runtime runs where the emulator was started when no
/// `LAMBDA_TASK_ROOT` is set (whatever folders the host has, /var/task included).
#[test]
fn defaults_match_aws_rie_when_nothing_is_configured() {
    let answers: Vec<serde_json::Value> = BOTH
        .iter()
        .map(|kind| {
            Spec::python("handlers.context")
                .start(*kind)
                .invoke("{}")
                .json()
        })
        .collect();
    let [aws, esb] = &answers[..] else {
        unreachable!("two emulators")
    };
    assert_eq!(aws["invoked_function_arn"], esb["invoked_function_arn"]);
    assert_eq!(
        esb["invoked_function_arn"],
        "arn:aws:lambda:us-east-1:012345678912:function:test_function"
    );
    assert_eq!(aws["function_name"], esb["function_name"]);
    assert_eq!(aws["cwd"], esb["cwd"]);
    let started_in = support::python_functions();
    assert_eq!(
        esb["cwd"].as_str().map(std::path::Path::new),
        Some(started_in.as_path())
    );
    assert_eq!(
        esb["env"]["LAMBDA_TASK_ROOT"]
            .as_str()
            .map(std::path::Path::new),
        Some(started_in.as_path())
    );
}

#[test]
fn environment_matches_lambda() {
    let rie = Spec::python("handlers.context")
        .env("AWS_LAMBDA_FUNCTION_NAME", "orders")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_REGION", "eu-west-3")
        .timeout(9)
        .start(Emulator::Esb);
    let ctx = rie.invoke("{}").json();
    let env = &ctx["env"];
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "orders");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_TIMEOUT"], "9");
    assert_eq!(env["_HANDLER"], "handlers.context");
    assert_eq!(env["AWS_REGION"], "eu-west-3");
    assert_eq!(env["AWS_DEFAULT_REGION"], "eu-west-3");
    assert_eq!(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/orders");
    assert!(
        env["AWS_LAMBDA_LOG_STREAM_NAME"]
            .as_str()
            .is_some_and(|s| s.contains("/[$LATEST]"))
    );
    assert_eq!(env["AWS_LAMBDA_INITIALIZATION_TYPE"], "on-demand");
    assert_eq!(env["TZ"], ":UTC");
    assert_eq!(
        env["ESB_TEST_MARKER"], "from-the-caller",
        "caller's variables pass through"
    );
    assert!(
        env["LAMBDA_TASK_ROOT"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert!(
        env["AWS_LAMBDA_RUNTIME_API"]
            .as_str()
            .is_some_and(|s| s.starts_with("127.0.0.1:"))
    );
    assert_eq!(ctx["function_name"], "orders");
    assert_eq!(
        ctx["invoked_function_arn"],
        "arn:aws:lambda:eu-west-3:012345678912:function:orders"
    );
}

#[test]
fn sequential_invocations_reuse_one_runtime() {
    for kind in BOTH {
        let rie = Spec::python("handlers.context").start(kind);
        let pids: Vec<_> = (0..20)
            .map(|i| {
                let a = rie.invoke_json(json!({"i": i}));
                assert_eq!(a.status, 200, "{kind:?}");
                a.json()["pid"].clone()
            })
            .collect();
        assert!(
            pids.iter().all(|p| *p == pids[0] && p.is_number()),
            "{kind:?}: {pids:?}"
        );
    }
}

#[test]
fn a_concurrent_second_request_gets_an_answer_only_from_esb() {
    for kind in BOTH {
        let rie = Spec::python("handlers.sleep").start(kind);
        std::thread::scope(|s| {
            let slow = s.spawn(|| rie.try_request(&rie.url(), b"{\"seconds\":2}".to_vec(), &[]));
            std::thread::sleep(std::time::Duration::from_millis(700));
            let second = rie.try_request(&rie.url(), b"{\"seconds\":0}".to_vec(), &[]);
            match kind {
                // AWS's RIE closes the connection without answering, and the
                // invocation in flight loses its answer too.
                Emulator::Aws => {
                    assert!(second.is_err(), "{second:?}");
                    assert!(slow.join().expect("first").is_err());
                }
                Emulator::Esb => {
                    let a = second.expect("an answer");
                    assert_eq!(
                        (a.status, a.header("x-amzn-errortype")),
                        (429, Some("TooManyRequestsException"))
                    );
                    let doc = a.json();
                    assert_eq!(doc["Reason"], "ConcurrentInvocationLimitExceeded");
                    assert!(
                        doc["message"]
                            .as_str()
                            .is_some_and(|m| m.contains("one invocation at a time")),
                        "{doc}"
                    );
                    let first = slow
                        .join()
                        .expect("first")
                        .expect("the first invocation is unharmed");
                    assert_eq!(first.json(), json!("late"));
                }
            }
        });
    }
}

#[test]
fn oversized_request_gets_413_in_esb() {
    let body = format!("\"{}\"", "a".repeat(6 * 1024 * 1024));
    for kind in BOTH {
        let rie = Spec::python("handlers.echo").start(kind);
        let a = rie.invoke(body.clone());
        match kind {
            // AWS's RIE accepts up to 6 MiB + 100 B; Lambda's Invoke API stops at 6 MiB.
            Emulator::Aws => assert_eq!(a.status, 200),
            Emulator::Esb => {
                assert_eq!(a.status, 413);
                assert_eq!(
                    a.header("x-amzn-errortype"),
                    Some("RequestEntityTooLargeException")
                );
                assert_eq!(
                    a.json()["message"],
                    "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
                );
            }
        }
        // Either way the worker keeps serving.
        assert_eq!(
            rie.invoke("{\"ok\":1}").json(),
            json!({"ok": 1}),
            "{kind:?}"
        );
    }
}

#[test]
fn oversized_response_is_a_function_error() {
    let mut docs = Vec::new();
    for kind in BOTH {
        let rie = Spec::python("handlers.big_response").start(kind);
        let a = rie.invoke_json(json!({"size": 7 * 1024 * 1024}));
        let doc = a.json();
        assert_eq!(
            doc["errorType"], "Function.ResponseSizeTooLarge",
            "{kind:?}"
        );
        match kind {
            Emulator::Aws => assert_eq!((a.status, a.function_error()), (502, None)),
            Emulator::Esb => assert_eq!((a.status, a.function_error()), (200, Some("Unhandled"))),
        }
        docs.push(doc);
        let ok = rie.invoke_json(json!({"size": 10}));
        assert_eq!(
            ok.json(),
            json!("xxxxxxxxxx"),
            "{kind:?}: the runtime keeps serving"
        );
    }
    assert_eq!(docs[0], docs[1]);
}

#[test]
fn rust_lambda_runtime_function_behaves_the_same_under_both() {
    for kind in BOTH {
        let rie = Spec::rust().timeout(2).start(kind);
        let echo = rie.invoke_json(json!({"action": "echo", "payload": {"k": "v", "u": "ü🌏"}}));
        assert_eq!(
            (echo.status, echo.json()),
            (200, json!({"k": "v", "u": "ü🌏"})),
            "{kind:?}"
        );

        let err = rie.invoke_json(json!({"action": "error"}));
        assert_eq!(err.status, 200, "{kind:?}");
        assert!(
            err.text().contains("boom from rust"),
            "{kind:?}: {}",
            err.text()
        );
        let expected_flag = if kind == Emulator::Esb {
            Some("Unhandled")
        } else {
            None
        };
        assert_eq!(err.function_error(), expected_flag, "{kind:?}");

        let ctx = rie.invoke_json(json!({"action": "context"}));
        assert_eq!(ctx.status, 200, "{kind:?}");
        let ctx = ctx.json();
        let deadline = ctx["deadline_ms"].as_u64().expect("deadline");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis() as u64;
        // Real epoch deadline: now + 2 s timeout (AWS's RIE agrees).
        assert!(
            deadline > now && deadline <= now + 2500,
            "{kind:?}: deadline {deadline}, now {now}"
        );

        let timed_out = rie.invoke_json(json!({"action": "sleep", "seconds": 10}));
        assert_eq!(timed_out.status, 200, "{kind:?}");
        assert!(
            timed_out
                .text()
                .contains("Task timed out after 2.00 seconds"),
            "{kind:?}"
        );

        let exit = rie.invoke_json(json!({"action": "exit"}));
        assert!(
            exit.text().contains("Runtime.ExitError"),
            "{kind:?}: {}",
            exit.text()
        );
        assert!(exit.text().contains("exit status 3"), "{kind:?}");

        let again = rie.invoke_json(json!({"action": "echo", "payload": 1}));
        assert_eq!(again.json(), json!(1), "{kind:?}: recovers after exit");
    }
}

#[test]
fn rust_init_failure_is_reported() {
    for kind in BOTH {
        let rie = Spec::rust().env("FIXTURE_INIT_FAIL", "1").start(kind);
        let a = rie.invoke("{}");
        match kind {
            // AWS RIE issue #86: 502 with an empty body.
            Emulator::Aws => assert_eq!((a.status, a.body.len()), (502, 0)),
            Emulator::Esb => {
                assert_eq!((a.status, a.function_error()), (200, Some("Unhandled")));
                let doc = a.json();
                assert_eq!(doc["errorType"], "Runtime.ExitError");
                let id = a.header("x-amzn-requestid").expect("request id");
                assert_eq!(
                    doc["errorMessage"],
                    format!("RequestId: {id} Error: Runtime exited with error: exit status 1")
                );
            }
        }
    }
}

#[test]
fn runtime_api_misuse_gets_the_same_answers() {
    let mut reports = Vec::new();
    for kind in BOTH {
        let rie = Spec::command(&[&support::python().display().to_string(), "probe_runtime.py"])
            .start(kind);
        let first = rie.invoke("{\"first\":true}");
        assert_eq!(first.status, 200, "{kind:?}");
        assert_eq!(first.json()["answered"], true, "{kind:?}");
        let second = rie.invoke("{}");
        assert_eq!(second.status, 200, "{kind:?}");
        let third = rie.invoke("{}");
        assert_eq!(
            third.json()["errorType"],
            "Function.ResponseSizeTooLarge",
            "{kind:?}"
        );
        let fourth = rie.invoke("{}");
        let mut report = second.json();
        report["during"] = first.json()["during"].clone();
        report["oversized"] = fourth.json()["oversized"].clone();
        reports.push(report);
    }
    let [aws, esb] = [&reports[0], &reports[1]];
    assert_eq!(
        aws, esb,
        "Runtime API answers differ:\nAWS: {aws:#}\nESB: {esb:#}"
    );
    assert_eq!(esb["during"]["wrong_id"]["status"], 400);
    assert_eq!(esb["during"]["wrong_id"]["errorType"], "InvalidRequestID");
    assert_eq!(esb["after"]["twice"]["status"], 403);
    assert_eq!(esb["after"]["twice"]["errorType"], "InvalidStateTransition");
    assert_eq!(esb["oversized"]["status"], 413);
    assert_eq!(esb["oversized"]["errorType"], "RequestEntityTooLarge");
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
