//! Requests a hostile or broken client sends, over raw TCP: each gets its
//! status and a JSON body in the documented shape, the store is left as it
//! was, and a normal request still succeeds afterwards.

mod common;

use scalingo_db_fake::FakeServer;
use serde_json::Value;

/// The done seed backup of `my-db-123`.
const DONE: &str = "5b8b36104ffb090be1ac3ce1";

async fn fake() -> FakeServer {
    FakeServer::builder().manual_clock().seed(2).token("tk").start().await
}

/// Sends `raw` (a whole request) and returns the response.
async fn raw(fake: &FakeServer, raw: &str) -> common::Resp {
    common::send_raw(fake.address(), raw.replace('\n', "\r\n").into_bytes()).await
}

/// After a hostile request: nothing changed, and a normal request works.
async fn unharmed(fake: &FakeServer, before: &Value) {
    assert_eq!(&fake.control().export_state().await.unwrap(), before);
    let r = common::get(&format!("{}/api/databases/my-db-123/backups", fake.url()), "tk").await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn each_hostile_request_gets_its_status_and_json_and_harms_nothing() {
    let fake = fake().await;
    let before = fake.control().export_state().await.unwrap();
    let archive = format!("/api/databases/my-db-123/backups/{DONE}/archive");
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "two Authorization headers",
            "GET /api/databases/my-db-123/backups HTTP/1.1\nHost: x\nAuthorization: Bearer tk\nAuthorization: Bearer other\n\n"
                .into(),
            400,
            "bad_request",
        ),
        (
            "HTTP/1.1 without Host",
            "GET /api/databases/my-db-123/backups HTTP/1.1\nAuthorization: Bearer tk\n\n".into(),
            400,
            "bad_request",
        ),
        (
            "a gzip transfer coding",
            "POST /api/databases/my-db-123/backups HTTP/1.1\nHost: x\nAuthorization: Bearer tk\nTransfer-Encoding: gzip, chunked\n\n2\n{}\n0\n\n"
                .into(),
            501,
            "not_implemented",
        ),
        (
            "a Host that is no authority, for a link",
            format!("GET {archive} HTTP/1.1\nHost: a\"b<script>\nAuthorization: Bearer tk\n\n"),
            400,
            "bad_request",
        ),
        (
            "an X-Forwarded-Host with user info",
            format!("GET {archive} HTTP/1.1\nHost: x\nX-Forwarded-Host: evil.com@x\nAuthorization: Bearer tk\n\n"),
            400,
            "bad_request",
        ),
        (
            "an X-Forwarded-Proto that is not http(s)",
            format!("GET {archive} HTTP/1.1\nHost: x\nX-Forwarded-Proto: javascript\nAuthorization: Bearer tk\n\n"),
            400,
            "bad_request",
        ),
        (
            "the platform's regions, with a bad Host",
            "GET /v1/regions HTTP/1.1\nHost: evil.com@x\nAuthorization: Bearer none\n\n".into(),
            401,
            "",
        ),
    ];
    for (what, request, status, code) in cases {
        let r = raw(&fake, &request).await;
        assert_eq!(r.status, status, "{what}: {}", r.text());
        let v = r.json();
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{what}: {v}");
        if !code.is_empty() {
            assert_eq!(v["code"], code, "{what}");
        }
        unharmed(&fake, &before).await;
    }
    // The journal saw them too (and nothing of /_fake).
    assert!(fake.requests().iter().any(|r| r.status == 501));
}

#[tokio::test]
async fn percent_encoded_unreserved_characters_are_the_characters_themselves() {
    let fake = fake().await;
    let r = raw(
        &fake,
        "GET /api/databases/my%2Ddb%2D123/backups HTTP/1.1\nHost: x\nAuthorization: Bearer tk\n\n",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        fake.last_request("backups.list").unwrap().database.as_deref(),
        Some("my-db-123")
    );
    // A reserved escape stays escaped: `%2F` is no path separator.
    let r = raw(
        &fake,
        "GET /api/databases/my-db-123%2Fbackups HTTP/1.1\nHost: x\nAuthorization: Bearer tk\n\n",
    )
    .await;
    assert_eq!(r.status, 404);
    // A download token percent-encoded is the token.
    let link = common::get(
        &format!("{}/api/databases/my-db-123/backups/{DONE}/archive", fake.url()),
        "tk",
    )
    .await;
    let url = link.json()["download_url"].as_str().unwrap().to_string();
    let path = common::path_of(&url).replace('.', "%2E");
    assert!(path.contains("%2E"), "the token has a dot to encode: {path}");
    let r = common::head_raw(fake.address(), &path, &[]).await;
    assert_eq!(r.status, 200, "{path}");
}

#[tokio::test]
async fn an_absolute_form_request_target_names_the_host_of_the_link() {
    let fake = fake().await;
    let request = format!(
        "GET http://good.example:81/api/databases/my-db-123/backups/{DONE}/archive HTTP/1.1\nHost: other.example\nAuthorization: Bearer tk\n\n"
    );
    let r = raw(&fake, &request).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let url = r.json()["download_url"].as_str().unwrap().to_string();
    assert!(url.starts_with("http://good.example:81/api/"), "{url}");
}
