//! # scalingo-db-fake
//!
//! A fast, faithful, in-memory fake of [Scalingo]'s database API (backups),
//! for testing code that lists, creates, polls and downloads database backups
//! — offline, deterministically, in milliseconds.
//!
//! [Scalingo]: https://scalingo.com
//!
//! ## A guided tour
//!
//! Start a fake from a test, point the code under test at [`FakeServer::url`]
//! with [`FakeServer::token`] as its bearer token, and steer time by hand:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::time::Duration;
//! use scalingo_db_fake::{FakeServer, Status};
//!
//! let fake = FakeServer::builder().manual_clock().seed(7).start().await;
//! let backup = fake.create_backup("my-db-123").unwrap();   // or POST over HTTP
//! assert_eq!(backup.status, Status::Scheduled);
//! fake.advance(Duration::from_secs(3600));                  // no sleeping
//! assert!(fake.backup(&backup.id).unwrap().status.is_finished());
//! # }
//! ```
//!
//! The pieces, each in its own module:
//!
//! - [`model`]: the JSON objects of the API (backup, database, status);
//! - [`fixtures`]: the data a fake starts with, checked on load;
//! - [`lifecycle`]: how a backup's status follows from time;
//! - [`clock`]: the one clock (system, sped up, or manual);
//! - [`download`]: archives of an exact size and their signed links;
//! - [`FakeServer`]: the handle a test holds, built by [`FakeServerBuilder`];
//! - [`RecordedRequest`]: what the request journal keeps of each request
//!   ([`FakeServer::requests`], `GET /_fake/requests`);
//! - [`FaultRule`]: errors, latency, resets, cut and slow bodies injected
//!   into chosen requests ([`FakeServer::add_fault`], `POST /_fake/faults`);
//! - internal: the store (state and its invariants), the control core (every
//!   steering operation, shared by the handle and the `/_fake` routes), the
//!   credentials, the HTTP route table and handlers, the accept loop.
//!
//! `ARCHITECTURE.md` in the repository maps the code.
//!
//! The binary (`cargo run --release`) serves the same fake with flags and
//! environment variables; see the README.

#![warn(missing_docs)]

mod auth;
pub mod clock;
pub mod config;
mod control;
pub mod download;
mod error;
mod faults;
pub mod fixtures;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod ids;
mod journal;
pub mod lifecycle;
pub mod model;
mod server;
mod shared;
mod store;
mod timestamp;

pub use clock::ClockMode;
pub use config::{Config, FixtureSource};
pub use control::{Control, CreatedDatabase};
pub use error::{Error, FieldError};
pub use faults::{Fault, FaultEffect, FaultMatch, FaultRule, MAX_LATENCY_MS};
pub use journal::{RecordedRequest, RequestFilter};
pub use lifecycle::{DatabaseLifecycle, Lifecycle, LifecyclePatch};
pub use model::{Backup, DatabaseInfo, Method, Status};
#[allow(deprecated)]
pub use server::Prepared;
pub use server::{FakeServer, FakeServerBuilder, LoadedFake};
pub use timestamp::Timestamp;
