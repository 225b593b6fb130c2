//! Fault rules, observed from real clients over loopback: each effect (an
//! error status, latency, a reset, a cut body, a slow body), how rules pick
//! their requests (method, route template, operation, database; never
//! `/_fake`), seeded probabilities and counts, the `/_fake/faults` listing
//! and deletions, the 422s of invalid rules, and the Rust face agreeing with
//! the HTTP one.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use scalingo_db_fake::{Error, FakeServer, Fault, FaultEffect, FaultMatch, FaultRule};
use serde_json::{json, Value};

use common::fake::{manual, Api, JAN_1_2024};
use common::Resp;

const DB: &str = "my-db-123";
const DB_ID: &str = "597601234ffb097af4f3099b";
const OTHER_DB: &str = "ad-7c1e5d0a-3b9f-4e2a-8d6c-51f0a2b4c9e3";
const DONE_BACKUP: &str = "5b8b36104ffb090be1ac3ce1";
const LIST: &str = "/api/databases/my-db-123/backups";

async fn fake() -> FakeServer {
    manual(JAN_1_2024, 42).start().await
}

/// `POST /_fake/faults` with `rule`.
async fn add(fake: &FakeServer, rule: &Value) -> Resp {
    common::control_post(&format!("{}/_fake/faults", fake.url()), Some(&rule.to_string())).await
}

/// Adds `rule`, failing the test unless it is accepted.
async fn add_ok(fake: &FakeServer, rule: Value) -> Value {
    let r = add(fake, &rule).await;
    assert_eq!(r.status, 201, "add {rule}: {}", r.text());
    r.json()
}

/// `GET /_fake/faults`: the `faults` list.
async fn listed(fake: &FakeServer) -> Value {
    let r = common::control_get(&format!("{}/_fake/faults", fake.url())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["faults"].clone()
}

async fn delete(fake: &FakeServer, path: &str) -> Resp {
    common::send(Method::DELETE, &format!("{}{path}", fake.url()), &[], None).await
}

/// One request on a connection of its own: the whole response, or what
/// went wrong (the connection dropped, the body came incomplete).
async fn attempt(fake: &FakeServer, method: Method, path: &str) -> Result<Resp, String> {
    let authority = fake.address().to_string();
    let mut sender = common::connect(&authority).await;
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", &authority)
        .header("authorization", format!("Bearer {}", fake.token()))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("no response: {e}"))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("incomplete body: {e}"))?
        .to_bytes();
    Ok(Resp { status, headers, body })
}

/// `GET path` with the server's token; fails the test on a connection error.
async fn get(fake: &FakeServer, path: &str) -> Resp {
    attempt(fake, Method::GET, path)
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// A raw `GET` (`Connection: close`) read until the server closes the
/// connection: the `Content-Length` announced and the body bytes received.
async fn raw_get(fake: &FakeServer, path: &str) -> (u64, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(fake.address()).await.expect("connect");
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        fake.address(),
        fake.token()
    );
    stream.write_all(head.as_bytes()).await.expect("write the request");
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let read_all = async {
        // An abort may end in a reset rather than an end of file: both end it.
        while let Ok(n @ 1..) = stream.read(&mut buf).await {
            raw.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read_all)
        .await
        .expect("the server ends the connection");
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head") + 4;
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("a Content-Length");
    (length, raw[end..].to_vec())
}

fn default_fault_body() -> Value {
    json!({ "error": "fault injected by scalingo-db-fake", "code": "fault_injected" })
}

#[tokio::test]
async fn a_status_rule_answers_its_status_and_body_and_retry_after() {
    let fake = fake().await;
    let stored = add_ok(
        &fake,
        json!({ "match": { "operation": "backups.list" }, "status": 503 }),
    )
    .await;
    assert_eq!(
        stored,
        json!({ "id": "f1", "match": { "operation": "backups.list" }, "probability": 1.0, "times": null,
                "status": 503, "remaining": null, "hits": 0 })
    );
    let r = get(&fake, LIST).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json(), default_fault_body());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("retry-after"), None);

    delete(&fake, "/_fake/faults").await;
    add_ok(
        &fake,
        json!({ "status": 429, "retry_after": 7, "body": { "message": "slow down" } }),
    )
    .await;
    let r = get(&fake, LIST).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(r.json(), json!({ "message": "slow down" }));
}

