//! A hostile or careless client cannot hold the fake: headers trickled in
//! are cut by the header timeout (a kept-alive connection's next head too), a slow body by the body timeout, an idle
//! kept-alive connection by the idle timeout, and connections parked past
//! the cap make room for new clients (the health check among them). A
//! stopped binary cuts what still runs at the end of its grace, and says so.
//! (A panicking handler answering 500 is tested beside the accept loop, in
//! `src/server/accept.rs`: no route can panic on purpose.)
mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::conn::{Raw, Watched};
use scalingo_db_fake::{FakeServer, FaultEffect, FaultMatch, FaultRule};

/// The seed's done backup of `my-db-123`.
const SEED_DONE: &str = "5b8b36104ffb090be1ac3ce1";

/// `GET /_fake/health` on a connection of its own: its status, and how long
/// the answer took.
fn health(addr: SocketAddr) -> (u16, Duration) {
    let start = Instant::now();
    let status = common::blocking_get(addr, "/_fake/health", "").status;
    (status, start.elapsed())
}

#[test]
fn headers_trickled_in_are_cut_by_the_header_timeout_while_others_are_served() {
    let fake = FakeServer::builder()
        .header_read_timeout(Duration::from_secs(1))
        .start_blocking();
    let mut slow = Raw::connect(fake.address());
    let mut writer = slow.stream.try_clone().unwrap();
    let start = Instant::now();
    // The request line, then one header byte every 100 ms: the whole head
    // would take 5 s.
    assert!(slow.send(b"GET /_fake/health HTTP/1.1\r\n"));
    let trickle = std::thread::spawn(move || {
        use std::io::Write;
        for byte in b"Host: test\r\nX-Slow: 0123456789012345678901234\r\n\r\n" {
            std::thread::sleep(Duration::from_millis(100));
            if writer.write_all(&[*byte]).is_err() {
                return;
            }
        }
    });
    // Meanwhile another client is served at once.
    let (status, took) = health(fake.address());
    assert_eq!(status, 200);
    assert!(took < Duration::from_millis(500), "the health check took {took:?}");
    let Watched::Closed(_) = slow.watch(Duration::from_secs(5)) else {
        panic!("the trickling client was not cut");
    };
    let cut_after = start.elapsed();
    assert!(
        (Duration::from_millis(900)..Duration::from_secs(3)).contains(&cut_after),
        "cut after {cut_after:?}, with a header timeout of 1 s"
    );
    assert!(slow.received().is_empty(), "it got an answer: {:?}", slow.received());
    trickle.join().unwrap();
}

#[test]
fn the_next_head_on_a_kept_alive_connection_has_the_header_timeout_too() {
    // The idle timeout is far longer: only the header timeout can cut it,
    // counted from the end of the last answer.
    let fake = FakeServer::builder()
        .header_read_timeout(Duration::from_secs(1))
        .idle_timeout(Duration::from_secs(60))
        .start_blocking();
    let auth = format!("Bearer {}", fake.token());
    let mut c = Raw::connect(fake.address());
    let r = c.get("/api/databases/my-db-123", &[("Authorization", &auth)]);
    assert_eq!(r.status, 200);
    let answered = Instant::now();
    // Half of the next request's head, then nothing more.
    assert!(c.send(b"GET /_fake/health HTTP/1.1\r\nHost: te"));
    let Watched::Closed(_) = c.watch(Duration::from_secs(5)) else {
        panic!("the half-sent head was not cut");
    };
    let cut_after = answered.elapsed();
    assert!(
        (Duration::from_millis(900)..Duration::from_secs(3)).contains(&cut_after),
        "cut {cut_after:?} after the last answer, with a header timeout of 1 s"
    );
    assert!(c.received().is_empty(), "it got an answer: {:?}", c.received());
}

#[test]
fn connections_parked_past_the_cap_make_room_for_new_clients_oldest_idle_first() {
    let fake = FakeServer::builder().max_connections(8).start_blocking();
    let addr = fake.address();
    let auth = format!("Bearer {}", fake.token());
    // Four that never send a byte, then twenty kept alive after a request.
    let mut silent: Vec<Raw> = (0..4).map(|_| Raw::connect(addr)).collect();
    let mut parked = Vec::new();
    for _ in 0..20 {
        let mut c = Raw::connect(addr);
        let r = c.get("/api/databases/my-db-123/backups", &[("Authorization", &auth)]);
        assert_eq!(r.status, 200, "{}", r.text());
        parked.push(c);
    }
    // A new client, and the health check, are served at once.
    let (status, took) = health(addr);
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(1), "the health check took {took:?}");
    let start = Instant::now();
    let r = common::blocking_get(addr, "/api/databases/my-db-123/backups", fake.token());
    assert_eq!(r.status, 200);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "a new client waited {:?}",
        start.elapsed()
    );
    // The connections idle the longest were closed to make room: the silent
    // ones, then the oldest parked. The newest parked are still served.
    // (Twenty-six came, eight stay: seventeen or eighteen were closed, as the
    // health check's own connection was gone or not when the last came.)
    for (i, c) in silent.iter_mut().chain(&mut parked[..13]).enumerate() {
        assert!(
            matches!(c.watch(Duration::from_secs(2)), Watched::Closed(_)),
            "connection {i} (oldest first) is still open"
        );
    }
    for c in &mut parked[14..] {
        assert_eq!(c.watch(Duration::from_millis(100)), Watched::Open);
    }
    let last = parked.last_mut().unwrap();
    let r = last.get("/api/databases/my-db-123/backups", &[("Authorization", &auth)]);
    assert_eq!(r.status, 200);
}

