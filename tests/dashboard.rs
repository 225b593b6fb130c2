//! The dashboard over HTTP: its page at `/_fake/ui`, the control routes it
//! reads (a database's backups, every database with its backups, a
//! download link), `FakeServer::download_url`, and the binary's start-up
//! line. The page in a real browser is `tests/dashboard_browser.rs`.

mod common;

use std::time::Duration;

use hyper::Method;
use scalingo_db_fake::{Error, FakeServer, Status, Timestamp};
use serde_json::{json, Value};

const START: &str = "2024-03-01T10:00:00.000+00:00";
/// A done backup of `my-db-123` in the embedded fixtures, and its size.
const DONE: &str = "5b8b36104ffb090be1ac3ce1";
const DONE_SIZE: u64 = 17_484_513_608;

async fn manual() -> FakeServer {
    FakeServer::builder()
        .manual_clock()
        .clock_start_millis(Timestamp::parse(START).unwrap().millis())
        .seed(3)
        .start()
        .await
}

#[tokio::test]
async fn the_page_is_served_as_html_with_its_style_and_script_inside() {
    let fake = FakeServer::start().await;
    let r = common::control_get(&format!("{}/_fake/ui", fake.url())).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let html = r.text();
    assert!(html.starts_with("<!doctype html>"), "{}", &html[..80]);
    assert!(html.contains("<title>scalingo-db-fake · dashboard</title>"));
    assert!(html.contains(r#"<body data-admin-token="none">"#));
    assert!(html.contains("--accent:") && html.contains("async function refresh()"));
    assert!(!html.contains("/* dashboard.css */") && !html.contains("/* dashboard.js */"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing is fetched from elsewhere"
    );
    let csp = r.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'sha256-") && csp.contains("connect-src 'self'"),
        "{csp}"
    );

    let head = common::send(Method::HEAD, &format!("{}/_fake/ui/", fake.url()), &[], None).await;
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(head.header("content-length"), Some(html.len().to_string().as_str()));
    let post = common::control_post(&format!("{}/_fake/ui", fake.url()), None).await;
    assert_eq!((post.status, post.header("allow")), (405, Some("GET, HEAD")));
    assert!(fake.requests().is_empty(), "the control plane is never journaled");
}

#[tokio::test]
async fn with_an_admin_token_the_page_is_open_and_what_it_reads_is_not() {
    let fake = FakeServer::builder().admin_token("s3cret").start().await;
    let page = common::control_get(&format!("{}/_fake/ui", fake.url())).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains(r#"<body data-admin-token="required">"#));
    for path in [
        "/_fake/backups",
        "/_fake/databases/my-db-123/backups",
        "/_fake/databases/my-db-123/backups/5b8b36104ffb090be1ac3ce1/download_url",
    ] {
        let url = format!("{}{path}", fake.url());
        let r = common::control_get(&url).await;
        assert_eq!(r.status, 401, "{path}");
        assert!(r.json()["error"].is_string(), "{path}");
        assert_eq!(common::get(&url, "s3cret").await.status, 200, "{path}");
    }
}

#[tokio::test]
async fn a_database_s_backups_are_listed_newest_first_as_the_api_lists_them() {
    let fake = manual().await;
    let new = fake.create_backup("my-db-123").unwrap();
    fake.advance(Duration::from_secs(3));
    let control = common::control_get(&format!("{}/_fake/databases/my-db-123/backups", fake.url())).await;
    assert_eq!(control.status, 200);
    let api = common::get(&format!("{}/api/databases/my-db-123/backups", fake.url()), fake.token()).await;
    assert_eq!(control.json(), api.json());
    let list = control.json()["database_backups"].as_array().unwrap().clone();
    assert_eq!((list.len(), list[0]["id"].as_str()), (4, Some(new.id.as_str())));
    assert_eq!(list[0]["status"], "running");
    let fields_in_api_order = format!(r#"{{"database_backups":[{{"id":"{}","created_at":"#, new.id);
    assert!(control.text().starts_with(&fields_in_api_order), "{}", control.text());

    let by_database_id = format!("{}/_fake/databases/597601234ffb097af4f3099b/backups", fake.url());
    assert_eq!(common::control_get(&by_database_id).await.json(), control.json());
    let r = common::control_get(&format!("{}/_fake/databases/nope/backups", fake.url())).await;
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"resource": "database", "error": "not found"}))
    );
}

#[tokio::test]
async fn every_database_is_listed_with_its_addon_id_and_its_backups() {
    let fake = manual().await;
    let r = common::control_get(&format!("{}/_fake/backups", fake.url())).await;
    assert_eq!(r.status, 200);
    let all = r.json()["databases"].as_array().unwrap().clone();
    let ids: Vec<&str> = all.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, fake.databases());
    for d in &all {
        let id = d["id"].as_str().unwrap();
        assert_eq!(d["database"], json!(fake.database(id).unwrap()), "{id}");
        assert_eq!(d["database_backups"], json!(fake.backups(id).unwrap()), "{id}");
    }
}

