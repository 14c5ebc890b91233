//! Published objects: a key with a public token is readable by anyone who
//! knows the token, without credentials.
//!
//! Two entries per published key in `CF_PUBLIC`, always written together:
//! `k · object key → token` (is this key published, and under which token)
//! and `t · token → object key` (what does this URL serve). The token is
//! 160 random bits from the operating system's generator, so URLs cannot be
//! guessed. Publishing is a property of the key, not of one version: an
//! update keeps it, a delete removes it, and publishing again after
//! unpublishing draws a new token so old links stay dead.

use crate::engine::Batch;
use rand::rngs::OsRng;
use rand::RngCore;

use crate::changes::{ChangeEntry, ChangeEvent};
use crate::error::{StorageError, StorageResult};
use crate::keys::{self, CF_PUBLIC};
use crate::locks::WriteLock;
use crate::store::Store;

/// Random bytes in a token (160 bits, above the 128 the policy requires).
const TOKEN_BYTES: usize = 20;

fn new_token() -> String {
    let mut b = [0u8; TOKEN_BYTES];
    OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

impl Store {
    /// Publishes the current version of `bucket`/`key` and returns its token
    /// (the existing one if it is already published).
    /// [`StorageError::NoSuchKey`] if there is no current object.
    pub fn publish(&self, lock: &WriteLock, bucket: &str, key: &str) -> StorageResult<String> {
        self.check_lock(lock, bucket, key);
        self.retry_guarded(|| {
            let (row, raw) = self.current_for_update(bucket, key)?;
            let row = row
                .filter(|r| !r.delete_marker)
                .ok_or(StorageError::NoSuchKey)?;
            let was_public = self.public_token(bucket, key)?.is_some();
            let mut batch = Batch::default();
            // The object is not deleted by another front end meanwhile.
            self.expect_read(
                &mut batch,
                crate::keys::CF_OBJECTS,
                keys::object_key(bucket, key)?,
                raw.as_deref(),
            );
            let token = self.publish_in(&mut batch, bucket, key)?;
            if !was_public {
                let change = ChangeEntry::of(ChangeEvent::Publish, key, &row);
                self.write_logged(batch, bucket, &[change])?;
            }
            Ok(token)
        })
    }

    /// Unpublishes `bucket`/`key`: its URL answers 404 from now on.
    /// [`StorageError::NoSuchKey`] if there is no current object.
    pub fn unpublish(&self, lock: &WriteLock, bucket: &str, key: &str) -> StorageResult<()> {
        self.check_lock(lock, bucket, key);
        let row = self.get_object(bucket, key, None)?;
        if self.public_token(bucket, key)?.is_none() {
            return Ok(());
        }
        self.retry_guarded(|| {
            let mut batch = Batch::default();
            self.unpublish_in(&mut batch, bucket, key)?;
            let change = ChangeEntry::of(ChangeEvent::Unpublish, key, &row);
            self.write_logged(batch, bucket, &[change])
        })
    }

    /// The public token of `bucket`/`key`, if it is published.
    pub fn public_token(&self, bucket: &str, key: &str) -> StorageResult<Option<String>> {
        match self
            .inner
            .db
            .get(self.cf(CF_PUBLIC), keys::public_object_key(bucket, key)?)?
        {
            Some(raw) => {
                Ok(Some(String::from_utf8(raw.to_vec()).map_err(|_| {
                    StorageError::Corrupt("public token".into())
                })?))
            }
            None => Ok(None),
        }
    }

    /// The bucket and key a public token serves, if it is live.
    pub fn resolve_public(&self, token: &str) -> StorageResult<Option<(String, String)>> {
        let Some(raw) = self
            .inner
            .db
            .get(self.cf(CF_PUBLIC), keys::public_token_key(token))?
        else {
            return Ok(None);
        };
        let bucket_len =
            *raw.first()
                .ok_or_else(|| StorageError::Corrupt("public entry".into()))? as usize;
        let bucket = raw
            .get(1..1 + bucket_len)
            .and_then(|b| std::str::from_utf8(b).ok())
            .ok_or_else(|| StorageError::Corrupt("public entry".into()))?;
        let key = keys::object_key_name(1 + bucket_len, &raw)
            .ok_or_else(|| StorageError::Corrupt("public entry".into()))?;
        // Both directions are written together; checking the reverse entry
        // still guards against serving a key under a token it no longer has.
        if self.public_token(bucket, key)?.as_deref() != Some(token) {
            return Ok(None);
        }
        Ok(Some((bucket.to_string(), key.to_string())))
    }

    /// Adds the entries publishing `bucket`/`key` to `batch` (keeping an
    /// existing token) and returns the token.
    pub(crate) fn publish_in(
        &self,
        batch: &mut Batch,
        bucket: &str,
        key: &str,
    ) -> StorageResult<String> {
        if let Some(token) = self.public_token(bucket, key)? {
            // Still this token when the batch commits (shared engine).
            self.expect_read(
                batch,
                CF_PUBLIC,
                keys::public_object_key(bucket, key)?,
                Some(token.as_bytes()),
            );
            return Ok(token);
        }
        // Two front ends publishing at once must not both mint a token:
        // the loser's would stay valid after an unpublish removed the other.
        self.expect_read(
            batch,
            CF_PUBLIC,
            keys::public_object_key(bucket, key)?,
            None,
        );
        let token = new_token();
        batch.put_cf(
            self.cf(CF_PUBLIC),
            keys::public_object_key(bucket, key)?,
            token.as_bytes(),
        );
        batch.put_cf(
            self.cf(CF_PUBLIC),
            keys::public_token_key(&token),
            keys::object_key(bucket, key)?,
        );
        Ok(token)
    }

    /// Adds the removal of `bucket`/`key`'s public entries to `batch`.
    pub(crate) fn unpublish_in(
        &self,
        batch: &mut Batch,
        bucket: &str,
        key: &str,
    ) -> StorageResult<()> {
        if let Some(token) = self.public_token(bucket, key)? {
            self.expect_read(
                batch,
                CF_PUBLIC,
                keys::public_object_key(bucket, key)?,
                Some(token.as_bytes()),
            );
            batch.delete_cf(self.cf(CF_PUBLIC), keys::public_token_key(&token));
            batch.delete_cf(self.cf(CF_PUBLIC), keys::public_object_key(bucket, key)?);
        }
        Ok(())
    }

    fn check_lock(&self, lock: &WriteLock, bucket: &str, key: &str) {
        // A lock exists only for a key that could be encoded.
        assert_eq!(
            Some(lock.key()),
            keys::object_key(bucket, key).ok().as_deref(),
            "write lock of another key"
        );
    }
}
