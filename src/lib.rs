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
//! What a test author meets:
//!
//! - [`FakeServer`], built by [`FakeServerBuilder`]: a fake on a free
//!   loopback port, stopped when dropped; `start().await` on the test's
//!   runtime, `start_blocking()` for plain `#[test]`s;
//! - [`Control`]: every steering operation (clock, settings, per-test
//!   databases, seeded backups, state export and import, [`FaultRule`]s, the
//!   request journal of [`RecordedRequest`]s), the same methods whether the
//!   fake runs in-process ([`FakeServer::control`]) or in another process
//!   ([`Control::connect`]);
//! - the API's objects: [`Backup`], [`DatabaseInfo`], [`Status`]…;
//! - the settings: [`Config`], [`Lifecycle`], [`LifecyclePatch`],
//!   [`ClockMode`] (system, manual, or tokio's own time — with
//!   `#[tokio::test(start_paused = true)]` every `sleep` of the code under
//!   test moves the backups);
//! - [`fixtures`]: the data a fake starts with, checked on load;
//! - [`Error`]: one error type, whose variants are the HTTP errors of the
//!   control API.
//!
//! `ARCHITECTURE.md` in the repository maps the code.
//!
//! The binary (`cargo run --release`) serves the same fake with flags and
//! environment variables; see the README.

#![warn(missing_docs)]

mod auth;
mod clock;
mod config;
mod control;
mod download;
mod error;
mod faults;
pub mod fixtures;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod hashing;
mod http;
mod ids;
mod journal;
mod lifecycle;
mod model;
mod server;
mod shared;
mod store;
mod timestamp;

pub use clock::ClockMode;
pub use config::{Config, FixtureSource};
pub use control::{Control, CreatedDatabase, DatabaseBackups};
pub use error::{Error, FieldError};
pub use faults::{Fault, FaultEffect, FaultMatch, FaultRule, MAX_LATENCY_MS};
pub use fixtures::{FixtureError, FixtureSet};
pub use http::log::REQUEST_LOG_TARGET;
pub use journal::{RecordedRequest, RequestFilter};
pub use lifecycle::{DatabaseLifecycle, Lifecycle, LifecyclePatch, Outcome, MAX_SIZE};
pub use model::{
    Backup, DatabaseFeature, DatabaseInfo, DatabaseStatus, FeatureStatus, Instance, InstanceStatus, InstanceType,
    MaintenanceWindow, Method, Status,
};
#[allow(deprecated)]
pub use server::Prepared;
pub use server::{FakeServer, FakeServerBuilder, LoadedFake};
pub use timestamp::{IntoTimestamp, Timestamp};

/// Not part of the API: the internals this crate's own tests, benchmarks
/// and fuzz targets check directly. May change in any release.
#[doc(hidden)]
pub mod __internals {
    pub use crate::download::archive::Archive;
    pub use crate::download::{archive_spec, min_archive_size};
    pub use crate::http::log::{set_request_log, RequestLine};

    /// Whether `s` is 24 lowercase hex characters, like a backup id.
    pub fn is_object_id(s: &str) -> bool {
        crate::fixtures::is_object_id(s)
    }

    /// The embedded fixtures, loaded and checked.
    pub fn load_embedded() -> Result<crate::FixtureSet, crate::FixtureError> {
        crate::fixtures::load_embedded()
    }
}
