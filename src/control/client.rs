//! [`Control`]: the one Rust face of the control plane, the same whether the
//! fake runs in this process ([`crate::FakeServer::control`]) or elsewhere
//! ([`Control::connect`], over its `/_fake` routes). A test written against a
//! `Control` runs unchanged against an in-process fake and a docker-compose
//! service.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{CreatedDatabase, DatabaseBackups};
use crate::error::Error;
use crate::faults::{Fault, FaultRule};
use crate::journal::{RecordedRequest, RequestFilter};
use crate::lifecycle::{DatabaseLifecycle, Lifecycle, LifecyclePatch, Outcome};
use crate::model::{Backup, DatabaseInfo};
use crate::shared::Shared;
use crate::timestamp::Timestamp;

#[cfg(feature = "remote")]
use super::remote::Remote;
#[cfg(feature = "remote")]
use hyper::Method;
#[cfg(feature = "remote")]
use serde_json::json;

/// Steers a fake: its clock, settings, databases and backups.
///
/// Cheap to clone, `Send + Sync`: hand it to the code under test or a spawned
/// task. Every method is `async` and returns `Result`, because a remote fake
/// answers over the network; an in-process one answers at once.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), scalingo_db_fake::Error> {
/// use std::time::Duration;
/// use scalingo_db_fake::FakeServer;
///
/// let fake = FakeServer::builder().manual_clock().start().await;
/// let control = fake.control(); // or Control::connect("http://fake:8080")
/// let db = control.create_database(serde_json::json!({"type": "mysql"})).await?;
/// control.advance(Duration::from_secs(60)).await?;
/// control.delete_database(&db.id).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Control {
    backend: Backend,
}

#[derive(Clone, Debug)]
enum Backend {
    /// The fake's state, and its base URL as its clients see it (the base
    /// of download links).
    Local(Arc<Shared>, Arc<str>),
    #[cfg(feature = "remote")]
    Remote(Remote),
}

/// Runs the core function in-process, or the route remotely.
macro_rules! either {
    ($self:ident, local $s:ident => $local:expr, remote $r:ident => $remote:expr) => {
        match &$self.backend {
            Backend::Local($s, _) => $local,
            #[cfg(feature = "remote")]
            Backend::Remote($r) => $remote,
        }
    };
}

#[cfg(feature = "remote")]
fn decode<T: DeserializeOwned>(v: Value) -> Result<T, Error> {
    serde_json::from_value(v).map_err(|e| Error::Remote(Some(200), format!("unexpected answer: {e}")))
}

#[cfg(feature = "remote")]
fn field<T: DeserializeOwned>(mut v: Value, key: &str) -> Result<T, Error> {
    decode(v[key].take())
}

#[cfg(not(feature = "remote"))]
#[allow(dead_code)]
fn field<T: DeserializeOwned>(_: Value, _: &str) -> Result<T, Error> {
    unreachable!("no remote backend without the `remote` feature")
}

fn object(v: Value) -> Result<Map<String, Value>, Error> {
    match v {
        Value::Object(m) => Ok(m),
        other => Err(Error::invalid("body", format!("must be a JSON object, got {other}"))),
    }
}

impl Control {
    /// A `Control` of the fake `shared`, whose download links start with
    /// `base`.
    pub(crate) fn local(shared: Arc<Shared>, base: &str) -> Self {
        Self {
            backend: Backend::Local(shared, Arc::from(base)),
        }
    }

    /// Steers the fake at `url` (`http://host:port`) over its `/_fake`
    /// routes. Nothing is sent until the first call.
    ///
    /// ```
    /// use scalingo_db_fake::Control;
    /// let control = Control::connect("http://scalingo-db:8080").unwrap();
    /// # drop(control);
    /// ```
    #[cfg(feature = "remote")]
    pub fn connect(url: &str) -> Result<Self, Error> {
        Ok(Self {
            backend: Backend::Remote(Remote::new(url)?),
        })
    }

