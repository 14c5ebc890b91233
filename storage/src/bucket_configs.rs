//! Per-bucket configuration documents (CORS, …) and small settings (how
//! long the change log is kept): one row per bucket and kind. Documents are
//! kept as the protocol layer rendered them; storage keeps them with the
//! bucket and drops them with it.

use crate::engine::Batch;

use crate::error::StorageResult;
use crate::keys::{self, CF_BUCKET_CONFIGS};
use crate::store::Store;

/// Which configuration document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketConfig {
    /// `PutBucketCors`: the bucket's CORS rules.
    Cors,
    /// How long the bucket's change log is kept, in seconds (8 bytes, big
    /// endian), when longer than its retention (see `changes.rs`).
    ChangeLogRetention,
}

impl BucketConfig {
    fn name(self) -> &'static [u8] {
        match self {
            BucketConfig::Cors => b"cors",
            BucketConfig::ChangeLogRetention => b"changes-retention",
        }
    }
}

fn config_key(bucket: &str, kind: BucketConfig) -> StorageResult<Vec<u8>> {
    let mut k = keys::bucket_prefix(bucket)?;
    k.extend_from_slice(kind.name());
    Ok(k)
}

impl Store {
    /// The bucket's `kind` document, if one is set.
    pub fn bucket_config(
        &self,
        bucket: &str,
        kind: BucketConfig,
    ) -> StorageResult<Option<Vec<u8>>> {
        self.inner
            .db
            .get_owned(self.cf(CF_BUCKET_CONFIGS), config_key(bucket, kind)?)
    }

    /// Sets (`Some`) or removes (`None`) the bucket's `kind` document,
    /// durably. [`crate::StorageError::NoSuchBucket`] if the bucket is gone.
    pub fn set_bucket_config(
        &self,
        bucket: &str,
        kind: BucketConfig,
        doc: Option<&[u8]>,
    ) -> StorageResult<()> {
        // Under the bucket lock: a deletion cannot slip in between the check
        // and the write and leave a document behind.
        let _guard = self.bucket_lock(bucket)?;
        self.retry_guarded(|| {
            let mut batch = Batch::default();
            // On a shared engine: not while the bucket is being deleted.
            self.bucket_for_update(&mut batch, bucket)?;
            let key = config_key(bucket, kind)?;
            match doc {
                Some(d) => batch.put_cf(self.cf(CF_BUCKET_CONFIGS), key, d),
                None => batch.delete_cf(self.cf(CF_BUCKET_CONFIGS), key),
            }
            self.write_synced(batch)
        })
    }

    /// Adds to `batch` the removal of every document of `bucket`.
    pub(crate) fn drop_bucket_configs(&self, batch: &mut Batch, bucket: &str) -> StorageResult<()> {
        let prefix = keys::bucket_prefix(bucket)?;
        let mut end = prefix.clone();
        // The prefix is length byte + name: every config key of this bucket
        // sorts below the name followed by 0xFF (kind names are ASCII).
        end.push(0xFF);
        batch.delete_range_cf(self.cf(CF_BUCKET_CONFIGS), prefix, end);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreConfig;
    use std::time::Duration;

    #[test]
    fn documents_live_and_die_with_their_bucket() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(StoreConfig {
            data_dir: dir.path().to_path_buf(),
            chunk_size: 1 << 20,
            inline_threshold: 1024,
            retention: Duration::from_secs(60),
        })
        .unwrap();
        s.create_bucket("b").unwrap();
        s.create_bucket("bb").unwrap();
        assert_eq!(s.bucket_config("b", BucketConfig::Cors).unwrap(), None);
        s.set_bucket_config("b", BucketConfig::Cors, Some(b"<x/>"))
            .unwrap();
        s.set_bucket_config("bb", BucketConfig::Cors, Some(b"<y/>"))
            .unwrap();
        assert_eq!(
            s.bucket_config("b", BucketConfig::Cors).unwrap().as_deref(),
            Some(&b"<x/>"[..])
        );
        s.delete_bucket("b").unwrap();
        s.create_bucket("b").unwrap();
        assert_eq!(s.bucket_config("b", BucketConfig::Cors).unwrap(), None);
        // Another bucket whose name extends this one keeps its document.
        assert_eq!(
            s.bucket_config("bb", BucketConfig::Cors)
                .unwrap()
                .as_deref(),
            Some(&b"<y/>"[..])
        );
        s.set_bucket_config("bb", BucketConfig::Cors, None).unwrap();
        assert_eq!(s.bucket_config("bb", BucketConfig::Cors).unwrap(), None);
        assert!(s
            .set_bucket_config("nope", BucketConfig::Cors, Some(b""))
            .is_err());
    }
}
