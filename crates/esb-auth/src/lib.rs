//! Who may call the box. Every API the box serves (the Lambda Invoke API and `AWS_IAM`
//! routes, S3, DynamoDB, SQS, CloudWatch Logs) accepts requests signed with AWS Signature
//! V4 by the one key pair the box issues; this crate verifies such signatures, signs
//! for ESB's own clients, keeps the credentials file and owns every comparison of
//! secrets. It knows no service's error shape: each listener renders [`AuthError`] its
//! own way (Lambda's JSON, S3's XML...).

pub mod credentials;
pub mod error;
pub mod request;
pub mod secret;
pub mod session_token;
pub mod sign;
pub mod signed_client;
pub mod verify;

pub use credentials::{BoxCredentials, CredentialsError, load_or_issue};
pub use error::AuthError;
pub use request::SignedRequest;
pub use secret::{ApiKeys, constant_time_eq, secret_eq};
pub use sign::{SignError, sign_headers, sign_headers_unsigned_payload};
pub use signed_client::{CallError, SignedClient};
pub use verify::{MAX_SKEW, verify};
