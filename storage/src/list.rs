//! Listing current objects in key order, with prefix and delimiter roll-up.
//!
//! Cost is proportional to the page, not the bucket: the iterator is bounded
//! by the prefix, and each CommonPrefix is skipped with a single seek.

use crate::error::StorageResult;
use crate::keys::{self, CF_OBJECTS};
use crate::rows::{self, ObjectRow};
use crate::store::Store;

/// Where a listing page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListStart {
    /// From the first key.
    Beginning,
    /// Strictly after this key.
    AfterKey(String),
    /// After every key that starts with this (a CommonPrefix already returned).
    AfterPrefix(String),
}

/// One entry of a page.
// Most entries are objects: boxing them would add an allocation per entry
// to save space on the rare CommonPrefix.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum ListItem {
    /// A current object.
    Object(String, ObjectRow),
    /// Keys rolled up at the delimiter.
    CommonPrefix(String),
}

impl ListItem {
    /// Where the next page starts if this item ends the current one.
    pub fn resume_point(&self) -> ListStart {
        match self {
            ListItem::Object(k, _) => ListStart::AfterKey(k.clone()),
            ListItem::CommonPrefix(p) => ListStart::AfterPrefix(p.clone()),
        }
    }
}

/// A page of a listing.
#[derive(Debug, Clone)]
pub struct ListPage {
    /// Objects and common prefixes, in key order.
    pub items: Vec<ListItem>,
    /// Whether more entries follow.
    pub truncated: bool,
}

impl Store {
    /// Lists up to `max` entries of `bucket` under `prefix`.
    pub fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        start: &ListStart,
        max: usize,
    ) -> StorageResult<ListPage> {
        self.require_bucket(bucket)?;
        let bucket_prefix = keys::bucket_prefix(bucket)?;
        let full_prefix = keys::object_key(bucket, prefix)?;
        let mut it = self.bounded(CF_OBJECTS, full_prefix.clone());
        let seek_to = match start {
            ListStart::Beginning => full_prefix.clone(),
            ListStart::AfterKey(k) => {
                let mut s = keys::object_key(bucket, k)?;
                s.push(0);
                s.max(full_prefix.clone())
            }
            ListStart::AfterPrefix(p) => {
                match keys::prefix_successor(&keys::object_key(bucket, p)?) {
                    Some(s) => s.max(full_prefix.clone()),
                    None => {
                        return Ok(ListPage {
                            items: Vec::new(),
                            truncated: false,
                        })
                    }
                }
            }
        };
        it.seek(&seek_to);
        let mut items = Vec::new();
        let mut truncated = false;
        while it.valid() {
            let (Some(raw_key), Some(value)) = (it.key(), it.value()) else {
                break;
            };
            let key = keys::object_key_name(bucket_prefix.len(), raw_key)
                .ok_or_else(|| crate::StorageError::Corrupt("object key not UTF-8".into()))?
                .to_string();
            if items.len() == max {
                truncated = true;
                break;
            }
            let rolled = delimiter.and_then(|d| {
                key[prefix.len()..]
                    .find(d)
                    .map(|i| key[..prefix.len() + i + d.len()].to_string())
            });
            match rolled {
                Some(common) => {
                    let next = keys::prefix_successor(&keys::object_key(bucket, &common)?);
                    items.push(ListItem::CommonPrefix(common));
                    match next {
                        Some(next) => it.seek(&next),
                        None => break,
                    }
                }
                None => {
                    items.push(ListItem::Object(key, rows::decode(value)?));
                    it.next();
                }
            }
        }
        it.status()?;
        Ok(ListPage { items, truncated })
    }
}
