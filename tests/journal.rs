//! The request journal: what it records of API, download and `/v1`
//! requests, what it leaves out (the `/_fake` plane), how it stays bounded,
//! how it is filtered and cleared, and its two faces (the Rust handle and
//! `GET`/`DELETE /_fake/requests`) agreeing.
mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hyper::Method;
use scalingo_db_fake::{Error, FakeServer, RecordedRequest, RequestFilter};
use serde_json::Value;

use common::binary;
use common::fake::{manual, Api, JAN_1_2024};

const DB: &str = "my-db-123";
const SEED_DONE: &str = "5b8b36104ffb090be1ac3ce1";

fn at(fake: &FakeServer, path: &str) -> String {
    format!("{}{path}", fake.url())
}

/// `GET /_fake/requests` with `query` (`""` for none): its status and body.
async fn list_http(fake: &FakeServer, query: &str) -> common::Resp {
    common::control_get(&at(fake, &format!("/_fake/requests{query}"))).await
}

/// `GET /_fake/requests` with `query`, decoded; fails the test unless 200.
async fn listed(fake: &FakeServer, query: &str) -> Vec<RecordedRequest> {
    let r = list_http(fake, query).await;
    assert_eq!(r.status, 200, "{}", r.text());
    serde_json::from_value(r.json()["requests"].clone()).expect("a list of recorded requests")
}

/// `GET /api/databases/my-db-123/backups?n=i` for each `i` of `range`.
async fn list_n(fake: &FakeServer, range: std::ops::Range<u32>) {
    for i in range {
        let r = common::get(&at(fake, &format!("/api/databases/{DB}/backups?n={i}")), fake.token()).await;
        assert_eq!(r.status, 200);
    }
}

#[tokio::test]
async fn api_requests_are_recorded_with_method_path_query_operation_database_status_time_and_latency() {
    let fake = manual(JAN_1_2024, 1).start().await;
    let api = Api::of(&fake);
    api.list(DB).await;
    let created = api.create_backup(DB).await;
    assert_eq!(created.status, 201);
    common::get(
        &at(&fake, "/api/databases/my-db-123/backups?page=2&per_page=5"),
        fake.token(),
    )
    .await;
    common::get(&at(&fake, &format!("/api/backups/{SEED_DONE}")), fake.token()).await;

    let all = fake.requests();
    assert_eq!(all.len(), 4, "{all:#?}");
    let r = &all[1];
    assert_eq!(r.seq, 2);
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/api/databases/my-db-123/backups")
    );
    assert_eq!((r.query.as_deref(), r.database.as_deref()), (None, Some(DB)));
    assert_eq!(
        (r.operation.as_str(), r.status, r.fault.as_deref()),
        ("backups.create", 201, None)
    );
    assert_eq!(r.time.to_string(), "2024-01-01T00:00:00.000+00:00", "the fake's clock");
    assert!(r.latency_us > 0 && r.latency_us < 10_000_000, "{}", r.latency_us);
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    assert!(
        (wall.as_millis() as i64 - r.wall_time.millis()).abs() < 60_000,
        "the system clock"
    );
    assert_eq!(all[2].query.as_deref(), Some("page=2&per_page=5"));
    assert_eq!(all[2].path, "/api/databases/my-db-123/backups");
    let by_id = &all[3];
    assert_eq!((by_id.operation.as_str(), by_id.status), ("backups.show_by_id", 200));
    assert_eq!(by_id.database, None, "the path names no database");
    let seqs: Vec<u64> = all.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4], "oldest first");
}

#[tokio::test]
async fn download_and_v1_requests_are_recorded_too() {
    let fake = FakeServer::start().await;
    let url = Api::of(&fake).download_url(DB, SEED_DONE).await;
    let r = common::send(Method::GET, &url, &[("range", "bytes=0-9")], None).await;
    assert_eq!(r.status, 206);
    let basic = format!("Basic {}", STANDARD.encode(":tk-us-test"));
    let exchanged = common::send(
        Method::POST,
        &at(&fake, "/v1/tokens/exchange"),
        &[("authorization", &basic)],
        None,
    )
    .await;
    assert_eq!(exchanged.status, 200, "{}", exchanged.text());
    let addon = common::get(&at(&fake, "/v1/apps/my-app/addons/my-db-123"), "not-a-jwt").await;

    let download = fake.last_request("backups.download").expect("the download is recorded");
    let path = common::path_of(&url);
    let (want_path, want_query) = path.split_once('?').unwrap();
    assert_eq!(
        (download.path.as_str(), download.query.as_deref()),
        (want_path, Some(want_query))
    );
    assert_eq!((download.status, download.database.as_deref()), (206, Some(DB)));
    assert_eq!(fake.count_requests("backups.archive"), 1);
    let exchange = fake.last_request("tokens.exchange").expect("the exchange is recorded");
    assert_eq!((exchange.method.as_str(), exchange.status), ("POST", 200));
    let show = fake.last_request("addons.show").expect("the addon request is recorded");
    assert_eq!(
        (show.status, show.database.as_deref()),
        (addon.status, Some(DB)),
        "`:addon` is the database"
    );
}

