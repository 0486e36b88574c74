//! Everything ESB asks of a Docker daemon outside the worker lifecycle: reaching the
//! daemon with a useful error, the labels that mark ESB's objects, and (in the image
//! modules) turning functions into images.

pub mod connect;
pub mod labels;

pub use bollard;
pub use connect::{DockerUnavailable, connect};
