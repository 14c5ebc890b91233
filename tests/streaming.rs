//! aws-chunked streaming uploads.

mod common;
