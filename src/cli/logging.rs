//! The binary's log: text or JSON lines on stderr, written by a thread of
//! their own so that no request ever waits for its log line.
//!
//! A formatted line is appended to a bounded buffer of the thread that logs
//! it, under a lock no other thread takes but the drain thread (and a flush
//! at exit): threads that log at once never wait for each other nor share a
//! buffer. About every
//! [`BUSY_PAUSE`] the drain thread takes every buffer whole, merges their
//! lines in time order and writes them to stderr. When a thread's buffer is
//! full (stderr is slow, or a pipe nobody reads) the line is dropped and
//! counted; the drain thread logs `N log lines dropped` once it can write
//! again (at most once a second). Each buffer holds its share of
//! [`QUEUE_BYTES`] (more in all when more threads log than there are cores),
//! and takes one line of any length when it is empty.
//! Before the process exits, [`LogGuard::flush`] gives the buffers a bounded
//! time to drain: a stderr nobody reads cannot hold up the exit either.

use std::cell::{Cell, RefCell};
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use scalingo_db_fake::__internals::{set_request_log, RequestLine};
use scalingo_db_fake::REQUEST_LOG_TARGET;

use super::format::{
    escape_controls, push_request_line, request_line_max_len, since_epoch, write_line, write_request_json,
};

/// How many bytes of lines wait for the drain thread, in all threads'
/// buffers, before new lines are dropped (about ten thousand request
/// lines). Each thread's buffer holds its share: this divided by the
/// number of cores (at least [`MIN_THREAD_BYTES`]).
pub const QUEUE_BYTES: usize = 1 << 20;
/// The least a thread's buffer holds.
const MIN_THREAD_BYTES: usize = 64 << 10;
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

/// What waits for the drain thread in one thread's buffer.
#[derive(Default)]
struct Pending {
    /// Whole lines, oldest first.
    bytes: Vec<u8>,
    /// Where each line ends in `bytes`, and when it was logged (µs since
    /// the epoch): the drain thread merges the buffers by these.
    lines: Vec<Line>,
    /// Lines dropped since the last report.
    dropped: u64,
    /// Bytes ever queued.
    queued: u64,
}

/// When a line was logged (µs since the epoch), and where it ends in its
/// buffer.
#[derive(Clone, Copy)]
struct Line {
    at: u64,
    end: usize,
}

/// One thread's buffer, on cache lines of its own: only its thread and the
/// drain thread touch it.
#[derive(Default)]
#[repr(align(128))]
struct Buffer {
    pending: Mutex<Pending>,
}

/// The buffers between the threads that log and the drain thread.
struct Queue {
    /// Which queue this is (a thread's buffer belongs to one).
    id: u64,
    /// How many bytes each thread's buffer holds.
    per_thread: usize,
    /// Every thread's buffer (a thread adds its own the first time it logs;
    /// the drain thread forgets those of threads that ended, once empty).
    buffers: Mutex<Vec<Arc<Buffer>>>,
    /// The drain thread, woken when a buffer stops being empty.
    drain: OnceLock<std::thread::Thread>,
    /// Flushes that asked for the count of dropped lines now.
    reports_asked: AtomicU64,
    /// Of those, how many the drain thread has answered.
    reports_done: AtomicU64,
    /// Bytes the drain thread has written (or failed to write).
    written: AtomicU64,
    /// Bytes queued in the buffers of threads that ended, once forgotten.
    gone_queued: AtomicU64,
}

