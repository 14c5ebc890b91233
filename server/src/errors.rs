//! Storage errors become S3 errors here, and only here.

use kura_protocol::{S3Error, S3ErrorCode};
use kura_storage::StorageError;

/// Maps a storage error to the S3 error the client sees. Anything not
/// deliberately mapped is an internal error, logged with its cause.
pub fn storage_to_s3(e: StorageError) -> S3Error {
    match e {
        StorageError::NoSuchBucket => S3Error::new(S3ErrorCode::NoSuchBucket),
        StorageError::BucketExists => S3Error::new(S3ErrorCode::BucketAlreadyOwnedByYou),
        StorageError::BucketNotEmpty => S3Error::new(S3ErrorCode::BucketNotEmpty),
        StorageError::NoSuchKey => S3Error::new(S3ErrorCode::NoSuchKey),
        StorageError::NoSuchVersion => S3Error::new(S3ErrorCode::NoSuchVersion),
        StorageError::NoSuchUpload => S3Error::new(S3ErrorCode::NoSuchUpload),
        StorageError::Conflict => conflict(),
        StorageError::BucketNameTooLong => S3Error::new(S3ErrorCode::InvalidBucketName),
        e @ (StorageError::Db(_) | StorageError::Io(_) | StorageError::Corrupt(_)) => {
            tracing::error!(error = %e, "storage failure");
            S3Error::new(S3ErrorCode::InternalError)
        }
    }
}

/// 409 OperationAborted with a hint to retry shortly.
pub fn conflict() -> S3Error {
    S3Error::new(S3ErrorCode::OperationAborted).header("retry-after", "1")
}

/// An internal error for failures outside storage (a task that panicked, …).
pub fn internal(what: impl std::fmt::Display) -> S3Error {
    tracing::error!(error = %what, "internal error");
    S3Error::new(S3ErrorCode::InternalError)
}

/// `.s3()` on storage results.
pub trait StorageResultExt<T> {
    /// Converts the error side to an S3 error.
    fn s3(self) -> Result<T, S3Error>;
}

impl<T> StorageResultExt<T> for Result<T, StorageError> {
    fn s3(self) -> Result<T, S3Error> {
        self.map_err(storage_to_s3)
    }
}

/// Runs blocking storage work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, S3Error> + Send + 'static,
) -> Result<T, S3Error> {
    tokio::task::spawn_blocking(f).await.map_err(internal)?
}
