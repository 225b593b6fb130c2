//! Running a fake: the accept loop with graceful shutdown, and
//! [`FakeServer`], the handle a test holds (spec §1).
//!
//! A `FakeServer` owns its listening socket. Dropping it stops the server:
//! the accept loop ends at once and open connections finish the request they
//! are on. [`FakeServer::start`] runs on the caller's tokio runtime;
//! [`FakeServer::start_blocking`] runs a runtime on a thread of its own for
//! plain `#[test]`s, and its drop waits for that thread.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::clock::ClockMode;
use crate::config::{Config, FixtureSource};
use crate::download::token::Signer;
use crate::error::Error;
use crate::fixtures::{self, FixtureSet};
use crate::http::{self, App};
use crate::lifecycle::{Lifecycle, LifecyclePatch, Outcome};
use crate::model::{Backup, DatabaseInfo};
use crate::store::{Store, StoreError};
use crate::timestamp::Timestamp;

/// How long in-flight requests get to finish once the binary is told to stop.
const GRACE: Duration = Duration::from_secs(10);
/// The same for an in-process server being dropped: a test should not wait
/// long for a client that left a request half-sent.
const IN_PROCESS_GRACE: Duration = Duration::from_secs(1);

/// The embedded fixtures, parsed once per process.
fn embedded() -> Result<&'static FixtureSet, Error> {
    static SET: OnceLock<Result<FixtureSet, fixtures::FixtureError>> = OnceLock::new();
    SET.get_or_init(fixtures::load_embedded)
        .as_ref()
        .map_err(|e| Error::Fixture(e.clone()))
}

/// Builds the shared state from a configuration: fixtures loaded and checked,
/// settings validated. Nothing is served if this fails.
/// `token` is the global token (the configured one when `None`).
pub(crate) fn build_app(config: &Config, token: Option<String>) -> Result<Arc<App>, Error> {
    config.lifecycle.validate().map_err(|e| {
        let (field, message) = e.into_iter().next().unwrap_or(("lifecycle", String::new()));
        Error::Config(field.to_string(), message)
    })?;
    if config.retention == Some(0) {
        return Err(Error::Config(
            "retention".into(),
            "must keep at least 1 backup per database (leave it unset for no cap)".into(),
        ));
    }
    if !(config.time_scale.is_finite() && config.time_scale > 0.0) {
        return Err(Error::Config(
            "time_scale".into(),
            format!("must be above 0, got {}", config.time_scale),
        ));
    }
    let loaded;
    let set: &FixtureSet = match &config.fixtures {
        FixtureSource::Embedded => embedded()?,
        FixtureSource::Path(p) => {
            loaded = fixtures::load_path(p)?;
            &loaded
        }
        FixtureSource::Set(s) => s,
        FixtureSource::Empty => {
            loaded = FixtureSet::default();
            &loaded
        }
    };
    let seed = config.seed.unwrap_or_else(crate::ids::random_seed);
    let app = App {
        store: Store::new(config, set, seed),
        token: token.or_else(|| config.token.clone()),
        auth: config.auth,
        body_limit: config.body_limit,
        signer: Signer::random(),
        download_ttl_secs: config.download_ttl.as_secs().min(i64::MAX as u64) as i64,
        public_url: config.public_url.clone(),
    };
    Ok(Arc::new(app))
}

/// Serves `listener` until `stop` says so, then lets in-flight requests finish
/// (up to a grace period).
pub(crate) async fn serve(listener: TcpListener, app: Arc<App>, mut stop: watch::Receiver<bool>, grace: Duration) {
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
                let app = app.clone();
                let service = service_fn(move |req| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(http::handle(app, req).await) }
                });
                let conn = http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), service);
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

/// A fake whose fixtures are loaded and settings checked, ready to serve on
/// a listener of the caller's choosing (what the binary uses).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use scalingo_db_fake::{Config, Prepared};
/// let fake = Prepared::new(&Config { seed: Some(1), ..Config::default() }).unwrap();
/// assert_eq!(fake.seed(), 1);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// fake.serve(listener, async {}).await; // stops at once: the shutdown future is ready
/// # }
/// ```
pub struct Prepared {
    app: Arc<App>,
}

