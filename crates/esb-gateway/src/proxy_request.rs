//! The request an API route or function URL received, with what the gateway knows
//! about it (its route, API, ids): what every event of it is built from — the proxy
//! events of both payload formats and the events of Lambda authorizers.

use std::net::IpAddr;

use http::{HeaderMap, Method, Uri};

use crate::routes::RouteMatch;

/// Everything the event is built from.
pub struct ProxyRequest<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub source_ip: IpAddr,
    pub route: &'a RouteMatch,
    pub stage: &'a str,
    pub request_id: &'a str,
    pub api_id: &'a str,
    pub account_id: &'a str,
    pub region: &'a str,
}
