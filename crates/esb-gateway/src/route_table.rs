//! The route table of a REST API: which function answers a method and path.
//!
//! API Gateway REST APIs are a tree of resources (`/`, `/items`, `/items/{id}`,
//! `/{proxy+}`), each with methods. A request is matched segment by segment, a literal
//! segment winning over a `{param}` and a `{param}` over a greedy `{proxy+}`; the
//! matching resource's specific method wins over its `ANY`. ESB builds the same tree
//! so that a template routes the same requests to the same functions as in AWS, and
//! rejects at build time the trees AWS refuses to create (two routes for one method
//! and resource; two different variables under one parent), instead of picking one
//! silently at request time.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;
use std::str::FromStr;

use http::Method;

use crate::gateway_response::GatewayResponse;
use crate::percent;

/// A method a route can be configured for. `Any` serves every method the resource has
/// no specific route for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
    Any,
}

impl RouteMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Head => "HEAD",
            Self::Options => "OPTIONS",
            Self::Any => "ANY",
        }
    }

    /// The specific route method of a request's method; `None` for methods API Gateway
    /// does not route (TRACE, CONNECT, extension methods), which not even `ANY` serves.
    pub fn of_request(method: &Method) -> Option<Self> {
        Some(match *method {
            Method::GET => Self::Get,
            Method::POST => Self::Post,
            Method::PUT => Self::Put,
            Method::PATCH => Self::Patch,
            Method::DELETE => Self::Delete,
            Method::HEAD => Self::Head,
            Method::OPTIONS => Self::Options,
            _ => return None,
        })
    }
}

impl fmt::Display for RouteMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Case-insensitive, as templates write `get` or `ANY` alike.
impl FromStr for RouteMethod {
    type Err = RouteError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::Get,
            Self::Post,
            Self::Put,
            Self::Patch,
            Self::Delete,
            Self::Head,
            Self::Options,
            Self::Any,
        ]
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(s))
        .ok_or_else(|| RouteError::UnsupportedMethod(s.to_string()))
    }
}

/// One configured route: `method path -> function`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: RouteMethod,
    /// The resource pattern, e.g. `/items/{id}` or `/files/{proxy+}`.
    pub path: String,
    pub function: String,
}

impl Route {
    pub fn new(method: RouteMethod, path: impl Into<String>, function: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            function: function.into(),
        }
    }

    /// A route whose method is given as text (`"get"`, `"ANY"`...).
    pub fn parse(
        method: &str,
        path: impl Into<String>,
        function: impl Into<String>,
    ) -> Result<Self, RouteError> {
        Ok(Self::new(method.parse()?, path, function))
    }
}

/// Why a route table cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error(
        "unsupported HTTP method {0:?} (expected GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY)"
    )]
    UnsupportedMethod(String),
    #[error("invalid route path {path:?}: {reason}")]
    InvalidPath { path: String, reason: String },
    #[error("{method} {resource} is routed twice: to {first} and to {second}")]
    Duplicate {
        method: RouteMethod,
        resource: String,
        first: String,
        second: String,
    },
    /// AWS's own wording (CreateResource's BadRequestException).
    #[error(
        "{resource}: a sibling ({existing}) of this resource already has a variable path part -- only one is allowed"
    )]
    SiblingVariable { resource: String, existing: String },
}

/// Why no function answers a request; each maps to API Gateway's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoRoute {
    /// No resource matches the path: 404 `{"message":"Not Found"}`.
    #[error("no resource matches the request path")]
    NotFound,
    /// The resource exists (it may only be the parent of other resources) but has no
    /// method for the request: 403 `{"message":"Missing Authentication Token"}`, which
    /// is what API Gateway answers.
    #[error("the resource has no method for the request")]
    MethodNotConfigured,
}

impl NoRoute {
    pub fn gateway_response(self) -> GatewayResponse {
        match self {
            Self::NotFound => GatewayResponse::NotFound,
            Self::MethodNotConfigured => GatewayResponse::MissingAuthenticationToken,
        }
    }
}

/// What a request was routed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    pub function: String,
    /// The matched resource pattern, e.g. `/items/{id}` (the event's `resource`).
    pub resource: String,
    /// A stable identifier of the resource, like the one API Gateway assigns
    /// (`requestContext.resourceId`): six lowercase letters and digits.
    pub resource_id: String,
    /// Path parameters in pattern order, percent-decoded. A greedy `{name+}` gets the
    /// rest of the path without its leading slash.
    pub path_parameters: Vec<(String, String)>,
}

