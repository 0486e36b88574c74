//! Why a request the front accepted could not be handed to the engine (it then
//! answers `InternalServerError`).

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ForwardError(pub String);
