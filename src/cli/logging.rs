//! The binary's log: text or JSON lines on stderr, written by a thread of
//! their own so that no request ever waits for its log line.
//!
//! A formatted line is appended to a bounded buffer ([`QUEUE_BYTES`]) under
//! a short lock; one thread takes the whole buffer at a time and writes it
//! to stderr. When the buffer is full (stderr is slow, or a pipe nobody
//! reads) the line is dropped and counted; the drain thread logs `N log
//! lines dropped` once it can write again (at most once a second). Before
//! the process exits, [`LogGuard::flush`] gives the buffer a bounded time to
//! drain: a stderr nobody reads cannot hold up the exit either.

use std::cell::{Cell, RefCell};
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use super::format::{escape_controls, write_line};

/// How many bytes of lines wait for the drain thread before new lines are
/// dropped (about ten thousand request lines).
pub const QUEUE_BYTES: usize = 1 << 20;
/// The pause between two batches while lines keep coming: a request that
/// logs then never has to wake the drain thread.
const BUSY_PAUSE: Duration = Duration::from_millis(10);
/// How often, at most, the count of dropped lines is logged.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// The shape of each log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `message` (and any
    /// other field of the event).
    Json,
}

/// What waits for the drain thread.
#[derive(Default)]
struct Pending {
    /// Whole lines, oldest first.
    bytes: Vec<u8>,
    /// Lines dropped since the last report.
    dropped: u64,
    /// Bytes ever queued.
    queued: u64,
    /// A flush asks for the count of dropped lines now.
    report_now: bool,
}

/// The buffer between the threads that log and the drain thread.
#[derive(Default)]
struct Queue {
    pending: Mutex<Pending>,
    /// Signalled when the buffer stops being empty.
    ready: Condvar,
    /// Bytes the drain thread has written (or failed to write).
    written: AtomicU64,
}

impl Queue {
    /// Queues one whole line, or counts it dropped when the buffer is full.
    fn push(&self, line: &[u8]) {
        let escaped = escape_controls(line);
        let line = escaped.as_deref().unwrap_or(line);
        let mut p = self.pending.lock();
        if p.bytes.len() + line.len() > QUEUE_BYTES {
            p.dropped += 1;
            return;
        }
        let was_empty = p.bytes.is_empty();
        p.bytes.extend_from_slice(line);
        p.queued += line.len() as u64;
        drop(p);
        if was_empty {
            self.ready.notify_one();
        }
    }
}

thread_local! {
    /// Set on the drain thread: the lines it logs itself (the count of
    /// dropped lines) go straight to stderr, not through the buffer.
    static ON_DRAIN_THREAD: Cell<bool> = const { Cell::new(false) };
    /// The line being formatted on this thread (its capacity kept).
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// The layer that writes every event the filter lets through as one line:
/// formatted on the thread that logs, into a buffer of that thread's, then
/// handed to the queue.
struct Lines {
    queue: Arc<Queue>,
    format: LogFormat,
}

impl<S: Subscriber> Layer<S> for Lines {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        LINE.with(|cell| {
            // Taken out of the cell, so that a line logged while this one is
            // formatted (nothing does) could not borrow it twice.
            let mut line = std::mem::take(&mut *cell.borrow_mut());
            line.clear();
            if write_line(self.format, event, &mut line).is_ok() {
                if ON_DRAIN_THREAD.with(Cell::get) {
                    let escaped = escape_controls(line.as_bytes());
                    let _ = io::stderr().write_all(escaped.as_deref().unwrap_or(line.as_bytes()));
                } else {
                    self.queue.push(line.as_bytes());
                }
            }
            *cell.borrow_mut() = line;
        });
    }
}

/// Lets the binary wait for the log at exit ([`LogGuard::flush`]).
pub struct LogGuard {
    queue: Arc<Queue>,
}

impl LogGuard {
    /// Waits (up to `limit`) for the lines logged so far, and the count of
    /// dropped lines, to be written. Returns whether they were.
    pub fn flush(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let target = {
            let mut p = self.queue.pending.lock();
            p.report_now = true;
            p.queued
        };
        self.queue.ready.notify_one();
        loop {
            let reported = !self.queue.pending.lock().report_now;
            if reported && self.queue.written.load(Ordering::Acquire) >= target {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// Installs the global subscriber: `filter` (an `EnvFilter` directive),
/// lines of `format`, written by a drain thread.
pub fn init(filter: &str, format: LogFormat) -> Result<LogGuard, String> {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).map_err(|e| format!("invalid --log `{filter}`: {e}"))?;
    let queue = Arc::new(Queue::default());
    let lines = Lines {
        queue: queue.clone(),
        format,
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .try_init()
        .map_err(|e| e.to_string())?;
    let drained = queue.clone();
    std::thread::Builder::new()
        .name("log".into())
        .spawn(move || drain(&drained))
        .map_err(|e| format!("cannot start the log thread: {e}"))?;
    Ok(LogGuard { queue })
}

/// The drain thread: takes every queued line at once and writes them to
/// stderr, logs the count of dropped lines, and, while lines keep coming,
/// pauses between batches rather than being woken for each line.
fn drain(queue: &Queue) {
    ON_DRAIN_THREAD.with(|d| d.set(true));
    let mut batch = Vec::with_capacity(QUEUE_BYTES);
    let mut reported = Instant::now();
    loop {
        let dropped = {
            let mut p = queue.pending.lock();
            if p.bytes.is_empty() && !p.report_now {
                queue.ready.wait_for(&mut p, REPORT_EVERY);
            }
            std::mem::swap(&mut p.bytes, &mut batch);
            let due = p.report_now || reported.elapsed() >= REPORT_EVERY;
            p.report_now = false;
            if due {
                reported = Instant::now();
                std::mem::take(&mut p.dropped)
            } else {
                0
            }
        };
        // A failed write (a closed stderr) loses the lines: nothing to retry.
        let _ = io::stderr().lock().write_all(&batch);
        if dropped > 0 {
            tracing::warn!("{dropped} log lines dropped (stderr could not keep up)");
        }
        queue.written.fetch_add(batch.len() as u64, Ordering::Release);
        let busy = !batch.is_empty();
        batch.clear();
        if busy {
            std::thread::sleep(BUSY_PAUSE);
        }
    }
}
