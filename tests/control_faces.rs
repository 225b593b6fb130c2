//! Every control operation has two faces, the `/_fake` HTTP route and the
//! method of the in-process handle, over one core. These tests run each
//! operation through both, on two fakes started alike, and check that they
//! accept and refuse the same inputs (same fields in the errors) and leave
//! the fakes in the same state.

mod common;

use std::time::Duration;

use scalingo_db_fake::{Error, FakeServer, LifecyclePatch, Timestamp};
use serde_json::{json, Value};

const START: &str = "2024-03-01T10:00:00.000+00:00";

/// Two fakes started alike: the first is steered over HTTP, the second
/// through its Rust methods.
async fn twins() -> (FakeServer, FakeServer) {
    let start = Timestamp::parse(START).unwrap().millis();
    let one = || {
        FakeServer::builder()
            .manual_clock()
            .clock_start_millis(start)
            .seed(11)
            .start()
    };
    (one().await, one().await)
}

/// Everything a test can observe of a fake's state, as JSON.
fn state(fake: &FakeServer) -> Value {
    let dbs: Vec<Value> = fake
        .databases()
        .iter()
        .map(|db| json!({ "db": fake.database(db).ok(), "backups": fake.backups(db).ok() }))
        .collect();
    json!({
        "now": fake.now().to_string(),
        "lifecycle": fake.lifecycle(),
        "seed": fake.seed(),
        "databases": dbs,
    })
}

/// The fields a 422 body names, or the resource of a 404, as the Rust error
/// would say them.
fn http_error_fields(r: &common::Resp) -> Vec<String> {
    let v = r.json();
    match r.status {
        422 => {
            let mut fields: Vec<String> = v["errors"].as_object().unwrap().keys().cloned().collect();
            fields.sort();
            fields
        }
        404 => vec![format!("404 {}", v["resource"].as_str().unwrap())],
        other => panic!("not a control error: {other} {v}"),
    }
}

fn rust_error_fields(e: &Error) -> Vec<String> {
    match e {
        Error::Invalid(errors) => {
            let mut fields: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
            fields.sort();
            fields.dedup();
            fields
        }
        Error::NotFound(resource) => vec![format!("404 {resource}")],
        other => panic!("not a control error: {other}"),
    }
}

async fn post_json(fake: &FakeServer, path: &str, body: &Value) -> common::Resp {
    common::control_post(&format!("{}{path}", fake.url()), Some(&body.to_string())).await
}

async fn put_json(fake: &FakeServer, path: &str, body: &Value) -> common::Resp {
    common::control_put(&format!("{}{path}", fake.url()), &body.to_string()).await
}

/// Both faces succeeded and the fakes agree.
fn same_success(http: &common::Resp, rust: Result<(), Error>, a: &FakeServer, b: &FakeServer) {
    assert_eq!(http.status, 200, "{}", http.text());
    rust.unwrap_or_else(|e| panic!("the Rust face refused what HTTP accepted: {e}"));
    assert_eq!(state(a), state(b));
}

/// Both faces refused, naming the same fields, and neither fake changed.
fn same_refusal(http: &common::Resp, rust: Result<(), Error>, a: &FakeServer, b: &FakeServer, before: &Value) {
    let e = rust.expect_err("the Rust face accepted what HTTP refused");
    assert_eq!(http_error_fields(http), rust_error_fields(&e), "{}", http.text());
    assert_eq!(&state(a), before);
    assert_eq!(&state(b), before);
}

#[tokio::test]
async fn advancing_the_clock_moves_both_fakes_alike() {
    let (a, b) = twins().await;
    a.create_backup("my-db-123").unwrap();
    b.create_backup("my-db-123").unwrap();
    let r = post_json(&a, "/_fake/clock", &json!({ "advance_secs": 3600.5 })).await;
    b.advance(Duration::from_millis(3_600_500));
    same_success(&r, Ok(()), &a, &b);
}

#[tokio::test]
async fn setting_the_clock_forward_is_accepted_and_backwards_refused_by_both() {
    let (a, b) = twins().await;
    let later = "2024-03-02T00:00:00.000+00:00";
    let r = post_json(&a, "/_fake/clock", &json!({ "set": later })).await;
    let rust = b.set_time(Timestamp::parse(later).unwrap());
    same_success(&r, rust, &a, &b);
    let before = state(&a);
    let r = post_json(&a, "/_fake/clock", &json!({ "set": START })).await;
    let rust = b.set_time(Timestamp::parse(START).unwrap());
    same_refusal(&r, rust, &a, &b, &before);
}

#[tokio::test]
async fn lifecycle_changes_are_judged_alike() {
    let (a, b) = twins().await;
    let good = json!({ "running_secs": 30.0, "failure_rate": 0.25 });
    let r = put_json(&a, "/_fake/lifecycle", &good).await;
    let patch: LifecyclePatch = serde_json::from_value(good).unwrap();
    same_success(&r, b.set_lifecycle(&patch).map(drop), &a, &b);

    let before = state(&a);
    let bad = json!({ "failure_rate": 1.5, "size_min": 1 });
    let r = put_json(&a, "/_fake/lifecycle", &bad).await;
    let patch: LifecyclePatch = serde_json::from_value(bad).unwrap();
    same_refusal(&r, b.set_lifecycle(&patch).map(drop), &a, &b, &before);
}

