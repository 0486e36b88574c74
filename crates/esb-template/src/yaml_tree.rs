//! YAML read into a small tree that keeps what SAM templates need and serde-based YAML
//! loses: the CloudFormation short-form tag of every node (`!Ref`, `!Sub`...), whether a
//! scalar was quoted (`"3"` stays a string), and the position of every node and key so
//! errors can point at a line.
//!
//! Built from yaml-rust2's pull parser rather than its recursive loader, so nesting depth
//! and alias expansion are bounded here: no input can overflow the stack or expand a
//! "billion laughs" document into gigabytes.

use serde::{Deserialize, Serialize};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deeper than any real template; deep enough to refuse stack-exhausting input.
const MAX_DEPTH: usize = 64;
/// Nodes that aliases may add, beyond the document itself.
const ALIAS_BUDGET: usize = 100_000;

/// 1-based line and column in the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Position {
    pub line: usize,
    pub col: usize,
}

impl Position {
    fn of(mark: &Marker) -> Self {
        // yaml-rust2 counts lines from 1 and columns from 0.
        Self {
            line: mark.line(),
            col: mark.col() + 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    /// `quoted` is true for quoted, block (`|`, `>`) and `!!str` scalars: they are
    /// strings whatever they look like.
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// One `key: value` of a mapping. Keys are plain strings in templates.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Position,
    pub value: Node,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: NodeValue,
    /// Local tag without its `!` (`Ref`, `GetAtt`); other handles are kept whole
    /// (`!e!x`) so they can be reported, and `!!` core-schema tags are applied, not kept.
    pub tag: Option<String>,
    pub pos: Position,
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries().iter().find(|e| e.key == key)
    }

    /// Mapping entries in document order; empty for anything else.
    pub fn entries(&self) -> &[Entry] {
        match &self.value {
            NodeValue::Map(e) => e,
            _ => &[],
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(self.value, NodeValue::Map(_))
    }

    /// A short description for errors: "a list", "a mapping", "a string".
    pub fn shape(&self) -> &'static str {
        match self.value {
            NodeValue::Scalar { .. } => "a scalar",
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a mapping",
        }
    }
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub pos: Position,
    pub message: String,
}

/// Parses one YAML document; `Ok(None)` for an empty stream.
pub fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let mut parser = Parser::new_from_str(text);
    let mut builder = Builder::default();
    loop {
        let (event, mark) = parser.next_token().map_err(|e| SyntaxError {
            pos: Position::of(e.marker()),
            message: e.info().to_string(),
        })?;
        let at = Position::of(&mark);
        let is_seq = matches!(event, Event::SequenceStart(..));
        let fail = |message: &str| SyntaxError {
            pos: at,
            message: message.to_string(),
        };
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart if builder.documents > 0 => {
                return Err(fail(
                    "a template is one YAML document; this starts a second one",
                ));
            }
            Event::DocumentStart => builder.documents += 1,
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
            Event::Scalar(text, style, anchor, tag) => {
                let (tag, forced_str) = split_tag(tag);
                let quoted = forced_str || style != TScalarStyle::Plain;
                let node = Node {
                    value: NodeValue::Scalar { text, quoted },
                    tag,
                    pos: at,
                };
                builder.finish(node, anchor, 1).map_err(|m| fail(&m))?;
            }
            Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag) => {
                if builder.stack.len() >= MAX_DEPTH {
                    return Err(fail(&format!("nested more than {MAX_DEPTH} levels deep")));
                }
                let value = if is_seq {
                    NodeValue::Seq(Vec::new())
                } else {
                    NodeValue::Map(Vec::new())
                };
                let node = Node {
                    value,
                    tag: split_tag(tag).0,
                    pos: at,
                };
                builder.stack.push(Open {
                    node,
                    anchor,
                    size: 1,
                    key: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(open) = builder.stack.pop() {
                    builder
                        .finish(open.node, open.anchor, open.size)
                        .map_err(|m| fail(&m))?;
                }
            }
            Event::Alias(id) => {
                let Some((node, size)) = builder
                    .anchors
                    .iter()
                    .rev()
                    .find(|(a, _, _)| *a == id)
                    .map(|(_, n, s)| (n.clone(), *s))
                else {
                    return Err(fail("alias to an unknown anchor"));
                };
                builder.alias_nodes += size;
                if builder.alias_nodes > ALIAS_BUDGET {
                    return Err(fail(&format!(
                        "aliases expand to more than {ALIAS_BUDGET} nodes"
                    )));
                }
                builder.finish(node, 0, size).map_err(|m| fail(&m))?;
            }
        }
    }
    Ok(builder.root)
}

/// `(local tag, forced string)`: `!Ref` → `Ref`; `!!str` → forced string.
fn split_tag(tag: Option<Tag>) -> (Option<String>, bool) {
    match tag {
        None => (None, false),
        Some(t) if t.handle == "!" => (Some(t.suffix), false),
        Some(t) if t.handle == "tag:yaml.org,2002:" => (None, t.suffix == "str"),
        Some(t) => (Some(format!("{}{}", t.handle, t.suffix)), false),
    }
}

