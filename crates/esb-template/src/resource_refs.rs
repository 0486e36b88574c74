//! What the template's resources mean to the rest of it: whether a resource's
//! `Condition` lets it exist, what it answers to `Ref` and `Fn::GetAtt` (a function its
//! name and ARN, a layer its version ARN, a bucket its name, ARN and domain names,
//! a table its name, ARN and stream ARN), computed on first use so resources may
//! refer to ones declared later, and warnings for resource attributes ESB does not
//! act on. Methods of the [`Resolver`], which evaluates `Ref` and `Fn::GetAtt`
//! through them.

use crate::bucket_name;
use crate::error::{ErrorKind, TemplateError};
use crate::intrinsics::Resolver;
use crate::queue;
use crate::resources::{BUCKET, FUNCTION, LAYER, QUEUE, Resource, SIMPLE_TABLE, TABLE};
use crate::table;
use crate::value::Value;
use crate::yaml_tree::Position;

/// `Fn::GetAtt` attributes of a bucket ESB resolves (CloudFormation's, less
/// `MetadataTableConfiguration.S3TableDestination.*`).
const BUCKET_ATTRIBUTES: [&str; 5] = [
    "Arn",
    "DomainName",
    "RegionalDomainName",
    "DualStackDomainName",
    "WebsiteURL",
];
/// `Fn::GetAtt` attributes of a table (CloudFormation's, less `TableId`).
const TABLE_ATTRIBUTES: [&str; 2] = ["Arn", "StreamArn"];
/// `Fn::GetAtt` attributes of a queue (all of CloudFormation's).
const QUEUE_ATTRIBUTES: [&str; 3] = ["Arn", "QueueName", "QueueUrl"];
const BUCKET_NAME_HINT: &str = "a bucket name is 3 to 63 lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit; leave BucketName out for a generated one";

/// Resource attributes CloudFormation defines besides `Type` and `Properties`.
const ATTRIBUTES: [&str; 8] = [
    "Type",
    "Properties",
    "Condition",
    "DependsOn",
    "Metadata",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "UpdatePolicy",
];

