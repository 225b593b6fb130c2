//! The HTTP face of the fake: [`handle`] finds a request's route in the
//! table, checks the method, and runs the handler of its operation.
//!
//! - [`routes`]: the route table (paths, planes, operations per method);
//! - [`api`]: the database API (backups, database settings);
//! - [`download`]: archive links and archive bytes;
//! - [`control`]: the `/_fake` control API, adapters over [`crate::control`];
//! - [`platform`]: the `/v1` auth and addon routes the real clients call first;
//! - [`request`]: reading bodies and credentials;
//! - [`response`] and [`body`]: JSON and error shapes, streamed bodies.

// Handlers return `Result<Reply, Reply>`: the error side is the response
// to send, built once per request; boxing it would add an allocation to every
// error for nothing.
#![allow(clippy::result_large_err)]

pub mod api;
pub mod body;
pub mod control;
pub mod download;
pub mod platform;
pub mod request;
pub mod response;
pub mod routes;

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use hyper::body::Incoming;
use hyper::http::request::Parts;
use hyper::Request;

use crate::journal::Exchange;
use crate::shared::Shared;
use response::Reply;
use routes::Plane;

/// Answers one request, records it in the journal (unless it is on the
/// control plane) and logs it at info level.
///
/// The journal entry is written before the reply goes back to hyper, so a
/// client that has its response finds its request in the journal.
pub(crate) async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Reply {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    // Arrival, on the fake's clock and the system's, when it is kept.
    let arrival = shared.journal.is_on().then(|| (shared.store.now(), wall_millis()));
    let (reply, seen) = dispatch(&shared, &parts, body).await;
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let status = reply.status().as_u16();
    if let Some((time_millis, wall_millis)) = arrival.filter(|_| seen.journaled(parts.uri.path())) {
        let exchange = Exchange {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
            operation: seen.op,
            database: seen.database,
            status,
            time_millis,
            wall_millis,
            latency_us,
        };
        shared.journal.record(&exchange, None);
    }
    tracing::info!(
        "{} {} -> {} ({}, {} µs)",
        parts.method,
        parts.uri.path(),
        status,
        seen.op,
        latency_us
    );
    reply
}

/// Now on the system clock, in milliseconds since the epoch.
fn wall_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// What [`dispatch`] learned of a request besides its reply.
struct Seen<'a> {
    /// The name of the operation that made the reply (`unknown`,
    /// `method_not_allowed` when none ran).
    op: &'static str,
    /// The `:db` / `:addon` id of the path, when the route has one.
    database: Option<&'a str>,
    /// The plane of the route, when the path names one.
    plane: Option<Plane>,
}

impl Seen<'_> {
    /// Whether the journal records this request: every plane but the
    /// control plane, and no unknown path under `/_fake` either.
    fn journaled(&self, path: &str) -> bool {
        match self.plane {
            Some(plane) => plane != Plane::Control,
            None => !(path == "/_fake" || path.starts_with("/_fake/")),
        }
    }
}

/// The reply, and what the journal and the log need to know of it.
async fn dispatch<'a>(shared: &Shared, parts: &'a Parts, body: Incoming) -> (Reply, Seen<'a>) {
    let Some(matched) = routes::find(parts.uri.path()) else {
        let seen = Seen {
            op: "unknown",
            database: None,
            plane: None,
        };
        return (response::not_found("route"), seen);
    };
    let p = matched.params;
    let mut seen = Seen {
        op: "method_not_allowed",
        database: Some(p.db).filter(|db| !db.is_empty()),
        plane: Some(matched.route.plane),
    };
    let Some(op) = matched.op(&parts.method) else {
        return (response::method_not_allowed(&matched.route.allow()), seen);
    };
    seen.op = op.name();
    if matched.route.plane == Plane::Control && op != routes::Op::Health {
        let authorization = parts.headers.get(hyper::header::AUTHORIZATION).map(|v| v.as_bytes());
        if let Err(why) = shared.credentials.check_admin(authorization) {
            return (response::error(hyper::StatusCode::UNAUTHORIZED, &why, None), seen);
        }
    }
    let reply = match matched.route.plane {
        Plane::Api => api::handle(shared, op, p, parts, body).await,
        Plane::Download => download::download(shared, p.db, p.backup, parts).await,
        Plane::Control => control::handle(shared, op, p, parts, body).await,
        Plane::Platform => platform::handle(shared, op, p, parts, body).await,
    };
    (reply, seen)
}
