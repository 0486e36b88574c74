//! CORS for HTTP API routes (`CorsConfiguration`), applied by the gateway as API
//! Gateway applies it: preflight `OPTIONS` requests are answered without calling a
//! function, and answers to allowed origins get the `Access-Control-*` headers
//! (replacing any the function set).

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsRules {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age: Option<u32>,
    pub allow_credentials: bool,
}

impl CorsRules {
    /// The `Access-Control-Allow-Origin` value for `origin`, if it is allowed.
    fn allowed_origin(&self, origin: &str) -> Option<String> {
        if self.allow_origins.iter().any(|o| o == "*") {
            return Some("*".to_string());
        }
        self.allow_origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin))
            .then(|| origin.to_string())
    }

    /// Whether `req` is a preflight request (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`); the method it asks about.
    pub fn preflight_method(method: &http::Method, headers: &HeaderMap) -> Option<String> {
        if method != http::Method::OPTIONS || !headers.contains_key(header::ORIGIN) {
            return None;
        }
        headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_uppercase)
    }

    /// API Gateway's answer to a preflight: 204, with the rules when origin and method
    /// are allowed, without them otherwise.
    pub fn preflight(&self, headers: &HeaderMap, method: &str) -> Response {
        let mut resp = StatusCode::NO_CONTENT.into_response();
        let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        let method_ok = self.allow_methods.iter().any(|m| m == "*" || m == method);
        let Some(allowed) = origin
            .filter(|_| method_ok)
            .and_then(|o| self.allowed_origin(o))
        else {
            return resp;
        };
        let h = resp.headers_mut();
        set(h, header::ACCESS_CONTROL_ALLOW_ORIGIN, &allowed);
        set(
            h,
            header::ACCESS_CONTROL_ALLOW_METHODS,
            &self.allow_methods.join(","),
        );
        if !self.allow_headers.is_empty() {
            set(
                h,
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                &self.allow_headers.join(","),
            );
        }
        if let Some(age) = self.max_age {
            set(h, header::ACCESS_CONTROL_MAX_AGE, &age.to_string());
        }
        if self.allow_credentials {
            set(h, header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
        }
        resp
    }

    /// Adds the CORS headers to an answer for a request from an allowed origin.
    pub fn decorate(&self, request: &HeaderMap, resp: &mut Response) {
        let Some(allowed) = request
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .and_then(|o| self.allowed_origin(o))
        else {
            return;
        };
        let h = resp.headers_mut();
        set(h, header::ACCESS_CONTROL_ALLOW_ORIGIN, &allowed);
        if !self.expose_headers.is_empty() {
            set(
                h,
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                &self.expose_headers.join(","),
            );
        }
        if self.allow_credentials {
            set(h, header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
        }
    }
}

fn set(h: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> CorsRules {
        CorsRules {
            allow_origins: vec!["https://app.example".into()],
            allow_methods: vec!["GET".into(), "POST".into()],
            allow_headers: vec!["content-type".into()],
            expose_headers: vec!["x-handler".into()],
            max_age: Some(600),
            allow_credentials: true,
        }
    }

    fn headers(origin: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ORIGIN, origin.parse().expect("origin"));
        h
    }

    #[test]
    fn preflights_and_answers_follow_the_rules() {
        let r = rules();
        let ok = r.preflight(&headers("https://app.example"), "POST");
        assert_eq!(ok.status(), 204);
        assert_eq!(
            ok.headers()["access-control-allow-origin"],
            "https://app.example"
        );
        assert_eq!(ok.headers()["access-control-allow-methods"], "GET,POST");
        assert_eq!(ok.headers()["access-control-max-age"], "600");
        for refused in [
            r.preflight(&headers("https://evil.example"), "GET"),
            r.preflight(&headers("https://app.example"), "DELETE"),
        ] {
            assert_eq!(refused.status(), 204);
            assert!(
                !refused
                    .headers()
                    .contains_key("access-control-allow-origin")
            );
        }
        let mut resp = StatusCode::OK.into_response();
        r.decorate(&headers("https://app.example"), &mut resp);
        assert_eq!(resp.headers()["access-control-expose-headers"], "x-handler");
        assert_eq!(resp.headers()["access-control-allow-credentials"], "true");
    }
}
