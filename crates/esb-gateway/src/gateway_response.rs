//! API Gateway's own answers ("gateway responses"), as opposed to a function's.
//!
//! When API Gateway cannot or will not hand a request to a function, or the function
//! does not produce a usable answer, it replies with a fixed status and a JSON body
//! `{"message": "..."}`. Clients and their tests match on these exact texts (for
//! instance "Missing Authentication Token" is what everyone sees for a wrong path), so
//! they live in one place with the wording AWS uses.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response, StatusCode};

/// One of API Gateway's fixed answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayResponse {
    /// 404: no resource matches the request path.
    NotFound,
    /// 403: the resource exists but has no method for the request's HTTP method.
    MissingAuthenticationToken,
    /// 500: the function could not be invoked (Lambda itself answered with an error).
    InternalServerError,
    /// 502: the function failed or answered something that is not a proxy response.
    BadGateway,
    /// 504: the function did not answer within the integration timeout.
    EndpointTimeout,
    /// 429: the function's concurrency (or the API's rate) is exhausted.
    Throttled,
}

impl GatewayResponse {
    pub fn status(self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MissingAuthenticationToken => StatusCode::FORBIDDEN,
            Self::InternalServerError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::BadGateway => StatusCode::BAD_GATEWAY,
            Self::EndpointTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Throttled => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The `message` API Gateway puts in the body.
    pub fn message(self) -> &'static str {
        match self {
            Self::NotFound => "Not Found",
            Self::MissingAuthenticationToken => "Missing Authentication Token",
            Self::InternalServerError | Self::BadGateway => "Internal server error",
            Self::EndpointTimeout => "Endpoint request timed out",
            Self::Throttled => "Too Many Requests",
        }
    }

    /// The body, `{"message":"..."}`.
    pub fn body(self) -> Bytes {
        Bytes::from(serde_json::json!({ "message": self.message() }).to_string())
    }

    /// The whole answer, with `Content-Type: application/json`.
    pub fn to_response(self) -> Response<Bytes> {
        let mut response = Response::new(self.body());
        *response.status_mut() = self.status();
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_json(r: &Response<Bytes>) -> serde_json::Value {
        serde_json::from_slice(r.body()).expect("gateway bodies are JSON")
    }

    #[test]
    fn each_answer_has_aws_status_and_message() {
        let cases = [
            (GatewayResponse::NotFound, 404, "Not Found"),
            (
                GatewayResponse::MissingAuthenticationToken,
                403,
                "Missing Authentication Token",
            ),
            (
                GatewayResponse::InternalServerError,
                500,
                "Internal server error",
            ),
            (GatewayResponse::BadGateway, 502, "Internal server error"),
            (
                GatewayResponse::EndpointTimeout,
                504,
                "Endpoint request timed out",
            ),
            (GatewayResponse::Throttled, 429, "Too Many Requests"),
        ];
        for (answer, status, message) in cases {
            let r = answer.to_response();
            assert_eq!(r.status().as_u16(), status, "{answer:?}");
            assert_eq!(body_json(&r), serde_json::json!({ "message": message }));
            assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        }
    }
}
