//! Streaming a huge archive: constant memory, clients that hang up
//! mid-stream cost nothing, and a graceful stop lets a download finish.
//! (Its own test binary, so memory readings see no other test's traffic.)
mod common;

use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

use common::fake::Api;
use scalingo_db_fake::FakeServer;

const SEED_DONE: &str = "5b8b36104ffb090be1ac3ce1"; // 17 484 513 608 bytes

/// Resident memory of this process, in KiB. Fails the test where it cannot
/// be read: a reading of zero would let any growth pass.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_else(|e| panic!("this test measures memory in /proc/self/status, which cannot be read: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .filter(|&kib| kib > 0)
        .unwrap_or_else(|| panic!("no VmRSS reading in /proc/self/status:\n{status}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_256_mib_of_a_17_gb_archive_stream_without_memory_growth() {
    let fake = FakeServer::start().await;
    let path = common::path_of(&Api::of(&fake).download_url("my-db-123", SEED_DONE).await);
    let addr = fake.address().to_string();
    let growth = tokio::task::spawn_blocking(move || {
        // Warm up the code paths and allocator first.
        let (mut r, head) = common::blocking_open(&addr, &path, &[("Range", "bytes=0-1048575")]);
        assert!(head.starts_with("HTTP/1.1 206"), "{head}");
        std::io::copy(&mut r, &mut std::io::sink()).unwrap();
        let before = rss_kib();
        let (r, head) = common::blocking_open(&addr, &path, &[]);
        assert!(head.contains("content-length: 17484513608"), "{head}");
        let mut left = 256u64 << 20;
        let mut r = r.take(left);
        let mut buf = vec![0u8; 1 << 20];
        while left > 0 {
            let n = r.read(&mut buf).unwrap();
            assert!(n > 0, "the stream ended early");
            left -= n as u64;
        }
        // Hanging up mid-stream here: the server must not mind.
        drop(r);
        rss_kib().saturating_sub(before)
    })
    .await
    .unwrap();
    assert!(
        growth < 24 * 1024,
        "resident memory grew by {growth} KiB while streaming 256 MiB"
    );
    // The server still answers after the client hung up.
    let r = common::get(&format!("{}/api/databases/my-db-123/backups", fake.url()), fake.token()).await;
    assert_eq!(r.status, 200);
}

#[test]
fn sigterm_lets_an_in_flight_download_finish() {
    let mut cmd = common::binary::command();
    cmd.args(["--port", "0", "--token", "t", "--log", "warn"])
        .stderr(Stdio::null());
    let mut running = common::binary::run(cmd);
    let addr = running.address();

    let link = common::blocking_get(
        addr,
        &format!("/api/databases/my-db-123/backups/{SEED_DONE}/archive"),
        "t",
    );
    assert_eq!(link.status, 200, "{}", link.text());
    let path = common::path_of(link.json()["download_url"].as_str().unwrap());

    let want = 64u64 << 20;
    let range = format!("bytes=0-{}", want - 1);
    let (mut r, head) = common::blocking_open(&addr.to_string(), &path, &[("Range", &range)]);
    assert!(head.starts_with("HTTP/1.1 206"), "{head}");
    let mut first = vec![0u8; 1 << 16];
    r.read_exact(&mut first).unwrap();
    running.sigterm();
    let rest = std::io::copy(&mut r, &mut std::io::sink()).unwrap();
    assert_eq!(first.len() as u64 + rest, want, "the in-flight download finished whole");
    // The binary's grace period is five seconds (a 64 MiB loopback copy takes far less).
    let status = running.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{status}");
}
