//! The integration tests: one binary (linking one instead of one per file
//! is most of a test rebuild), one module per subject. Each spawns the real
//! `kura` binary; shared helpers are in `common`.

mod common;

mod access;
mod admin;
mod backup;
mod bad_input;
mod bench_tool;
mod blob_backends;
mod bucket_queries;
mod buckets;
mod changes;
mod checksums;
mod clients;
mod concurrency;
mod config_file;
mod copy;
mod cors;
mod delete_objects;
mod disk_full;
mod durability;
mod edge;
mod etcd;
mod etcd_limits;
mod folders;
mod history;
mod integrity;
mod lifecycle;
mod limits;
mod links;
mod links_page;
mod listing;
mod listing_v1;
mod memory;
mod metadata_update;
mod migrate;
mod multipart;
mod object_attributes;
mod objects;
mod observe;
mod operations;
mod post_object;
mod presigned;
mod public;
mod quotas;
mod reads;
mod replicate;
mod scale_out;
mod search;
mod streaming;
mod tagging;
mod tls;
mod two_front_ends;
mod versioning;
mod versions;
