//! Helpers shared by the integration tests. Each test file compiles this
//! module on its own and uses only part of it.
//!
//! - [`http`]: the test client (whole requests, raw connections); its
//!   functions are re-exported here (`common::get`, `common::send`, …).
//! - [`fake`]: in-process fakes on a manual clock, and the database API calls
//!   tests make on a running fake.
//! - [`binary`]: the crate's binary, started, stopped with SIGTERM, waited for.
//! - [`conn`]: raw connections held open, fed slowly, watched for their close.
//! - [`archive`]: reading `.tar.gz` bodies in Rust and with the system tools.
//! - [`files`]: temporary folders.
//! - [`tools`]: system tools a test needs, failing clearly when one is missing.
#![allow(dead_code, unused_imports)]

pub mod archive;
pub mod binary;
pub mod conn;
pub mod fake;
pub mod files;
pub mod http;
pub mod tools;

pub use http::*;
