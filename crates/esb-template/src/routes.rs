//! Route conflicts across all functions: API Gateway sends a method and path to one
//! integration, and allows one parameter name per level of the path tree (`/items/{id}`
//! and `/items/{key}` cannot coexist). Either mistake is an error here, not a route that
//! silently goes to whichever function was read first.

use std::collections::BTreeMap;

use crate::api_event::Located;
use crate::error::{ErrorKind, TemplateError};
use crate::intrinsics::Resolver;

#[derive(Default)]
pub struct RouteTable {
    /// (method, path) → function logical id.
    routes: BTreeMap<(String, String), String>,
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
        if let Some(other) = self.routes.get(&key) {
            return Err(r.error(
                e.at,
                &e.path,
                ErrorKind::DuplicateRoute {
                    method: key.0,
                    path: key.1,
                    other: other.clone(),
                },
                "each method and path goes to one function; remove one of the events",
            ));
        }
        self.routes.insert(key, function.to_string());
        Ok(())
    }
}
