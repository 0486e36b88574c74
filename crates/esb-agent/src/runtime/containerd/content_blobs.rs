//! Blobs in containerd's content store: written as a stream in ~1 MiB pieces (an image
//! never sits whole in memory), hashed on the way so the digest is known at commit,
//! read back whole when small (manifests, configs).

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use containerd_client::services::v1::{
    AbortRequest, Info, InfoRequest, ReadContentRequest, UpdateRequest, WriteAction,
    WriteContentRequest, WriteContentResponse,
};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tonic::{Code, Status, Streaming};

use super::client::Containerd;
use super::image_types::ImageError;

/// The size of each write sent to containerd.
const PIECE: usize = 1 << 20;
/// Manifests and configs are read whole; real ones are a few KiB.
const MAX_SMALL_BLOB: i64 = 16 << 20;

pub fn containerd_error(action: impl Into<String>) -> impl FnOnce(Status) -> ImageError {
    let action = action.into();
    move |status| ImageError::Containerd {
        action,
        detail: format!("{:?}: {}", status.code(), status.message()),
    }
}

/// `sha256:<hex>` of `data`.
pub fn digest_of(data: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(data)))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The blob's record, `None` when the store lacks it.
pub async fn info(containerd: &Containerd, digest: &str) -> Result<Option<Info>, ImageError> {
    let request = containerd.request(InfoRequest {
        digest: digest.to_string(),
    });
    match containerd.content().info(request).await {
        Ok(response) => Ok(response.into_inner().info),
        Err(status) if status.code() == Code::NotFound => Ok(None),
        Err(status) => Err(containerd_error(format!("content info {digest}"))(status)),
    }
}

