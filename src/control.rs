//! The control core: every operation a test uses to steer or inspect the
//! fake, each one function that checks its input and returns a typed
//! [`Error`].
//!
//! The `/_fake` HTTP routes (`http/control.rs`) and the methods of
//! [`crate::FakeServer`] are thin adapters over these functions, so the two
//! faces cannot disagree on a rule: an input one refuses, the other refuses
//! with the same field and message.

use std::time::Duration;

use serde::Serialize;

use crate::clock::ClockMode;
use crate::config;
use crate::error::Error;
use crate::journal::{RecordedRequest, RequestFilter};
use crate::lifecycle::{DatabaseLifecycle, Lifecycle, LifecyclePatch, Outcome};
use crate::model::Backup;
use crate::shared::Shared;
use crate::timestamp::Timestamp;

/// The clock as `GET /_fake/clock` shows it (keys in alphabetical order,
/// as the route has always written them).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct ClockState {
    /// How it moves.
    pub mode: ClockMode,
    /// The fake's current time.
    pub now: Timestamp,
    /// The system clock's speed (1.0 = real time).
    pub time_scale: f64,
}

/// The clock now.
pub(crate) fn clock(shared: &Shared) -> ClockState {
    let store = &shared.store;
    ClockState {
        now: Timestamp::from_millis(store.now()),
        mode: store.clock_mode(),
        time_scale: store.time_scale(),
    }
}

/// Moves the clock forward by `by`; every backup moves with it and the
/// periodic backups that became due are created.
pub(crate) fn advance(shared: &Shared, by: Duration) -> ClockState {
    shared.store.advance(by.as_millis().min(u128::from(u64::MAX)) as u64);
    clock(shared)
}

/// Sets the clock to `to`; moving backwards is refused (field `set`).
pub(crate) fn set_time(shared: &Shared, to: &Timestamp) -> Result<ClockState, Error> {
    shared.store.set_time(to.millis())?;
    Ok(clock(shared))
}

/// The global lifecycle settings.
pub(crate) fn lifecycle(shared: &Shared) -> Lifecycle {
    shared.store.lifecycle()
}

/// Changes the global lifecycle settings for backups created from now on.
pub(crate) fn set_lifecycle(shared: &Shared, patch: &LifecyclePatch) -> Result<Lifecycle, Error> {
    shared.store.set_lifecycle(patch)
}

/// One database's lifecycle override and the settings in effect.
pub(crate) fn database_lifecycle(shared: &Shared, db: &str) -> Result<DatabaseLifecycle, Error> {
    Ok(shared.store.db(db).ok_or(Error::NotFound("database"))?.lifecycle())
}

/// Merges `patch` into one database's lifecycle override.
pub(crate) fn set_database_lifecycle(
    shared: &Shared,
    db: &str,
    patch: &LifecyclePatch,
) -> Result<DatabaseLifecycle, Error> {
    shared
        .store
        .db(db)
        .ok_or(Error::NotFound("database"))?
        .set_lifecycle(patch)
}

/// The retention cap.
pub(crate) fn retention(shared: &Shared) -> Option<usize> {
    shared.store.retention()
}

/// Caps the backups kept per database (`None`: no cap) and applies the cap
/// now; 0 is refused (field `max_backups_per_database`).
pub(crate) fn set_retention(shared: &Shared, cap: Option<usize>) -> Result<Option<usize>, Error> {
    config::check_retention(cap).map_err(|e| rename_field(e, "max_backups_per_database"))?;
    shared.store.set_retention(cap);
    Ok(cap)
}

/// The global seed.
pub(crate) fn seed(shared: &Shared) -> u64 {
    shared.store.seed()
}

/// Re-seeds every database (`db` = `None`), or gives one database a seed of
/// its own.
pub(crate) fn reseed(shared: &Shared, seed: u64, db: Option<&str>) -> Result<(), Error> {
    match db {
        None => shared.store.reseed(seed),
        Some(db) => shared.store.db(db).ok_or(Error::NotFound("database"))?.reseed(seed),
    }
    Ok(())
}

/// Ends a backup now: `done` (with the size it had or would have had) or
/// `error`.
pub(crate) fn finish_backup(shared: &Shared, backup: &str, outcome: Outcome) -> Result<Backup, Error> {
    shared
        .store
        .db_of_backup(backup)
        .and_then(|db| db.finish_backup(backup, outcome))
        .ok_or(Error::NotFound("backup"))
}

/// The recorded requests `filter` keeps, oldest first; a `limit` of 0 is
/// refused (field `limit`).
pub(crate) fn requests(shared: &Shared, filter: &RequestFilter) -> Result<Vec<RecordedRequest>, Error> {
    check_filter(filter)?;
    Ok(shared.journal.list(filter))
}

/// How many recorded requests `filter` keeps; a `limit` of 0 is refused.
pub(crate) fn count_requests(shared: &Shared, filter: &RequestFilter) -> Result<usize, Error> {
    check_filter(filter)?;
    Ok(shared.journal.count(filter))
}

/// Forgets every recorded request.
pub(crate) fn clear_requests(shared: &Shared) {
    shared.journal.clear();
}

/// A filter's `limit`, when given, is at least 1.
fn check_filter(filter: &RequestFilter) -> Result<(), Error> {
    if filter.limit == Some(0) {
        return Err(Error::invalid(
            "limit",
            "must be a whole number from 1 (leave it out for every request)",
        ));
    }
    Ok(())
}

/// `e` with its field renamed to how this face calls it.
fn rename_field(e: Error, field: &str) -> Error {
    match e {
        Error::Invalid(mut errors) => {
            for f in &mut errors {
                f.field = field.to_string();
            }
            Error::Invalid(errors)
        }
        other => other,
    }
}
