//! The `/v1` routes the real clients call before the database API: the
//! token exchange, the user, the regions, an app's addons and the addon
//! tokens. With them, go-scalingo and the Scalingo CLI run unmodified
//! against the fake (`SCALINGO_AUTH_URL`, `SCALINGO_API_URL` and
//! `SCALINGO_DB_URL` all set to its base URL).
//!
//! Every route but the exchange takes the JWT the exchange gives (checked by
//! [`crate::auth`]).

use hyper::body::Incoming;
use hyper::header::AUTHORIZATION;
use hyper::http::request::Parts;
use hyper::StatusCode;
use serde_json::json;

use super::request::{public_base, read_json};
use super::response::{self, Reply};
use super::routes::{Op, Params};
use crate::shared::Shared;
use crate::store::Db;

/// The region the fake says it is (the platform's default region's name, so
/// scripts that pass `--region osc-fr1` work unchanged).
pub(crate) const REGION: &str = "osc-fr1";

/// Whether `op` reads the request's body (the others answer at once, with
/// [`handle_now`]).
pub(crate) fn reads_body(op: Op) -> bool {
    matches!(op, Op::ExchangeToken | Op::CreateAddonToken)
}

/// Answers an operation of the `/v1` plane.
pub(crate) async fn handle(shared: &Shared, op: Op, p: Params<'_>, parts: &Parts, body: Incoming) -> Reply {
    if reads_body(op) {
        // The clients send `{}`; what a body holds is ignored, but it must be
        // JSON within the size limit like every other body.
        if let Err(r) = read_json(shared, parts, body).await {
            return r;
        }
    }
    handle_now(shared, op, p, parts)
}

/// Answers an operation once its body (if it reads one) is read.
pub(crate) fn handle_now(shared: &Shared, op: Op, p: Params<'_>, parts: &Parts) -> Reply {
    match run(shared, op, p, parts) {
        Ok(r) | Err(r) => r,
    }
}

fn run(shared: &Shared, op: Op, p: Params<'_>, parts: &Parts) -> Result<Reply, Reply> {
    let authorization = parts.headers.get(AUTHORIZATION).map(|v| v.as_bytes());
    if op == Op::ExchangeToken {
        let token = shared.credentials.exchange(authorization).map_err(unauthorized)?;
        return Ok(response::json(StatusCode::OK, &json!({ "token": token })));
    }
    shared.credentials.check_jwt(authorization).map_err(unauthorized)?;
    Ok(match op {
        Op::ShowSelf => response::json(StatusCode::OK, &json!({ "user": user() })),
        Op::ListRegions => response::json(StatusCode::OK, &json!({ "regions": [region(shared, parts)?] })),
        Op::ListAddons => {
            let addons: Vec<_> = app_addons(shared, p.app)?.iter().map(Db::addon).collect();
            response::json(StatusCode::OK, &json!({ "addons": addons }))
        }
        Op::ShowAddon => response::wrapped(StatusCode::OK, "addon", &addon(shared, p)?.addon()),
        Op::CreateAddonToken => {
            let db = addon(shared, p)?;
            let token = shared.credentials.addon_token(&db.addon_id());
            response::json(StatusCode::OK, &json!({ "addon": { "token": token } }))
        }
        _ => response::not_found("route"),
    })
}

fn unauthorized(why: String) -> Reply {
    response::error(StatusCode::UNAUTHORIZED, &why, None)
}

/// The addons of `app`; 404 `app` when it has none (the fake knows an app
/// through its databases).
fn app_addons<'s>(shared: &'s Shared, app: &str) -> Result<Vec<Db<'s>>, Reply> {
    let addons = shared.store.addons_of_app(app);
    if addons.is_empty() {
        return Err(response::not_found("app"));
    }
    Ok(addons)
}

/// The addon `p.db` of app `p.app`: 404 `app`, or 404 `addon` when the app
/// has no such addon.
fn addon<'s>(shared: &'s Shared, p: Params<'_>) -> Result<Db<'s>, Reply> {
    app_addons(shared, p.app)?;
    shared
        .store
        .db(p.db)
        .filter(|db| db.app() == p.app && db.addon_id() == p.db)
        .ok_or_else(|| response::not_found("addon"))
}

/// The fake's one user (not an admin: the CLI asks admins for consent).
fn user() -> serde_json::Value {
    json!({
        "id": crate::auth::USER_ID,
        "username": "fake-user",
        "email": "fake-user@scalingo-db-fake.invalid",
        "fullname": "Fake User",
        "flags": {},
    })
}

/// The one region, whose every URL is the fake's own base URL.
fn region(shared: &Shared, parts: &Parts) -> Result<serde_json::Value, Reply> {
    let base = public_base(shared, parts)?;
    let host = base.split("://").nth(1).unwrap_or(&base).to_string();
    Ok(json!({
        "name": REGION,
        "display_name": "scalingo-db-fake",
        "api": base,
        "database_api": base,
        "dashboard": base,
        "ssh": host,
        "default": true,
    }))
}
