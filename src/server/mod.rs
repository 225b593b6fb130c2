//! Running a fake, in five rooms:
//!
//! - `accept`: the accept loop, the limits of each connection, and graceful
//!   shutdown;
//! - `conns`: the open connections against the cap, and which is idle;
//! - `service`: one request wrapped: its panics caught, its connection busy
//!   until its body is sent;
//! - `builder`: [`FakeServerBuilder`], settings of an in-process fake, and
//!   its start;
//! - `handle`: [`FakeServer`], the handle a test holds.
//!
//! [`LoadedFake`], here, is what the binary serves: a fake loaded and
//! checked, served on a listener of the caller's choosing.

mod accept;
mod builder;
mod conns;
mod handle;
mod service;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

pub use builder::FakeServerBuilder;
pub use handle::FakeServer;

use crate::config::Config;
use crate::error::Error;
use crate::shared::Shared;
use accept::{serve, Limits};

/// The old name of [`LoadedFake`].
#[deprecated(since = "0.2.0", note = "renamed LoadedFake")]
pub type Prepared = LoadedFake;

/// A fake whose fixtures are loaded and settings checked, ready to serve on
/// a listener of the caller's choosing (what the binary uses).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use scalingo_db_fake::{Config, LoadedFake};
/// let fake = LoadedFake::new(&Config { seed: Some(1), ..Config::default() }).unwrap();
/// assert_eq!(fake.seed(), 1);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// fake.serve(listener, async {}).await; // stops at once: the shutdown future is ready
/// # }
/// ```
pub struct LoadedFake {
    shared: Arc<Shared>,
    limits: Limits,
}

impl LoadedFake {
    /// Loads and checks everything `config` names; nothing is served yet.
    ///
    /// ```
    /// use scalingo_db_fake::{Config, LoadedFake};
    /// assert!(LoadedFake::new(&Config::default()).is_ok());
    /// assert!(LoadedFake::new(&Config { retention: Some(0), ..Config::default() }).is_err());
    /// ```
    pub fn new(config: &Config) -> Result<Self, Error> {
        Ok(Self {
            shared: Arc::new(Shared::build(config, None)?),
            limits: Limits::new(config, config.shutdown_grace),
        })
    }

    /// The seed in use (the configured one, or the one drawn).
    ///
    /// ```
    /// use scalingo_db_fake::{Config, LoadedFake};
    /// let fake = LoadedFake::new(&Config { seed: Some(1), ..Config::default() }).unwrap();
    /// assert_eq!(fake.seed(), 1);
    /// ```
    pub fn seed(&self) -> u64 {
        self.shared.store.seed()
    }

    /// Serves `listener` until `shutdown` completes, then lets in-flight
    /// requests finish for up to [`Config::shutdown_grace`] (5 s by default)
    /// and cuts what still runs.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use scalingo_db_fake::{Config, LoadedFake};
    /// let fake = LoadedFake::new(&Config::default()).unwrap();
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let server = tokio::spawn(fake.serve(listener, async { stopped.await.unwrap() }));
    /// assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
    /// stop.send(()).unwrap();
    /// server.await.unwrap(); // returns once shut down
    /// # }
    /// ```
    pub async fn serve(self, listener: TcpListener, shutdown: impl std::future::Future<Output = ()>) {
        let (stop, rx) = watch::channel(false);
        let server = serve(listener, self.shared, rx, self.limits);
        tokio::pin!(server);
        tokio::select! {
            () = &mut server => return,
            () = shutdown => {}
        }
        let _ = stop.send(true);
        server.await;
    }
}
