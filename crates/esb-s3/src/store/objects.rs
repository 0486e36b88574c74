//! Object versions: writing one (with S3's versioning rules and conditional writes),
//! reading one, deleting one, all as single transactions that also queue the
//! notifications they trigger.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::handle::Store;
use super::{buckets, outbox, refs, schema};
use crate::error::{StoreError, StoreResult};
use crate::model::{NULL_VERSION, NewObject, ObjectMeta, Segment, Version, Versioning};

pub(super) const COLUMNS: &str =
    "key, version_id, seq, latest, delete_marker, size, etag, modified_ms, meta, segments";

pub(super) fn version_row(r: &Row<'_>) -> rusqlite::Result<Version> {
    let key: Vec<u8> = r.get(0)?;
    let json_err = |i, e: serde_json::Error| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    };
    Ok(Version {
        key: String::from_utf8_lossy(&key).into_owned(),
        version_id: r.get(1)?,
        seq: r.get(2)?,
        latest: r.get(3)?,
        delete_marker: r.get(4)?,
        size: r.get::<_, i64>(5)?.max(0) as u64,
        etag: r.get(6)?,
        modified_ms: r.get(7)?,
        meta: serde_json::from_str(&r.get::<_, String>(8)?).map_err(|e| json_err(8, e))?,
        segments: serde_json::from_str(&r.get::<_, String>(9)?).map_err(|e| json_err(9, e))?,
    })
}

/// A conditional write's precondition, checked against the current version inside the
/// write's transaction (so two racing writers cannot both pass).
#[derive(Debug, Clone, Default)]
pub struct WriteCondition {
    /// `If-None-Match: *`: only if no current object.
    pub if_none_match_any: bool,
    /// `If-Match`: only if the current object's ETag is this (quoted or not) or `*`.
    pub if_match: Option<String>,
    /// The new object names blobs other rows hold (a copy): they must still be held when
    /// it commits, or the source changed since it was read (`SourceChanged`).
    pub shares_blobs: bool,
}

