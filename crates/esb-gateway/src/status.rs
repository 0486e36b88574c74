//! The box's state as `esb status` shows it: the document the gateway serves at
//! [`STATUS_PATH`] (signed like the Invoke API).

/// Where the gateway reports its state to `esb status`.
pub const STATUS_PATH: &str = "/esb/v1/status";
