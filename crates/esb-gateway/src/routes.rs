//! The API's route table, matched the way API Gateway matches resources: literal
//! segments beat `{param}`, which beats a greedy `{proxy+}`; a method beats ANY; an
//! HTTP API's `$default` route takes what nothing else does. REST and HTTP API routes
//! share the table (one port), each keeping the event format its function receives.

use std::collections::BTreeMap;
use std::sync::Arc;

use percent_encoding::percent_decode_str;

use crate::auth::Access;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Segment {
    /// Ranks: greedy < param < literal (higher wins).
    Greedy(String),
    Param(String),
    Literal(String),
}

/// The event a route's function receives, and how its answer is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFormat {
    /// A REST API (`Type: Api`): payload 1.0.
    Rest,
    /// An HTTP API route with `PayloadFormatVersion: "1.0"`.
    HttpV1,
    /// An HTTP API route (`Type: HttpApi`): payload 2.0.
    HttpV2,
    /// A function URL: payload 2.0, its own error answers.
    FunctionUrl,
}

impl EventFormat {
    /// Payload 2.0 (cookies, the plain-JSON shortcut).
    pub fn is_v2(self) -> bool {
        matches!(self, EventFormat::HttpV2 | EventFormat::FunctionUrl)
    }
}

/// One route of the template: method (or ANY), resource path (or `$default`), function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRoute {
    pub method: String,
    pub path: String,
    pub function: String,
    pub format: EventFormat,
    /// The API (implicit or explicit) the route belongs to.
    pub api: Arc<ApiSettings>,
    /// What the caller must show before the function runs.
    pub access: Access,
}

/// The id of the implicit APIs, in events and ARNs.
pub const API_ID: &str = "esblocal";
/// The implicit REST API's stage.
pub const STAGE: &str = "Prod";
/// HTTP APIs' default stage.
pub const HTTP_STAGE: &str = "$default";

/// An API's settings that shape its routes' events and answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSettings {
    /// The id in events and ARNs (`requestContext.apiId`).
    pub id: String,
    /// `StageName`: `requestContext.stage`, and the stage of `methodArn`.
    pub stage: String,
    /// REST `BinaryMediaTypes`: request bodies of these types reach the function
    /// base64-encoded, and base64 answers of these types are decoded.
    pub binary_media_types: Vec<String>,
    /// The API's own CORS rules (HTTP API `CorsConfiguration`, REST `Cors`).
    pub cors: Option<crate::cors::CorsRules>,
}

impl ApiSettings {
    /// Whether a body of `content_type` (or an `Accept` list) is binary for this API:
    /// one of its `BinaryMediaTypes` matches, `*` wildcards included.
    pub fn is_binary(&self, content_type: Option<&str>) -> bool {
        let Some(content_type) = content_type else {
            return false;
        };
        content_type.split(',').any(|candidate| {
            let candidate = candidate.split(';').next().unwrap_or("").trim();
            let (kind, sub) = candidate.split_once('/').unwrap_or((candidate, ""));
            self.binary_media_types.iter().any(|pattern| {
                let (pk, ps) = pattern.split_once('/').unwrap_or((pattern, ""));
                (pk == "*" || pk.eq_ignore_ascii_case(kind))
                    && (ps == "*" || ps.eq_ignore_ascii_case(sub))
            })
        })
    }

    /// The implicit API of a route format: `ServerlessRestApi` (stage `Prod`) or
    /// `ServerlessHttpApi` (stage `$default`).
    pub fn implicit(format: EventFormat) -> Arc<Self> {
        Arc::new(Self {
            id: API_ID.into(),
            stage: if format == EventFormat::Rest {
                STAGE
            } else {
                HTTP_STAGE
            }
            .into(),
            binary_media_types: Vec::new(),
            cors: None,
        })
    }
}

/// The route key of an HTTP API's catch-all route.
pub const DEFAULT_ROUTE: &str = "$default";

