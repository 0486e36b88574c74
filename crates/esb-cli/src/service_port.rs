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

/// What a data service's external engine (`--<service>-endpoint`) is reached with.
pub struct EngineAccess {
    /// The engine's key pair, which the box re-signs requests with.
    pub credentials: esb_auth::BoxCredentials,
    /// A CA certificate (PEM) the engine's HTTPS certificate chains to, if not public.
    pub ca: Option<Vec<u8>>,
}

/// Reads the key pair and CA of `service`'s external engine (`service` is the flags'
/// prefix: `s3`, `dynamodb`, `sqs`); without a key pair, says which flags to set.
pub fn engine_access(
    service: &str,
    access_key_id: Option<&String>,
    secret_access_key: Option<&String>,
    ca: Option<&std::path::PathBuf>,
) -> Result<EngineAccess> {
    let (Some(id), Some(secret)) = (access_key_id, secret_access_key) else {
        let var = service.to_uppercase();
        anyhow::bail!(
            "--{service}-endpoint needs the engine's key pair: --{service}-access-key-id and --{service}-secret-access-key (or ESB_{var}_ACCESS_KEY_ID / ESB_{var}_SECRET_ACCESS_KEY)"
        );
    };
    let ca = match ca {
        Some(p) => Some(std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?),
        None => None,
    };
    Ok(EngineAccess {
        credentials: esb_auth::BoxCredentials {
            access_key_id: id.clone(),
            secret_access_key: secret.clone(),
        },
        ca,
    })
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

    #[test]
    fn an_external_engine_without_its_key_pair_names_the_flags_to_set() {
        let id = "AKIA".to_string();
        let err = super::engine_access("sqs", Some(&id), None, None)
            .err()
            .expect("no secret, no engine")
            .to_string();
        assert!(
            err.contains("--sqs-secret-access-key") && err.contains("ESB_SQS_SECRET_ACCESS_KEY"),
            "{err}"
        );
        let secret = "s".to_string();
        let access = super::engine_access("s3", Some(&id), Some(&secret), None).expect("key pair");
        assert_eq!(access.credentials.access_key_id, "AKIA");
        assert!(access.ca.is_none());
    }
}