#[tokio::test]
async fn a_latency_rule_delays_the_normal_answer() {
    let fake = fake().await;
    let normal = get(&fake, LIST).await;
    add_ok(
        &fake,
        json!({ "match": { "operation": "backups.list" }, "latency_ms": 300 }),
    )
    .await;
    let started = Instant::now();
    let slow = get(&fake, LIST).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(300), "answered after {took:?}");
    assert_eq!((slow.status, &slow.body), (200, &normal.body));
}

#[tokio::test]
async fn a_reset_rule_drops_the_connection_without_a_response() {
    let fake = fake().await;
    add_ok(&fake, json!({ "reset": true })).await;
    let outcome = attempt(&fake, Method::GET, LIST).await;
    let e = outcome.expect_err("a reset gives no response");
    assert!(e.starts_with("no response"), "{e}");
    // The server itself goes on: the control plane answers.
    assert_eq!(listed(&fake).await[0]["hits"], 1);
}

#[tokio::test]
async fn a_cut_rule_sends_the_full_length_header_then_fewer_bytes() {
    let fake = fake().await;
    let whole = get(&fake, LIST).await.body;
    assert!(whole.len() > 10);
    add_ok(
        &fake,
        json!({ "match": { "operation": "backups.list" }, "cut_after_bytes": 10 }),
    )
    .await;
    let (length, body) = raw_get(&fake, LIST).await;
    assert_eq!(length, whole.len() as u64, "Content-Length stays the full length");
    assert_eq!(body, &whole[..10], "only the first 10 bytes come");
    let e = attempt(&fake, Method::GET, LIST)
        .await
        .expect_err("the body is incomplete");
    assert!(e.starts_with("incomplete body"), "{e}");
}

#[tokio::test]
async fn a_cut_rule_applies_to_archive_downloads_too() {
    let fake = fake().await;
    let url = Api::of(&fake).download_url(DB, DONE_BACKUP).await;
    add_ok(
        &fake,
        json!({ "match": { "operation": "backups.download" }, "cut_after_bytes": 1000 }),
    )
    .await;
    let (length, body) = raw_get(&fake, &common::path_of(&url)).await;
    assert!(length > 1_000_000, "the archive's whole length is announced: {length}");
    assert_eq!(body.len(), 1000);
    assert_eq!(&body[..2], &[0x1f, 0x8b], "the start of a gzip stream");
}

#[tokio::test]
async fn a_drip_rule_sends_the_whole_body_slowly() {
    let fake = fake().await;
    let whole = get(&fake, LIST).await.body;
    // Half a second's worth at this rate.
    let rate = whole.len() as u64 * 2;
    add_ok(
        &fake,
        json!({ "match": { "operation": "backups.list" }, "drip_bytes_per_sec": rate }),
    )
    .await;
    let started = Instant::now();
    let dripped = get(&fake, LIST).await;
    let took = started.elapsed();
    assert_eq!(dripped.body, whole, "the body arrives whole and unchanged");
    assert!(
        took >= Duration::from_millis(400),
        "{} bytes at {rate} B/s took {took:?}",
        whole.len()
    );
}

#[tokio::test]
async fn a_seeded_probability_fires_on_the_same_requests_on_two_fakes_started_alike() {
    async fn pattern() -> Vec<u16> {
        let fake = fake().await;
        add_ok(&fake, json!({ "probability": 0.5, "status": 503 })).await;
        let mut statuses = Vec::new();
        for _ in 0..24 {
            statuses.push(get(&fake, LIST).await.status);
        }
        statuses
    }
    let (a, b) = (pattern().await, pattern().await);
    assert_eq!(a, b);
    assert!(a.contains(&200) && a.contains(&503), "some fire, some do not: {a:?}");
}

#[tokio::test]
async fn a_rule_with_times_fires_that_many_times_then_retires_and_stays_listed() {
    let fake = fake().await;
    add_ok(&fake, json!({ "times": 2, "status": 503 })).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(get(&fake, LIST).await.status);
    }
    assert_eq!(statuses, [503, 503, 200, 200]);
    let f = &listed(&fake).await[0];
    assert_eq!(
        (&f["times"], &f["remaining"], &f["hits"]),
        (&json!(2), &json!(0), &json!(2))
    );
}

/// With `rule` alone, whether `hit` is faulted (503) and `miss` untouched.
async fn picks(rule: Value, hit: (Method, &str), miss: (Method, &str)) {
    let fake = fake().await;
    add_ok(&fake, json!({ "match": rule, "status": 503 })).await;
    let r = attempt(&fake, hit.0.clone(), hit.1).await.unwrap();
    assert_eq!(r.status, 503, "{rule} takes {} {}", hit.0, hit.1);
    let r = attempt(&fake, miss.0.clone(), miss.1).await.unwrap();
    assert_ne!(r.status, 503, "{rule} leaves {} {}", miss.0, miss.1);
    assert!(r.status < 500, "{}", r.text());
}

