//! [`FakeServerBuilder`]: fixtures, seed, clock, lifecycle, auth and links
//! of an in-process fake, then a start on the caller's runtime or on a
//! thread of its own.

use std::net::TcpListener as StdListener;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::accept::{serve, Limits, IN_PROCESS_GRACE};
use super::handle::FakeServer;
use crate::clock::ClockMode;
use crate::config::{Config, FixtureSource};
use crate::error::Error;
use crate::fixtures;
use crate::lifecycle::Lifecycle;
use crate::shared::Shared;

/// Sets up a fake server: fixtures, clock, lifecycle, auth.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use scalingo_db_fake::FakeServer;
/// let fake = FakeServer::builder().manual_clock().seed(42).start().await;
/// assert!(fake.url().starts_with("http://127.0.0.1:"));
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct FakeServerBuilder {
    config: Config,
    /// A `fixtures_json` text that did not parse, reported at start.
    fixture_error: Option<fixtures::FixtureError>,
}

impl FakeServerBuilder {
    /// Starts from a complete configuration.
    pub fn from_config(config: Config) -> Self {
        Self {
            config,
            fixture_error: None,
        }
    }

    /// Loads fixtures from a file or folder instead of the embedded set.
    pub fn fixtures_path(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.config.fixtures = FixtureSource::Path(path.into());
        self
    }

    /// Uses fixture JSON given as text (checked like a file).
    pub fn fixtures_json(mut self, json: &str) -> Self {
        match fixtures::parse_str(json, std::path::Path::new("<fixtures_json>")) {
            Ok(set) => {
                self.config.fixtures = FixtureSource::Set(set);
                self.fixture_error = None;
            }
            // Reported by `try_start`, with its line and column.
            Err(e) => self.fixture_error = Some(e),
        }
        self
    }

    /// Starts with no database at all.
    pub fn no_fixtures(mut self) -> Self {
        self.config.fixtures = FixtureSource::Empty;
        self
    }