impl Queue {
    fn new() -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            per_thread: (QUEUE_BYTES / cores).max(MIN_THREAD_BYTES),
            buffers: Mutex::new(Vec::new()),
            drain: OnceLock::new(),
            reports_asked: AtomicU64::new(0),
            reports_done: AtomicU64::new(0),
            written: AtomicU64::new(0),
            gone_queued: AtomicU64::new(0),
        }
    }

    /// Queues one whole line, logged `at` (µs since the epoch), in this
    /// thread's buffer, or counts it dropped when the buffer is full. Its
    /// control characters are escaped first, unless it is known to hold
    /// none (`checked`).
    fn push(&self, line: &[u8], at: u64, checked: bool) {
        let escaped = if checked { None } else { escape_controls(line) };
        let line = escaped.as_deref().unwrap_or(line);
        self.push_with(at, line.len(), |bytes| bytes.extend_from_slice(line));
    }

    /// Queues the line `write` appends to this thread's buffer (whole, its
    /// newline included, no control character in it, at most `max_len`
    /// bytes), logged `at` (µs since the epoch), or counts it dropped when
    /// the buffer has not that much room left (the buffer never grows past
    /// its share for a line it drops). A request's line is formatted this
    /// way, straight into the buffer.
    fn push_with(&self, at: u64, max_len: usize, write: impl FnOnce(&mut Vec<u8>)) {
        let id = self.id;
        // While the thread's locals are being torn down, the line is lost.
        let _ = MINE.try_with(|mine| {
            let mut mine = mine.borrow_mut();
            if !matches!(&*mine, Some((queue, _)) if *queue == id) {
                let buffer = Arc::new(Buffer::default());
                self.buffers.lock().push(buffer.clone());
                *mine = Some((id, buffer));
            }
            let Some((_, buffer)) = mine.as_ref() else {
                return;
            };
            let mut p = buffer.pending.lock();
            let start = p.bytes.len();
            // An empty buffer takes a line of any length (a long path once):
            // else such a line could never be written.
            if start > 0 && start + max_len > self.per_thread {
                p.dropped += 1;
                return;
            }
            write(&mut p.bytes);
            let end = p.bytes.len();
            p.lines.push(Line { at, end });
            p.queued += (end - start) as u64;
            drop(p);
            if start == 0 {
                self.wake();
            }
        });
    }

    /// Wakes the drain thread (or makes its next wait return at once).
    fn wake(&self) {
        if let Some(drain) = self.drain.get() {
            drain.unpark();
        }
    }

    /// Bytes ever queued, in every buffer (those forgotten included).
    fn queued(&self) -> u64 {
        let buffers = self.buffers.lock();
        let gone = self.gone_queued.load(Ordering::Relaxed);
        gone + buffers.iter().map(|b| b.pending.lock().queued).sum::<u64>()
    }
}

thread_local! {
    /// Set on the drain thread: the lines it logs itself (the count of
    /// dropped lines) go straight to stderr, not through a buffer.
    static ON_DRAIN_THREAD: Cell<bool> = const { Cell::new(false) };
    /// The line being formatted on this thread (its capacity kept).
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
    /// This thread's buffer, and the queue (by id) it belongs to.
    static MINE: RefCell<Option<(u64, Arc<Buffer>)>> = const { RefCell::new(None) };
}

/// The layer that writes every event the filter lets through as one line:
/// formatted on the thread that logs, into a buffer of that thread's, then
/// handed to the queue.
struct Lines {
    queue: Arc<Queue>,
    format: LogFormat,
}

impl Lines {
    /// Formats one line, logged `at` (since the Unix epoch), with `write`
    /// and queues it; `checked`: it is known to hold no control character.
    fn put(&self, checked: bool, at: Duration, write: impl FnOnce(&mut String, Duration) -> std::fmt::Result) {
        // While the thread's locals are being torn down, the line is lost.
        let _ = LINE.try_with(|cell| {
            // Taken out of the cell, so that a line logged while this one is
            // formatted (nothing does) could not borrow it twice.
            let mut line = std::mem::take(&mut *cell.borrow_mut());
            line.clear();
            if write(&mut line, at).is_ok() {
                if ON_DRAIN_THREAD.try_with(Cell::get).unwrap_or(false) {
                    let escaped = escape_controls(line.as_bytes());
                    let _ = io::stderr().write_all(escaped.as_deref().unwrap_or(line.as_bytes()));
                } else {
                    let micros = u64::try_from(at.as_micros()).unwrap_or(u64::MAX);
                    self.queue.push(line.as_bytes(), micros, checked);
                }
            }
            *cell.borrow_mut() = line;
        });
    }
}

impl<S: Subscriber> Layer<S> for Lines {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        self.put(false, since_epoch(), |line, at| {
            write_line(self.format, event, at, line)
        });
    }
}

/// The requests' lines: handed over by the library directly (no `tracing`
/// dispatch, no field-by-field visit), kept or not by the filter's level
/// for [`REQUEST_LOG_TARGET`], read once at start.
struct Requests {
    lines: Lines,
    /// Whether the filter keeps request lines at info, and at debug.
    info: bool,
    debug: bool,
}

