//! The HTTP face of the fake: [`handle`] finds a request's route in the
//! table, checks the method (and the admin token on `/_fake`), applies the
//! fault rule that fires on it (if any, see [`crate::faults`]; never on
//! `/_fake`), runs the handler of its operation, records the exchange in the
//! journal (never for `/_fake`) and logs it.
//!
//! - [`routes`]: the route table (paths, planes, operations per method);
//! - [`api`]: the database API (backups, database settings);
//! - [`download`]: archive links and archive bytes;
//! - [`control`]: the `/_fake` control API, adapters over [`crate::control`];
//! - [`platform`]: the `/v1` auth and addon routes the real clients call first;
//! - [`ui`]: the dashboard's page at `/_fake/ui`;
//! - [`log`]: the one log line per request (a `tracing` event, or a sink);
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
pub mod log;
pub mod platform;
pub mod request;
pub mod response;
pub mod routes;
pub mod strict;
pub mod ui;

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hyper::body::Incoming;
use hyper::http::request::Parts;
use hyper::{Method, Request};

use crate::faults::{FaultEffect, FaultRequest, Fired};
use crate::journal::Exchange;
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

/// What the journal and the log need to know of one request, besides its
/// answer (which travels apart: a response is large, and every move of it
/// is a copy).
struct Dispatched<'a> {
    /// The name of the operation (`unknown` or `method_not_allowed` when
    /// no route takes the request).
    op: &'static str,
    /// The `:db` / `:addon` id of the path, when the route has one.
    database: Option<Cow<'a, str>>,
    /// The plane of the route, when the path names one.
    plane: Option<Plane>,
    /// The id of the fault rule that fired on the request, if one did.
    fault: Option<String>,
}

impl Dispatched<'_> {
    /// Whether the journal records this request: every plane but the
    /// control plane, and no unknown path under `/_fake` either.
    fn journaled(&self, path: &str) -> bool {
        match self.plane {
            Some(plane) => plane != Plane::Control,
            None => !(path == "/_fake" || path.starts_with("/_fake/")),
        }
    }
}

/// How a request is answered: during the service's call, or by a future.
///
/// Most requests are answered at once: every one that reads no body, meets
/// no fault rule and streams no archive. They cost no future at all (the
/// state of the largest handler is large, and a future is moved several
/// times on its way through hyper). The others get a boxed future.
// The answer is kept inline: boxing it would cost an allocation on every
// request, to save a few bytes on the rare one that waits.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Handled {
    /// The answer, or a fault rule's reset.
    Now(Result<Reply, Reset>),
    /// What will answer: the request reads a body, waits for a fault rule's
    /// latency or opens an archive.
    Later(Pin<Box<dyn Future<Output = Result<Reply, Reset>> + Send>>),
}

/// Answers one request, at once or through a future (see [`Handled`]); the
/// answer is `Err` when a fault rule resets the connection.
///
/// The journal entry is written before the reply goes back to hyper, so a
/// client that has its response finds its request in the journal.
pub(crate) fn handle(shared: &Arc<Shared>, req: Request<Incoming>) -> Handled {
    // The real clocks are read once each on arrival: the fake's time, the
    // journal's and the log's timestamps are taken from these readings.
    let started = Instant::now();
    let arrival = Arrival {
        started,
        wall: SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default(),
        time_millis: shared.store.now_at(started),
    };
    let (parts, body) = req.into_parts();
    if let Some((d, answer)) = dispatch_now(shared, &parts, arrival.time_millis) {
        finish(shared, &parts, &d, &answer, arrival);
        return Handled::Now(answer);
    }
    let shared = shared.clone();
    Handled::Later(Box::pin(async move {
        let (d, answer) = dispatch(&shared, &parts, body).await;
        finish(&shared, &parts, &d, &answer, arrival);
        answer
    }))
}

/// Journals and logs an answered request (`answer`: its response, or the
/// fault rule's reset that answered nothing).
fn finish(shared: &Shared, parts: &Parts, d: &Dispatched<'_>, answer: &Result<Reply, Reset>, arrival: Arrival) {
    let latency = arrival.started.elapsed();
    let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    // A reset answers nothing: journaled and logged as status 0.
    let status = answer.as_ref().map_or(0, |r| r.status().as_u16());
    if shared.journal.is_on() && d.journaled(parts.uri.path()) {
        let time_millis = arrival.time_millis;
        let wall_millis = i64::try_from(arrival.wall.as_millis()).unwrap_or(i64::MAX);
        let exchange = Exchange {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
            operation: d.op,
            database: d.database.as_deref(),
            status,
            time_millis,
            wall_millis,
            latency_us,
        };
        shared.journal.record(&exchange, d.fault.clone());
    }
    let quiet = d.plane == Some(Plane::Control) && (parts.method == Method::GET || parts.method == Method::HEAD);
    log::emit(&log::RequestLine {
        // Health checks and other reads of `/_fake` at debug: a container's
        // health check every 2 s would flood the log.
        level: if quiet {
            tracing::Level::DEBUG
        } else {
            tracing::Level::INFO
        },
        method: parts.method.as_str(),
        path: parts.uri.path(),
        status,
        operation: d.op,
        fault: d.fault.as_deref(),
        latency_us,
        at: arrival.wall.saturating_add(latency),
    });
}

