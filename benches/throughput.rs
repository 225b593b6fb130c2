//! Throughput and start-up figures of the in-process fake, each next to a baseline
//! measured in the same run (the report gives ratios; nothing here asserts a timing).
//!
//! 1. **List**: requests/s of `GET /api/databases/my-db-123/backups` (20 done backups)
//!    on the fake vs a bare hyper 1.x server (the "physical limit": the least work a hyper server can do per request)
//!    serving the very same body bytes from one pre-built `Bytes`. The load generator is
//!    written here: N keep-alive connections over raw `TcpStream`s, one request in flight
//!    each, responses read by `Content-Length`. If `wrk` is on `PATH`, its figures too.
//!    Also the CPU the fake adds per request, and how much of it building and
//!    serializing the list takes through the public API.
//! 2. **In-process start**: median time from `FakeServer::start().await` to the first
//!    complete 200 of the list route over a raw `TcpStream` with `Connection: close`
//!    (the protocol wiremock-rs's start is usually measured with), and the same
//!    for `FakeServer::start_blocking()`, with `LoadedFake::new` and a request on a running
//!    fake timed apart to show where the time goes.
//! 3. **Big list**: 10 000 backups whose statuses are derived from a manual clock on
//!    every read (a mix of scheduled, pending, running, done and error): requests/s and
//!    cost per backup vs the bare server serving the same bytes, plus the time to build
//!    the views (`fake.backups(db)`) and to serialize them alone (`serde_json`), and the
//!    time to load the fixture (written newest first, and oldest first for comparison).
//! 4. **Download**: GB/s of a 4 GiB archive fetched through the `download_url` of
//!    `GET …/backups/:id/archive`, vs the bare server streaming as many bytes as clones
//!    of one 64 KiB chunk, and the growth of the process's peak RSS while it streams.
//! 5. **External**: the list of section 1 served by the fake's binary, a process of its
//!    own at its default settings (`--log info`: one line per request, written to a
//!    file), vs this bench re-run as a bare hyper process serving the same bytes, both
//!    driven by the load generator here (and by `wrk` when it is on `PATH`). The binary
//!    is the one cargo builds for the bench (`target/release/scalingo-db-fake`, the
//!    `--release` settings), or `BENCH_FAKE_BIN=path`; `BENCH_FAKE_ARGS='--log warn'` adds flags
//!    (to see what a setting costs).
//!
//! Servers run on a multi-thread tokio runtime of their own, the load generator on
//! another; loopback only (127.0.0.1), every loop bounded in time or count. Each load is
//! cut into slices run in ABBA order (fake, baseline, baseline, fake…), each on fresh
//! connections after a short warm-up, so that other work on the machine weighs on both
//! servers alike; the per-slice figures are printed to show the spread.
//!
//! Run: `cargo bench --bench throughput` (about 30 s, 40 s with `wrk`), or a short smoke run with
//! `cargo bench --bench throughput -- --quick` (or `BENCH_QUICK=1`). `BENCH_CONNS=N`
//! changes the number of connections of the list loads (default 64);
//! `BENCH_ONLY=list,start,big,download,external` runs only the sections named (e.g. to
//! profile one): `BENCH_ONLY=external cargo bench --bench throughput` measures the binary.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::{Body, Frame, SizeHint};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use scalingo_db_fake::{fixtures, Backup, ClockMode, Config, FakeServer, FixtureSource, LoadedFake};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;

const LIST_PATH: &str = "/api/databases/my-db-123/backups";
const DATABASE_ID: &str = "597601234ffb097af4f3099b";
const DOWNLOAD_BACKUP: &str = "5b8b36104ffb090be1ac3ce1";
const GIB: u64 = 1 << 30;
const CHUNK: usize = 64 * 1024;

// ---------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------

struct Opts {
    quick: bool,
    /// `BENCH_ONLY=list,start,big,download,external`: the sections to run (default: all).
    only: Option<String>,
    conns: usize,
    /// Slices each load is cut into (run ABBA, fake and baseline alternating).
    rounds: usize,
    warmup: Duration,
    measure: Duration,
    big_conns: usize,
    big_measure: Duration,
    start_rounds: usize,
    download_bytes: u64,
    download_rounds: usize,
}

impl Opts {
    fn from_env() -> Self {
        let quick = std::env::args().any(|a| a == "--quick")
            || std::env::var("BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        let conns = std::env::var("BENCH_CONNS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|n| (1..=1024).contains(n))
            .unwrap_or(64);
        let only = std::env::var("BENCH_ONLY").ok().filter(|v| !v.is_empty());
        if quick {
            Opts {
                quick,
                only,
                conns,
                rounds: 1,
                warmup: Duration::from_millis(100),
                measure: Duration::from_millis(500),
                big_conns: 8,
                big_measure: Duration::from_millis(500),
                start_rounds: 30,
                download_bytes: GIB / 4,
                download_rounds: 1,
            }
        } else {
            Opts {
                quick,
                only,
                conns,
                rounds: 4,
                warmup: Duration::from_millis(250),
                measure: Duration::from_secs(3),
                big_conns: 16,
                big_measure: Duration::from_secs(2),
                start_rounds: 200,
                download_bytes: 4 * GIB,
                download_rounds: 3,
            }
        }
    }
}

