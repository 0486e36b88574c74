//! Checks AWS Signature Version 4 against the key pair the box issued. The signature
//! is recomputed with the AWS SDK's own signer (`aws-sigv4`) over exactly the headers
//! the client says it signed, so any SDK, the AWS CLI or `curl --aws-sigv4` is accepted
//! the way AWS accepts it.
//!
//! Replays: like AWS, a signed request is honoured only within five minutes of its
//! `X-Amz-Date`. A repeat inside that window cannot be told from a legitimate one:
//! boto3 sends byte-identical signatures for two identical calls in the same second.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use sha2::{Digest, Sha256};

use crate::credentials::{BoxCredentials, signing_params};
use crate::error::AuthError;
use crate::request::SignedRequest;

/// How far a request's `X-Amz-Date` may be from the box's clock (AWS allows 5 min).
pub const MAX_SKEW: Duration = Duration::from_secs(300);

/// The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
struct Authorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, AuthError> {
    let incomplete = |what: &str| {
        AuthError::Incomplete(format!(
            "Authorization header requires '{what}' parameter. Authorization=AWS4-HMAC-SHA256 Credential=.../<date>/<region>/<service>/aws4_request, SignedHeaders=..., Signature=..."
        ))
    };
    let rest = value
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| AuthError::Incomplete("Only AWS4-HMAC-SHA256 is supported".into()))?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',').map(str::trim) {
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let credential = credential.ok_or_else(|| incomplete("Credential"))?;
    let signed = signed.ok_or_else(|| incomplete("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| incomplete("Signature"))?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, "aws4_request"] = scope[..] else {
        return Err(AuthError::Incomplete(format!(
            "Credential should be scoped to a valid region and service: <key>/<yyyymmdd>/<region>/<service>/aws4_request, not {credential}"
        )));
    };
    Ok(Authorization {
        access_key_id,
        date,
        region,
        service,
        signed_headers: signed.split(';').collect(),
        signature,
    })
}

const AMZ_DATE: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");

fn parse_amz_date(value: &str) -> Option<SystemTime> {
    time::PrimitiveDateTime::parse(value, AMZ_DATE)
        .ok()
        .map(|t| t.assume_utc().into())
}

fn format_amz_date(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(AMZ_DATE)
        .unwrap_or_default()
}

/// Accepts the request only if it is signed with `creds`, for `region` and `service`,
/// within [`MAX_SKEW`] of `now`.
pub fn verify(
    req: &SignedRequest<'_>,
    creds: &BoxCredentials,
    region: &str,
    service: &str,
    now: SystemTime,
) -> Result<(), AuthError> {
    let header = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok());
    let auth = parse_authorization(header("authorization").ok_or(AuthError::Missing)?)?;
    if auth.access_key_id != creds.access_key_id {
        return Err(AuthError::UnknownKey);
    }
    let amz_date = header("x-amz-date").ok_or_else(|| {
        AuthError::Incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                .into(),
        )
    })?;
    let signed_at = parse_amz_date(amz_date).ok_or_else(|| {
        AuthError::Incomplete(format!(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\", not {amz_date}"
        ))
    })?;
    if !amz_date.starts_with(auth.date) {
        return Err(AuthError::BadScope(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'",
            auth.date,
            &amz_date[..amz_date.len().min(8)]
        )));
    }
    if auth.region != region {
        return Err(AuthError::BadScope(format!(
            "Credential should be scoped to a valid region. This box is in '{region}', not '{}'.",
            auth.region
        )));
    }
    if auth.service != service {
        return Err(AuthError::BadScope(format!(
            "Credential should be scoped to correct service: '{service}'."
        )));
    }
    if signed_at + MAX_SKEW < now {
        return Err(AuthError::Expired {
            date: amz_date.to_string(),
            earliest: format_amz_date(now - MAX_SKEW),
            now: format_amz_date(now),
        });
    }
    if signed_at > now + MAX_SKEW {
        return Err(AuthError::NotYetValid {
            date: amz_date.to_string(),
            latest: format_amz_date(now + MAX_SKEW),
            now: format_amz_date(now),
        });
    }
    if !auth.signed_headers.contains(&"host") {
        return Err(AuthError::Incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    let body = match header("x-amz-content-sha256") {
        Some("UNSIGNED-PAYLOAD") => SignableBody::UnsignedPayload,
        Some(hash) => {
            if !hash.eq_ignore_ascii_case(&hex::encode(Sha256::digest(req.body))) {
                return Err(AuthError::Mismatch);
            }
            SignableBody::Precomputed(hash.to_string())
        }
        None => SignableBody::Bytes(req.body),
    };
    // Exactly the headers the client signed (all values of each, in order); the signer
    // adds `x-amz-date` from the time given and must exclude nothing.
    let mut signed = Vec::new();
    for name in auth.signed_headers.iter().filter(|n| **n != "x-amz-date") {
        let mut values = req.headers.get_all(*name).iter().peekable();
        if values.peek().is_none() {
            return Err(AuthError::Mismatch);
        }
        for v in values {
            signed.push((*name, v.to_str().map_err(|_| AuthError::Mismatch)?));
        }
    }
    let mut settings = SigningSettings::default();
    settings.excluded_headers = None;
    if req.headers.contains_key("x-amz-security-token")
        && !auth.signed_headers.contains(&"x-amz-security-token")
    {
        settings.session_token_mode = aws_sigv4::http_request::SessionTokenMode::Exclude;
    }
    let identity = creds.identity();
    let params = signing_params(&identity, region, service, signed_at, settings)
        .map_err(|_| AuthError::Mismatch)?;
    let signable =
        SignableRequest::new(req.method, Cow::Borrowed(req.uri), signed.into_iter(), body)
            .map_err(|_| AuthError::Mismatch)?;
    let expected = sign(signable, &params).map_err(|_| AuthError::Mismatch)?;
    if crate::secret::constant_time_eq(expected.signature().as_bytes(), auth.signature.as_bytes()) {
        Ok(())
    } else {
        Err(AuthError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sigv4::sign::v4;
    use http::HeaderMap;

    fn creds() -> BoxCredentials {
        BoxCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        }
    }

    /// Signs as an SDK would, with the SDK's signer.
    fn signed(uri: &str, body: &[u8], at: SystemTime, region: &str) -> HeaderMap {
        let identity = aws_credential_types::Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "t",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name("lambda")
            .time(at)
            .settings(SigningSettings::default())
            .build()
            .expect("params")
            .into();
        let headers = [
            ("host", "127.0.0.1:8443"),
            ("content-type", "application/json"),
        ];
        let req = SignableRequest::new("POST", uri, headers.into_iter(), SignableBody::Bytes(body))
            .expect("signable");
        let (instructions, _) = sign(req, &params).expect("sign").into_parts();
        let mut map = HeaderMap::new();
        for (k, v) in headers.into_iter().chain(instructions.headers()) {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                v.parse().expect("value"),
            );
        }
        map
    }

    fn check(
        uri: &str,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), AuthError> {
        let req = SignedRequest {
            method: "POST",
            uri,
            headers,
            body,
        };
        verify(&req, &creds(), "us-east-1", "lambda", now)
    }

    const URI: &str = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Aecho/invocations?Qualifier=%24LATEST";

    #[test]
    fn accepts_what_the_sdk_signs_and_rejects_any_change() {
        let now = SystemTime::now();
        let h = signed(URI, b"{\"a\":1}", now, "us-east-1");
        assert_eq!(check(URI, &h, b"{\"a\":1}", now), Ok(()));
        assert_eq!(check(URI, &h, b"{\"a\":2}", now), Err(AuthError::Mismatch));
        let other = URI.replace("echo", "other");
        assert_eq!(
            check(&other, &h, b"{\"a\":1}", now),
            Err(AuthError::Mismatch)
        );
        let mut tampered = h.clone();
        tampered.insert("content-type", "text/plain".parse().expect("value"));
        assert_eq!(
            check(URI, &tampered, b"{\"a\":1}", now),
            Err(AuthError::Mismatch)
        );
    }

    #[test]
    fn old_and_future_requests_are_refused() {
        let now = SystemTime::now();
        let old = signed(URI, b"", now - Duration::from_secs(301), "us-east-1");
        let e = check(URI, &old, b"", now).expect_err("expired");
        assert_eq!(e.error_type(), "InvalidSignatureException");
        assert!(e.to_string().starts_with("Signature expired"), "{e}");
        let future = signed(URI, b"", now + Duration::from_secs(301), "us-east-1");
        assert!(matches!(
            check(URI, &future, b"", now),
            Err(AuthError::NotYetValid { .. })
        ));
        let recent = signed(URI, b"", now - Duration::from_secs(200), "us-east-1");
        assert_eq!(check(URI, &recent, b"", now), Ok(()));
    }

    #[test]
    fn wrong_key_region_or_missing_parts_name_the_problem() {
        let now = SystemTime::now();
        let h = signed(URI, b"", now, "eu-west-1");
        assert!(matches!(
            check(URI, &h, b"", now),
            Err(AuthError::BadScope(_))
        ));
        let mut unknown = signed(URI, b"", now, "us-east-1");
        let v = unknown["authorization"]
            .to_str()
            .expect("ascii")
            .replace("AKIDEXAMPLE", "AKIDOTHER");
        unknown.insert("authorization", v.parse().expect("value"));
        assert_eq!(check(URI, &unknown, b"", now), Err(AuthError::UnknownKey));
        assert_eq!(
            check(URI, &HeaderMap::new(), b"", now),
            Err(AuthError::Missing)
        );
        let mut partial = HeaderMap::new();
        partial.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/lambda/aws4_request"
                .parse()
                .expect("value"),
        );
        let e = check(URI, &partial, b"", now).expect_err("incomplete");
        assert_eq!(e.error_type(), "IncompleteSignatureException");
    }

    #[test]
    fn the_secret_is_not_in_debug_output() {
        assert!(!format!("{:?}", creds()).contains("wJalr"));
    }

    /// Signed by botocore 1.40 (SigV4Auth) for an empty-bodied DryRun invoke.
    #[test]
    fn an_empty_body_signed_by_botocore() {
        let mut h = HeaderMap::new();
        h.insert("host", "127.0.0.1:9443".parse().expect("v"));
        h.insert("x-amz-invocation-type", "DryRun".parse().expect("v"));
        h.insert("x-amz-date", "20261129T060318Z".parse().expect("v"));
        h.insert("content-length", "0".parse().expect("v"));
        h.insert("authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261129/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date;x-amz-invocation-type, Signature=3d91e46ce75f954566b62ecc53b28ae858e420766044f6b9454ecd64681a5dac".parse().expect("v"));
        let req = SignedRequest {
            method: "POST",
            uri: "/2015-03-31/functions/rest/invocations",
            headers: &h,
            body: b"",
        };
        let creds = BoxCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        };
        let at = parse_amz_date("20261129T060318Z").expect("date");
        assert_eq!(verify(&req, &creds, "us-east-1", "lambda", at), Ok(()));
    }
}
