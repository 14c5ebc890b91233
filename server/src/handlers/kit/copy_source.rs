//! Reading the source of CopyObject / UploadPartCopy under the per-key policy.

use kura_protocol::headers::CopySource;
use kura_protocol::S3Error;
use kura_protocol::S3Result;
use kura_storage::{ObjectReader, ObjectRow};

use crate::errors::{conflict, StorageResultExt};
use crate::state::{AppState, ReadsDuringWrite};

/// Opens the copy source: a copy reads the source like a download, so it is
/// refused (409) while a write of the source key is in progress, unless
/// `--reads-during-write=previous` or the source is the copy's own target
/// (whose lock the copy itself holds). A delete marker has no data: naming
/// one by version id is refused as S3 does, not copied as an empty object.
pub fn open_copy_source(
    state: &AppState,
    source: &CopySource,
    target: (&str, &str),
) -> S3Result<(ObjectRow, ObjectReader)> {
    let store = &state.store;
    let own_target = (source.bucket.as_str(), source.key.as_str()) == target;
    if state.reads_during_write == ReadsDuringWrite::Reject
        && !own_target
        && store.is_writing(&source.bucket, &source.key)
    {
        return Err(conflict());
    }
    let (row, reader) = store
        .open_object(&source.bucket, &source.key, source.version_id.as_deref())
        .s3()?;
    if row.delete_marker {
        return Err(S3Error::invalid_request(
            "The source of a copy request may not specifically refer to a delete marker by version id.",
        ));
    }
    Ok((row, reader))
}
