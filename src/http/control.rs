//! The `/_fake` control API (spec §7): what a docker-compose test uses to
//! steer the fake over HTTP. Each operation is also a method of
//! [`crate::FakeServer`]. No authentication: this is the fake's own plane.
//!
//! | route | does |
//! |---|---|
//! | `GET /_fake/health` | 200 `{"status":"ok"}` |
//! | `GET /_fake/clock` | `{"now","mode","time_scale"}` |
//! | `POST /_fake/clock` | `{"advance_secs":N}` or `{"set":"<rfc3339>"}`; backwards → 422 |
//! | `POST /_fake/backups/:id/complete`, `…/fail` | force the outcome now |
//! | `GET`/`PUT /_fake/lifecycle` | global lifecycle settings |
//! | `GET`/`PUT /_fake/databases/:db/lifecycle` | one database's override |
//! | `GET`/`PUT /_fake/retention` | `{"max_backups_per_database": N \| null}` |
//! | `GET`/`PUT /_fake/seed` | `{"seed": N}` re-seeds every database; with `"database": id`, that one |

use hyper::body::Incoming;
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};
use serde_json::{json, Map, Value};

use super::response::{self, Reply};
use super::router::Route;
use super::{read_json, App};
use crate::lifecycle::{LifecyclePatch, Outcome};
use crate::store::StoreError;
use crate::timestamp::{format_millis, Timestamp};

/// Answers a control request.
pub(crate) async fn handle(app: &App, route: Route<'_>, parts: &Parts, body: Incoming) -> Reply {
    let result = match (route, &parts.method) {
        (Route::Health, _) => Ok(response::json(StatusCode::OK, &json!({ "status": "ok" }))),
        (Route::Clock, &Method::GET) => Ok(clock(app)),
        (Route::Clock, _) => match read_json(app, parts, body).await {
            Ok(b) => move_clock(app, b.unwrap_or_default()),
            Err(r) => Err(r),
        },
        (Route::Complete { backup }, _) => force(app, backup, Outcome::Done),
        (Route::Fail { backup }, _) => force(app, backup, Outcome::Error),
        (Route::Lifecycle, &Method::GET) => Ok(response::json(StatusCode::OK, &app.store.lifecycle())),
        (Route::Lifecycle, _) => match patch_body(app, parts, body).await {
            Ok(patch) => app
                .store
                .set_lifecycle(&patch)
                .map(|l| response::json(StatusCode::OK, &l))
                .map_err(store_error),
            Err(r) => Err(r),
        },
        (Route::DatabaseLifecycle { db }, method) => {
            let Some(cell) = app.store.database(db) else {
                return response::not_found("database");
            };
            let result = if method == Method::GET {
                Ok(app.store.database_lifecycle(&cell))
            } else {
                match patch_body(app, parts, body).await {
                    Ok(patch) => app
                        .store
                        .set_database_lifecycle(&cell, &patch)
                        .map(|_| app.store.database_lifecycle(&cell))
                        .map_err(store_error),
                    Err(r) => Err(r),
                }
            };
            result.map(|(own, effective)| {
                response::json(StatusCode::OK, &json!({ "override": own, "effective": effective }))
            })
        }
        (Route::Seed, &Method::GET) => Ok(response::json(StatusCode::OK, &json!({ "seed": app.store.seed() }))),
        (Route::Seed, _) => match read_json(app, parts, body).await {
            Ok(b) => reseed(app, b.unwrap_or_default()),
            Err(r) => Err(r),
        },
        (Route::Retention, &Method::GET) => Ok(retention(app)),
        (Route::Retention, _) => match read_json(app, parts, body).await {
            Ok(b) => set_retention(app, b.unwrap_or_default()),
            Err(r) => Err(r),
        },
        _ => Err(response::not_found("route")),
    };
    match result {
        Ok(r) | Err(r) => r,
    }
}

