//! The S3 service's shared state: what every operation works on.

use crate::store::Store;

/// The S3 service of a box.
#[derive(Clone)]
pub struct EsbS3 {
    pub(crate) store: Store,
    /// An external engine holds the objects; the store keeps only notification
    /// configurations (see `forward`).
    pub(crate) external: bool,
}

impl EsbS3 {
    pub fn new(store: Store, external: bool) -> Self {
        Self { store, external }
    }
}
