//! An external SQS engine (AWS SQS, ElasticMQ, moto) behind the box's SQS listener.
//! Functions keep one endpoint and one key pair, the box's: the listener verifies the
//! box's signature, then forwards the request, re-signed with the engine's key, in the
//! protocol it came in (JSON or query), and hands the answer back.
//!
//! Queue URLs are the one thing translated. Clients hold the box's URLs
//! (`<scheme>://<host they used>/<box account>/<name>`, what a template's `!Ref` gives),
//! so a request's `QueueUrl` (or the queue URL a query request is posted to) becomes
//! the engine's URL of the queue of that name (asked of the engine once, then
//! remembered), and the queue URLs in answers become the box's again. ARNs pass
//! unchanged: they name the engine's account and region.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde_json::{Value, json};

use crate::error::{ErrorKind, SqsError};
use crate::input::Input;
use crate::queue_mapping::{CallError, SqsClient};

/// The largest answer read from the engine: ten messages of the largest size, with
/// their attributes, encoded, and room to spare.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;
const JSON_TYPE: &str = "application/x-amz-json-1.0";
const FORM_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
/// Request headers that go on to the engine (signed with the rest).
const FORWARDED_REQUEST_HEADERS: [&str; 1] = ["x-amzn-query-mode"];
/// Answer headers that come back to the client.
const FORWARDED_ANSWER_HEADERS: [&str; 3] =
    ["content-type", "x-amzn-requestid", "x-amzn-query-error"];

/// Where the engine is, the key it knows, and the queue URLs it gave.
pub struct Engine {
    client: SqsClient,
    /// The engine's queue URLs, by queue name.
    urls: Mutex<HashMap<String, String>>,
}

impl Engine {
    /// The engine at `endpoint` (`http(s)://host[:port]`), signed for with
    /// `credentials` and `region`; `ca` (PEM) when its certificate does not chain to a
    /// public root.
    pub fn new(
        endpoint: &str,
        credentials: esb_auth::BoxCredentials,
        region: &str,
        ca: Option<&[u8]>,
    ) -> Result<Self, CallError> {
        let scheme_ok = ["http://", "https://"]
            .iter()
            .any(|s| endpoint.to_ascii_lowercase().starts_with(s));
        if !scheme_ok {
            return Err(CallError::Transport(format!(
                "`{endpoint}` is not an http(s)://host[:port] URL"
            )));
        }
        Ok(Self {
            client: SqsClient::new(endpoint, credentials, region, ca)?.by_queue_name(),
            urls: Mutex::new(HashMap::new()),
        })
    }

    /// The engine's endpoint.
    pub fn endpoint(&self) -> &str {
        self.client.endpoint()
    }

    /// A client of the engine with the engine's key, which finds queues by name alone
    /// (the box's ARNs name the box's account, not the engine's).
    pub fn client(&self) -> SqsClient {
        self.client.clone()
    }

    /// The engine's URL of the queue `name` (asked once, then remembered).
    pub async fn queue_url(&self, name: &str) -> Result<String, CallError> {
        if let Some(url) = self.cached(name) {
            return Ok(url);
        }
        let answer = self
            .client
            .call("GetQueueUrl", &json!({"QueueName": name}))
            .await?;
        let url = answer
            .get("QueueUrl")
            .and_then(Value::as_str)
            .ok_or_else(|| CallError::Transport("GetQueueUrl answered without QueueUrl".into()))?
            .to_string();
        self.remember(name, &url);
        Ok(url)
    }

    fn cached(&self, name: &str) -> Option<String> {
        self.urls.lock().ok()?.get(name).cloned()
    }

    pub(crate) fn remember(&self, name: &str, url: &str) {
        if let Ok(mut urls) = self.urls.lock() {
            urls.insert(name.to_string(), url.to_string());
        }
    }

    fn forget(&self, name: &str) {
        if let Ok(mut urls) = self.urls.lock() {
            urls.remove(name);
        }
    }

    /// The engine's URL for a client's queue URL (the box's, or any whose last path
    /// segment is the queue's name).
    async fn engine_url_of(&self, client_url: &str) -> Result<String, SqsError> {
        let name = queue_name_of_url(client_url).ok_or_else(SqsError::no_queue)?;
        self.queue_url(name).await.map_err(|e| lookup_error(&e))
    }

