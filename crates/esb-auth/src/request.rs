//! A request as the signature covers it.

use http::HeaderMap;

/// A request as received: `uri` is the path and query exactly as sent (still encoded).
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub uri: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}
