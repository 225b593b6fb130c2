//! The open connections: how many there are against the cap, which one has
//! been idle the longest, and each one's state as its requests come and go.
//!
//! A connection takes a [`Lease`] when it is accepted and gives it back when
//! it ends; that, and an eviction, are the only times the registry's lock is
//! taken. A request costs its connection's [`Slot`] two atomic additions and
//! a clock read (the end of its response), never a lock.
//!
//! What a connection's task must do besides serving (close gracefully, drop
//! the connection) reaches it as bits of [`Ask`] set in its slot, with a
//! wake-up: the task reads one atomic per wake-up, and polls nothing else.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// What a connection's task is asked to do, as bits (several can be set).
pub(crate) struct Ask;

impl Ask {
    /// The registry closed it to make room: drop it now if nothing is being
    /// answered, else close it after the answer.
    pub const EVICT: u8 = 1;
    /// Idle for the idle timeout: close it gracefully.
    pub const IDLE: u8 = 2;
    /// No complete request head within the header read timeout: drop it.
    pub const HEAD: u8 = 4;
    /// The server drains: close it after the request in flight.
    pub const DRAIN: u8 = 8;
    /// The shutdown's grace is over: drop it now.
    pub const CUT: u8 = 16;
}

/// Every open connection, against a cap.
#[derive(Debug)]
pub(crate) struct Connections {
    cap: usize,
    /// Time zero of every slot's idle clock.
    epoch: Instant,
    open: Mutex<Open>,
}

/// The open connections by id, and the next id.
#[derive(Debug, Default)]
struct Open {
    slots: HashMap<u64, Arc<Slot>>,
    next: u64,
}

/// One connection's state, shared by its task, its service and the registry.
#[derive(Debug)]
pub(crate) struct Slot {
    epoch: Instant,
    /// Requests being answered: from the call of the service to the drop of
    /// the response body (0 or 1 in HTTP/1.1).
    busy: AtomicU32,
    /// When the last request ended (or the connection opened), in
    /// milliseconds since `epoch`.
    idle_since: AtomicU64,
    /// The [`Ask`] bits not yet seen by the connection's task.
    asked: AtomicU8,
    /// How to wake the connection's task.
    waker: Mutex<Option<Waker>>,
}

/// A connection's place in the registry, given back on drop.
#[derive(Debug)]
pub(crate) struct Lease {
    connections: Arc<Connections>,
    id: u64,
    slot: Arc<Slot>,
}

/// A request being answered on a connection: the connection is busy until
/// this is dropped (with the response body, once it is sent or abandoned).
#[derive(Debug)]
pub(crate) struct Busy(Arc<Slot>);

impl Connections {
    /// An empty registry that holds at most `cap` connections (at least 1).
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap: cap.max(1),
            epoch: Instant::now(),
            open: Mutex::new(Open::default()),
        })
    }

    /// A place for a new connection. When every place is taken, the
    /// connection idle the longest (no request being answered) is told to
    /// close and its place given; `None` when every connection is busy.
    pub fn admit(self: &Arc<Self>) -> Option<Lease> {
        let mut open = self.open.lock();
        if open.slots.len() >= self.cap {
            let (id, victim) = open
                .slots
                .iter()
                .filter(|(_, s)| !s.is_busy())
                .min_by_key(|(id, s)| (s.idle_since.load(Ordering::Relaxed), **id))
                .map(|(id, s)| (*id, s.clone()))?;
            open.slots.remove(&id);
            victim.ask(Ask::EVICT);
            tracing::debug!("{} connections open: closing the one idle the longest", self.cap);
        }
        let id = open.next;
        open.next += 1;
        let slot = Arc::new(Slot {
            epoch: self.epoch,
            busy: AtomicU32::new(0),
            idle_since: AtomicU64::new(millis_since(self.epoch)),
            asked: AtomicU8::new(0),
            waker: Mutex::new(None),
        });
        open.slots.insert(id, slot.clone());
        Some(Lease {
            connections: self.clone(),
            id,
            slot,
        })
    }

    /// How many connections hold a place.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.open.lock().slots.len()
    }
}

impl Lease {
    /// The connection's state.
    pub fn slot(&self) -> &Arc<Slot> {
        &self.slot
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Already gone if it was evicted.
        self.connections.open.lock().slots.remove(&self.id);
    }
}

impl Slot {
    /// Marks a request as being answered until the returned guard drops.
    pub fn begin(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone())
    }

    /// Whether a request is being answered.
    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Acquire) > 0
    }

    /// Since when no request has been answered on this connection (the end
    /// of the last answer, or its opening); `None` while one is.
    pub fn idle_since(&self) -> Option<Instant> {
        if self.is_busy() {
            return None;
        }
        Some(self.epoch + Duration::from_millis(self.idle_since.load(Ordering::Relaxed)))
    }

    /// Asks the connection's task to do `what` (bits of [`Ask`]), and wakes
    /// it.
    pub fn ask(&self, what: u8) {
        self.asked.fetch_or(what, Ordering::AcqRel);
        if let Some(waker) = self.waker.lock().as_ref() {
            waker.wake_by_ref();
        }
    }

    /// Makes [`Slot::ask`] wake `waker` (the connection's task registers
    /// before it reads what it was asked, so no request can fall between).
    pub fn wake_with(&self, waker: &Waker) {
        *self.waker.lock() = Some(waker.clone());
    }

    /// What the connection's task was asked since it last looked (bits of
    /// [`Ask`]); one atomic read when nothing was.
    pub fn take_asked(&self) -> u8 {
        if self.asked.load(Ordering::Acquire) == 0 {
            return 0;
        }
        self.asked.swap(0, Ordering::AcqRel)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let slot = &self.0;
        slot.idle_since.store(millis_since(slot.epoch), Ordering::Relaxed);
        slot.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Milliseconds from `epoch` to now.
fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_full_registry_gives_the_place_of_the_connection_idle_the_longest() {
        let conns = Connections::new(2);
        let first = conns.admit().unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let second = conns.admit().unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        // The first one answers a request, so it is now the one idle for
        // the shortest time.
        drop(first.slot().begin());
        tokio::time::sleep(Duration::from_secs(1)).await;
        let third = conns.admit().unwrap();
        assert_eq!(conns.len(), 2);
        // The second was told to close; the first was not.
        assert_eq!(
            second.slot().take_asked(),
            Ask::EVICT,
            "the second connection is evicted"
        );
        assert_eq!(first.slot().take_asked(), 0, "the first connection stays");
        drop(second);
        assert_eq!(conns.len(), 2, "an evicted lease gives back nothing more");
        drop(third);
        assert_eq!(conns.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn busy_connections_are_never_evicted_and_a_full_busy_registry_refuses() {
        let conns = Connections::new(1);
        let only = conns.admit().unwrap();
        let busy = only.slot().begin();
        assert!(only.slot().idle_since().is_none());
        assert!(conns.admit().is_none(), "every connection is busy");
        drop(busy);
        assert_eq!(only.slot().idle_since(), Some(Instant::now()));
        assert!(conns.admit().is_some(), "the idle one makes room");
    }
}
