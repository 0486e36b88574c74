//! An API event together with where it is written in the template, so that errors found
//! after reading (unknown authorizers, routes that clash across functions) point at the
//! event's own `Path` or `Auth.Authorizer`.

use crate::model::ApiEvent;
use crate::yaml_tree::Position;

/// An Api event and where its `Path` is written (for route conflicts across functions).
#[derive(Debug, Clone)]
pub struct Located {
    pub event: ApiEvent,
    pub at: Position,
    pub path: String,
    /// Where `Auth.Authorizer` is written, for errors about the name.
    pub authorizer_at: Option<(Position, String)>,
}