impl Resolver<'_> {
    /// Warns about resource attributes ESB does not act on.
    pub fn check_attributes(&self, r: &Resource<'_>) {
        for e in r.node.entries() {
            let path = format!("{}.{}", r.path(), e.key);
            if !ATTRIBUTES.contains(&e.key.as_str()) {
                self.warn_once(
                    &format!("attribute {}", e.key),
                    e.key_pos,
                    &path,
                    "is not a resource attribute; ignored".into(),
                );
            }
            if e.key == "Metadata" && e.value.get("BuildMethod").is_some() {
                self.warn_once(
                    "BuildMethod",
                    e.key_pos,
                    &path,
                    "ESB does not build code (BuildMethod); it runs the directory as it is".into(),
                );
            }
        }
    }

    /// Whether the resource exists: its `Condition` (if any) is true.
    pub fn is_created(&self, r: &Resource<'_>) -> Result<bool, TemplateError> {
        match r.condition {
            None => Ok(true),
            Some((name, at)) => self.condition_named(name, at, &format!("{}.Condition", r.path())),
        }
    }

    /// What `Ref` to a resource gives.
    pub(crate) fn resource_ref(
        &self,
        id: &str,
        at: Position,
        path: &str,
    ) -> Result<Value, TemplateError> {
        let r = self.created(id, at, path)?;
        match r.type_name {
            FUNCTION => self.function_name(r).map(Value::String),
            LAYER => self.layer_arn(r).map(Value::String),
            BUCKET => self.bucket_name(r).map(Value::String),
            TABLE | SIMPLE_TABLE => self.table_name(r).map(Value::String),
            QUEUE => self
                .queue_name(r)
                .map(|n| Value::String(self.queue_url_of(&n))),
            other => {
                self.warn_once(
                    &format!("ref {other}"),
                    at,
                    path,
                    format!("Ref to {id} ({other}) resolves to its logical id"),
                );
                Ok(Value::String(id.to_string()))
            }
        }
    }

    /// What `Fn::GetAtt` on a resource gives.
    pub(crate) fn attribute(
        &self,
        id: &str,
        attr: &str,
        at: Position,
        path: &str,
    ) -> Result<Value, TemplateError> {
        let Some(r) = self.resources.get(id) else {
            return Err(self.error(
                at,
                path,
                ErrorKind::BadGetAtt(format!("Fn::GetAtt on unknown resource {id:?}")),
                "name a resource of this template, e.g. !GetAtt MyFunction.Arn",
            ));
        };
        let known: &[&str] = match r.type_name {
            FUNCTION => &["Arn"],
            LAYER => &["LayerVersionArn"],
            BUCKET => &BUCKET_ATTRIBUTES,
            TABLE | SIMPLE_TABLE => &TABLE_ATTRIBUTES,
            QUEUE => &QUEUE_ATTRIBUTES,
            _ => &[],
        };
        if !known.contains(&attr) {
            return Err(self.error(
                at,
                path,
                ErrorKind::BadGetAtt(format!(
                    "{id} ({}) has no attribute {attr:?} that ESB can resolve",
                    r.type_name
                )),
                if known.is_empty() {
                    format!(
                        "ESB resolves attributes of functions (Arn), layers (LayerVersionArn), buckets ({}), tables ({}) and queues ({})",
                        BUCKET_ATTRIBUTES.join(", "),
                        TABLE_ATTRIBUTES.join(", "),
                        QUEUE_ATTRIBUTES.join(", ")
                    )
                } else {
                    format!("available: {}", known.join(", "))
                },
            ));
        }
        let r = self.created(id, at, path)?;
        let region = &self.pseudo.region;
        Ok(Value::String(match (r.type_name, attr) {
            (FUNCTION, _) => self.function_arn(r)?,
            (BUCKET, "Arn") => format!("arn:aws:s3:::{}", self.bucket_name(r)?),
            (BUCKET, "DomainName") => format!("{}.s3.amazonaws.com", self.bucket_name(r)?),
            (BUCKET, "RegionalDomainName") => {
                format!("{}.s3.{region}.amazonaws.com", self.bucket_name(r)?)
            }
            (BUCKET, "DualStackDomainName") => {
                format!(
                    "{}.s3.dualstack.{region}.amazonaws.com",
                    self.bucket_name(r)?
                )
            }
            // WebsiteURL, the last of BUCKET_ATTRIBUTES.
            (BUCKET, _) => format!(
                "http://{}.s3-website-{region}.amazonaws.com",
                self.bucket_name(r)?
            ),
            (TABLE | SIMPLE_TABLE, "Arn") => self.table_arn(r)?,
            (TABLE | SIMPLE_TABLE, _) => self.table_stream_arn(r, at, path)?,
            (QUEUE, "Arn") => self.queue_arn_of(&self.queue_name(r)?),
            (QUEUE, "QueueName") => self.queue_name(r)?,
            (QUEUE, _) => self.queue_url_of(&self.queue_name(r)?),
            _ => self.layer_arn(r)?,
        }))
    }

    fn created(&self, id: &str, at: Position, path: &str) -> Result<&Resource<'_>, TemplateError> {
        let Some(r) = self.resources.get(id) else {
            return Err(self.error(
                at,
                path,
                ErrorKind::UnknownRef(id.to_string()),
                "name a resource of this template",
            ));
        };
        if !self.is_created(r)? {
            let cond = r.condition.map(|c| c.0).unwrap_or_default();
            return Err(self.error(
                at,
                path,
                ErrorKind::ResourceNotCreated(id.to_string(), cond.to_string()),
                format!("guard this reference with !If [{cond}, ..., ...] or drop the Condition"),
            ));
        }
        Ok(r)
    }

    /// `FunctionName`, or the logical id when it has none.
    pub fn function_name(&self, r: &Resource<'_>) -> Result<String, TemplateError> {
        self.named(r, "FunctionName", |name| name)
    }

    /// What `!GetAtt Fn.Arn` gives.
    pub fn function_arn(&self, r: &Resource<'_>) -> Result<String, TemplateError> {
        let p = &self.pseudo;
        Ok(format!(
            "arn:aws:lambda:{}:{}:function:{}",
            p.region,
            p.account_id,
            self.function_name(r)?
        ))
    }

    /// `BucketName`, checked against S3's rules, or the name CloudFormation would
    /// generate from the stack name and logical id.
    pub fn bucket_name(&self, r: &Resource<'_>) -> Result<String, TemplateError> {
        if let Some(v) = self.remembered(r) {
            return Ok(v);
        }
        let (name, at, path) = match self.written_name(r, "BucketName")? {
            Some(written) => written,
            None => (
                bucket_name::generated(&self.pseudo.stack_name, r.id),
                r.key_pos,
                r.path(),
            ),
        };
        bucket_name::check(&name).map_err(|why| {
            self.error(
                at,
                &path,
                ErrorKind::BadBucketName {
                    name: name.clone(),
                    why,
                },
                BUCKET_NAME_HINT,
            )
        })?;
        Ok(self.remember(r, name))
    }

    /// `TableName`, checked against DynamoDB's rules, or the name CloudFormation would
    /// generate from the stack name and logical id (see `table::generated_name`).
    pub fn table_name(&self, r: &Resource<'_>) -> Result<String, TemplateError> {
        if let Some(v) = self.remembered(r) {
            return Ok(v);
        }
        let (name, at, path) = match self.written_name(r, "TableName")? {
            Some(written) => written,
            None => (
                table::generated_name(&self.pseudo.stack_name, r.id),
                r.key_pos,
                r.path(),
            ),
        };
        table::check_name(&name).map_err(|why| {
            self.error(
                at,
                &path,
                ErrorKind::BadTableName {
                    name: name.clone(),
                    why,
                },
                table::NAME_HINT,
            )
        })?;
        Ok(self.remember(r, name))
    }

    /// `QueueName`, checked against SQS's rules, or the name ESB gives a queue
    /// without one (see `queue::generated_name`). Remembered as the name, not the URL
    /// `Ref` gives, which is made from it.
    pub fn queue_name(&self, r: &Resource<'_>) -> Result<String, TemplateError> {
        if let Some(v) = self.remembered(r) {
            return Ok(v);
        }
        let fifo = queue::is_fifo(self, r)?;
        let (name, at, path) = match self.written_name(r, "QueueName")? {
            Some(written) => written,
            None => (queue::generated_name(r.id, fifo), r.key_pos, r.path()),
        };
        queue::check_name(&name, fifo).map_err(|why| {
            self.error(
                at,
                &path,
                ErrorKind::BadQueueName {
                    name: name.clone(),
                    why,
                },
                queue::NAME_HINT,
            )
        })?;
        Ok(self.remember(r, name))
    }

    /// The ARN of the queue named `name`: what `!GetAtt Queue.Arn` gives.
    pub fn queue_arn_of(&self, name: &str) -> String {
        let p = &self.pseudo;
        format!("arn:aws:sqs:{}:{}:{name}", p.region, p.account_id)
    }

    /// The URL of the queue named `name` (what `Ref` to a queue gives): on the box's
    /// SQS endpoint when the caller gave one, else on AWS's.
    pub fn queue_url_of(&self, name: &str) -> String {
        let p = &self.pseudo;
        let base = match &p.sqs_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("https://sqs.{}.amazonaws.com", p.region),
        };
        format!("{base}/{}/{name}", p.account_id)
    }

    /// What `!GetAtt Table.Arn` gives.
    pub fn table_arn(&self, r: &Resource<'_>) -> Result<String, TemplateError> {
        let p = &self.pseudo;
        Ok(format!(
            "arn:aws:dynamodb:{}:{}:table/{}",
            p.region,
            p.account_id,
            self.table_name(r)?
        ))
    }

    /// What `!GetAtt Table.StreamArn` gives where ESB cannot use the table itself
    /// (an environment variable, an output...): the table's ARN with
    /// `/stream/latest`. A known difference: AWS labels a stream with the time it
    /// was created (`.../stream/2024-05-01T12:00:00.000`), known only once the
    /// engine creates it; code that parses the label will see `latest`. In
    /// `Events: DynamoDB` the attribute names the table instead (`dynamodb_event`).
    /// A table without `StreamSpecification` has no stream, and CloudFormation fails
    /// to resolve the attribute, so this is an error.
    pub fn table_stream_arn(
        &self,
        r: &Resource<'_>,
        at: Position,
        path: &str,
    ) -> Result<String, TemplateError> {
        if !self.table_has_stream(r)? {
            return Err(self.error(
                at,
                path,
                ErrorKind::BadGetAtt(format!(
                    "{} ({}) has no stream, so no StreamArn",
                    r.id, r.type_name
                )),
                no_stream_hint(r),
            ));
        }
        Ok(format!("{}/stream/latest", self.table_arn(r)?))
    }

    /// Whether the table has a stream: an `AWS::DynamoDB::Table` whose
    /// `StreamSpecification` names a `StreamViewType` (a SimpleTable never has one).
    pub fn table_has_stream(&self, r: &Resource<'_>) -> Result<bool, TemplateError> {
        if r.type_name != TABLE {
            return Ok(false);
        }
        let Some((e, path)) = r.property("StreamSpecification") else {
            return Ok(false);
        };
        let spec = self.guard(&path, e.key_pos, &path, || self.resolve(&e.value, &path))?;
        Ok(spec.is_some_and(|s| s.get("StreamViewType").is_some()))
    }

    /// What a layer's `Ref` gives: its version ARN (every local layer is version 1).
    pub fn layer_arn(&self, r: &Resource<'_>) -> Result<String, TemplateError> {
        let p = &self.pseudo;
        self.named(r, "LayerName", |name| {
            format!(
                "arn:aws:lambda:{}:{}:layer:{name}:1",
                p.region, p.account_id
            )
        })
    }

    /// Resolves the name property `key` once (memoized, cycle-checked) and maps it;
    /// the logical id when the property is absent.
    fn named(
        &self,
        r: &Resource<'_>,
        key: &str,
        make: impl FnOnce(String) -> String,
    ) -> Result<String, TemplateError> {
        if let Some(v) = self.remembered(r) {
            return Ok(v);
        }
        let name = match self.written_name(r, key)? {
            Some((name, _, _)) => name,
            None => r.id.to_string(),
        };
        Ok(self.remember(r, make(name)))
    }

    /// The name property `key` as written (cycle-checked), with its position and
    /// path; `None` when absent or `AWS::NoValue`.
    fn written_name(
        &self,
        r: &Resource<'_>,
        key: &str,
    ) -> Result<Option<(String, Position, String)>, TemplateError> {
        let Some((e, path)) = r.property(key) else {
            return Ok(None);
        };
        let name = self.guard(&path, e.key_pos, &path, || {
            match self.resolve(&e.value, &path)? {
                None => Ok(None),
                Some(v) => v.as_text().map(Some).ok_or_else(|| {
                    self.error(
                        e.key_pos,
                        &path,
                        ErrorKind::InvalidValue(format!("must be a string, not {}", v.shape())),
                        "write the name as a string",
                    )
                }),
            }
        })?;
        Ok(name.map(|n| (n, e.key_pos, path)))
    }

    /// What `Ref` to `r` gives, if it was computed already.
    fn remembered(&self, r: &Resource<'_>) -> Option<String> {
        match self.resource_values.borrow().get(r.id) {
            Some(Value::String(v)) => Some(v.clone()),
            _ => None,
        }
    }

    fn remember(&self, r: &Resource<'_>, value: String) -> String {
        self.resource_values
            .borrow_mut()
            .insert(r.id.to_string(), Value::String(value.clone()));
        value
    }
}

