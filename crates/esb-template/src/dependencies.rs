//! CloudFormation refuses a template whose resources depend on each other in a cycle
//! (through `Ref`, `Fn::GetAtt`, `Fn::Sub` or `DependsOn`), even when ESB could resolve
//! every value. Checking it here keeps "runs on ESB" meaning "deploys on AWS".
//!
//! A function's `Type: S3` event is such a dependency the other way round: SAM writes
//! it into the bucket's notifications, so the bucket depends on the function. A
//! function that also names the bucket with `!Ref` is the best-known cycle of SAM.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{ErrorKind, TemplateError};
use crate::intrinsics::Resolver;
use crate::resources::{BUCKET, FUNCTION, Resource};
use crate::sub;
use crate::yaml_tree::{Node, NodeValue};

/// Fails on the first cycle among `active` resources, naming it.
pub fn check(r: &Resolver<'_>, active: &[&Resource<'_>]) -> Result<(), TemplateError> {
    let ids: BTreeSet<&str> = active.iter().map(|a| a.id).collect();
    let mut edges: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for res in active {
        let mut found = BTreeSet::new();
        // SAM turns a function's Events into resources of their own (permissions, API
        // routes...): what they refer to is not a dependency of the function.
        for e in res.properties.map(Node::entries).unwrap_or_default() {
            if !(res.type_name == FUNCTION && e.key == "Events") {
                references(&e.value, &mut found);
            }
        }
        if let Some(d) = res.node.get("DependsOn") {
            match &d.value {
                NodeValue::Scalar { text, .. } => {
                    found.insert(text.clone());
                }
                NodeValue::Seq(items) => {
                    found.extend(items.iter().filter_map(Node::as_str).map(str::to_string));
                }
                NodeValue::Map(_) => {}
            }
        }
        found.retain(|t| ids.contains(t.as_str()));
        edges.entry(res.id).or_default().extend(found);
        if res.type_name == FUNCTION {
            for bucket in s3_event_buckets(res) {
                if let Some(id) = ids.get(bucket.as_str()) {
                    edges.entry(id).or_default().insert(res.id.to_string());
                }
            }
        }
    }
    // Depth-first search; `path` is the current chain, `done` the fully explored.
    let mut done = BTreeSet::new();
    for start in active {
        let mut path: Vec<&str> = Vec::new();
        if let Some(cycle) = visit(start.id, &edges, &mut path, &mut done) {
            let through_bucket = cycle
                .iter()
                .any(|id| active.iter().any(|a| a.id == *id && a.type_name == BUCKET));
            return Err(r.error(
                start.key_pos,
                &start.path(),
                ErrorKind::Circular(format!(
                    "resources depend on each other: {}",
                    cycle.join(" -> ")
                )),
                if through_bucket {
                    "CloudFormation cannot create these: a bucket whose notifications (or a function's S3 event) invoke a function depends on that function, so the function cannot !Ref the bucket; give the bucket a BucketName and write the same name in the function (e.g. !Sub '${AWS::StackName}-uploads' in both)"
                } else {
                    "CloudFormation cannot create these; remove one of the references (a function can read its own name from the Lambda context)"
                },
            ));
        }
    }
    Ok(())
}

/// The ids on a cycle through `id`, first and last the same.
fn visit<'e>(
    id: &'e str,
    edges: &'e BTreeMap<&'e str, BTreeSet<String>>,
    path: &mut Vec<&'e str>,
    done: &mut BTreeSet<&'e str>,
) -> Option<Vec<&'e str>> {
    if let Some(i) = path.iter().position(|p| *p == id) {
        let mut cycle = path[i..].to_vec();
        cycle.push(id);
        return Some(cycle);
    }
    if done.contains(id) {
        return None;
    }
    path.push(id);
    for next in edges.get(id).into_iter().flatten() {
        if let Some((key, _)) = edges.get_key_value(next.as_str())
            && let Some(c) = visit(key, edges, path, done)
        {
            return Some(c);
        }
    }
    path.pop();
    done.insert(id);
    None
}

/// The buckets a function's `Type: S3` events name (`s3_event` checks the form).
fn s3_event_buckets(function: &Resource<'_>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let events = function.properties.and_then(|p| p.get("Events"));
    for e in events.map(Node::entries).unwrap_or_default() {
        if e.value.get("Type").and_then(Node::as_str) == Some("S3")
            && let Some(bucket) = e.value.get("Properties").and_then(|p| p.get("Bucket"))
        {
            references(bucket, &mut out);
        }
    }
    out
}

/// Names a subtree refers to through `Ref`, `Fn::GetAtt` and `Fn::Sub`, short or long form.
fn references(node: &Node, out: &mut BTreeSet<String>) {
    let (name, arg) = match (&node.tag, node.entries()) {
        (Some(tag), _) => (tag.as_str(), None),
        (None, [e]) if e.key == "Ref" => ("Ref", Some(&e.value)),
        (None, [e]) if e.key.starts_with("Fn::") => (&e.key["Fn::".len()..], Some(&e.value)),
        _ => ("", None),
    };
    let arg = arg.unwrap_or(node);
    match (name, &arg.value) {
        ("Ref", NodeValue::Scalar { text, .. }) => {
            out.insert(text.clone());
        }
        ("GetAtt", NodeValue::Scalar { text, .. }) => {
            out.insert(text.split('.').next().unwrap_or_default().to_string());
        }
        ("GetAtt", NodeValue::Seq(items)) => {
            if let Some(first) = items.first().and_then(Node::as_str) {
                out.insert(first.to_string());
            }
        }
        ("Sub", NodeValue::Scalar { text, .. }) => sub_names(text, &BTreeSet::new(), out),
        ("Sub", NodeValue::Seq(items)) => {
            if let [t, vars] = items.as_slice() {
                let local: BTreeSet<&str> = vars.entries().iter().map(|e| e.key.as_str()).collect();
                sub_names(t.as_str().unwrap_or_default(), &local, out);
                references(vars, out);
            }
        }
        _ => children(arg, out),
    }
}

fn children(node: &Node, out: &mut BTreeSet<String>) {
    match &node.value {
        NodeValue::Scalar { .. } => {}
        NodeValue::Seq(items) => items.iter().for_each(|i| references(i, out)),
        NodeValue::Map(entries) => entries.iter().for_each(|e| references(&e.value, out)),
    }
}

fn sub_names(text: &str, local: &BTreeSet<&str>, out: &mut BTreeSet<String>) {
    for part in sub::parse(text).unwrap_or_default() {
        if let sub::Part::Var(v) = part
            && !local.contains(v.as_str())
        {
            out.insert(v.split('.').next().unwrap_or_default().to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml_tree::parse;

    #[test]
    fn finds_references_in_every_form() {
        let root = parse(
            "a: !Ref A\nb: {Ref: B}\nc: !GetAtt C.Arn\nd: [!GetAtt [D, Arn]]\ne: !Sub '${E.Arn}-${AWS::Region}-${V}'\nf: !Sub ['${X}', {X: !Ref F}]\ng: {'Fn::If': [c, !Ref G, x]}\n",
        )
        .ok()
        .flatten()
        .expect("yaml");
        let mut out = BTreeSet::new();
        references(&root, &mut out);
        let want: BTreeSet<String> = ["A", "B", "C", "D", "E", "AWS::Region", "V", "F", "G"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(out, want);
    }
}
