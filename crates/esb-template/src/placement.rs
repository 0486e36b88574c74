//! `Metadata.Esb` on a function resource: the node labels that place its workers
//! ([`NodePlacement`]). ESB's own settings live in `Metadata` because CloudFormation
//! refuses properties it does not know, and the template must still deploy to AWS.
//! Only `Esb` is read (and resolved); the rest of `Metadata` (`BuildMethod`,
//! `DockerTag`...) is left as it is.

use std::collections::BTreeMap;

use crate::error::{ErrorKind, TemplateError};
use crate::intrinsics::Resolver;
use crate::model::NodePlacement;
use crate::props;
use crate::resources::Resource;
use crate::spot::Spot;
use crate::value::Value;

const REQUIRE: &str = "NodeLabels";
const AVOID: &str = "AvoidNodeLabels";
/// Keys ESB knows under `Metadata.Esb`.
const KNOWN: [&str; 2] = [REQUIRE, AVOID];
const HINT: &str = "Metadata: {Esb: {NodeLabels: {gpu: \"true\"}, AvoidNodeLabels: {zone: dmz}}}";
/// The longest label key and value (Kubernetes' limit, which operators know).
const MAX_LABEL: usize = 63;

/// The function's placement; the default (any node) without `Metadata.Esb`.
pub fn read(r: &Resolver<'_>, res: &Resource<'_>) -> Result<NodePlacement, TemplateError> {
    let Some(esb) = res.node.get("Metadata").and_then(|m| m.entry("Esb")) else {
        return Ok(NodePlacement::default());
    };
    let spot = Spot::of(esb, format!("{}.Metadata.Esb", res.path()));
    let Some(value) = r.resolve(&esb.value, &spot.path)? else {
        return Ok(NodePlacement::default());
    };
    let hint = format!("ESB reads {} under Metadata.Esb: {HINT}", KNOWN.join(", "));
    let fields = props::fields(r, &value, &spot, &KNOWN, &hint)?;
    let mut placement = NodePlacement::default();
    for (key, labels) in fields {
        let at = spot.key(key);
        let map = self::labels(r, labels, &at)?;
        if key == REQUIRE {
            placement.require = map;
        } else {
            placement.avoid = map;
        }
    }
    if let Some((k, v)) = placement
        .avoid
        .iter()
        .find(|(k, v)| placement.require.get(*k) == Some(v))
    {
        let at = spot.key(AVOID).key(k);
        return Err(r.error(
            at.at,
            &at.path,
            ErrorKind::InvalidValue(format!(
                "{k}={v} is both required (NodeLabels) and avoided: no node could run the function"
            )),
            format!("remove {k} from NodeLabels or from AvoidNodeLabels"),
        ));
    }
    Ok(placement)
}

/// One label mapping, `key: value`, each checked where it is written.
fn labels(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
) -> Result<BTreeMap<String, String>, TemplateError> {
    let Value::Map(entries) = v else {
        return Err(r.error(
            spot.at,
            &spot.path,
            ErrorKind::Structure(format!("must be a mapping, not {}", v.shape())),
            HINT,
        ));
    };
    let mut out = BTreeMap::new();
    for (key, value) in entries {
        let at = spot.key(key);
        if !valid_key(key) {
            return Err(r.error(
                at.at,
                &at.path,
                ErrorKind::InvalidValue(format!("{key:?} is not a valid node label key")),
                format!(
                    "a label key is 1 to {MAX_LABEL} letters, digits, '.', '_', '/' or '-', starting with a letter or digit"
                ),
            ));
        }
        let text = value.as_text().ok_or_else(|| {
            r.error(
                at.at,
                &at.path,
                ErrorKind::InvalidValue(format!(
                    "a label value must be a string, not {}",
                    value.shape()
                )),
                "write one value, quoted if it reads as something else: gpu: \"true\"; \"\" for an empty one",
            )
        })?;
        if text.chars().count() > MAX_LABEL {
            return Err(r.error(
                at.at,
                &at.path,
                ErrorKind::InvalidValue(format!(
                    "the value of {key} is {} characters; a label value has at most {MAX_LABEL}",
                    text.chars().count()
                )),
                "use a shorter value",
            ));
        }
        out.insert(key.clone(), text);
    }
    Ok(out)
}

