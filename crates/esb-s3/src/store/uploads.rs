//! Multipart uploads: parts are blobs held by part rows; completing an upload makes
//! an object whose segments are those blobs (no bytes copied), in one transaction with
//! the upload's removal.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::handle::Store;
use super::{buckets, objects, outbox, refs};
use crate::error::{StoreError, StoreResult};
use crate::model::{Checksums, NewObject, Part, Segment, Upload};

/// S3's smallest part size, except for the last part.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

fn upload_row(r: &Row<'_>) -> rusqlite::Result<Upload> {
    let key: Vec<u8> = r.get(2)?;
    Ok(Upload {
        upload_id: r.get(0)?,
        bucket: r.get(1)?,
        key: String::from_utf8_lossy(&key).into_owned(),
        initiated_ms: r.get(3)?,
        meta: serde_json::from_str(&r.get::<_, String>(4)?).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, Box::new(e))
        })?,
        checksum_algorithm: r.get(5)?,
    })
}

const UPLOAD_COLUMNS: &str = "upload_id, bucket, key, initiated_ms, meta, checksum_algorithm";

fn part_row(r: &Row<'_>) -> rusqlite::Result<Part> {
    let blob: Option<String> = r.get(1)?;
    let size = r.get::<_, i64>(2)?.max(0) as u64;
    Ok(Part {
        part_number: r.get(0)?,
        size,
        etag: r.get(3)?,
        modified_ms: r.get(4)?,
        checksums: serde_json::from_str(&r.get::<_, String>(5)?).unwrap_or_default(),
        segment: blob.map(|blob| Segment { blob, len: size }),
    })
}

const PART_COLUMNS: &str = "part_number, blob, size, etag, modified_ms, checksums";

/// The upload `id` of `bucket`/`key`, or `NoSuchUpload`.
fn get(conn: &Connection, bucket: &str, key: &str, id: &str) -> StoreResult<Upload> {
    conn.query_row(
        &format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE upload_id = ?1"),
        params![id],
        upload_row,
    )
    .optional()?
    .filter(|u| u.bucket == bucket && u.key == key)
    .ok_or(StoreError::NoSuchUpload)
}

fn parts_of(conn: &Connection, id: &str) -> StoreResult<Vec<Part>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PART_COLUMNS} FROM parts WHERE upload_id = ?1 ORDER BY part_number"
    ))?;
    let rows = stmt.query_map(params![id], part_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn uploads_under(
    c: &Connection,
    bucket: &str,
    prefix: &str,
) -> StoreResult<Vec<Upload>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE bucket = ?1 AND key >= ?2
         ORDER BY key, initiated_ms, upload_id"
    ))?;
    let rows = stmt.query_map(params![bucket, prefix.as_bytes()], upload_row)?;
    let mut out = Vec::new();
    for u in rows {
        let u = u?;
        if !u.key.starts_with(prefix) {
            break;
        }
        out.push(u);
    }
    Ok(out)
}

fn drop_upload(tx: &Connection, id: &str, freed: &mut Vec<String>) -> StoreResult<()> {
    for p in parts_of(tx, id)? {
        if let Some(s) = p.segment {
            refs::release(tx, &[s], freed)?;
        }
    }
    tx.execute("DELETE FROM parts WHERE upload_id = ?1", params![id])?;
    tx.execute("DELETE FROM uploads WHERE upload_id = ?1", params![id])?;
    Ok(())
}

/// A part as `CompleteMultipartUpload` names it.
#[derive(Debug, Clone)]
pub struct CompletedPart {
    pub part_number: i32,
    pub etag: String,
}

