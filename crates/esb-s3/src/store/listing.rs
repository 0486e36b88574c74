//! Listing keys as S3 does: in UTF-8 byte order, after a marker, under a prefix, with
//! keys that share a prefix up to the delimiter rolled into one common prefix. Each
//! page is a few index range scans (a common prefix skips its whole subtree), so the
//! first page of a bucket with millions of keys costs what a small one does.

use rusqlite::{Connection, params};

use super::handle::Store;
use super::objects::{COLUMNS, version_row};
use crate::error::StoreResult;
use crate::model::{Upload, Version};

/// One page request.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// List keys strictly after this one (a marker, `start-after`, or a token).
    pub after: String,
    pub max_keys: usize,
}

/// One entry of a page: an object, or a common prefix.
#[derive(Debug, Clone)]
pub enum Entry<T> {
    Item(T),
    Prefix(String),
}

#[derive(Debug, Clone, Default)]
pub struct ListPage {
    pub objects: Vec<Version>,
    pub prefixes: Vec<String>,
    pub truncated: bool,
    /// The last key or prefix returned: where the next page starts (exclusive).
    pub last: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct VersionPage {
    pub versions: Vec<Version>,
    pub prefixes: Vec<String>,
    pub truncated: bool,
    /// Key and version id the next page starts after.
    pub next: Option<(String, String)>,
}

/// The smallest byte string after every string that starts with `prefix` (None: no
/// such string, the prefix is all 0xFF).
fn after_all_with_prefix(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut p = prefix.to_vec();
    while let Some(last) = p.pop() {
        if last < 0xFF {
            p.push(last + 1);
            return Some(p);
        }
    }
    None
}

/// Where a key rolls up under the delimiter, if it does.
fn common_prefix(key: &str, prefix: &str, delimiter: Option<&str>) -> Option<String> {
    let d = delimiter.filter(|d| !d.is_empty())?;
    let rest = key.get(prefix.len()..)?;
    rest.find(d)
        .map(|i| key[..prefix.len() + i + d.len()].to_string())
}

/// Walks rows in key order from `query.after`, folding common prefixes; `fetch(from,
/// inclusive, limit)` returns the next rows with their keys.
fn walk<T>(
    query: &ListQuery,
    mut fetch: impl FnMut(&[u8], bool, usize) -> StoreResult<Vec<(String, T)>>,
) -> StoreResult<(Vec<Entry<T>>, bool)> {
    let mut out = Vec::new();
    if query.max_keys == 0 {
        return Ok((out, false));
    }
    let prefix = query.prefix.as_bytes();
    // Start at the prefix or just after the marker, whichever is later.
    let (mut from, mut inclusive) = if query.after.as_bytes() >= prefix {
        (query.after.as_bytes().to_vec(), false)
    } else {
        (prefix.to_vec(), true)
    };
    // If the marker itself sits inside a common prefix, that prefix was returned.
    if let Some(cp) = common_prefix(&query.after, &query.prefix, query.delimiter.as_deref())
        && query.after.starts_with(&query.prefix)
    {
        match after_all_with_prefix(cp.as_bytes()) {
            Some(next) => (from, inclusive) = (next, true),
            None => return Ok((out, false)),
        }
    }
    loop {
        let batch = fetch(&from, inclusive, 1000)?;
        if batch.is_empty() {
            return Ok((out, false));
        }
        for (key, item) in batch {
            if !key.as_bytes().starts_with(prefix) {
                return Ok((out, false));
            }
            if out.len() == query.max_keys {
                return Ok((out, true));
            }
            match common_prefix(&key, &query.prefix, query.delimiter.as_deref()) {
                Some(cp) => {
                    let next = after_all_with_prefix(cp.as_bytes());
                    out.push(Entry::Prefix(cp));
                    match next {
                        Some(n) => (from, inclusive) = (n, true),
                        None => return Ok((out, false)),
                    }
                    break;
                }
                None => {
                    from = key.as_bytes().to_vec();
                    inclusive = false;
                    out.push(Entry::Item(item));
                }
            }
        }
    }
}

fn current_rows(
    c: &Connection,
    bucket: &str,
    from: &[u8],
    inclusive: bool,
    limit: usize,
) -> StoreResult<Vec<(String, Version)>> {
    let op = if inclusive { ">=" } else { ">" };
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM versions WHERE bucket = ?1 AND latest = 1 AND key {op} ?2
         AND delete_marker = 0 ORDER BY key LIMIT ?3"
    ))?;
    let rows = stmt.query_map(
        params![bucket, from, i64::try_from(limit).unwrap_or(i64::MAX)],
        version_row,
    )?;
    Ok(rows
        .map(|r| r.map(|v| (v.key.clone(), v)))
        .collect::<Result<_, _>>()?)
}

impl Store {
    /// ListObjects / ListObjectsV2: current, non-deleted objects.
    pub async fn list_objects(&self, bucket: String, query: ListQuery) -> StoreResult<ListPage> {
        self.read(move |c| {
            super::buckets::get(c, &bucket)?;
            let (entries, truncated) = walk(&query, |from, inc, limit| {
                current_rows(c, &bucket, from, inc, limit)
            })?;
            let mut page = ListPage {
                truncated,
                ..ListPage::default()
            };
            for e in entries {
                match e {
                    Entry::Item(v) => {
                        page.last = Some(v.key.clone());
                        page.objects.push(v);
                    }
                    Entry::Prefix(p) => {
                        page.last = Some(p.clone());
                        page.prefixes.push(p);
                    }
                }
            }
            Ok(page)
        })
        .await
    }

