//! `--header-read-timeout`, `--body-idle-timeout`, `--tls-handshake-timeout`: how long
//! a client may take at any listener of the box (the gateway and every data service),
//! so a slow or stalled client holds a connection for a bounded time. Settings, not
//! constants, so an operator behind a slow network can widen them and the tests can
//! narrow them.

use std::time::Duration;

use clap::Args;

/// API Gateway's limit on the request line and headers together (10 KB), which the
/// gateway's port keeps: `431 Request Header Fields Too Large` past it.
pub const GATEWAY_MAX_HEADER_BYTES: usize = 10 * 1024;
/// Header fields the gateway reads at most (hyper's default, and what it served with
/// before).
const GATEWAY_MAX_HEADER_FIELDS: usize = 100;

/// The edge timeouts, part of `esb up`'s and `esb gateway`'s flags.
#[derive(Args, Clone, Debug)]
pub struct EdgeArgs {
    /// Seconds a client has to send a request's line and headers (slowloris), and that
    /// a kept-alive connection may stay idle between requests; then it is closed.
    #[arg(long, env = "ESB_HEADER_READ_TIMEOUT", default_value_t = 20.0)]
    pub header_read_timeout: f64,
    /// Seconds a request body may stall (no byte arriving) before the request fails:
    /// 408 on the gateway, the service's error on S3/DynamoDB/CloudWatch Logs.
    #[arg(long, env = "ESB_BODY_IDLE_TIMEOUT", default_value_t = 30.0)]
    pub body_idle_timeout: f64,
    /// Seconds a client has to finish its TLS handshake; then it is disconnected.
    #[arg(long, env = "ESB_TLS_HANDSHAKE_TIMEOUT", default_value_t = 10.0)]
    pub tls_handshake_timeout: f64,
}

impl EdgeArgs {
    /// The data services' listeners: AWS SDK clients and presigned URLs may carry large
    /// headers (S3 metadata, long query strings), so their head limit stays generous.
    pub fn service_limits(&self) -> esb_listener::Limits {
        esb_listener::Limits {
            header_read_timeout: seconds(self.header_read_timeout),
            body_idle_timeout: seconds(self.body_idle_timeout),
            handshake_timeout: seconds(self.tls_handshake_timeout),
            ..esb_listener::Limits::default()
        }
    }

    /// The gateway's port: API Gateway's 10 KB request line and headers.
    pub fn gateway_limits(&self) -> esb_listener::Limits {
        esb_listener::Limits {
            max_header_bytes: GATEWAY_MAX_HEADER_BYTES,
            max_header_fields: GATEWAY_MAX_HEADER_FIELDS,
            ..self.service_limits()
        }
    }
}

/// A timeout setting: at least 10 ms (0 would cut every client off at once), capped so
/// an absurd value is not a panic.
fn seconds(value: f64) -> Duration {
    if value.is_finite() {
        Duration::from_secs_f64(value.clamp(0.01, 1e9))
    } else {
        Duration::from_secs(1_000_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_bounded_and_the_gateway_keeps_api_gateways_header_limit() {
        let args = EdgeArgs {
            header_read_timeout: 0.0,
            body_idle_timeout: f64::NAN,
            tls_handshake_timeout: 2.5,
        };
        let limits = args.gateway_limits();
        assert_eq!(limits.header_read_timeout, Duration::from_millis(10));
        assert_eq!(limits.body_idle_timeout, Duration::from_secs(1_000_000_000));
        assert_eq!(limits.handshake_timeout, Duration::from_millis(2500));
        assert_eq!(limits.max_header_bytes, 10 * 1024);
        assert_eq!(args.service_limits().max_header_bytes, 256 * 1024);
    }
}
