//! The one log line per request, both ways out: a `tracing` event of
//! `scalingo_db_fake::request` with plain fields (what an in-process user's
//! subscriber sees), and, once a process sets a request sink, the same
//! values handed to the sink instead (what the binary does). One test, in a
//! process of its own: the sink, once set, holds for the whole process.
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use scalingo_db_fake::__internals::{set_request_log, RequestLine};
use scalingo_db_fake::{FakeServer, FaultEffect, FaultMatch, FaultRule, REQUEST_LOG_TARGET};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

const LIST: &str = "/api/databases/my-db-123/backups";

/// A request line as a test compares it (owned, no timestamp).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    level: Level,
    method: String,
    path: String,
    status: u64,
    operation: String,
    fault: Option<String>,
    latency_us: Option<u64>,
    /// The answer's time, since the Unix epoch (the sink's lines only).
    at: Option<Duration>,
}

impl Seen {
    fn of(line: &RequestLine<'_>) -> Self {
        Self {
            level: line.level,
            method: line.method.to_string(),
            path: line.path.to_string(),
            status: u64::from(line.status),
            operation: line.operation.to_string(),
            fault: line.fault.map(str::to_string),
            latency_us: Some(line.latency_us),
            at: Some(line.at),
        }
    }
}

/// The subscriber an in-process user would install, reduced to what it
/// records: the request events, field by field.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Seen>>>);

impl Visit for Seen {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "method" => self.method = value.to_string(),
            "path" => self.path = value.to_string(),
            "operation" => self.operation = value.to_string(),
            "fault" => self.fault = Some(value.to_string()),
            other => panic!("unexpected str field {other}"),
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "status" => self.status = value,
            "latency_us" => self.latency_us = Some(value),
            other => panic!("unexpected number field {other}"),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        panic!("a request event carries plain values, not {} = {value:?}", field.name());
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        if event.metadata().target() != REQUEST_LOG_TARGET {
            return;
        }
        let mut seen = Seen {
            level: *event.metadata().level(),
            method: String::new(),
            path: String::new(),
            status: 0,
            operation: String::new(),
            fault: None,
            latency_us: None,
            at: None,
        };
        event.record(&mut seen);
        self.0.lock().unwrap().push(seen);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn expected(level: Level, path: &str, status: u64, operation: &str, fault: Option<&str>) -> Seen {
    Seen {
        level,
        method: "GET".into(),
        path: path.into(),
        status,
        operation: operation.into(),
        fault: fault.map(str::to_string),
        latency_us: None,
        at: None,
    }
}

/// Drops the latency and the time (they vary) once checked present, the
/// time (when there is one) within `window`, since the Unix epoch.
fn without_latency(mut seen: Vec<Seen>, window: (Duration, Duration)) -> Vec<Seen> {
    for s in &mut seen {
        assert!(s.latency_us.is_some(), "no latency in {s:?}");
        s.latency_us = None;
        if let Some(at) = s.at.take() {
            assert!(window.0 <= at && at <= window.1, "{window:?} {at:?}");
        }
    }
    seen
}

/// Now, since the Unix epoch.
fn since_epoch() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn each_request_is_one_tracing_event_until_a_sink_takes_the_lines_instead() {
    let fake = FakeServer::builder().start().await;
    let list = format!("{}{LIST}", fake.url());
    let health = format!("{}/_fake/health", fake.url());

    // Without a sink: one event per request, with its fields; the health
    // check at debug. The fake runs on this thread, so a thread's default
    // subscriber sees its events.
    let recorder = Recorder::default();
    {
        let _default = tracing::subscriber::set_default(recorder.clone());
        assert_eq!(common::get(&list, fake.token()).await.status, 200);
        assert_eq!(common::control_get(&health).await.status, 200);
    }
    let events = without_latency(recorder.0.lock().unwrap().clone(), (Duration::ZERO, Duration::MAX));
    assert_eq!(
        events,
        vec![
            expected(Level::INFO, LIST, 200, "backups.list", None),
            expected(Level::DEBUG, "/_fake/health", 200, "fake.health", None),
        ]
    );

    // With a sink: the same values reach it, and no event is emitted.
    let lines: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let sunk = lines.clone();
    assert!(set_request_log(move |line: &RequestLine<'_>| sunk.lock().unwrap().push(Seen::of(line))).is_ok());
    let again = |_: &RequestLine<'_>| {};
    assert!(set_request_log(again).is_err(), "a second sink is refused");

    let rule = FaultRule::new(FaultEffect::Status {
        status: 503,
        body: None,
        retry_after: None,
    })
    .when(FaultMatch::default().operation("backups.list"))
    .times(1);
    let fault = fake.add_fault(rule).unwrap();
    let recorder = Recorder::default();
    let before = since_epoch();
    {
        let _default = tracing::subscriber::set_default(recorder.clone());
        assert_eq!(common::get(&list, fake.token()).await.status, 503);
        assert_eq!(common::get(&format!("{}/nowhere", fake.url()), "").await.status, 404);
        assert_eq!(common::control_get(&health).await.status, 200);
    }
    let after = since_epoch();
    assert!(
        recorder.0.lock().unwrap().is_empty(),
        "the sink takes the lines instead"
    );
    // Each line's time is when its answer was ready: within the test's
    // readings around the requests.
    let sunk = without_latency(lines.lock().unwrap().clone(), (before, after));
    assert_eq!(
        sunk,
        vec![
            expected(Level::INFO, LIST, 503, "backups.list", Some(&fault.id)),
            expected(Level::INFO, "/nowhere", 404, "unknown", None),
            expected(Level::DEBUG, "/_fake/health", 200, "fake.health", None),
        ]
    );
}
