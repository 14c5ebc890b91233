//! `kura-storage`: object metadata in RocksDB, object bytes in chunk files.
//!
//! Knows nothing of HTTP or S3 XML. The server drives it through [`Store`]:
//! a write takes the key's [`WriteLock`], streams bytes through an
//! [`ObjectWriter`], and commits them with one synced RocksDB write batch —
//! the object becomes visible complete or not at all. Replaced and deleted
//! versions are kept for the retention period, then purged (see
//! `docs/design.md`).
//!
//! ## Async threads or the blocking pool
//!
//! Every call is synchronous. Which ones a server may make on its async
//! threads:
//! * **Point lookups, on any thread**: calls that read a bounded handful of
//!   RocksDB entries (gets, or one seek that reads one entry) and touch no
//!   file: [`Store::bucket`], [`Store::current`], [`Store::get_object`],
//!   [`Store::open_object`] (registers the reader; opens no file),
//!   [`Store::latest_is_delete_marker`], [`Store::upload`],
//!   [`Store::public_token`], [`Store::resolve_public`],
//!   [`Store::access_key`], and the in-memory [`Store::lock_key`],
//!   [`Store::lock_part`], [`Store::is_writing`], [`Store::object_writer`],
//!   [`Store::part_writer`].
//! * **Everything else, on the blocking pool**: scans whose length depends
//!   on the data (`list_*`, `discard_bucket_uploads`, `expire_uploads`,
//!   `purge_due`, ...), every write batch (synced: milliseconds), and all
//!   chunk-file I/O ([`ObjectReader`] reads, [`ObjectWriter`] writes and
//!   `finish`), except an [`ObjectWriter`] whose data
//!   [stays in memory](ObjectWriter::stays_in_memory).

mod access;
mod backup;
mod bucket_configs;
mod bucket_settings;
mod change_log;
mod changes;
mod chunk_backends;
mod chunk_buffers;
mod chunk_owners;
mod chunk_store;
mod chunks;
mod completed;
mod engine;
mod error;
mod file_modes;
mod guards;
mod integrity;
mod keys;
mod latches;
mod lifecycle;
mod lifecycle_queue;
mod links;
mod list;
mod locks;
mod metadata_update;
mod migrate;
mod multipart;
mod multipart_list;
mod null_version;
mod objects;
mod public;
mod purge;
mod reader;
mod retention;
pub mod rows;
mod scrub;
mod search;
mod search_index;
pub mod secrets;
mod split_commit;
pub mod stats;
mod store;
mod tagging;
mod test_faults;
#[cfg(test)]
mod test_support;
mod unknown_outcome;
mod upload_expiry;
mod usage;
mod version_cursor;
mod versions;
mod webhooks;
mod writer;

pub use access::{AccessKeyRow, Grant};
pub use backup::BackupStats;
pub use bucket_configs::BucketConfig;
pub use changes::{ChangeEntry, ChangeEvent, ChangePage, ChangeQuery, ChangeRead};
pub use chunk_backends::{BackendOpener, BackendSpec, BucketBackend};
pub use chunk_store::{ChunkBackend, ChunkId};
pub use completed::CompletedUpload;
pub use engine::{EtcdUrl, MetaUrl};
pub use error::{StorageError, StorageResult};
pub use integrity::corrupt_chunk_reads;
pub use lifecycle::{LifecycleConfig, LifecycleRule, RuleFilter};
pub use lifecycle_queue::LifecyclePass;
pub use links::{LinkRefusal, LinkRow, LinkTarget};
pub use list::{ListItem, ListPage, ListStart};
pub use locks::WriteLock;
pub use metadata_update::MetadataUpdate;
pub use migrate::{migrate, MigrateReport, MigrateTarget};
pub use multipart::{NewPart, NewUpload, PartRow, UploadListItem, UploadRow};
pub use objects::NewObject;
pub use reader::ObjectReader;
pub use rows::{BucketRow, ObjectRow, Versioning};
pub use scrub::{ChunkProblem, ScrubOptions, ScrubReport};
pub use search::{FieldTest, SearchCond, SearchPage, SearchQuery};
pub use search_index::{FieldKind, ReindexReport};
pub use stats::{DbStats, PurgeBacklog};
pub use store::{Store, StoreConfig, StoreTuning};
pub use usage::{QuotaLimit, QuotaRow, Usage};
pub use versions::{DeletedVersion, VersionItem, VersionPage, VersionStart};
pub use webhooks::WebhookRow;
pub use writer::{ObjectWriter, WrittenData};
