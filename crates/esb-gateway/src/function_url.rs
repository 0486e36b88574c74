//! Function URLs (`FunctionUrlConfig`): each such function answers under
//! `/lambda-url/<function>/...` on the gateway, with payload 2.0 events whose `rawPath`
//! is the part after the prefix, as the function's own URL would give it.

use std::sync::Arc;

use http::Uri;

use crate::auth::{Access, Guard};
use crate::routes::{ApiSettings, DEFAULT_ROUTE, EventFormat, RouteMatch};

/// Where function URLs live on the gateway.
pub const PREFIX: &str = "/lambda-url/";

/// A function URL's `AuthType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlAuth {
    None,
    AwsIam,
}

/// Why a function URL request is answered without calling the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    NoSuchUrl,
    Forbidden,
    BadPath,
}

/// The function and the URL the function sees, for a path under [`PREFIX`].
pub fn resolve(
    urls: &std::collections::HashMap<String, UrlAuth>,
    rest: &str,
    uri: &Uri,
) -> Result<(RouteMatch, Uri), Refused> {
    let (function, path) = match rest.split_once('/') {
        Some((f, p)) => (f, format!("/{p}")),
        None => (rest, "/".to_string()),
    };
    let guard = match urls.get(function) {
        None => return Err(Refused::NoSuchUrl),
        Some(UrlAuth::AwsIam) => Guard::Iam,
        Some(UrlAuth::None) => Guard::Open,
    };
    let path_and_query = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let inner: Uri = path_and_query.parse().map_err(|_| Refused::BadPath)?;
    Ok((
        RouteMatch {
            function: function.to_string(),
            resource: DEFAULT_ROUTE.to_string(),
            path_parameters: Default::default(),
            format: EventFormat::FunctionUrl,
            route_key: DEFAULT_ROUTE.to_string(),
            api: Arc::new(ApiSettings {
                id: url_id(function),
                stage: DEFAULT_ROUTE.to_string(),
                binary_media_types: Vec::new(),
                cors: None,
            }),
            access: Access {
                guard,
                api_key: false,
            },
        },
        inner,
    ))
}

/// The URL id of a function (the `<url-id>` of `<url-id>.lambda-url.<region>.on.aws`).
pub fn url_id(function: &str) -> String {
    function
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}
