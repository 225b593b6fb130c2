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
use crate::http::Reset;

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

/// Runs `handler` (the future answering one request) with its panics
/// caught, then wraps its response body with `busy`. `Err` is a fault
/// rule's reset, passed on for hyper to close the connection.
pub(crate) async fn answer<F>(handler: F, busy: Busy, what: Described) -> Result<Response<Tracked>, Reset>
where
    F: Future<Output = Result<Reply, Reset>> + Unpin,
{
    let mut handler = handler;
    let caught = std::future::poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| Pin::new(&mut handler).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(answer)) => Poll::Ready(Ok(answer)),
            Err(panic) => Poll::Ready(Err(panic)),
        },
    )
    .await;
    let reply = match caught {
        Ok(answer) => answer?,
        Err(panic) => {
            tracing::error!(
                "{} {}: the handler panicked ({}); answered 500",
                what.method,
                what.uri.path(),
                panic_message(panic.as_ref())
            );
            internal_error()
        }
    };
    Ok(reply.map(|body| Tracked { body, _busy: busy }))
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
