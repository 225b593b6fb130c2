//! One request on a connection, wrapped: the handler runs with its panics
//! caught (a panic answers 500 `{"error":"internal error","code":"internal"}`,
//! is logged, and the connection goes on), and the response body keeps the
//! connection marked busy until it is sent or dropped, so the idle timer and
//! the eviction of idle connections never take a connection mid-answer.

use std::any::Any;
use std::future::Future;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use hyper::{Method, Response, StatusCode, Uri};

use super::conns::Busy;
use crate::http::body::Body;
use crate::http::response::{self, Reply};
use crate::http::{Handled, Reset};

/// A response body that keeps its connection busy while it lives, and turns
/// a panic while producing a frame into an error that aborts the connection.
pub(crate) struct Tracked {
    body: Body,
    _busy: Busy,
}

/// The request a panic is reported with: its method and target.
pub(crate) struct Described {
    method: Method,
    uri: Uri,
}

impl Described {
    /// What a log line about `req` names (two cheap clones: the method, and
    /// the target's shared bytes).
    pub fn of<B>(req: &hyper::Request<B>) -> Self {
        Self {
            method: req.method().clone(),
            uri: req.uri().clone(),
        }
    }
}

/// Answers one request with `handler` (which answers at once, or gives the
/// future that will), its panics caught; the response body is wrapped with
/// `busy`. `Err` is a fault rule's reset, passed on for hyper to close the
/// connection.
pub(crate) fn answer(handler: impl FnOnce() -> Handled, busy: Busy, what: Described) -> Answer {
    let state = match catch_unwind(AssertUnwindSafe(handler)) {
        Ok(Handled::Now(answer)) => State::Done(Some(answer)),
        Ok(Handled::Later(future)) => State::Waiting(future),
        Err(panic) => State::Done(Some(Ok(panicked(&what, panic.as_ref())))),
    };
    Answer {
        state,
        busy: Some(busy),
        what,
    }
}

/// The future of [`answer`]: ready at its first poll when the request was
/// answered during the call.
pub(crate) struct Answer {
    state: State,
    busy: Option<Busy>,
    what: Described,
}

/// Where an [`Answer`] stands.
// Inline, as in `Handled`: most requests are answered during the call.
#[allow(clippy::large_enum_variant)]
enum State {
    /// Answered (taken by the poll that returns it).
    Done(Option<Result<Reply, Reset>>),
    /// Being answered by the handler's future.
    Waiting(Pin<Box<dyn Future<Output = Result<Reply, Reset>> + Send>>),
}

impl Future for Answer {
    type Output = Result<Response<Tracked>, Reset>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let answer = match &mut this.state {
            State::Done(answer) => answer.take(),
            State::Waiting(future) => match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(answer)) => Some(answer),
                Err(panic) => Some(Ok(panicked(&this.what, panic.as_ref()))),
            },
        };
        // Polled again after it was ready: hyper never does.
        let Some(answer) = answer else {
            return Poll::Pending;
        };
        this.state = State::Done(None);
        let reply = answer?;
        let Some(busy) = this.busy.take() else {
            return Poll::Pending;
        };
        Poll::Ready(Ok(reply.map(|body| Tracked { body, _busy: busy })))
    }
}

/// Logs a handler's panic, and gives the 500 that answers it.
fn panicked(what: &Described, panic: &(dyn Any + Send)) -> Reply {
    tracing::error!(
        "{} {}: the handler panicked ({}); answered 500",
        what.method,
        what.uri.path(),
        panic_message(panic)
    );
    internal_error()
}

/// The answer to a request whose handler panicked.
pub(crate) fn internal_error() -> Reply {
    response::error(StatusCode::INTERNAL_SERVER_ERROR, "internal error", Some("internal"))
}

/// The text a panic was raised with, when it has one.
fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "no message"
    }
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let body = &mut self.get_mut().body;
        match catch_unwind(AssertUnwindSafe(|| Pin::new(&mut *body).poll_frame(cx))) {
            Ok(polled) => polled,
            Err(panic) => {
                let why = panic_message(panic.as_ref());
                tracing::error!("a response body panicked ({why}); its connection is aborted");
                Poll::Ready(Some(Err(io::Error::other("the response body panicked"))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