/// Adds `labels` to an existing blob (a blob another import wrote without them).
pub async fn add_labels(
    containerd: &Containerd,
    digest: &str,
    labels: &HashMap<String, String>,
) -> Result<(), ImageError> {
    if labels.is_empty() {
        return Ok(());
    }
    let paths = labels.keys().map(|k| format!("labels.{k}")).collect();
    let request = containerd.request(UpdateRequest {
        info: Some(Info {
            digest: digest.to_string(),
            labels: labels.clone(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask { paths }),
    });
    containerd
        .content()
        .update(request)
        .await
        .map_err(containerd_error(format!("label {digest}")))?;
    Ok(())
}

/// A small blob whole.
pub async fn read_small(containerd: &Containerd, digest: &str) -> Result<Vec<u8>, ImageError> {
    let size = match info(containerd, digest).await? {
        Some(info) => info.size,
        None => {
            return Err(ImageError::Containerd {
                action: format!("read {digest}"),
                detail: "not in the content store".into(),
            });
        }
    };
    if size > MAX_SMALL_BLOB {
        return Err(ImageError::Malformed {
            what: digest.to_string(),
            detail: format!("{size} bytes, more than a manifest or config can be"),
        });
    }
    let request = containerd.request(ReadContentRequest {
        digest: digest.to_string(),
        offset: 0,
        size: 0,
    });
    let mut stream = containerd
        .content()
        .read(request)
        .await
        .map_err(containerd_error(format!("read {digest}")))?
        .into_inner();
    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(containerd_error(format!("read {digest}")))?;
        data.extend_from_slice(&piece.data);
    }
    Ok(data)
}

/// Writes `data` as one blob under `lease`; returns its digest.
pub async fn write_small(
    containerd: &Containerd,
    lease: &str,
    data: &[u8],
    labels: HashMap<String, String>,
) -> Result<String, ImageError> {
    let mut writer = BlobWriter::open(containerd, lease).await?;
    writer.write(data).await?;
    writer.commit(None, labels).await
}

/// One blob being written: data goes out in [`PIECE`]-sized writes, each answered by
/// containerd before the next (so nothing piles up on either side).
pub struct BlobWriter {
    containerd: Containerd,
    reference: String,
    requests: mpsc::Sender<WriteContentRequest>,
    responses: Streaming<WriteContentResponse>,
    pending: BytesMut,
    offset: i64,
    hasher: Sha256,
}

impl BlobWriter {
    pub async fn open(containerd: &Containerd, lease: &str) -> Result<Self, ImageError> {
        let reference = format!("esb-ingest-{}", uuid::Uuid::new_v4());
        let (requests, receiver) = mpsc::channel(2);
        let outgoing = futures::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|message| (message, receiver))
        });
        // containerd answers nothing before the first message, and the call does not
        // return before containerd answers: the first message goes in first.
        let stat = WriteContentRequest {
            action: WriteAction::Stat as i32,
            r#ref: reference.clone(),
            ..Default::default()
        };
        let closed = |_| ImageError::Containerd {
            action: "content write".into(),
            detail: "the request stream closed".into(),
        };
        requests.send(stat).await.map_err(closed)?;
        let mut responses = containerd
            .content()
            .write(containerd.leased(outgoing, lease))
            .await
            .map_err(containerd_error("content write"))?
            .into_inner();
        next_response(&mut responses)
            .await
            .map_err(containerd_error("content write"))?;
        Ok(Self {
            containerd: containerd.clone(),
            reference,
            requests,
            responses,
            pending: BytesMut::new(),
            offset: 0,
            hasher: Sha256::new(),
        })
    }

    pub async fn write(&mut self, data: &[u8]) -> Result<(), ImageError> {
        self.hasher.update(data);
        self.pending.extend_from_slice(data);
        while self.pending.len() >= PIECE {
            let piece = self.pending.split_to(PIECE).freeze();
            self.send(WriteAction::Write, piece, None, HashMap::new())
                .await
                .map_err(containerd_error("content write"))?;
        }
        Ok(())
    }

    /// Commits the blob as what was written; `expected` (when the source named the
    /// digest) must match it. A blob already there counts as written (containerd then
    /// adds the existing one to the lease).
    pub async fn commit(
        mut self,
        expected: Option<&str>,
        labels: HashMap<String, String>,
    ) -> Result<String, ImageError> {
        let digest = format!("sha256:{}", hex(&self.hasher.clone().finalize()));
        if let Some(expected) = expected
            && expected != digest
        {
            self.abort().await;
            return Err(ImageError::Malformed {
                what: expected.to_string(),
                detail: format!("the data received hashes to {digest}"),
            });
        }
        let rest = std::mem::take(&mut self.pending).freeze();
        let labeled = labels.clone();
        match self
            .send(WriteAction::Commit, rest, Some(&digest), labels)
            .await
        {
            Ok(()) => Ok(digest),
            Err(status) if status.code() == Code::AlreadyExists => {
                add_labels(&self.containerd, &digest, &labeled).await?;
                Ok(digest)
            }
            Err(status) => {
                self.abort().await;
                Err(containerd_error(format!("commit {digest}"))(status))
            }
        }
    }

    async fn send(
        &mut self,
        action: WriteAction,
        data: Bytes,
        expected: Option<&str>,
        labels: HashMap<String, String>,
    ) -> Result<(), Status> {
        let len = data.len() as i64;
        let mut message = WriteContentRequest {
            action: action as i32,
            r#ref: self.reference.clone(),
            offset: self.offset,
            data: data.to_vec(),
            labels,
            ..Default::default()
        };
        if let Some(expected) = expected {
            message.expected = expected.to_string();
            message.total = self.offset + len;
        }
        if self.requests.send(message).await.is_err() {
            // containerd ended the call: its status says why.
            next_response(&mut self.responses).await?;
            return Err(Status::unknown("containerd ended the write"));
        }
        next_response(&mut self.responses).await?;
        self.offset += len;
        Ok(())
    }

    /// Drops the partial blob (best effort: containerd also expires ingests).
    async fn abort(&self) {
        let request = self.containerd.request(AbortRequest {
            r#ref: self.reference.clone(),
        });
        if let Err(e) = self.containerd.content().abort(request).await
            && e.code() != Code::NotFound
        {
            tracing::debug!("abort ingest {}: {}", self.reference, e.message());
        }
    }
}

async fn next_response(
    responses: &mut Streaming<WriteContentResponse>,
) -> Result<WriteContentResponse, Status> {
    match responses.next().await {
        Some(result) => result,
        None => Err(Status::unknown(
            "containerd ended the write without an answer",
        )),
    }
}
