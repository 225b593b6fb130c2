//! Streaming a huge archive (spec §5): constant memory, clients that hang up
//! mid-stream cost nothing, and a graceful stop lets a download finish.
//! (Its own test binary, so memory readings see no other test's traffic.)
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use scalingo_db_fake::FakeServer;

const SEED_DONE: &str = "5b8b36104ffb090be1ac3ce1"; // 17 484 513 608 bytes

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Sends a GET for `path_and_query` on `addr` and returns the stream
/// positioned at the start of the body, with the response head.
fn open(addr: &str, path_and_query: &str, range: Option<&str>) -> (BufReader<TcpStream>, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let range = range.map(|r| format!("Range: {r}\r\n")).unwrap_or_default();
    write!(
        s,
        "GET {path_and_query} HTTP/1.1\r\nHost: {addr}\r\n{range}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut r = BufReader::with_capacity(1 << 20, s);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    (r, head)
}

fn link_path(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    rest[rest.find('/').unwrap()..].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_256_mib_of_a_17_gb_archive_stream_without_memory_growth() {
    let fake = FakeServer::start().await;
    let r = common::get(
        &format!("{}/api/databases/my-db-123/backups/{SEED_DONE}/archive", fake.url()),
        fake.token(),
    )
    .await;
    let path = link_path(r.json()["download_url"].as_str().unwrap());
    let addr = fake.address().to_string();
    let growth = tokio::task::spawn_blocking(move || {
        // Warm up the code paths and allocator first.
        let (mut r, head) = open(&addr, &path, Some("bytes=0-1048575"));
        assert!(head.starts_with("HTTP/1.1 206"), "{head}");
        std::io::copy(&mut r, &mut std::io::sink()).unwrap();
        let before = rss_kib();
        let (r, head) = open(&addr, &path, None);
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
    let mut cmd = common::binary();
    cmd.args(["--port", "0", "--token", "t", "--log", "warn"])
        .stderr(Stdio::null());
    let mut running = common::run_binary(cmd);
    let addr = running.url.strip_prefix("http://").unwrap().to_string();

    let mut s = TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "GET /api/databases/my-db-123/backups/{SEED_DONE}/archive HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let json = &resp[resp.find("\r\n\r\n").unwrap() + 4..];
    let url: serde_json::Value = serde_json::from_str(json).unwrap();
    let path = link_path(url["download_url"].as_str().unwrap());

    let want = 64u64 << 20;
    let (mut r, head) = open(&addr, &path, Some(&format!("bytes=0-{}", want - 1)));
    assert!(head.starts_with("HTTP/1.1 206"), "{head}");
    let mut first = vec![0u8; 1 << 16];
    r.read_exact(&mut first).unwrap();
    assert!(Command::new("kill")
        .args(["-TERM", &running.child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let rest = std::io::copy(&mut r, &mut std::io::sink()).unwrap();
    assert_eq!(first.len() as u64 + rest, want, "the in-flight download finished whole");
    let status = running.child.wait().unwrap();
    assert!(status.success(), "{status}");
}
