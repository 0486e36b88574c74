//! Route conflicts across all functions: API Gateway sends a method and path to one
//! integration, and allows one parameter name per level of the path tree (`/items/{id}`
//! and `/items/{key}` cannot coexist). Either mistake is an error here, not a route that
//! silently goes to whichever function was read first. API Gateway keeps routes per API,
//! but ESB serves every API on one port, routed by path, so the rules hold across APIs.

use std::collections::BTreeMap;

use crate::error::{ErrorKind, TemplateError};
use crate::intrinsics::Resolver;
use crate::located::Located;

#[derive(Default)]
pub struct RouteTable {
    /// (method, path) → (function logical id, API logical id).
    routes: BTreeMap<(String, String), (String, String)>,
    /// parent path → (parameter part, where it was first declared).
    params: BTreeMap<String, (String, String)>,
}

impl RouteTable {
    pub fn add(
        &mut self,
        r: &Resolver<'_>,
        function: &str,
        e: &Located,
    ) -> Result<(), TemplateError> {
        let mut parent = String::new();
        for part in e.event.path.split('/').filter(|p| !p.is_empty()) {
            if part.starts_with('{') {
                match self.params.get(&parent) {
                    Some((other, from)) if other != part => {
                        return Err(r.error(
                            e.at,
                            &e.path,
                            ErrorKind::BadApiPath(format!(
                                "{part} conflicts with {other} at {}/ (declared by {from})",
                                if parent.is_empty() { "" } else { &parent }
                            )),
                            "API Gateway allows one parameter per level: use the same name in both routes",
                        ));
                    }
                    Some(_) => {}
                    None => {
                        self.params
                            .insert(parent.clone(), (part.to_string(), e.path.clone()));
                    }
                }
            }
            parent.push('/');
            parent.push_str(part);
        }
        let key = (e.event.method.clone(), e.event.path.clone());
        if let Some((other, other_api)) = self.routes.get(&key) {
            let (other, hint) = if *other_api == e.event.api_id {
                (
                    other.clone(),
                    "each method and path goes to one function; remove one of the events",
                )
            } else {
                (
                    format!("{other} on API {other_api}"),
                    "ESB serves every API on one port, routed by path, so a method and path can belong to one API only: change one of the paths",
                )
            };
            return Err(r.error(
                e.at,
                &e.path,
                ErrorKind::DuplicateRoute {
                    method: key.0,
                    path: key.1,
                    other,
                },
                hint,
            ));
        }
        self.routes
            .insert(key, (function.to_string(), e.event.api_id.clone()));
        Ok(())
    }
}
