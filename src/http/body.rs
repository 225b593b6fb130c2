//! The response body type: a whole buffer, a generated archive streamed in
//! chunks, or a real file streamed from disk — one enum, so a JSON answer
//! (the hot path) needs no boxing and stays small: the streams are boxed.
//! Under a fault rule, any of them can be cut short or dripped slowly (boxed
//! too, off the hot path).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use hyper::body::{Body as _, Frame, SizeHint};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::download::archive::Chunks;

/// A response body.
pub enum Body {
    /// Everything at once (JSON, errors); `None` once sent.
    Full(Option<Bytes>),
    /// A generated archive, `remaining` bytes still to send (boxed, like
    /// the other streams: a JSON body, moved several times per request,
    /// stays small).
    Archive(Box<ArchiveStream>),
    /// A real file, `remaining` bytes still to send.
    File(Box<FileStream>),
    /// Another body, cut short by a fault rule.
    Cut(Box<CutBody>),
    /// Another body, sent slowly by a fault rule.
    Drip(Box<DripBody>),
}

impl Body {
    /// An empty body.
    pub fn empty() -> Self {
        Body::Full(None)
    }

    /// A body of `bytes`.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let b: Bytes = bytes.into();
        if b.is_empty() {
            Body::Full(None)
        } else {
            Body::Full(Some(b))
        }
    }
}

impl Body {
    /// This body with only its first `bytes` bytes sent, then an error that
    /// aborts the connection; its size (the `Content-Length`) unchanged. A
    /// body of `bytes` bytes or fewer is sent whole.
    pub(crate) fn cut_after(self, bytes: u64) -> Self {
        Body::Cut(Box::new(CutBody {
            inner: self,
            left: bytes,
            cut: false,
            pause: None,
        }))
    }

    /// This body sent at about `bytes_per_sec` (1 or more).
    pub(crate) fn drip(self, bytes_per_sec: u64) -> Self {
        Body::Drip(Box::new(DripBody {
            inner: self,
            rate: bytes_per_sec.max(1),
            pending: Bytes::new(),
            start: None,
            sent: 0,
            timer: None,
        }))
    }
}

/// A body cut short: `left` bytes still to send, then the abort.
pub struct CutBody {
    inner: Body,
    left: u64,
    /// Whether bytes were held back (the abort is due).
    cut: bool,
    /// The pause before the abort, so the bytes sent leave first.
    pause: Option<Pin<Box<Sleep>>>,
}

/// How long a cut body waits between its last byte and the abort: hyper
/// flushes what it buffered while the body is pending, and would drop it
/// if the body failed at once.
const CUT_PAUSE: Duration = Duration::from_millis(50);

/// A body sent slowly.
pub struct DripBody {
    inner: Body,
    rate: u64,
    /// Bytes taken from `inner`, not sent yet.
    pending: Bytes,
    /// When the first piece was asked for.
    start: Option<Instant>,
    sent: u64,
    timer: Option<Pin<Box<Sleep>>>,
}

type Polled = Poll<Option<Result<Frame<Bytes>, io::Error>>>;

impl CutBody {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Polled {
        loop {
            if let Some(pause) = &mut self.pause {
                ready!(pause.as_mut().poll(cx));
                let e = io::Error::new(io::ErrorKind::ConnectionAborted, "body cut by a fault rule");
                return Poll::Ready(Some(Err(e)));
            }
            if self.cut || (self.left == 0 && !self.inner.is_end_stream()) {
                self.cut = true;
                self.pause = Some(Box::pin(tokio::time::sleep(CUT_PAUSE)));
                continue;
            }
            let frame = match ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
                Some(Ok(frame)) => frame,
                other => return Poll::Ready(other),
            };
            let mut data = match frame.into_data() {
                Ok(data) => data,
                Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
            };
            if data.len() as u64 > self.left {
                data.truncate(self.left as usize);
                self.cut = true;
            }
            self.left -= data.len() as u64;
            if !data.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
        }
    }
}