impl Opts {
    fn runs(&self, section: &str) -> bool {
        match self.only.as_deref() {
            None => true,
            Some(only) => only.split(',').any(|s| s.trim() == section),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

/// `millis` as `2018-11-23T02:00:00.857+01:00` (always at +01:00).
fn rfc3339_cet(millis: i64) -> String {
    let off = chrono::FixedOffset::east_opt(3600).expect("valid offset");
    let t = chrono::DateTime::from_timestamp_millis(millis).expect("timestamp in range");
    t.with_timezone(&off).format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
}

/// A 24-hex id whose first 8 hex are the creation second (like an ObjectId).
fn object_id(millis: i64, n: u64) -> String {
    format!("{:08x}4ffb09{:010x}", millis.div_euclid(1000) as u32, n)
}

fn database_json(addon: &str, database_id: &str, extra: &str, backups: &[String]) -> String {
    format!(
        r#"{{"id":"{addon}","database_id":"{database_id}","resource_name":"kibana-3938","type":"postgresql","app":"kibana"{extra},"backups":[{}]}}"#,
        backups.join(",")
    )
}

/// `my-db-123` with 20 done daily backups (a typical month of a daily schedule).
fn list_fixture() -> String {
    let first = 1_543_021_200_857_i64; // 2018-11-24T02:00:00.857+01:00
    let backups: Vec<String> = (0..20_i64)
        .map(|i| {
            let created = first - i * 86_400_000 - i * 37;
            format!(
                r#"{{"id":"{}","created_at":"{}","started_at":"{}","size":{},"status":"done","method":"periodic"}}"#,
                object_id(created, 0x714c_0da5 + i as u64),
                rfc3339_cet(created),
                rfc3339_cet(created + 60_000),
                18_392_667_780 - i as u64 * 47_123_457,
            )
        })
        .collect();
    format!(
        r#"{{"databases":[{}]}}"#,
        database_json("my-db-123", DATABASE_ID, "", &backups)
    )
}

const BIG_N: usize = 10_000;
const BIG_DB: &str = "big-db";
/// One backup a minute; each phase lasts a day, so the newest day of backups is
/// `scheduled`, the day before `pending`, then `running`, and the rest finished.
const BIG_STEP_MS: i64 = 60_000;
const BIG_PHASE_SECS: u64 = 86_400;

/// `big-db` with [`BIG_N`] backups that move on the clock (`progress`), newest first as
/// the API lists them (or oldest first); returns the JSON and the clock start that gives
/// a mix of statuses.
fn big_fixture(newest_first: bool) -> (String, i64) {
    let oldest = 1_700_000_000_000_i64;
    let newest = oldest + (BIG_N as i64 - 1) * BIG_STEP_MS;
    let order: Vec<i64> = if newest_first {
        (0..BIG_N as i64).rev().collect()
    } else {
        (0..BIG_N as i64).collect()
    };
    let backups: Vec<String> = order
        .into_iter()
        .map(|i| {
            let created = oldest + i * BIG_STEP_MS + i % 1000;
            let progress = if i % 7 == 3 {
                r#"{"outcome":"error"}"#.to_string()
            } else {
                format!(
                    r#"{{"outcome":"done","size":{}}}"#,
                    18_000_000_000 + i as u64 * 1_234_567
                )
            };
            format!(
                r#"{{"id":"{}","created_at":"{}","method":"{}","progress":{progress}}}"#,
                object_id(created, i as u64),
                rfc3339_cet(created),
                if i % 5 == 0 { "manual" } else { "periodic" },
            )
        })
        .collect();
    let life = format!(
        r#","lifecycle":{{"scheduled_secs":{BIG_PHASE_SECS},"pending_secs":{BIG_PHASE_SECS},"running_secs":{BIG_PHASE_SECS}}}"#
    );
    let json = format!(
        r#"{{"databases":[{}]}}"#,
        database_json(BIG_DB, "65000000aaaabbbbccccdddd", &life, &backups)
    );
    (json, newest + 60_000)
}

/// `my-db-123` with one done backup of exactly `size` bytes.
fn download_fixture(size: u64) -> String {
    let created = 1_535_850_000_178_i64; // 2018-09-02T03:00:00.178+02:00
    let backup = format!(
        r#"{{"id":"{DOWNLOAD_BACKUP}","created_at":"{}","started_at":"{}","size":{size},"status":"done","method":"periodic"}}"#,
        rfc3339_cet(created),
        rfc3339_cet(created + 120_000),
    );
    format!(
        r#"{{"databases":[{}]}}"#,
        database_json("my-db-123", DATABASE_ID, "", &[backup])
    )
}

// ---------------------------------------------------------------------------------------
// The bare hyper baseline ("physical limit")
// ---------------------------------------------------------------------------------------

/// A body of `remaining` bytes, produced as slices of one shared chunk (no copying).
struct Repeat {
    chunk: Bytes,
    remaining: u64,
}

impl Body for Repeat {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = self.remaining.min(CHUNK as u64) as usize;
        self.remaining -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(self.chunk.slice(..n)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

type Reply = Response<Either<Full<Bytes>, Repeat>>;

fn baseline_route(req: &Request<hyper::body::Incoming>, list: &Bytes, chunk: &Bytes, size: u64) -> Reply {
    let path = req.uri().path();
    let b = Response::builder();
    let r = if req.method() != Method::GET {
        b.status(StatusCode::METHOD_NOT_ALLOWED)
            .body(Either::Left(Full::default()))
    } else if path.ends_with("/backups") {
        b.header(CONTENT_TYPE, "application/json")
            .body(Either::Left(Full::new(list.clone())))
    } else if path.contains("/download") {
        b.header(CONTENT_TYPE, "application/gzip")
            .header(CONTENT_LENGTH, size)
            .body(Either::Right(Repeat {
                chunk: chunk.clone(),
                remaining: size,
            }))
    } else {
        b.status(StatusCode::NOT_FOUND).body(Either::Left(Full::default()))
    };
    r.expect("static response parts are valid")
}

/// The bare server, serving `list` on `…/backups` and `download` bytes on `…/download`.
struct Baseline {
    addr: SocketAddr,
    accept: tokio::task::JoinHandle<()>,
}

impl Baseline {
    fn start(rt: &Runtime, list: Bytes, download: u64) -> Baseline {
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0)))
            .expect("bind the baseline");
        let addr = listener.local_addr().expect("local_addr");
        let chunk = Bytes::from(vec![0x5a_u8; CHUNK]);
        let accept = rt.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let (list, chunk) = (list.clone(), chunk.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let resp = baseline_route(&req, &list, &chunk, download);
                        async move { Ok::<_, Infallible>(resp) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Baseline { addr, accept }
    }
}

impl Drop for Baseline {
    fn drop(&mut self) {
        // Open connections end when their clients close them.
        self.accept.abort();
    }
}

// ---------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client over raw TcpStreams
// ---------------------------------------------------------------------------------------

fn request(addr: SocketAddr, path: &str, token: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n{extra}\r\n").into_bytes()
}

fn io_err(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
}

/// The status and `Content-Length` of a response head (`head` ends with CRLFCRLF).
fn parse_head(head: &[u8]) -> std::io::Result<(u16, u64)> {
    let text = std::str::from_utf8(head).map_err(|_| io_err("response head is not UTF-8".into()))?;
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.strip_prefix("HTTP/1.1 "))
        .and_then(|l| l.get(..3))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| io_err(format!("bad status line in {text:?}")))?;
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse::<u64>().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(io_err("chunked responses are not supported by this client".into()));
        }
    }
    let length = length.ok_or_else(|| io_err(format!("no Content-Length in {text:?}")))?;
    Ok((status, length))
}