/// A route table: build once from the configured routes, then look requests up.
#[derive(Debug, Clone)]
pub struct RouteTable {
    routes: Vec<Route>,
    root: Node,
}

impl RouteTable {
    pub fn new(routes: impl IntoIterator<Item = Route>) -> Result<Self, RouteError> {
        let mut table = Self {
            routes: Vec::new(),
            root: Node::new(Segment::Literal(String::new()), "/".to_string()),
        };
        for route in routes {
            let segments = parse_pattern(&route.path)?;
            table.root.insert(&route, &segments)?;
            table.routes.push(route);
        }
        Ok(table)
    }

    /// The routes as configured, in order.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Routes a request: `path` is the request path as received (still percent-encoded,
    /// without the query string).
    pub fn lookup(&self, method: &Method, path: &str) -> Result<RouteMatch, NoRoute> {
        let Some(after_root) = path.strip_prefix('/') else {
            return Err(NoRoute::NotFound);
        };
        // `/items/` is `/items`, as in API Gateway.
        let trimmed = after_root.strip_suffix('/').unwrap_or(after_root);
        let mut segments = Vec::new();
        if !trimmed.is_empty() {
            let mut start = 1;
            for raw in trimmed.split('/') {
                segments.push((start, raw));
                start += raw.len() + 1;
            }
        }
        let mut params = Vec::new();
        let node = find(&self.root, path, &segments, &mut params).ok_or(NoRoute::NotFound)?;
        let specific = RouteMethod::of_request(method).ok_or(NoRoute::MethodNotConfigured)?;
        let function = node
            .methods
            .get(&specific)
            .or_else(|| node.methods.get(&RouteMethod::Any))
            .ok_or(NoRoute::MethodNotConfigured)?;
        Ok(RouteMatch {
            function: function.clone(),
            resource: node.resource.clone(),
            resource_id: node.resource_id.clone(),
            path_parameters: params,
        })
    }
}

/// One path part of a resource pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Greedy(String),
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Literal(text) => f.write_str(text),
            Self::Param(name) => write!(f, "{{{name}}}"),
            Self::Greedy(name) => write!(f, "{{{name}+}}"),
        }
    }
}

fn parse_pattern(path: &str) -> Result<Vec<Segment>, RouteError> {
    let invalid = |reason: String| RouteError::InvalidPath {
        path: path.to_string(),
        reason,
    };
    let Some(rest) = path.strip_prefix('/') else {
        return Err(invalid("must start with '/'".into()));
    };
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = rest.split('/').collect();
    let mut segments = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            return Err(invalid(if i + 1 == parts.len() {
                "must not end with '/'".into()
            } else {
                "must not contain an empty segment ('//')".into()
            }));
        }
        let segment = if let Some(inner) = part.strip_prefix('{') {
            let Some(inner) = inner.strip_suffix('}') else {
                return Err(invalid(format!(
                    "segment {part:?} opens '{{' but does not close it"
                )));
            };
            let (name, greedy) = match inner.strip_suffix('+') {
                Some(name) => (name, true),
                None => (inner, false),
            };
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            {
                return Err(invalid(format!(
                    "path parameter {part:?} must be named with letters, digits, '_', '-' or '.'"
                )));
            }
            if greedy && i + 1 != parts.len() {
                return Err(invalid(format!(
                    "greedy path parameter {part} must be the last segment"
                )));
            }
            if segments
                .iter()
                .any(|s| matches!(s, Segment::Param(n) | Segment::Greedy(n) if n == name))
            {
                return Err(invalid(format!(
                    "path parameter {{{name}}} appears more than once"
                )));
            }
            if greedy {
                Segment::Greedy(name.to_string())
            } else {
                Segment::Param(name.to_string())
            }
        } else {
            if let Some(c) = part.chars().find(|&c| {
                matches!(c, '{' | '}' | '?' | '#' | '%') || c.is_whitespace() || c.is_control()
            }) {
                return Err(invalid(format!(
                    "segment {part:?} contains {c:?}; a variable segment is '{{name}}' or a final '{{name+}}'"
                )));
            }
            Segment::Literal(part.to_string())
        };
        segments.push(segment);
    }
    Ok(segments)
}

