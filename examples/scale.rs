//! How the store scales: show-by-id of the oldest and the newest of a
//! million backups, creates per five seconds with retention on while
//! backups pile up unfinished, and memory per stored backup with and without
//! the list served.
//!
//! ```sh
//! cargo run --release --example scale                 # 1 000 000 backups
//! cargo run --release --example scale -- 200000       # fewer
//! ```
//!
//! Loopback only; every loop is bounded in count and time.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use scalingo_db_fake::{FakeServer, Lifecycle};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// `n` sequential keep-alive GETs of `path`; returns requests per second.
fn hammer(addr: SocketAddr, path: &str, token: &str, n: usize) -> f64 {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).ok();
    let req = format!("GET {path} HTTP/1.1\r\nHost: fake\r\nAuthorization: Bearer {token}\r\n\r\n");
    let mut buf = vec![0u8; 1 << 16];
    let t0 = Instant::now();
    for _ in 0..n {
        s.write_all(req.as_bytes()).expect("write");
        // Read one response: the head, then Content-Length bytes.
        let mut got = Vec::new();
        let body_len = loop {
            let k = s.read(&mut buf).expect("read");
            assert!(k > 0, "closed");
            got.extend_from_slice(&buf[..k]);
            if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                assert!(head.starts_with("http/1.1 200"), "{head}");
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .expect("a length");
                break end + 4 + len;
            }
        };
        while got.len() < body_len {
            let k = s.read(&mut buf).expect("read");
            assert!(k > 0, "closed");
            got.extend_from_slice(&buf[..k]);
        }
    }
    n as f64 / t0.elapsed().as_secs_f64()
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _guard = runtime.enter();

    // 1. A million backups, one a millisecond of fake time.
    let before = rss_kib();
    let fake = FakeServer::builder()
        .manual_clock()
        .seed(1)
        .no_fixtures()
        .start_blocking();
    let control = fake.control();
    let db = runtime
        .block_on(control.create_database(serde_json::json!({"id": "big"})))
        .expect("a database");
    let t0 = Instant::now();
    let (mut first, mut last) = (String::new(), String::new());
    for i in 0..n {
        let id = fake.create_backup("big").expect("create").id;
        if i == 0 {
            first = id.clone();
        }
        last = id;
        fake.advance(Duration::from_millis(1));
    }
    let built = t0.elapsed();
    let stored = rss_kib();
    println!(
        "{n} backups created in {:.2} s ({:.0} creates/s, clock moved after each)",
        built.as_secs_f64(),
        n as f64 / built.as_secs_f64()
    );
    println!(
        "memory per stored backup: {:.0} bytes (RSS {} -> {} KiB)",
        (stored.saturating_sub(before)) as f64 * 1024.0 / n as f64,
        before,
        stored
    );

    // 2. Show by id: the oldest and the newest, same number of requests.
    let rounds = 20_000;
    let oldest = hammer(fake.address(), &format!("/api/backups/{first}"), &db.token, rounds);
    let newest = hammer(fake.address(), &format!("/api/backups/{last}"), &db.token, rounds);
    println!(
        "show by id over keep-alive, {rounds} requests each: oldest {oldest:.0} req/s, newest {newest:.0} req/s (ratio {:.2})",
        oldest / newest
    );

    // 3. Memory with the list served once (its body is kept until the next change).
    let t0 = Instant::now();
    hammer(fake.address(), "/api/databases/big/backups", &db.token, 1);
    let listed = rss_kib();
    println!(
        "list of {n} served in {:.2} s; memory per backup with the list body kept: {:.0} bytes (RSS {listed} KiB)",
        t0.elapsed().as_secs_f64(),
        (listed.saturating_sub(before)) as f64 * 1024.0 / n as f64
    );
    drop(fake);

    // 4. Creates per five seconds with retention on while backups pile up
    // unfinished (each runs for an hour of fake time; the clock moves a
    // millisecond per create, so none finishes during the run).
    let fake = FakeServer::builder()
        .manual_clock()
        .seed(2)
        .no_fixtures()
        .retention(1_000)
        .lifecycle(Lifecycle {
            running_secs: 3600.0,
            ..Lifecycle::default()
        })
        .start_blocking();
    runtime
        .block_on(fake.control().create_database(serde_json::json!({"id": "busy"})))
        .expect("a database");
    let mut windows = Vec::new();
    let mut total = 0usize;
    for _ in 0..4 {
        let t0 = Instant::now();
        let mut count = 0usize;
        while t0.elapsed() < Duration::from_secs(5) && total < 5_000_000 {
            for _ in 0..1000 {
                fake.create_backup("busy").expect("create");
                fake.advance(Duration::from_millis(1));
            }
            count += 1000;
            total += 1000;
        }
        windows.push(count);
    }
    println!(
        "creates per 5 s with retention 1000 and every backup unfinished, over 20 s: {windows:?} (kept {} backups)",
        fake.backups("busy").map_or(0, |b| b.len())
    );
}
