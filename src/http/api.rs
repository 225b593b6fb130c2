//! The database API (spec §2): list, create and show backups, show a
//! database and change its periodic-backup settings. Archive links and
//! downloads live in [`super::download`].

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};
use serde_json::Value;

use super::response::{self, Reply};
use super::router::Route;
use super::{authorize, read_json, App};
use crate::store::DbCell;

/// Answers a database-API request (`route` is not a control route).
pub(crate) async fn handle(app: &App, route: Route<'_>, parts: &Parts, body: Incoming) -> Reply {
    match run(app, route, parts, body).await {
        Ok(r) | Err(r) => r,
    }
}

async fn run(app: &App, route: Route<'_>, parts: &Parts, body: Incoming) -> Result<Reply, Reply> {
    match route {
        Route::Download { db, backup } => return Ok(super::download::download(app, db, backup, parts).await),
        Route::BackupById { backup } => {
            let cell = app.store.database_of_backup(backup);
            authorize(app, parts, cell.as_deref())?;
            let cell = cell.ok_or_else(|| response::not_found("backup"))?;
            let b = app
                .store
                .show(&cell, backup)
                .ok_or_else(|| response::not_found("backup"))?;
            return Ok(response::wrapped(StatusCode::OK, "database_backup", &b));
        }
        _ => {}
    }
    let db = match route {
        Route::Backups { db } | Route::Backup { db, .. } | Route::Archive { db, .. } | Route::Database { db } => db,
        _ => return Err(response::not_found("route")),
    };
    let cell = app.store.database(db);
    authorize(app, parts, cell.as_deref())?;
    let cell = cell.ok_or_else(|| response::not_found("database"))?;
    Ok(match (route, &parts.method) {
        (Route::Backups { .. }, &Method::GET) => list(app, &cell),
        (Route::Backups { .. }, _) => {
            // The body is `{}` or empty; anything else that is JSON is ignored,
            // as the real API ignores unknown parameters.
            read_json(app, parts, body).await?;
            let b = app.store.create(&cell);
            response::wrapped(StatusCode::CREATED, "database_backup", &b)
        }
        (Route::Backup { backup, .. }, _) => {
            let b = app
                .store
                .show(&cell, backup)
                .ok_or_else(|| response::not_found("backup"))?;
            response::wrapped(StatusCode::OK, "database_backup", &b)
        }
        (Route::Archive { db, backup }, _) => super::download::archive_link(app, &cell, db, backup, parts),
        (Route::Database { .. }, &Method::GET) => {
            app.store.catch_up(&cell);
            let info = cell.read().meta.info();
            response::wrapped(StatusCode::OK, "database", &info)
        }
        (Route::Database { .. }, _) => patch_database(app, &cell, read_json(app, parts, body).await?)?,
        _ => response::not_found("route"),
    })
}

fn list(app: &App, cell: &Arc<DbCell>) -> Reply {
    let body = app.store.list_json(cell);
    let mut r = hyper::Response::new(super::body::Body::full(body));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

/// `PATCH /api/databases/:db` with
/// `{"database":{"periodic_backups_enabled":bool,"periodic_backups_scheduled_at":hour}}`.
fn patch_database(app: &App, cell: &Arc<DbCell>, body: Option<serde_json::Map<String, Value>>) -> Result<Reply, Reply> {
    let Some(Value::Object(params)) = body.and_then(|mut b| b.remove("database")) else {
        return Err(response::unprocessable([(
            "database",
            "is required: send {\"database\": {\"periodic_backups_enabled\": …, \"periodic_backups_scheduled_at\": …}}"
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
    if !errors.is_empty() {
        return Err(response::unprocessable(errors));
    }
    let info = app.store.configure_periodic(cell, enabled, hours);
    Ok(response::wrapped(StatusCode::OK, "database", &info))
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
