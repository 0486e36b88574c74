//! The session token a function's workers get as `AWS_SESSION_TOKEN`. Lambda gives each
//! function credentials of its own role; a box signs everything with one key pair, and
//! this token (sent by every SDK as `X-Amz-Security-Token`) tells the box's services
//! which function a call comes from: CloudWatch Logs attributes the events a function
//! writes by it. It grants nothing: requests are authorised by their signature alone.

const PREFIX: &str = "ESBFunction/";

/// The token of `function`'s workers.
pub fn for_function(function: &str) -> String {
    format!("{PREFIX}{function}")
}

/// The function a token names, if it is one of the box's.
pub fn function_of(token: &str) -> Option<&str> {
    token.strip_prefix(PREFIX).filter(|f| {
        !f.is_empty()
            && f.len() <= 170
            && f.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_function_and_nothing_else_does() {
        assert_eq!(function_of(&for_function("echo-1")), Some("echo-1"));
        assert_eq!(function_of("FwoGZXIvYXdzEJr//////////"), None);
        assert_eq!(function_of("ESBFunction/"), None);
        assert_eq!(function_of("ESBFunction/a b"), None);
    }
}
