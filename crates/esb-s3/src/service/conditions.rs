//! Conditional reads (`If-Match`, `If-None-Match`, `If-Modified-Since`,
//! `If-Unmodified-Since`), evaluated as RFC 9110 orders them, which is also how S3
//! resolves combinations: a true `If-Match` outranks a false `If-Unmodified-Since`,
//! and a failed `If-None-Match` answers 304 whatever `If-Modified-Since` says.

use s3s::dto::{ETag, ETagCondition, Timestamp};
use s3s::{S3Error, S3ErrorCode, S3Result};

use crate::model::Version;

#[derive(Default)]
pub struct Conditions<'a> {
    pub if_match: Option<&'a ETagCondition>,
    pub if_none_match: Option<&'a ETagCondition>,
    pub if_modified_since: Option<&'a Timestamp>,
    pub if_unmodified_since: Option<&'a Timestamp>,
}

fn matches(cond: &ETagCondition, etag: &str) -> bool {
    match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => {
            let want = match e {
                ETag::Strong(s) | ETag::Weak(s) => s.as_str(),
            };
            want.trim_matches('"') == etag.trim_matches('"')
        }
    }
}

/// Whole seconds since the epoch (HTTP dates have no finer precision).
fn seconds(t: &Timestamp) -> i64 {
    time::OffsetDateTime::from(t.clone()).unix_timestamp()
}

pub fn evaluate(c: &Conditions<'_>, v: &Version) -> S3Result<()> {
    let modified = v.modified_ms.div_euclid(1000);
    let precondition = || {
        S3Error::with_message(
            S3ErrorCode::PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold",
        )
    };
    match (c.if_match, c.if_unmodified_since) {
        (Some(m), _) if !matches(m, &v.etag) => return Err(precondition()),
        (None, Some(t)) if modified > seconds(t) => return Err(precondition()),
        _ => {}
    }
    let not_modified = || {
        let mut e = S3Error::new(S3ErrorCode::NotModified);
        let mut h = http::HeaderMap::new();
        if let Ok(v) = http::HeaderValue::from_str(&v.etag) {
            h.insert(http::header::ETAG, v);
        }
        e.set_headers(h);
        e
    };
    match (c.if_none_match, c.if_modified_since) {
        (Some(m), _) if matches(m, &v.etag) => Err(not_modified()),
        (None, Some(t)) if modified <= seconds(t) => Err(not_modified()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ObjectMeta;

    fn version(etag: &str, modified_s: i64) -> Version {
        Version {
            key: "k".into(),
            version_id: "null".into(),
            seq: 1,
            latest: true,
            delete_marker: false,
            size: 0,
            etag: format!("\"{etag}\""),
            modified_ms: modified_s * 1000 + 500,
            meta: ObjectMeta::default(),
            segments: vec![],
        }
    }

    fn ts(s: i64) -> Timestamp {
        time::OffsetDateTime::from_unix_timestamp(s).unwrap().into()
    }

    fn code(r: S3Result<()>) -> String {
        r.err()
            .map(|e| e.code().as_str().to_string())
            .unwrap_or_else(|| "OK".into())
    }

    #[test]
    fn combinations_resolve_as_s3_documents() {
        let v = version("abc", 100);
        let m = ETagCondition::ETag(ETag::Strong("abc".into()));
        let other = ETagCondition::ETag(ETag::Strong("zzz".into()));
        let (t50, t99, t100, t200) = (ts(50), ts(99), ts(100), ts(200));
        let c = |im, inm, ims, ius| Conditions {
            if_match: im,
            if_none_match: inm,
            if_modified_since: ims,
            if_unmodified_since: ius,
        };
        assert_eq!(code(evaluate(&c(Some(&m), None, None, None), &v)), "OK");
        assert_eq!(
            code(evaluate(&c(Some(&other), None, None, None), &v)),
            "PreconditionFailed"
        );
        // If-Match true + If-Unmodified-Since false -> 200.
        assert_eq!(
            code(evaluate(&c(Some(&m), None, None, Some(&t50)), &v)),
            "OK"
        );
        assert_eq!(
            code(evaluate(&c(None, None, None, Some(&t50)), &v)),
            "PreconditionFailed"
        );
        assert_eq!(code(evaluate(&c(None, None, None, Some(&t100)), &v)), "OK");
        // If-None-Match false + If-Modified-Since true -> 304.
        assert_eq!(
            code(evaluate(&c(None, Some(&m), Some(&t50), None), &v)),
            "NotModified"
        );
        assert_eq!(
            code(evaluate(&c(None, Some(&other), Some(&t200), None), &v)),
            "OK"
        );
        assert_eq!(
            code(evaluate(&c(None, None, Some(&t100), None), &v)),
            "NotModified"
        );
        assert_eq!(code(evaluate(&c(None, None, Some(&t99), None), &v)), "OK");
        assert_eq!(
            code(evaluate(
                &c(None, Some(&ETagCondition::Any), None, None),
                &v
            )),
            "NotModified"
        );
    }
}
