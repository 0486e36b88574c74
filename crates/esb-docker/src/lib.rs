//! Everything ESB asks of a Docker daemon outside the worker lifecycle: reaching the
//! daemon with a useful error, the labels that mark ESB's objects, turning functions
//! into images (`esb build`), making Python base images from a root filesystem, and
//! moving images through a registry.

pub mod base_image;
mod build_context;
pub mod connect;
mod content_hash;
mod daemon;
pub mod error;
pub mod function_image;
pub mod labels;
mod pip;
pub mod progress;
pub mod reference;
pub mod registry;
mod runtime_image;
mod source_tree;
mod tar_entries;

pub use base_image::{AWSLAMBDARIC, BOTO3, BasePolicy, StandIn, import_base};
pub use bollard;
pub use connect::{DockerUnavailable, connect};
pub use error::ImageError;
pub use function_image::{Built, FunctionSource, build_all, build_function, image_reference};
pub use pip::PIP_ENV;
pub use progress::Progress;
pub use registry::{pull_from, push};
pub use runtime_image::running_binary;
