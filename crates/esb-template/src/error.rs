//! Template errors and warnings. An error always says where (file, line, column, the
//! property path), what is wrong and what to do, because the person reading it is
//! editing a YAML file, not our code. The *kind* is typed so callers and tests can match
//! on it without parsing text.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::yaml_tree::Position;

/// What is wrong, without where: the middle of the error line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ErrorKind {
    #[error("cannot read the template: {0}")]
    Unreadable(String),
    #[error("invalid YAML: {0}")]
    Yaml(String),
    /// A section or value has the wrong shape (a list where a map is needed...).
    #[error("{0}")]
    Structure(String),
    #[error("the template has no Resources")]
    MissingResources,
    #[error("no AWS::Serverless::Function to run")]
    NoFunctions,
    #[error("Ref to unknown {0:?}")]
    UnknownRef(String),
    #[error("{0}")]
    BadGetAtt(String),
    #[error("{0} is not created: its Condition {1} is false")]
    ResourceNotCreated(String, String),
    #[error("unsupported intrinsic function {0}")]
    UnsupportedIntrinsic(String),
    /// Wrong arguments to a supported intrinsic.
    #[error("{0}")]
    BadIntrinsic(String),
    #[error("circular reference: {0}")]
    Circular(String),
    #[error("unknown condition {0:?}")]
    UnknownCondition(String),
    #[error("{0} is missing")]
    MissingProperty(String),
    /// A property has a value outside what Lambda accepts.
    #[error("{0}")]
    InvalidValue(String),
    #[error("code directory {0} does not exist")]
    MissingCodeDir(String),
    #[error("{0}")]
    MissingBootstrap(String),
    #[error("unsupported Runtime {0:?}")]
    UnsupportedRuntime(String),
    #[error("{0}")]
    BadLayer(String),
    #[error("{0}")]
    BadApiPath(String),
    #[error("unknown method {0:?}")]
    BadApiMethod(String),
    #[error("function name {name:?} is also used by {other}")]
    DuplicateFunctionName { name: String, other: String },
    #[error("{name:?} is not a valid S3 bucket name: {why}")]
    BadBucketName { name: String, why: String },
    #[error("bucket name {name:?} is also used by {other}")]
    DuplicateBucketName { name: String, other: String },
    #[error("{0:?} is not an S3 event type")]
    UnknownS3Event(String),
    /// An S3 notification (a bucket's `LambdaConfigurations`, a function's `S3`
    /// event) that S3 or SAM would refuse.
    #[error("{0}")]
    BadNotification(String),
    #[error("{name:?} is not a valid DynamoDB table name: {why}")]
    BadTableName { name: String, why: String },
    #[error("table name {name:?} is also used by {other}")]
    DuplicateTableName { name: String, other: String },
    /// A table (key schema, attribute definitions, indexes, billing...) that DynamoDB
    /// would refuse to create.
    #[error("{0}")]
    BadTable(String),
    #[error("{name:?} is not a valid SQS queue name: {why}")]
    BadQueueName { name: String, why: String },
    #[error("queue name {name:?} is also used by {other}")]
    DuplicateQueueName { name: String, other: String },
    /// A queue (attributes, redrive policy...) that SQS would refuse to create.
    #[error("{0}")]
    BadQueue(String),
    /// A function's `DynamoDB` or `SQS` event that Lambda's
    /// `CreateEventSourceMapping` (or SAM) would refuse; worded as Lambda words it.
    #[error("{0}")]
    BadEventSource(String),
    #[error("route {method} {path} is also served by {other}")]
    DuplicateRoute {
        method: String,
        path: String,
        other: String,
    },
    #[error("API {api} has no authorizer {name:?}")]
    UnknownAuthorizer { name: String, api: String },
    #[error("no function named {0:?} in this template")]
    UnknownFunction(String),
    #[error("{0:?} is not Key=Value")]
    MalformedOverride(String),
    #[error("the template has no parameter {0:?}")]
    UnknownParameter(String),
    #[error("{value:?} is not an allowed value of {name}")]
    NotAllowed { name: String, value: String },
    #[error("has no Default and no override")]
    MissingParameterValue,
    /// A parameter's value breaks its Type or a constraint.
    #[error("{0}")]
    InvalidParameter(String),
}

/// A template that ESB cannot run. Displays as
/// `template.yaml:12:7: Resources.Hello.Properties.Timeout: <what> (hint: <what to do>)`.
///
/// Boxed so `Result<_, TemplateError>` stays one pointer wide on the happy path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(Box<Diagnostic>);

