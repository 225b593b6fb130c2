//! The HTTP face of the fake: one [`handle`] function that routes a request,
//! checks its credentials and body, and calls the handler of its operation.
//!
//! - [`router`]: path → operation, and the methods each accepts;
//! - [`api`]: the database API of spec §2 (backups, database settings);
//! - [`download`]: archive links and archive bytes (spec §5);
//! - [`control`]: the `/_fake` control API (spec §7);
//! - [`response`] and [`body`]: JSON and error shapes, streamed bodies.

// Handlers return `Result<Reply, Reply>`: the error side is the response
// to send, built once per request; boxing it would add an allocation to every
// error for nothing.
#![allow(clippy::result_large_err)]

pub mod api;
pub mod body;
pub mod control;
pub mod download;
pub mod response;
pub mod router;

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body as _, Incoming};
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH};
use hyper::http::request::Parts;
use hyper::{Method, Request, StatusCode};

use crate::download::token::Signer;
use crate::store::{DbCell, Store};
use response::Reply;

/// Everything a request handler needs, shared by all connections.
pub(crate) struct App {
    pub store: Store,
    /// A token valid for every database.
    pub token: Option<String>,
    /// `false`: every request is accepted.
    pub auth: bool,
    pub body_limit: usize,
    pub signer: Signer,
    pub download_ttl_secs: i64,
    pub public_url: Option<String>,
}

/// Answers one request.
pub(crate) async fn handle(app: Arc<App>, req: Request<Incoming>) -> Reply {
    if !tracing::enabled!(tracing::Level::INFO) {
        return dispatch(&app, req).await.0;
    }
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let (reply, op) = dispatch(&app, req).await;
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

async fn dispatch(app: &App, req: Request<Incoming>) -> (Reply, &'static str) {
    let (mut parts, body) = req.into_parts();
    let Some(route) = router::route(parts.uri.path()) else {
        return (response::not_found("route"), "unknown");
    };
    let op = route.name();
    if !route.accepts(&parts.method) {
        return (response::method_not_allowed(route.allow()), op);
    }
    if parts.method == Method::HEAD && !matches!(route, router::Route::Download { .. }) {
        // The GET handler answers and hyper sends the head alone.
        parts.method = Method::GET;
    }
    let reply = if route.is_control() {
        control::handle(app, route, &parts, body).await
    } else {
        api::handle(app, route, &parts, body).await
    };
    (reply, op)
}

/// The outcome of checking a request's bearer token against a database.
pub(crate) fn authorize(app: &App, parts: &Parts, cell: Option<&DbCell>) -> Result<(), Reply> {
    if !app.auth {
        return Ok(());
    }
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Err(response::error(
            StatusCode::UNAUTHORIZED,
            "no Authorization header: send `Authorization: Bearer <token>`",
            None,
        ));
    };
    // The scheme is case-insensitive (RFC 9110 §11.1); the token is not.
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(response::error(
            StatusCode::UNAUTHORIZED,
            "malformed Authorization header: expected `Bearer <token>`",
            None,
        ));
    };
    if app.token.as_deref() == Some(token) {
        return Ok(());
    }
    if let Some(cell) = cell {
        if cell.read().meta.tokens.iter().any(|t| t == token) {
            return Ok(());
        }
    }
    if app.store.token_known_anywhere(token) {
        if cell.is_none() {
            // A real token, for a database that does not exist: the 404 follows.
            return Ok(());
        }
        return Err(response::error(
            StatusCode::FORBIDDEN,
            "this token does not give access to this database",
            Some("forbidden"),
        ));
    }
    Err(response::error(
        StatusCode::UNAUTHORIZED,
        "invalid or expired token",
        None,
    ))
}

/// Reads a request body up to the limit: `Ok(None)` when empty, 413 past the
/// limit, 400 when it is not a JSON object.
pub(crate) async fn read_json(
    app: &App,
    parts: &Parts,
    body: Incoming,
) -> Result<Option<serde_json::Map<String, serde_json::Value>>, Reply> {
    let too_large = || {
        response::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request body over the limit of {} bytes", app.body_limit),
            None,
        )
    };
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > app.body_limit as u64) {
        return Err(too_large());
    }
    if body.is_end_stream() {
        return Ok(None);
    }
    let bytes: Bytes = match Limited::new(body, app.body_limit).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
        Err(e) => {
            return Err(response::error(
                StatusCode::BAD_REQUEST,
                &format!("could not read the request body: {e}"),
                Some("bad_request"),
            ))
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(response::error(
            StatusCode::BAD_REQUEST,
            "the request body must be a JSON object",
            Some("bad_request"),
        )),
        Err(e) => Err(response::error(
            StatusCode::BAD_REQUEST,
            &format!("the request body is not valid JSON: {e}"),
            Some("bad_request"),
        )),
    }
}
