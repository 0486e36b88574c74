//! The `containerd` runtime: each worker is a containerd container of the function's
//! image, run by runc, in a network namespace of its own on the box's bridge.

pub mod client;
mod content_blobs;
mod docker_import;
mod image_manifest;
mod image_record;
pub mod image_store;
mod image_unpack;
mod import_lease;
mod registry_pull;
mod tar_stream;
