//! The integration tests: one binary (linking one instead of one per file
//! is most of a test rebuild), one module per subject. Each spawns the real
//! `kura` binary; shared helpers are in `common`.

mod common;

mod access;
mod admin;
mod bad_input;
mod bench_tool;
mod bucket_queries;
mod buckets;
mod changes;
mod checksums;
mod clients;
mod concurrency;
mod copy;
mod delete_objects;
mod durability;
mod edge;
mod limits;
mod listing;
mod listing_v1;
mod memory;
mod multipart;
mod object_attributes;
mod objects;
mod operations;
mod presigned;
mod public;
mod reads;
mod replicate;
mod streaming;
mod tls;
mod versioning;
mod versions;