/// Reads one response; `buf` is scratch space (its length is the read size). The body is
/// appended to `keep` when given, else discarded. Returns the status and body length.
async fn read_response(
    stream: &mut TcpStream,
    buf: &mut [u8],
    mut keep: Option<&mut Vec<u8>>,
) -> std::io::Result<(u16, u64)> {
    let mut filled = 0;
    let head_end = loop {
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let from = filled.saturating_sub(3);
        filled += n;
        if let Some(p) = buf[from..filled].windows(4).position(|w| w == b"\r\n\r\n") {
            break from + p + 4;
        }
        if filled == buf.len() {
            return Err(io_err("response head larger than the read buffer".into()));
        }
    };
    let (status, length) = parse_head(&buf[..head_end])?;
    let got = (filled - head_end) as u64;
    if got > length {
        return Err(io_err("more bytes than Content-Length (no pipelining here)".into()));
    }
    if let Some(k) = keep.as_deref_mut() {
        k.extend_from_slice(&buf[head_end..filled]);
    }
    let mut left = length - got;
    while left > 0 {
        let want = buf.len().min(left.try_into().unwrap_or(usize::MAX));
        let n = stream.read(&mut buf[..want]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if let Some(k) = keep.as_deref_mut() {
            k.extend_from_slice(&buf[..n]);
        }
        left -= n as u64;
    }
    Ok((status, length))
}

/// One request on a fresh connection; the status and the whole body.
async fn fetch(addr: SocketAddr, req: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    s.write_all(req).await?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut body = Vec::new();
    let (status, _) = read_response(&mut s, &mut buf, Some(&mut body)).await?;
    Ok((status, body))
}

// ---------------------------------------------------------------------------------------
// The load generator
// ---------------------------------------------------------------------------------------

struct Load {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    /// Non-200 answers and failed connections.
    errors: u64,
    /// Requests/s of each slice, in the order run.
    slices: Vec<f64>,
    /// On-CPU time per request of the server's and the load generator's threads (µs),
    /// when the kernel tells (`/proc/self/task/*/schedstat`).
    cpu_us: Option<(f64, f64)>,
}

struct Flags {
    stop: AtomicBool,
    recording: AtomicBool,
    done: AtomicU64,
    errors: AtomicU64,
}

/// One keep-alive connection sending `req` in a loop until told to stop; returns the
/// latencies (µs) of the requests completed while recording.
async fn connection(addr: SocketAddr, req: Arc<Vec<u8>>, flags: Arc<Flags>) -> Vec<u32> {
    let mut lat = Vec::with_capacity(1 << 14);
    let Ok(mut s) = TcpStream::connect(addr).await else {
        flags.errors.fetch_add(1, Ordering::Relaxed);
        return lat;
    };
    let _ = s.set_nodelay(true);
    let mut buf = vec![0u8; 64 * 1024];
    while !flags.stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        let sent = s.write_all(&req).await;
        let answer = match sent {
            Ok(()) => read_response(&mut s, &mut buf, None).await,
            Err(e) => Err(e),
        };
        match answer {
            Ok((200, _)) => {
                flags.done.fetch_add(1, Ordering::Relaxed);
                if flags.recording.load(Ordering::Relaxed) {
                    lat.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                }
            }
            Ok(_) => {
                flags.errors.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                flags.errors.fetch_add(1, Ordering::Relaxed);
                return lat;
            }
        }
    }
    lat
}

/// What one slice of load measured.
struct Slice {
    requests: u64,
    elapsed: Duration,
    latencies: Vec<u32>,
    errors: u64,
    /// On-CPU time of the server's and the client's threads over the slice.
    cpu: Option<(Duration, Duration)>,
}

/// On-CPU time so far of this process's threads named `name` (tokio names every worker
/// of a runtime alike), from `/proc/self/task/*/schedstat`.
fn threads_cpu(name: &str) -> Option<Duration> {
    let mut total = 0_u64;
    for entry in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = entry.ok()?.path();
        // A thread may end between the listing and the reads: skip it.
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
            continue;
        };
        if comm.trim_end() != name {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(dir.join("schedstat")) else {
            continue;
        };
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

fn cpu_now() -> Option<(Duration, Duration)> {
    Some((threads_cpu(SERVER_THREADS)?, threads_cpu(CLIENT_THREADS)?))
}

const SERVER_THREADS: &str = "bench-server";
const CLIENT_THREADS: &str = "bench-client";

/// `conns` fresh connections send `req` to `addr` for `warmup` + `measure`; requests are
/// counted over `measure` only.
fn slice(
    client: &Runtime,
    addr: SocketAddr,
    req: &Arc<Vec<u8>>,
    conns: usize,
    warmup: Duration,
    measure: Duration,
) -> Slice {
    client.block_on(async move {
        let flags = Arc::new(Flags {
            stop: AtomicBool::new(false),
            recording: AtomicBool::new(false),
            done: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        });
        let tasks: Vec<_> = (0..conns)
            .map(|_| tokio::spawn(connection(addr, req.clone(), flags.clone())))
            .collect();
        tokio::time::sleep(warmup).await;
        flags.recording.store(true, Ordering::Relaxed);
        let cpu0 = cpu_now();
        let (c0, t0) = (flags.done.load(Ordering::Relaxed), Instant::now());
        tokio::time::sleep(measure).await;
        let (c1, elapsed) = (flags.done.load(Ordering::Relaxed), t0.elapsed());
        let cpu1 = cpu_now();
        flags.recording.store(false, Ordering::Relaxed);
        flags.stop.store(true, Ordering::Relaxed);
        let mut latencies = Vec::new();
        for t in tasks {
            latencies.extend(t.await.unwrap_or_default());
        }
        Slice {
            requests: c1 - c0,
            elapsed,
            latencies,
            errors: flags.errors.load(Ordering::Relaxed),
            cpu: cpu0
                .zip(cpu1)
                .map(|((s0, c0), (s1, c1))| (s1.saturating_sub(s0), c1.saturating_sub(c0))),
        }
    })
}

/// Loads each `(addr, request)` target with the same generator for `measure` in all,
/// cut in `rounds` slices run in ABBA order (A B, B A, A B…), so that whatever else the
/// machine does weighs on every target alike. Each slice opens fresh connections and
/// warms up for `warmup` before counting.
fn compare(
    client: &Runtime,
    targets: &[(SocketAddr, &[u8])],
    conns: usize,
    warmup: Duration,
    measure: Duration,
    rounds: usize,
) -> Vec<Load> {
    let per_slice = measure / rounds as u32;
    let reqs: Vec<Arc<Vec<u8>>> = targets.iter().map(|(_, r)| Arc::new(r.to_vec())).collect();
    let mut slices: Vec<Vec<Slice>> = targets.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        let order: Vec<usize> = if round % 2 == 0 {
            (0..targets.len()).collect()
        } else {
            (0..targets.len()).rev().collect()
        };
        for i in order {
            slices[i].push(slice(client, targets[i].0, &reqs[i], conns, warmup, per_slice));
        }
    }
    slices
        .into_iter()
        .map(|s| {
            let requests: u64 = s.iter().map(|x| x.requests).sum();
            let secs: f64 = s.iter().map(|x| x.elapsed.as_secs_f64()).sum();
            let mut lat: Vec<u32> = s.iter().flat_map(|x| x.latencies.iter().copied()).collect();
            lat.sort_unstable();
            let pct = |p: f64| {
                let i = ((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1));
                lat.get(i).copied().unwrap_or(0) as f64
            };
            Load {
                rps: requests as f64 / secs,
                p50_us: pct(0.50),
                p99_us: pct(0.99),
                errors: s.iter().map(|x| x.errors).sum(),
                slices: s.iter().map(|x| x.requests as f64 / x.elapsed.as_secs_f64()).collect(),
                cpu_us: s
                    .iter()
                    .map(|x| x.cpu)
                    .try_fold((Duration::ZERO, Duration::ZERO), |(a, b), c| {
                        c.map(|(s, k)| (a + s, b + k))
                    })
                    .filter(|_| requests > 0)
                    .map(|(s, k)| (us(s) / requests as f64, us(k) / requests as f64)),
            }
        })
        .collect()
}

