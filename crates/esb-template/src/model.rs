//! What a template describes, once resolved: the functions ESB runs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::Warning;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Runtime {
    /// `python3.<minor>`
    Python { minor: u32 },
    /// `provided`, `provided.al2`, `provided.al2023`: a `bootstrap` executable.
    Provided { variant: String },
}

impl Runtime {
    /// The SAM identifier (`python3.12`, `provided.al2023`).
    pub fn id(&self) -> String {
        match self {
            Runtime::Python { minor } => format!("python3.{minor}"),
            Runtime::Provided { variant } => variant.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiEvent {
    pub logical_id: String,
    /// e.g. `/items/{id}` or `/files/{proxy+}`
    pub path: String,
    /// Upper case; `ANY` for every method.
    pub method: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionSpec {
    pub logical_id: String,
    pub name: String,
    pub code_dir: PathBuf,
    pub handler: Option<String>,
    pub runtime: Runtime,
    pub timeout_s: u32,
    pub memory_mb: u32,
    pub environment: BTreeMap<String, String>,
    /// Layer content directories, in template order.
    pub layers: Vec<PathBuf>,
    pub reserved_concurrency: Option<u32>,
    pub api_events: Vec<ApiEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub functions: Vec<FunctionSpec>,
    pub warnings: Vec<Warning>,
}
