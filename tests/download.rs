//! Downloads: pre-signed expiring links, valid `.tar.gz` bodies of exactly
//! `size` bytes, identical on every download, with ranges and `HEAD`.
mod common;

use std::time::Duration;

use common::fake::{Api, JAN_1_2024};
use hyper::Method;
use scalingo_db_fake::__internals::{archive_spec, Archive};
use scalingo_db_fake::{FakeServer, FakeServerBuilder, Lifecycle};

const SEED_DONE: &str = "5b8b36104ffb090be1ac3ce1"; // 17 484 513 608 bytes
const SEED_ERROR: &str = "5bb95a904ffb096e9a2831b8";

/// Short phases, and archives from 200 kB to 3 MB.
fn small() -> Lifecycle {
    Lifecycle {
        size_min: 200_000,
        size_max: 3_000_000,
        ..common::fake::lifecycle(1.0, 0.0, 1.0, 0.0)
    }
}

fn manual(seed: u64) -> FakeServerBuilder {
    common::fake::manual(JAN_1_2024, seed).lifecycle(small())
}

async fn manual_fake() -> FakeServer {
    manual(11).start().await
}

/// A backup created and run to `done`: its id and size.
async fn done_backup(fake: &FakeServer) -> (String, u64) {
    let b = fake.create_backup("my-db-123").unwrap();
    fake.advance(Duration::from_secs(5));
    let b = fake.backup(&b.id).unwrap();
    (b.id, b.size.unwrap())
}

#[tokio::test]
async fn a_done_backup_downloads_as_a_valid_tar_gz_of_exactly_its_size() {
    let fake = manual_fake().await;
    let (id, size) = done_backup(&fake).await;
    let url = Api::of(&fake).download_url("my-db-123", &id).await;
    let r = common::send(Method::GET, &url, &[], None).await; // no Authorization needed
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len() as u64, size, "the body is exactly `size` bytes");
    assert_eq!(r.header("content-length"), Some(size.to_string().as_str()));
    assert_eq!(r.header("content-type"), Some("application/gzip"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    let name = fake.backup(&id).unwrap().name;
    assert_eq!(
        r.header("content-disposition"),
        Some(format!("attachment; filename=\"{name}.tar.gz\"").as_str())
    );
    assert!(r.header("etag").is_some_and(|e| e.starts_with('"')));

    // gzip -t and tar -t, in Rust: decoding checks the CRC and length.
    common::archive::gunzip(&r.body);
    let entries = common::archive::untar(&r.body);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].0, format!("{name}.pgsql"));
    assert!(
        String::from_utf8_lossy(&entries[0].2).contains(&id),
        "the dump names its backup"
    );

    // And the system tools (CI installs them; a machine without them fails here).
    let listed = common::archive::system_tar_list(&r.body);
    assert_eq!(listed.trim(), format!("{name}.pgsql"));
}

#[tokio::test]
async fn two_downloads_are_identical_and_ranges_are_the_same_bytes() {
    let fake = manual_fake().await;
    let (id, size) = done_backup(&fake).await;
    let url = Api::of(&fake).download_url("my-db-123", &id).await;
    let full = common::send(Method::GET, &url, &[], None).await.body;
    let again = common::send(
        Method::GET,
        &Api::of(&fake).download_url("my-db-123", &id).await,
        &[],
        None,
    )
    .await
    .body;
    assert!(full == again, "the same bytes on every download");

    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |m: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % m
    };
    for _ in 0..40 {
        let a = next(size);
        let b = (a + next(200_000)).min(size - 1);
        let r = common::send(Method::GET, &url, &[("range", &format!("bytes={a}-{b}"))], None).await;
        assert_eq!(r.status, 206);
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {a}-{b}/{size}").as_str())
        );
        assert!(r.body[..] == full[a as usize..=b as usize], "range {a}-{b}");
    }
    // Suffix and open ranges; a resumed download is byte-identical.
    let r = common::send(Method::GET, &url, &[("range", "bytes=-1000")], None).await;
    assert!(r.body[..] == full[full.len() - 1000..]);
    let half = size / 2;
    let r = common::send(Method::GET, &url, &[("range", &format!("bytes={half}-"))], None).await;
    let mut resumed = full[..half as usize].to_vec();
    resumed.extend_from_slice(&r.body);
    assert!(resumed == full);
    let r = common::send(Method::GET, &url, &[("range", &format!("bytes={size}-"))], None).await;
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some(format!("bytes */{size}").as_str()));
    assert!(r.json()["error"].is_string());
}

