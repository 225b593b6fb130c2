//! [`Control`]: the one Rust face of the control plane, the same whether the
//! fake runs in this process ([`crate::FakeServer::control`]) or elsewhere
//! ([`Control::connect`], over its `/_fake` routes). A test written against a
//! `Control` runs unchanged against an in-process fake and a docker-compose
//! service.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::CreatedDatabase;
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
    Local(Arc<Shared>),
    #[cfg(feature = "remote")]
    Remote(Remote),
}

/// Runs the core function in-process, or the route remotely.
macro_rules! either {
    ($self:ident, local $s:ident => $local:expr, remote $r:ident => $remote:expr) => {
        match &$self.backend {
            Backend::Local($s) => $local,
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
    pub(crate) fn local(shared: Arc<Shared>) -> Self {
        Self {
            backend: Backend::Local(shared),
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
    pub async fn health(&self) -> Result<(), Error> {
        either!(self, local _s => Ok(()), remote r => r.call(Method::GET, "/_fake/health", None).await.map(drop))
    }

    /// Puts the fake back as it started: fixtures, clock, settings, tokens.
    pub async fn reset(&self) -> Result<(), Error> {
        either!(self,
            local s => { super::reset(s); Ok(()) },
            remote r => r.call(Method::POST, "/_fake/reset", None).await.map(drop))
    }

    /// The fake's current time.
    pub async fn now(&self) -> Result<Timestamp, Error> {
        either!(self,
            local s => Ok(super::clock(s).now),
            remote r => field(r.call(Method::GET, "/_fake/clock", None).await?, "now"))
    }

    /// Moves the clock forward by `by` (every backup moves with it); returns
    /// the new time.
    pub async fn advance(&self, by: Duration) -> Result<Timestamp, Error> {
        either!(self,
        local s => Ok(super::advance(s, by).now),
        remote r => {
            let body = json!({ "advance_secs": by.as_secs_f64() });
            field(r.call(Method::POST, "/_fake/clock", Some(&body)).await?, "now")
        })
    }

    /// Sets the clock to `to` (never backwards); returns the new time.
    pub async fn set_time(&self, to: &Timestamp) -> Result<Timestamp, Error> {
        either!(self,
        local s => Ok(super::set_time(s, to)?.now),
        remote r => {
            let body = json!({ "set": to.to_string() });
            field(r.call(Method::POST, "/_fake/clock", Some(&body)).await?, "now")
        })
    }

    /// The global lifecycle settings.
    pub async fn lifecycle(&self) -> Result<Lifecycle, Error> {
        either!(self,
            local s => Ok(super::lifecycle(s)),
            remote r => decode(r.call(Method::GET, "/_fake/lifecycle", None).await?))
    }

    /// Changes the global lifecycle settings for backups created from now on.
    pub async fn set_lifecycle(&self, patch: &LifecyclePatch) -> Result<Lifecycle, Error> {
        either!(self,
            local s => super::set_lifecycle(s, patch),
            remote r => decode(r.call(Method::PUT, "/_fake/lifecycle", Some(&json!(patch))).await?))
    }

    /// One database's lifecycle override and the settings in effect.
    pub async fn database_lifecycle(&self, db: &str) -> Result<DatabaseLifecycle, Error> {
        either!(self,
            local s => super::database_lifecycle(s, db),
            remote r => decode(r.call(Method::GET, &format!("/_fake/databases/{db}/lifecycle"), None).await?))
    }

    /// Merges `patch` into one database's lifecycle override.
    pub async fn set_database_lifecycle(&self, db: &str, patch: &LifecyclePatch) -> Result<DatabaseLifecycle, Error> {
        either!(self,
        local s => super::set_database_lifecycle(s, db, patch),
        remote r => {
            let path = format!("/_fake/databases/{db}/lifecycle");
            decode(r.call(Method::PUT, &path, Some(&json!(patch))).await?)
        })
    }

    /// The retention cap (`None`: no cap).
    pub async fn retention(&self) -> Result<Option<usize>, Error> {
        either!(self,
            local s => Ok(super::retention(s)),
            remote r => field(r.call(Method::GET, "/_fake/retention", None).await?, "max_backups_per_database"))
    }

    /// Caps the backups kept per database and applies the cap now; 0 is refused.
    pub async fn set_retention(&self, cap: Option<usize>) -> Result<(), Error> {
        either!(self,
        local s => super::set_retention(s, cap).map(drop),
        remote r => {
            let body = json!({ "max_backups_per_database": cap });
            r.call(Method::PUT, "/_fake/retention", Some(&body)).await.map(drop)
        })
    }

    /// The global seed.
    pub async fn seed(&self) -> Result<u64, Error> {
        either!(self,
            local s => Ok(super::seed(s)),
            remote r => field(r.call(Method::GET, "/_fake/seed", None).await?, "seed"))
    }

    /// Re-seeds every database (`db` = `None`) or gives one a seed of its own.
    pub async fn reseed(&self, seed: u64, db: Option<&str>) -> Result<(), Error> {
        either!(self,
        local s => super::reseed(s, seed, db),
        remote r => {
            let body = json!({ "seed": seed, "database": db });
            r.call(Method::PUT, "/_fake/seed", Some(&body)).await.map(drop)
        })
    }

    /// Makes a backup `done` now.
    pub async fn complete_backup(&self, id: &str) -> Result<Backup, Error> {
        self.finish(id, Outcome::Done).await
    }

    /// Makes a backup `error` now.
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
    pub async fn databases(&self) -> Result<Vec<DatabaseInfo>, Error> {
        either!(self,
            local s => Ok(super::databases(s)),
            remote r => field(r.call(Method::GET, "/_fake/databases", None).await?, "databases"))
    }

    /// Creates a database from a fixture-shaped JSON object in which every
    /// field may be left out (`{}` is a PostgreSQL database with a generated
    /// id); returns its id and a token that opens it alone. Tests that each
    /// own a database can share one fake in parallel.
    pub async fn create_database(&self, spec: Value) -> Result<CreatedDatabase, Error> {
        either!(self,
            local s => super::create_database(s, object(spec)?),
            remote r => decode(r.call(Method::POST, "/_fake/databases", Some(&spec)).await?))
    }

    /// Deletes a database and its backups.
    pub async fn delete_database(&self, db: &str) -> Result<(), Error> {
        either!(self,
            local s => super::delete_database(s, db),
            remote r => r.call(Method::DELETE, &format!("/_fake/databases/{db}"), None).await.map(drop))
    }

    /// Puts one database back as it was made.
    pub async fn reset_database(&self, db: &str) -> Result<DatabaseInfo, Error> {
        either!(self,
            local s => super::reset_database(s, db),
            remote r => field(r.call(Method::POST, &format!("/_fake/databases/{db}/reset"), None).await?, "database"))
    }

    /// Adds a backup in any state (fixture-shaped JSON: `created_at`, and a
    /// `status` or a `progress`; `id` generated when left out).
    pub async fn seed_backup(&self, db: &str, spec: Value) -> Result<Backup, Error> {
        either!(self,
        local s => super::seed_backup(s, db, object(spec)?),
        remote r => {
            let path = format!("/_fake/databases/{db}/backups");
            field(r.call(Method::POST, &path, Some(&spec)).await?, "database_backup")
        })
    }

    /// Every database in the fixtures format, as it stands now (backups in
    /// progress keep moving on the clock when loaded back).
    pub async fn export_state(&self) -> Result<Value, Error> {
        either!(self,
            local s => Ok(super::export_state(s)),
            remote r => r.call(Method::GET, "/_fake/state", None).await)
    }

    /// Replaces every database with `state` (the fixtures format, as
    /// [`Self::export_state`] gives it), checked like a fixture file: nothing
    /// changes if it is invalid. The clock and settings stay.
    pub async fn import_state(&self, state: &Value) -> Result<(), Error> {
        either!(self,
            local s => super::import_state(s, state),
            remote r => r.call(Method::PUT, "/_fake/state", Some(state)).await.map(drop))
    }

    /// The recorded requests `filter` keeps, oldest first (the journal holds
    /// the latest ones only: `--journal-size`, 1000 by default).
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
    pub async fn count_requests(&self, operation: &str) -> Result<usize, Error> {
        Ok(self
            .requests(&RequestFilter::default().operation(operation))
            .await?
            .len())
    }

    /// The latest recorded request of `operation`.
    pub async fn last_request(&self, operation: &str) -> Result<Option<RecordedRequest>, Error> {
        let filter = RequestFilter::default().operation(operation).limit(1);
        Ok(self.requests(&filter).await?.pop())
    }

    /// Empties the journal.
    pub async fn clear_requests(&self) -> Result<(), Error> {
        either!(self,
            local s => { super::clear_requests(s); Ok(()) },
            remote r => r.call(Method::DELETE, "/_fake/requests", None).await.map(drop))
    }

    /// Adds a fault rule; returns it as stored, with its id. Rules apply to
    /// the database API, the `/v1` routes and downloads, never to `/_fake`.
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
    pub async fn faults(&self) -> Result<Vec<Fault>, Error> {
        either!(self,
            local s => Ok(super::faults(s)),
            remote r => field(r.call(Method::GET, "/_fake/faults", None).await?, "faults"))
    }

    /// Removes one fault rule; an unknown id is `NotFound("fault")`.
    pub async fn remove_fault(&self, id: &str) -> Result<(), Error> {
        either!(self,
            local s => super::remove_fault(s, id).map(drop),
            remote r => r.call(Method::DELETE, &format!("/_fake/faults/{id}"), None).await.map(drop))
    }

    /// Removes every fault rule.
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
