//! The accept loop: one hyper HTTP/1.1 connection task per client, until the
//! stop signal; then in-flight requests get a grace period to finish.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::http;
use crate::shared::Shared;

/// How long in-flight requests get to finish once the binary is told to stop.
pub(crate) const BINARY_GRACE: Duration = Duration::from_secs(10);
/// The same for an in-process server being dropped: a test should not wait
/// long for a client that left a request half-sent.
pub(crate) const IN_PROCESS_GRACE: Duration = Duration::from_secs(1);

/// Serves `listener` until `stop` says so, then lets in-flight requests finish
/// (up to `grace`).
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors, most likely: back off
                        // rather than spin on the error.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                let service = service_fn(move |req| {
                    let shared = shared.clone();
                    // An error (a fault rule's reset) closes the connection
                    // without a response.
                    async move { http::handle(shared, req).await }
                });
                // half_close: while a request is in flight, hyper does not
                // read ahead to detect an early EOF; that read would find the
                // buffer still shared with the request and allocate a fresh
                // one for every request. It also answers clients that shut
                // their write side after sending.
                let conn = http1::Builder::new()
                    .keep_alive(true)
                    .half_close(true)
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("connection ended: {e}");
                    }
                });
            }
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("shutdown: some requests were still running after {grace:?}");
    }
}
