//! `kura-server`: the hyper/tokio front end that joins `kura-protocol`
//! (the S3 wire format) and `kura-storage` (bytes and metadata).
//!
//! A request is routed into a typed operation, authenticated, handed to one
//! thin handler, and its result (or error) rendered in one place.

pub mod access;
pub mod access_log;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod blobs;
pub mod body;
pub mod cli;
pub mod clock;
pub mod config;
pub mod config_layers;
pub mod config_reference;
pub mod conn_io;
pub mod console;
pub mod cors;
pub mod credentials;
pub mod disk;
pub mod download;
pub mod errors;
pub mod frames;
pub mod handlers;
pub mod links;
pub mod metrics;
pub mod operator_endpoints;
pub mod response;
pub mod send_timeout;
pub mod server;
pub mod service;
pub mod state;
pub mod tls;
pub mod webhooks;

pub use server::run;