#[tokio::test]
async fn head_gives_the_headers_alone() {
    let fake = manual_fake().await;
    let url = Api::of(&fake).download_url("my-db-123", SEED_DONE).await;
    // A raw socket: a real client never shows a body sent after a HEAD.
    let r = common::head_raw(fake.address(), &common::path_of(&url), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("17484513608"));
    assert!(
        r.body.is_empty(),
        "{} bytes sent after the head of a HEAD response",
        r.body.len()
    );
}

#[tokio::test]
async fn a_17_gb_archive_answers_ranges_near_its_end_with_the_generator_bytes() {
    let fake = manual_fake().await;
    let url = Api::of(&fake).download_url("my-db-123", SEED_DONE).await;
    let size = 17_484_513_608u64;
    let b = fake.backup(SEED_DONE).unwrap();
    let spec = archive_spec(
        "postgresql",
        "my-db-123",
        SEED_DONE,
        &b.name,
        size,
        b.created_at.millis() / 1000,
    );
    let archive = Archive::new(&spec).unwrap();
    for (a, z) in [
        (size - 100_000, size - 1),
        (size - 8, size - 1),
        (size / 2, size / 2 + 70_000),
        (0, 99_999),
    ] {
        let r = common::send(Method::GET, &url, &[("range", &format!("bytes={a}-{z}"))], None).await;
        assert_eq!(r.status, 206);
        let mut expected = vec![0; (z - a + 1) as usize];
        assert_eq!(archive.read_at(a, &mut expected), expected.len());
        assert!(r.body[..] == expected[..], "range {a}-{z}");
    }
    // The trailer: CRC32 and the length mod 2^32 of what the tar stream holds.
    let r = common::send(Method::GET, &url, &[("range", "bytes=-8")], None).await;
    assert_eq!(u32::from_le_bytes(r.body[..4].try_into().unwrap()), archive.crc32());
}

#[tokio::test]
async fn a_backup_that_is_not_done_has_no_archive() {
    let fake = manual_fake().await;
    let b = fake.create_backup("my-db-123").unwrap();
    let r = Api::of(&fake).archive_link("my-db-123", &b.id, &[]).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "backup_not_done");
    assert!(r.json()["error"].as_str().unwrap().contains("scheduled"));
    let r = Api::of(&fake).archive_link("my-db-123", SEED_ERROR, &[]).await;
    assert_eq!(r.status, 400);
    let r = Api::of(&fake).archive_link("my-db-123", &"f".repeat(24), &[]).await;
    assert_eq!((r.status, r.json()["resource"].as_str()), (404, Some("backup")));
}

