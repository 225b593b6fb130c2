//! The accept loop: one hyper HTTP/1.1 connection task per client, within
//! the limits, until the stop signal; then in-flight requests get a grace
//! period to finish, and what still runs at its end is cut.
//!
//! The limits, per connection: the header read timeout (no request being
//! answered for `header_read_timeout`, its head not complete: dropped), the
//! idle timer (no request being answered for `idle_timeout`: closed), both
//! kept by one lazy timer per connection rather than one per request, and
//! the cap on open connections (past it, the connection idle the longest
//! makes room, see [`Connections::admit`]). The body read timeout is the
//! handlers' (`http::request::read_json`).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::{service_fn, HttpService};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

use super::conns::{Ask, Connections, Lease, Slot};
use super::service::{self, Described};
use crate::config::Config;
use crate::http::{self, Handled};
use crate::shared::Shared;

/// How long in-flight requests get to finish when an in-process server is
/// dropped: a test should not wait long for a client that left a request
/// half-sent.
pub(crate) const IN_PROCESS_GRACE: Duration = Duration::from_secs(1);

/// How long the connections cut at the end of the grace get to be dropped.
const CUT_WAIT: Duration = Duration::from_secs(1);

/// What the accept loop enforces, from the settings, and its grace.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// How long a connection may wait for a complete request head once no
    /// request is being answered (its first, or the next on a kept-alive one).
    pub header_read_timeout: Duration,
    /// How long a connection may stay with no request being answered.
    pub idle_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
    /// How long in-flight requests get to finish once told to stop.
    pub grace: Duration,
}

impl Limits {
    /// The limits `config` sets, with `grace` to finish in-flight requests.
    pub fn new(config: &Config, grace: Duration) -> Self {
        Self {
            header_read_timeout: config.header_read_timeout,
            idle_timeout: config.idle_timeout,
            max_connections: config.max_connections,
            grace,
        }
    }
}

/// Where the server is in its life, as every connection task sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Serving,
    /// Told to stop: finish the request in flight, then close.
    Draining,
    /// The grace is over: drop everything now.
    Cut,
}

/// Serves `listener` until `stop` says so, then lets in-flight requests
/// finish (up to the grace) and cuts the rest.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, stop: watch::Receiver<bool>, limits: Limits) {
    serve_with(listener, stop, limits, move |req| http::handle(&shared, req)).await;
}

/// [`serve`], with the function that answers each request.
async fn serve_with<H>(listener: TcpListener, mut stop: watch::Receiver<bool>, limits: Limits, handler: H)
where
    H: Fn(Request<Incoming>) -> Handled + Clone + Send + Sync + 'static,
{
    let connections = Connections::new(limits.max_connections);
    let (phase, _) = watch::channel(Phase::Serving);
    let mut http = http1::Builder::new();
    // No hyper timer: its header read timeout would arm and cancel a timer
    // on every request; `drive` keeps that limit with its own lazy timer.
    http.keep_alive(true)
        // While a request is in flight, hyper does not read ahead to detect
        // an early EOF: that read would find the buffer still shared with the
        // request and allocate a fresh one for every request. It also answers
        // clients that shut their write side after sending.
        .half_close(true);
    let mut refusals = Refusals::default();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors, most likely: back off
                        // rather than spin on the error.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Some(lease) = connections.admit() else {
                    refusals.refuse(&stream, peer, limits.max_connections);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let slot = lease.slot().clone();
                let handler = handler.clone();
                let service = service_fn(move |req: Request<Incoming>| {
                    let busy = slot.begin();
                    let what = Described::of(&req);
                    service::answer(|| handler(req), busy, what)
                });
                let conn = http.serve_connection(TokioIo::new(stream), service);
                tokio::spawn(drive(conn, lease, phase.subscribe(), limits, peer));
            }
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
        }
    }
    drop(listener);
    drain(&phase, limits.grace).await;
}

/// Tells every connection to finish its request and close, waits for them
/// up to `grace`, then cuts those still open.
async fn drain(phase: &watch::Sender<Phase>, grace: Duration) {
    phase.send_replace(Phase::Draining);
    if tokio::time::timeout(grace, phase.closed()).await.is_ok() {
        return;
    }
    let open = phase.receiver_count();
    tracing::warn!("shutdown: {open} connection(s) still running after {grace:?}: cutting them");
    phase.send_replace(Phase::Cut);
    if tokio::time::timeout(CUT_WAIT, phase.closed()).await.is_err() {
        tracing::warn!("shutdown: some connections were not dropped in time");
    }
}

/// A hyper connection the task drives: a future that can be asked to
/// finish its request and close.
trait Conn: Future<Output = hyper::Result<()>> {
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S, B> Conn for http1::Connection<I, S>
where
    S: HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        http1::Connection::graceful_shutdown(self);
    }
}

