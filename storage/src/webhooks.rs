//! Webhooks: per bucket, a URL that receives every matching change-log
//! entry, in order, at least once. The row (settings, secret) and the
//! delivery cursor are separate keys, so cursor updates by the delivery task
//! never race with (or resurrect) an administrative change. Rows hold the
//! signing secret, so they are sealed like access keys (`secrets.rs`), bound
//! to their bucket and id.

use crate::engine::{Batch, ReadBounds};
use serde::{Deserialize, Serialize};

use crate::error::{StorageError, StorageResult};
use crate::keys::{self, CF_WEBHOOKS};
use crate::rows;
use crate::store::Store;

/// A registered webhook.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WebhookRow {
    /// Where entries are POSTed.
    pub url: String,
    /// Only keys beginning with this.
    pub prefix: String,
    /// Only these events (`put`, `delete`, …); empty for all.
    pub events: Vec<String>,
    /// The HMAC-SHA256 key of the signature header.
    pub secret: String,
    /// Registration time, ms since the epoch.
    pub created_ms: u64,
}

impl crate::rows::Row for WebhookRow {}

/// What a sealed row is bound to: it cannot be moved to another webhook.
fn sealed_as(bucket: &str, id: &str) -> String {
    format!("webhook/{bucket}/{id}")
}

fn key(kind: u8, bucket: &str, id: &str) -> StorageResult<Vec<u8>> {
    let mut out = vec![kind];
    out.extend_from_slice(&keys::bucket_prefix(bucket)?);
    out.extend_from_slice(id.as_bytes());
    Ok(out)
}

impl Store {
    /// Registers a webhook of `bucket` delivering from `cursor` on.
    pub fn put_webhook(
        &self,
        bucket: &str,
        id: &str,
        row: &WebhookRow,
        cursor: u64,
    ) -> StorageResult<()> {
        let mut batch = Batch::default();
        // On a shared engine: not into a bucket another front end deletes.
        self.bucket_for_update(&mut batch, bucket)?;
        batch.put_cf(
            self.cf(CF_WEBHOOKS),
            key(b'w', bucket, id)?,
            self.seal_webhook(bucket, id, row),
        );
        batch.put_cf(
            self.cf(CF_WEBHOOKS),
            key(b'c', bucket, id)?,
            cursor.to_be_bytes(),
        );
        self.write_synced(batch)
    }

    /// A webhook's row, if it exists.
    pub fn webhook(&self, bucket: &str, id: &str) -> StorageResult<Option<WebhookRow>> {
        match self
            .inner
            .db
            .get(self.cf(CF_WEBHOOKS), key(b'w', bucket, id)?)?
        {
            Some(raw) => Ok(Some(self.unseal_webhook(bucket, id, &raw)?)),
            None => Ok(None),
        }
    }

    fn seal_webhook(&self, bucket: &str, id: &str, row: &WebhookRow) -> Vec<u8> {
        self.inner
            .secrets
            .seal(&sealed_as(bucket, id), &rows::encode(row))
    }

    fn unseal_webhook(&self, bucket: &str, id: &str, raw: &[u8]) -> StorageResult<WebhookRow> {
        rows::decode(&self.inner.secrets.unseal(&sealed_as(bucket, id), raw)?)
    }

    /// Every webhook: (bucket, id, row).
    pub fn webhooks(&self) -> StorageResult<Vec<(String, String, WebhookRow)>> {
        let mut out = Vec::new();
        let it = self
            .inner
            .db
            .entries(self.cf(CF_WEBHOOKS), ReadBounds::all(), Some(b"w"));
        for item in it {
            let (k, v) = item?;
            if k.first() != Some(&b'w') {
                break;
            }
            let bad = || StorageError::Corrupt("webhook key".into());
            let len = *k.get(1).ok_or_else(bad)? as usize;
            let bucket =
                std::str::from_utf8(k.get(2..2 + len).ok_or_else(bad)?).map_err(|_| bad())?;
            let id = std::str::from_utf8(k.get(2 + len..).ok_or_else(bad)?).map_err(|_| bad())?;
            let row = self.unseal_webhook(bucket, id, &v)?;
            out.push((bucket.to_string(), id.to_string(), row));
        }
        Ok(out)
    }

