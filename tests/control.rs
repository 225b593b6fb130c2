//! The `/_fake` control API over HTTP: what each route does and what it
//! refuses. These routes take no token, even when the database API asks for
//! one. Each test is one behaviour, named after it.
mod common;

use std::time::Duration;

use common::fake::{lifecycle, Api, JAN_1_2024};
use common::{control_get, control_post, control_put, Resp};
use hyper::Method;
use scalingo_db_fake::{FakeServer, FakeServerBuilder, Lifecycle, Status};
use serde_json::{json, Value};

/// The seed's database and another embedded one (a MySQL database).
const DB: &str = "my-db-123";
const BLOG: &str = "ad-0b8d2e6f-91a4-4c57-b3e8-6f2d7a9c1e05";
const SHOP: &str = "ad-7c1e5d0a-3b9f-4e2a-8d6c-51f0a2b4c9e3";
/// The seed's backup of `my-db-123` still in progress (`pending`).
const SEED_PENDING: &str = "5bde44904ffb096c714be89c";

/// A fake on a manual clock at 2024-01-01T00:00:00Z, seed 42, with `life`.
fn manual(life: Lifecycle) -> FakeServerBuilder {
    common::fake::manual(JAN_1_2024, 42).lifecycle(life)
}

/// The absolute URL of a control route.
fn at(fake: &FakeServer, path: &str) -> String {
    format!("{}/_fake{path}", fake.url())
}