    /// Fixes the seed of every random draw (ids, outcomes, sizes).
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = Some(seed);
        self
    }

    /// A clock that moves only when the test says so, starting now.
    pub fn manual_clock(mut self) -> Self {
        self.config.clock = ClockMode::Manual;
        self
    }

    /// A clock that follows tokio's time: with
    /// `#[tokio::test(start_paused = true)]`, every `tokio::time::sleep` of the
    /// code under test moves the fake's backups by as much, with no real
    /// waiting (see [`ClockMode::Tokio`] for its limits).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use scalingo_db_fake::{FakeServer, Status};
    /// let fake = FakeServer::builder().tokio_clock().start().await;
    /// let b = fake.create_backup("my-db-123").unwrap();
    /// tokio::time::sleep(Duration::from_secs(60)).await; // paused: instant
    /// assert_eq!(fake.backup(&b.id).unwrap().status, Status::Done);
    /// # }
    /// ```
    pub fn tokio_clock(mut self) -> Self {
        self.config.clock = ClockMode::Tokio;
        self
    }

    /// Starts the clock at `millis` since the Unix epoch.
    pub fn clock_start_millis(mut self, millis: i64) -> Self {
        self.config.clock_start = Some(millis);
        self
    }

    /// Runs the system clock `scale` times faster than real time.
    pub fn time_scale(mut self, scale: f64) -> Self {
        self.config.time_scale = scale;
        self
    }

    /// The global lifecycle settings.
    pub fn lifecycle(mut self, lifecycle: Lifecycle) -> Self {
        self.config.lifecycle = lifecycle;
        self
    }

    /// Keeps at most `n` backups per database.
    pub fn retention(mut self, n: usize) -> Self {
        self.config.retention = Some(n);
        self
    }

    /// Sets the token valid for every database (default: a random one).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.config.token = Some(token.into());
        self
    }

    /// Accepts only `token` (call again for more) at `POST /v1/tokens/exchange`
    /// (by default any non-empty API token is accepted).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use scalingo_db_fake::FakeServer;
    /// let fake = FakeServer::builder().api_token("tk-us-test").start().await;
    /// # drop(fake);
    /// # }
    /// ```
    pub fn api_token(mut self, token: impl Into<String>) -> Self {
        self.config.api_tokens.push(token.into());
        self
    }

    /// How long exchanged JWTs and addon tokens stay valid, in real time
    /// (default one hour; at least a second).
    pub fn credential_ttl(mut self, ttl: Duration) -> Self {
        self.config.credential_ttl = ttl;
        self
    }

    /// Makes the `/_fake` control API (all but its health check) require
    /// `Authorization: Bearer <token>`.
    pub fn admin_token(mut self, token: impl Into<String>) -> Self {
        self.config.admin_token = Some(token.into());
        self
    }

    /// Accepts every request without a token.
    pub fn no_auth(mut self) -> Self {
        self.config.auth = false;
        self
    }

    /// How long download links stay valid on the fake's clock.
    pub fn download_ttl(mut self, ttl: Duration) -> Self {
        self.config.download_ttl = ttl;
        self
    }

    /// The base of download links, instead of the host the client used.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.config.public_url = Some(url.into());
        self
    }

    /// How many of the most recent requests the journal keeps (default
    /// 1000; 0 records none; at most 1 000 000).
    ///
    /// ```
    /// use scalingo_db_fake::FakeServer;
    /// let fake = FakeServer::builder().journal_size(0).start_blocking();
    /// assert!(fake.requests().is_empty());
    /// ```
    pub fn journal_size(mut self, n: usize) -> Self {
        self.config.journal_size = n;
        self
    }

    /// How long a client has to send a request's line and headers before
    /// its connection is closed (default 30 s; from 1 ms to a day). hyper
    /// times a kept-alive connection's wait for its next request with it too.
    ///
    /// ```
    /// use std::time::Duration;
    /// use scalingo_db_fake::FakeServer;
    /// let fake = FakeServer::builder().header_read_timeout(Duration::from_secs(2)).start_blocking();
    /// # drop(fake);
    /// ```
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.config.header_read_timeout = timeout;
        self
    }

    /// How long a request's body may take once its head is in (default
    /// 30 s; from 1 ms to a day); late, it is answered 408 and its
    /// connection closed.
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.config.body_read_timeout = timeout;
        self
    }

    /// How long a kept-alive connection may stay with no request being
    /// answered before it is closed (default 15 s; from 1 ms to a day).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// Most connections open at once (default: the open-file limit less
    /// [`crate::config::FD_RESERVE`]; at least 1, at most that). Past it, the
    /// connection idle the longest is closed to make room for a new one.
    ///
    /// ```
    /// use scalingo_db_fake::FakeServer;
    /// let fake = FakeServer::builder().max_connections(16).start_blocking();
    /// # drop(fake);
    /// assert!(FakeServer::builder().max_connections(0).try_start_blocking().is_err());
    /// ```
    pub fn max_connections(mut self, cap: usize) -> Self {
        self.config.max_connections = cap;
        self
    }

    /// The configuration built so far.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The shared state, its global token and a bound loopback listener.
    fn prepare(&self) -> Result<(Arc<Shared>, String, StdListener, Limits), Error> {
        if let Some(e) = &self.fixture_error {
            return Err(Error::Fixture(e.clone()));
        }
        let token = self.config.token.clone().unwrap_or_else(random_token);
        let shared = Arc::new(Shared::build(&self.config, Some(token.clone()))?);
        let listener = StdListener::bind(("127.0.0.1", 0)).map_err(Error::Bind)?;
        listener.set_nonblocking(true).map_err(Error::Bind)?;
        Ok((shared, token, listener, Limits::new(&self.config, IN_PROCESS_GRACE)))
    }

    /// Starts the server on the current tokio runtime, on a free loopback port.
    pub async fn try_start(self) -> Result<FakeServer, Error> {
        let (shared, token, listener, limits) = self.prepare()?;
        let addr = listener.local_addr().map_err(Error::Bind)?;
        let listener = TcpListener::from_std(listener).map_err(Error::Bind)?;
        let (stop, rx) = watch::channel(false);
        tokio::spawn(serve(listener, shared.clone(), rx, limits));
        Ok(FakeServer::new(shared, addr, token, stop, None))
    }

    /// Like [`Self::try_start`], panicking with the reason on failure.
    pub async fn start(self) -> FakeServer {
        match self.try_start().await {
            Ok(s) => s,
            Err(e) => panic!("scalingo-db-fake could not start: {e}"),
        }
    }

    /// Starts the server on a thread of its own (for tests without a runtime).
    pub fn try_start_blocking(self) -> Result<FakeServer, Error> {
        let (shared, token, listener, limits) = self.prepare()?;
        let addr = listener.local_addr().map_err(Error::Bind)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::Bind)?;
        let (stop, rx) = watch::channel(false);
        let served = shared.clone();
        let thread = std::thread::Builder::new()
            .name("scalingo-db-fake".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(listener) {
                        Ok(l) => serve(l, served, rx, limits).await,
                        Err(e) => tracing::error!("cannot serve: {e}"),
                    }
                })
            })
            .map_err(Error::Bind)?;
        Ok(FakeServer::new(shared, addr, token, stop, Some(thread)))
    }

    /// Like [`Self::try_start_blocking`], panicking with the reason on failure.
    pub fn start_blocking(self) -> FakeServer {
        match self.try_start_blocking() {
            Ok(s) => s,
            Err(e) => panic!("scalingo-db-fake could not start: {e}"),
        }
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&crate::ids::random_seed().to_le_bytes());
    bytes[8..].copy_from_slice(&crate::ids::random_seed().to_le_bytes());
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("fake-{hex}")
}

/// How a [`FakeServer`] is started (here, beside the builder they use).
impl FakeServer {
    /// A builder, for fixtures, clock and settings.
    pub fn builder() -> FakeServerBuilder {
        FakeServerBuilder::default()
    }

    /// Starts a fake with the embedded fixtures on the current runtime.
    pub async fn start() -> FakeServer {
        Self::builder().start().await
    }

    /// Starts a fake with the embedded fixtures on a thread of its own.
    pub fn start_blocking() -> FakeServer {
        Self::builder().start_blocking()
    }
}
