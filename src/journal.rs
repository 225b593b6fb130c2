//! The request journal: the last N requests the fake answered (API,
//! downloads and `/v1`; never the `/_fake` control plane), so a test can
//! assert on what the code under test sent.
//!
//! It is bounded: once N requests are kept, recording one more drops the
//! oldest, so memory stays flat however long the fake runs. Recording costs
//! one allocation (method, path, query and database copied into one string,
//! each cut to a cap so a hostile client cannot make an entry large), one
//! short lock on the recording thread's own shard and one atomic increment
//! for the sequence number; nothing is formatted or serialized until the
//! journal is read.
//!
//! The shards are what keep recording off memory other threads touch: there
//! is one per core (at most 8), each padded to cache lines of its own, and a
//! thread records into the same one every time (given to it round robin the
//! first time it records). Each shard keeps at most N entries, so the journal
//! holds at most shards × N; a read locks every shard at once, merges them by
//! sequence number and shows only the newest N, exactly what a single ring of
//! N would show.

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use parking_lot::{Mutex, MutexGuard};
use serde::{Deserialize, Serialize};

use crate::timestamp::Timestamp;

/// The most bytes of a method kept.
const METHOD_CAP: usize = 32;
/// The most bytes of a path and its query kept, together (the path first).
const PATH_QUERY_CAP: usize = 2048;
/// The most bytes of a database id, and of a fault rule id, kept.
const ID_CAP: usize = 256;
/// The most shards a journal has, however many cores there are.
const MAX_SHARDS: usize = 8;
/// The most entries reserved up front, over all shards (the rest are grown
/// as requests come).
const RESERVED: usize = 1024;

/// One request the fake answered, as `GET /_fake/requests` lists it.
///
/// `path` and `query` are as sent (not decoded), cut to 2 KiB together;
/// `time` is on the fake's clock, `wall_time` on the system's, both taken
/// when the request arrived.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// Its number: 1 for the first request the fake answered, then one more
    /// for each (not reset by a clear, so gaps show what was dropped).
    pub seq: u64,
    /// `GET`, `POST`…
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// What follows the `?`, if the request had one (`Some("")` for a bare `?`).
    pub query: Option<String>,
    /// The operation that ran (`backups.list`, `backups.create`…), or
    /// `unknown` (no route) or `method_not_allowed` (a route, not this method).
    pub operation: String,
    /// The `:db` or `:addon` id of the path, when the route has one.
    pub database: Option<String>,
    /// The status answered.
    pub status: u16,
    /// When it arrived, on the fake's clock.
    pub time: Timestamp,
    /// When it arrived, on the system clock.
    pub wall_time: Timestamp,
    /// Microseconds from its arrival to its response head (a streamed
    /// archive's body is sent after).
    pub latency_us: u64,
    /// The id of the fault rule that answered it, if one did.
    pub fault: Option<String>,
}

/// Which recorded requests to list: each filter given must match; `limit`
/// keeps the most recent N of those that match (still oldest first).
///
/// ```
/// use scalingo_db_fake::RequestFilter;
/// let f = RequestFilter::default().operation("backups.create").database("my-db-123").limit(5);
/// assert_eq!(f.limit, Some(5));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestFilter {
    /// Only this operation (`backups.list`, …).
    pub operation: Option<String>,
    /// Only requests whose path names this database (`:db` or `:addon`).
    pub database: Option<String>,
    /// Only the most recent N that match (at least 1).
    pub limit: Option<usize>,
}

impl RequestFilter {
    /// Keeps only `operation`.
    ///
    /// ```
    /// use scalingo_db_fake::RequestFilter;
    /// assert_eq!(RequestFilter::default().operation("backups.list").operation.as_deref(), Some("backups.list"));
    /// ```
    pub fn operation(mut self, operation: impl Into<String>) -> Self {
        self.operation = Some(operation.into());
        self
    }

    /// Keeps only requests whose path names `database`.
    ///
    /// ```
    /// use scalingo_db_fake::RequestFilter;
    /// assert_eq!(RequestFilter::default().database("my-db-123").database.as_deref(), Some("my-db-123"));
    /// ```
    pub fn database(mut self, database: impl Into<String>) -> Self {
        self.database = Some(database.into());
        self
    }

