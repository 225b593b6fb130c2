//! The JSON bytes of backups and of the list route, built for speed.
//!
//! Two caches make the hot route cheap without ever showing a stale status:
//! - a backup whose view can no longer change (a fixture status, a forced
//!   outcome, or a timed backup that has finished) keeps its rendered JSON in
//!   its record, so a list copies those bytes instead of encoding them again;
//! - a database keeps its last list body with the instant it stops being true
//!   (the next phase change of any of its backups, or its next periodic
//!   backup); any write to the database drops it (see `DbCell::write`).

use bytes::Bytes;
use serde::Serialize;

use crate::model::{Method, Status};
use crate::store::{BackupRecord, DatabaseMeta, DbState};
use crate::timestamp::Timestamp;

/// A list body and the instant until which it is the truth.
#[derive(Debug)]
pub(crate) struct ListCache {
    body: Bytes,
    valid_until: i64,
}

impl ListCache {
    /// The body, if it still holds at `now`.
    pub fn get(&self, now: i64) -> Option<Bytes> {
        (now < self.valid_until).then(|| self.body.clone())
    }

    /// The body.
    pub fn body(&self) -> Bytes {
        self.body.clone()
    }
}

/// A backup serialized straight from the store's record (no owned copy):
/// the same JSON as [`crate::model::Backup`].
#[derive(Serialize)]
struct BackupRef<'a> {
    id: &'a str,
    created_at: &'a Timestamp,
    started_at: Option<&'a Timestamp>,
    name: &'a str,
    size: Option<u64>,
    status: Status,
    database_id: &'a str,
    method: Method,
    #[serde(rename = "type")]
    db_type: &'a str,
}

/// Appends the JSON of `b` as seen at `now` to `out`.
pub(crate) fn backup(meta: &DatabaseMeta, b: &BackupRecord, now: i64, out: &mut Vec<u8>) {
    if let Some(json) = b.json.get() {
        out.extend_from_slice(json);
        return;
    }
    let (status, started_at, size) = b.derive(now);
    let start = out.len();
    let view = BackupRef {
        id: &b.id,
        created_at: &b.created_at,
        started_at,
        name: &b.name,
        size,
        status,
        database_id: &meta.database_id,
        method: b.method,
        db_type: &meta.db_type,
    };
    // Writing into a Vec cannot fail, and the fields are plain strings and numbers.
    let _ = serde_json::to_writer(&mut *out, &view);
    if status.is_finished() {
        let _ = b.json.set(out[start..].into());
    }
}

/// `{"database_backups":[…]}`, newest first, as seen at `now`, with the
/// instant it stops being true.
pub(crate) fn list(s: &DbState, now: i64) -> ListCache {
    let mut out = Vec::with_capacity(32 + s.backups.len() * 300);
    out.extend_from_slice(b"{\"database_backups\":[");
    let mut valid_until = s.next_periodic.unwrap_or(i64::MAX);
    for (i, b) in s.backups.iter().rev().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        backup(&s.meta, b, now, &mut out);
        if let Some(t) = b.next_change(now) {
            valid_until = valid_until.min(t);
        }
    }
    out.extend_from_slice(b"]}");
    ListCache {
        body: Bytes::from(out),
        valid_until,
    }
}
