//! Comparing secrets without telling, by timing, how much of a guess was right.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Equal byte strings, compared in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Equal secrets, compared by SHA-256 digest in constant time: neither their content
/// nor their lengths show in the time taken (for secrets of any length, such as
/// passwords).
pub fn secret_eq(a: &[u8], b: &[u8]) -> bool {
    constant_time_eq(&Sha256::digest(a), &Sha256::digest(b))
}

/// A set of API keys (`x-api-key`). Keys are kept as SHA-256 digests and a presented
/// key is compared by digest, against every key, in constant time: neither a key's
/// content nor its length shows in how long a refusal takes.
#[derive(Clone, Default)]
pub struct ApiKeys {
    digests: Vec<[u8; 32]>,
}

impl ApiKeys {
    pub fn new<S: AsRef<str>>(keys: impl IntoIterator<Item = S>) -> Self {
        Self {
            digests: keys.into_iter().map(|k| digest(k.as_ref())).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// Whether `key` is one of the set.
    pub fn contains(&self, key: &str) -> bool {
        let presented = digest(key);
        self.digests
            .iter()
            .fold(subtle::Choice::from(0), |found, d| {
                found | d.ct_eq(&presented)
            })
            .into()
    }
}

impl std::fmt::Debug for ApiKeys {
    /// Not even digests reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} keys)", self.digests.len())
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_only_when_equal() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
        assert!(secret_eq(b"pass", b"pass"));
        assert!(!secret_eq(b"pass", b"passw"));
    }

    #[test]
    fn api_keys_match_exactly_one_of_the_set() {
        let keys = ApiKeys::new(["first-key-0123456789", "second-key-abcdefghij"]);
        assert!(keys.contains("first-key-0123456789"));
        assert!(keys.contains("second-key-abcdefghij"));
        assert!(!keys.contains("first-key-012345678"));
        assert!(!keys.contains(""));
        assert!(!ApiKeys::new(Vec::<String>::new()).contains(""));
        assert!(!format!("{keys:?}").contains("key-"));
    }
}