    /// Keeps only the most recent `n` that match (0 is refused when listing).
    ///
    /// ```
    /// use scalingo_db_fake::RequestFilter;
    /// assert_eq!(RequestFilter::default().limit(3).limit, Some(3));
    /// ```
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }
}

/// What the HTTP layer saw of one request and its answer, borrowed: the
/// journal copies what it keeps.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Exchange<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub operation: &'static str,
    pub database: Option<&'a str>,
    pub status: u16,
    /// Arrival on the fake's clock, in milliseconds since the epoch.
    pub time_millis: i64,
    /// Arrival on the system clock, in milliseconds since the epoch.
    pub wall_millis: i64,
    pub latency_us: u64,
}

/// One kept request: `text` holds the method, path, query and database one
/// after the other, each cut to its cap; the ends say where each stops.
#[derive(Clone, Debug)]
struct Entry {
    seq: u64,
    time_millis: i64,
    wall_millis: i64,
    latency_us: u64,
    status: u16,
    operation: &'static str,
    /// Method, path, query and database, end to end (its buffer reused by
    /// the entry that replaces it).
    text: String,
    method_end: u16,
    path_end: u16,
    query_end: u16,
    has_query: bool,
    has_database: bool,
    fault: Option<Box<str>>,
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Entry {
    /// The entry of `x`, in the buffer of `recycled` (the oldest entry,
    /// dropped from a full ring) when there is one: no allocation then.
    fn new(x: &Exchange<'_>, fault: Option<String>, recycled: Option<Entry>) -> Self {
        let method = cut(x.method, METHOD_CAP);
        let path = cut(x.path, PATH_QUERY_CAP);
        let query = cut(x.query.unwrap_or(""), PATH_QUERY_CAP - path.len());
        let database = cut(x.database.unwrap_or(""), ID_CAP);
        let need = method.len() + path.len() + query.len() + database.len();
        // A buffer much larger than this entry needs (a long path once) is
        // not kept on: the ring's memory follows what it holds now.
        let mut text = recycled
            .map(|e| e.text)
            .filter(|t| t.capacity() <= (2 * need).max(256))
            .unwrap_or_default();
        text.clear();
        text.reserve(need);
        for part in [method, path, query, database] {
            text.push_str(part);
        }
        // Every end is under METHOD_CAP + PATH_QUERY_CAP, far below u16::MAX.
        let end = |n: usize| n as u16;
        Self {
            seq: 0,
            time_millis: x.time_millis,
            wall_millis: x.wall_millis,
            latency_us: x.latency_us,
            status: x.status,
            operation: x.operation,
            method_end: end(method.len()),
            path_end: end(method.len() + path.len()),
            query_end: end(method.len() + path.len() + query.len()),
            has_query: x.query.is_some(),
            has_database: x.database.is_some(),
            text,
            fault: fault.map(|f| cut(&f, ID_CAP).into()),
        }
    }

    fn method(&self) -> &str {
        &self.text[..usize::from(self.method_end)]
    }

    fn path(&self) -> &str {
        &self.text[usize::from(self.method_end)..usize::from(self.path_end)]
    }

    fn query(&self) -> Option<&str> {
        self.has_query
            .then(|| &self.text[usize::from(self.path_end)..usize::from(self.query_end)])
    }

    fn database(&self) -> Option<&str> {
        self.has_database.then(|| &self.text[usize::from(self.query_end)..])
    }

    fn matches(&self, f: &RequestFilter) -> bool {
        f.operation.as_deref().map_or(true, |op| op == self.operation)
            && f.database.as_deref().map_or(true, |db| Some(db) == self.database())
    }

    fn view(&self) -> RecordedRequest {
        RecordedRequest {
            seq: self.seq,
            method: self.method().to_string(),
            path: self.path().to_string(),
            query: self.query().map(str::to_string),
            operation: self.operation.to_string(),
            database: self.database().map(str::to_string),
            status: self.status,
            time: Timestamp::from_millis(self.time_millis),
            wall_time: Timestamp::from_millis(self.wall_millis),
            latency_us: self.latency_us,
            fault: self.fault.as_deref().map(str::to_string),
        }
    }
}

/// The entries of one shard, oldest (lowest sequence number) first.
#[derive(Debug, Default)]
struct Ring {
    entries: VecDeque<Entry>,
}

/// `T` alone on its cache lines (128 bytes: two lines where the prefetcher
/// pulls pairs), so writing it never evicts a neighbour from another core.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded<T>(T);

/// Where the next thread to record takes its slot.
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's slot: which shard it records into, modulo their number.
    static SLOT: usize = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
}