#[derive(Debug, Clone)]
struct Route {
    segments: Vec<Segment>,
    route: ApiRoute,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    pub function: String,
    /// The matched resource pattern, e.g. `/items/{id}`, or `$default`.
    pub resource: String,
    pub path_parameters: BTreeMap<String, String>,
    pub format: EventFormat,
    /// HTTP APIs' `routeKey`: `GET /items/{id}`, `ANY /files/{proxy+}` or `$default`.
    pub route_key: String,
    pub api: Arc<ApiSettings>,
    pub access: Access,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(RouteMatch),
    /// No resource has this path: 404 `{"message":"Not Found"}`.
    NoResource,
    /// A REST resource exists without this method: 403 `Missing Authentication Token`,
    /// as API Gateway answers (HTTP APIs answer 404: that is `NoResource`).
    NoMethod,
}

/// A matching route: its segment ranks, method rank, the route and its path parameters.
type Candidate<'a> = (Vec<u8>, u8, &'a Route, BTreeMap<String, String>);

#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
    /// An HTTP API's `$default` route.
    default: Option<ApiRoute>,
}

impl RouteTable {
    /// Paths are validated by the template loader.
    pub fn new(routes: impl IntoIterator<Item = ApiRoute>) -> Self {
        let mut table = Self::default();
        for mut r in routes {
            if r.path == DEFAULT_ROUTE {
                table.default = Some(r);
                continue;
            }
            r.method = r.method.to_ascii_uppercase();
            table.routes.push(Route {
                segments: parse(&r.path),
                route: r,
            });
        }
        table
    }

    /// The (method, path) routes that go to `function`.
    pub fn routes_of(&self, function: &str) -> Vec<(String, String)> {
        self.routes
            .iter()
            .map(|r| &r.route)
            .chain(&self.default)
            .filter(|r| r.function == function)
            .map(|r| (r.method.clone(), r.path.clone()))
            .collect()
    }

    pub fn lookup(&self, method: &str, path: &str) -> Lookup {
        // API Gateway serves `/x/` as `/x`.
        let path = match path.strip_suffix('/') {
            Some(p) if !p.is_empty() => p,
            _ => path,
        };
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let parts: Vec<&str> = if path == "/" { Vec::new() } else { parts };
        let mut best: Option<Candidate<'_>> = None;
        let mut rest_path_known = false;
        for route in &self.routes {
            let Some((rank, params)) = matches(&route.segments, &parts) else {
                continue;
            };
            rest_path_known |= route.route.format == EventFormat::Rest;
            let method_rank = if route.route.method == method {
                2
            } else if route.route.method == "ANY" {
                1
            } else {
                continue;
            };
            let better = best
                .as_ref()
                .is_none_or(|(r, m, _, _)| (&rank, method_rank) > (r, *m));
            if better {
                best = Some((rank, method_rank, route, params));
            }
        }
        match (best, &self.default) {
            (Some((_, _, route, path_parameters)), _) => {
                let r = &route.route;
                Lookup::Found(RouteMatch {
                    path_parameters,
                    route_key: format!("{} {}", r.method, r.path),
                    ..RouteMatch::of(r)
                })
            }
            (None, Some(r)) => Lookup::Found(RouteMatch::of(r)),
            (None, None) if rest_path_known => Lookup::NoMethod,
            (None, None) => Lookup::NoResource,
        }
    }
}

impl RouteMatch {
    /// A match of `r` without path parameters (its `$default` form).
    fn of(r: &ApiRoute) -> Self {
        Self {
            function: r.function.clone(),
            resource: r.path.clone(),
            path_parameters: BTreeMap::new(),
            format: r.format,
            route_key: DEFAULT_ROUTE.to_string(),
            api: Arc::clone(&r.api),
            access: r.access.clone(),
        }
    }
}

fn parse(resource: &str) -> Vec<Segment> {
    if resource == "/" {
        return Vec::new();
    }
    resource
        .trim_start_matches('/')
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(inner) => match inner.strip_suffix('+') {
                    Some(name) => Segment::Greedy(name.to_string()),
                    None => Segment::Param(inner.to_string()),
                },
                None => Segment::Literal(s.to_string()),
            },
        )
        .collect()
}

