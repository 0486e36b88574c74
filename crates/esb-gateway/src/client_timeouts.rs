//! How long a client may take to send a request: bounds that keep a slow (or
//! malicious) client from holding a connection and a request slot for ever.

use std::time::Duration;

/// How long a client may take to send a request's body in total. A body that stalls is
/// cut off sooner, by the listener's `--body-idle-timeout`; this bounds one that trickles
/// (a byte now and then) and still leaves a 10 MB payload two minutes on a slow link.
/// (Header timeouts are the listener's: `--header-read-timeout`.)
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(120);
