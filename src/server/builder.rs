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
use crate::lifecycle::LifecyclePatch;
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
    /// Per-database lifecycle overrides, laid over the fixtures' at start.
    database_lifecycles: Vec<(String, LifecyclePatch)>,
}

impl FakeServerBuilder {
    /// Starts from a complete configuration.
    ///
    /// ```
    /// use scalingo_db_fake::{Config, FakeServerBuilder};
    /// let config = Config { seed: Some(3), ..Config::default() };
    /// let fake = FakeServerBuilder::from_config(config).start_blocking();
    /// assert_eq!(fake.seed(), 3);
    /// ```
    pub fn from_config(config: Config) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// Loads fixtures from a file or folder instead of the embedded set.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("fake-doc-fixtures-path-{}.json", std::process::id()));
    /// std::fs::write(&path, r#"{"databases": [{"id": "db-1", "database_id": "597601234ffb097af4f3099b", "resource_name": "r-1", "type": "postgresql", "app": "a"}]}"#).unwrap();
    /// let fake = scalingo_db_fake::FakeServer::builder().fixtures_path(&path).start_blocking();
    /// assert_eq!(fake.databases(), ["db-1"]);
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn fixtures_path(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.config.fixtures = FixtureSource::Path(path.into());
        self
    }

    /// Uses fixture JSON given as text (checked like a file).
    ///
    /// ```
    /// use scalingo_db_fake::FakeServer;
    /// let json = r#"{"databases": [{"id": "db-1", "database_id": "597601234ffb097af4f3099b", "resource_name": "r-1", "type": "postgresql", "app": "a"}]}"#;
    /// assert_eq!(FakeServer::builder().fixtures_json(json).start_blocking().databases(), ["db-1"]);
    /// assert!(FakeServer::builder().fixtures_json("{").try_start_blocking().is_err());
    /// ```
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
    ///
    /// ```
    /// let fake = scalingo_db_fake::FakeServer::builder().no_fixtures().start_blocking();
    /// assert!(fake.databases().is_empty());
    /// ```
    pub fn no_fixtures(mut self) -> Self {
        self.config.fixtures = FixtureSource::Empty;
        self
    }

