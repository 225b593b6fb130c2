//! The request journal's memory under load: an in-process fake with the
//! default journal (the last 1000 requests) answers 500 000 list requests
//! over a few loopback keep-alive connections, and the process's resident
//! memory is printed before, after 100 000 and after 500 000 requests, with
//! the request rate of each stretch.
//!
//! Run: `cargo run --release --example journal_memory` (Linux: the figures
//! come from `/proc/self/status`). `-- --journal-size N` runs it with another
//! journal size (0: none, to compare), `-- --requests N` with another total.
//!
//! The load is four connections on one client thread, one request in
//! flight each, responses read by their `Content-Length`; the server runs
//! on a thread of its own. Loopback only.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use scalingo_db_fake::{Config, FakeServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CONNECTIONS: usize = 4;
const PATH: &str = "/api/databases/my-db-123/backups";

/// `VmRSS` and `VmHWM` (peak) of this process, in KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn print_memory(label: &str, done: u64, rate: Option<f64>) {
    let (rss, peak) = memory_kib();
    let rate = rate.map_or(String::new(), |r| format!(", {r:>9.0} requests/s"));
    println!(
        "{label:<24} {done:>7} requests  RSS {:>7.1} MiB (peak {:>7.1} MiB){rate}",
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
}

/// The end of the head in `buf`, and its `Content-Length`.
fn parse_head(buf: &[u8]) -> Option<(usize, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let length = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())?
    })?;
    Some((end, length))
}

/// Sends list requests on one keep-alive connection while `next` stays
/// under `until`; each must be a 200.
async fn connection(addr: SocketAddr, token: Arc<str>, next: Arc<AtomicU64>, until: u64) {
    let mut stream = TcpStream::connect(addr).await.expect("connect to the fake");
    stream.set_nodelay(true).expect("nodelay");
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= until {
            return;
        }
        let req = format!("GET {PATH}?n={n} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n");
        stream.write_all(req.as_bytes()).await.expect("write a request");
        buf.clear();
        loop {
            if let Some((head, length)) = parse_head(&buf) {
                if buf.len() >= head + length {
                    assert!(buf.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf));
                    break;
                }
            }
            let read = stream.read(&mut chunk).await.expect("read a response");
            assert!(read > 0, "the fake closed the connection");
            buf.extend_from_slice(&chunk[..read]);
        }
    }
}

/// Runs `CONNECTIONS` connections until `until` requests have been sent in
/// all; the requests per second of this stretch.
async fn drive(fake: &FakeServer, token: &Arc<str>, next: &Arc<AtomicU64>, until: u64) -> f64 {
    let from = next.load(Ordering::Relaxed);
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| tokio::spawn(connection(fake.address(), token.clone(), next.clone(), until)))
        .collect();
    for t in tasks {
        t.await.expect("a connection task");
    }
    next.store(until, Ordering::Relaxed);
    (until - from) as f64 / started.elapsed().as_secs_f64()
}

/// `--name N` from the command line, or `default`.
fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| {
            v.parse().unwrap_or_else(|_| panic!("{name} takes a number, got {v}"))
        })
}

fn main() {
    let journal_size = arg("--journal-size", Config::default().journal_size as u64) as usize;
    let total = arg("--requests", 500_000).max(100_000);
    print_memory("before the fake", 0, None);
    let fake = FakeServer::builder()
        .journal_size(journal_size)
        .seed(1)
        .start_blocking();
    println!("journal size {journal_size}, {CONNECTIONS} keep-alive connections, GET {PATH}?n=<i>");
    print_memory("fake started", 0, None);
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a client runtime");
    let token: Arc<str> = Arc::from(fake.token());
    let next = Arc::new(AtomicU64::new(0));
    client.block_on(async {
        let rate = drive(&fake, &token, &next, 100_000).await;
        print_memory("after 100 000", 100_000, Some(rate));
        let rate = drive(&fake, &token, &next, total).await;
        print_memory(&format!("after {total}"), total, Some(rate));
    });
    let kept = fake.requests();
    let first = kept.first().map_or(0, |r| r.seq);
    let last = kept.last().map_or(0, |r| r.seq);
    println!(
        "journal holds {} requests (seq {first}..={last}); backups.list counted {}",
        kept.len(),
        fake.count_requests("backups.list")
    );
}
