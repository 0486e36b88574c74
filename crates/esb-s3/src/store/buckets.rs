//! Buckets and their configuration documents.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::handle::Store;
use crate::error::{StoreError, StoreResult};
use crate::model::{Bucket, CorsRule, Versioning};
use crate::notify::LambdaTarget;

const COLUMNS: &str = "name, created_ms, versioning, tags, cors, notifications";

fn json_column<T: serde::de::DeserializeOwned>(
    r: &Row<'_>,
    i: usize,
) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = r.get(i)?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
        })
    })
    .transpose()
}

fn bucket_row(r: &Row<'_>) -> rusqlite::Result<Bucket> {
    Ok(Bucket {
        name: r.get(0)?,
        created_ms: r.get(1)?,
        versioning: Versioning::parse(&r.get::<_, String>(2)?),
        tags: json_column(r, 3)?,
        cors: json_column(r, 4)?,
        notifications: json_column::<Vec<LambdaTarget>>(r, 5)?.unwrap_or_default(),
    })
}

/// The bucket `name`, or `NoSuchBucket`.
pub fn get(conn: &Connection, name: &str) -> StoreResult<Bucket> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM buckets WHERE name = ?1"),
        params![name],
        bucket_row,
    )
    .optional()?
    .ok_or(StoreError::NoSuchBucket)
}

/// Which configuration document of a bucket a setter replaces.
#[derive(Debug, Clone, Copy)]
pub enum Document {
    Tags,
    Cors,
    Notifications,
}

impl Document {
    fn column(self) -> &'static str {
        match self {
            Document::Tags => "tags",
            Document::Cors => "cors",
            Document::Notifications => "notifications",
        }
    }
}

impl Store {
    pub async fn create_bucket(&self, name: String) -> StoreResult<()> {
        self.write(move |tx, _| {
            let inserted = tx.execute(
                "INSERT INTO buckets (name, created_ms) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![name, super::handle::now_ms()],
            )?;
            if inserted == 0 {
                return Err(StoreError::BucketAlreadyOwnedByYou);
            }
            Ok(())
        })
        .await
    }

    /// Deletes an empty bucket (no versions, delete markers or uploads left).
    pub async fn delete_bucket(&self, name: String) -> StoreResult<()> {
        self.write(move |tx, _| {
            get(tx, &name)?;
            let busy: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM versions WHERE bucket = ?1)
                     OR EXISTS (SELECT 1 FROM uploads WHERE bucket = ?1)",
                params![name],
                |r| r.get(0),
            )?;
            if busy {
                return Err(StoreError::BucketNotEmpty);
            }
            tx.execute("DELETE FROM buckets WHERE name = ?1", params![name])?;
            Ok(())
        })
        .await
    }

    pub async fn bucket(&self, name: String) -> StoreResult<Bucket> {
        self.read(move |c| get(c, &name)).await
    }

    pub async fn buckets(&self) -> StoreResult<Vec<Bucket>> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!("SELECT {COLUMNS} FROM buckets ORDER BY name"))?;
            let rows = stmt.query_map([], bucket_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    pub async fn set_versioning(&self, name: String, state: Versioning) -> StoreResult<()> {
        self.write(move |tx, _| {
            get(tx, &name)?;
            tx.execute(
                "UPDATE buckets SET versioning = ?2 WHERE name = ?1",
                params![name, state.as_str()],
            )?;
            Ok(())
        })
        .await
    }

    /// Replaces (or with `None` removes) one configuration document.
    pub async fn set_document(
        &self,
        name: String,
        doc: Document,
        value: Option<serde_json::Value>,
    ) -> StoreResult<()> {
        let text = value.map(|v| v.to_string());
        self.write(move |tx, _| {
            get(tx, &name)?;
            tx.execute(
                &format!("UPDATE buckets SET {} = ?2 WHERE name = ?1", doc.column()),
                params![name, text],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn set_cors(&self, name: String, rules: Option<Vec<CorsRule>>) -> StoreResult<()> {
        let value = rules.map(serde_json::to_value).transpose()?;
        self.set_document(name, Document::Cors, value).await
    }
}

/// One bucket's current objects and their bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BucketUsage {
    pub name: String,
    pub objects: u64,
    pub bytes: u64,
}

/// Objects and bytes of the current versions of each bucket of the store in `dir`
/// (`esb status`, read beside the running box); empty when there is no store.
pub fn usage(dir: &std::path::Path) -> StoreResult<Vec<BucketUsage>> {
    let db = dir.join("catalogue.db");
    if !db.exists() {
        return Ok(Vec::new());
    }
    let c = super::schema::open_read_only(&db)?;
    let mut stmt = c.prepare(
        "SELECT b.name,
                (SELECT COUNT(*) FROM versions v WHERE v.bucket = b.name AND v.latest = 1 AND v.delete_marker = 0),
                (SELECT COALESCE(SUM(size), 0) FROM versions v WHERE v.bucket = b.name AND v.latest = 1 AND v.delete_marker = 0)
         FROM buckets b ORDER BY b.name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(BucketUsage {
            name: r.get(0)?,
            objects: r.get::<_, i64>(1)?.max(0) as u64,
            bytes: r.get::<_, i64>(2)?.max(0) as u64,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
