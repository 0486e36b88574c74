//! Signs requests as the AWS SDKs do, for ESB's own clients (`esb invoke`, `esb status`).

use std::time::SystemTime;

use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign,
};

use crate::credentials::{BoxCredentials, signing_params};
use crate::request::SignedRequest;

/// Why ESB's own client could not sign a request.
#[derive(Debug, thiserror::Error)]
#[error("cannot sign the request: {0}")]
pub struct SignError(String);

/// Signs a request as the AWS SDKs do (ESB's own clients: `esb invoke`, `esb status`):
/// the headers to add. `req.uri` is the absolute URL; `req.headers` must hold `host`.
pub fn sign_headers(
    creds: &BoxCredentials,
    region: &str,
    service: &str,
    req: &SignedRequest<'_>,
    at: SystemTime,
) -> Result<Vec<(String, String)>, SignError> {
    sign_with(
        creds,
        region,
        service,
        req,
        at,
        SignableBody::Bytes(req.body),
        SigningSettings::default(),
    )
}

/// Signs a request whose body streams (S3 uploads forwarded to another engine): the
/// payload is declared `UNSIGNED-PAYLOAD` in `x-amz-content-sha256`, as S3 allows over
/// TLS; `req.body` is ignored.
pub fn sign_headers_unsigned_payload(
    creds: &BoxCredentials,
    region: &str,
    service: &str,
    req: &SignedRequest<'_>,
    at: SystemTime,
) -> Result<Vec<(String, String)>, SignError> {
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    sign_with(
        creds,
        region,
        service,
        req,
        at,
        SignableBody::UnsignedPayload,
        settings,
    )
}

fn sign_with(
    creds: &BoxCredentials,
    region: &str,
    service: &str,
    req: &SignedRequest<'_>,
    at: SystemTime,
    body: SignableBody<'_>,
    settings: SigningSettings,
) -> Result<Vec<(String, String)>, SignError> {
    let fail = |e: &dyn std::fmt::Display| SignError(e.to_string());
    let identity = creds.identity();
    let params = signing_params(&identity, region, service, at, settings).map_err(|e| fail(&e))?;
    let mut headers = Vec::new();
    for (k, v) in req.headers {
        headers.push((k.as_str(), v.to_str().map_err(|e| fail(&e))?));
    }
    let signable = SignableRequest::new(req.method, req.uri, headers.into_iter(), body)
        .map_err(|e| fail(&e))?;
    let (instructions, _) = sign(signable, &params).map_err(|e| fail(&e))?.into_parts();
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}