/// When a request came, read once on each real clock.
#[derive(Clone, Copy)]
struct Arrival {
    /// On the monotonic clock: the latency, and the fake's time (when it
    /// follows the system's).
    started: Instant,
    /// On the system clock, since the Unix epoch: the journal's wall time
    /// and (plus the latency) the log line's.
    wall: Duration,
    /// On the fake's clock, in milliseconds since the Unix epoch: the
    /// journal's time, and the time a request answered at once is run at.
    time_millis: i64,
}

/// What is known of a request once its route, method and admin token are
/// checked: the operation to run, or the answer already.
enum Routed<'a, 'p> {
    /// Answered (a bad request, an unknown route or method, a refused token).
    Done(Dispatched<'a>, Reply),
    /// The operation to run, and what the journal and the log will need.
    Run(Matched<'p>, Op, Dispatched<'a>),
}

/// Checks a request and finds its route and operation. `path` is the
/// request's path, normalized.
fn route<'a, 'p>(shared: &Shared, parts: &'a Parts, path: &'p Cow<'a, str>) -> Routed<'a, 'p> {
    let mut d = Dispatched {
        op: "unknown",
        database: None,
        plane: None,
        fault: None,
    };
    if let Err(reply) = strict::check(parts) {
        d.op = "bad_request";
        return Routed::Done(d, reply);
    }
    let Some(matched) = routes::find(path) else {
        return Routed::Done(d, response::not_found("route"));
    };
    d.database = Some(matched.params.db)
        .filter(|db| !db.is_empty())
        .map(|db| match path {
            // The id is a slice of the request's own path: borrowed for as long.
            Cow::Borrowed(whole) => reborrow(whole, db).map_or_else(|| Cow::Owned(db.to_string()), Cow::Borrowed),
            Cow::Owned(_) => Cow::Owned(db.to_string()),
        });
    d.plane = Some(matched.route.plane);
    let Some(op) = matched.op(&parts.method) else {
        d.op = "method_not_allowed";
        return Routed::Done(d, response::method_not_allowed(&matched.route.allow()));
    };
    d.op = op.name();
    // The health check and the dashboard's page (static: it holds no data,
    // and asks for the admin token itself) are open; the rest of `/_fake`
    // takes the admin token when one is set.
    if matched.route.plane == Plane::Control && !matches!(op, Op::Health | Op::Dashboard) {
        let authorization = parts.headers.get(hyper::header::AUTHORIZATION).map(|v| v.as_bytes());
        if let Err(why) = shared.credentials.check_admin(authorization) {
            return Routed::Done(d, response::error(hyper::StatusCode::UNAUTHORIZED, &why, None));
        }
    }
    Routed::Run(matched, op, d)
}

/// The answer, when it needs no waiting: `None` when the operation reads a
/// body or streams an archive, or a fault rule could fire on it.
fn dispatch_now<'a>(shared: &Shared, parts: &'a Parts, now: i64) -> Option<(Dispatched<'a>, Result<Reply, Reset>)> {
    let path = strict::normalize_path(parts.uri.path());
    let (matched, op, d) = match route(shared, parts, &path) {
        Routed::Done(d, reply) => return Some((d, Ok(reply))),
        Routed::Run(matched, op, d) => (matched, op, d),
    };
    let p = matched.params;
    let faults_may_fire = || shared.faults.armed();
    let reply = match matched.route.plane {
        Plane::Api if !api::reads_body(op) && !faults_may_fire() => api::handle_now(shared, op, p, parts, now),
        Plane::Platform if !platform::reads_body(op) && !faults_may_fire() => {
            platform::handle_now(shared, op, p, parts)
        }
        // Never a fault rule on `/_fake`.
        Plane::Control if !control::reads_body(&parts.method) => control::handle_now(shared, op, p, parts),
        _ => return None,
    };
    Some((d, Ok(reply)))
}

/// The answer, the operation that made it and the fault rule that fired.
async fn dispatch<'a>(shared: &Shared, parts: &'a Parts, body: Incoming) -> (Dispatched<'a>, Result<Reply, Reset>) {
    let path = strict::normalize_path(parts.uri.path());
    let (matched, op, mut d) = match route(shared, parts, &path) {
        Routed::Done(d, reply) => return (d, Ok(reply)),
        Routed::Run(matched, op, d) => (matched, op, d),
    };
    let Some(fired) = pick_fault(shared, &matched, op, &parts.method) else {
        let reply = run(shared, &matched, op, parts, body).await;
        return (d, Ok(reply));
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
            Ok(run(shared, &matched, op, parts, body).await)
        }
        FaultEffect::CutAfter { bytes } => Ok(run(shared, &matched, op, parts, body).await.map(|b| b.cut_after(bytes))),
        FaultEffect::Drip { bytes_per_sec } => Ok(run(shared, &matched, op, parts, body)
            .await
            .map(|b| b.drip(bytes_per_sec))),
    };
    d.fault = Some(fired.id);
    (d, answer)
}

/// `part`, a slice of `whole`, as a slice of `whole` (with its lifetime).
fn reborrow<'a>(whole: &'a str, part: &str) -> Option<&'a str> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    whole.get(start..start.checked_add(part.len())?)
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