/// How to give `r`, a table without a stream, one.
pub fn no_stream_hint(r: &Resource<'_>) -> String {
    if r.type_name == SIMPLE_TABLE {
        format!(
            "a SimpleTable has no stream; make {} an AWS::DynamoDB::Table with StreamSpecification: {{StreamViewType: NEW_AND_OLD_IMAGES}}",
            r.id
        )
    } else {
        format!(
            "add StreamSpecification: {{StreamViewType: NEW_AND_OLD_IMAGES}} to {} (CloudFormation cannot resolve the StreamArn of a table without a stream)",
            r.id
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::resolver_for;
    use crate::value::Value;
    use crate::yaml_tree::Position;

    const AT: Position = Position { line: 1, col: 1 };

    #[test]
    fn refs_and_attributes_of_functions_and_layers() {
        let yaml = "Resources:\n  A:\n    Type: AWS::Serverless::Function\n    Properties: {FunctionName: !Sub '${B}-a'}\n  B:\n    Type: AWS::Serverless::Function\n  L:\n    Type: AWS::Serverless::LayerVersion\n    Properties: {LayerName: libs}\n  T:\n    Type: AWS::DynamoDB::Table\n  Q:\n    Type: AWS::SNS::Topic\n";
        resolver_for(yaml, |r| {
            assert_eq!(
                r.resource_ref("A", AT, "p").expect("A"),
                Value::String("B-a".into())
            );
            assert_eq!(
                r.attribute("A", "Arn", AT, "p").expect("arn"),
                Value::String("arn:aws:lambda:us-east-1:123456789012:function:B-a".into())
            );
            assert_eq!(
                r.resource_ref("L", AT, "p").expect("L"),
                Value::String("arn:aws:lambda:us-east-1:123456789012:layer:libs:1".into())
            );
            assert_eq!(
                r.resource_ref("Q", AT, "p").expect("Q"),
                Value::String("Q".into())
            );
            let e = r
                .attribute("Q", "Arn", AT, "p")
                .expect_err("no attrs")
                .to_string();
            assert!(
                e.contains("has no attribute \"Arn\" that ESB can resolve"),
                "{e}"
            );
            let e = r
                .attribute("A", "Name", AT, "p")
                .expect_err("bad attr")
                .to_string();
            assert!(e.contains("available: Arn"), "{e}");
        });
    }

    #[test]
    fn name_cycles_are_reported() {
        let yaml = "Resources:\n  A:\n    Type: AWS::Serverless::Function\n    Properties: {FunctionName: !Ref B}\n  B:\n    Type: AWS::Serverless::Function\n    Properties: {FunctionName: !Sub '${A}x'}\n";
        resolver_for(yaml, |r| {
            let e = r.resource_ref("A", AT, "p").expect_err("cycle").to_string();
            assert!(
                e.contains("circular reference: Resources.A.Properties.FunctionName -> Resources.B.Properties.FunctionName -> Resources.A.Properties.FunctionName"),
                "{e}"
            );
        });
    }

    #[test]
    fn skipped_resources_cannot_be_referenced() {
        let yaml = "Conditions:\n  No: !Equals [a, b]\nResources:\n  A:\n    Type: AWS::Serverless::Function\n    Condition: No\n";
        resolver_for(yaml, |r| {
            let e = r
                .resource_ref("A", AT, "p")
                .expect_err("skipped")
                .to_string();
            assert!(
                e.contains("A is not created: its Condition No is false"),
                "{e}"
            );
        });
    }
}
