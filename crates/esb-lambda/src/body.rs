//! Reading request bodies within a size limit. An oversized body is still drained
//! (up to a bound) before the 413 goes out: answering while the client is still
//! sending makes it see a connection reset instead of the error.

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::HeaderMap;

/// Past this many bytes an oversized body is no longer drained; the connection closes.
const MAX_DRAIN_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// The client stopped sending mid-body (the listener's `--body-idle-timeout`).
    #[error("the body stalled before it was complete")]
    Stalled,
    #[error("could not read the body: {0}")]
    Read(String),
}

/// A complete body and its trailers (streamed runtime responses report errors there).
pub struct Collected {
    pub bytes: Bytes,
    pub trailers: Option<HeaderMap>,
}

/// Whether a body error comes from a read that timed out (the listener's framing guard
/// ends a stalled body with `io::ErrorKind::TimedOut`, wrapped by hyper and axum).
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(err) = cause {
        if err
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        cause = err.source();
    }
    false
}

pub async fn read_limited(mut body: Body, limit: usize) -> Result<Collected, BodyError> {
    let mut buf = BytesMut::new();
    let mut trailers = None;
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            if timed_out(&e) {
                BodyError::Stalled
            } else {
                BodyError::Read(e.to_string())
            }
        })?;
        match frame.into_data() {
            Ok(data) => {
                seen = seen.saturating_add(data.len());
                if seen <= limit {
                    buf.extend_from_slice(&data);
                } else if seen > MAX_DRAIN_BYTES {
                    break;
                }
            }
            Err(frame) => trailers = frame.into_trailers().ok(),
        }
    }
    if seen > limit {
        return Err(BodyError::TooLarge { limit });
    }
    Ok(Collected {
        bytes: buf.freeze(),
        trailers,
    })
}
