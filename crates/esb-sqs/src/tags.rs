//! Queue tags: SQS allows 50 per queue, keys of 1-128 and values of up to 256
//! characters.

use std::collections::BTreeMap;

use crate::error::SqsError;

pub fn check(tags: &BTreeMap<String, String>) -> Result<(), SqsError> {
    if tags.len() > 50 {
        return Err(SqsError::invalid(
            "Too many tags added for queue. The maximum number of tags is 50.",
        ));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(SqsError::invalid(format!(
                "Tag key {k} is invalid: a key is 1 to 128 characters."
            )));
        }
        if v.chars().count() > 256 {
            return Err(SqsError::invalid(format!(
                "Tag value for key {k} is invalid: a value is at most 256 characters."
            )));
        }
    }
    Ok(())
}
