//! Labels on every container, network and image ESB creates: they let boxes sharing a
//! daemon find their own objects and never touch another box's.

/// `"true"` on everything ESB manages.
pub const MANAGED: &str = "esb.managed";
/// The function a container or image serves.
pub const FUNCTION: &str = "esb.function";
/// The id of the box that owns a container or network.
pub const BOX: &str = "esb.box";
/// The worker id the agent knows a container by.
pub const WORKER: &str = "esb.worker";
/// Content hash of a function image's inputs.
pub const CONTENT_HASH: &str = "esb.content-hash";
/// Image id of the base a function image was built on (rebuild when the base changes).
pub const BASE_ID: &str = "esb.base-id";
/// In a base image: the Python interpreter to run `awslambdaric` with.
pub const PYTHON: &str = "esb.python";
/// In a base image: a digest of what it was made from (the root filesystem's listing
/// and the runtime client versions), so making it again from the same is a no-op.
pub const SOURCE: &str = "esb.source";
