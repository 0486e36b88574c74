//! API Gateway routing and event building: the route table (REST `{param}` and
//! `{proxy+}`, HTTP API routes, `$default`) looked up with a request's method and
//! path, then the payload 1.0 and 2.0 events built of the request. Input: routes, one
//! `METHOD /path format` line each (format: rest, v1, v2, url) `%%` a raw HTTP request.
//! Invariants: a found route is one of the table's, for the request's method or ANY;
//! every event is a JSON object whose body gives back the request's bytes.
#![no_main]

use std::sync::Arc;

use base64::Engine;
use esb_fuzz::{parts, raw_request};
use esb_gateway::proxy_request::ProxyRequest;
use esb_gateway::routes::{ApiRoute, ApiSettings, EventFormat, Lookup, RouteTable};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 2);
    let Ok(table_text) = std::str::from_utf8(p[0]) else {
        return;
    };
    let mut routes = Vec::new();
    for (i, line) in table_text.lines().enumerate().take(64) {
        let mut words = line.split(' ');
        let (Some(method), Some(path)) = (words.next(), words.next()) else {
            continue;
        };
        let format = match words.next() {
            Some("v1") => EventFormat::HttpV1,
            Some("v2") => EventFormat::HttpV2,
            Some("url") => EventFormat::FunctionUrl,
            _ => EventFormat::Rest,
        };
        routes.push(ApiRoute {
            method: method.to_string(),
            path: path.to_string(),
            function: format!("f{i}"),
            format,
            api: ApiSettings::implicit(format),
            access: Default::default(),
        });
    }
    let table = RouteTable::new(routes.clone());
    let Some(req) = raw_request(p[1]) else {
        return;
    };
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let Lookup::Found(found) = table.lookup(&method, &path) else {
        return;
    };
    assert!(
        routes.iter().any(|r| r.function == found.function
            && (r.method.eq_ignore_ascii_case(&method)
                || r.method.eq_ignore_ascii_case("ANY")
                || r.path == "$default")),
        "{method} {path} found {found:?}, not a route of the table"
    );
    let _ = table.routes_of(&found.function);
    let settings = Arc::new(ApiSettings {
        binary_media_types: vec!["image/*".into(), "application/octet-stream".into()],
        ..(*found.api).clone()
    });
    let _ = settings.is_binary(
        req.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
    );
    let proxy = ProxyRequest {
        method: req.method(),
        uri: req.uri(),
        headers: req.headers(),
        body: req.body(),
        source_ip: [127, 0, 0, 1].into(),
        route: &found,
        stage: &found.api.stage,
        request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        api_id: &found.api.id,
        account_id: "123456789012",
        region: "us-east-1",
    };
    let events = [
        esb_gateway::proxy_event::build(&proxy),
        esb_gateway::http_event::build(&proxy),
    ];
    for event in events {
        assert!(event.is_object());
        let text = serde_json::to_string(&event).expect("an event serialises");
        let back: Value = serde_json::from_str(&text).expect("an event reads back");
        assert_eq!(back, event);
        match (&event["body"], &event["isBase64Encoded"]) {
            (Value::String(body), Value::Bool(true)) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(body)
                    .expect("a base64 body decodes");
                assert_eq!(bytes, req.body().as_ref(), "base64 body differs");
            }
            (Value::String(body), _) => {
                assert_eq!(body.as_bytes(), req.body().as_ref(), "text body differs");
            }
            _ => {}
        }
    }
});