/// The parts of a [`TemplateError`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// The template path as the caller gave it.
    pub file: String,
    /// `None` when the problem is not in the file (unreadable file, a bad override).
    pub position: Option<Position>,
    /// e.g. `Resources.Hello.Properties.Timeout`, or `--parameter-overrides`.
    pub path: String,
    pub kind: ErrorKind,
    pub hint: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(p) = self.position {
            write!(f, ":{}:{}", p.line, p.col)?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.kind)?;
        if !self.hint.is_empty() {
            write!(f, " (hint: {})", self.hint)?;
        }
        Ok(())
    }
}

impl TemplateError {
    pub fn new(
        file: &str,
        position: Option<Position>,
        path: &str,
        kind: ErrorKind,
        hint: impl Into<String>,
    ) -> Self {
        Self(Box::new(Diagnostic {
            file: file.to_string(),
            position,
            path: path.to_string(),
            kind,
            hint: hint.into(),
        }))
    }

    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    pub fn file(&self) -> &str {
        &self.0.file
    }

    pub fn position(&self) -> Option<Position> {
        self.0.position
    }

    pub fn path(&self) -> &str {
        &self.0.path
    }

    pub fn hint(&self) -> &str {
        &self.0.hint
    }

    pub fn diagnostic(&self) -> &Diagnostic {
        &self.0
    }
}

/// Something ESB accepted but does not act on (yet). The caller prints each one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub file: String,
    pub position: Position,
    pub path: String,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.position.line, self.position.col, self.path, self.message
        )
    }
}

/// The file being loaded: builds errors located in it and collects warnings, one per
/// distinct subject (a property name, a resource type...), so a template with twenty
/// functions that all set `Policies` gets one line, not twenty.
#[derive(Debug, Default)]
pub struct Diagnostics {
    pub file: String,
    warnings: Vec<Warning>,
    warned: BTreeSet<String>,
}

impl Diagnostics {
    pub fn new(file: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            ..Self::default()
        }
    }

    /// An error at a position in the file.
    pub fn error(
        &self,
        at: Position,
        path: &str,
        kind: ErrorKind,
        hint: impl Into<String>,
    ) -> TemplateError {
        TemplateError::new(&self.file, Some(at), path, kind, hint)
    }

    /// An error about the file as a whole or about the command line.
    pub fn unplaced(&self, path: &str, kind: ErrorKind, hint: impl Into<String>) -> TemplateError {
        TemplateError::new(&self.file, None, path, kind, hint)
    }

    /// Records a warning unless one about `subject` was already recorded.
    pub fn warn_once(&mut self, subject: &str, at: Position, path: &str, message: String) {
        if self.warned.insert(subject.to_string()) {
            self.warnings.push(Warning {
                file: self.file.clone(),
                position: at,
                path: path.to_string(),
                message,
            });
        }
    }

    pub fn into_warnings(self) -> Vec<Warning> {
        self.warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_reads_like_a_compiler_error() {
        let d = Diagnostics::new("template.yaml");
        let e = d.error(
            Position { line: 12, col: 7 },
            "Resources.Hello.Properties.Timeout",
            ErrorKind::InvalidValue("must be a whole number of seconds from 1 to 900".into()),
            "got 901",
        );
        assert_eq!(
            e.to_string(),
            "template.yaml:12:7: Resources.Hello.Properties.Timeout: must be a whole number of seconds from 1 to 900 (hint: got 901)"
        );
        assert!(matches!(e.kind(), ErrorKind::InvalidValue(_)));
    }

    #[test]
    fn unplaced_errors_name_only_the_file() {
        let d = Diagnostics::new("t.yaml");
        let e = d.unplaced(
            "--parameter-overrides",
            ErrorKind::MalformedOverride("x".into()),
            "write Key=Value",
        );
        assert_eq!(
            e.to_string(),
            "t.yaml: --parameter-overrides: \"x\" is not Key=Value (hint: write Key=Value)"
        );
    }

    #[test]
    fn warnings_are_deduplicated_by_subject() {
        let mut d = Diagnostics::new("t.yaml");
        let at = Position { line: 3, col: 5 };
        d.warn_once("property Policies", at, "a", "ignored".into());
        d.warn_once("property Policies", at, "b", "ignored".into());
        d.warn_once("property Tracing", at, "c", "ignored".into());
        let w = d.into_warnings();
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].to_string(), "t.yaml:3:5: a: ignored");
    }
}
