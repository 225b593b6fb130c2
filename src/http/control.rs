//! The `/_fake` control routes: what a docker-compose test uses to steer the
//! fake over HTTP. Each handler reads its JSON body, calls the operation of
//! [`crate::control`] (where every rule lives) and answers its result or its
//! error. No authentication unless an admin token is set: this is the
//! fake's own plane.
//!
//! | route | does |
//! |---|---|
//! | `GET /_fake/health` | 200 `{"status":"ok"}` |
//! | `GET /_fake/clock` | `{"mode","now","time_scale"}` |
//! | `POST /_fake/clock` | `{"advance_secs":N}` or `{"set":"<rfc3339>"}`; backwards → 422 |
//! | `POST /_fake/backups/:id/complete`, `…/fail` | end the backup now |
//! | `GET`/`PUT /_fake/lifecycle` | global lifecycle settings |
//! | `GET`/`PUT /_fake/databases/:db/lifecycle` | one database's override |
//! | `GET`/`PUT /_fake/retention` | `{"max_backups_per_database": N \| null}` |
//! | `GET`/`PUT /_fake/seed` | `{"seed": N}` re-seeds every database; with `"database": id`, that one |
//! | `GET`/`PUT /_fake/download_ttl` | `{"download_ttl_secs": N}`: how long new download links live |
//! | `POST /_fake/reset` | everything back as at start |
//! | `GET`/`POST /_fake/databases` | list; create one (fixture-shaped, every field optional) → its id and token |
//! | `DELETE /_fake/databases/:db` | delete one |
//! | `POST /_fake/databases/:db/reset` | one database back as it was made |
//! | `POST /_fake/databases/:db/backups` | add a backup in any state (fixture-shaped) |
//! | `GET /_fake/databases/:db/backups` | `{"database_backups":[…]}`: its backups, newest first |
//! | `GET /_fake/databases/:db/backups/:id/download_url` | `{"download_url":…}`: a signed link, as `…/archive` gives; 400 `backup_not_done` |
//! | `GET /_fake/backups` | `{"databases":[{"id","database","database_backups"}]}`: every database, its addon id and backups |
//! | `GET /_fake/ui` | the dashboard: one HTML page (see [`super::ui`]); open even with an admin token |
//! | `GET`/`PUT /_fake/state` | every database in the fixtures format; replace them all |
//! | `GET /_fake/requests?operation=…&database=…&limit=N` | `{"requests":[…]}`: the journal, oldest first |
//! | `DELETE /_fake/requests` | empties the journal; `{"requests":[]}` |
//! | `POST /_fake/faults` | adds a fault rule (see [`crate::faults`]): 201 with it as stored, `id` given |
//! | `GET /_fake/faults` | `{"faults": [rule + "id", "remaining", "hits"]}` |
//! | `DELETE /_fake/faults`, `…/faults/:fault` | removes all, or one (404 `fault`): 200 `{"faults": [what is left]}` |

use std::time::Duration;

use hyper::body::Incoming;
use hyper::http::request::Parts;
use hyper::StatusCode;
use serde::Serialize;
use serde_json::{json, Value};

use super::request::{public_base, query_pairs, read_json, JsonObject};
use super::response::{self, Reply};
use super::routes::{Op, Params};
use crate::control;
use crate::error::Error;
use crate::faults::{Fault, FaultRule};
use crate::journal::{RecordedRequest, RequestFilter};
use crate::lifecycle::{LifecyclePatch, Outcome};
use crate::shared::Shared;
use crate::timestamp::Timestamp;

/// Whether a control request with this method reads a JSON object body
/// (or none): every operation that changes something does; reads take none
/// and answer at once, with [`handle_now`].
pub(crate) fn reads_body(method: &hyper::Method) -> bool {
    method != hyper::Method::GET && method != hyper::Method::HEAD
}

/// Answers a control operation.
pub(crate) async fn handle(shared: &Shared, op: Op, p: Params<'_>, parts: &Parts, body: Incoming) -> Reply {
    if !reads_body(&parts.method) {
        return handle_now(shared, op, p, parts);
    }
    if op == Op::SetDatabaseLifecycle && shared.store.db(p.db).is_none() {
        // An unknown database is a 404 before the body is looked at.
        return response::not_found("database");
    }
    let body = match read_json(shared, parts, body).await {
        Ok(b) => b.unwrap_or_default(),
        Err(r) => return r,
    };
    match run(shared, op, p, parts, body) {
        Ok(r) | Err(r) => r,
    }
}

/// Answers a control operation that reads no body ([`reads_body`]).
pub(crate) fn handle_now(shared: &Shared, op: Op, p: Params<'_>, parts: &Parts) -> Reply {
    match run(shared, op, p, parts, JsonObject::new()) {
        Ok(r) | Err(r) => r,
    }
}