#[tokio::test]
async fn a_database_lifecycle_is_judged_alike_and_an_unknown_database_is_404_for_both() {
    let (a, b) = twins().await;
    let good = json!({ "scheduled_secs": 1.0 });
    let r = put_json(&a, "/_fake/databases/my-db-123/lifecycle", &good).await;
    let patch: LifecyclePatch = serde_json::from_value(good.clone()).unwrap();
    same_success(&r, b.set_database_lifecycle("my-db-123", &patch).map(drop), &a, &b);
    // The effect shows: a new backup leaves `scheduled` after one second on both.
    a.create_backup("my-db-123").unwrap();
    b.create_backup("my-db-123").unwrap();
    a.advance(Duration::from_millis(1_000));
    b.advance(Duration::from_millis(1_000));
    assert_eq!(state(&a), state(&b));

    let before = state(&a);
    let bad = json!({ "running_secs": -1.0 });
    let r = put_json(&a, "/_fake/databases/my-db-123/lifecycle", &bad).await;
    let patch: LifecyclePatch = serde_json::from_value(bad).unwrap();
    same_refusal(
        &r,
        b.set_database_lifecycle("my-db-123", &patch).map(drop),
        &a,
        &b,
        &before,
    );

    let r = put_json(&a, "/_fake/databases/nope/lifecycle", &good).await;
    let patch: LifecyclePatch = serde_json::from_value(good).unwrap();
    same_refusal(&r, b.set_database_lifecycle("nope", &patch).map(drop), &a, &b, &before);
}

#[tokio::test]
async fn a_retention_of_zero_is_refused_by_both_faces_and_deletes_nothing() {
    let (a, b) = twins().await;
    let before = state(&a);
    let r = put_json(&a, "/_fake/retention", &json!({ "max_backups_per_database": 0 })).await;
    same_refusal(&r, b.set_retention(Some(0)), &a, &b, &before);
    assert!(
        !a.backups("my-db-123").unwrap().is_empty(),
        "the seed's backups are all still there"
    );
}

#[tokio::test]
async fn a_retention_cap_drops_the_same_backups_through_both_faces() {
    let (a, b) = twins().await;
    let r = put_json(&a, "/_fake/retention", &json!({ "max_backups_per_database": 2 })).await;
    same_success(&r, b.set_retention(Some(2)), &a, &b);
    assert!(a.backups("ad-7c1e5d0a-3b9f-4e2a-8d6c-51f0a2b4c9e3").unwrap().len() <= 2);
    let r = put_json(&a, "/_fake/retention", &json!({ "max_backups_per_database": null })).await;
    same_success(&r, b.set_retention(None), &a, &b);
}

#[tokio::test]
async fn reseeding_gives_the_same_draws_through_both_faces() {
    let (a, b) = twins().await;
    let r = put_json(&a, "/_fake/seed", &json!({ "seed": 99 })).await;
    b.reseed(99);
    same_success(&r, Ok(()), &a, &b);
    let r = put_json(&a, "/_fake/seed", &json!({ "seed": 5, "database": "my-db-123" })).await;
    same_success(&r, b.reseed_database("my-db-123", 5), &a, &b);
    a.create_backup("my-db-123").unwrap();
    b.create_backup("my-db-123").unwrap();
    assert_eq!(state(&a), state(&b), "the same ids are drawn");

    let before = state(&a);
    let r = put_json(&a, "/_fake/seed", &json!({ "seed": 5, "database": "nope" })).await;
    same_refusal(&r, b.reseed_database("nope", 5), &a, &b, &before);
}

#[tokio::test]
async fn completing_and_failing_a_backup_agree_and_an_unknown_backup_is_404_for_both() {
    let (a, b) = twins().await;
    let id = a.create_backup("my-db-123").unwrap().id;
    assert_eq!(b.create_backup("my-db-123").unwrap().id, id, "twins draw the same id");
    let r = post_json(&a, &format!("/_fake/backups/{id}/complete"), &json!({})).await;
    same_success(&r, b.complete_backup(&id).map(drop), &a, &b);

    let id = a.create_backup("my-db-123").unwrap().id;
    b.create_backup("my-db-123").unwrap();
    let r = post_json(&a, &format!("/_fake/backups/{id}/fail"), &json!({})).await;
    same_success(&r, b.fail_backup(&id).map(drop), &a, &b);

    let before = state(&a);
    let missing = "000000000000000000000000";
    let r = post_json(&a, &format!("/_fake/backups/{missing}/complete"), &json!({})).await;
    same_refusal(&r, b.complete_backup(missing).map(drop), &a, &b, &before);
}