#[tokio::test]
async fn rules_match_by_method_route_template_operation_and_database() {
    let show_db = "/api/databases/my-db-123";
    picks(json!({ "method": "POST" }), (Method::POST, LIST), (Method::GET, LIST)).await;
    picks(
        json!({ "route": "/api/databases/:db" }),
        (Method::GET, show_db),
        (Method::GET, LIST),
    )
    .await;
    picks(
        json!({ "operation": "databases.show" }),
        (Method::GET, show_db),
        (Method::GET, LIST),
    )
    .await;
    // A database by its addon id takes the requests naming it by its
    // database id too, and leaves the other databases alone.
    picks(
        json!({ "database": DB }),
        (Method::GET, &format!("/api/databases/{DB_ID}/backups")),
        (Method::GET, &format!("/api/databases/{OTHER_DB}/backups")),
    )
    .await;
    // The `/v1` platform routes are faulted like the database API.
    picks(
        json!({ "operation": "tokens.exchange" }),
        (Method::POST, "/v1/tokens/exchange"),
        (Method::GET, LIST),
    )
    .await;
}

#[tokio::test]
async fn the_control_plane_is_never_faulted() {
    let fake = fake().await;
    add_ok(&fake, json!({ "status": 503 })).await;
    add_ok(&fake, json!({ "reset": true })).await;
    assert_eq!(
        get(&fake, LIST).await.status,
        503,
        "the first rule takes every API request"
    );
    for path in ["/_fake/health", "/_fake/clock", "/_fake/faults", "/_fake/seed"] {
        assert_eq!(get(&fake, path).await.status, 200, "{path}");
    }
    let r = add(&fake, &json!({ "match": { "route": "/_fake/clock" }, "status": 503 })).await;
    assert_eq!(r.status, 422);
    assert!(r.json()["errors"]["match.route"].is_array(), "{}", r.text());
    let hits: Vec<Value> = listed(&fake)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["hits"].clone())
        .collect();
    assert_eq!(hits, [json!(1), json!(0)], "only the API request counted");
}

#[tokio::test]
async fn the_listing_shows_each_rule_with_remaining_and_hits() {
    let fake = fake().await;
    add_ok(
        &fake,
        json!({ "match": { "operation": "backups.list" }, "times": 3, "status": 503 }),
    )
    .await;
    add_ok(
        &fake,
        json!({ "match": { "method": "PATCH", "database": DB }, "probability": 0.25, "drip_bytes_per_sec": 100 }),
    )
    .await;
    get(&fake, LIST).await;
    assert_eq!(
        listed(&fake).await,
        json!([
            { "id": "f1", "match": { "operation": "backups.list" }, "probability": 1.0, "times": 3,
              "status": 503, "remaining": 2, "hits": 1 },
            { "id": "f2", "match": { "method": "PATCH", "database": DB }, "probability": 0.25, "times": null,
              "drip_bytes_per_sec": 100, "remaining": null, "hits": 0 },
        ])
    );
}