#[tokio::test]
async fn the_link_needs_a_token_on_the_archive_route() {
    let fake = manual_fake().await;
    let r = common::send(
        Method::GET,
        &format!("{}/api/databases/my-db-123/backups/{SEED_DONE}/archive", fake.url()),
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn expired_tampered_missing_and_borrowed_tokens_are_refused() {
    let fake = manual(3).download_ttl(Duration::from_secs(600)).start().await;
    let (other, _) = done_backup(&fake).await;
    let url = Api::of(&fake).download_url("my-db-123", SEED_DONE).await;
    let head = |u: String| async move { common::send(Method::HEAD, &u, &[], None).await };

    // Tampered: one hex digit of the MAC changed, or the expiry changed.
    let (base, token) = url.split_once("?token=").unwrap();
    let mut t = token.as_bytes().to_vec();
    let last = t.len() - 1;
    t[last] = if t[last] == b'0' { b'1' } else { b'0' };
    let r = head(format!("{base}?token={}", String::from_utf8(t).unwrap())).await;
    assert_eq!(r.status, 403);
    let (exp, mac) = token.split_once('.').unwrap();
    let r = common::send(
        Method::GET,
        &format!("{base}?token={}.{mac}", exp.parse::<i64>().unwrap() + 3600),
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["code"], "download_token_invalid");

    // Another backup's token on this backup's URL.
    let other_url = Api::of(&fake).download_url("my-db-123", &other).await;
    let other_token = other_url.split_once("?token=").unwrap().1;
    assert_eq!(head(format!("{base}?token={other_token}")).await.status, 403);

    // Missing.
    let r = common::send(Method::GET, base, &[], None).await;
    assert_eq!(r.status, 401);
    assert!(r.json()["error"].is_string());

    // Still good just before the TTL; expired once the fake's clock passes it.
    fake.advance(Duration::from_secs(599));
    assert_eq!(head(url.clone()).await.status, 200);
    fake.advance(Duration::from_secs(2));
    let r = common::send(Method::GET, &url, &[], None).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["code"], "download_token_expired");
}

#[tokio::test]
async fn the_link_host_follows_the_client_and_a_public_url_wins() {
    let fake = manual_fake().await;
    let r = Api::of(&fake)
        .archive_link("my-db-123", SEED_DONE, &[("host", "scalingo-db:8080")])
        .await;
    let u = r.json()["download_url"].as_str().unwrap().to_string();
    assert!(
        u.starts_with(&format!(
            "http://scalingo-db:8080/api/databases/my-db-123/backups/{SEED_DONE}/download?token="
        )),
        "{u}"
    );
    let r = Api::of(&fake)
        .archive_link(
            "my-db-123",
            SEED_DONE,
            &[
                ("host", "internal:8080"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "db-api.example.test"),
            ],
        )
        .await;
    let u = r.json()["download_url"].as_str().unwrap().to_string();
    assert!(u.starts_with("https://db-api.example.test/api/databases/"), "{u}");

    let fake = FakeServer::builder()
        .public_url("https://fake.example.test/")
        .start()
        .await;
    let r = Api::of(&fake)
        .archive_link("my-db-123", SEED_DONE, &[("host", "elsewhere:1")])
        .await;
    let u = r.json()["download_url"].as_str().unwrap().to_string();
    assert!(
        u.starts_with("https://fake.example.test/api/databases/my-db-123/"),
        "{u}"
    );
    // The link works when followed against the fake itself.
    let path = u.strip_prefix("https://fake.example.test").unwrap();
    assert_eq!(
        common::send(Method::HEAD, &format!("{}{path}", fake.url()), &[], None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_fixture_archive_file_is_served_as_is() {
    let dir = common::files::TempDir::new("archive-file");
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    dir.write("archives/real.tar.gz", &bytes);
    let fixture = dir.write(
        "f.json",
        r#"{"databases":[{"id":"real","database_id":"dddddddddddddddddddddddd","resource_name":"real-1",
        "type":"postgresql","app":"real","tokens":["t"],"backups":[{"id":"eeeeeeeeeeeeeeeeeeeeeeee",
        "created_at":"2024-01-01T00:00:00.000+00:00","started_at":"2024-01-01T00:01:00.000+00:00",
        "status":"done","archive_file":"archives/real.tar.gz"}]}]}"#,
    );
    let fake = FakeServer::builder().fixtures_path(fixture).start().await;
    assert_eq!(fake.backup("eeeeeeeeeeeeeeeeeeeeeeee").unwrap().size, Some(300_000));
    let url = Api::of(&fake).download_url("real", "eeeeeeeeeeeeeeeeeeeeeeee").await;
    let r = common::send(Method::GET, &url, &[], None).await;
    assert!(r.body[..] == bytes[..]);
    let r = common::send(Method::GET, &url, &[("range", "bytes=100000-100099")], None).await;
    assert!(r.body[..] == bytes[100_000..100_100]);
    // Failing then completing it by hand keeps the file's length as its size.
    fake.fail_backup("eeeeeeeeeeeeeeeeeeeeeeee").unwrap();
    let b = fake.complete_backup("eeeeeeeeeeeeeeeeeeeeeeee").unwrap();
    assert_eq!(b.size, Some(300_000));
    let r = common::send(
        Method::GET,
        &Api::of(&fake).download_url("real", "eeeeeeeeeeeeeeeeeeeeeeee").await,
        &[],
        None,
    )
    .await;
    assert!(r.body[..] == bytes[..]);
}
