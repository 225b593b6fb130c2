//! The control core: every operation a test uses to steer the fake, each one
//! function that checks its input and returns a typed [`Error`] (the clock,
//! lifecycles, retention, seeds, finishing backups, fault rules).
//!
//! The `/_fake` HTTP routes (`http/control.rs`) and the methods of
//! [`crate::FakeServer`] are thin adapters over these functions, so the two
//! faces cannot disagree on a rule: an input one refuses, the other refuses
//! with the same field and message.

use std::time::Duration;

use serde::Serialize;

use crate::clock::ClockMode;
use crate::config;
use crate::error::{Error, FieldError};
use crate::faults::{Fault, FaultRule};
use crate::http::routes::{self, Plane};
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

/// Adds a fault rule once its values and the names it uses are checked
/// (a route template, operation or method the table has outside `/_fake`,
/// a known database); returns it as stored, with its id. Its draws are
/// seeded from the server's seed now.
pub(crate) fn add_fault(shared: &Shared, rule: FaultRule) -> Result<Fault, Error> {
    let mut errors = rule.check();
    errors.extend(check_fault_names(&rule));
    let mut databases = Vec::new();
    if let Some(name) = rule.matching.database.as_deref().filter(|n| !n.is_empty()) {
        match shared.store.db(name) {
            Some(db) => databases.extend([db.addon_id(), db.database_id()]),
            None => errors.push(FieldError {
                field: "match.database".to_string(),
                message: format!("no database is known as {name:?} (give an addon id or a database id)"),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    Ok(shared.faults.add(rule, shared.store.seed(), databases))
}

/// The names of the route table `rule` uses that are unknown, or belong to
/// `/_fake`, which faults never apply to.
fn check_fault_names(rule: &FaultRule) -> Vec<FieldError> {
    let m = &rule.matching;
    let methods = routes::methods_outside(Plane::Control);
    let method = m.method.as_deref().filter(|x| !x.is_empty() && !methods.contains(x));
    let method = method.map(|x| FieldError {
        field: "match.method".to_string(),
        message: format!(
            "{x:?} is not a method faults apply to: use one of {}",
            methods.join(", ")
        ),
    });
    [
        name_error(
            "match.route",
            m.route.as_deref(),
            routes::plane_of_template,
            "route template",
        ),
        name_error(
            "match.operation",
            m.operation.as_deref(),
            routes::plane_of_operation,
            "operation",
        ),
        method,
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// What is wrong with `name`, a `what` of the route table (`plane_of` finds
/// its plane), if anything.
fn name_error(field: &str, name: Option<&str>, plane_of: fn(&str) -> Option<Plane>, what: &str) -> Option<FieldError> {
    let name = name.filter(|n| !n.is_empty())?;
    let message = match plane_of(name) {
        None => format!("{name:?} is not a {what} of the fake"),
        Some(Plane::Control) => format!("{name:?} is a /_fake {what}: fault rules never apply to the control plane"),
        Some(_) => return None,
    };
    Some(FieldError {
        field: field.to_string(),
        message,
    })
}

/// Every fault rule, in the order they are tried, with how each fired.
pub(crate) fn faults(shared: &Shared) -> Vec<Fault> {
    shared.faults.list()
}

/// Removes every fault rule.
pub(crate) fn clear_faults(shared: &Shared) {
    shared.faults.clear();
}

/// Removes fault rule `id`; an unknown id is a 404 `fault`.
pub(crate) fn remove_fault(shared: &Shared, id: &str) -> Result<Fault, Error> {
    shared.faults.remove(id).ok_or(Error::NotFound("fault"))
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