/// A resource of the tree. At most one variable child per resource, as in API Gateway.
#[derive(Debug, Clone)]
struct Node {
    segment: Segment,
    resource: String,
    resource_id: String,
    literals: BTreeMap<String, Node>,
    variable: Option<Box<Node>>,
    methods: BTreeMap<RouteMethod, String>,
}

impl Node {
    fn new(segment: Segment, resource: String) -> Self {
        Self {
            segment,
            resource_id: resource_id(&resource),
            resource,
            literals: BTreeMap::new(),
            variable: None,
            methods: BTreeMap::new(),
        }
    }

    fn insert(&mut self, route: &Route, segments: &[Segment]) -> Result<(), RouteError> {
        let mut node = self;
        for segment in segments {
            let resource = if node.resource == "/" {
                format!("/{segment}")
            } else {
                format!("{}/{segment}", node.resource)
            };
            node = match segment {
                Segment::Literal(text) => node
                    .literals
                    .entry(text.clone())
                    .or_insert_with(|| Node::new(segment.clone(), resource)),
                Segment::Param(_) | Segment::Greedy(_) => {
                    if let Some(existing) = &node.variable
                        && existing.segment != *segment
                    {
                        return Err(RouteError::SiblingVariable {
                            resource,
                            existing: existing.segment.to_string(),
                        });
                    }
                    node.variable
                        .get_or_insert_with(|| Box::new(Node::new(segment.clone(), resource)))
                }
            };
        }
        match node.methods.entry(route.method) {
            Entry::Occupied(first) => Err(RouteError::Duplicate {
                method: route.method,
                resource: node.resource.clone(),
                first: first.get().clone(),
                second: route.function.clone(),
            }),
            Entry::Vacant(slot) => {
                slot.insert(route.function.clone());
                Ok(())
            }
        }
    }
}

/// Depth-first, literal child first, then the variable child; backtracks when a branch
/// cannot consume the rest of the path. Recursion depth is bounded by the depth of the
/// configured tree, not by the request.
fn find<'n>(
    node: &'n Node,
    path: &str,
    segments: &[(usize, &str)],
    params: &mut Vec<(String, String)>,
) -> Option<&'n Node> {
    let Some((&(start, raw), rest)) = segments.split_first() else {
        return Some(node);
    };
    let decoded = percent::decode_path(raw);
    if let Some(child) = node.literals.get(&decoded)
        && let Some(found) = find(child, path, rest, params)
    {
        return Some(found);
    }
    let variable = node.variable.as_deref()?;
    match &variable.segment {
        Segment::Param(name) if !raw.is_empty() => {
            params.push((name.clone(), decoded));
            let found = find(variable, path, rest, params);
            if found.is_none() {
                params.pop();
            }
            found
        }
        Segment::Greedy(name) => {
            let remainder = path.get(start..).unwrap_or_default();
            params.push((name.clone(), percent::decode_path(remainder)));
            Some(variable)
        }
        _ => None,
    }
}

