//! How long a client may take to send a request: bounds that keep a slow (or
//! malicious) client from holding a connection and a request slot for ever.

use std::time::Duration;

/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's body.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
