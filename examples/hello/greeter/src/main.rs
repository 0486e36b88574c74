//! A `provided.al2023` function: answers API Gateway proxy events for `/greet/{proxy+}`.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (event, ctx) = event.into_parts();
    let who = event["pathParameters"]["proxy"].as_str().unwrap_or("world");
    Ok(json!({
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json!({"greeting": format!("Hello from Rust, {who}!"), "requestId": ctx.request_id}).to_string(),
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}