#[tokio::test]
async fn rules_are_deleted_one_by_one_or_all_at_once() {
    let fake = fake().await;
    for _ in 0..3 {
        add_ok(&fake, json!({ "status": 503 })).await;
    }
    let r = delete(&fake, "/_fake/faults/f1").await;
    assert_eq!(r.status, 200);
    let ids: Vec<Value> = r.json()["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].clone())
        .collect();
    assert_eq!(ids, [json!("f2"), json!("f3")]);
    let r = delete(&fake, "/_fake/faults/f1").await;
    assert_eq!(
        (r.status, r.json()),
        (404, json!({ "resource": "fault", "error": "not found" }))
    );
    let r = delete(&fake, "/_fake/faults").await;
    assert_eq!((r.status, r.json()), (200, json!({ "faults": [] })));
    assert_eq!(get(&fake, LIST).await.status, 200, "no rule is left");
    assert_eq!(
        add_ok(&fake, json!({ "reset": true })).await["id"],
        "f4",
        "ids are not reused"
    );
}

/// Rules the fake refuses, and the field each 422 names.
fn invalid_rules() -> Vec<(Value, &'static str)> {
    vec![
        (json!({}), "effect"),
        (json!({ "status": 503, "reset": true }), "effect"),
        (json!({ "status": 200 }), "status"),
        (json!({ "status": 503, "probability": 1.5 }), "probability"),
        (json!({ "status": 503, "times": 0 }), "times"),
        (json!({ "latency_ms": 600_001 }), "latency_ms"),
        (json!({ "drip_bytes_per_sec": 0 }), "drip_bytes_per_sec"),
        (
            json!({ "reset": true, "match": { "route": "/api/nope" } }),
            "match.route",
        ),
        (
            json!({ "reset": true, "match": { "route": "/api/databases/my-db-123/backups" } }),
            "match.route",
        ),
        (
            json!({ "reset": true, "match": { "operation": "backups.nope" } }),
            "match.operation",
        ),
        (
            json!({ "reset": true, "match": { "operation": "fake.faults.list" } }),
            "match.operation",
        ),
        (json!({ "reset": true, "match": { "method": "post" } }), "match.method"),
        (
            json!({ "reset": true, "match": { "database": "nope" } }),
            "match.database",
        ),
    ]
}

#[tokio::test]
async fn invalid_rules_are_refused_with_a_422_naming_the_field() {
    let fake = fake().await;
    let mut cases = invalid_rules();
    cases.extend([
        (json!({ "reset": false }), "reset"),
        (json!({ "latency_ms": "slow" }), "latency_ms"),
        (json!({ "reset": true, "colour": "red" }), "colour"),
        (json!({ "reset": true, "match": { "path": "/" } }), "match.path"),
        (json!({ "reset": true, "retry_after": 5 }), "retry_after"),
    ]);
    for (rule, field) in cases {
        let r = add(&fake, &rule).await;
        assert_eq!(r.status, 422, "{rule}: {}", r.text());
        let errors = r.json()["errors"].as_object().unwrap().clone();
        assert!(errors.contains_key(field), "{rule} names {field}: {}", r.text());
    }
    let r = common::control_post(&format!("{}/_fake/faults", fake.url()), Some("{not json")).await;
    assert_eq!((r.status, r.json()["code"].clone()), (400, json!("bad_request")));
    assert_eq!(listed(&fake).await, json!([]), "nothing was added");
}

fn rust_fields(e: Error) -> Vec<String> {
    match e {
        Error::Invalid(errors) => errors.into_iter().map(|e| e.field).collect(),
        other => panic!("not a field error: {other}"),
    }
}

#[tokio::test]
async fn the_rust_face_and_the_http_face_agree() {
    let (a, b) = (fake().await, fake().await);
    // Added through Rust, listed through HTTP (and the other way round).
    let rule = FaultRule::new(FaultEffect::Status {
        status: 503,
        body: None,
        retry_after: Some(2),
    })
    .when(FaultMatch::default().operation("backups.list"))
    .probability(0.5)
    .times(5);
    let stored = b.add_fault(rule.clone()).unwrap();
    add_ok(&a, serde_json::to_value(&rule).unwrap()).await;
    assert_eq!(listed(&b).await, serde_json::to_value(b.faults()).unwrap());
    assert_eq!(listed(&a).await, serde_json::to_value(b.faults()).unwrap());
    assert_eq!(a.faults(), vec![stored]);
    // The same requests fire alike, whichever face added the rule.
    for _ in 0..12 {
        assert_eq!(get(&a, LIST).await.status, get(&b, LIST).await.status);
    }
    let listed_a: Vec<Fault> = serde_json::from_value(listed(&a).await).unwrap();
    assert_eq!(listed_a, b.faults());
    // Both refuse the same rules, naming the same fields.
    for (json_rule, field) in invalid_rules() {
        let Ok(rule) = FaultRule::from_json(&json_rule) else {
            continue;
        };
        assert_eq!(rust_fields(b.add_fault(rule).unwrap_err()), [field], "{json_rule}");
        let r = add(&a, &json_rule).await;
        let http: Vec<String> = r.json()["errors"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(http, [field], "{json_rule}");
    }
    // Removal: one, an unknown one, all.
    b.remove_fault("f1").unwrap();
    assert_eq!(delete(&a, "/_fake/faults/f1").await.status, 200);
    assert!(matches!(b.remove_fault("f1"), Err(Error::NotFound("fault"))));
    assert_eq!(delete(&a, "/_fake/faults/f1").await.status, 404);
    assert_eq!(a.faults(), b.faults());
    b.add_fault(FaultRule::new(FaultEffect::Reset)).unwrap();
    b.clear_faults();
    assert_eq!(listed(&b).await, json!([]));
}
