//! Test function for the RIE suites: dispatches on `event.action`.

use std::time::Duration;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, ctx) = event.into_parts();
    match payload
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("echo")
    {
        "error" => Err("boom from rust".into()),
        "sleep" => {
            let seconds = payload.get("seconds").and_then(Value::as_u64).unwrap_or(10);
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            Ok(json!("late"))
        }
        "exit" => std::process::exit(3),
        "context" => Ok(json!({
            "request_id": ctx.request_id,
            "invoked_function_arn": ctx.invoked_function_arn,
            "deadline_ms": ctx.deadline,
            "client_context": ctx.client_context.map(|c| json!({"custom": c.custom, "env": c.environment})),
            "trace_id": ctx.xray_trace_id,
            "function_name": std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok(),
        })),
        "big" => {
            let size = payload.get("size").and_then(Value::as_u64).unwrap_or(0);
            Ok(Value::String(
                "x".repeat(usize::try_from(size).unwrap_or(0)),
            ))
        }
        _ => Ok(payload.get("payload").cloned().unwrap_or(payload)),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    if std::env::var("FIXTURE_INIT_FAIL").as_deref() == Ok("1") {
        eprintln!("FIXTURE_INIT_FAIL=1: failing initialisation");
        std::process::exit(1);
    }
    lambda_runtime::run(service_fn(handler)).await
}