impl Requests {
    fn log(&self, request: &RequestLine<'_>) {
        let kept = match request.level {
            Level::INFO => self.info,
            Level::DEBUG => self.debug,
            _ => false,
        };
        if !kept {
            return;
        }
        // A request's line needs no scan (see `format`).
        match self.lines.format {
            LogFormat::Text => {
                let micros = u64::try_from(request.at.as_micros()).unwrap_or(u64::MAX);
                self.lines
                    .queue
                    .push_with(micros, request_line_max_len(request), |bytes| {
                        push_request_line(bytes, request, request.at)
                    });
            }
            LogFormat::Json => self
                .lines
                .put(true, request.at, |line, at| write_request_json(request, at, line)),
        }
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
        let target = self.queue.queued();
        let asked = self.queue.reports_asked.fetch_add(1, Ordering::AcqRel) + 1;
        self.queue.wake();
        loop {
            let reported = self.queue.reports_done.load(Ordering::Acquire) >= asked;
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
    let queue = Arc::new(Queue::new());
    let lines = Lines {
        queue: queue.clone(),
        format,
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .try_init()
        .map_err(|e| e.to_string())?;
    let requests = Requests {
        lines: Lines {
            queue: queue.clone(),
            format,
        },
        info: tracing::enabled!(target: REQUEST_LOG_TARGET, Level::INFO),
        debug: tracing::enabled!(target: REQUEST_LOG_TARGET, Level::DEBUG),
    };
    set_request_log(move |request: &RequestLine<'_>| requests.log(request))
        .map_err(|_| "the request log is set already".to_string())?;
    let drained = queue.clone();
    std::thread::Builder::new()
        .name("log".into())
        .spawn(move || drain(&drained))
        .map_err(|e| format!("cannot start the log thread: {e}"))?;
    Ok(LogGuard { queue })
}

/// The drain thread: takes every buffer whole, writes their lines to stderr
/// in time order, logs the count of dropped lines, and, while lines keep
/// coming, pauses between batches rather than being woken for each line.
fn drain(queue: &Queue) {
    ON_DRAIN_THREAD.with(|d| d.set(true));
    // Known before the first look at the buffers: a line queued before this
    // is seen by that look, one queued after can wake this thread.
    let _ = queue.drain.set(std::thread::current());
    // One batch per buffer, their capacity kept from one round to the next.
    let mut batches: Vec<Batch> = Vec::new();
    let mut merged = Vec::with_capacity(QUEUE_BYTES);
    let mut reported = Instant::now();
    // Lines dropped since the last report (taken from the buffers every
    // round, so the count of a thread that ends is not lost with its buffer).
    let mut dropped = 0;
    loop {
        let asked = queue.reports_asked.load(Ordering::Acquire);
        let due = asked > queue.reports_done.load(Ordering::Acquire) || reported.elapsed() >= REPORT_EVERY;
        {
            let buffers = queue.buffers.lock().clone();
            batches.resize_with(batches.len().max(buffers.len()), Batch::default);
            for (buffer, batch) in buffers.iter().zip(batches.iter_mut()) {
                let mut p = buffer.pending.lock();
                std::mem::swap(&mut p.bytes, &mut batch.bytes);
                std::mem::swap(&mut p.lines, &mut batch.lines);
                dropped += std::mem::take(&mut p.dropped);
            }
        }
        merge_in_time_order(&batches, &mut merged);
        // A failed write (a closed stderr) loses the lines: nothing to retry.
        let _ = io::stderr().lock().write_all(&merged);
        if due {
            reported = Instant::now();
            if dropped > 0 {
                tracing::warn!("{dropped} log lines dropped (stderr could not keep up)");
            }
            dropped = 0;
            queue.reports_done.fetch_max(asked, Ordering::AcqRel);
        }
        queue.written.fetch_add(merged.len() as u64, Ordering::Release);
        let busy = !merged.is_empty();
        merged.clear();
        for batch in &mut batches {
            batch.bytes.clear();
            batch.lines.clear();
        }
        // The buffers of threads that ended (held by this list alone), once
        // empty, are forgotten (what they queued still counts for a flush).
        queue.buffers.lock().retain(|b| {
            let p = b.pending.lock();
            let keep = Arc::strong_count(b) > 1 || !p.bytes.is_empty() || p.dropped > 0;
            if !keep {
                queue.gone_queued.fetch_add(p.queued, Ordering::Relaxed);
            }
            keep
        });
        if busy {
            std::thread::sleep(BUSY_PAUSE);
        } else if queue.reports_asked.load(Ordering::Acquire) == asked {
            std::thread::park_timeout(REPORT_EVERY);
        }
    }
}

/// One buffer's lines, as the drain thread took them.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    lines: Vec<Line>,
}

/// Appends the lines of `batches` (each in time order) to `out`, in time
/// order across batches; lines of the same time keep the batches' order.
fn merge_in_time_order(batches: &[Batch], out: &mut Vec<u8>) {
    // Each batch with lines left: the batch, and its next line.
    let mut heads: Vec<(&Batch, usize)> = batches.iter().filter(|b| !b.lines.is_empty()).map(|b| (b, 0)).collect();
    while heads.len() > 1 {
        let mut first = 0;
        for (i, (batch, next)) in heads.iter().enumerate().skip(1) {
            let (b0, n0) = heads[first];
            if batch.lines[*next].at < b0.lines[n0].at {
                first = i;
            }
        }
        let (batch, next) = heads[first];
        let start = next.checked_sub(1).map_or(0, |prev| batch.lines[prev].end);
        out.extend_from_slice(&batch.bytes[start..batch.lines[next].end]);
        if next + 1 == batch.lines.len() {
            heads.remove(first);
        } else {
            heads[first].1 = next + 1;
        }
    }
    if let Some((batch, next)) = heads.first() {
        let start = next.checked_sub(1).map_or(0, |prev| batch.lines[prev].end);
        out.extend_from_slice(&batch.bytes[start..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch of `(µs, text)` lines, each ended by a newline.
    fn batch(lines: &[(u64, &str)]) -> Batch {
        let mut b = Batch::default();
        for (at, text) in lines {
            b.bytes.extend_from_slice(text.as_bytes());
            b.bytes.push(b'\n');
            b.lines.push(Line {
                at: *at,
                end: b.bytes.len(),
            });
        }
        b
    }

    #[test]
    fn lines_of_several_threads_are_merged_in_time_order() {
        let a = batch(&[(1, "a1"), (4, "a2"), (4, "a3")]);
        let b = batch(&[(2, "b1"), (3, "b2"), (4, "b3"), (5, "b4")]);
        let mut out = Vec::new();
        merge_in_time_order(&[a, Batch::default(), b], &mut out);
        let names: Vec<&str> = std::str::from_utf8(&out).unwrap().lines().collect();
        // Lines of the same time keep the order of their batches.
        assert_eq!(names, ["a1", "b1", "b2", "a2", "a3", "b3", "b4"]);
    }

    #[test]
    fn a_single_batch_is_written_as_it_is() {
        let mut out = Vec::new();
        merge_in_time_order(&[Batch::default(), batch(&[(9, "late"), (1, "early")])], &mut out);
        assert_eq!(out, b"late\nearly\n");
    }

    #[test]
    fn an_empty_buffer_takes_a_line_longer_than_its_share() {
        let queue = Queue::new();
        let mut long = vec![b'x'; queue.per_thread + 10];
        long.push(b'\n');
        queue.push(&long, 0, true);
        queue.push(b"next\n", 1, true);
        let buffers = queue.buffers.lock().clone();
        let p = buffers[0].pending.lock();
        assert_eq!(p.bytes.len(), long.len(), "the long line is queued");
        assert_eq!(p.dropped, 1, "the buffer is then full");
    }

    #[test]
    fn a_full_thread_buffer_drops_and_counts_and_other_threads_still_queue() {
        let queue = Arc::new(Queue::new());
        let line = vec![b'x'; 1000];
        let mut line = line;
        line.push(b'\n');
        let fits = queue.per_thread / line.len();
        for _ in 0..fits + 5 {
            queue.push(&line, 0, false);
        }
        let other = queue.clone();
        let l2 = line.clone();
        std::thread::spawn(move || other.push(&l2, 0, false)).join().unwrap();
        let buffers = queue.buffers.lock().clone();
        assert_eq!(buffers.len(), 2, "one buffer per thread that logged");
        let first = buffers[0].pending.lock();
        assert_eq!(first.bytes.len(), fits * line.len());
        assert_eq!(first.lines.len(), fits, "one end per queued line");
        assert_eq!(first.dropped, 5);
        assert_eq!(
            buffers[1].pending.lock().bytes.len(),
            line.len(),
            "the other thread's line is queued"
        );
    }
}