    /// Forwards a JSON-protocol request for `operation`; `box_base` is
    /// `<scheme>://<host>/<box account>`, what the answer's queue URLs start with.
    pub(crate) async fn forward_json(
        &self,
        operation: &str,
        headers: &HeaderMap,
        body: &[u8],
        box_base: &str,
    ) -> Result<Response<Full<Bytes>>, SqsError> {
        let mut input = Input::parse(body)?.0;
        let mut queue = None;
        if let Some(Value::String(url)) = input.get("QueueUrl") {
            let url = url.clone();
            queue = queue_name_of_url(&url).map(str::to_string);
            let engine_url = self.engine_url_of(&url).await?;
            input.insert("QueueUrl".into(), Value::String(engine_url));
        }
        let body = serde_json::to_vec(&input).map_err(SqsError::internal)?;
        let content_type = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(JSON_TYPE);
        let resp = self
            .client
            .post(content_type, Some(operation), &passed_on(headers), body)
            .await
            .map_err(|e| unavailable(&e))?;
        let (status, answer_headers, answer) = read_answer(resp).await?;
        if status.is_success() && operation == "DeleteQueue" {
            queue.iter().for_each(|q| self.forget(q));
        }
        let answer = match serde_json::from_slice::<Value>(&answer) {
            Ok(mut v) if status.is_success() => {
                self.box_urls_in_json(&mut v, box_base);
                Bytes::from(v.to_string())
            }
            _ => answer,
        };
        Ok(response(status, &answer_headers, answer))
    }

    /// Forwards a query-protocol request: its form (`pairs`, from the URL's query and
    /// the body), posted to the queue `path_queue` names when it was posted to a queue
    /// URL. Always sent on as a form POST to the engine's root.
    pub(crate) async fn forward_query(
        &self,
        mut pairs: Vec<(String, String)>,
        path_queue: Option<&str>,
        headers: &HeaderMap,
        box_base: &str,
    ) -> Result<Response<Full<Bytes>>, SqsError> {
        let client_url = match path_queue {
            Some(name) => Some(name.to_string()),
            None => pairs
                .iter()
                .find(|(k, _)| k == "QueueUrl")
                .map(|(_, v)| v.clone()),
        };
        // A presigned request's signature is the box's, not for the engine.
        pairs.retain(|(k, _)| !is_signature_param(k));
        let mut queue = None;
        if let Some(url) = client_url {
            queue = queue_name_of_url(&url).map(str::to_string);
            let engine_url = self.engine_url_of(&url).await?;
            pairs.retain(|(k, _)| k != "QueueUrl");
            pairs.push(("QueueUrl".into(), engine_url));
        }
        let deletes = pairs
            .iter()
            .any(|(k, v)| k == "Action" && v == "DeleteQueue");
        let body = encode_form(&pairs).into_bytes();
        let resp = self
            .client
            .post(FORM_TYPE, None, &passed_on(headers), body)
            .await
            .map_err(|e| unavailable(&e))?;
        let (status, answer_headers, answer) = read_answer(resp).await?;
        if status.is_success() && deletes {
            queue.iter().for_each(|q| self.forget(q));
        }
        let answer = if status.is_success() {
            match std::str::from_utf8(&answer) {
                Ok(text) => Bytes::from(self.box_urls_in_xml(text, box_base)),
                Err(_) => answer,
            }
        } else {
            answer
        };
        Ok(response(status, &answer_headers, answer))
    }

    /// The engine's queue URL `url` as the box's (remembering it on the way).
    fn box_url(&self, url: &str, box_base: &str) -> String {
        match queue_name_of_url(url) {
            Some(name) => {
                self.remember(name, url);
                format!("{box_base}/{name}")
            }
            None => url.to_string(),
        }
    }

    /// `QueueUrl` and `QueueUrls` of a JSON answer (CreateQueue, GetQueueUrl,
    /// ListQueues, ListDeadLetterSourceQueues), as the box's URLs.
    fn box_urls_in_json(&self, answer: &mut Value, box_base: &str) {
        let Some(map) = answer.as_object_mut() else {
            return;
        };
        if let Some(Value::String(url)) = map.get_mut("QueueUrl") {
            *url = self.box_url(url, box_base);
        }
        if let Some(Value::Array(urls)) = map.get_mut("QueueUrls") {
            for u in urls.iter_mut() {
                if let Value::String(url) = u {
                    *url = self.box_url(url, box_base);
                }
            }
        }
    }

    /// Every `<QueueUrl>` of an XML answer, as the box's URL.
    fn box_urls_in_xml(&self, text: &str, box_base: &str) -> String {
        const OPEN: &str = "<QueueUrl>";
        const CLOSE: &str = "</QueueUrl>";
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find(OPEN) {
            let inner_start = start + OPEN.len();
            let Some(len) = rest[inner_start..].find(CLOSE) else {
                break;
            };
            out.push_str(&rest[..inner_start]);
            let url = xml_unescape(rest[inner_start..inner_start + len].trim());
            crate::query_protocol::escape(&self.box_url(&url, box_base), &mut out);
            rest = &rest[inner_start + len..];
        }
        out.push_str(rest);
        out
    }
}

/// The queue name a queue URL ends with (`None` when it has no path).
pub(crate) fn queue_name_of_url(url: &str) -> Option<&str> {
    let path = match url.find("://") {
        Some(i) => url[i + 3..].find('/').map(|j| &url[i + 3 + j..])?,
        None => url,
    };
    path.split(['?', '#'])
        .next()?
        .split('/')
        .rfind(|s| !s.is_empty())
}

/// A parameter of a presigned (query-string) signature.
fn is_signature_param(name: &str) -> bool {
    [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
    ]
    .iter()
    .any(|p| p.eq_ignore_ascii_case(name))
}

