//! What the store remembers of the JSON it rendered, and when it forgets it:
//! the one place of the cache policy.
//!
//! - A database's list body ([`ListCache`]) is kept with the instant it stops
//!   being true (the next phase change of one of its backups, or its next
//!   periodic backup) and is dropped by any write to the database: the only
//!   way to write is [`Guarded::write`], which drops it.
//! - A backup's own bytes ([`RecordCache`]): the escaped text of the fields
//!   that never change, made at its first rendering, and, once the backup can
//!   no longer change, its whole JSON up to its status. Neither holds a field
//!   of the database (`database_id`, `type`), so changing a database can never
//!   leave a stale byte behind; a record whose progress changes gets a fresh
//!   cache (`BackupRecord::finish_now`).

use std::sync::OnceLock;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A list body and the instant until which it is the truth.
#[derive(Debug)]
pub(crate) struct ListCache {
    body: Bytes,
    valid_until: i64,
}

impl ListCache {
    /// A body true until `valid_until` (milliseconds, exclusive).
    pub fn new(body: Bytes, valid_until: i64) -> Self {
        Self { body, valid_until }
    }

    /// The body, if it still holds at `now`.
    pub fn get(&self, now: i64) -> Option<Bytes> {
        (now < self.valid_until).then(|| self.body.clone())
    }

    /// The body.
    pub fn body(&self) -> Bytes {
        self.body.clone()
    }
}

/// The escaped text of a backup's fields that never change.
#[derive(Clone, Debug)]
pub(crate) struct FixedParts {
    /// `{"id":"…","created_at":"…","started_at":`
    pub head: Box<[u8]>,
    /// `,"name":"…","size":`
    pub name: Box<[u8]>,
}

/// What one backup keeps of its rendering.
#[derive(Clone, Debug, Default)]
pub(crate) struct RecordCache {
    fixed: OnceLock<FixedParts>,
    /// `{"id":…,"status":"done` (the JSON up to the status value's closing
    /// quote), once the backup can no longer change.
    finished: OnceLock<Box<[u8]>>,
}

impl RecordCache {
    /// The fixed parts, made by `make` the first time.
    pub fn fixed(&self, make: impl FnOnce() -> FixedParts) -> &FixedParts {
        self.fixed.get_or_init(make)
    }

    /// The finished backup's bytes, if kept.
    pub fn finished(&self) -> Option<&[u8]> {
        self.finished.get().map(|b| &**b)
    }

    /// Keeps the bytes of a backup that can no longer change.
    pub fn keep_finished(&self, bytes: &[u8]) {
        let _ = self.finished.set(bytes.into());
    }
}

/// A value behind a read-write lock, with the list body rendered from it.
///
/// Readers share the lock; a writer gets it alone and, by getting it, drops
/// the list body: no write can forget to.
#[derive(Debug)]
pub(crate) struct Guarded<T> {
    state: RwLock<T>,
    list: Mutex<Option<ListCache>>,
}

impl<T> Guarded<T> {
    /// `state`, with no list body yet.
    pub fn new(state: T) -> Self {
        Self {
            state: RwLock::new(state),
            list: Mutex::new(None),
        }
    }

    /// Shared access.
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        self.state.read()
    }

    /// Exclusive access; drops the list body, since the caller may change
    /// anything it shows.
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        let s = self.state.write();
        *self.list.lock() = None;
        s
    }

    /// The kept list body, if it holds at `now` and `still` holds of the
    /// state: one read of the state and nothing rendered (a list request,
    /// most of the time).
    pub fn kept_list_body(&self, now: i64, still: impl FnOnce(&T) -> bool) -> Option<Bytes> {
        let s = self.state.read();
        if !still(&s) {
            return None;
        }
        self.list.lock().as_ref().and_then(|c| c.get(now))
    }

    /// The list body at `now`: the kept one while it holds, else a fresh one
    /// from `render`, kept for the next reader.
    pub fn list_body(&self, now: i64, render: impl FnOnce(&T, i64) -> ListCache) -> Bytes {
        let s = self.state.read();
        let mut kept = self.list.lock();
        if let Some(body) = kept.as_ref().and_then(|c| c.get(now)) {
            return body;
        }
        let fresh = render(&s, now);
        let body = fresh.body();
        *kept = Some(fresh);
        body
    }
}