#[tokio::test]
async fn a_download_url_is_the_archive_route_s_link_without_an_api_token() {
    let fake = manual().await;
    let url = |db: &str, backup: &str| format!("{}/_fake/databases/{db}/backups/{backup}/download_url", fake.url());
    let api = |backup: &str| format!("{}/api/databases/my-db-123/backups/{backup}/archive", fake.url());
    let r = common::control_get(&url("my-db-123", DONE)).await;
    assert_eq!(r.status, 200);
    // Same signer, same clock: the very link the API gives.
    assert_eq!(r.json(), common::get(&api(DONE), fake.token()).await.json());
    let link = r.json()["download_url"].as_str().unwrap().to_string();
    let prefix = format!("{}/api/databases/my-db-123/backups/{DONE}/download?token=", fake.url());
    assert!(link.starts_with(&prefix), "{link}");
    let head = common::send(Method::HEAD, &link, &[], None).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some(DONE_SIZE.to_string().as_str()));

    let scheduled = fake.create_backup("my-db-123").unwrap();
    let r = common::control_get(&url("my-db-123", &scheduled.id)).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"error": format!("backup {} is scheduled: only a done backup can be downloaded", scheduled.id),
               "code": "backup_not_done"})
    );
    assert_eq!(common::get(&api(&scheduled.id), fake.token()).await.body, r.body);

    let not_found = |r: common::Resp| (r.status, r.json()["resource"].clone());
    let mongo = "ad-7c1e5d0a-3b9f-4e2a-8d6c-51f0a2b4c9e3";
    for (db, backup, resource) in [
        ("nope", DONE, "database"),
        ("my-db-123", "nope", "backup"),
        (mongo, DONE, "backup"),
    ] {
        let r = common::control_get(&url(db, backup)).await;
        assert_eq!(not_found(r), (404, Value::from(resource)), "{db} {backup}");
    }
}

#[tokio::test]
async fn a_download_url_starts_with_the_public_url_when_one_is_set() {
    let fake = FakeServer::builder().public_url("https://fake.example/").start().await;
    let r = common::control_get(&format!(
        "{}/_fake/databases/my-db-123/backups/{DONE}/download_url",
        fake.url()
    ))
    .await;
    let link = r.json()["download_url"].as_str().unwrap().to_string();
    assert!(
        link.starts_with("https://fake.example/api/databases/my-db-123/backups/"),
        "{link}"
    );
    let own = fake.download_url("my-db-123", DONE).unwrap();
    assert!(own.starts_with("https://fake.example/api/"), "{own}");
}

#[test]
fn fake_server_download_url_gives_a_link_that_downloads_the_archive() {
    let fake = FakeServer::builder()
        .manual_clock()
        .clock_start_millis(Timestamp::parse(START).unwrap().millis())
        .start_blocking();
    let backup = fake.create_backup("my-db-123").unwrap();
    match fake.download_url("my-db-123", &backup.id) {
        Err(Error::NotDone { backup: id, status }) => assert_eq!((id, status), (backup.id.clone(), Status::Scheduled)),
        other => panic!("a scheduled backup has no link: {other:?}"),
    }
    let done = fake.complete_backup(&backup.id).unwrap();
    let url = fake.download_url("my-db-123", &backup.id).unwrap();
    assert!(
        url.starts_with(&format!("{}/api/databases/my-db-123/backups/", fake.url())),
        "{url}"
    );
    let path = common::path_of(&url);
    let r = common::blocking_get(fake.address(), &path, "");
    assert_eq!(r.status, 200);
    assert_eq!(Some(r.body.len() as u64), done.size);
    let entries = common::archive::untar(&r.body);
    assert!(!entries.is_empty());
    assert!(matches!(
        fake.download_url("nope", &backup.id),
        Err(Error::NotFound("database"))
    ));
    assert!(matches!(
        fake.download_url("my-db-123", "nope"),
        Err(Error::NotFound("backup"))
    ));
}

#[test]
fn the_binary_logs_the_dashboard_s_address_and_still_prints_one_listening_line() {
    let mut r = common::binary::start(&[]);
    let page = common::blocking_get(r.address(), "/_fake/ui", "");
    assert_eq!(page.status, 200);
    r.sigterm();
    assert!(r.wait_exit(Duration::from_secs(10)).success());
    let err = r.stderr_text();
    assert!(err.contains(&format!("dashboard: {}/_fake/ui", r.url)), "{err}");
    let out = r.rest_of_stdout();
    assert!(out.trim().is_empty(), "stdout has only its listening line: {out:?}");
}
