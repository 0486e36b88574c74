//! esb-nodes over real files, real TLS and real sockets on 127.0.0.1.
#![allow(clippy::unwrap_used)]

mod join_flow;
mod mtls;
mod support;
mod tokens;