impl Prepared {
    /// Loads and checks everything `config` names; nothing is served yet.
    pub fn new(config: &Config) -> Result<Self, Error> {
        Ok(Self {
            app: build_app(config, None)?,
        })
    }

    /// The seed in use (the configured one, or the one drawn).
    pub fn seed(&self) -> u64 {
        self.app.store.seed()
    }

    /// Serves `listener` until `shutdown` completes, then lets in-flight
    /// requests finish (for up to ten seconds).
    pub async fn serve(self, listener: TcpListener, shutdown: impl std::future::Future<Output = ()>) {
        let (stop, rx) = watch::channel(false);
        let server = serve(listener, self.app, rx, GRACE);
        tokio::pin!(server);
        tokio::select! {
            () = &mut server => return,
            () = shutdown => {}
        }
        let _ = stop.send(true);
        server.await;
    }
}

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

    /// The configuration built so far.
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn prepared(&self) -> Result<(Arc<App>, String, StdListener), Error> {
        if let Some(e) = &self.fixture_error {
            return Err(Error::Fixture(e.clone()));
        }
        let token = self.config.token.clone().unwrap_or_else(random_token);
        let app = build_app(&self.config, Some(token.clone()))?;
        let listener = StdListener::bind(("127.0.0.1", 0)).map_err(Error::Bind)?;
        listener.set_nonblocking(true).map_err(Error::Bind)?;
        Ok((app, token, listener))
    }

    /// Starts the server on the current tokio runtime, on a free loopback port.
    pub async fn try_start(self) -> Result<FakeServer, Error> {
        let (app, token, listener) = self.prepared()?;
        let addr = listener.local_addr().map_err(Error::Bind)?;
        let listener = TcpListener::from_std(listener).map_err(Error::Bind)?;
        let (stop, rx) = watch::channel(false);
        tokio::spawn(serve(listener, app.clone(), rx, IN_PROCESS_GRACE));
        Ok(FakeServer {
            app,
            addr,
            token,
            stop,
            thread: None,
        })
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
        let (app, token, listener) = self.prepared()?;
        let addr = listener.local_addr().map_err(Error::Bind)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::Bind)?;
        let (stop, rx) = watch::channel(false);
        let served = app.clone();
        let thread = std::thread::Builder::new()
            .name("scalingo-db-fake".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(listener) {
                        Ok(l) => serve(l, served, rx, IN_PROCESS_GRACE).await,
                        Err(e) => tracing::error!("cannot serve: {e}"),
                    }
                })
            })
            .map_err(Error::Bind)?;
        Ok(FakeServer {
            app,
            addr,
            token,
            stop,
            thread: Some(thread),
        })
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

