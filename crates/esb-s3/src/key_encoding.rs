//! Keys in URLs and in `encoding-type=url` listings: every byte but RFC 3986's
//! unreserved characters and `/` percent-encoded, as S3 encodes them.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

const KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

pub fn encode_key(key: &str) -> String {
    utf8_percent_encode(key, KEEP).to_string()
}