/// Six base-36 characters derived from the resource pattern (FNV-1a), so the id is the
/// same on every request and every run, as an API Gateway resource id is.
fn resource_id(resource: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in resource.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    (0..6)
        .map(|_| {
            let digit = DIGITS[(hash % 36) as usize];
            hash /= 36;
            char::from(digit)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(routes: &[(&str, &str, &str)]) -> RouteTable {
        RouteTable::new(
            routes
                .iter()
                .map(|(m, p, f)| Route::parse(m, *p, *f).expect("valid method")),
        )
        .expect("valid table")
    }

    fn build_error(routes: &[(&str, &str, &str)]) -> RouteError {
        RouteTable::new(
            routes
                .iter()
                .map(|(m, p, f)| Route::parse(m, *p, *f).expect("valid method")),
        )
        .expect_err("table must be rejected")
    }

    fn get(t: &RouteTable, path: &str) -> Result<RouteMatch, NoRoute> {
        t.lookup(&Method::GET, path)
    }

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn methods_parse_case_insensitively() {
        assert_eq!("get".parse::<RouteMethod>(), Ok(RouteMethod::Get));
        assert_eq!("Any".parse::<RouteMethod>(), Ok(RouteMethod::Any));
        assert_eq!("OPTIONS".parse::<RouteMethod>(), Ok(RouteMethod::Options));
        assert_eq!(
            "TRACE".parse::<RouteMethod>(),
            Err(RouteError::UnsupportedMethod("TRACE".into()))
        );
        assert!("".parse::<RouteMethod>().is_err());
        assert_eq!(RouteMethod::Patch.to_string(), "PATCH");
    }

    #[test]
    fn literal_routes_and_root() {
        let t = table(&[("GET", "/", "root"), ("GET", "/hello", "hello")]);
        let m = get(&t, "/").expect("root");
        assert_eq!((m.function.as_str(), m.resource.as_str()), ("root", "/"));
        assert!(m.path_parameters.is_empty());
        let m = get(&t, "/hello").expect("hello");
        assert_eq!(
            (m.function.as_str(), m.resource.as_str()),
            ("hello", "/hello")
        );
        assert_eq!(get(&t, "/nope"), Err(NoRoute::NotFound));
        assert_eq!(get(&t, "/hello/more"), Err(NoRoute::NotFound));
    }

    #[test]
    fn paths_are_case_sensitive() {
        let t = table(&[("GET", "/Hello", "f")]);
        assert!(get(&t, "/Hello").is_ok());
        assert_eq!(get(&t, "/hello"), Err(NoRoute::NotFound));
    }

    #[test]
    fn trailing_slash_matches_the_resource() {
        let t = table(&[("GET", "/my/path", "f")]);
        assert_eq!(get(&t, "/my/path/").expect("match").resource, "/my/path");
    }

    #[test]
    fn literal_beats_param() {
        let t = table(&[("GET", "/items/{id}", "one"), ("GET", "/items/new", "new")]);
        let m = get(&t, "/items/new").expect("literal");
        assert_eq!(
            (m.function.as_str(), m.resource.as_str()),
            ("new", "/items/new")
        );
        assert!(m.path_parameters.is_empty());
        let m = get(&t, "/items/42").expect("param");
        assert_eq!(m.function, "one");
        assert_eq!(m.resource, "/items/{id}");
        assert_eq!(m.path_parameters, params(&[("id", "42")]));
    }

    #[test]
    fn param_beats_greedy_and_greedy_takes_the_rest() {
        let t = table(&[
            ("ANY", "/{proxy+}", "catchall"),
            ("GET", "/items/{id}", "item"),
        ]);
        let m = get(&t, "/items/7").expect("item");
        assert_eq!(m.function, "item");
        assert_eq!(m.path_parameters, params(&[("id", "7")]));

        // `/items/{id}` cannot consume two segments: the greedy route takes the request.
        let m = get(&t, "/items/7/reviews").expect("catch-all");
        assert_eq!(m.function, "catchall");
        assert_eq!(m.resource, "/{proxy+}");
        assert_eq!(m.path_parameters, params(&[("proxy", "items/7/reviews")]));

        let m = get(&t, "/a/b/c/").expect("catch-all");
        assert_eq!(m.path_parameters, params(&[("proxy", "a/b/c/")]));
    }

    #[test]
    fn greedy_needs_at_least_one_segment() {
        let t = table(&[("ANY", "/files/{proxy+}", "files")]);
        assert_eq!(
            get(&t, "/files/a").expect("one segment").path_parameters,
            params(&[("proxy", "a")])
        );
        // `/files` is the (method-less) parent of the greedy resource; `/` likewise.
        assert_eq!(get(&t, "/files"), Err(NoRoute::MethodNotConfigured));
        assert_eq!(get(&t, "/files/"), Err(NoRoute::MethodNotConfigured));
        assert_eq!(get(&t, "/"), Err(NoRoute::MethodNotConfigured));
        assert_eq!(get(&t, "/other"), Err(NoRoute::NotFound));
    }

    #[test]
    fn backtracks_from_a_literal_branch_to_a_variable_one() {
        let t = table(&[
            ("GET", "/a/b/c", "literal"),
            ("GET", "/a/{x}/d", "variable"),
        ]);
        assert_eq!(get(&t, "/a/b/c").expect("literal").function, "literal");
        let m = get(&t, "/a/b/d").expect("variable");
        assert_eq!(m.function, "variable");
        assert_eq!(m.path_parameters, params(&[("x", "b")]));
    }

    #[test]
    fn failed_branches_leave_no_parameters_behind() {
        let t = table(&[("GET", "/{a}/{b}/c", "deep"), ("GET", "/x/y", "shallow")]);
        assert_eq!(get(&t, "/x/y").expect("shallow").path_parameters, vec![]);
        let m = get(&t, "/x/z/c").expect("deep");
        assert_eq!(m.path_parameters, params(&[("a", "x"), ("b", "z")]));
        assert_eq!(get(&t, "/x/z/q"), Err(NoRoute::NotFound));
    }

    #[test]
    fn several_parameters_in_pattern_order() {
        let t = table(&[("GET", "/users/{user}/posts/{post}", "f")]);
        let m = get(&t, "/users/ann/posts/3").expect("match");
        assert_eq!(m.resource, "/users/{user}/posts/{post}");
        assert_eq!(m.path_parameters, params(&[("user", "ann"), ("post", "3")]));
    }

    #[test]
    fn specific_method_beats_any() {
        let t = table(&[("ANY", "/r", "any"), ("POST", "/r", "post")]);
        assert_eq!(
            t.lookup(&Method::POST, "/r").expect("post").function,
            "post"
        );
        for m in [
            Method::GET,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::HEAD,
            Method::OPTIONS,
        ] {
            assert_eq!(t.lookup(&m, "/r").expect("any").function, "any", "{m}");
        }
    }

    #[test]
    fn head_is_not_served_by_get() {
        let t = table(&[("GET", "/r", "get")]);
        assert_eq!(
            t.lookup(&Method::HEAD, "/r"),
            Err(NoRoute::MethodNotConfigured)
        );
    }

    #[test]
    fn known_path_with_other_method_is_missing_authentication_token() {
        let t = table(&[("GET", "/items/{id}", "f")]);
        assert_eq!(
            t.lookup(&Method::DELETE, "/items/1"),
            Err(NoRoute::MethodNotConfigured)
        );
        // `/items` exists as the parent resource of `/items/{id}`.
        assert_eq!(get(&t, "/items"), Err(NoRoute::MethodNotConfigured));
        assert_eq!(get(&t, "/elsewhere"), Err(NoRoute::NotFound));
        let r = NoRoute::MethodNotConfigured
            .gateway_response()
            .to_response();
        assert_eq!(r.status(), 403);
        assert_eq!(
            r.body().as_ref(),
            br#"{"message":"Missing Authentication Token"}"#
        );
        let r = NoRoute::NotFound.gateway_response().to_response();
        assert_eq!(r.status(), 404);
        assert_eq!(r.body().as_ref(), br#"{"message":"Not Found"}"#);
    }

    #[test]
    fn unroutable_methods_are_not_served_even_by_any() {
        let t = table(&[("ANY", "/r", "any")]);
        let propfind = Method::from_bytes(b"PROPFIND").expect("extension method");
        assert_eq!(t.lookup(&propfind, "/r"), Err(NoRoute::MethodNotConfigured));
        assert_eq!(
            t.lookup(&Method::TRACE, "/r"),
            Err(NoRoute::MethodNotConfigured)
        );
    }

    #[test]
    fn parameters_are_percent_decoded() {
        let t = table(&[
            ("GET", "/users/{id}", "user"),
            ("GET", "/files/{proxy+}", "files"),
            ("GET", "/café", "cafe"),
        ]);
        let m = get(&t, "/users/john%20doe+jr").expect("user");
        assert_eq!(m.path_parameters, params(&[("id", "john doe+jr")]));
        let m = get(&t, "/users/a%2Fb").expect("encoded slash stays in one segment");
        assert_eq!(m.path_parameters, params(&[("id", "a/b")]));
        let m = get(&t, "/files/dir%20one/f%C3%A9.txt").expect("files");
        assert_eq!(m.path_parameters, params(&[("proxy", "dir one/fé.txt")]));
        assert_eq!(get(&t, "/caf%C3%A9").expect("literal").function, "cafe");
    }

    #[test]
    fn empty_segments_do_not_bind_parameters() {
        let t = table(&[("GET", "/a/{id}/b", "f")]);
        assert_eq!(get(&t, "/a//b"), Err(NoRoute::NotFound));
        let t = table(&[("GET", "/{proxy+}", "f")]);
        assert_eq!(
            get(&t, "/a//b").expect("greedy").path_parameters,
            params(&[("proxy", "a//b")])
        );
    }

    #[test]
    fn odd_request_paths_do_not_panic() {
        let t = table(&[
            ("ANY", "/{proxy+}", "catchall"),
            ("GET", "/x/{id}", "x"),
            ("GET", "/", "root"),
        ]);
        assert_eq!(get(&t, ""), Err(NoRoute::NotFound));
        assert_eq!(get(&t, "*"), Err(NoRoute::NotFound));
        assert_eq!(get(&t, "no-slash"), Err(NoRoute::NotFound));
        assert_eq!(
            get(&t, "//").expect("root via trailing slash").function,
            "root"
        );
        assert_eq!(get(&t, "///").expect("greedy").function, "catchall");
        assert_eq!(
            get(&t, "/%").expect("greedy").path_parameters,
            params(&[("proxy", "%")])
        );
        assert_eq!(
            get(&t, "/x/%FF").expect("x").path_parameters,
            params(&[("id", "\u{FFFD}")])
        );
        let long = "/seg".repeat(10_000);
        assert_eq!(get(&t, &long).expect("greedy").function, "catchall");
        let t = table(&[("GET", "/a", "a")]);
        assert_eq!(get(&t, &long), Err(NoRoute::NotFound));
    }

    #[test]
    fn same_variable_under_one_parent_is_shared() {
        let t = table(&[
            ("GET", "/items/{id}", "get"),
            ("PUT", "/items/{id}", "put"),
            ("GET", "/items/{id}/tags", "tags"),
        ]);
        assert_eq!(
            t.lookup(&Method::PUT, "/items/1").expect("put").function,
            "put"
        );
        assert_eq!(get(&t, "/items/1/tags").expect("tags").function, "tags");
        assert_eq!(t.routes().len(), 3);
    }

    #[test]
    fn duplicate_routes_are_rejected() {
        assert_eq!(
            build_error(&[("GET", "/a/{id}", "f"), ("get", "/a/{id}", "g")]),
            RouteError::Duplicate {
                method: RouteMethod::Get,
                resource: "/a/{id}".into(),
                first: "f".into(),
                second: "g".into(),
            }
        );
        assert!(matches!(
            build_error(&[("ANY", "/", "f"), ("ANY", "/", "f")]),
            RouteError::Duplicate { .. }
        ));
    }

    #[test]
    fn sibling_variables_are_rejected_as_aws_does() {
        let e = build_error(&[("GET", "/items/{id}", "f"), ("GET", "/items/{key}/x", "g")]);
        assert_eq!(
            e,
            RouteError::SiblingVariable {
                resource: "/items/{key}".into(),
                existing: "{id}".into(),
            }
        );
        assert_eq!(
            e.to_string(),
            "/items/{key}: a sibling ({id}) of this resource already has a variable path part -- only one is allowed"
        );
        assert!(matches!(
            build_error(&[("GET", "/{slug}", "f"), ("ANY", "/{proxy+}", "g")]),
            RouteError::SiblingVariable { .. }
        ));
        assert!(matches!(
            build_error(&[("GET", "/{id+}", "f"), ("GET", "/{id}", "g")]),
            RouteError::SiblingVariable { .. }
        ));
    }

    #[test]
    fn malformed_patterns_are_rejected() {
        for (pattern, fragment) in [
            ("", "must start with '/'"),
            ("items", "must start with '/'"),
            ("/items/", "must not end with '/'"),
            ("/a//b", "empty segment"),
            ("/{proxy+}/more", "must be the last segment"),
            ("/{}", "must be named"),
            ("/{+}", "must be named"),
            ("/{a b}", "must be named"),
            ("/{id", "does not close"),
            ("/id}", "contains '}'"),
            ("/a{id}", "contains '{'"),
            ("/a b", "contains ' '"),
            ("/a?b", "contains '?'"),
            ("/a%20b", "contains '%'"),
            ("/{id}/{id}", "appears more than once"),
            ("/{id}/{id+}", "appears more than once"),
        ] {
            match RouteTable::new([Route::new(RouteMethod::Get, pattern, "f")]) {
                Err(RouteError::InvalidPath { path, reason }) => {
                    assert_eq!(path, pattern);
                    assert!(reason.contains(fragment), "{pattern:?}: {reason}");
                }
                other => panic!("{pattern:?} must be rejected, got {other:?}"),
            }
        }
    }

    #[test]
    fn resource_ids_are_stable_short_and_distinct() {
        let t = table(&[("GET", "/a", "f"), ("GET", "/b/{id}", "g")]);
        let a = get(&t, "/a").expect("a").resource_id;
        let b = get(&t, "/b/1").expect("b").resource_id;
        assert_eq!(a, get(&t, "/a/").expect("a").resource_id);
        assert_eq!(a, resource_id("/a"));
        assert_ne!(a, b);
        for id in [a, b] {
            assert_eq!(id.len(), 6);
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            );
        }
    }
}
