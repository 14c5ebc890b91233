//! Storage errors. The server maps each to an S3 error in one place.

use thiserror::Error;

/// What can go wrong in the storage layer.
#[derive(Debug, Error)]
pub enum StorageError {
    /// The bucket does not exist.
    #[error("no such bucket")]
    NoSuchBucket,
    /// The bucket exists already.
    #[error("bucket already exists")]
    BucketExists,
    /// The bucket still holds objects.
    #[error("bucket not empty")]
    BucketNotEmpty,
    /// No current version of the key.
    #[error("no such key")]
    NoSuchKey,
    /// The version id is unknown (or purged).
    #[error("no such version")]
    NoSuchVersion,
    /// The multipart upload does not exist (never did, completed, aborted or expired).
    #[error("no such upload")]
    NoSuchUpload,
    /// A bucket name too long for the key encoding (S3 allows 63 bytes).
    #[error("bucket name too long")]
    BucketNameTooLong,
    /// Another write of the same key is in progress.
    #[error("a conflicting write is in progress")]
    Conflict,
    /// Metadata store failure.
    #[error("metadata store: {0}")]
    Db(#[from] rocksdb::Error),
    /// File system failure.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The share link does not exist.
    #[error("no such link")]
    NoSuchLink,
    /// A share link refused to be used (expired, revoked, used up).
    #[error("link refused: {0:?}")]
    Link(crate::links::LinkRefusal),
    /// This front end cannot act safely right now: its lease on the shared
    /// metadata engine lapsed (its locks and read guards may be gone), or
    /// the engine could not be reached to take a coordination record.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A commit was sent to the metadata engine but its answer never came
    /// (timeout, connection lost, member gone): it may or may not have
    /// been applied. Nothing it would own may be removed on this error
    /// (the chunk files of a write stay, for the orphan sweep if unused);
    /// the client gets 503 and may retry.
    #[error("commit outcome unknown: {0}")]
    CommitUnknown(String),
    /// Data on disk that cannot be decoded.
    #[error("corrupt metadata: {0}")]
    Corrupt(String),
}

/// Result of storage operations.
pub type StorageResult<T> = Result<T, StorageError>;
