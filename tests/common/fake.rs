//! In-process fakes on a manual clock, and the database API calls the tests
//! make on a running fake (in-process or the binary).

use scalingo_db_fake::{FakeServer, FakeServerBuilder, Lifecycle};
use serde_json::Value;

use super::http::{self, Resp};

/// 2024-01-01T00:00:00Z.
pub const JAN_1_2024: i64 = 1_704_067_200_000;

/// Lifecycle settings with the given phases (in seconds) and failure rate,
/// and final sizes from 10 000 to 20 000 bytes.
pub fn lifecycle(scheduled: f64, pending: f64, running: f64, failure_rate: f64) -> Lifecycle {
    Lifecycle {
        scheduled_secs: scheduled,
        pending_secs: pending,
        running_secs: running,
        failure_rate,
        size_min: 10_000,
        size_max: 20_000,
    }
}

/// A builder for a fake on a manual clock that starts at `start_millis`,
/// with a fixed seed.
pub fn manual(start_millis: i64, seed: u64) -> FakeServerBuilder {
    FakeServer::builder()
        .manual_clock()
        .clock_start_millis(start_millis)
        .seed(seed)
}

/// `POST /_fake/clock {"advance_secs": secs}` on the fake at `base`; fails
/// the test unless it answers 200.
pub async fn advance_clock(base: &str, secs: f64) -> Resp {
    let r = http::control_post(
        &format!("{base}/_fake/clock"),
        Some(&format!("{{\"advance_secs\": {secs}}}")),
    )
    .await;
    assert_eq!(r.status, 200, "advance the clock by {secs} s: {}", r.text());
    r
}

/// The database API of a running fake, called with one token.
pub struct Api {
    /// `http://ADDR:PORT`.
    pub base: String,
    pub token: String,
}

impl Api {
    /// An in-process fake, with its server token (good on every database).
    pub fn of(fake: &FakeServer) -> Self {
        Self::at(&fake.url(), fake.token())
    }

    /// The fake at `base`, with `token`.
    pub fn at(base: &str, token: &str) -> Self {
        Self {
            base: base.to_string(),
            token: token.to_string(),
        }
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST /api/databases/:db/backups` with `{}`.
    pub async fn create_backup(&self, db: &str) -> Resp {
        http::post(&self.url(&format!("/api/databases/{db}/backups")), &self.token, "{}").await
    }

    /// `GET /api/backups/:id`: the backup object; fails the test unless 200.
    pub async fn show_backup(&self, id: &str) -> Value {
        let r = http::get(&self.url(&format!("/api/backups/{id}")), &self.token).await;
        assert_eq!(r.status, 200, "show backup {id}: {}", r.text());
        r.json()["database_backup"].clone()
    }

    /// `GET /api/databases/:db/backups`: the whole response; fails the test
    /// unless 200.
    pub async fn list(&self, db: &str) -> Resp {
        let r = http::get(&self.url(&format!("/api/databases/{db}/backups")), &self.token).await;
        assert_eq!(r.status, 200, "list the backups of {db}: {}", r.text());
        r
    }

    /// `GET /api/databases/:db/backups`: the backup objects, newest first.
    pub async fn list_backups(&self, db: &str) -> Vec<Value> {
        self.list(db).await.json()["database_backups"]
            .as_array()
            .expect("database_backups is a list")
            .clone()
    }

    /// `GET /api/databases/:db/backups/:id/archive` with extra `headers`.
    pub async fn archive_link(&self, db: &str, id: &str, headers: &[(&str, &str)]) -> Resp {
        let auth = format!("Bearer {}", self.token);
        let mut h = vec![("authorization", auth.as_str())];
        h.extend_from_slice(headers);
        http::send(
            hyper::Method::GET,
            &self.url(&format!("/api/databases/{db}/backups/{id}/archive")),
            &h,
            None,
        )
        .await
    }

    /// The `download_url` of a done backup; fails the test unless the
    /// archive route answers 200.
    pub async fn download_url(&self, db: &str, id: &str) -> String {
        let r = self.archive_link(db, id, &[]).await;
        assert_eq!(r.status, 200, "archive link of {id}: {}", r.text());
        r.json()["download_url"]
            .as_str()
            .unwrap_or_else(|| panic!("no download_url: {}", r.text()))
            .to_string()
    }
}
