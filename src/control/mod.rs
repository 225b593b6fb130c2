//! The control core: every operation a test uses to steer the fake, each one
//! function that checks its input and returns a typed [`Error`].
//!
//! The `/_fake` HTTP routes (`http/control.rs`), the methods of
//! [`crate::FakeServer`] and [`Control`] in-process are thin adapters over
//! these functions, so the faces cannot disagree on a rule: an input one
//! refuses, the other refuses with the same field and message.
//!
//! - `client`: [`Control`], the Rust face, in-process or remote;
//! - `remote`: its HTTP transport to a fake in another process.

mod client;
#[cfg(feature = "remote")]
mod remote;

pub use client::Control;

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::clock::ClockMode;
use crate::config;
use crate::error::{Error, FieldError};
use crate::faults::{Fault, FaultRule};
use crate::http::routes::{self, Plane};
use crate::journal::{RecordedRequest, RequestFilter};
use crate::lifecycle::{DatabaseLifecycle, Lifecycle, LifecyclePatch, Outcome};
use crate::model::{Backup, DatabaseInfo, Status};
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

/// How long new download links stay valid, on the fake's clock.
pub(crate) fn download_ttl(shared: &Shared) -> Duration {
    Duration::from_secs(shared.download_ttl.load(Ordering::Relaxed))
}

/// Changes how long new download links stay valid (from a second to a year;
/// field `download_ttl_secs`, as the route's body names it); links already given keep their expiry.
pub(crate) fn set_download_ttl(shared: &Shared, ttl: Duration) -> Result<Duration, Error> {
    config::check_download_ttl(ttl).map_err(|e| rename_field(e, "download_ttl_secs"))?;
    shared.download_ttl.store(ttl.as_secs(), Ordering::Relaxed);
    Ok(download_ttl(shared))
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

/// Puts the whole fake back as it started: the fixtures' databases (and no
/// other), their tokens, the clock, the lifecycle, the retention, the seed,
/// no fault rule and an empty journal.
pub(crate) fn reset(shared: &Shared) {
    shared.store.reset();
    shared.journal.clear();
    shared.faults.clear();
    shared.credentials.clear_database_tokens();
    for f in shared.store.initial_fixtures() {
        shared.credentials.add_database_tokens(&f.id, &f.tokens);
    }
    shared.generated.store(0, Ordering::Relaxed);
}

/// A database made at run time, with a token that opens it alone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatedDatabase {
    /// Its addon id: its name in database-API paths.
    pub id: String,
    /// A bearer token valid for this database only.
    pub token: String,
    /// The database object, as `GET /api/databases/:db` shows it.
    pub database: DatabaseInfo,
}

/// The next value for a generated id, stable for a seed and an order of calls.
fn next_generated(shared: &Shared, kind: &str) -> String {
    let n = shared.generated.fetch_add(1, Ordering::Relaxed);
    crate::ids::derived_id(&[kind, &format!("{}/{n}", shared.store.seed())])
}