/// This thread's slot (taken the first time it asks; 0 while the thread is
/// being torn down).
fn thread_slot() -> usize {
    SLOT.try_with(|slot| *slot).unwrap_or(0)
}

/// The entries of all `rings`, newest first: each ring is in sequence
/// order, so a merge from their backs.
fn newest_first<'a>(rings: &'a [MutexGuard<'_, Ring>]) -> impl Iterator<Item = &'a Entry> {
    let mut backs: Vec<_> = rings.iter().map(|r| r.entries.iter().rev().peekable()).collect();
    std::iter::from_fn(move || {
        let newest = backs
            .iter_mut()
            .enumerate()
            .filter_map(|(i, back)| back.peek().map(|e| (e.seq, i)))
            .max()?
            .1;
        backs[newest].next()
    })
}

/// The bounded journal of recent requests, in shards.
#[derive(Debug)]
pub(crate) struct Journal {
    capacity: usize,
    /// Never empty.
    shards: Box<[Padded<Mutex<Ring>>]>,
    /// The next sequence number.
    next_seq: Padded<AtomicU64>,
}

impl Journal {
    /// A journal keeping the last `capacity` requests (0: records nothing).
    pub fn new(capacity: usize) -> Self {
        let shards = if capacity == 0 {
            1
        } else {
            std::thread::available_parallelism()
                .map_or(1, NonZeroUsize::get)
                .clamp(1, MAX_SHARDS)
        };
        Self::with_shards(capacity, shards)
    }

    /// A journal keeping the last `capacity` requests in `shards` shards (at
    /// least one).
    fn with_shards(capacity: usize, shards: usize) -> Self {
        let shards = shards.max(1);
        // Grown as requests come, not all at once.
        let reserved = capacity.min(RESERVED / shards);
        Self {
            capacity,
            shards: (0..shards)
                .map(|_| {
                    Padded(Mutex::new(Ring {
                        entries: VecDeque::with_capacity(reserved),
                    }))
                })
                .collect(),
            next_seq: Padded(AtomicU64::new(1)),
        }
    }

    /// Whether requests are recorded at all.
    pub fn is_on(&self) -> bool {
        self.capacity > 0
    }

    /// Records one request (dropping the oldest when full); `fault` is the id
    /// of the fault rule that answered it.
    pub fn record(&self, exchange: &Exchange<'_>, fault: Option<String>) {
        if !self.is_on() {
            return;
        }
        let shard = &self.shards[thread_slot() % self.shards.len()].0;
        // Under the lock: the shard's oldest entry's buffer becomes the new
        // one's (a copy of a few short strings; no allocation once the shard
        // is full), and the number is taken just before the push, so each
        // shard stays in sequence order.
        let mut ring = shard.lock();
        let recycled = if ring.entries.len() >= self.capacity {
            ring.entries.pop_front()
        } else {
            None
        };
        let mut entry = Entry::new(exchange, fault, recycled);
        entry.seq = self.next_seq.0.fetch_add(1, Ordering::Relaxed);
        ring.entries.push_back(entry);
    }

    /// Every shard, locked, in order (the only order any two are ever
    /// locked in): while held, no request is half recorded, so what they
    /// hold is every request up to some number.
    fn lock_all(&self) -> Vec<MutexGuard<'_, Ring>> {
        self.shards.iter().map(|shard| shard.0.lock()).collect()
    }

    /// The requests `filter` keeps, oldest first.
    pub fn list(&self, filter: &RequestFilter) -> Vec<RecordedRequest> {
        let limit = filter.limit.unwrap_or(usize::MAX);
        let mut kept: Vec<Entry> = {
            let rings = self.lock_all();
            newest_first(&rings)
                .take(self.capacity)
                .filter(|e| e.matches(filter))
                .take(limit)
                .cloned()
                .collect()
        };
        kept.reverse();
        kept.iter().map(Entry::view).collect()
    }

    /// How many recorded requests `filter` keeps.
    pub fn count(&self, filter: &RequestFilter) -> usize {
        let rings = self.lock_all();
        newest_first(&rings)
            .take(self.capacity)
            .filter(|e| e.matches(filter))
            .take(filter.limit.unwrap_or(usize::MAX))
            .count()
    }

    /// Forgets every recorded request (sequence numbers go on).
    pub fn clear(&self) {
        let old: Vec<VecDeque<Entry>> = self
            .lock_all()
            .iter_mut()
            .map(|ring| std::mem::take(&mut ring.entries))
            .collect();
        drop(old);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange<'a>(path: &'a str, query: Option<&'a str>, db: Option<&'a str>, op: &'static str) -> Exchange<'a> {
        Exchange {
            method: "GET",
            path,
            query,
            operation: op,
            database: db,
            status: 200,
            time_millis: 0,
            wall_millis: 0,
            latency_us: 7,
        }
    }

    #[test]
    fn an_entry_gives_back_each_part() {
        let j = Journal::new(4);
        j.record(
            &exchange("/api/databases/d/backups", Some("a=1"), Some("d"), "backups.list"),
            Some("f1".into()),
        );
        j.record(&exchange("/x", None, None, "unknown"), None);
        let all = j.list(&RequestFilter::default());
        assert_eq!(all.len(), 2);
        let (a, b) = (&all[0], &all[1]);
        assert_eq!(
            (a.seq, a.method.as_str(), a.path.as_str()),
            (1, "GET", "/api/databases/d/backups")
        );
        assert_eq!((a.query.as_deref(), a.database.as_deref()), (Some("a=1"), Some("d")));
        assert_eq!((a.fault.as_deref(), a.latency_us), (Some("f1"), 7));
        assert_eq!(a.time.to_string(), "1970-01-01T00:00:00.000+00:00");
        assert_eq!((b.seq, b.query.as_deref(), b.database.as_deref()), (2, None, None));
    }

    #[test]
    fn the_ring_keeps_the_last_n_and_numbers_go_on_after_a_clear() {
        let j = Journal::new(3);
        for _ in 0..5 {
            j.record(&exchange("/p", None, None, "unknown"), None);
        }
        let seqs: Vec<u64> = j.list(&RequestFilter::default()).iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [3, 4, 5]);
        j.clear();
        assert!(j.list(&RequestFilter::default()).is_empty());
        j.record(&exchange("/p", None, None, "unknown"), None);
        assert_eq!(j.list(&RequestFilter::default())[0].seq, 6);
    }

    #[test]
    fn filters_combine_and_limit_keeps_the_most_recent() {
        let j = Journal::new(10);
        for (db, op) in [
            ("a", "backups.list"),
            ("b", "backups.list"),
            ("a", "backups.create"),
            ("a", "backups.list"),
        ] {
            j.record(&exchange("/p", None, Some(db), op), None);
        }
        let f = RequestFilter::default().operation("backups.list").database("a");
        let seqs: Vec<u64> = j.list(&f).iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [1, 4]);
        assert_eq!(j.count(&f), 2);
        let seqs: Vec<u64> = j.list(&f.limit(1)).iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [4]);
    }

    #[test]
    fn long_parts_are_cut_on_character_boundaries() {
        let j = Journal::new(1);
        let path = format!("/{}", "é".repeat(5000));
        let db = "d".repeat(1000);
        let mut x = exchange(&path, Some("q=1"), Some(&db), "unknown");
        let method = "M".repeat(100);
        x.method = &method;
        j.record(&x, None);
        let r = &j.list(&RequestFilter::default())[0];
        assert_eq!(r.method.len(), METHOD_CAP);
        assert!(r.path.len() <= PATH_QUERY_CAP && r.path.len() > PATH_QUERY_CAP - 2);
        let query = r.query.as_deref().expect("the query is kept, cut");
        assert_eq!(
            query.len(),
            PATH_QUERY_CAP - r.path.len(),
            "the query gets what the path left"
        );
        assert_eq!(r.database.as_deref().map(str::len), Some(ID_CAP));
    }

    /// Enough shards that threads started one after the other in a test land
    /// on shards of their own (their slots would have to be this far apart
    /// to share one).
    const SPREAD: usize = 1024;

    fn seqs(j: &Journal, f: &RequestFilter) -> Vec<u64> {
        j.list(f).iter().map(|r| r.seq).collect()
    }

    /// How many shards hold at least one entry.
    fn shards_used(j: &Journal) -> usize {
        j.shards.iter().filter(|s| !s.0.lock().entries.is_empty()).count()
    }

    /// Runs `each` on a thread of its own per item, one after the other.
    fn on_threads<T: Send>(items: impl IntoIterator<Item = T>, each: impl Fn(T) + Sync) {
        std::thread::scope(|s| {
            for item in items {
                s.spawn(|| each(item))
                    .join()
                    .expect("the thread records without panicking");
            }
        });
    }

    #[test]
    fn requests_from_many_threads_show_exactly_the_newest_overall() {
        const THREADS: usize = 4;
        const EACH: usize = 50;
        const CAPACITY: usize = 30;
        let j = Journal::with_shards(CAPACITY, 3);
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let j = &j;
                s.spawn(move || {
                    let path = format!("/t{t}");
                    for _ in 0..EACH {
                        j.record(&exchange(&path, None, None, "unknown"), None);
                    }
                });
            }
        });
        let total = (THREADS * EACH) as u64;
        let all = seqs(&j, &RequestFilter::default());
        let newest: Vec<u64> = (total - CAPACITY as u64 + 1..=total).collect();
        assert_eq!(all, newest, "the newest {CAPACITY}, oldest first, each once");
        assert_eq!(j.count(&RequestFilter::default()), CAPACITY);
        for shard in j.shards.iter() {
            assert!(
                shard.0.lock().entries.len() <= CAPACITY,
                "no shard holds more than the capacity"
            );
        }
    }

    #[test]
    fn a_request_from_another_thread_pushes_out_the_oldest_overall() {
        let j = Journal::with_shards(3, SPREAD);
        on_threads([3, 1], |n| {
            for _ in 0..n {
                j.record(&exchange("/p", None, None, "unknown"), None);
            }
        });
        assert_eq!(shards_used(&j), 2, "each thread recorded into a shard of its own");
        assert_eq!(seqs(&j, &RequestFilter::default()), [2, 3, 4]);
        assert_eq!(j.count(&RequestFilter::default()), 3);
    }

    #[test]
    fn count_agrees_with_list_under_filters_and_limits_across_shards() {
        let j = Journal::with_shards(6, SPREAD);
        let per_thread: [&[(&str, &'static str)]; 3] = [
            &[("a", "backups.list"), ("b", "backups.list"), ("a", "backups.create")],
            &[("a", "backups.list"), ("a", "backups.list")],
            &[("b", "backups.create"), ("a", "backups.list")],
        ];
        on_threads(per_thread, |requests| {
            for &(db, op) in requests {
                j.record(&exchange("/p", None, Some(db), op), None);
            }
        });
        assert_eq!(shards_used(&j), 3);
        let a_lists = RequestFilter::default().operation("backups.list").database("a");
        // Seq 1 matches too, but is no longer among the newest 6.
        assert_eq!(seqs(&j, &a_lists), [4, 5, 7]);
        assert_eq!(seqs(&j, &a_lists.clone().limit(2)), [5, 7]);
        for f in [
            RequestFilter::default(),
            a_lists.clone(),
            a_lists.clone().limit(2),
            a_lists.limit(5),
            RequestFilter::default().database("b"),
            RequestFilter::default().operation("backups.create").limit(1),
            RequestFilter::default().operation("backups.delete"),
        ] {
            assert_eq!(j.count(&f), j.list(&f).len(), "{f:?}");
        }
    }

    #[test]
    fn a_clear_empties_every_shard_and_numbers_go_on() {
        let j = Journal::with_shards(4, SPREAD);
        on_threads([2, 2], |n| {
            for _ in 0..n {
                j.record(&exchange("/p", None, None, "unknown"), None);
            }
        });
        assert_eq!(shards_used(&j), 2);
        j.clear();
        assert_eq!(shards_used(&j), 0);
        assert_eq!(j.count(&RequestFilter::default()), 0);
        j.record(&exchange("/p", None, None, "unknown"), None);
        assert_eq!(seqs(&j, &RequestFilter::default()), [5]);
    }

    #[test]
    fn a_journal_of_size_zero_records_nothing() {
        let j = Journal::new(0);
        j.record(&exchange("/p", None, None, "unknown"), None);
        assert!(j.list(&RequestFilter::default()).is_empty());
        assert!(!j.is_on());
    }
}