/// `wrk`'s requests/s on `url`, when `wrk` is on `PATH` (`None` otherwise or on failure).
fn wrk(url: &str, token: &str, conns: usize, secs: u64) -> Option<f64> {
    let path = std::env::var_os("PATH")?;
    let wrk = std::env::split_paths(&path)
        .map(|d| d.join("wrk"))
        .find(|p| p.is_file())?;
    let out = std::process::Command::new(wrk)
        .args(["-t2", &format!("-c{conns}"), &format!("-d{secs}s")])
        .args(["-H", &format!("Authorization: Bearer {token}"), url])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
}

// ---------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------

struct Row {
    what: String,
    fake: String,
    baseline: String,
    ratio: String,
    target: String,
}

fn row(what: &str, fake: String, baseline: String, ratio: String, target: &str) -> Row {
    Row {
        what: what.to_string(),
        fake,
        baseline,
        ratio,
        target: target.to_string(),
    }
}

fn print_table(rows: &[Row]) {
    let w = |f: fn(&Row) -> &str, title: &str| rows.iter().map(|r| f(r).len()).max().unwrap_or(0).max(title.len());
    let widths = [
        w(|r| &r.what, "figure"),
        w(|r| &r.fake, "fake"),
        w(|r| &r.baseline, "baseline"),
        w(|r| &r.ratio, "ratio"),
        w(|r| &r.target, "target"),
    ];
    let line = |c: [&str; 5]| {
        let mut s = String::new();
        let _ = write!(
            s,
            "{:<a$}  {:>b$}  {:>c$}  {:>d$}  {:<e$}",
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            a = widths[0],
            b = widths[1],
            c = widths[2],
            d = widths[3],
            e = widths[4]
        );
        println!("{}", s.trim_end());
    };
    line(["figure", "fake", "baseline", "ratio", "target"]);
    println!("{}", "-".repeat(widths.iter().sum::<usize>() + 8));
    for r in rows {
        line([&r.what, &r.fake, &r.baseline, &r.ratio, &r.target]);
    }
}

/// One line per server of a compared pair: requests/s, latency, errors and
/// the per-slice figures.
fn print_pair(names: [&str; 2], f: &Load, l: &Load) {
    for (name, r) in names.into_iter().zip([f, l]) {
        println!(
            "{name:<12} {:>9.0} req/s   p50 {:>6.0} µs   p99 {:>6.0} µs   errors {}   slices: {}",
            r.rps,
            r.p50_us,
            r.p99_us,
            r.errors,
            slices_text(&r.slices)
        );
    }
}

fn slices_text(s: &[f64]) -> String {
    s.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(" ")
}

fn fmt_rps(x: f64) -> String {
    format!("{x:.0} req/s")
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Prints the on-CPU time per request of the server and the load generator, for the
/// fake and the baseline, when known.
fn print_cpu(f: &Load, l: &Load) {
    if let (Some((fs, fc)), Some((ls, lc))) = (f.cpu_us, l.cpu_us) {
        println!(
            "on-CPU time per request: server threads fake {fs:.1} µs vs limit {ls:.1} µs (+{:.1} µs); \
             load generator {fc:.1} µs vs {lc:.1} µs",
            fs - ls
        );
    }
}

/// Median times of `fake.backups(db)` (the views) and of serializing them with serde_json
/// into the list body, over `rounds`; checks the bytes are the ones served.
fn serialize_alone(fake: &FakeServer, db: &str, wire: &[u8], rounds: usize) -> (Duration, Duration) {
    let (mut views_t, mut ser_t) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for _ in 0..rounds {
        let t = Instant::now();
        let views: Vec<Backup> = fake.backups(db).expect("the database exists");
        views_t.push(t.elapsed());
        let t = Instant::now();
        let mut out = Vec::with_capacity(wire.len() + 64);
        out.extend_from_slice(b"{\"database_backups\":");
        serde_json::to_writer(&mut out, &views).expect("serialize");
        out.push(b'}');
        ser_t.push(t.elapsed());
        assert!(out == wire, "serializing the views must give the bytes served");
    }
    (median(&mut views_t), median(&mut ser_t))
}

// ---------------------------------------------------------------------------------------
// 1. List throughput
// ---------------------------------------------------------------------------------------

fn bench_list(o: &Opts, server: &Runtime, client: &Runtime, rows: &mut Vec<Row>) {
    println!(
        "\n== 1. list: GET {LIST_PATH} (20 done backups), {} connections",
        o.conns
    );
    let fake = server.block_on(async {
        FakeServer::builder()
            .seed(1)
            .fixtures_json(&list_fixture())
            .start()
            .await
    });
    let token = fake.token().to_string();
    let req = request(fake.address(), LIST_PATH, &token, "");
    let (status, body) = client.block_on(fetch(fake.address(), &req)).expect("fetch the list");
    assert_eq!(status, 200, "list: {}", String::from_utf8_lossy(&body));
    let body = Bytes::from(body);
    let limit = Baseline::start(server, body.clone(), 0);
    // The very same bytes from both (the baseline ignores the Authorization header).
    let (s2, b2) = client
        .block_on(fetch(limit.addr, &request(limit.addr, LIST_PATH, &token, "")))
        .expect("fetch the baseline list");
    assert!(s2 == 200 && b2 == body, "the baseline must serve the fake's body");
    println!("body: {} bytes of JSON", body.len());

    let limit_req = request(limit.addr, LIST_PATH, &token, "");
    let targets: [(SocketAddr, &[u8]); 2] = [(fake.address(), &req), (limit.addr, &limit_req)];
    let mut r = compare(client, &targets, o.conns, o.warmup, o.measure, o.rounds).into_iter();
    let (f, l) = (r.next().expect("fake"), r.next().expect("limit"));
    print_pair(["fake", "limit-hyper"], &f, &l);
    let ratio = f.rps / l.rps;
    println!("ratio fake/limit: {ratio:.3} (target >= 0.85)");
    print_cpu(&f, &l);
    let (views, ser) = serialize_alone(&fake, "my-db-123", &body, if o.quick { 200 } else { 2000 });
    println!(
        "through the public API: fake.backups() {:.1} µs + serde_json {:.1} µs per list ({:.0} + {:.0} ns per backup)",
        us(views),
        us(ser),
        views.as_secs_f64() * 1e9 / 20.0,
        ser.as_secs_f64() * 1e9 / 20.0
    );
    rows.push(row(
        "list 20 backups, rps",
        fmt_rps(f.rps),
        fmt_rps(l.rps),
        format!("{ratio:.3}"),
        ">= 0.85",
    ));
    rows.push(row(
        "list 20 backups, p99 latency",
        format!("{:.0} µs", f.p99_us),
        format!("{:.0} µs", l.p99_us),
        format!("{:.3}", f.p99_us / l.p99_us.max(1.0)),
        "",
    ));

    if let (Some((fs, fc)), Some((ls, lc))) = (f.cpu_us, l.cpu_us) {
        rows.push(row(
            "list 20: server CPU per request",
            format!("{fs:.1} µs"),
            format!("{ls:.1} µs"),
            format!("{:.3}", fs / ls),
            "",
        ));
        rows.push(row(
            "list 20: load generator CPU per request",
            format!("{fc:.1} µs"),
            format!("{lc:.1} µs"),
            format!("{:.3}", fc / lc),
            "",
        ));
    }
    rows.push(row(
        "list 20: fake.backups() + serde",
        format!("{:.1} + {:.1} µs", us(views), us(ser)),
        String::new(),
        String::new(),
        "",
    ));
    let secs = o.measure.as_secs().max(1);
    let fake_url = format!("{}{LIST_PATH}", fake.url());
    let limit_url = format!("http://{}{LIST_PATH}", limit.addr);
    if let (Some(wf), Some(wl)) = (
        wrk(&fake_url, &token, o.conns, secs),
        wrk(&limit_url, &token, o.conns, secs),
    ) {
        println!(
            "wrk -t2 -c{} -d{secs}s: fake {wf:.0} req/s, limit {wl:.0} req/s",
            o.conns
        );
        rows.push(row(
            "list 20 backups, rps (wrk)",
            fmt_rps(wf),
            fmt_rps(wl),
            format!("{:.3}", wf / wl),
            ">= 0.85",
        ));
    }
    drop(limit);
    server.block_on(fake.shutdown());
}

// ---------------------------------------------------------------------------------------
// 2. In-process start
// ---------------------------------------------------------------------------------------

const CLOSE_REQUEST: &str = "Connection: close\r\n";

async fn first_list(fake: &FakeServer) {
    let req = request(fake.address(), LIST_PATH, fake.token(), CLOSE_REQUEST);
    let mut s = TcpStream::connect(fake.address()).await.expect("connect");
    s.write_all(&req).await.expect("write");
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).await.expect("read");
    assert!(resp.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&resp));
}