/// The client's headers the engine should see too.
fn passed_on(headers: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    FORWARDED_REQUEST_HEADERS
        .iter()
        .filter_map(|name| {
            let v = headers.get(*name)?;
            Some((HeaderName::from_static(name), v.clone()))
        })
        .collect()
}

/// The engine's status, the headers the client gets, and its body (bounded).
async fn read_answer(
    mut resp: reqwest::Response,
) -> Result<(StatusCode, HeaderMap, Bytes), SqsError> {
    let status = StatusCode::from_u16(resp.status().as_u16()).map_err(SqsError::internal)?;
    let mut headers = HeaderMap::new();
    for name in FORWARDED_ANSWER_HEADERS {
        if let Some(v) = resp.headers().get(name)
            && let Ok(v) = HeaderValue::from_bytes(v.as_bytes())
        {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
    let too_large = || {
        SqsError::new(
            ErrorKind::ServiceUnavailable,
            format!("The SQS engine's answer exceeds {MAX_ANSWER_BYTES} bytes."),
        )
    };
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return Err(unavailable(&CallError::Transport(e.to_string()))),
        }
    }
    Ok((status, headers, Bytes::from(body)))
}

fn response(status: StatusCode, headers: &HeaderMap, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut().extend(headers.clone());
    resp
}

/// The engine did not answer (or answered what is no SQS answer).
fn unavailable(e: &CallError) -> SqsError {
    tracing::error!(service = "sqs", "the SQS engine did not answer: {e}");
    SqsError::new(
        ErrorKind::ServiceUnavailable,
        "The external SQS engine did not answer; try again.",
    )
}

/// A failed lookup of a queue URL on the engine, in SQS's words.
fn lookup_error(e: &CallError) -> SqsError {
    match e {
        CallError::Api { error_type, .. }
            if error_type.contains("QueueDoesNotExist")
                || error_type.contains("NonExistentQueue") =>
        {
            SqsError::no_queue()
        }
        CallError::Api { message, .. } => SqsError::invalid(message.clone()),
        CallError::Transport(_) => unavailable(e),
    }
}

/// A form body, each name and value percent-encoded (all but RFC 3986's unreserved).
fn encode_form(pairs: &[(String, String)]) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encoding::utf8_percent_encode(k, SET),
                percent_encoding::utf8_percent_encode(v, SET)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        let creds = esb_auth::BoxCredentials {
            access_key_id: "k".into(),
            secret_access_key: "s".into(),
        };
        Engine::new("http://127.0.0.1:1", creds, "us-east-1", None).unwrap()
    }

    #[test]
    fn queue_names_of_urls() {
        assert_eq!(
            queue_name_of_url("https://127.0.0.1:9324/000000000000/jobs"),
            Some("jobs")
        );
        assert_eq!(
            queue_name_of_url("http://localhost:4566/queue/jobs.fifo/"),
            Some("jobs.fifo")
        );
        assert_eq!(queue_name_of_url("http://host"), None);
        assert_eq!(queue_name_of_url("/1/jobs?x=1"), Some("jobs"));
    }

    #[test]
    fn answers_get_the_boxs_queue_urls() {
        let e = engine();
        let base = "https://box:9324/000000000000";
        let mut v = json!({"QueueUrls": ["http://moto:5000/123456789012/a", "http://moto:5000/123456789012/b"]});
        e.box_urls_in_json(&mut v, base);
        assert_eq!(
            v,
            json!({"QueueUrls": [format!("{base}/a"), format!("{base}/b")]})
        );
        assert_eq!(
            e.cached("a").as_deref(),
            Some("http://moto:5000/123456789012/a")
        );
        let xml = "<R><GetQueueUrlResult><QueueUrl>http://moto:5000/1/c&amp;</QueueUrl></GetQueueUrlResult><QueueUrl>http://m/1/d</QueueUrl></R>";
        assert_eq!(
            e.box_urls_in_xml(xml, base),
            format!(
                "<R><GetQueueUrlResult><QueueUrl>{base}/c&amp;</QueueUrl></GetQueueUrlResult><QueueUrl>{base}/d</QueueUrl></R>"
            )
        );
    }

    #[test]
    fn presign_parameters_are_the_boxs() {
        assert!(is_signature_param("X-Amz-Signature"));
        assert!(is_signature_param("x-amz-credential"));
        assert!(!is_signature_param("QueueUrl"));
    }

    #[test]
    fn forms_are_encoded_for_the_engine() {
        let pairs = vec![
            ("Action".to_string(), "SendMessage".to_string()),
            ("MessageBody".to_string(), "a b&c=é".to_string()),
        ];
        let text = encode_form(&pairs);
        assert_eq!(text, "Action=SendMessage&MessageBody=a%20b%26c%3D%C3%A9");
        assert_eq!(
            crate::query_protocol::parse_form(text.as_bytes()).unwrap(),
            pairs
        );
    }
}