fn clock(app: &App) -> Reply {
    let c = &app.store.clock;
    response::json(
        StatusCode::OK,
        &json!({ "now": format_millis(c.now()), "mode": c.mode(), "time_scale": c.scale() }),
    )
}

fn move_clock(app: &App, body: Map<String, Value>) -> Result<Reply, Reply> {
    let moved = match (body.get("advance_secs"), body.get("set")) {
        (Some(v), None) => match v.as_f64().filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e12) {
            Some(secs) => app
                .store
                .clock
                .advance((secs * 1000.0).round() as i64)
                .map_err(|e| ("advance_secs", e.0)),
            None => Err((
                "advance_secs",
                format!("must be a number of seconds, zero or more, got {v}"),
            )),
        },
        (None, Some(v)) => match v.as_str().map(Timestamp::parse) {
            Some(Ok(t)) => app.store.clock.set(t.millis()).map_err(|e| ("set", e.0)),
            Some(Err(m)) => Err(("set", m)),
            None => Err(("set", format!("must be an RFC 3339 timestamp string, got {v}"))),
        },
        _ => Err(("base", "give exactly one of `advance_secs` or `set`".to_string())),
    };
    match moved {
        Ok(_) => {
            app.store.catch_up_all();
            Ok(clock(app))
        }
        Err((field, message)) => Err(response::unprocessable([(field, message)])),
    }
}

fn force(app: &App, backup: &str, outcome: Outcome) -> Result<Reply, Reply> {
    app.store
        .force(backup, outcome)
        .map(|b| response::wrapped(StatusCode::OK, "database_backup", &b))
        .map_err(store_error)
}

async fn patch_body(app: &App, parts: &Parts, body: Incoming) -> Result<LifecyclePatch, Reply> {
    let map = read_json(app, parts, body).await?.unwrap_or_default();
    serde_json::from_value(Value::Object(map)).map_err(|e| response::unprocessable([("lifecycle", format!("{e}"))]))
}

fn retention(app: &App) -> Reply {
    response::json(
        StatusCode::OK,
        &json!({ "max_backups_per_database": app.store.retention() }),
    )
}

fn set_retention(app: &App, body: Map<String, Value>) -> Result<Reply, Reply> {
    match body.get("max_backups_per_database") {
        Some(Value::Null) => app.store.set_retention(None),
        Some(v) => match v.as_u64().filter(|n| *n > 0) {
            Some(n) => app.store.set_retention(Some(n as usize)),
            None => {
                return Err(response::unprocessable([(
                    "max_backups_per_database",
                    format!("must be a whole number above 0, or null for no cap, got {v}"),
                )]))
            }
        },
        None => {
            return Err(response::unprocessable([(
                "max_backups_per_database",
                "is required (a number, or null for no cap)".to_string(),
            )]))
        }
    }
    Ok(retention(app))
}

fn reseed(app: &App, body: Map<String, Value>) -> Result<Reply, Reply> {
    let Some(seed) = body.get("seed").and_then(Value::as_u64) else {
        return Err(response::unprocessable([(
            "seed",
            "is required: a whole number from 0 to 2^64-1".to_string(),
        )]));
    };
    match body.get("database") {
        None | Some(Value::Null) => app.store.reseed(None, seed),
        Some(Value::String(db)) => {
            let Some(cell) = app.store.database(db) else {
                return Err(response::not_found("database"));
            };
            app.store.reseed(Some(&cell), seed);
        }
        Some(other) => {
            return Err(response::unprocessable([(
                "database",
                format!("must be a database id, got {other}"),
            )]))
        }
    }
    Ok(response::json(
        StatusCode::OK,
        &json!({ "seed": seed, "database": body.get("database") }),
    ))
}

fn store_error(e: StoreError) -> Reply {
    match e {
        StoreError::NoBackup => response::not_found("backup"),
        StoreError::Invalid(errors) => response::unprocessable(errors.iter().map(|(f, m)| (f.as_str(), m.clone()))),
    }
}
