//! Reading Lambda ARNs: the function an ARN names, as `!GetAtt Fn.Arn` or a written
//! ARN gives it (a function's events and API authorizers both name functions that way).

/// The function name in a Lambda function ARN (`arn:...:function:NAME[:QUALIFIER]`,
/// what `!GetAtt Fn.Arn` gives); a bare name is itself.
pub fn name_in_arn(arn: &str) -> String {
    match arn.rsplit_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest).to_string(),
        None => arn.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn function_names_in_arns() {
        for (arn, name) in [
            (
                "arn:aws:lambda:us-east-1:123456789012:function:auth",
                "auth",
            ),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:auth:live",
                "auth",
            ),
            ("auth", "auth"),
        ] {
            assert_eq!(super::name_in_arn(arn), name, "{arn}");
        }
    }
}