fn first_list_blocking(fake: &FakeServer) {
    let req = request(fake.address(), LIST_PATH, fake.token(), CLOSE_REQUEST);
    let mut s = std::net::TcpStream::connect(fake.address()).expect("connect");
    s.write_all(&req).expect("write");
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).expect("read");
    assert!(resp.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&resp));
}

fn bench_start(o: &Opts, server: &Runtime, rows: &mut Vec<Row>) {
    let n = o.start_rounds;
    println!("\n== 2. in-process start: start + first complete 200 of the list (Connection: close), {n} rounds");
    let (mut asynchronous, mut seeded) = server.block_on(async {
        let (mut a, mut s) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for _ in 0..n {
            let t0 = Instant::now();
            let fake = FakeServer::start().await;
            first_list(&fake).await;
            a.push(t0.elapsed());
            drop(fake);
            let t0 = Instant::now();
            let fake = FakeServer::builder().seed(7).start().await;
            first_list(&fake).await;
            s.push(t0.elapsed());
            drop(fake);
        }
        (a, s)
    });
    let mut blocking: Vec<Duration> = (0..n)
        .map(|_| {
            let t0 = Instant::now();
            let fake = FakeServer::start_blocking();
            first_list_blocking(&fake);
            let t = t0.elapsed();
            drop(fake); // joins the server's thread, outside the timing
            t
        })
        .collect();
    let first = asynchronous[0];
    let (a, s, b) = (median(&mut asynchronous), median(&mut seeded), median(&mut blocking));
    println!(
        "FakeServer::start().await             median {:>7.1} µs (first round {:.1} µs)",
        us(a),
        us(first)
    );
    println!("FakeServer::builder().seed(7).start() median {:>7.1} µs", us(s));
    println!("FakeServer::start_blocking()          median {:>7.1} µs", us(b));
    // Where the time goes: building the state alone, and one close-delimited request on a
    // server that is already running (fresh connection each time).
    let mut prepare: Vec<Duration> = (0..n)
        .map(|_| {
            let t0 = Instant::now();
            let p = LoadedFake::new(&Config::default()).expect("embedded fixtures load");
            let t = t0.elapsed();
            drop(p);
            t
        })
        .collect();
    let mut request_only = server.block_on(async {
        let fake = FakeServer::start().await;
        first_list(&fake).await;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let t0 = Instant::now();
            first_list(&fake).await;
            v.push(t0.elapsed());
        }
        v
    });
    let (p, r) = (median(&mut prepare), median(&mut request_only));
    println!(
        "  of which: LoadedFake::new (embedded fixtures -> store) {:.1} µs; connect + GET + read to close on a running fake {:.1} µs",
        us(p),
        us(r)
    );
    // The same on a current-thread runtime, the flavour `#[tokio::test]` gives.
    let local = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime");
    let mut current = local.block_on(async {
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let t0 = Instant::now();
            let fake = FakeServer::start().await;
            first_list(&fake).await;
            v.push(t0.elapsed());
            drop(fake);
        }
        v
    });
    let c = median(&mut current);
    println!(
        "FakeServer::start().await, current-thread runtime (#[tokio::test]) median {:>7.1} µs",
        us(c)
    );
    println!("(wiremock-rs's start + mount + first 200, measured apart the same way: ~235-290 µs here)");
    rows.push(row(
        "start async, #[tokio::test] runtime",
        format!("{:.1} µs", us(c)),
        String::new(),
        String::new(),
        "<= 100 µs",
    ));
    rows.push(row(
        "start async, median",
        format!("{:.1} µs", us(a)),
        "~290 µs (wiremock)".into(),
        String::new(),
        "<= 100 µs",
    ));
    rows.push(row(
        "start async seeded, median",
        format!("{:.1} µs", us(s)),
        String::new(),
        String::new(),
        "",
    ));
    rows.push(row(
        "start blocking, median",
        format!("{:.1} µs", us(b)),
        String::new(),
        String::new(),
        "",
    ));
}

// ---------------------------------------------------------------------------------------
// 3. Big list
// ---------------------------------------------------------------------------------------