#[test]
fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout_but_not_mid_answer() {
    let fake = FakeServer::builder()
        .idle_timeout(Duration::from_millis(500))
        .start_blocking();
    let addr = fake.address();
    let auth = format!("Bearer {}", fake.token());
    let mut idle = Raw::connect(addr);
    assert_eq!(
        idle.get("/api/databases/my-db-123", &[("Authorization", &auth)]).status,
        200
    );
    match idle.watch(Duration::from_secs(5)) {
        Watched::Closed(after) => assert!(
            (Duration::from_millis(400)..Duration::from_secs(2)).contains(&after),
            "closed after {after:?}, with an idle timeout of 500 ms"
        ),
        Watched::Open => panic!("the idle connection was not closed"),
    }
    // An answer that takes three times the idle timeout to send (30 000
    // bytes at 20 000 bytes/s) is not cut: its connection is busy.
    let link = common::blocking_get(
        addr,
        &format!("/api/databases/my-db-123/backups/{SEED_DONE}/archive"),
        fake.token(),
    );
    let path = common::path_of(link.json()["download_url"].as_str().unwrap());
    let drip = FaultEffect::Drip { bytes_per_sec: 20_000 };
    fake.add_fault(FaultRule::new(drip).when(FaultMatch::default().operation("backups.download")))
        .unwrap();
    let mut slow = Raw::connect(addr);
    let r = slow.get(&path, &[("Range", "bytes=0-29999")]);
    assert_eq!((r.status, r.body.len()), (206, 30_000));
}

#[test]
fn a_body_slower_than_the_body_timeout_is_answered_408_and_its_connection_closed() {
    let fake = FakeServer::builder()
        .body_read_timeout(Duration::from_millis(500))
        .start_blocking();
    let before = fake.backups("my-db-123").unwrap().len();
    let mut c = Raw::connect(fake.address());
    let head = format!(
        "POST /api/databases/my-db-123/backups HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
        fake.token()
    );
    let start = Instant::now();
    assert!(c.send(head.as_bytes()));
    let r = c.response().expect("an answer to the slow body");
    let took = start.elapsed();
    assert_eq!(r.status, 408, "{}", r.text());
    assert_eq!(r.json()["code"], "request_timeout");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(
        (Duration::from_millis(400)..Duration::from_secs(3)).contains(&took),
        "answered after {took:?}, with a body timeout of 500 ms"
    );
    assert!(matches!(c.watch(Duration::from_secs(2)), Watched::Closed(_)));
    assert_eq!(fake.backups("my-db-123").unwrap().len(), before, "no backup was made");
}

#[test]
fn limits_out_of_range_are_refused_naming_each_setting() {
    let err = FakeServer::builder()
        .header_read_timeout(Duration::ZERO)
        .idle_timeout(Duration::from_secs(2 * 86_400))
        .max_connections(0)
        .try_start_blocking()
        .unwrap_err()
        .to_string();
    for field in ["header_read_timeout", "idle_timeout", "max_connections"] {
        assert!(err.contains(field), "{field} is not named: {err}");
    }
    let out = common::binary::command()
        .args(["--max-connections", "0", "--shutdown-grace", "7200"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--max-connections") && err.contains("--shutdown-grace"),
        "{err}"
    );
}

#[test]
fn a_stopped_binary_cuts_what_still_runs_at_the_end_of_its_grace_and_says_so() {
    let mut fake = common::binary::start(&["--token", "t", "--shutdown-grace", "1"]);
    let addr = fake.address();
    // A download of 1 MiB sent at 1 000 bytes/s: it would take twenty
    // minutes.
    let link = common::blocking_get(
        addr,
        &format!("/api/databases/my-db-123/backups/{SEED_DONE}/archive"),
        "t",
    );
    let fault = r#"{"match":{"operation":"backups.download"},"drip_bytes_per_sec":1000}"#;
    let mut add = Raw::connect(addr);
    let body = format!(
        "POST /_fake/faults HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n{fault}",
        fault.len()
    );
    assert!(add.send(body.as_bytes()));
    assert_eq!(add.response().unwrap().status, 201);
    let path = common::path_of(link.json()["download_url"].as_str().unwrap());
    let (mut download, head) = common::blocking_open(&addr.to_string(), &path, &[("Range", "bytes=0-1048575")]);
    assert!(head.starts_with("HTTP/1.1 206"), "{head}");
    let mut first = [0u8; 10];
    download.read_exact(&mut first).unwrap();
    // A request whose head is half-sent, and one whose body is.
    let mut half_head = Raw::connect(addr);
    assert!(half_head.send(b"GET /api/databases/my-db-123/backups HTTP/1.1\r\nHost: te"));
    let mut half_body = Raw::connect(addr);
    let post = "POST /api/databases/my-db-123/backups HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer t\r\n\
                Content-Length: 2\r\n\r\n{";
    assert!(half_body.send(post.as_bytes()));
    std::thread::sleep(Duration::from_millis(200));

    let start = Instant::now();
    fake.sigterm();
    let status = fake.wait_exit(Duration::from_secs(5));
    let took = start.elapsed();
    assert!(status.success(), "{status}");
    assert!(
        (Duration::from_millis(900)..Duration::from_secs(3)).contains(&took),
        "stopped after {took:?}, with a grace of 1 s"
    );
    let log = fake.stderr_text();
    let cut = |what: &str| {
        log.lines()
            .any(|l| l.contains("cut by the shutdown") && l.contains(what))
    };
    assert!(cut("download of"), "{log}");
    assert!(cut("before it was fully received"), "{log}");
    assert!(cut("while being answered"), "{log}");
    assert!(!log.contains("ended by the client"), "{log}");
    for c in [&mut half_head, &mut half_body] {
        assert!(matches!(c.watch(Duration::from_secs(1)), Watched::Closed(_)));
    }
}