/// `[A-Za-z0-9][A-Za-z0-9._/-]{0,62}`.
fn valid_key(key: &str) -> bool {
    key.len() <= MAX_LABEL
        && key.starts_with(|c: char| c.is_ascii_alphanumeric())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-'))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::model::{FunctionSpec, NodePlacement, Template};
    use crate::testing::load_with_function;
    use crate::{LoadOptions, TemplateError};

    /// Loads the test function `Fn` with `metadata` (YAML lines at 6 spaces, under
    /// `Metadata:`), which starts on line 12 of the template.
    fn with_metadata(metadata: &str) -> Result<Template, TemplateError> {
        load_with_function(
            &format!("    Metadata:\n{metadata}"),
            "",
            &LoadOptions::default(),
        )
    }

    fn placement(metadata: &str) -> NodePlacement {
        let t = with_metadata(metadata).expect(metadata);
        t.functions[0].placement.clone()
    }

    fn error(metadata: &str) -> String {
        with_metadata(metadata).expect_err(metadata).to_string()
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn labels_required_and_avoided() {
        let p = placement(
            "      Esb:\n        NodeLabels:\n          gpu: true\n          cores: 16\n          example.com/rack: r-1\n        AvoidNodeLabels:\n          zone: dmz\n          gpu: \"false\"\n",
        );
        assert_eq!(
            p.require,
            map(&[
                ("gpu", "true"),
                ("cores", "16"),
                ("example.com/rack", "r-1")
            ])
        );
        assert_eq!(p.avoid, map(&[("zone", "dmz"), ("gpu", "false")]));
        let t = load_with_function("", "", &LoadOptions::default()).expect("valid");
        assert_eq!(t.functions[0].placement, NodePlacement::default());
        assert_eq!(
            placement("      Esb:\n        NodeLabels: {}\n"),
            NodePlacement::default()
        );
    }

    #[test]
    fn intrinsics_are_resolved() {
        let p = placement(
            "      Esb:\n        NodeLabels:\n          region: !Ref AWS::Region\n          tier: !If [Never, gold, silver]\n          gone: !If [Never, x, !Ref AWS::NoValue]\n        AvoidNodeLabels: !If [Never, {zone: a}, {zone: !Sub '${AWS::Region}-dmz'}]\n",
        );
        assert_eq!(
            p.require,
            map(&[("region", "us-east-1"), ("tier", "silver")])
        );
        assert_eq!(p.avoid, map(&[("zone", "us-east-1-dmz")]));
        assert_eq!(
            placement("      Esb: !If [Never, {NodeLabels: {a: b}}, !Ref AWS::NoValue]\n"),
            NodePlacement::default()
        );
    }

    #[test]
    fn other_metadata_is_left_alone() {
        let t = with_metadata(
            "      BuildMethod: makefile\n      DockerTag: v1\n      Anything: [1, !Whatever x]\n      Esb:\n        NodeLabels: {gpu: \"true\"}\n",
        )
        .expect("valid");
        assert_eq!(t.functions[0].placement.require, map(&[("gpu", "true")]));
        assert!(
            t.warnings.iter().any(|w| w.message.contains("BuildMethod")),
            "{:?}",
            t.warnings
        );
    }

    #[test]
    fn bad_labels_are_refused_where_written() {
        let long = "v".repeat(64);
        let ok_long = "v".repeat(63);
        let ok_key = format!("k{}", "x".repeat(62));
        let bad_key = format!("k{}", "x".repeat(63));
        assert_eq!(
            placement(&format!(
                "      Esb:\n        NodeLabels: {{{ok_key}: {ok_long}}}\n"
            ))
            .require[&ok_key],
            ok_long
        );
        for (esb, want) in [
            (
                "        NodeLabels:\n          -gpu: x\n".to_string(),
                "unit.yaml:14:11: Resources.Fn.Metadata.Esb.NodeLabels.-gpu: \"-gpu\" is not a valid node label key (hint: a label key is 1 to 63 letters",
            ),
            (
                "        NodeLabels:\n          'a b': x\n".to_string(),
                ":14:11: Resources.Fn.Metadata.Esb.NodeLabels.a b: \"a b\" is not a valid node label key",
            ),
            (
                format!("        NodeLabels:\n          {bad_key}: x\n"),
                "is not a valid node label key",
            ),
            (
                format!("        AvoidNodeLabels:\n          zone: {long}\n"),
                ":14:11: Resources.Fn.Metadata.Esb.AvoidNodeLabels.zone: the value of zone is 64 characters; a label value has at most 63",
            ),
            (
                "        NodeLabels:\n          gpu: [a]\n".to_string(),
                ":14:11: Resources.Fn.Metadata.Esb.NodeLabels.gpu: a label value must be a string, not a list (hint: write one value",
            ),
            (
                "        NodeLabels:\n          gpu:\n".to_string(),
                "a label value must be a string, not empty",
            ),
            (
                "        NodeLabels: [gpu]\n".to_string(),
                ":13:9: Resources.Fn.Metadata.Esb.NodeLabels: must be a mapping, not a list (hint: Metadata: {Esb: {NodeLabels:",
            ),
            (
                "        NodeLabel: {gpu: x}\n".to_string(),
                ":13:9: Resources.Fn.Metadata.Esb.NodeLabel: is not one of NodeLabels, AvoidNodeLabels (hint: ESB reads NodeLabels, AvoidNodeLabels under Metadata.Esb",
            ),
            (
                "        NodeLabels: {gpu: \"true\", zone: a}\n        AvoidNodeLabels:\n          zone: a\n".to_string(),
                ":15:11: Resources.Fn.Metadata.Esb.AvoidNodeLabels.zone: zone=a is both required (NodeLabels) and avoided: no node could run the function (hint: remove zone from",
            ),
        ] {
            let e = error(&format!("      Esb:\n{esb}"));
            assert!(e.contains(want), "{esb}\n got: {e}\nwant: {want}");
        }
        let e = error("      Esb: [NodeLabels]\n");
        assert!(
            e.contains(":12:7: Resources.Fn.Metadata.Esb: must be a mapping, not a list"),
            "{e}"
        );
        let e = error("      Esb:\n        NodeLabels: {gpu: !Ref Nope}\n");
        assert!(e.contains("Ref to unknown \"Nope\""), "{e}");
    }

    #[test]
    fn a_node_is_allowed_by_its_labels() {
        let p = NodePlacement {
            require: map(&[("gpu", "true")]),
            avoid: map(&[("zone", "dmz")]),
        };
        assert!(p.allows(&map(&[("gpu", "true"), ("zone", "lan")])));
        assert!(!p.allows(&map(&[("gpu", "true"), ("zone", "dmz")])));
        assert!(!p.allows(&map(&[("gpu", "false")])));
        assert!(!p.allows(&BTreeMap::new()));
        assert!(NodePlacement::default().allows(&BTreeMap::new()));
    }

    #[test]
    fn specs_without_placement_still_deserialize() {
        let t = placement_template();
        let spec = &t.functions[0];
        let mut json = serde_json::to_value(spec).expect("serialize");
        let back: FunctionSpec = serde_json::from_value(json.clone()).expect("deserialize");
        assert_eq!(&back, spec);
        json.as_object_mut().expect("object").remove("placement");
        let old: FunctionSpec = serde_json::from_value(json).expect("deserialize old");
        assert_eq!(old.placement, NodePlacement::default());
    }

    fn placement_template() -> Template {
        with_metadata("      Esb:\n        NodeLabels: {gpu: \"true\"}\n").expect("valid")
    }
}
