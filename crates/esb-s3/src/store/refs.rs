//! Reference counts of blobs: every version and part row that names a blob holds one
//! reference, so a copied object or a completed upload shares its parts' files, and a
//! file goes exactly when its last row does.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::StoreResult;
use crate::model::Segment;

pub fn retain(tx: &Connection, segments: &[Segment]) -> StoreResult<()> {
    for s in segments {
        tx.execute(
            "INSERT INTO blobs (id, refs) VALUES (?1, 1)
             ON CONFLICT (id) DO UPDATE SET refs = refs + 1",
            params![s.blob],
        )?;
    }
    Ok(())
}

/// Drops one reference per segment; blobs left with none are pushed to `freed`.
pub fn release(tx: &Connection, segments: &[Segment], freed: &mut Vec<String>) -> StoreResult<()> {
    for s in segments {
        let left: Option<i64> = tx
            .query_row(
                "UPDATE blobs SET refs = refs - 1 WHERE id = ?1 RETURNING refs",
                params![s.blob],
                |r| r.get(0),
            )
            .optional()?;
        if left.is_none_or(|n| n <= 0) {
            tx.execute("DELETE FROM blobs WHERE id = ?1", params![s.blob])?;
            freed.push(s.blob.clone());
        }
    }
    Ok(())
}

pub fn is_referenced(conn: &Connection, id: &str) -> StoreResult<bool> {
    Ok(conn
        .query_row(
            "SELECT refs FROM blobs WHERE id = ?1 AND refs > 0",
            params![id],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .is_some())
}