impl WriteCondition {
    /// Checks the precondition against the current version of `key`.
    pub(super) fn check(&self, tx: &Connection, bucket: &str, key: &str) -> StoreResult<()> {
        if !self.if_none_match_any && self.if_match.is_none() {
            return Ok(());
        }
        let cur = current(tx, bucket, key)?.filter(|v| !v.delete_marker);
        if self.if_none_match_any && cur.is_some() {
            return Err(StoreError::PreconditionFailed);
        }
        if let Some(want) = &self.if_match {
            match &cur {
                None => {
                    return Err(StoreError::NoSuchKey {
                        delete_marker: None,
                    });
                }
                Some(v) if want != "*" && unquote(want) != unquote(&v.etag) => {
                    return Err(StoreError::PreconditionFailed);
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct PutOutcome {
    pub version_id: String,
    pub seq: i64,
}

#[derive(Debug, Clone, Default)]
pub struct DeleteOutcome {
    pub version_id: Option<String>,
    pub delete_marker: bool,
}

fn unquote(etag: &str) -> &str {
    etag.trim_start_matches("W/").trim_matches('"')
}

/// The current version of `key`, delete markers included.
pub(super) fn current(conn: &Connection, bucket: &str, key: &str) -> StoreResult<Option<Version>> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM versions WHERE bucket = ?1 AND key = ?2 AND latest = 1"
            ),
            params![bucket, key.as_bytes()],
            version_row,
        )
        .optional()?)
}

/// Removes one version row, freeing its bytes; a removed current version hands
/// `latest` to the newest remaining one.
fn remove_version(
    tx: &Connection,
    bucket: &str,
    v: &Version,
    freed: &mut Vec<String>,
) -> StoreResult<()> {
    tx.execute(
        "DELETE FROM versions WHERE bucket = ?1 AND key = ?2 AND seq = ?3",
        params![bucket, v.key.as_bytes(), v.seq],
    )?;
    refs::release(tx, &v.segments, freed)?;
    if v.latest {
        tx.execute(
            "UPDATE versions SET latest = 1 WHERE bucket = ?1 AND key = ?2 AND seq =
               (SELECT MAX(seq) FROM versions WHERE bucket = ?1 AND key = ?2)",
            params![bucket, v.key.as_bytes()],
        )?;
    }
    Ok(())
}

/// The current version of `key` (or `version_id`); see [`Store::get_object`].
fn lookup(
    c: &Connection,
    bucket: &str,
    key: &str,
    version_id: Option<String>,
) -> StoreResult<Version> {
    buckets::get(c, bucket)?;
    match version_id {
        Some(id) => {
            let v = by_version_id(c, bucket, key, &id)?.ok_or(StoreError::NoSuchVersion)?;
            if v.delete_marker {
                return Err(StoreError::MethodNotAllowed {
                    delete_marker: v.version_id,
                });
            }
            Ok(v)
        }
        None => match current(c, bucket, key)? {
            Some(v) if v.delete_marker => Err(StoreError::NoSuchKey {
                delete_marker: Some(v.version_id),
            }),
            Some(v) => Ok(v),
            None => Err(StoreError::NoSuchKey {
                delete_marker: None,
            }),
        },
    }
}

/// A version id this store could have issued: `null`, or 32 lowercase hex digits.
fn well_formed_version_id(id: &str) -> bool {
    id == NULL_VERSION
        || (id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// The version `version_id` of `key`; an id no version could have is
/// `InvalidVersionId` (S3's `InvalidArgument`), one that could but is not there `None`.
fn by_version_id(
    conn: &Connection,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> StoreResult<Option<Version>> {
    if !well_formed_version_id(version_id) {
        return Err(StoreError::InvalidVersionId);
    }
    Ok(conn
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM versions WHERE bucket = ?1 AND key = ?2 AND version_id = ?3"
            ),
            params![bucket, key.as_bytes(), version_id],
            version_row,
        )
        .optional()?)
}

/// Makes the new current version of `key`: the previous current one stays as an older
/// version (versioning enabled) or is replaced (off; suspended replaces the `null`
/// version). Returns the new row's version id and sequence.
pub(super) fn insert_current(
    tx: &Connection,
    bucket: &str,
    versioning: Versioning,
    key: &str,
    new: &NewObject,
    delete_marker: bool,
    freed: &mut Vec<String>,
) -> StoreResult<PutOutcome> {
    let version_id = match versioning {
        Versioning::Enabled => uuid::Uuid::new_v4().simple().to_string(),
        Versioning::Unversioned | Versioning::Suspended => NULL_VERSION.to_string(),
    };
    if version_id == NULL_VERSION
        && let Some(old) = by_version_id(tx, bucket, key, NULL_VERSION)?
    {
        tx.execute(
            "DELETE FROM versions WHERE bucket = ?1 AND key = ?2 AND seq = ?3",
            params![bucket, key.as_bytes(), old.seq],
        )?;
        refs::release(tx, &old.segments, freed)?;
    }
    tx.execute(
        "UPDATE versions SET latest = 0 WHERE bucket = ?1 AND key = ?2 AND latest = 1",
        params![bucket, key.as_bytes()],
    )?;
    let seq = schema::next_seq(tx)?;
    tx.execute(
        "INSERT INTO versions (bucket, key, seq, version_id, latest, delete_marker, size, etag, modified_ms, meta, segments)
         VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            bucket,
            key.as_bytes(),
            seq,
            version_id,
            delete_marker,
            i64::try_from(new.size).unwrap_or(i64::MAX),
            new.etag,
            super::handle::now_ms(),
            serde_json::to_string(&new.meta)?,
            serde_json::to_string(&new.segments)?,
        ],
    )?;
    refs::retain(tx, &new.segments)?;
    Ok(PutOutcome { version_id, seq })
}

impl Store {
    /// Commits a new object whose bytes are already durable. `event` is its
    /// notification name (e.g. `ObjectCreated:Put`).
    pub async fn put_object(
        &self,
        bucket: String,
        key: String,
        new: NewObject,
        condition: WriteCondition,
        event: &'static str,
    ) -> StoreResult<PutOutcome> {
        let region = self.region().to_string();
        let request_id = crate::request_id::current();
        self.write(move |tx, freed| {
            let b = buckets::get(tx, &bucket)?;
            condition.check(tx, &bucket, &key)?;
            if condition.shares_blobs {
                for s in &new.segments {
                    if !refs::is_referenced(tx, &s.blob)? {
                        return Err(StoreError::SourceChanged);
                    }
                }
            }
            let out = insert_current(tx, &bucket, b.versioning, &key, &new, false, freed)?;
            let etag = unquote(&new.etag).to_string();
            outbox::queue(
                tx,
                &b,
                &region,
                &crate::notify::ObjectEvent {
                    name: event,
                    bucket: &bucket,
                    key: &key,
                    size: Some(new.size),
                    etag: Some(&etag),
                    version_id: Some(&out.version_id),
                    sequencer: out.seq,
                    time_ms: super::handle::now_ms(),
                    request_id: request_id.as_deref(),
                },
            )?;
            Ok(out)
        })
        .await
    }

    /// The current version of `key` (or `version_id`). A current delete marker is
    /// `NoSuchKey`; asking for a delete marker by id is `MethodNotAllowed`.
    pub async fn get_object(
        &self,
        bucket: String,
        key: String,
        version_id: Option<String>,
    ) -> StoreResult<Version> {
        self.read(move |c| lookup(c, &bucket, &key, version_id))
            .await
    }