/// Creates a database from a fixture-shaped JSON object, where every field
/// may be left out: `id` (generated `ad-…`), `database_id` (generated),
/// `type` (`postgresql`), `resource_name` (generated), `app` (`test-app`),
/// plus any other field of the fixture format (backups included). It gets a
/// fresh token of its own, added to any it was given.
pub(crate) fn create_database(shared: &Shared, spec: Map<String, Value>) -> Result<CreatedDatabase, Error> {
    let mut spec = spec;
    let hex = next_generated(shared, "database");
    let defaults = [
        ("id", format!("ad-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..])),
        ("database_id", hex.clone()),
        ("type", "postgresql".to_string()),
        ("resource_name", format!("test-db-{}", &hex[16..])),
        ("app", "test-app".to_string()),
    ];
    for (field, value) in defaults {
        spec.entry(field).or_insert(Value::String(value));
    }
    let token = format!("fake-db-{}", next_generated(shared, "token"));
    let tokens = spec.entry("tokens").or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(list) = tokens else {
        return Err(Error::invalid("tokens", "must be a list of strings"));
    };
    list.push(Value::String(token.clone()));
    let text = json!({ "databases": [Value::Object(spec)] }).to_string();
    let mut set =
        crate::fixtures::parse_request(&text, "<database>").map_err(|e| Error::invalid("database", e.message))?;
    let fixture = set
        .databases
        .pop()
        .ok_or_else(|| Error::invalid("database", "is required"))?;
    let db = shared.store.create_database(fixture)?;
    let id = db.addon_id();
    shared.credentials.add_database_tokens(&id, &db.origin().tokens);
    Ok(CreatedDatabase {
        id,
        token,
        database: db.info(),
    })
}

/// Deletes a database and its backups; its tokens stop working.
pub(crate) fn delete_database(shared: &Shared, db: &str) -> Result<(), Error> {
    let id = shared.store.remove_database(db).ok_or(Error::NotFound("database"))?;
    shared.credentials.remove_database(&id);
    Ok(())
}

/// Puts one database back as it was made (its fixture, or its creation
/// request), at the current time.
pub(crate) fn reset_database(shared: &Shared, db: &str) -> Result<DatabaseInfo, Error> {
    let db = shared.store.db(db).ok_or(Error::NotFound("database"))?;
    db.reset();
    Ok(db.info())
}

/// Every database, as `GET /api/databases/:db` shows them.
pub(crate) fn databases(shared: &Shared) -> Vec<DatabaseInfo> {
    shared.store.databases().iter().map(|db| db.info()).collect()
}

/// A database's backups, newest first, as the API lists them now.
pub(crate) fn backups(shared: &Shared, db: &str) -> Result<Vec<Backup>, Error> {
    Ok(shared.store.db(db).ok_or(Error::NotFound("database"))?.list())
}

/// A database with its addon id and its backups, as `GET /_fake/backups`
/// lists them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatabaseBackups {
    /// Its addon id: its name in database-API paths.
    pub id: String,
    /// The database object, as `GET /api/databases/:db` shows it.
    pub database: DatabaseInfo,
    /// Its backups, newest first, as the API lists them now.
    pub database_backups: Vec<Backup>,
}

/// Every database, with its addon id and its backups (newest first).
pub(crate) fn all_backups(shared: &Shared) -> Vec<DatabaseBackups> {
    shared
        .store
        .databases()
        .iter()
        .map(|db| DatabaseBackups {
            id: db.addon_id(),
            database: db.info(),
            database_backups: db.list(),
        })
        .collect()
}

/// A signed download link of a done backup, as the database API's
/// `…/archive` gives it: `base` (the fake as the client sees it), the
/// database as `db` names it, and a token valid for the download lifetime on
/// the fake's clock. The one place links are signed.
pub(crate) fn download_url(shared: &Shared, db: &str, backup: &str, base: &str) -> Result<String, Error> {
    let database = shared.store.db(db).ok_or(Error::NotFound("database"))?;
    let target = database.archive_target(backup).ok_or(Error::NotFound("backup"))?;
    if target.status != Status::Done {
        return Err(Error::NotDone {
            backup: target.backup_id,
            status: target.status,
        });
    }
    let ttl = download_ttl(shared).as_secs().min(i64::MAX as u64) as i64;
    let expires = shared.store.now().div_euclid(1000).saturating_add(ttl);
    let token = shared.signer.sign(&target.addon_id, &target.backup_id, expires);
    Ok(format!(
        "{}/api/databases/{db}/backups/{}/download?token={token}",
        base.trim_end_matches('/'),
        target.backup_id
    ))
}

/// Adds a backup in any state to a database, from a fixture-shaped JSON
/// object (`created_at` and a `status` or `progress` required; `id`
/// generated when left out).
pub(crate) fn seed_backup(shared: &Shared, db: &str, spec: Map<String, Value>) -> Result<Backup, Error> {
    let db = shared.store.db(db).ok_or(Error::NotFound("database"))?;
    let mut spec = spec;
    if !spec.contains_key("id") {
        let secs = spec
            .get("created_at")
            .and_then(Value::as_str)
            .and_then(|t| Timestamp::parse(t).ok())
            .map_or(0, |t| t.millis().div_euclid(1000).clamp(0, i64::from(u32::MAX)));
        let hex = next_generated(shared, "backup");
        spec.insert("id".into(), Value::String(format!("{secs:08x}{}", &hex[8..])));
    }
    let origin = db.origin();
    let skeleton = json!({
        "id": origin.id,
        "database_id": origin.database_id,
        "resource_name": origin.resource_name,
        "type": origin.db_type,
        "app": origin.app,
        "backups": [Value::Object(spec)],
    });
    let text = json!({ "databases": [skeleton] }).to_string();
    let mut set = crate::fixtures::parse_request(&text, "<backup>").map_err(|e| Error::invalid("backup", e.message))?;
    let backup = set
        .databases
        .pop()
        .and_then(|mut d| d.backups.pop())
        .ok_or_else(|| Error::invalid("backup", "is required"))?;
    db.seed_backup(&backup)
}

/// The state of every database in the fixtures format: loading it back
/// (`import_state`, or as a fixture file) gives the same databases.
pub(crate) fn export_state(shared: &Shared) -> Value {
    shared.store.export()
}

/// Replaces every database with `state` (the fixtures format), checked like
/// a fixture file: nothing changes if it is invalid. An `archive_file` must be
/// one the start-up fixtures already serve. The clock and settings stay.
pub(crate) fn import_state(shared: &Shared, state: &Value) -> Result<(), Error> {
    let text = state.to_string();
    let set = crate::fixtures::parse_state(&text, &shared.store.archive_files()).map_err(|e| {
        let at = if e.line > 0 {
            format!(" (at column {} of the body as compact JSON)", e.column)
        } else {
            String::new()
        };
        Error::invalid("state", format!("{}{at}", e.message))
    })?;
    shared.credentials.clear_database_tokens();
    for f in &set.databases {
        shared.credentials.add_database_tokens(&f.id, &f.tokens);
    }
    shared.store.replace_databases(set.databases);
    Ok(())
}
