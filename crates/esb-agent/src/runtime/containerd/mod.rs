//! The `containerd` runtime: each worker is a containerd container of the function's
//! image, run by runc, in a network namespace of its own on the box's bridge.

pub mod client;
pub mod image_store;
