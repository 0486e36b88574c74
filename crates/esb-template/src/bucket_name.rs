//! S3 bucket names: the rules S3 applies when a bucket is created, so a `BucketName`
//! AWS would refuse is refused here too, and the name CloudFormation gives a bucket
//! whose template sets none.
//!
//! CloudFormation appends 12 random characters to that name. ESB derives them from
//! the stack name and the logical id instead: a restarted ESB must find the same
//! bucket, and the objects in it, again.

use sha2::{Digest, Sha256};

const MIN_LEN: usize = 3;
const MAX_LEN: usize = 63;
/// Prefixes and suffixes S3 reserves for its own names (access point aliases,
/// Multi-Region Access Points, directory and table buckets...).
const RESERVED_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
const RESERVED_SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
/// The length of the unique part of a generated name, as CloudFormation makes it.
const UNIQUE_LEN: usize = 12;
const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// What S3 would object to in `name`, if anything.
pub fn check(name: &str) -> Result<(), String> {
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Err(format!(
            "{c:?} is not allowed (lowercase letters, digits, dots and hyphens only)"
        ));
    }
    // ASCII from here on: bytes are characters.
    if !(MIN_LEN..=MAX_LEN).contains(&name.len()) {
        return Err(format!(
            "it has {} characters; S3 allows {MIN_LEN} to {MAX_LEN}",
            name.len()
        ));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alnum(name.chars().next()) || !alnum(name.chars().last()) {
        return Err("it must begin and end with a letter or a digit".into());
    }
    if name.contains("..") {
        return Err("it has two adjacent dots".into());
    }
    if looks_like_ip(name) {
        return Err("it is formatted as an IP address".into());
    }
    if let Some(p) = RESERVED_PREFIXES.iter().find(|p| name.starts_with(*p)) {
        return Err(format!("S3 reserves the prefix {p}"));
    }
    if let Some(s) = RESERVED_SUFFIXES.iter().find(|s| name.ends_with(*s)) {
        return Err(format!("S3 reserves the suffix {s}"));
    }
    Ok(())
}

/// Four dot-separated groups of 1 to 3 digits, like 192.168.5.4.
fn looks_like_ip(name: &str) -> bool {
    let groups: Vec<&str> = name.split('.').collect();
    groups.len() == 4
        && groups
            .iter()
            .all(|g| (1..=3).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_digit()))
}

/// CloudFormation's name for a bucket without `BucketName`:
/// `<stack name>-<logical id>-<12 characters>`, lower-cased, the first two parts
/// shortened (the longer first) so the whole fits in 63 characters. Characters a
/// bucket name cannot have are replaced by hyphens, so any stack name gives a valid
/// name.
pub fn generated(stack_name: &str, logical_id: &str) -> String {
    let unique = unique_part(stack_name, logical_id);
    let stack = clean(stack_name);
    let id = clean(logical_id);
    let (stack, id) = fit(&stack, &id, MAX_LEN - UNIQUE_LEN - 1);
    let mut name = [stack, id, unique.as_str()]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<&str>>()
        .join("-");
    // Only the start can break a rule now (the end is the unique part): drop what S3
    // reserves there, e.g. a stack called "sthree".
    while let Some(p) = RESERVED_PREFIXES.iter().find(|p| name.starts_with(*p)) {
        name = name[p.len()..].trim_start_matches('-').to_string();
    }
    name
}

/// 12 lowercase letters and digits from a SHA-256 of the stack name and logical id.
/// A logical id has no `:`, so different pairs hash different text.
fn unique_part(stack_name: &str, logical_id: &str) -> String {
    let digest = Sha256::digest(format!("{stack_name}:{logical_id}").as_bytes());
    digest
        .iter()
        .take(UNIQUE_LEN)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// Lower-cased, other characters than letters, digits and hyphens made hyphens, no
/// hyphen at either end.
fn clean(part: &str) -> String {
    part.chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_matches('-')
        .to_string()
}

/// Shortens `stack` and `id` (ASCII), the longer first, until `stack-id` fits in
/// `room` characters. Generated table names are shortened the same way.
pub fn fit<'p>(stack: &'p str, id: &'p str, room: usize) -> (&'p str, &'p str) {
    let (mut s, mut i) = (stack.len(), id.len());
    let len = |s: usize, i: usize| s + i + usize::from(s > 0 && i > 0);
    while len(s, i) > room {
        if s >= i {
            s -= 1;
        } else {
            i -= 1;
        }
    }
    (stack[..s].trim_end_matches('-'), &id[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_rules() {
        let longest = "x".repeat(63);
        for ok in ["abc", "my-bucket.logs", "1.2.3.4.5", "a-b--c", &longest] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("ab", "2 characters"),
            (&"x".repeat(64), "64 characters"),
            ("My-Bucket", "'M' is not allowed"),
            ("my_bucket", "'_' is not allowed"),
            ("-bucket", "begin and end"),
            ("bucket.", "begin and end"),
            ("a..b", "adjacent dots"),
            ("192.168.5.4", "IP address"),
            ("xn--bucket", "prefix xn--"),
            ("sthree-data", "prefix sthree-"),
            ("amzn-s3-demo-x", "prefix amzn-s3-demo-"),
            ("data-s3alias", "suffix -s3alias"),
            ("data--ol-s3", "suffix --ol-s3"),
            ("data.mrap", "suffix .mrap"),
            ("data--x-s3", "suffix --x-s3"),
            ("data--table-s3", "suffix --table-s3"),
            ("bücket", "is not allowed"),
        ] {
            let e = check(bad).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn generated_names_are_deterministic_and_valid() {
        let a = generated("my-app", "Uploads");
        assert_eq!(a, generated("my-app", "Uploads"), "same input, same name");
        assert_ne!(a, generated("my-app", "Images"));
        assert_ne!(a, generated("other", "Uploads"));
        let (start, unique) = a.split_at("my-app-uploads-".len());
        assert_eq!(start, "my-app-uploads-");
        assert_eq!(unique.len(), 12);
        assert!(
            unique
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        assert_eq!(check(&a), Ok(()));
    }

    #[test]
    fn generated_names_fit_any_stack_name() {
        let long = "Stack".repeat(30);
        let id = "VeryLongLogicalIdForTheBucketHoldingUploads".repeat(3);
        for (stack, logical) in [
            (long.as_str(), "Uploads"),
            ("s", id.as_str()),
            (long.as_str(), id.as_str()),
            ("My_Project.v2", "Data"),
            ("--", "Data"),
            ("", "Data"),
            ("sthree", "Data"),
            ("xn--stack", "Data"),
            ("amzn-s3-demo", "Data"),
            ("", "Sthree"),
            ("projét ünïcode", "Data"),
            (
                "a-----------------------------------------------------z",
                &id,
            ),
        ] {
            let name = generated(stack, logical);
            assert!(name.len() <= 63, "{stack}/{logical}: {name}");
            assert_eq!(check(&name), Ok(()), "{stack}/{logical}: {name}");
        }
        let name = generated(&long, "Uploads");
        assert!(
            name.starts_with("stackstack") && name.contains("-uploads-"),
            "the short logical id is kept whole: {name}"
        );
        assert_eq!(name.len(), 63);
        assert!(generated("My_Project.v2", "Data").starts_with("my-project-v2-data-"));
        assert!(generated("sthree", "Data").starts_with("data-"));
    }
}