fn bench_big_list(o: &Opts, server: &Runtime, client: &Runtime, rows: &mut Vec<Row>) {
    println!(
        "\n== 3. big list: {BIG_N} backups derived from the clock on every read, {} connections",
        o.big_conns
    );
    let (json, clock_start) = big_fixture(true);
    let t0 = Instant::now();
    let fake = server.block_on(async {
        FakeServer::builder()
            .seed(1)
            .manual_clock()
            .clock_start_millis(clock_start)
            .fixtures_json(&json)
            .start()
            .await
    });
    let load_time = t0.elapsed();
    // Where the load time goes: parsing and checking the JSON, then building the store,
    // for the fixture as written (newest first) and the same backups oldest first.
    let build = |newest_first: bool| {
        let (json, start) = big_fixture(newest_first);
        let t0 = Instant::now();
        let set = fixtures::parse_str(&json, std::path::Path::new("big.json")).expect("big fixture is valid");
        let parse = t0.elapsed();
        let config = Config {
            fixtures: FixtureSource::Set(set),
            seed: Some(1),
            clock: ClockMode::Manual,
            clock_start: Some(start),
            ..Config::default()
        };
        let t0 = Instant::now();
        let prepared = LoadedFake::new(&config).expect("big fixture loads");
        let store = t0.elapsed();
        drop(prepared);
        (parse, store)
    };
    let (parse_new, store_new) = build(true);
    let (parse_old, store_old) = build(false);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "fixture load: builder + start {:.1} ms; parse+check {:.1} ms and store {:.1} ms as written (newest first), \
         {:.1} ms and {:.1} ms oldest first",
        ms(load_time),
        ms(parse_new),
        ms(store_new),
        ms(parse_old),
        ms(store_old)
    );
    let path = format!("/api/databases/{BIG_DB}/backups");
    let token = fake.token().to_string();
    let req = request(fake.address(), &path, &token, "");
    let (status, body) = client
        .block_on(fetch(fake.address(), &req))
        .expect("fetch the big list");
    assert_eq!(
        status,
        200,
        "big list: {}",
        String::from_utf8_lossy(&body[..body.len().min(300)])
    );
    let mix: Vec<(String, usize)> = ["scheduled", "pending", "running", "done", "error"]
        .iter()
        .map(|s| {
            let needle = format!("\"status\":\"{s}\"");
            (
                s.to_string(),
                body.windows(needle.len()).filter(|w| *w == needle.as_bytes()).count(),
            )
        })
        .collect();
    let mix_text: Vec<String> = mix.iter().map(|(s, n)| format!("{s} {n}")).collect();
    println!(
        "fixture: {} KiB of JSON; list body {} bytes; statuses: {}",
        json.len() / 1024,
        body.len(),
        mix_text.join(", ")
    );
    let body = Bytes::from(body);
    let limit = Baseline::start(server, body.clone(), 0);
    let limit_req = request(limit.addr, &path, &token, "");

    let targets: [(SocketAddr, &[u8]); 2] = [(fake.address(), &req), (limit.addr, &limit_req)];
    let rounds = o.rounds.min(2);
    let mut r = compare(client, &targets, o.big_conns, o.warmup, o.big_measure, rounds).into_iter();
    let (f, l) = (r.next().expect("fake"), r.next().expect("limit"));
    let per = |rps: f64| 1e9 / (rps * BIG_N as f64);
    println!(
        "fake         {:>7.1} req/s  ({:.1} ns per backup)   errors {}   slices: {}",
        f.rps,
        per(f.rps),
        f.errors,
        slices_text(&f.slices)
    );
    println!(
        "limit-hyper  {:>7.1} req/s  ({:.1} ns per backup)   errors {}   slices: {}",
        l.rps,
        per(l.rps),
        l.errors,
        slices_text(&l.slices)
    );
    println!(
        "ratio fake/limit: {:.3}   (ns per backup = 1 s / (req/s x {BIG_N}), every core busy)",
        f.rps / l.rps
    );
    print_cpu(&f, &l);

    // Serialization alone, through the public API: the views, then serde_json.
    let (v, s) = serialize_alone(&fake, BIG_DB, &body, if o.quick { 5 } else { 30 });
    println!(
        "through the public API: fake.backups() {:.2} ms + serde_json::to_writer {:.2} ms = {:.1} + {:.1} ns per backup",
        v.as_secs_f64() * 1e3,
        s.as_secs_f64() * 1e3,
        v.as_secs_f64() * 1e9 / BIG_N as f64,
        s.as_secs_f64() * 1e9 / BIG_N as f64,
    );
    rows.push(row(
        "list 10k backups, rps",
        format!("{:.1} req/s", f.rps),
        format!("{:.1} req/s", l.rps),
        format!("{:.3}", f.rps / l.rps),
        "",
    ));
    rows.push(row(
        "list 10k backups, ns per backup",
        format!("{:.1} ns", per(f.rps)),
        format!("{:.1} ns", per(l.rps)),
        format!("{:.3}", per(f.rps) / per(l.rps)),
        "",
    ));
    if let (Some((fs, _)), Some((ls, _))) = (f.cpu_us, l.cpu_us) {
        rows.push(row(
            "list 10k: server CPU per backup",
            format!("{:.1} ns", fs * 1e3 / BIG_N as f64),
            format!("{:.1} ns", ls * 1e3 / BIG_N as f64),
            format!("{:.3}", fs / ls),
            "",
        ));
    }
    rows.push(row(
        "10k: fake.backups() + serde, ns/backup",
        format!(
            "{:.1} + {:.1} ns",
            v.as_secs_f64() * 1e9 / BIG_N as f64,
            s.as_secs_f64() * 1e9 / BIG_N as f64
        ),
        String::new(),
        String::new(),
        "",
    ));
    rows.push(row(
        "10k: builder.fixtures_json + start",
        format!("{:.1} ms", ms(load_time)),
        String::new(),
        String::new(),
        "",
    ));
    rows.push(row(
        "10k: store build, newest/oldest first",
        format!("{:.1} / {:.1} ms", ms(store_new), ms(store_old)),
        String::new(),
        String::new(),
        "",
    ));
    // Every read re-derived: before each request the clock moves past the next status
    // change of some backup (one a minute of fake time here), so the list cache never
    // holds and the body is rendered anew; one request at a time, vs the same sequential
    // fetch from the baseline.
    let rounds_uncached = if o.quick { 20 } else { 150 };
    let (mut fresh, mut base) = (Vec::new(), Vec::new());
    for _ in 0..rounds_uncached {
        fake.advance(Duration::from_secs(60));
        let t0 = Instant::now();
        let (st, b) = client
            .block_on(fetch(fake.address(), &req))
            .expect("fetch the big list");
        fresh.push(t0.elapsed());
        assert_eq!((st, b.len() > 1_000_000), (200, true));
        let t0 = Instant::now();
        client
            .block_on(fetch(limit.addr, &limit_req))
            .expect("fetch from the baseline");
        base.push(t0.elapsed());
    }
    let (fm, bm) = (median(&mut fresh), median(&mut base));
    let render_ns = (fm.as_secs_f64() - bm.as_secs_f64()) * 1e9 / BIG_N as f64;
    println!(
        "every read re-derived (clock moved before each request): {:.2} ms vs baseline {:.2} ms per request; \
         the fake's extra work {:.0} ns per backup",
        fm.as_secs_f64() * 1e3,
        bm.as_secs_f64() * 1e3,
        render_ns
    );
    rows.push(row(
        "list 10k re-derived each read, ms",
        format!("{:.2} ms", fm.as_secs_f64() * 1e3),
        format!("{:.2} ms", bm.as_secs_f64() * 1e3),
        format!("{:.3}", fm.as_secs_f64() / bm.as_secs_f64()),
        "",
    ));
    rows.push(row(
        "list 10k re-derived: extra ns per backup",
        format!("{render_ns:.0} ns"),
        String::new(),
        String::new(),
        "",
    ));
    drop(limit);
    server.block_on(fake.shutdown());
}

// ---------------------------------------------------------------------------------------
// 4. Download
// ---------------------------------------------------------------------------------------

/// (VmHWM, VmRSS) of this process, in KiB.
fn memory_kib() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

/// Resets the peak RSS (VmHWM) to the current RSS (Linux 4.0+); false if refused.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Downloads `path` (with extra headers) into `buf`, discarding the body; status, length
/// and time from connect to the last byte.
async fn download(addr: SocketAddr, path: &str, extra: &str, buf: &mut [u8]) -> (u16, u64, Duration) {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n");
    let t0 = Instant::now();
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s.write_all(req.as_bytes()).await.expect("write");
    let (status, len) = read_response(&mut s, buf, None).await.expect("download");
    (status, len, t0.elapsed())
}