#[tokio::test]
async fn control_requests_are_not_recorded_not_even_unknown_ones() {
    let fake = FakeServer::start().await;
    common::control_get(&at(&fake, "/_fake/health")).await;
    common::fake::advance_clock(&fake.url(), 1.0).await;
    assert_eq!(common::control_get(&at(&fake, "/_fake/nothing-here")).await.status, 404);
    assert_eq!(
        common::send(Method::PUT, &at(&fake, "/_fake/requests"), &[], None)
            .await
            .status,
        405
    );
    list_http(&fake, "").await;
    assert!(fake.requests().is_empty(), "{:#?}", fake.requests());
    assert!(listed(&fake, "").await.is_empty());
}

#[tokio::test]
async fn the_ring_keeps_only_the_last_n_in_order() {
    let fake = FakeServer::builder().journal_size(5).start().await;
    list_n(&fake, 0..8).await;
    let all = fake.requests();
    let queries: Vec<&str> = all.iter().filter_map(|r| r.query.as_deref()).collect();
    assert_eq!(queries, ["n=3", "n=4", "n=5", "n=6", "n=7"]);
    let seqs: Vec<u64> = all.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [4, 5, 6, 7, 8]);
    assert_eq!(listed(&fake, "").await, all);
}

#[tokio::test]
async fn filters_by_operation_and_database_and_limit_on_both_faces() {
    let fake = FakeServer::start().await;
    let api = Api::of(&fake);
    list_n(&fake, 0..3).await;
    api.create_backup(DB).await;
    let other = fake
        .databases()
        .into_iter()
        .find(|d| d != DB)
        .expect("a second database");
    common::get(&at(&fake, &format!("/api/databases/{other}/backups")), fake.token()).await;
    api.create_backup(&other).await;

    let creates = listed(&fake, "?operation=backups.create").await;
    assert_eq!(creates.iter().map(|r| r.seq).collect::<Vec<_>>(), [4, 6]);
    let mine = listed(&fake, &format!("?database={DB}")).await;
    assert_eq!(mine.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
    let both = listed(&fake, &format!("?operation=backups.list&database={other}")).await;
    assert_eq!(both.iter().map(|r| r.seq).collect::<Vec<_>>(), [5]);
    let last_two = listed(&fake, "?operation=backups.list&limit=2").await;
    assert_eq!(
        last_two.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [3, 5],
        "the most recent, oldest first"
    );
    assert!(listed(&fake, "?operation=no.such.op").await.is_empty());

    let f = RequestFilter::default().operation("backups.list").limit(2);
    assert_eq!(fake.requests_matching(&f).unwrap(), last_two);
    assert_eq!(
        fake.requests_matching(&RequestFilter::default().database(DB)).unwrap(),
        mine
    );
    assert_eq!(fake.count_requests("backups.create"), 2);
    assert_eq!(fake.count_requests("backups.list"), 4);
    assert_eq!(fake.last_request("backups.create").map(|r| r.seq), Some(6));
    assert_eq!(fake.last_request("databases.update"), None);
}

#[tokio::test]
async fn a_bad_limit_or_an_unknown_filter_is_422_naming_it() {
    let fake = FakeServer::start().await;
    for (query, field) in [
        ("?limit=abc", "limit"),
        ("?limit=-1", "limit"),
        ("?limit=1.5", "limit"),
        ("?limit=0", "limit"),
        ("?limit=", "limit"),
        ("?limit=%zz", "limit"),
        ("?op=backups.list", "op"),
        ("?operation=", "operation"),
    ] {
        let r = list_http(&fake, query).await;
        assert_eq!(r.status, 422, "{query}: {}", r.text());
        let errors = r.json()["errors"].as_object().cloned().expect("{\"errors\":{…}}");
        assert_eq!(errors.keys().collect::<Vec<_>>(), [field], "{query}");
        assert!(errors[field][0].is_string(), "{query}");
    }
    match fake.requests_matching(&RequestFilter::default().limit(0)) {
        Err(Error::Invalid(e)) => assert_eq!(e[0].field, "limit"),
        other => panic!("limit 0 is refused, got {other:?}"),
    }
}

#[tokio::test]
async fn clear_empties_the_journal_on_both_faces_and_numbers_go_on() {
    let fake = FakeServer::start().await;
    list_n(&fake, 0..3).await;
    let r = common::send(Method::DELETE, &at(&fake, "/_fake/requests"), &[], None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), serde_json::json!({ "requests": [] }));
    assert!(fake.requests().is_empty());
    list_n(&fake, 3..4).await;
    assert_eq!(fake.requests()[0].seq, 4, "sequence numbers are not reused");
    fake.clear_requests();
    assert!(listed(&fake, "").await.is_empty());
}

#[tokio::test]
async fn a_journal_of_size_zero_records_nothing() {
    let fake = FakeServer::builder().journal_size(0).start().await;
    list_n(&fake, 0..3).await;
    common::get(&at(&fake, "/nope"), fake.token()).await;
    assert!(fake.requests().is_empty());
    assert!(listed(&fake, "").await.is_empty());
    assert_eq!(fake.count_requests("backups.list"), 0);
}