/// Drives one connection to its end: closes it once idle for the idle
/// timeout (hyper then closes it if it waits for a request, and leaves a
/// half-received head to the header timeout), when the server drains, or
/// when the registry evicts it (at once if no request is being answered);
/// drops it when no complete request head came within the header timeout
/// of its last answer (or its opening), and when the shutdown cuts.
///
/// The timeouts and the server's phase are watched by a task of its own
/// ([`watch_limits`]), which asks this one through the slot only when something is
/// due: on a request's way through, this task polls the connection and reads
/// one atomic, nothing else.
async fn drive<C: Conn>(conn: C, lease: Lease, phase: watch::Receiver<Phase>, limits: Limits, peer: SocketAddr) {
    let slot = lease.slot().clone();
    // Held until the connection is gone: the shutdown counts the receivers
    // to know when every connection is.
    let _counted = phase.clone();
    let watcher = tokio::spawn(watch_limits(slot.clone(), phase, limits));
    let mut conn = Some(Box::pin(conn));
    let mut closing = false;
    let mut registered: Option<Waker> = None;
    std::future::poll_fn(|cx| {
        if !registered.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            slot.wake_with(cx.waker());
            registered = Some(cx.waker().clone());
        }
        let asked = slot.take_asked();
        if asked != 0 && act(asked, &mut conn, &mut closing, &slot, limits.header_read_timeout, peer) {
            return Poll::Ready(());
        }
        let Some(c) = conn.as_mut() else {
            return Poll::Ready(());
        };
        match c.as_mut().poll(cx) {
            Poll::Ready(ended) => {
                if let Err(e) = ended {
                    tracing::debug!("connection from {peer} ended: {e}");
                }
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    })
    .await;
    watcher.abort();
}

/// Does what the connection's task was `asked` (bits of [`Ask`]); `true`
/// when the connection is to be dropped now.
fn act<C: Conn>(
    asked: u8,
    conn: &mut Option<Pin<Box<C>>>,
    closing: &mut bool,
    slot: &Slot,
    head: Duration,
    peer: SocketAddr,
) -> bool {
    if asked & Ask::CUT != 0 {
        let stage = if slot.is_busy() {
            "while being answered"
        } else {
            "before it was fully received"
        };
        tracing::warn!("request from {peer} cut by the shutdown {stage}");
        http::body::dropped_by_shutdown(|| drop(conn.take()));
        return true;
    }
    // Looked at again here: a request may have begun since it was asked.
    if asked & Ask::HEAD != 0 && slot.idle_since().is_some_and(|since| since + head <= Instant::now()) {
        tracing::debug!("dropped the connection from {peer}: no complete request head within the header read timeout");
        return true;
    }
    let mut close = |why: &str| {
        if std::mem::replace(closing, true) {
            return;
        }
        if let Some(c) = conn.as_mut() {
            tracing::debug!("closing the connection from {peer}: {why}");
            c.as_mut().graceful_shutdown();
        }
    };
    // An evicted connection gives its place back even if hyper could not
    // close it gracefully (a first request's head half-received).
    if asked & Ask::EVICT != 0 {
        if !slot.is_busy() {
            // Nothing is being answered: drop it now, so its file is free
            // for the new connection at once.
            tracing::debug!("closed the connection from {peer} to make room for a new one");
            return true;
        }
        close("making room for a new one");
    }
    if asked & Ask::DRAIN != 0 {
        close("shutting down");
    }
    if asked & Ask::IDLE != 0 && !slot.is_busy() {
        close("idle");
    }
    false
}

/// Watches one connection's timeouts and the server's phase, and asks the
/// connection's task (through its slot) when one is due. One timer, re-armed
/// when it fires, never per request; it ends when the connection's task
/// aborts it.
async fn watch_limits(slot: Arc<Slot>, mut phase: watch::Receiver<Phase>, limits: Limits) {
    let (idle, head) = (limits.idle_timeout, limits.header_read_timeout);
    let timer = tokio::time::sleep(idle.min(head));
    tokio::pin!(timer);
    loop {
        tokio::select! {
            () = timer.as_mut() => {
                let now = Instant::now();
                let Some(since) = slot.idle_since() else {
                    // A request is being answered: look again once it could
                    // have ended and the connection waited that long.
                    timer.as_mut().reset(now + idle.min(head));
                    continue;
                };
                let (head_due, idle_due) = (since + head, since + idle);
                if head_due <= now {
                    slot.ask(Ask::HEAD);
                    // Until the connection's task ends this one (or a
                    // request began in between, and the clock starts over).
                    timer.as_mut().reset(now + idle.min(head));
                    continue;
                }
                if idle_due <= now {
                    slot.ask(Ask::IDLE);
                }
                timer.as_mut().reset(if idle_due <= now { head_due } else { idle_due.min(head_due) });
            }
            changed = phase.changed() => {
                match if changed.is_ok() { *phase.borrow_and_update() } else { Phase::Cut } {
                    Phase::Serving => {}
                    Phase::Draining => slot.ask(Ask::DRAIN),
                    Phase::Cut => {
                        slot.ask(Ask::CUT);
                        return;
                    }
                }
            }
        }
    }
}

/// Refusals of connections past the cap when none is idle: each gets a 503
/// (best effort: one non-blocking write) and is closed; one log line a
/// second at most.
#[derive(Default)]
struct Refusals {
    last_logged: Option<Instant>,
    unlogged: u64,
}

impl Refusals {
    fn refuse(&mut self, stream: &TcpStream, peer: SocketAddr, cap: usize) {
        const BODY: &str = r#"{"error":"too many connections, every one busy: retry later","code":"overloaded"}"#;
        let answer = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             retry-after: 1\r\nconnection: close\r\n\r\n{BODY}",
            BODY.len()
        );
        let _ = stream.try_write(answer.as_bytes());
        self.unlogged += 1;
        if self.last_logged.map_or(true, |t| t.elapsed() >= Duration::from_secs(1)) {
            tracing::warn!(
                "{cap} connections open, every one busy: refused {} (the last from {peer})",
                self.unlogged
            );
            self.last_logged = Some(Instant::now());
            self.unlogged = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use hyper::StatusCode;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server of at most `cap` connections whose handler panics on
    /// `/panic`, takes two seconds on `/slow`, and answers 200 `{}` at once
    /// elsewhere.
    async fn test_server(cap: usize) -> (SocketAddr, watch::Sender<bool>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, rx) = watch::channel(false);
        let limits = Limits {
            header_read_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(5),
            max_connections: cap,
            grace: Duration::from_secs(1),
        };
        let ok = || Ok(http::response::json_body(StatusCode::OK, Bytes::from_static(b"{}")));
        let handler = move |req: Request<Incoming>| match req.uri().path() {
            "/panic-now" => panic!("a handler bug, before any future"),
            "/panic" => Handled::Later(Box::pin(async move { panic!("a handler bug, in its future") })),
            "/slow" => Handled::Later(Box::pin(async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                ok()
            })),
            _ => Handled::Now(ok()),
        };
        tokio::spawn(serve_with(listener, rx, limits, handler));
        (addr, stop)
    }

    /// `GET path` on a kept-alive `stream`: the status and the body of the
    /// one response (it has a `content-length`).
    async fn get(stream: &mut TcpStream, path: &str) -> (u16, String) {
        let head = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        get_response(stream).await
    }

    /// The status and body of the next response on `stream`.
    async fn get_response(stream: &mut TcpStream) -> (u16, String) {
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf));
            let n = read.await.expect("a response within 10 s").unwrap();
            assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&raw));
            raw.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&raw).into_owned();
            let Some((head, body)) = text.split_once("\r\n\r\n") else {
                continue;
            };
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.parse::<usize>().ok())
                .expect("a content-length");
            if body.len() >= length {
                let status = head[9..12].parse().unwrap();
                return (status, body[..length].to_string());
            }
        }
    }

    #[tokio::test]
    async fn a_panic_in_a_handler_answers_500_and_the_connection_and_server_go_on() {
        let (addr, _stop) = test_server(8).await;
        let mut conn = TcpStream::connect(addr).await.unwrap();
        // A panic in the handler's call, and one in its future.
        for path in ["/panic-now", "/panic"] {
            let (status, body) = get(&mut conn, path).await;
            assert_eq!(status, 500, "{path}");
            assert_eq!(body, r#"{"error":"internal error","code":"internal"}"#);
            // The same connection, then a new one, are served.
            assert_eq!(get(&mut conn, "/ok").await, (200, "{}".to_string()));
            let mut other = TcpStream::connect(addr).await.unwrap();
            assert_eq!(get(&mut other, "/ok").await.0, 200);
            assert_eq!(get(&mut other, path).await.0, 500);
            assert_eq!(get(&mut other, "/ok").await.0, 200);
        }
    }

    #[tokio::test]
    async fn past_the_cap_with_every_connection_busy_a_new_client_gets_a_503() {
        let (addr, _stop) = test_server(1).await;
        let mut busy = TcpStream::connect(addr).await.unwrap();
        busy.write_all(b"GET /slow HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut refused = TcpStream::connect(addr).await.unwrap();
        let mut raw = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), refused.read_to_end(&mut raw));
        read.await.expect("closed within 5 s").unwrap();
        let text = String::from_utf8_lossy(&raw);
        assert!(text.starts_with("HTTP/1.1 503 "), "{text}");
        assert!(text.ends_with(r#""code":"overloaded"}"#), "{text}");
        // The busy one is answered, and its place then serves a new client.
        assert_eq!(get_response(&mut busy).await.0, 200);
        drop(busy);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut next = TcpStream::connect(addr).await.unwrap();
        assert_eq!(get(&mut next, "/ok").await.0, 200);
    }
}