impl Store {
    pub async fn create_upload(
        &self,
        bucket: String,
        key: String,
        meta: crate::model::ObjectMeta,
        checksum_algorithm: Option<String>,
    ) -> StoreResult<String> {
        self.write(move |tx, _| {
            buckets::get(tx, &bucket)?;
            let id = uuid::Uuid::new_v4().simple().to_string();
            tx.execute(
                "INSERT INTO uploads (upload_id, bucket, key, initiated_ms, meta, checksum_algorithm)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    id,
                    bucket,
                    key.as_bytes(),
                    super::handle::now_ms(),
                    serde_json::to_string(&meta)?,
                    checksum_algorithm
                ],
            )?;
            Ok(id)
        })
        .await
    }

    pub async fn upload(&self, bucket: String, key: String, id: String) -> StoreResult<Upload> {
        self.read(move |c| {
            buckets::get(c, &bucket)?;
            get(c, &bucket, &key, &id)
        })
        .await
    }

    /// Records a part (its blob already durable), replacing an earlier one of the same
    /// number.
    pub async fn put_part(
        &self,
        bucket: String,
        key: String,
        id: String,
        part: Part,
    ) -> StoreResult<()> {
        self.write(move |tx, freed| {
            buckets::get(tx, &bucket)?;
            get(tx, &bucket, &key, &id)?;
            let old: Option<Part> = tx
                .query_row(
                    &format!("SELECT {PART_COLUMNS} FROM parts WHERE upload_id = ?1 AND part_number = ?2"),
                    params![id, part.part_number],
                    part_row,
                )
                .optional()?;
            if let Some(s) = old.and_then(|p| p.segment) {
                refs::release(tx, &[s], freed)?;
            }
            if let Some(s) = &part.segment {
                refs::retain(tx, std::slice::from_ref(s))?;
            }
            tx.execute(
                "INSERT OR REPLACE INTO parts (upload_id, part_number, blob, size, etag, modified_ms, checksums)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    id,
                    part.part_number,
                    part.segment.as_ref().map(|s| s.blob.clone()),
                    i64::try_from(part.size).unwrap_or(i64::MAX),
                    part.etag,
                    super::handle::now_ms(),
                    serde_json::to_string(&part.checksums)?,
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn parts(
        &self,
        bucket: String,
        key: String,
        id: String,
    ) -> StoreResult<(Upload, Vec<Part>)> {
        self.read(move |c| {
            buckets::get(c, &bucket)?;
            let u = get(c, &bucket, &key, &id)?;
            Ok((u, parts_of(c, &id)?))
        })
        .await
    }

    pub async fn abort_upload(&self, bucket: String, key: String, id: String) -> StoreResult<()> {
        self.write(move |tx, freed| {
            buckets::get(tx, &bucket)?;
            get(tx, &bucket, &key, &id)?;
            drop_upload(tx, &id, freed)
        })
        .await
    }

    /// Completes an upload from the listed parts (ascending, ETags matching, all but
    /// the last at least 5 MiB). `finish` turns the chosen parts into the object's ETag,
    /// checksums and metadata.
    pub async fn complete_upload(
        &self,
        bucket: String,
        key: String,
        id: String,
        listed: Vec<CompletedPart>,
        condition: objects::WriteCondition,
        finish: impl FnOnce(&Upload, &[Part]) -> Result<(String, Checksums), StoreError>
        + Send
        + 'static,
    ) -> StoreResult<(objects::PutOutcome, String, u64)> {
        let region = self.region().to_string();
        let request_id = crate::request_id::current();
        self.write(move |tx, freed| {
            let b = buckets::get(tx, &bucket)?;
            let upload = get(tx, &bucket, &key, &id)?;
            let stored = parts_of(tx, &id)?;
            let mut chosen = Vec::with_capacity(listed.len());
            let mut last = 0;
            for l in &listed {
                if l.part_number <= last {
                    return Err(StoreError::InvalidPartOrder);
                }
                last = l.part_number;
                let p = stored
                    .iter()
                    .find(|p| p.part_number == l.part_number)
                    .filter(|p| p.etag.trim_matches('"') == l.etag.trim_matches('"'))
                    .ok_or(StoreError::InvalidPart)?;
                chosen.push(p.clone());
            }
            if chosen.iter().rev().skip(1).any(|p| p.size < MIN_PART_SIZE) {
                return Err(StoreError::EntityTooSmall);
            }
            let (etag, checksums) = finish(&upload, &chosen)?;
            let mut meta = upload.meta.clone();
            meta.checksums = checksums;
            meta.parts_count = u32::try_from(chosen.len()).ok();
            let size: u64 = chosen.iter().map(|p| p.size).sum();
            let new = NewObject {
                size,
                etag: etag.clone(),
                meta,
                segments: chosen.iter().filter_map(|p| p.segment.clone()).collect(),
            };
            condition.check(tx, &bucket, &key)?;
            let out = objects::insert_current(tx, &bucket, b.versioning, &key, &new, false, freed)?;
            drop_upload(tx, &id, freed)?;
            let plain = etag.trim_matches('"').to_string();
            outbox::queue(
                tx,
                &b,
                &region,
                &crate::notify::ObjectEvent {
                    name: "ObjectCreated:CompleteMultipartUpload",
                    bucket: &bucket,
                    key: &key,
                    size: Some(size),
                    etag: Some(&plain),
                    version_id: Some(&out.version_id),
                    sequencer: out.seq,
                    time_ms: super::handle::now_ms(),
                    request_id: request_id.as_deref(),
                },
            )?;
            Ok((out, etag, size))
        })
        .await
    }
}