impl DripBody {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Polled {
        while self.pending.is_empty() {
            let frame = match ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
                Some(Ok(frame)) => frame,
                other => return Poll::Ready(other),
            };
            match frame.into_data() {
                Ok(data) => self.pending = data,
                Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
            }
        }
        // Pieces of about 1/20 s each; each goes when the rate allows its
        // last byte, so the whole body takes about `len / rate`.
        let piece = self.pending.len().min((self.rate / 20).clamp(1, 64 * 1024) as usize);
        let start = *self.start.get_or_insert_with(Instant::now);
        let secs = (self.sent + piece as u64) as f64 / self.rate as f64;
        let wait = Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX);
        let due = start + wait.min(Duration::from_secs(100 * 365 * 86_400));
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
        if timer.deadline() != due {
            timer.as_mut().reset(due);
        }
        ready!(timer.as_mut().poll(cx));
        self.sent += piece as u64;
        Poll::Ready(Some(Ok(Frame::data(self.pending.split_to(piece)))))
    }
}

/// A generated archive being sent.
pub struct ArchiveStream {
    pub(crate) chunks: Chunks,
    pub(crate) remaining: u64,
    pub(crate) label: String,
}

/// A file being sent.
pub struct FileStream {
    pub(crate) file: tokio::fs::File,
    pub(crate) remaining: u64,
    pub(crate) label: String,
}

const FILE_CHUNK: usize = 64 * 1024;

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Polled {
        match self.get_mut() {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Cut(c) => c.poll_frame(cx),
            Body::Drip(d) => d.poll_frame(cx),
            Body::Archive(a) => {
                if a.remaining == 0 {
                    return Poll::Ready(None);
                }
                match a.chunks.next() {
                    Some(chunk) => {
                        a.remaining = a.remaining.saturating_sub(chunk.len() as u64);
                        Poll::Ready(Some(Ok(Frame::data(chunk))))
                    }
                    None => {
                        a.remaining = 0;
                        Poll::Ready(None)
                    }
                }
            }
            Body::File(f) => {
                if f.remaining == 0 {
                    return Poll::Ready(None);
                }
                let want = f.remaining.min(FILE_CHUNK as u64) as usize;
                let mut buf = BytesMut::zeroed(want);
                let mut rb = ReadBuf::new(&mut buf);
                match Pin::new(&mut f.file).poll_read(cx, &mut rb) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
                    Poll::Ready(Ok(())) => {
                        let n = rb.filled().len();
                        if n == 0 {
                            let e =
                                io::Error::new(io::ErrorKind::UnexpectedEof, "archive file shrank while being sent");
                            f.remaining = 0;
                            return Poll::Ready(Some(Err(e)));
                        }
                        buf.truncate(n);
                        f.remaining -= n as u64;
                        Poll::Ready(Some(Ok(Frame::data(buf.freeze()))))
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Full(b) => b.is_none(),
            Body::Archive(a) => a.remaining == 0,
            Body::File(f) => f.remaining == 0,
            Body::Cut(c) => !c.cut && c.inner.is_end_stream(),
            Body::Drip(d) => d.pending.is_empty() && d.inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Body::Archive(a) => SizeHint::with_exact(a.remaining),
            Body::File(f) => SizeHint::with_exact(f.remaining),
            // The size before the cut: the `Content-Length` stays whole.
            Body::Cut(c) => c.inner.size_hint(),
            Body::Drip(d) => {
                let inner = d.inner.size_hint();
                let pending = d.pending.len() as u64;
                let mut hint = SizeHint::new();
                hint.set_lower(inner.lower() + pending);
                if let Some(upper) = inner.upper() {
                    hint.set_upper(upper + pending);
                }
                hint
            }
        }
    }
}

/// A download the client ended early costs nothing more and logs one line;
/// so does one the shutdown cut at the end of its grace period.
fn log_cut_short(label: &str, remaining: u64) {
    if remaining == 0 {
        return;
    }
    if SHUTTING_DOWN.get() {
        tracing::warn!("download of {label} cut by the shutdown with {remaining} bytes unsent");
    } else {
        tracing::info!("download of {label} ended by the client with {remaining} bytes unsent");
    }
}

std::thread_local! {
    /// Set while the shutdown drops what is still running on a connection.
    static SHUTTING_DOWN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `drop_it` (which drops a connection and the bodies it is sending)
/// so that a body it drops half-sent logs "cut by the shutdown", not "ended
/// by the client". The drop runs on this thread, within the call.
pub(crate) fn dropped_by_shutdown<R>(drop_it: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            SHUTTING_DOWN.set(self.0);
        }
    }
    let _reset = Reset(SHUTTING_DOWN.replace(true));
    drop_it()
}

impl Drop for ArchiveStream {
    fn drop(&mut self) {
        log_cut_short(&self.label, self.remaining);
    }
}

impl Drop for FileStream {
    fn drop(&mut self) {
        log_cut_short(&self.label, self.remaining);
    }
}
