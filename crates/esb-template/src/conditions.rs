//! `Conditions` and the condition functions (`Fn::Equals`, `Fn::Not`, `Fn::And`,
//! `Fn::Or`, `Condition`). A condition is evaluated when first needed and remembered, so
//! conditions may refer to ones declared after them, as CloudFormation allows; a
//! condition that depends on itself is reported as a cycle.

use crate::error::{ErrorKind, TemplateError};
use crate::intrinsics::{Call, Resolver};
use crate::value::Value;
use crate::yaml_tree::{Node, Position};

/// CloudFormation's limits on `Fn::And` / `Fn::Or` operands.
const MIN_OPERANDS: usize = 2;
const MAX_OPERANDS: usize = 10;

impl Resolver<'_> {
    /// Evaluates every declared condition, so a broken one is reported even when no
    /// resource uses it (CloudFormation validates them all).
    pub fn check_conditions(&self) -> Result<(), TemplateError> {
        let mut names: Vec<(&str, Position)> = self
            .conditions
            .values()
            .map(|e| (e.key.as_str(), e.key_pos))
            .collect();
        // In document order, so a cycle is reported from where the reader starts.
        names.sort_by_key(|(_, at)| *at);
        for (name, at) in names {
            self.condition_named(name, at, &format!("Conditions.{name}"))?;
        }
        Ok(())
    }

    /// The truth of the condition called `name`.
    pub fn condition_named(
        &self,
        name: &str,
        at: Position,
        path: &str,
    ) -> Result<bool, TemplateError> {
        if let Some(v) = self.condition_values.borrow().get(name) {
            return Ok(*v);
        }
        let Some(entry) = self.conditions.get(name).copied() else {
            let declared: Vec<&str> = self.conditions.keys().copied().collect();
            return Err(self.error(
                at,
                path,
                ErrorKind::UnknownCondition(name.to_string()),
                if declared.is_empty() {
                    "declare it under Conditions".to_string()
                } else {
                    format!("declared conditions: {}", declared.join(", "))
                },
            ));
        };
        let own_path = format!("Conditions.{name}");
        let value = self.guard(&own_path, at, path, || {
            self.condition_expr(&entry.value, &own_path)
        })?;
        self.condition_values
            .borrow_mut()
            .insert(name.to_string(), value);
        Ok(value)
    }

    /// Evaluates a condition expression.
    pub fn condition_expr(&self, node: &Node, path: &str) -> Result<bool, TemplateError> {
        match self.intrinsic(node, true, true, path)? {
            Some(call) => self.condition_call(&call, path),
            None => Err(self.error(
                node.pos,
                path,
                ErrorKind::BadIntrinsic(format!(
                    "a condition must be a condition function, not {}",
                    node.shape()
                )),
                "use Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition",
            )),
        }
    }

    pub(crate) fn condition_call(&self, c: &Call<'_>, path: &str) -> Result<bool, TemplateError> {
        match c.name.as_str() {
            "Equals" => {
                let [a, b] = self.args(c, path, "[value, value]")?;
                let a = self.resolve(a, path)?.map(canonical);
                let b = self.resolve(b, path)?.map(canonical);
                Ok(a == b)
            }
            "Not" => {
                let [inner] = self.args(c, path, "[condition]")?;
                Ok(!self.condition_expr(inner, path)?)
            }
            "And" | "Or" => {
                let operands = match &c.arg.value {
                    crate::yaml_tree::NodeValue::Seq(items)
                        if (MIN_OPERANDS..=MAX_OPERANDS).contains(&items.len()) =>
                    {
                        items
                    }
                    _ => {
                        return Err(self.bad(
                            c,
                            path,
                            &format!(
                                "{} takes a list of {MIN_OPERANDS} to {MAX_OPERANDS} conditions",
                                c.display()
                            ),
                        ));
                    }
                };
                let want = c.name == "Or";
                // Every operand is evaluated (and so checked), as CloudFormation does.
                let mut result = !want;
                for o in operands {
                    if self.condition_expr(o, path)? == want {
                        result = want;
                    }
                }
                Ok(result)
            }
            "Condition" => {
                let name = c
                    .arg
                    .as_str()
                    .ok_or_else(|| self.bad(c, path, "Condition takes the name of a condition"))?;
                self.condition_named(name, c.at, path)
            }
            _ => Err(self.bad(
                c,
                path,
                &format!("{} cannot be used as a condition", c.display()),
            )),
        }
    }
}

/// Values as `Fn::Equals` compares them: scalars by their text (`1` equals `"1"`).
fn canonical(v: Value) -> Value {
    match v {
        Value::List(items) => Value::List(items.into_iter().map(canonical).collect()),
        Value::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k, canonical(v)))
                .collect(),
        ),
        Value::Null => Value::Null,
        other => Value::String(other.as_text().unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::resolver_for;

    #[test]
    fn conditions_combine_and_may_refer_forward() {
        let yaml = "Parameters:\n  Stage: {Type: String, Default: prod}\nConditions:\n  Both: !And [!Condition IsProd, {Condition: NotDev}]\n  IsProd: !Equals [!Ref Stage, prod]\n  NotDev: !Not [!Equals [dev, !Ref Stage]]\n  Either: {\"Fn::Or\": [{\"Fn::Equals\": [1, \"1\"]}, !Condition IsProd]}\n";
        resolver_for(yaml, |r| {
            r.check_conditions().expect("valid");
            let at = crate::yaml_tree::Position { line: 1, col: 1 };
            for (name, want) in [
                ("Both", true),
                ("IsProd", true),
                ("NotDev", true),
                ("Either", true),
            ] {
                assert_eq!(
                    r.condition_named(name, at, "t").expect(name),
                    want,
                    "{name}"
                );
            }
        });
    }

    #[test]
    fn cycles_and_mistakes_are_errors() {
        for (yaml, expect) in [
            (
                "Conditions:\n  A: !Condition B\n  B: !Not [!Condition A]\n",
                "circular reference: Conditions.A -> Conditions.B -> Conditions.A",
            ),
            (
                "Conditions:\n  A: !Condition Nope\n",
                "unknown condition \"Nope\"",
            ),
            (
                "Conditions:\n  A: !Or [!Equals [a, a]]\n",
                "takes a list of 2 to 10",
            ),
            ("Conditions:\n  A: true\n", "must be a condition function"),
            (
                "Conditions:\n  A: !Sub x\n",
                "Fn::Sub cannot be used as a condition",
            ),
            (
                "Conditions:\n  A: !Equals [a]\n",
                "Fn::Equals takes [value, value]",
            ),
        ] {
            resolver_for(yaml, |r| {
                let e = r.check_conditions().expect_err(yaml).to_string();
                assert!(e.contains(expect), "{yaml}: {e}");
            });
        }
    }
}
