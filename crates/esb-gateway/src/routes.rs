//! The API's route table, matched the way API Gateway REST APIs match resources:
//! literal segments beat `{param}`, which beats a greedy `{proxy+}`; a method beats ANY.

use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Segment {
    /// Ranks: greedy < param < literal (higher wins).
    Greedy(String),
    Param(String),
    Literal(String),
}

#[derive(Debug, Clone)]
struct Route {
    method: String,
    resource: String,
    segments: Vec<Segment>,
    function: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    pub function: String,
    /// The matched resource pattern, e.g. `/items/{id}`.
    pub resource: String,
    pub path_parameters: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(RouteMatch),
    /// No resource has this path: 404 `{"message":"Not Found"}`.
    NoResource,
    /// The resource exists without this method: 403 `Missing Authentication Token`,
    /// as API Gateway answers.
    NoMethod,
}

/// A matching route: its segment ranks, method rank, the route and its path parameters.
type Candidate<'a> = (Vec<u8>, u8, &'a Route, BTreeMap<String, String>);

#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    /// `routes`: (method or ANY, resource path, function). Paths are validated by the
    /// template loader.
    pub fn new(routes: impl IntoIterator<Item = (String, String, String)>) -> Self {
        let routes = routes
            .into_iter()
            .map(|(method, resource, function)| Route {
                segments: parse(&resource),
                method: method.to_ascii_uppercase(),
                resource,
                function,
            })
            .collect();
        Self { routes }
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
        let mut path_known = false;
        for route in &self.routes {
            let Some((rank, params)) = matches(&route.segments, &parts) else {
                continue;
            };
            path_known = true;
            let method_rank = if route.method == method {
                2
            } else if route.method == "ANY" {
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
        match best {
            Some((_, _, route, path_parameters)) => Lookup::Found(RouteMatch {
                function: route.function.clone(),
                resource: route.resource.clone(),
                path_parameters,
            }),
            None if path_known => Lookup::NoMethod,
            None => Lookup::NoResource,
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
            .map(|(m, p, f)| (m.to_string(), p.to_string(), f.to_string())),
        )
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
