//! A request as the signature covers it.

use http::HeaderMap;

/// A request as received: `uri` is the path and query exactly as sent (still encoded).
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub uri: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl<'a> SignedRequest<'a> {
    /// The request a service received: its method, path and query as sent, headers,
    /// and the body it read.
    pub fn of(parts: &'a http::request::Parts, body: &'a [u8]) -> Self {
        Self {
            method: parts.method.as_str(),
            uri: parts.uri.path_and_query().map_or("/", |p| p.as_str()),
            headers: &parts.headers,
            body,
        }
    }
}