/// The per-segment rank vector (for precedence) and the path parameters, if it matches.
fn matches(segments: &[Segment], parts: &[&str]) -> Option<(Vec<u8>, BTreeMap<String, String>)> {
    let mut rank = Vec::new();
    let mut params = BTreeMap::new();
    for (i, seg) in segments.iter().enumerate() {
        match seg {
            Segment::Greedy(name) => {
                let rest = parts
                    .get(i..)
                    .filter(|r| !r.is_empty() && r.iter().all(|p| !p.is_empty()))?;
                params.insert(name.clone(), decode(&rest.join("/")));
                rank.push(0);
                return Some((rank, params));
            }
            Segment::Param(name) => {
                let part = parts.get(i).filter(|p| !p.is_empty())?;
                params.insert(name.clone(), decode(part));
                rank.push(1);
            }
            Segment::Literal(lit) => {
                if parts.get(i) != Some(&lit.as_str()) {
                    return None;
                }
                rank.push(2);
            }
        }
    }
    (parts.len() == segments.len()).then_some((rank, params))
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str, function: &str, format: EventFormat) -> ApiRoute {
        ApiRoute {
            method: method.into(),
            path: path.into(),
            function: function.into(),
            format,
            api: ApiSettings::implicit(format),
            access: Access::default(),
        }
    }

    fn table() -> RouteTable {
        RouteTable::new(
            [
                ("GET", "/items", "list"),
                ("GET", "/items/{id}", "get"),
                ("ANY", "/items/{id}", "any-item"),
                ("GET", "/items/special", "special"),
                ("ANY", "/files/{proxy+}", "files"),
                ("GET", "/", "root"),
            ]
            .map(|(m, p, f)| route(m, p, f, EventFormat::Rest)),
        )
    }

    #[test]
    fn http_api_routes_share_the_table_and_default_takes_the_rest() {
        let t = RouteTable::new([
            route("GET", "/items", "rest", EventFormat::Rest),
            route("POST", "/things/{id}", "http", EventFormat::HttpV2),
            route("ANY", DEFAULT_ROUTE, "fallback", EventFormat::HttpV2),
        ]);
        let m = found(t.lookup("POST", "/things/7"));
        assert_eq!(
            (m.function.as_str(), m.route_key.as_str(), m.format),
            ("http", "POST /things/{id}", EventFormat::HttpV2)
        );
        let d = found(t.lookup("GET", "/anything/else"));
        assert_eq!(
            (d.function.as_str(), d.route_key.as_str()),
            ("fallback", "$default")
        );
        assert_eq!(found(t.lookup("DELETE", "/things/7")).function, "fallback");
        let only_http =
            RouteTable::new([route("POST", "/things/{id}", "http", EventFormat::HttpV2)]);
        assert_eq!(
            only_http.lookup("GET", "/things/7"),
            Lookup::NoResource,
            "HTTP APIs answer 404 for a method a path lacks"
        );
    }

    fn found(l: Lookup) -> RouteMatch {
        match l {
            Lookup::Found(m) => m,
            other => panic!("no match: {other:?}"),
        }
    }

    #[test]
    fn precedence_follows_api_gateway() {
        let t = table();
        assert_eq!(found(t.lookup("GET", "/items/special")).function, "special");
        let m = found(t.lookup("GET", "/items/42"));
        assert_eq!(
            (m.function.as_str(), m.resource.as_str()),
            ("get", "/items/{id}")
        );
        assert_eq!(m.path_parameters["id"], "42");
        assert_eq!(found(t.lookup("DELETE", "/items/42")).function, "any-item");
        let f = found(t.lookup("PUT", "/files/a/b%20c/d.txt"));
        assert_eq!(f.path_parameters["proxy"], "a/b c/d.txt");
        assert_eq!(found(t.lookup("GET", "/")).function, "root");
    }

    #[test]
    fn misses_answer_like_api_gateway() {
        let t = table();
        assert_eq!(t.lookup("GET", "/nothing"), Lookup::NoResource);
        assert_eq!(t.lookup("POST", "/items"), Lookup::NoMethod);
        assert_eq!(
            t.lookup("GET", "/files"),
            Lookup::NoResource,
            "greedy needs one segment"
        );
        assert_eq!(
            found(t.lookup("GET", "/items/")).function,
            "list",
            "a trailing slash is ignored"
        );
    }
}
