//! The one log line per request: a `tracing` event of
//! [`REQUEST_LOG_TARGET`] whose fields are plain values (never a formatted
//! message), or, when a process has set one, a call of its request sink
//! ([`set_request_log`]) with the same values.
//!
//! The sink exists for the binary, which formats every line itself: handing
//! it the values directly skips `tracing`'s dispatch and its field-by-field
//! visit on every request. Either way the line carries the same fields.

use std::sync::OnceLock;
use std::time::Duration;

use tracing::Level;

/// The target of the one log event per request, whose fields are
/// `method`, `path`, `status`, `operation`, `fault` (when a rule fired) and
/// `latency_us`, in that order: a subscriber can filter these lines apart
/// (`scalingo_db_fake::request=warn` mutes them) and format them without
/// a message to parse.
///
/// ```
/// // A filter directive that keeps the fake's other lines but not these.
/// let directive = format!("info,{}=warn", scalingo_db_fake::REQUEST_LOG_TARGET);
/// assert_eq!(directive, "info,scalingo_db_fake::request=warn");
/// ```
pub const REQUEST_LOG_TARGET: &str = "scalingo_db_fake::request";

/// One request, as its log line tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLine<'a> {
    /// `INFO`, or `DEBUG` for health checks and other reads of `/_fake`.
    pub level: Level,
    /// The request's method.
    pub method: &'a str,
    /// The request's path, as it came (no query).
    pub path: &'a str,
    /// The status answered; 0 when a fault rule reset the connection.
    pub status: u16,
    /// The operation's name (`backups.list`…; `unknown` when no route
    /// takes the path).
    pub operation: &'static str,
    /// The id of the fault rule that fired on the request, if one did.
    pub fault: Option<&'a str>,
    /// From the request's arrival to its answer, in microseconds.
    pub latency_us: u64,
    /// When the answer was ready, on the system clock since the Unix epoch
    /// (the line's timestamp; a `tracing` subscriber takes its own).
    pub at: Duration,
}

/// What receives every request's line instead of `tracing`.
type Sink = Box<dyn Fn(&RequestLine<'_>) + Send + Sync>;

/// The process's request sink, once set.
static SINK: OnceLock<Sink> = OnceLock::new();

/// Sends the line of every request, of every fake in this process, to
/// `sink` instead of emitting a `tracing` event; the sink applies its own
/// filter (by [`RequestLine::level`]). Set once per process: `Err` gives
/// `sink` back when one is set already.
pub fn set_request_log<F>(sink: F) -> Result<(), F>
where
    F: Fn(&RequestLine<'_>) + Send + Sync + 'static,
{
    let mut sink = Some(sink);
    SINK.get_or_init(|| match sink.take() {
        Some(f) => Box::new(f),
        // Never: `take` runs once, in the only initialisation.
        None => Box::new(|_: &RequestLine<'_>| {}),
    });
    sink.map_or(Ok(()), Err)
}

/// Logs one request: to the sink when one is set, else as a `tracing`
/// event (formatted by the subscriber only if its filter keeps it).
pub(crate) fn emit(line: &RequestLine<'_>) {
    if let Some(sink) = SINK.get() {
        sink(line);
        return;
    }
    // `fault` is recorded only when a rule fired (an `Option` field).
    macro_rules! event {
        ($level:expr) => {
            tracing::event!(
                target: REQUEST_LOG_TARGET,
                $level,
                method = line.method,
                path = line.path,
                status = line.status,
                operation = line.operation,
                fault = line.fault,
                latency_us = line.latency_us
            )
        };
    }
    if line.level == Level::DEBUG {
        event!(Level::DEBUG);
    } else {
        event!(Level::INFO);
    }
}