    /// Fixes the seed of every random draw (ids, outcomes, sizes).
    ///
    /// ```
    /// use scalingo_db_fake::FakeServer;
    /// let a = FakeServer::builder().seed(42).manual_clock().clock_start_millis(0).start_blocking();
    /// let b = FakeServer::builder().seed(42).manual_clock().clock_start_millis(0).start_blocking();
    /// assert_eq!(a.seed(), 42);
    /// assert_eq!(a.create_backup("my-db-123").unwrap().id, b.create_backup("my-db-123").unwrap().id);
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = Some(seed);
        self
    }

    /// A clock that moves only when the test says so, starting now.
    ///
    /// ```
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start_blocking();
    /// let t0 = fake.now().millis();
    /// std::thread::sleep(std::time::Duration::from_millis(20));
    /// assert_eq!(fake.now().millis(), t0);
    /// ```
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
    ///
    /// ```
    /// use scalingo_db_fake::FakeServer;
    /// let fake = FakeServer::builder().manual_clock().clock_start_millis(1_535_850_000_178).start_blocking();
    /// assert_eq!(fake.now().to_string(), "2018-09-02T01:00:00.178+00:00");
    /// ```
    pub fn clock_start_millis(mut self, millis: i64) -> Self {
        self.config.clock_start = Some(millis);
        self
    }

    /// Runs the system clock `scale` times faster than real time.
    ///
    /// ```
    /// use scalingo_db_fake::FakeServer;
    /// let fake = FakeServer::builder().time_scale(3600.0).start_blocking();
    /// let t0 = fake.now().millis();
    /// std::thread::sleep(std::time::Duration::from_millis(10));
    /// assert!(fake.now().millis() - t0 >= 36_000); // 10 ms real = 36 s fake
    /// assert!(FakeServer::builder().time_scale(0.0).try_start_blocking().is_err());
    /// ```
    pub fn time_scale(mut self, scale: f64) -> Self {
        self.config.time_scale = scale;
        self
    }

    /// The global lifecycle settings: a whole [`Lifecycle`](crate::Lifecycle), or the fields
    /// a [`LifecyclePatch`] sets (the type the handle's `set_lifecycle`
    /// takes).
    ///
    /// ```
    /// use scalingo_db_fake::{FakeServer, LifecyclePatch};
    /// let patch = LifecyclePatch { running_secs: Some(60.0), ..Default::default() };
    /// let fake = FakeServer::builder().lifecycle(patch).start_blocking();
    /// assert_eq!(fake.lifecycle().running_secs, 60.0);
    /// ```
    pub fn lifecycle(mut self, settings: impl Into<LifecyclePatch>) -> Self {
        self.config.lifecycle = self.config.lifecycle.patched(&settings.into());
        self
    }

    /// One database's lifecycle override, laid over its fixture's (as the
    /// handle's `set_database_lifecycle` does); an unknown database fails
    /// the start.
    ///
    /// ```
    /// use scalingo_db_fake::{FakeServer, LifecyclePatch};
    /// let slow = LifecyclePatch { running_secs: Some(3600.0), ..Default::default() };
    /// let fake = FakeServer::builder().database_lifecycle("my-db-123", slow).start_blocking();
    /// # drop(fake);
    /// ```
    pub fn database_lifecycle(mut self, db: impl Into<String>, settings: impl Into<LifecyclePatch>) -> Self {
        self.database_lifecycles.push((db.into(), settings.into()));
        self
    }

    /// Keeps at most `n` backups per database.
    ///
    /// ```
    /// let fake = scalingo_db_fake::FakeServer::builder().retention(1).start_blocking();
    /// assert_eq!(fake.backups("my-db-123").unwrap().len(), 1);
    /// ```
    pub fn retention(mut self, n: usize) -> Self {
        self.config.retention = Some(n);
        self
    }

    /// Sets the token valid for every database (default: a random one).
    ///
    /// ```
    /// let fake = scalingo_db_fake::FakeServer::builder().token("secret").start_blocking();
    /// assert_eq!(fake.token(), "secret");
    /// ```
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
    ///
    /// ```
    /// use std::time::Duration;
    /// use scalingo_db_fake::FakeServer;
    /// let builder = FakeServer::builder().credential_ttl(Duration::from_secs(60));
    /// assert_eq!(builder.config().credential_ttl, Duration::from_secs(60));
    /// assert!(FakeServer::builder().credential_ttl(Duration::ZERO).try_start_blocking().is_err());
    /// ```
    pub fn credential_ttl(mut self, ttl: Duration) -> Self {
        self.config.credential_ttl = ttl;
        self
    }

    /// Makes the `/_fake` control API (all but its health check and the
    /// dashboard's page, `/_fake/ui`, which asks for the token itself)
    /// require `Authorization: Bearer <token>`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// use scalingo_db_fake::{Control, FakeServer};
    /// let fake = FakeServer::builder().admin_token("admin").start().await;
    /// let control = Control::connect(&fake.url())?;
    /// assert!(control.seed().await.is_err()); // no admin token
    /// assert_eq!(control.with_admin_token("admin").seed().await?, fake.seed());
    /// # Ok(())
    /// # }
    /// ```
    pub fn admin_token(mut self, token: impl Into<String>) -> Self {
        self.config.admin_token = Some(token.into());
        self
    }

    /// Accepts every request without a token.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// let fake = scalingo_db_fake::FakeServer::builder().no_auth().start_blocking();
    /// let mut s = std::net::TcpStream::connect(fake.address()).unwrap();
    /// write!(s, "GET /api/databases/my-db-123/backups HTTP/1.1\r\nHost: fake\r\nConnection: close\r\n\r\n").unwrap();
    /// let mut answer = String::new();
    /// s.read_to_string(&mut answer).unwrap();
    /// assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    /// ```
    pub fn no_auth(mut self) -> Self {
        self.config.auth = false;
        self
    }

    /// How long download links stay valid on the fake's clock.
    ///
    /// ```
    /// use std::time::Duration;
    /// use scalingo_db_fake::FakeServer;
    /// let builder = FakeServer::builder().download_ttl(Duration::from_secs(30));
    /// assert_eq!(builder.config().download_ttl, Duration::from_secs(30));
    /// assert!(FakeServer::builder().download_ttl(Duration::ZERO).try_start_blocking().is_err());
    /// ```
    pub fn download_ttl(mut self, ttl: Duration) -> Self {
        self.config.download_ttl = ttl;
        self
    }

    /// The base of download links, instead of the host the client used.
    ///
    /// ```
    /// let fake = scalingo_db_fake::FakeServer::builder().public_url("https://fake.example").start_blocking();
    /// let url = fake.download_url("my-db-123", "5b8b36104ffb090be1ac3ce1").unwrap();
    /// assert!(url.starts_with("https://fake.example/api/databases/my-db-123/backups/"), "{url}");
    /// ```
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
    /// 64; at least 1, at most that). Past it, the
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
    ///
    /// ```
    /// let builder = scalingo_db_fake::FakeServer::builder().seed(5).no_auth();
    /// assert_eq!(builder.config().seed, Some(5));
    /// assert!(!builder.config().auth);
    /// ```
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
        for (db, patch) in &self.database_lifecycles {
            crate::control::set_database_lifecycle(&shared, db, patch)?;
        }
        let listener = StdListener::bind(("127.0.0.1", 0)).map_err(Error::Bind)?;
        listener.set_nonblocking(true).map_err(Error::Bind)?;
        Ok((shared, token, listener, Limits::new(&self.config, IN_PROCESS_GRACE)))
    }

    /// Starts the server on the current tokio runtime, on a free loopback port.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// use scalingo_db_fake::FakeServer;
    /// let fake = FakeServer::builder().seed(1).try_start().await?;
    /// assert_eq!(fake.seed(), 1);
    /// assert!(FakeServer::builder().retention(0).try_start().await.is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn try_start(self) -> Result<FakeServer, Error> {
        let (shared, token, listener, limits) = self.prepare()?;
        let addr = listener.local_addr().map_err(Error::Bind)?;
        let listener = TcpListener::from_std(listener).map_err(Error::Bind)?;
        let (stop, rx) = watch::channel(false);
        tokio::spawn(serve(listener, shared.clone(), rx, limits));
        Ok(FakeServer::new(shared, addr, token, stop, None))
    }

    /// Like [`Self::try_start`], panicking with the reason on failure.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let fake = scalingo_db_fake::FakeServer::builder().no_fixtures().start().await;
    /// assert!(fake.databases().is_empty());
    /// # }
    /// ```
    pub async fn start(self) -> FakeServer {
        match self.try_start().await {
            Ok(s) => s,
            Err(e) => panic!("scalingo-db-fake could not start: {e}"),
        }
    }

    /// Starts the server on a thread of its own (for tests without a runtime).
    ///
    /// ```
    /// use scalingo_db_fake::FakeServer;
    /// let fake = FakeServer::builder().seed(1).try_start_blocking().unwrap();
    /// assert_eq!(fake.seed(), 1);
    /// assert!(FakeServer::builder().retention(0).try_start_blocking().is_err());
    /// ```
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
    ///
    /// ```
    /// let fake = scalingo_db_fake::FakeServer::builder().token("secret").start_blocking();
    /// assert_eq!(fake.token(), "secret");
    /// ```
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
    ///
    /// ```
    /// let fake = scalingo_db_fake::FakeServer::builder().seed(9).start_blocking();
    /// assert_eq!(fake.seed(), 9);
    /// ```
    pub fn builder() -> FakeServerBuilder {
        FakeServerBuilder::default()
    }

    /// Starts a fake with the embedded fixtures on the current runtime.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let fake = scalingo_db_fake::FakeServer::start().await;
    /// assert_eq!(fake.databases().len(), 3);
    /// assert!(fake.database("my-db-123").is_ok());
    /// # }
    /// ```
    pub async fn start() -> FakeServer {
        Self::builder().start().await
    }

    /// Starts a fake with the embedded fixtures on a thread of its own.
    ///
    /// ```
    /// let fake = scalingo_db_fake::FakeServer::start_blocking();
    /// assert_eq!(fake.databases().len(), 3);
    /// assert!(fake.database("my-db-123").is_ok());
    /// ```
    pub fn start_blocking() -> FakeServer {
        Self::builder().start_blocking()
    }
}
