//! [`FakeServer`]: the handle a test holds on a running in-process fake.
//! Its steering methods are adapters over [`crate::control`], the same
//! operations the `/_fake` routes run.
//!
//! A `FakeServer` owns its listening socket. Dropping it stops the server:
//! the accept loop ends at once and open connections finish the request they
//! are on (for up to a second). [`FakeServer::start`] runs on the caller's
//! tokio runtime; [`FakeServer::start_blocking`] runs a runtime on a thread of
//! its own for plain `#[test]`s, and its drop waits for that thread.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::control;
use crate::error::Error;
use crate::faults::{Fault, FaultRule};
use crate::journal::{RecordedRequest, RequestFilter};
use crate::lifecycle::{Lifecycle, LifecyclePatch, Outcome};
use crate::model::{Backup, DatabaseInfo};
use crate::shared::Shared;
use crate::timestamp::Timestamp;

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
/// assert!(fake.database("my-db-123").is_ok());
/// ```
#[derive(Debug)]
pub struct FakeServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    token: String,
    /// Tells the accept loop to stop (on drop).
    stop: watch::Sender<bool>,
    /// The server's own thread, for a blocking start; joined on drop.
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeServer {
    pub(crate) fn new(
        shared: Arc<Shared>,
        addr: SocketAddr,
        token: String,
        stop: watch::Sender<bool>,
        thread: Option<std::thread::JoinHandle<()>>,
    ) -> Self {
        Self {
            shared,
            addr,
            token,
            stop,
            thread,
        }
    }

    /// `http://127.0.0.1:PORT`: the base URL for the code under test.
    ///
    /// ```
    /// let fake = scalingo_db_fake::FakeServer::start_blocking();
    /// assert_eq!(fake.url(), format!("http://{}", fake.address()));
    /// assert!(fake.url().starts_with("http://127.0.0.1:"));
    /// ```
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address served.
    ///
    /// ```
    /// let fake = scalingo_db_fake::FakeServer::start_blocking();
    /// assert!(fake.address().ip().is_loopback());
    /// assert!(std::net::TcpStream::connect(fake.address()).is_ok());
    /// ```
    pub fn address(&self) -> SocketAddr {
        self.addr
    }

    /// A bearer token valid for every database.
    ///
    /// ```
    /// let fake = scalingo_db_fake::FakeServer::builder().token("secret").start_blocking();
    /// assert_eq!(fake.token(), "secret");
    /// ```
    pub fn token(&self) -> &str {
        &self.token
    }

    /// A [`Control`](crate::Control) of this fake: the same steering methods
    /// a remote fake has, cheap to clone and to move into a task.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// tokio::spawn(async move { control.advance(std::time::Duration::from_secs(5)).await })
    ///     .await
    ///     .unwrap()
    ///     .unwrap();
    /// # }
    /// ```
    pub fn control(&self) -> crate::Control {
        crate::Control::local(self.shared.clone(), &self.public_base())
    }

    /// The fake's base URL as its clients see it: the public URL when one
    /// was set, else [`Self::url`].
    fn public_base(&self) -> String {
        match &self.shared.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => self.url(),
        }
    }

    /// A signed download link of a done backup of `db`, as
    /// `GET /api/databases/:db/backups/:id/archive` would give a client of
    /// [`Self::url`] (the public URL is its base when one was set). A backup
    /// that is not done is [`Error::NotDone`]; an unknown database or backup,
    /// [`Error::NotFound`].
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use scalingo_db_fake::FakeServer;
    ///
    /// let fake = FakeServer::start_blocking();
    /// let url = fake.download_url("my-db-123", "5b8b36104ffb090be1ac3ce1").unwrap();
    /// let path = url.strip_prefix(&fake.url()).unwrap();
    /// let mut s = std::net::TcpStream::connect(fake.address()).unwrap();
    /// write!(s, "HEAD {path} HTTP/1.1\r\nHost: fake\r\nConnection: close\r\n\r\n").unwrap();
    /// let mut head = String::new();
    /// s.read_to_string(&mut head).unwrap();
    /// assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    /// assert!(head.contains("content-length: 17484513608"), "{head}");
    /// ```
    pub fn download_url(&self, db: &str, backup: &str) -> Result<String, Error> {
        control::download_url(&self.shared, db, backup, &self.public_base())
    }

    /// The seed of every random draw of this server.
    ///
    /// ```
    /// let fake = scalingo_db_fake::FakeServer::builder().seed(42).start_blocking();
    /// assert_eq!(fake.seed(), 42);
    /// ```
    pub fn seed(&self) -> u64 {
        control::seed(&self.shared)
    }

    /// The fake's current time.
    ///
    /// ```
    /// use scalingo_db_fake::FakeServer;
    /// let fake = FakeServer::builder().manual_clock().clock_start_millis(1_000).start_blocking();
    /// assert_eq!(fake.now().millis(), 1_000);
    /// assert_eq!(fake.now().to_string(), "1970-01-01T00:00:01.000+00:00");
    /// ```
    pub fn now(&self) -> Timestamp {
        control::clock(&self.shared).now
    }

    /// Moves the clock forward by `by` (every backup moves with it).
    ///
    /// ```
    /// use std::time::Duration;
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start_blocking();
    /// let t0 = fake.now().millis();
    /// fake.advance(Duration::from_secs(90));
    /// assert_eq!(fake.now().millis() - t0, 90_000);
    /// ```
    pub fn advance(&self, by: Duration) {
        control::advance(&self.shared, by);
    }

    /// Sets the clock to `to`; moving backwards is refused.
    ///
    /// ```
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().clock_start_millis(0).start_blocking();
    /// fake.set_time("2024-01-01T00:00:00.000Z").unwrap();
    /// assert_eq!(fake.now().millis(), 1_704_067_200_000);
    /// assert!(fake.set_time("2023-01-01T00:00:00Z").is_err()); // backwards
    /// ```
    pub fn set_time(&self, to: impl crate::IntoTimestamp) -> Result<(), Error> {
        control::set_time(&self.shared, &to.into_timestamp()?).map(drop)
    }

    /// The addon ids of every database.
    ///
    /// ```
    /// use scalingo_db_fake::FakeServer;
    /// let fake = FakeServer::start_blocking();
    /// assert_eq!(fake.databases().len(), 3);
    /// assert!(fake.databases().iter().any(|db| db == "my-db-123"));
    /// assert!(FakeServer::builder().no_fixtures().start_blocking().databases().is_empty());
    /// ```
    pub fn databases(&self) -> Vec<String> {
        self.shared.store.databases().iter().map(|db| db.addon_id()).collect()
    }

    /// A database as `GET /api/databases/:db` shows it; an unknown database
    /// is [`Error::NotFound`]`("database")`.
    ///
    /// ```
    /// let fake = scalingo_db_fake::FakeServer::start_blocking();
    /// assert_eq!(fake.database("my-db-123").unwrap().resource_id, "kibana-3938");
    /// assert!(fake.database("nope").is_err());
    /// ```
    pub fn database(&self, db: &str) -> Result<DatabaseInfo, Error> {
        Ok(self.shared.store.db(db).ok_or(Error::NotFound("database"))?.info())
    }

    /// A database's backups, newest first, as the API lists them now.
    ///
    /// ```
    /// let fake = scalingo_db_fake::FakeServer::start_blocking();
    /// let backups = fake.backups("my-db-123").unwrap();
    /// assert_eq!(backups[0].name, "20181104010000_kibana-3938");
    /// ```
    pub fn backups(&self, db: &str) -> Result<Vec<Backup>, Error> {
        Ok(self.shared.store.db(db).ok_or(Error::NotFound("database"))?.list())
    }

    /// One backup, as the API shows it now; an unknown id is
    /// [`Error::NotFound`]`("backup")`.
    ///
    /// ```
    /// let fake = scalingo_db_fake::FakeServer::start_blocking();
    /// let b = fake.backup("5b8b36104ffb090be1ac3ce1").unwrap();
    /// assert_eq!(b.size, Some(17_484_513_608));
    /// ```
    pub fn backup(&self, id: &str) -> Result<Backup, Error> {
        self.shared
            .store
            .db_of_backup(id)
            .and_then(|db| db.show(id))
            .ok_or(Error::NotFound("backup"))
    }

    /// Creates a manual backup, as `POST …/backups` does.
    ///
    /// ```
    /// use scalingo_db_fake::{FakeServer, Status};
    /// let fake = FakeServer::builder().manual_clock().start_blocking();
    /// let b = fake.create_backup("my-db-123").unwrap();
    /// assert_eq!((b.status, b.size), (Status::Scheduled, None));
    /// assert_eq!(fake.backups("my-db-123").unwrap()[0].id, b.id);
    /// assert!(fake.create_backup("nope").is_err());
    /// ```
    pub fn create_backup(&self, db: &str) -> Result<Backup, Error> {
        Ok(self.shared.store.db(db).ok_or(Error::NotFound("database"))?.create())
    }

    /// Makes a backup `done` now.
    ///
    /// ```
    /// use scalingo_db_fake::{FakeServer, Status};
    /// let fake = FakeServer::builder().manual_clock().start_blocking();
    /// let b = fake.create_backup("my-db-123").unwrap();
    /// assert_eq!(fake.complete_backup(&b.id).unwrap().status, Status::Done);
    /// assert_eq!(fake.backup(&b.id).unwrap().status, Status::Done);
    /// ```
    pub fn complete_backup(&self, id: &str) -> Result<Backup, Error> {
        control::finish_backup(&self.shared, id, Outcome::Done)
    }

    /// Makes a backup `error` now.
    ///
    /// ```
    /// use scalingo_db_fake::{FakeServer, Status};
    /// let fake = FakeServer::builder().manual_clock().start_blocking();
    /// let b = fake.create_backup("my-db-123").unwrap();
    /// let failed = fake.fail_backup(&b.id).unwrap();
    /// assert_eq!((failed.status, failed.size), (Status::Error, Some(0)));
    /// assert_eq!(fake.backup(&b.id).unwrap().status, Status::Error);
    /// ```
    pub fn fail_backup(&self, id: &str) -> Result<Backup, Error> {
        control::finish_backup(&self.shared, id, Outcome::Error)
    }

    /// The global lifecycle settings.
    ///
    /// ```
    /// use scalingo_db_fake::{FakeServer, Lifecycle};
    /// let fake = FakeServer::start_blocking();
    /// assert_eq!(fake.lifecycle(), Lifecycle::default());
    /// ```
    pub fn lifecycle(&self) -> Lifecycle {
        control::lifecycle(&self.shared)
    }

    /// Changes the global lifecycle settings for backups created from now on.
    ///
    /// ```
    /// use scalingo_db_fake::{FakeServer, LifecyclePatch};
    /// let fake = FakeServer::start_blocking();
    /// let always = LifecyclePatch { failure_rate: Some(1.0), ..Default::default() };
    /// assert_eq!(fake.set_lifecycle(always).unwrap().failure_rate, 1.0);
    /// assert_eq!(fake.lifecycle().failure_rate, 1.0);
    /// assert!(fake.set_lifecycle(LifecyclePatch { failure_rate: Some(2.0), ..Default::default() }).is_err());
    /// ```
    pub fn set_lifecycle(&self, patch: impl Into<LifecyclePatch>) -> Result<Lifecycle, Error> {
        control::set_lifecycle(&self.shared, &patch.into())
    }

    /// Changes one database's lifecycle override; returns the settings now
    /// in effect for it.
    ///
    /// ```
    /// use scalingo_db_fake::{FakeServer, LifecyclePatch};
    /// let fake = FakeServer::start_blocking();
    /// let slow = LifecyclePatch { running_secs: Some(600.0), ..Default::default() };
    /// assert_eq!(fake.set_database_lifecycle("my-db-123", slow.clone()).unwrap().running_secs, 600.0);
    /// assert_eq!(fake.lifecycle().running_secs, 5.0); // the global settings stay
    /// assert!(fake.set_database_lifecycle("nope", slow).is_err());
    /// ```
    pub fn set_database_lifecycle(&self, db: &str, patch: impl Into<LifecyclePatch>) -> Result<Lifecycle, Error> {
        control::set_database_lifecycle(&self.shared, db, &patch.into()).map(|l| l.effective)
    }

    /// Caps the backups kept per database (`None`: no cap) and applies the
    /// cap now; a cap of 0 is refused.
    ///
    /// ```
    /// let fake = scalingo_db_fake::FakeServer::start_blocking();
    /// assert_eq!(fake.backups("my-db-123").unwrap().len(), 3);
    /// fake.set_retention(Some(1)).unwrap();
    /// assert_eq!(fake.backups("my-db-123").unwrap().len(), 1);
    /// assert!(fake.set_retention(Some(0)).is_err());
    /// ```
    pub fn set_retention(&self, cap: Option<usize>) -> Result<(), Error> {
        control::set_retention(&self.shared, cap).map(drop)
    }

    /// Changes how long new download links stay valid, on the fake's clock
    /// (a second to a year; links already given keep their expiry).
    ///
    /// ```
    /// let fake = scalingo_db_fake::FakeServer::start_blocking();
    /// fake.set_download_ttl(std::time::Duration::from_secs(30)).unwrap();
    /// assert!(fake.set_download_ttl(std::time::Duration::ZERO).is_err());
    /// ```
    pub fn set_download_ttl(&self, ttl: Duration) -> Result<(), Error> {
        control::set_download_ttl(&self.shared, ttl).map(drop)
    }

    /// Re-seeds every database's generator from `seed`, as if the server
    /// had started with it (ids, outcomes and sizes drawn from now on).
    ///
    /// ```
    /// use scalingo_db_fake::FakeServer;
    /// let a = FakeServer::builder().manual_clock().clock_start_millis(0).start_blocking();
    /// let b = FakeServer::builder().manual_clock().clock_start_millis(0).start_blocking();
    /// a.reseed(7);
    /// b.reseed(7);
    /// assert_eq!(a.create_backup("my-db-123").unwrap().id, b.create_backup("my-db-123").unwrap().id);
    /// ```
    pub fn reseed(&self, seed: u64) {
        // Re-seeding every database cannot fail.
        let _ = control::reseed(&self.shared, seed, None);
    }

    /// Gives one database a seed of its own.
    ///
    /// ```
    /// use scalingo_db_fake::FakeServer;
    /// let a = FakeServer::builder().manual_clock().clock_start_millis(0).start_blocking();
    /// let b = FakeServer::builder().manual_clock().clock_start_millis(0).start_blocking();
    /// a.reseed_database("my-db-123", 7).unwrap();
    /// b.reseed_database("my-db-123", 7).unwrap();
    /// assert_eq!(a.create_backup("my-db-123").unwrap().id, b.create_backup("my-db-123").unwrap().id);
    /// assert!(a.reseed_database("nope", 7).is_err());
    /// ```
    pub fn reseed_database(&self, db: &str, seed: u64) -> Result<(), Error> {
        control::reseed(&self.shared, seed, Some(db))
    }

    /// Every request in the journal, oldest first (the last 1000 by
    /// default, see [`crate::FakeServerBuilder::journal_size`]; `/_fake`
    /// requests are never recorded). A request is in the journal by the time
    /// its client has the response.
    ///
    /// ```
    /// # use std::io::{Read, Write};
    /// # fn get(fake: &scalingo_db_fake::FakeServer, path: &str) {
    /// #     let mut s = std::net::TcpStream::connect(fake.address()).unwrap();
    /// #     let auth = format!("Authorization: Bearer {}", fake.token());
    /// #     write!(s, "GET {path} HTTP/1.1\r\nHost: fake\r\n{auth}\r\nConnection: close\r\n\r\n").unwrap();
    /// #     s.read_to_end(&mut Vec::new()).unwrap();
    /// # }
    /// use scalingo_db_fake::FakeServer;
    /// let fake = FakeServer::start_blocking();
    /// get(&fake, "/api/databases/my-db-123/backups?page=1");
    /// let r = &fake.requests()[0];
    /// assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/api/databases/my-db-123/backups"));
    /// assert_eq!((r.query.as_deref(), r.database.as_deref()), (Some("page=1"), Some("my-db-123")));
    /// assert_eq!((r.operation.as_str(), r.status), ("backups.list", 200));
    /// ```
    pub fn requests(&self) -> Vec<RecordedRequest> {
        // A filter without a limit is always accepted.
        control::requests(&self.shared, &RequestFilter::default()).unwrap_or_default()
    }

    /// The requests in the journal that `filter` keeps, oldest first; a
    /// `limit` of 0 is refused (field `limit`).
    ///
    /// ```
    /// # use std::io::{Read, Write};
    /// # fn get(fake: &scalingo_db_fake::FakeServer, path: &str) {
    /// #     let mut s = std::net::TcpStream::connect(fake.address()).unwrap();
    /// #     let auth = format!("Authorization: Bearer {}", fake.token());
    /// #     write!(s, "GET {path} HTTP/1.1\r\nHost: fake\r\n{auth}\r\nConnection: close\r\n\r\n").unwrap();
    /// #     s.read_to_end(&mut Vec::new()).unwrap();
    /// # }
    /// use scalingo_db_fake::{FakeServer, RequestFilter};
    /// let fake = FakeServer::start_blocking();
    /// get(&fake, "/api/databases/my-db-123/backups");
    /// get(&fake, "/api/databases/my-db-123");
    /// get(&fake, "/api/databases/my-db-123/backups");
    /// let f = RequestFilter::default().operation("backups.list").database("my-db-123").limit(1);
    /// let found = fake.requests_matching(&f).unwrap();
    /// assert_eq!(found.len(), 1);
    /// assert_eq!(found[0].seq, 3);
    /// assert!(fake.requests_matching(&RequestFilter::default().limit(0)).is_err());
    /// ```
    pub fn requests_matching(&self, filter: &RequestFilter) -> Result<Vec<RecordedRequest>, Error> {
        control::requests(&self.shared, filter)
    }

    /// How many requests of `operation` (`backups.create`, …) the journal
    /// holds.
    ///
    /// ```
    /// # use std::io::{Read, Write};
    /// # fn get(fake: &scalingo_db_fake::FakeServer, path: &str) {
    /// #     let mut s = std::net::TcpStream::connect(fake.address()).unwrap();
    /// #     let auth = format!("Authorization: Bearer {}", fake.token());
    /// #     write!(s, "GET {path} HTTP/1.1\r\nHost: fake\r\n{auth}\r\nConnection: close\r\n\r\n").unwrap();
    /// #     s.read_to_end(&mut Vec::new()).unwrap();
    /// # }
    /// use scalingo_db_fake::FakeServer;
    /// let fake = FakeServer::start_blocking();
    /// get(&fake, "/api/databases/my-db-123/backups");
    /// get(&fake, "/api/databases/my-db-123/backups");
    /// assert_eq!(fake.count_requests("backups.list"), 2);
    /// assert_eq!(fake.count_requests("backups.create"), 0);
    /// ```
    pub fn count_requests(&self, operation: &str) -> usize {
        // A filter without a limit is always accepted.
        control::count_requests(&self.shared, &RequestFilter::default().operation(operation)).unwrap_or(0)
    }

    /// The most recent request of `operation` in the journal.
    ///
    /// ```
    /// # use std::io::{Read, Write};
    /// # fn get(fake: &scalingo_db_fake::FakeServer, path: &str) {
    /// #     let mut s = std::net::TcpStream::connect(fake.address()).unwrap();
    /// #     let auth = format!("Authorization: Bearer {}", fake.token());
    /// #     write!(s, "GET {path} HTTP/1.1\r\nHost: fake\r\n{auth}\r\nConnection: close\r\n\r\n").unwrap();
    /// #     s.read_to_end(&mut Vec::new()).unwrap();
    /// # }
    /// use scalingo_db_fake::FakeServer;
    /// let fake = FakeServer::start_blocking();
    /// get(&fake, "/api/databases/my-db-123/backups");
    /// get(&fake, "/api/databases/no-such-db/backups");
    /// let last = fake.last_request("backups.list").unwrap();
    /// assert_eq!((last.database.as_deref(), last.status), (Some("no-such-db"), 404));
    /// assert!(fake.last_request("backups.create").is_none());
    /// ```
    pub fn last_request(&self, operation: &str) -> Option<RecordedRequest> {
        let filter = RequestFilter::default().operation(operation).limit(1);
        control::requests(&self.shared, &filter).ok()?.pop()
    }

    /// Empties the journal (sequence numbers go on from where they were).
    ///
    /// ```
    /// # use std::io::{Read, Write};
    /// # fn get(fake: &scalingo_db_fake::FakeServer, path: &str) {
    /// #     let mut s = std::net::TcpStream::connect(fake.address()).unwrap();
    /// #     let auth = format!("Authorization: Bearer {}", fake.token());
    /// #     write!(s, "GET {path} HTTP/1.1\r\nHost: fake\r\n{auth}\r\nConnection: close\r\n\r\n").unwrap();
    /// #     s.read_to_end(&mut Vec::new()).unwrap();
    /// # }
    /// use scalingo_db_fake::FakeServer;
    /// let fake = FakeServer::start_blocking();
    /// get(&fake, "/api/databases/my-db-123/backups");
    /// fake.clear_requests();
    /// assert!(fake.requests().is_empty());
    /// ```
    pub fn clear_requests(&self) {
        control::clear_requests(&self.shared);
    }

    /// Adds a fault rule (the same checks as `POST /_fake/faults`); returns
    /// it as stored, with its id. Rules apply to the database API, the
    /// `/v1` routes and downloads, never to `/_fake`.
    ///
    /// ```
    /// use scalingo_db_fake::{FakeServer, FaultEffect, FaultMatch, FaultRule};
    /// let fake = FakeServer::start_blocking();
    /// let rule = FaultRule::new(FaultEffect::Status { status: 503, body: None, retry_after: Some(5) })
    ///     .when(FaultMatch::default().operation("backups.create"))
    ///     .times(2);
    /// let fault = fake.add_fault(rule).unwrap();
    /// assert_eq!((fault.id.as_str(), fault.remaining), ("f1", Some(2)));
    /// let unknown = FaultRule::new(FaultEffect::Reset).when(FaultMatch::default().operation("nope"));
    /// assert!(fake.add_fault(unknown).is_err());
    /// ```
    pub fn add_fault(&self, rule: FaultRule) -> Result<Fault, Error> {
        control::add_fault(&self.shared, rule)
    }

    /// Every fault rule, in the order they are tried, with its `remaining`
    /// firings and its `hits`.
    ///
    /// ```
    /// use scalingo_db_fake::{FakeServer, FaultEffect, FaultRule};
    /// let fake = FakeServer::start_blocking();
    /// fake.add_fault(FaultRule::new(FaultEffect::Latency { ms: 10 })).unwrap();
    /// assert_eq!(fake.faults()[0].hits, 0);
    /// ```
    pub fn faults(&self) -> Vec<Fault> {
        control::faults(&self.shared)
    }

    /// Removes every fault rule.
    ///
    /// ```
    /// use scalingo_db_fake::{FakeServer, FaultEffect, FaultRule};
    /// let fake = FakeServer::start_blocking();
    /// fake.add_fault(FaultRule::new(FaultEffect::Reset)).unwrap();
    /// fake.clear_faults();
    /// assert!(fake.faults().is_empty());
    /// ```
    pub fn clear_faults(&self) {
        control::clear_faults(&self.shared);
    }

    /// Removes one fault rule and returns it; an unknown id is
    /// [`Error::NotFound`]`("fault")`.
    ///
    /// ```
    /// use scalingo_db_fake::{FakeServer, FaultEffect, FaultRule};
    /// let fake = FakeServer::start_blocking();
    /// let id = fake.add_fault(FaultRule::new(FaultEffect::Reset)).unwrap().id;
    /// assert_eq!(fake.remove_fault(&id).unwrap().id, id);
    /// assert!(fake.remove_fault(&id).is_err());
    /// ```
    pub fn remove_fault(&self, id: &str) -> Result<Fault, Error> {
        control::remove_fault(&self.shared, id)
    }

    /// Stops the server and waits until in-flight requests have finished.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let fake = scalingo_db_fake::FakeServer::start().await;
    /// let addr = fake.address();
    /// fake.shutdown().await;
    /// assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    /// # }
    /// ```
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        self.stop.closed().await;
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
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