struct Open {
    node: Node,
    anchor: usize,
    /// Nodes in this subtree so far (for the alias budget).
    size: usize,
    /// A mapping's key waiting for its value.
    key: Option<Node>,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    anchors: Vec<(usize, Node, usize)>,
    alias_nodes: usize,
    documents: usize,
    root: Option<Node>,
}

impl Builder {
    /// Attaches a completed node to its parent (or makes it the root).
    fn finish(&mut self, node: Node, anchor: usize, size: usize) -> Result<(), String> {
        if anchor > 0 {
            self.anchors.push((anchor, node.clone(), size));
        }
        let Some(open) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        open.size += size;
        match &mut open.node.value {
            NodeValue::Seq(items) => items.push(node),
            NodeValue::Map(entries) => match open.key.take() {
                None => open.key = Some(node),
                Some(key) => {
                    let name = match (&key.value, &key.tag) {
                        (NodeValue::Scalar { text, .. }, None) => text.clone(),
                        _ => return Err("mapping keys must be plain strings".into()),
                    };
                    if entries.iter().any(|e| e.key == name) {
                        return Err(format!("duplicate key {name:?} in this mapping"));
                    }
                    // A block mapping's start event points past its first key; the
                    // first key is where a reader looks.
                    if entries.is_empty() && key.pos < open.node.pos {
                        open.node.pos = key.pos;
                    }
                    entries.push(Entry {
                        key: name,
                        key_pos: key.pos,
                        value: node,
                    });
                }
            },
            NodeValue::Scalar { .. } => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Node {
        match parse(text) {
            Ok(Some(n)) => n,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keeps_tags_quoting_and_positions() {
        let root = doc("A:\n  B: !Ref Param\n  C: !GetAtt [X, Arn]\n  D: \"3\"\n  E: !!str 4\n");
        let a = root.get("A").expect("A");
        assert_eq!(
            a.pos,
            Position { line: 2, col: 3 },
            "a block map is where its first key is"
        );
        let b = a.entry("B").expect("B");
        assert_eq!(b.key_pos, Position { line: 2, col: 3 });
        assert_eq!(b.value.tag.as_deref(), Some("Ref"));
        assert_eq!(b.value.pos, Position { line: 2, col: 11 });
        let c = a.get("C").expect("C");
        assert_eq!(c.tag.as_deref(), Some("GetAtt"));
        assert!(matches!(&c.value, NodeValue::Seq(items) if items.len() == 2));
        for key in ["D", "E"] {
            assert!(matches!(
                a.get(key).map(|n| &n.value),
                Some(NodeValue::Scalar { quoted: true, .. })
            ));
        }
    }

    #[test]
    fn flow_mappings_start_at_their_brace() {
        let root = doc("A: {x: 1}\n");
        assert_eq!(
            root.get("A").map(|n| n.pos),
            Some(Position { line: 1, col: 4 })
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("A:\n  - b\n c: [\n").expect_err("invalid");
        assert!(err.pos.line >= 2, "{err:?}");
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse("a: 1\nb: 2\na: 3\n").expect_err("duplicate");
        assert!(err.message.contains("duplicate key \"a\""), "{err:?}");
        assert_eq!(err.pos.line, 3);
    }

    #[test]
    fn aliases_resolve() {
        let root = doc("a: &x {k: v}\nb: *x\n");
        assert_eq!(
            root.get("b")
                .and_then(|b| b.get("k"))
                .and_then(Node::as_str),
            Some("v")
        );
    }

    #[test]
    fn empty_input_is_no_document() {
        assert_eq!(parse(""), Ok(None));
        assert_eq!(parse("# only a comment\n"), Ok(None));
    }

    #[test]
    fn hostile_input_is_refused_not_fatal() {
        let deep = "[".repeat(10_000);
        assert!(parse(&deep).is_err());
        let deep_block: String = (0..200).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
        assert!(parse(&deep_block).is_err());
        let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (prev, next) in ('a'..='i').zip('b'..='j') {
            let refs = vec![format!("*{prev}"); 10].join(", ");
            laughs.push_str(&format!("{next}: &{next} [{refs}]\n"));
        }
        let err = parse(&laughs).expect_err("billion laughs");
        assert!(err.message.contains("aliases expand"), "{err:?}");
        assert!(parse("a: *nope\n").is_err());
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
        assert!(parse("? [a, b]\n: c\n").is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let samples = [
            "\u{0}",
            "!",
            "!!",
            "&",
            "*",
            "- - - -",
            "{",
            "}",
            "[,]",
            "a: b: c",
            "\t",
            "|\n x",
            "%YAML 1.2\n---\n",
            "--- !Ref\n",
            "a: !<tag:x> b",
            "'\n",
            "\"\\u",
            "? : :",
            "a:\n- b\n  - c",
            "!Sub [",
            "a: &x\nb: *x",
        ];
        for s in samples {
            let _ = parse(s);
        }
    }
}