    /// Removes a webhook; `false` if there was none.
    pub fn delete_webhook(&self, bucket: &str, id: &str) -> StorageResult<bool> {
        if self.webhook(bucket, id)?.is_none() {
            return Ok(false);
        }
        let mut batch = Batch::default();
        batch.delete_cf(self.cf(CF_WEBHOOKS), key(b'w', bucket, id)?);
        batch.delete_cf(self.cf(CF_WEBHOOKS), key(b'c', bucket, id)?);
        self.write_synced(batch)?;
        Ok(true)
    }

    /// The change-log cursor a webhook has delivered up to.
    pub fn webhook_cursor(&self, bucket: &str, id: &str) -> StorageResult<u64> {
        match self
            .inner
            .db
            .get(self.cf(CF_WEBHOOKS), key(b'c', bucket, id)?)?
        {
            Some(raw) => {
                Ok(u64::from_be_bytes(raw.as_ref().try_into().map_err(
                    |_| StorageError::Corrupt("webhook cursor".into()),
                )?))
            }
            None => Ok(0),
        }
    }

    /// Records that a webhook delivered everything up to `cursor`. Synced:
    /// after a restart delivery resumes there (at least once, in order).
    ///
    /// Only the purger delivers, but a front end that lost the role may
    /// finish a step while its successor runs: on a shared engine the
    /// cursor never moves back (what the other delivered stays delivered),
    /// and a removed webhook's cursor never comes back (`Conflict`).
    pub fn set_webhook_cursor(&self, bucket: &str, id: &str, cursor: u64) -> StorageResult<()> {
        let mut batch = Batch::default();
        if self.shared() {
            let ckey = key(b'c', bucket, id)?;
            let raw = self.inner.db.get_owned(self.cf(CF_WEBHOOKS), &ckey)?;
            let stored = raw
                .as_deref()
                .and_then(|r| <[u8; 8]>::try_from(r).ok())
                .map(u64::from_be_bytes);
            if stored.is_some_and(|c| c >= cursor) {
                return Ok(());
            }
            self.expect_read(&mut batch, CF_WEBHOOKS, &ckey, raw.as_deref());
            self.expect_present(&mut batch, CF_WEBHOOKS, key(b'w', bucket, id)?);
        }
        batch.put_cf(
            self.cf(CF_WEBHOOKS),
            key(b'c', bucket, id)?,
            cursor.to_be_bytes(),
        );
        self.write_synced(batch)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// The signing secret never reaches RocksDB in the clear, and a row
    /// read back under another webhook's name is refused.
    #[test]
    fn rows_are_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let s = crate::test_support::store(dir.path(), Duration::from_secs(60));
        s.create_bucket("b").unwrap();
        let row = WebhookRow {
            url: "http://127.0.0.1:1/hook".into(),
            prefix: String::new(),
            events: Vec::new(),
            secret: "an-unmistakable-webhook-secret".into(),
            created_ms: 1,
        };
        s.put_webhook("b", "h1", &row, 0).unwrap();
        assert_eq!(s.webhook("b", "h1").unwrap(), Some(row.clone()));
        assert_eq!(s.webhooks().unwrap(), vec![("b".into(), "h1".into(), row)]);
        let raw = s
            .inner
            .db
            .get_owned(s.cf(CF_WEBHOOKS), key(b'w', "b", "h1").unwrap())
            .unwrap()
            .unwrap();
        let needle = b"an-unmistakable-webhook-secret";
        assert!(!raw.windows(needle.len()).any(|w| w == needle));
        assert!(s.unseal_webhook("b", "h2", &raw).is_err());
    }
}