fn gbps(bytes: u64, t: Duration) -> f64 {
    bytes as f64 / t.as_secs_f64() / 1e9
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn bench_download(o: &Opts, server: &Runtime, client: &Runtime, rows: &mut Vec<Row>) {
    let n = o.download_bytes;
    let size = 4 * GIB;
    println!(
        "\n== 4. download: {n} bytes ({:.2} GiB) of a {size}-byte done backup, best of {} (ABBA)",
        n as f64 / GIB as f64,
        o.download_rounds
    );
    let fake = server.block_on(async {
        FakeServer::builder()
            .seed(1)
            .fixtures_json(&download_fixture(size))
            .start()
            .await
    });
    let archive = format!("/api/databases/my-db-123/backups/{DOWNLOAD_BACKUP}/archive");
    let (status, body) = client
        .block_on(fetch(
            fake.address(),
            &request(fake.address(), &archive, fake.token(), ""),
        ))
        .expect("archive link");
    let link: serde_json::Value = serde_json::from_slice(&body).expect("archive link is JSON");
    assert_eq!(status, 200, "archive link: {link}");
    let url = link["download_url"].as_str().expect("download_url").to_string();
    let path = url[url.find("/api/").expect("download_url has a path")..].to_string();
    // The whole body when measuring 4 GiB; the first n bytes through a Range otherwise.
    let range = if n == size {
        String::new()
    } else {
        format!("Range: bytes=0-{}\r\n", n - 1)
    };
    let fake_status = if range.is_empty() { 200 } else { 206 };
    let limit = Baseline::start(server, Bytes::new(), n);
    // One client buffer for every download, touched now so that it is already resident
    // and the RSS figures below are the server's.
    let mut buf = vec![0x11_u8; 4 << 20];

    let (mut f, mut l) = (0.0_f64, 0.0_f64);
    let mut peak_growth: Option<u64> = None;
    let mut rss = None;
    for round in 0..o.download_rounds {
        let order = if round % 2 == 0 { [true, false] } else { [false, true] };
        for is_fake in order {
            if is_fake {
                let reset = reset_peak_rss();
                let before = memory_kib();
                let (st, len, t) = client.block_on(download(fake.address(), &path, &range, &mut buf));
                let after = memory_kib();
                assert!(st == fake_status && len == n, "fake download: status {st}, {len} bytes");
                f = f.max(gbps(n, t));
                if let (true, Some((_, rss0)), Some((hwm1, rss1))) = (reset, before, after) {
                    peak_growth = Some(peak_growth.unwrap_or(0).max(hwm1.saturating_sub(rss0)));
                    rss = Some((rss0, hwm1, rss1));
                }
            } else {
                let (st, len, t) = client.block_on(download(limit.addr, "/download", "", &mut buf));
                assert!(st == 200 && len == n, "baseline download: status {st}, {len} bytes");
                l = l.max(gbps(n, t));
            }
        }
    }
    let how = if range.is_empty() {
        "200, whole body"
    } else {
        "206, Range from 0"
    };
    println!("fake         {f:>6.2} GB/s   ({how})");
    println!("limit-hyper  {l:>6.2} GB/s   (clones of one 64 KiB chunk)");
    println!("ratio fake/limit: {:.3} (target >= 0.9)", f / l);
    let mem = match (peak_growth, rss) {
        (Some(g), Some((rss0, hwm1, rss1))) => {
            println!(
                "process RSS around the last fake download: {:.1} MiB before, peak {:.1} MiB, {:.1} MiB after; \
                 largest peak growth over the fake downloads: {:.1} MiB",
                mib(rss0),
                mib(hwm1),
                mib(rss1),
                mib(g)
            );
            format!("{:.1} MiB", mib(g))
        }
        _ => {
            println!("peak RSS: /proc/self/clear_refs or /proc/self/status not usable here");
            "n/a".into()
        }
    };
    rows.push(row(
        &format!("download {:.2} GiB, GB/s", n as f64 / GIB as f64),
        format!("{f:.2} GB/s"),
        format!("{l:.2} GB/s"),
        format!("{:.3}", f / l),
        ">= 0.9",
    ));
    rows.push(row(
        "download, peak RSS growth",
        mem,
        String::new(),
        String::new(),
        "constant",
    ));
    drop(limit);
    server.block_on(fake.shutdown());
}

// ---------------------------------------------------------------------------------------
// 5. External: the release binary at its defaults vs a bare hyper process
// ---------------------------------------------------------------------------------------

/// In the environment of this bench re-run as the baseline process: the file of the
/// list body it serves.
const BASELINE_BODY_ENV: &str = "BENCH_BASELINE_BODY";
/// The bearer token the external fake is started with.
const EXTERNAL_TOKEN: &str = "bench-token";

/// This bench binary re-run as a bare hyper server process (section 5): serves the body
/// in `path` (and nothing else of note) until killed.
fn serve_baseline_process(path: &str) {
    let body = std::fs::read(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("baseline runtime");
    let limit = Baseline::start(&rt, Bytes::from(body), 0);
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening http://{}", limit.addr)
        .and_then(|()| out.flush())
        .expect("stdout");
    drop(out);
    rt.block_on(std::future::pending::<()>());
}

/// A server in a process of its own, killed on drop.
struct Process {
    child: std::process::Child,
    addr: SocketAddr,
}

impl Process {
    /// Spawns `cmd` and waits for its `listening http://ADDR` line on stdout.
    fn spawn(mut cmd: std::process::Command) -> Result<Process, String> {
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line);
        }
        let addr = line
            .trim()
            .strip_prefix("listening http://")
            .and_then(|a| a.parse().ok());
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "{:?} printed {line:?}, not `listening http://ADDR`",
                cmd.get_program()
            ));
        };
        Ok(Process { child, addr })
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The fake's binary: `BENCH_FAKE_BIN` if set, else the one cargo built for this bench
/// (same settings as `--release`), else `scalingo-db-fake` in this bench's profile
/// folder (`<target>/release/`, wherever the target folder is).
fn fake_binary() -> Result<std::path::PathBuf, String> {
    if let Some(path) = std::env::var_os("BENCH_FAKE_BIN") {
        return Ok(path.into());
    }
    if let Some(path) = option_env!("CARGO_BIN_EXE_scalingo-db-fake") {
        return Ok(path.into());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // <target>/release/deps/throughput-HASH
    let release = exe.parent().and_then(|deps| deps.parent()).ok_or("no target folder")?;
    let path = release.join("scalingo-db-fake");
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "no {} (build it with `cargo build --release`, or set BENCH_FAKE_BIN)",
            path.display()
        ))
    }
}