#[tokio::test]
async fn an_unknown_route_and_a_wrong_method_are_recorded_with_their_status() {
    let fake = FakeServer::start().await;
    assert_eq!(
        common::get(&at(&fake, "/api/nothing?x=1"), fake.token()).await.status,
        404
    );
    let url = at(&fake, &format!("/api/databases/{DB}/backups"));
    assert_eq!(common::send(Method::DELETE, &url, &[], None).await.status, 405);
    let all = fake.requests();
    assert_eq!(all.len(), 2);
    let (unknown, not_allowed) = (&all[0], &all[1]);
    assert_eq!((unknown.operation.as_str(), unknown.status), ("unknown", 404));
    assert_eq!(
        (unknown.path.as_str(), unknown.query.as_deref()),
        ("/api/nothing", Some("x=1"))
    );
    assert_eq!(unknown.database, None);
    assert_eq!(
        (not_allowed.operation.as_str(), not_allowed.status),
        ("method_not_allowed", 405)
    );
    assert_eq!(
        (not_allowed.method.as_str(), not_allowed.database.as_deref()),
        ("DELETE", Some(DB))
    );
}

#[tokio::test]
async fn the_rust_handle_and_the_http_route_give_the_same_json() {
    let fake = FakeServer::start().await;
    list_n(&fake, 0..2).await;
    Api::of(&fake).create_backup(DB).await;
    let http = list_http(&fake, "").await;
    let rust = fake.requests();
    assert_eq!(http.json()["requests"], serde_json::to_value(&rust).unwrap());
    let first = &http.json()["requests"][0];
    let mut keys: Vec<&str> = first.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = [
        "seq",
        "method",
        "path",
        "query",
        "operation",
        "database",
        "status",
        "time",
        "wall_time",
        "latency_us",
        "fault",
    ];
    want.sort_unstable();
    assert_eq!(keys, want, "{first}");
    assert!(first["fault"].is_null() && first["latency_us"].is_u64());
    assert!(
        http.text()
            .starts_with("{\"requests\":[{\"seq\":1,\"method\":\"GET\",\"path\":"),
        "declared order"
    );
}

#[tokio::test]
async fn a_hostile_path_is_kept_cut_to_two_kib() {
    let fake = FakeServer::start().await;
    let long = "a".repeat(20_000);
    let r = common::get(
        &at(&fake, &format!("/api/databases/{long}/backups?q={long}")),
        fake.token(),
    )
    .await;
    assert!(r.status >= 400);
    let kept = &fake.requests()[0];
    assert_eq!(kept.path.len() + kept.query.as_deref().map_or(0, str::len), 2048);
    assert!(kept.database.as_deref().is_some_and(|d| d.len() <= 256));
}

#[tokio::test]
async fn a_journal_size_over_the_maximum_is_refused_at_start() {
    let refused = FakeServer::builder().journal_size(1_000_001).try_start().await;
    match refused {
        Err(Error::Invalid(e)) => assert_eq!(e[0].field, "journal_size"),
        other => panic!("refused, got {other:?}"),
    }
    let biggest = FakeServer::builder().journal_size(1_000_000).try_start().await;
    assert!(biggest.is_ok());
}

#[tokio::test]
async fn the_binary_takes_journal_size_from_its_flag_and_its_variable() {
    let r = binary::start(&["--journal-size", "2"]);
    for i in 0..4 {
        common::get(
            &format!("{}/api/databases/{DB}/backups?n={i}", r.url),
            "my-db-123-token",
        )
        .await;
    }
    let listed = common::control_get(&format!("{}/_fake/requests", r.url)).await.json();
    let queries: Vec<&str> = listed["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["query"].as_str())
        .collect();
    assert_eq!(queries, ["n=2", "n=3"]);

    let mut cmd = binary::command();
    cmd.args(["--port", "0"]).env("JOURNAL_SIZE", "0");
    let r = binary::run(cmd);
    common::get(&format!("{}/api/databases/{DB}/backups", r.url), "my-db-123-token").await;
    let listed = common::control_get(&format!("{}/_fake/requests", r.url)).await.json();
    assert_eq!(listed["requests"], Value::Array(vec![]));
}

#[test]
fn the_binary_refuses_a_bad_journal_size_with_a_non_zero_exit() {
    for (value, says) in [("2000000", "--journal-size"), ("lots", "lots"), ("-1", "-1")] {
        let out = binary::command()
            .args(["--port", "0", "--journal-size", value])
            .output()
            .unwrap();
        assert!(!out.status.success(), "--journal-size {value} is refused");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "--journal-size {value}: {err}");
    }
}

/// The journal is written before the response is sent: a client that has
/// its response always finds its request, with no waiting.
#[tokio::test]
async fn a_request_is_in_the_journal_once_its_response_is_in() {
    let fake = FakeServer::start().await;
    for i in 0..50u64 {
        common::get(&at(&fake, &format!("/api/databases/{DB}/backups")), fake.token()).await;
        assert_eq!(fake.count_requests("backups.list"), i as usize + 1);
    }
}
