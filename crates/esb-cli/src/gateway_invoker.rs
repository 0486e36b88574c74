//! How the box's pollers (DynamoDB stream mappings, SQS queue mappings) invoke a
//! function: through the gateway's pools, as a synchronous (`RequestResponse`)
//! invocation, as Lambda's event source mappings do.

use std::sync::Arc;

use esb_gateway::Gateway;
use esb_gateway::source_invoke::SourceInvoke;
use esb_lambda::source_invoke::{InvokeOutcome, Invoker};

/// Batches go to the function through the gateway's pools, as a synchronous
/// (`RequestResponse`) invocation.
pub struct GatewayInvoker(pub Arc<Gateway>);

#[async_trait::async_trait]
impl Invoker for GatewayInvoker {
    async fn invoke(&self, function: &str, payload: String) -> InvokeOutcome {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match esb_gateway::source_invoke::invoke(&self.0, function, payload.into()).await {
            SourceInvoke::Ok(body) => InvokeOutcome::Ok(text(&body)),
            SourceInvoke::FunctionError(body) => InvokeOutcome::FunctionError(text(&body)),
            SourceInvoke::NotRun(why) => InvokeOutcome::Failed(why),
        }
    }
}
