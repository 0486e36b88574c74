//! The S3 service's shared state: what every operation works on.

use std::sync::{Arc, OnceLock};

use crate::store::Store;

/// Whether the box has the function a notification names (its ARN or name).
pub type FunctionCheck = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// The S3 service of a box.
#[derive(Clone)]
pub struct EsbS3 {
    pub(crate) store: Store,
    /// An external engine holds the objects; the store keeps only notification
    /// configurations (see `forward`).
    pub(crate) external: bool,
    /// Set once the box's functions are known; until then notification targets are
    /// not checked.
    pub(crate) functions: Arc<OnceLock<FunctionCheck>>,
}

impl EsbS3 {
    pub fn new(store: Store, external: bool, functions: Arc<OnceLock<FunctionCheck>>) -> Self {
        Self {
            store,
            external,
            functions,
        }
    }
}
