//! The response body type: a whole buffer, a generated archive streamed in
//! chunks, or a real file streamed from disk — one enum, so the hot paths
//! need no boxing.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use hyper::body::{Frame, SizeHint};
use tokio::io::{AsyncRead, ReadBuf};

use crate::download::archive::Chunks;

/// A response body.
pub enum Body {
    /// Everything at once (JSON, errors); `None` once sent.
    Full(Option<Bytes>),
    /// A generated archive, `remaining` bytes still to send.
    Archive(ArchiveStream),
    /// A real file, `remaining` bytes still to send.
    File(FileStream),
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

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
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
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Body::Archive(a) => SizeHint::with_exact(a.remaining),
            Body::File(f) => SizeHint::with_exact(f.remaining),
        }
    }
}

/// A download the client ended early costs nothing more and logs one line.
fn log_cut_short(label: &str, remaining: u64) {
    if remaining > 0 {
        tracing::info!("download of {label} ended by the client with {remaining} bytes unsent");
    }
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
