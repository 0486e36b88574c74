//! The template's `Resources`, read into a table: each resource's logical id, type,
//! `Condition` and properties, its shape checked. What a resource answers to `Ref` and
//! `Fn::GetAtt`, and whether it exists, is in `resource_refs`.

use crate::error::{ErrorKind, TemplateError};
use crate::yaml_tree::{Entry, Node, Position};

pub const FUNCTION: &str = "AWS::Serverless::Function";
pub const LAYER: &str = "AWS::Serverless::LayerVersion";
pub const API: &str = "AWS::Serverless::Api";
pub const HTTP_API: &str = "AWS::Serverless::HttpApi";
pub const BUCKET: &str = "AWS::S3::Bucket";
pub const TABLE: &str = "AWS::DynamoDB::Table";
pub const SIMPLE_TABLE: &str = "AWS::Serverless::SimpleTable";
pub const QUEUE: &str = "AWS::SQS::Queue";
pub const QUEUE_POLICY: &str = "AWS::SQS::QueuePolicy";
pub const QUEUE_INLINE_POLICY: &str = "AWS::SQS::QueueInlinePolicy";

/// One entry of `Resources`, its shape checked.
#[derive(Debug)]
pub struct Resource<'a> {
    pub id: &'a str,
    pub key_pos: Position,
    pub node: &'a Node,
    pub type_name: &'a str,
    /// `Condition: Name`, with the name's position.
    pub condition: Option<(&'a str, Position)>,
    pub properties: Option<&'a Node>,
}

impl<'a> Resource<'a> {
    pub fn path(&self) -> String {
        format!("Resources.{}", self.id)
    }

    /// A property and the path to it.
    pub fn property(&self, key: &str) -> Option<(&'a Entry, String)> {
        self.properties
            .and_then(|p| p.entry(key))
            .map(|e| (e, format!("Resources.{}.Properties.{key}", self.id)))
    }
}

#[derive(Debug, Default)]
pub struct ResourceTable<'a> {
    pub list: Vec<Resource<'a>>,
}

impl<'a> ResourceTable<'a> {
    /// Checks the shape of every resource. `Type` must be written literally
    /// (CloudFormation does not resolve intrinsics there).
    pub fn build(
        section: &'a Entry,
        error: &dyn Fn(Position, &str, ErrorKind, String) -> TemplateError,
    ) -> Result<Self, TemplateError> {
        let mut list = Vec::new();
        for e in section.value.entries() {
            let path = format!("Resources.{}", e.key);
            if !e.key.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(error(
                    e.key_pos,
                    &path,
                    ErrorKind::Structure("a logical id must be alphanumeric".into()),
                    "rename the resource, e.g. HelloFunction".into(),
                ));
            }
            let node = &e.value;
            if !node.is_map() {
                return Err(error(
                    node.pos,
                    &path,
                    ErrorKind::Structure(format!("must be a mapping, not {}", node.shape())),
                    "a resource is {Type: ..., Properties: {...}}".into(),
                ));
            }
            let type_name = match node.get("Type") {
                Some(t) if t.tag.is_none() && t.as_str().is_some_and(|s| !s.is_empty()) => {
                    t.as_str().unwrap_or_default()
                }
                Some(t) => {
                    return Err(error(
                        t.pos,
                        &format!("{path}.Type"),
                        ErrorKind::Structure("must be a resource type name".into()),
                        "e.g. Type: AWS::Serverless::Function".into(),
                    ));
                }
                None => {
                    return Err(error(
                        e.key_pos,
                        &path,
                        ErrorKind::MissingProperty("Type".into()),
                        "every resource needs a Type, e.g. AWS::Serverless::Function".into(),
                    ));
                }
            };
            let condition = match node.get("Condition") {
                None => None,
                Some(c) => match (c.as_str(), &c.tag) {
                    (Some(name), None) => Some((name, c.pos)),
                    _ => {
                        return Err(error(
                            c.pos,
                            &format!("{path}.Condition"),
                            ErrorKind::Structure("must be the name of a condition".into()),
                            "write Condition: IsProd, with IsProd declared under Conditions".into(),
                        ));
                    }
                },
            };
            let properties = node.get("Properties");
            if let Some(p) = properties
                && !p.is_map()
            {
                return Err(error(
                    p.pos,
                    &format!("{path}.Properties"),
                    ErrorKind::Structure(format!("must be a mapping, not {}", p.shape())),
                    "Properties maps property names to values".into(),
                ));
            }
            list.push(Resource {
                id: &e.key,
                key_pos: e.key_pos,
                node,
                type_name,
                condition,
                properties,
            });
        }
        Ok(Self { list })
    }

    pub fn get(&self, id: &str) -> Option<&Resource<'a>> {
        self.list.iter().find(|r| r.id == id)
    }
}
