//! The database API: list, create and show backups, show a database and
//! change its periodic-backup settings and maintenance window. Archive links and downloads live in
//! [`super::download`].

use hyper::body::Incoming;
use hyper::http::request::Parts;
use hyper::StatusCode;
use serde_json::Value;

use super::request::{authorize, read_json, JsonObject};
use super::response::{self, Reply};
use super::routes::{Op, Params};
use crate::model::MaintenanceWindow;
use crate::shared::Shared;
use crate::store::Db;

/// Whether `op` reads the request's body (the others answer at once, with
/// [`handle_now`]).
pub(crate) fn reads_body(op: Op) -> bool {
    matches!(op, Op::CreateBackup | Op::UpdateDatabase)
}

/// Answers an operation of the database API. The credentials are checked
/// before the body is read.
pub(crate) async fn handle(shared: &Shared, op: Op, p: Params<'_>, parts: &Parts, body: Incoming) -> Reply {
    let db = match target(shared, op, p, parts) {
        Ok(db) => db,
        Err(r) => return r,
    };
    let json = if reads_body(op) {
        match read_json(shared, parts, body).await {
            Ok(json) => json,
            Err(r) => return r,
        }
    } else {
        None
    };
    match run(shared, &db, op, p, parts, json, shared.store.now()) {
        Ok(r) | Err(r) => r,
    }
}

/// Answers an operation that reads no body ([`reads_body`]) at `now` (the
/// fake's time when the request came).
pub(crate) fn handle_now(shared: &Shared, op: Op, p: Params<'_>, parts: &Parts, now: i64) -> Reply {
    match target(shared, op, p, parts).and_then(|db| run(shared, &db, op, p, parts, None, now)) {
        Ok(r) | Err(r) => r,
    }
}

/// The database the route names (by backup id for `/api/backups/:backup`),
/// once the request's credentials are found to open it.
fn target<'s>(shared: &'s Shared, op: Op, p: Params<'_>, parts: &Parts) -> Result<Db<'s>, Reply> {
    let (db, missing) = match op {
        Op::ShowBackupById => (shared.store.db_of_backup(p.backup), "backup"),
        _ => (shared.store.db(p.db), "database"),
    };
    match &db {
        // Checked under the database's read lock, with its id borrowed.
        Some(db) => db.with_addon_id(|id| authorize(shared, parts, Some(id)))?,
        None => authorize(shared, parts, None)?,
    }
    db.ok_or_else(|| response::not_found(missing))
}

/// Runs `op` on `db`, with the request's JSON body when it reads one; `now`
/// is the fake's time the list is shown at.
fn run(
    shared: &Shared,
    db: &Db<'_>,
    op: Op,
    p: Params<'_>,
    parts: &Parts,
    json: Option<JsonObject>,
    now: i64,
) -> Result<Reply, Reply> {
    Ok(match op {
        Op::ListBackups => response::json_body(StatusCode::OK, db.list_json(now)),
        // The body is `{}` or empty; anything else that is JSON is ignored,
        // as the real API ignores unknown parameters.
        Op::CreateBackup => response::wrapped(StatusCode::CREATED, "database_backup", &db.create()),
        Op::ShowBackup | Op::ShowBackupById => {
            let b = db.show(p.backup).ok_or_else(|| response::not_found("backup"))?;
            response::wrapped(StatusCode::OK, "database_backup", &b)
        }
        Op::ArchiveLink => super::download::archive_link(shared, p.db, p.backup, parts),
        Op::ShowDatabase => response::wrapped(StatusCode::OK, "database", &db.info()),
        Op::UpdateDatabase => update_database(db, json)?,
        _ => response::not_found("route"),
    })
}