    /// ListObjectVersions: every version and delete marker, newest first per key,
    /// after (`key_marker`, `version_marker`).
    pub async fn list_versions(
        &self,
        bucket: String,
        query: ListQuery,
        version_marker: Option<String>,
    ) -> StoreResult<VersionPage> {
        self.read(move |c| {
            super::buckets::get(c, &bucket)?;
            let mut page = VersionPage::default();
            // Versions of the marker key older than the version marker come first.
            let mut budget = query.max_keys;
            if let Some(vm) = version_marker.filter(|_| !query.after.is_empty()) {
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM versions WHERE bucket = ?1 AND key = ?2
                     AND seq < (SELECT seq FROM versions WHERE bucket = ?1 AND key = ?2 AND version_id = ?3)
                     ORDER BY seq DESC"
                ))?;
                let rows = stmt.query_map(params![bucket, query.after.as_bytes(), vm], version_row)?;
                for v in rows {
                    let v = v?;
                    if budget == 0 {
                        page.truncated = true;
                        return Ok(page);
                    }
                    budget -= 1;
                    page.next = Some((v.key.clone(), v.version_id.clone()));
                    page.versions.push(v);
                }
            }
            // Then whole keys after the marker: each key, then its versions newest first.
            let q = ListQuery {
                max_keys: budget.max(1),
                ..query.clone()
            };
            let mut keys_stmt = c.prepare_cached(
                "SELECT DISTINCT key FROM versions WHERE bucket = ?1 AND key >= ?2 ORDER BY key LIMIT ?3",
            )?;
            let (entries, mut truncated) = walk(&q, |from, inc, limit| {
                let rows = keys_stmt.query_map(
                    params![bucket, from, i64::try_from(limit + 1).unwrap_or(i64::MAX)],
                    |r| r.get::<_, Vec<u8>>(0),
                )?;
                let mut out = Vec::new();
                for k in rows {
                    let k = k?;
                    if inc || k.as_slice() != from {
                        let key = String::from_utf8_lossy(&k).into_owned();
                        out.push((key.clone(), key));
                    }
                }
                out.truncate(limit);
                Ok(out)
            })?;
            let mut versions_stmt = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM versions WHERE bucket = ?1 AND key = ?2 ORDER BY seq DESC"
            ))?;
            let mut keys = entries.into_iter().peekable();
            'keys: while let Some(e) = keys.next() {
                match e {
                    Entry::Prefix(p) => {
                        if budget == 0 {
                            truncated = true;
                            break;
                        }
                        budget -= 1;
                        page.next = Some((p.clone(), String::new()));
                        page.prefixes.push(p);
                    }
                    Entry::Item(key) => {
                        let rows = versions_stmt.query_map(params![bucket, key.as_bytes()], version_row)?;
                        for v in rows {
                            let v = v?;
                            if budget == 0 {
                                truncated = true;
                                break 'keys;
                            }
                            budget -= 1;
                            page.next = Some((v.key.clone(), v.version_id.clone()));
                            page.versions.push(v);
                        }
                    }
                }
                if budget == 0 && keys.peek().is_some() {
                    truncated = true;
                    break;
                }
            }
            page.truncated = truncated;
            Ok(page)
        })
        .await
    }

    /// ListMultipartUploads: uploads in key order, then initiation order.
    pub async fn list_uploads(&self, bucket: String, prefix: String) -> StoreResult<Vec<Upload>> {
        self.read(move |c| {
            super::buckets::get(c, &bucket)?;
            super::uploads::uploads_under(c, &bucket, &prefix)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(keys: &[&str], q: ListQuery) -> (Vec<String>, bool) {
        let mut sorted: Vec<&str> = keys.to_vec();
        sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        let (entries, truncated) = walk(&q, |from, inc, limit| {
            Ok(sorted
                .iter()
                .filter(|k| {
                    if inc {
                        k.as_bytes() >= from
                    } else {
                        k.as_bytes() > from
                    }
                })
                .take(limit)
                .map(|k| (k.to_string(), ()))
                .collect())
        })
        .unwrap();
        let names = entries
            .into_iter()
            .map(|e| match e {
                Entry::Item(()) => "item".to_string(),
                Entry::Prefix(p) => format!("prefix:{p}"),
            })
            .collect();
        (names, truncated)
    }

    #[test]
    fn delimiters_fold_subtrees_and_markers_resume_after_them() {
        let keys = ["a/1", "a/2", "b", "c/x/1", "c/y", "d"];
        let q = |after: &str, max| ListQuery {
            prefix: String::new(),
            delimiter: Some("/".into()),
            after: after.into(),
            max_keys: max,
        };
        assert_eq!(
            run(&keys, q("", 10)).0,
            ["prefix:a/", "item", "prefix:c/", "item"]
        );
        assert_eq!(
            run(&keys, q("", 2)),
            (vec!["prefix:a/".into(), "item".into()], true)
        );
        assert_eq!(run(&keys, q("a/", 10)).0, ["item", "prefix:c/", "item"]);
        assert_eq!(run(&keys, q("c/x/1", 10)).0, ["item"]);
        let q = ListQuery {
            prefix: "c/".into(),
            delimiter: Some("/".into()),
            after: String::new(),
            max_keys: 10,
        };
        assert_eq!(run(&keys, q).0, ["prefix:c/x/", "item"]);
        assert_eq!(
            run(
                &keys,
                ListQuery {
                    max_keys: 0,
                    ..ListQuery::default()
                }
            ),
            (vec![], false)
        );
    }

    #[test]
    fn the_successor_of_a_prefix_skips_its_subtree() {
        assert_eq!(after_all_with_prefix(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(after_all_with_prefix(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(after_all_with_prefix(b"\xff\xff"), None);
    }
}