/// A 422 whose `errors` map names at least one field.
fn assert_422_with_errors(r: &Resp, what: &str) {
    assert_eq!(r.status, 422, "{what}: {}", r.text());
    let v = r.json();
    let errors = v["errors"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: no errors map: {v}"));
    assert!(!errors.is_empty(), "{what}: {v}");
}

// ---------------------------------------------------------------------------
// Health, and the routes as a whole
// ---------------------------------------------------------------------------

#[tokio::test]
async fn health_answers_200_ok_without_a_token() {
    let fake = FakeServer::builder().manual_clock().start().await;
    let r = control_get(&at(&fake, "/health")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json(), json!({"status": "ok"}));
    // The database API on the same fake does ask for a token.
    let r = common::send(Method::GET, &Api::of(&fake).url("/api/databases/my-db-123"), &[], None).await;
    assert_eq!(r.status, 401, "{}", r.text());
}

#[tokio::test]
async fn a_control_route_refuses_a_wrong_method_with_405_and_its_allow_header() {
    let fake = manual(Lifecycle::default()).start().await;
    // Each body is one the route would act on, had it taken the method.
    for (method, path, allow, body) in [
        (Method::DELETE, "/clock", "GET, HEAD, POST", r#"{"advance_secs": 60}"#),
        (Method::PUT, "/clock", "GET, HEAD, POST", r#"{"advance_secs": 60}"#),
        (Method::POST, "/health", "GET, HEAD", "{}"),
        (
            Method::PATCH,
            "/lifecycle",
            "GET, HEAD, PUT",
            r#"{"failure_rate": 1.0}"#,
        ),
        (
            Method::POST,
            "/retention",
            "GET, HEAD, PUT",
            r#"{"max_backups_per_database": 1}"#,
        ),
        (Method::DELETE, "/seed", "GET, HEAD, PUT", r#"{"seed": 7}"#),
        (
            Method::POST,
            "/databases/my-db-123/lifecycle",
            "GET, HEAD, PUT",
            r#"{"failure_rate": 1.0}"#,
        ),
        (Method::GET, "/backups/5bde44904ffb096c714be89c/complete", "POST", ""),
        (Method::PUT, "/backups/5bde44904ffb096c714be89c/fail", "POST", ""),
    ] {
        let r = common::send(method.clone(), &at(&fake, path), &[], Some(body.as_bytes())).await;
        let what = format!("{method} /_fake{path}");
        assert_eq!(r.status, 405, "{what}: {}", r.text());
        assert_eq!(r.header("allow"), Some(allow), "{what}");
        assert!(r.json()["error"].is_string(), "{what}: {}", r.text());
    }
    // None of the refused requests did anything.
    assert_eq!(fake.now().to_string(), "2024-01-01T00:00:00.000+00:00");
    assert_eq!(fake.lifecycle(), Lifecycle::default());
    assert_eq!(fake.seed(), 42);
    assert_eq!(fake.backups(DB).unwrap().len(), 3);
    assert_eq!(fake.backup(SEED_PENDING).unwrap().status, Status::Pending);
    let r = control_get(&at(&fake, "/databases/my-db-123/lifecycle")).await;
    assert_eq!(
        r.json()["effective"],
        serde_json::to_value(Lifecycle::default()).unwrap()
    );
}

#[tokio::test]
async fn an_unknown_control_route_is_404_route() {
    let fake = manual(Lifecycle::default()).start().await;
    for path in ["", "/", "/nothing", "/clock/extra", "/backups/5bde44904ffb096c714be89c"] {
        let r = control_get(&at(&fake, path)).await;
        assert_eq!(r.status, 404, "/_fake{path}: {}", r.text());
        assert_eq!(
            r.json(),
            json!({"resource": "route", "error": "not found"}),
            "/_fake{path}"
        );
    }
}

// ---------------------------------------------------------------------------
// The clock
// ---------------------------------------------------------------------------

#[tokio::test]
async fn get_clock_gives_the_time_the_mode_and_the_scale() {
    let fake = manual(Lifecycle::default()).start().await;
    let r = control_get(&at(&fake, "/clock")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"now": "2024-01-01T00:00:00.000+00:00", "mode": "manual", "time_scale": 1.0})
    );
}

#[tokio::test]
async fn advancing_the_clock_moves_it_by_that_many_seconds() {
    let fake = manual(Lifecycle::default()).start().await;
    let r = control_post(&at(&fake, "/clock"), Some(r#"{"advance_secs": 90.5}"#)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["now"], "2024-01-01T00:01:30.500+00:00");
    assert_eq!(fake.now().to_string(), "2024-01-01T00:01:30.500+00:00");
}

#[tokio::test]
async fn setting_the_clock_moves_it_to_that_instant_shown_in_utc() {
    let fake = manual(Lifecycle::default()).start().await;
    let r = control_post(&at(&fake, "/clock"), Some(r#"{"set":"2024-06-01T12:00:00.000+02:00"}"#)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["now"], "2024-06-01T10:00:00.000+00:00");
    assert_eq!(fake.now().to_string(), "2024-06-01T10:00:00.000+00:00");
}

#[tokio::test]
async fn the_clock_refuses_to_move_backwards() {
    let fake = manual(Lifecycle::default()).start().await;
    let url = at(&fake, "/clock");
    let r = control_post(&url, Some(r#"{"set":"2024-06-01T12:00:00.000+02:00"}"#)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = control_post(&url, Some(r#"{"set":"2024-01-01T00:00:00Z"}"#)).await;
    assert_eq!(r.status, 422, "backwards is refused");
    assert!(r.json()["errors"]["set"][0].as_str().unwrap().contains("backwards"));
    assert_eq!(
        fake.now().to_string(),
        "2024-06-01T10:00:00.000+00:00",
        "the refusal moved nothing"
    );
}

#[tokio::test]
async fn the_clock_refuses_anything_but_exactly_one_valid_advance_or_set() {
    let fake = manual(Lifecycle::default()).start().await;
    for bad in [
        r#"{"advance_secs":-5}"#,
        r#"{"advance_secs":1,"set":"2030-01-01T00:00:00Z"}"#,
        r#"{}"#,
        r#"{"set":"soon"}"#,
    ] {
        let r = control_post(&at(&fake, "/clock"), Some(bad)).await;
        assert_422_with_errors(&r, bad);
    }
    assert_eq!(
        fake.now().to_string(),
        "2024-01-01T00:00:00.000+00:00",
        "refusals moved nothing"
    );
}

// ---------------------------------------------------------------------------
// Forcing an outcome
// ---------------------------------------------------------------------------

/// `POST /_fake/backups/:id/<action>`.
async fn force(fake: &FakeServer, id: &str, action: &str) -> Resp {
    control_post(&at(fake, &format!("/backups/{id}/{action}")), None).await
}

#[tokio::test]
async fn complete_makes_a_backup_done_now_with_its_drawn_size() {
    let fake = manual(lifecycle(100.0, 0.0, 100.0, 0.0)).start().await;
    let a = fake.create_backup(DB).unwrap();
    let r = force(&fake, &a.id, "complete").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let done = r.json()["database_backup"].clone();
    assert_eq!(done["status"], "done");
    assert!(done["size"].as_u64().unwrap() >= 10_000);
    assert_eq!(done["started_at"], "2024-01-01T00:00:00.000+00:00");
}

#[tokio::test]
async fn fail_makes_a_backup_error_now_with_size_zero() {
    let fake = manual(lifecycle(100.0, 0.0, 100.0, 0.0)).start().await;
    let b = fake.create_backup(DB).unwrap();
    let r = force(&fake, &b.id, "fail").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        (
            r.json()["database_backup"]["status"].as_str(),
            r.json()["database_backup"]["size"].as_u64()
        ),
        (Some("error"), Some(0))
    );
}

#[tokio::test]
async fn a_forced_outcome_stays_whatever_the_clock_does() {
    // 100 s scheduled, 100 s running, never failing: left alone, both
    // backups would be `scheduled` after 1 s and `done` after 1000 s.
    let fake = manual(lifecycle(100.0, 0.0, 100.0, 0.0)).start().await;
    let a = fake.create_backup(DB).unwrap();
    let b = fake.create_backup(DB).unwrap();
    assert_eq!(force(&fake, &a.id, "complete").await.status, 200);
    assert_eq!(force(&fake, &b.id, "fail").await.status, 200);
    fake.advance(Duration::from_secs(1));
    assert_eq!(
        fake.backup(&a.id).unwrap().status,
        Status::Done,
        "kept while it would still be scheduled"
    );
    assert_eq!(
        fake.backup(&b.id).unwrap().status,
        Status::Error,
        "kept while it would still be scheduled"
    );
    fake.advance(Duration::from_secs(1000));
    assert_eq!(fake.backup(&a.id).unwrap().status, Status::Done);
    assert_eq!(
        fake.backup(&b.id).unwrap().status,
        Status::Error,
        "kept where it would have finished done"
    );
}

#[tokio::test]
async fn forcing_the_outcome_of_an_unknown_backup_is_404_backup() {
    let fake = manual(Lifecycle::default()).start().await;
    for action in ["complete", "fail"] {
        let r = force(&fake, &"0".repeat(24), action).await;
        assert_eq!(r.status, 404, "{action}: {}", r.text());
        assert_eq!(r.json()["resource"], "backup", "{action}");
    }
}

// ---------------------------------------------------------------------------
// Lifecycle settings
// ---------------------------------------------------------------------------

#[tokio::test]
async fn get_lifecycle_gives_the_global_settings() {
    let fake = manual(lifecycle(2.0, 0.0, 5.0, 0.0)).start().await;
    let r = control_get(&at(&fake, "/lifecycle")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["scheduled_secs"], 2.0);
    assert_eq!(v["pending_secs"], 0.0);
    assert_eq!(v["running_secs"], 5.0);
    assert_eq!(v["failure_rate"], 0.0);
    assert_eq!(v["size_min"], 10_000);
    assert_eq!(v["size_max"], 20_000);
}

#[tokio::test]
async fn put_lifecycle_changes_the_given_settings_and_keeps_the_others() {
    let fake = manual(lifecycle(2.0, 0.0, 5.0, 0.0)).start().await;
    let r = control_put(&at(&fake, "/lifecycle"), r#"{"running_secs": 60, "failure_rate": 1.0}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        (r.json()["running_secs"].as_f64(), r.json()["scheduled_secs"].as_f64()),
        (Some(60.0), Some(2.0))
    );
    assert_eq!(
        fake.lifecycle(),
        Lifecycle {
            running_secs: 60.0,
            failure_rate: 1.0,
            ..lifecycle(2.0, 0.0, 5.0, 0.0)
        }
    );
}

#[tokio::test]
async fn new_backups_follow_the_lifecycle_put_over_http() {
    let fake = manual(lifecycle(2.0, 0.0, 5.0, 0.0)).start().await;
    let r = control_put(&at(&fake, "/lifecycle"), r#"{"running_secs": 60, "failure_rate": 1.0}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let b = fake.create_backup(DB).unwrap();
    fake.advance(Duration::from_secs(61));
    assert_eq!(
        fake.backup(&b.id).unwrap().status,
        Status::Running,
        "new backups take the new durations"
    );
    fake.advance(Duration::from_secs(1));
    assert_eq!(fake.backup(&b.id).unwrap().status, Status::Error);
}

#[tokio::test]
async fn invalid_lifecycle_settings_are_422_and_change_nothing() {
    let fake = manual(lifecycle(2.0, 0.0, 5.0, 0.0)).start().await;
    let url = at(&fake, "/lifecycle");
    let before = control_get(&url).await.json();
    for bad in [
        r#"{"failure_rate": 2}"#,
        r#"{"scheduled_secs": -1}"#,
        r#"{"size_min": 10}"#,
        r#"{"nope": 1}"#,
    ] {
        let r = control_put(&url, bad).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text());
        assert_eq!(control_get(&url).await.json(), before, "{bad} changed the settings");
    }
    assert_eq!(
        fake.lifecycle(),
        lifecycle(2.0, 0.0, 5.0, 0.0),
        "refused changes change nothing"
    );
}

#[tokio::test]
async fn a_database_lifecycle_override_applies_to_that_database_only() {
    // Every backup fails, unless its database says otherwise.
    let fake = manual(lifecycle(2.0, 0.0, 5.0, 1.0)).start().await;
    let r = control_put(&at(&fake, "/databases/my-db-123/lifecycle"), r#"{"failure_rate": 0.0}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["effective"]["failure_rate"], 0.0);
    assert_eq!(
        r.json()["effective"]["running_secs"],
        5.0,
        "the rest is the global settings"
    );
    let b = fake.create_backup(DB).unwrap();
    fake.advance(Duration::from_secs(100));
    assert_eq!(fake.backup(&b.id).unwrap().status, Status::Done);
    let other = fake.create_backup(BLOG).unwrap();
    fake.advance(Duration::from_secs(100));
    assert_eq!(
        fake.backup(&other.id).unwrap().status,
        Status::Error,
        "other databases keep the global rate"
    );
}

#[tokio::test]
async fn a_lifecycle_override_for_an_unknown_database_is_404_database() {
    let fake = manual(Lifecycle::default()).start().await;
    let url = at(&fake, "/databases/nope/lifecycle");
    for r in [
        control_get(&url).await,
        control_put(&url, r#"{"failure_rate": 0.0}"#).await,
    ] {
        assert_eq!(r.status, 404, "{}", r.text());
        assert_eq!(r.json()["resource"], "database");
    }
}

// ---------------------------------------------------------------------------
// Retention
// ---------------------------------------------------------------------------

#[tokio::test]
async fn get_retention_is_null_when_there_is_no_cap() {
    let fake = manual(lifecycle(0.0, 0.0, 0.0, 0.0)).start().await;
    let r = control_get(&at(&fake, "/retention")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"max_backups_per_database": null}));
}

#[tokio::test]
async fn put_retention_trims_every_database_at_once_keeping_backups_in_progress() {
    let fake = manual(lifecycle(0.0, 0.0, 0.0, 0.0)).start().await;
    for _ in 0..4 {
        fake.create_backup(DB).unwrap();
    }
    fake.advance(Duration::from_secs(1));
    assert_eq!(fake.backups(DB).unwrap().len(), 7);
    let r = control_put(&at(&fake, "/retention"), r#"{"max_backups_per_database": 2}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"max_backups_per_database": 2}));
    let left = fake.backups(DB).unwrap();
    assert_eq!(left.len(), 2, "trimmed without waiting for the next backup");
    // The newest manual backup stays, and so does the seed's `pending` one:
    // a backup in progress is never dropped; the finished ones, oldest first, are.
    assert_eq!(left[0].method, scalingo_db_fake::Method::Manual);
    assert_eq!(left[1].id, SEED_PENDING);
    assert_eq!(fake.backups(SHOP).unwrap().len(), 2, "every database is capped");
}

#[tokio::test]
async fn invalid_retention_values_are_422_and_change_nothing() {
    let fake = manual(lifecycle(0.0, 0.0, 0.0, 0.0)).start().await;
    let url = at(&fake, "/retention");
    for bad in [
        r#"{"max_backups_per_database": 0}"#,
        r#"{"max_backups_per_database": "2"}"#,
        r#"{}"#,
    ] {
        assert_eq!(control_put(&url, bad).await.status, 422, "{bad}");
        assert_eq!(
            control_get(&url).await.json()["max_backups_per_database"],
            Value::Null,
            "{bad} set a cap"
        );
    }
}

#[tokio::test]
async fn a_null_retention_lifts_the_cap() {
    let fake = manual(lifecycle(0.0, 0.0, 0.0, 0.0)).start().await;
    let url = at(&fake, "/retention");
    assert_eq!(
        control_put(&url, r#"{"max_backups_per_database": 2}"#).await.status,
        200
    );
    let r = control_put(&url, r#"{"max_backups_per_database": null}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["max_backups_per_database"], Value::Null);
    for _ in 0..3 {
        fake.create_backup(DB).unwrap();
    }
    fake.advance(Duration::from_secs(1));
    assert_eq!(fake.backups(DB).unwrap().len(), 5, "nothing trimmed past the old cap");
}

// ---------------------------------------------------------------------------
// Seeds
// ---------------------------------------------------------------------------

/// A fake for the seed tests: half the backups fail.
async fn seeded(seed: u64) -> FakeServer {
    manual(lifecycle(0.0, 0.0, 0.0, 0.5)).seed(seed).start().await
}

#[tokio::test]
async fn put_seed_replays_the_ids_of_a_fresh_start_with_that_seed() {
    let fresh = seeded(99).await;
    let expected: Vec<String> = (0..5).map(|_| fresh.create_backup(DB).unwrap().id).collect();

    let fake = seeded(1).await;
    fake.create_backup(DB).unwrap();
    let r = control_put(&at(&fake, "/seed"), r#"{"seed": 99}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(fake.seed(), 99);
    assert_eq!(control_get(&at(&fake, "/seed")).await.json(), json!({"seed": 99}));
    let got: Vec<String> = (0..5).map(|_| fake.create_backup(DB).unwrap().id).collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn put_seed_for_one_database_replays_its_ids() {
    let fake = seeded(1).await;
    let r = control_put(&at(&fake, "/seed"), r#"{"seed": 5, "database": "my-db-123"}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let a = fake.create_backup(DB).unwrap().id;
    let other = seeded(123).await;
    other.reseed_database(DB, 5).unwrap();
    assert_eq!(
        other.create_backup(DB).unwrap().id,
        a,
        "a database's own seed replays its ids"
    );
}

#[tokio::test]
async fn reseeding_a_database_twice_in_one_second_never_hands_out_an_id_twice() {
    let fake = seeded(1).await;
    let reseed = r#"{"seed": 5, "database": "my-db-123"}"#;
    assert_eq!(control_put(&at(&fake, "/seed"), reseed).await.status, 200);
    let a = fake.create_backup(DB).unwrap().id;
    assert_eq!(control_put(&at(&fake, "/seed"), reseed).await.status, 200);
    let again = fake.create_backup(DB).unwrap().id;
    assert_ne!(again, a);
}

#[tokio::test]
async fn two_databases_given_the_same_seed_get_different_ids() {
    let fake = seeded(1).await;
    let seed_db = |db: &str| format!(r#"{{"seed": 5, "database": "{db}"}}"#);
    assert_eq!(control_put(&at(&fake, "/seed"), &seed_db(DB)).await.status, 200);
    let a = fake.create_backup(DB).unwrap().id;
    assert_eq!(control_put(&at(&fake, "/seed"), &seed_db(BLOG)).await.status, 200);
    let mysql = fake.create_backup(BLOG).unwrap();
    assert_ne!(mysql.id, a);
    assert_eq!(fake.backup(&mysql.id).unwrap().database_id, "60a3c5e14ffb0912c7d8e4f1");
    assert_eq!(fake.backup(&a).unwrap().database_id, "597601234ffb097af4f3099b");
}

#[tokio::test]
async fn put_seed_for_an_unknown_database_is_404_database() {
    let fake = seeded(1).await;
    let r = control_put(&at(&fake, "/seed"), r#"{"seed": 5, "database": "nope"}"#).await;
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.json()["resource"], "database");
}

#[tokio::test]
async fn put_seed_without_a_whole_number_is_422() {
    let fake = seeded(1).await;
    for bad in [r#"{"seed": -1}"#, r#"{"seed": "5"}"#, r#"{}"#] {
        let r = control_put(&at(&fake, "/seed"), bad).await;
        assert_422_with_errors(&r, bad);
    }
    assert_eq!(fake.seed(), 1, "nothing was re-seeded");
}
