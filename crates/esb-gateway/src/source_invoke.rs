//! Synchronous invocations by an event source inside the box that polls (DynamoDB
//! stream mappings): Lambda invokes the function with `RequestResponse` and the
//! poller decides, from the answer, what to checkpoint or retry.

use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;

use crate::call::{call, worker_bound};
use crate::gateway::Gateway;
use esb_lambda::headers::FUNCTION_ERROR;

/// How a poller's invocation ended.
#[derive(Debug)]
pub enum SourceInvoke {
    /// The function's response payload.
    Ok(Bytes),
    /// The function failed (its error payload): a failed batch.
    FunctionError(Bytes),
    /// The function could not be run (throttled, missing, its workers failing): the
    /// batch was not processed.
    NotRun(String),
}

/// Invokes `function` (a name or ARN) with `payload`, as a stream mapping does.
pub async fn invoke(gw: &Arc<Gateway>, function: &str, payload: Bytes) -> SourceInvoke {
    let name = match crate::function_ref::parse(function, gw) {
        Ok((name, _qualifier)) => name,
        Err(e) => return SourceInvoke::NotRun(format!("{}: {}", e.error_type, e.message)),
    };
    let Some(pool) = gw.plan().pools.get(&name).cloned() else {
        return SourceInvoke::NotRun(format!(
            "ResourceNotFoundException: Function not found: {}",
            gw.function_arn(&name, None)
        ));
    };
    match call(gw, &pool, payload, &HeaderMap::new(), worker_bound(&pool)).await {
        Ok(answer) if answer.headers.contains_key(FUNCTION_ERROR) => {
            SourceInvoke::FunctionError(answer.body)
        }
        Ok(answer) => SourceInvoke::Ok(answer.body),
        Err(e) => SourceInvoke::NotRun(e.to_string()),
    }
}