/// Starts the fake's binary with `fixture` at its default settings (log level
/// included), its log in `log`, and the baseline process serving the fake's list body.
fn start_external(bin: &std::path::Path, dir: &std::path::Path) -> Result<(Process, Process, Bytes), String> {
    let fixture = dir.join("list.json");
    std::fs::write(&fixture, list_fixture()).map_err(|e| e.to_string())?;
    let log = std::fs::File::create(dir.join("fake.log")).map_err(|e| e.to_string())?;
    let mut cmd = std::process::Command::new(bin);
    cmd.env_clear()
        .args(["--port", "0", "--seed", "1", "--token", EXTERNAL_TOKEN, "--fixtures"])
        .arg(&fixture)
        .stderr(log);
    // Extra flags, to compare settings (e.g. `BENCH_FAKE_ARGS='--log warn'`).
    if let Ok(extra) = std::env::var("BENCH_FAKE_ARGS") {
        cmd.args(extra.split_whitespace());
    }
    let fake = Process::spawn(cmd)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let req = request(fake.addr, LIST_PATH, EXTERNAL_TOKEN, "");
    let (status, body) = rt.block_on(fetch(fake.addr, &req)).map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!(
            "the fake answered {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    let body_file = dir.join("body.json");
    std::fs::write(&body_file, &body).map_err(|e| e.to_string())?;
    let mut cmd = std::process::Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
    cmd.env(BASELINE_BODY_ENV, &body_file);
    let limit = Process::spawn(cmd)?;
    let (s2, b2) = rt
        .block_on(fetch(limit.addr, &request(limit.addr, LIST_PATH, EXTERNAL_TOKEN, "")))
        .map_err(|e| e.to_string())?;
    if s2 != 200 || b2 != body {
        return Err("the baseline process does not serve the fake's bytes".into());
    }
    Ok((fake, limit, Bytes::from(body)))
}

fn bench_external(o: &Opts, client: &Runtime, rows: &mut Vec<Row>) {
    println!(
        "\n== 5. external: the fake's binary at its defaults (log info: a line per request, to a file) vs a \
         bare hyper process, GET {LIST_PATH} (20 done backups), {} connections",
        o.conns
    );
    let bin = match fake_binary() {
        Ok(b) => b,
        Err(e) => return println!("skipped: {e}"),
    };
    let dir = std::env::temp_dir().join(format!("scalingo-db-fake-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let (fake, limit, body) = match start_external(&bin, &dir) {
        Ok(started) => started,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            return println!("skipped: {e}");
        }
    };
    println!("binary: {}; body: {} bytes of JSON", bin.display(), body.len());
    let fake_req = request(fake.addr, LIST_PATH, EXTERNAL_TOKEN, "");
    let limit_req = request(limit.addr, LIST_PATH, EXTERNAL_TOKEN, "");
    let targets: [(SocketAddr, &[u8]); 2] = [(fake.addr, &fake_req), (limit.addr, &limit_req)];
    let mut r = compare(client, &targets, o.conns, o.warmup, o.measure, o.rounds).into_iter();
    let (f, l) = (r.next().expect("fake"), r.next().expect("limit"));
    print_pair(["fake binary", "bare hyper"], &f, &l);
    let ratio = f.rps / l.rps;
    println!("ratio fake/bare: {ratio:.3} (target >= 0.9)");
    rows.push(row(
        "external: list 20, rps (binary, log info)",
        fmt_rps(f.rps),
        fmt_rps(l.rps),
        format!("{ratio:.3}"),
        ">= 0.9",
    ));
    external_wrk(o, &fake, &limit, rows);
    let lines = std::fs::read_to_string(dir.join("fake.log")).map_or(0, |t| t.lines().count());
    println!("the fake logged {lines} lines");
    drop((fake, limit));
    let _ = std::fs::remove_dir_all(&dir);
}

/// On-CPU time so far of every thread of process `pid` (`/proc/PID/task/*/schedstat`).
fn process_cpu(pid: u32) -> Option<Duration> {
    let mut total = 0_u64;
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let Ok(stat) = std::fs::read_to_string(entry.ok()?.path().join("schedstat")) else {
            continue;
        };
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

/// The same two processes under `wrk`, when it is on `PATH`: a warm-up each, then
/// `o.rounds` runs each in ABBA order; requests/s and on-CPU time per request of each
/// server process (the fake's includes its log thread).
fn external_wrk(o: &Opts, fake: &Process, limit: &Process, rows: &mut Vec<Row>) {
    let secs = (o.measure.as_secs() / 2).max(2);
    let procs = [fake, limit];
    let urls = procs.map(|p| format!("http://{}{LIST_PATH}", p.addr));
    if urls.iter().any(|u| wrk(u, EXTERNAL_TOKEN, o.conns, 1).is_none()) {
        return;
    }
    let (mut rps, mut cpu_us) = ([0.0, 0.0], [0.0, 0.0]);
    let rounds = o.rounds.max(2);
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let before = process_cpu(procs[i].child.id());
            let r = wrk(&urls[i], EXTERNAL_TOKEN, o.conns, secs).unwrap_or(0.0);
            let after = process_cpu(procs[i].child.id());
            if let (Some(b), Some(a)) = (before, after) {
                cpu_us[i] += us(a.saturating_sub(b)) / (r * secs as f64).max(1.0) / rounds as f64;
            }
            rps[i] += r / rounds as f64;
        }
    }
    let ([wf, wl], [cf, cl]) = (rps, cpu_us);
    println!(
        "wrk -t2 -c{} -d{secs}s, {rounds} runs each (ABBA): fake {wf:.0} req/s, bare {wl:.0} req/s, ratio {:.3}",
        o.conns,
        wf / wl
    );
    println!(
        "on-CPU time per request under wrk: fake {cf:.1} µs, bare {cl:.1} µs (+{:.1} µs)",
        cf - cl
    );
    rows.push(row(
        "external: list 20, rps (binary, log info, wrk)",
        fmt_rps(wf),
        fmt_rps(wl),
        format!("{:.3}", wf / wl),
        ">= 0.9",
    ));
    rows.push(row(
        "external: server CPU per request (wrk)",
        format!("{cf:.1} µs"),
        format!("{cl:.1} µs"),
        format!("{:.3}", cf / cl),
        "",
    ));
}

// ---------------------------------------------------------------------------------------

fn main() {
    if let Some(path) = std::env::var_os(BASELINE_BODY_ENV) {
        return serve_baseline_process(&path.to_string_lossy());
    }
    let o = Opts::from_env();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(SERVER_THREADS)
        .enable_all()
        .build()
        .expect("server runtime");
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(CLIENT_THREADS)
        .enable_all()
        .build()
        .expect("client runtime");
    println!(
        "scalingo-db-fake throughput bench{} — {threads} CPUs; server and load generator on two tokio runtimes of {threads} workers",
        if o.quick { " (quick)" } else { "" }
    );
    let started = Instant::now();
    let mut rows = Vec::new();
    if o.runs("list") {
        bench_list(&o, &server, &client, &mut rows);
    }
    if o.runs("start") {
        bench_start(&o, &server, &mut rows);
    }
    if o.runs("big") {
        bench_big_list(&o, &server, &client, &mut rows);
    }
    if o.runs("download") {
        bench_download(&o, &server, &client, &mut rows);
    }
    if o.runs("external") {
        bench_external(&o, &client, &mut rows);
    }
    println!("\n== summary ({:.1} s)", started.elapsed().as_secs_f64());
    print_table(&rows);
}
