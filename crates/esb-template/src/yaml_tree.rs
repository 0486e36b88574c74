//! YAML read into a small tree that keeps what SAM templates need and serde-based
//! YAML loses: the CloudFormation short-form tag of every node (`!Ref`, `!Sub`...) and
//! its position, so errors can point at a line.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A scalar; `plain` is false when it was quoted (so `"3"` stays a string).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    /// Short-form tag without the `!` (e.g. `Ref`, `GetAtt`).
    pub tag: Option<String>,
    /// 1-based line and column.
    pub line: usize,
    pub col: usize,
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.kind {
            Kind::Map(e) => e,
            _ => &[],
        }
    }
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

pub fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, false).map_err(|e| SyntaxError {
        line: e.marker().line(),
        col: e.marker().col() + 1,
        message: e.info().to_string(),
    })?;
    if let Some(message) = builder.error {
        return Err(SyntaxError {
            line: builder.error_at.0,
            col: builder.error_at.1,
            message,
        });
    }
    Ok(builder.root)
}

enum Open {
    Seq(Node, usize),
    /// A mapping, its anchor and the key waiting for its value.
    Map(Node, usize, Option<Node>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    anchors: Vec<(usize, Node)>,
    root: Option<Node>,
    error: Option<String>,
    error_at: (usize, usize),
}

impl Builder {
    fn node(kind: Kind, tag: Option<yaml_rust2::parser::Tag>, mark: Marker) -> Node {
        Node {
            kind,
            tag: tag.filter(|t| t.handle == "!").map(|t| t.suffix),
            line: mark.line(),
            col: mark.col() + 1,
        }
    }

    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.push((anchor, node.clone()));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Seq(seq, _)) => {
                if let Kind::Seq(items) = &mut seq.kind {
                    items.push(node);
                }
            }
            Some(Open::Map(map, _, pending)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => {
                    if let Kind::Map(entries) = &mut map.kind {
                        entries.push((key, node));
                    }
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let plain = style == TScalarStyle::Plain;
                let node = Self::node(Kind::Scalar { text, plain }, tag, mark);
                self.finish(node, anchor);
            }
            Event::SequenceStart(anchor, tag) => {
                let node = Self::node(Kind::Seq(Vec::new()), tag, mark);
                self.stack.push(Open::Seq(node, anchor));
            }
            Event::MappingStart(anchor, tag) => {
                let node = Self::node(Kind::Map(Vec::new()), tag, mark);
                self.stack.push(Open::Map(node, anchor, None));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(open) = self.stack.pop() {
                    let (node, anchor) = match open {
                        Open::Seq(n, a) | Open::Map(n, a, _) => (n, a),
                    };
                    self.finish(node, anchor);
                }
            }
            Event::Alias(id) => match self.anchors.iter().rev().find(|(a, _)| *a == id) {
                Some((_, n)) => {
                    let n = n.clone();
                    self.finish(n, 0);
                }
                None if self.error.is_none() => {
                    self.error = Some("alias to an unknown anchor".into());
                    self.error_at = (mark.line(), mark.col() + 1);
                }
                None => {}
            },
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_tags_and_positions() {
        let root = parse("A:\n  B: !Ref Param\n  C: !GetAtt [X, Arn]\n  D: \"3\"\n")
            .expect("valid")
            .expect("document");
        let a = root.get("A").expect("A");
        let b = a.get("B").expect("B");
        assert_eq!(
            (b.tag.as_deref(), b.as_str(), b.line),
            (Some("Ref"), Some("Param"), 2)
        );
        let c = a.get("C").expect("C");
        assert_eq!(c.tag.as_deref(), Some("GetAtt"));
        assert!(matches!(&c.kind, Kind::Seq(items) if items.len() == 2));
        let d = a.get("D").expect("D");
        assert_eq!(
            d.kind,
            Kind::Scalar {
                text: "3".into(),
                plain: false
            }
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("A:\n  - b\n c: [\n").expect_err("invalid");
        assert!(err.line >= 2, "{err:?}");
    }

    #[test]
    fn aliases_resolve() {
        let root = parse("a: &x {k: v}\nb: *x\n").expect("valid").expect("doc");
        assert_eq!(
            root.get("b")
                .and_then(|b| b.get("k"))
                .and_then(Node::as_str),
            Some("v")
        );
    }
}
