//! Storage errors become S3 errors here, and only here.

use kura_protocol::{S3Error, S3ErrorCode};
use kura_storage::{LinkRefusal, StorageError};

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
        StorageError::NoSuchLink => S3Error::new(S3ErrorCode::NoSuchLink),
        StorageError::Link(refusal) => link_refused(refusal),
        StorageError::Unavailable(why) => {
            tracing::warn!(%why, "refused: coordination unavailable");
            S3Error::new(S3ErrorCode::ServiceUnavailable).header("retry-after", "1")
        }
        StorageError::CommitUnknown(why) => {
            tracing::error!(%why, "metadata commit outcome unknown");
            S3Error::new(S3ErrorCode::ServiceUnavailable).header("retry-after", "1")
        }
        StorageError::Io(e) if e.kind() == std::io::ErrorKind::StorageFull => disk_full(&e),
        StorageError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => backend_timed_out(&e),
        StorageError::Db(e) if e.to_string().contains("No space left") => disk_full(&e),
        e @ (StorageError::Db(_) | StorageError::Io(_) | StorageError::Corrupt(_)) => {
            tracing::error!(error = %e, "storage failure");
            S3Error::new(S3ErrorCode::InternalError)
        }
    }
}

/// A share link that refuses to be used (`server/src/links/`).
fn link_refused(r: LinkRefusal) -> S3Error {
    match r {
        LinkRefusal::Expired => S3Error::new(S3ErrorCode::LinkExpired),
        LinkRefusal::Revoked => S3Error::new(S3ErrorCode::LinkRevoked),
        LinkRefusal::FilesUsedUp => S3Error::with_message(
            S3ErrorCode::LinkUsedUp,
            "This link has received all the files it accepts.",
        ),
        LinkRefusal::BytesUsedUp => S3Error::with_message(
            S3ErrorCode::LinkUsedUp,
            "This link's size budget is used up, or this file would exceed what is left of it.",
        ),
    }
}

/// 507 InsufficientStorage: the disk filled up under a write that the
/// free-space mark had admitted (the mark is checked at most every 250 ms).
fn disk_full(e: &dyn std::fmt::Display) -> S3Error {
    tracing::warn!(error = %e, "write failed: file system full");
    S3Error::new(S3ErrorCode::InsufficientStorage).header("retry-after", "30")
}

/// 503 ServiceUnavailable: the chunk backend did not answer in time (a
/// RADOS `op_timeout`, an S3 endpoint's request deadline); nothing was
/// committed, and a retry may find it recovered.
fn backend_timed_out(e: &dyn std::fmt::Display) -> S3Error {
    tracing::warn!(error = %e, "chunk backend timed out");
    S3Error::with_message(
        S3ErrorCode::ServiceUnavailable,
        "The storage backend did not answer in time. Please try again.",
    )
    .header("retry-after", "5")
}

/// An I/O failure of a write: 507 when the file system is full, 503 when
/// the chunk backend timed out, else internal.
pub fn io_to_s3(e: std::io::Error) -> S3Error {
    match e.kind() {
        std::io::ErrorKind::StorageFull => disk_full(&e),
        std::io::ErrorKind::TimedOut => backend_timed_out(&e),
        _ => internal(e),
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
