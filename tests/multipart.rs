//! Multipart uploads.

mod common;