fn run(shared: &Shared, op: Op, p: Params<'_>, parts: &Parts, body: JsonObject) -> Result<Reply, Reply> {
    Ok(match op {
        Op::Health => ok(&json!({ "status": "ok" })),
        Op::ShowClock => ok(&control::clock(shared)),
        Op::MoveClock => ok(&move_clock(shared, &body)?),
        Op::CompleteBackup => backup(control::finish_backup(shared, p.backup, Outcome::Done))?,
        Op::FailBackup => backup(control::finish_backup(shared, p.backup, Outcome::Error))?,
        Op::ShowLifecycle => ok(&control::lifecycle(shared)),
        Op::SetLifecycle => ok(&control::set_lifecycle(shared, &lifecycle_patch(body)?).map_err(fail)?),
        Op::ShowDatabaseLifecycle => ok(&control::database_lifecycle(shared, p.db).map_err(fail)?),
        Op::SetDatabaseLifecycle => {
            let patch = lifecycle_patch(body)?;
            ok(&control::set_database_lifecycle(shared, p.db, &patch).map_err(fail)?)
        }
        Op::ShowRetention => retention(control::retention(shared)),
        Op::SetRetention => retention(control::set_retention(shared, retention_cap(&body)?).map_err(fail)?),
        Op::ShowDownloadTtl => download_ttl(control::download_ttl(shared)),
        Op::SetDownloadTtl => {
            let secs = body.get("download_ttl_secs").and_then(Value::as_u64).ok_or_else(|| {
                invalid(
                    "download_ttl_secs",
                    "is required: a whole number of seconds".to_string(),
                )
            })?;
            let ttl = control::set_download_ttl(shared, Duration::from_secs(secs));
            download_ttl(ttl.map_err(fail)?)
        }
        Op::ShowSeed => ok(&json!({ "seed": control::seed(shared) })),
        Op::SetSeed => {
            let (seed, db) = seed_body(&body)?;
            control::reseed(shared, seed, db).map_err(fail)?;
            ok(&json!({ "seed": seed, "database": body.get("database") }))
        }
        Op::Reset => {
            control::reset(shared);
            ok(&json!({ "reset": true }))
        }
        Op::ListDatabases => ok(&json!({ "databases": control::databases(shared) })),
        Op::CreateDatabase => created(&control::create_database(shared, body).map_err(fail)?),
        Op::DeleteDatabase => {
            control::delete_database(shared, p.db).map_err(fail)?;
            ok(&json!({ "deleted": p.db }))
        }
        Op::ResetDatabase => response::wrapped(
            StatusCode::OK,
            "database",
            &control::reset_database(shared, p.db).map_err(fail)?,
        ),
        Op::SeedBackup => response::wrapped(
            StatusCode::CREATED,
            "database_backup",
            &control::seed_backup(shared, p.db, body).map_err(fail)?,
        ),
        Op::ListDatabaseBackups | Op::ListAllBackups | Op::DownloadUrl | Op::Dashboard => {
            dashboard_read(shared, op, p, parts)?
        }
        Op::ExportState => ok(&control::export_state(shared)),
        Op::ImportState => {
            control::import_state(shared, &Value::Object(body)).map_err(fail)?;
            ok(&control::export_state(shared))
        }
        Op::ListRequests => requests(&control::requests(shared, &request_filter(parts)?).map_err(fail)?),
        Op::ClearRequests => {
            control::clear_requests(shared);
            requests(&[])
        }
        Op::AddFault => {
            let rule = FaultRule::from_json(&Value::Object(body)).map_err(fail)?;
            response::json(StatusCode::CREATED, &control::add_fault(shared, rule).map_err(fail)?)
        }
        Op::ListFaults => faults(control::faults(shared)),
        Op::ClearFaults => {
            control::clear_faults(shared);
            faults(control::faults(shared))
        }
        Op::RemoveFault => {
            control::remove_fault(shared, p.fault).map_err(fail)?;
            faults(control::faults(shared))
        }
        _ => response::not_found("route"),
    })
}

/// What the dashboard reads: its page, a database's backups, every
/// database with its backups, a download link.
fn dashboard_read(shared: &Shared, op: Op, p: Params<'_>, parts: &Parts) -> Result<Reply, Reply> {
    Ok(match op {
        Op::ListDatabaseBackups => {
            let list = control::backups(shared, p.db).map_err(fail)?;
            response::wrapped(StatusCode::OK, "database_backups", &list)
        }
        Op::ListAllBackups => response::wrapped(StatusCode::OK, "databases", &control::all_backups(shared)),
        Op::DownloadUrl => {
            let base = public_base(shared, parts)?;
            let url = control::download_url(shared, p.db, p.backup, &base).map_err(fail)?;
            ok(&json!({ "download_url": url }))
        }
        Op::Dashboard => super::ui::page(shared),
        _ => response::not_found("route"),
    })
}

