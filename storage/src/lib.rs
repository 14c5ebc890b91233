//! `kura-storage`: object metadata in RocksDB, object bytes in chunk files.
//!
//! Knows nothing of HTTP or S3 XML. The server drives it through [`Store`]:
//! a write takes the key's [`WriteLock`], streams bytes through an
//! [`ObjectWriter`], and commits them with one synced RocksDB write batch —
//! the object becomes visible complete or not at all. Replaced and deleted
//! versions are kept for the retention period, then purged (see
//! `docs/design.md`).

pub mod access;
mod bucket_settings;
mod changes;
pub mod chunks;
mod completed;
pub mod error;
mod file_modes;
pub mod keys;
mod latches;
pub mod list;
pub mod locks;
mod mapped;
mod multipart;
mod multipart_list;
mod null_version;
mod objects;
mod public;
mod purge;
pub mod reader;
mod retention;
pub mod rows;
pub mod secrets;
mod store;
mod test_faults;
mod upload_expiry;
mod version_cursor;
mod versions;
mod webhooks;
pub mod writer;

pub use access::{AccessKeyRow, Grant};
pub use changes::{ChangeEntry, ChangeEvent, ChangePage, ChangeQuery, ChangeRead};
pub use completed::CompletedUpload;
pub use error::{StorageError, StorageResult};
pub use list::{ListItem, ListPage, ListStart};
pub use locks::WriteLock;
pub use multipart::{NewPart, NewUpload, PartRow, UploadListItem, UploadRow};
pub use objects::NewObject;
pub use reader::ObjectReader;
pub use rows::{BucketRow, ObjectRow, Versioning};
pub use store::{Store, StoreConfig};
pub use versions::{DeletedVersion, VersionItem, VersionPage, VersionStart};
pub use webhooks::WebhookRow;
pub use writer::{ObjectWriter, WrittenData};