    /// `get_object`, with the version's blobs pinned on disk while the pin lives (for
    /// reading its bytes), and the bucket's versioning (which version ids to report),
    /// read in the same step.
    pub async fn get_object_pinned(
        &self,
        bucket: String,
        key: String,
        version_id: Option<String>,
    ) -> StoreResult<((Version, Versioning), super::handle::BlobPin)> {
        self.read_pinned(
            move |c| {
                let versioning = buckets::get(c, &bucket)?.versioning;
                Ok((lookup(c, &bucket, &key, version_id)?, versioning))
            },
            |(v, _): &(Version, Versioning)| v.segments.iter().map(|s| s.blob.clone()).collect(),
        )
        .await
    }

    /// `DeleteObject`: without a version id, removes the object (unversioned) or
    /// places a delete marker; with one, removes exactly that version.
    pub async fn delete_object(
        &self,
        bucket: String,
        key: String,
        version_id: Option<String>,
        if_match: Option<String>,
    ) -> StoreResult<DeleteOutcome> {
        let region = self.region().to_string();
        let request_id = crate::request_id::current();
        self.write(move |tx, freed| {
            let b = buckets::get(tx, &bucket)?;
            WriteCondition {
                if_match,
                ..WriteCondition::default()
            }
            .check(tx, &bucket, &key)?;
            let now = super::handle::now_ms();
            let (outcome, event, seq) = match (version_id, b.versioning) {
                (Some(id), _) => {
                    let Some(v) = by_version_id(tx, &bucket, &key, &id)? else {
                        // Deleting a version that is not there succeeds (S3 does the same).
                        return Ok(DeleteOutcome {
                            version_id: Some(id),
                            delete_marker: false,
                        });
                    };
                    remove_version(tx, &bucket, &v, freed)?;
                    let seq = schema::next_seq(tx)?;
                    (
                        DeleteOutcome {
                            version_id: Some(v.version_id),
                            delete_marker: v.delete_marker,
                        },
                        "ObjectRemoved:Delete",
                        seq,
                    )
                }
                (None, Versioning::Unversioned) => {
                    let Some(v) = current(tx, &bucket, &key)? else {
                        return Ok(DeleteOutcome::default());
                    };
                    remove_version(tx, &bucket, &v, freed)?;
                    (
                        DeleteOutcome::default(),
                        "ObjectRemoved:Delete",
                        schema::next_seq(tx)?,
                    )
                }
                (None, versioning) => {
                    let marker = NewObject {
                        size: 0,
                        etag: String::new(),
                        meta: ObjectMeta::default(),
                        segments: Vec::<Segment>::new(),
                    };
                    let out = insert_current(tx, &bucket, versioning, &key, &marker, true, freed)?;
                    (
                        DeleteOutcome {
                            version_id: Some(out.version_id),
                            delete_marker: true,
                        },
                        "ObjectRemoved:DeleteMarkerCreated",
                        out.seq,
                    )
                }
            };
            outbox::queue(
                tx,
                &b,
                &region,
                &crate::notify::ObjectEvent {
                    name: event,
                    bucket: &bucket,
                    key: &key,
                    size: None,
                    etag: None,
                    version_id: outcome.version_id.as_deref(),
                    sequencer: seq,
                    time_ms: now,
                    request_id: request_id.as_deref(),
                },
            )?;
            Ok(outcome)
        })
        .await
    }

    /// Replaces the tags of a version (the current one without `version_id`).
    pub async fn set_object_tags(
        &self,
        bucket: String,
        key: String,
        version_id: Option<String>,
        tags: Vec<(String, String)>,
        event: &'static str,
    ) -> StoreResult<String> {
        let region = self.region().to_string();
        let request_id = crate::request_id::current();
        self.write(move |tx, _| {
            let b = buckets::get(tx, &bucket)?;
            let v = match &version_id {
                Some(id) => {
                    by_version_id(tx, &bucket, &key, id)?.ok_or(StoreError::NoSuchVersion)?
                }
                None => current(tx, &bucket, &key)?
                    .filter(|v| !v.delete_marker)
                    .ok_or(StoreError::NoSuchKey {
                        delete_marker: None,
                    })?,
            };
            if v.delete_marker {
                return Err(StoreError::MethodNotAllowed {
                    delete_marker: v.version_id,
                });
            }
            let mut meta = v.meta.clone();
            meta.tags = tags;
            tx.execute(
                "UPDATE versions SET meta = ?4 WHERE bucket = ?1 AND key = ?2 AND seq = ?3",
                params![bucket, key.as_bytes(), v.seq, serde_json::to_string(&meta)?],
            )?;
            let etag = unquote(&v.etag).to_string();
            outbox::queue(
                tx,
                &b,
                &region,
                &crate::notify::ObjectEvent {
                    name: event,
                    bucket: &bucket,
                    key: &key,
                    size: None,
                    etag: Some(&etag),
                    version_id: Some(&v.version_id),
                    sequencer: schema::next_seq(tx)?,
                    time_ms: super::handle::now_ms(),
                    request_id: request_id.as_deref(),
                },
            )?;
            Ok(v.version_id)
        })
        .await
    }
}
