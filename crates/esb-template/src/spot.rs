//! Where a part of a resolved property is written. A property such as a bucket's
//! `CorsConfiguration` is resolved whole, since an intrinsic may compute any part of
//! it, and the resolved value no longer knows its positions. A [`Spot`] follows the same
//! keys and indexes through the written tree, so an error about `CorsRules[1]` points
//! at that rule; where an intrinsic computes the part instead, it stays at the nearest
//! place the template spells out.

use crate::intrinsics::looks_like_call;
use crate::yaml_tree::{Entry, Node, NodeValue, Position};

/// A place in the template: a position and the property path of what is there.
#[derive(Debug, Clone)]
pub struct Spot<'n> {
    /// The written node, while the template spells the value out.
    node: Option<&'n Node>,
    pub at: Position,
    pub path: String,
}

impl<'n> Spot<'n> {
    /// A property: errors about it point at its key.
    pub fn of(entry: &'n Entry, path: String) -> Self {
        Self {
            node: Some(&entry.value),
            at: entry.key_pos,
            path,
        }
    }

    /// A place with nothing written under it, e.g. a resource whose property is
    /// absent.
    pub fn bare(at: Position, path: String) -> Self {
        Self {
            node: None,
            at,
            path,
        }
    }

    /// The field `key` of this mapping.
    pub fn key(&self, key: &str) -> Spot<'n> {
        let path = format!("{}.{key}", self.path);
        match self.written().and_then(|n| n.entry(key)) {
            Some(e) => Spot::of(e, path),
            None => Spot::bare(self.at, path),
        }
    }

    /// Item `i` of this list. Items after an intrinsic are not located: it may have
    /// been `AWS::NoValue`, which shifts the resolved items against the written ones.
    pub fn index(&self, i: usize) -> Spot<'n> {
        let path = format!("{}[{i}]", self.path);
        let item = match self.written().map(|n| &n.value) {
            Some(NodeValue::Seq(items)) if items.iter().take(i).all(|n| !looks_like_call(n)) => {
                items.get(i)
            }
            _ => None,
        };
        match item {
            Some(n) => Spot {
                node: Some(n),
                at: n.pos,
                path,
            },
            None => Spot::bare(self.at, path),
        }
    }

    fn written(&self) -> Option<&'n Node> {
        self.node.filter(|n| !looks_like_call(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml_tree::parse;

    #[test]
    fn follows_written_parts_and_stops_at_intrinsics() {
        let root =
            parse("P:\n  A:\n    - x\n    - {B: 1}\n  C: !If [c, [x], [y]]\n  D: [!Ref X, y]\n")
                .ok()
                .flatten()
                .expect("yaml");
        let p = Spot::of(root.entry("P").expect("P"), "P".into());
        let b = p.key("A").index(1).key("B");
        assert_eq!((b.at.line, b.at.col, b.path.as_str()), (4, 8, "P.A[1].B"));
        let c = p.key("C").index(0);
        assert_eq!((c.at.line, c.path.as_str()), (5, "P.C[0]"));
        let d = p.key("D");
        assert_ne!(d.index(0).at, d.at, "the intrinsic itself is written");
        assert_eq!(d.index(1).at, d.at, "after an intrinsic");
        assert_eq!(p.key("Nope").at, p.at);
    }
}