/// A running fake server; it stops when dropped.
///
/// From an async test:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use scalingo_db_fake::FakeServer;
/// let fake = FakeServer::start().await;
/// // Point the code under test at fake.url() with fake.token() as its bearer token.
/// let backups = fake.backups("my-db-123").unwrap();
/// assert_eq!(backups[0].name, "20181104010000_kibana-3938");
/// # }
/// ```
///
/// From a plain test:
///
/// ```
/// use scalingo_db_fake::FakeServer;
/// let fake = FakeServer::start_blocking();
/// assert!(fake.database("my-db-123").is_some());
/// ```
#[derive(Debug)]
pub struct FakeServer {
    app: Arc<App>,
    addr: SocketAddr,
    token: String,
    /// Tells the accept loop to stop (on drop).
    stop: watch::Sender<bool>,
    /// The server's own thread, for a blocking start; joined on drop.
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("seed", &self.store.seed())
            .finish_non_exhaustive()
    }
}

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

    /// `http://127.0.0.1:PORT`: the base URL for the code under test.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address served.
    pub fn address(&self) -> SocketAddr {
        self.addr
    }

    /// A bearer token valid for every database.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The seed of every random draw of this server.
    pub fn seed(&self) -> u64 {
        self.app.store.seed()
    }

    /// The fake's current time.
    pub fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.app.store.clock.now())
    }

    /// Moves the clock forward by `by` (every backup moves with it).
    pub fn advance(&self, by: Duration) {
        let ms = by.as_millis().min(i64::MAX as u128) as i64;
        // Advancing by a non-negative amount cannot fail.
        let _ = self.app.store.clock.advance(ms);
        self.app.store.catch_up_all();
    }

    /// Sets the clock to `to`; moving backwards is refused.
    pub fn set_time(&self, to: &Timestamp) -> Result<(), Error> {
        self.app.store.clock.set(to.millis()).map_err(|e| Error::Clock(e.0))?;
        self.app.store.catch_up_all();
        Ok(())
    }

    /// The addon ids of every database.
    pub fn databases(&self) -> Vec<String> {
        self.app
            .store
            .all()
            .iter()
            .map(|c| c.read().meta.addon_id.clone())
            .collect()
    }

    /// A database as `GET /api/databases/:db` shows it.
    pub fn database(&self, db: &str) -> Option<DatabaseInfo> {
        let cell = self.app.store.database(db)?;
        self.app.store.catch_up(&cell);
        let info = cell.read().meta.info();
        Some(info)
    }

    /// A database's backups, newest first, as the API lists them now.
    pub fn backups(&self, db: &str) -> Option<Vec<Backup>> {
        let cell = self.app.store.database(db)?;
        Some(self.app.store.list(&cell))
    }

    /// One backup, as the API shows it now.
    pub fn backup(&self, id: &str) -> Option<Backup> {
        let cell = self.app.store.database_of_backup(id)?;
        self.app.store.show(&cell, id)
    }

    /// Creates a manual backup, as `POST …/backups` does.
    pub fn create_backup(&self, db: &str) -> Result<Backup, Error> {
        let cell = self.app.store.database(db).ok_or(Error::NotFound("database"))?;
        Ok(self.app.store.create(&cell))
    }

    /// Makes a backup `done` now.
    pub fn complete_backup(&self, id: &str) -> Result<Backup, Error> {
        self.app.store.force(id, Outcome::Done).map_err(store_error)
    }

    /// Makes a backup `error` now.
    pub fn fail_backup(&self, id: &str) -> Result<Backup, Error> {
        self.app.store.force(id, Outcome::Error).map_err(store_error)
    }

    /// The global lifecycle settings.
    pub fn lifecycle(&self) -> Lifecycle {
        self.app.store.lifecycle()
    }

    /// Changes the global lifecycle settings for backups created from now on.
    pub fn set_lifecycle(&self, patch: &LifecyclePatch) -> Result<Lifecycle, Error> {
        self.app.store.set_lifecycle(patch).map_err(store_error)
    }

    /// Changes one database's lifecycle override.
    pub fn set_database_lifecycle(&self, db: &str, patch: &LifecyclePatch) -> Result<Lifecycle, Error> {
        let cell = self.app.store.database(db).ok_or(Error::NotFound("database"))?;
        self.app.store.set_database_lifecycle(&cell, patch).map_err(store_error)
    }

    /// Caps the backups kept per database (`None`: no cap).
    pub fn set_retention(&self, cap: Option<usize>) {
        self.app.store.set_retention(cap);
    }

    /// Re-seeds every database's generator from `seed`, as if the server
    /// had started with it (ids, outcomes and sizes drawn from now on).
    pub fn reseed(&self, seed: u64) {
        self.app.store.reseed(None, seed);
    }

    /// Gives one database a seed of its own.
    pub fn reseed_database(&self, db: &str, seed: u64) -> Result<(), Error> {
        let cell = self.app.store.database(db).ok_or(Error::NotFound("database"))?;
        self.app.store.reseed(Some(&cell), seed);
        Ok(())
    }

    /// Stops the server and waits until in-flight requests have finished.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        self.stop.closed().await;
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

fn store_error(e: StoreError) -> Error {
    match e {
        StoreError::NoBackup => Error::NotFound("backup"),
        StoreError::Invalid(errors) => {
            let (f, m) = errors.into_iter().next().unwrap_or_default();
            Error::Config(f, m)
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
