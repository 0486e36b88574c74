//! The string syntax of `Fn::Sub`: `${Name}`, `${Resource.Attribute}` and the escape
//! `${!Literal}`. Split out from evaluation so the syntax is tested on its own and the
//! dependency check can list what a string refers to without resolving it.

/// One piece of a `Fn::Sub` string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    /// A name to substitute: a variable, parameter, pseudo parameter, resource, or
    /// `Resource.Attribute`.
    Var(String),
}

/// Splits a `Fn::Sub` string; `Err` says what is malformed.
pub fn parse(template: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        text.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("unclosed ${{ in {template:?}"));
        };
        let inner = &after[..end];
        if let Some(literal) = inner.strip_prefix('!') {
            text.push_str("${");
            text.push_str(literal);
            text.push('}');
        } else {
            let name = inner.trim();
            if name.is_empty() {
                return Err(format!("empty ${{}} in {template:?}"));
            }
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text)));
            }
            parts.push(Part::Var(name.to_string()));
        }
        rest = &after[end + 1..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_variables_and_text() {
        assert_eq!(
            parse("arn:${AWS::Region}:${Fn.Arn}/x").expect("valid"),
            [
                Part::Text("arn:".into()),
                Part::Var("AWS::Region".into()),
                Part::Text(":".into()),
                Part::Var("Fn.Arn".into()),
                Part::Text("/x".into()),
            ]
        );
    }

    #[test]
    fn escapes_and_lone_dollars_are_text() {
        assert_eq!(
            parse("${!Literal} costs $5").expect("valid"),
            [Part::Text("${Literal} costs $5".into())]
        );
        assert_eq!(parse("").expect("valid"), []);
    }

    #[test]
    fn malformed() {
        assert!(parse("${Open").is_err());
        assert!(parse("${}").is_err());
        assert!(parse("a ${ } b").is_err());
    }
}
