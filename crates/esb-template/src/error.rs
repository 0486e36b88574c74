//! Template errors and warnings: always the file, the line and column, the property
//! path, what is wrong and what to do.

use std::fmt;

use crate::yaml_tree::Node;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TemplateError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    /// e.g. `Resources.Hello.Properties.Timeout`
    pub path: String,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.col)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}

/// Something ESB accepted but does not act on (yet): printed once by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub file: String,
    pub line: usize,
    pub path: String,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.path, self.message
        )
    }
}

/// Builds errors located at a node.
#[derive(Debug, Clone)]
pub struct Locator {
    pub file: String,
}

impl Locator {
    pub fn at(&self, node: &Node, path: &str, message: impl Into<String>) -> TemplateError {
        TemplateError {
            file: self.file.clone(),
            line: node.line,
            col: node.col,
            path: path.to_string(),
            message: message.into(),
            hint: None,
        }
    }

    pub fn hinted(
        &self,
        node: &Node,
        path: &str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> TemplateError {
        TemplateError {
            hint: Some(hint.into()),
            ..self.at(node, path, message)
        }
    }

    pub fn warn(&self, node: &Node, path: &str, message: impl Into<String>) -> Warning {
        Warning {
            file: self.file.clone(),
            line: node.line,
            path: path.to_string(),
            message: message.into(),
        }
    }
}
