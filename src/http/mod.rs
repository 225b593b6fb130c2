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
use std::time::Instant;

use hyper::body::Incoming;
use hyper::Request;

use crate::shared::Shared;
use response::Reply;
use routes::Plane;

/// Answers one request (and logs it at info level).
pub(crate) async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Reply {
    if !tracing::enabled!(tracing::Level::INFO) {
        return dispatch(&shared, req).await.0;
    }
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let (reply, op) = dispatch(&shared, req).await;
    tracing::info!(
        "{} {} -> {} ({}, {} µs)",
        method,
        path,
        reply.status().as_u16(),
        op,
        started.elapsed().as_micros()
    );
    reply
}

/// The reply, and the name of the operation that made it.
async fn dispatch(shared: &Shared, req: Request<Incoming>) -> (Reply, &'static str) {
    let (parts, body) = req.into_parts();
    let Some(matched) = routes::find(parts.uri.path()) else {
        return (response::not_found("route"), "unknown");
    };
    let Some(op) = matched.op(&parts.method) else {
        return (
            response::method_not_allowed(&matched.route.allow()),
            "method_not_allowed",
        );
    };
    let p = matched.params;
    if matched.route.plane == Plane::Control && op != routes::Op::Health {
        let authorization = parts.headers.get(hyper::header::AUTHORIZATION).map(|v| v.as_bytes());
        if let Err(why) = shared.credentials.check_admin(authorization) {
            return (response::error(hyper::StatusCode::UNAUTHORIZED, &why, None), op.name());
        }
    }
    let reply = match matched.route.plane {
        Plane::Api => api::handle(shared, op, p, &parts, body).await,
        Plane::Download => download::download(shared, p.db, p.backup, &parts).await,
        Plane::Control => control::handle(shared, op, p, &parts, body).await,
        Plane::Platform => platform::handle(shared, op, p, &parts, body).await,
    };
    (reply, op.name())
}
