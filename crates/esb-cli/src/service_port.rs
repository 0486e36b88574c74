//! What the data services' listeners share: the port setting (`--s3-port`,
//! `--dynamodb-port`: `auto`, the seed's port or a free one when that is taken; a
//! number, `0` for any free port; or `off`), what they start with from the box, and
//! where their access lines go.

use std::net::SocketAddr;

use anyhow::{Context, Result};

/// What a data service of the box starts with, besides its own settings.
pub struct BoxContext<'a> {
    pub state: &'a esb_state::StateDir,
    pub region: &'a str,
    pub account: &'a str,
    /// The box's TLS server configuration and its CA certificate (PEM file).
    pub tls: std::sync::Arc<rustls::ServerConfig>,
    pub ca: &'a std::path::Path,
    pub credentials: &'a esb_auth::BoxCredentials,
    /// The log store's shipper, for access lines.
    pub log_records: Option<std::sync::Arc<esb_logs::Shipper>>,
    /// What a client may do at the service's listener (`--header-read-timeout`...).
    pub limits: esb_listener::Limits,
}

/// A data service's port setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServicePort {
    /// The service's usual port, or a free port when something else holds it.
    Auto,
    Port(u16),
    Off,
}

/// Reads `auto`, `off` or a port number.
pub fn parse(s: &str) -> Result<ServicePort, String> {
    match s {
        "auto" => Ok(ServicePort::Auto),
        "off" | "false" | "no" => Ok(ServicePort::Off),
        _ => s
            .parse::<u16>()
            .map(ServicePort::Port)
            .map_err(|_| format!("`{s}` is neither a port number, `auto` nor `off`")),
    }
}

/// Binds the listener of `service` (named in messages, with its `flag`) on every
/// interface: docker workers reach it through the box network's gateway. `usual` is
/// the port `auto` tries first.
pub async fn bind(
    port: ServicePort,
    usual: u16,
    service: &str,
    flag: &str,
) -> Result<Option<tokio::net::TcpListener>> {
    bind_std(port, usual, service, flag)?
        .map(tokio::net::TcpListener::from_std)
        .transpose()
        .with_context(|| format!("cannot listen for {service}"))
}

/// [`bind`] without a runtime: for a service whose address must be known before the
/// template is read (SQS: `!Ref` of a queue is its URL). Non-blocking, ready for tokio.
pub fn bind_std(
    port: ServicePort,
    usual: u16,
    service: &str,
    flag: &str,
) -> Result<Option<std::net::TcpListener>> {
    let at = |p: u16| SocketAddr::from(([0, 0, 0, 0], p));
    let listener = match port {
        ServicePort::Off => return Ok(None),
        ServicePort::Port(p) => std::net::TcpListener::bind(at(p)).with_context(|| {
            format!(
                "cannot listen on {} ({service}; choose another with {flag}, or {flag} off)",
                at(p)
            )
        })?,
        ServicePort::Auto => match std::net::TcpListener::bind(at(usual)) {
            Ok(l) => l,
            Err(e) => {
                let l = std::net::TcpListener::bind(at(0))
                    .with_context(|| format!("cannot listen on any port for {service}"))?;
                eprintln!(
                    "esb: warning: {service}'s port {usual} is taken ({e}); {service} listens on {} instead ({flag} sets one)",
                    l.local_addr()?.port()
                );
                l
            }
        },
    };
    listener
        .set_nonblocking(true)
        .with_context(|| format!("cannot listen for {service}"))?;
    Ok(Some(listener))
}

/// Where a data service's access lines go: where the gateway's go,
/// `<state>/logs/access.log` and the log store, marked with the service's name.
pub fn access_hook(
    state: &esb_state::StateDir,
    log_records: Option<std::sync::Arc<esb_logs::Shipper>>,
    service: &'static str,
) -> esb_listener::AccessHook {
    let access = std::sync::Arc::new(esb_gateway::access_log::AccessLog::new(
        Some(&state.access_log()),
        log_records,
    ));
    std::sync::Arc::new(move |line| {
        access.write(&esb_gateway::access_log::AccessEntry {
            time: time::OffsetDateTime::now_utc(),
            request_id: Some(line.request_id),
            source_ip: line.source.ip(),
            method: line.method,
            path: line.path,
            status: line.status,
            duration_ms: line.duration_ms,
            user_agent: line.user_agent,
            trace_header: None,
            service: Some(service),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::{ServicePort, parse};

    #[test]
    fn port_settings_read_as_documented() {
        assert_eq!(parse("auto"), Ok(ServicePort::Auto));
        assert_eq!(parse("off"), Ok(ServicePort::Off));
        assert_eq!(parse("0"), Ok(ServicePort::Port(0)));
        assert_eq!(parse("8001"), Ok(ServicePort::Port(8001)));
        assert!(parse("80001").is_err());
        assert!(parse("eight").is_err());
    }
}
