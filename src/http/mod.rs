//! The HTTP face of the fake: [`handle`] finds a request's route in the
//! table, checks the method, applies the fault rule that fires on it (if
//! any, see [`crate::faults`]; never on `/_fake`) and runs the handler of
//! its operation.
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

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::http::request::Parts;
use hyper::{Method, Request};

use crate::faults::{FaultEffect, FaultRequest, Fired};
use crate::shared::Shared;
use response::Reply;
use routes::{Matched, Op, Plane};

/// A fault rule's order to drop the connection without answering: the
/// error of the connection's service, so hyper closes it and the client
/// sees no response at all.
#[derive(Debug)]
pub(crate) struct Reset {
    /// The rule that fired.
    pub fault: String,
}

impl fmt::Display for Reset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connection reset by fault rule {}", self.fault)
    }
}

impl std::error::Error for Reset {}

/// What became of one request.
pub(crate) struct Dispatched {
    /// The response, or the reset a fault rule ordered.
    pub answer: Result<Reply, Reset>,
    /// The name of the operation (`unknown` or `method_not_allowed` when
    /// no route takes the request).
    pub op: &'static str,
    /// The id of the fault rule that fired on the request, if one did.
    pub fault: Option<String>,
}

impl Dispatched {
    fn plain(reply: Reply, op: &'static str) -> Self {
        Self {
            answer: Ok(reply),
            op,
            fault: None,
        }
    }
}

/// Answers one request (and logs it at info level); `Err` when a fault
/// rule resets the connection.
pub(crate) async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Reply, Reset> {
    if !tracing::enabled!(tracing::Level::INFO) {
        return dispatch(&shared, req).await.answer;
    }
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let d = dispatch(&shared, req).await;
    let code;
    let status: &dyn fmt::Display = match &d.answer {
        Ok(reply) => {
            code = reply.status().as_u16();
            &code
        }
        Err(_) => &"reset",
    };
    let fault = d.fault.as_deref().map(|f| format!(", fault {f}")).unwrap_or_default();
    tracing::info!(
        "{} {} -> {} ({}{}, {} µs)",
        method,
        path,
        status,
        d.op,
        fault,
        started.elapsed().as_micros()
    );
    d.answer
}

/// The answer, the operation that made it and the fault rule that fired.
async fn dispatch(shared: &Shared, req: Request<Incoming>) -> Dispatched {
    let (parts, body) = req.into_parts();
    let Some(matched) = routes::find(parts.uri.path()) else {
        return Dispatched::plain(response::not_found("route"), "unknown");
    };
    let Some(op) = matched.op(&parts.method) else {
        let reply = response::method_not_allowed(&matched.route.allow());
        return Dispatched::plain(reply, "method_not_allowed");
    };
    let Some(fired) = pick_fault(shared, &matched, op, &parts.method) else {
        return Dispatched::plain(run(shared, &matched, op, &parts, body).await, op.name());
    };
    let answer = match fired.effect {
        FaultEffect::Status {
            status,
            body: json,
            retry_after,
        } => Ok(response::fault(status, json.as_ref(), retry_after)),
        FaultEffect::Reset => Err(Reset {
            fault: fired.id.clone(),
        }),
        FaultEffect::Latency { ms } => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(run(shared, &matched, op, &parts, body).await)
        }
        FaultEffect::CutAfter { bytes } => Ok(run(shared, &matched, op, &parts, body)
            .await
            .map(|b| b.cut_after(bytes))),
        FaultEffect::Drip { bytes_per_sec } => Ok(run(shared, &matched, op, &parts, body)
            .await
            .map(|b| b.drip(bytes_per_sec))),
    };
    Dispatched {
        answer,
        op: op.name(),
        fault: Some(fired.id),
    }
}

/// The fault rule that fires on this request, if any: never on `/_fake`,
/// and one atomic load when no rule can fire.
fn pick_fault(shared: &Shared, matched: &Matched<'_>, op: Op, method: &Method) -> Option<Fired> {
    if matched.route.plane == Plane::Control || !shared.faults.armed() {
        return None;
    }
    shared.faults.pick(&FaultRequest {
        method: method.as_str(),
        route: matched.route.template,
        operation: op.name(),
        database: matched.params.db,
    })
}

/// Runs the handler of `op`.
async fn run(shared: &Shared, matched: &Matched<'_>, op: Op, parts: &Parts, body: Incoming) -> Reply {
    let p = matched.params;
    match matched.route.plane {
        Plane::Api => api::handle(shared, op, p, parts, body).await,
        Plane::Download => download::download(shared, p.db, p.backup, parts).await,
        Plane::Control => control::handle(shared, op, p, parts, body).await,
        Plane::Platform => platform::handle(shared, op, p, parts, body).await,
    }
}