fn created<T: Serialize + ?Sized>(value: &T) -> Reply {
    response::json(StatusCode::CREATED, value)
}

/// `{"faults": [...]}`, each rule's fields in their own order.
fn faults(faults: Vec<Fault>) -> Reply {
    #[derive(Serialize)]
    struct Listing {
        faults: Vec<Fault>,
    }
    ok(&Listing { faults })
}

fn download_ttl(ttl: Duration) -> Reply {
    ok(&json!({ "download_ttl_secs": ttl.as_secs() }))
}

fn ok<T: Serialize + ?Sized>(value: &T) -> Reply {
    response::json(StatusCode::OK, value)
}

fn fail(e: Error) -> Reply {
    response::from_error(&e)
}

fn invalid(field: &str, message: String) -> Reply {
    response::unprocessable([(field, message)])
}

fn backup(result: Result<crate::Backup, Error>) -> Result<Reply, Reply> {
    let b = result.map_err(fail)?;
    Ok(response::wrapped(StatusCode::OK, "database_backup", &b))
}

/// `{"advance_secs": N}` or `{"set": "<rfc3339>"}`.
fn move_clock(shared: &Shared, body: &JsonObject) -> Result<control::ClockState, Reply> {
    match (body.get("advance_secs"), body.get("set")) {
        (Some(v), None) => {
            let by = v
                .as_f64()
                .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e12)
                .map(|s| Duration::from_millis((s * 1000.0).round() as u64))
                .ok_or_else(|| {
                    invalid(
                        "advance_secs",
                        format!("must be a number of seconds, zero or more, got {v}"),
                    )
                })?;
            Ok(control::advance(shared, by))
        }
        (None, Some(v)) => {
            let text = v
                .as_str()
                .ok_or_else(|| invalid("set", format!("must be an RFC 3339 timestamp string, got {v}")))?;
            let to = Timestamp::parse(text).map_err(|m| invalid("set", m))?;
            control::set_time(shared, &to).map_err(fail)
        }
        _ => Err(invalid(
            "base",
            "give exactly one of `advance_secs` or `set`".to_string(),
        )),
    }
}

/// `{"requests": [...]}`, each request's fields in their declared order.
fn requests(list: &[RecordedRequest]) -> Reply {
    response::wrapped(StatusCode::OK, "requests", list)
}

/// `?operation=…&database=…&limit=N`, each optional; any other parameter
/// is refused, so a misspelt filter does not silently list everything.
fn request_filter(parts: &Parts) -> Result<RequestFilter, Reply> {
    let pairs = query_pairs(parts.uri.query().unwrap_or("")).map_err(|(f, m)| invalid(&f, m))?;
    let mut filter = RequestFilter::default();
    for (key, value) in pairs {
        let slot = match key.as_str() {
            "operation" => &mut filter.operation,
            "database" => &mut filter.database,
            "limit" => {
                let n = value
                    .parse()
                    .map_err(|_| invalid("limit", format!("must be a whole number from 1, got `{value}`")))?;
                filter.limit = Some(n);
                continue;
            }
            _ => {
                let m = "is not a filter of /_fake/requests: use operation, database or limit";
                return Err(invalid(&key, m.to_string()));
            }
        };
        if value.is_empty() {
            return Err(invalid(
                &key,
                "must not be empty (leave it out to keep every value)".to_string(),
            ));
        }
        *slot = Some(value);
    }
    Ok(filter)
}

fn lifecycle_patch(body: JsonObject) -> Result<LifecyclePatch, Reply> {
    serde_json::from_value(Value::Object(body)).map_err(|e| invalid("lifecycle", e.to_string()))
}

fn retention(cap: Option<usize>) -> Reply {
    ok(&json!({ "max_backups_per_database": cap }))
}

/// `{"max_backups_per_database": N | null}`.
fn retention_cap(body: &JsonObject) -> Result<Option<usize>, Reply> {
    let field = "max_backups_per_database";
    match body.get(field) {
        Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(|n| Some(n.min(usize::MAX as u64) as usize))
            .ok_or_else(|| {
                invalid(
                    field,
                    format!("must be a whole number above 0, or null for no cap, got {v}"),
                )
            }),
        None => Err(invalid(field, "is required (a number, or null for no cap)".to_string())),
    }
}

/// `{"seed": N, "database": id?}`.
fn seed_body(body: &JsonObject) -> Result<(u64, Option<&str>), Reply> {
    let seed = body
        .get("seed")
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid("seed", "is required: a whole number from 0 to 2^64-1".to_string()))?;
    let db = match body.get("database") {
        None | Some(Value::Null) => None,
        Some(Value::String(db)) => Some(db.as_str()),
        Some(other) => return Err(invalid("database", format!("must be a database id, got {other}"))),
    };
    Ok((seed, db))
}
