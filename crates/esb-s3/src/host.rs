//! Path-style and virtual-host-style addressing: `bucket.localhost:9000/key` names the
//! bucket in the host; an IP address, a bare base name or any other host (a container
//! reaching the box by name) is path-style, `/bucket/key`.

use s3s::S3Result;
use s3s::host::{S3Host, VirtualHost};

/// Names under which a bucket can lead the host.
const BASE_NAMES: [&str; 4] = [
    "localhost",
    "s3.localhost",
    "host.docker.internal",
    "s3.amazonaws.com",
];

pub struct BoxHost;

/// The bucket a virtual-host-style `host` (port stripped) names, if any.
pub fn bucket_in_host(host: &str) -> Option<&str> {
    if host.starts_with('[') {
        return None; // an IPv6 literal
    }
    let name = host.rsplit_once(':').map_or(host, |(h, _port)| h);
    let mut best: Option<&str> = None;
    for base in BASE_NAMES {
        if let Some(bucket) = name.strip_suffix(base).and_then(|b| b.strip_suffix('.'))
            && !bucket.is_empty()
            && best.is_none_or(|b| bucket.len() < b.len())
        {
            best = Some(bucket);
        }
    }
    // Regional AWS names too: bucket.s3.<region>.amazonaws.com.
    if best.is_none()
        && let Some(rest) = name.strip_suffix(".amazonaws.com")
        && let Some((bucket, _)) = rest.split_once(".s3.")
    {
        best = Some(bucket);
    }
    best
}

impl S3Host for BoxHost {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        Ok(match bucket_in_host(host) {
            Some(bucket) => VirtualHost::new(host).with_bucket(bucket),
            None => VirtualHost::new(host),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::bucket_in_host;

    #[test]
    fn buckets_lead_known_names_only() {
        assert_eq!(bucket_in_host("photos.localhost:9000"), Some("photos"));
        assert_eq!(
            bucket_in_host("my.dotted.bucket.s3.localhost"),
            Some("my.dotted.bucket")
        );
        assert_eq!(bucket_in_host("b1.s3.us-east-1.amazonaws.com"), Some("b1"));
        assert_eq!(bucket_in_host("localhost:9000"), None);
        assert_eq!(bucket_in_host("127.0.0.1:9000"), None);
        assert_eq!(bucket_in_host("[::1]:9000"), None);
        assert_eq!(bucket_in_host("host.docker.internal:9000"), None);
        assert_eq!(bucket_in_host("esb-box:9000"), None);
    }
}