    /// Sends `token` as the admin token (a fake started with
    /// `--admin-token`); in-process, a no-op.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// use scalingo_db_fake::{Control, FakeServer};
    /// let fake = FakeServer::builder().admin_token("admin").start().await;
    /// let control = Control::connect(&fake.url())?;
    /// assert!(control.now().await.is_err()); // 401 without it
    /// assert_eq!(control.with_admin_token("admin").seed().await?, fake.seed());
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "remote")]
    pub fn with_admin_token(self, token: impl Into<String>) -> Self {
        match self.backend {
            Backend::Remote(r) => Self {
                backend: Backend::Remote(r.with_admin_token(token.into())),
            },
            local => Self { backend: local },
        }
    }

    /// Whether the fake is serving.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::start().await;
    /// assert!(fake.control().health().await.is_ok());
    /// assert!(scalingo_db_fake::Control::connect(&fake.url())?.health().await.is_ok());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn health(&self) -> Result<(), Error> {
        either!(self, local _s => Ok(()), remote r => r.call(Method::GET, "/_fake/health", None).await.map(drop))
    }

    /// Puts the fake back as it started: fixtures, clock, settings, tokens.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// control.delete_database("my-db-123").await?;
    /// assert_eq!(control.databases().await?.len(), 2);
    /// control.reset().await?;
    /// assert_eq!(control.databases().await?.len(), 3);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn reset(&self) -> Result<(), Error> {
        either!(self,
            local s => { super::reset(s); Ok(()) },
            remote r => r.call(Method::POST, "/_fake/reset", None).await.map(drop))
    }

    /// The fake's current time.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().clock_start_millis(0).start().await;
    /// let now = fake.control().now().await?;
    /// assert_eq!(now.to_string(), "1970-01-01T00:00:00.000+00:00");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn now(&self) -> Result<Timestamp, Error> {
        either!(self,
            local s => Ok(super::clock(s).now),
            remote r => field(r.call(Method::GET, "/_fake/clock", None).await?, "now"))
    }

    /// Moves the clock forward by `by` (every backup moves with it); returns
    /// the new time.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// let t0 = control.now().await?.millis();
    /// let t1 = control.advance(std::time::Duration::from_secs(60)).await?;
    /// assert_eq!(t1.millis() - t0, 60_000);
    /// assert_eq!(fake.now().millis(), t1.millis());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn advance(&self, by: Duration) -> Result<Timestamp, Error> {
        either!(self,
        local s => Ok(super::advance(s, by).now),
        remote r => {
            let body = json!({ "advance_secs": by.as_secs_f64() });
            field(r.call(Method::POST, "/_fake/clock", Some(&body)).await?, "now")
        })
    }

    /// A sleep for code under test that takes its sleeper as a parameter:
    /// moves the fake's clock by `by` (every backup moves with it) and yields,
    /// with no real waiting.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// let t0 = control.now().await.unwrap().millis();
    /// control.sleep(std::time::Duration::from_secs(2)).await;
    /// assert_eq!(control.now().await.unwrap().millis() - t0, 2_000);
    /// # }
    /// ```
    pub async fn sleep(&self, by: Duration) {
        // Steering a live fake: an error here is its own test failure later.
        let _ = self.advance(by).await;
        tokio::task::yield_now().await;
    }

    /// Sets the clock to `to` (never backwards); returns the new time.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// let now = control.set_time("2030-01-01T00:00:00Z").await?;
    /// assert_eq!(now.millis(), 1_893_456_000_000);
    /// assert!(control.set_time("2000-01-01T00:00:00Z").await.is_err()); // backwards
    /// # Ok(())
    /// # }
    /// ```
    pub async fn set_time(&self, to: impl crate::IntoTimestamp) -> Result<Timestamp, Error> {
        let to = &to.into_timestamp()?;
        either!(self,
        local s => Ok(super::set_time(s, to)?.now),
        remote r => {
            let body = json!({ "set": to.to_string() });
            field(r.call(Method::POST, "/_fake/clock", Some(&body)).await?, "now")
        })
    }

    /// The global lifecycle settings.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// assert_eq!(control.lifecycle().await?, scalingo_db_fake::Lifecycle::default());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn lifecycle(&self) -> Result<Lifecycle, Error> {
        either!(self,
            local s => Ok(super::lifecycle(s)),
            remote r => decode(r.call(Method::GET, "/_fake/lifecycle", None).await?))
    }

    /// Changes the global lifecycle settings for backups created from now on.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// use scalingo_db_fake::LifecyclePatch;
    /// let slow = LifecyclePatch { running_secs: Some(120.0), ..Default::default() };
    /// assert_eq!(control.set_lifecycle(&slow).await?.running_secs, 120.0);
    /// assert_eq!(control.lifecycle().await?.running_secs, 120.0);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn set_lifecycle(&self, patch: &LifecyclePatch) -> Result<Lifecycle, Error> {
        either!(self,
            local s => super::set_lifecycle(s, patch),
            remote r => decode(r.call(Method::PUT, "/_fake/lifecycle", Some(&json!(patch))).await?))
    }

    /// One database's lifecycle override and the settings in effect.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// let l = control.database_lifecycle("my-db-123").await?;
    /// assert_eq!(l.own, scalingo_db_fake::LifecyclePatch::default()); // no override
    /// assert_eq!(l.effective, control.lifecycle().await?);
    /// assert!(control.database_lifecycle("nope").await.is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn database_lifecycle(&self, db: &str) -> Result<DatabaseLifecycle, Error> {
        either!(self,
            local s => super::database_lifecycle(s, db),
            remote r => decode(r.call(Method::GET, &format!("/_fake/databases/{db}/lifecycle"), None).await?))
    }

    /// Merges `patch` into one database's lifecycle override.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// use scalingo_db_fake::LifecyclePatch;
    /// let failing = LifecyclePatch { failure_rate: Some(1.0), ..Default::default() };
    /// let l = control.set_database_lifecycle("my-db-123", &failing).await?;
    /// assert_eq!((l.own.failure_rate, l.effective.failure_rate), (Some(1.0), 1.0));
    /// assert_eq!(control.lifecycle().await?.failure_rate, 0.0); // the global settings stay
    /// # Ok(())
    /// # }
    /// ```
    pub async fn set_database_lifecycle(&self, db: &str, patch: &LifecyclePatch) -> Result<DatabaseLifecycle, Error> {
        either!(self,
        local s => super::set_database_lifecycle(s, db, patch),
        remote r => {
            let path = format!("/_fake/databases/{db}/lifecycle");
            decode(r.call(Method::PUT, &path, Some(&json!(patch))).await?)
        })
    }

    /// The retention cap (`None`: no cap).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// assert_eq!(control.retention().await?, None);
    /// control.set_retention(Some(5)).await?;
    /// assert_eq!(control.retention().await?, Some(5));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn retention(&self) -> Result<Option<usize>, Error> {
        either!(self,
            local s => Ok(super::retention(s)),
            remote r => field(r.call(Method::GET, "/_fake/retention", None).await?, "max_backups_per_database"))
    }

    /// Caps the backups kept per database and applies the cap now; 0 is refused.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// control.set_retention(Some(1)).await?;
    /// assert_eq!(control.backups("my-db-123").await?.len(), 1);
    /// assert!(control.set_retention(Some(0)).await.is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn set_retention(&self, cap: Option<usize>) -> Result<(), Error> {
        either!(self,
        local s => super::set_retention(s, cap).map(drop),
        remote r => {
            let body = json!({ "max_backups_per_database": cap });
            r.call(Method::PUT, "/_fake/retention", Some(&body)).await.map(drop)
        })
    }

    /// How long new download links stay valid, on the fake's clock.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// assert_eq!(control.download_ttl().await?, std::time::Duration::from_secs(600)); // the default
    /// # Ok(())
    /// # }
    /// ```
    pub async fn download_ttl(&self) -> Result<Duration, Error> {
        either!(self,
        local s => Ok(super::download_ttl(s)),
        remote r => {
            let secs: u64 = field(r.call(Method::GET, "/_fake/download_ttl", None).await?, "download_ttl_secs")?;
            Ok(Duration::from_secs(secs))
        })
    }

    /// Changes how long new download links stay valid (a second to a year).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// use std::time::Duration;
    /// control.set_download_ttl(Duration::from_secs(30)).await?;
    /// assert_eq!(control.download_ttl().await?, Duration::from_secs(30));
    /// assert!(control.set_download_ttl(Duration::ZERO).await.is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn set_download_ttl(&self, ttl: Duration) -> Result<(), Error> {
        either!(self,
        local s => super::set_download_ttl(s, ttl).map(drop),
        remote r => {
            let body = json!({ "download_ttl_secs": ttl.as_secs() });
            r.call(Method::PUT, "/_fake/download_ttl", Some(&body)).await.map(drop)
        })
    }

    /// The global seed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().seed(42).start().await;
    /// assert_eq!(fake.control().seed().await?, 42);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn seed(&self) -> Result<u64, Error> {
        either!(self,
            local s => Ok(super::seed(s)),
            remote r => field(r.call(Method::GET, "/_fake/seed", None).await?, "seed"))
    }

    /// Re-seeds every database (`db` = `None`) or gives one a seed of its own.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// control.reseed(7, None).await?;
    /// assert_eq!(control.seed().await?, 7);
    /// control.reseed(8, Some("my-db-123")).await?;
    /// assert!(control.reseed(8, Some("nope")).await.is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn reseed(&self, seed: u64, db: Option<&str>) -> Result<(), Error> {
        either!(self,
        local s => super::reseed(s, seed, db),
        remote r => {
            let body = json!({ "seed": seed, "database": db });
            r.call(Method::PUT, "/_fake/seed", Some(&body)).await.map(drop)
        })
    }

    /// Makes a backup `done` now.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// use scalingo_db_fake::Status;
    /// let b = fake.create_backup("my-db-123")?;
    /// assert_eq!(control.complete_backup(&b.id).await?.status, Status::Done);
    /// assert_eq!(fake.backup(&b.id)?.status, Status::Done);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn complete_backup(&self, id: &str) -> Result<Backup, Error> {
        self.finish(id, Outcome::Done).await
    }

    /// Makes a backup `error` now.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// use scalingo_db_fake::Status;
    /// let b = fake.create_backup("my-db-123")?;
    /// assert_eq!(control.fail_backup(&b.id).await?.status, Status::Error);
    /// assert_eq!(fake.backup(&b.id)?.status, Status::Error);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn fail_backup(&self, id: &str) -> Result<Backup, Error> {
        self.finish(id, Outcome::Error).await
    }

    async fn finish(&self, id: &str, outcome: Outcome) -> Result<Backup, Error> {
        either!(self,
        local s => super::finish_backup(s, id, outcome),
        remote r => {
            let verb = if outcome == Outcome::Done { "complete" } else { "fail" };
            let path = format!("/_fake/backups/{id}/{verb}");
            field(r.call(Method::POST, &path, None).await?, "database_backup")
        })
    }

    /// Every database.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// let dbs = control.databases().await?;
    /// assert_eq!(dbs.len(), 3);
    /// assert!(dbs.iter().any(|db| db.resource_id == "kibana-3938"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn databases(&self) -> Result<Vec<DatabaseInfo>, Error> {
        either!(self,
            local s => Ok(super::databases(s)),
            remote r => field(r.call(Method::GET, "/_fake/databases", None).await?, "databases"))
    }

    /// Creates a database from a fixture-shaped JSON object in which every
    /// field may be left out (`{}` is a PostgreSQL database with a generated
    /// id); returns its id and a token that opens it alone. Tests that each
    /// own a database can share one fake in parallel.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// let db = control.create_database(serde_json::json!({"type": "mysql"})).await?;
    /// assert!(db.id.starts_with("ad-"));
    /// assert_eq!(fake.database(&db.id)?.resource_id, db.database.resource_id);
    /// assert!(control.create_database(serde_json::json!([])).await.is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn create_database(&self, spec: Value) -> Result<CreatedDatabase, Error> {
        either!(self,
            local s => super::create_database(s, object(spec)?),
            remote r => decode(r.call(Method::POST, "/_fake/databases", Some(&spec)).await?))
    }

    /// Deletes a database and its backups.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// control.delete_database("my-db-123").await?;
    /// assert!(fake.database("my-db-123").is_err());
    /// assert!(control.delete_database("my-db-123").await.is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn delete_database(&self, db: &str) -> Result<(), Error> {
        either!(self,
            local s => super::delete_database(s, db),
            remote r => r.call(Method::DELETE, &format!("/_fake/databases/{db}"), None).await.map(drop))
    }

    /// Puts one database back as it was made.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// fake.create_backup("my-db-123")?;
    /// assert_eq!(fake.backups("my-db-123")?.len(), 4);
    /// control.reset_database("my-db-123").await?;
    /// assert_eq!(fake.backups("my-db-123")?.len(), 3);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn reset_database(&self, db: &str) -> Result<DatabaseInfo, Error> {
        either!(self,
            local s => super::reset_database(s, db),
            remote r => field(r.call(Method::POST, &format!("/_fake/databases/{db}/reset"), None).await?, "database"))
    }

    /// Adds a backup in any state (fixture-shaped JSON: `created_at`, and a
    /// `status` or a `progress`; `id` generated when left out).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// use scalingo_db_fake::Status;
    /// let spec = serde_json::json!({"created_at": "2024-01-01T00:00:00.000Z", "status": "error"});
    /// let b = control.seed_backup("my-db-123", spec).await?;
    /// assert_eq!(b.status, Status::Error);
    /// assert_eq!(fake.backup(&b.id)?.status, Status::Error);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn seed_backup(&self, db: &str, spec: Value) -> Result<Backup, Error> {
        either!(self,
        local s => super::seed_backup(s, db, object(spec)?),
        remote r => {
            let path = format!("/_fake/databases/{db}/backups");
            field(r.call(Method::POST, &path, Some(&spec)).await?, "database_backup")
        })
    }

    /// A database's backups, newest first, as the API lists them now; an
    /// unknown database is `NotFound("database")`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::start().await;
    /// let backups = fake.control().backups("my-db-123").await?;
    /// assert_eq!(backups[0].name, "20181104010000_kibana-3938");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn backups(&self, db: &str) -> Result<Vec<Backup>, Error> {
        either!(self,
            local s => super::backups(s, db),
            remote r => field(r.call(Method::GET, &format!("/_fake/databases/{db}/backups"), None).await?, "database_backups"))
    }

    /// Every database with its addon id and its backups (newest first), in
    /// one call: what the dashboard shows.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::start().await;
    /// let all = fake.control().all_backups().await?;
    /// assert_eq!(all[0].id, "my-db-123");
    /// assert_eq!(all[0].database.resource_id, "kibana-3938");
    /// assert_eq!(all[0].database_backups.len(), 3);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn all_backups(&self) -> Result<Vec<DatabaseBackups>, Error> {
        either!(self,
            local s => Ok(super::all_backups(s)),
            remote r => field(r.call(Method::GET, "/_fake/backups", None).await?, "databases"))
    }

    /// A signed download link of a done backup, as the database API's
    /// `…/archive` gives it, without an API token. A backup that is not done
    /// is [`Error::NotDone`]; an unknown database or backup, `NotFound`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::start().await;
    /// let url = fake.control().download_url("my-db-123", "5b8b36104ffb090be1ac3ce1").await?;
    /// assert!(url.starts_with(&format!("{}/api/databases/my-db-123/backups/", fake.url())));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn download_url(&self, db: &str, backup: &str) -> Result<String, Error> {
        match &self.backend {
            Backend::Local(s, base) => super::download_url(s, db, backup, base),
            #[cfg(feature = "remote")]
            Backend::Remote(r) => {
                let path = format!("/_fake/databases/{db}/backups/{backup}/download_url");
                field(r.call(Method::GET, &path, None).await?, "download_url")
            }
        }
    }

    /// Every database in the fixtures format, as it stands now (backups in
    /// progress keep moving on the clock when loaded back).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// let state = control.export_state().await?;
    /// assert_eq!(state["databases"].as_array().unwrap().len(), 3);
    /// assert_eq!(state["databases"][0]["id"], "my-db-123");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn export_state(&self) -> Result<Value, Error> {
        either!(self,
            local s => Ok(super::export_state(s)),
            remote r => r.call(Method::GET, "/_fake/state", None).await)
    }

    /// Replaces every database with `state` (the fixtures format, as
    /// [`Self::export_state`] gives it), checked like a fixture file: nothing
    /// changes if it is invalid. The clock and settings stay.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// let mut state = control.export_state().await?;
    /// state["databases"].as_array_mut().unwrap().truncate(1);
    /// control.import_state(&state).await?;
    /// assert_eq!(fake.databases(), ["my-db-123"]);
    /// assert!(control.import_state(&serde_json::json!({"databases": 1})).await.is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn import_state(&self, state: &Value) -> Result<(), Error> {
        either!(self,
            local s => super::import_state(s, state),
            remote r => r.call(Method::PUT, "/_fake/state", Some(state)).await.map(drop))
    }

    /// The recorded requests `filter` keeps, oldest first (the journal holds
    /// the latest ones only: `--journal-size`, 1000 by default).
    ///
    /// ```
    /// # async fn get(fake: &scalingo_db_fake::FakeServer, path: &str) {
    /// #     use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// #     let mut s = tokio::net::TcpStream::connect(fake.address()).await.unwrap();
    /// #     let auth = format!("Authorization: Bearer {}", fake.token());
    /// #     let req = format!("GET {path} HTTP/1.1\r\nHost: fake\r\n{auth}\r\nConnection: close\r\n\r\n");
    /// #     s.write_all(req.as_bytes()).await.unwrap();
    /// #     s.read_to_end(&mut Vec::new()).await.unwrap();
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// use scalingo_db_fake::RequestFilter;
    /// get(&fake, "/api/databases/my-db-123/backups").await;
    /// let all = control.requests(&RequestFilter::default()).await?;
    /// assert_eq!((all.len(), all[0].operation.as_str()), (1, "backups.list"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn requests(&self, filter: &RequestFilter) -> Result<Vec<RecordedRequest>, Error> {
        either!(self,
        local s => super::requests(s, filter),
        remote r => {
            let mut query = Vec::new();
            if let Some(op) = &filter.operation {
                query.push(format!("operation={}", encode(op)));
            }
            if let Some(db) = &filter.database {
                query.push(format!("database={}", encode(db)));
            }
            if let Some(n) = filter.limit {
                query.push(format!("limit={n}"));
            }
            let path = format!("/_fake/requests?{}", query.join("&"));
            field(r.call(Method::GET, &path, None).await?, "requests")
        })
    }

    /// How many recorded requests of `operation` (`backups.create`, …) the
    /// journal holds.
    ///
    /// ```
    /// # async fn get(fake: &scalingo_db_fake::FakeServer, path: &str) {
    /// #     use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// #     let mut s = tokio::net::TcpStream::connect(fake.address()).await.unwrap();
    /// #     let auth = format!("Authorization: Bearer {}", fake.token());
    /// #     let req = format!("GET {path} HTTP/1.1\r\nHost: fake\r\n{auth}\r\nConnection: close\r\n\r\n");
    /// #     s.write_all(req.as_bytes()).await.unwrap();
    /// #     s.read_to_end(&mut Vec::new()).await.unwrap();
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// get(&fake, "/api/databases/my-db-123/backups").await;
    /// get(&fake, "/api/databases/my-db-123/backups").await;
    /// assert_eq!(control.count_requests("backups.list").await?, 2);
    /// assert_eq!(control.count_requests("backups.create").await?, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn count_requests(&self, operation: &str) -> Result<usize, Error> {
        Ok(self
            .requests(&RequestFilter::default().operation(operation))
            .await?
            .len())
    }

    /// The latest recorded request of `operation`.
    ///
    /// ```
    /// # async fn get(fake: &scalingo_db_fake::FakeServer, path: &str) {
    /// #     use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// #     let mut s = tokio::net::TcpStream::connect(fake.address()).await.unwrap();
    /// #     let auth = format!("Authorization: Bearer {}", fake.token());
    /// #     let req = format!("GET {path} HTTP/1.1\r\nHost: fake\r\n{auth}\r\nConnection: close\r\n\r\n");
    /// #     s.write_all(req.as_bytes()).await.unwrap();
    /// #     s.read_to_end(&mut Vec::new()).await.unwrap();
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// get(&fake, "/api/databases/my-db-123/backups").await;
    /// get(&fake, "/api/databases/no-such-db/backups").await;
    /// let last = control.last_request("backups.list").await?.unwrap();
    /// assert_eq!((last.database.as_deref(), last.status), (Some("no-such-db"), 404));
    /// assert!(control.last_request("backups.create").await?.is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn last_request(&self, operation: &str) -> Result<Option<RecordedRequest>, Error> {
        let filter = RequestFilter::default().operation(operation).limit(1);
        Ok(self.requests(&filter).await?.pop())
    }

    /// Empties the journal.
    ///
    /// ```
    /// # async fn get(fake: &scalingo_db_fake::FakeServer, path: &str) {
    /// #     use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// #     let mut s = tokio::net::TcpStream::connect(fake.address()).await.unwrap();
    /// #     let auth = format!("Authorization: Bearer {}", fake.token());
    /// #     let req = format!("GET {path} HTTP/1.1\r\nHost: fake\r\n{auth}\r\nConnection: close\r\n\r\n");
    /// #     s.write_all(req.as_bytes()).await.unwrap();
    /// #     s.read_to_end(&mut Vec::new()).await.unwrap();
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// get(&fake, "/api/databases/my-db-123/backups").await;
    /// control.clear_requests().await?;
    /// assert_eq!(control.count_requests("backups.list").await?, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn clear_requests(&self) -> Result<(), Error> {
        either!(self,
            local s => { super::clear_requests(s); Ok(()) },
            remote r => r.call(Method::DELETE, "/_fake/requests", None).await.map(drop))
    }

    /// Adds a fault rule; returns it as stored, with its id. Rules apply to
    /// the database API, the `/v1` routes and downloads, never to `/_fake`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// use scalingo_db_fake::{FaultEffect, FaultMatch, FaultRule};
    /// let rule = FaultRule::new(FaultEffect::Reset).when(FaultMatch::default().operation("backups.list")).times(1);
    /// let fault = control.add_fault(rule).await?;
    /// assert_eq!(fault.remaining, Some(1));
    /// assert_eq!(control.faults().await?[0].id, fault.id);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn add_fault(&self, rule: FaultRule) -> Result<Fault, Error> {
        either!(self,
        local s => super::add_fault(s, rule),
        remote r => {
            let body = serde_json::to_value(&rule).map_err(|e| Error::invalid("rule", e.to_string()))?;
            decode(r.call(Method::POST, "/_fake/faults", Some(&body)).await?)
        })
    }

    /// Every fault rule, in the order they are tried, with its remaining
    /// firings and its hits.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// use scalingo_db_fake::{FaultEffect, FaultRule};
    /// control.add_fault(FaultRule::new(FaultEffect::Latency { ms: 10 })).await?;
    /// let faults = control.faults().await?;
    /// assert_eq!((faults.len(), faults[0].hits), (1, 0));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn faults(&self) -> Result<Vec<Fault>, Error> {
        either!(self,
            local s => Ok(super::faults(s)),
            remote r => field(r.call(Method::GET, "/_fake/faults", None).await?, "faults"))
    }

    /// Removes one fault rule; an unknown id is `NotFound("fault")`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// use scalingo_db_fake::{FaultEffect, FaultRule};
    /// let id = control.add_fault(FaultRule::new(FaultEffect::Reset)).await?.id;
    /// control.remove_fault(&id).await?;
    /// assert!(control.faults().await?.is_empty());
    /// assert!(control.remove_fault(&id).await.is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn remove_fault(&self, id: &str) -> Result<(), Error> {
        either!(self,
            local s => super::remove_fault(s, id).map(drop),
            remote r => r.call(Method::DELETE, &format!("/_fake/faults/{id}"), None).await.map(drop))
    }

    /// Removes every fault rule.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), scalingo_db_fake::Error> {
    /// let fake = scalingo_db_fake::FakeServer::builder().manual_clock().start().await;
    /// let control = fake.control();
    /// use scalingo_db_fake::{FaultEffect, FaultRule};
    /// control.add_fault(FaultRule::new(FaultEffect::Reset)).await?;
    /// control.clear_faults().await?;
    /// assert!(control.faults().await?.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn clear_faults(&self) -> Result<(), Error> {
        either!(self,
            local s => { super::clear_faults(s); Ok(()) },
            remote r => r.call(Method::DELETE, "/_fake/faults", None).await.map(drop))
    }
}

/// `s` percent-encoded for a query value (everything but unreserved
/// characters).
#[cfg(feature = "remote")]
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
