//! What the caller tells the loader that the template does not say: parameter
//! overrides and the values of the `AWS::` pseudo parameters. Its own module so that
//! the modules resolving the template (`intrinsics`) need not reach back into the
//! crate root, which is the loader that uses them.

/// What the caller knows that the template does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// `Key=Value` strings, as given to `--parameter-overrides` (SAM CLI's
    /// `ParameterKey=K,ParameterValue=V` form is accepted too). Kept as raw strings so
    /// a malformed one is reported by the loader like any other template error.
    pub parameter_overrides: Vec<String>,
    /// `AWS::Region`.
    pub region: String,
    /// `AWS::AccountId`.
    pub account_id: String,
    /// `AWS::StackName`.
    pub stack_name: String,
    /// The box's SQS endpoint, e.g. `https://127.0.0.1:9324`: queue URLs (what `Ref`
    /// to a queue gives) are `<sqs_url>/<account>/<name>`. None: AWS's own,
    /// `https://sqs.<region>.amazonaws.com`.
    pub sqs_url: Option<String>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            parameter_overrides: Vec::new(),
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            stack_name: "esb".into(),
            sqs_url: None,
        }
    }
}