/// `PATCH` (or `PUT`) `/api/databases/:db` with `{"database":{…}}`: any of
/// `periodic_backups_enabled` (bool), `periodic_backups_scheduled_at` (an
/// hour or a list of hours) and `maintenance_window`
/// (`{"weekday_utc":0-6,"starting_hour_utc":0-23}`, either alone). Every
/// field is checked before anything changes.
fn update_database(db: &Db<'_>, body: Option<JsonObject>) -> Result<Reply, Reply> {
    let Some(Value::Object(params)) = body.and_then(|mut b| b.remove("database")) else {
        return Err(response::unprocessable([(
            "database",
            "is required: send {\"database\": {\"periodic_backups_enabled\": …, \"periodic_backups_scheduled_at\": …, \"maintenance_window\": …}}"
                .to_string(),
        )]));
    };
    let mut errors = Vec::new();
    let enabled = match params.get("periodic_backups_enabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            errors.push((
                "periodic_backups_enabled",
                format!("must be true or false, got {other}"),
            ));
            None
        }
    };
    let hours = match params.get("periodic_backups_scheduled_at") {
        None | Some(Value::Null) => None,
        Some(v) => match parse_hours(v) {
            Ok(h) => Some(h),
            Err(m) => {
                errors.push(("periodic_backups_scheduled_at", m));
                None
            }
        },
    };
    let window = match params.get("maintenance_window") {
        None | Some(Value::Null) => None,
        Some(v) => match parse_window(v) {
            Ok(w) => Some(w),
            Err(messages) => {
                errors.extend(messages.into_iter().map(|m| ("maintenance_window", m)));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(response::unprocessable(errors));
    }
    let info = match window {
        Some((weekday, hour)) if enabled.is_none() && hours.is_none() => db.configure_maintenance_window(weekday, hour),
        Some((weekday, hour)) => {
            db.configure_periodic(enabled, hours);
            db.configure_maintenance_window(weekday, hour)
        }
        None => db.configure_periodic(enabled, hours),
    };
    Ok(response::wrapped(StatusCode::OK, "database", &info))
}

/// `{"weekday_utc": 0-6, "starting_hour_utc": 0-23}`, either field alone (as
/// go-scalingo's `MaintenanceWindowParams` sends it); each bad field's
/// message names it.
fn parse_window(v: &Value) -> Result<(Option<u8>, Option<u8>), Vec<String>> {
    let Value::Object(w) = v else {
        return Err(vec![format!(
            "must be an object {{\"weekday_utc\": 0 to 6, \"starting_hour_utc\": 0 to 23}}, got {v}"
        )]);
    };
    let mut errors = Vec::new();
    let mut field = |name: &str, range: &str, check: fn(u64) -> Result<u8, String>| match w.get(name) {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) => check(n).map_err(|m| errors.push(m)).ok(),
            None => {
                errors.push(format!("{name} must be a whole number, {range}, got {v}"));
                None
            }
        },
    };
    let weekday = field(
        "weekday_utc",
        "0 (Sunday) to 6 (Saturday)",
        MaintenanceWindow::check_weekday,
    );
    let hour = field("starting_hour_utc", "0 to 23", MaintenanceWindow::check_starting_hour);
    if errors.is_empty() {
        Ok((weekday, hour))
    } else {
        Err(errors)
    }
}

/// An hour of the day (go-scalingo sends one) or a list of them.
fn parse_hours(v: &Value) -> Result<Vec<u8>, String> {
    let one = |v: &Value| -> Result<u8, String> {
        v.as_u64()
            .filter(|h| *h < 24)
            .map(|h| h as u8)
            .ok_or_else(|| format!("must be an hour of the day, 0 to 23, got {v}"))
    };
    match v {
        Value::Array(items) if !items.is_empty() => {
            let mut hours = items.iter().map(one).collect::<Result<Vec<_>, _>>()?;
            hours.sort_unstable();
            hours.dedup();
            Ok(hours)
        }
        Value::Array(_) => Err("must list at least one hour".into()),
        other => one(other).map(|h| vec![h]),
    }
}
